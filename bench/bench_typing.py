"""Reading and typing a CSV export (``kpi_xl.data.readers.read_source``, then
``kpi_xl.data.convert.convert``), this tree against another, interleaved: wall and CPU
time of each step, and the process's peak memory.

    python bench/bench_typing.py --before /tmp/old          # bench_load's 1 M x 19 export
    python bench/bench_typing.py --before /tmp/old --rows 2000000 --repeat 5
    python bench/bench_typing.py --before /tmp/old --file x.csv

Each run is a fresh process of one tree (``PYTHONPATH`` its root): it reads the file as
``kpi-xl compute`` does (the ``generic-contacts`` preset, DuckDB's reader) and types it:
wall (``perf_counter``) and CPU (user + system of every thread of the process,
``resource.getrusage``) of each step, peak RSS of the process. Without ``--file`` the
export is ``bench_load.py``'s 19-column one, made in a temporary folder. The trees alternate, ``--repeat`` rounds; medians, and
the load average (the machine is shared: CPU time is the steadier measure, but typing two
columns at once can only show in wall time). The accounting line and the number of
rejects are printed per tree: they must agree.
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


def side(path: Path) -> dict:
    import resource
    import time

    from kpi_xl.data import readers
    from kpi_xl.data.convert import Options, convert
    from kpi_xl.data.rawcols import SqlColumn
    from kpi_xl.data.rejects import Rejects
    from kpi_xl.data.sources import parse_source

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    src = parse_source({"preset": "generic-contacts", "path": str(path)})
    rejects = Rejects()
    t0, c0 = time.perf_counter(), cpu()
    raw = readers.read_source(src, rejects)
    if not isinstance(next(iter(raw.columns.values())), SqlColumn):
        raise SystemExit("DuckDB did not read the file")
    t1, c1 = time.perf_counter(), cpu()
    df, acc = convert(raw.source, raw, rejects, Options())
    return {"read": t1 - t0, "read_cpu": c1 - c0, "wall": time.perf_counter() - t1,
            "cpu": cpu() - c1, "line": acc.line(), "rejects": len(rejects.items),
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, help="a contacts export (default: made, --rows)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--before", type=Path, required=True, help="the other tree (e.g. main)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:
        print(json.dumps(side(a.file)))
        return
    if a.file is None:
        import tempfile

        sys.path.insert(0, str(ROOT / "bench"))
        from bench_load import make

        with tempfile.TemporaryDirectory() as tmp:
            a.file = Path(tmp) / f"contacts-{a.rows}.csv"
            make(a.rows, a.file, 19)
            compare(a)
        return
    compare(a)


def compare(a) -> None:
    trees = {"this": ROOT, "before": a.before.resolve()}
    got: dict[str, list[dict]] = {k: [] for k in trees}
    print(f"load average at start: {os.getloadavg()}")
    for _ in range(a.repeat):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, __file__, "--side", "--file", str(a.file),
                                  "--before", str(tree)], env=env, capture_output=True,
                                 text=True, check=True, cwd=tree)
            got[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{a.file.name}: read and convert, median of {a.repeat} interleaved runs; "
          f"load average now {os.getloadavg()}")
    for name in trees:
        rs = got[name]
        for step, w, c in (("read", "read", "read_cpu"), ("convert", "wall", "cpu")):
            wall = statistics.median(r[w] for r in rs if w in r)
            cpu = statistics.median(r[c] for r in rs if c in r)
            print(f"  {name:7s} {step:8s} wall {wall:5.2f} s  CPU {cpu:5.2f} s   (walls: "
                  + ", ".join(f"{r[w]:.2f}" for r in rs if w in r) + "; CPUs: "
                  + ", ".join(f"{r[c]:.2f}" for r in rs if c in r) + ")")
        print(f"          peak {max(r.get('peak', 0) for r in rs):,.0f} MB")
        print(f"          {rs[0]['line']}; {rs[0]['rejects']} rejects lines")
    same = {(r["line"], r["rejects"]) for rs in got.values() for r in rs}
    print(f"  same accounting and rejects count: {len(same) == 1}")


if __name__ == "__main__":
    main()
