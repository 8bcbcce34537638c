"""The rejects report: kpi_xl's store (DuckDB, memory-limited, streamed) vs a plain
Python list of the same lines (what kpi_xl kept before, 2026-12), same lines, same work.

    python bench/bench_rejects.py                 # 2,000,000 lines, 1 round
    python bench/bench_rejects.py --lines 500000 --rounds 3

The work is what a run does with a report whose every row is bad: add the lines one by
one (as the loader does), drop the lines of rejected rows' other actions, count the top
reasons, write rejects.csv in the report's order. Each side runs in a fresh subprocess,
interleaved; time is the whole work, peak memory the process's maximum RSS above its RSS
before the first line. Both files must be identical (checked every round).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def lines(n: int):
    why = "'date' is not an ISO date such as 2026-10-31 or 2026-10-31 14:05"
    for i in range(n):
        yield ("calls", "calls.csv", i + 2, "date", f"someday {i % 97}",
               why if i % 4 else "'date' is blank; every row needs a date", "row rejected")


def store(n: int, out: str) -> None:
    from kpi_xl.data.rejects import Rejects

    r = Rejects()
    for line in lines(n):
        r.add(*line, period="2026-10")
    r.drop_on_rejected_rows()
    r.summary()
    r.write_csv(out)


def plain_list(n: int, out: str) -> None:
    """The anchor: the lines in a list, sorted in memory, written with the same rules."""
    import csv

    from kpi_xl.data.rejects import Reject
    from kpi_xl.text import csv_safe as safe

    items = [Reject(*line, period="2026-10") for line in lines(n)]
    gone = {(r.source, r.row) for r in items if r.action in ("row rejected", "row excluded")}
    items = [r for r in items if r.action in ("row rejected", "row excluded")
             or (r.source, r.row) not in gone]
    counts: dict = {}
    for r in items:
        k = (r.file, r.action, r.reason, r.kpis)
        counts[k] = counts.get(k, 0) + 1
    sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(("source", "file", "row", "column", "value", "reason", "action", "kpis"))
        for r in sorted(items, key=lambda r: (r.source, r.row or 0, r.column)):
            w.writerow([safe(r.source), safe(r.file), r.row if r.row is not None else "",
                        safe(r.column), safe(r.value), safe(r.reason), r.action,
                        safe(r.leaves)])


def one(side: str, n: int, out: str) -> dict:
    import resource
    import time

    import duckdb  # noqa: F401  (imported before, as in a run)
    import pandas  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    (store if side == "store" else plain_list)(n, out)
    t = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"t": t, "mb": peak / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--one", nargs=2, metavar=("SIDE", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], a.lines, a.one[1])))
        return
    res: dict[str, list[dict]] = {"store": [], "list": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.rounds):
            for side in res:
                out = str(Path(tmp) / f"{side}.csv")
                got = subprocess.run([sys.executable, __file__, "--lines", str(a.lines),
                                      "--one", side, out], check=True, capture_output=True,
                                     text=True)
                res[side].append(json.loads(got.stdout))
            same = Path(tmp, "store.csv").read_bytes() == Path(tmp, "list.csv").read_bytes()
            assert same, "the two rejects.csv differ"
    print(f"{a.lines:,} lines, {a.rounds} interleaved round(s) (median; identical files)")
    med = {k: (statistics.median(r["t"] for r in v), statistics.median(r["mb"] for r in v))
           for k, v in res.items()}
    for k, (t, mb) in med.items():
        print(f"  {k:6s} {t:7.1f} s  {mb:7.0f} MB peak above start")
    print(f"  ratio store/list: time {med['store'][0] / med['list'][0]:.2f}x, "
          f"memory {med['store'][1] / max(med['list'][1], 1):.2f}x")


if __name__ == "__main__":
    main()
