"""Issue 16 §6: the workbooks read well. Checked on what the demo writes (the scorecard,
the "By" sheets, the QA workbooks, an agent's own workbook, the Intraday sheet), on the
shipped templates and on the example workbook:

* columns fit their text: no value is cut by the cell to its right (Date/Evaluator and
  Section/Criterion ran together, criteria were cut), and no right-aligned value touches
  left-aligned text beside it;
* header rows repeat on printed pages: print titles set in the workbook itself, and the
  QA workbook printed by LibreOffice as it is starts every page with its sheet's title;
* weight and fatal read in words ("3×", "Fatal — fails the evaluation"), not a bare 1 or Y;
* no chart draws a smoothed line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")

from kpi_xl import CATALOG  # noqa: E402
from kpi_xl.scorecard.libreoffice import convert, soffice  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
TEMPLATES = sorted((ROOT / "kpi_xl" / "templates").glob("*.xlsx"))
EXAMPLE = ROOT / "workbooks" / "kpi-functions-example.xlsx"
C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's month (``kpi-xl demo``) and its Intraday workbook (``kpi-xl staffing``)."""
    from kpi_xl.cli import main

    root = tmp_path_factory.mktemp("read")
    out = root / "out"
    assert main(["demo", "--folder", str(root / "demo"), "--out", str(out)]) == 0
    assert main(["staffing", "-c", str(root / "demo" / "kpi_xl.toml"), "--month", MONTH,
                 "--out", str(out)]) == 0
    books = sorted((out / MONTH).rglob("*.xlsx"))
    names = {p.name for p in books}
    assert {f"balanced-scorecard-{MONTH}.xlsx", f"intraday-{MONTH}.xlsx"} <= names
    assert any(n.startswith("qa-") for n in names)
    assert any(p.parent.name == "agents" for p in books)          # an agent's own book
    return out / MONTH, books


# ------------------------------------------------------------------ columns fit their text
def _shown(cell) -> str | None:
    """The text a cell shows, where it is plain: text, a date (10 characters), or the
    words of a format that shows words for numbers (``"Fatal…";…``); None otherwise."""
    v, fmt = cell.value, cell.number_format or "General"
    if isinstance(v, str):
        return v
    if hasattr(v, "year"):
        return "yyyy-mm-dd"
    if isinstance(v, (int, float)) and '"' in fmt:
        words = re.findall(r'"([^"]*)"', fmt.split(";")[0])
        rest = re.sub(r'"[^"]*"', "", fmt.split(";")[0])
        if words and not re.search(r"[0#?]|General", rest):
            return words[0] if v else None
    return None


def _cut(ws) -> list[str]:
    """Cells whose text is wider than their column and cannot spill over (the cell to
    their right holds a value): a character counts as a digit of Calibri 11 (Excel's
    column unit), scaled by the font size; a wrapping cell needs its longest word."""
    merged = {(r, c) for m in ws.merged_cells.ranges for r in range(m.min_row, m.max_row + 1)
              for c in range(m.min_col, m.max_col + 1)}
    default = ws.sheet_format.defaultColWidth or 9.140625
    bad = []
    for row in ws.iter_rows():
        for c in row:
            right = ws.cell(c.row, c.column + 1).value
            text = _shown(c)
            if not text or right in (None, "") or (c.row, c.column) in merged:
                continue
            if c.alignment is not None and c.alignment.wrap_text:
                text = max(text.split(), key=len)
            size = float(c.font.sz) if c.font is not None and c.font.sz else 11.0
            need = len(text) * size / 11
            width = ws.column_dimensions[c.column_letter].width or default
            if need > width:
                bad.append(f"{ws.title}!{c.coordinate} {text!r}: {need:.1f} > {width:g}")
    return bad


def _horizontal(cell) -> str:
    h = cell.alignment.horizontal if cell.alignment is not None else None
    if h in (None, "general"):
        return "right" if isinstance(cell.value, (int, float)) or hasattr(cell.value, "year") \
            else "left"
    return h


def _touching(ws) -> list[str]:
    """A right-aligned value with left-aligned text straight after it, no indent between:
    the two read as one ("2026-10-17Lee Park")."""
    bad = []
    for row in ws.iter_rows():
        for c in row:
            nxt = ws.cell(c.row, c.column + 1)
            if c.value in (None, "") or nxt.value in (None, ""):
                continue
            if _horizontal(c) == "right" and _horizontal(nxt) == "left" \
                    and not (nxt.alignment is not None and nxt.alignment.indent):
                bad.append(f"{ws.title}!{c.coordinate}:{nxt.coordinate} "
                           f"{c.value!r} {nxt.value!r}")
    return bad


def test_columns_fit_their_text(demo):
    """Before: the QA sheets' Section (14 wide) and Criterion (22) columns cut 'Opening and
    greeting' and 'Verifies identity before account details' (9 pt); the dates (right)
    ran into the evaluators' names (left); the scorecard's coverage label was cut by its
    value. Read with the cached values (what a preview shows)."""
    _folder, books = demo
    cut, touching = [], []
    for path in books:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets:
            cut += [f"{path.name}: {b}" for b in _cut(ws)]
            touching += [f"{path.name}: {b}" for b in _touching(ws)]
    assert not cut, cut[:20]
    assert not touching, touching[:20]


def test_a_long_value_widens_its_column_and_longer_text_wraps():
    """kpi_xl.scorecard.widths on its own: a column widened to its text (never narrowed),
    a text beyond 60 characters wrapped, text with an empty neighbour left to spill."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from kpi_xl.scorecard.widths import MAX_WIDTH, fit_columns

    ws = Workbook().active
    ws.column_dimensions["A"].width = 10
    ws.column_dimensions["C"].width = 40
    ws["A1"], ws["B1"] = "Verifies identity before account details", 3      # 40 characters
    ws["A1"].font = Font(size=9)
    ws["C1"], ws["D1"] = "short", 1                                          # stays 40
    ws["A2"] = "a title with nothing beside it, far wider than its column"   # spills
    ws["E3"], ws["F3"] = "a long comment " * 8, 1                            # 120
    fit_columns(ws)
    assert ws.column_dimensions["A"].width >= 40 * 9 / 11
    assert ws.column_dimensions["C"].width == 40
    assert ws.column_dimensions["E"].width == MAX_WIDTH and ws["E3"].alignment.wrap_text
    assert not _cut(ws)
    # a span of columns Excel saved as one <col min="7" max="9"> is split: only H widens
    from openpyxl.worksheet.dimensions import ColumnDimension

    ws.column_dimensions["G"] = ColumnDimension(ws, index="G", width=5, min=7, max=9)
    ws["H5"], ws["I5"] = "twelve chars", 1
    fit_columns(ws)
    assert [ws.column_dimensions[c].width for c in "GHI"] == [5, 13, 5]


# ------------------------------------------------------------------ header rows repeat
def _all_books(demo) -> list[Path]:
    return [*demo[1], *TEMPLATES, EXAMPLE]


def test_every_sheet_names_the_rows_printed_on_every_page(demo):
    """Every sheet of every workbook the demo writes, of the templates and of the example
    workbook (each sheet that can run past one page; one that fits prints them once)."""
    missing = []
    for path in _all_books(demo):
        for ws in openpyxl.load_workbook(path).worksheets:
            if not ws.print_title_rows:
                missing.append(f"{path.name}: {ws.title}")
    assert not missing, missing


@pytest.mark.skipif(soffice() is None or not shutil.which("pdftotext"),
                    reason="LibreOffice and poppler-utils print and read the workbook")
def test_a_qa_workbook_printed_as_it_is_repeats_its_title_and_reads_weight_and_fatal(
        demo, tmp_path):
    """The QA workbook printed by LibreOffice with its own page setup (not a PDF copy's):
    every page starts with its sheet's title in the page header, and every page has the
    column heads of the table it prints (before: the Team sheet's list of evaluations and
    the agents' item scores ran on to pages with neither: the title rows 1–2 repeated, no
    column heads); the item rows say '3×' and 'Fatal — fails the evaluation' (before: 3
    and Y/N)."""
    folder, _books = demo
    team = sorted(folder.glob(f"qa-*-{MONTH}.xlsx"))[0]
    pdf = convert(team, "pdf", tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    titles = {ws["A1"].value for ws in openpyxl.load_workbook(team).worksheets}
    firsts = [next(ln.strip() for ln in p.splitlines() if ln.strip()) for p in pages]
    assert len(pages) > len(titles)                       # some sheets run past a page
    assert all(f.startswith("QA: ") for f in firsts), firsts
    assert {f.split(" · ")[0] for f in firsts} == titles
    # the heads of the evaluations (Team) and of the item scores (an agent's sheet)
    heads = re.compile(r"^\s*Evaluation\s+(Evaluator\s+Agent|Section\s+Criterion)\s", re.M)
    headless = [f for f, p in zip(firsts, pages) if not heads.search(p)]
    assert not headless, headless
    # the demo's rubric (its config): weights 1, 2, 3; two fatal compliance items
    assert re.search(r"Verifies identity before account details\s+1×\s+Fatal — fails the "
                     r"evaluation", text), text[:3000]
    assert re.search(r"Gives correct information\s+3×\s", text)
    assert not re.search(r"\s[YN]\s*$", text, re.M)
    # the QA score's rule above the items, in the catalog's words (not restated)
    assert " ".join(CATALOG["qa_score"].description.split()[-6:]) in " ".join(text.split())


@pytest.mark.skipif(soffice() is None or not shutil.which("pdftotext"),
                    reason="LibreOffice and poppler-utils print and read the workbook")
def test_the_scorecards_reading_line_prints_whole_in_its_pdf_copy(demo, tmp_path):
    """The line saying what Worst and 'near target' mean spilled over empty cells, and a
    PDF copy (columns across pages) cut it at the first page's edge: "… near target from
    the nea". Wrapped over the first page's columns, it ends on page 1."""
    from kpi_xl.scorecard.pdf import pdf_copy

    folder, _books = demo
    pdf = pdf_copy(folder / f"balanced-scorecard-{MONTH}.xlsx", tmp_path / "sc.pdf")
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    words = " ".join(first.split())
    assert "near target from the near-target threshold above; off target below it." in words


def test_weight_and_fatal_stay_numbers_for_the_formulas(demo):
    """The words are the cells' formats: the QA score's formula (the catalog's) still reads
    the weights and the fatal flags as numbers."""
    folder, _books = demo
    wb = openpyxl.load_workbook(sorted(folder.glob(f"qa-*-{MONTH}.xlsx"))[0])
    ws = wb.worksheets[1]
    head = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 5).value == "Fatal item")
    assert [ws.cell(head, c).value for c in range(4, 9)] == [
        "Weight", "Fatal item", "Score (0–5)", "Points", "Out of"]
    rows = range(head + 1, ws.max_row + 1)
    weights = [ws.cell(r, 4) for r in rows if ws.cell(r, 1).value]
    fatal = [ws.cell(r, 5) for r in rows if ws.cell(r, 1).value]
    assert weights and all(isinstance(c.value, (int, float)) and c.number_format.endswith('"×"')
                           for c in weights)
    assert {c.value for c in fatal} == {0, 1}
    assert all(c.number_format.startswith('"Fatal — fails the evaluation"') for c in fatal)


# ------------------------------------------------------------------ no smoothed lines
def smoothed(path: Path) -> list[str]:
    """The line series of a workbook's charts drawn smoothed: ``<c:smooth val="1"/>``, a
    ``<c:smooth/>`` without val (the schema's default is true), a line series without
    the element (Excel's default then depends on the version), a lineChart smoothed as a
    whole, or a scatter chart of a smooth style."""
    bad = []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not re.match(r"xl/charts/chart\d+\.xml$", name):
                continue
            root = ET.fromstring(z.read(name))
            for kind in ("lineChart", "line3DChart", "scatterChart"):
                for chart in root.iter(C + kind):
                    style = chart.find(C + "scatterStyle")
                    if style is not None and "smooth" in style.get("val", ""):
                        bad.append(f"{name}: {kind} style {style.get('val')}")
                    whole = chart.find(C + "smooth")
                    if whole is not None and whole.get("val", "1") in ("1", "true"):
                        bad.append(f"{name}: {kind} smoothed")
                    for i, ser in enumerate(chart.findall(C + "ser")):
                        s = ser.find(C + "smooth")
                        if s is None or s.get("val", "1") in ("1", "true"):
                            bad.append(f"{name}: {kind} series {i} "
                                       f"{'without smooth' if s is None else 'smoothed'}")
    return bad


def test_no_chart_draws_a_smoothed_line(demo):
    """Every chart of the templates, the demo's workbooks (the scorecard's history, the
    Intraday sheet's agents) and the example workbook. (The lines were straight already
    when this test came: it guards them; the next test shows it can fail.)"""
    charts = 0
    bad = []
    for path in _all_books(demo):
        with zipfile.ZipFile(path) as z:
            charts += sum(1 for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n))
        bad += [f"{path.name}: {b}" for b in smoothed(path)]
    assert charts >= 3 and not bad, bad


def test_the_smoothing_check_finds_smoothed_and_unsaid_lines(tmp_path):
    from openpyxl import Workbook
    from openpyxl.chart import LineChart, Reference

    wb = Workbook()
    ws = wb.active
    for r in range(1, 6):
        ws.append([r, r * r])
    for smooth, expected in ((True, "smoothed"), (None, "without smooth"), (False, None)):
        chart = LineChart()
        chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=5))
        chart.series[0].smooth = smooth
        ws.add_chart(chart, "D1")
        wb.save(tmp_path / "c.xlsx")
        found = smoothed(tmp_path / "c.xlsx")
        ws._charts.clear()
        assert (found[0].endswith(expected) if expected else not found), (smooth, found)


def test_print_titles_follow_their_rows_and_the_page_header_is_filled(tmp_path):
    """kpi_xl.scorecard.template on its own: print titles naming a table's heads below a
    loop move with them (the loop's 3 template rows become 5 items: the heads go from row
    5 to row 7), and the page header's {{ }} is filled, a value's '&' doubled so that it
    prints as '&' (not as a header code)."""
    from openpyxl import Workbook

    from kpi_xl.scorecard.template import fill

    wb = Workbook()
    ws = wb.active
    ws["A1"] = "{% for x in items %}"
    ws["A2"] = "{{ x }}"
    ws["A3"] = "{% endfor %}"
    ws["A5"], ws["A6"] = "Heads", "{{ team }}"
    ws.print_title_rows = "5:5"
    ws.HeaderFooter.oddHeader.left.text = "QA: {{ team }}"
    ws.HeaderFooter.oddHeader.right.text = "page &P"
    wb.save(tmp_path / "t.xlsx")
    out = fill(tmp_path / "t.xlsx", {"items": [1, 2, 3, 4, 5], "team": "Sales & orders"})
    ws = out.workbook.active
    assert [ws.cell(r, 1).value for r in range(1, 9)] == [1, 2, 3, 4, 5, None, "Heads",
                                                          "Sales & orders"]
    assert ws.print_title_rows == "$7:$7"
    assert ws.HeaderFooter.oddHeader.left.text == "QA: Sales && orders"
    assert ws.HeaderFooter.oddHeader.right.text == "page &P"
    # a long name is cut (Excel refuses a header past 255 characters), never in an '&&'
    for name in ("x" * 300, "x" * 60 + "&" * 40):
        out = fill(tmp_path / "t.xlsx", {"items": [], "team": name}).workbook.active
        left = out.HeaderFooter.oddHeader.left.text
        assert len(left) <= 70 and left.endswith("…")
        assert not re.search(r"(?<!&)(&&)*&…", left), left


def test_the_intraday_chart_prints_on_a_page_of_its_own(demo, tmp_path):
    """The demo's Intraday sheet (a weekday pattern of 48 half hours: the chart below a
    table longer than a page): a page break between the table and the chart, and
    LibreOffice prints the chart whole on the last page. Before, it printed the chart's
    title at the foot of the table's page and the rest on the next. (A table and chart
    that fit one page stay on one: tests/test_intraday.py renders one.)"""
    folder, _books = demo
    path = folder / f"intraday-{MONTH}.xlsx"
    ws = openpyxl.load_workbook(path)["Intraday"]
    (chart,) = ws._charts
    top = chart.anchor._from.row + 1          # the chart's first row (1-based)
    last = max(r for r in range(1, top) if ws.cell(r, 1).value == "23:30")
    assert any(last <= b.id < top for b in ws.row_breaks.brk), (last, top)
    pdf = convert(path, "pdf", tmp_path)
    pages = [p for p in subprocess.run(["pdftotext", "-layout", str(pdf), "-"],
                                       capture_output=True, text=True,
                                       check=True).stdout.split("\f") if p.strip()]
    title = [i for i, p in enumerate(pages) if "Calls offered and agents" in p]
    assert title == [len(pages) - 1], title                  # the chart whole, at the end
    assert not re.search(r"^\s*23:30\s+[\d.]+\s+[\d.]+", pages[-1], re.M)  # table rows before
