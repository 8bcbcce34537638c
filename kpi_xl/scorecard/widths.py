"""Columns that fit their text (issue 16 §6): a filled sheet's columns widened, never
narrowed, so that no value is cut by the cell to its right.

A text cell whose right-hand neighbour is empty spills over it, as in Excel, and needs no
room of its own (titles, notes, section headings). A cell with a value beside it is cut
at its column's edge: its column is made wide enough for it, up to :data:`MAX_WIDTH`;
beyond that the cell wraps (its row grows when Excel or LibreOffice lays it out). A cell
that wraps already needs room for its longest word only. Merged cells, formulas (their
text is not known before they are calculated) and the template's own widths where they
are wider are left alone, so a restyled template keeps what it chose.

Widths are in Excel's unit, the width of a digit of the default font (Calibri 11):
:func:`text_width` counts a character as a digit (Calibri's letters are on average a
little narrower than its digits, its capitals a little wider), scaled by the cell's font
size, 5 % more when bold, plus :data:`PADDING` so that two neighbours do not touch.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

DEFAULT_PT = 11.0          # the default font's size (Excel's and openpyxl's)
PADDING = 1.0              # a digit of room beside the text, so neighbours do not touch
MAX_WIDTH = 60.0           # the widest a column is made; longer text wraps


def _font(cell) -> tuple[float, bool]:
    f = cell.font
    size = float(f.sz) if f is not None and f.sz else DEFAULT_PT
    return size, bool(f is not None and f.b)


def text_width(text: str, size: float = DEFAULT_PT, bold: bool = False) -> float:
    """The width ``text`` needs, in Excel's column unit (digits of Calibri 11), with
    :data:`PADDING`."""
    return len(text) * size / DEFAULT_PT * (1.05 if bold else 1.0) + PADDING


def _decimals(fmt: str) -> int:
    m = re.search(r"\.(0+)", fmt)
    return len(m.group(1)) if m else 0


def shown(value, fmt: str | None) -> str | None:
    """About what a cell shows for ``value`` under number format ``fmt`` (enough to size a
    column: the count of characters); None for a formula, whose value is not known yet."""
    fmt = fmt or "General"
    if value is None:
        return None
    if isinstance(value, str):
        return None if value.startswith("=") else value
    if isinstance(value, bool):
        return "FALSE" if not value else "TRUE"
    if isinstance(value, (dt.datetime, dt.date)):
        return "0000-00-00" + (" 00:00" if "h" in fmt.lower() else "")
    if isinstance(value, (int, float)):
        first = fmt.split(";")[0]
        quoted = re.findall(r'"([^"]*)"', first)
        if "General" in first:
            return f"{value:.10g}" + "".join(quoted)
        if quoted and not re.search(r"[0#?]", re.sub(r'"[^"]*"', "", first)):
            # a format that shows words only (a flag shown as text)
            return max(re.findall(r'"([^"]*)"', fmt) or [""], key=len)
        if "%" in fmt:
            return f"{value * 100:,.{_decimals(fmt)}f}%"
        if fmt == "General":
            return f"{value:.10g}"
        return f"{value:{',' if ',' in fmt else ''}.{_decimals(fmt)}f}" + "".join(quoted)
    return str(value)


def _look(cell) -> tuple[float, bool, bool, str]:
    """(font size, bold, wraps, number format) of a cell: what its style says about room."""
    size, bold = _font(cell)
    wraps = bool(cell.alignment is not None and cell.alignment.wrap_text)
    return size, bold, wraps, cell.number_format


def _needed(cell, look: tuple[float, bool, bool, str] | None = None) -> float | None:
    size, bold, wraps, fmt = look or _look(cell)
    text = shown(cell.value, fmt)
    if not text:
        return None
    if wraps:
        text = max(text.split(), key=len, default="")
    return text_width(text, size, bold)


def fit_columns(ws, max_width: float = MAX_WIDTH) -> None:
    """Widen ``ws``'s columns to their values (see the module's docstring)."""
    merged = {(r, c) for m in ws.merged_cells.ranges
              for r in range(m.min_row, m.max_row + 1)
              for c in range(m.min_col, m.max_col + 1)}
    # the cells that exist (iter_rows would make one for every empty place of the sheet)
    cells = [c for c in ws._cells.values() if c.value not in (None, "")]
    filled = {(c.row, c.column) for c in cells}
    need: dict[int, float] = {}
    # what a style says about room, read once per distinct style: openpyxl makes a proxy
    # object for each cell's font, alignment and format (a QA workbook's sheets share a
    # few dozen styles over ~300 cells each, 2,000 sheets at a big centre)
    looks: dict[tuple, tuple[float, bool, bool, str]] = {}
    for c in cells:
        if (c.row, c.column) in merged or (c.row, c.column + 1) not in filled:
            continue
        key = tuple(c._style) if c._style is not None else ()   # None: the default style
        look = looks.get(key)
        if look is None:
            look = looks[key] = _look(c)
        n = _needed(c, look)
        if n is None:
            continue
        if n > max_width:
            al = copy.copy(c.alignment)
            al.wrap_text, al.vertical = True, al.vertical or "top"
            c.alignment = al
            n = max_width
        need[c.column] = max(need.get(c.column, 0.0), n)
    default = ws.sheet_format.defaultColWidth or 9.140625
    for col, n in need.items():
        dim = _dimension(ws, col)
        if (dim.width or default) < n:
            dim.width = round(n, 1)


def _dimension(ws, col: int):
    """Column ``col``'s own dimension: one that Excel saved for a span of columns (``<col
    min="2" max="5">``) is split first, so that widening one column leaves the others."""
    from openpyxl.utils import get_column_letter

    for key, dim in list(ws.column_dimensions.items()):
        lo, hi = dim.min or 0, dim.max or 0
        if lo <= col <= hi and lo < hi:
            del ws.column_dimensions[key]
            for c in range(lo, hi + 1):
                one = copy.copy(dim)
                one.index = get_column_letter(c)
                one.min = one.max = c
                ws.column_dimensions[one.index] = one
            break
    return ws.column_dimensions[get_column_letter(col)]
