"""A big centre's workbooks: kpi_xl's generator against XlsxWriter writing the same content,
in the same run, interleaved, each run in a fresh subprocess (time and peak memory).

    python bench/bench_scorecard.py                      # 500 and 2,000 agents, 3 runs each
    python bench/bench_scorecard.py --agents 100 --runs 1
    python bench/bench_scorecard.py --before /tmp/base    # and an older tree, interleaved

What is timed on kpi_xl's side is what ``kpi-xl run`` does for the workbooks once the data
is loaded and the engine has computed (``kpi_xl.scorecard.build.write_month``): the
scorecard's and the QA workbook's contexts built from the results and the QA rows, the two
templates filled (one sheet per agent), every formula evaluated for its cached value, the
files written. All agents are in one team, so the QA workbook holds one sheet per agent
plus its Team sheet (the largest workbook a run makes). kpi_xl runs twice per round: with
lxml importable (openpyxl then writes with lxml) and without it (``OPENPYXL_LXML=False``,
the standard library's ElementTree).

XlsxWriter's side: the finished content (read from kpi_xl's workbooks beforehand, so it
is the same cells) written with XlsxWriter: values, formulas with their cached values,
styles, widths, heights, merged cells, conditional formats, validations and charts. Only
XlsxWriter's writing is timed: it is the anchor for "how fast can this workbook be
written at all". Target: kpi_xl ≤ 1.5× XlsxWriter's median time, peak memory under 1 GB.

Peak memory is the subprocess's peak resident set during the timed part (VmHWM, reset
when the timed part starts), which includes what each side holds before it (``before``):
the loaded tables and the engine's results for kpi_xl, the content to write for
XlsxWriter.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _start() -> float:
    """The resident set now (what the side holds before its timed part), with the peak
    reset to it where Linux allows (/proc/self/clear_refs), so that the peak measured
    after is the timed part's own (on top of what was held already)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS") or _rss_mb()


def _rss_mb() -> float:
    """Peak resident set of this process (since _start where Linux allows)."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def inputs(agents: int, path: Path) -> None:
    """The loaded tables and the engine's results for ``agents`` agents in one team,
    pickled for the subprocesses (not timed)."""
    from kpi_xl.demo_data import MAX_SCORE, sample_tables
    from kpi_xl.engine import Engine, KpiChoice

    tables = sample_tables(teams=1, agents_per_team=agents, contacts_per_month=40 * agents)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    with open(path, "wb") as f:
        pickle.dump((tables, res), f, protocol=pickle.HIGHEST_PROTOCOL)


def kpi_xl_side(data: Path, out: Path) -> dict:
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC
    from kpi_xl.scorecard.build import write_month

    with open(data, "rb") as f:
        tables, res = pickle.load(f)
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    before = _start()
    t0, c0 = time.perf_counter(), time.process_time()
    paths = write_month(res, tables, out, centre="Acme", max_score=MAX_SCORE, rubric=rubric)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    import openpyxl

    return {"seconds": seconds, "cpu": cpu, "peak_mb": _rss_mb(), "before_mb": before,
            "lxml": bool(openpyxl.LXML), "files": [str(p) for p in paths]}


# ------------------------------------------------------------------ XlsxWriter anchor
def _style(cell) -> tuple:
    f, fill, al, b = cell.font, cell.fill, cell.alignment, cell.border
    color = f.color.rgb if f.color is not None and isinstance(f.color.rgb, str) else None
    props = {"bold": bool(f.b), "font_size": f.sz or 11, "font_name": f.name or "Calibri",
             "num_format": cell.number_format}
    if color:
        props["font_color"] = "#" + color[-6:]
    if fill.fill_type:
        props["bg_color"], props["pattern"] = "#" + str(fill.start_color.rgb)[-6:], 1
    if al.horizontal:
        props["align"] = al.horizontal
    if al.wrap_text:
        props["text_wrap"] = True
    if b.bottom is not None and b.bottom.style:
        props["bottom"] = 1
    return tuple(sorted(props.items()))


def extract(path: Path) -> list[dict]:
    """The workbook's content as plain data (not timed): what XlsxWriter is asked to write."""
    import openpyxl

    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    sheets = []
    for ws in formulas.worksheets:
        vs = values[ws.title]
        cells = []
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                cells.append((c.row - 1, c.column - 1, c.data_type == "f", c.value,
                              vs.cell(c.row, c.column).value, _style(c) if c.has_style else None))
        sheets.append({
            "title": ws.title, "cells": cells,
            "widths": [(k, d.width) for k, d in ws.column_dimensions.items() if d.width],
            "heights": [(r - 1, d.height) for r, d in ws.row_dimensions.items() if d.height],
            "merged": [(str(m), ws[str(m).split(":")[0]].value) for m in ws.merged_cells.ranges],
            "cf": [(str(cf.sqref).split()[0], (r.formula or ['""'])[0])
                   for cf in ws.conditional_formatting for r in cf.rules],
            "dv": [str(dv.sqref) for dv in ws.data_validations.dataValidation],
            "charts": [("bar" if ch.tagname == "barChart" else "line", ch.anchor._from.row,
                        ch.anchor._from.col,
                        [("=" + s.val.numRef.f, "=" + (s.cat.numRef or s.cat.strRef).f
                          if s.cat else None) for s in ch.series]) for ch in ws._charts]})
    return sheets


def xlsxwriter_side(data: Path, out: Path) -> dict:
    """Write the same content with XlsxWriter; only XlsxWriter's work is timed."""
    import xlsxwriter

    with open(data, "rb") as f:
        contents = pickle.load(f)
    before = _start()
    t0, c0 = time.perf_counter(), time.process_time()
    for k, sheets in enumerate(contents):
        book = xlsxwriter.Workbook(str(out / f"xw{k}.xlsx"))
        formats: dict = {}
        red = book.add_format({"bg_color": "#FFC7CE"})

        def fmt(style):
            if style is None:
                return None
            f = formats.get(style)
            if f is None:
                f = formats[style] = book.add_format(dict(style))
            return f

        for s in sheets:
            sh = book.add_worksheet(s["title"])
            for col, w in s["widths"]:
                sh.set_column(f"{col}:{col}", w)
            for r, h in s["heights"]:
                sh.set_row(r, h)
            for r, c, is_f, v, cached, style in s["cells"]:
                if is_f:
                    sh.write_formula(r, c, v, fmt(style), cached)
                else:
                    sh.write(r, c, v, fmt(style))
            for rng, v in s["merged"]:
                sh.merge_range(rng, v)
            for rng, crit in s["cf"]:
                sh.conditional_format(rng, {"type": "cell", "criteria": "==", "value": crit,
                                            "format": red})
            for rng in s["dv"]:
                sh.data_validation(rng, {"validate": "list",
                                         "source": ["Open", "In progress", "Done"]})
            for kind, row, col, series in s["charts"]:
                chart = book.add_chart({"type": kind})
                for values, cats in series:
                    chart.add_series({"values": values, "categories": cats})
                sh.insert_chart(row, col, chart)
        book.close()
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "peak_mb": _rss_mb(), "before_mb": before}


# ------------------------------------------------------------------ the rounds
def _child(side: str, data: Path, out: Path, lxml: bool = True, tree: Path = ROOT) -> dict:
    """One side in a fresh process; ``tree``: the source tree it runs (``--before``: an
    older one, with its own copy of this file)."""
    env = dict(os.environ, PYTHONPATH=str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["OPENPYXL_LXML"] = "True" if lxml else "False"
    if side != "inputs":
        out.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([sys.executable, str(tree / "bench" / Path(__file__).name), "--child",
                        side, str(data), str(out)],
                       env=env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{side} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench(agents: int, runs: int, tmp: Path, before: Path | None = None) -> dict:
    t = time.perf_counter()
    data = tmp / f"inputs-{agents}.pickle"
    _child("inputs", Path(str(agents)), data)     # in a subprocess: the parent stays light
    print(f"{agents} agents: tables and results made in {time.perf_counter() - t:.1f} s "
          "(not timed)", flush=True)
    ours = {True: [], False: []}
    theirs: list[dict] = []
    old: list[dict] = []
    content = tmp / f"content-{agents}.pickle"
    for k in range(runs):
        if before is not None:
            r = _child("kpi_xl", data, tmp / f"before-{agents}-{k}", True, before)
            old.append(r)
            print(f"  run {k + 1}: before lxml=True   {r['seconds']:7.2f} s "
                  f"(CPU {r['cpu']:6.2f} s)  "
                  f"peak {r['peak_mb']:6.0f} MB (before {r['before_mb']:.0f})", flush=True)
        for lxml in (True, False):
            r = _child("kpi_xl", data, tmp / f"ours-{agents}-{k}-{lxml}", lxml)
            if r["lxml"] != lxml:
                raise SystemExit("OPENPYXL_LXML did not switch openpyxl's writer")
            ours[lxml].append(r)
            print(f"  run {k + 1}: kpi_xl lxml={lxml!s:5}  {r['seconds']:7.2f} s "
                  f"(CPU {r['cpu']:6.2f} s)  "
                  f"peak {r['peak_mb']:6.0f} MB (before {r['before_mb']:.0f})", flush=True)
        if not content.exists():                       # same cells, from kpi_xl's files
            files = [Path(f) for f in ours[True][0]["files"]]
            with open(content, "wb") as f:
                pickle.dump([extract(p) for p in files], f, protocol=pickle.HIGHEST_PROTOCOL)
        r = _child("xlsxwriter", content, tmp / f"xw-{agents}-{k}")
        theirs.append(r)
        print(f"  run {k + 1}: XlsxWriter          {r['seconds']:7.2f} s "
              f"(CPU {r['cpu']:6.2f} s)  "
              f"peak {r['peak_mb']:6.0f} MB (before {r['before_mb']:.0f})", flush=True)
    sides = (("lxml", ours[True]), ("etree", ours[False]), ("xw", theirs)) + (
        (("old", old),) if old else ())
    med = {name: statistics.median(x["seconds"] for x in rs) for name, rs in sides}
    cpu = {name: statistics.median(x["cpu"] for x in rs) for name, rs in sides}
    peak = {name: max(x["peak_mb"] for x in rs) for name, rs in sides}
    import openpyxl

    sheets = len(openpyxl.load_workbook(ours[True][0]["files"][-1], read_only=True).sheetnames)
    print(f"{agents} agents ({sheets} sheets in the QA workbook) + balanced scorecard, "
          f"median of {runs}:")
    if old:
        import hashlib

        def digests(r):
            return [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in r["files"]]
        print(f"  the workbooks' bytes: the same before and after: "
              f"{digests(old[0]) == digests(ours[True][0])}", flush=True)
    labels = (("old", "before, lxml       "),) if old else ()
    for name, label in labels + (("lxml", "kpi_xl, lxml       "),
                                 ("etree", "kpi_xl, ElementTree"), ("xw", "XlsxWriter         ")):
        print(f"  {label} {med[name]:7.2f} s  {med[name] / med['xw']:5.2f}×   CPU "
              f"{cpu[name]:7.2f} s  {cpu[name] / cpu['xw']:5.2f}×   peak {peak[name]:6.0f} MB",
              flush=True)
    return {"agents": agents, "median": med, "cpu": cpu, "peak": peak}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        side, data, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
        if side == "inputs":
            inputs(int(str(data)), out)
            print(json.dumps({}))
            return
        r = (kpi_xl_side if side == "kpi_xl" else xlsxwriter_side)(data, out)
        print(json.dumps(r))
        return
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None,
                    help="an older source tree (git archive <commit> | tar -x -C DIR) whose "
                         "kpi_xl side runs too, interleaved (with lxml)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.agents:
            bench(n, a.runs, Path(tmp), a.before)


if __name__ == "__main__":
    main()
