"""The numpy renderer: evaluate a catalog declaration over arrays (Excel functions, tests).

``compute("nps", scores=[10, 9, 3, None])`` parses and validates every input against the
declaration, evaluates the variant's formula and returns a :class:`KpiResult`. It depends
on numpy only, so it runs in xlwings Lite (Pyodide) as well as on a desktop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..catalog import CATALOG, rules
from ..catalog.erlang import UnstableQueue
from ..catalog.expr import (And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known, Lit,
                            Lookup, Node, Not, Or, Param, Present, Quantile, Scalar, Sum)
from ..catalog.functions import FUNCTIONS
from ..catalog.spec import Formula, Input, Kpi, Variant, formula_columns, status
from ..errors import KpiError
from .cells import Column, duration_unit, flatten, parse_column, parse_scalar, read_cell

_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply}
_CMP = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less,
        "=": np.equal, "<>": np.not_equal}


@dataclass(frozen=True)
class KpiResult:
    """One computed KPI: its value with the sample it rests on and how to show it."""
    key: str
    variant: str
    value: float
    n: float | None
    margin: float | None
    measures: Mapping[str, float] = field(default_factory=dict)
    unit: str = ""
    number_format: str = "General"
    direction: str = "neutral"
    min_n: int | None = None
    target: float | None = None

    @classmethod
    def of(cls, kpi: Kpi, variant: Variant, value: float, n: float | None = None,
           margin: float | None = None, measures: Mapping[str, float] | None = None,
           min_n: int | None = None) -> "KpiResult":
        """A result carrying the declaration's unit, format, direction and target."""
        return cls(kpi.key, variant.name, float(value), n, margin, dict(measures or {}),
                   kpi.unit_of(variant), kpi.format_of(variant), kpi.direction_of(variant),
                   kpi.min_n if min_n is None else min_n, kpi.target_of(variant))

    @property
    def status(self) -> str:
        """'on target', 'off target', or '' where no target or direction applies."""
        return status(self.value, self.target, self.direction)

    @property
    def low_sample(self) -> bool:
        return self.min_n is not None and self.n is not None and self.n < self.min_n

    def breakdown(self) -> list[list[Any]]:
        """Label/value rows: the spill of the *_DETAIL Excel functions."""
        kpi = CATALOG[self.key]
        rows: list[list[Any]] = [[kpi.title, self.value]]
        rows += [[k, v] for k, v in self.measures.items()]
        if self.n is not None:
            rows.append(["n", self.n])
        if self.margin is not None:
            rows.append(["margin of error (95 %)", self.margin])
        if self.min_n is not None:
            rows.append(["sample", f"LOW: n = {self.n:g} < {self.min_n}" if self.low_sample
                         else f"ok (n ≥ {self.min_n})"])
        return rows


def resolve_params(kpi: Kpi, variant: Variant, given: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`kpi_xl.catalog.rules.resolve_params`, reading options as a worksheet gives
    them (one-cell ranges, time values, two-column ranges)."""
    return rules.resolve_params(kpi, variant, given, read_cell)


class _Eval:
    """Evaluates one formula over parsed columns; each node once (memo by identity)."""

    def __init__(self, kpi: Kpi, cols: dict[str, Column], domain: np.ndarray | None,
                 scalars: dict[str, float], params: dict[str, Any]):
        self.kpi, self.cols, self.domain = kpi, cols, domain
        self.scalars, self.params = scalars, params
        self.memo: dict[int, Any] = {}

    def __call__(self, node: Node) -> Any:
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        out = self._eval(node)
        self.memo[key] = out
        return out

    def _mask(self, where: Node) -> np.ndarray:
        m = self(where)
        return m if self.domain is None else m & self.domain

    def _eval(self, n: Node) -> Any:
        if isinstance(n, Lit):
            return n.value
        if isinstance(n, Col):
            return self.cols[n.name].values
        if isinstance(n, Scalar):
            return self.scalars[n.name]
        if isinstance(n, Param):
            return self.params[n.name]
        if isinstance(n, Present):
            return self.cols[n.col.name].present
        if isinstance(n, Blank):
            return self.cols[n.col.name].blank
        if isinstance(n, Not):
            a = self(n.a)
            return ~a if isinstance(a, np.ndarray) else not a
        if isinstance(n, Known):
            return self._known(n)
        if isinstance(n, Count):
            return float(np.count_nonzero(self._mask(n.where)))
        if isinstance(n, Sum):
            x = self(n.expr)
            m = self._mask(n.where)
            return float(np.sum(x[m])) if isinstance(x, np.ndarray) else float(x) * np.count_nonzero(m)
        if isinstance(n, Quantile):
            x = self(n.expr)[self._mask(n.where)]
            return float(np.quantile(x, n.q)) if x.size else math.nan
        if isinstance(n, BinOp):
            a, b = self(n.a), self(n.b)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                return _OPS[n.op](a, b)
            return a + b if n.op == "+" else a - b if n.op == "-" else a * b
        if isinstance(n, Cmp):
            if n.op == "=" and isinstance(n.a, Col) and isinstance(n.b, Lit):
                return self.cols[n.a.name].equals(n.b.value)
            a, b = self(n.a), self(n.b)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                return _CMP[n.op](a, b)
            return bool(_CMP[n.op](a, b))
        if isinstance(n, And):
            return self(n.a) & self(n.b)
        if isinstance(n, Or):
            return self(n.a) | self(n.b)
        if isinstance(n, Div):
            den = self(n.b)
            if den == 0:
                raise KpiError(self.kpi.key, "", f"cannot be computed: {n.empty}")
            return self(n.a) / den
        if isinstance(n, If):
            return self(n.then) if self(n.cond) else self(n.other)
        if isinstance(n, Lookup):
            return self._lookup(n)
        if isinstance(n, Call):
            return self._call(n)
        raise TypeError(f"no numpy rendering for {type(n).__name__}")

    def _lookup(self, n: Lookup) -> np.ndarray:
        """Per-row table value through the category codes: one dict look-up per distinct
        label, then a vectorised take."""
        table: dict[str, float] = self.params[n.table.name]
        col = self.cols[n.key.name]
        per_code = np.full(len(col.keys), np.nan)
        for code, key in enumerate(col.keys):
            if key is None:
                continue
            key = key.lower()
            if key not in table:
                i = int(np.argmax(col.codes == code))
                raise KpiError(self.kpi.key, n.key.name,
                               f"has no target for this value (known: {', '.join(sorted(table))})",
                               col.values[i], row=i + 1)
            per_code[code] = table[key]
        return per_code[col.codes]

    def _known(self, n: Known) -> np.ndarray:
        """Whether each row's label is in the table: one test per distinct label."""
        table = self.params[n.table.name]
        col = self.cols[n.key.name]
        per_code = np.array([k is not None and k.lower() in table for k in col.keys], bool)
        return per_code[col.codes]

    def _call(self, n: Call) -> float:
        args = [self(a) for a in n.args]
        try:
            return float(FUNCTIONS[n.fn](*args))
        except UnstableQueue as e:
            raise KpiError(self.kpi.key, "agents", f"must be more than the traffic of "
                           f"{e.erlangs:.4g} Erlangs (with {e.agents:g} agents the queue "
                           "grows without limit and no wait time exists)", e.agents) from None
        except ValueError as e:
            raise KpiError(self.kpi.key, "", str(e)) from None


def compute(key: str, variant: str | None = None, *, min_n: int | None = None,
            unit: Any = None, **inputs: Any) -> KpiResult:
    """Compute one KPI from arrays, ranges or numbers, by input and option name.

    ``unit`` ("seconds", "minutes", "hours" or "days" = Excel time values) says what unit
    the plain numbers in the KPI's duration inputs are in; left out, each input's own
    unit (:attr:`~kpi_xl.catalog.spec.Kpi.unit_option_doc`)."""
    kpi = CATALOG[key]
    unit = duration_unit(key, unit)
    if unit is not None and not kpi.duration_inputs:
        raise KpiError(key, "unit", f"is an option of functions with duration inputs; "
                       f"{kpi.title} has none")
    var = kpi.variant(variant)
    formula: Formula = var.formula
    known = {i.name for i in kpi.inputs} | {p.name for p in kpi.params}
    for name in inputs:
        if name not in known:
            raise KpiError(key, name, f"is not an input of {kpi.title} "
                           f"(inputs: {', '.join(sorted(known))})")
    params = resolve_params(kpi, var, inputs)
    used = set(formula_columns(formula))
    cols: dict[str, Column] = {}
    scalars: dict[str, float] = {}
    given: list[Input] = []
    for inp in kpi.inputs:
        data = inputs.get(inp.name)
        if not inp.is_column:
            if data is None:
                raise KpiError(key, inp.name, "is required (a number)")
            scalars[inp.name] = parse_scalar(key, inp.name, data)
            continue
        if data is None:
            continue
        cols[inp.name] = parse_column(key, inp.name, inp.kind, data, time_unit=inp.time_unit,
                                      unit=unit)
        given.append(inp)
    if given:
        sizes = {i.name: len(cols[i.name]) for i in given}
        if len(set(sizes.values())) > 1:
            raise KpiError(key, "", "needs ranges of the same length: " +
                           ", ".join(f"'{k}' has {v}" for k, v in sizes.items()))
        size = len(cols[given[0].name])
    else:
        size = 0
    for inp in kpi.column_inputs:
        if inp.name in cols:
            continue
        if inp.name in used and not inp.optional:
            raise KpiError(key, inp.name, "is required")
        if inp.name in used and inp.default_value is None:
            raise KpiError(key, inp.name, f"is needed by the variant '{var.name}'")
        if inp.name in used:
            cols[inp.name] = Column(np.full(size, inp.default_value), np.zeros(size, bool))
    # domain: rows where at least one given input holds something (blank rows are ignored)
    if len(given) == 1:
        domain = cols[given[0].name].not_blank
    else:
        domain = np.zeros(size, bool)
        for inp in given:
            domain |= cols[inp.name].not_blank
    all_rows = bool(domain.all())
    ev = _Eval(kpi, cols, None if all_rows else domain, scalars, params)
    for rule in rules.rules(kpi, var, params, cols.keys() & {i.name for i in given}):
        _check(kpi, rule, ev, domain, cols, scalars)
    value = ev(formula.value)
    n = ev(formula.n) if formula.n is not None else None
    margin = None
    if formula.margin is not None and n is not None and n > 1:
        margin = ev(formula.margin)
    measures = {k: ev(v) for k, v in formula.measures.items()}
    if not math.isfinite(value):
        raise KpiError(key, "", "has no finite value for these inputs")
    return KpiResult.of(kpi, var, value, n, margin, measures, min_n)


def _check(kpi: Kpi, rule: rules.Rule, ev: "_Eval", domain: np.ndarray,
           cols: dict[str, Column], scalars: dict[str, float]) -> None:
    """Raise the rule's sentence at the first domain row (or the scalar) that breaks it."""
    if not rule.row:
        if ev(rule.broken):
            raise KpiError(kpi.key, rule.input, rule.sentence, scalars[rule.input])
        return
    bad = np.flatnonzero(ev(rule.broken) & domain)
    if not bad.size:
        return
    i = int(bad[0])
    col = cols[rule.input]
    value = None if rule.kind == "required" else col.values[i]
    raise KpiError(kpi.key, rule.input, rule.sentence, value, row=i + 1,
                   more=len(bad) - 1 if rule.kind == "range" else 0)


__all__ = ["KpiResult", "compute", "resolve_params", "flatten"]
