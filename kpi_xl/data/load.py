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
from ..text import clock

from .convert import DEFAULT_CHANNELS, Options, convert
from .hours import BusinessHours, business_seconds, calendar_seconds
from .readers import SourceError, read_source
from .rejects import (LEFT_OUT, ROW_PLACED, ROW_REJECTED, VALUE_IGNORED,
                      Accounting, Rejects)
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
        df = _finish_source(src, df, ds, options)
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


# ------------------------------------------------------------------ per source
def _reject_rows(ds: Dataset, df, mask, files: dict[str, str], column, values, reasons):
    """Drop rows of ``df`` where mask holds, writing each to the rejects report (column,
    values and reasons: one for all, or one per rejected row)."""
    idx = np.flatnonzero(np.asarray(mask, bool))
    # each column read once for the rejected rows, not looked up again per row
    names, lines = df["_source"].iloc[idx].tolist(), df["_row"].to_numpy()[idx]
    months = df["period"].iloc[idx].tolist() if "period" in df else [""] * len(idx)
    for j, (src, line, month) in enumerate(zip(names, lines, months)):
        ds.rejects.add(src, files.get(src, src), int(line),
                       column if isinstance(column, str) else column[j],
                       values[j] if values is not None else "",
                       reasons if isinstance(reasons, str) else reasons[j], ROW_REJECTED,
                       period=month if isinstance(month, str) else "")
    return df[~np.asarray(mask, bool)].reset_index(drop=True)


def _ignore_values(ds: Dataset, df, mask, file: str, column: str, target: str, values, reason):
    idx = np.flatnonzero(np.asarray(mask, bool))
    names, lines = df["_source"].iloc[idx].tolist(), df["_row"].to_numpy()[idx]
    for j, (src, line) in enumerate(zip(names, lines)):
        ds.rejects.add(src, file, int(line), column,
                       values[j], reason if isinstance(reason, str) else reason[j],
                       VALUE_IGNORED)
    if len(idx):
        df.loc[np.asarray(mask, bool), target] = None if df[target].dtype == object else np.nan


def _header(src: Source, target: str) -> str:
    m = src.column(target)
    return (m.column or m.date or target) if m else target


def _finish_source(src: Source, df, ds: Dataset, options: LoadOptions):
    import pandas as pd

    if src.table == "contacts":
        if "date" not in df and "created" in df:
            df["date"] = df["created"]
        if "id" not in df:
            df["id"] = src.name + ":" + df["_row"].astype(str)
        order = [("created", "first_reply_at"), ("created", "solved_at"),
                 ("first_reply_at", "solved_at")]
        for a, b in order:
            if a in df and b in df:
                bad = (df[b] < df[a]).to_numpy()
                if bad.any():
                    shown = [f"{x} < {y}" for x, y in zip(df[b][bad].astype(str),
                                                          df[a][bad].astype(str))]
                    _ignore_values(ds, df, bad, src.file, _header(src, b), b, shown,
                                   f"timestamps out of order: '{_header(src, b)}' is before "
                                   f"'{_header(src, a)}', so this time is left out")
        bh = options.business_hours
        for target, end in (("first_response_hours", "first_reply_at"),
                            ("resolution_hours", "solved_at")):
            if target not in df and "created" in df and end in df:
                secs = (business_seconds(df["created"], df[end], bh) if bh is not None
                        else calendar_seconds(df["created"], df[end]))
                df[target] = secs / 3600.0
        if "answered" in df and "channel" in df:
            call = (df["channel"] == "phone").to_numpy() & df["answered"].isna().to_numpy()
            if call.any():
                df = _reject_rows(ds, df, call, {src.name: src.file}, _header(src, "answered"),
                                  None, f"'{_header(src, 'answered')}' is blank on a phone "
                                  "call; every call needs answered yes or no (an abandoned "
                                  "call is 'no')")
        if "answered" in df:
            abandoned = (df["answered"] == 0).to_numpy()
            for c in ("talk", "hold", "acw"):
                if c in df:
                    nonzero = abandoned & df[c].notna().to_numpy() & (df[c] != 0).to_numpy()
                    _ignore_values(ds, df, nonzero, src.file, _header(src, c), c,
                                   df[c][nonzero].tolist(), "the call was abandoned, so it "
                                   "has no handle time; this value is left out")
                    df.loc[abandoned, c] = np.nan
        if "answered" in df and "handled" not in df:
            # a call is handled when answered; a ticket, chat or e-mail (a contact that is
            # not a phone call, with no answered flag) is handled by being there
            handled = df["answered"].copy()
            if "channel" in df:
                ticket = (df["channel"] != "phone").to_numpy() & handled.isna().to_numpy()
                handled[ticket] = 1.0
            df["handled"] = handled
        elif "handled" not in df:
            df["handled"] = 1.0
        if "response_seconds" not in df:
            resp = pd.Series(np.nan, index=df.index)
            if "wait" in df and "answered" in df:
                resp = resp.where(~(df["answered"] == 1), df["wait"])
            if "first_response_hours" in df:
                ticket = (df["answered"].isna() if "answered" in df
                          else pd.Series(True, index=df.index))
                resp = resp.where(~ticket, df["first_response_hours"] * 3600.0)
            if resp.notna().any():
                df["response_seconds"] = resp.to_numpy()
        if "state" in df and "solved_at" in df:
            _solved_without_time(src, df, ds)
        if src.undated is not None:
            _placed_rows_leave(src, df, ds)
    if src.table == "qa":
        df = _rubric(src, df, ds, options)
    if src.table == "wfm":
        _wfm_times(src, df, ds)
    return df


def _wfm_times(src: Source, df, ds: Dataset) -> None:
    """A WFM export's derived times and the checks between its columns, per row: in
    adherence (scheduled − out of adherence, where only that is given) no more than
    scheduled; handling + available no more than paid; shrinkage (paid − handling −
    available, where not given) no more than paid. A value breaking one is left out
    (reported), so the row leaves only the KPIs that read it: an agent-day whose paid time
    is short of its handling and available time still counts in occupancy."""
    given = set(df.columns)
    if "in_adherence" not in df and {"scheduled", "out_of_adherence"} <= set(df):
        over = (df["out_of_adherence"] > df["scheduled"]).to_numpy()
        _ignore_values(ds, df, over, src.file, _header(src, "out_of_adherence"),
                       "out_of_adherence", _clock(df["out_of_adherence"][over]),
                       f"'{_header(src, 'out_of_adherence')}' is more than "
                       f"'{_header(src, 'scheduled')}' on this day, so it is left out")
        df["in_adherence"] = (df["scheduled"] - df["out_of_adherence"]).to_numpy()
    if {"in_adherence", "scheduled"} <= set(df):
        over = (df["in_adherence"] > df["scheduled"]).to_numpy()
        head = _header(src, "in_adherence" if "in_adherence" in given else "out_of_adherence")
        _ignore_values(ds, df, over, src.file, head, "in_adherence",
                       _clock(df["in_adherence"][over]),
                       f"time in adherence is more than the scheduled time "
                       f"('{_header(src, 'scheduled')}'), so it is left out")
    if {"paid", "handling", "available"} <= set(df):
        worked = df["handling"] + df["available"]
        over = (worked > df["paid"]).to_numpy()
        _ignore_values(ds, df, over, src.file, _header(src, "paid"), "paid",
                       _clock(df["paid"][over]),
                       f"'{_header(src, 'paid')}' is less than handling + available time "
                       f"('{_header(src, 'handling')}' + '{_header(src, 'available')}'), "
                       "so it is left out")
        if "shrinkage" not in df:
            df["shrinkage"] = (df["paid"] - worked).to_numpy()
    if {"shrinkage", "paid"} <= given:
        over = (df["shrinkage"] > df["paid"]).to_numpy()
        _ignore_values(ds, df, over, src.file, _header(src, "shrinkage"), "shrinkage",
                       _clock(df["shrinkage"][over]),
                       f"'{_header(src, 'shrinkage')}' is more than "
                       f"'{_header(src, 'paid')}', so it is left out")


def _clock(seconds) -> list[str]:
    """Durations as a WFM report shows them (h:mm:ss), for the rejects report."""
    return [clock(x) for x in seconds]


def flow_kpis() -> str:
    """The titles of the KPIs computed from the ticket flow (created, solved, open), as
    the engine binds them."""
    from ..bindings import BINDINGS, TICKET_FLOW
    from ..catalog import CATALOG

    return ", ".join(CATALOG[k].title for k, b in BINDINGS.items()
                     if set(b.inputs.values()) & set(TICKET_FLOW))


def _placed_rows_leave(src: Source, df, ds: Dataset) -> None:
    """On each row the undated rule placed (``row placed``), the KPIs of contacts it
    cannot feed: those whose every bound column is blank on it (an open ticket without a
    first reply has no first response time). It stays in every other KPI."""
    from ..bindings import BINDINGS
    from ..catalog import CATALOG

    lines = ds.rejects.rows(src.name, ROW_PLACED)
    if not lines:
        return
    at = df["_row"].isin(list(lines)).to_numpy()
    rows = df[at]
    leaves: list[list[str]] = [[] for _ in range(len(rows))]
    for key, b in BINDINGS.items():
        cols = [c for c in dict.fromkeys([*b.inputs.values(), *b.where]) if c in rows]
        if b.table != "contacts" or not cols:
            continue
        for j in np.flatnonzero(rows[cols].isna().all(axis=1).to_numpy()):
            leaves[j].append(CATALOG[key].title)
    ds.rejects.merge_kpis(ROW_PLACED, {(src.name, int(line)): ", ".join(titles)
                                       for line, titles in zip(rows["_row"], leaves)})


def _solved_without_time(src: Source, df, ds: Dataset) -> None:
    """A solved or closed ticket without a solved time (blank, or ignored above): when it
    was solved is unknown, so the ticket flow (created, solved, open, backlog) leaves it
    out; it stays in every other KPI. Listed in the rejects report, on the line of the
    ignored solved time where there is one."""
    from .schema import OPEN_STATES

    done = (df["state"].notna() & ~df["state"].isin(list(OPEN_STATES))
            & df["solved_at"].isna()).to_numpy()
    if not done.any():
        return
    header, kpis = _header(src, "solved_at"), flow_kpis()
    # on the line of the ignored solved time, where there is one
    ignored = ds.rejects.merge_kpis(VALUE_IGNORED, {(src.name, int(line), header): kpis
                                                    for line in df["_row"][done]})
    for state, line in zip(df["state"][done], df["_row"][done]):
        if (src.name, int(line), header) in ignored:
            continue
        ds.rejects.add(src.name, src.file, int(line), header, "",
                       f"'{header}' is blank on a {state} ticket: when it was solved is "
                       "unknown, so the ticket flow leaves it out", LEFT_OUT, kpis)


def _rubric(src: Source, df, ds: Dataset, options: LoadOptions):
    """Weights and fatal flags from the config's rubric where the export has none."""
    need = [c for c in ("weight", "fatal") if c not in df]
    if not need:
        return df
    items = {r.criterion.strip().lower(): r for r in options.rubric}
    crit = df["criterion"].astype(str).str.strip().str.lower()
    known = crit.isin(list(items)).to_numpy()
    if "weight" in need:
        df["weight"] = [items[c].weight if c in items else np.nan for c in crit]
    if "fatal" in need:
        # weights in the export and no rubric in the config: no item is fatal
        none = "weight" not in need and not items
        df["fatal"] = [float(items[c].fatal) if c in items else 0.0 if none else np.nan
                       for c in crit]
    if "section" not in df:
        df["section"] = [items[c].section if c in items else None for c in crit]
    if not known.all() and ("weight" in need or items):
        bad = ~known
        why = ("is not an item of the config's QA rubric (items: "
               + ", ".join(r.criterion for r in options.rubric) + ")") if options.rubric \
            else "has no weight: map a weight column or list the rubric in the config"
        column = _header(src, "criterion") if src.unpivot is None else \
            df["criterion"][bad].astype(str).tolist()       # unpivoted: its own column
        df = _reject_rows(ds, df, bad, {src.name: src.file}, column,
                          df["criterion"][bad].tolist(), f"criterion {why}")
    return df


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
        t["roster"] = roster = _reject_rows(ds, roster, dup, files, "agent",
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
                df = _reject_rows(ds, df, nodate, files, "date", None,
                                  "has no date to place it in a month")
            df["period"] = _month_labels(df["date"])
        if "id" in df and name != "qa":
            dup, seen = _repeats(df, df["id"], files)
            if dup.any():
                df = _reject_rows(ds, df, dup, files, "id", df["id"][dup].tolist(),
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
            t["qa"] = _reject_rows(ds, q, split, files, "evaluation",
                                   q["evaluation"][split].tolist(),
                                   "this evaluation names more than one agent")
    if "business" in t:
        b = t["business"]
        dup = b["month"].duplicated().to_numpy()
        t["business"] = _reject_rows(ds, b, dup, files, "month", b["month"][dup].tolist(),
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
    heads = [_header(sources[n], "date") if n in sources else "date"
             for n in df["_source"][dup]]
    return _reject_rows(ds, df, dup, files, heads, day[dup].tolist(), why)


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
            header = _header(sources[name], column) if name in sources else column
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
