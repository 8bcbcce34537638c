"""Business hours: the SQL closed form (kpi_xl.data.hours, run by DuckDB) vs the numpy
implementation it replaced (a cumulative sum over a per-day table, kept below as the
anchor), same spans, same process kind.

    python bench/bench_hours.py                 # 1 M tickets, 5 rounds, interleaved
    python bench/bench_hours.py --rows 200000 --rounds 3

Each measurement runs in a fresh subprocess (so peak memory is its own): the spans are
built (created within 2025-2026, resolved 0-20 days later, 2 % unresolved), then the
function runs once; time is the call only, peak memory the process's maximum RSS minus
its RSS before the call. Both sides must give the same seconds (checked on every round).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def numpy_business_seconds(start, end, hours):
    """The numpy implementation kpi_xl used before the SQL one (2026-12), verbatim in
    substance: F(end) − F(start) with F a cumulative sum over a per-day table."""
    import numpy as np

    from kpi_xl.data.hours import _local

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
    weekday = (days.astype("int64") + 3) % 7
    o, c = (np.array(x) for x in hours._open_close())
    per_day = (c - o)[weekday]
    if hours.holidays:
        hol = np.isin(days, np.array(sorted(hours.holidays), dtype="datetime64[D]"))
        per_day = np.where(hol, 0.0, per_day)
    before = np.concatenate([[0.0], np.cumsum(per_day)[:-1]])

    def cumulative(ts):
        d = ts.dt.normalize().to_numpy().astype("datetime64[D]")
        i = (d - days[0]).astype("int64")
        tod = (ts - ts.dt.normalize()).dt.total_seconds().to_numpy()
        wd = weekday[i]
        part = np.clip(tod, o[wd], c[wd]) - o[wd]
        part = np.where(per_day[i] > 0, part, 0.0)
        return before[i] + part

    out[ok.to_numpy()] = cumulative(e_ok) - cumulative(s_ok)
    return out


def one(side: str, rows: int) -> dict:
    import datetime as dt
    import resource
    import time

    import duckdb  # noqa: F401  (imported before timing, as in a run: the loader has it)
    import numpy as np
    import pandas as pd

    from kpi_xl.data.hours import BusinessHours, business_seconds

    rng = np.random.default_rng(7)
    base = np.datetime64("2025-01-01T00:00:00", "s")
    start = base + rng.integers(0, 2 * 365 * 86400, rows).astype("timedelta64[s]")
    end = start + rng.integers(0, 20 * 86400, rows).astype("timedelta64[s]")
    s, e = pd.Series(start), pd.Series(end)
    e[rng.random(rows) < 0.02] = pd.NaT
    hours = BusinessHours(week={"mon": ("08:00", "18:00"), "tue": ("08:00", "18:00"),
                                "wed": ("08:00", "18:00"), "thu": ("08:00", "18:00"),
                                "fri": ("08:00", "17:00"), "sat": ("09:00", "12:00")},
                          holidays=tuple(dt.date(y, m, d) for y in (2025, 2026)
                                         for m, d in ((1, 1), (5, 1), (7, 14), (12, 25))))
    fn = business_seconds if side == "sql" else numpy_business_seconds
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    got = fn(s, e, hours)
    t = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"t": t, "mb": peak / 1024, "sum": float(np.nansum(got)), "nan": int(np.isnan(got).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--one", choices=["sql", "numpy"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.rows)))
        return
    res: dict[str, list[dict]] = {"sql": [], "numpy": []}
    for _ in range(a.rounds):
        for side in ("sql", "numpy"):
            out = subprocess.run([sys.executable, __file__, "--one", side, "--rows",
                                  str(a.rows)], check=True, capture_output=True, text=True)
            res[side].append(json.loads(out.stdout))
        same = res["sql"][-1]["sum"] == res["numpy"][-1]["sum"] and \
            res["sql"][-1]["nan"] == res["numpy"][-1]["nan"]
        assert same, (res["sql"][-1], res["numpy"][-1])
    print(f"{a.rows:,} spans, {a.rounds} interleaved rounds (median; same seconds on every round)")
    med = {k: (statistics.median(r["t"] for r in v), statistics.median(r["mb"] for r in v))
           for k, v in res.items()}
    for k, (t, mb) in med.items():
        print(f"  {k:6s} {t:7.3f} s  {mb:7.0f} MB peak above start")
    print(f"  ratio sql/numpy: time {med['sql'][0] / med['numpy'][0]:.2f}x, "
          f"memory {med['sql'][1] / max(med['numpy'][1], 1):.2f}x")


if __name__ == "__main__":
    main()
