"""PDF copies of the workbooks (a stakeholder's ``formats = ["xlsx", "pdf"]``), printed by
LibreOffice headless.

The workbooks' own page setup fits each sheet to one page wide, which prints the
scorecard's 13 columns at about 6 pt. A PDF copy is printed from a copy of the workbook
whose every sheet is set up for reading instead:

* **text no smaller than 8 pt**: the print scale never goes below 8 pt ÷ the sheet's
  smallest font (a sheet whose smallest text is 8 pt prints at 100 %, one at 9 pt at 89 %
  or more);
* **portrait where it fits, landscape where wide**: portrait A4 when the sheet's columns
  fit its width at that scale, else landscape; within that, as large as fits, up to 100 %;
* **fitted to pages**: when the columns are still wider than the page, they continue on
  the next page (pages read across, then down) with the first column repeated, so each
  page names its rows;
* **header rows repeated** on every page: the rows the template names as print titles, or
  the sheet's title rows (1–2: what it is, for whom, which period) where it names none.

A4 with 0.4 in margins (0.2 in for header and footer). The workbook itself is not
changed, nor its digest: the copy rides with its workbook under the same report in the
send ledger.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl.utils import get_column_letter

from ..files import replacing
from .libreoffice import LibreOfficeError, convert, soffice

MIN_PT = 8.0                         # the smallest text a PDF copy prints
A4_IN = (8.27, 11.69)                # width, height in inches (portrait)
MARGIN_IN = 0.4
DEFAULT_FONT_PT = 11.0               # openpyxl's (and Excel's) default font size
TITLE_ROWS = "1:2"                   # every kpi_xl sheet: title, then scope and period


@dataclass(frozen=True)
class PagePlan:
    """How one sheet prints: orientation, scale (%), whether its columns continue on
    further pages, and the rows repeated on each page."""
    orientation: str
    scale: int
    across: bool
    title_rows: str
    smallest_font: float
    width_pt: float


DIGIT_PX = 7                         # Calibri 11's widest digit, in pixels at 96 dpi
DEFAULT_WIDTH = 9.140625             # a column with no width: Excel's default, 64 px
#: the digit's width (share of the em) of the fonts LibreOffice may print Calibri with,
#: from their hmtx tables: Carlito is Calibri's metric twin; DejaVu Sans is fontconfig's
#: fallback on a Linux machine without it (columns then print a third wider)
DIGIT_EM = {"Calibri": 7 / (11 * 96 / 72), "Carlito": 7 / (11 * 96 / 72),
            "Liberation Sans": 0.556, "Arial": 0.556, "DejaVu Sans": 0.636}


def digit_px() -> float:
    """The width in pixels of a digit of the font LibreOffice will print the workbooks'
    Calibri 11 with: 7 where Calibri (or Carlito) is installed or fontconfig cannot say;
    DejaVu Sans's 9.3 on a Linux machine with neither (its fallback), and so on."""
    exe = shutil.which("fc-match")
    if exe is None:
        return DIGIT_PX
    try:
        family = subprocess.run([exe, "-f", "%{family}", "Calibri"], capture_output=True,
                                text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return DIGIT_PX
    family = family.split(",")[0].strip()
    return max(DIGIT_PX, DIGIT_EM.get(family, DIGIT_EM["DejaVu Sans"]) * 11 * 96 / 72)


def column_width_pt(width: float, digit: float = DIGIT_PX) -> float:
    """A column's width as stored in the workbook (``<col width>``, what openpyxl reads) in
    points: ECMA-376 Part 1 §18.3.1.13's pixels, Truncate(((256 × width +
    Truncate(128 / digit)) / 256) × digit), for Calibri 11's 7-pixel digit (or the
    printing font's, :func:`digit_px`), at 0.75 pt a pixel."""
    return math.trunc((256 * width + math.trunc(128 / digit)) / 256 * digit) * 0.75


def _widths(ws, digit: float) -> float:
    default = ws.sheet_format.defaultColWidth or DEFAULT_WIDTH
    width = {}
    for dim in ws.column_dimensions.values():
        for col in range(dim.min or 0, (dim.max or 0) + 1):
            width[col] = (0.0 if dim.hidden else dim.width if dim.width else default)
    return sum(column_width_pt(width.get(c, default), digit)
               for c in range(1, ws.max_column + 1))


def _smallest_font(ws) -> float:
    sizes = [float(c.font.sz) if c.font and c.font.sz else DEFAULT_FONT_PT
             for row in ws.iter_rows() for c in row if c.value not in (None, "")]
    return min(sizes, default=DEFAULT_FONT_PT)


def plan(ws, digit: float | None = None) -> PagePlan:
    """The page setup of one sheet's PDF copy (see the module's docstring); ``digit``:
    the printing font's digit in pixels (None: :func:`digit_px`)."""
    width = _widths(ws, digit_px() if digit is None else digit)
    smallest = _smallest_font(ws)
    floor = math.ceil(MIN_PT / smallest * 100)           # the least scale, in %
    titles = ws.print_title_rows or TITLE_ROWS
    for orientation, page_in in (("portrait", A4_IN[0]), ("landscape", A4_IN[1])):
        printable = (page_in - 2 * MARGIN_IN) * 72
        fit = math.floor(printable / width * 100) if width else 100
        if fit >= floor:
            return PagePlan(orientation, max(floor, min(100, fit)), False, titles, smallest,
                            width)
    return PagePlan("landscape", floor, True, titles, smallest, width)


def print_ready(src: str | Path, dst: str | Path) -> dict[str, PagePlan]:
    """A copy of workbook ``src`` at ``dst`` with every sheet's page set up by
    :func:`plan`; returns each sheet's plan."""
    from openpyxl.worksheet.properties import PageSetupProperties

    from .cached import load_as_stored

    wb = load_as_stored(src)                # its page headers as stored (not decoded)
    plans = {}
    digit = digit_px()
    for ws in wb.worksheets:
        p = plan(ws, digit)
        plans[ws.title] = p
        if ws.sheet_properties.pageSetUpPr is None:      # a sheet that never set it up
            ws.sheet_properties.pageSetUpPr = PageSetupProperties()
        ws.sheet_properties.pageSetUpPr.fitToPage = False
        ws.page_setup.fitToWidth = ws.page_setup.fitToHeight = None
        ws.page_setup.scale = p.scale
        ws.page_setup.orientation = p.orientation
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.pageOrder = "overThenDown"
        m = ws.page_margins
        m.left = m.right = m.top = m.bottom = MARGIN_IN
        m.header = m.footer = MARGIN_IN / 2
        ws.print_title_rows = p.title_rows
        # the first column names the rows: repeated on any page the columns continue on
        ws.print_title_cols = "A:A"
        ws.print_area = f"A1:{get_column_letter(ws.max_column)}{ws.max_row}"
    wb.save(dst)
    return plans


def pdf_copy(xlsx: str | Path, pdf: str | Path) -> Path:
    """The PDF copy of workbook ``xlsx``, written whole at ``pdf`` (LibreOffice prints a
    print-ready copy; the workbook is not touched). LibreOfficeError when LibreOffice is
    missing or could not print it."""
    if soffice() is None:
        raise LibreOfficeError("LibreOffice is not installed")
    xlsx, pdf = Path(xlsx), Path(pdf)
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / xlsx.name
        print_ready(xlsx, ready)
        try:
            made = convert(ready, "pdf", Path(tmp) / "out")
        except subprocess.TimeoutExpired as e:
            raise LibreOfficeError(f"LibreOffice did not print {xlsx.name} within "
                                   f"{e.timeout:g} s") from None
        data = made.read_bytes()
        if not (data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]):
            raise LibreOfficeError(f"LibreOffice wrote no whole PDF for {xlsx.name}")
        with replacing(pdf) as part:
            shutil.copyfile(made, part)
    return pdf


def is_current(pdf: Path, xlsx: Path) -> bool:
    """A PDF copy can be reused when it is whole and not older than its workbook."""
    if not pdf.is_file() or pdf.stat().st_mtime_ns < xlsx.stat().st_mtime_ns:
        return False
    data = pdf.read_bytes()
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
