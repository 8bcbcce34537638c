"""Loading a CSV export: kpi_xl's loader vs pandas.read_csv and DuckDB's read_csv, same file.

    python bench/bench_load.py              # 1 M rows, 8 columns (calls and tickets mixed)
    python bench/bench_load.py --rows 200000

kpi_xl's side does what the other two do not: every value typed and checked, every bad
value or row reported with its spreadsheet row, codes and channels checked, derived
columns, the catalog's input rules. The anchors only parse (pandas also types the date
column). No target is set for this one: it says what validation costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make(rows: int, path: Path) -> None:
    import duckdb

    duckdb.sql(f"""COPY (SELECT 'c' || i AS id,
        TIMESTAMP '2026-10-01' + INTERVAL (i % 2592000) SECOND AS date,
        ['phone', 'email', 'chat', 'social'][1 + (i % 4)] AS channel,
        'agent-' || (i % 500) AS agent,
        CASE WHEN i % 4 = 0 THEN (CASE WHEN i % 10 < 9 THEN 'Y' ELSE 'N' END) END AS answered,
        CASE WHEN i % 4 = 0 THEN i % 60 END AS wait,
        CASE WHEN i % 4 = 0 AND i % 10 < 9 THEN 100 + i % 300 END AS talk,
        CASE WHEN i % 8 = 0 THEN i % 11 END AS nps
        FROM range({rows}) t(i)) TO '{path.as_posix()}' (HEADER, DELIMITER ',')""")


def best(fn, k=3):
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    import duckdb
    import pandas as pd

    from kpi_xl.data.load import load
    from kpi_xl.data.sources import parse_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        make(a.rows, path)
        src = parse_source({"preset": "generic-contacts", "path": str(path)})
        t_k, ds = best(lambda: load([src]), 1)
        t_p, _ = best(lambda: pd.read_csv(path, parse_dates=["date"]))
        t_d, _ = best(lambda: duckdb.sql(f"SELECT * FROM read_csv('{path.as_posix()}')").df())
        print(f"{a.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB CSV")
        print(f"  kpi_xl load     {t_k:6.2f} s   {ds.lines()[0]}")
        print(f"  pandas.read_csv {t_p:6.2f} s   ({t_k / t_p:.1f}x)")
        print(f"  duckdb read_csv {t_d:6.2f} s   ({t_k / t_d:.1f}x)")


if __name__ == "__main__":
    main()
