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

from ..catalog import CATALOG
from ..catalog.erlang import UnstableQueue
from ..catalog.expr import (And, BinOp, Call, Cmp, Col, Count, Div, If, Lit, Lookup, Node, Or,
                            Param, Present, Quantile, Scalar, Sum)
from ..catalog.functions import FUNCTIONS
from ..catalog.spec import Formula, Input, Kpi, ParamSpec, Variant, formula_columns, status
from ..errors import KpiError
from .cells import Column, flatten, parse_column, parse_scalar

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
    """Defaults ← the variant's implied values ← what the caller gave (None = default)."""
    out: dict[str, Any] = {}
    for p in kpi.params:
        v = given.get(p.name)
        if v is None:
            v = variant.params.get(p.name, p.default)
            out[p.name] = v
            continue
        out[p.name] = _parse_param(kpi, p, v)
    return out


def _parse_param(kpi: Kpi, p: ParamSpec, v: Any) -> Any:
    if isinstance(p.default, dict):
        return _parse_table(kpi, p, v)
    x = parse_scalar(kpi.key, p.name, v)
    if p.lo is not None and x < p.lo:
        raise KpiError(kpi.key, p.name, f"must be >= {p.lo:g}", x)
    if p.hi is not None and x > p.hi:
        raise KpiError(kpi.key, p.name, f"must be <= {p.hi:g}", x)
    if p.integer and not float(x).is_integer():
        raise KpiError(kpi.key, p.name, "must be a whole number", x)
    return x


def _parse_table(kpi: Kpi, p: ParamSpec, v: Any) -> dict[str, float]:
    if isinstance(v, Mapping):
        items = list(v.items())
    else:
        rows = v.tolist() if isinstance(v, np.ndarray) else v
        if not isinstance(rows, (list, tuple)) or not rows or not all(
                isinstance(r, (list, tuple)) and len(r) == 2 for r in rows):
            raise KpiError(kpi.key, p.name, "must be a two-column range (label, number)")
        items = [tuple(r) for r in rows if not (r[0] is None and r[1] is None)]
    out: dict[str, float] = {}
    for i, (label, num) in enumerate(items, 1):
        if not isinstance(label, str) or not label.strip():
            raise KpiError(kpi.key, p.name, "needs a text label in its first column", label, row=i)
        col = parse_column(kpi.key, p.name, "duration", [num], time_unit="seconds")
        if col.blank[0] or col.values[0] < 0:
            raise KpiError(kpi.key, p.name, f"needs a number >= 0 for {label!r}", num, row=i)
        out[label.strip().lower()] = float(col.values[0])
    return out


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


def describe_rule(when: Node) -> str:
    if isinstance(when, Cmp) and isinstance(when.a, Col) and isinstance(when.b, Lit):
        word = {1.0: "yes", 0.0: "no"}.get(when.b.value, f"{when.b.value:g}")
        return f"where '{when.a.name}' is {word}"
    return "on rows where it is needed"


def compute(key: str, variant: str | None = None, *, min_n: int | None = None,
            **inputs: Any) -> KpiResult:
    """Compute one KPI from arrays, ranges or numbers, by input and option name."""
    kpi = CATALOG[key]
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
            x = parse_scalar(key, inp.name, data)
            _check_range(kpi, inp, x, params)
            scalars[inp.name] = x
            continue
        if data is None:
            continue
        cols[inp.name] = parse_column(key, inp.name, inp.kind, data, time_unit=inp.time_unit)
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
    for inp in given:
        _check_range(kpi, inp, cols[inp.name], params)
        rule = var.required.get(inp.name, inp.required_when)
        if rule is False or len(given) == 1:
            continue
        need = domain if rule is True else ev(rule) & domain
        missing = cols[inp.name].blank & need
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            where = "while other inputs on that row are filled" if rule is True else describe_rule(rule)
            raise KpiError(key, inp.name, f"must not be blank {where}", row=i + 1)
    value = ev(formula.value)
    n = ev(formula.n) if formula.n is not None else None
    margin = None
    if formula.margin is not None and n is not None and n > 1:
        margin = ev(formula.margin)
    measures = {k: ev(v) for k, v in formula.measures.items()}
    if not math.isfinite(value):
        raise KpiError(key, "", "has no finite value for these inputs")
    return KpiResult.of(kpi, var, value, n, margin, measures, min_n)


def _check_range(kpi: Kpi, inp: Input, data: Any, params: dict[str, Any]) -> None:
    lo = params[inp.lo] if isinstance(inp.lo, str) else inp.lo
    hi = params[inp.hi] if isinstance(inp.hi, str) else inp.hi
    if isinstance(data, Column):
        if inp.kind in ("flag", "category"):
            return
        x = data.values
        rule = range_rule(inp, lo, hi)
        for bad in (x < lo if lo is not None else x == -np.inf,
                    x > hi if hi is not None else x == np.inf):
            if bad is not None and bad.any():
                idx = np.flatnonzero(bad)
                raise KpiError(kpi.key, inp.name, rule, x[idx[0]], row=int(idx[0]) + 1,
                               more=len(idx) - 1)
        return
    if lo is None and hi is None and not inp.positive:
        return
    if (lo is not None and data < lo) or (hi is not None and data > hi) or (inp.positive and data <= 0):
        raise KpiError(kpi.key, inp.name, range_rule(inp, lo, hi), data)


def range_rule(inp: Input, lo, hi) -> str:
    what = {"duration": "a duration", "scalar": "a number"}.get(inp.kind, "a number")
    if lo is None and hi is None:
        return f"must be {what} (finite)"
    if inp.positive:
        return f"must be {what} > 0"
    if lo is not None and hi is not None:
        return f"must be {what} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"must be {what} >= {lo:g}" + (" (negative durations are refused)"
                                              if inp.kind == "duration" else "")
    return f"must be {what} <= {hi:g}"


__all__ = ["KpiResult", "compute", "resolve_params", "flatten"]
