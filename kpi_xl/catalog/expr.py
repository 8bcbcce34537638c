"""A small, immutable algebra in which every KPI formula is written exactly once.

A KPI is an expression over *inputs*:

* row-level nodes (:class:`Col`, comparisons, ``&``) describe a per-row quantity or
  indicator, e.g. ``Col("score") >= 9``;
* aggregate nodes (:class:`Count`, :class:`Sum`, :class:`Quantile`) fold rows into one
  number, e.g. ``Count(Col("score") >= 9)``;
* scalar nodes (arithmetic on aggregates, :class:`Scalar` inputs such as "customers at
  start", :class:`Param` options such as the service-level threshold, :class:`Call` to a
  named function such as Erlang C) combine those numbers into the KPI's value.

The nodes only *describe*; renderers give them meaning in each place a KPI runs:
``kpi_xl.render.arrays`` evaluates them with numpy (Excel functions, microseconds per
call), and later layers render the same nodes to SQL for the batch engine and to Excel
formulas for the scorecard. Because the tree is plain data, none of those places restates
a formula.

Why a small algebra of our own rather than Ibis expressions: an Excel function must answer
in microseconds and run in Pyodide; one Ibis build-and-compile costs milliseconds (measured
3-11 ms, see shared/DESIGN.md). The engine's renderer may well compile these same trees to
Ibis or SQL; the trees stay the single statement of each formula either way.

Semantics every renderer must keep (they are part of the contract):

* a missing value (blank cell, SQL NULL) makes every comparison on it false, so
  ``Count(Col("x") >= 9)`` never counts a blank;
* ``Count(where)`` counts rows of the KPI's domain (rows where at least one column input
  is present) for which ``where`` is true;
* ``Sum(expr, where)`` sums ``expr`` over domain rows where ``where`` holds; ``expr`` must
  be present on those rows (the input rules guarantee it);
* division by zero never yields NaN or infinity: :class:`Div` carries the sentence that
  explains an empty denominator ("no survey responses"), which the renderer raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

Number = Union[int, float]


def _wrap(x: "Node | Number") -> "Node":
    if isinstance(x, Node):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a KPI expression or a number, got {x!r}")
    return Lit(float(x))


class Node:
    """Base of every expression node; operators build new nodes, never compute."""

    __slots__ = ()

    # arithmetic -------------------------------------------------------------
    def __add__(self, o): return BinOp("+", self, _wrap(o))
    def __radd__(self, o): return BinOp("+", _wrap(o), self)
    def __sub__(self, o): return BinOp("-", self, _wrap(o))
    def __rsub__(self, o): return BinOp("-", _wrap(o), self)
    def __mul__(self, o): return BinOp("*", self, _wrap(o))
    def __rmul__(self, o): return BinOp("*", _wrap(o), self)
    def __truediv__(self, o): return Div(self, _wrap(o), "the denominator is zero")
    def __rtruediv__(self, o): return Div(_wrap(o), self, "the denominator is zero")
    def __neg__(self): return BinOp("-", Lit(0.0), self)

    # comparisons (row level); equality is spelled .eq() so nodes stay hashable ----
    def __ge__(self, o): return Cmp(">=", self, _wrap(o))
    def __gt__(self, o): return Cmp(">", self, _wrap(o))
    def __le__(self, o): return Cmp("<=", self, _wrap(o))
    def __lt__(self, o): return Cmp("<", self, _wrap(o))
    def eq(self, o): return Cmp("=", self, _wrap(o))
    def ne(self, o): return Cmp("<>", self, _wrap(o))

    # boolean combination ------------------------------------------------------
    def __and__(self, o): return And(self, o)
    def __or__(self, o): return Or(self, o)

    def children(self) -> tuple["Node", ...]:
        return ()

    def walk(self) -> Iterator["Node"]:
        """Every node of the tree, depth first, parents before children."""
        yield self
        for c in self.children():
            yield from c.walk()


# --------------------------------------------------------------------- leaves
@dataclass(frozen=True, eq=True)
class Lit(Node):
    value: float


@dataclass(frozen=True, eq=True)
class Col(Node):
    """A per-row input column, declared in the KPI's ``inputs``."""
    name: str


@dataclass(frozen=True, eq=True)
class Scalar(Node):
    """A single-number input (a period total such as 'customers at start')."""
    name: str


@dataclass(frozen=True, eq=True)
class Param(Node):
    """A named option of the KPI (threshold, scale point...), declared in ``params``."""
    name: str


# ------------------------------------------------------------------ row level
@dataclass(frozen=True, eq=True)
class BinOp(Node):
    op: str
    a: Node
    b: Node

    def children(self): return (self.a, self.b)


@dataclass(frozen=True, eq=True)
class Cmp(Node):
    op: str
    a: Node
    b: Node

    def children(self): return (self.a, self.b)


@dataclass(frozen=True, eq=True)
class And(Node):
    a: Node
    b: Node

    def children(self): return (self.a, self.b)


@dataclass(frozen=True, eq=True)
class Or(Node):
    a: Node
    b: Node

    def children(self): return (self.a, self.b)


@dataclass(frozen=True, eq=True)
class Present(Node):
    """True where the column holds a value (not blank, not N/A)."""
    col: Col

    def children(self): return (self.col,)


@dataclass(frozen=True, eq=True)
class Blank(Node):
    """True where the column holds nothing (a blank cell, SQL NULL). Unlike
    ``Not(Present(c))`` a score's N/A is not blank: it is an answer ("does not apply")."""
    col: Col

    def children(self): return (self.col,)


@dataclass(frozen=True, eq=True)
class Not(Node):
    """Row-level negation of a condition (used by the input rules)."""
    a: Node

    def children(self): return (self.a,)


@dataclass(frozen=True, eq=True)
class Known(Node):
    """True where the category column's label (any case) is a label of the table-valued
    param, e.g. the channel has an SLA target. False on a blank."""
    table: Param
    key: Col

    def children(self): return (self.key,)


@dataclass(frozen=True, eq=True)
class Lookup(Node):
    """Per-row value looked up by a category column in a table-valued param
    (e.g. the SLA target of each row's channel)."""
    table: Param
    key: Col

    def children(self): return (self.key,)


# -------------------------------------------------------------------- aggregates
@dataclass(frozen=True, eq=True)
class Count(Node):
    where: Node

    def children(self): return (self.where,)


@dataclass(frozen=True, eq=True)
class Sum(Node):
    expr: Node
    where: Node

    def children(self): return (self.expr, self.where)


@dataclass(frozen=True, eq=True)
class Quantile(Node):
    """Exact quantile with linear interpolation (numpy 'linear', SQL quantile_cont,
    Excel PERCENTILE.INC), over rows where ``where`` holds."""
    expr: Node
    q: float
    where: Node

    def children(self): return (self.expr, self.where)


AGGREGATES = (Count, Sum, Quantile)


# ------------------------------------------------------------------- scalar level
@dataclass(frozen=True, eq=True)
class Div(Node):
    """a / b, where b == 0 is an error explained by ``empty`` (never NaN or inf)."""
    a: Node
    b: Node
    empty: str

    def children(self): return (self.a, self.b)


@dataclass(frozen=True, eq=True)
class If(Node):
    cond: Node
    then: Node
    other: Node

    def __post_init__(self):
        object.__setattr__(self, "then", _wrap(self.then))
        object.__setattr__(self, "other", _wrap(self.other))

    def children(self): return (self.cond, self.then, self.other)


@dataclass(frozen=True, eq=True)
class Call(Node):
    """A named scalar function from :data:`kpi_xl.catalog.functions.FUNCTIONS`
    (sqrt, Erlang C...); each renderer maps the name to its own implementation."""
    fn: str
    args: tuple[Node, ...]

    def children(self): return self.args


# ------------------------------------------------------------------ helpers
def ratio(num: Node, den: Node, empty: str) -> Div:
    """num / den with the sentence that explains an empty denominator."""
    return Div(_wrap(num), _wrap(den), empty)


def call(fn: str, *args: "Node | Number") -> Call:
    return Call(fn, tuple(_wrap(a) for a in args))


def sqrt(x: Node) -> Call:
    return call("sqrt", x)


def columns(node: Node) -> list[str]:
    """Names of the row columns a tree reads, in first-seen order."""
    seen: dict[str, None] = {}
    for n in node.walk():
        if isinstance(n, Col):
            seen.setdefault(n.name)
    return list(seen)
