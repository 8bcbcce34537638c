"""The SQL the engine runs, rendered from the catalog through the bindings: one
``GROUP BY GROUPING SETS`` query per row table (every KPI bound to it, at every level and
pair of levels, for every period of the history), one per per-unit KPI (QA score per
evaluation), one over the period totals (:mod:`kpi_xl.engine.totals`); the KPIs' domains
and the input-rule checks come from :mod:`kpi_xl.checks`. Nothing here states a formula:
each KPI's SQL comes from :class:`kpi_xl.render.sql.SqlRenderer`.

Rows are placed in periods by :class:`Window`: from the loader's ``period`` column for a
monthly run, otherwise from each row's ``date`` against the periods' bounds, so a weekly,
quarterly or custom-range run needs nothing re-mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ..catalog.spec import Kpi, Variant
from ..checks import check_sql, kpi_renderer, kpi_rules
from ..periods import Period
from ..render.sql import Dialect, KpiSql, SqlRenderer, exact_sum, quote_text
from .bindings import BINDINGS
from .plan import Item, KpiChoice, source_of
from .quantiles import QuantilePolicy
from .results import PAIR

#: the built-in levels, in the order results list them
LEVELS = ("organisation", "team", "agent", "channel")

#: the columns that place a row in a period (:class:`Window`): the loader's month
#: ``period`` (``YYYY-MM``, for a monthly run) and the row's ``date``
PLACES = ("period", "date")


@dataclass(frozen=True)
class Grouping:
    """The levels a query groups by: single columns (``team``, a dimension such as
    ``topic``) and pairs of them (``team × channel``). ``organisation`` is always there."""
    levels: tuple[str, ...] = LEVELS
    pairs: tuple[tuple[str, str], ...] = ()

    def names(self) -> list[str]:
        """Every level name, in results order: organisation, singles, then pairs."""
        out = ["organisation"] + [lv for lv in self.levels if lv != "organisation"]
        return out + [PAIR.join(p) for p in self.pairs]

    def over(self, cols: set[str]) -> "Grouping":
        """The part a table can give: levels and pairs whose columns it has."""
        return Grouping(tuple(lv for lv in self.levels if lv != "organisation" and lv in cols),
                        tuple(p for p in self.pairs if set(p) <= cols))


def timestamp(day) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


@dataclass(frozen=True)
class Window:
    """The periods of a run, oldest first (contiguous, one grain)."""
    periods: tuple[Period, ...]

    @property
    def grain(self) -> str:
        return self.periods[-1].grain

    @property
    def labels(self) -> list[str]:
        return [p.label for p in self.periods]

    def placeable(self, cols: set[str]) -> bool:
        """Whether rows with these columns can be placed in the periods."""
        return "date" in cols or (self.grain == "month" and "period" in cols)

    def label_and_filter(self, cols: set[str], q) -> tuple[str, str]:
        """(the SQL of a row's period label, the SQL keeping the rows of the window)."""
        if self.grain == "month" and "period" in cols:
            return "period", f"period IN ({', '.join(quote_text(x) for x in self.labels)})"
        d = q("date")
        first, last = self.periods[0], self.periods[-1]
        label = ("CASE " + " ".join(f"WHEN {d} < {timestamp(p.end)} THEN {quote_text(p.label)}"
                                    for p in self.periods[:-1])
                 + f" ELSE {quote_text(last.label)} END") if len(self.periods) > 1 \
            else quote_text(last.label)
        return label, f"{d} >= {timestamp(first.start)} AND {d} < {timestamp(last.end)}"


class Queries:
    """SQL over the views ``src_<table>`` whose columns are ``columns``, in ``dialect``."""

    def __init__(self, columns: Mapping[str, set[str]], dialect: Dialect,
                 choices: Mapping[str, KpiChoice], quantiles: QuantilePolicy | None = None):
        self.columns, self.dialect, self.choices = columns, dialect, choices
        self.quantiles = quantiles or QuantilePolicy()

    def q(self, name: str) -> str:
        return self.dialect.ident(name)

    @property
    def dbl(self) -> str:
        return self.dialect.double

    @property
    def txt(self) -> str:
        return self.dialect.text

    # ------------------------------------------------------------------ one KPI
    def renderer(self, kpi: Kpi, variant: Variant, params: dict, table: str, *,
                 rules: bool = True) -> SqlRenderer:
        """The KPI's SQL renderer over ``table``, its domain without the rows that break
        one of its own input rules (``rules=False``: before that); see
        :func:`kpi_xl.checks.kpi_renderer`."""
        return kpi_renderer(kpi, variant, params, table,
                            self.columns.get(source_of(table), set()), self.dialect,
                            rules=rules, approximate=self.quantiles.approximate(kpi.key))

    def domain_column(self, kpi: Kpi, variant: Variant, params: dict,
                      table: str) -> tuple[SqlRenderer, str | None]:
        """The KPI's renderer for a query over rows, and the SQL of its domain when the
        query computes that once per row (None: the domain is short, left inline). A KPI
        with input rules has a long domain (its bound columns, its ``where``, and
        ``NOT COALESCE((rule), FALSE)`` per rule, see :meth:`renderer`); the query
        computes it as the boolean column ``<key>__in`` of an inner SELECT (KPIs with the
        same domain share one column), and every aggregate of the KPI tests that column
        instead of repeating the condition. Same rows, same semantics; and since no row
        of that domain breaks a row rule, the renderer leaves out the counts of broken
        rows, which would be 0 in every group."""
        base = self.renderer(kpi, variant, params, table, rules=False)
        r = self.renderer(kpi, variant, params, table)
        if r.domain == base.domain:
            return r, None                       # no rules: the domain is short already
        col = self.q(kpi.key + "__in")
        return SqlRenderer(kpi, variant, columns=base.columns, params=params, domain=col,
                           rules_in_domain=True, dialect=self.dialect, sums=base.sums,
                           approximate=self.quantiles.approximate(kpi.key)), r.domain

    def rules(self, base: SqlRenderer, kpi: Kpi, variant: Variant,
              params: dict) -> list[tuple[str, str, str]]:
        """The KPI's input rules over the columns it is bound to, as (SQL condition true
        on a row that breaks the rule, canonical column, the rule in words); see
        :func:`kpi_xl.checks.kpi_rules`."""
        return [(r.cond, r.column, r.rule) for r in kpi_rules(base, kpi)]

    # ------------------------------------------------------------------ grouping
    def _member(self, lv: str) -> str:
        return f"COALESCE(CAST({self.q(lv)} AS {self.txt}), {quote_text(f'(no {lv})')})"

    def grouping(self, g: Grouping) -> tuple[str, str, str]:
        """(GROUPING SETS clause, level SQL, member SQL) over the period column ``_p``.
        Pairs are tested first: in their rows both columns are grouped."""
        sets = ["(_p)"] + [f"(_p, {self.q(lv)})" for lv in g.levels] + \
            [f"(_p, {self.q(a)}, {self.q(b)})" for a, b in g.pairs]
        if not g.levels and not g.pairs:
            return "GROUPING SETS ((_p))", "'organisation'", "'all'"
        lw, mw = [], []
        for a, b in g.pairs:
            test = f"GROUPING({self.q(a)}) = 0 AND GROUPING({self.q(b)}) = 0"
            lw.append(f"WHEN {test} THEN {quote_text(a + PAIR + b)}")
            mw.append(f"WHEN {test} THEN {self._member(a)} || {quote_text(PAIR)} || "
                      f"{self._member(b)}")
        for lv in g.levels:
            lw.append(f"WHEN GROUPING({self.q(lv)}) = 0 THEN {quote_text(lv)}")
            mw.append(f"WHEN GROUPING({self.q(lv)}) = 0 THEN {self._member(lv)}")
        return ("GROUPING SETS (" + ", ".join(sets) + ")",
                "CASE " + " ".join(lw) + " ELSE 'organisation' END",
                "CASE " + " ".join(mw) + " ELSE 'all' END")

    def rows(self, table: str, domains: Mapping[str, str], window: Window) -> str:
        """The rows of ``table`` in the window, with their period label ``_p`` and the
        per-row domain columns (``domains``: domain SQL -> column name)."""
        src = source_of(table)
        label, keep = window.label_and_filter(self.columns[src], self.q)
        extra = "".join(f", {sql} AS {col}" for sql, col in domains.items())
        return f"(SELECT *, {label} AS _p{extra} FROM src_{src} WHERE {keep}) AS src"

    # ------------------------------------------------------------------ queries
    def table_sql(self, table: str, items: Sequence[Item], window: Window,
                  grouping: Grouping) -> tuple[str, list[tuple[Kpi, Variant, KpiSql]]]:
        """One query for every KPI bound to a row table."""
        g = grouping.over(self.columns[source_of(table)])
        sets, level, member = self.grouping(g)
        rendered, inner, outer = [], [], []
        domains: dict[str, str] = {}          # domain SQL -> its column (shared by KPIs)
        for kpi, variant, params in items:
            r, dom = self.domain_column(kpi, variant, params, table)
            if dom:
                r.domain = domains.setdefault(dom, r.domain)
            ks = r.render()
            rendered.append((kpi, variant, ks))
            inner += [f"{sql} AS {alias}" for alias, sql in ks.aggregates.items()]
            inner.append(f"CAST(COUNT(CASE WHEN {r.domain} THEN 1 END) AS {self.dbl}) AS "
                         f"{self.q(kpi.key + '__rows')}")
            outer += self.outer(kpi, ks)
        sql = (f"SELECT period, level, member, {', '.join(outer)} FROM ("
               f"SELECT _p AS period, {level} AS level, {member} AS member, {', '.join(inner)} "
               f"FROM {self.rows(table, domains, window)} GROUP BY {sets}) AS agg")
        return sql, rendered

    def unit_sql(self, table: str, kpi: Kpi, variant: Variant, params: dict,
                 window: Window, grouping: Grouping) -> str:
        """A per-unit KPI (QA score per evaluation): the formula per unit, then the mean of
        the units' values per group; n is the number of units with a value."""
        g = grouping.over(self.columns[source_of(table)])
        lv = list(dict.fromkeys([*g.levels, *(c for p in g.pairs for c in p)]))
        sets, level, member = self.grouping(g)
        r, dom = self.domain_column(kpi, variant, params, table)
        ks = r.render()
        unit = self.q(kpi.per)
        carry = ", ".join(f"MIN({self.q(c)}) AS {self.q(c)}" for c in lv)
        aggs = ", ".join(f"{sql} AS {alias}" for alias, sql in ks.aggregates.items())
        k = kpi.key
        return (
            f"SELECT _p AS period, {level} AS level, {member} AS member, "
            f"{exact_sum('v', self.dialect)} / COUNT(v) AS {self.q(k + '__value')}, "
            f"CAST(COUNT(v) AS {self.dbl}) AS {self.q(k + '__n')}, "
            f"CAST(NULL AS {self.dbl}) AS {self.q(k + '__margin')}, "
            f"CASE WHEN COUNT(v) = 0 THEN MIN(note) END AS {self.q(k + '__note')}, "
            f"CAST(COUNT(*) AS {self.dbl}) AS {self.q(k + '__rows')} FROM ("
            f"SELECT _p{', ' if lv else ''}{', '.join(self.q(c) for c in lv)}, "
            f"{ks.value} AS v, {ks.note} AS note FROM ("
            f"SELECT _p, {unit}{', ' + carry if carry else ''}, {aggs} "
            f"FROM {self.rows(table, {dom: r.domain} if dom else {}, window)} "
            f"GROUP BY _p, {unit}) AS units) AS vals "
            f"GROUP BY {sets}")

    def period_sql(self, items: Sequence[Item], totals: str) -> tuple[str, list]:
        """Period KPIs over the one-row-per-period totals (``totals``: their SQL, see
        :mod:`kpi_xl.engine.totals`); a period lacking any of a KPI's figures has no row
        for it (``__rows`` = 0), rather than an undefined value."""
        rendered, outer = [], []
        for kpi, variant, params in items:
            ks = self.renderer(kpi, variant, params, "period").render()
            rendered.append((kpi, variant, ks))
            outer += self.outer(kpi, ks)
            have = " AND ".join(f"{self.q(c)} IS NOT NULL"
                                for c in BINDINGS[kpi.key].inputs.values())
            outer.append(f"CAST(CASE WHEN {have} THEN 1 ELSE 0 END AS {self.dbl}) AS "
                         f"{self.q(kpi.key + '__rows')}")
        return (f"SELECT period, 'organisation' AS level, 'all' AS member, {', '.join(outer)} "
                f"FROM ({totals}) AS period_totals"), rendered

    def outer(self, kpi: Kpi, ks: KpiSql) -> list[str]:
        k = kpi.key
        null = f"CAST(NULL AS {self.dbl})"
        return [f"{ks.value} AS {self.q(k + '__value')}",
                f"{ks.n or null} AS {self.q(k + '__n')}",
                f"{ks.margin or null} AS {self.q(k + '__margin')}",
                f"{ks.note} AS {self.q(k + '__note')}"] + \
               ([f"{self.q(k + '__rows')}"] if ks.aggregates else [])

    # ------------------------------------------------------------------ input rules
    def check_sql(self, plan: Mapping[str, Sequence[Item]]) -> dict[str, str]:
        """Per row table, the query listing every value that breaks an input rule of a
        planned KPI, one scan per table (:func:`kpi_xl.checks.check_sql`)."""
        return check_sql(plan, self.columns, self.dialect)
