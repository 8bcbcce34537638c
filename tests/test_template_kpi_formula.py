"""Issue 10, "declared once", in the workbooks: a template asks the catalog for a KPI's
formula over given ranges (``kpi_formula``), and the shipped QA template uses it for the
evaluation score and its failed fatal items instead of restating the QA rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.render.arrays import compute  # noqa: E402
from kpi_xl.render.excel import render_excel  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.template import TemplateError, fill  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _one_cell(tmp_path, formula: str, rows=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, values in enumerate(rows, 1):
        for c, v in enumerate(values, 1):
            ws.cell(r, c, v)
    ws["H1"] = formula
    p = tmp_path / "t.xlsx"
    wb.save(p)
    return p


def test_kpi_formula_is_the_renderers_formula(tmp_path):
    """The text a template gets is the Excel renderer's, over the template's ranges; the
    evaluator that caches values computes it to the Excel function's value."""
    # items of two evaluations; e1: weights 1,2,1, scores 5, 4, N/A (out of 5), none
    # fatal: (1·5 + 2·4) / (5 · (1 + 2)) = 13/15; e2 has a failed fatal item: 0
    rows = [("e1", 1, 5, 0), ("e1", 2, 4, 0), ("e1", 1, "N/A", 1),
            ("e2", 1, 5, 0), ("e2", 1, 0, 1)]
    f = ("={{ kpi_formula('qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', "
         "fatal='$D$1:$D$5', max_score=5, where={'$A$1:$A$5': 'G1'}) }}")
    for eid, want in (("e1", 13 / 15), ("e2", 0.0)):
        p = _one_cell(tmp_path, f, [r + (None, None, eid if i == 0 else None)
                                    for i, r in enumerate(rows)])
        wb = fill(p, {}).workbook
        got = wb.active["H1"].value
        kpi = CATALOG["qa_score"]
        assert got == render_excel(
            kpi, kpi.default_variant,
            ranges={"weights": "$B$1:$B$5", "scores": "$C$1:$C$5", "fatal": "$D$1:$D$5"},
            params={"max_score": 5}).text.replace(
            "((ISNUMBER($B$1:$B$5)+ISNUMBER($C$1:$C$5)+ISNUMBER($D$1:$D$5))>0)",
            "((ISNUMBER($B$1:$B$5)+ISNUMBER($C$1:$C$5)+ISNUMBER($D$1:$D$5))>0)*($A$1:$A$5=G1)")
        values = save_with_values(wb, tmp_path / "o.xlsx")
        assert values[("Sheet", "H1")] == pytest.approx(want, rel=1e-12)
        sel = [r for r in rows if r[0] == eid]
        assert compute("qa_score", weights=[r[1] for r in sel], scores=[r[2] for r in sel],
                       fatal=[r[3] for r in sel], max_score=5).value == pytest.approx(want)


@pytest.mark.parametrize("args,message", [
    ("'no_such_kpi', scores='$A$1:$A$5'", "'no_such_kpi' is not a KPI"),
    ("'qa_score', weights=name, scores='$C$1:$C$5'", "weights must be a cell or range reference"),
    ("'qa_score', weights='$B$1:$B$5'", "qa_score needs scores"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', colour='$A$1'", "no input or option 'colour'"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', measure='x'", "no measure 'x'"),
    ("'first_response_time', variant='median', hours='$A$1:$A$5'", "needs an array formula"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', where={'$A$1:$A$5': name}",
     "where must be a cell or range reference"),
])
def test_kpi_formula_refuses_what_it_cannot_write_safely(tmp_path, args, message):
    """Arguments are references only: text from data (``name``) never becomes formula
    code; every refusal names the sheet and cell."""
    p = _one_cell(tmp_path, "={{ kpi_formula(" + args + ") }}")
    with pytest.raises(TemplateError, match=r"sheet 'Sheet', cell H1: .*" + message):
        fill(p, {"name": '1)+HYPERLINK("http://x","y"'})


def test_the_shipped_qa_template_asks_the_catalog():
    """No hand-written QA rule left in the agent sheet: the evaluation score and its
    failed fatal items come from kpi_formula (make_templates.py builds them so)."""
    ws = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    assert "kpi_formula('qa_score'" in ws["E13"].value
    assert "measure='fatal items failed'" in ws["G13"].value
    text = (ROOT / "scripts" / "make_templates.py").read_text(encoding="utf-8")
    assert 'F34=0' not in text and "SUMIFS($I$34" not in text


def test_generated_evaluation_formulas_are_the_catalogs(tmp_path_factory):
    """In a generated QA workbook, each evaluation's score cell holds the renderer's
    formula over that sheet's item rows, filtered to the evaluation."""
    from scorecard_data import month

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    ws = wb.worksheets[1]
    last = max(r for r in range(1, ws.max_row + 1)
               if isinstance(ws.cell(r, 1).value, str) and ws.cell(r, 1).value.startswith("QA-")
               and r > 30)
    first = next(r for r in range(30, ws.max_row + 1) if ws.cell(r, 1).value == "Evaluation") + 1
    rng = lambda c: f"${c}${first}:${c}${last}"  # noqa: E731
    kpi = CATALOG["qa_score"]
    text = render_excel(kpi, kpi.default_variant,
                        ranges={"weights": rng("D"), "scores": rng("F"), "fatal": rng("E")},
                        params={"max_score": "$B$4"}).text[1:]
    domain = f"((ISNUMBER({rng('D')})+ISNUMBER({rng('F')})+ISNUMBER({rng('E')}))>0)"
    for r in (12, 13):
        want = "=IFERROR(" + text.replace(domain, f"{domain}*({rng('A')}=A{r})") + ',"")'
        assert ws.cell(r, 5).value == want


def test_team_qa_score_is_the_mean_of_its_evaluations(tmp_path):
    """The catalog's QA score is per evaluation; a team's is the mean over its
    evaluations (as the engine computes it). Before, the Team row averaged the agents'
    means, which differs as soon as agents have different numbers of evaluations."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import write_month

    t = sample_tables(teams=1, agents_per_team=3, contacts_per_month=300)
    qa = t["qa"]
    oct_ = qa[qa.period == "2026-10"]
    first_agent = sorted(oct_.agent.unique())[0]
    evals = sorted(oct_[oct_.agent == first_agent].evaluation.unique())
    t["qa"] = qa[~qa.evaluation.isin(evals[1:])]            # that agent keeps one evaluation
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10", 1)
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    paths = write_month(res, t, tmp_path, max_score=MAX_SCORE, rubric=rubric)
    team = openpyxl.load_workbook(paths[1], data_only=True)["Team"]
    name = team["A1"].value.removeprefix("QA: ")
    agents = [team.cell(r, 3).value for r in range(6, 9)]
    assert team.cell(9, 1).value == "Team"
    want = res.value("qa_score", "team", name)
    assert team.cell(9, 3).value == pytest.approx(want, rel=1e-12)
    assert not math.isclose(sum(agents) / 3, want, rel_tol=1e-6)   # the old rule differs


def test_agent_sheet_status_is_the_engines(tmp_path_factory):
    """The agent sheet's on/off-target formula restates the catalog's status rule
    (kpi_xl.catalog.spec.status) with the variant's direction: it must give the engine's
    status, KPI by KPI, agent by agent."""
    from scorecard_data import month

    _t, res, paths = month(str(tmp_path_factory.mktemp("wb")))
    table = res.table
    now = table[(table.level == "agent") & (table.period == "2026-10")]
    checked = 0
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets[1:]:
            agent = ws["A1"].value.removeprefix("QA: ")
            mine = now[now["key"].astype(str) == agent].set_index("title")
            for row in ws.iter_rows():
                title = row[0].value
                if title in mine.index and row[4].value in ("on target", "off target"):
                    assert row[4].value == str(mine.loc[title, "status"]), (agent, title)
                    checked += 1
    assert checked > 20
