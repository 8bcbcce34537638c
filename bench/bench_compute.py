"""`kpi-xl compute` end to end vs DuckDB ``read_csv`` + the same KPIs written by hand.

    python bench/bench_compute.py                      # 1 M rows, pyarrow as installed
    python bench/bench_compute.py --rows 10000000      # issue 14's 10 M-row target
    python bench/bench_compute.py --no-pyarrow         # every side with pyarrow blocked
    python bench/bench_compute.py --profile            # + kpi_xl's cProfile by stage
    python bench/bench_compute.py --before /tmp/old    # + compute from another tree
    python bench/bench_compute.py --dirty              # a few bad rows, as real exports have

The file is ``bench_load.py``'s 19-column contacts export (calls and tickets mixed, ticket
times, hold, wrap-up, flags, two scores, a free-text column), one month (2026-10). Each
side runs in its own process, started from here (so its time includes Python's start and
imports, as a person typing the command waits for them); wall time from start to exit,
peak memory the child's maximum resident set and CPU time its user + system time, all
threads (``os.wait4``). The sides are interleaved,
``--repeat`` rounds; medians of time, largest peak.

* ``compute``: ``kpi-xl compute --source generic-contacts=<file> --month 2026-10`` (read,
  type and check every value, account for every row, the guards, the engine over the month
  and the 12 before it at every level, ``kpi-results.csv`` and ``rejects.csv``).
* ``hand`` (the anchor): DuckDB ``read_csv`` (its sniffer types the columns) and one
  hand-written ``GROUPING SETS`` query of the same 17 KPIs (default variants) at
  organisation, team, agent and channel level for the same 13 months, to a DataFrame, as
  ``bench_engine.py`` writes it: no checks, no rejects, no tidy table.

``floor`` (with ``--floor memory`` or ``--floor file``): ``store_floor.py``'s prototype of the
structural change issue 14 §1 names (the contacts typed in one SQL pass into DuckDB, the
engine reading them there, nothing in pandas, no rejects report, no rule checks or guards):
the time and memory that change cannot go below.

``before`` (with ``--before TREE``): ``compute`` run from another checkout (``git archive
<commit> | tar -x -C TREE``), interleaved with the others.

"same values" compares the organisation's month for every KPI both sides compute
(relative 1e-9).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIDES = ("hand", "compute")
ALL_SIDES = SIDES + ("floor",)
MONTH = "2026-10"
MONTHS = [f"{2025 + (9 + i) // 12}-{(9 + i) % 12 + 1:02d}" for i in range(13)]  # 2025-10..2026-10

#: the KPIs of the 19-column export at their default variants, as an analyst fluent in
#: DuckDB would write them over the file as read_csv types it (Y/N text, timestamps)
HAND_SQL = """
WITH c AS (
  SELECT *, strftime(date, '%Y-%m') AS period,
         answered = 'Y' AS ans,
         CASE WHEN channel = 'phone' THEN 1.0 END AS is_call,
         date_diff('second', created, first_reply_at) / 3600.0 AS frh,
         date_diff('second', created, solved_at) / 3600.0 AS rh,
         CASE WHEN answered = 'Y' THEN wait
              WHEN answered IS NULL THEN date_diff('second', created, first_reply_at) END AS resp,
         CASE WHEN answered IS NULL OR answered = 'Y' THEN 1 ELSE 0 END AS handled
  FROM read_csv('{path}')
)
SELECT period,
  CASE WHEN GROUPING(team) = 0 THEN 'team' WHEN GROUPING(agent) = 0 THEN 'agent'
       WHEN GROUPING(channel) = 0 THEN 'channel' ELSE 'organisation' END AS level,
  COALESCE(team, agent, channel, 'all') AS member,
  100.0 * (count(*) FILTER (nps >= 9) - count(*) FILTER (nps <= 6)) / nullif(count(nps), 0) AS nps,
  count(*) FILTER (csat >= 4) / nullif(count(csat), 0) AS csat,
  avg(frh) AS first_response_time,
  avg(rh) AS time_to_resolution,
  avg(wait) FILTER (ans) AS asa,
  count(*) FILTER (ans AND wait <= 20) / nullif(count(answered), 0) AS service_level,
  count(*) FILTER (resp <= CASE channel WHEN 'phone' THEN 20 WHEN 'chat' THEN 60
        WHEN 'email' THEN 14400 WHEN 'social' THEN 3600 END) / nullif(count(resp), 0)
        AS sla_compliance,
  count(*) FILTER (ans) / nullif(count(answered), 0) AS answered_rate,
  count(*) FILTER (NOT ans) / nullif(count(answered), 0) AS abandonment_rate,
  avg(talk + coalesce(hold, 0) + coalesce(acw, 0)) FILTER (ans) AS aht,
  count(*) / nullif(count(DISTINCT agent), 0) AS contacts_per_agent,
  count(id) AS ticket_volume,
  count(created) AS tickets_created,
  count(solved_at) AS tickets_solved,
  count(created) - count(solved_at) AS backlog,
  count(*) FILTER (transferred = 'Y' AND handled = 1) / nullif(count(*) FILTER (handled = 1), 0)
        AS transfer_rate,
  count(*) FILTER (resolved = 'Y' AND handled = 1) / nullif(count(*) FILTER (handled = 1), 0)
        AS resolution_rate
FROM c
WHERE period IN ({periods})
GROUP BY GROUPING SETS ((period), (period, team), (period, agent), (period, channel))
"""

KPIS = ("nps", "csat", "first_response_time", "time_to_resolution", "asa", "service_level",
        "sla_compliance", "answered_rate", "abandonment_rate", "aht", "contacts_per_agent",
        "ticket_volume", "tickets_created", "tickets_solved", "backlog", "transfer_rate",
        "resolution_rate")


# ------------------------------------------------------------------ one side, one process
def side_hand(path: Path, out: Path) -> dict:
    import duckdb

    periods = ", ".join(f"'{m}'" for m in MONTHS)
    df = duckdb.connect().execute(HAND_SQL.format(path=path.as_posix(), periods=periods)).df()
    org = df[(df.level == "organisation") & (df.period == MONTH)].iloc[0]
    return {"rows_out": len(df), "sample": {k: float(org[k]) for k in KPIS}}


def side_compute(path: Path, out: Path, profile: str | None = None) -> dict:
    import contextlib
    import io

    from kpi_xl.cli import main

    argv = ["compute", "--source", f"generic-contacts={path}", "--month", MONTH,
            "--out", str(out)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if profile:
            import cProfile

            cProfile.runctx("rc = main(argv)", globals(), ns := {"main": main, "argv": argv},
                            profile)
            rc = ns["rc"]
        else:
            rc = main(argv)
    if rc:
        raise SystemExit(f"kpi-xl compute exited {rc}:\n{buf.getvalue()}")
    import csv

    with open(out / MONTH / "kpi-results.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    sample = {r["kpi"]: float(r["value"]) for r in rows
              if r["level"] == "organisation" and r["period"] == MONTH and r["value"]}
    return {"rows_out": len(rows), "sample": sample}


def run(side: str, path: Path, no_pyarrow: bool, env: dict, profile: str | None = None,
        before: Path | None = None, floor: str | None = None) -> dict:
    """One side in a fresh process: wall seconds, the child's peak RSS, its answer.
    ``before``: the ``compute`` side of another tree (side ``before``)."""
    script = __file__
    if side == "before":
        script, side = str(before / "bench" / "bench_compute.py"), "compute"
        env = {**env, "PYTHONPATH": str(before)}
    with tempfile.TemporaryDirectory() as tmp:
        res = Path(tmp) / "side.json"
        cmd = [sys.executable, script, "--side", side, "--file", str(path), "--out",
               str(Path(tmp) / "out"), "--result", str(res)]
        cmd += ["--no-pyarrow"] if no_pyarrow else []
        cmd += ["--profile-to", profile] if profile else []
        cmd += ["--floor", floor] if side == "floor" else []
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        err = p.stderr.read().decode(errors="replace")
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        p.stderr.close()
        if p.returncode:
            raise SystemExit(f"side {side} failed ({p.returncode}):\n{err[-3000:]}")
        got = json.loads(res.read_text())
    got.update(seconds=seconds, peak_mb=usage.ru_maxrss / 1024,
               cpu=usage.ru_utime + usage.ru_stime)
    return got


#: kpi_xl's stages, each the cumulative time of the function(s) that do it (file, name)
STAGES = (
    ("read (DuckDB read_csv into text columns)", [("data/readers.py", "_read_csv")]),
    ("convert (type every value, rejects)", [("data/convert.py", "convert")]),
    ("derived columns (per source)", [("data/derive.py", "finish_source")]),
    ("cross-row checks (dates, duplicates, roster)", [("data/load.py", "_finish_tables")]),
    ("rule checks (kpi_xl.checks)", [("data/load.py", "_apply_rules")]),
    ("guards", [("run/guards.py", "check")]),
    ("engine registration (views, survey view)", [("engine/engine.py", "__init__")]),
    ("engine queries", [("engine/backends.py", "query")]),
    ("results (tidy table)", [("engine/engine.py", "results")]),
    ("output (kpi-results.csv, rejects.csv)", [("engine/results.py", "write_csv"),
                                               ("data/rejects.py", "write_csv")]),
    ("summary printed", [("kpi_xl/cli.py", "results")]),
)


def stages(prof: str) -> None:
    """The cProfile of one compute, by stage (cumulative seconds, share of the whole)."""
    import pstats

    st = pstats.Stats(prof).stats
    total = max(v[3] for v in st.values())
    print(f"  compute under cProfile: {total:.1f} s")
    rest = total
    for name, funcs in STAGES:
        t = sum(v[3] for (file, _line, fn), v in st.items()
                if any(fn == f and file.replace("\\", "/").endswith(p) for p, f in funcs))
        rest -= t
        print(f"    {name:46s} {t:6.1f} s {100 * t / total:4.0f} %")
    print(f"    {'the rest (imports, config, planning)':46s} {rest:6.1f} s "
          f"{100 * rest / total:4.0f} %")


def dirty(path: Path) -> None:
    """``path`` rewritten with a few bad rows, as real exports have: one row in 1,000 (rows
    7, 1,007...) without a date, one in 1,500 (rows 3, 1,503...) with the id of the row
    before it. 2 M rows: 2,000 and 1,334, 0.17 % in all."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    src, tmp = path.as_posix(), path.with_suffix(".dirty.csv")
    con.execute(f"""COPY (SELECT * EXCLUDE (_n) REPLACE (
            CASE WHEN _n % 1000 = 7 THEN NULL ELSE date END AS date,
            CASE WHEN _n % 1500 = 3 THEN 'c' || (_n - 1) ELSE id END AS id)
        FROM (SELECT *, row_number() OVER () - 1 AS _n FROM read_csv('{src}',
              all_varchar = true)) ORDER BY _n) TO '{tmp.as_posix()}' (HEADER, DELIMITER ',')""")
    con.close()
    tmp.replace(path)


def main() -> None:
    from bench_load import make

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--no-pyarrow", action="store_true", help="block pyarrow in every side")
    ap.add_argument("--before", type=Path,
                    help="another tree whose compute runs as side 'before' (e.g. main)")
    ap.add_argument("--profile", action="store_true",
                    help="also run compute once under cProfile and print its top costs")
    ap.add_argument("--floor", choices=("memory", "file"),
                    help="also run store_floor.py's prototype of the structural change, its "
                         "DuckDB database in memory or in a file with a memory limit")
    ap.add_argument("--dirty", action="store_true",
                    help="the export with a few bad rows, as real ones have: one row in 1,000 "
                         "without a date, one in 1,500 repeating the id before it "
                         "(compute rejects them; the anchor reads them as they are)")
    ap.add_argument("--side", choices=ALL_SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:
        if a.no_pyarrow:
            from bench_load import _block_pyarrow

            _block_pyarrow()
        if a.side == "floor":
            from store_floor import side_floor

            got = side_floor(Path(a.file), Path(a.out), MONTH, a.floor)
        else:
            got = (side_hand(Path(a.file), Path(a.out)) if a.side == "hand"
                   else side_compute(Path(a.file), Path(a.out), a.profile_to))
        got["pyarrow"] = "pyarrow" in sys.modules
        Path(a.result).write_text(json.dumps(got))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in a.rows:
            path = Path(tmp) / f"contacts-{rows}.csv"
            make(rows, path, 19)
            if a.dirty:         # in a process of its own: a child's peak (ru_maxrss)
                # starts from what this process holds when it is started, and DuckDB keeps
                # the memory of the rewrite (1.2 GB at 2 M rows)
                subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                f"sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                                "from bench_compute import dirty; "
                                f"dirty(Path({str(path)!r}))"], check=True, env=env)
            sides = SIDES + (("before",) if a.before else ()) + (("floor",) if a.floor else ())
            got: dict[str, list[dict]] = {s: [] for s in sides}
            for _ in range(a.repeat):
                for side in sides:
                    got[side].append(run(side, path, a.no_pyarrow, env, before=a.before,
                                         floor=a.floor))
            pa = {r["pyarrow"] for rs in got.values() for r in rs}
            arrow = "loaded" if pa == {True} else "not loaded" if pa == {False} else "mixed"
            print(f"{rows:,} rows x 19 columns, {path.stat().st_size / 1e6:.0f} MB CSV; "
                  f"pyarrow {arrow}; median of {a.repeat} interleaved runs; "
                  f"load average now {os.getloadavg()[0]:.1f}")
            med = {s: statistics.median(r["seconds"] for r in got[s]) for s in sides}
            peak = {s: max(r["peak_mb"] for r in got[s]) for s in sides}
            for side in sides:
                times = ", ".join(f"{r['seconds']:.2f}" for r in got[side])
                cpu = statistics.median(r["cpu"] for r in got[side])
                print(f"  {side:8s} {med[side]:7.2f} s {peak[side]:7.0f} MB  "
                      f"{got[side][0]['rows_out']:>7,} rows out  (runs: {times}; "
                      f"CPU median {cpu:.2f} s)")
            h, c = got["hand"][0]["sample"], got["compute"][0]["sample"]
            diff = [k for k in KPIS if k not in c or abs(h[k] - c[k]) > 1e-9 * max(1, abs(h[k]))]
            same = ("not compared (--dirty: compute rejects the bad rows)" if a.dirty
                    else f"{not diff}" + (f" (differ: {', '.join(diff)})" if diff else ""))
            print(f"  ratio    {med['compute'] / med['hand']:7.2f} x {peak['compute'] / peak['hand']:7.2f} x"
                  f"   same values: {same}")
            if a.floor:
                f = got["floor"][0]["sample"]
                diff = [k for k in KPIS if k not in f or abs(h[k] - f[k]) > 1e-9 * max(1, abs(h[k]))]
                print(f"  floor/hand {med['floor'] / med['hand']:5.2f} x "
                      f"{peak['floor'] / peak['hand']:4.2f} x   compute/floor "
                      f"{med['compute'] / med['floor']:4.2f} x "
                      f"{peak['compute'] / peak['floor']:4.2f} x   same values: {not diff}"
                      + (f" (differ: {', '.join(diff)})" if diff else ""))
            if a.before:
                print(f"  before/hand {med['before'] / med['hand']:4.2f} x "
                      f"{peak['before'] / peak['hand']:4.2f} x   compute/before "
                      f"{med['compute'] / med['before']:4.2f} x "
                      f"{peak['compute'] / peak['before']:4.2f} x")
            if a.profile:
                prof = Path(tmp) / "compute.prof"
                run("compute", path, a.no_pyarrow, env, profile=str(prof))
                stages(str(prof))


if __name__ == "__main__":
    main()
