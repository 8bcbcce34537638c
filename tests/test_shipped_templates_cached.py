"""Every formula of the shipped templates, as filled for a month, gets a cached value: the
evaluator refuses what it cannot compute exactly (a refused cell is left for the
spreadsheet to compute on open, so a phone preview shows it blank). A refusal in a shipped
template is a defect of the template (e.g. an empty IF argument, which Excel reads as 0)."""

from __future__ import annotations

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")

from kpi_xl.scorecard.formula import Evaluator, Unsupported  # noqa: E402

from scorecard_data import month  # noqa: E402


def test_no_formula_of_a_generated_month_is_refused(tmp_path):
    _tables, _res, paths = month(str(tmp_path))
    assert len(paths) >= 2
    refused = []
    for path in paths:
        wb = openpyxl.load_workbook(path)
        refused += [f"{path.name} {sheet}!{cell.coordinate}: {value}"
                    for sheet, cell, value in Evaluator(wb).all_values()
                    if isinstance(value, Unsupported)]
    assert refused == []
