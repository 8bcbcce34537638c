"""The third renderer: every catalog KPI variant as one Excel formula over the cells that
hold its inputs, recalculated by LibreOffice, equals the Excel function (``compute``) on the
same inputs. The inputs are the sourced test vectors (tests/vectors.py), written as a
workbook holds them after loading: flags 1/0, durations in the KPI's unit, N/A as text.
"""

from __future__ import annotations

import math

import pytest

openpyxl = pytest.importorskip("openpyxl")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.render.arrays import compute, resolve_params  # noqa: E402
from kpi_xl.render.cells import parse_column  # noqa: E402
from kpi_xl.render.excel import render_excel  # noqa: E402
from kpi_xl.render.sql import NotRenderable  # noqa: E402
from kpi_xl.scorecard.libreoffice import recalculated_values, soffice  # noqa: E402

from vectors import VECTORS  # noqa: E402

#: the Erlang C planning functions are a recursion, not a formula over rows; their Excel
#: form (POISSON.DIST) is left for the staffing sheet that will use it
PLANNING = {k for k, kpi in CATALOG.items()
            if any(n.__class__.__name__ == "Call" and n.fn != "sqrt"
                   for v in kpi.variants for root in v.formula.nodes() for n in root.walk())}


def test_every_variant_renders_or_is_a_planning_function():
    for key, kpi in CATALOG.items():
        for v in kpi.variants:
            ranges = {i.name: "Data!$A$2:$A$3" for i in kpi.column_inputs}
            cells = {i.name: "Data!$Z$1" for i in kpi.inputs if not i.is_column}
            params = resolve_params(kpi, v, {})
            if key in PLANNING:
                with pytest.raises(NotRenderable):
                    render_excel(kpi, v, ranges=ranges, cells=cells, params=params)
                continue
            f = render_excel(kpi, v, ranges=ranges, cells=cells, params=params)
            assert f.text.startswith("=") and "nan" not in f.text.lower()
    assert PLANNING and PLANNING <= {k for k in CATALOG if CATALOG[k].family == "staffing"}


def _cases():
    out = []
    for key, variant, inputs, _expected, _source in VECTORS:
        if key in PLANNING:
            continue
        try:
            want = compute(key, variant, **inputs)
        except ValueError:
            continue
        out.append((key, variant, inputs, want.value))
    return out


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_excel_formulas_equal_the_excel_functions(tmp_path):
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Data"
    res = wb.create_sheet("Results")
    col = 1
    expected = {}
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.formula import ArrayFormula

    for i, (key, variant, inputs, value) in enumerate(_cases(), start=1):
        kpi = CATALOG[key]
        var = kpi.variant(variant)
        ranges, cells = {}, {}
        for inp in kpi.inputs:
            if inp.name not in inputs:
                continue
            if not inp.is_column:
                letter = get_column_letter(col)
                data[f"{letter}1"] = float(inputs[inp.name])
                cells[inp.name] = f"Data!${letter}$1"
                col += 1
                continue
            parsed = parse_column(key, inp.name, inp.kind, inputs[inp.name],
                                  time_unit=inp.time_unit)
            letter = get_column_letter(col)
            for r, v in enumerate(parsed.values, start=2):
                if inp.kind == "category":
                    data[f"{letter}{r}"] = v
                elif parsed.na is not None and parsed.na[r - 2]:
                    data[f"{letter}{r}"] = "N/A"
                elif not (isinstance(v, float) and math.isnan(v)):
                    data[f"{letter}{r}"] = float(v)
            ranges[inp.name] = f"Data!${letter}$2:${letter}${len(parsed.values) + 1}"
            col += 1
        params = resolve_params(kpi, var, {k: v for k, v in inputs.items()
                                           if k in {p.name for p in kpi.params}})
        f = render_excel(kpi, var, ranges=ranges, cells=cells, params=params)
        ref = f"A{i}"
        res[ref] = ArrayFormula(ref, f.text) if f.array else f.text
        res[f"B{i}"] = f"{key}/{var.name}"
        expected[("Results", ref)] = (key, var.name, value, f.text)
    path = tmp_path / "formulas.xlsx"
    wb.save(path)
    got = recalculated_values(path)
    wrong = []
    for cell, (key, name, value, text) in expected.items():
        v = got.get(cell)
        if not (isinstance(v, (int, float)) and math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12)):
            wrong.append((key, name, value, v, text[:160]))
    assert wrong == [], wrong
    assert len(expected) > 60
