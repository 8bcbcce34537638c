"""Durations in calendar or business hours, vectorised.

Business time between two instants is F(end) − F(start), where F(t) counts the business
seconds from a fixed origin up to t: the open seconds of every whole day before t's date
(a cumulative sum over a per-day table: 0 on closed weekdays and holidays) plus the open
seconds of t's own day up to t's time of day. Both parts are array operations, so a
million tickets take milliseconds, and the definition is exact to the second.

Timestamps are naive local times of the centre (``time_zone`` in the config says which);
tz-aware timestamps are converted to it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

import numpy as np

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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

    def _open_close(self) -> tuple[np.ndarray, np.ndarray]:
        o = np.zeros(7)
        c = np.zeros(7)
        for d, (a, b) in self.week.items():
            i = DAYS.index(d)
            o[i], c[i] = _secs(a), _secs(b)
        return o, c


def _secs(hhmm: str) -> float:
    t = time.fromisoformat(hhmm)
    return t.hour * 3600 + t.minute * 60 + t.second


def _local(ts, tz: str | None):
    import pandas as pd

    ts = pd.to_datetime(pd.Series(ts))
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert(tz or "UTC").dt.tz_localize(None)
    return ts


def business_seconds(start, end, hours: BusinessHours) -> np.ndarray:
    """Open seconds between each start and end (NaN where either is missing)."""
    s, e = _local(start, hours.time_zone), _local(end, hours.time_zone)
    ok = s.notna() & e.notna()
    out = np.full(len(s), np.nan)
    if not ok.any():
        return out
    s_ok, e_ok = s[ok], e[ok]
    first = min(s_ok.min(), e_ok.min()).normalize()
    last = max(s_ok.max(), e_ok.max()).normalize()
    days = np.arange(first.to_datetime64().astype("datetime64[D]"),
                     last.to_datetime64().astype("datetime64[D]") + 1)
    weekday = (days.astype("int64") + 3) % 7          # 1970-01-01 was a Thursday (3)
    open_, close = hours._open_close()
    per_day = (close - open_)[weekday]
    if hours.holidays:
        hol = np.isin(days, np.array(sorted(hours.holidays), dtype="datetime64[D]"))
        per_day = np.where(hol, 0.0, per_day)
    before = np.concatenate([[0.0], np.cumsum(per_day)[:-1]])   # open seconds before day i

    def cumulative(ts):
        d = ts.dt.normalize().to_numpy().astype("datetime64[D]")
        i = (d - days[0]).astype("int64")
        tod = (ts - ts.dt.normalize()).dt.total_seconds().to_numpy()
        wd = weekday[i]
        part = np.clip(tod, open_[wd], close[wd]) - open_[wd]
        part = np.where(per_day[i] > 0, part, 0.0)
        return before[i] + part

    out[ok.to_numpy()] = cumulative(e_ok) - cumulative(s_ok)
    return out


def calendar_seconds(start, end, time_zone: str | None = None) -> np.ndarray:
    s, e = _local(start, time_zone), _local(end, time_zone)
    return (e - s).dt.total_seconds().to_numpy()
