"""Fill an .xlsx template: jinja2 expressions in cells, repeated rows, one sheet per item.

The template language, for people who restyle the shipped templates in Excel:

``{{ expr }}`` alone in a cell
    the value, with its type: a number stays a number (the cell's number format shows
    it), text stays text, nothing leaves the cell empty.
``Month: {{ month }}``
    text with expressions in it.
``{% for kpi in perspective.kpis %}`` alone in a cell, ``{% endfor %}`` further down
    the rows between the two marker rows repeat once per item (the marker rows go).
    Formulas inside repeated rows work like Excel's fill-down for references to the
    repeated rows; references elsewhere stay put. Formulas, conditional formats, data
    validations, merged cells and charts elsewhere move and stretch as if the rows had been
    inserted in Excel: ``=SUM(J10:J10)`` over a one-row loop becomes ``=SUM(J10:J21)``.
    With no items, the rows appear once, empty.
``{% sheet for agent in agents named agent.name %}`` in any cell
    the sheet is repeated once per item, named by the expression (made a valid, unique
    sheet name), with every chart, conditional format and data validation of the template
    sheet; the template sheet goes.
``{{ kpi.actual | numfmt(kpi.number_format) }}``, ``={{ kpi.number_format | cellformat }}G5-H5``
    the value (or the formula) with that number format, for columns whose rows hold
    different units (a percentage on one row, seconds on the next).
``={{ x }}`` in a formula
    numbers are written as numbers, text as an Excel string literal ("..."), and
    ``{{ agent.sheet | sheetref }}`` as a quoted sheet name: data never becomes formula
    code.

Expressions run in jinja2's sandbox (no attribute access to internals, no imports). An
error names the template, sheet and cell. Text from data that starts with ``=``, ``+``,
``-`` or ``@`` is written as text, never as a formula.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from jinja2 import StrictUndefined, Undefined
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment
from openpyxl import load_workbook
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.worksheet.cell_range import MultiCellRange

from .names import sheet_title
from .refs import Block, Mapper, map_formula, map_ranges, quote_sheet

FOR = re.compile(r"^\{%-?\s*for\s+(\w+)\s+in\s+(.+?)\s*-?%\}$")
ENDFOR = re.compile(r"^\{%-?\s*endfor\s*-?%\}$")
SHEET = re.compile(r"^\{%-?\s*sheet\s+for\s+(\w+)\s+in\s+(.+?)\s+named\s+(.+?)\s*-?%\}$")
ONE = re.compile(r"^\{\{(.+?)\}\}$", re.S)


class TemplateError(ValueError):
    """A template cannot be filled; the message names the file, sheet and cell."""


class SheetRef(str):
    """A sheet name to be written into a formula, quoted."""


class _Empty:
    """The item of a loop with no items: every attribute is empty, it renders as ''."""

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self

    def __str__(self):
        return ""

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False


EMPTY = _Empty()


def _formula_literal(value: Any) -> str:
    """How a value from data is written inside a formula: never as formula code."""
    if isinstance(value, SheetRef):
        return quote_sheet(str(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return "NA()"
        return repr(float(value)) if isinstance(value, float) else str(value)
    if value is None or isinstance(value, _Empty):
        return '""'
    return '"' + str(value).replace('"', '""') + '"'


class _Nothing(str):
    """What ``cellformat`` leaves in a formula: nothing at all."""


_FORMATS: list[str] = []     # number formats asked for while rendering the current cell


def _numfmt(value: Any, fmt: Any) -> Any:
    if fmt:
        _FORMATS.append(str(fmt))
    return value


def _cellformat(fmt: Any) -> _Nothing:
    if fmt:
        _FORMATS.append(str(fmt))
    return _Nothing("")


def _env(formula: bool) -> SandboxedEnvironment:
    def finalize(v):
        return "" if isinstance(v, _Nothing) else _formula_literal(v)

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               finalize=finalize if formula else None)
    env.filters["sheetref"] = lambda v: SheetRef(str(v))
    env.filters["numfmt"] = _numfmt
    env.filters["cellformat"] = _cellformat
    return env


ENV, FORMULA_ENV = _env(False), _env(True)


@dataclass
class _Where:
    file: str
    sheet: str

    def error(self, cell: str, e: Exception) -> TemplateError:
        return TemplateError(f"template {self.file}, sheet '{self.sheet}', cell {cell}: {e}")


def put(cell, value: Any) -> None:
    """Write a value from data: text stays text even when it looks like a formula."""
    if isinstance(value, _Empty):
        value = None
    if isinstance(value, float) and value != value:
        value = None
    cell.value = value
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        cell.data_type = "s"


def render_value(raw: Any, ctx: Mapping[str, Any], where: _Where, coord: str
                 ) -> tuple[Any, bool, str | None]:
    """(value, is_formula, number format asked for) of a template cell in ``ctx``."""
    if not isinstance(raw, str) or ("{{" not in raw and "{%" not in raw):
        return raw, isinstance(raw, str) and raw.startswith("="), None
    _FORMATS.clear()
    try:
        if raw.startswith("="):
            out = FORMULA_ENV.from_string(raw).render(ctx), True
        else:
            m = ONE.match(raw.strip())
            if m and "{{" not in m.group(1):
                out = ENV.compile_expression(m.group(1).strip(), undefined_to_none=False)(ctx), False
            else:
                out = ENV.from_string(raw).render(ctx), False
        if isinstance(out[0], Undefined):
            str(out[0])                      # StrictUndefined: raises, naming the name
        return out[0], out[1], (_FORMATS[-1] if _FORMATS else None)
    except (JinjaError, TypeError, ValueError, AttributeError, KeyError, IndexError,
            ZeroDivisionError) as e:
        raise where.error(coord, f"{type(e).__name__}: {e}") from None


def _evaluate(expr: str, ctx: Mapping[str, Any], where: _Where, coord: str) -> Any:
    try:
        return ENV.compile_expression(expr)(ctx)
    except (JinjaError, TypeError, ValueError, AttributeError, KeyError) as e:
        raise where.error(coord, f"{type(e).__name__}: {e}") from None


# ------------------------------------------------------------------ the workbook
@dataclass
class Filled:
    workbook: Any
    mappers: dict[str, Mapper]


def fill(template: str | Path, context: Mapping[str, Any]) -> Filled:
    """The template filled with ``context``; formulas are left for the caller to cache."""
    path = Path(template)
    try:
        wb = load_workbook(path)
    except (OSError, KeyError, ValueError) as e:
        raise TemplateError(f"template {path.name} cannot be opened: {e}") from None
    contexts: dict[str, dict] = {}
    for ws in list(wb.worksheets):
        _sheet_loop(wb, ws, dict(context), contexts, path.name)
    mappers: dict[str, Mapper] = {}
    for ws in wb.worksheets:
        ctx = contexts.get(ws.title, dict(context))
        mappers[ws.title] = _expand_sheet(ws, ctx, _Where(path.name, ws.title))
    _cross_sheet(wb, mappers)
    wb.calculation.fullCalcOnLoad = True        # Excel recalculates on open
    return Filled(wb, mappers)


def _sheet_loop(wb, ws, context: dict, contexts: dict, file: str) -> None:
    where = _Where(file, ws.title)
    found = None
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and SHEET.match(c.value.strip()):
                found = (c, SHEET.match(c.value.strip()))
                break
        if found:
            break
    if not found:
        return
    cell, m = found
    var, items_expr, name_expr = m.groups()
    items = list(_evaluate(items_expr, context, where, cell.coordinate) or [])
    cell.value = None
    position = wb.worksheets.index(ws)
    taken = {s.title for s in wb.worksheets if s is not ws}
    for k, item in enumerate(items):
        ctx = {**context, var: item}
        title = sheet_title(str(_evaluate(name_expr, ctx, where, cell.coordinate)), taken)
        taken.add(title)
        new = wb.copy_worksheet(ws)
        new.title = title
        _copy_extras(ws, new)
        wb.move_sheet(new, position + k - wb.worksheets.index(new))
        contexts[title] = ctx
    wb.remove(ws)


def _copy_extras(src, dst) -> None:
    """What openpyxl's copy_worksheet leaves behind: conditional formats, validations,
    charts (pointed at the copy), freeze panes, view, print titles, header and footer."""
    for cf in src.conditional_formatting:
        for rule in cf.rules:
            dst.conditional_formatting.add(str(cf.sqref), copy.copy(rule))
    for dv in src.data_validations.dataValidation:
        dst.add_data_validation(copy.deepcopy(dv))
    old = quote_sheet(src.title)
    for chart in src._charts:
        c = copy.deepcopy(chart)
        _retarget_chart(c, lambda f: f.replace(old + "!", quote_sheet(dst.title) + "!")
                        .replace(src.title + "!", quote_sheet(dst.title) + "!")
                        if f else f)
        dst.add_chart(c)
    dst.freeze_panes = src.freeze_panes
    dst.sheet_view.showGridLines = src.sheet_view.showGridLines
    dst.sheet_view.zoomScale = src.sheet_view.zoomScale
    dst.print_title_rows = src.print_title_rows
    dst.print_title_cols = src.print_title_cols
    if src.print_area:
        dst.print_area = [str(a).split("!")[-1].replace("$", "") for a in
                          (src.print_area if isinstance(src.print_area, list) else
                           str(src.print_area).split(","))]
    dst.HeaderFooter = copy.deepcopy(src.HeaderFooter)
    dst.sheet_properties.pageSetUpPr = copy.copy(src.sheet_properties.pageSetUpPr)


def _chart_refs(chart):
    """Every (object, attribute) holding a reference formula in a chart's series."""
    for s in chart.series:
        for part in (s.val, s.cat, s.xVal, s.yVal, s.tx):
            if part is None:
                continue
            for attr in ("numRef", "strRef"):
                ref = getattr(part, attr, None)
                if ref is not None and ref.f:
                    yield ref


_SINGLE = re.compile(r"^(.*!)?(\$?[A-Z]{1,3}\$?\d+)$")


def _retarget_chart(chart, fn) -> None:
    """Rewrite a chart's references; a single cell is read as a one-cell range, so that a
    series or its categories on a loop row grow with the loop."""
    for ref in _chart_refs(chart):
        m = _SINGLE.match(ref.f)
        f = f"{m.group(1) or ''}{m.group(2)}:{m.group(2)}" if m else ref.f
        new = fn(f)
        ref.f = ref.f if new == f else new


# ------------------------------------------------------------------ one sheet
def _expand_sheet(ws, ctx: dict, where: _Where) -> Mapper:
    mapper = Mapper()
    blocks = _find_blocks(ws)
    in_block = {r for s, e in blocks for r in range(s, e + 1)}
    for row in ws.iter_rows():
        for c in row:
            if c.row in in_block or c.value is None:
                continue
            value, is_formula, fmt = render_value(c.value, ctx, where, c.coordinate)
            if is_formula:
                c.value = value
            else:
                put(c, value)
            if fmt:
                c.number_format = fmt
    while True:
        blocks = _find_blocks(ws)
        if not blocks:
            break
        start, end = blocks[0]
        mapper.blocks.append(_expand_block(ws, start, end, ctx, where))
    return mapper


def _find_blocks(ws) -> list[tuple[int, int]]:
    out, start = [], None
    for row in ws.iter_rows():
        for c in row:
            if not isinstance(c.value, str):
                continue
            v = c.value.strip()
            if FOR.match(v):
                if start is not None:
                    raise TemplateError(f"sheet '{ws.title}', cell {c.coordinate}: a loop "
                                        "inside a loop is not supported; close the first "
                                        "with {% endfor %}")
                start = c.row
            elif ENDFOR.match(v):
                if start is None:
                    raise TemplateError(f"sheet '{ws.title}', cell {c.coordinate}: "
                                        "{% endfor %} without a {% for %} above it")
                out.append((start, c.row))
                start = None
    if start is not None:
        raise TemplateError(f"sheet '{ws.title}', row {start}: {{% for %}} without "
                            "{% endfor %} below it")
    return out


def _loop_header(ws, start: int, ctx: dict, where: _Where):
    for c in ws[start]:
        if isinstance(c.value, str) and FOR.match(c.value.strip()):
            var, expr = FOR.match(c.value.strip()).groups()
            return var, list(_evaluate(expr, ctx, where, c.coordinate) or [])
    raise AssertionError("loop row without its marker")


def _expand_block(ws, start: int, end: int, ctx: dict, where: _Where) -> Block:
    var, items = _loop_header(ws, start, ctx, where)
    copies = max(len(items), 1)
    block = Block(start, end, copies)
    own = ws.title

    def outside(sheet, row, relative, last):
        return block.outside(row, last=last) if sheet == own else None

    merged = [str(m) for m in ws.merged_cells.ranges]
    for m in merged:
        ws.unmerge_cells(m)
    max_row = ws.max_row
    snapshot = {}
    for (r, col), c in list(ws._cells.items()):
        if r >= start:
            snapshot[(r, col)] = (c._value, c.data_type, copy.copy(c._style) if c.has_style else None,
                                  c.hyperlink, c.comment)
            del ws._cells[(r, col)]
    heights = {r: copy.copy(ws.row_dimensions[r]) for r in range(start, max_row + 1)
               if r in ws.row_dimensions}
    for r in list(ws.row_dimensions):
        if r >= start:
            del ws.row_dimensions[r]
    # formulas above the loop
    for (r, col), c in list(ws._cells.items()):
        if c.data_type == "f" and isinstance(c.value, str):
            c.value = map_formula(c.value, own, outside)
    # the body, once per item
    body = [r for r in range(start + 1, end)]
    for j in range(copies):
        item = items[j] if items else EMPTY
        local = {**ctx, var: item}

        def inside(sheet, row, relative, last, j=j):
            if sheet != own:
                return None
            if relative and start < row < end:
                return block.inside(row, j)
            return block.outside(row, last=last)

        for i, r in enumerate(body):
            new_r = start + j * len(body) + i
            if r in heights:
                ws.row_dimensions[new_r] = copy.copy(heights[r])
                ws.row_dimensions[new_r].index = new_r
            for (sr, col), (val, dtype, style, link, comment) in snapshot.items():
                if sr != r:
                    continue
                cell = ws.cell(row=new_r, column=col)
                if style is not None:
                    cell._style = copy.copy(style)
                coord = f"{cell.column_letter}{r}"
                value, is_formula, fmt = render_value(val, local, where, coord)
                if is_formula:
                    cell.value = map_formula(value, own, inside)
                elif dtype == "f":
                    cell.value = map_formula(val, own, inside)
                else:
                    put(cell, value)
                if fmt:
                    cell.number_format = fmt
    # the rows after the loop, moved
    for (sr, col), (val, dtype, style, link, comment) in snapshot.items():
        if sr <= end:
            continue
        cell = ws.cell(row=block.outside(sr), column=col)
        if style is not None:
            cell._style = copy.copy(style)
        if dtype == "f":
            cell.value = map_formula(val, own, outside)
        else:
            cell._value, cell.data_type = val, dtype
        if comment is not None:
            cell.comment = copy.copy(comment)
    for r, dim in heights.items():
        if r > end:
            ws.row_dimensions[block.outside(r)] = dim
            dim.index = block.outside(r)
    # merged cells: in the body, once per copy; elsewhere, moved
    for m in merged:
        rows = [int(x) for x in re.findall(r"\d+", m)]
        if start < rows[0] and rows[-1] < end:
            for j in range(copies):
                ws.merge_cells(map_ranges(m, lambda r, last, j=j: block.inside(r, j)))
        else:
            ranged = map_ranges(m, lambda r, last: block.outside(r, last=last))
            if ranged:
                ws.merge_cells(ranged)
    _move_formats(ws, block)
    _move_charts(ws, block, own)
    return block


def _move_formats(ws, block: Block) -> None:
    def fn(r, last):
        return block.outside(r, last=last)

    old = ws.conditional_formatting
    new = ConditionalFormattingList()
    for cf in old:
        sqref = map_ranges(str(cf.sqref), fn)
        for rule in cf.rules:
            if sqref:
                new.add(sqref, rule)
    ws.conditional_formatting = new
    for dv in ws.data_validations.dataValidation:
        sq = map_ranges(str(dv.sqref), fn)
        dv.sqref = MultiCellRange(sq) if sq else MultiCellRange()
    if ws.print_area:
        areas = ws.print_area if isinstance(ws.print_area, list) else str(ws.print_area).split(",")
        ws.print_area = [map_ranges(str(a).split("!")[-1].replace("$", ""), fn) for a in areas]


def _move_charts(ws, block: Block, own: str) -> None:
    def fn(sheet, row, relative, last):
        return block.outside(row, last=last) if sheet == own else None

    for chart in ws._charts:
        _retarget_chart(chart, lambda f: map_formula("=" + f, own, fn)[1:])
        anchor = chart.anchor
        for point in (getattr(anchor, "_from", None), getattr(anchor, "to", None)):
            if point is not None and point.row + 1 > block.start:
                point.row = block.outside(point.row + 1) - 1


def _cross_sheet(wb, mappers: dict[str, Mapper]) -> None:
    """References to other sheets, mapped through how those sheets' rows moved."""
    def for_sheet(own):
        def fn(sheet, row, relative, last):
            if sheet == own or sheet not in mappers or not mappers[sheet].blocks:
                return None
            return mappers[sheet].row(row, last=last)
        return fn

    for ws in wb.worksheets:
        fn = for_sheet(ws.title)
        for c in ws._cells.values():
            if c.data_type == "f" and isinstance(c.value, str) and "!" in c.value:
                c.value = map_formula(c.value, ws.title, fn)
        for chart in ws._charts:
            _retarget_chart(chart, lambda f, fn=fn, t=ws.title: map_formula("=" + f, t, fn)[1:])
