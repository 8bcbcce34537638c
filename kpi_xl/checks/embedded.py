"""The input-rule checks run on an embedded DuckDB, over the loader's tables.

Each table a check reads is given to DuckDB **once**, as the columns the rules read and
each row's position (``_row``), and is read by **one** query
(:func:`kpi_xl.checks.sql.scan_sql`) whatever the number of rules: the rules of the KPIs
bound to the table and, on contact rows, those of the survey KPIs (the answers on contact
rows are survey answers too; the engine reads them through its survey view). Only those
columns reach DuckDB: with pyarrow installed, pandas keeps text as Arrow arrays, and a
scan of a whole frame converted every text column of it (the check used to do that once
per rule). Nothing here imports the engine: the loader runs the checks before any engine
exists.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..bindings import BINDINGS
from ..plan import Item, KpiChoice, make_plan, source_of
from ..render.sql import DUCKDB, Dialect
from .sql import RowRule, duplicate_sql, scan_sql, table_rules

#: the row tables the rules are checked on
ROW_TABLES = ("contacts", "surveys", "qa")


def survey_columns() -> tuple[str, ...]:
    """The columns holding survey answers: those the survey KPIs are bound to."""
    return tuple(dict.fromkeys(c for b in BINDINGS.values() if b.table == "surveys"
                               for c in b.inputs.values()))


def survey_sources(columns: Mapping[str, set[str]]) -> list[str]:
    """The tables whose rows are survey answers: surveys and contacts, where the table has
    a survey column and a column placing its rows in periods (``period`` or ``date``).
    The engine's survey view (``Engine._survey_view``) takes the same tables; a test
    holds the two to it."""
    answers = set(survey_columns())
    return [name for name in ("surveys", "contacts")
            if answers & columns.get(name, set())
            and ({"period", "date"} & columns.get(name, set()))]


def plan_columns(columns: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The columns of every relation a plan looks at: the tables', and the survey answers
    as one relation (``survey_rows``) when some table holds them."""
    out = {name: set(cols) for name, cols in columns.items()}
    if survey_sources(columns):
        out["survey_rows"] = {"_table", "_row", *survey_columns()}
    return out


def plan(columns: Mapping[str, set[str]], choices: Mapping[str, KpiChoice] | None = None,
         keys: Sequence[str] | None = None) -> dict[str, list[Item]]:
    """Which KPIs a run over tables with these columns computes, on which table (every
    bound KPI unless ``keys`` names some), as the engine plans them."""
    from ..catalog import CATALOG

    keys = list(keys) if keys is not None else [k for k in CATALOG if k in BINDINGS]
    return make_plan(keys, dict(choices or {}), plan_columns(columns))[0]


def source_rules(planned: Mapping[str, Sequence[Item]],
                 columns: Mapping[str, set[str]],
                 dialect: Dialect = DUCKDB) -> dict[str, list[RowRule]]:
    """Per table holding rows (contacts, surveys, qa), every row rule of the planned KPIs
    that read it, in plan order: a KPI bound to surveys reads each table of
    :func:`survey_sources`, judged on that table's own columns."""
    answers = survey_sources(columns)
    out: dict[str, list[RowRule]] = {}
    for table, items in planned.items():
        if table == "period":
            continue
        for src in (answers if source_of(table) == "survey_rows" else [table]):
            cols = columns.get(src)
            if cols is None:
                continue
            rules = table_rules(table, items, cols, dialect)
            if rules:
                out.setdefault(src, []).extend(rules)
    return out


def duplicates(values) -> tuple[Any, Any]:
    """(positions of the values that an earlier value repeats, the position of that first
    value), in position order, for a pandas Series; one hash aggregate and join on DuckDB
    (:func:`kpi_xl.checks.sql.duplicate_sql`). Measured on 1 M ids: 1.0-2.6 s against
    2.4-3.6 s for pandas' ``duplicated`` with ``drop_duplicates`` to find the first.

    For text, the join runs only on the rows whose value's ``hash`` another row's shares
    (equal values, blanks included, hash alike, so every repeated value is among them; a
    value hashed alike by chance too, and the join tells): hashing 2 M ids and sorting
    the hashes cost ~0.13 s of CPU, the aggregate over all of them ~0.8 s, and ids that
    never repeat (the usual export) skip it. Not for an object column: DuckDB infers its
    type from its values, so a subset could read otherwise."""
    import duckdb
    import numpy as np
    import pandas as pd

    from ..frames import for_duckdb

    con = duckdb.connect()
    try:
        con.register("keyed", for_duckdb(pd.DataFrame({
            "key": values.reset_index(drop=True),
            "_pos": np.arange(len(values), dtype="int64")})))
        relation = "keyed"
        if isinstance(values.dtype, pd.StringDtype):
            maybe = _hash_shared(con, len(values))
            if not len(maybe):
                return np.zeros(0, "int64"), np.zeros(0, "int64")
            # those rows taken from the column itself (a few, where ids repeat): a view
            # of ``keyed`` joined to their positions had DuckDB scan every key again, on
            # both sides of the check's join (2 M ids, 1,334 repeated: +230 MB)
            con.register("shared", for_duckdb(pd.DataFrame({
                "key": values.iloc[maybe].reset_index(drop=True), "_pos": maybe})))
            relation = "shared"
        got = con.execute(duplicate_sql(relation, "key")).fetchnumpy()
    finally:
        con.close()
    return np.asarray(got["_pos"], dtype="int64"), np.asarray(got["_first"], dtype="int64")


def _hash_shared(con, n: int):
    """The positions (``_pos``) of the rows of ``keyed`` whose key's hash another row
    shares, in order. Each hash is fetched with its row's position: DuckDB reads the
    table in parallel and does not give rows back in order in every plan."""
    import numpy as np

    got = con.execute('SELECT _pos, hash("key") AS h FROM keyed').fetchnumpy()
    pos = np.asarray(got["_pos"], dtype="int64")
    if len(pos) != n:
        raise RuntimeError(f"DuckDB hashed {len(pos)} of {n} keys")
    hashes = np.empty(n, dtype="uint64")
    hashes[pos] = np.asarray(got["h"], dtype="uint64")
    ordered = np.sort(hashes)
    shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(shared):
        return np.zeros(0, "int64")
    # each hash looked up among the few shared ones (np.isin sorted every hash again
    # beside them: 2 M ids, +80 MB at the peak)
    at = np.searchsorted(shared, hashes)
    np.minimum(at, len(shared) - 1, out=at)
    return np.flatnonzero(shared[at] == hashes).astype("int64")


class Checks:
    """The checks of one run, on an embedded DuckDB: ``tables`` maps table names to
    pandas DataFrames (the loader's). :meth:`sql` is what runs, :meth:`run` runs it.

    Each table is given to DuckDB once, as the columns its rules read plus positions:
    by default that frame (as :func:`kpi_xl.frames.for_duckdb` gives it) is registered
    and read by the one query (no copy); with ``copy`` (class attribute) it is first
    copied into a DuckDB table. Measured on 1 M
    contacts (bench/bench_checks.py, bench/README.md), the copy cost more than the one
    scan of the frame it replaces, with or without pyarrow, so frames are read in place;
    the copy stays for that comparison."""

    #: copy each table into a DuckDB table before checking it (see the class docstring)
    copy = False

    def __init__(self, tables: Mapping[str, Any], choices: Mapping[str, KpiChoice] | None = None,
                 keys: Sequence[str] | None = None):
        import duckdb

        self.tables = {n: df for n, df in tables.items() if n in ROW_TABLES and df is not None}
        self.columns = {n: set(map(str, df.columns)) for n, df in self.tables.items()}
        self.plan = plan(self.columns, choices, keys)
        self.rules = source_rules(self.plan, self.columns)
        self.con = duckdb.connect()
        self._loaded: set[str] = set()

    def load(self, name: str) -> None:
        """Table ``name`` into DuckDB as ``src_<name>``, once: the columns its rules read
        and each row's position as ``_row`` (row numbers repeat across the sources of one
        table; positions do not)."""
        if name in self._loaded:
            return
        import numpy as np
        import pandas as pd

        from ..frames import for_duckdb

        df = self.tables[name]
        reads = dict.fromkeys(c for r in self.rules[name] for c in r.reads)
        # copy=False: the table's own columns, not copied into one block per type
        frame = pd.DataFrame({c: df[c] for c in reads}, copy=False)
        frame["_row"] = np.arange(len(df), dtype="int64")
        # with Arrow text: an Arrow table in batches (kpi_xl.frames), which DuckDB reads
        # in parallel (a pandas frame of Arrow text was read on one thread, each text
        # value made a Python string: 2 M contacts, _apply_rules 1.05-1.15 -> 0.5-0.8 s)
        frame = for_duckdb(frame)
        if self.copy:
            self.con.register("_checked_frame", frame)
            try:
                self.con.execute(f"CREATE TABLE src_{name} AS SELECT * FROM _checked_frame")
            finally:
                self.con.unregister("_checked_frame")
        else:
            self.con.register(f"src_{name}", frame)
        self._loaded.add(name)

    def sql(self) -> dict[str, str]:
        """Per table, the one query listing its rows that break a rule (see
        :func:`kpi_xl.checks.sql.scan_sql`); ``_row`` is the row's position."""
        return {name: scan_sql(rules, f"src_{name}", name, DUCKDB)
                for name, rules in self.rules.items()}

    def run(self) -> dict[str, Any]:
        """Per table, a DataFrame of its broken rules: ``_table``, ``_row`` (position),
        ``column``, ``value``, ``rule``, ``kpis``; ordered by row, then rule."""
        out = {}
        for name, sql in self.sql().items():
            self.load(name)
            out[name] = self.con.execute(sql).df()
        return out

    def close(self) -> None:
        self.con.close()


__all__ = ["Checks", "ROW_TABLES", "duplicates", "plan", "plan_columns", "source_rules",
           "survey_columns", "survey_sources"]
