"""The input rules, stated once for every renderer (numpy, SQL, Excel formulas, the engine).

A declaration's inputs carry rules (``lo``/``hi``, ``positive``, ``required_when``, a
variant's ``required`` overrides, ``one_of``). This module gives them one meaning:

* :func:`resolve_params` — an option's value: the declaration's default, then the value the
  variant implies, then what the caller gave, checked against the option's bounds;
* :func:`rules` — every rule of a variant as a :class:`Rule`: an expression of the catalog
  algebra (:mod:`kpi_xl.catalog.expr`) that is true where a row (or a scalar input) breaks
  it, and the sentence that says so. Renderers evaluate the expressions with their own
  machinery (numpy masks, SQL conditions, worksheet arrays), so a rule added here reaches
  every renderer, and the conformance suite (tests/test_conformance.py) holds them to it;
* :func:`range_rule`, :func:`describe_rule` — the sentences, also used by the engine's
  row checks.

Row rules are judged on the KPI's *domain*, the rows where at least one given column input
holds something (a fully blank row is ignored, never an error); applying the domain is the
renderer's part. Pure Python: it runs in Pyodide with the rest of the catalog.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Iterable, Mapping

from ..errors import KpiError
from .expr import (DOMAIN, And, Blank, Cmp, Col, Count, Div, Known, Lit, Node, Not, Or, Param,
                   Present, Scalar, Sum, columns, reads)
from .spec import Input, Kpi, ParamSpec, Variant

#: read(kpi key, option name, kind, raw value) -> float, kind 'number' or 'duration'
#: (seconds). Renderers that take spreadsheet values pass their own (one-cell ranges,
#: Excel time values); the default takes plain Python numbers, as a TOML config gives.
Reader = Callable[[str, str, str, Any], float]


def to_float(v: Real) -> float:
    """A real number as a float; an integer too large for one is infinite (and so refused
    as not finite, as an infinity is), not an OverflowError."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def read_plain(kpi: str, name: str, kind: str, v: Any) -> float:
    """A plain number (not a bool); for durations also a timedelta or a time of day."""
    if kind == "duration":
        if isinstance(v, dt.timedelta):
            return v.total_seconds()
        if isinstance(v, dt.time):
            return v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(to_float(v)):
        raise KpiError(kpi, name, "must be a number" if kind == "number"
                       else "must be a number of seconds or a time value",
                       to_float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
    return float(v)


# ------------------------------------------------------------------------ options
def resolve_params(kpi: Kpi, variant: Variant, given: Mapping[str, Any],
                   read: Reader = read_plain) -> dict[str, Any]:
    """Defaults ← the variant's implied values ← what the caller gave (None = default)."""
    out: dict[str, Any] = {}
    for p in kpi.params:
        v = given.get(p.name)
        if v is None:
            out[p.name] = variant.params.get(p.name, p.default)
            continue
        out[p.name] = _parse_param(kpi, p, v, read)
    return out


def _parse_param(kpi: Kpi, p: ParamSpec, v: Any, read: Reader) -> Any:
    if isinstance(p.default, dict):
        return _parse_table(kpi, p, v, read)
    x = read(kpi.key, p.name, "number", v)
    if p.lo is not None and x < p.lo:
        raise KpiError(kpi.key, p.name, f"must be >= {p.lo:g}", x)
    if p.hi is not None and x > p.hi:
        raise KpiError(kpi.key, p.name, f"must be <= {p.hi:g}", x)
    if p.integer and not float(x).is_integer():
        raise KpiError(kpi.key, p.name, "must be a whole number", x)
    return x


def _parse_table(kpi: Kpi, p: ParamSpec, v: Any, read: Reader) -> dict[str, float]:
    """A label -> seconds table: a mapping, or two-column rows (label, number) as a
    worksheet range gives them (fully blank rows are skipped)."""
    if isinstance(v, Mapping):
        items = list(v.items())
    else:
        rows = v.tolist() if hasattr(v, "tolist") else v
        if not isinstance(rows, (list, tuple)) or not rows or not all(
                isinstance(r, (list, tuple)) and len(r) == 2 for r in rows):
            raise KpiError(kpi.key, p.name, "must be a two-column range (label, number)")
        items = [tuple(r) for r in rows if not (r[0] is None and r[1] is None)]
    out: dict[str, float] = {}
    for i, (label, num) in enumerate(items, 1):
        if not isinstance(label, str) or not label.strip():
            raise KpiError(kpi.key, p.name, "needs a text label in its first column", label, row=i)
        try:
            x = None if num is None else read(kpi.key, p.name, "duration", num)
        except KpiError:
            x = None
        if x is None or x < 0:
            raise KpiError(kpi.key, p.name, f"needs a number >= 0 for {label!r}", num, row=i)
        out[label.strip().lower()] = float(x)
    return out


# ------------------------------------------------------------------------ sentences
def bounds(inp: Input, params: Mapping[str, Any], symbolic: Iterable[str] = ()):
    """The input's lower and upper bound, a param's value where it names one; a param
    named in ``symbolic`` stays a :class:`Param` node (its value is read where the rule
    is evaluated, e.g. from a worksheet cell)."""
    def one(b):
        if not isinstance(b, str):
            return b
        return Param(b) if b in symbolic else params[b]
    return one(inp.lo), one(inp.hi)


def _g(x) -> str:
    return x.name if isinstance(x, Param) else f"{x:g}"


def range_rule(inp: Input, lo, hi) -> str:
    what = {"duration": "a duration", "scalar": "a number"}.get(inp.kind, "a number")
    if lo is None and hi is None:
        return f"must be {what} (finite)"
    if inp.positive:
        return f"must be {what} > 0"
    if lo is not None and hi is not None:
        return f"must be {what} from {_g(lo)} to {_g(hi)}"
    if lo is not None:
        return f"must be {what} >= {_g(lo)}" + (" (negative durations are refused)"
                                                if inp.kind == "duration" else "")
    return f"must be {what} <= {_g(hi)}"


def describe_rule(when: Node) -> str:
    if isinstance(when, Cmp) and isinstance(when.a, Col) and isinstance(when.b, Lit):
        word = {1.0: "yes", 0.0: "no"}.get(when.b.value, f"{when.b.value:g}")
        return f"where '{when.a.name}' is {word}"
    return "on rows where it is needed"


def required_when(variant: Variant, inp: Input) -> Node | bool:
    """On which domain rows a blank in ``inp`` is an error (True: all; False: none)."""
    return variant.required.get(inp.name, inp.required_when)


def one_of_rule(name: str, table: Mapping[str, Any]) -> str:
    return f"has no entry in '{name}' for this value (known: {', '.join(sorted(table))})"


# ------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class Rule:
    """One input rule of a variant: ``broken`` is true where it is broken (a row-level
    expression for column inputs, judged on the domain rows; a scalar expression for
    scalar inputs). ``kind`` is 'range', 'required' or 'one_of'."""
    input: str
    kind: str
    broken: Node
    sentence: str
    row: bool = True        # False: a rule on a scalar input


def _range(inp: Input, x: Node, lo, hi) -> Node | None:
    parts: list[Node] = []
    if inp.positive:
        parts.append(x <= 0)
    if lo is not None and not (inp.positive and isinstance(lo, (int, float)) and lo <= 0):
        parts.append(x < lo)
    if hi is not None:
        parts.append(x > hi)
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = Or(out, p)
    return out


def rules(kpi: Kpi, variant: Variant, params: Mapping[str, Any],
          given: Iterable[str], symbolic: Iterable[str] = ()) -> list[Rule]:
    """The rules a call must keep, in the order they are checked: scalar inputs first,
    then per given column input its range, its blanks and its labels. ``given`` names the
    column inputs that hold data (left-out optional inputs take their default and are not
    judged). A required-when rule needs a second given input: with one input there is no
    'other input on the row' to be blank beside. Options named in ``symbolic`` stay
    :class:`Param` nodes in the bounds (see :func:`bounds`)."""
    symbolic = set(symbolic)
    given = set(given)
    out: list[Rule] = []
    for inp in kpi.inputs:
        if inp.is_column:
            continue
        lo, hi = bounds(inp, params, symbolic)
        b = _range(inp, Scalar(inp.name), lo, hi)
        if b is not None:
            out.append(Rule(inp.name, "range", b, range_rule(inp, lo, hi), row=False))
    cols = [i for i in kpi.column_inputs if i.name in given]
    for inp in cols:
        c = Col(inp.name)
        if inp.kind not in ("flag", "category"):
            lo, hi = bounds(inp, params, symbolic)
            b = _range(inp, c, lo, hi)
            if b is not None:
                out.append(Rule(inp.name, "range", b, range_rule(inp, lo, hi)))
        when = required_when(variant, inp)
        if when is not False and len(cols) > 1:
            words = ("while other inputs on that row are filled" if when is True
                     else describe_rule(when))
            out.append(Rule(inp.name, "required", Blank(c) if when is True else when & Blank(c),
                            f"must not be blank {words}"))
        if inp.one_of is not None:
            out.append(Rule(inp.name, "one_of", Present(c) & Not(Known(Param(inp.one_of), c)),
                            one_of_rule(inp.one_of, params[inp.one_of])))
    return out


def rules_read(kpi: Kpi, variant: Variant, node: Node | None, params: Mapping[str, Any],
               given: Iterable[str], symbolic: Iterable[str] = ()) -> list[Rule]:
    """The rules of the inputs ``node`` (a measure of the variant, its n; None: its value)
    reads, each judged only on the rows where ``node`` reads them
    (:func:`kpi_xl.catalog.expr.reads`). The value keeps every rule, as the Excel function
    refuses a whole call. A measure drops the rules of inputs it does not read and the rows
    it does not read: the QA score's fatal-fails count reads the fatal items' scores, so a
    score of 7 out of 5 on a non-fatal item leaves it a number, as its points share leaves
    the weights of N/A items unjudged. A rule that spans several inputs (a required-when
    rule names the input that decides where it applies) is kept whole when ``node`` reads
    any of them, on the rows where it reads any (conservative: a measure reading only the
    deciding input is still refused by a blank in the other). The inputs that decide
    where another is read are trusted only where they keep their own rules: in
    count(a = 1 & c = 1) a row a = 9, c = 9 breaks both ranges, and each is judged
    there (not only where the other is 1)."""
    every = rules(kpi, variant, params, given, symbolic)
    if node is None:
        return every
    read = reads(node)
    out = []
    for r in every:
        if not r.row:
            if r.input in read:
                out.append(r)
            continue
        if DOMAIN in read:
            out.append(r)
            continue
        names = dict.fromkeys([r.input, *columns(r.broken)])
        rows = list(dict.fromkeys(read[c] for c in names if c in read))
        if not rows:
            continue
        if True in rows:
            out.append(r)
            continue
        where = rows[0]
        for w in rows[1:]:
            where = Or(where, w)
        # the other inputs that decide where this one is read are trusted only on rows
        # where they keep their own rules: one = 1 & other = 1 with both 9 on a row (a
        # typo for 1 and 1?) must not judge each input only where the other is 1. An
        # input read on every row is judged there already.
        for c in columns(where):
            if c != r.input and read.get(c) is not True:
                for b in (x.broken for x in every if x.row and x.input == c):
                    where = Or(where, b)
        out.append(Rule(r.input, r.kind, And(r.broken, where), r.sentence, r.row))
    return out


__all__ = ["Rule", "bounds", "describe_rule", "one_of_rule", "range_rule", "read_plain",
           "required_when", "resolve_params", "rules", "rules_read", "to_float"]


# ------------------------------------------------------------------------ value ranges
#: units whose values are never negative (durations, counts, money, staffing)
NON_NEGATIVE = ("seconds", "hours", "count", "currency", "erlangs", "agents", "fte")
#: a ratio of period totals in percent (net revenue retention, annualised turnover) may
#: pass 100 %; five times over is a percentage written as a whole number
RATIO_CEILING = 5.0


def mean_scale(kpi: Kpi, variant: Variant, params: Mapping[str, Any]):
    """(lo, hi) of the answers when the variant is the mean of one column on a bounded
    scale (CSAT ``mean``, CES), read from the declaration; None otherwise."""
    v = variant.formula.value
    if not (isinstance(v, Div) and isinstance(v.a, Sum) and isinstance(v.a.expr, Col)
            and isinstance(v.b, Count) and isinstance(v.b.where, Present)
            and v.b.where.col == v.a.expr):
        return None
    col = kpi.input(v.a.expr.name)
    bounds = []
    for b in (col.lo, col.hi):
        if isinstance(b, str):
            b = params.get(b, variant.params.get(b, kpi.param(b).default))
        if b is None:
            return None
        bounds.append(float(b))
    return bounds[0], bounds[1]


def value_range(kpi: Kpi, variant: Variant, params: Mapping[str, Any] | None = None
                ) -> tuple[float | None, float | None, str] | None:
    """(lo, hi, what) of the values the variant can take, from its declaration: a declared
    range (NPS), a mean on a bounded scale (CSAT mean, CES), a share of rows in percent
    (0 to 1), a ratio of period totals in percent (0 to RATIO_CEILING), a duration, count
    or amount (>= 0); None when nothing bounds it. Targets and worst cases are checked
    against it (config, scorecard layout)."""
    params = params or {}
    if kpi.value_range is not None:
        return (*kpi.value_range, "the range of the KPI")
    scale = mean_scale(kpi, variant, params)
    if scale is not None:
        return (*scale, "the variant is a mean score on the answers' scale")
    unit = kpi.unit_of(variant)
    if unit == "percent":
        if any(isinstance(n, Scalar) for n in variant.formula.value.walk()):
            return 0.0, RATIO_CEILING, "a ratio of period totals"
        return 0.0, 1.0, "a share"
    if unit in NON_NEGATIVE:
        return 0.0, None, f"{unit} are never negative" if unit != "currency" else \
            "an amount is never negative"
    return None
