"""The QA workbook's Team sheet table of every evaluation reads each one's QA score from
its own row of its agent's sheet (``=INDEX('Ann'!$E$12:$E$14,k)``), whatever the agent's
number of evaluations (one: a range of one cell), its sheet's title (``Ann/Lee`` is on
``Ann-Lee (2)``, ``Team`` on ``Team (2)``, ``ann`` on ``ann (2)`` after ``ANN``), and
an evaluation without a score (an item scored past the maximum: "check item row 48" on
both sheets).

The expected score of each row is the one :func:`qa_contexts` computed for that
evaluation id (the catalog's qa_score over its items); the figures on the sheets are
LibreOffice's after recalculating, and the cached values the evaluator wrote must be
LibreOffice's too. The shipped agents all have four evaluations a month
(``sample_tables``), so every agent's range had the same size before this test."""

from __future__ import annotations

import math

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.scorecard.libreoffice import soffice  # noqa: E402

pytestmark = pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not "
                                "installed; .ci/run installs it")

NAMES = ["Ann/Lee", "Ann-Lee", "ANN", "ann", "Team", "Cleared", "Agent", "Solo"]
KEEP = [1, 2, 3, 4, 2, 3, 2, 1]          # evaluations each keeps in the month


@pytest.fixture(scope="module")
def context():
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import qa_contexts

    tables = sample_tables(teams=1, agents_per_team=len(NAMES), contacts_per_month=400)
    rename = dict(zip(sorted(tables["qa"]["agent"].unique()), NAMES, strict=True))
    for t in tables.values():
        if t is not None and "agent" in getattr(t, "columns", []):
            t["agent"] = t["agent"].replace(rename)
    q = tables["qa"]
    month = q["period"] == "2026-10"
    keep = []
    for name, k in zip(NAMES, KEEP, strict=True):
        keep += sorted(q[month & (q["agent"] == name)]["evaluation"].unique())[:k]
    q = q[~month | q["evaluation"].isin(keep)].copy()
    # "Cleared": its second evaluation has an item scored past the maximum (no QA score)
    second = sorted(q[(q["period"] == "2026-10") & (q["agent"] == "Cleared")]
                    ["evaluation"].unique())[1]
    q.loc[q.index[q["evaluation"] == second][0], "score"] = 99.0
    tables["qa"] = q
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    (ctx,) = qa_contexts(res, tables["qa"], "Acme", max_score=MAX_SCORE,
                         roster=tables.get("roster"), rubric=rubric).values()
    counts = {a["name"]: len(a["evaluations"]) for a in ctx["agents"]}
    assert 1 in counts.values() and 4 in counts.values(), counts      # not all alike
    assert any(e["score"] is None for e in ctx["evaluations"])          # one without a score
    return ctx


def _same(a, b) -> bool:
    if isinstance(a, str) and a or isinstance(b, str) and b:
        return a == b
    if a in (None, "") or b in (None, ""):
        return a in (None, "") and b in (None, "")
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.libreoffice
@pytest.mark.parametrize("writer", ["whole", "streamed"])
def test_each_row_reads_its_own_evaluation(context, writer, tmp_path):
    from kpi_xl.scorecard.build import TEMPLATES
    from kpi_xl.scorecard.cached import save_with_values
    from kpi_xl.scorecard.libreoffice import recalculated_values
    from kpi_xl.scorecard.streamed import save_filled
    from kpi_xl.scorecard.template import fill

    template, path = TEMPLATES / "agent-qa.xlsx", tmp_path / f"{writer}.xlsx"
    if writer == "whole":
        save_with_values(fill(template, context).workbook, path, "2026-11-01T00:00:00Z",
                         release=True)
    else:
        save_filled(template, context, path, "2026-11-01T00:00:00Z")
    lo = recalculated_values(path)
    wb = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)["Team"]
    team = wb["Team"]
    head = next(r for r in range(1, team.max_row + 1) if team.cell(r, 1).value ==
                "Evaluation" and team.cell(r, 2).value == "Evaluator")
    score = {e["id"]: e["score"] for e in context["evaluations"]}
    seen = 0
    for r in range(head + 1, head + 1 + len(score)):
        eid, agent = team.cell(r, 1).value, team.cell(r, 3).value
        sheet = next(s for s in wb.worksheets[1:] if s["A1"].value == f"QA: {agent}")
        own = next(k for k in range(12, 12 + 4) if sheet.cell(k, 1).value == eid)
        shown = lo[("Team", f"D{r}")]
        assert _same(shown, lo[(sheet.title, f"E{own}")]), (eid, agent, sheet.title)
        if score[eid] is None:       # its item row past the maximum: named on both sheets
            assert isinstance(shown, str) and shown.startswith("check item row "), shown
        else:
            assert _same(shown, score[eid]), (eid, shown, score[eid])
        assert _same(cached[f"D{r}"].value, shown), (eid, cached[f"D{r}"].value, shown)
        seen += 1
    assert seen == len(score) == sum(KEEP)
