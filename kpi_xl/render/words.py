"""The words renderer: a KPI's formula worked through on a small example, for people.

:func:`worked` takes the shipped worked example of a KPI variant (a sourced test vector,
:mod:`kpi_xl.catalog.worked`) and says it as a trainer would write it on a whiteboard:

* the inputs as a person writes them ("scores: 10, 9, 9, 8, 7, 3, blank, 0, 10, 6");
* the numbers the formula combines, each named from the formula's tree (its measure's
  name where it has one, else its condition in words): "promoters (scores ≥ 9): 4";
* the formula's expression tree with those numbers in it, and the result in the KPI's
  number format: "100 × (4 / 9 − 3 / 9) = 11";
* the vector's source.

Every number comes from the catalog's own evaluation (:func:`kpi_xl.render.arrays.
evaluate` runs the variant's compiled formula, and the named parts of it, on the example's
inputs); this module only spells the tree, it computes nothing. The shape of the
arithmetic is the tree's: NPS reads ``100 × (4 / 9 − 3 / 9)`` because the catalog states
it as 100 × (share of promoters − share of detractors).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ..catalog import CATALOG
from ..catalog.expr import (And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known, Lit,
                            Lookup, Node, Not, Or, Param, Present, Quantile, Scalar, Sum)
from ..catalog.format import format_value
from ..catalog.spec import Kpi, Variant
from ..catalog.worked import tolerance, worked_example
from ..text import clock
from .arrays import evaluate, resolve_params

#: how a formula's named functions read in words (the other renderers spell them as SQL
#: or Excel formulas); a name not listed reads as itself
CALLS = {
    "sqrt": "√", "erlang_traffic": "traffic A (Erlangs) of",
    "erlang_p_wait": "Erlang C P(wait) of", "erlang_service_level": "Erlang C service level of",
    "erlang_asa": "Erlang C ASA of", "erlang_occupancy": "occupancy of",
    "erlang_agents": "Erlang C agents for", "erlang_agents_p_wait": "Erlang C agents for",
    "erlang_agents_asa": "Erlang C agents for", "erlang_queue_length": "Erlang C queue of",
    "erlang_service_time": "Erlang C service time of",
    "erlang_call_capacity": "Erlang C call capacity of",
    "erlang_b_blocking": "Erlang B blocking of", "erlang_b_lines": "Erlang B lines for",
    "erlang_a_p_wait": "Erlang A P(wait) of", "erlang_a_p_abandon": "Erlang A P(abandon) of",
    "erlang_a_service_level": "Erlang A service level of",
    "erlang_a_service_level_answered": "Erlang A service level (answered) of",
    "erlang_a_asa": "Erlang A ASA of", "erlang_a_agents": "Erlang A agents for",
    "erlang_a_agents_answered": "Erlang A agents (answered) for",
}
_OPS = {"+": "+", "-": "−", "*": "×"}
_CMP = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "=", "<>": "≠"}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class Worked:
    """A worked example as the handbook shows it."""
    variant: str
    #: column inputs (name, with its unit) and their values as written, row by row
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    rows: int
    figures: tuple[tuple[str, str], ...]      # scalars and options: (name, value)
    options: dict[str, Any]                   # the options its formula reads, as run
    steps: tuple[tuple[str, str], ...]        # the numbers combined: (what, value)
    arithmetic: str | None                    # the formula with the numbers, or None
    result: str                               # in the KPI's number format
    expected: float
    value: float
    source: str
    per: str | None                           # the unit the example is one of (QA)


def worked(key: str, variant: str | None = None) -> Worked | None:
    """The worked example of ``key``'s variant (None: its default) in words, or None when
    the catalog ships none for it."""
    example = worked_example(key, variant)
    if example is None:
        return None
    _key, vname, inputs, expected, source = example
    kpi = CATALOG[key]
    var = kpi.variant(vname)
    return _Speller(kpi, var, inputs).spell(expected, source)


def agrees(w: Worked, key: str) -> bool:
    """Whether the example's computed value is its sourced expected value (within the
    rounding of a published figure, :func:`kpi_xl.catalog.worked.tolerance`)."""
    return abs(w.value - w.expected) <= tolerance(key, w.expected)


class _Speller:
    def __init__(self, kpi: Kpi, var: Variant, inputs: dict[str, Any]):
        self.kpi, self.var, self.inputs = kpi, var, inputs
        self.names = {node: name for name, node in var.formula.measures.items()}
        self.values: dict[Node, Any] = {}

    # -- evaluation (the catalog's) ------------------------------------------------
    def _eval(self, nodes: list[Node]) -> Any:
        todo = [n for n in dict.fromkeys(nodes) if n not in self.values]
        result, got = evaluate(self.kpi.key, self.var.name, todo, **self.inputs)
        self.values.update(zip(todo, got))
        return result

    def _resolve(self, node: Node, notes: list[tuple[str, str]]) -> Node:
        """The tree with each If replaced by the branch the example takes (its condition,
        in words, noted), and the empty-set guard of a quantile (n / n × q) dropped."""
        if isinstance(node, If):
            self._eval([node.cond])
            taken = bool(self.values[node.cond])
            notes.append((self.cond(node.cond), "yes" if taken else "no"))
            return self._resolve(node.then if taken else node.other, notes)
        if isinstance(node, BinOp) and node.op == "*" and isinstance(node.a, Div) \
                and node.a.a == node.a.b:
            return self._resolve(node.b, notes)
        if isinstance(node, BinOp):
            return BinOp(node.op, self._resolve(node.a, notes), self._resolve(node.b, notes))
        if isinstance(node, Div):
            return Div(self._resolve(node.a, notes), self._resolve(node.b, notes), node.empty)
        if isinstance(node, Call):
            return Call(node.fn, tuple(self._resolve(a, notes) for a in node.args))
        return node

    def spell(self, expected: float, source: str) -> Worked:
        notes: list[tuple[str, str]] = []
        tree = self._resolve(self.var.formula.value, notes)
        leaves = list(dict.fromkeys(_leaves(tree)))
        result = self._eval(leaves + [n for n in _statics(tree) if n not in leaves])
        shown = [n for n in leaves if not isinstance(n, (Scalar, Param, Lit)) and n != tree]
        shown.sort(key=lambda n: n not in self.names)        # the formula's named parts first
        steps = [(self.what(n), _num(self.values[n])) for n in shown]
        arithmetic = None if _is_leaf(tree) and not isinstance(tree, Call) else self.expr(tree)
        columns, figures = self.shown_inputs()
        return Worked(
            variant=self.var.name, columns=columns,
            rows=max((len(v) for _, v in columns), default=0), figures=figures,
            options={k: v for k, v in resolve_params(self.kpi, self.var, self.inputs).items()
                     if k in _options_read(self.var)},
            steps=tuple(notes + steps), arithmetic=arithmetic,
            result=format_value(result.value, self.kpi.format_of(self.var)),
            expected=expected, value=result.value, source=source, per=self.kpi.per)

    # -- the inputs as written ------------------------------------------------------
    def shown_inputs(self):
        cols, figures = [], []
        for name, value in self.inputs.items():
            try:
                inp = self.kpi.input(name)
            except KeyError:                      # an option (threshold, scale_max...)
                figures.append((_name(name), _cell(value)))
                continue
            if inp.is_column:
                unit = f" ({inp.time_unit})" if inp.time_unit not in (None, name) else ""
                cols.append((_name(name) + unit, tuple(_cell(v) for v in value)))
            else:
                figures.append((_name(name), _cell(value)))
        return tuple(cols), tuple(figures)

    # -- words ------------------------------------------------------------------------
    def what(self, n: Node) -> str:
        """What an aggregate or a function's value is, in words."""
        named = self.names.get(n)
        if isinstance(n, Count):
            cond = self.cond(n.where)
            return f"{named} ({cond})" if named else f"rows with {cond}"
        if isinstance(n, Sum):
            own = isinstance(n.where, Present) and n.where.col == n.expr
            text = "Σ " + self.operand(n.expr) + ("" if own else f" over rows with "
                                                              f"{self.cond(n.where)}")
            return f"{named} ({text})" if named else text
        if isinstance(n, Quantile):
            q = "median" if n.q == 0.5 else f"{n.q * 100:g}th percentile (PERCENTILE.INC)"
            return f"{q} of {self.operand(n.expr)}"
        if isinstance(n, Call):
            return self.call(n)
        return named or type(n).__name__

    def call(self, n: Call) -> str:
        args = ", ".join(self.arg(a) for a in n.args)
        return f"{CALLS.get(n.fn, n.fn)} {args}"

    def arg(self, a: Node) -> str:
        if isinstance(a, (Scalar, Param)):
            return f"{_name(a.name)} {_num(self.values[a])}"
        if isinstance(a, Call) and a.fn == "erlang_traffic":
            return f"A {_num(self.values[a])}"
        return self.expr(a)

    def cond(self, n: Node) -> str:
        """A row condition in words: 'scores ≥ 9', 'answered = yes and wait ≤ 20'."""
        if isinstance(n, Present):
            return f"{_name(n.col.name)} given"
        if isinstance(n, Blank):
            return f"{_name(n.col.name)} blank"
        if isinstance(n, Cmp):
            if n.op in ("=", "<>") and isinstance(n.a, Col) and isinstance(n.b, Lit) \
                    and self._is_flag(n.a.name):
                yes = (n.b.value == 1) == (n.op == "=")
                return f"{_name(n.a.name)} = {'yes' if yes else 'no'}"
            return f"{self.row(n.a)} {_CMP[n.op]} {self.row(n.b)}"
        if isinstance(n, And):
            return f"{self.cond(n.a)} and {self.cond(n.b)}"
        if isinstance(n, Or):
            return f"{self.cond(n.a)} or {self.cond(n.b)}"
        if isinstance(n, Not):
            return f"not ({self.cond(n.a)})"
        if isinstance(n, Known):
            return f"{_name(n.key.name)} listed in {_name(n.table.name)}"
        return self.row(n)

    def operand(self, n: Node) -> str:
        """A row expression summed or ranked: bracketed where it has an operator."""
        text = self.row(n)
        return f"({text})" if isinstance(n, BinOp) else text

    def row(self, n: Node, parent: int = 0, right: bool = False) -> str:
        """A row expression or one of its operands: columns by name, fixed numbers (an
        option, or arithmetic on options) by value."""
        if isinstance(n, Col):
            return _name(n.name)
        if isinstance(n, Lookup):
            return f"the {_name(n.key.name)}'s target"
        if n in self.values:                     # a number fixed for the example
            return _num(self.values[n])
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, (Count, Sum, Quantile, Call, Scalar)):
            return self.what(n)
        if isinstance(n, BinOp):
            p = _PREC[n.op]
            text = f"{self.row(n.a, p)} {_OPS[n.op]} {self.row(n.b, p, True)}"
            return f"({text})" if p < parent or (right and p == parent) else text
        return self.cond(n)

    def expr(self, n: Node, parent: int = 0, right: bool = False) -> str:
        """The formula with the example's numbers in it."""
        if n in self.values and not isinstance(n, Call):
            return _num(self.values[n])
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, Call):
            if n.fn == "sqrt":
                return f"√({self.expr(n.args[0])})"
            return self.call(n)
        if isinstance(n, BinOp) and n.op == "-" and n.a == Lit(0.0):
            return f"−{self.expr(n.b, 3)}"
        if isinstance(n, (BinOp, Div)):
            op = "/" if isinstance(n, Div) else n.op
            p = _PREC[op]
            text = f"{self.expr(n.a, p)} {_OPS.get(op, op)} {self.expr(n.b, p, True)}"
            return f"({text})" if p < parent or (right and p == parent) else text
        return self.what(n)

    def _is_flag(self, name: str) -> bool:
        try:
            return self.kpi.input(name).kind == "flag"
        except KeyError:
            return False


def _leaves(n: Node):
    """The one-number parts of a resolved value tree the example names: aggregates,
    period figures, options and function calls (with the calls' own arguments)."""
    if isinstance(n, (Count, Sum, Quantile, Scalar, Param)):
        yield n
    elif isinstance(n, Call):
        for a in n.args:
            yield from _leaves(a)
        yield n
    elif isinstance(n, (BinOp, Div)):
        yield from _leaves(n.a)
        yield from _leaves(n.b)


def _statics(n: Node):
    """Numbers fixed for the example inside row conditions (an option such as scale_max,
    or scale_max − 1): shown by value in the conditions' words."""
    for x in n.walk():
        if isinstance(x, (Count, Sum, Quantile)):
            for y in x.walk():
                if isinstance(y, Param) or (isinstance(y, BinOp) and not _has_col(y)):
                    yield y


def _options_read(var: Variant) -> set[str]:
    """The options a variant's formula reads (a lookup's table included)."""
    out: set[str] = set()
    for node in var.formula.nodes():
        for n in node.walk():
            if isinstance(n, Param):
                out.add(n.name)
            elif isinstance(n, (Lookup, Known)):
                out.add(n.table.name)
    return out


def _has_col(n: Node) -> bool:
    return any(isinstance(x, (Col, Lookup, Known)) for x in n.walk())


def _is_leaf(n: Node) -> bool:
    return isinstance(n, (Count, Sum, Quantile, Scalar, Param, Lit, Call))


def _name(name: str) -> str:
    return name.replace("_", " ")


def _num(x: Any) -> str:
    """A number as a person writes it: 4, 2,950, 0.1741, 4.986 (four significant digits)."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, dict):
        return ", ".join(f"{k} {_num(v)}" for k, v in x.items())
    x = float(x)
    if x < 0:
        return "−" + _num(-x)
    if x.is_integer():
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    decimals = max(0, 3 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}".rstrip("0").rstrip(".")


def _cell(v: Any) -> str:
    """An input value as it would sit in a cell."""
    if v is None:
        return "blank"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.time):
        return f"{v.hour}:{v.minute:02d}:{v.second:02d}"
    if isinstance(v, dt.timedelta):
        return clock(int(v.total_seconds()))
    if isinstance(v, (list, tuple)):
        return ", ".join(" ".join(_cell(x) for x in item) if isinstance(item, (list, tuple))
                         else _cell(item) for item in v)
    if isinstance(v, (int, float)):
        return _num(v)
    return str(v)
