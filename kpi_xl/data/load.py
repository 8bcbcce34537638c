"""Load every source of a run into canonical tables, accounting for every row.

``load(sources, options)`` reads and converts each source (``readers``, ``convert``), then
finishes each table: derived columns (month, response times in calendar or business hours,
handled, team from the roster, survey links to contacts), cross-row checks (duplicate ids,
timestamps out of order, QA criteria missing from the
rubric) and finally the catalog's own input rules for the KPIs the run computes
(:mod:`kpi_xl.checks`, SQL on DuckDB, one query per table): a row breaking a rule of some
KPIs stays, and leaves those KPIs only.
Whatever is rejected, excluded, ignored or left out is in ``Dataset.rejects`` with file,
row, column, value, reason and the KPIs it leaves; ``Dataset.accounting`` says, per file,
read = used + rejected (+ excluded), and how many used rows some KPIs leave out.

A file that cannot be read at all is a *problem* (``Dataset.problems``), not an exception:
the caller shows every problem at once and decides (``kpi-xl validate`` lists them; a run
stops before writing anything).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..progress import Meter
from .convert import DEFAULT_CHANNELS, Options, convert
from .derive import finish_source, reject_rows, source_header
from .hours import BusinessHours
from .readers import SourceError, read_source
from .rejects import LEFT_OUT, ROW_REJECTED, VALUE_IGNORED, Accounting, Rejects
from .sources import Source


@dataclass(frozen=True)
class RubricItem:
    criterion: str
    weight: float
    fatal: bool = False
    section: str = ""


@dataclass(frozen=True)
class LoadOptions:
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    time_zone: str = "UTC"            # the centre's: offsets in exports are converted to it
    #: None: response and resolution times in calendar hours; else in these business hours
    business_hours: BusinessHours | None = None
    rubric: tuple[RubricItem, ...] = ()
    #: the config's dimensions (kpi_xl.dimensions): text columns carried to the engine
    dimensions: tuple[str, ...] = ()


@dataclass
class Dataset:
    tables: dict[str, Any] = field(default_factory=dict)     # name -> pandas.DataFrame
    accounting: list[Accounting] = field(default_factory=list)
    rejects: Rejects = field(default_factory=Rejects)
    problems: list[str] = field(default_factory=list)
    #: per row table, where each row's team came from (see :func:`fill_teams`)
    teams: dict[str, "TeamFill"] = field(default_factory=dict)
    #: sources read in place (kpi_xl.run.relations): table -> the backend's view of its
    #: used rows, the backend, and per source what the guards read of its counts
    relations: dict[str, str] = field(default_factory=dict)
    backend: Any = None
    counted: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [a.line() for a in self.accounting]


def load(sources: Sequence[Source], options: LoadOptions = LoadOptions(),
         choices: Mapping[str, Any] | None = None, check_rules: bool = True,
         progress=None, months: Sequence[str] | None = None) -> Dataset:
    """Read, convert and check every source; ``progress(message)`` hears each step.
    ``months``: the months the run reads, its own last, for paths with ``{month}`` (None:
    every file a source's path matches)."""
    import pandas as pd

    from .shape import source_files

    ds = Dataset()
    each: list[Source] = []
    for src in sources:           # one per file: a glob, a list, {month}
        found, problems = source_files(src, months)
        each.extend(found)
        ds.problems.extend(problems)
    sources = each
    parts: dict[str, list] = {}
    by_source: dict[str, Accounting] = {}
    files: dict[str, str] = {}
    srcs: dict[str, Source] = {}
    # rows read, their pace, and the time left by the bytes of the files still to read
    sizes = [_size(src.path) for src in sources]
    meter = Meter("reading", progress, total=sum(sizes) or None)
    rows = done = 0
    for k, (src, size) in enumerate(zip(sources, sizes)):
        if progress:
            progress(f"reading {src.file} ({src.table})")
        try:
            # while a long file is read: its rows and bytes so far on top of the files before
            raw = read_source(src, ds.rejects, lambda r, b, rows=rows, done=done:
                              meter.update(rows + r, done + min(b, size)))
        except SourceError as e:
            ds.problems.append(str(e))
            continue
        src = raw.source
        df, acc = convert(src, raw, ds.rejects, Options(channels=options.channels,
                                                    time_zone=options.time_zone))
        acc.group = src.group or src.name
        ds.accounting.append(acc)
        by_source[src.name] = acc
        files[src.name] = src.file
        srcs[src.name] = src
        df = finish_source(src, df, ds, options)
        parts.setdefault(src.table, []).append(df)
        rows, done = rows + acc.read, done + size
        if k < len(sources) - 1:          # the last file's line is the step's last line
            meter.update(rows, done)
    if len(sources) > 1 or rows:
        meter.finish(rows, f" from {len(sources)} file{'s' if len(sources) != 1 else ''}")
    for name, frames in parts.items():
        ds.tables[name] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    _finish_tables(ds, files, options, srcs)
    if check_rules and ds.tables:
        if progress:
            progress("checking every row against the KPIs' input rules")
        _apply_rules(ds, files, srcs, choices)
    _one_action_per_row(ds)
    _recount(ds, by_source)
    return ds


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return 0


# ------------------------------------------------------------------ per table
@dataclass(frozen=True)
class TeamFill:
    """Where the rows of one table got their team: their own source (``own``, of which
    ``differs`` name another team than the roster gives their agent), the roster by agent
    (``roster``), or nowhere (``none``: no agent, or no team anywhere; shown as
    '(no team)'). ``unrostered``: rows naming an agent the roster does not list; they stay,
    with their own team or none."""
    own: int = 0
    roster: int = 0
    none: int = 0
    differs: int = 0
    unrostered: int = 0


def fill_teams(df, teams: Mapping[str, Any]):
    """Each row's team: its own (from its source) where it has one, else its agent's team
    in the roster, row by row, whatever other sources of the table map. Where a row's own
    team and the roster disagree, the row keeps its own: the export recorded the team the
    contact was handled in (an agent who moved mid-month counts for each team with the
    contacts handled there); ``TeamFill.differs`` counts those rows."""
    import pandas as pd

    rostered = df["agent"].map(teams)
    own = df["team"] if "team" in df else pd.Series(None, index=df.index, dtype=object)
    has_own = own.notna().to_numpy()
    team = own.where(has_own, rostered)
    has_roster = rostered.notna().to_numpy()
    differs = has_own & has_roster & (own.astype(object) != rostered.astype(object)).to_numpy()
    named = df["agent"].notna().to_numpy()
    fill = TeamFill(own=int(has_own.sum()), roster=int((~has_own & has_roster).sum()),
                    none=int(team.isna().sum()), differs=int(differs.sum()),
                    unrostered=int((named & ~has_roster).sum()))
    return team.astype(object), fill


def _finish_tables(ds: Dataset, files: dict[str, str], options: LoadOptions,
                   sources: Mapping[str, Source] | None = None) -> None:
    t = ds.tables
    roster = t.get("roster")
    if roster is not None:
        dup = roster["agent"].duplicated().to_numpy()
        t["roster"] = roster = reject_rows(ds, roster, dup, files, "agent",
                                           roster["agent"][dup].tolist(),
                                           "the agent is listed twice in the roster")
    teams = dict(zip(roster["agent"], roster["team"])) if roster is not None else None
    for name in ("contacts", "surveys", "qa", "wfm"):
        df = t.get(name)
        if df is None:
            continue
        if "date" in df:
            nodate = df["date"].isna().to_numpy()
            if nodate.any():
                df = reject_rows(ds, df, nodate, files, "date", None,
                                 "has no date to place it in a month")
            df["period"] = _month_labels(df["date"])
        if "id" in df and name != "qa":
            dup, seen = _repeats(df, df["id"], files)
            if dup.any():
                df = reject_rows(ds, df, dup, files, "id", df["id"][dup].tolist(),
                                 [f"duplicate id: first seen in {s}" for s in seen])
        if name == "wfm":
            df = _one_row_per_agent_day(ds, df, files, sources or {})
        if teams is not None and "agent" in df:
            # a row whose agent the roster does not list (a new hire) stays, with its own
            # team or none, and is counted in the coverage lines: rejecting it took the
            # agent's contacts out of the centre's KPIs too
            df["team"], ds.teams[name] = fill_teams(df, teams)
        t[name] = df
    if "surveys" in t and "contacts" in t and "contact_id" in t["surveys"]:
        s, c = t["surveys"], t["contacts"].set_index("id")
        for col in ("agent", "team", "channel", *options.dimensions):
            if col in c:
                linked = s["contact_id"].map(c[col])
                s[col] = s[col].where(s[col].notna(), linked) if col in s else linked
    if "qa" in t:
        q = t["qa"]
        agents = q.groupby("evaluation")["agent"].nunique()
        split = q["evaluation"].isin(agents[agents > 1].index).to_numpy()
        if split.any():
            t["qa"] = reject_rows(ds, q, split, files, "evaluation",
                                  q["evaluation"][split].tolist(),
                                  "this evaluation names more than one agent")
    if "business" in t:
        b = t["business"]
        dup = b["month"].duplicated().to_numpy()
        t["business"] = reject_rows(ds, b, dup, files, "month", b["month"][dup].tolist(),
                                    "the month has two rows of business figures")


def _month_labels(dates):
    """Each date's month, ``2026-10``, as pandas' ``strftime("%Y-%m")`` writes it (blank
    where there is no date): formatted once per distinct month, not once per row (1.4 s
    of a 1 M-row load with strftime), and each row's label taken from those few by
    position (the array's own ``take``: with pyarrow, an Arrow take; making the column
    from a row-long array of Python strings instead cost 0.3 s of 2 M rows)."""
    import pandas as pd

    values = dates.to_numpy()
    if values.dtype.kind != "M":               # tz-aware or text: pandas formats it
        return pd.to_datetime(dates).dt.strftime("%Y-%m")
    months = values.astype("datetime64[M]").view("int64")
    uniq = np.unique(months)                   # a few months; NaT (the least int64) first
    nat = np.datetime64("NaT").astype("datetime64[M]").view("int64")
    labels = pd.Series([None if u == nat else str(np.datetime64(int(u), "M")) for u in uniq],
                       dtype=pd.Series(["x"]).dtype)
    at = np.searchsorted(uniq, months)
    return pd.Series(labels.array.take(at), index=dates.index)


def _repeats(df, key, files: dict[str, str]) -> tuple[Any, list[str]]:
    """(a mask of the rows of ``df`` whose ``key`` an earlier row holds, where that
    earlier row is for each: ``<file> row <n>``), in row order. The check is
    :func:`kpi_xl.checks.embedded.duplicates` (SQL on DuckDB), for ids and agent-days
    alike."""
    from ..checks.embedded import duplicates

    again, first = duplicates(key)
    dup = np.zeros(len(df), bool)
    dup[again] = True
    names, lines = df["_source"].iloc[first].tolist(), df["_row"].to_numpy()[first]
    return dup, [f"{files.get(n, '?')} row {line}" for n, line in zip(names, lines)]


def _one_row_per_agent_day(ds: Dataset, df, files: dict[str, str],
                           sources: Mapping[str, Source]):
    """A WFM export has one row per agent and day; a second row for the same agent-day
    (an overlapping file, a report run twice) is rejected, naming the first, so that no
    time is counted twice."""
    day = df["date"].astype("datetime64[ns]").dt.strftime("%Y-%m-%d")
    dup, seen = _repeats(df, df["agent"].astype(str) + "\x00" + day, files)
    if not dup.any():
        return df
    why = [f"the agent already has a row for {d} ({s}): one row per agent and day"
           for d, s in zip(day[dup], seen)]
    heads = [source_header(sources[n], "date") if n in sources else "date"
             for n in df["_source"][dup]]
    return reject_rows(ds, df, dup, files, heads, day[dup].tolist(), why)


def _apply_rules(ds: Dataset, files: dict[str, str], sources: dict[str, Source],
                 choices) -> None:
    """The catalog's input rules for the KPIs of the run, checked as SQL on DuckDB
    (:class:`kpi_xl.checks.Checks`: one query per table). A row that breaks a rule of some
    KPIs stays in the table: the engine leaves it out of those KPIs only (their domain),
    and the report lists it once, naming them (``left out of KPIs``; on the ``value
    ignored`` line when that ignored value is what breaks the rule). A row that breaks a
    rule of every KPI its table feeds in this run serves none, so it is rejected (a QA
    item scored above the maximum: its evaluation is scored without it, in the engine and
    in the workbook alike). Row numbers repeat across sources of one table, so the check
    runs on positions."""
    from ..checks import Checks

    checks = Checks(ds.tables, choices=choices)
    try:
        found = checks.run()
    finally:
        checks.close()
    feeds = {t: {k.title for k, _v, _p in items} for t, items in checks.plan.items()}
    feeds["contacts"] = feeds.get("contacts", set()) | feeds.get("surveys", set())
    for src_table, rows in found.items():
        if not len(rows):
            continue
        df = ds.tables[src_table]
        pos = rows["_row"].astype("int64").to_numpy()
        names = df["_source"].to_numpy()[pos]
        lines = df["_row"].to_numpy()[pos]
        leaves: dict[int, list[str]] = {}
        for i, kpis in zip(pos, rows["kpis"], strict=True):
            leaves.setdefault(int(i), []).extend(k.strip() for k in kpis.split(", "))
        every = {i for i, ks in leaves.items() if feeds.get(src_table) and
                 feeds[src_table] <= set(ks)}
        # one line per (row, column): the rules it breaks there, and the KPIs they belong to
        lines_of: dict[tuple[int, str], list] = {}
        for i, name, line, column, value, rule, kpis in zip(
                pos, names, lines, rows["column"], rows["value"], rows["rule"], rows["kpis"]):
            header = source_header(sources[name], column) if name in sources else column
            if column in ("score", "criterion") and name in sources \
                    and sources[name].unpivot is not None:
                header = str(df["criterion"].iat[i])     # unpivoted: the item's own column
            entry = lines_of.setdefault((int(i), header), [name, int(line), value, [], []])
            entry[3].append(rule)
            entry[4].extend(k.strip() for k in kpis.split(", "))
        # the lines left out of KPIs whose ignored value is what breaks the rule: the KPIs
        # go on the value-ignored line
        ignored = ds.rejects.merge_kpis(VALUE_IGNORED, {
            (name, line, header): ", ".join(dict.fromkeys(kpis))
            for (i, header), (name, line, _v, _r, kpis) in lines_of.items() if i not in every})
        rejected = np.zeros(len(df), bool)
        for (i, header), (name, line, value, rules, kpis) in lines_of.items():
            rule = "; ".join(dict.fromkeys(rules))
            kpis = ", ".join(dict.fromkeys(kpis))
            if i in every:
                if not rejected[i]:       # one line per rejected row: its first rule
                    month = df["period"].iat[i] if "period" in df else ""
                    ds.rejects.add(name, files.get(name, name), line, header, value,
                                   f"{rule} (needed by {kpis}; the row feeds no other "
                                   "KPI)", ROW_REJECTED,
                                   period=month if isinstance(month, str) else "")
                    rejected[i] = True
                continue
            if (name, line, header) not in ignored:
                ds.rejects.add(name, files.get(name, name), line, header, value, rule,
                               LEFT_OUT, kpis)
        if rejected.any():
            ds.tables[src_table] = df[~rejected].reset_index(drop=True)


def _one_action_per_row(ds: Dataset) -> None:
    """A rejected row is listed as rejected only: the values ignored and the KPIs left
    on it before it was rejected (by a later check) are dropped from the report."""
    ds.rejects.drop_on_rejected_rows()


def _recount(ds: Dataset, by_source: dict[str, Accounting]) -> None:
    """used = rows still in the tables; rejected = the rest (excluded stay apart)."""
    tally = ds.rejects.tally()
    used: dict[str, int] = {}
    for df in ds.tables.values():
        for src, n in df["_source"].value_counts().items():
            used[src] = used.get(src, 0) + int(n)
    for name, acc in by_source.items():
        acc.used = used.get(name, 0)
        acc.rejected = acc.read - acc.used - acc.excluded
        # a placed row rejected later is not counted as placed (its line is gone)
        acc.values_ignored, acc.left_out, acc.placed = tally.get(name, (0, 0, 0))
