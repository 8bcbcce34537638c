"""Scorecard workbooks without a spreadsheet engine: the template language, what it keeps
and moves, cached values, names, safety, determinism, and agreement with the engine.
(test_scorecard_libreoffice.py recalculates them in LibreOffice.)"""

from __future__ import annotations

import math
from pathlib import Path
import re
import warnings
import zipfile

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.catalog.spec import status  # noqa: E402
from kpi_xl.render.arrays import compute  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES, scorecard_context, sparkline  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.formula import Evaluator, Unsupported  # noqa: E402
from kpi_xl.scorecard.layout import DEFAULT, Layout, Line, Perspective, kpi_score  # noqa: E402
from kpi_xl.names import file_stem, inside, sheet_title  # noqa: E402
from kpi_xl.scorecard.template import TemplateError, fill  # noqa: E402

from scorecard_data import month  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return month(str(tmp_path_factory.mktemp("wb")))


def _template(tmp_path, build):
    wb = openpyxl.Workbook()
    build(wb)
    p = tmp_path / "t.xlsx"
    wb.save(p)
    return p


# ------------------------------------------------------------------ the shipped templates
def test_shipped_templates_are_what_the_script_builds():
    """templates/*.xlsx are built by scripts/make_templates.py: a change to one without
    the other fails here (run the script)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_templates", Path(__file__).resolve().parents[1] / "scripts" / "make_templates.py")
    mt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mt)
    for name, build in (("balanced-scorecard.xlsx", mt.scorecard), ("agent-qa.xlsx", mt.agent_qa)):
        built, shipped = build(), openpyxl.load_workbook(TEMPLATES / name)
        assert built.sheetnames == shipped.sheetnames
        assert {k: v.attr_text for k, v in built.defined_names.items()} == \
            {k: v.attr_text for k, v in shipped.defined_names.items()}
        for a, b in zip(built.worksheets, shipped.worksheets, strict=True):
            cells = lambda ws: {c.coordinate: (c.value, c.number_format)  # noqa: E731
                                for row in ws.iter_rows() for c in row if c.value is not None}
            assert cells(a) == cells(b), f"{name}/{a.title}: run python scripts/make_templates.py"
            assert len(a._charts) == len(b._charts)
            assert sorted(map(str, a.merged_cells.ranges)) == sorted(map(str, b.merged_cells.ranges))
            assert list(map(_validation, a.data_validations.dataValidation)) == \
                list(map(_validation, b.data_validations.dataValidation)), name


def _validation(dv):
    return (str(dv.sqref), dv.type, dv.formula1, dv.showErrorMessage, dv.errorStyle, dv.error,
            dv.errorTitle, dv.allow_blank)


def test_qa_follow_up_status_validation_shows_its_error_alert():
    """Excel shows a validation's error message only with showErrorMessage set; without it
    the list accepts any text silently."""
    dvs = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"] \
        .data_validations.dataValidation
    (dv,) = [d for d in dvs if d.type == "list"]
    assert dv.formula1 == '"Open,In progress,Done"'
    assert dv.showErrorMessage is True and dv.errorStyle == "stop"
    assert dv.error == "Choose Open, In progress or Done"
    # and the item table's (weight, fatal flag, score): each with its error alert too
    assert len(dvs) == 4 and all(d.showErrorMessage and d.errorStyle == "stop" and d.error
                                 for d in dvs)


def test_templates_load_without_warnings():
    for name in ("balanced-scorecard.xlsx", "agent-qa.xlsx"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            openpyxl.load_workbook(TEMPLATES / name)


# ------------------------------------------------------------------ the template language
def test_loop_rows_move_and_stretch_everything(tmp_path):
    from openpyxl.chart import BarChart, Reference
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    def build(wb):
        ws = wb.active
        ws.title = "S"
        ws["A1"] = "{{ title }}"
        ws["A2"] = "{% for x in xs %}"
        ws["A3"], ws["B3"], ws["C3"] = "{{ x.name }}", "{{ x.v }}", "=B3*2"
        ws["D3"] = "=B3/$B$6"
        ws["A4"] = "{% endfor %}"
        ws["A5"], ws["B5"] = "Total", "=SUM(B3:B3)"
        ws["B6"] = 10
        ws["A8"] = "below"
        ws.merge_cells("A8:B8")
        ws.conditional_formatting.add("C3:C3", CellIsRule(operator="greaterThan", formula=["4"],
                                      fill=PatternFill("solid", start_color="FF0000")))
        dv = DataValidation(type="list", formula1='"a,b"')
        ws.add_data_validation(dv)
        dv.add("A3:A3")
        ch = BarChart()
        ch.add_data(Reference(ws, min_col=2, min_row=3, max_row=3))
        ws.add_chart(ch, "F8")

    filled = fill(_template(tmp_path, build), {"title": "T", "xs": [
        {"name": "a", "v": 1}, {"name": "b", "v": 2}]})
    ws = filled.workbook["S"]
    # two copies of one body row replace three template rows: everything below moves up 1
    assert [ws.cell(r, 1).value for r in range(1, 8)] == ["T", "a", "b", "Total", None, None,
                                                          "below"]
    assert [ws.cell(r, 2).value for r in (2, 3, 5)] == [1, 2, 10]
    assert [ws["C2"].value, ws["C3"].value] == ["=B2*2", "=B3*2"]          # fill-down
    assert [ws["D2"].value, ws["D3"].value] == ["=B2/$B$5", "=B3/$B$5"]    # $B$6 moved up
    assert ws["B4"].value == "=SUM(B2:B3)"                                 # stretched
    assert [str(m) for m in ws.merged_cells.ranges] == ["A7:B7"]
    assert [str(cf.sqref) for cf in ws.conditional_formatting] == ["C2:C3"]
    assert str(ws.data_validations.dataValidation[0].sqref) == "A2:A3"
    assert ws._charts[0].series[0].val.numRef.f.endswith("$B$2:$B$3")
    assert ws._charts[0].anchor._from.row == 6           # F8 moved up to F7 (0-based 6)


def test_absolute_reference_below_the_loop_follows_it(tmp_path):
    def build(wb):
        ws = wb.active
        ws["A1"] = "{% for x in xs %}"
        ws["A2"], ws["B2"] = "{{ x }}", "=A2/$A$5"
        ws["A3"] = "{% endfor %}"
        ws["A4"] = None
        ws["A5"] = 4

    ws = fill(_template(tmp_path, build), {"xs": [1, 2]}).workbook.active
    assert ws["B1"].value == "=A1/$A$4" and ws["B2"].value == "=A2/$A$4"
    assert ws["A4"].value == 4


def test_empty_loop_leaves_one_blank_row(tmp_path):
    def build(wb):
        ws = wb.active
        ws["A1"] = "{% for x in xs %}"
        ws["A2"], ws["B2"] = "{{ x.name }}", "{{ x.v }}"
        ws["A3"] = "{% endfor %}"
        ws["A4"] = "=SUM(B2:B2)"

    ws = fill(_template(tmp_path, build), {"xs": []}).workbook.active
    assert ws["A1"].value is None and ws["B1"].value is None
    assert ws["A2"].value == "=SUM(B1:B1)"


def test_sheet_per_item_keeps_charts_formats_and_validations(generated):
    """openpyxl's copy_worksheet drops them; every agent sheet must have all of the
    template's."""
    _tables, _res, paths = generated
    template = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    want = (len(template._charts), len(list(template.conditional_formatting)),
            len(template.data_validations.dataValidation))
    # a chart; six conditional formats (the status, the fatal fails, the KPIs' status and
    # the item table's marks on a weight, fatal flag and score its formulas refuse); the
    # follow-up status and the item table's weight, fatal flag and score validations
    assert want == (1, 6, 4)
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path)
        agents = [ws for ws in wb.worksheets if ws.title != "Team"]
        assert len(agents) == 4
        for ws in agents:
            got = (len(ws._charts), len(list(ws.conditional_formatting)),
                   len(ws.data_validations.dataValidation))
            assert got == want, ws.title
            assert all(dv.showErrorMessage for dv in ws.data_validations.dataValidation), \
                ws.title
            f = ws._charts[0].series[0].val.numRef.f
            assert f.startswith("'" + ws.title.replace("'", "''") + "'!"), f


def test_data_never_becomes_a_formula(tmp_path):
    def build(wb):
        ws = wb.active
        ws["A1"] = "{{ name }}"
        ws["A2"] = "Agent: {{ name }}"
        ws["A3"] = "={{ name }}&\"\""
        ws["A4"] = "={{ sheet | sheetref }}!A1"

    filled = fill(_template(tmp_path, build), {"name": '=HYPERLINK("http://x","y")',
                                                "sheet": "O'Brien"})
    out = tmp_path / "o.xlsx"
    save_with_values(filled.workbook, out)
    ws = openpyxl.load_workbook(out).active
    assert ws["A1"].data_type == "s" and ws["A1"].value.startswith("=HYPERLINK")
    assert ws["A3"].value == '="=HYPERLINK(""http://x"",""y"")"&""'
    assert ws["A4"].value == "='O''Brien'!A1"
    for text in ("+1+1", "-2", "@SUM(A1)"):
        f2 = fill(_template(tmp_path, lambda wb: wb.active.__setitem__("A1", "{{ t }}")),
                  {"t": text}).workbook.active
        assert f2["A1"].data_type == "s" and f2["A1"].value == text


def test_sandbox_and_errors_name_the_cell(tmp_path):
    p = _template(tmp_path, lambda wb: wb.active.__setitem__("B7", "{{ ''.__class__.__mro__ }}"))
    with pytest.raises(TemplateError, match=r"sheet 'Sheet', cell B7: SecurityError"):
        fill(p, {})
    p = _template(tmp_path, lambda wb: wb.active.__setitem__("C2", "{{ kpi.titel }}"))
    with pytest.raises(TemplateError, match=r"cell C2: UndefinedError: .*titel"):
        fill(p, {"kpi": {"title": "x"}})
    p = _template(tmp_path, lambda wb: wb.active.__setitem__("A1", "{% for x in xs %}"))
    with pytest.raises(TemplateError, match="without {% endfor %}"):
        fill(p, {"xs": []})


# ------------------------------------------------------------------ names
def test_sheet_titles_follow_excel_rules():
    assert sheet_title("A/B:C*D?E[F]G\\H") == "A-B-C-D-E-F-G-H"
    assert len(sheet_title("x" * 40)) == 31
    assert sheet_title("'quoted'") == "quoted"
    assert sheet_title("History") == "History (data)"
    assert sheet_title("Ana", {"ana"}) == "Ana (2)"
    assert sheet_title("", set()) == "Sheet"
    long = "y" * 31
    assert sheet_title(long, {long}) == "y" * 27 + " (2)"


def test_file_names_cannot_escape(tmp_path):
    assert file_stem("../../etc/passwd") == "etc-passwd"
    assert file_stem("Team: Billing/EU") == "Team-Billing-EU"
    assert file_stem("CON") == "CON-file"
    assert file_stem("...") == "unnamed"
    with pytest.raises(ValueError, match="outside"):
        inside(tmp_path, "../x.xlsx")
    assert inside(tmp_path, "qa-x.xlsx").parent == tmp_path.resolve()


# ------------------------------------------------------------------ the generated month
def test_month_folder_and_file_names(generated, tmp_path_factory):
    _t, _r, paths = generated
    assert [p.name for p in paths] == ["balanced-scorecard-2026-10.xlsx",
                                       "qa-Billing-2026-10.xlsx", "qa-Technical-2026-10.xlsx"]
    assert all(p.parent.name == "2026-10" for p in paths)


def test_every_formula_has_a_cached_value_previews_can_show(generated):
    _t, _r, paths = generated
    for path in paths:
        formulas = openpyxl.load_workbook(path)
        values = openpyxl.load_workbook(path, data_only=True)
        n = 0
        for ws in formulas.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type != "f":
                        continue
                    n += 1
        assert n > 50
        # what a preview shows: the scorecard's overall index and the agents' QA scores
        if "balanced" in path.name:
            assert isinstance(values["Scorecard"]["B4"].value, float)
        else:
            assert isinstance(values["Team"]["C7"].value, float)
        with zipfile.ZipFile(path) as z:
            wbxml = z.read("xl/workbook.xml").decode()
            assert 'fullCalcOnLoad="1"' in wbxml
            for name in z.namelist():
                if name.startswith("xl/worksheets/sheet"):
                    xml = z.read(name).decode()
                    assert "<v />" not in xml and "<v/>" not in xml
                    # <v></v> is an empty text result (t="str"), or, with lxml, a formula
                    # left without its value
                    assert all('t="str"' in attrs for attrs in
                               re.findall(r"<c ([^>]*)><f>[^<]*</f><v></v></c>", xml))
    frame = pd.read_excel(paths[0], sheet_name="Scorecard", header=None, engine="openpyxl")
    assert frame.iloc[3, 1] == pytest.approx(
        openpyxl.load_workbook(paths[0], data_only=True)["Scorecard"]["B4"].value)


def test_same_inputs_same_bytes(generated, tmp_path):
    from scorecard_data import month as again

    _t, _r, paths = generated
    _t2, _r2, paths2 = again(str(tmp_path))
    for a, b in zip(paths, paths2, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_scorecard_shows_the_engine_results(generated):
    tables, res, paths = generated
    ws = openpyxl.load_workbook(paths[0], data_only=True)["Scorecard"]
    by_title = {}
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):
        if isinstance(row[0].value, str) and isinstance(row[4].value, (int, float)):
            by_title[row[0].value] = row
    ctx = scorecard_context(res, "Acme Support")
    for p in ctx["perspectives"]:
        for k in p["kpis"]:
            if k["actual"] is None:
                continue
            row = by_title[k["title"]]
            assert row[4].value == pytest.approx(k["actual"])             # actual
            assert row[4].number_format == k["number_format"]
            score = kpi_score(k["actual"], k["worst"], k["target"])
            assert row[7].value == pytest.approx(score)                    # the formula's score
            word = status(k["actual"], k["target"], "higher" if k["target"] > k["worst"] else "lower")
            if word == "on target":
                assert row[8].value == "on target"
            else:
                assert row[8].value in ("near target", "off target")
    # the overall index (formulas) equals the rule applied in Python for the month
    assert ws["B4"].value == pytest.approx(ctx["history"][-1]["overall"])


def test_qa_sheets_agree_with_the_catalog_and_the_engine(generated):
    tables, res, paths = generated
    qa = tables["qa"]
    oct_ = qa[qa.period == "2026-10"]
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets:
            if ws.title == "Team":
                continue
            agent = ws["A1"].value.removeprefix("QA: ")
            want = res.value("qa_score", "agent", agent)
            assert ws["B5"].value == pytest.approx(want, rel=1e-12)
            # each evaluation's formula score = the Excel function on its items
            for r in range(12, 12 + 4):
                eid = ws.cell(r, 1).value
                items = oct_[oct_.evaluation == eid]
                scores = ["N/A" if math.isnan(s) else s for s in items.score]
                v = compute("qa_score", weights=list(items.weight), scores=scores,
                            fatal=list(items.fatal), max_score=5).value
                assert ws.cell(r, 5).value == pytest.approx(v, rel=1e-12), eid


def test_layout_rules():
    assert DEFAULT.validate() == []
    bad = Layout((Perspective("X", 90, (Line("nps", 50, 30.0), Line("nsp", 40, 0.0),
                                        Line("cost_per_contact", 10, 5.0))),))
    text = "\n".join(bad.validate())
    assert "perspectives' weights sum to 90" in text
    assert "KPI weights sum to 100" not in text or "sum to 100, not" in text
    assert "'nsp' is not a KPI" in text
    assert "cost_per_contact needs a target" in text
    assert "nps's worst case equals its target" in text
    assert kpi_score(0.7, 0.5, 0.8) == pytest.approx(2 / 3)
    assert kpi_score(40, 120, 30) == pytest.approx(80 / 90)          # lower is better
    assert kpi_score(10, 120, 30) == 1.0 and kpi_score(500, 120, 30) == 0.0
    assert kpi_score(None, 0, 1) is None


def test_sparkline():
    assert sparkline([1, 2, None, 3]) == "▁▅·█"
    assert sparkline([None, None]) == ""
    assert sparkline([2, 2]) == "▁▁"


# ------------------------------------------------------------------ the evaluator
@pytest.mark.parametrize("formula,want", [
    ("=1+2*3", 7.0), ("=2^3^2", 64.0), ("=-2^2", 4.0), ("=10%", 0.1), ('="a"&1', "a1"),
    ("=1/0", "#DIV/0!"), ("=IFERROR(1/0,5)", 5.0), ('=IF(1>2,"x","y")', "y"),
    ('="B"="b"', True), ('=2<"a"', True), ("=ROUND(2.5,0)", 3.0), ("=ROUND(-2.5,0)", -3.0),
    ("=ROUND(1.005,2)", 1.01), ('=REPT("█",3)', "███"), ("=MIN(3,1,2)", 1.0),
    ("=AND(TRUE,1)", True), ("=NOT(0)", True), ("=ABS(-3)", 3.0),
])
def test_evaluator_scalars(formula, want):
    wb = openpyxl.Workbook()
    got = Evaluator(wb).formula(formula, "Sheet")
    assert (str(got) if not isinstance(want, (float, bool)) and not isinstance(got, str) else got) == want


def test_evaluator_ranges_and_conditional_sums():
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, (k, v, t) in enumerate([("a", 1, "x"), ("b", 2, "y"), ("a", None, "x"),
                                   ("a", 4, "y"), ("c", "n/a", "x")], 1):
        ws.cell(r, 1, k), ws.cell(r, 2, v), ws.cell(r, 3, t)
    ev = Evaluator(wb)
    assert ev.formula("=SUM(B1:B5)", "Sheet") == 7.0
    assert ev.formula("=AVERAGE(B1:B5)", "Sheet") == pytest.approx(7 / 3)
    assert ev.formula("=COUNT(B1:B5)", "Sheet") == 3.0
    assert ev.formula('=SUMIFS(B1:B5,A1:A5,"a")', "Sheet") == 5.0
    assert ev.formula('=SUMIFS(B1:B5,A1:A5,"a",C1:C5,"y")', "Sheet") == 4.0
    assert ev.formula('=COUNTIFS(A1:A5,"<>a")', "Sheet") == 2.0
    assert ev.formula('=COUNTIFS(B1:B5,">=2")', "Sheet") == 2.0
    assert ev.formula('=AVERAGEIFS(B1:B5,C1:C5,"x")', "Sheet") == 1.0
    assert ev.formula("=SUMPRODUCT(B1:B5,--ISNUMBER(B1:B5))", "Sheet") == 7.0
    assert ev.formula("=RANK(B2,B1:B5)", "Sheet") == 2.0
    with pytest.raises(Unsupported, match="VLOOKUP"):
        ev.formula("=VLOOKUP(1,A1:B2,2,FALSE)", "Sheet")


# ------------------------------------------------------------------ issue 16 §6: reads well
def _team_rows(ws):
    """The Team sheet's agent rows: (name, evaluations, QA score), header to the total."""
    rows, r = [], 6
    while ws.cell(r, 1).value != "Team":
        rows.append((ws.cell(r, 1).value, ws.cell(r, 2).value, ws.cell(r, 3).value))
        r += 1
    return rows


def test_qa_team_sheet_ranks_agents_by_qa_score(generated):
    """The Team sheet says 'ranked by QA score': its rows are in score order, best first
    (ties by name), agents without evaluations last. Expected order: the engine's
    qa_score per agent (the number the sheet's C column shows, checked above)."""
    tables, res, paths = generated
    for path in paths[1:]:
        ws = openpyxl.load_workbook(path, data_only=True)["Team"]
        rows = _team_rows(ws)
        assert len(rows) >= 2
        scored = [(n, res.value("qa_score", "agent", n)) for n, _, _ in rows]
        want = sorted(scored, key=lambda x: (x[1] is None, -(x[1] or 0), x[0]))
        assert [n for n, _ in scored] == [n for n, _ in want], path.name
        # the sheet's own figures agree: the rank column counts up from 1
        assert [ws.cell(6 + i, 5).value for i in range(len(rows))] == \
            list(range(1, len(rows) + 1))


def test_qa_team_agent_without_evaluations_is_last_and_not_red(generated, tmp_path):
    """A roster agent with no evaluation this month sorts last and is not shaded as
    off target: their score cell is empty, the rule's test (ISNUMBER) is false for it,
    and the row says 'no evaluations'."""
    from kpi_xl.scorecard.build import qa_contexts
    tables, res, _ = generated
    from kpi_xl.demo_data import MAX_SCORE
    roster = tables["roster"].copy()
    team = sorted(set(roster["team"]))[0]
    extra = roster[roster.team == team].iloc[:1].copy()
    extra["agent"] = "Aaron Nobody"               # alphabetically first: must end last
    roster = pd.concat([roster, extra], ignore_index=True)
    ctx = qa_contexts(res, tables["qa"], "Acme Support", max_score=MAX_SCORE, roster=roster)
    names = [a["name"] for a in ctx[team]["agents"]]
    assert names[-1] == "Aaron Nobody" and names.index("Aaron Nobody") == len(names) - 1
    out = tmp_path / "qa.xlsx"
    save_with_values(fill(TEMPLATES / "agent-qa.xlsx", ctx[team]).workbook, out)
    ws = openpyxl.load_workbook(out, data_only=True)["Team"]
    rows = _team_rows(ws)
    r = 6 + [n for n, _, _ in rows].index("Aaron Nobody")
    assert ws.cell(r, 3).value in (None, "")          # no score: nothing to shade
    assert ws.cell(r, 5).value == "no evaluations"
    own = openpyxl.load_workbook(out, data_only=True)["Aaron Nobody"]
    assert own["B5"].value in (None, "") and own["C5"].value == "no evaluations"
    # the off-target rule applies to numbers only (ISNUMBER), so an empty score is not red
    fws = openpyxl.load_workbook(out)["Team"]
    shading = [rule for cf in fws.conditional_formatting for rule in cf.rules
               if f"C{r}" in cf.sqref and rule.dxf and rule.dxf.fill is not None]
    assert shading and all(rule.formula[0].startswith("AND(ISNUMBER(") for rule in shading)


def test_scorecard_explains_worst_and_near_target(generated):
    """Issue 16 §6: the sheet says what the Worst column and 'near target' mean, under the
    perspective summary, in words that match its formulas (H: (actual − worst) /
    (target − worst) capped to 0..1; I: 'near target' from $B$5 up to below 100 %)."""
    _, _, paths = generated
    ws = openpyxl.load_workbook(paths[0])["Scorecard"]
    note = ws["A12"].value
    assert isinstance(note, str) and not note.startswith("=")
    assert "Worst scores 0 %" in note and "Target 100 %" in note
    assert "near target" in note and "threshold above" in note
    # the rules it describes are the sheet's own
    row = next(r for r in range(14, 40) if ws.cell(r, 1).value == "KPI") + 1
    assert ws[f"H{row}"].value == (f"=IF(ISNUMBER(E{row}),MIN(1,MAX(0,(E{row}-C{row})"
                                   f"/(D{row}-C{row}))),\"\")")
    assert "$B$5" in ws[f"I{row}"].value and ws["A5"].value.startswith("Near-target threshold")
