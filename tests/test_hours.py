"""Business hours as SQL (kpi_xl/data/hours.py) against an independent reference.

The reference below walks a span minute by minute in the centre's wall-clock time and
counts the minutes that fall inside the weekday's opening hours on a day that is not a
holiday: the definition of business time, written without the closed form the SQL uses.
Spans, opening hours and holidays are whole minutes, so the count is exact and the two
must agree to the second. The hand-worked cases are in tests/test_loading.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_xl.data.hours import DAYS, BusinessHours, business_seconds, business_seconds_sql

ZONES = [None, "UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kathmandu", "Pacific/Chatham"]
FIRST = dt.datetime(2025, 12, 20)


def reference(start: dt.datetime, end: dt.datetime, hours: BusinessHours) -> float:
    """Open seconds from start to end (naive wall-clock times), minute by minute."""
    if end < start:
        return -reference(end, start, hours)
    spans = {DAYS.index(d): (a, b) for d, (a, b) in hours.week.items()}
    n, t = 0, start
    while t < end:
        ab = spans.get(t.weekday())
        if ab is not None and t.date() not in hours.holidays:
            hhmm = t.strftime("%H:%M")
            if ab[0] <= hhmm < ab[1]:
                n += 1
        t += dt.timedelta(minutes=1)
    return 60.0 * n


def wall_clock(t: dt.datetime, zone: str | None) -> dt.datetime:
    """An instant given in UTC as the centre's wall-clock time (zoneinfo, not pandas)."""
    if zone is None:
        return t
    return t.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


@st.composite
def opening_hours(draw):
    week = {}
    for d in DAYS:
        if draw(st.booleans()) or d == "wed":          # at least one open day
            a = draw(st.integers(0, 24 * 60 - 2))
            b = draw(st.integers(a + 1, 24 * 60 - 1))
            week[d] = (hhmm(a), hhmm(b))
    holidays = draw(st.lists(st.integers(0, 40), max_size=8))
    zone = draw(st.sampled_from(ZONES))
    return BusinessHours(week=week, time_zone=zone,
                         holidays=tuple(FIRST.date() + dt.timedelta(days=k) for k in holidays))


spans = st.lists(st.tuples(st.integers(0, 30 * 24 * 60), st.integers(-2 * 24 * 60, 8 * 24 * 60)),
                 min_size=1, max_size=6)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(opening_hours(), spans)
def test_sql_equals_minute_by_minute_reference(hours, pairs):
    starts = [FIRST + dt.timedelta(minutes=a) for a, _ in pairs]
    ends = [s + dt.timedelta(minutes=b) for s, (_, b) in zip(starts, pairs)]
    if hours.time_zone is None:                       # naive: already wall-clock times
        s, e = pd.Series(starts), pd.Series(ends)
    else:                                             # instants in UTC, converted in SQL
        s = pd.Series(pd.to_datetime(starts)).dt.tz_localize("UTC")
        e = pd.Series(pd.to_datetime(ends)).dt.tz_localize("UTC")
    got = business_seconds(s, e, hours)
    want = [reference(wall_clock(a, hours.time_zone), wall_clock(b, hours.time_zone), hours)
            for a, b in zip(starts, ends)]
    assert got.tolist() == want


def test_missing_times_give_nan_and_seconds_are_kept():
    h = BusinessHours()
    s = pd.Series(pd.to_datetime(["2026-10-01 09:00:00.500", None, "2026-10-01 09:00:00.000"]))
    e = pd.Series(pd.to_datetime(["2026-10-01 09:00:10.250", "2026-10-01 10:00:00.000", None]))
    got = business_seconds(s, e, h)
    assert got[0] == 9.75                              # 09:00:00.5 → 09:00:10.25, a Thursday
    assert np.isnan(got[1]) and np.isnan(got[2])


def test_empty_and_all_missing():
    h = BusinessHours()
    assert business_seconds(pd.Series([], dtype="datetime64[ns]"),
                            pd.Series([], dtype="datetime64[ns]"), h).shape == (0,)
    assert np.isnan(business_seconds(pd.Series([None]), pd.Series([None]), h)).all()


def test_rendered_for_every_dialect_parses():
    """The same text for PostgreSQL and Spark: sqlglot reads it in each dialect (a parse,
    not a run; the PostgreSQL run is below)."""
    import sqlglot

    h = BusinessHours(holidays=(dt.date(2026, 12, 25), dt.date(2026, 12, 26)),
                      time_zone="Europe/Paris")
    for dialect, read in (("duckdb", "duckdb"), ("postgres", "postgres"), ("spark", "spark")):
        sql = business_seconds_sql("created", "solved_at", h, "tickets", dialect, aware=True)
        assert sqlglot.parse_one(sql, read=read) is not None


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found and shutil.which("psql") else None


@pytest.mark.skipif(_pg_bin() is None, reason="PostgreSQL is not installed")
def test_postgres_runs_the_same_sql():
    """The PostgreSQL rendering on a real PostgreSQL server (a throw-away cluster on a
    Unix socket), against the same reference."""
    bin_ = _pg_bin()
    as_user: list[str] = []
    if os.geteuid() == 0:                  # initdb refuses root: run the server as postgres
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
    top = Path(tempfile.mkdtemp(prefix="kpi-pg-"))
    data, sock = top / "pg", top / "sock"
    sock.mkdir()
    if as_user:
        shutil.chown(top, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run([*as_user, bin_ / "initdb", "-D", data, "-A", "trust", "-U", "kpi"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, bin_ / "pg_ctl", "-D", data, "-l", top / "log", "-o",
                    f"-k {sock} -c listen_addresses=''", "-w", "start"], check=True,
                   capture_output=True)
    try:
        h = BusinessHours(week={"mon": ("08:30", "18:00"), "sat": ("10:00", "12:00")},
                          holidays=(dt.date(2026, 10, 5),), time_zone="Europe/Paris")
        pairs = [("2026-10-02 16:00", "2026-10-13 10:15"), ("2026-10-24 23:00", "2026-10-26 09:00"),
                 ("2026-10-10 11:00", "2026-10-03 10:30")]
        rows = " UNION ALL ".join(
            f"SELECT {i} AS i, TIMESTAMPTZ '{a}+00' AS s, TIMESTAMPTZ '{b}+00' AS e"
            for i, (a, b) in enumerate(pairs))
        sql = business_seconds_sql("s", "e", h, f"(SELECT * FROM ({rows}) AS r ORDER BY i) AS q",
                                   "postgres", aware=True)
        out = subprocess.run(["psql", "-h", str(sock), "-U", "kpi", "-d", "postgres", "-At",
                              "-c", sql], check=True, capture_output=True, text=True).stdout
        got = [float(x) for x in out.split()]
        want = [reference(wall_clock(dt.datetime.fromisoformat(a), h.time_zone),
                          wall_clock(dt.datetime.fromisoformat(b), h.time_zone), h)
                for a, b in pairs]
        assert got == want
    finally:
        subprocess.run([*as_user, bin_ / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
