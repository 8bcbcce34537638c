"""Sources read in place: a table or view of the ``[engine]`` backend as a source.

::

    [engine]
    backend = "postgres"
    url_env = "KPI_XL_PG_URL"
    # sample_rejects = 1000          # rejects listed per source (all are counted)

    [[sources]]
    table = "contacts"
    relation = "support.contacts"     # schema.table (or a view)
    columns = { agent = "agent_name" }   # optional: canonical column = the relation's

The relation holds the canonical columns (:mod:`kpi_xl.data.schema`, by name, or renamed
by ``columns``). Nothing of it comes into this process but counts and samples:

* **Views** (TEMPORARY, on the backend): ``kx_all_<table>`` reads the relation with its
  columns renamed, BOOLEAN flags as 1.0/0.0, channels in lower case, the row's month
  (``period``), ``handled`` where the relation has none (the loader's rule: the answered
  flag of a call, yes for the rest), each row's position in a stable order (``_row``: by
  date and id; by evaluation and criterion for QA) and why it is rejected, if it is
  (``_reject``: no date, an unknown channel, a phone call without its answered flag, an
  id an earlier row has, a QA evaluation naming two agents; the loader's reasons, in its
  words). ``kx_<table>`` holds the rows used: what the engine computes on.
* **Accounting**: one ``GROUP BY`` per source counts rows read, used and rejected (by
  reason and month).
* **Input rules**: the same row rules the loader checks (:mod:`kpi_xl.checks`), in the
  backend's dialect, counted per rule, per KPI and per month by one aggregate over the
  used rows; the rows that break one come back as a sample, the first ``sample`` by
  position (``[engine] sample_rejects``), the rest counted (``rejects.csv``: "N more not
  listed").
* **Guards**: the same aggregate gives the rows per source and month (usual volume,
  empty or thin months), the rows each KPI loses to its rules, and the rows without a
  team, agent, channel or dimension member; :mod:`kpi_xl.run.guards` reads them as rows
  weighted by ``_n``.

The roster and the business figures (one row per agent, per month) come back whole:
the scorecard names the agents and the period KPIs read the months; so do the QA
evaluations of the reported period, which the QA workbooks show row by row
(:func:`scorecard_tables`).

What the loader does to files that is not done here (a relation is already canonical):
codes, units and formats, two columns made one, ``exclude``, ``undated``, the roster's
team for rows without one, the survey's agent from its contact, response and resolution
times from timestamps. Do them in a view of your database. A row that breaks a rule of
every KPI its table feeds is left out of them (listed as ``left out of KPIs``), where the
loader would reject it: the KPIs are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..data.load import Dataset, LoadOptions
from ..data.rejects import LEFT_OUT, ROW_REJECTED, Accounting
from ..data.schema import TABLES
from ..engine.backends import BOOLEAN, FLOAT, NUMBER, TEXT, TIME, Backend, BackendError, \
    same_number_text
from ..render.sql import Dialect, quote_text

#: the rejects listed per source, by default (every one is counted)
SAMPLE = 1000
ROW_TABLES = ("contacts", "surveys", "qa")
#: the stable order rows are numbered in (``_row``), per table: the first of these the
#: relation has
ORDER = {"contacts": ("date", "id"), "surveys": ("date", "id"),
         "qa": ("evaluation", "criterion", "date"), "roster": ("agent",),
         "business": ("month",)}
#: canonical types whose columns must be numbers (flags may be BOOLEAN) or times
_NUMERIC = {"flag", "seconds", "hours", "number", "score"}
_TIMES = {"timestamp", "date"}


def month_sql(column: str, dialect: Dialect) -> str:
    """The ``YYYY-MM`` text of a date or timestamp column, in ``dialect``."""
    return {"postgres": f"to_char({column}, 'YYYY-MM')",
            "spark": f"date_format({column}, 'yyyy-MM')"}.get(
        dialect.name, f"strftime({column}, '%Y-%m')")


@dataclass
class Relation:
    """One source read in place: its canonical columns (canonical name -> the
    relation's column and kind) and the views over it."""
    source: Any                              # kpi_xl.data.sources.Source
    columns: dict[str, tuple[str, str]]      # canonical -> (relation column, kind)

    @property
    def table(self) -> str:
        return self.source.table

    @property
    def all_view(self) -> str:
        return f"kx_all_{self.table}"

    @property
    def view(self) -> str:
        return f"kx_{self.table}"


def describe(backend: Backend, source, dimensions: Sequence[str] = ()) -> tuple[
        Relation | None, list[str]]:
    """The relation of ``source`` on ``backend``, or the problems: it is not there, a
    renamed column is not there, a column the table needs is missing (each named), a
    date is text or a number is text."""
    where = f"source '{source.name}'"
    try:
        cols = backend.columns(source.relation)
    except BackendError as e:
        return None, [f"{where}: {source.relation} cannot be read on {backend.where or backend.name}"
                      f" ({e})"]
    have = {c.name.lower(): c for c in cols}
    schema = TABLES[source.table]
    wanted = list(schema.names) + (list(dimensions) if source.table in ROW_TABLES else [])
    renamed = {m.target: m.column for m in source.columns}
    problems, out = [], {}
    for target, theirs in renamed.items():
        if theirs.lower() not in have:
            problems.append(f"{where}: columns: {target} = \"{theirs}\", but {source.relation} "
                            f"has no column {theirs!r} (it has: "
                            f"{', '.join(c.name for c in cols)})")
    for name in wanted:
        col = have.get(renamed.get(name, name).lower())
        if col is not None:
            out[name] = (col.name, col.kind)
    missing = [c.name for c in schema.columns if c.required and c.name not in out]
    if source.table == "contacts" and not ({"date", "created"} & set(out)):
        missing.append("date")
    for name in missing:
        problems.append(f"{where}: {source.relation} has no column '{name}', which the "
                        f"{source.table} table needs ({schema.column(name).doc})")
    for name, (theirs, kind) in out.items():
        ctype = schema.column(name).type if name in schema.names else "text"
        if ctype in _TIMES and kind not in (TIME, "other"):
            problems.append(f"{where}: {source.relation}.{theirs} ('{name}') is {kind}, not "
                            "a DATE or TIMESTAMP: cast it in a view of your database")
        elif ctype in _NUMERIC and kind not in (NUMBER, FLOAT, BOOLEAN, "other"):
            problems.append(f"{where}: {source.relation}.{theirs} ('{name}') is {kind}, not "
                            "a number" + (" or BOOLEAN" if ctype == "flag" else "")
                            + ": cast it in a view of your database")
    return (None if problems else Relation(source, out)), problems


def _select(rel: Relation, d: Dialect) -> list[str]:
    """The canonical columns of the relation, read for the engine."""
    q = d.ident
    out = [f"{_read(rel, name, d)} AS {q(name)}" for name in rel.columns]
    cols = rel.columns
    if rel.table == "contacts":
        if "date" not in cols:
            out.append(f"{q(cols['created'][0])} AS {q('date')}")
        if "handled" not in cols:
            # the loader's rule (kpi_xl.data.load): a call is handled when answered; a
            # contact that is not a phone call is handled by being there
            ans, chan = _read(rel, "answered", d), _read(rel, "channel", d)
            if ans is None:
                handled = "1.0"
            elif chan is None:
                handled = ans
            else:
                handled = (f"CASE WHEN {ans} IS NOT NULL THEN {ans} WHEN {chan} IS NULL OR "
                           f"{chan} <> 'phone' THEN 1.0 END")
            out.append(f"{handled} AS {q('handled')}")
    return out


def _read(rel: Relation, name: str, d: Dialect) -> str | None:
    """The SQL of canonical column ``name`` over the relation itself (None: not there)."""
    if name not in rel.columns:
        return None
    theirs, kind = rel.columns[name]
    x = d.ident(theirs)
    if kind == BOOLEAN:
        return f"(CASE WHEN {x} THEN 1.0 WHEN NOT {x} THEN 0.0 END)"
    if name in ("channel", "state") and kind == TEXT:
        return f"LOWER(TRIM({x}))"
    return x


#: why a row is rejected, per ``_reject`` code: (the column named, the reason), in the
#: loader's words (kpi_xl.data.load, kpi_xl.data.convert)
def reasons(channels: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {
        "date": ("date", "has no date to place it in a month"),
        "channel": ("channel", f"is not a known channel (known: {', '.join(channels)}); "
                    "map it in a view of your database, or add it to the config's channels"),
        "answered": ("answered", "'answered' is blank on a phone call; every call needs "
                     "answered yes or no (an abandoned call is 'no')"),
        "id": ("id", "duplicate id: an earlier row (in the order of date and id) has it"),
        "evaluation": ("evaluation", "this evaluation names more than one agent"),
        "agent": ("agent", "the agent is listed twice in the roster"),
        "month": ("month", "the month has two rows of business figures"),
    }


def views_sql(rel: Relation, d: Dialect, channels: Sequence[str]) -> tuple[str, str]:
    """(the SQL of ``kx_all_<table>``: every row, canonical, numbered, with why it is
    rejected; the SQL of ``kx_<table>``: the rows used)."""
    q = d.ident
    table = rel.table
    raw = f"SELECT {', '.join(_select(rel, d))} FROM {rel.source.relation}"
    names = list(rel.columns) + [c for c in ("date", "handled") if table == "contacts"
                                 and c not in rel.columns]
    have = set(names)
    order = ", ".join(f"{q(c)}" for c in ORDER[table] if c in have) or "1"
    checks = []                      # (code, condition), the first that holds
    if table in ROW_TABLES:
        checks.append(("date", f"{q('date')} IS NULL"))
    if "channel" in have and table in ("contacts", "surveys"):
        known = ", ".join(quote_text(c) for c in channels)
        checks.append(("channel", f"{q('channel')} IS NOT NULL AND {q('channel')} NOT IN ({known})"))
    if table == "contacts" and {"channel", "answered"} <= have:
        checks.append(("answered", f"{q('channel')} = 'phone' AND {q('answered')} IS NULL"))
    windows = [f"ROW_NUMBER() OVER (ORDER BY {order}) AS _row"]
    ok = " AND ".join(f"NOT ({c})" for _k, c in checks) or "TRUE"
    key = {"contacts": "id", "surveys": "id", "roster": "agent", "business": "month"}.get(table)
    if key in have:
        # the first row (in the stable order) of an id among the rows not rejected
        # otherwise keeps it; the later ones are duplicates
        windows.append(f"CASE WHEN {q(key)} IS NULL THEN 1 ELSE ROW_NUMBER() OVER (PARTITION "
                       f"BY {q(key)}, CASE WHEN {ok} THEN 0 ELSE 1 END ORDER BY {order}) "
                       f"END AS _dup")
        checks.append((key, "_dup > 1"))
    if table == "qa" and {"evaluation", "agent"} <= have:
        windows.append(f"MIN({q('agent')}) OVER (PARTITION BY {q('evaluation')}) AS _a_min")
        windows.append(f"MAX({q('agent')}) OVER (PARTITION BY {q('evaluation')}) AS _a_max")
        checks.append(("evaluation", "_a_min <> _a_max"))
    period = f", {month_sql(q('date'), d)} AS period" if table in ROW_TABLES else ""
    reject = ("CASE " + " ".join(f"WHEN {c} THEN {quote_text(k)}" for k, c in checks)
              + " END") if checks else f"CAST(NULL AS {d.text})"
    every = f"SELECT r.*, {', '.join(windows)} FROM ({raw}) AS r"
    cols = ", ".join(q(c) for c in names)
    all_sql = (f"SELECT {cols}{period}, _row, {reject} AS _reject FROM ({every}) AS t")
    used = (f"SELECT {cols}{', period' if period else ''}, "
            f"{quote_text(rel.source.name)} AS _source, _row FROM {rel.all_view} "
            "WHERE _reject IS NULL")
    return all_sql, used


@dataclass
class Counted:
    """What the guards read for a table counted in place: per KPI title, the facts
    frame's columns of the rows it loses (any of them); per such column, the rule."""
    lost: dict[str, str] = field(default_factory=dict)        # KPI title -> column
    rules: dict[str, list[str]] = field(default_factory=dict)  # KPI title -> rule columns
    texts: dict[str, str] = field(default_factory=dict)        # rule column -> reason


def read_in_place(backend: Backend, sources: Sequence[Any], ds: Dataset,
                  options: LoadOptions = LoadOptions(), choices: Mapping[str, Any] | None = None,
                  sample: int = SAMPLE, progress=None) -> None:
    """Read the relation ``sources`` in place into ``ds`` (which may hold file tables
    already): their accounting, their capped rejects with full counts, the facts the
    guards read (``ds.tables[<row table>]``: counts weighted by ``_n``), the roster and
    business rows, and ``ds.relations`` (table -> the view of used rows the engine
    computes on). Problems (a relation or a column not there) go to ``ds.problems``."""
    from ..checks.embedded import plan, source_rules

    d = backend.dialect
    channels = options.channels
    rels: list[Relation] = []
    for src in sources:
        if progress:
            progress(f"reading {src.relation} ({src.table}) in place on {backend.name}")
        rel, problems = describe(backend, src, options.dimensions)
        ds.problems.extend(problems)
        if rel is not None:
            rels.append(rel)
    if ds.problems:
        return
    ds.backend = backend
    ds.relations = {}
    ds.counted = {}
    why = reasons(channels)
    for rel in rels:
        all_sql, used_sql = views_sql(rel, d, channels)
        backend.temp_view(rel.all_view, all_sql)
        backend.temp_view(rel.view, used_sql)
        ds.relations[rel.table] = rel.view
        acc = Accounting(rel.source.name, rel.source.file, rel.table, group=rel.source.name)
        _account(backend, rel, acc, ds, why, sample)
        ds.accounting.append(acc)
        if rel.table in ("roster", "business"):
            ds.tables[rel.table] = backend.query(f"SELECT * FROM {rel.view}").drop(
                columns=["_row"])
    if "roster" in ds.relations:
        _file_rows_take_roster_teams(ds)
    # the input rules, over the used rows, with every table of the run in the plan
    columns = {t: set(map(str, df.columns)) for t, df in ds.tables.items()
               if t not in ds.relations}
    for rel in rels:
        columns[rel.table] = {c.name for c in backend.columns(rel.view)}
    planned = plan(columns, choices)
    rules = source_rules(planned, columns, d)
    for rel in rels:
        if rel.table in ROW_TABLES:
            _facts(backend, rel, rules.get(rel.table, []), ds, options, sample)


def _file_rows_take_roster_teams(ds: Dataset) -> None:
    """The rows of the files read with a roster read in place take their agent's team
    from it where they have none (the loader's rule, :func:`kpi_xl.data.load.fill_teams`,
    which ran before the roster was here): a WFM export, which names no team, would
    otherwise have no team level."""
    from ..data.load import fill_teams

    roster = ds.tables["roster"]
    teams = dict(zip(roster["agent"], roster["team"]))
    for name in ("contacts", "surveys", "qa", "wfm"):
        df = ds.tables.get(name)
        if df is None or name in ds.relations or "agent" not in df:
            continue
        df["team"], ds.teams[name] = fill_teams(df, teams)


def _account(backend: Backend, rel: Relation, acc: Accounting, ds: Dataset,
             why: Mapping[str, tuple[str, str]], sample: int) -> None:
    """Rows read, used and rejected (by reason and month), and a sample of the rejected
    rows with the rest counted."""
    period = "period" if rel.table in ROW_TABLES else f"CAST(NULL AS {backend.dialect.text})"
    counts = backend.query(f"SELECT {period} AS period, _reject, COUNT(*) AS n FROM "
                           f"{rel.all_view} GROUP BY {period}, _reject")
    n = counts["n"].astype("int64")
    acc.read = int(n.sum())
    acc.used = int(n[counts["_reject"].isna()].sum())
    acc.rejected = acc.read - acc.used
    if not acc.rejected:
        return
    d = backend.dialect
    shown_cols = [k for k in why if why[k][0] in rel.columns]
    value = ("CASE _reject " + " ".join(
        f"WHEN {quote_text(k)} THEN CAST({d.ident(why[k][0])} AS {d.text})"
        for k in shown_cols) + " END") if shown_cols else f"CAST(NULL AS {d.text})"
    shown = backend.query(f"SELECT _row, _reject, {value} AS value, {period} AS period FROM "
                          f"{rel.all_view} WHERE _reject IS NOT NULL ORDER BY _row "
                          f"LIMIT {int(sample)}")
    listed: dict[tuple[str, str], int] = {}
    for row, code, val, month in zip(shown["_row"], shown["_reject"], shown["value"],
                                     shown["period"], strict=True):
        column, reason = why[code]
        month = month if isinstance(month, str) else ""
        ds.rejects.add(rel.source.name, rel.source.file, int(row), _shown(rel, column),
                       val, reason, ROW_REJECTED, period=month)
        listed[(code, month)] = listed.get((code, month), 0) + 1
    for code, month, k in zip(counts["_reject"], counts["period"], n, strict=True):
        if not isinstance(code, str):
            continue
        month = month if isinstance(month, str) else ""
        rest = int(k) - listed.get((code, month), 0)
        ds.rejects.add_unlisted(rel.source.name, rel.source.file, ROW_REJECTED,
                                why[code][1], rest, period=month)


def _shown(rel: Relation, column: str) -> str:
    """A canonical column as the relation names it (the rejects report's column)."""
    return rel.columns.get(column, (column, ""))[0]


def _facts(backend: Backend, rel: Relation, rules, ds: Dataset, options: LoadOptions,
           sample: int) -> None:
    """One aggregate over the used rows: per month, day, team and channel (and whether
    agent and each dimension are blank; per evaluation for QA), the rows, the rows
    breaking each rule, losing each KPI, and breaking any; and a sample of the breaks."""
    from ..checks.sql import scan_sql

    d = backend.dialect
    q = d.ident
    have = set(rel.columns) | {"date"}
    keys = ["period", f"CAST({q('date')} AS DATE) AS {q('date')}"]
    for c in ("team", "channel"):
        if c in have:
            keys.append(q(c))
    for c in ("agent", *options.dimensions):
        if c in have:
            keys.append(f"CASE WHEN {q(c)} IS NULL THEN NULL ELSE 'x' END AS {q(c)}")
    if rel.table == "qa" and "evaluation" in have:
        keys.append(q("evaluation"))
    # each rule's break as a 0/1 column of an inner SELECT, computed once per row; the sums
    # read those columns (written into each sum that needs it, a rule's condition came
    # 2 + k times into the one aggregate: its own count, each KPI it leaves, "any")
    flags = ", ".join(f"CASE WHEN {r.cond} THEN 1 ELSE 0 END AS _f{i}"
                      for i, r in enumerate(rules))
    source = f"(SELECT *, {flags} FROM {rel.view}) AS t" if rules else rel.view

    def broken(which: list[int]) -> str:
        """SQL: the rows breaking any of these rules, counted."""
        if len(which) == 1:
            return f"SUM(_f{which[0]})"
        return f"SUM(CASE WHEN {' + '.join(f'_f{i}' for i in which)} > 0 THEN 1 ELSE 0 END)"

    sums = ["COUNT(*) AS _n"]
    counted = Counted()
    for i, r in enumerate(rules):
        sums.append(f"{broken([i])} AS _r{i}")
        counted.texts[f"_r{i}"] = r.rule
    titles = list(dict.fromkeys(k.strip() for r in rules for k in r.kpis.split(", ")))
    for j, title in enumerate(titles):
        mine = [i for i, r in enumerate(rules) if title in [k.strip() for k in r.kpis.split(", ")]]
        sums.append(f"{broken(mine)} AS _k{j}")
        counted.lost[title] = f"_k{j}"
        counted.rules[title] = [f"_r{i}" for i in mine]
    sums.append(f"{broken(list(range(len(rules))))} AS _any" if rules else "0 AS _any")
    group = ", ".join(k.rsplit(" AS ", 1)[0] for k in keys)
    facts = backend.query(f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM {source} "
                          f"GROUP BY {group}")
    for c in facts.columns:
        if c.startswith("_"):
            facts[c] = facts[c].fillna(0).astype("int64")
    facts["_source"] = rel.source.name
    ds.tables[rel.table] = facts
    ds.counted[rel.source.name] = counted
    acc = next(a for a in ds.accounting if a.source == rel.source.name)
    acc.left_out = int(facts["_any"].sum())
    if not rules:
        return
    # the sample of rule breaks, the first by position; the rest counted per rule and month
    shown = backend.query(scan_sql(rules, rel.view, rel.table, d) + f" LIMIT {int(sample)}")
    shown = same_number_text(shown, {c: k for c, (_t, k) in rel.columns.items()})
    months = {}
    if len(shown):
        rows = ", ".join(str(int(r)) for r in dict.fromkeys(shown["_row"]))
        got = backend.query(f"SELECT _row, period FROM {rel.view} WHERE _row IN ({rows})")
        months = dict(zip(got["_row"].astype("int64"), got["period"], strict=True))
    listed: dict[tuple[str, str], int] = {}
    for row, column, value, rule, kpis in zip(shown["_row"], shown["column"], shown["value"],
                                              shown["rule"], shown["kpis"], strict=True):
        month = months.get(int(row), "") or ""
        ds.rejects.add(rel.source.name, rel.source.file, int(row), _shown(rel, column), value,
                       rule, LEFT_OUT, kpis, period=month)
        listed[(rule, kpis, month)] = listed.get((rule, kpis, month), 0) + 1
    per_month = facts.groupby("period")[[f"_r{i}" for i in range(len(rules))]].sum()
    for month, row in per_month.iterrows():
        for i, r in enumerate(rules):
            rest = int(row[f"_r{i}"]) - listed.get((r.rule, r.kpis, month), 0)
            ds.rejects.add_unlisted(rel.source.name, rel.source.file, LEFT_OUT, r.rule, rest,
                                    r.kpis, period=str(month))


def scorecard_tables(ds: Dataset, period) -> dict[str, Any]:
    """The rows the workbooks show, for a dataset read in place: the roster and business
    rows (already here) and the QA evaluations of ``period``'s months (the QA workbooks
    list them), fetched from the backend; the other tables are not needed as rows."""
    tables = {t: df for t, df in ds.tables.items()
              if t not in ds.relations or t in ("roster", "business")}
    view = ds.relations.get("qa")
    if view is not None:
        months = ", ".join(quote_text(m) for m in period.calendar_months())
        tables["qa"] = ds.backend.query(f"SELECT * FROM {view} WHERE period IN ({months})")
    return tables


def engine_tables(ds: Dataset) -> dict[str, Any]:
    """The tables the engine loads from this process: those from files (and the roster
    and business rows of relations are read where they are, like the rest)."""
    relations = ds.relations
    return {t: df for t, df in ds.tables.items() if t not in relations}


__all__ = ["Counted", "Relation", "SAMPLE", "describe", "engine_tables", "month_sql",
           "read_in_place", "reasons", "scorecard_tables", "views_sql"]
