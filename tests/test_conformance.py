"""One conformance suite for every renderer of the catalog (issue 10, section 6).

Every sourced test vector (tests/vectors.py ``VECTORS``) and every rule-breaking vector
(``ERROR_VECTORS``) runs through every renderer:

* ``numpy``          kpi_xl.render.arrays.compute, by input name (the Python API);
* ``excel_function`` the Excel function as xlwings calls it: positional arguments in the
                     function's order, ranges as column lists, errors as a sentence;
* ``sql``            kpi_xl.render.sql (the engine's renderer) on DuckDB, over a one-table
                     view of the vector's rows, as the loader leaves them (flags 1/0,
                     durations in the input's unit, N/A scores NULL);
* ``excel_formula``  kpi_xl.render.excel: every formula in ONE workbook, recalculated by
                     LibreOffice once per session.

A sourced vector must give its expected number in each renderer; an error vector must be
refused in each (the function and numpy with the sentence, SQL with no value and the
sentence as its note, a formula with an error value). What a renderer cannot express is
listed below with the reason, and the suite holds that list exact: a renderer that starts
to express it, or stops, fails here, and a new vector picks a side by its KPI.
"""

from __future__ import annotations

import math
import re

import pytest

import kpi_xl.xl.functions as xlf
from kpi_xl.catalog import CATALOG
from kpi_xl.errors import KpiError
from kpi_xl.render.arrays import compute, resolve_params
from kpi_xl.render.cells import parse_column
from kpi_xl.render.excel import render_excel
from kpi_xl.render.sql import NotRenderable, SqlRenderer
from kpi_xl.xl.adapter import arguments
from kpi_xl.catalog.worked import tolerance
from vectors import ERROR_VECTORS, VECTORS

RENDERERS = ("numpy", "excel_function", "sql", "excel_formula")

_ERLANG = ("the Erlang A/B/C recursions (loops over agent, line or queue counts) have no "
           "closed form in SQL or a worksheet formula; the staffing functions run in "
           "Python only")
#: (renderer, KPI) -> why that renderer cannot express the KPI
CANNOT: dict[tuple[str, str], str] = {
    (r, k): _ERLANG for r in ("sql", "excel_formula")
    for k in ("erlang_p_wait", "erlang_service_level", "erlang_asa", "erlang_occupancy",
              "erlang_agents", "erlang_agents_p_wait", "erlang_agents_asa",
              "erlang_queue_length", "erlang_service_time", "erlang_call_capacity",
              "erlang_chat_agents",
              "erlang_b_blocking", "erlang_b_lines", "erlang_a_p_wait",
              "erlang_a_p_abandon", "erlang_a_service_level", "erlang_a_asa",
              "erlang_a_agents")}
#: (renderer, error vector) -> why that renderer cannot refuse it by itself
CANNOT_REFUSE: dict[tuple[str, str], str] = {
    ("sql", "blank QA score"): "SQL tables hold a score's N/A as NULL, like a blank; the "
                               "loader tells them apart and refuses the blank before SQL runs",
}


def _tol(key, expected):
    return tolerance(key, expected)


def _params(kpi, variant, inputs):
    return resolve_params(kpi, variant, {k: v for k, v in inputs.items()
                                         if k in {p.name for p in kpi.params}})


def _columns(kpi, inputs):
    """The vector's column inputs as a loaded table holds them, by input name: numbers
    (NaN for blank), labels (None for blank), and which score cells are N/A."""
    out = {}
    for inp in kpi.column_inputs:
        if inp.name in inputs:
            out[inp.name] = parse_column(kpi.key, inp.name, inp.kind, inputs[inp.name],
                                         time_unit=inp.time_unit)
    return out


# ---------------------------------------------------------------------- the renderers
def run_numpy(key, variant, inputs):
    return compute(key, variant, **inputs).value


def run_excel_function(key, variant, inputs):
    kpi = CATALOG[key]
    args = [variant if name == "variant" else inputs.get(name)
            for name, _doc, _is_range in arguments(kpi)]
    while args and args[-1] is None:
        args.pop()
    out = getattr(xlf, kpi.excel_name)(*args)
    if isinstance(out, str):
        assert out.startswith(kpi.excel_name + ": "), out
        raise KpiError(key, "", out[len(kpi.excel_name) + 2:])
    return out


def run_sql(key, variant, inputs):
    pd = pytest.importorskip("pandas")
    duckdb = pytest.importorskip("duckdb")
    kpi = CATALOG[key]
    var = kpi.variant(variant)
    cols = _columns(kpi, inputs)
    frame = {}
    for name, c in cols.items():
        frame[name] = list(c.values) if kpi.input(name).kind == "category" else [
            None if (math.isnan(v) or (c.na is not None and c.na[i])) else float(v)
            for i, v in enumerate(c.values)]
    scalars = {i.name: float(inputs[i.name]) for i in kpi.inputs
               if not i.is_column and i.name in inputs}
    assert not (frame and scalars), "a KPI of rows and scalars: extend the view"
    table = pd.DataFrame(frame or {k: [v] for k, v in scalars.items()})
    r = SqlRenderer(kpi, var, columns={n: f'"{n}"' for n in frame},
                    scalars={n: f'"{n}"' for n in scalars}, params=_params(kpi, var, inputs))
    ks = r.render()
    con = duckdb.connect()
    con.register("v", table)
    if ks.aggregates:
        aggs = ", ".join(f"{sql} AS {alias}" for alias, sql in ks.aggregates.items())
        query = f"SELECT {ks.value}, {ks.note} FROM (SELECT {aggs} FROM v) AS agg"
    else:
        query = f"SELECT {ks.value}, {ks.note} FROM v"
    value, note = con.execute(query).fetchone()
    if value is None:
        assert note, "no value and no reason"
        raise KpiError(key, "", note)
    return value


def excel_case(key, variant, inputs, data, start_col: int):
    """Write the vector's inputs into ``data`` from column ``start_col`` and return the
    KPI's formula over them, and the next free column."""
    from openpyxl.utils import get_column_letter

    kpi = CATALOG[key]
    var = kpi.variant(variant)
    ranges, cells = {}, {}
    col = start_col
    parsed = _columns(kpi, inputs)
    for inp in kpi.inputs:
        if inp.name not in inputs:
            continue
        letter = get_column_letter(col)
        col += 1
        if not inp.is_column:
            data[f"{letter}1"] = float(inputs[inp.name])
            cells[inp.name] = f"Data!${letter}$1"
            continue
        c = parsed[inp.name]
        for r, v in enumerate(c.values, start=2):
            if inp.kind == "category":
                data[f"{letter}{r}"] = v
            elif c.na is not None and c.na[r - 2]:
                data[f"{letter}{r}"] = "N/A"
            elif not math.isnan(v):
                data[f"{letter}{r}"] = float(v)
        ranges[inp.name] = f"Data!${letter}$2:${letter}${len(c.values) + 1}"
    f = render_excel(kpi, var, ranges=ranges, cells=cells, params=_params(kpi, var, inputs))
    return f, col


# ---------------------------------------------------------------------- the cases
def _vector_id(i, key, variant):
    return f"{key}-{variant or 'default'}-{i}"


CASES = [(_vector_id(i, k, v), k, v, inp, exp) for i, (k, v, inp, exp, _src) in enumerate(VECTORS)]
ERRORS = [(name, k, v, inp, words) for name, k, v, inp, words in ERROR_VECTORS]


@pytest.fixture(scope="session")
def recalculated(tmp_path_factory):
    """Every expressible formula (sourced and error vectors) in one workbook, recalculated
    by LibreOffice once: case id -> (value, formula text)."""
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.worksheet.formula import ArrayFormula

    from kpi_xl.scorecard.libreoffice import recalculated_values, soffice

    if soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Data"
    res = wb.create_sheet("Results")
    col, where = 1, {}
    cases = [(cid, k, v, inp) for cid, k, v, inp, _ in CASES] + \
            [(name, k, v, inp) for name, k, v, inp, _ in ERRORS]
    for row, (cid, key, variant, inputs) in enumerate(cases, start=1):
        if ("excel_formula", key) in CANNOT:
            continue
        f, col = excel_case(key, variant, inputs, data, col)
        ref = f"A{row}"
        res[ref] = ArrayFormula(ref, f.text) if f.array else f.text
        res[f"B{row}"] = cid
        where[cid] = (ref, f.text)
    path = tmp_path_factory.mktemp("conformance") / "formulas.xlsx"
    wb.save(path)
    got = recalculated_values(path)
    return {cid: (got.get(("Results", ref)), text) for cid, (ref, text) in where.items()}


def run_excel_formula(recalculated, cid):
    value, text = recalculated[cid]
    if isinstance(value, str) and value.startswith("#"):
        raise KpiError(None, "", f"the formula gives {value}: {text[:200]}")
    assert isinstance(value, (int, float)), (value, text[:200])
    return value


def _run(renderer, cid, key, variant, inputs, request):
    if renderer == "excel_formula":
        return run_excel_formula(request.getfixturevalue("recalculated"), cid)
    return {"numpy": run_numpy, "excel_function": run_excel_function,
            "sql": run_sql}[renderer](key, variant, inputs)


def _params_for(cases):
    out = []
    for case in cases:
        for r in RENDERERS:
            marks = [pytest.mark.libreoffice] if r == "excel_formula" else []
            out.append(pytest.param(r, *case, id=f"{r}:{case[0]}", marks=marks))
    return out


@pytest.mark.parametrize("renderer,cid,key,variant,inputs,expected", _params_for(CASES))
def test_sourced_vector(renderer, cid, key, variant, inputs, expected, request):
    if (renderer, key) in CANNOT:
        pytest.skip(CANNOT[(renderer, key)])   # test_cannot_list_is_exact holds this true
    got = _run(renderer, cid, key, variant, inputs, request)
    assert got == pytest.approx(expected, abs=_tol(key, expected)), (renderer, key, variant)


@pytest.mark.parametrize("renderer,cid,key,variant,inputs,words", _params_for(ERRORS))
def test_rule_breaking_vector_is_refused(renderer, cid, key, variant, inputs, words, request):
    if (renderer, key) in CANNOT:
        pytest.skip(CANNOT[(renderer, key)])
    if (renderer, cid) in CANNOT_REFUSE:
        # held to its reason: the renderer really does not refuse it by itself
        assert _run(renderer, cid, key, variant, inputs, request) is not None
        return
    with pytest.raises(KpiError) as e:
        got = _run(renderer, cid, key, variant, inputs, request)
        pytest.fail(f"{renderer} gave {got!r} instead of refusing ({cid})")
    if renderer != "excel_formula":     # a worksheet error value carries no sentence
        assert words in str(e.value), (renderer, str(e.value))


def test_cannot_list_is_exact():
    """Each KPI variant renders in SQL and as a formula, or is listed in CANNOT; a listed
    one really cannot (the list is neither stale nor short)."""
    found = set()
    for key, kpi in CATALOG.items():
        for v in kpi.variants:
            ranges = {i.name: "Data!$A$2:$A$3" for i in kpi.column_inputs}
            cells = {i.name: "Data!$Z$1" for i in kpi.inputs if not i.is_column}
            params = resolve_params(kpi, v, {})
            for renderer, render in (
                    ("sql", lambda: SqlRenderer(kpi, v, columns={n: f'"{n}"' for n in ranges},
                                                scalars={n: f'"{n}"' for n in cells},
                                                params=params).render()),
                    ("excel_formula", lambda: render_excel(kpi, v, ranges=ranges, cells=cells,
                                                           params=params))):
                try:
                    out = render()
                except NotRenderable:
                    found.add((renderer, key))
                    continue
                text = out.value if renderer == "sql" else out.text
                assert not re.search(r"\bnan\b|\binf\b", text.lower()), (renderer, key)
    assert found == set(CANNOT)


def test_every_case_names_a_source_and_error_vectors_cover_every_rule_kind():
    from kpi_xl.catalog import rules

    assert all(src for *_x, src in VECTORS)
    assert len({name for name, *_ in ERROR_VECTORS}) == len(ERROR_VECTORS)
    kinds = set()
    for _name, key, variant, inputs, _words in ERROR_VECTORS:
        kpi = CATALOG[key]
        var = kpi.variant(variant)
        params = resolve_params(kpi, var, {k: v for k, v in inputs.items()
                                           if k in {p.name for p in kpi.params}})
        kinds |= {(r.kind, r.row) for r in rules.rules(kpi, var, params, inputs)}
    assert {("range", True), ("range", False), ("required", True), ("one_of", True)} <= kinds
