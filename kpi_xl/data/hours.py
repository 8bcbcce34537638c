"""Durations in calendar or business hours, as SQL.

Business time between two instants is F(end) − F(start), where F(t) counts the business
seconds from a fixed origin (Monday 1970-01-05) up to t. F has a closed form, so it is one
SQL expression per timestamp, with no calendar table and no join:

* ``W · weeks``: the open seconds of a whole week times the whole weeks before t's date;
* ``P(weekday)``: the open seconds of the days of t's own week before t's date (a
  ``CASE`` over the seven weekdays);
* ``H(day)``: minus the open seconds lost to holidays before t's date (a ``CASE`` over the
  sorted holidays that fall on an open weekday, giving their running total);
* plus the open seconds of t's own day up to t's time of day (``LEAST``/``GREATEST`` of
  the time of day and that weekday's hours), zero on a holiday.

Only ``CASE``, ``FLOOR``, ``LEAST``, ``GREATEST`` and arithmetic on DOUBLE are used, so the
same text runs on DuckDB, PostgreSQL and Spark SQL; the one thing that differs is how a
timestamp becomes seconds since 1970 (``_EPOCH``) and how an instant becomes the centre's
wall-clock time (``_LOCAL``). :func:`business_seconds_sql` renders it for a dialect;
:func:`business_seconds` runs it on DuckDB over two columns (the loader's call). It is
exact to the second (to the microsecond for fractional timestamps) and agrees with a
minute-by-minute count (tests/test_hours.py).

Timestamps are naive local times of the centre (``time_zone`` in the config says which);
tz-aware timestamps are converted to it first. Times are wall-clock: a day's open seconds
are its closing time minus its opening time, a DST change inside opening hours included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

import numpy as np

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONDAY = 4                         # 1970-01-05, a Monday, is day 4 after 1970-01-01
_EPOCH_DATE = date(1970, 1, 1)
#: seconds since 1970-01-01 of a naive (wall-clock) timestamp, per SQL dialect. Spark's
#: TIMESTAMP is read in the session time zone: run it with spark.sql.session.timeZone=UTC
#: so that a naive local time is counted as written.
_EPOCH = {"duckdb": "CAST(EXTRACT(EPOCH FROM {}) AS DOUBLE)",
          "postgres": "CAST(EXTRACT(EPOCH FROM {}) AS DOUBLE PRECISION)",
          "spark": "CAST({} AS DOUBLE)"}
#: an instant (timestamp with time zone) as the wall-clock time of zone {tz}
_LOCAL = {"duckdb": "timezone({tz}, {x})", "postgres": "({x} AT TIME ZONE {tz})",
          "spark": "from_utc_timestamp({x}, {tz})"}


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (``{"mon": ("08:00", "18:00"), ...}``; days left out are
    closed) and holidays (dates closed all day)."""
    week: dict[str, tuple[str, str]] = field(default_factory=lambda: {
        d: ("09:00", "17:00") for d in DAYS[:5]})
    holidays: tuple[date, ...] = ()
    time_zone: str | None = None

    def __post_init__(self):
        for d, (a, b) in self.week.items():
            if d not in DAYS:
                raise ValueError(f"business hours: unknown day {d!r} (use {', '.join(DAYS)})")
            if _secs(a) >= _secs(b):
                raise ValueError(f"business hours: {d} opens at {a} but closes at {b}")

    def _open_close(self) -> tuple[list[float], list[float]]:
        o, c = [0.0] * 7, [0.0] * 7
        for d, (a, b) in self.week.items():
            i = DAYS.index(d)
            o[i], c[i] = _secs(a), _secs(b)
        return o, c


def _secs(hhmm: str) -> float:
    t = time.fromisoformat(hhmm)
    return t.hour * 3600 + t.minute * 60 + t.second


def _num(x: float) -> str:
    return repr(float(x))


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _weekday_case(r: str, values: list[str]) -> str:
    """``CASE r WHEN 0 THEN v0 … END`` (0 where every value is the same 0)."""
    if all(v == "0.0" for v in values):
        return "0.0"
    whens = " ".join(f"WHEN {i}.0 THEN {v}" for i, v in enumerate(values[:-1]))
    return f"(CASE {r} {whens} ELSE {values[-1]} END)"


def _cumulative(d: str, tod: str, weeks: str, r: str, hours: BusinessHours) -> str:
    """F(t) over t's day number ``d``, time of day ``tod`` (seconds), whole weeks since
    the origin ``weeks`` and weekday ``r`` (0 = Monday). One ``CASE`` over the weekday
    gives the days of the week before t's plus t's own day up to ``tod``."""
    o, c = hours._open_close()
    per_day = [c[i] - o[i] for i in range(7)]
    before = [sum(per_day[:i]) for i in range(7)]
    week = sum(per_day)
    own = _weekday_case(r, [f"({_num(before[i])} + LEAST(GREATEST({tod}, {_num(o[i])}), "
                            f"{_num(c[i])}) - {_num(o[i])})" if per_day[i]
                            else _num(before[i]) for i in range(7)])
    # holidays on open weekdays: each takes its whole day's open seconds
    lost = sorted({(h - _EPOCH_DATE).days for h in hours.holidays
                   if per_day[h.weekday()] > 0})
    hol = ""
    if lost:
        whens, running = [], 0.0
        for day in lost:
            whens.append(f"WHEN {d} <= {day}.0 THEN {_num(running)}")
            running += per_day[(day - _MONDAY) % 7]
        hol = f" - (CASE {' '.join(whens)} ELSE {_num(running)} END)"
        days = ", ".join(f"{day}.0" for day in lost)
        # on a holiday, t's own day counts nothing: only the days before it
        own = (f"(CASE WHEN {d} IN ({days}) THEN "
               f"{_weekday_case(r, [_num(b) for b in before])} ELSE {own} END)")
    return f"({_num(week)} * {weeks} + {own}{hol})"


def business_seconds_sql(start: str, end: str, hours: BusinessHours, source: str,
                         dialect: str = "duckdb", aware: bool = False) -> str:
    """A query over ``source`` (a table name or a parenthesised query) with one column,
    ``business_seconds``: the open seconds between the SQL expressions ``start`` and
    ``end``, row by row, in the rows' order (NULL where either is NULL). ``aware``: the
    columns are instants (timestamps with a time zone), converted to the wall-clock time
    of ``hours.time_zone`` (UTC when none) first."""
    epoch = _EPOCH[dialect]
    if aware:
        zone = _text(hours.time_zone or "UTC")
        start, end = (_LOCAL[dialect].format(tz=zone, x=x) for x in (start, end))
    inner = f"SELECT {epoch.format(start)} AS s_e, {epoch.format(end)} AS e_e FROM {source}"
    days = (f"SELECT s_e, e_e, FLOOR(s_e / 86400.0) AS s_d, FLOOR(e_e / 86400.0) AS e_d "
            f"FROM ({inner}) AS secs")
    weeks = (f"SELECT s_e - 86400.0 * s_d AS s_tod, e_e - 86400.0 * e_d AS e_tod, s_d, e_d, "
             f"FLOOR((s_d - {_MONDAY}.0) / 7.0) AS s_w, FLOOR((e_d - {_MONDAY}.0) / 7.0) AS e_w "
             f"FROM ({days}) AS days")
    parts = (f"SELECT s_tod, e_tod, s_d, e_d, s_w, e_w, s_d - {_MONDAY}.0 - 7.0 * s_w AS s_r, "
             f"e_d - {_MONDAY}.0 - 7.0 * e_w AS e_r FROM ({weeks}) AS weeks")
    f_end = _cumulative("e_d", "e_tod", "e_w", "e_r", hours)
    f_start = _cumulative("s_d", "s_tod", "s_w", "s_r", hours)
    return f"SELECT {f_end} - {f_start} AS business_seconds FROM ({parts}) AS parts"


def _local(ts, tz: str | None):
    import pandas as pd

    ts = pd.to_datetime(pd.Series(ts))
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert(tz or "UTC").dt.tz_localize(None)
    return ts


_DUCKDB = None


def _connection():
    """One in-memory DuckDB for the process (opening one costs ~30 ms a call)."""
    global _DUCKDB
    import duckdb

    if _DUCKDB is None:
        _DUCKDB = duckdb.connect(":memory:")
    return _DUCKDB


def business_seconds(start, end, hours: BusinessHours) -> np.ndarray:
    """Open seconds between each start and end (NaN where either is missing), computed by
    DuckDB from :func:`business_seconds_sql`."""
    import pandas as pd

    s, e = pd.to_datetime(pd.Series(start)), pd.to_datetime(pd.Series(end))
    if (s.dt.tz is None) != (e.dt.tz is None):       # one aware, one naive: both local
        s, e = _local(s, hours.time_zone), _local(e, hours.time_zone)
    spans = pd.DataFrame({"s": s.reset_index(drop=True), "e": e.reset_index(drop=True)},
                         copy=False)
    con = _connection().cursor()          # a cursor of its own: safe across threads
    try:
        con.register("spans", spans)
        sql = business_seconds_sql('"s"', '"e"', hours, "spans",
                                   aware=s.dt.tz is not None)
        got = con.execute(sql).fetchnumpy()["business_seconds"]
    finally:
        con.close()
    return np.ma.filled(np.ma.asarray(got, dtype=float), np.nan)


def calendar_seconds(start, end, time_zone: str | None = None) -> np.ndarray:
    s, e = _local(start, time_zone), _local(end, time_zone)
    return (e - s).dt.total_seconds().to_numpy()
