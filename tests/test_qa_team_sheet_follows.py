"""The QA workbook's Team sheet follows a score a QA lead corrects on an agent's sheet.

The workbook is live: each evaluation's QA score on the agent's sheet is a formula over
its item rows. Before, the Team sheet's table of every evaluation held the scores as
numbers written when the workbook was made, and the team's QA score and the evaluator
calibration were computed from those: after a correction the agent's own figure moved and
the team's did not, two different numbers in one workbook for the same evaluation."""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None,
                                reason="LibreOffice (soffice) is not installed; .ci/run installs it")


def _row(ws, first: int, test) -> int:
    return next(r for r in range(first, ws.max_row + 2) if test(r))


def _month_context():
    """The first team's QA context of the test month (tests/scorecard_data.py's month),
    for filling a template other than write_month's (a restyled one, or filled whole)."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import qa_contexts

    tables = sample_tables(teams=2, agents_per_team=4, contacts_per_month=1200)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    contexts = qa_contexts(res, tables["qa"], "Acme Support", max_score=MAX_SCORE,
                           roster=tables.get("roster"), rubric=rubric)
    return contexts[sorted(contexts)[0]]


def test_the_team_sheet_follows_a_corrected_score(tmp_path_factory):
    from scorecard_data import month

    from kpi_xl.scorecard.libreoffice import recalculated_values

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    team, ws = wb["Team"], wb.worksheets[1]
    a = ws.title
    # the agent's sheet: its first evaluation, and a non-fatal item of it scored above 0
    first = _row(ws, 12, lambda r: str(ws.cell(r, 1).value or "").startswith("QA-"))
    evaluation = ws.cell(first, 1).value
    items = _row(ws, first + 1, lambda r: ws.cell(r, 1).value == "Evaluation") + 1
    item = _row(ws, items, lambda r: ws.cell(r, 1).value == evaluation
                and ws.cell(r, 5).value == 0 and isinstance(ws.cell(r, 6).value, (int, float))
                and ws.cell(r, 6).value > 0)
    # the Team sheet: its row of the team, and its table of every evaluation
    total = _row(team, 6, lambda r: team.cell(r, 1).value == "Team")
    head = _row(team, total, lambda r: team.cell(r, 1).value == "Evaluation"
                and team.cell(r, 2).value == "Evaluator")
    table = list(range(head + 1, _row(team, head + 1, lambda r: not team.cell(r, 1).value)))
    mine = next(r for r in table if team.cell(r, 1).value == evaluation)
    evaluator = team.cell(mine, 2).value
    calibration = _row(team, 12, lambda r: team.cell(r, 1).value == evaluator)

    base = tmp_path_factory.mktemp("lo") / "base.xlsx"
    wb.save(base)
    ws.cell(item, 6).value = 0                     # the QA lead's correction
    edited = base.with_name("edited.xlsx")
    wb.save(edited)
    lo_before, lo_after = recalculated_values(base), recalculated_values(edited)

    def value(values):
        """LibreOffice's value of a formula cell; a cell of data as it was written."""
        return lambda k: values[k] if k in values else wb[k[0]][k[1]].value
    before, after = value(lo_before), value(lo_after)

    assert after((a, f"E{first}")) < before((a, f"E{first}"))          # the agent's sheet
    # the Team sheet's table reads the agent's sheet ...
    assert after(("Team", f"D{mine}")) == pytest.approx(after((a, f"E{first}")), rel=1e-12)
    scores = [after(("Team", f"D{r}")) for r in table
              if isinstance(after(("Team", f"D{r}")), (int, float))]
    assert len(scores) == len(table) - sum(1 for r in table if after(("Team", f"D{r}")) in
                                           (None, ""))
    # ... and so the team's QA score (the mean of its evaluations) and the calibration move
    assert after(("Team", f"C{total}")) == pytest.approx(statistics.fmean(scores), rel=1e-12)
    assert after(("Team", f"C{total}")) < before(("Team", f"C{total}"))
    given = [after(("Team", f"D{r}")) for r in table if team.cell(r, 2).value == evaluator
             and isinstance(after(("Team", f"D{r}")), (int, float))]
    assert after(("Team", f"C{calibration}")) == pytest.approx(statistics.fmean(given),
                                                                 rel=1e-12)
    # unedited, the table shows what the agents' sheets show (the stored values too)
    for r in table:
        sheet = next(s for s in wb.worksheets[1:] if any(
            s.cell(k, 1).value == team.cell(r, 1).value for k in range(12, 40)))
        k = _row(sheet, 12, lambda k: sheet.cell(k, 1).value == team.cell(r, 1).value)
        shown, own = before(("Team", f"D{r}")), before((sheet.title, f"E{k}"))
        assert (shown in (None, "") and own in (None, "")) or shown == pytest.approx(
            own, rel=1e-12), (r, shown, own)


def test_a_restyled_agent_sheet_listing_evaluations_otherwise_is_refused_not_misread(
        tmp_path_factory):
    """Review: the Team table reads each evaluation's score by its place on its agent's
    sheet. A restyled template whose agent sheet lists the evaluations in another order
    (``| reverse``) showed another evaluation's score beside each id, and a wrong
    evaluator calibration, with no error. Each row now checks the id at that place: where
    it is another evaluation, the row is #N/A (refused), never another's score."""
    from kpi_xl.scorecard.build import TEMPLATES
    from kpi_xl.scorecard.cached import save_with_values
    from kpi_xl.scorecard.libreoffice import recalculated_values
    from kpi_xl.scorecard.template import fill

    folder = tmp_path_factory.mktemp("restyled")
    wb = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")
    agent = wb["Agent"]
    loop = next(c for row in agent.iter_rows() for c in row
                if isinstance(c.value, str) and "for e in agent.evaluations" in c.value)
    loop.value = loop.value.replace("agent.evaluations", "agent.evaluations | reverse")
    template = folder / "agent-qa.xlsx"
    wb.save(template)
    ctx = _month_context()
    path = folder / "restyled.xlsx"
    save_with_values(fill(template, ctx).workbook, path)
    lo = recalculated_values(path)
    team = openpyxl.load_workbook(path)["Team"]
    head = _row(team, 6, lambda r: team.cell(r, 1).value == "Evaluation"
                and team.cell(r, 2).value == "Evaluator")
    table = list(range(head + 1, _row(team, head + 1, lambda r: not team.cell(r, 1).value)))
    want = {e["id"]: e["score"] for e in ctx["evaluations"]}
    shown = {team.cell(r, 1).value: lo[("Team", f"D{r}")] for r in table}
    for eid, got in shown.items():
        # the right score, or refused: never another evaluation's
        assert (isinstance(got, str) and got.startswith("#N/A")) or \
            got == pytest.approx(want[eid], rel=1e-12), (eid, got, want[eid])
    # with four evaluations per agent, reversed, only a middle pair could land right
    assert sum(1 for g in shown.values() if isinstance(g, str)) >= len(shown) // 2


@pytest.mark.parametrize("writer", ["whole", "streamed"])
def test_the_item_table_refuses_what_its_formulas_would_misread(tmp_path_factory, writer):
    """Review of h-guard2: a QA lead typing "Y" in the fatal column (the formulas read a
    fatal item as the number 1: "Y" made the item silently not fatal, a QA score of 90 %
    where the fatal rule gives 0), text in a weight (read as 0) or a score above the
    rubric's maximum. Each item row now validates what is typed, as Excel's data
    validation does (stop): fatal 0 or 1, weight a number >= 0, score N/A or a number
    from 0 to the sheet's maximum (B4), on every item row of every agent's sheet."""
    from openpyxl.worksheet.cell_range import CellRange

    from scorecard_data import month

    _t, _res, paths = month(str(tmp_path_factory.mktemp(writer)))
    path = paths[1]
    if writer == "whole":     # write_month streams: the same context filled whole
        from kpi_xl.scorecard.build import TEMPLATES
        from kpi_xl.scorecard.cached import save_with_values
        from kpi_xl.scorecard.template import fill

        path = tmp_path_factory.mktemp("whole") / "qa.xlsx"
        save_with_values(fill(TEMPLATES / "agent-qa.xlsx", _month_context()).workbook, path)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets[1:]:
        items = [r for r in range(1, ws.max_row + 1)
                 if str(ws.cell(r, 1).value or "").startswith("QA-")
                 and isinstance(ws.cell(r, 4).value, (int, float))]
        assert items, ws.title
        rules = {}
        for dv in ws.data_validations.dataValidation:
            for rng in str(dv.sqref).split():
                rules.setdefault(CellRange(rng).min_col, []).append((CellRange(rng), dv))
        for col, check in ((4, lambda dv: dv.type == "decimal" and dv.operator ==
                            "greaterThanOrEqual" and dv.formula1 == "0"),
                           (5, lambda dv: dv.type == "whole" and dv.operator == "between"
                            and (dv.formula1, dv.formula2) == ("0", "1")),
                           (6, lambda dv: dv.type == "custom" and "$B$4" in dv.formula1
                            and '"n/a"' in dv.formula1)):   # any case, as the formulas
            found = [(r, dv) for r, dv in rules.get(col, []) if check(dv)]
            assert found, (ws.title, col)
            rng, dv = found[0]
            assert rng.min_row <= items[0] and rng.max_row >= items[-1], (ws.title, col, rng)
            assert dv.showErrorMessage and dv.errorStyle in (None, "stop") and dv.error
            if col == 6:    # read from the range's first cell: that cell, not the template's
                assert f"ISNUMBER(F{rng.min_row})" in dv.formula1 and "F34" not in dv.formula1, \
                    dv.formula1
