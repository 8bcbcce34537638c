"""A template with a sheet loop, filled, evaluated and written one loop sheet at a time.

A QA workbook holds one sheet per agent (``{% sheet for agent in agents ... %}``): filled
whole (:func:`~.template.fill`) and then evaluated and written
(:func:`~.cached.save_with_values`), a big centre's workbook was held in memory at once,
about 170 kB per agent sheet (340 MB at 2,000 agents). :func:`save_filled` writes the
same file, byte for byte, holding one agent sheet at a time:

1. the sheets before the loop's sheet (the Team sheet) are filled as ``fill`` fills them,
   and the references their formulas make to the loop's sheets are noted;
2. each loop sheet in turn is copied from the template sheet, filled, evaluated (it reads
   no other sheet), its XML written to a scratch file beside the output, and let go: only
   the cells other sheets read stay (the Team sheet's four per agent), as values;
3. the sheets before the loop are evaluated (reading those values) and the workbook is
   written as ``save_with_values`` writes it, each loop sheet's XML copied from the
   scratch file where openpyxl would have written it.

A template this does not fit (a loop sheet whose formulas name another sheet, sheets after
the loop's, more than one sheet loop, tables or pivot tables on the loop sheet) is filled
and saved whole, as before; so is one without a sheet loop.
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing

from .cached import CachedValues, Dxfs, _Archive, _SheetWriter, _Writer, save_with_values
from .formula import Evaluator, Unsupported, _parse_ref
from .refs import Mapper, Moves, _parse, _token_values, map_ref
from .template import (
    SHEET,
    _fill_sheet,
    _finish_sheets,
    _loop_sheets,
    _marker,
    fill_workbook,
    open_template,
    with_loop_sheets,
)


def save_filled(template: str | Path, context: Mapping[str, Any], path: str | Path,
                stamp: str | None = None, check: Callable[[Any], None] | None = None,
                written: Callable[[], None] | None = None) -> None:
    """``fill(template, context)`` saved to ``path`` with every formula's value cached
    (``save_with_values(..., stamp, release=True)``): the same bytes, one loop sheet held
    at a time. ``check(ws)`` is called on every sheet once filled (before it is written),
    in the workbook's order; it may raise to refuse the workbook. ``written()`` is called
    as each loop sheet (an agent's) is done (progress on a big centre's workbook).""" 
    template = Path(template)
    wb = open_template(template)
    loop = _streamable(wb)
    if loop is None:                            # filled whole, from the workbook opened
        filled = fill_workbook(wb, context, template.name).workbook
        if check is not None:
            for ws in filled.worksheets:
                check(ws)
        save_with_values(filled, path, stamp, release=True)
        return
    with _fewer_collections():
        _Stream(wb, loop, with_loop_sheets(context), template.name, check,
                written).save(Path(path), stamp)


@contextlib.contextmanager
def _fewer_collections():
    """The cyclic garbage collector run every 50,000 new objects instead of every 700
    while the sheets are made (restored after): filling and evaluating a sheet makes
    tens of thousands of short-lived objects, freed by reference counting, and each
    collection walked every object still held. At 500 agents it ran 2,600 times, about
    10 % of the CPU time; memory stays bounded (a collection still runs every 50,000)."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _streamable(wb):
    """(the loop's sheet, its marker cell, the marker's match) when the workbook can be
    written a loop sheet at a time; else None."""
    found = [(ws, *m) for ws in wb.worksheets if (m := _marker(ws, SHEET)) is not None]
    if len(found) != 1:
        return None
    ws = found[0][0]
    if wb.worksheets[-1] is not ws or ws._tables or ws._pivots:
        return None
    for c in ws._cells.values():                # the loop sheet reads no other sheet
        v = c.value
        if isinstance(v, str) and v.startswith("=") and "!" in v:
            return None
    return found[0]


class _Stream:
    def __init__(self, wb, loop, context: dict, file: str, check, written=None):
        self.wb, self.context, self.file, self.check = wb, context, file, check
        self.written = written
        self.ws, self.marker, self.match = loop

    def save(self, path: Path, stamp: str | None) -> None:
        import datetime as dt

        wb, ws = self.wb, self.ws
        # the loop's items evaluated (its sheets are made one at a time, below)
        sheets = _loop_sheets(wb, ws, self.marker, self.match, self.context, self.file)
        # the sheets before the loop's, filled as fill() fills them
        before = wb.worksheets[:wb.worksheets.index(ws)]
        mappers: dict[str, Mapper] = {}
        moves = Moves()                         # the formulas moved, for every sheet
        for s in before:
            mappers[s.title] = _fill_sheet(s, dict(self.context), self.file, moves)
            if self.check is not None:
                self.check(s)
        reads = _references(before)
        # their conditional formats' styles numbered first, as writing them first would
        self.dxfs = Dxfs(wb)
        for s in before:
            self.dxfs.number_formats(s)
        ev = Evaluator(wb)
        ready: dict[int, tuple[int, int, Any]] = {}
        with tempfile.TemporaryFile(dir=path.parent) as scratch:
            for new, title, ctx in sheets:      # each made once the one before is written
                mappers[title] = _fill_sheet(new, ctx, self.file, moves)
                _finish_sheets(wb, mappers, [new], self.file)
                if self.check is not None:
                    self.check(new)
                keep = _cells_read(reads.get(title, ()), title, mappers[title])
                ready[id(new)] = self._write_one(new, ev, keep, scratch)
                if self.written is not None:
                    self.written()
            wb.remove(ws)
            _finish_sheets(wb, mappers, before, self.file)
            values = CachedValues()
            for s in before:
                for cell, value in ev.sheet_values(s):
                    if isinstance(value, Unsupported):
                        values.refused[(s.title, cell.coordinate)] = str(value)
                    else:
                        values[(s.title, cell.coordinate)] = value
            del ev
            wb.calculation.fullCalcOnLoad = True
            wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
            _Writer(wb, _Archive(path, stamp), values, release=True,
                    ready=_Ready(ready, scratch), dxfs=self.dxfs).save()

    def _write_one(self, ws, ev: Evaluator, keep, scratch) -> tuple[int, int, Any]:
        """Evaluate ``ws``, write its XML to ``scratch`` and let its cells go; (offset,
        length, relationships) of the XML."""
        values = CachedValues()
        for cell, value in ev.sheet_values(ws):
            if not isinstance(value, Unsupported):
                values[(ws.title, cell.coordinate)] = value
        ev.let_go(ws, keep)
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _SheetWriter(ws, values, self.dxfs)
        writer.write()
        xml = writer.xml()
        writer.cleanup()
        offset = scratch.seek(0, 2)
        scratch.write(xml)
        # what only the sheet's XML needed
        ws._cells = {}
        ws.row_dimensions.clear()
        ws.conditional_formatting = type(ws.conditional_formatting)()
        ws.data_validations.dataValidation = []
        ws.merged_cells.ranges = set()
        return offset, len(xml), writer._rels


class _Ready:
    """The loop sheets' XML, written ahead: by the sheet's id, its bytes and relationships."""

    def __init__(self, where: dict, scratch):
        self.where, self.scratch = where, scratch

    def get(self, ws):
        hit = self.where.pop(id(ws), None)
        if hit is None:
            return None
        offset, length, rels = hit
        self.scratch.seek(offset)
        return self.scratch.read(length), rels


def _references(sheets) -> dict[str, list[str]]:
    """The references the formulas of ``sheets`` make to other sheets, by sheet title (as
    written before the loop sheets' rows moved)."""
    out: dict[str, list[str]] = {}
    for s in sheets:
        for c in s._cells.values():
            if c.data_type == "f" and isinstance(c.value, str) and "!" in c.value:
                for is_ref, text in _token_values(c.value):
                    if is_ref and "!" in text:
                        p = _parse(text)
                        if p is not None and p[0] is not None and p[0] != s.title:
                            out.setdefault(p[0], []).append(text)
    return out


def _cells_read(refs, title: str, mapper: Mapper) -> set[tuple[int, int]]:
    """The (row, column) cells of sheet ``title`` that ``refs`` read once its rows moved."""
    def fn(sheet, row, relative, last):
        return mapper.row(row, last=last) if mapper.blocks else None

    cells = set()
    for ref in refs:
        moved = map_ref(ref, "", fn)
        _sheet, _single, c1, r1, c2, r2 = _parse_ref(moved)
        for r in range(min(r1, r2), max(r1, r2) + 1):
            for c in range(min(c1, c2), max(c1, c2) + 1):
                cells.add((r, c))
    return cells
