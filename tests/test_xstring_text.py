"""Data text that looks like OOXML's escape ``_xHHHH_`` is shown as it is.

In an .xlsx, cell text and sheet names are ``ST_Xstring``: ``_xHHHH_`` (H a hex digit)
stands for the character HHHH, so Excel and LibreOffice show a cell holding
``Bob_x0041_`` as "BobA" and ``a_x000D_b`` with a carriage return; a sheet named
``Bob_x0041_`` is shown (and referenced) as "BobA", and a formula naming
``'Bob_x0041_'!B7`` gives #NAME?. Formula text is not decoded (checked with LibreOffice
25.2: ``="Bob_x0041_"`` shows ``Bob_x0041_``). openpyxl writes text as it is.

These tests write workbooks through the real paths (the QA workbook as ``kpi-xl run``
writes it, the intraday sheet), let LibreOffice open them (converted to .ods, which has no
such escape) and compare the text it shows with the data's text.
"""

from __future__ import annotations

import zipfile

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")
lxml_etree = pytest.importorskip("lxml.etree")

from kpi_xl.scorecard.libreoffice import convert, soffice  # noqa: E402
from kpi_xl.text import ooxml_text, shown_text  # noqa: E402

needs_lo = pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not "
                              "installed; .ci/run installs it")

AGENT = "Bob_x0041_"          # LibreOffice showed "BobA"
TEAM = "Ops_x0042_ team"      # ... "OpsB team"
EVALUATOR = "Eve_x005F_x0041_"   # ... "Eve_x0041_" (an underscore written escaped)
COMMENT = "a_x000D_b"         # ... "a", a carriage return, "b"
PARTIAL = "the file calls_x0032_.csv is missing"      # the banner of partial data

_T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_X = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def _ods_text(path) -> dict[str, dict[tuple[int, int], str]]:
    """Sheet name -> (row, column) -> the text LibreOffice shows, from an .ods."""
    with zipfile.ZipFile(path) as z:
        root = lxml_etree.fromstring(z.read("content.xml"))

    def text(p) -> str:
        out = [p.text or ""]
        for child in p:
            tag = lxml_etree.QName(child).localname
            if tag == "s":
                out.append(" " * int(child.get(f"{{{_X}}}c", "1")))
            elif tag == "line-break":
                out.append("\n")
            elif tag == "tab":
                out.append("\t")
            else:
                out.append(text(child))
            out.append(child.tail or "")
        return "".join(out)

    sheets = {}
    for table in root.iter(f"{{{_T}}}table"):
        cells, r = {}, 0
        for row in table.iter(f"{{{_T}}}table-row"):
            r += 1
            c = 0
            for cell in row:
                if lxml_etree.QName(cell).localname not in ("table-cell", "covered-table-cell"):
                    continue
                c += 1
                ps = cell.findall(f"{{{_X}}}p")
                if ps:
                    cells[(r, c)] = "\n".join(text(p) for p in ps)
                c += int(cell.get(f"{{{_T}}}number-columns-repeated", "1")) - 1
            r += int(row.get(f"{{{_T}}}number-rows-repeated", "1")) - 1
        sheets[table.get(f"{{{_T}}}name")] = cells
    return sheets


def test_the_escape_and_its_reading():
    assert ooxml_text("Bob_x0041_") == "Bob_x005F_x0041_"
    assert ooxml_text("plain_text x0041 _x12_ _X0041_") == "plain_text x0041 _x12_ _X0041_"
    # each underscore that starts a sequence, overlapping ones too
    assert ooxml_text("_x0041_x0042_") == "_x005F_x0041_x005F_x0042_"
    for text in ["Bob_x0041_", "_x005F_x0041_", "_x0041_x0042_", "a_x000D_b", "__x0041__",
                 "_x12_x0041_", "x_xd83d__xde00_", "", "_x"]:
        assert shown_text(ooxml_text(text)) == text, text
    assert shown_text("_x0041_x0042_") == "Ax0042_"          # as LibreOffice shows it
    assert shown_text("_xD83D__xDE00_") == "\U0001F600"       # a pair: one character


@pytest.fixture(scope="module")
def qa_context():
    """A team whose names, evaluator and a comment look like the escape."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import qa_contexts

    tables = sample_tables(teams=1, agents_per_team=3, contacts_per_month=600)
    qa = tables["qa"]
    first = sorted(qa["agent"].unique())[0]
    team = qa["team"].iloc[0] if "team" in qa.columns else tables["roster"]["team"].iloc[0]
    for t in tables.values():
        cols = getattr(t, "columns", [])
        if "agent" in cols:
            t["agent"] = t["agent"].replace({first: AGENT})
        if "team" in cols:
            t["team"] = t["team"].replace({team: TEAM})
    mine = qa["agent"] == AGENT
    assert mine.any()
    qa.loc[mine, "comment"] = COMMENT
    qa.loc[mine, "evaluator"] = EVALUATOR
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    (ctx,) = qa_contexts(res, qa, "Acme", max_score=MAX_SCORE,
                         roster=tables.get("roster"), rubric=rubric,
                         partial=PARTIAL).values()
    return ctx


@pytest.fixture(scope="module")
def qa_book(qa_context, tmp_path_factory):
    """The QA workbook as ``kpi-xl run`` writes it (one agent sheet at a time, each
    checked for the partial-data banner)."""
    from kpi_xl.scorecard.build import TEMPLATES, _sheet_shows
    from kpi_xl.scorecard.streamed import save_filled

    path = tmp_path_factory.mktemp("xstring") / "qa.xlsx"
    banner = qa_context["partial"]
    assert PARTIAL in banner
    save_filled(TEMPLATES / "agent-qa.xlsx", qa_context, path, "2026-11-01T00:00:00Z",
                check=lambda ws: _sheet_shows(ws, banner, "agent-qa.xlsx"))
    return path


def test_reading_the_qa_workbook_back_finds_its_team_and_agent(qa_book, tmp_path):
    """The mail reads each QA workbook's team and agents from its sheets' headings, and
    cuts an agent's own workbook by its heading: the data's names, as they are."""
    from kpi_xl.mail.run import _read_team_file
    from kpi_xl.scorecard.build import agent_workbook

    team, agents = _read_team_file(qa_book)
    assert team == TEAM and AGENT in agents
    cut = agent_workbook(qa_book, AGENT, tmp_path / "bob.xlsx")
    assert _read_team_file(cut) == (None, [AGENT])


def test_the_mail_reads_the_partial_data_banner_as_the_workbook_shows_it(qa_book):
    """A message made from partial data repeats the workbook's banner (its named cell)."""
    from kpi_xl.mail.message import _named_text
    from kpi_xl.mail.stakeholders import Delivery, Report, Stakeholder

    lead = Stakeholder("Lead", "lead@example.com", scope="teams", teams=(TEAM,))
    delivery = Delivery(lead, [Report("qa", "QA", qa_book, team=TEAM)])
    got = _named_text(delivery, "kpi_xl_partial")
    assert got is not None and PARTIAL in got, got


@pytest.mark.libreoffice
@needs_lo
def test_libreoffice_shows_the_qa_workbooks_data_text_as_it_is(qa_book, tmp_path):
    shown = _ods_text(convert(qa_book, "ods", tmp_path))
    wb = openpyxl.load_workbook(qa_book)
    # every sheet is shown under the title kpi_xl gave it
    assert list(shown) == wb.sheetnames
    team = shown["Team"]
    assert team[(1, 1)] == f"QA: {TEAM}"
    texts = set(team.values())
    assert AGENT in texts and EVALUATOR in texts, sorted(texts)
    # the agent's own sheet: its heading, its evaluator and comments as the data has them
    (own,) = [s for s, cells in shown.items() if cells.get((1, 1)) == f"QA: {AGENT}"]
    values = set(shown[own].values())
    assert EVALUATOR in values and COMMENT in values, sorted(values)
    assert any(PARTIAL in v for v in values), sorted(values)
    assert not any("BobA" in v or "OpsB" in v or "\r" in v
                   for cells in shown.values() for v in cells.values())
    # the Team sheet's row of the agent reads the agent's sheet (its title, named in
    # formulas, is the title LibreOffice shows): numbers, not #NAME? or #REF!
    (row,) = [r for (r, c), v in team.items() if c == 1 and v == AGENT and r < 12]
    for col in (2, 3, 4):
        assert not team.get((row, col), "").startswith("#"), (col, team.get((row, col)))
    assert not any(v.startswith(("#NAME", "#REF", "Err:")) for cells in shown.values()
                   for v in cells.values())


@pytest.mark.libreoffice
@needs_lo
def test_libreoffice_shows_the_intraday_sheets_data_text_as_it_is(tmp_path):
    """The intraday sheet writes its cells itself (not through put()): the centre's name
    in its title line is data text too."""
    import pandas as pd

    from kpi_xl.intraday import StaffingSettings, intraday, write_workbook

    calls = pd.DataFrame([("2026-10-05 09:05:00", 1.0, 10.0, 100.0, "ann"),
                          ("2026-10-05 09:45:00", 1.0, 0.0, 300.0, "bob")],
                         columns=["date", "answered", "wait", "talk", "agent"])
    calls["date"] = pd.to_datetime(calls["date"])
    calls["channel"], calls["handled"] = "phone", calls["answered"]
    res = intraday({"contacts": calls}, "2026-10", StaffingSettings(interval=30))
    path = write_workbook(tmp_path / "intraday.xlsx", res, centre="Acme_x0041_")
    shown = _ods_text(convert(path, "ods", tmp_path / "lo"))
    assert shown["Intraday"][(1, 1)].startswith("Acme_x0041_: Intraday staffing"), \
        shown["Intraday"][(1, 1)]


@pytest.mark.libreoffice
@needs_lo
def test_cached_values_of_formulas_reading_such_text_are_libreoffices(tmp_path):
    """The cached values kpi_xl computes read a cell's text as Excel shows it (put()
    stores it escaped): comparisons with a formula's own text (which is not decoded) give
    what LibreOffice gives."""
    from kpi_xl.scorecard.cached import save_with_values
    from kpi_xl.scorecard.libreoffice import recalculated_values
    from kpi_xl.scorecard.template import fill

    tpl = openpyxl.Workbook()
    ws = tpl.active
    ws.title = "S"
    ws["A1"] = "{{ name }}"
    ws["B1"] = '=A1="Bob_x0041_"'
    ws["B2"] = '=IF(A1="BobA",1,2)'
    ws["B3"] = '=COUNTIFS(A1:A1,"Bob_x0041_")'
    ws["A2"] = "fixed text"            # the template's own text stays as it was
    tpl.save(tmp_path / "t.xlsx")
    out = tmp_path / "out.xlsx"
    save_with_values(fill(tmp_path / "t.xlsx", {"name": AGENT}).workbook, out,
                     "2026-11-01T00:00:00Z")
    cached = openpyxl.load_workbook(out, data_only=True)["S"]
    lo = recalculated_values(out)
    assert [lo[("S", c)] for c in ("B1", "B2", "B3")] == [True, 2, 1]
    assert [cached[c].value for c in ("B1", "B2", "B3")] == [True, 2, 1]
    shown = _ods_text(convert(out, "ods", tmp_path / "lo"))["S"]
    assert (shown[(1, 1)], shown[(2, 1)]) == (AGENT, "fixed text")


def _headers(path) -> dict[str, list[str]]:
    """Sheet title -> its page header and footer texts as stored in the .xlsx."""
    from kpi_xl.scorecard.cached import _sheet_files

    out = {}
    with zipfile.ZipFile(path) as z:
        for title, part in _sheet_files(z).items():
            root = lxml_etree.fromstring(z.read(part))
            out[title] = [e.text or "" for e in root.iter()
                          if lxml_etree.QName(e).localname.endswith(("Header", "Footer"))]
    return out


def test_an_agents_own_workbook_keeps_the_page_header_of_the_team_workbook(qa_book, tmp_path):
    """The agent's workbook is cut from the team workbook with openpyxl, which decodes
    _xHHHH_ in page headers and footers as it reads them: Ops_x0042_ team's header became
    "OpsB team" (LibreOffice, which shows the team workbook's header as stored, printed
    "QA: Bob... · OpsB team · ..."). The header is kept as the team workbook stores it."""
    from kpi_xl.scorecard.build import agent_workbook

    team = _headers(qa_book)
    (title,) = [t for t in team if t != "Team" and any(AGENT in h for h in team[t])]
    assert any(TEAM in h for h in team[title]), team[title]
    cut = _headers(agent_workbook(qa_book, AGENT, tmp_path / "bob.xlsx"))
    assert cut[title] == team[title]


def test_the_print_ready_copy_keeps_the_page_headers(qa_book, tmp_path):
    """The PDF's copy of a workbook (pdf.print_ready, openpyxl again) keeps each sheet's
    header and footer text as stored."""
    from kpi_xl.scorecard.pdf import print_ready

    print_ready(qa_book, tmp_path / "print.xlsx")
    assert _headers(tmp_path / "print.xlsx") == _headers(qa_book)
