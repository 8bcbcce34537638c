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


#: :func:`reads`' key for "which rows form the domain": an aggregate whose condition can
#: hold on a row where none of its columns is present depends on every column's presence
DOMAIN = "*"


def reads(node: Node) -> dict[str, "Node | bool"]:
    """The inputs a tree's value depends on, each with the rows where it does: a
    row-level condition, or True (every domain row; always for a :class:`Scalar` input).
    Read from the tree, so a measure's input rules can be the rules of what it reads:

    * ``Count(where)``: a column matters on the rows where it can change ``where``;
      ``Sum(expr, where)``, ``Quantile(expr, q, where)``: besides, ``expr``'s columns
      on the rows where ``where`` holds;
    * in ``a & b`` a column only ``a`` reads matters where ``b`` holds (elsewhere the row
      is out whatever ``a`` says), in ``a | b`` where ``b`` does not; a column both sides
      read matters wherever the whole does (one side's change can flip the other's);
    * every other node (comparisons, arithmetic, presence, lookups; at the scalar level
      Div, If, Call) reads what its parts read, where they read it;
    * an aggregate whose condition can hold where none of its columns is present (a
      :class:`Not`, a :class:`Blank`, a literal) counts rows by the domain, so by every
      column's presence: :data:`DOMAIN` is then read on every row.

    ``Count(fatal = 1 & score = 0)`` reads the scores where fatal = 1 and the fatal flags
    where score = 0; ``Sum(w × s, present(s))`` the scores everywhere and the weights where
    the score is present."""
    found: dict[str, list] = {}

    def add(name: str, rows: "Node | bool") -> None:
        have = found.setdefault(name, [])
        if rows is True:
            have[:] = [True]
        elif True not in have and rows not in have:
            have.append(rows)

    def within(ctx: "Node | bool", cond: Node) -> Node:
        return cond if ctx is True else And(ctx, cond)

    def row(n: Node, ctx: "Node | bool", skip: frozenset = frozenset()) -> None:
        if isinstance(n, Col):
            if n.name not in skip:
                add(n.name, ctx)
        elif isinstance(n, (And, Or)):
            both = frozenset(columns(n.a)) & frozenset(columns(n.b))
            for side, other in ((n.a, n.b), (n.b, n.a)):
                row(side, within(ctx, other if isinstance(n, And) else Not(other)),
                    skip | both)
            for c in both - skip:
                add(c, ctx)
        else:
            for c in n.children():
                row(c, ctx, skip)

    def scalar(n: Node) -> None:
        if isinstance(n, Scalar):
            add(n.name, True)
        elif isinstance(n, AGGREGATES):
            if not _strict(n.where):
                add(DOMAIN, True)
            row(n.where, True)
            if not isinstance(n, Count):
                row(n.expr, n.where)
        else:
            for c in n.children():
                scalar(c)

    scalar(node)
    return {k: True if v == [True] else v[0] if len(v) == 1 else _any(v)
            for k, v in found.items()}


def _any(conds: list[Node]) -> Node:
    out = conds[0]
    for c in conds[1:]:
        out = Or(out, c)
    return out


def _strict(where: Node) -> bool:
    """False on every row where the columns it reads are all blank (a comparison on a
    blank is false): such a condition picks the same rows whichever rows form the domain."""
    if isinstance(where, (Cmp, Present, Known)):
        return bool(columns(where))
    if isinstance(where, And):
        return _strict(where.a) or _strict(where.b)
    if isinstance(where, Or):
        return _strict(where.a) and _strict(where.b)
    return False
