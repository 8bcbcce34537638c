"""The convert stage alone (``kpi_xl.data.convert.convert`` of a source DuckDB has read),
this tree against another, interleaved: wall and CPU time.

    python bench/bench_typing.py --before /work/main                  # /work/fast/c1m.csv
    python bench/bench_typing.py --before /tmp/old --file x.csv --repeat 5

Each run is a fresh process of one tree (``PYTHONPATH`` its root): it reads the file as
``kpi-xl compute`` does (the ``generic-contacts`` preset, DuckDB's reader), then times
``convert`` alone: wall (``perf_counter``) and CPU (user + system of every thread of the
process, ``resource.getrusage``). The trees alternate, ``--repeat`` rounds; medians, and
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
    raw = readers.read_source(src, rejects)
    if not isinstance(next(iter(raw.columns.values())), SqlColumn):
        raise SystemExit("DuckDB did not read the file")
    t0, c0 = time.perf_counter(), cpu()
    df, acc = convert(raw.source, raw, rejects, Options())
    return {"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "line": acc.line(),
            "rejects": len(rejects.items)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=Path("/work/fast/c1m.csv"))
    ap.add_argument("--before", type=Path, required=True, help="the other tree (e.g. main)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:
        print(json.dumps(side(a.file)))
        return
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
    print(f"{a.file}: convert, median of {a.repeat} interleaved runs; "
          f"load average now {os.getloadavg()}")
    for name in trees:
        rs = got[name]
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        print(f"  {name:7s} wall {wall:5.2f} s  CPU {cpu:5.2f} s   (walls: "
              + ", ".join(f"{r['wall']:.2f}" for r in rs) + "; CPUs: "
              + ", ".join(f"{r['cpu']:.2f}" for r in rs) + ")")
        print(f"          {rs[0]['line']}; {rs[0]['rejects']} rejects lines")
    same = {(r["line"], r["rejects"]) for rs in got.values() for r in rs}
    print(f"  same accounting and rejects count: {len(same) == 1}")


if __name__ == "__main__":
    main()
