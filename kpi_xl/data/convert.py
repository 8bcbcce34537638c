"""Raw columns of one source → typed canonical columns, every bad value accounted for.

Each canonical type has one parser, applied column-wise (pandas where it is exact, Python
for the leftovers). A column DuckDB read (``rawcols.SqlColumn``) has its plainly written
values typed in SQL, and only the others go through the parser (``_parse_sql``). A parser returns the typed values and, for each value it could not
take, the reason in words. Then the column's role decides: a bad *key* value rejects the
row, a bad *measure* value is ignored and reported (see ``kpi_xl.data.schema``).

Nothing is guessed: dates that are not ISO 8601 need a ``format`` in the mapping
(01/02/2026 is January in one country and February in another), numbers with thousands
separators or a decimal comma are refused unless the source sets ``thousands`` /
``decimal`` (``kpi_xl.data.shape``), and codes that a flag or channel mapping does not know are named.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..frames import keep_rows
from . import rawcols
from .rawcols import SqlColumn
from .readers import RawTable
from .rejects import ROW_EXCLUDED, ROW_PLACED, ROW_REJECTED, VALUE_IGNORED, Accounting, Rejects
from .schema import OPEN_STATES, STATES, TABLES, Column
from .shape import plain_numbers
from .sources import UNITS, ColumnMap, Source, undated_time

YES = {"y", "yes", "true", "1", "1.0", "t"}
NO = {"n", "no", "false", "0", "0.0", "f"}
NA = {"n/a", "na", "not applicable"}
DEFAULT_CHANNELS = ("phone", "email", "chat", "social")
_OFFSET = re.compile(r"(?:[+-]\d\d:?\d\d|Z)$")


@dataclass(frozen=True)
class Options:
    """Loader options from the config."""
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    #: the centre's time zone: timestamps with a UTC offset (2026-10-01T08:12:00+02:00)
    #: are converted to it; timestamps without one are taken as its local time
    time_zone: str = "UTC"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (
        isinstance(v, float) and v != v)


def _show_text(v: Any) -> str:
    return "" if _blank(v) else _text(v)


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v).strip()


def texts(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Each value as trimmed text (None where blank) and the blank mask. A column of text
    (every CSV column) is one list comprehension; otherwise the numbers, dates and
    booleans of xlsx or Parquet cells are written out one by one."""
    import pandas as pd

    try:
        out = np.array([v.strip() for v in values] or [], dtype=object)
    except AttributeError:              # not all text: None, numbers, dates...
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = v.strip() if isinstance(v, str) else None if (
                v is None or (isinstance(v, float) and v != v)) else _text(v)
    blank = pd.isna(out) | (out == "")
    out[blank] = None
    return out, blank


def _apply_codes(values: list, codes: dict | None) -> list:
    """Export values replaced by their meaning (matched trimmed, in any case)."""
    if not codes:
        return values
    import pandas as pd

    table = {str(k).strip().lower(): v for k, v in codes.items()}
    text, blank = texts(values)
    meaning = pd.Series(text, dtype=object).str.lower().map(table).to_numpy(dtype=object)
    hit = ~blank & ~pd.isna(meaning)
    out = list(values)
    for i in np.flatnonzero(hit):
        out[i] = meaning[i]
    return out


def _one_of(values, wanted: list[str]) -> np.ndarray:
    """Where the value, trimmed and in any case, is one of ``wanted`` (lower case)."""
    import pandas as pd

    if isinstance(values, SqlColumn):
        return rawcols.merge(values, rawcols.one_of(values, wanted), False,
                             lambda vs: (_one_of(vs, wanted), {}), bool)[0]
    text, _blank = texts(values)
    return pd.Series(text, dtype=object).str.lower().isin(wanted).to_numpy(dtype=bool)


# ------------------------------------------------------------------ parsers
_FLAGS = {**{k: 1.0 for k in YES}, **{k: 0.0 for k in NO}}


def parse_flag(values: list, m: ColumnMap) -> tuple[np.ndarray, dict[int, str]]:
    import pandas as pd

    text, blank = texts(values)
    out = pd.Series(text, dtype=object).str.lower().map(_FLAGS).to_numpy(dtype=float)
    bad = {int(i): ("is not a yes/no value (Y/N, Yes/No, TRUE/FALSE, 1/0); map other codes "
                    "with codes in the source's mapping")
           for i in np.flatnonzero(~blank & np.isnan(out))}
    return out, bad


def parse_number(values: list, m: ColumnMap, *, score: bool = False):
    import pandas as pd

    text, blank = texts(values)       # numbers from xlsx come back as exact text (repr)
    num = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(float, copy=True)
    bad: dict[int, str] = {}
    na = np.zeros(len(values), bool)
    for i in np.flatnonzero(~blank & np.isnan(num)):
        v = values[i]
        if isinstance(v, bool):
            bad[i] = "is TRUE/FALSE where a number is expected"
        elif score and isinstance(v, str) and v.strip().lower() in NA:
            na[i] = True
        elif isinstance(v, str) and v.strip().lower() in ("nan", "+nan", "-nan"):
            bad[i] = "is not a finite number"
        else:
            bad[i] = "is not a number" + (" (units are not read, and thousands separators "
                                           "or a decimal comma only with the source's "
                                           "thousands/decimal settings)" if isinstance(v, str) and
                                          any(c in v for c in ",  ") else "")
    for i in np.flatnonzero(~np.isfinite(num) & ~np.isnan(num)):
        bad[i] = "is not a finite number"
        num[i] = np.nan
    if score:
        return num, bad, na
    return num, bad


def parse_duration(values: list, m: ColumnMap, default_unit: str):
    """Seconds (or hours, per ``default_unit``) from numbers in the mapping's unit, from
    h:mm:ss text, and from time or timedelta values (an xlsx time cell)."""
    import pandas as pd

    unit = m.unit or default_unit
    scale = duration_scale(default_unit)
    s = pd.Series(values, dtype=object)
    _text_values, blank = texts(values)
    num = pd.to_numeric(s.where(~blank, None), errors="coerce").to_numpy(float, copy=True)
    if unit == "hh:mm:ss":
        num[:] = np.nan
    out = duration_of(num, m, default_unit)
    bad: dict[int, str] = {}
    for i in np.flatnonzero(~blank & np.isnan(num)):
        v = values[i]
        if isinstance(v, str) and v.strip().lower() in ("nan", "+nan", "-nan"):
            bad[i] = "is not a finite number"
            continue
        secs = _duration_seconds(v)
        if secs is None:
            bad[i] = (f"is not a duration (a number of {unit}, h:mm:ss, or a time value)"
                      if unit != "hh:mm:ss" else "is not a duration in h:mm:ss")
            continue
        out[i] = secs * scale
    neg = np.flatnonzero(out < 0)
    for i in neg:
        bad[i] = "is a negative duration"
        out[i] = np.nan
    return out, bad


def duration_scale(default_unit: str) -> float:
    """Seconds to the column's own unit (seconds, or hours)."""
    return 1 / 3600.0 if default_unit == "hours" else 1.0


def duration_of(num: np.ndarray, m: ColumnMap, default_unit: str) -> np.ndarray:
    """Numbers in the mapping's unit as seconds (or hours, per ``default_unit``)."""
    return num * UNITS.get(m.unit or default_unit, 1.0) * duration_scale(default_unit)


def _duration_seconds(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, dt.time):
        return v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6
    if isinstance(v, str):
        parts = v.strip().split(":")
        if len(parts) in (2, 3) and all(p.replace(".", "", 1).isdigit() for p in parts):
            nums = [float(p) for p in parts]
            if len(nums) == 2:
                nums = [0.0] + nums
            h, mi, se = nums
            if mi < 60 and se < 60:
                return h * 3600 + mi * 60 + se
            return None
        neg = v.strip()
        if neg.startswith("-") and neg[1:].replace(".", "", 1).isdigit():
            return float(neg)   # reported as negative by the caller
    return None


def parse_timestamp(values: list, m: ColumnMap, times: list | None = None,
                    time_zone: str = "UTC"):
    """Timestamps from datetime cells, ISO 8601 text, or text in the mapping's format;
    with ``times``, a date and a time-of-day column combined."""
    import pandas as pd

    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    bad: dict[int, str] = {}
    text_values, blank = texts(values)
    if all(type(v) is str for v in values):       # CSV: no date cells to look for
        is_dt = np.zeros(n, bool)
    else:
        is_dt = np.fromiter((isinstance(v, (dt.date, pd.Timestamp)) for v in values), bool, n)
    if is_dt.any():
        cells = [v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
                 for v in np.asarray(values, dtype=object)[is_dt]]
        out[is_dt] = pd.to_datetime(pd.Series(cells, dtype=object)).to_numpy() \
            .astype("datetime64[us]")
    text = ~blank & ~is_dt
    if text.any():
        fmt = m.format or "ISO8601"
        strs = text_values[text]
        # a UTC offset or Z ends the text; only text longer than 'YYYY-MM-DD HH:MM:SS'
        # (or ending in Z) can carry one, so the pattern runs on those alone
        offset = np.array([(len(t) > 19 or t.endswith("Z")) and _OFFSET.search(t) is not None
                           for t in strs], dtype=bool)
        vals = np.full(len(strs), np.datetime64("NaT"), dtype="datetime64[us]")
        if (~offset).any():
            naive = pd.to_datetime(pd.Series(strs[~offset], dtype=object), format=fmt,
                                   errors="coerce")
            vals[~offset] = naive.to_numpy().astype("datetime64[us]")
        if offset.any():   # a UTC offset: to the centre's local time, then naive
            aware = pd.to_datetime(pd.Series(strs[offset], dtype=object), format=fmt,
                                   errors="coerce", utc=True)
            vals[offset] = aware.dt.tz_convert(time_zone).dt.tz_localize(None) \
                .to_numpy().astype("datetime64[us]")
        idx = np.flatnonzero(text)
        out[idx] = vals
        for i in idx[np.isnat(vals)]:
            v = values[i]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bad[i] = "is a number where a date is expected (format the column as a date)"
            elif m.format:
                bad[i] = f"does not match the date format {m.format!r}"
            else:
                bad[i] = ("is not an ISO date such as 2026-10-31 or 2026-10-31 14:05; "
                          "set format (e.g. '%d/%m/%Y %H:%M') for this column in the mapping")
    if times is not None:
        secs, tbad = parse_duration(times, ColumnMap(m.target, unit="hh:mm:ss"), "seconds")
        for i, why in tbad.items():
            if not blank[i]:
                bad[i] = f"has a time of day that {why.removeprefix('is ')}".replace(
                    "that not", "that is not")
        ok = ~np.isnat(out) & ~np.isnan(secs)
        day = out.astype("datetime64[D]").astype("datetime64[us]")
        out = np.where(ok, day + (np.nan_to_num(secs) * 1e6).astype("timedelta64[us]"),
                       np.where(np.isnan(secs), np.datetime64("NaT"), out))
        for i in np.flatnonzero(~blank & np.isnan(secs)):
            bad.setdefault(i, "has no time of day")
    return out, bad


def parse_text(values: list, m: ColumnMap, *, lower: bool = False):
    import pandas as pd

    text, blank = texts(values)
    if lower:
        text = pd.Series(text, dtype=object).str.lower().to_numpy(dtype=object, copy=True)
        text[blank] = None
    return text, {}


def parse_month(values: list, m: ColumnMap):
    import pandas as pd

    out = np.empty(len(values), dtype=object)
    bad: dict[int, str] = {}
    for i, v in enumerate(values):
        if _blank(v):
            out[i] = None
            continue
        if isinstance(v, (dt.date, pd.Timestamp)):
            out[i] = f"{v.year:04d}-{v.month:02d}"
            continue
        t = _text(v)
        if len(t) >= 7 and t[4] == "-" and t[:4].isdigit() and t[5:7].isdigit() \
                and 1 <= int(t[5:7]) <= 12 and (len(t) == 7 or t[7] == "-"):
            out[i] = t[:7]
        else:
            out[i] = None
            bad[i] = "is not a month such as 2026-10"
    return out, bad


def dimension_column(name: str) -> Column:
    """A dimension the config declares (``kpi_xl.dimensions``): text, blank is missing;
    no value of it rejects a row."""
    return Column(name, "text", f"Dimension '{name}' (declared in the config).")


# ------------------------------------------------------------------ one source
def convert(source: Source, raw: RawTable, rejects: Rejects, options: Options = Options()):
    """The source's rows as a canonical DataFrame (plus ``_source`` and ``_row``), with
    its accounting; bad values and rows go to ``rejects``."""
    import pandas as pd

    source = raw.source
    table = TABLES[source.table]
    n = len(raw.rows)
    acc = Accounting(source.name, source.file, source.table, read=raw.read)
    acc.rejected = raw.read - n           # structurally broken CSV records
    keep = np.ones(n, bool)
    why_row: dict[int, tuple[str, Any, str]] = {}

    def reject(i: int, column: str, value: Any, reason: str) -> None:
        if keep[i]:
            keep[i] = False
            why_row[i] = (column, value, reason)

    # exclusions first: rows left out on purpose are not checked further
    excluded = np.zeros(n, bool)
    for e in source.exclude:       # every condition of an exclusion must hold
        hit = ~excluded
        for c in e.when:
            hit &= _one_of(raw.columns[c.column], [v.strip().lower() for v in c.values])
        at = np.flatnonzero(hit)
        cells = [dict(zip(at.tolist(), raw.columns[c.column].take(at)))
                 if isinstance(raw.columns[c.column], SqlColumn) else raw.columns[c.column]
                 for c in e.when]
        for i in at.tolist():
            shown = ", ".join(_show_text(col[i]) for col in cells)
            rejects.add(source.name, source.file, int(raw.rows[i]), e.column, shown, e.reason,
                        ROW_EXCLUDED)
        excluded |= hit
    keep &= ~excluded

    data: dict[str, Any] = {}
    ignored: list[tuple[int, str, Any, str]] = []
    bads: dict[str, set[int]] = {}          # per canonical column: positions of bad values
    undated_blank = None                    # blank dates, when the undated rule decides
    for cm in source.columns:
        col = table.column(cm.target) if cm.target in table.names else dimension_column(cm.target)
        numeric = col.type in ("number", "score", "seconds", "hours")
        if cm.value is not None:
            values = [cm.value] * n
        else:
            values = raw.columns[cm.column or cm.date]
            python = cm.time or (numeric and (source.decimal != "." or source.thousands))
            if isinstance(values, SqlColumn) and cm.codes and not python and all(
                    isinstance(v, str) for v in cm.codes.values()):
                values = values.coded({str(k).strip().lower(): v for k, v in cm.codes.items()},
                                      _apply_codes)
            elif not isinstance(values, SqlColumn) or cm.codes or python:
                values = list(values)       # the Python parsers read every value
        header = cm.column or cm.date or ""
        cells = raw.headers.get(header)      # unpivoted: each value's own column
        if not isinstance(values, SqlColumn):      # (a SqlColumn is coded already)
            values = _apply_codes(values, cm.codes)
            if numeric:
                values = plain_numbers(values, source.decimal, source.thousands)
        typed, bad, extra = _parse(col, cm, values, raw, options)
        if isinstance(values, SqlColumn):   # the export's text of the bad values only
            at = np.array(sorted(bad), dtype=np.int64)
            values = dict(zip(at.tolist(), values.take(at)))
        data[col.name] = typed
        bads[col.name] = set(bad)
        for i, reason in bad.items():
            if excluded[i]:
                continue
            h = cells[i] if cells else header
            if col.role == "key":
                reject(i, h, values[i], f"'{h}' {reason}")
            else:
                ignored.append((i, h, values[i], f"'{h}' {reason}"))
        if col.filled:
            missing = _is_missing(typed) & ~np.isin(np.arange(n), list(bad)) & ~extra
            if col.name == "date" and source.undated is not None and source.table == "contacts":
                undated_blank = missing          # placed or rejected once 'state' is read
                continue
            for i in np.flatnonzero(missing & keep):
                h = cells[i] if cells else header
                reject(i, h, "", f"'{h}' is blank; every row needs {_what(col)}")
    if source.undated is not None and source.table == "contacts":
        _place_undated(source, data, bads, undated_blank, keep, excluded, reject, rejects,
                       raw, acc)
    when = data.get("date", data.get("created"))
    when = when if when is not None and getattr(when, "dtype", None) is not None \
        and when.dtype.kind == "M" else None
    for i, (column, value, reason) in sorted(why_row.items()):
        month = "" if when is None or np.isnat(when[i]) else str(when[i])[:7]
        rejects.add(source.name, source.file, int(raw.rows[i]), column, value, reason,
                    ROW_REJECTED, period=month)
    for i, column, value, reason in ignored:
        if keep[i]:
            rejects.add(source.name, source.file, int(raw.rows[i]), column, value, reason,
                        VALUE_IGNORED)
            acc.values_ignored += 1
    acc.excluded = int(excluded.sum())
    acc.rejected += int((~keep & ~excluded).sum())
    acc.used = int(keep.sum())
    for values in raw.columns.values():      # DuckDB's copy of the file is done with
        if isinstance(values, SqlColumn):
            values.close()
    every = bool(keep.all())
    # copy=False: the columns as they are, not copied into one 2-D block per type (pandas'
    # consolidation copied every numeric column again: ~1 s of a 1 M-row, 19-column load).
    # Where rows are rejected, the frame is the only holder of its columns (``data`` and
    # ``when`` let go), so kpi_xl.frames.keep_rows frees each column as it takes its kept
    # rows: never the whole table twice
    df = pd.DataFrame(data, copy=False)
    data.clear()
    when = None
    if not every:
        df = keep_rows(df, keep)
    df["_source"] = source.name
    df["_row"] = raw.rows[keep]
    return df, acc


def _place_undated(source: Source, data: dict, bads: dict, blank, keep, excluded, reject,
                   rejects: Rejects, raw: RawTable, acc: Accounting) -> None:
    """The source's ``undated`` rule: a row without a date whose state is open or pending
    is placed at the export's latest time (or the time the rule gives) and counted as an
    open ticket there; every other row without a date is rejected, saying why. Each placed
    row is written to the rejects report (``row placed``) and counted in the accounting.
    When ``date`` is unmapped, the blank ``created`` times are the rows without a date:
    ``date`` is added for the placed rows, ``created`` stays blank (it is not known)."""
    import pandas as pd

    target = "date" if "date" in data else "created"
    when = data.get(target)
    if when is None or when.dtype.kind != "M":
        return
    n = len(when)
    cm = source.column(target)
    header = (cm.column or cm.date or target) if cm else target
    if blank is None:               # 'created' places the rows: its blanks, not its bad values
        blank = np.isnat(when) & ~np.isin(np.arange(n), list(bads.get(target, ())))
    cand = np.flatnonzero(blank & keep)
    if not len(cand):
        return
    state = data.get("state")
    if state is not None and not isinstance(state, np.ndarray):    # Arrow-backed text
        state = state.to_numpy(dtype=object, na_value=None)
    fixed = undated_time(source.undated)
    if fixed is not None:
        as_of, why = np.datetime64(fixed, "us"), "the time the source's undated setting gives"
    else:
        times = [v[~excluded] for v in data.values()
                 if getattr(v, "dtype", None) is not None and v.dtype.kind == "M"]
        times = [t[~np.isnat(t)] for t in times]
        times = [t.max() for t in times if len(t)]
        as_of = max(times) if times else np.datetime64("NaT")
        why = "the latest time in the file"
    shown = str(pd.Timestamp(as_of)) if not np.isnat(as_of) else ""
    placed = []
    for i in cand:
        st = state[i] if state is not None else None
        if st in OPEN_STATES and shown:
            placed.append(i)
            continue
        rule = ("the source's undated rule places open and pending tickets only, and this "
                + (f"ticket is {st}" if st else "row has no state")) if shown else \
            "no row of the file has a time to place it at"
        reject(i, header, "", f"'{header}' is blank; every row needs a date ({rule})")
    if not placed:
        return
    if target == "created":          # 'date' (what places a row) is the created time
        data["date"] = data["created"].copy()
    data["date"][placed] = as_of
    for i in placed:
        rejects.add(source.name, source.file, int(raw.rows[i]), header, "",
                    f"'{header}' is blank; the ticket is {state[i]}, so the source's undated "
                    f"rule places it at {shown} ({why}) and counts it as open there; it stays "
                    "out of the KPIs that need the times it lacks", ROW_PLACED,
                    period=shown[:7])
    acc.placed = len(placed)
    acc.placed_at = f"{shown} ({why})"


def _what(col: Column) -> str:
    return {"date": "a date", "timestamp": "a date", "month": "a month"}.get(
        col.type, f"a value here ({col.doc.split('.')[0].lower()})")


def _is_missing(typed: np.ndarray) -> np.ndarray:
    if not isinstance(typed, np.ndarray):       # Arrow-backed text: missing is None's NA
        import pandas as pd

        return np.asarray(pd.isna(typed), dtype=bool)
    if typed.dtype.kind == "M":
        return np.isnat(typed)
    if typed.dtype.kind == "f":
        return np.isnan(typed)
    return np.equal(typed, None)


def _parse(col: Column, cm: ColumnMap, values: list, raw: RawTable, options: Options):
    """(typed values, bad positions with reasons, positions holding N/A)."""
    if isinstance(values, SqlColumn):
        got = _parse_distinct(col, cm, values, raw, options)
        if got is None:
            got = _parse_sql(col, cm, values, options)
        if got is not None:
            v, bad, extra = got
            v = _checked(col, cm, values, v, bad, options)
            return v, dict(sorted(bad.items())), extra
        values = list(values)
    v, bad, extra = _parse_values(col, cm, values, raw, options)
    v = _checked(col, cm, values, v, bad, options)
    # in row order whichever path typed them: the parser lists its reasons one kind after
    # another, typing by distinct value lists them row by row, and the rejects report's
    # summary breaks ties between reasons by the first line added
    return v, dict(sorted(bad.items())), extra


def _parse_values(col: Column, cm: ColumnMap, values: list, raw: RawTable, options: Options):
    """The column's parser over a list of values: (typed, bad positions with reasons,
    positions holding N/A)."""
    t = col.type
    none = np.zeros(len(values), bool)
    if t == "flag":
        v, bad = parse_flag(values, cm)
    elif t == "number":
        v, bad = parse_number(values, cm)
    elif t == "score":
        return parse_number(values, cm, score=True)
    elif t in ("seconds", "hours"):
        v, bad = parse_duration(values, cm, t)
    elif t in ("timestamp", "date"):
        times = list(raw.columns[cm.time]) if cm.time else None
        v, bad = parse_timestamp(values, cm, times, options.time_zone)
        if t == "date":
            v = v.astype("datetime64[D]").astype("datetime64[us]")
    elif t == "month":
        v, bad = parse_month(values, cm)
    elif t == "category":
        v, bad = parse_text(values, cm, lower=True)
    else:
        v, bad = parse_text(values, cm)
    return v, bad, none


#: a column is typed value by value (:func:`_parse_distinct`) where it has at most this
#: share of its rows as distinct values (and at least up to ``_DISTINCT_MIN`` of them)
_DISTINCT_SHARE, _DISTINCT_MIN = 20, 1_000


def _parse_distinct(col: Column, cm: ColumnMap, values: SqlColumn, raw: RawTable,
                    options: Options):
    """The column's parser run once per distinct value, each row taking its value's
    result (``SqlColumn.distinct``): the parser is the definition and reads each value
    on its own, so every row gets what the parser gives it, with no SQL shortcut to
    prove equal. An export's codes, agents, teams, channels and durations repeat: the
    parser then reads a few hundred values instead of a million, and DuckDB groups the
    text once (1 M rows: ~0.04 s a column against 0.1-0.35 s for the SQL path's tests and
    casts). None where the column has too many distinct values (ids, timestamps: the SQL
    path types those) or where a row's value is read with another column's (a time of
    day beside a date)."""
    if cm.time:
        return None
    n = len(values)
    got = values.distinct(max(_DISTINCT_MIN, n // _DISTINCT_SHARE))
    if got is None:
        return None
    uniq, at = got
    v, bad, extra = _parse_values(col, cm, uniq, raw, options)
    return (rawcols.expand(v, at, text=col.type in ("category", "text", "id")),
            rawcols.expand_reasons(bad, at, len(uniq)), np.asarray(extra, bool)[at])


def _parse_sql(col: Column, cm: ColumnMap, values: SqlColumn, options: Options):
    """As the parsers below, with the values written plainly typed in DuckDB (see
    ``rawcols``); the parser itself reads the others. None: no SQL path for this type."""
    t, nat = col.type, np.datetime64("NaT", "us")
    if t == "flag":
        v, bad = rawcols.merge(values, rawcols.codes(values, _FLAGS), np.nan,
                               lambda vs: parse_flag(vs, cm), float)
    elif t == "number":
        v, bad = rawcols.merge(values, rawcols.number(values), np.nan,
                               lambda vs: parse_number(vs, cm), float)
    elif t == "score":
        return rawcols.merge(values, rawcols.number(values), np.nan,
                             lambda vs: parse_number(vs, cm, score=True), float, extra=True)
    elif t in ("seconds", "hours") and (cm.unit or t) != "hh:mm:ss":
        v, bad = rawcols.merge(values, rawcols.unsigned(values), np.nan,
                               lambda vs: parse_duration(vs, cm, t), float,
                               then=lambda num: duration_of(num, cm, t))
    elif t in ("seconds", "hours"):
        v, bad = rawcols.merge(values, rawcols.clock(values), np.nan,
                               lambda vs: parse_duration(vs, cm, t), float,
                               then=lambda secs: secs * duration_scale(t))
    elif t in ("timestamp", "date") and rawcols.timestamp(values, cm.format) is not None:
        v, bad = rawcols.merge(values, rawcols.timestamp(values, cm.format), nat,
                               lambda vs: parse_timestamp(vs, cm, None, options.time_zone),
                               "datetime64[us]")
        if t == "date":
            v = v.astype("datetime64[D]").astype("datetime64[us]")
    elif t in ("category", "text", "id"):
        v, bad = rawcols.merge(values, rawcols.text(values, t == "category"), None,
                               lambda vs: parse_text(vs, cm, lower=t == "category"), object,
                               text=True)
    else:
        return None                  # months: the parser reads every value
    return v, bad, np.zeros(len(values), bool)


def _checked(col: Column, cm: ColumnMap, values, v: np.ndarray, bad: dict[int, str],
             options: Options) -> np.ndarray:
    """The checks every parsed column goes through: known channels and states, finite
    numbers, the column's range; bad values blanked."""
    import pandas as pd

    if col.type == "category" and col.name in ("channel", "state"):
        known = list(options.channels) if col.name == "channel" else list(STATES)
        unknown = np.flatnonzero(~np.asarray(pd.isna(v)) & ~pd.Series(
            v, dtype=object if isinstance(v, np.ndarray) else None).isin(known).to_numpy())
        if len(unknown):
            shown = dict(zip(unknown.tolist(), values.take(unknown))) \
                if isinstance(values, SqlColumn) else values
        for i in unknown.tolist():
            if col.name == "channel":
                bad[i] = (f"is not a known channel (known: {', '.join(options.channels)}); "
                          "map it with codes in the source's channel column, or add it to "
                          "the config's channels")
            else:
                bad[i] = (f"is not a ticket state ({', '.join(STATES)}); map the "
                          "export's statuses with codes in the source's state column, "
                          f"e.g. state = {{ column = \"{cm.column or ''}\", codes = "
                          f"{{ \"{_show_text(shown[i])}\" = \"pending\" }} }}; "
                          "the row is used without a state (not counted as a ticket in "
                          "the ticket flow)")
            if isinstance(v, np.ndarray):
                v[i] = None
        if not isinstance(v, np.ndarray) and len(unknown):
            v[unknown] = None        # Arrow-backed text: one assignment (each copies)
    if not isinstance(v, np.ndarray):                   # Arrow-backed text (rawcols)
        if bad:
            v[np.fromiter(bad, dtype=np.int64)] = None
        return v
    if not v.flags.writeable:        # pandas hands out read-only views (copy-on-write)
        v = v.copy()
    if v.dtype.kind == "f":          # inf, -inf, 1e309 (and their h:mm:ss spellings)
        for i in np.flatnonzero(np.isinf(v)):
            bad[i] = "is not a finite number"
            v[i] = np.nan
    if col.lo is not None and v.dtype.kind == "f":
        for i in np.flatnonzero(v < col.lo):
            bad[i] = f"must be at least {col.lo:g}"
            v[i] = np.nan
    if col.hi is not None and v.dtype.kind == "f":
        for i in np.flatnonzero(v > col.hi):
            bad[i] = f"must be at most {col.hi:g}"
            v[i] = np.nan
    for i in bad:
        if v.dtype.kind == "f":
            v[i] = np.nan
        elif v.dtype.kind == "M":
            v[i] = np.datetime64("NaT")
        else:
            v[i] = None
    return v

