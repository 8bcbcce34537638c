"""Hostile inputs get a sentence, never a crash (issue 11, section 4).

* an .xlsx "dimension bomb" (one cell at XFD1048576) is refused by name, in bounded memory;
* agent and team names with ``!``, quotes, tabs, control characters, 300 characters or a
  formula give workbooks (LibreOffice opens them) where no data string is a formula;
* text past Excel's cell limit is cut with a note; full-width ``＝ ＋ － ＠`` are escaped in
  CSV files; a CSV field over 131,072 characters is read;
* config values of the wrong type are one sentence naming the key;
* a broken user template is one sentence naming the template and cell, exit 1.
"""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from kpi_xl.cli import main
from kpi_xl.config import parse_config
from kpi_xl.data.sources import ConfigError

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"


# ------------------------------------------------------------------ 1. the xlsx bomb
_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
       'package/2006/content-types"><Default Extension="rels" ContentType="application/'
       'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
       '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
       'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
       '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
         'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
       'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
       'officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" '
       'r:id="rId1"/></sheets></workbook>')
_WBRELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
           'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http:'
           '//schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
           'Target="worksheets/sheet1.xml"/></Relationships>')


def xlsx_with_cell_at(path: Path, ref: str) -> Path:
    """A workbook with a header cell at A1 and one number at ``ref`` (no dimension tag:
    calamine sizes its rectangle from the cells themselves)."""
    row = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" '
             ' t="inlineStr"><is><t>agent</t></is></c></row>'
             f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WBRELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def _limit_memory():                                   # runs in the child, before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_AS is POSIX")
@pytest.mark.parametrize("command", [["validate"], ["compute", "--month", MONTH]])
def test_xlsx_dimension_bomb_is_refused_by_name_within_2_gb(tmp_path, command):
    """Before: calamine asked for 16,384 x 1,048,576 cells x 32 bytes (550 GB) and the
    process died of SIGABRT (rc -6) with a Rust panic on stderr."""
    bomb = xlsx_with_cell_at(tmp_path / "roster-bomb.xlsx", "XFD1048576")
    assert bomb.stat().st_size < 5_000
    cfg = tmp_path / "kpi_xl.toml"
    cfg.write_text('[[sources]]\npreset = "generic-roster"\npath = "roster-bomb.xlsx"\n',
                   encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "kpi_xl.cli", *command, "-c", str(cfg)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_limit_memory)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "panicked" not in p.stderr
    refusal = [line for line in p.stderr.splitlines() if "XFD1048576" in line]
    assert len(refusal) == 1 and "roster-bomb.xlsx" in refusal[0] and "1,048,576" in refusal[0]


@pytest.mark.parametrize("ref, refused", [
    ("BL1048576", False),          # the cap itself: 64 columns by Excel's full height
    ("GR300000", False),           # 200 columns by 300,000 rows: 60 M cells, under the cap
    ("BM2", False), ("XFD1", False), ("AAA7", False), ("Z999999", False),
    ("BM1048576", True),           # 65 columns by full height: past the cap
    ("XFD1048576", True), ("XFE1", True),                # past Excel's last column
    ("A1048577", True), ("C2000000", True), ("A10000000", True)])
def test_the_extent_cap_is_the_sheets_rectangle(tmp_path, ref, refused):
    from kpi_xl.data.readers import SourceError, _check_extent
    from kpi_xl.data.sources import parse_source

    path = xlsx_with_cell_at(tmp_path / "r.xlsx", ref)
    source = parse_source({"preset": "generic-roster", "path": str(path)})
    row = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if refused:      # named by the cell, or by its <row r="..."> when the row is too far
        with pytest.raises(SourceError, match=ref if int(row) <= 1_048_576 else f"{int(row):,}"):
            _check_extent(source)
    else:
        _check_extent(source)


# ------------------------------------------------------------------ 2. hostile names
HOSTILE = ["O'Brien!", '"Quoted"', "Tab\there", "L" * 300, "=cmd|' /C calc'!A0",
           "Ctl\x01bell", "+44 Sales"]


def _toml_str(s: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                         for c in s) + '"'


@pytest.fixture(scope="module")
def hostile_month(tmp_path_factory) -> Path:
    """The demo month with every team, the first agents and every queue renamed to
    hostile names (in every export and in the stakeholders)."""
    from kpi_xl.demo import write_demo
    from kpi_xl.demo_data import QUEUES

    folder = tmp_path_factory.mktemp("hostile")
    cfg = write_demo(folder, MONTH)
    exports = folder / "exports"
    with open(exports / "roster.csv", newline="", encoding="utf-8") as f:
        roster = list(csv.DictReader(f))
    teams = sorted({r["team"] for r in roster})
    agents = [r["agent"] for r in roster][:len(HOSTILE)]
    names = {t: f"{HOSTILE[i % len(HOSTILE)]}{'' if i < len(HOSTILE) else i}"
             for i, t in enumerate(teams)}
    names.update({a: f"{HOSTILE[(i + 3) % len(HOSTILE)]} agent" for i, a in enumerate(agents)})
    # the demo's queues (a dimension): its Payments queue manager's member is "Ctl\x01bell queue"
    names.update({q: f"{HOSTILE[(i + 5) % len(HOSTILE)]} queue" for i, q in enumerate(QUEUES)})
    for path in exports.glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        cols = [i for i, h in enumerate(rows[0]) if h in ("team", "agent", "queue")]
        for r in rows[1:]:
            for i in cols:
                r[i] = names.get(r[i], r[i])
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    text = cfg.read_text(encoding="utf-8")
    for old, new in names.items():
        text = text.replace(f'"{old}"', _toml_str(new))
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_hostile_names_give_every_workbook_and_no_formula(hostile_month, capsys):
    """Before: a traceback (IllegalCharacterError for the control character; the chart of
    the sheet named ``=cmd|' -C calc'!A0`` cut at its first '!' then TokenizerError)."""
    from openpyxl import load_workbook

    out = hostile_month.parent / "out"
    assert main(["scorecard", "-c", str(hostile_month), "--month", MONTH, "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    books = sorted((out / MONTH).glob("*.xlsx"))
    with open(hostile_month.parent / "exports" / "qa-evaluations.csv", encoding="utf-8") as f:
        qa_teams = {r["team"] for r in csv.DictReader(f)}
    # the scorecard, a QA book per team, the demo's Payments queue manager's scorecard
    assert len(books) == 1 + len(qa_teams) + 1
    seen = set()
    for book in books:
        wb = load_workbook(book)
        for ws in wb.worksheets:
            seen.add(ws.title)
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str):
                        seen.add(c.value)
                        if c.data_type == "f":   # a formula is the template's, never data
                            assert not c.value.startswith(("=cmd", "=+44", "=\"Quoted")), c.value
    text = "\n".join(s for s in seen if isinstance(s, str))
    assert "Ctl?bell" in text and "Ctl\x01bell" not in text
    assert "L" * 300 in text                            # long names are whole in cells
    assert "=cmd|' /C calc'!A0" in text                 # shown as text
    assert "=cmd|' -C calc'!A0 agent" in seen           # a sheet title ('/' is not allowed)
    assert "+44 Sales queue" in seen                    # a By Queue column, as text
    from kpi_xl.scorecard.dimensions import read_member

    member = [b for b in books if read_member(b)]
    assert [read_member(b) for b in member] == [("queue", "Ctl\x01bell queue")]


@pytest.mark.libreoffice
def test_libreoffice_opens_the_hostile_workbooks(hostile_month, tmp_path):
    from kpi_xl.scorecard.libreoffice import convert, soffice

    if soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    out = hostile_month.parent / "out-lo"
    assert main(["scorecard", "-c", str(hostile_month), "--month", MONTH, "--out", str(out)]) == 0
    for book in sorted((out / MONTH).glob("*.xlsx")):
        assert convert(book, "csv", tmp_path / book.stem).stat().st_size > 0


# ------------------------------------------------------------------ 3. text limits
def test_text_past_excels_cell_limit_is_cut_with_a_note():
    from openpyxl import Workbook

    from kpi_xl.scorecard.template import put

    cell = Workbook().active["A1"]
    put(cell, "x" * 40_000)
    assert len(cell.value) == 32_767 and cell.value.startswith("x" * 32_000)
    assert "cut: 40,000 characters" in cell.value


def test_text_xml_does_not_allow_is_shown_as_a_question_mark(tmp_path):
    """A name holding U+FFFE or U+FFFF (valid UTF-8 in a CSV) or a lone surrogate went
    into the cell's XML as it was: the saved file was not XML 1.0 (Excel refuses it) or
    saving raised UnicodeEncodeError. Now each is '?', like a control character."""
    import zipfile
    from xml.etree import ElementTree

    from openpyxl import Workbook

    from kpi_xl.scorecard.template import put

    wb = Workbook()
    names = ["Non\ufffechar", "Non\uffffchar", "Bad\ud800surrogate", "Ctl\x01bell"]
    for i, name in enumerate(names, start=1):
        put(wb.active.cell(i, 1), name)
    path = tmp_path / "names.xlsx"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        for part in z.namelist():
            if part.endswith(".xml"):
                ElementTree.fromstring(z.read(part))       # well-formed XML 1.0
    assert [wb.active.cell(i, 1).value for i in range(1, 5)] == [
        "Non?char", "Non?char", "Bad?surrogate", "Ctl?bell"]


def test_text_of_a_str_subclass_is_cell_text_too(tmp_path):
    """numpy's text scalars (``numpy.str_``, what a value taken from a numpy array of text
    is) are a subclass of str: ``put`` gave them to openpyxl as they were, so a control
    character raised IllegalCharacterError (the run stopped with a traceback) and text
    past Excel's limit was not cut. Now they are written as text like any str, never as
    a formula."""
    import numpy as np
    from openpyxl import Workbook

    from kpi_xl.scorecard.template import put

    wb = Workbook()
    put(wb.active["A1"], np.str_("Ctl\x01bell"))
    put(wb.active["A2"], np.str_("=1+1"))
    put(wb.active["A3"], np.str_("x" * 40_000))
    wb.save(tmp_path / "n.xlsx")
    a1, a2, a3 = (wb.active[c] for c in ("A1", "A2", "A3"))
    assert (a1.value, a1.data_type) == ("Ctl?bell", "s")
    assert (a2.value, a2.data_type) == ("=1+1", "s")
    assert len(a3.value) == 32_767 and "cut: 40,000 characters" in a3.value
    assert all(type(c.value) is str for c in (a1, a2, a3))


def test_both_csv_escapes_cover_full_width_formula_starts():
    from kpi_xl.data.rejects import _safe
    from kpi_xl.text import csv_safe as _safe_text

    for start in "=+-@\t\r\uff1d\uff0b\uff0d\uff20":
        assert _safe("%s1+1" % start) == "'%s1+1" % start
        assert _safe_text("%s1+1" % start) == "'%s1+1" % start
    assert _safe("Ana") == _safe_text("Ana") == "Ana"


def test_a_csv_field_over_131072_characters_is_read(tmp_path):
    from kpi_xl.data.readers import read_source
    from kpi_xl.data.rejects import Rejects
    from kpi_xl.data.sources import parse_source

    long = "N" * 200_000
    path = tmp_path / "roster.csv"
    path.write_text(f'agent,team,hired,left\n"{long}",Billing,2023-03-13,\n', encoding="utf-8")
    raw = read_source(parse_source({"preset": "generic-roster", "path": str(path)}), Rejects())
    assert raw.columns["agent"] == [long]


# ------------------------------------------------------------------ 4. config types
@pytest.fixture(scope="module")
def base_config(hostile_month) -> dict:
    data = tomllib.loads(hostile_month.read_text(encoding="utf-8"))
    data["business_hours"] = {"mon": ["08:00", "18:00"], "holidays": ["2026-12-25"]}
    data["smtp"] = {"host": "localhost", "port": 25, "sender": "a@b.example", "timeout": 3}
    data["scorecard"] = {"near_target": 0.05}
    return data


WRONG = [
    # a list of files is a path now (one source, several files): a table or a list of
    # numbers is not
    (("sources", 0, "path"), 5), (("sources", 0, "path"), {"file": "a.csv"}),
    (("sources", 0, "path"), [5]), (("sources",), 5),
    (("sources",), {"path": "x.csv"}), (("sources",), [5]), (("centre",), "Northwind"),
    (("qa",), 5), (("qa", "rubric"), 5), (("kpis",), ["csat"]), (("kpis", "csat"), 5),
    (("kpis", "service_level", "variant"), 5), (("kpis", "service_level", "options"), "x"),
    (("kpis", "csat", "targets"), 5), (("scorecard",), 5), (("scorecard",), "x"),
    (("scorecard", "near_target"), "abc"), (("scorecard", "perspectives"), 5),
    (("scorecard", "templates"), 5), (("business_hours",), "9-5"),
    (("business_hours", "holidays"), 5), (("guards",), 5), (("smtp",), 5),
    (("smtp",), "localhost"), (("stakeholders",), 5), (("stakeholders",), "Dana"),
    (("stakeholders",), [5]),
    (("smtp", "port"), "abc"), (("smtp", "timeout"), "abc"), (("smtp", "port"), True),
    (("stakeholders", 0, "teams"), 5), (("stakeholders", 0, "teams"), "Billing"),
    (("stakeholders", 0, "reports"), 5),
]


@pytest.mark.parametrize("where, value", WRONG)
def test_a_config_value_of_the_wrong_type_is_a_sentence_naming_the_key(base_config,
                                                                       hostile_month, where,
                                                                       value):
    data = copy.deepcopy(base_config)
    target = data
    for k in where[:-1]:
        target = target[k]
    target[where[-1]] = value
    with pytest.raises(ConfigError) as e:
        parse_config(data, hostile_month.parent)
    key = where[-1] if isinstance(where[-1], str) else where[0]
    assert any(key in p for p in e.value.problems), e.value.problems


# ------------------------------------------------------------------ 5. templates
def test_a_broken_user_template_is_one_sentence_naming_template_and_cell(hostile_month, capsys):
    """Before: TemplateError was not a KpiXlError, so the CLI let it out as a traceback."""
    import shutil

    from openpyxl import load_workbook

    folder = hostile_month.parent / "my-templates"
    folder.mkdir()
    for name in ("balanced-scorecard.xlsx", "agent-qa.xlsx"):
        shutil.copy(ROOT / "kpi_xl" / "templates" / name, folder / name)
    wb = load_workbook(folder / "balanced-scorecard.xlsx")
    wb.worksheets[0]["H2"] = "{{ centre | no_such_filter }}"
    wb.save(folder / "balanced-scorecard.xlsx")
    cfg = hostile_month.parent / "broken.toml"
    cfg.write_text(hostile_month.read_text(encoding="utf-8")
                   + '\n[scorecard]\ntemplates = "my-templates"\n', encoding="utf-8")
    code = main(["scorecard", "-c", str(cfg), "--month", MONTH,
                 "--out", str(hostile_month.parent / "out-broken")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    said = [line for line in err.splitlines() if line.startswith("kpi-xl:")]
    assert len(said) == 1
    assert "balanced-scorecard.xlsx" in said[0] and "cell H2" in said[0]
    assert "no_such_filter" in said[0]


def test_every_user_error_class_is_a_kpi_xl_error():
    from kpi_xl.data.readers import SourceError
    from kpi_xl.errors import KpiXlError
    from kpi_xl.mail.send import MailError
    from kpi_xl.run.guards import DataRefused
    from kpi_xl.run.month import FilesUnusable
    from kpi_xl.scorecard.template import TemplateError

    for cls in (ConfigError, SourceError, MailError, DataRefused, FilesUnusable, TemplateError):
        assert issubclass(cls, KpiXlError), cls
