"""The batch engine: every bound KPI, for a period and the ones before it, at
organisation, team, agent and channel level, per member of each dimension the config
declares and per chosen pair of levels, each with its n.

The engine never states a formula. For each table it asks the SQL renderer
(``kpi_xl.render.sql``) for the aggregates of every KPI bound to that table
(``kpi_xl.engine.bindings``), runs them in **one** ``GROUP BY GROUPING SETS`` query per
table (:mod:`.queries`) on its backend (:mod:`.backends`: an embedded DuckDB by default,
or PostgreSQL or Spark, where only the wide answers come back), and reshapes the answers
(:meth:`Prepared.results`, from any executor) into a tidy table
(:mod:`.results`): one row per (period, level, key, KPI) with value, n, margin, the reason
when there is no value, target, status and a low-sample flag. The period KPIs read the
period totals, also SQL (:mod:`.totals`). Because the SQL is standard, the same queries are
what PostgreSQL or Spark SQL run (:meth:`Engine.sql` shows all of it).

Input tables are the canonical tables of ``kpi_xl.data.schema`` (as pandas DataFrames or
paths to Parquet files). A row table's rows are placed in periods by their ``date`` (or,
for a monthly run, by the ``period`` column ``YYYY-MM`` the loader adds). Columns a table
lacks are simply unavailable: KPIs that need them are reported as skipped, with the
reason, never computed from blanks.

The engine holds only the columns it reads (:func:`columns_read`): of each row table, the
bound KPIs' inputs and conditions, the levels, dimensions and pairs it cuts by, what
places a row in a period, the survey answers, what the period totals count and the row's
identity (the checks list rows by it). It copies (or registers) no other column of a
frame, and its view ``src_<table>`` of a Parquet file or a relation read in place names
no other; :attr:`Engine.columns` are the columns it holds. A column it does not read
changes nothing it computes or skips. The roster and the business figures (a row per
agent, per month) are held whole. On the bench export (bench/README.md, "kpi-xl compute
end to end") the loader's contacts have 25 columns, of which the engine holds 23 (not the
loader's ``_source``, nor ``first_reply_at``, which the loader turned into
``first_response_hours``); the export's free text never reaches the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..catalog import CATALOG
from ..checks.embedded import survey_columns
from ..errors import KpiError
from ..frames import only_columns
from ..periods import Period, as_period
from ..render.sql import DIALECTS, Dialect
from .backends import Backend, DuckDBBackend, same_number_text, typed_blanks, view_sql
from .bindings import BINDINGS
from .plan import Item, KpiChoice, make_plan, source_of
from .quantiles import QuantilePolicy
from .queries import LEVELS, PLACES, Grouping, Queries, Window
from .results import Results, assemble, tidy_parts
from .totals import NOT_LOADED, READS, Totals, not_loaded

ROW_TABLES = ("contacts", "surveys", "qa", "wfm")
#: the tables whose rows hold survey answers (the view ``src_survey_rows``, in this order)
SURVEY_SOURCES = ("surveys", "contacts")
#: the survey answers: the columns the KPIs bound to the survey answers read
SURVEY_COLUMNS = survey_columns()
#: a row's identity: its position in its source (``_row``, added by the loader), and the
#: table it comes from where a source holds several (``_table``); the checks list rows
#: by them (:func:`kpi_xl.checks.check_sql`), the survey answers carry ``_row``
IDENTITY = ("_row", "_table")


def columns_read(table: str, keys: Sequence[str], grouping: Grouping) -> frozenset[str]:
    """The columns of the row table ``table`` that some view, query or check of an engine
    computing ``keys`` and cutting by ``grouping`` can read: the bindings' inputs and
    conditions (``where``, ``only``) of the KPIs that read the table (those bound to the
    survey answers read the surveys and the contacts) and the unit of a per-unit KPI
    (:mod:`kpi_xl.bindings`, the catalog); the levels and pairs of ``grouping``; the
    columns placing a row in a period (:data:`~.queries.PLACES`); the survey answers of
    the survey sources; what the period totals count (:data:`~.totals.READS`); the row's
    identity (:data:`IDENTITY`). Derived from those declarations, so a new binding's
    column is read without being listed here."""
    out = {*IDENTITY, *PLACES, *READS.get(table, ())}
    out |= {lv for lv in grouping.levels if lv != "organisation"}
    out |= {c for pair in grouping.pairs for c in pair}
    if table in SURVEY_SOURCES:
        out |= set(SURVEY_COLUMNS)
    for key in keys:
        b = BINDINGS.get(key)
        if b is None or table not in (SURVEY_SOURCES if b.table == "surveys" else (b.table,)):
            continue
        out |= {*b.inputs.values(), *b.where, *b.only}
        if CATALOG[key].per is not None:
            out.add(CATALOG[key].per)
    return frozenset(out)


class Engine:
    """Compute the catalog over canonical tables.

    ``tables`` maps table names to pandas DataFrames or Parquet paths. ``choices`` picks
    variants, options, minimum n and targets per KPI (``KpiChoice``). ``kpis`` limits the
    run to some keys (default: every bound KPI). ``dimensions`` names the extra columns
    (declared in the config, e.g. ``topic``, ``queue``) that results are cut by, besides
    team, agent and channel; ``pairs`` the pairs of levels cut together (``("team",
    "channel")``). ``fiscal_start`` is the month a fiscal year starts (for quarter and year
    labels given as text)."""

    def __init__(self, tables: Mapping[str, Any], *, choices: Mapping[str, KpiChoice] | None = None,
                 kpis: Sequence[str] | None = None, threads: int | None = None,
                 dimensions: Sequence[str] = (), pairs: Sequence[Sequence[str]] = (),
                 fiscal_start: int = 1, backend: Backend | None = None,
                 relations: Mapping[str, str] | None = None,
                 quantiles: QuantilePolicy | None = None):
        # where the SQL runs (kpi_xl.engine.backends): embedded DuckDB unless told otherwise
        self.backend: Backend = backend if backend is not None else DuckDBBackend(threads=threads)
        self.con = getattr(self.backend, "con", None)     # the DuckDB connection, if any
        self.dialect: Dialect = self.backend.dialect      # what the queries are written in
        self.quantiles = quantiles or QuantilePolicy()
        self.quantiles.check(self.dialect)
        self.choices = dict(choices or {})
        for key in self.choices:
            if key not in CATALOG:
                raise KpiError(None, "kpi", "must be a key of the catalog (see `kpi-xl kpis`)", key)
        self.keys = list(kpis) if kpis is not None else [k for k in CATALOG if k in BINDINGS]
        self.dimensions = tuple(dimensions)
        self.pairs = tuple((str(a), str(b)) for a, b in pairs)
        self.fiscal_start = fiscal_start
        #: table -> the columns the engine holds of it (:meth:`reads`): what the queries
        #: read, what planning checks for (a KPI whose column the data lacks is skipped
        #: with that reason; one the data has and no query reads is not held)
        self.columns: dict[str, set[str]] = {}
        self.kinds: dict[str, str] = {}        # column -> kind (kpi_xl.engine.backends)
        self._sources: dict[str, list] = {}     # table -> its columns held (Column)
        self._every: dict[str, bool] = {}       # table -> whether that is all of in_<table>
        # each source as ``in_<table>`` in the backend (a loaded table: of a frame, only
        # the columns read; or a relation read in place), and the view ``src_<table>``
        # the queries read over it (only the columns read)
        for name, data in tables.items():
            if data is None:
                continue
            keep = self.reads(name)
            if keep is not None and not isinstance(data, (str, os.PathLike)):
                data = only_columns(data, keep)
            self.backend.load(f"in_{name}", typed_blanks(name, data))
            self._source(name)
        for name, relation in (relations or {}).items():
            self.backend.relation(f"in_{name}", relation)
            self._source(name)
        self._survey_view()

    def reads(self, table: str) -> frozenset[str] | None:
        """The columns of source ``table`` the engine holds, if present
        (:func:`columns_read`); None for the roster and the business figures (held
        whole)."""
        if table not in ROW_TABLES:
            return None
        return columns_read(table, self.keys, self.grouping)

    def _source(self, name: str) -> None:
        """The view ``src_<name>`` over ``in_<name>``: the columns read (:meth:`reads`; a
        source with none of them, whole), BOOLEAN ones as 1.0/0.0
        (:func:`~.backends.view_sql`)."""
        every = self.backend.columns(f"in_{name}")
        keep = self.reads(name)
        cols = [c for c in every if keep is None or c.name in keep] or every
        self._every[name] = len(cols) == len(every)
        self.backend.temp_view(f"src_{name}", view_sql(f"in_{name}", cols, self.dialect,
                                                       self._every[name]))
        self._sources[name] = cols
        self.columns[name] = {c.name for c in cols}
        for c in cols:
            self.kinds.setdefault(c.name, c.kind)

    def views_sql(self, dialect: str | None = None) -> dict[str, str]:
        """The TEMPORARY views the queries read, by name, written for ``dialect``
        (default: the backend's): ``src_<table>`` over each source ``in_<table>``
        (BOOLEAN flags as 1.0/0.0) and the survey answers ``src_survey_rows``. With
        :meth:`sql`, everything the engine runs."""
        d = self.dialect if dialect is None else _dialect(dialect)
        out = {f"src_{n}": view_sql(f"in_{n}", cols, d, self._every[n])
               for n, cols in self._sources.items()}
        survey = self._survey_sql(d)
        if survey:
            out["src_survey_rows"] = survey
        return out

    @property
    def grouping(self) -> Grouping:
        """Every level results are cut by: the built-in ones, the dimensions, the pairs."""
        return Grouping(LEVELS + tuple(d for d in self.dimensions if d not in LEVELS),
                        self.pairs)

    def queries(self, dialect: Dialect | None = None) -> Queries:
        return Queries(self.columns, dialect or self.dialect, self.choices, self.quantiles)

    # ------------------------------------------------------------------ setup
    def _survey_view(self) -> None:
        """Survey answers from the surveys table and from contact rows, as one table,
        with what places them (period, date) and what cuts them (team, agent, channel and
        the dimensions)."""
        sql = self._survey_sql(self.dialect)
        if sql:
            # TEMPORARY: Spark refuses a persistent view over temporary ones
            self.backend.temp_view("src_survey_rows", sql)
            places, cuts = self._survey_places_and_cuts()
            self.columns["survey_rows"] = {*places, "_table", "_row", *cuts, *SURVEY_COLUMNS}

    def _survey_places_and_cuts(self) -> tuple[list[str], tuple[str, ...]]:
        """The survey view's columns that place an answer (period, date: those some
        survey source has) and that cut it (the levels and the dimensions)."""
        places = [c for c in PLACES
                  if any(c in self.columns.get(n, set()) for n in SURVEY_SOURCES)]
        cuts = ("team", "agent", "channel", *(x for x in self.dimensions if x not in LEVELS))
        return places, cuts

    def _survey_sql(self, d: Dialect) -> str | None:
        parts = []
        places, cuts = self._survey_places_and_cuts()
        for name in SURVEY_SOURCES:
            cols = self.columns.get(name, set())
            have = [c for c in SURVEY_COLUMNS if c in cols]
            if not have or not any(c in cols for c in places):
                continue
            sel = [c if c in cols else f"CAST(NULL AS {'TIMESTAMP' if c == 'date' else d.text}) AS {c}"
                   for c in places]
            sel += [f"'{name}' AS _table"]
            sel += ["_row" if "_row" in cols else "CAST(NULL AS BIGINT) AS _row"]
            sel += [d.ident(c) if c in cols else f"CAST(NULL AS {d.text}) AS {d.ident(c)}"
                    for c in cuts]
            sel += [d.ident(c) if c in cols else f"CAST(NULL AS {d.double}) AS {c}"
                    for c in SURVEY_COLUMNS]
            where = " OR ".join(f"{d.ident(c)} IS NOT NULL" for c in have)
            parts.append(f"SELECT {', '.join(sel)} FROM src_{name} WHERE {where}")
        return " UNION ALL ".join(parts) if parts else None

    # ------------------------------------------------------------------ planning
    def plan(self) -> tuple[dict[str, list[Item]], dict[str, str]]:
        """Which KPIs run on which table, with their variant and params; and which are
        skipped, with the reason."""
        return make_plan(self.keys, self.choices, self.columns)

    def window(self, period: Period | str, count: int | None = None) -> Window:
        """``period`` and the ``count`` before it (default: the grain's history)."""
        p = as_period(period, self.fiscal_start)
        return Window(tuple(p.history() if count is None else p.back(count)))

    def _placed(self, plan: dict[str, list[Item]], skipped: dict[str, str],
                window: Window) -> dict[str, list[Item]]:
        """The plan without the row tables whose rows cannot be placed in the window's
        periods (no date, for a run that is not monthly)."""
        out = {}
        for table, items in plan.items():
            cols = self.columns.get(source_of(table), set())
            if table != "period" and not window.placeable(cols):
                for kpi, _v, _p in items:
                    skipped[kpi.key] = (f"the {table} data has no 'date' column to place its "
                                        f"rows in {window.grain}s")
                continue
            out[table] = items
        return out

    def _period_items(self, items: list[Item], skipped: dict[str, str],
                      totals: Totals) -> list[Item]:
        have = totals.available()
        usable = []
        spans = totals.window.periods
        for kpi, variant, params in items:
            lengths = {len(p.months) if p.months else None for p in spans}
            fill = [ps.name for ps in kpi.params if ps.period_months]
            if fill and (None in lengths or len(lengths) != 1):
                skipped[kpi.key] = (f"it is annualised from whole months, and a "
                                    f"{spans[-1].noun} is not made of whole months")
                continue
            if fill:      # the period's own length: 3 for a quarter, 12 for a year
                months = next(iter(lengths))
                params = {**params, **{name: months for name in fill}}
            inputs = list(BINDINGS[kpi.key].inputs.values())
            missing = [c for c in inputs if have.get(c, NOT_LOADED) == NOT_LOADED]
            why = ([not_loaded(missing)] if missing else []) + \
                [w for c in inputs if (w := have.get(c, NOT_LOADED)) and w != NOT_LOADED]
            if why:
                skipped[kpi.key] = "; ".join(dict.fromkeys(why))
            else:
                usable.append((kpi, variant, params))
        return usable

    # ------------------------------------------------------------------ run
    def prepare(self, period: Period | str, count: int | None = None,
                levels: Sequence[str] | None = None, dialect: str | None = None) -> Prepared:
        """Everything the engine runs for a period (and the ``count`` before it), written
        for ``dialect`` (default: the backend's): one :class:`Statement` per query, and
        what turns their answers into :class:`Results` (:meth:`Prepared.results`). Run the
        statements anywhere (a warehouse, a notebook) and hand the answers back."""
        d = self.dialect if dialect is None else _dialect(dialect)
        q = self.queries(d)
        window = self.window(period, count)
        grouping = self._grouping(levels)
        plan, skipped = self.plan()
        plan = self._placed(plan, skipped, window)
        statements: list[Statement] = []
        for table, items in plan.items():
            if table == "period":
                totals = Totals(self.columns, d, window)
                usable = self._period_items(items, skipped, totals)
                if usable:
                    sql, rendered = q.period_sql(usable, totals.sql())
                    statements.append(Statement("period", sql, rendered, scalar=True))
                continue
            plain = [it for it in items if it[0].per is None]
            if plain:
                sql, rendered = q.table_sql(table, plain, window, grouping)
                statements.append(Statement(table, sql, rendered))
            for kpi, variant, params in items:
                if kpi.per is not None:
                    sql = q.unit_sql(table, kpi, variant, params, window, grouping)
                    statements.append(Statement(f"{table}:{kpi.key}", sql,
                                                [(kpi, variant, None)]))
        return Prepared(statements, window, grouping, skipped, self.choices, d.name,
                        self.quantiles)

    def sql(self, period: Period | str, count: int | None = None,
            levels: Sequence[str] | None = None, dialect: str | None = None) -> dict[str, str]:
        """Everything the engine runs for a period, by table, written for ``dialect``
        (duckdb, postgres or spark; default: the backend's): the row-table queries and
        the period KPIs over the period totals. It reads the views ``src_contacts``,
        ``src_survey_rows``, ``src_qa``, ``src_wfm``, ``src_business`` and ``src_roster``;
        on another engine, create them over your tables with the canonical column names."""
        return {s.name: s.sql for s in self.prepare(period, count, levels, dialect).statements}

    def _grouping(self, levels: Sequence[str] | None) -> Grouping:
        if levels is None:
            return self.grouping
        # the engine holds the columns of its own levels only (columns_read): another
        # column would be no level at all, not an empty one
        known = self.grouping.levels
        other = [lv for lv in levels if lv not in known]
        if other:
            raise ValueError(f"levels: {', '.join(map(repr, other))} is not a level of this "
                             f"engine ({', '.join(known)}); give it as one of its dimensions")
        return Grouping(tuple(levels), tuple(p for p in self.pairs if set(p) <= set(levels)))

    def compute(self, period: Period | str, count: int | None = None,
                levels: Sequence[str] | None = None, progress=None) -> Results:
        """Every planned KPI for ``period`` (a :class:`~kpi_xl.periods.Period` or its
        label: ``2026-10``, ``2026-W44``, ``2026-Q3``...) and the ``count`` periods before
        it (default: the grain's history, 12 months before a month), run on the backend;
        only the wide aggregates come back."""
        prepared = self.prepare(period, count, levels)
        answers = {}
        steps = len(prepared.statements)
        for i, st in enumerate(prepared.statements, 1):
            answers[st.name] = self.backend.query(st.sql)
            if progress:
                progress(i, steps, st.name.split(":")[0])
        return prepared.results(answers)

    def period_totals(self, period: Period | str, count: int | None = None):
        """The period totals the period KPIs read, as a DataFrame (one row per period)."""
        window = self.window(period, count)
        return self.backend.query(Totals(self.columns, self.dialect, window).sql())

    # ------------------------------------------------------------------ input rules
    def check_sql(self, dialect: str | None = None) -> dict[str, str]:
        """Per row table, the query listing every value that breaks an input rule of a
        planned KPI, one scan per table (:func:`kpi_xl.checks.check_sql`), written for
        ``dialect`` (duckdb, postgres or spark; default: the engine's own)."""
        if dialect is not None and dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
        return self.queries(DIALECTS[dialect] if dialect else None).check_sql(self.plan()[0])

    def check(self):
        """Run :meth:`check_sql`: one DataFrame of rule breaks per row table."""
        # numbers' text as every backend reports it ('-2.0', never PostgreSQL's '-2')
        return {t: same_number_text(self.backend.query(q), self.kinds)
                for t, q in self.check_sql().items()}


def _dialect(name: str) -> Dialect:
    if name not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, got {name!r}")
    return DIALECTS[name]


@dataclass
class Statement:
    """One query the engine runs: its name (the table, ``contacts:qa_score`` for a
    per-unit KPI, ``period`` for the period KPIs), its SQL, and what its columns hold."""
    name: str
    sql: str
    rendered: list
    scalar: bool = False


@dataclass
class Prepared:
    """The statements of a run and what turns their answers into results."""
    statements: list[Statement]
    window: Window
    grouping: Grouping
    skipped: dict[str, str]
    choices: Mapping[str, KpiChoice]
    dialect: str = "duckdb"
    quantiles: QuantilePolicy | None = None

    def results(self, answers: Mapping[str, Any]) -> Results:
        """The tidy :class:`Results` (targets, status, low-sample flags, notes) from the
        wide answers of the statements, by statement name, as pandas DataFrames (from
        any executor: DuckDB, psycopg, Spark's ``toPandas()``...). Every statement must
        have its answer."""
        missing = [s.name for s in self.statements if s.name not in answers]
        if missing:
            raise ValueError(f"no answer for the statement(s) {', '.join(missing)}")
        frames = [tidy_parts(answers[s.name], s.rendered, self.choices, scalar=s.scalar)
                  for s in self.statements]
        last = self.window.periods[-1]
        table = assemble([f for f in frames if f is not None], self.grouping.names(),
                         self.window.labels)
        return Results(table, last.label, self.window.labels, dict(self.skipped), last.grain,
                       last.fiscal_start)


def results_from_wide(prepared: Prepared, answers: Mapping[str, Any]) -> Results:
    """The tidy results from wide aggregates computed anywhere (see
    :meth:`Prepared.results`)."""
    return prepared.results(answers)


def compute(tables: Mapping[str, Any], month: Period | str, *, count: int | None = None,
            choices: Mapping[str, KpiChoice] | None = None,
            levels: Sequence[str] | None = None, kpis: Sequence[str] | None = None,
            dimensions: Sequence[str] = (), pairs: Sequence[Sequence[str]] = ()) -> Results:
    """One call: every bound KPI for a period and the ones before it."""
    return Engine(tables, choices=choices, kpis=kpis, dimensions=dimensions,
                  pairs=pairs).compute(month, count, levels)
