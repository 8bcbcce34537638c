"""The loader's input-rule check step, before and after issue 14's move to one scan per
table on DuckDB tables, with and without pyarrow, against a plain DuckDB query.

    python bench/bench_checks.py --before /tmp/kpi-before   # a tree of the old code:
        # git archive <commit> | tar -x -C /tmp/kpi-before
    python bench/bench_checks.py --rows 200000 --reps 1      # a quick look

Data: N canonical contacts as the loader hands them to the check (27 columns: ids, dates,
channel, agent, team, state and source as text; ACD and ticket fields as numbers; NPS and
CSAT answers on ~30 % of rows), generated with numpy in each process from one seed, with
rows breaking rules seeded in (negative talk times, answered calls without a wait, CSAT
7 on a 1-5 scale, ~1 % of rows). With pyarrow importable pandas stores the text columns
as Arrow arrays (pandas 3's ``str``); without it (blocked on import in that process) as
Python objects.

Sides, each run in a fresh process per repetition, interleaved (tables, anchor, before,
after, tables, ...), so that peak memory is the process's own (max RSS) and a busy moment
of the machine falls on every side alike:

* ``tables``: build the tables, nothing else (the floor under every side's memory);
* ``anchor``: the same rule conditions (as the catalog renders them) OR'd in **one**
  DuckDB query over the registered frame, returning the positions of the rows breaking
  any rule: the plainest single scan, with no per-rule lines, messages or report;
* ``before`` / ``after``: the loader's check step itself, ``data.load._apply_rules`` (the
  check, then the rejects lines naming file, row, column, value, rule and KPIs), from the
  old tree (``--before``) and from this one; ``after-table``: the same, each table first
  copied into a DuckDB table (``Checks.copy``) instead of its frame read in place.

Time is the check step's wall time (median of the repetitions); memory the process's
peak RSS (median). Tests never assert timings; this is read by people.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SIDE = r'''
import json, os, resource, sys, time
if os.environ.get("BENCH_NO_PYARROW"):
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "pyarrow" or name.startswith("pyarrow."):
                raise ImportError("pyarrow blocked by bench_checks")
    sys.meta_path.insert(0, _Block())
import numpy as np
import pandas as pd

def tables(n):
    rng = np.random.default_rng(14)
    channel = rng.choice(np.array(["phone", "email", "chat", "social"], dtype=object), n)
    call = channel == "phone"
    answered = np.where(call, (rng.random(n) < 0.9).astype(float), np.nan)
    on = np.where(call, answered == 1, True)
    wait = np.where(call, rng.exponential(25, n).round(), np.nan)
    talk = np.where(call & on, rng.exponential(240, n).round(), np.nan)
    bad = rng.random(n) < 0.01
    talk = np.where(bad & call & on, -30.0, talk)
    wait = np.where(bad & (answered == 1) & (rng.random(n) < 0.5), np.nan, wait)
    csat = np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), np.nan)
    csat = np.where(bad & ~np.isnan(csat), 7.0, csat)
    created = pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.uniform(0, 30 * 86400, n), unit="s")
    fr = np.where(~call, rng.exponential(3, n), np.nan)
    res = np.where(~call, rng.exponential(20, n), np.nan)
    ticket = ~call
    df = pd.DataFrame({
        "id": [f"c{i}" for i in range(n)],
        "date": created, "period": "2026-10",
        "channel": channel,
        "agent": rng.choice(np.array([f"agent-{i}" for i in range(500)], dtype=object), n),
        "team": rng.choice(np.array([f"team-{i}" for i in range(20)], dtype=object), n),
        "answered": answered, "wait": wait, "talk": talk,
        "hold": np.where(call & on, rng.exponential(20, n).round(), np.nan),
        "acw": np.where(call & on, rng.uniform(10, 60, n).round(), np.nan),
        "handled": np.where(call, answered, 1.0),
        "resolved": rng.choice([1.0, 0.0], n), "resolved_first": rng.choice([1.0, 0.0], n),
        "transferred": rng.choice([1.0, 0.0], n, p=[0.1, 0.9]),
        "escalated": np.where(ticket, rng.choice([1.0, 0.0], n, p=[0.2, 0.8]), np.nan),
        "reopens": np.where(ticket, rng.choice([0.0, 1.0, 2.0], n), np.nan),
        "first_response_hours": fr, "resolution_hours": res,
        "response_seconds": np.where(answered == 1, wait, np.where(ticket, fr * 3600, np.nan)),
        "nps": np.where(rng.random(n) < 0.3, rng.integers(0, 11, n), np.nan), "csat": csat,
        "created": pd.Series(created).where(ticket),
        "solved_at": pd.Series(created + pd.to_timedelta(res, unit="h")).where(ticket),
        "state": np.where(ticket, rng.choice(np.array(["solved", "open"], dtype=object), n), None),
        "_source": "export", "_row": np.arange(2, n + 2)})
    return {"contacts": df}

side, n = sys.argv[1], int(sys.argv[2])
import duckdb  # imports outside the timed step
from kpi_xl.data.load import Dataset, _apply_rules
from kpi_xl.render.sql import SqlRenderer
if side == "anchor":
    from kpi_xl.checks.embedded import plan, source_rules
t = tables(n)
strings = str(t["contacts"]["agent"].dtype) + ("/arrow" if "pyarrow" in sys.modules else "")
start = time.perf_counter()
found = None
if side == "anchor":
    cols = {k: set(df.columns) for k, df in t.items()}
    rules = source_rules(plan(cols), cols)["contacts"]
    frame = t["contacts"].assign(_pos=np.arange(n))
    con = duckdb.connect()
    con.register("src_contacts", frame)
    cond = " OR ".join(f"COALESCE(({r.cond}), FALSE)" for r in rules)
    found = len(con.execute(f"SELECT _pos FROM src_contacts WHERE {cond}").fetchnumpy()["_pos"])
elif side in ("before", "after", "after-table"):
    if side == "after-table":
        from kpi_xl.checks import Checks
        Checks.copy = True
    ds = Dataset(tables=t)
    _apply_rules(ds, {"export": "export.csv"}, {}, None)
    found = len({(r.row) for r in ds.rejects.items})
seconds = time.perf_counter() - start if side != "tables" else 0.0
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "found": found, "strings": strings}))
'''


def run(side: str, rows: int, arrow: bool, before: Path | None) -> dict:
    env = dict(os.environ)
    env.pop("BENCH_NO_PYARROW", None)
    if not arrow:
        env["BENCH_NO_PYARROW"] = "1"
    tree = before if side == "before" else ROOT
    env["PYTHONPATH"] = str(tree)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run([sys.executable, "-c", SIDE, side, str(rows)], env=env,
                         capture_output=True, text=True, cwd=tree)
    if out.returncode:
        raise SystemExit(f"{side} (pyarrow {'on' if arrow else 'off'}) failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", type=Path, help="a source tree of the code before")
    a = ap.parse_args()
    sides = ["tables", "anchor"] + (["before"] if a.before else []) + ["after", "after-table"]
    got: dict[tuple[bool, str], list[dict]] = {}
    for rep in range(a.reps):
        for arrow in (True, False):
            for side in sides:
                r = run(side, a.rows, arrow, a.before)
                got.setdefault((arrow, side), []).append(r)
                print(f"  rep {rep + 1} pyarrow {'on ' if arrow else 'off'} {side:11s} "
                      f"{r['seconds']:7.2f} s {r['peak_mb']:7.0f} MB  found {r['found']}",
                      file=sys.stderr, flush=True)
    print(f"{a.rows:,} contacts, {a.reps} processes per side, interleaved; "
          "median check-step seconds and peak MB")
    print(f"{'pyarrow':>8} {'side':>11} {'seconds':>8} {'peak MB':>8} {'/anchor s':>10} "
          f"{'strings':>14} rows found")
    for arrow in (True, False):
        anchor = statistics.median(r["seconds"] for r in got[(arrow, "anchor")])
        for side in sides:
            rs = got[(arrow, side)]
            s = statistics.median(r["seconds"] for r in rs)
            m = statistics.median(r["peak_mb"] for r in rs)
            ratio = f"{s / anchor:10.1f}" if side not in ("tables", "anchor") else " " * 10
            print(f"{'on' if arrow else 'off':>8} {side:>11} {s:8.2f} {m:8.0f} {ratio} "
                  f"{rs[0]['strings']:>14} {rs[0]['found']}")


if __name__ == "__main__":
    main()
