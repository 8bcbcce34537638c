"""The numpy renderer: evaluate a catalog declaration over arrays (Excel functions, tests).

``compute("nps", scores=[10, 9, 3, None])`` parses and validates every input against the
declaration, evaluates the variant's formula and returns a :class:`KpiResult`. It depends
on numpy only, so it runs in xlwings Lite (Pyodide) as well as on a desktop.

A recalculating sheet calls a function thousands of times on small ranges, so the trees
are not walked per call: the first call of a variant (with a given set of inputs and
option values) compiles its input rules and formula into one Python function
(:class:`_Compiler`), which later calls reuse. ``python bench/bench_functions.py`` times
both shapes of call against numpy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from ..catalog import CATALOG, rules
from ..catalog.erlang import UnstableQueue
from ..catalog.expr import (And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known, Lit,
                            Lookup, Node, Not, Or, Param, Present, Quantile, Scalar, Sum)
from ..catalog.functions import FUNCTIONS
from ..catalog.spec import Formula, Kpi, Variant, formula_columns, status
from ..errors import KpiError
from .cells import (Column, _count, duration_unit, flatten, parse_column, parse_scalar,
                    read_cell, zero_d)


@dataclass(frozen=True)
class KpiResult:
    """One computed KPI: its value with the sample it rests on and how to show it."""
    key: str
    variant: str
    value: float
    n: float | None
    margin: float | None
    measures: Mapping[str, float | None] = field(default_factory=dict)
    unit: str = ""
    number_format: str = "General"
    direction: str = "neutral"
    min_n: int | None = None
    target: float | None = None

    @classmethod
    def of(cls, kpi: Kpi, variant: Variant, value: float, n: float | None = None,
           margin: float | None = None, measures: Mapping[str, float | None] | None = None,
           min_n: int | None = None) -> "KpiResult":
        """A result carrying the declaration's unit, format, direction and target."""
        return cls(kpi.key, variant.name, float(value), n, margin, dict(measures or {}),
                   kpi.unit_of(variant), kpi.format_of(variant), kpi.direction_of(variant),
                   kpi.min_n if min_n is None else min_n, kpi.target_of(variant))

    @classmethod
    def _fields(cls, kpi: Kpi, variant: Variant) -> dict[str, Any]:
        """A result's fields in order, those of the declaration filled as :meth:`of` fills
        them: :func:`compute` copies this per call and sets the rest (see :meth:`_made`)."""
        return {"key": kpi.key, "variant": variant.name, "value": None, "n": None,
                "margin": None, "measures": None, "unit": kpi.unit_of(variant),
                "number_format": kpi.format_of(variant),
                "direction": kpi.direction_of(variant), "min_n": kpi.min_n,
                "target": kpi.target_of(variant)}

    @classmethod
    def _made(cls, fields: dict[str, Any]) -> "KpiResult":
        """A result without the frozen dataclass's per-field ``object.__setattr__`` (a
        tenth of a 10-cell call) from every field, in order (:meth:`_fields`)."""
        self = _new(cls)
        _setattr(self, "__dict__", fields)
        return self

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


_new, _setattr = object.__new__, object.__setattr__
_multiply_ufunc = np.multiply


def resolve_params(kpi: Kpi, variant: Variant, given: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`kpi_xl.catalog.rules.resolve_params`, reading options as a worksheet gives
    them (one-cell ranges, time values, two-column ranges)."""
    return rules.resolve_params(kpi, variant, given, read_cell)


# ---------------------------------------------------------------------- the compiler
# A variant's formula and the input rules of a call are compiled once into one Python
# function (source generated from the trees, then exec'd): each node becomes one numpy or
# Python statement, a node that occurs twice is computed once, and a call pays no tree walk
# and no dispatch on node types. Compiled programs are cached per KPI, variant, the set of
# given column inputs and the options' values (see _Plan).

class _Compiler:
    """Python source for one program: ``def run(C, S, P, D, OFF)`` with C the parsed
    columns, S the scalars, P the options, D the domain mask (None where it is every row)
    and OFF how many rows are off the domain (see _domain). Rules
    are checked in order, then the formula's value, n, margin (only where n > 1) and
    measures are returned."""

    def __init__(self, kpi: Kpi, params: Mapping[str, Any], given: tuple[str, ...] = ()):
        self.kpi, self.params = kpi, params
        #: the column inputs the call gave, and their kinds (see :meth:`in_domain`)
        self.given = {i.name: i.kind for i in kpi.column_inputs if i.name in given}
        self.lines: list[str] = []
        self.consts: list[Any] = []
        self.memo: dict[Any, str] = {}
        self.cols: dict[str, str] = {}
        self.indent = 1
        self.k = 0
        #: selections (var -> the full rows' var) and squares of them (line, var): see
        #: _square_in_place
        self.selections: dict[str, str] = {}
        self.squares: list[tuple[int, str]] = []
        #: row arithmetic's results (var -> line), fresh arrays: see _reuse_temporaries
        self.fresh: dict[str, int] = {}
        #: given columns whose blank-value rule (blank on the domain) is checked before
        #: the formula: past the checks, such a column is present on the domain's rows
        #: (see selected)
        self.required: set[str] = set()

    # -- emitting ----------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def var(self, expr: str) -> str:
        self.k += 1
        name = f"v{self.k}"
        self.emit(f"{name} = {expr}")
        return name

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def col(self, name: str) -> str:
        if name not in self.cols:
            self.cols[name] = f"c{len(self.cols)}"
        return self.cols[name]

    def branch(self, fn):
        """Emit fn's statements in a nested block; what it computes stays local to it."""
        saved = dict(self.memo)
        self.indent += 1
        try:
            return fn()
        finally:
            self.indent -= 1
            self.memo = saved

    # -- nodes -------------------------------------------------------------------
    def __call__(self, node: Node) -> str:
        name = self.memo.get(node)
        if name is None:
            name = self.memo[node] = self._node(node)
        return name

    def static(self, node: Node) -> float | None:
        """The value of a node made only of literals and numeric options (fixed for the
        program, which is compiled per option values), e.g. scale_max - 1; else None.
        Computed as the program would compute it, in Python floats."""
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Param):
            v = self.params.get(node.name)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        if isinstance(node, BinOp) and not _is_row(node):
            a, b = self.static(node.a), self.static(node.b)
            if a is None or b is None:
                return None
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        return None

    def operand(self, node: Node) -> str:
        """A node as the operand of a row-level operation: a number fixed for the program
        (see :meth:`static`) as a 0-d array (see cells.zero_d)."""
        v = self.static(node)
        if v is not None:
            return self.const(zero_d(float(v)))
        return self(node)

    def in_domain(self, n: Node) -> bool:
        """Whether a row condition is false on every row outside the domain, so that
        ``n & D`` is ``n`` itself and need not be computed. The domain holds every row
        where a given column is not blank, so such a condition is: a given column's
        Present, a comparison (other than <>) of a given number column with a number
        fixed for the program (a blank is NaN, and NaN compares false), and an And with
        one such side or an Or of two."""
        if isinstance(n, Present):
            return n.col.name in self.given
        if isinstance(n, Cmp):
            if n.op == "<>" or not isinstance(n.a, Col) or \
                    self.given.get(n.a.name, "category") == "category":
                return False
            v = self.static(n.b)
            return v is not None and math.isfinite(v)
        if isinstance(n, And):
            return self.in_domain(n.a) or self.in_domain(n.b)
        if isinstance(n, Or):
            return self.in_domain(n.a) and self.in_domain(n.b)
        return False

    def zero_side(self, where: Node) -> Cmp | None:
        """For a count of rows where ``a & b`` holds: a side that is a column equal to a
        number (``fatal = 1``), whose count alone may show that no row holds; else None."""
        if isinstance(where, And):
            for side in (where.a, where.b):
                if isinstance(side, Cmp) and side.op == "=" and isinstance(side.a, Col) \
                        and isinstance(side.b, Lit):
                    return side
        return None

    def selected(self, node: Node, where: Node) -> str:
        """A row node's values on the domain's rows where ``where`` holds, in order (what
        ``x[mask]`` gives): the square of a node as the square of its selection, anything
        else selected from its full rows; each selection once (a sum and a sum of squares
        over the same rows select once). Arithmetic is per row, so selecting before or
        after it gives the same numbers; a selection costs a fresh array and a pass over
        the rows, and is skipped where every row is selected (a given column's Present
        is not even made then)."""
        key = ("selected", node, where)
        name = self.memo.get(key)
        if name is None:
            if isinstance(node, BinOp) and node.op == "*" and node.a == node.b:
                a = self.selected(node.a, where)
                name = self.var(f"_multiply({a}, {a})")
                self.squares.append((len(self.lines) - 1, a))
            elif isinstance(where, Present) and self.in_domain(where):
                c = self.col(where.col.name)
                if where.col.name in self.required:
                    # a column required on the domain is present on exactly its rows
                    name = self.var(f"_sel_domain({self(node)}, D)")
                else:
                    name = self.var(f"_sel_present({self(node)}, {c})")
                self.selections[name] = self(node)
            elif isinstance(where, Cmp) and where.op == "=" and isinstance(where.a, Col) \
                    and isinstance(where.b, Lit) and self.in_domain(where):
                # the mask is the column's own (Column.equals), its count noted by a flag's
                # parse (Column.count_eq): not counted again
                c, k = self.col(where.a.name), self.const(where.b.value)
                name = self.var(f"_sel_eq({self(node)}, {c}, {k})")
                self.selections[name] = self(node)
            else:
                name = self.var(f"_sel({self(node)}, {self._mask(where)})")
                self.selections[name] = self(node)
            self.memo[key] = name
        return name

    def _mask(self, where: Node) -> str:
        """``where`` on the domain's rows (computed once per node, as the nodes are)."""
        if self.in_domain(where):
            return self(where)
        key = ("domain", where)
        name = self.memo.get(key)
        if name is None:
            m = self(where)
            name = self.memo[key] = self.var(f"{m} if D is None else {m} & D")
        return name

    def _node(self, n: Node) -> str:  # noqa: C901 - one case per node type
        if isinstance(n, Lit):
            return self.const(n.value)
        if isinstance(n, Col):
            return self.var(f"{self.col(n.name)}.values")
        if isinstance(n, Scalar):
            return self.var(f"S[{n.name!r}]")
        if isinstance(n, Param):
            return self.var(f"P[{n.name!r}]")
        if isinstance(n, Present):
            return self.var(f"{self.col(n.col.name)}.present")
        if isinstance(n, Blank):
            return self.var(f"{self.col(n.col.name)}.blank")
        if isinstance(n, Not):
            a = self(n.a)
            return self.var(f"~{a}" if _is_row(n.a) else f"not {a}")
        if isinstance(n, Known):
            return self.var(f"_known(P[{n.table.name!r}], {self.col(n.key.name)})")
        if isinstance(n, Lookup):
            return self.var(f"_lookup(KPI, {n.key.name!r}, P[{n.table.name!r}], "
                            f"{self.col(n.key.name)})")
        if isinstance(n, Count) and isinstance(n.where, Present) and self.in_domain(n.where):
            return self.var(f"float({self.col(n.where.col.name)}.npresent)")
        if isinstance(n, Count) and isinstance(n.where, Present):
            c = self.col(n.where.col.name)
            return self.var(f"float({c}.npresent) if D is None else "
                            f"float(_cnz({c}.present & D))")
        if isinstance(n, Count) and isinstance(n.where, Cmp) and n.where.op == "=" \
                and isinstance(n.where.a, Col) and isinstance(n.where.b, Lit) \
                and self.in_domain(n.where):
            c, k = self.col(n.where.a.name), self.const(n.where.b.value)
            return self.var(f"float({c}.count_eq({k}))")
        if isinstance(n, Count) and (side := self.zero_side(n.where)) is not None:
            # no row where one side holds, none where both do: the side's count (noted by
            # a flag's parse) first, the mask of both only where it is not 0 (the QA
            # score's fatal fails: most evaluations have no fatal item marked)
            c, k = self.col(side.a.name), self.const(side.b.value)
            self.k += 1
            out = f"v{self.k}"
            self.emit(f"if {c}.count_eq({k}) == 0:")
            self.emit(f"    {out} = 0.0")
            self.emit("else:")
            self.branch(lambda: self.emit(f"{out} = float(_cnz({self._mask(n.where)}))"))
            return out
        if isinstance(n, Count):
            return self.var(f"float(_cnz({self._mask(n.where)}))")
        if isinstance(n, Sum):
            if _is_row(n.expr):
                return self.var(f"float(_sum({self.selected(n.expr, n.where)}))")
            return self.var(f"float({self(n.expr)}) * _cnz({self._mask(n.where)})")
        if isinstance(n, Quantile):
            x, m = self(n.expr), self._mask(n.where)
            return self.var(f"_quantile({x}[{m}], {n.q!r})")
        if isinstance(n, BinOp):
            if _is_row(n):
                a, b = self.operand(n.a), self.operand(n.b)
                name = self.var(f"{_UFUNC[n.op]}({a}, {b})")
                self.fresh[name] = len(self.lines) - 1
                return name
            a, b = self(n.a), self(n.b)
            return self.var(f"{a} {n.op} {b}")
        if isinstance(n, Cmp):
            if n.op == "=" and isinstance(n.a, Col) and isinstance(n.b, Lit):
                return self.var(f"{self.col(n.a.name)}.equals({self.const(n.b.value)})")
            op = {"=": "==", "<>": "!="}.get(n.op, n.op)
            if _is_row(n):
                a, b = self.operand(n.a), self.operand(n.b)
                return self.var(f"{a} {op} {b}")
            a, b = self(n.a), self(n.b)
            return self.var(f"bool({a} {op} {b})")
        if isinstance(n, And):
            a, b = self(n.a), self(n.b)
            return self.var(f"{a} & {b}")
        if isinstance(n, Or):
            a, b = self(n.a), self(n.b)
            return self.var(f"{a} | {b}")
        if isinstance(n, Div):
            den = self(n.b)
            self.emit(f"if {den} == 0:")
            self.emit(f"    raise _Error(KPI, '', {self.const('cannot be computed: ' + n.empty)})")
            num = self(n.a)
            return self.var(f"{num} / {den}")
        if isinstance(n, If):
            cond = self(n.cond)
            self.k += 1
            out = f"v{self.k}"
            self.emit(f"if {cond}:")
            self.branch(lambda: self.emit(f"{out} = {self(n.then)}"))
            self.emit("else:")
            self.branch(lambda: self.emit(f"{out} = {self(n.other)}"))
            return out
        if isinstance(n, Call):
            args = ", ".join(self(a) for a in n.args)
            return self.var(f"_call(KPI, {n.fn!r}, ({args},))")
        raise TypeError(f"no numpy rendering for {type(n).__name__}")

    def _precheck(self, broken: Node) -> str | None:
        """A cheaper condition that holds wherever the rule may be broken, or None: a
        blank-value rule cannot be broken in a column without blanks (nor, for a given
        column, with no blank on the domain), and a range rule only if the column's
        least (greatest) value passes the bound, or where the column cannot tell
        (Column.may: no value is below 0 in a column the parse found none negative in).
        The exact check runs only when this holds."""
        if isinstance(broken, Blank) and broken.col.name in self.given:
            # a given column is blank on every row off the domain (there every given
            # column is), so its blanks on the domain are its blanks less the rows off it
            # (OFF: counted once per call by _domain, which needs the count anyway)
            c = self.col(broken.col.name)
            return f"{c}.nblank and {c}.nblank > OFF"
        if isinstance(broken, Blank):
            return f"{self.col(broken.col.name)}.nblank"
        if isinstance(broken, And) and isinstance(broken.b, Blank):
            return f"{self.col(broken.b.col.name)}.nblank"
        parts, todo = [], [broken]
        while todo:
            n = todo.pop()
            if isinstance(n, Or):
                todo += [n.b, n.a]
            elif isinstance(n, Cmp) and n.op in _EXTREME and isinstance(n.a, Col) \
                    and isinstance(n.b, Lit):
                # the extremes a few cells' parse noted, read inline (a method call is a
                # tenth of a 10-cell call); else what the column knows (Column.may)
                c, k = self.col(n.a.name), self.const(n.b.value)
                i = _EXTREME[n.op]
                parts.append(f"((e := {c}.cache.get('extremes')) and e[{i}] {n.op} {k} "
                             f"or e is None and {c}.may({n.op!r}, {k}))")
            else:
                return None
        return " or ".join(parts)

    def _square_in_place(self) -> None:
        """A selection squared for a sum of squares and read nowhere after: square it in
        its own array (no fresh one of its size), unless the selection is the full rows
        themselves (every row selected), which are the caller's or a column's."""
        for i, a in self.squares:
            full = self.selections.get(a)
            word = re.compile(rf"\b{a}\b")
            if full is None or any(word.search(line) for line in self.lines[i + 1:]):
                continue
            self.lines[i] = self.lines[i].replace(f"_multiply({a}, {a})",
                                                  f"_square_in_place({a}, {full})")

    def _select_over_own(self) -> None:
        """A selection from row arithmetic's fresh result that nothing reads after it
        (but the square of the selection, which only asks whether it is that result
        itself) is written over that result (see _take). Only the one selection of that
        result: another of every row is the result itself, read after under its own
        name (a sum of squares of it, evaluate's sums over other rows)."""
        sources = list(self.selections.values())
        for name, full in self.selections.items():
            if full not in self.fresh or sources.count(full) > 1:
                continue
            word = re.compile(rf"\b{full}\b")
            i = next(i for i, line in enumerate(self.lines)
                     if line.lstrip().startswith(f"{name} = "))
            if any(word.search(line) and "_square_in_place(" not in line
                   for line in self.lines[i + 1:]):
                continue
            assert self.lines[i].endswith(")")
            self.lines[i] = self.lines[i][:-1] + ", True)"

    def _reuse_temporaries(self) -> None:
        """Row arithmetic on the result of earlier row arithmetic that nothing reads
        after (talk + hold, then + acw) writes into that result instead of a fresh array
        of its size (see _into)."""
        for name, i in self.fresh.items():
            line = self.lines[i]
            args = line.split("(", 1)[1].rstrip(")").split(", ")
            for a in args:
                if a in self.fresh and self.fresh[a] < i and not any(
                        re.search(rf"\b{a}\b", later) for later in self.lines[i + 1:]):
                    fn = line.split(" = ", 1)[1].split("(", 1)[0]
                    self.lines[i] = line.replace(f"{fn}({', '.join(args)})",
                                                 f"_into({fn}, {', '.join(args)}, {a})")
                    break

    def measure(self, node: Node) -> str:
        """A measure's value. A measure that is a ratio (the QA score's points share) has
        none (None, as a margin where n ≤ 1) where its denominator is 0: the KPI's own value
        may stand without it (a failed fatal item scores an evaluation 0 whatever its
        points), so it neither raises nor shows a number there."""
        if not isinstance(node, Div):
            return self(node)
        num, den = self(node.a), self(node.b)
        return self.var(f"{num} / {den} if {den} != 0 else None")

    # -- a whole program -----------------------------------------------------------
    def program(self, formula: Formula, checks: list[rules.Rule]):
        self.required = {r.broken.col.name for r in checks
                         if r.row and isinstance(r.broken, Blank)
                         and self.given.get(r.broken.col.name) in _NO_NA}
        for i, rule in enumerate(checks):
            if not rule.row:
                self.emit(f"if {self(rule.broken)}:")
                self.emit(f"    _fail(KPI, R[{i}], None, D, S)")
                continue
            pre = self._precheck(rule.broken)
            if pre is None:
                b = self(rule.broken)
                self.emit(f"if _cnz({b}):")
                self.emit(f"    _fail(KPI, R[{i}], {b}, D, C)")
                continue
            self.emit(f"if {pre}:")

            def check(i=i, rule=rule):
                b = self(rule.broken)
                self.emit(f"if _cnz({b}):")
                self.emit(f"    _fail(KPI, R[{i}], {b}, D, C)")
            self.branch(check)
        # ratio measures first, at the top level: their sums are then computed once, for
        # them and for the value (the QA score's points share is its value but for a fatal
        # fail); they cannot raise (see measure), so no error changes its order
        ratios = {k: self.measure(v) for k, v in formula.measures.items()
                  if isinstance(v, Div)}
        value = self(formula.value)
        n = self(formula.n) if formula.n is not None else "None"
        margin = "None"
        if formula.margin is not None and formula.n is not None:
            self.k += 1
            margin = f"v{self.k}"
            self.emit(f"{margin} = None")
            self.emit(f"if {n} > 1:")
            self.branch(lambda: self.emit(f"{margin} = {self(formula.margin)}"))
        measures = ", ".join(f"{k!r}: {ratios.get(k) or self.measure(v)}"
                             for k, v in formula.measures.items())
        self.emit(f"return {value}, {n}, {margin}, {{{measures}}}")
        self._square_in_place()
        self._select_over_own()
        self._reuse_temporaries()
        head = ["def run(C, S, P, D, OFF):"]
        head += [f"    {c} = C[{name!r}]" for name, c in self.cols.items()]
        source = "\n".join(head + self.lines) + "\n"
        scope = dict(_RUNTIME, K=tuple(self.consts), R=tuple(checks), KPI=self.kpi.key)
        exec(compile(source, f"<kpi_xl {self.kpi.key}>", "exec"), scope)  # noqa: S102 - our own source
        run = scope["run"]
        run.source = source
        return run


def _is_row(n: Node) -> bool:
    """Whether a node is a per-row array (else one number), known from its type alone."""
    if isinstance(n, (Col, Present, Blank, Known, Lookup)):
        return True
    if isinstance(n, (BinOp, Cmp, And, Or, Not)):
        return any(_is_row(c) for c in n.children())
    return False


_UFUNC = {"+": "_add", "-": "_subtract", "*": "_multiply"}
#: kinds of input whose Column has no N/A (``na`` is None): present is not blank
_NO_NA = frozenset({"number", "duration", "flag", "category"})
#: which of a column's extremes (least, greatest) breaks each comparison, if any value does
_EXTREME = {"<": 0, "<=": 0, ">": 1, ">=": 1}


def broken_col(n: Node) -> Col:
    """The column a range rule judges (the first Col of its comparisons)."""
    while not isinstance(n, Col):
        n = n.children()[0]
    return n


def _sel(x: np.ndarray, m: np.ndarray, own: bool = False) -> np.ndarray:
    """``x[m]``, without the copy where ``m`` holds every row (``own``: see _take)."""
    return x if _count(m) == m.shape[0] else _take(x, m, own)


#: rows per piece of a selection written over its own rows (_take): 512 kB of floats
_PIECE = 65536


def _take(x: np.ndarray, m: np.ndarray, own: bool) -> np.ndarray:
    """``x[m]``. Where ``own`` (x is a fresh array of the program's own that it reads no
    more: ``talk + hold + acw``) and x is longer than a piece, the selected rows are
    written over x's first rows piece by piece and that part of x is returned: the same
    values in the same order without a second array of x's size. (Each piece is selected
    into a small array first, and the rows written end at or before the piece's end,
    so no row is overwritten before it is read.) A call over a million rows then keeps
    to memory it already holds: a fresh array of 7.5 MB costs more in fresh pages than
    the copy of the pieces."""
    n = x.shape[0]
    if not own or n <= _PIECE:
        return x[m]
    k = 0
    for lo in range(0, n, _PIECE):
        part = x[lo:lo + _PIECE][m[lo:lo + _PIECE]]
        x[k:k + part.shape[0]] = part
        k += part.shape[0]
    return x[:k]


def _into(ufunc: np.ufunc, a: Any, b: Any, out: np.ndarray) -> np.ndarray:
    """``ufunc(a, b)`` written over ``out`` (a or b: a fresh row array that the program
    reads no more) where that holds the result's type, on more than a few rows (on a few,
    a fresh array is cheaper than the check); the same numbers either way."""
    if out.shape[0] > 256 and np.result_type(a, b) == out.dtype and out.ndim == 1:
        return ufunc(a, b, out=out)
    return ufunc(a, b)


def _square_in_place(s: np.ndarray, full: np.ndarray) -> np.ndarray:
    """``s * s``, written over ``s`` where ``s`` is a selection of its own (not ``full``
    itself): the same numbers without a fresh array. A square past the largest double is
    inf, which :func:`compute` refuses in words (no finite margin): numpy's overflow
    warning would only add a line on stderr (an Excel function's log)."""
    with np.errstate(over="ignore"):
        return _multiply_ufunc(s, s) if s is full else _multiply_ufunc(s, s, out=s)


def _sel_eq(x: np.ndarray, col: Column, value: np.ndarray, own: bool = False
            ) -> np.ndarray:
    """``x[col.equals(value)]``, without the copy where every row equals ``value``; the
    rows that do are counted once per call (Column.count_eq; a flag's parse counts its
    1s and 0s), not again for the selection."""
    return x if col.count_eq(value) == x.shape[0] else _take(x, col.equals(value), own)


def _sel_domain(x: np.ndarray, domain: np.ndarray | None, own: bool = False
                ) -> np.ndarray:
    """``x[col.present]`` for a given column whose blank-value rule has passed: such a
    column is present on exactly the domain's rows (off the domain every given column is
    blank; on it, this one is not), and is every row where the domain is None. No mask
    of its own is made (``~blank``) and none is counted."""
    return x if domain is None else _take(x, domain, own)


def _sel_present(x: np.ndarray, col: Column, own: bool = False) -> np.ndarray:
    """``x[col.present]``, without the copy (or the mask) where every row is present."""
    return x if col.npresent == x.shape[0] else _take(x, col.present, own)


def _quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size else math.nan


def _lookup(key: str, name: str, table: dict[str, float], col: Column) -> np.ndarray:
    """Per-row table value through the category codes: one dict look-up per distinct
    label, then a vectorised take."""
    keys, codes = col.keys, col.codes
    per_code = np.full(len(keys), np.nan)
    for code, label in enumerate(keys):
        if label is None:
            continue
        label = label.lower()
        if label not in table:
            i = int(np.argmax(codes == code))
            raise KpiError(key, name,
                           f"has no target for this value (known: {', '.join(sorted(table))})",
                           col.values[i], row=i + 1)
        per_code[code] = table[label]
    return per_code[codes]


def _known(table: Mapping[str, Any], col: Column) -> np.ndarray:
    """Whether each row's label is in the table: one test per distinct label."""
    per_code = np.array([k is not None and k.lower() in table for k in col.keys], bool)
    return per_code[col.codes]


def _call(key: str, fn: str, args: tuple) -> float:
    try:
        return float(FUNCTIONS[fn](*args))
    except UnstableQueue as e:
        raise KpiError(key, "agents", f"must be more than the traffic of "
                       f"{e.erlangs:.4g} Erlangs (with {e.agents:g} agents the queue "
                       "grows without limit and no wait time exists)", e.agents) from None
    except ValueError as e:
        raise KpiError(key, "", str(e)) from None


def _fail(key: str, rule: rules.Rule, broken: Any, domain: np.ndarray | None,
          values: Mapping[str, Any]) -> None:
    """Raise the rule's sentence at the first domain row (or the scalar) that breaks it."""
    if not rule.row:
        raise KpiError(key, rule.input, rule.sentence, values[rule.input])
    broken = broken if domain is None else broken & domain
    if not _count(broken):   # (broken only off the domain: cheaper than listing none)
        return
    bad = np.flatnonzero(broken)
    i = int(bad[0])
    value = None if rule.kind == "required" else values[rule.input].values[i]
    raise KpiError(key, rule.input, rule.sentence, value, row=i + 1,
                   more=len(bad) - 1 if rule.kind == "range" else 0)


_RUNTIME = {"_cnz": _count, "_sum": np.add.reduce, "_sel": _sel,
            "_sel_present": _sel_present, "_sel_eq": _sel_eq, "_sel_domain": _sel_domain,
            "_square_in_place": _square_in_place,
            "_into": _into, "_add": np.add,
            "_subtract": np.subtract, "_multiply": np.multiply, "_quantile": _quantile,
            "_lookup": _lookup, "_known": _known, "_call": _call, "_fail": _fail,
            "_Error": KpiError}


def _freeze(v: Any) -> Any:
    return tuple(sorted(v.items())) if isinstance(v, dict) else v


class _Plan:
    """What one KPI variant needs on every call, worked out once: its inputs, which of
    them the formula reads, its default options, and its compiled programs."""

    MAX_PROGRAMS = 256   # options read from cells may vary call to call: bound the cache

    def __init__(self, kpi: Kpi, var: Variant):
        self.kpi, self.var = kpi, var
        self.known = frozenset(i.name for i in kpi.inputs) | {p.name for p in kpi.params}
        self.param_names = frozenset(p.name for p in kpi.params)
        self.defaults = rules.resolve_params(kpi, var, {})
        self.used = frozenset(formula_columns(var.formula))
        self.fields = KpiResult._fields(kpi, var)
        self.inputs = tuple((i.name, i.kind, i.time_unit, i.is_column) for i in kpi.inputs)
        self.programs: dict[Any, Any] = {}
        #: per tuple of argument names as a call gives them: what :func:`_run_given` needs
        #: (False: such a call takes the general path of :func:`_run`)
        self.shapes: dict[tuple[str, ...], Any] = {}

    def shape(self, names: tuple[str, ...]) -> "_Shape | bool":
        """The :class:`_Shape` of calls naming ``names``, or False where such a call
        needs the general path: an unknown name, a scalar input or a column the formula
        reads left out (each an error or a default the general path gives)."""
        shape = self.shapes.get(names)
        if shape is None:
            given = set(names)
            ok = given <= self.known and all(
                name in given for name, _, _, is_column in self.inputs
                if not is_column or name in self.used)
            shape = _Shape(self, names) if ok else False
            if len(self.shapes) >= self.MAX_PROGRAMS:
                self.shapes.clear()
            self.shapes[names] = shape
        return shape

    def program(self, given: tuple[str, ...], params: dict[str, Any], pkey: Any):
        key = (given, pkey)
        run = self.programs.get(key)
        if run is None:
            checks = rules.rules(self.kpi, self.var, params, given)
            run = _Compiler(self.kpi, params, given).program(self.var.formula, checks)
            if len(self.programs) >= self.MAX_PROGRAMS:
                self.programs.clear()
            self.programs[key] = run
        return run


class _Shape:
    """Calls of one plan that name the same arguments, every input the general path
    would read among them (:meth:`_Plan.shape`): the inputs to parse in the plan's order,
    the options named (each must be None, the default, for this path), and the program
    for their column inputs with the default options, once compiled."""

    __slots__ = ("inputs", "options", "given", "run")

    def __init__(self, plan: _Plan, names: tuple[str, ...]):
        self.inputs = tuple(i for i in plan.inputs if i[0] in names)
        self.options = tuple(n for n in names if n in plan.param_names)
        self.given = tuple(i[0] for i in self.inputs if i[3])
        self.run = None


_PLANS: dict[tuple[str, str | None], _Plan] = {}


def _plan(key: str, variant: Any, unit: Any) -> tuple[_Plan, str | None]:
    """The variant's plan and the ``unit`` option, checked in the order a call states its
    problems: the KPI, the unit, then the variant."""
    cacheable = variant is None or type(variant) is str
    plan = _PLANS.get((key, variant)) if cacheable else None
    if plan is not None:
        return plan, (None if unit is None else duration_unit(key, unit))
    kpi = CATALOG[key]
    unit = duration_unit(key, unit)
    if unit is not None and not kpi.duration_inputs:
        _no_unit(kpi)
    plan = _Plan(kpi, kpi.variant(variant))
    if cacheable and len(_PLANS) < 4096:   # variant names come from cells: bound them
        _PLANS[(key, variant)] = plan
    return plan, unit


def compute(key: str, variant: str | None = None, *, min_n: int | None = None,
            unit: Any = None, **inputs: Any) -> KpiResult:
    """Compute one KPI from arrays, ranges or numbers, by input and option name.

    ``unit`` ("seconds", "minutes", "hours" or "days" = Excel time values) says what unit
    the plain numbers in the KPI's duration inputs are in; left out, each input's own
    unit (:attr:`~kpi_xl.catalog.spec.Kpi.unit_option_doc`)."""
    plan = _PLANS.get((key, variant)) if variant is None or type(variant) is str else None
    if plan is None or unit is not None:
        plan, unit = _plan(key, variant, unit)
    # _run, inlined: a call on a few cells takes microseconds, and a call costs a tenth of one
    if unit is not None and not plan.kpi.duration_inputs:
        _no_unit(plan.kpi)
    names = tuple(inputs)
    shape = plan.shapes.get(names)
    if shape is None:
        shape = plan.shape(names)
    out = _run_given(plan, shape, unit, inputs) if shape else None
    value, n, margin, measures = out or _run_general(plan, unit, inputs)
    if not math.isfinite(value):
        raise KpiError(key, "", "has no finite value for these inputs")
    if margin is not None and not math.isfinite(margin):
        # the squares of values past ~1e154 overflow a double: such figures are not durations
        raise KpiError(key, "", "has no finite margin of error for these inputs (values "
                                "too large to square)")
    fields = plan.fields.copy()
    fields["value"], fields["n"], fields["margin"], fields["measures"] = \
        float(value), n, margin, measures
    if min_n is not None:
        fields["min_n"] = min_n
    return KpiResult._made(fields)


def evaluate(key: str, variant: str | None, nodes: "list[Node]", *, unit: Any = None,
             **inputs: Any) -> tuple[KpiResult, list[Any]]:
    """:func:`compute`, and the values of ``nodes`` (aggregates and other one-number
    expressions of the variant's formula: a count, a sum, an option, a condition) over the
    same inputs, parsed and checked as :func:`compute` checks them. The handbook's worked
    examples (:mod:`kpi_xl.render.words`) show these numbers; nothing here is cached."""
    result = compute(key, variant, unit=unit, **inputs)
    kpi = CATALOG[key]
    var = kpi.variant(variant)
    f = var.formula
    probe = replace(var, formula=Formula(f.value, f.n, f.margin,
                                         {f"#{i}": node for i, node in enumerate(nodes)}))
    _, _, _, measures = _run(_Plan(kpi, probe), duration_unit(key, unit), inputs)
    return result, [measures[f"#{i}"] for i in range(len(nodes))]


def _run(plan: _Plan, unit: str | None, inputs: Mapping[str, Any]):
    """Parse and check ``inputs`` for the plan's variant and run its compiled program:
    (value, n, margin, measures)."""
    if unit is not None and not plan.kpi.duration_inputs:
        _no_unit(plan.kpi)
    shape = plan.shapes.get(tuple(inputs))
    if shape is None:
        shape = plan.shape(tuple(inputs))
    if shape:
        out = _run_given(plan, shape, unit, inputs)
        if out is not None:
            return out
    return _run_general(plan, unit, inputs)


def _no_unit(kpi: Kpi):
    raise KpiError(kpi.key, "unit", f"is an option of functions with duration inputs; "
                   f"{kpi.title} has none")


def _run_given(plan: _Plan, shape: _Shape, unit: str | None, inputs: Mapping[str, Any]):
    """:func:`_run_general` for a call whose shape leaves no option set and no input to
    fill or refuse for its absence: the same parses in the same order, the same domain and
    program, without working out which is which per call. None where an argument is None
    after all (the general path then reads it as left out)."""
    for name in shape.options:
        if inputs[name] is not None:
            return None
    key = plan.kpi.key
    cols: dict[str, Column] = {}
    scalars: dict[str, float] = {}
    for name, kind, time_unit, is_column in shape.inputs:
        data = inputs[name]
        if data is None:
            return None
        if is_column:
            cols[name] = parse_column(key, name, kind, data, time_unit=time_unit, unit=unit)
        else:
            scalars[name] = parse_scalar(key, name, data)
    given = shape.given
    domain, off = _domain(key, cols, given)
    run = shape.run
    if run is None:
        run = shape.run = plan.program(given, plan.defaults, None)
    return run(cols, scalars, plan.defaults, domain, off)


def _domain(key: str, cols: Mapping[str, Column], given: tuple[str, ...] | list[str]):
    """Rows where at least one of the given inputs holds something (blank rows are
    ignored), None where that is every row (or nothing is given), and how many rows are
    off it (a program's blank-value rules read that count: counted here once). With two
    or more, first the ranges' lengths are checked."""
    if len(given) <= 1:
        col = cols[given[0]] if given else None
        return (col.not_blank, col.nblank) if col is not None and col.nblank else (None, 0)
    given_cols = [cols[g] for g in given]
    size = given_cols[0].blank.shape[0]
    for col in given_cols:
        if col.blank.shape[0] != size:
            raise KpiError(key, "", "needs ranges of the same length: " +
                           ", ".join(f"'{g}' has {len(cols[g])}" for g in given))
    for col in given_cols:
        if not col.nblank:
            return None, 0
    # the rows blank in every given input, then the rest: one mask, written in place
    off = given_cols[0].blank & given_cols[1].blank
    for col in given_cols[2:]:
        np.logical_and(off, col.blank, out=off)
    n_off = int(_count(off))
    return (None, 0) if not n_off else (np.logical_not(off, out=off), n_off)


def _run_general(plan: _Plan, unit: str | None, inputs: Mapping[str, Any]):
    """:func:`_run` for any call: unknown names, options, inputs left out."""
    key, kpi, var = plan.kpi.key, plan.kpi, plan.var
    if not plan.known.issuperset(inputs):
        for name in inputs:
            if name not in plan.known:
                raise KpiError(key, name, f"is not an input of {kpi.title} "
                               f"(inputs: {', '.join(sorted(plan.known))})")
    if plan.param_names.isdisjoint(inputs):
        params, pkey = plan.defaults, None
    else:
        params = resolve_params(kpi, var, inputs)
        pkey = tuple(_freeze(v) for v in params.values())
    used = plan.used
    cols: dict[str, Column] = {}
    scalars: dict[str, float] = {}
    given: list[str] = []
    for name, kind, time_unit, is_column in plan.inputs:
        data = inputs.get(name)
        if not is_column:
            if data is None:
                raise KpiError(key, name, "is required (a number)")
            scalars[name] = parse_scalar(key, name, data)
            continue
        if data is None:
            continue
        cols[name] = parse_column(key, name, kind, data, time_unit=time_unit, unit=unit)
        given.append(name)
    domain, off = _domain(key, cols, given)
    size = cols[given[0]].blank.shape[0] if given else 0
    if not used.issubset(cols):
        for inp in kpi.column_inputs:
            if inp.name in cols:
                continue
            if inp.name in used and not inp.optional:
                raise KpiError(key, inp.name, "is required")
            if inp.name in used and inp.default_value is None:
                raise KpiError(key, inp.name, f"is needed by the variant '{var.name}'")
            if inp.name in used:
                cols[inp.name] = Column(np.full(size, inp.default_value), np.zeros(size, bool))
    given_key = tuple(given)
    run = plan.programs.get((given_key, pkey)) or plan.program(given_key, params, pkey)
    return run(cols, scalars, params, domain, off)


__all__ = ["KpiResult", "compute", "evaluate", "resolve_params", "flatten"]
