"""A source's derived columns and the checks between its columns, row by row, per table.

After ``convert`` has typed a source's values, :func:`finish_source` adds what the
canonical table derives from them and checks what one row's columns say about each other:

* contacts: ``date`` from ``created``, an id where the export has none, timestamps out of
  order, response and resolution hours (calendar or business hours), a phone call's
  answered flag, an abandoned call's handle times, ``handled``, ``response_seconds``,
  solved tickets without a solved time, the rows the undated rule placed;
* QA: weights, fatal flags and sections from the config's rubric;
* WFM: time in adherence, shrinkage, and the limits between scheduled, paid, handling and
  available time.

A row that cannot stay is rejected (:func:`reject_rows`), a value that cannot be used is
left out (:func:`ignore_values`), each written to the rejects report with the export's own
column name (:func:`source_header`). ``load`` runs this per source, then its checks
across rows and tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..frames import keep_rows
from ..text import clock
from .hours import business_seconds, calendar_seconds
from .rejects import LEFT_OUT, ROW_PLACED, ROW_REJECTED, VALUE_IGNORED
from .sources import Source

if TYPE_CHECKING:
    from .load import Dataset, LoadOptions


def reject_rows(ds: "Dataset", df, mask, files: dict[str, str], column, values, reasons):
    """Drop rows of ``df`` where mask holds, writing each to the rejects report (column,
    values and reasons: one for all, or one per rejected row). The rows kept are a new
    frame, made column by column from ``df``, which is left without columns
    (:func:`kpi_xl.frames.keep_rows`): the caller replaces it with the result."""
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
    return keep_rows(df, ~np.asarray(mask, bool))


def ignore_values(ds: "Dataset", df, mask, file: str, column: str, target: str, values, reason):
    idx = np.flatnonzero(np.asarray(mask, bool))
    names, lines = df["_source"].iloc[idx].tolist(), df["_row"].to_numpy()[idx]
    for j, (src, line) in enumerate(zip(names, lines)):
        ds.rejects.add(src, file, int(line), column,
                       values[j], reason if isinstance(reason, str) else reason[j],
                       VALUE_IGNORED)
    if len(idx):
        df.loc[np.asarray(mask, bool), target] = None if df[target].dtype == object else np.nan


def source_header(src: Source, target: str) -> str:
    m = src.column(target)
    return (m.column or m.date or target) if m else target


def finish_source(src: Source, df, ds: "Dataset", options: "LoadOptions"):
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
                    ignore_values(ds, df, bad, src.file, source_header(src, b), b, shown,
                                  f"timestamps out of order: '{source_header(src, b)}' is before "
                                  f"'{source_header(src, a)}', so this time is left out")
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
                df = reject_rows(ds, df, call, {src.name: src.file}, source_header(src, "answered"),
                                 None, f"'{source_header(src, 'answered')}' is blank on a phone "
                                 "call; every call needs answered yes or no (an abandoned "
                                 "call is 'no')")
        if "answered" in df:
            abandoned = (df["answered"] == 0).to_numpy()
            for c in ("talk", "hold", "acw"):
                if c in df:
                    nonzero = abandoned & df[c].notna().to_numpy() & (df[c] != 0).to_numpy()
                    ignore_values(ds, df, nonzero, src.file, source_header(src, c), c,
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


def _wfm_times(src: Source, df, ds: "Dataset") -> None:
    """A WFM export's derived times and the checks between its columns, per row: in
    adherence (scheduled − out of adherence, where only that is given) no more than
    scheduled; handling + available no more than paid; shrinkage (paid − handling −
    available, where not given) no more than paid. A value breaking one is left out
    (reported), so the row leaves only the KPIs that read it: an agent-day whose paid time
    is short of its handling and available time still counts in occupancy."""
    given = set(df.columns)
    if "in_adherence" not in df and {"scheduled", "out_of_adherence"} <= set(df):
        over = (df["out_of_adherence"] > df["scheduled"]).to_numpy()
        ignore_values(ds, df, over, src.file, source_header(src, "out_of_adherence"),
                      "out_of_adherence", _clock(df["out_of_adherence"][over]),
                      f"'{source_header(src, 'out_of_adherence')}' is more than "
                      f"'{source_header(src, 'scheduled')}' on this day, so it is left out")
        df["in_adherence"] = (df["scheduled"] - df["out_of_adherence"]).to_numpy()
    if {"in_adherence", "scheduled"} <= set(df):
        over = (df["in_adherence"] > df["scheduled"]).to_numpy()
        head = source_header(src, "in_adherence" if "in_adherence" in given else "out_of_adherence")
        ignore_values(ds, df, over, src.file, head, "in_adherence",
                      _clock(df["in_adherence"][over]),
                      f"time in adherence is more than the scheduled time "
                      f"('{source_header(src, 'scheduled')}'), so it is left out")
    if {"paid", "handling", "available"} <= set(df):
        worked = df["handling"] + df["available"]
        over = (worked > df["paid"]).to_numpy()
        ignore_values(ds, df, over, src.file, source_header(src, "paid"), "paid",
                      _clock(df["paid"][over]),
                      f"'{source_header(src, 'paid')}' is less than handling + available "
                      f"time ('{source_header(src, 'handling')}' + "
                      f"'{source_header(src, 'available')}'), so it is left out")
        if "shrinkage" not in df:
            df["shrinkage"] = (df["paid"] - worked).to_numpy()
    if {"shrinkage", "paid"} <= given:
        over = (df["shrinkage"] > df["paid"]).to_numpy()
        ignore_values(ds, df, over, src.file, source_header(src, "shrinkage"), "shrinkage",
                      _clock(df["shrinkage"][over]),
                      f"'{source_header(src, 'shrinkage')}' is more than "
                      f"'{source_header(src, 'paid')}', so it is left out")


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


def _placed_rows_leave(src: Source, df, ds: "Dataset") -> None:
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


def _solved_without_time(src: Source, df, ds: "Dataset") -> None:
    """A solved or closed ticket without a solved time (blank, or ignored above): when it
    was solved is unknown, so the ticket flow (created, solved, open, backlog) leaves it
    out; it stays in every other KPI. Listed in the rejects report, on the line of the
    ignored solved time where there is one."""
    from .schema import OPEN_STATES

    done = (df["state"].notna() & ~df["state"].isin(list(OPEN_STATES))
            & df["solved_at"].isna()).to_numpy()
    if not done.any():
        return
    header, kpis = source_header(src, "solved_at"), flow_kpis()
    # on the line of the ignored solved time, where there is one
    ignored = ds.rejects.merge_kpis(VALUE_IGNORED, {(src.name, int(line), header): kpis
                                                    for line in df["_row"][done]})
    for state, line in zip(df["state"][done], df["_row"][done]):
        if (src.name, int(line), header) in ignored:
            continue
        ds.rejects.add(src.name, src.file, int(line), header, "",
                       f"'{header}' is blank on a {state} ticket: when it was solved is "
                       "unknown, so the ticket flow leaves it out", LEFT_OUT, kpis)


def _rubric(src: Source, df, ds: "Dataset", options: "LoadOptions"):
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
        column = source_header(src, "criterion") if src.unpivot is None else \
            df["criterion"][bad].astype(str).tolist()       # unpivoted: its own column
        df = reject_rows(ds, df, bad, {src.name: src.file}, column,
                         df["criterion"][bad].tolist(), f"criterion {why}")
    return df
