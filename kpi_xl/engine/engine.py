"""The batch engine: every bound KPI, for a month and the 12 before it, at organisation,
team, agent and channel level, each with its n.

The engine never states a formula. For each table it asks the SQL renderer
(``kpi_xl.render.sql``) for the aggregates of every KPI bound to that table
(``kpi_xl.engine.bindings``), runs them in **one** ``GROUP BY GROUPING SETS`` query per
table on an embedded DuckDB, and reshapes the answer into a tidy table: one row per
(period, level, key, KPI) with value, n, margin, the reason when there is no value,
target, status and a low-sample flag. Because the SQL is standard, the same queries are
what a warehouse or Spark SQL would run (:meth:`Engine.sql` shows them).

Input tables are the canonical tables of ``kpi_xl.data.schema`` (as pandas DataFrames or
paths to Parquet files), each row table with a ``period`` column (``YYYY-MM``) that the
loader adds. Columns a table lacks are simply unavailable: KPIs that need them are
reported as skipped, with the reason, never computed from blanks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..catalog import CATALOG
from ..catalog.spec import Kpi, Variant, formula_columns
from ..catalog.rules import resolve_params
from ..errors import KpiError
from ..render.sql import (DIALECTS, DUCKDB, Dialect, KpiSql, SqlRenderer, exact_sum,
                          quote_text)
from .bindings import BINDINGS, NOT_IN_ENGINE

LEVELS = ("organisation", "team", "agent", "channel")
ROW_TABLES = ("contacts", "surveys", "qa")
SURVEY_COLUMNS = ("nps", "csat", "ces")
#: ``key`` names the member of the level: a team, an agent, a channel, or 'all'
TIDY_COLUMNS = ("period", "level", "key", "kpi", "variant", "value", "n", "margin",
                "target", "status", "low_sample", "note", "title", "unit", "number_format",
                "direction")


@dataclass(frozen=True)
class KpiChoice:
    """How the run computes one KPI: the variant and options (None: the declaration's
    defaults), the minimum n below which results are flagged, the target, and targets per
    team or channel name."""
    variant: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    min_n: int | None = None
    target: float | None = None
    targets: Mapping[str, float] = field(default_factory=dict)


def months_back(month: str, count: int) -> list[str]:
    """``month`` and the ``count`` months before it, oldest first."""
    try:
        y, m = (int(x) for x in month.split("-"))
        if not 1 <= m <= 12 or len(month) != 7:
            raise ValueError
    except ValueError:
        raise ValueError(f"month must look like 2026-10, got {month!r}") from None
    out = []
    for i in range(count, -1, -1):
        k = y * 12 + (m - 1) - i
        out.append(f"{k // 12:04d}-{k % 12 + 1:02d}")
    return out


@dataclass
class Results:
    """The engine's answer: a tidy DataFrame plus what was not computed and why."""
    table: Any                       # pandas.DataFrame with TIDY_COLUMNS
    month: str
    periods: list[str]
    skipped: dict[str, str]          # kpi key -> reason

    def value(self, kpi: str, level: str = "organisation", key: str = "all",
              period: str | None = None) -> float | None:
        t = self.table
        row = t[(t.kpi == kpi) & (t.level == level) & (t["key"] == key)
                & (t.period == (period or self.month))]
        if row.empty:
            return None
        v = float(row.iloc[0]["value"])
        return None if math.isnan(v) else v

    def write_csv(self, path: str | os.PathLike) -> str:
        """The tidy table as CSV (UTF-8 with BOM, for Excel). Names from the data are
        written so that no spreadsheet runs them as formulas."""
        from ..files import open_replacing

        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        t = self.table.copy()
        for c in ("key", "note"):
            t[c] = [_safe_text(v) if isinstance(v, str) else "" for v in t[c].astype(object)]
        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            t.to_csv(f, index=False)
        write_results_json(self, os.path.splitext(path)[0] + ".json")  # unescaped, for programs
        return path

    def frame(self, level: str | None = None, period: str | None = None):
        t = self.table
        if level is not None:
            t = t[t.level == level]
        if period is not None:
            t = t[t.period == period]
        return t.reset_index(drop=True)


def write_results_json(results: Results, path: str | os.PathLike) -> str:
    """The tidy table as JSON beside the CSV, names exactly as in the data (``+44 Sales``,
    not the CSV's ``'+44 Sales``): what programs (the mail step) read back, with
    ``read_results_json``. {month, periods, skipped, columns, rows}; NaN is null."""
    import json

    from ..files import open_replacing

    t = results.table
    rows = []
    for r in t[list(TIDY_COLUMNS)].astype(object).itertuples(index=False, name=None):
        rows.append([None if isinstance(v, float) and math.isnan(v) else
                     (v.item() if hasattr(v, "item") else v) for v in r])
    doc = {"month": results.month, "periods": list(results.periods),
           "skipped": dict(results.skipped), "columns": list(TIDY_COLUMNS), "rows": rows}
    path = os.fspath(path)
    with open_replacing(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, allow_nan=False)
    return path


def read_results_json(path: str | os.PathLike) -> Results:
    import json

    import pandas as pd

    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    t = pd.DataFrame(doc["rows"], columns=doc["columns"])
    for c in ("value", "n", "margin", "target"):
        t[c] = pd.to_numeric(t[c], errors="coerce").astype(float)
    for c in ("period", "level", "key", "kpi", "variant", "status", "note", "title", "unit",
              "number_format", "direction"):
        t[c] = [float("nan") if v is None or v == "" else str(v) for v in t[c]]  # as read_csv
    t["low_sample"] = t["low_sample"].astype(bool)
    return Results(t, doc["month"], list(doc["periods"]), dict(doc["skipped"]))


class Engine:
    """Compute the catalog over canonical tables.

    ``tables`` maps table names to pandas DataFrames or Parquet paths. ``choices`` picks
    variants, options, minimum n and targets per KPI (``KpiChoice``). ``kpis`` limits the
    run to some keys (default: every bound KPI)."""

    def __init__(self, tables: Mapping[str, Any], *, choices: Mapping[str, KpiChoice] | None = None,
                 kpis: Sequence[str] | None = None, threads: int | None = None):
        import duckdb  # the engine's one heavy dependency, imported where it is used

        self.con = duckdb.connect()
        self.dialect: Dialect = DUCKDB      # what the queries are written in (see sql())
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.choices = dict(choices or {})
        for key in self.choices:
            if key not in CATALOG:
                raise KpiError(None, "kpi", "must be a key of the catalog (see `kpi-xl kpis`)", key)
        self.keys = list(kpis) if kpis is not None else [k for k in CATALOG if k in BINDINGS]
        self.columns: dict[str, set[str]] = {}
        for name, data in tables.items():
            if data is None:
                continue
            view = f"src_{name}"
            if isinstance(data, (str, os.PathLike)):
                self.con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet("
                                 f"{quote_text(os.fspath(data))})")
            else:
                self.con.register(view, data)
            cols = [r[0] for r in self.con.execute(f"DESCRIBE {view}").fetchall()]
            self.columns[name] = set(cols)
        self._survey_view()

    # ------------------------------------------------------------------ dialect
    def q(self, name: str) -> str:
        return self.dialect.ident(name)

    @property
    def dbl(self) -> str:
        return self.dialect.double

    @property
    def txt(self) -> str:
        return self.dialect.text

    # ------------------------------------------------------------------ setup
    def _survey_view(self) -> None:
        """Survey answers from the surveys table and from contact rows, as one table."""
        parts = []
        for name in ("surveys", "contacts"):
            cols = self.columns.get(name, set())
            have = [c for c in SURVEY_COLUMNS if c in cols]
            if not have or "period" not in cols:
                continue
            sel = ["period", f"'{name}' AS _table"]
            sel += ["_row" if "_row" in cols else "CAST(NULL AS BIGINT) AS _row"]
            sel += [self.q(c) if c in cols else f"CAST(NULL AS {self.txt}) AS {c}"
                                for c in ("team", "agent", "channel")]
            sel += [self.q(c) if c in cols else f"CAST(NULL AS {self.dbl}) AS {c}"
                    for c in SURVEY_COLUMNS]
            where = " OR ".join(f"{self.q(c)} IS NOT NULL" for c in have)
            parts.append(f"SELECT {', '.join(sel)} FROM src_{name} WHERE {where}")
        if parts:
            self.con.execute("CREATE VIEW src_survey_rows AS " + " UNION ALL ".join(parts))
            self.columns["survey_rows"] = {"period", "team", "agent", "channel", "_table", "_row",
                                           *SURVEY_COLUMNS}

    def _source(self, table: str) -> str:
        return "survey_rows" if table == "surveys" else table

    # ------------------------------------------------------------------ planning
    def plan(self) -> tuple[dict[str, list[tuple[Kpi, Variant, dict]]], dict[str, str]]:
        """Which KPIs run on which table, with their variant and params; and which are
        skipped, with the reason."""
        plan: dict[str, list] = {}
        skipped: dict[str, str] = {}
        for key in self.keys:
            kpi = CATALOG[key]
            if key not in BINDINGS:
                skipped[key] = NOT_IN_ENGINE.get(key, "not bound to any table")
                continue
            b = BINDINGS[key]
            choice = self.choices.get(key, KpiChoice())
            variant = kpi.variant(choice.variant)
            params = resolve_params(kpi, variant, dict(choice.params))
            if b.table == "period":
                plan.setdefault("period", []).append((kpi, variant, params))
                continue
            cols = self.columns.get(self._source(b.table))
            if cols is None:
                skipped[key] = f"no {b.table} data was loaded"
                continue
            used = formula_columns(variant.formula)
            missing = [b.inputs[i.name] for i in kpi.column_inputs
                       if i.name in used and not i.optional and b.inputs[i.name] not in cols]
            missing += [b.inputs[i.name] for i in kpi.column_inputs
                        if i.name in used and i.optional and i.default_value is None
                        and b.inputs[i.name] not in cols]
            if missing:
                skipped[key] = (f"the {b.table} data has no "
                                + " or ".join(f"'{m}'" for m in missing) + " column")
                continue
            plan.setdefault(b.table, []).append((kpi, variant, params))
        return plan, skipped

    def _renderer(self, kpi: Kpi, variant: Variant, params: dict, table: str, *,
                  rules: bool = True) -> SqlRenderer:
        """The KPI's SQL renderer over ``table``. Its domain (the rows that count, in every
        aggregate and in n) leaves out the rows that break one of the KPI's own input
        rules (:meth:`rules`): such a row leaves this KPI only and stays in the others
        (an answered call without a queue wait leaves ASA and service level, not
        abandonment). ``rules=False``: the domain before that (what the rules look at)."""
        b = BINDINGS[kpi.key]
        cols = self.columns.get(self._source(table), set())
        bound = {i: self.q(c) for i, c in b.inputs.items() if c in cols}
        scalars = {i: self.q(c) for i, c in b.inputs.items()} if table == "period" else None
        where = [f"{self.q(c)} IS NOT NULL" for c in b.where]

        def make(conds: list[str], domain: str | None = None) -> SqlRenderer:
            return SqlRenderer(kpi, variant, columns={} if table == "period" else bound,
                               scalars=scalars, params=params,
                               where=" AND ".join(conds) or None, domain=domain,
                               dialect=self.dialect)

        base = make(where)
        if not rules or table == "period":
            return base
        broken = [cond for cond, _column, _rule in self.rules(base, kpi, variant, params)]
        # a comparison with NULL is NULL, not false: a row the rule cannot judge breaks none
        return make(where + [f"NOT COALESCE(({c}), FALSE)" for c in broken]) if broken else base

    def _domain_column(self, kpi: Kpi, variant: Variant, params: dict,
                       table: str) -> tuple[SqlRenderer, str | None]:
        """The KPI's renderer for a query over rows, and the SQL of its domain when the
        query computes that once per row (None: the domain is short, left inline). A KPI
        with input rules has a long domain (its bound columns, its ``where``, and
        ``NOT COALESCE((rule), FALSE)`` per rule, see :meth:`_renderer`); the query
        computes it as the boolean column ``<key>__in`` of an inner SELECT (KPIs with the
        same domain share one column), and every aggregate of the KPI tests that column
        instead of repeating the condition. Same rows, same semantics; and since no row
        of that domain breaks a row rule, the renderer leaves out the counts of broken
        rows, which would be 0 in every group."""
        base = self._renderer(kpi, variant, params, table, rules=False)
        r = self._renderer(kpi, variant, params, table)
        if r.domain == base.domain:
            return r, None                       # no rules: the domain is short already
        col = self.q(kpi.key + "__in")
        return SqlRenderer(kpi, variant, columns=base.columns, params=params, domain=col,
                           rules_in_domain=True, dialect=self.dialect), r.domain

    def _rows(self, table: str, domains: Mapping[str, str], period_list: str) -> str:
        """The rows of ``table`` for the periods, with the per-row domain columns
        (``domains``: domain SQL -> column name)."""
        extra = "".join(f", {sql} AS {col}" for sql, col in domains.items())
        return (f"(SELECT *{extra} FROM src_{self._source(table)} "
                f"WHERE period IN ({period_list})) AS src")

    def rules(self, base: SqlRenderer, kpi: Kpi, variant: Variant,
              params: dict) -> list[tuple[str, str, str]]:
        """The KPI's input rules as the catalog states them (:mod:`kpi_xl.catalog.rules`:
        ranges, 'must not be blank where…', labels that must have an entry), over the
        columns it is bound to: (SQL condition true on a row that breaks the rule,
        canonical column, the rule in words). ``base`` is the KPI's renderer without rules
        (its domain is where the rules are judged)."""
        b = BINDINGS[kpi.key]
        out = []
        for rule, cond in base.row_checks():
            column = b.inputs[rule.input]
            words = f"'{rule.input}' {rule.sentence}"
            for name, other in b.inputs.items():     # input names -> column names
                words = words.replace(f"'{name}'", f"'{other}'")
            out.append((cond, column, words))
        return out

    # ------------------------------------------------------------------ SQL
    def _levels(self, table: str, levels: Sequence[str]) -> list[str]:
        cols = self.columns[self._source(table)]
        return [lv for lv in levels if lv != "organisation" and lv in cols]

    def _grouping(self, levels: list[str]) -> tuple[str, str, str]:
        sets = ["(period)"] + [f"(period, {self.q(lv)})" for lv in levels]
        level = "CASE " + " ".join(f"WHEN GROUPING({self.q(lv)}) = 0 THEN '{lv}'"
                                   for lv in levels) + " ELSE 'organisation' END" if levels \
            else "'organisation'"
        member = "CASE " + " ".join(
            f"WHEN GROUPING({self.q(lv)}) = 0 THEN COALESCE(CAST({self.q(lv)} AS {self.txt}), "
            f"'(no {lv})')" for lv in levels) + " ELSE 'all' END" if levels else "'all'"
        return "GROUPING SETS (" + ", ".join(sets) + ")", level, member

    def table_sql(self, table: str, items: list, periods: list[str],
                  levels: Sequence[str] = LEVELS) -> tuple[str, list[tuple[Kpi, Variant, KpiSql]]]:
        """One query for every KPI bound to a row table."""
        lv = self._levels(table, levels)
        sets, level, member = self._grouping(lv)
        period_list = ", ".join(quote_text(p) for p in periods)
        rendered, inner, outer = [], [], []
        domains: dict[str, str] = {}          # domain SQL -> its column (shared by KPIs)
        for kpi, variant, params in items:
            r, dom = self._domain_column(kpi, variant, params, table)
            if dom:
                r.domain = domains.setdefault(dom, r.domain)
            ks = r.render()
            rendered.append((kpi, variant, ks))
            inner += [f"{sql} AS {alias}" for alias, sql in ks.aggregates.items()]
            inner.append(f"CAST(COUNT(CASE WHEN {r.domain} THEN 1 END) AS {self.dbl}) AS "
                         f"{self.q(kpi.key + '__rows')}")
            outer += self._outer(kpi, ks)
        sql = (f"SELECT period, level, member, {', '.join(outer)} FROM ("
               f"SELECT period, {level} AS level, {member} AS member, {', '.join(inner)} "
               f"FROM {self._rows(table, domains, period_list)} GROUP BY {sets}) AS agg")
        return sql, rendered

    def unit_sql(self, table: str, kpi: Kpi, variant: Variant, params: dict,
                 periods: list[str], levels: Sequence[str] = LEVELS) -> str:
        """A per-unit KPI (QA score per evaluation): the formula per unit, then the mean of
        the units' values per group; n is the number of units with a value."""
        lv = self._levels(table, levels)
        sets, level, member = self._grouping(lv)
        r, dom = self._domain_column(kpi, variant, params, table)
        ks = r.render()
        unit = self.q(kpi.per)
        carry = ", ".join(f"MIN({self.q(c)}) AS {self.q(c)}" for c in lv)
        aggs = ", ".join(f"{sql} AS {alias}" for alias, sql in ks.aggregates.items())
        period_list = ", ".join(quote_text(p) for p in periods)
        k = kpi.key
        return (
            f"SELECT period, {level} AS level, {member} AS member, "
            f"{exact_sum('v', self.dialect)} / COUNT(v) AS {self.q(k + '__value')}, "
            f"CAST(COUNT(v) AS {self.dbl}) AS {self.q(k + '__n')}, "
            f"CAST(NULL AS {self.dbl}) AS {self.q(k + '__margin')}, "
            f"CASE WHEN COUNT(v) = 0 THEN MIN(note) END AS {self.q(k + '__note')}, "
            f"CAST(COUNT(*) AS {self.dbl}) AS {self.q(k + '__rows')} FROM ("
            f"SELECT period{', ' if lv else ''}{', '.join(self.q(c) for c in lv)}, "
            f"{ks.value} AS v, {ks.note} AS note FROM ("
            f"SELECT period, {unit}{', ' + carry if carry else ''}, {aggs} "
            f"FROM {self._rows(table, {dom: r.domain} if dom else {}, period_list)} "
            f"GROUP BY period, {unit}) AS units) AS vals "
            f"GROUP BY {sets}")

    def period_sql(self, items: list, periods: list[str]) -> tuple[str, list]:
        """Period KPIs over the one-row-per-month totals; a month lacking any of a KPI's
        figures has no row for it (``__rows`` = 0), rather than an undefined value."""
        rendered, outer = [], []
        for kpi, variant, params in items:
            ks = self._renderer(kpi, variant, params, "period").render()
            rendered.append((kpi, variant, ks))
            outer += self._outer(kpi, ks)
            have = " AND ".join(f"{self.q(c)} IS NOT NULL"
                                for c in BINDINGS[kpi.key].inputs.values())
            outer.append(f"CAST(CASE WHEN {have} THEN 1 ELSE 0 END AS {self.dbl}) AS "
                         f"{self.q(kpi.key + '__rows')}")
        return (f"SELECT period, 'organisation' AS level, 'all' AS member, {', '.join(outer)} "
                f"FROM period_totals"), rendered

    def _outer(self, kpi: Kpi, ks: KpiSql) -> list[str]:
        k = kpi.key
        null = f"CAST(NULL AS {self.dbl})"
        return [f"{ks.value} AS {self.q(k + '__value')}",
                f"{ks.n or null} AS {self.q(k + '__n')}",
                f"{ks.margin or null} AS {self.q(k + '__margin')}",
                f"{ks.note} AS {self.q(k + '__note')}"] + \
               ([f"{self.q(k + '__rows')}"] if ks.aggregates else [])

    # ------------------------------------------------------------------ input rules
    def check_sql(self) -> dict[str, str]:
        """Per row table, a query listing every value that breaks an input rule of a
        planned KPI (ranges, 'must not be blank where…'), as the catalog declares them:
        columns ``_row`` (the row's identity, added by the loader), ``column``, ``value``,
        ``rule`` and ``kpis`` (the titles of the KPIs the rule belongs to). A row listed
        here is outside those KPIs' domains (see :meth:`_renderer`) and in every other
        KPI's; the data layer lists it in the rejects report."""
        plan, _ = self.plan()
        out: dict[str, str] = {}
        for table, items in plan.items():
            if table == "period":
                continue
            src = self._source(table)
            if "_row" not in self.columns.get(src, set()):
                continue
            tag = "_table" if "_table" in self.columns[src] else f"{quote_text(table)} AS _table"
            # (condition, canonical column, rule in words) -> titles of the KPIs needing it
            checks: dict[tuple[str, str, str], list[str]] = {}
            for kpi, variant, params in items:
                base = self._renderer(kpi, variant, params, table, rules=False)
                for rule in self.rules(base, kpi, variant, params):
                    checks.setdefault(rule, []).append(kpi.title)
            parts = []
            for (cond, column, rule), titles in checks.items():
                value = f"CAST({self.q(column)} AS {self.txt})"
                kpis = ", ".join(dict.fromkeys(titles))
                parts.append(f"SELECT {tag}, _row, {quote_text(column)} AS {self.q('column')}, "
                             f"{value} AS value, {quote_text(rule)} AS rule, "
                             f"{quote_text(kpis)} AS kpis FROM src_{src} WHERE {cond}")
            if parts:
                out[table] = " UNION ALL ".join(parts)
        return out

    def check(self):
        """Run :meth:`check_sql`: one DataFrame of rule breaks per row table."""
        return {t: self.con.execute(q).df() for t, q in self.check_sql().items()}

    # ------------------------------------------------------------------ period totals
    def _period_totals(self, periods: list[str]):
        """One row per period: business figures, plus counts derived from the row tables
        (contacts handled, agents active, survey responses) and the roster (headcount,
        leavers)."""
        import pandas as pd

        out = pd.DataFrame({"period": periods})
        if "business" in self.columns:
            b = self.con.execute("SELECT * FROM src_business").df()
            b = b.rename(columns={"month": "period"})
            if "customers_lost" not in b.columns and {"customers_start", "customers_new",
                                                      "customers_end"} <= set(b.columns):
                b["customers_lost"] = b.customers_start + b.customers_new - b.customers_end
            out = out.merge(b, on="period", how="left")
        cols = self.columns.get("contacts", set())
        if "handled" in cols:
            agent = "COUNT(DISTINCT CASE WHEN handled = 1 THEN agent END)" if "agent" in cols \
                else "NULL"
            c = self.con.execute(
                f"SELECT period, CAST(COUNT(CASE WHEN handled = 1 THEN 1 END) AS DOUBLE) AS "
                f"contacts_handled, CAST({agent} AS DOUBLE) AS agents_active FROM src_contacts "
                f"GROUP BY period").df()
            out = out.merge(c, on="period", how="left")
        if "survey_rows" in self.columns:
            s = self.con.execute("SELECT period, CAST(COUNT(*) AS DOUBLE) AS survey_responses "
                                 "FROM src_survey_rows GROUP BY period").df()
            out = out.merge(s, on="period", how="left")
        if "roster" in self.columns:
            out = out.merge(self._roster_counts(periods), on="period", how="left")
        return out

    def _roster_counts(self, periods: list[str]):
        import pandas as pd

        r = self.con.execute("SELECT * FROM src_roster").df()
        none = pd.Series(pd.NaT, index=r.index)
        hired = pd.to_datetime(r["hired"] if "hired" in r else none)
        left = pd.to_datetime(r["left"] if "left" in r else none)

        def on(day) -> float:
            """Headcount on a day: hired by then, and not gone before it."""
            return float(((hired.isna() | (hired <= day)) & (left.isna() | (left >= day))).sum())

        rows = []
        for p in periods:
            first = pd.Timestamp(p + "-01")
            last = first + pd.offsets.MonthEnd(0)
            # at the end of the month: someone whose last day is that day has gone
            rows.append({"period": p, "headcount_start": on(first),
                         "headcount_end": on(last) - float((left == last).sum()),
                         "leavers": float(((left >= first) & (left <= last)).sum())})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ run
    def sql(self, month: str, count: int = 12, levels: Sequence[str] = LEVELS,
            dialect: str = "duckdb") -> dict[str, str]:
        """The SQL the engine runs for a month, by table, written for ``dialect``
        (duckdb, postgres or spark). It reads the views ``src_contacts``,
        ``src_survey_rows``, ``src_qa`` and ``period_totals``; on another engine, create
        them over your tables with the canonical column names."""
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
        saved, self.dialect = self.dialect, DIALECTS[dialect]
        try:
            return self._sql(month, count, levels)
        finally:
            self.dialect = saved

    def _sql(self, month: str, count: int, levels: Sequence[str]) -> dict[str, str]:
        periods = months_back(month, count)
        plan, _ = self.plan()
        out = {}
        for table, items in plan.items():
            if table == "period":
                out["period"] = self.period_sql(items, periods)[0]
                continue
            plain = [it for it in items if it[0].per is None]
            if plain:
                out[table] = self.table_sql(table, plain, periods, levels)[0]
            for kpi, variant, params in items:
                if kpi.per is not None:
                    out[f"{table}:{kpi.key}"] = self.unit_sql(table, kpi, variant, params,
                                                               periods, levels)
        return out

    def compute(self, month: str, count: int = 12, levels: Sequence[str] = LEVELS,
                progress=None) -> Results:
        """Every planned KPI for ``month`` and the ``count`` months before it."""

        periods = months_back(month, count)
        plan, skipped = self.plan()
        frames = []
        steps = sum(len(v) if k == "period" else 1 for k, v in plan.items())
        done = 0
        for table, items in plan.items():
            if table == "period":
                totals = self._period_totals(periods)
                self.con.register("period_totals", totals)
                have = set(totals.columns)
                usable = []
                for kpi, variant, params in items:
                    missing = [c for c in BINDINGS[kpi.key].inputs.values() if c not in have]
                    if missing:
                        skipped[kpi.key] = ("no " + " or ".join(f"'{m}'" for m in missing)
                                            + " figure was loaded")
                    else:
                        usable.append((kpi, variant, params))
                if usable:
                    sql, rendered = self.period_sql(usable, periods)
                    wide = self.con.execute(sql).df()
                    frames.append(self._tidy(wide, rendered, scalar=True))
                done += len(items)
                continue
            plain = [it for it in items if it[0].per is None]
            if plain:
                sql, rendered = self.table_sql(table, plain, periods, levels)
                frames.append(self._tidy(self.con.execute(sql).df(), rendered))
            for kpi, variant, params in items:
                if kpi.per is not None:
                    sql = self.unit_sql(table, kpi, variant, params, periods, levels)
                    frames.append(self._tidy(self.con.execute(sql).df(),
                                             [(kpi, variant, None)]))
            done += 1
            if progress:
                progress(done, steps, table)
        table = _assemble([f for f in frames if f is not None])
        return Results(table, month, periods, skipped)

    def _tidy(self, wide, rendered, scalar: bool = False) -> dict | None:
        """The tidy rows of one query's wide answer, as arrays: positions into the wide
        rows (for period, level, member), the KPI's position in the catalog, and the
        numbers. Text columns are built once, as categoricals, in :func:`_assemble`."""
        import numpy as np

        if not rendered:
            return None
        parts: dict[str, list] = {c: [] for c in ("row", "kpi", "variant", "value", "n",
                                                   "margin", "target", "status", "low",
                                                   "note")}
        members = wide["member"].to_numpy(dtype=object)
        for kpi, variant, _ks in rendered:
            k = kpi.key
            value = wide[k + "__value"].to_numpy(dtype=float)
            note = wide[k + "__note"].to_numpy(dtype=object)
            if k + "__rows" in wide:
                keep = wide[k + "__rows"].to_numpy(dtype=float) > 0
            elif scalar:   # a month without the figures is not a month with an undefined KPI
                keep = ~np.isnan(value) | (note != None)  # noqa: E711 (elementwise)
            else:
                keep = np.ones(len(value), bool)
            rows = np.flatnonzero(keep)
            choice = self.choices.get(k, KpiChoice())
            default = choice.target if choice.target is not None else kpi.target_of(variant)
            target = np.full(len(rows), np.nan if default is None else float(default))
            for name, t in choice.targets.items():
                target[members[rows] == name] = float(t)
            v = value[rows]
            n = wide[k + "__n"].to_numpy(dtype=float)[rows]
            direction = kpi.direction_of(variant)
            min_n = choice.min_n if choice.min_n is not None else kpi.min_n
            parts["row"].append(rows)
            parts["kpi"].append(np.full(len(rows), _KPI_INDEX[k], dtype=np.int16))
            parts["variant"].append(variant.name)
            parts["value"].append(v)
            parts["n"].append(n)
            parts["margin"].append(wide[k + "__margin"].to_numpy(dtype=float)[rows])
            parts["target"].append(target)
            parts["status"].append(status_codes(v, target, direction))
            parts["low"].append(n < min_n if min_n is not None else np.zeros(len(rows), bool))
            parts["note"].append(note[rows])
        return {"wide": wide[["period", "level", "member"]], "parts": parts}


_KPI_INDEX = {k: i for i, k in enumerate(CATALOG)}
_STATUS = ("", "on target", "off target")


def status_codes(value, target, direction: str):
    """:func:`kpi_xl.catalog.spec.status` over arrays, as positions in ``_STATUS``
    (a test holds the two equal)."""
    import numpy as np

    out = np.zeros(len(value), dtype=np.int8)
    if direction == "neutral":
        return out
    has = ~np.isnan(value) & ~np.isnan(target)
    with np.errstate(invalid="ignore"):
        ok = value >= target if direction == "higher" else value <= target
    out[has & ok] = 1
    out[has & ~ok] = 2
    return out


def status_array(value, target, direction: str):
    import numpy as np

    return np.array(_STATUS, dtype=object)[status_codes(value, target, direction)]


def _assemble(frames: list[dict]):
    """One tidy DataFrame (text columns categorical), ordered by period, level, key,
    then catalog order."""
    import numpy as np
    import pandas as pd

    if not frames:
        return pd.DataFrame(columns=list(TIDY_COLUMNS))
    keys = pd.concat([f["wide"] for f in frames], ignore_index=True)
    offsets = np.cumsum([0] + [len(f["wide"]) for f in frames])[:-1]
    row = np.concatenate([o + r for f, o in zip(frames, offsets, strict=True)
                          for r in f["parts"]["row"]])

    def cat(name):
        return np.concatenate([a for f in frames for a in f["parts"][name]])

    kpi = cat("kpi")
    # a KPI whose query kept no row (a mapped column blank on every row) has an empty
    # part: it names no KPI, so it must not lend its variant to another one
    var_of = {int(a[0]): v for f in frames
              for a, v in zip(f["parts"]["kpi"], f["parts"]["variant"], strict=True) if len(a)}
    keys = keys.iloc[row].reset_index(drop=True)
    period = pd.Categorical(keys["period"].astype(str))
    member = pd.Categorical(keys["member"].astype(str))
    level = pd.Categorical(keys["level"].astype(str), categories=list(LEVELS))
    idx = np.lexsort((kpi, member.codes, np.asarray(level.codes), period.codes))
    used = sorted(set(kpi.tolist()))
    keys_list = list(CATALOG)
    meta = {k: CATALOG[keys_list[k]] for k in used}

    def per_kpi(fn):
        cats = list(dict.fromkeys(fn(k) for k in used))
        lut = np.array([cats.index(fn(k)) if k in meta else -1 for k in range(len(keys_list))])
        return pd.Categorical.from_codes(lut[kpi][idx], categories=cats)

    def variant_of(k):
        return meta[k].variant(var_of[k])

    note = np.array([x if isinstance(x, str) else "" for x in cat("note")[idx]], dtype=object)
    return pd.DataFrame({
        "period": period[idx], "level": level[idx], "key": member[idx],
        "kpi": per_kpi(lambda k: keys_list[k]),
        "variant": per_kpi(lambda k: var_of[k]),
        "value": cat("value")[idx], "n": cat("n")[idx], "margin": cat("margin")[idx],
        "target": cat("target")[idx],
        "status": pd.Categorical.from_codes(cat("status")[idx], categories=list(_STATUS)),
        "low_sample": cat("low")[idx],
        "note": pd.Categorical(note),
        "title": per_kpi(lambda k: meta[k].title),
        "unit": per_kpi(lambda k: meta[k].unit_of(variant_of(k))),
        "number_format": per_kpi(lambda k: meta[k].format_of(variant_of(k))),
        "direction": per_kpi(lambda k: meta[k].direction_of(variant_of(k))),
    })


from ..text import csv_safe as _safe_text  # noqa: E402  (one escaping rule: kpi_xl.text)


def compute(tables: Mapping[str, Any], month: str, *, count: int = 12,
            choices: Mapping[str, KpiChoice] | None = None,
            levels: Sequence[str] = LEVELS, kpis: Sequence[str] | None = None) -> Results:
    """One call: every bound KPI for ``month`` and the ``count`` months before it."""
    return Engine(tables, choices=choices, kpis=kpis).compute(month, count, levels)
