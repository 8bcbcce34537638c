"""The SQL renderer: a catalog declaration as SQL text, for the batch engine.

Each KPI formula becomes two layers of plain SQL:

* **aggregates**, one column per distinct aggregate node of the formula
  (``Count`` → ``COUNT(CASE WHEN … THEN 1 END)``, ``Sum`` → an exact, order-free sum of
  ``CASE WHEN … THEN x END`` (:func:`exact_sum`; a plain ``SUM`` where ``x`` is a whole
  number by construction, :func:`integer_valued`),
  ``Quantile`` → ``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY CASE WHEN … THEN x END)``),
  evaluated in one ``GROUP BY`` with any grouping the caller wants;
* **scalars** over those columns: value, n, margin and a *note*, the sentence the
  declaration gives for an empty denominator ("no answered calls"), so an undefined value
  arrives as ``NULL`` with its reason, never as NaN, infinity or a division error.

Why generated SQL rather than an Ibis expression: the same text runs on DuckDB (the
embedded default) and, because it only uses standard SQL (CASE, COUNT, SUM, NULLIF,
PERCENTILE_CONT … WITHIN GROUP, GROUPING SETS, CAST), on PostgreSQL, a warehouse or Spark
SQL too (:class:`Dialect` holds the two things that differ: identifier quotes and type
names), with no dependency in between; and the catalog's semantics (a missing value makes
every comparison false; counts are over the KPI's domain; guarded denominators) map one to
one onto SQL's three-valued logic. Every count is cast to DOUBLE so that no engine does
integer division. The renderer is pure Python and imports no database driver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..catalog import rules
from ..catalog.expr import (And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known, Lit, Lookup,
                            Node, Not, Or, Param, Present, Quantile, Scalar, Sum)
from ..catalog.spec import Formula, Kpi, Variant


class NotRenderable(ValueError):
    """The declaration uses something SQL cannot express (e.g. the Erlang C recursion)."""


@dataclass(frozen=True)
class Dialect:
    """The two things that differ between the SQL engines kpi_xl targets: how an
    identifier is quoted, and the name of the double-precision type. Everything else the
    renderer writes is standard SQL that DuckDB, PostgreSQL and Spark SQL all accept."""
    name: str
    quote: str = '"'
    double: str = "DOUBLE"
    text: str = "VARCHAR"
    exact: str = "HUGEINT"          # an integer type wide enough for exact sums (see exact_sum)
    #: an approximate quantile of ``{x}`` at ``{q}``, or None where the engine has none
    #: (kpi_xl.engine.quantiles: only ever used when the config asks for it)
    approx_quantile: str | None = "APPROX_QUANTILE({x}, {q})"

    def ident(self, name: str) -> str:
        q = self.quote
        return q + name.replace(q, q + q) + q


DIALECTS = {
    "duckdb": Dialect("duckdb"),
    "postgres": Dialect("postgres", double="DOUBLE PRECISION", exact="NUMERIC(38, 0)",
                        approx_quantile=None),
    "spark": Dialect("spark", quote="`", text="STRING", exact="DECIMAL(38, 0)",
                     approx_quantile="PERCENTILE_APPROX({x}, {q}, 10000)"),
}
DUCKDB = DIALECTS["duckdb"]


def quote_ident(name: str, dialect: Dialect = DUCKDB) -> str:
    return dialect.ident(name)


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def exact_sum(x: str, dialect: Dialect = DUCKDB) -> str:
    """``SUM(x)`` for a DOUBLE expression, computed so that the result does not depend on
    the order of the rows (NULL when every ``x`` is NULL).

    A parallel engine (DuckDB with several threads) adds partial sums in whatever order its
    threads finish, and floating-point addition is not associative: a plain ``SUM`` of
    fractions changes in its last digits from run to run. Here each value is split, without
    rounding, into its integer part ``SIGN(x) * FLOOR(ABS(x))`` (truncation, written so that
    Spark SQL reads it too) and the fraction ``x`` minus that part, scaled by
    2^96 (an integer for every |x| >= 2^-44: a double's lowest bit is 2^-52 of its leading
    one); both parts are summed as exact integers (``dialect.exact``), where the order cannot
    matter, and the two totals become one DOUBLE at the end. So the sum is exact up to that
    last conversion (two roundings), the same on every run, whatever the thread count."""
    d = dialect
    scale = f"CAST(POWER(2, 96) AS {d.double})"
    whole = f"(SIGN({x}) * FLOOR(ABS({x})))"
    return (f"(CAST(SUM(CAST({whole} AS {d.exact})) AS {d.double}) + "
            f"CAST(SUM(CAST(ROUND(({x} - {whole}) * {scale}) AS {d.exact})) AS {d.double})"
            f" / {scale})")


#: row-level nodes that are a truth value: SQL casts them to exactly 0.0 or 1.0
_INDICATORS = (Cmp, And, Or, Not, Present, Blank, Known)


def integer_valued(n: Node) -> bool:
    """True when the row-level expression is a whole number on every row by its
    construction in the catalog, whatever the data: a 0/1 indicator (a comparison,
    Present, Blank, Known, and/or/not of those), an integer literal, or a sum, difference
    or product of such terms. Columns, params and lookups are data or options, so they
    are never assumed whole. A ``SUM`` of whole doubles is exact in any order while the
    total stays below 2^53 (an indicator summed over fewer than 9·10^15 rows), so such a
    sum needs no :func:`exact_sum`."""
    if isinstance(n, _INDICATORS):
        return True
    if isinstance(n, Lit):
        return float(n.value).is_integer()
    if isinstance(n, BinOp) and n.op in ("+", "-", "*"):
        return integer_valued(n.a) and integer_valued(n.b)
    return False


def _num(x: float) -> str:
    x = float(x)
    if not math.isfinite(x):
        raise NotRenderable(f"cannot write {x!r} as an SQL number")
    return repr(x) if not x.is_integer() else f"{x:.1f}"


@dataclass
class KpiSql:
    """The SQL of one KPI variant: aggregate columns and the scalar expressions over them."""
    key: str
    variant: str
    aggregates: dict[str, str]      # alias -> aggregate SQL (over the rows)
    value: str                      # scalar SQL over aggregate aliases (and scalar columns)
    n: str | None
    margin: str | None
    note: str                       # CASE … END: why value is NULL, or NULL


class SqlRenderer:
    """Renders one KPI variant.

    ``columns`` maps each *bound* column input of the KPI to an SQL expression over the
    source table (usually a quoted column name); unbound optional inputs take their
    declared default. ``scalars`` maps scalar inputs to SQL expressions (columns of a
    period-totals table). ``params`` are resolved option values. ``prefix`` keeps the
    aliases of several KPIs in one SELECT apart. ``where`` narrows the domain (the rows
    that belong to the KPI) with an SQL condition; ``domain`` replaces the whole domain
    with an SQL condition the caller has computed (the engine: a boolean column per KPI,
    evaluated once per row rather than inside every aggregate). ``rules_in_domain``: that
    domain already leaves out every row breaking a row rule, so no group can hold one and
    :meth:`render` checks only the scalar rules (a count of broken rows would be 0).
    ``sums``: the scalar inputs found in ``columns`` are period totals kept one per row
    (a WFM export's agent-days): each is the sum of its column over the domain's rows."""

    def __init__(self, kpi: Kpi, variant: Variant, *, columns: Mapping[str, str],
                 scalars: Mapping[str, str] | None = None,
                 params: Mapping[str, Any] | None = None, prefix: str = "",
                 where: str | None = None, domain: str | None = None,
                 rules_in_domain: bool = False, dialect: Dialect = DUCKDB,
                 approximate: bool = False, sums: bool = False):
        self.kpi, self.variant = kpi, variant
        self.sums = sums
        self.approximate = approximate     # quantiles: the dialect's approximate function
        self.d = dialect
        self.columns, self.scalars = dict(columns), dict(scalars or {})
        # options not given take their defaults (the rules need every option's value)
        self.params = {**rules.resolve_params(kpi, variant, {}), **dict(params or {})}
        self.prefix = prefix or kpi.key
        self._aggs: dict[Node, str] = {}
        self._agg_sql: dict[str, str] = {}     # aggregate SQL -> alias (shared nodes once)
        bound = [self.columns[i.name] for i in kpi.column_inputs if i.name in self.columns]
        # the KPI's domain: rows where at least one bound column holds a value
        self.domain = "(" + " OR ".join(f"{c} IS NOT NULL" for c in bound) + ")" if bound else "TRUE"
        if where:
            self.domain = f"({self.domain} AND {where})"
        if domain is not None:     # the caller computed the domain once per row (a column)
            self.domain = domain
        self.rules_in_domain = rules_in_domain

    # ----------------------------------------------------------------- public
    def rules(self) -> list[rules.Rule]:
        """The catalog's input rules over the bound columns and scalars. Not here: 'a
        score must not be blank', because tables hold a score's N/A as NULL too (the
        loader tells a blank score from N/A and refuses the blank before SQL runs)."""
        bound = self.columns.keys()
        return [r for r in rules.rules(self.kpi, self.variant, self.params, bound)
                if not (r.kind == "required" and self.kpi.input(r.input).kind == "score")
                and (r.row or r.input in self.scalars
                     or (self.sums and r.input in self.columns))]

    def row_checks(self) -> list[tuple[rules.Rule, str]]:
        """Each row rule with the SQL condition that is true on a row breaking it (a row of
        the KPI's domain), to list offending rows with their reason."""
        return [(r, f"{self.domain} AND {self.row(r.broken)}") for r in self.rules() if r.row]

    def render(self) -> KpiSql:
        f: Formula = self.variant.formula
        value = self.scalar(f.value)
        n = self.scalar(f.n) if f.n is not None else None
        margin = None
        if f.margin is not None and n is not None:
            margin = f"CASE WHEN {n} > 1 THEN {self.scalar(f.margin)} END"
        note = self._note(f.value)
        # a group holding a row (or a scalar) that breaks an input rule has no value: its
        # note is the rule, never a number computed over the offending rows
        broken = [(f"{self._aggregate(Count(r.broken))} > 0" if r.row
                   else f"COALESCE({self.scalar(r.broken)}, FALSE)",
                   quote_text(f"'{r.input}' {r.sentence}")) for r in self.rules()
                  if not (r.row and self.rules_in_domain)]
        if broken:
            any_broken = " OR ".join(c for c, _ in broken)
            value = f"(CASE WHEN {any_broken} THEN NULL ELSE {value} END)"
            note = ("CASE " + " ".join(f"WHEN {c} THEN {t}" for c, t in broken)
                    + f" ELSE {note} END")
        return KpiSql(self.kpi.key, self.variant.name,
                      {alias: sql for sql, alias in self._agg_sql.items()},
                      value, n, margin, note)

    # ---------------------------------------------------------------- row level
    def row(self, n: Node) -> str:
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, Col):
            if n.name in self.columns:
                return self.columns[n.name]
            inp = self.kpi.input(n.name)
            if inp.default_value is None:
                raise NotRenderable(f"{self.kpi.key}: input '{n.name}' is not bound to a column")
            return _num(inp.default_value)
        if isinstance(n, Param):
            return self._param(n.name)
        if isinstance(n, Present):
            if n.col.name not in self.columns:   # left out: its default, on every row
                return "FALSE" if self.kpi.input(n.col.name).default_value is None else "TRUE"
            return f"({self.columns[n.col.name]} IS NOT NULL)"
        if isinstance(n, Blank):
            if n.col.name not in self.columns:
                return "TRUE" if self.kpi.input(n.col.name).default_value is None else "FALSE"
            return f"({self.columns[n.col.name]} IS NULL)"
        if isinstance(n, Not):
            return f"(NOT {self.row(n.a)})"
        if isinstance(n, Known):
            labels = ", ".join(quote_text(k.lower()) for k in sorted(self.params[n.table.name]))
            return f"(LOWER({self.row(n.key)}) IN ({labels}))" if labels else "FALSE"
        if isinstance(n, BinOp):
            return f"({self.row(n.a)} {n.op} {self.row(n.b)})"
        if isinstance(n, Cmp):
            return f"({self.row(n.a)} {n.op} {self.row(n.b)})"
        if isinstance(n, And):
            return f"({self.row(n.a)} AND {self.row(n.b)})"
        if isinstance(n, Or):
            return f"({self.row(n.a)} OR {self.row(n.b)})"
        if isinstance(n, Lookup):
            table = self.params[n.table.name]
            key = self.row(n.key)
            whens = " ".join(f"WHEN {quote_text(k.lower())} THEN {_num(v)}"
                             for k, v in sorted(table.items()))
            return f"(CASE LOWER({key}) {whens} END)"
        raise NotRenderable(f"{self.kpi.key}: no row-level SQL for {type(n).__name__}")

    # ---------------------------------------------------------------- aggregates
    def _aggregate(self, n: Node) -> str:
        if n in self._aggs:
            return self._aggs[n]
        if isinstance(n, Count):
            sql = (f"CAST(COUNT(CASE WHEN {self.domain} AND {self.row(n.where)} THEN 1 END) "
                   f"AS {self.d.double})")
        elif isinstance(n, Sum):
            x = (f"CASE WHEN {self.domain} AND {self.row(n.where)} THEN "
                 f"CAST({self.row(n.expr)} AS {self.d.double}) END")
            # a whole-number summand adds up exactly in any order: plain SUM
            total = f"SUM({x})" if integer_valued(n.expr) else exact_sum(x, self.d)
            sql = f"COALESCE({total}, 0.0)"
        elif isinstance(n, Quantile) and self.approximate:
            if self.d.approx_quantile is None:
                raise NotRenderable(f"{self.d.name} has no approximate quantile")
            x = (f"CASE WHEN {self.domain} AND {self.row(n.where)} THEN "
                 f"CAST({self.row(n.expr)} AS {self.d.double}) END")
            sql = f"CAST({self.d.approx_quantile.format(x=x, q=_num(n.q))} AS {self.d.double})"
        elif isinstance(n, Quantile):
            sql = (f"PERCENTILE_CONT({_num(n.q)}) WITHIN GROUP (ORDER BY CASE WHEN "
                   f"{self.domain} AND {self.row(n.where)} THEN {self.row(n.expr)} END)")
        else:
            raise TypeError(n)
        alias = self._agg_sql.get(sql)
        if alias is None:
            alias = self.d.ident(f"{self.prefix}__a{len(self._agg_sql)}")
            self._agg_sql[sql] = alias
        self._aggs[n] = alias
        return alias

    # ---------------------------------------------------------------- scalar level
    def scalar(self, n: Node) -> str:
        if isinstance(n, (Count, Sum, Quantile)):
            return self._aggregate(n)
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, Scalar):
            if self.sums and n.name in self.columns:       # a total kept per row: summed
                return self._aggregate(Sum(Col(n.name), Present(Col(n.name))))
            if n.name not in self.scalars:
                raise NotRenderable(f"{self.kpi.key}: scalar '{n.name}' is not bound")
            return self.scalars[n.name]
        if isinstance(n, Param):
            return self._param(n.name)
        if isinstance(n, BinOp):
            return f"({self.scalar(n.a)} {n.op} {self.scalar(n.b)})"
        if isinstance(n, Cmp):
            return f"({self.scalar(n.a)} {n.op} {self.scalar(n.b)})"
        if isinstance(n, (And, Or)):
            return f"({self.scalar(n.a)} {type(n).__name__.upper()} {self.scalar(n.b)})"
        if isinstance(n, Not):
            return f"(NOT {self.scalar(n.a)})"
        if isinstance(n, Div):
            return f"({self.scalar(n.a)} / NULLIF({self.scalar(n.b)}, 0))"
        if isinstance(n, If):
            return (f"(CASE WHEN {self.scalar(n.cond)} THEN {self.scalar(n.then)} "
                    f"ELSE {self.scalar(n.other)} END)")
        if isinstance(n, Call) and n.fn == "sqrt":
            # a variance can come out a few ulps below zero; never take sqrt of that
            return f"SQRT(GREATEST({self.scalar(n.args[0])}, 0.0))"
        if isinstance(n, Call) and n.fn == "erlang_traffic":   # calls × AHT / interval
            a, b, c = (self.scalar(x) for x in n.args)
            return f"({a} * {b} / NULLIF({c}, 0))"
        if isinstance(n, Call):
            raise NotRenderable(f"{self.kpi.key}: the function {n.fn} has no SQL form; "
                                "compute it after aggregation")
        raise NotRenderable(f"{self.kpi.key}: no scalar SQL for {type(n).__name__}")

    def _note(self, value: Node) -> str:
        """Why the value is NULL: the sentence of the first empty denominator met,
        innermost first; NULL where the value exists."""
        whens: list[str] = []

        def visit(n: Node) -> None:
            for c in n.children():
                visit(c)
            if isinstance(n, Div):
                den = self.scalar(n.b)
                when = f"WHEN COALESCE({den}, 0) = 0 THEN {quote_text(n.empty)}"
                if when not in whens:
                    whens.append(when)

        visit(value)
        if not whens:
            return f"CAST(NULL AS {self.d.text})"
        return f"CASE WHEN {self.scalar(value)} IS NOT NULL THEN NULL " + " ".join(whens) + " END"

    def _param(self, name: str) -> str:
        v = self.params[name]
        if isinstance(v, Mapping):
            raise NotRenderable(f"{self.kpi.key}: table param '{name}' used as a number")
        return _num(v)


def render_kpi(kpi: Kpi, variant: Variant, **kw: Any) -> KpiSql:
    return SqlRenderer(kpi, variant, **kw).render()


__all__ = ["DIALECTS", "Dialect", "KpiSql", "NotRenderable", "SqlRenderer", "quote_ident",
           "integer_valued", "quote_text", "render_kpi"]
