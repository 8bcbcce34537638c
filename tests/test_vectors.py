"""Every KPI against its hand-derived or published vector, through both entry points:
the Python API (kpi_xl.compute) and the Excel function (as xlwings calls it)."""

import pytest

import kpi_xl.xl.functions as xlf
from kpi_xl.catalog import CATALOG
from kpi_xl.render.arrays import compute
from kpi_xl.xl.adapter import arguments
from vectors import ROUNDED, VECTORS

IDS = [f"{k}-{v or 'default'}-{i}" for i, (k, v, *_rest) in enumerate(VECTORS)]


def _tol(key, expected):
    return ROUNDED.get(key, 1e-9) * max(1.0, abs(expected))


@pytest.mark.parametrize("key,variant,inputs,expected,source", VECTORS, ids=IDS)
def test_vector_python(key, variant, inputs, expected, source):
    assert source
    r = compute(key, variant, **inputs)
    assert r.value == pytest.approx(expected, abs=_tol(key, expected))


@pytest.mark.parametrize("key,variant,inputs,expected,source", VECTORS, ids=IDS)
def test_vector_excel_function(key, variant, inputs, expected, source):
    """Positional call in the Excel function's argument order; ranges arrive as column
    lists (one value per row), as xlwings passes them with ndim=1."""
    kpi = CATALOG[key]
    args = []
    for name, _doc, _is_range in arguments(kpi):
        args.append(variant if name == "variant" else inputs.get(name))
    while args and args[-1] is None:
        args.pop()
    out = getattr(xlf, kpi.excel_name)(*args)
    assert not isinstance(out, str), out
    assert out == pytest.approx(expected, abs=_tol(key, expected))
