"""Loading a CSV export: kpi_xl's loader vs pandas.read_csv and DuckDB's read_csv, same file.

    python bench/bench_load.py                        # 1 M rows: 8 and 19 columns
    python bench/bench_load.py --rows 200000 --repeat 3 --columns 8
    python bench/bench_load.py --no-pyarrow           # every side without pyarrow

Each side runs in its own process (peak memory is that process's maximum resident set,
from resource.getrusage), the sides interleaved, ``--repeat`` rounds; the median time and
the largest peak are reported. Sides:

* ``load``: ``kpi_xl.data.load`` (read, convert, derived columns, cross-row checks and the
  catalog's input rules), as ``kpi-xl compute`` loads.
* ``read+convert``: reading and converting only (``readers`` + ``convert``): DuckDB reads
  the file and types the plainly written values (``kpi_xl.data.rawcols``).
* ``read+convert (Python)``: the same with DuckDB's reader turned off: Python's csv module
  and the Python parsers for every value (the loader before issue 14, and what any file
  DuckDB cannot read alike still takes).
* anchors: ``duckdb read_csv`` (typed by its sniffer, to a DataFrame) and
  ``pandas read_csv`` (the date column parsed). They only parse: kpi_xl's sides also check
  every value, report every bad one with its row, and keep every row accounted for.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIDES = ("load", "read+convert", "read+convert (Python)", "duckdb read_csv", "pandas read_csv")


def make(rows: int, path: Path, columns: int = 8) -> None:
    """A contacts export: 8 columns (calls and tickets mixed), or 19 (a fuller export with
    ticket times, hold, wrap-up, flags, two scores and a free-text column kpi_xl ignores)."""
    import duckdb

    wide = """,
        'team-' || (i % 25) AS team,
        CASE WHEN i % 4 = 1 THEN ['open', 'pending', 'solved', 'closed'][1 + (i % 7) % 4] END
            AS state,
        CASE WHEN i % 4 = 1 THEN TIMESTAMP '2026-10-01' + INTERVAL (i % 2592000) SECOND END
            AS created,
        CASE WHEN i % 4 = 1 THEN TIMESTAMP '2026-10-01' + INTERVAL (i % 2592000 + 600 + i % 7200)
            SECOND END AS first_reply_at,
        CASE WHEN i % 4 = 1 AND (i % 7) % 4 >= 2 THEN TIMESTAMP '2026-10-01'
            + INTERVAL (i % 2592000 + 90000 + i % 9000) SECOND END AS solved_at,
        CASE WHEN i % 4 = 0 AND i % 10 < 9 THEN i % 40 END AS hold,
        CASE WHEN i % 4 = 0 AND i % 10 < 9 THEN 20 + i % 90 END AS acw,
        CASE WHEN i % 3 = 0 THEN 'Y' ELSE 'N' END AS resolved,
        CASE WHEN i % 17 = 0 THEN 'Y' ELSE 'N' END AS transferred,
        CASE WHEN i % 9 = 0 THEN 1 + i % 5 END AS csat,
        'note ' || (i % 1000) AS notes""" if columns == 19 else ""
    duckdb.sql(f"""COPY (SELECT 'c' || i AS id,
        TIMESTAMP '2026-10-01' + INTERVAL (i % 2592000) SECOND AS date,
        ['phone', 'email', 'chat', 'social'][1 + (i % 4)] AS channel,
        'agent-' || (i % 500) AS agent,
        CASE WHEN i % 4 = 0 THEN (CASE WHEN i % 10 < 9 THEN 'Y' ELSE 'N' END) END AS answered,
        CASE WHEN i % 4 = 0 THEN i % 60 END AS wait,
        CASE WHEN i % 4 = 0 AND i % 10 < 9 THEN 100 + i % 300 END AS talk,
        CASE WHEN i % 8 = 0 THEN i % 11 END AS nps{wide}
        FROM range({rows}) t(i)) TO '{path.as_posix()}' (HEADER, DELIMITER ',')""")


# ------------------------------------------------------------------ one side, one process
def _block_pyarrow() -> None:
    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "pyarrow" or name.startswith("pyarrow."):
                raise ImportError(f"{name} blocked (--no-pyarrow)")
            return None

    sys.meta_path.insert(0, Blocker())


def run_side(side: str, path: Path) -> dict:
    import duckdb
    import pandas as pd

    from kpi_xl.data import readers
    from kpi_xl.data.convert import Options, convert
    from kpi_xl.data.load import load
    from kpi_xl.data.rejects import Rejects
    from kpi_xl.data.sources import parse_source

    src = parse_source({"preset": "generic-contacts", "path": str(path)})
    line = ""
    t0 = time.perf_counter()
    if side == "load":
        line = load([src]).lines()[0]
    elif side.startswith("read+convert"):
        if side.endswith("(Python)"):
            readers._read_csv_duckdb = lambda source: None
        rejects = Rejects()
        raw = readers.read_source(src, rejects)
        df, acc = convert(raw.source, raw, rejects, Options())
        line = acc.line()
    elif side == "duckdb read_csv":
        df = duckdb.sql(f"SELECT * FROM read_csv('{path.as_posix()}')").df()
    else:
        df = pd.read_csv(path, parse_dates=["date"])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # KiB on Linux
    return {"seconds": seconds, "peak_mb": peak, "line": line,
            "pyarrow": "pyarrow" in sys.modules}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--columns", type=int, choices=(8, 19), action="append",
                    help="8 or 19 (default: both)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help="comma-separated, of: " + ", ".join(SIDES))
    ap.add_argument("--no-pyarrow", action="store_true", help="block pyarrow in every side")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:
        if a.no_pyarrow:
            _block_pyarrow()
        print(json.dumps(run_side(a.side, Path(a.file))))
        return
    sides = [s.strip() for s in a.sides.split(",")]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        for columns in a.columns or (8, 19):
            path = Path(tmp) / f"contacts-{columns}.csv"
            make(a.rows, path, columns)
            got: dict[str, list[dict]] = {s: [] for s in sides}
            for _ in range(a.repeat):
                for side in sides:
                    cmd = [sys.executable, __file__, "--side", side, "--file", str(path)]
                    out = subprocess.run(cmd + (["--no-pyarrow"] if a.no_pyarrow else []),
                                         env=env, capture_output=True, text=True, check=True)
                    got[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
            pa = {r["pyarrow"] for rs in got.values() for r in rs}
            arrow = "loaded" if pa == {True} else "not loaded" if pa == {False} else "mixed"
            print(f"{a.rows:,} rows x {columns} columns, {path.stat().st_size / 1e6:.0f} MB CSV; "
                  f"pyarrow {arrow}; "
                  f"median of {a.repeat} interleaved runs, peak RSS of the side's process")
            anchor = statistics.median(r["seconds"] for r in got.get("duckdb read_csv", [])) \
                if "duckdb read_csv" in got else None
            ours = {got[s][0]["line"] for s in sides if s.startswith("read+convert")}
            if len(ours) > 1:
                print("  !! DuckDB's and Python's reading disagree: " + " | ".join(ours))
            for side in sides:
                t = statistics.median(r["seconds"] for r in got[side])
                peak = max(r["peak_mb"] for r in got[side])
                ratio = f"  ({t / anchor:4.1f}x duckdb read_csv)" if anchor else ""
                print(f"  {side:22s} {t:7.2f} s {peak:7.0f} MB{ratio}  {got[side][0]['line']}")


if __name__ == "__main__":
    main()
