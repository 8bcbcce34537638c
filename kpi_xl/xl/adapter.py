"""Build the Excel functions from the catalog, for any flavour of xlwings decorators.

Every KPI becomes ``KPI_<KEY>(inputs..., [variant], [options...])``; KPIs with a breakdown
(measures, n, margin) also get ``KPI_<KEY>_DETAIL``, which spills label/value rows. The
names, help text and argument docs all come from the catalog, so nothing here restates a
formula. The builder takes the decorators as arguments: ``xlwings.func/arg`` on the
user's machine (classic on Windows/macOS, Office.js in xlwings Lite and Server), and the
tests pass each flavour explicitly. Only :class:`~kpi_xl.errors.KpiError` is caught: a
bad input becomes a sentence in the cell; anything else is a bug and surfaces as one.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ..catalog import CATALOG
from ..catalog import erlang
from ..catalog.spec import Kpi
from ..errors import KpiError
from ..render.arrays import compute, resolve_params
from ..render.cells import parse_scalar

EXCEL_DOC_LIMIT = 255  # Excel's limit for function and argument descriptions


def _short(text: str) -> str:
    return text if len(text) <= EXCEL_DOC_LIMIT else text[: EXCEL_DOC_LIMIT - 1] + "…"


def arguments(kpi: Kpi) -> list[tuple[str, str, bool]]:
    """(name, doc, is_range) of the Excel function's arguments, in order: required inputs,
    optional inputs, the variant (if the KPI has several), the options, then ``unit`` for
    KPIs with duration inputs (last, so adding it moved no existing argument)."""
    out = [(i.name, i.doc, i.is_column) for i in kpi.inputs if not i.optional]
    out += [(i.name, i.doc, True) for i in kpi.inputs if i.optional]
    if len(kpi.variants) > 1:
        names = ", ".join(f'"{v.name}"' for v in kpi.variants)
        out.append(("variant", f"Optional definition: {names}; default \"{kpi.variants[0].name}\".",
                     False))
    for p in kpi.params:
        default = "the built-in table" if isinstance(p.default, dict) else f"{p.default:g}"
        out.append((p.name, f"Optional. {p.doc} Default {default}.", isinstance(p.default, dict)))
    if kpi.duration_inputs:
        out.append(("unit", kpi.unit_option_doc(), False))
    return out


def function_doc(kpi: Kpi) -> str:
    return _short(f"{kpi.title}: {kpi.description} Formula: {kpi.formula_text}.")


def _message(kpi: Kpi, e: KpiError) -> str:
    return f"{kpi.excel_name}: {e.text}"


def _make(kpi: Kpi, name: str, doc: str, body: Callable[..., Any]) -> Callable[..., Any]:
    args = arguments(kpi)
    required = sum(1 for a in kpi.inputs if not a.optional)
    params = [inspect.Parameter(a[0], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=inspect.Parameter.empty if i < required else None)
              for i, a in enumerate(args)]
    names = [a[0] for a in args]

    def udf(*values: Any) -> Any:
        kwargs = dict(zip(names, values))
        try:
            return body(**kwargs)
        except KpiError as e:
            return _message(kpi, e)

    udf.__name__ = udf.__qualname__ = name
    udf.__doc__ = doc
    udf.__signature__ = inspect.Signature(params)  # read by xlwings (inspect.signature)
    udf.__annotations__ = {}
    return udf


def _value(kpi: Kpi):
    def body(variant=None, **kw):
        return compute(kpi.key, variant, **kw).value
    return body


def _detail(kpi: Kpi):
    def body(variant=None, **kw):
        return compute(kpi.key, variant, **kw).breakdown()
    return body


def has_detail(kpi: Kpi) -> bool:
    return any(v.formula.measures or v.formula.margin is not None for v in kpi.variants)


def erlang_table(calls, aht, agents_from, agents_to, threshold=None, interval=None):
    """Erlang C table over agent counts: agents, P(wait), service level, ASA, occupancy."""
    kpi = CATALOG["erlang_service_level"]
    p = resolve_params(kpi, kpi.default_variant, {"threshold": threshold, "interval": interval})
    first = parse_scalar("erlang_table", "agents_from", agents_from)
    last = parse_scalar("erlang_table", "agents_to", agents_to)
    if first < 1 or not first.is_integer():
        raise KpiError("erlang_table", "agents_from", "must be a whole number of at least 1", first)
    if not last.is_integer() or not first <= last <= first + 1000:
        raise KpiError("erlang_table", "agents_to",
                       "must be a whole number from agents_from to agents_from + 1000", last)
    a = compute("traffic_intensity", calls=calls, aht=aht, interval=p["interval"]).value
    t, h = float(p["threshold"]), parse_scalar("erlang_table", "aht", aht)
    rows: list[list[Any]] = [["agents", "P(wait)", "service level", "ASA (s)", "occupancy"]]
    try:
        for n in range(int(first), int(last) + 1):
            asa = erlang.asa(a, n, h) if n > a else "unstable: too few agents"
            rows.append([n, erlang.p_wait(a, n), erlang.service_level(a, n, t, h), asa,
                         erlang.occupancy(a, n)])
    except ValueError as e:  # the model's stated range (erlang.MAX_ERLANGS, MAX_AGENTS)
        raise KpiError("erlang_table", "", str(e)) from None
    return rows


ERLANG_TABLE_ARGS = [
    ("calls", "Calls offered in the interval."),
    ("aht", "Average handle time in seconds."),
    ("agents_from", "Smallest agent count in the table."),
    ("agents_to", "Largest agent count in the table."),
    ("threshold", "Optional. T in seconds. Default 20."),
    ("interval", "Optional. Interval in seconds. Default 1800."),
]


def build(func, arg, module: str) -> dict[str, Callable[..., Any]]:
    """All Excel functions, decorated with the given xlwings ``func`` and ``arg``.

    Array results need no ``ret`` options: Excel 365, xlwings Lite and Server spill them
    natively (the legacy ``expand="table"`` mode would overwrite neighbouring cells)."""
    out: dict[str, Callable[..., Any]] = {}
    for kpi in CATALOG.values():
        variants = [(kpi.excel_name, function_doc(kpi), _value(kpi), False)]
        if has_detail(kpi):
            variants.append((kpi.excel_name + "_DETAIL",
                             _short(f"{kpi.title} with its breakdown, n and margin of error, "
                                    "as label/value rows (spills)."), _detail(kpi), True))
        for name, doc, body, _spills in variants:
            f = _make(kpi, name, doc, body)
            f.__module__ = module
            for a_name, a_doc, _is_range in arguments(kpi):
                # a range arrives as xlwings reads it (a value, a list or a list of rows):
                # kpi_xl's flatten says what is wrong with a 2-D block, in its own words
                # (ndim=1 would let xlwings raise its own exception first)
                opts = {"ndim": 2, "err_to_str": True} if a_name == "targets" else \
                    {"err_to_str": True}
                f = arg(a_name, doc=_short(a_doc), **opts)(f)
            out[name] = func(f)
    out["KPI_ERLANG_TABLE"] = _erlang_table_udf(func, arg, module)
    return out


def registered(funcs: dict[str, Callable[..., Any]]) -> bool:
    """Whether the decorators registered the functions: classic xlwings and Office.js
    (Lite, Server) both record a function's metadata in ``__xlfunc__``; xlwings' no-op
    decorators (macOS, Linux without ``XLWINGS_ON_SERVER``) leave none."""
    return any(hasattr(f, "__xlfunc__") for f in funcs.values())


def _erlang_table_udf(func, arg, module):
    kpi = CATALOG["erlang_service_level"]

    def KPI_ERLANG_TABLE(calls, aht, agents_from, agents_to, threshold=None, interval=None):
        try:
            return erlang_table(calls, aht, agents_from, agents_to, threshold, interval)
        except KpiError as e:
            return _message(kpi, e).replace(kpi.excel_name, "KPI_ERLANG_TABLE")

    KPI_ERLANG_TABLE.__doc__ = _short(erlang_table.__doc__ + " Spills one row per agent count.")
    KPI_ERLANG_TABLE.__module__ = module
    f = KPI_ERLANG_TABLE
    for a_name, a_doc in ERLANG_TABLE_ARGS:
        f = arg(a_name, doc=a_doc)(f)
    return func(f)
