"""Values pasted into the QA workbook's item table, which Excel's and LibreOffice's data
validation never sees (it judges what is typed, not what is pasted).

Before: text pasted into a score ("five", "4.5" as text) was read as N/A and a text
weight as 0, so the evaluation's QA score was a confident wrong number; a score above the
rubric's maximum blanked the evaluation, and the agent's QA score, the team's and the
evaluator calibration were then the mean of the other evaluations, with nothing saying
one was missing. Now the catalog's Excel renderer refuses a cell it cannot read as it
refuses a broken rule, the evaluation says which item row to check, and every mean built
on it says so too instead of averaging around it. Recalculated by LibreOffice."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

needs_lo = pytest.mark.skipif(shutil.which("soffice") is None,
                              reason="LibreOffice (soffice) is not installed")

ARGS = dict(weights="$D$2:$D$7", scores="$F$2:$F$7", fatal="$E$2:$E$7", max_score="$B$1")
#: evaluation, weight, fatal, score (out of 5): e1's QA score is (5 + 8) / 15
ROWS = [("e1", 1, 0, 5), ("e1", 2, 1, 4), ("e1", 1, 0, "N/A"), ("e2", 1, 0, 3),
        ("e2", 2, 1, 5), ("e3", 1, 0, 2)]


def _small_book(tmp_path, col: str, value, row: int = 3):
    """ROWS with one cell of e1's ``row`` replaced as a paste would, and e1's QA score,
    its compliance and its fatal fails written by kpi_formula (refused= the message)."""
    from kpi_xl.scorecard.template import kpi_formula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B1"], ws["G1"] = 5, "e1"
    for i, (e, w, f, s) in enumerate(ROWS, 2):
        ws[f"A{i}"], ws[f"D{i}"], ws[f"E{i}"], ws[f"F{i}"] = e, w, f, s
    ws[f"{col}{row}"] = value
    one, ids = {"$A$2:$A$7": "G1"}, ["$A$2:$A$7"]       # every item row holds its id
    ws["H1"] = "=" + str(kpi_formula("qa_score", where=one, refused="check item row",
                                     filled=ids, **ARGS))
    ws["H2"] = "=" + str(kpi_formula("qa_score", measure="points share", refused="check item row",
                                     where={**one, "$E$2:$E$7": 1}, filled=ids, **ARGS))
    ws["H3"] = "=" + str(kpi_formula("qa_score", measure="fatal items failed", where=one,
                                     refused="check item row", filled=ids, **ARGS))
    path = tmp_path / "items.xlsx"
    wb.save(path)
    return path, ws.title


@needs_lo
@pytest.mark.parametrize("col,value", [("F", "five"), ("F", "4"), ("F", "4 "), ("F", 7),
                                       ("F", -1), ("D", "2"), ("D", "two"), ("E", "Y"),
                                       ("E", 2)])
def test_a_pasted_cell_the_formula_cannot_read_refuses_the_evaluation(tmp_path, col, value):
    """Row 3 is a fatal item scored 4: each pasted value there is one the Excel function
    (kpi_xl.render.cells) refuses. The QA score and the compliance (which reads the
    fatal items: a fatal flag "Y" would take the item out of it) say which row."""
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, col, value)
    got = recalculated_values(path)
    assert got[(title, "H1")] == "check item row 3", (col, value, got[(title, "H1")])
    assert got[(title, "H2")] == "check item row 3", (col, value, got[(title, "H2")])


@needs_lo
@pytest.mark.parametrize("col,value", [("F", "#DIV/0!"), ("D", "#N/A"), ("E", "#VALUE!"),
                                       ("F", True), ("F", False), ("D", True), ("E", True),
                                       ("E", False)])
def test_an_error_value_or_a_boolean_pasted_refuses_the_evaluation(tmp_path, col, value):
    """An Excel error value pasted into row 3 (copied from a sheet that showed #DIV/0!)
    made the QA score an error, which the sheet's IFERROR showed as a blank and the means
    above then left out; TRUE/FALSE is a number to LibreOffice (TRUE scored 1 point,
    or made the item fatal) and not to Excel, which refused it: both now say which row
    to check, in LibreOffice as the formula reads Excel's (ISNUMBER(TRUE) is FALSE)."""
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, col, value)
    got = recalculated_values(path)
    assert got[(title, "H1")] == "check item row 3", (col, value, got[(title, "H1")])
    assert got[(title, "H2")] == "check item row 3", (col, value, got[(title, "H2")])


@needs_lo
def test_an_error_in_the_evaluation_column_names_its_row(tmp_path):
    """An item whose evaluation id is an error value belongs to no known evaluation: the
    QA score says which row to check instead of an error (or a blank) there."""
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, "A", "#N/A", row=5)
    got = recalculated_values(path)
    assert [got[(title, c)] for c in ("H1", "H2", "H3")] == ["check item row 5"] * 3


@needs_lo
def test_an_item_row_without_its_evaluation_id_names_its_row(tmp_path):
    """An item row whose evaluation id is blank (cleared, or a row added without one) is
    in no evaluation: the loader rejects such a row (the id is required); the QA score left
    it out of e1 silently ((5 + 8) / 15 became 8 / 10). Now every measure says which row."""
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, "A", None, row=2)
    got = recalculated_values(path)
    assert [got[(title, c)] for c in ("H1", "H2", "H3")] == ["check item row 2"] * 3


@needs_lo
def test_an_item_of_no_section_leaves_the_section_scores_alone(tmp_path):
    """A rubric item may have no section (RubricItem.section ""): its blank section cell is
    no row to check, where an item without its evaluation id is; a section's score is
    its items' points share (rows 2 and 5 here: (5 + 3) / 10)."""
    from kpi_xl.scorecard.libreoffice import recalculated_values
    from kpi_xl.scorecard.template import kpi_formula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B1"], ws["G1"] = 5, "S1"
    for i, (e, w, f, s) in enumerate(ROWS, 2):
        ws[f"A{i}"], ws[f"D{i}"], ws[f"E{i}"], ws[f"F{i}"] = e, w, f, s
        ws[f"B{i}"] = "S1" if i in (2, 5) else "S2" if i != 3 else None
    ws["H1"] = "=" + str(kpi_formula("qa_score", measure="points share", refused="check item row",
                                     where={"$B$2:$B$7": "G1"}, **ARGS))
    path = tmp_path / "sections.xlsx"
    wb.save(path)
    assert recalculated_values(path)[(ws.title, "H1")] == pytest.approx(8 / 10)


@needs_lo
@pytest.mark.parametrize("value", ["five", 7])
def test_a_measure_is_refused_only_by_what_it_reads(tmp_path, value):
    """Row 2 is a non-fatal item: a bad score there refuses the QA score, not the
    compliance (the points share of the fatal items) nor the fatal fails, which do not
    read it (kpi_xl.catalog.rules.rules_read), as with a broken range rule."""
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, "F", value, row=2)
    got = recalculated_values(path)
    assert got[(title, "H1")] == "check item row 2"
    assert got[(title, "H2")] == pytest.approx(4 / 5) and got[(title, "H3")] == 0


@needs_lo
@pytest.mark.parametrize("value", ["n/a", " Not applicable ", "NA"])
def test_the_catalogs_words_for_not_applicable_stay_not_applicable(tmp_path, value):
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, "F", value)
    got = recalculated_values(path)
    assert got[(title, "H1")] == pytest.approx(5 / 5)        # only row 2 (5 of 5) is left
    assert got[(title, "H3")] == 0


@needs_lo
def test_a_valid_table_gives_the_catalogs_number(tmp_path):
    from kpi_xl.render.arrays import compute
    from kpi_xl.scorecard.libreoffice import recalculated_values

    path, title = _small_book(tmp_path, "F", 4)
    got = recalculated_values(path)
    e1 = [r for r in ROWS if r[0] == "e1"]
    want = compute("qa_score", weights=[r[1] for r in e1], fatal=[r[2] for r in e1],
                   scores=[r[3] for r in e1], max_score=5)
    assert got[(title, "H1")] == pytest.approx(float(want.value), rel=1e-12)


def _first_evaluation_items(ws):
    """The first evaluation's row and its item rows (first, last) on a filled Agent
    sheet."""
    heads: dict = {}
    for r in range(1, ws.max_row + 1):
        heads.setdefault(ws.cell(r, 1).value, r)
    row = heads["Evaluation"] + 1
    eid = ws.cell(row, 1).value
    top = next(r for r in range(heads["Section"], ws.max_row + 1)
               if ws.cell(r, 1).value == "Evaluation") + 1
    items = [r for r in range(top, ws.max_row + 1) if ws.cell(r, 1).value == eid]
    return row, items


#: per agent sheet of the first team: the item (fatal or not) and what is pasted where
#: (an Excel error value, as a paste from a sheet showing one brings it; TRUE/FALSE, a
#: number to LibreOffice, not to Excel; an error in the evaluation column, which puts
#: the item in no evaluation, names its row on every evaluation of the sheet)
PASTES = {
    "text": [(0, "F", "five"), (0, "F", "4.5"), (0, "F", 7), (0, "D", "2")],
    "fatal": [(1, "E", "Y"), (1, "F", -1), (0, "E", 2), (0, "F", "3 ")],
    "errors": [(0, "F", "#DIV/0!"), (0, "D", "#N/A"), (1, "E", "#VALUE!"), (0, "A", "#REF!")],
    "booleans": [(0, "F", True), (1, "F", False), (0, "D", True), (0, "E", True)],
    # an item row whose evaluation id was cleared: in no evaluation (the loader rejects
    # such a row: the id is required), it was left out of its evaluation's score silently
    "blank ids": [(0, "A", None), (1, "A", None)],
}


@needs_lo
@pytest.mark.parametrize("group", sorted(PASTES))
def test_a_pasted_value_is_named_on_the_agents_and_the_teams_figures(tmp_path_factory, group):
    """The shipped template, filled for a month, one value pasted into each agent's first
    evaluation: the evaluation, the agent's QA score, the Team sheet's row of the agent
    and the team's figures say which item row to check; none is a mean of the rest."""
    from scorecard_data import month

    from kpi_xl.scorecard.libreoffice import recalculated_values

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    team = wb["Team"]
    edited, ws_rows = {}, {}
    for ws, (fatal, col, value) in zip(wb.worksheets[1:], PASTES[group]):
        row, items = _first_evaluation_items(ws)
        item = next(r for r in items if ws.cell(r, 5).value == fatal
                    and isinstance(ws.cell(r, 6).value, (int, float)) and ws.cell(r, 6).value > 0)
        ws[f"{col}{item}"] = value
        edited[ws.title] = (row, item, ws.cell(row, 1).value, fatal and col == "E")
        ws_rows[ws.title] = next(r for r in range(row, ws.max_row + 1)
                                 if ws.cell(r, 1).value in (None, "Section"))
    assert len(edited) == len(PASTES[group])
    path = tmp_path_factory.mktemp("lo") / "pasted.xlsx"
    wb.save(path)
    got = recalculated_values(path)
    t = "Team"
    total = next(r for r in range(6, team.max_row + 1) if team.cell(r, 1).value == "Team")
    for a, (row, item, eid, fatal_flag) in edited.items():
        say = f"check item row {item}"
        assert got[(a, f"E{row}")] == say, (a, got[(a, f"E{row}")])
        if fatal_flag:               # compliance reads the fatal items: "Y" is not one
            assert got[(a, f"F{row}")] == say, (a, got[(a, f"F{row}")])
        assert got[(a, "B5")] == say, (a, got[(a, "B5")])
        assert got[(a, "C5")] == "not scored"
        # the evaluations listed, the refused one with them (it says which row to check)
        listed_here = sum(1 for r in range(row, ws_rows[a]) if wb[a].cell(r, 1).value)
        assert got[(a, "B7")] == listed_here, (a, got[(a, "B7")], listed_here)
        # no evaluation of the sheet goes blank (an error value in one item's cell made
        # every formula over its column an error, shown blank by IFERROR)
        for r in range(row, ws_rows[a]):
            assert got[(a, f"E{r}")] not in (None, ""), (a, r)
        agent_row = next(r for r in range(6, total) if team.cell(r, 1).value == a)
        assert got[(t, f"C{agent_row}")] == say
        assert got[(t, f"E{agent_row}")] == "not ranked"
        listed = next(r for r in range(total, team.max_row + 1) if team.cell(r, 1).value == eid)
        assert got[(t, f"D{listed}")] == say
    # the team's QA score and the calibration's team mean: the agent of the first refused
    # evaluation of the table, whose sheet says which row, never a mean of the others
    for key in [(t, f"C{total}")] + [(t, f"D{r}") for r in range(total + 1, team.max_row)
                                     if team.cell(r, 2).value is not None
                                     and str(team.cell(r, 2).value).startswith("=COUNTIFS")]:
        v = got[key]
        assert v in {f"check {a}" for a in edited}, (key, v)
    # each evaluator whose evaluation is refused: the calibration names it too
    evaluators = {team.cell(r, 2).value for r in range(total, team.max_row + 1)
                  if team.cell(r, 1).value in {e[2] for e in edited.values()}}
    for r in range(total + 1, team.max_row + 1):
        if team.cell(r, 1).value in evaluators and \
                str(team.cell(r, 2).value or "").startswith("=COUNTIFS"):
            assert got[(t, f"C{r}")] in {f"check {a}" for a in edited}, got[(t, f"C{r}")]
    assert not [k for k, v in got.items() if isinstance(v, str) and v.startswith("#")]


def test_the_item_tables_marks_are_the_catalogs_rules():
    """The template marks (conditional format) a weight, fatal flag or score its formulas
    refuse: the mark's condition is the catalog's Excel renderer's for that cell
    (ExcelRenderer.cell_checks), not a restatement."""
    from kpi_xl.catalog import CATALOG
    from kpi_xl.render.excel import ExcelRenderer
    from kpi_xl.scorecard.build import TEMPLATES

    kpi = CATALOG["qa_score"]
    want = ExcelRenderer(kpi, kpi.variant(None), ranges={"weights": "D34", "fatal": "E34",
                                                         "scores": "F34"},
                         params={"max_score": "$B$4"}).cell_checks()
    ws = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    marks = {str(rng.sqref): [r.formula for r in rules]
             for rng, rules in ws.conditional_formatting._cf_rules.items()}
    for name, cell in (("weights", "D34"), ("fatal", "E34"), ("scores", "F34")):
        assert [want[name]] in marks.get(cell, []), (name, marks.get(cell))


def test_the_item_tables_validations_are_the_catalogs_bounds():
    """The validations (what Excel's dialog refuses as it is typed) restate the catalog's
    input rules for qa_score deliberately (make_templates.py says so): held to them."""
    from kpi_xl.catalog import CATALOG
    from kpi_xl.scorecard.build import TEMPLATES

    kpi = CATALOG["qa_score"]
    weights, scores, fatal = (kpi.input(n) for n in ("weights", "scores", "fatal"))
    ws = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    dv = {str(d.sqref): d for d in ws.data_validations.dataValidation}
    assert weights.hi is None and dv["D34"].type == "decimal"
    assert (dv["D34"].operator, dv["D34"].formula1) == ("greaterThanOrEqual", f"{weights.lo:g}")
    assert fatal.kind == "flag" and dv["E34"].type == "whole"
    assert (dv["E34"].formula1, dv["E34"].formula2) == ("0", "1")
    assert scores.kind == "score" and scores.hi == "max_score" and ws["B4"].value == \
        "{{ max_score }}"
    from kpi_xl.render.excel import score_validation
    assert dv["F34"].formula1 == score_validation("F34", lo=scores.lo, hi="$B$4")


#: what a QA lead may type for an item that does not apply, and texts that are not that
NA_CANDIDATES = ["N/A", "n/a", " NA ", "not applicable", "Not Applicable", "N.A.", "none",
                 "-", "x"]


@needs_lo
@pytest.mark.parametrize("value", NA_CANDIDATES)
def test_the_score_validation_and_the_formulas_agree_on_na(tmp_path, value):
    """The score cell's data validation (what Excel's dialog lets a QA lead type) accepts
    a text exactly where the QA score reads it as N/A (the renderer's NA_WORDS): the
    validation let through "N/A" only, the formulas every word of NA_WORDS (" NA " was
    refused as typed, read as N/A when pasted). The validation's formula, as a cell's
    formula over the same cell, recalculated by LibreOffice beside the QA score."""
    from kpi_xl.scorecard.build import TEMPLATES
    from kpi_xl.scorecard.libreoffice import recalculated_values

    rule = {str(d.sqref): d.formula1 for d in openpyxl.load_workbook(
        TEMPLATES / "agent-qa.xlsx")["Agent"].data_validations.dataValidation}["F34"]
    path, title = _small_book(tmp_path, "F", value)
    wb = openpyxl.load_workbook(path)
    wb[title]["H5"] = "=AND(" + rule.replace("F34", "F3").replace("$B$4", "$B$1") + ")"
    wb.save(path)
    got = recalculated_values(path)
    read_as_na = got[(title, "H1")] == pytest.approx(5 / 5)
    assert read_as_na or got[(title, "H1")] == "check item row 3", got[(title, "H1")]
    assert bool(got[(title, "H5")]) is read_as_na, (value, got[(title, "H5")], got[(title, "H1")])


def test_the_score_validation_is_rendered_from_na_words():
    """One definition: the validation's formula is the renderer's, and names every word
    of NA_WORDS."""
    from kpi_xl.render.cells import NA_WORDS
    from kpi_xl.render.excel import score_validation
    from kpi_xl.scorecard.build import TEMPLATES

    dv = {str(d.sqref): d for d in openpyxl.load_workbook(
        TEMPLATES / "agent-qa.xlsx")["Agent"].data_validations.dataValidation}["F34"]
    assert dv.formula1 == score_validation("F34", lo=0, hi="$B$4")
    assert all(f'"{w}"' in dv.formula1 for w in NA_WORDS)
