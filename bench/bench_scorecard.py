"""500 agent QA sheets plus the balanced scorecard: kpi_xl's generator against XlsxWriter
writing the same cells, styles, formats, validations and charts, in the same run.

    python bench/bench_scorecard.py               # 500 agents
    python bench/bench_scorecard.py --agents 100

kpi_xl's side: fill the two templates (openpyxl; loops, one sheet per agent, references
moved), evaluate every formula for its cached value, save, write the values in.
XlsxWriter's side: the finished content (taken from kpi_xl's filled workbooks, so it is
the same cells) written with XlsxWriter, formulas with their values, styles, merged cells,
column widths, conditional formats, validations and charts. Only the writing is timed on
that side: it is the anchor for "how fast can this workbook be written at all".
Target: ≤ 1.5× XlsxWriter's time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def contexts(agents: int):
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import qa_contexts, scorecard_context

    tables = sample_tables(teams=1, agents_per_team=agents, contacts_per_month=40 * agents)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    qa = list(qa_contexts(res, tables["qa"], "Acme", max_score=MAX_SCORE, roster=tables["roster"],
                          rubric=rubric).values())[0]
    return scorecard_context(res, "Acme"), qa


def kpi_xl_side(sc, qa, out: Path) -> float:
    from kpi_xl.scorecard.build import TEMPLATES
    from kpi_xl.scorecard.cached import save_with_values
    from kpi_xl.scorecard.template import fill

    t0 = time.perf_counter()
    save_with_values(fill(TEMPLATES / "balanced-scorecard.xlsx", sc).workbook, out / "sc.xlsx")
    save_with_values(fill(TEMPLATES / "agent-qa.xlsx", qa).workbook, out / "qa.xlsx")
    return time.perf_counter() - t0


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


def xlsxwriter_side(contents: list[list[dict]], out: Path) -> float:
    """Write the same content with XlsxWriter; only XlsxWriter's work is timed."""
    import xlsxwriter

    t0 = time.perf_counter()
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
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=500)
    a = ap.parse_args()
    t = time.perf_counter()
    sc, qa = contexts(a.agents)
    prep = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        ours = min(kpi_xl_side(sc, qa, out) for _ in range(2))
        contents = [extract(out / "sc.xlsx"), extract(out / "qa.xlsx")]
        theirs = min(xlsxwriter_side(contents, out) for _ in range(2))
        import openpyxl
        sheets = len(openpyxl.load_workbook(out / "qa.xlsx", read_only=True).sheetnames)
        print(f"{a.agents} agents ({sheets} sheets in the QA workbook) + balanced scorecard; "
              f"contexts built in {prep:.1f} s")
        print(f"  kpi_xl (fill + values + save)  {ours:6.2f} s")
        print(f"  XlsxWriter (write only)        {theirs:6.2f} s")
        print(f"  ratio                          {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
