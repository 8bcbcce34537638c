"""Agents whose names make hostile sheet titles (the h-names review, /tmp/dedup/edge.py).

The QA workbook has one sheet per agent, made from the template's loop sheet "Agent"
while that sheet is still in the workbook. Before the fix, an agent called "Agent" got a
copy openpyxl renamed "Agent1": ``fill`` failed ("sheet 'Agent1', cell A1: 'agent' is
undefined") and the streamed writer wrote the Team sheet's formulas as ``='Agent'!$B$7``,
a sheet that is not there (#REF! in Excel, an empty cached value).

Every name below is one a real export can hold; each is chosen to break one rule of
Excel's sheet titles (at most 31 characters, none of ``[]:*?/\\``, no apostrophe first
or last, unique compared case-insensitively, not "History") or to meet a title the
template or openpyxl uses itself ("Agent", "Team", "Agent Copy", "Agent1"). For both
writers (``fill`` + ``save_with_values`` and the streamed writer, which must give the same
bytes), every agent has its own sheet (found by its ``QA: <name>`` heading), every
formula that names a sheet names one that exists, the Team sheet's row for each agent
reads that agent's sheet, and, recalculated by LibreOffice, the Team sheet's figures for
each agent are that agent's own: the evaluation count and mean QA score qa_contexts
computed from the QA rows with the catalog (kpi_xl.catalog, not the workbook's formulas).
"""

from __future__ import annotations

import hashlib
import math
import re

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.names import SheetTitles, sheet_title  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES, qa_contexts  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.libreoffice import recalculated_values, soffice  # noqa: E402
from kpi_xl.scorecard.refs import _parse, _token_values  # noqa: E402
from kpi_xl.scorecard.streamed import save_filled  # noqa: E402
from kpi_xl.scorecard.template import fill  # noqa: E402

STAMP = "2026-11-01T00:00:00Z"
LONG = "Alexandra Konstantinopoulou-Whitfield"           # 37 characters
HOSTILE = [
    "Agent",                        # the template's loop sheet, still there while copying
    "agent",                        # ... compared case-insensitively
    "Team",                         # the template's other sheet
    "Agent1",                       # what openpyxl renamed the copy of "Agent" to
    "Agent Copy",                   # openpyxl's own name for a sheet copy
    "Ann/Lee",                      # '/' is not allowed: cleans to "Ann-Lee" ...
    "Ann-Lee",                      # ... which is another agent's name
    "ann",
    "ANN",                          # the same title as "ann" to Excel
    LONG + " Senior",               # 44 characters: the first 31 ...
    LONG + " Junior",               # ... are the same as this one's
    "'Quoted'",                     # an apostrophe first and last
    "Abcdefghijklmnopqrstuvwxyz1234'5678",   # cut at 31: an apostrophe last
    "History",                      # a title Excel keeps for itself
    "[Ops]: *who?*",
    "\U0001F600" * 20,              # 20 characters, 40 UTF-16 units (Excel counts those)
    "Notes",                        # a sheet of the restyled template below
]


def _excel_fold(title: str) -> str:
    return title.upper().lower()


def _utf16(title: str) -> int:
    return len(title.encode("utf-16-le")) // 2


@pytest.fixture(scope="module")
def hostile_context():
    """One team whose agents carry the HOSTILE names (every table renamed alike)."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice

    tables = sample_tables(teams=1, agents_per_team=len(HOSTILE), contacts_per_month=900)
    agents = sorted(tables["qa"]["agent"].unique())
    assert len(agents) == len(HOSTILE)
    rename = dict(zip(agents, HOSTILE, strict=True))
    for t in tables.values():
        if t is not None and "agent" in getattr(t, "columns", []):
            t["agent"] = t["agent"].replace(rename)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    (ctx,) = qa_contexts(res, tables["qa"], "Acme", max_score=MAX_SCORE,
                         roster=tables.get("roster"), rubric=rubric).values()
    assert sorted(a["name"] for a in ctx["agents"]) == sorted(HOSTILE)
    return ctx


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-names")


@pytest.fixture(scope="module", params=["shipped", "restyled"])
def template(request, folder):
    """The shipped QA template, and one restyled as a user may: a "Notes" sheet of its
    own (whose B5:B8 hold 999, so a formula reading it instead of agent Notes' sheet
    shows), and agent sheets named by ``agent.name`` (``Ann/Lee``, ``Team``, ``Notes`` are
    not valid or free titles: the loop's titles differ from the names, and the Team
    sheet's ``{{ agent.name | sheetref }}`` must still name each agent's sheet)."""
    if request.param == "shipped":
        return TEMPLATES / "agent-qa.xlsx"
    wb = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")
    notes = wb.create_sheet("Notes", 1)
    notes["A1"] = "Notes"
    for r in (5, 6, 7, 8):
        notes[f"B{r}"] = 999
    wb["Agent"]["J1"] = "{% sheet for agent in agents named agent.name %}"
    team = wb["Team"]
    for col in "BCDF":
        team[f"{col}7"] = team[f"{col}7"].value.replace("agent.sheet", "agent.name")
    # the table of every evaluation reads each one's score from its agent's sheet
    team["D20"] = team["D20"].value.replace("e.sheet", "e.agent")
    path = folder / "restyled-agent-qa.xlsx"
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def whole(hostile_context, template, folder):
    """The QA workbook filled whole (``fill``) and saved with its values."""
    path = folder / f"whole-{template.stem}.xlsx"
    save_with_values(fill(template, hostile_context).workbook, path, STAMP, release=True)
    return path


@pytest.fixture(scope="module")
def streamed(hostile_context, template, folder):
    """The QA workbook written one agent sheet at a time (what ``kpi-xl run`` writes)."""
    path = folder / f"streamed-{template.stem}.xlsx"
    save_filled(template, hostile_context, path, STAMP)
    return path


@pytest.fixture(params=["whole", "streamed"])
def written(request, template):
    return request.getfixturevalue(request.param)


def test_both_writers_write_the_same_bytes(whole, streamed):
    assert hashlib.sha256(whole.read_bytes()).hexdigest() == \
        hashlib.sha256(streamed.read_bytes()).hexdigest()


def _sheet_of(wb) -> dict[str, str]:
    """Agent name -> the title of the sheet headed ``QA: <name>`` (exactly one)."""
    out: dict[str, str] = {}
    for ws in wb.worksheets:
        head = ws["A1"].value
        if isinstance(head, str) and head.startswith("QA: ") and ws.title != "Team":
            name = head[len("QA: "):]
            assert name not in out, f"two sheets for agent {name!r}"
            out[name] = ws.title
    return out


def test_every_agent_has_its_own_valid_sheet(written):
    wb = openpyxl.load_workbook(written)
    sheets = _sheet_of(wb)
    assert sorted(sheets) == sorted(HOSTILE)
    titles = wb.sheetnames
    assert len({_excel_fold(t) for t in titles}) == len(titles), titles
    for t in titles:
        assert 1 <= _utf16(t) <= 31, t
        assert not re.search(r"[\[\]:*?/\\]", t), t
        assert not t.startswith("'") and not t.endswith("'"), t
        assert t.lower() != "history", t
    # the template's sheet "Agent" is gone: its name is free for "Agent" or "agent"
    assert "agent" in {sheets["Agent"].lower(), sheets["agent"].lower()}


def _referenced_sheets(formula: str) -> set[str]:
    out = set()
    for is_ref, text in _token_values(formula):
        if is_ref and "!" in text:
            p = _parse(text)
            assert p is not None, (formula, text)
            out.add(p[0])
    return out


def test_every_formula_names_an_existing_sheet(written):
    wb = openpyxl.load_workbook(written)
    existing = set(wb.sheetnames)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    missing = _referenced_sheets(c.value) - existing
                    assert not missing, (ws.title, c.coordinate, c.value)
        for chart in ws._charts:
            for s in chart.series:
                for part in (s.val, s.cat):
                    for ref in (getattr(part, "numRef", None), getattr(part, "strRef", None)):
                        if ref is not None and ref.f:
                            assert _referenced_sheets("=" + ref.f) == {ws.title}, ref.f
    for name, dn in wb.defined_names.items():
        for sheet, _cell in dn.destinations:
            assert sheet in existing, (name, dn.attr_text)


def _team_rows(wb) -> dict[str, int]:
    """Agent name -> its row on the Team sheet (one row per agent from A6, where the loop
    put them; an agent may be called "Team", like the total's row below them)."""
    team = wb["Team"]
    rows = {team.cell(r, 1).value: r for r in range(6, 6 + len(HOSTILE))}
    assert team.cell(6 + len(HOSTILE), 1).value == "Team"
    return rows


def test_the_team_row_of_each_agent_reads_that_agents_sheet(written):
    wb = openpyxl.load_workbook(written)
    sheets, rows = _sheet_of(wb), _team_rows(wb)
    assert sorted(rows) == sorted(HOSTILE)
    for name, r in rows.items():
        for col in "BCDF":
            f = wb["Team"][f"{col}{r}"].value
            assert _referenced_sheets(f) == {sheets[name]}, (name, col, f)


def _same(a, b) -> bool:
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed; "
                    ".ci/run installs it")
def test_libreoffice_gives_each_agent_its_own_figures(streamed, hostile_context):
    """Recalculated by LibreOffice: the Team sheet's evaluations (B) and QA score (C) of
    each agent are the count and mean of the evaluation scores qa_contexts computed for
    that agent (the catalog's qa_score per evaluation), and its compliance (D) and fatal
    fails (F) are the agent's own sheet's B6 and B8; every cached value is LibreOffice's."""
    path = streamed                 # the same bytes as the whole workbook's (checked above)
    lo = recalculated_values(path)
    wb = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    sheets, rows = _sheet_of(wb), _team_rows(wb)
    own = {a["name"]: a for a in hostile_context["agents"]}
    for name, r in rows.items():
        scores = [e["score"] for e in own[name]["evaluations"] if e["score"] is not None]
        mean = sum(scores) / len(scores) if scores else None
        assert _same(lo[("Team", f"B{r}")], len(scores)), name
        assert _same(lo[("Team", f"C{r}")], mean), name
        assert _same(lo[("Team", f"D{r}")], lo[(sheets[name], "B6")]), name
        assert _same(lo[("Team", f"F{r}")], lo[(sheets[name], "B8")]), name
        for col in "BCDF":
            assert _same(cached["Team"][f"{col}{r}"].value, lo[("Team", f"{col}{r}")]), \
                (name, col)
    # not a vacuous check: most agents have evaluations in the sample month (10 of 16)
    assert sum(1 for r in rows.values() if lo[("Team", f"B{r}")]) >= len(HOSTILE) // 2


@pytest.mark.parametrize("name, taken, title", [
    # Excel's rules (its "rename sheet" refusals); where Excel's case comparison is not
    # documented (full case mapping, final sigma) the rule errs on a suffix
    ("Abcdefghijklmnopqrstuvwxyz1234'5678", set(), "Abcdefghijklmnopqrstuvwxyz1234"),
    ("'Quoted'", set(), "Quoted"),
    ("ann", {"ANN"}, "ann (2)"),
    ("Straße", {"STRASSE"}, "Straße (2)"),
    ("σ", {"Σ"}, "σ (2)"),
    ("ς", {"Σ"}, "ς (2)"),                      # final sigma: upper-cases to Σ too
    ("\U0001F600" * 20, set(), "\U0001F600" * 15),    # 30 of 31 UTF-16 units
    ("a\x00b\x07c", set(), "a-b-c"),            # not "?": Excel refuses it in a title
    ("History", set(), "History (data)"),
    # characters XML 1.0 does not allow (an .xlsx is XML): Excel refuses the file
    ("a\ufffeb\uffff", set(), "a-b-"),
    ("z\ud800y\udfff", set(), "z-y-"),          # lone surrogates (text decoded badly)
    ("e\x80f\x9fg", set(), "e-f-g"),             # C1 control characters
])
def test_sheet_title_rules(name, taken, title):
    assert sheet_title(name, taken) == title
    assert not re.search(r"[\[\]:*?/\\\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]",
                         title)   # what Excel refuses, and what XML 1.0 does not allow


def test_every_cleaned_title_is_saved_and_read_back(tmp_path):
    """A title of each kind of hostile character goes into a real .xlsx whose workbook
    part a strict XML parser reads, and comes back as it was given (before: U+FFFE went
    into the file, and a lone surrogate raised UnicodeEncodeError)."""
    import zipfile

    from openpyxl import Workbook, load_workbook
    from xml.etree import ElementTree

    names = ["a\ufffeb", "x\uffff", "z\ud800y", "e\x80f\x9fg", "c\x85d", "t\tu"]
    titles = SheetTitles()
    wb = Workbook()
    got = [titles.add(n) for n in names]
    for t in got:
        wb.create_sheet(t)
    path = tmp_path / "titles.xlsx"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        ElementTree.fromstring(z.read("xl/workbook.xml"))     # well-formed XML 1.0
    assert load_workbook(path).sheetnames[1:] == got


def test_a_dimension_titled_like_the_template_sheet_gets_its_by_sheet(tmp_path):
    """The balanced scorecard's "By <dimension>" sheets come from its sheet loop over the
    template's "By dimension" sheet: a dimension titled "dimension" asks for that very
    title (before: openpyxl named the copy "By dimension1" and filling it failed, "'dimension'
    is undefined"). Its sheet has the title, and the queue's members as columns."""
    from kpi_xl.demo_data import MAX_SCORE, sample_tables
    from kpi_xl.dimensions import Dimension
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import write_month

    tables = sample_tables(teams=1, agents_per_team=3, contacts_per_month=600)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})},
                 dimensions=["queue"]).compute("2026-10")
    paths = write_month(res, tables, tmp_path, centre="Acme", max_score=MAX_SCORE,
                        dimensions=[Dimension("queue", "dimension")])
    wb = openpyxl.load_workbook(paths[0])
    assert wb.sheetnames == ["Scorecard", "By dimension"]
    by = wb["By dimension"]
    assert by["A1"].value == "Acme: By dimension"
    members = [by.cell(6, col).value for col in range(4, by.max_column + 1, 2)]
    assert sorted(members) == sorted(res.members("queue"))


def _small_template(path, team_reads_agent: bool):
    """A sheet loop whose sheet names itself: B2 ``='Agent'!B1*2`` and a hyperlink to its
    own A1; the Team sheet reads each agent's B2 through ``sheetref`` and, when
    ``team_reads_agent``, the template sheet itself in A5 (``='Agent'!B1``)."""
    from openpyxl.worksheet.hyperlink import Hyperlink

    wb = openpyxl.Workbook()
    team = wb.active
    team.title = "Team"
    team["A1"] = "{% for agent in agents %}"
    team["A2"], team["B2"] = "{{ agent.name }}", "={{ agent.name | sheetref }}!B2"
    team["A3"] = "{% endfor %}"
    if team_reads_agent:
        team["A5"] = "='Agent'!B1"
    agent = wb.create_sheet("Agent")
    agent["J1"] = "{% sheet for agent in agents named agent.name %}"
    agent["A1"], agent["B1"] = "{{ agent.name }}", "{{ agent.value }}"
    agent["B2"] = "='Agent'!B1*2"
    agent["A3"] = "top"
    agent["A3"].hyperlink = Hyperlink(ref="A3", location="'Agent'!A1")
    wb.save(path)
    return path


def test_a_loop_sheet_naming_itself_names_each_copy(tmp_path):
    """In each copy, the template sheet's references to itself (a formula, a hyperlink)
    name the copy: Bo's B2 reads Bo's B1 (before: 'Agent'!B1, a sheet that is gone)."""
    ctx = {"agents": [{"name": "Ann", "value": 3}, {"name": "Bo", "value": 5}]}
    wb = fill(_small_template(tmp_path / "t.xlsx", False), ctx).workbook
    assert wb.sheetnames == ["Team", "Ann", "Bo"]
    for name in ("Ann", "Bo"):
        assert wb[name]["B2"].value == f"='{name}'!B1*2"
        assert wb[name]["A3"].hyperlink.location == f"'{name}'!A1"
    assert [wb["Team"][f"B{r}"].value for r in (1, 2)] == ["='Ann'!B2", "='Bo'!B2"]


@pytest.mark.parametrize("writer", ["whole", "streamed"])
def test_a_loop_sheets_formats_and_validations_naming_it_name_each_copy(tmp_path, writer):
    """A conditional format and a validation list of the template sheet that name the
    sheet itself (a user's template: red where B1 is under the sheet's own target cell,
    a drop-down of the sheet's own list) name the copy in each copy. Before: they kept
    'Agent', a sheet the loop removes (the rule never applied; the list was #REF!)."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    path = _small_template(tmp_path / "t.xlsx", False)
    wb = openpyxl.load_workbook(path)
    agent = wb["Agent"]
    agent["C1"] = 4
    agent.conditional_formatting.add("B1", FormulaRule(
        formula=["'Agent'!$B$1<'Agent'!$C$1"], fill=PatternFill("solid", start_color="FFC7CE")))
    dv = DataValidation(type="list", formula1="'Agent'!$E$1:$E$3")
    dv.add("D1")
    agent.add_data_validation(dv)
    wb.save(path)
    ctx = {"agents": [{"name": "Ann", "value": 3}, {"name": "Bo", "value": 5}]}
    out = tmp_path / "out.xlsx"
    if writer == "whole":
        save_with_values(fill(path, ctx).workbook, out, STAMP)
    else:
        save_filled(path, ctx, out, STAMP)
    back = openpyxl.load_workbook(out)
    assert back.sheetnames == ["Team", "Ann", "Bo"]
    for name in ("Ann", "Bo"):
        ws = back[name]
        rules = [(str(cf.sqref), r.formula) for cf in ws.conditional_formatting for r in cf.rules]
        assert rules == [("B1", [f"'{name}'!$B$1<'{name}'!$C$1"])], rules
        assert [v.formula1 for v in ws.data_validations.dataValidation] == [
            f"'{name}'!$E$1:$E$3"]


def test_a_template_sheet_named_elsewhere_keeps_its_title_from_an_agent(tmp_path):
    """The Team sheet reads the template sheet 'Agent' itself (``='Agent'!B1``): were an
    agent called "Agent" given that title, the formula would read that agent's figure as
    if it were meant; the agent's sheet is "Agent (2)", and the Team sheet's ``sheetref``
    of "Agent" names it."""
    ctx = {"agents": [{"name": "Agent", "value": 3}, {"name": "Bo", "value": 5}]}
    wb = fill(_small_template(tmp_path / "t.xlsx", True), ctx).workbook
    assert wb.sheetnames == ["Team", "Agent (2)", "Bo"]
    assert wb["Team"]["B1"].value == "='Agent (2)'!B2"
    assert wb["Agent (2)"]["B2"].value == "='Agent (2)'!B1*2"
    # below the loop (row 5 is row 4 once the markers went): still 'Agent', no sheet now,
    # so #REF! in Excel, never another agent's figure
    assert wb["Team"]["A4"].value == "='Agent'!B1"


def test_a_sheetref_to_a_name_two_sheets_were_given_is_refused(tmp_path):
    """Two items whose sheets are named alike ("Ann" twice): each has its sheet ("Ann",
    "Ann (2)"), but a formula naming "Ann" could mean either, so it is refused with the
    template, sheet and cell, never pointed at one of them."""
    from kpi_xl.scorecard.template import TemplateError

    ctx = {"agents": [{"name": "Ann", "value": 3}, {"name": "Ann", "value": 5}]}
    with pytest.raises(TemplateError, match=r"sheet 'Team', cell B2: .*two sheets .*'Ann'"):
        fill(_small_template(tmp_path / "t.xlsx", False), ctx)


@pytest.mark.parametrize("name", ["Ctl\x01bell", "Non\ufffechar", "Bad\ud800surrogate",
                                  "Ann/Lee", "[Ops]"])
def test_a_sheetref_to_a_name_no_loop_made_and_no_title_could_be_is_refused(tmp_path, name):
    """A restyled template naming sheets by something the loops were not named by
    (``agent.name | sheetref`` where the loop names its sheets by ``agent.sheet``): a
    name no loop made went into the formula as it was, so a control character stopped
    the run with IllegalCharacterError, U+FFFE gave a file Excel refuses, and '/' a
    reference to no sheet (review). Such a name, which no sheet can have, is refused with
    the template, sheet and cell."""
    from openpyxl.utils.exceptions import IllegalCharacterError

    from kpi_xl.scorecard.template import TemplateError

    path = _small_template(tmp_path / "t.xlsx", False)
    wb = openpyxl.load_workbook(path)
    wb["Agent"]["J1"] = "{% sheet for agent in agents named agent.sheet %}"
    wb.save(path)
    ctx = {"agents": [{"name": name, "sheet": "S1", "value": 3}]}
    try:
        filled = fill(path, ctx)
        save_with_values(filled.workbook, tmp_path / "out.xlsx", STAMP)
    except TemplateError as e:
        assert "sheet 'Team', cell B2" in str(e) and "sheetref" in str(e), str(e)
    except (IllegalCharacterError, UnicodeEncodeError, ValueError) as e:
        pytest.fail(f"not refused by name: {type(e).__name__}: {e}")
    else:
        pytest.fail(f"{name!r} was written into a formula: "
                    f"{filled.workbook['Team']['B2'].value!r}")
