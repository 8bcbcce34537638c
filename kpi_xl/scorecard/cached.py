"""Store each formula's value next to it, so that viewers that never recalculate (mail
and phone previews, ``openpyxl(data_only=True)``, pandas) show numbers.

openpyxl writes a formula cell without its value, in a shape that depends on whether lxml
is installed: ``<c r="D7"><f>SUM(D2:D6)</f><v /></c>`` with the standard library's
ElementTree, ``<c r="D7"><f>SUM(D2:D6)</f><v></v></c>`` with lxml. So the cells of each
sheet are written here (:func:`sheet_data`, as openpyxl writes them, in one pass and
without lxml or ElementTree), each formula with the evaluator's result in ``<v>`` (and
``t="str"``, ``t="b"`` or ``t="e"`` for text, booleans and errors); openpyxl writes the
rest of the workbook. A sheet holding what :func:`sheet_data` does not write (array
formulas, rich text) is written by openpyxl and its XML patched once, cell by cell
(:func:`patch_sheet`: every ``<c>`` holding an ``<f>``, whatever its shape).

A formula the evaluator refuses (:class:`~.formula.Unsupported`: it cannot be sure to get
Excel's value) keeps no cached value at all, never a guessed one; the workbook asks Excel
and LibreOffice to recalculate everything on open (``fullCalcOnLoad``), so such a cell
shows its value there, and a cached value can never outlive a changed input.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from posixpath import join, normpath
from xml.sax.saxutils import escape, quoteattr

from openpyxl.cell._writer import _set_attributes
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.compat import safe_string
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from .formula import Evaluator, Unsupported, XlError

# one cell element, any prefix; `body` is None for an empty <c .../>
_CELL = re.compile(rb"<(?P<p>(?:[A-Za-z_][\w.-]*:)?)c(?P<attrs>(?:\s+[^\s=/>]+\s*=\s*"
                   rb"(?:\"[^\"]*\"|'[^']*'))*)\s*(?:/>|>(?P<body>.*?)</(?P=p)c\s*>)", re.S)
_ATTR = re.compile(rb"([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


def _child(name: bytes, prefix: bytes) -> re.Pattern:
    p = re.escape(prefix)
    return re.compile(rb"<" + p + name + rb"(?=[\s/>])[^>]*?(?:/>|>.*?</" + p + name
                      + rb"\s*>)", re.S)


class CachedValues(dict):
    """The cached values by (sheet, cell); ``refused`` holds, by (sheet, cell), why a
    formula has none (Excel and LibreOffice compute it on open)."""

    def __init__(self):
        super().__init__()
        self.refused: dict[tuple[str, str], str] = {}


def _value_xml(value) -> tuple[str | None, str]:
    if isinstance(value, XlError):
        return "e", value.code
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return "e", "#NUM!"
        return None, repr(float(value)) if not float(value).is_integer() else str(int(value))
    return "str", escape("" if value is None else str(value))


def _sheet_files(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> the part name of its XML, read from the workbook's own index."""
    from xml.sax.saxutils import unescape

    wb = z.read("xl/workbook.xml").decode("utf-8")
    rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = {}
    for rel in re.findall(r"<Relationship [^>]*>", rels):
        rid = re.search(r'Id="([^"]+)"', rel).group(1)
        targets[rid] = re.search(r'Target="([^"]+)"', rel).group(1)
    out = {}
    for tag in re.findall(r"<sheet [^>]*>", wb):
        name = unescape(re.search(r' name="([^"]*)"', tag).group(1),
                        {"&quot;": '"', "&apos;": "'"})
        t = targets[re.search(r' r:id="([^"]+)"', tag).group(1)]
        out[name] = t.lstrip("/") if t.startswith("/") else normpath(join("xl", t))
    return out


def load_as_stored(path):
    """The workbook at ``path`` (openpyxl), each sheet's page header and footer text as
    the file stores it. openpyxl decodes OOXML's ``_xHHHH_`` in headers and footers as it
    reads them (and escapes only control characters as it writes them), so a workbook of
    ours read and saved again would print a team named ``Ops_x0042_ team`` as "OpsB team"
    (kpi_xl.text: headers are written as the data's text, which LibreOffice prints as it
    is). The stored text is read again here and given to openpyxl escaped
    (:func:`kpi_xl.text.ooxml_text`), so that its decoding gives back the stored text."""
    from openpyxl import load_workbook
    from openpyxl.worksheet.header_footer import HeaderFooter
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import fromstring

    from ..text import ooxml_text

    wb = load_workbook(path)
    with zipfile.ZipFile(path) as z:
        parts = _sheet_files(z)
        for ws in wb.worksheets:
            xml = z.read(parts[ws.title])
            if b"headerFooter" not in xml:
                continue
            node = fromstring(xml).find(f"{{{SHEET_MAIN_NS}}}headerFooter")
            if node is None:
                continue
            for part in node:
                if part.text:
                    part.text = ooxml_text(part.text)
            ws.HeaderFooter = HeaderFooter.from_tree(node)
    return wb


def save_with_values(workbook, path, stamp: str | None = None, *,
                     release: bool = False) -> CachedValues:
    """Save ``workbook`` to ``path`` with every formula's value cached; return the values
    by (sheet, cell) (the tests compare them with LibreOffice's), and in ``.refused`` the
    cells left for the spreadsheet to compute. ``stamp`` (an ISO time such as
    ``2026-11-01T00:00:00Z``) replaces the save time in the document properties, so that
    the same inputs give the same bytes. ``release``: each sheet's cells are let go once
    the sheet is written (for a workbook that is thrown away after saving).

    openpyxl writes everything around the cells (styles, widths, merged cells, formats,
    validations, charts, the workbook's parts); each sheet's cells are written here, once,
    straight into the file with their cached values (:func:`sheet_data`): no second pass
    over the saved sheets, no copy of the file in memory."""
    import datetime as dt

    ev = Evaluator(workbook)
    values = CachedValues()
    for sheet, cell, value in ev.all_values():
        if isinstance(value, Unsupported):
            values.refused[(sheet, cell.coordinate)] = str(value)
        else:
            values[(sheet, cell.coordinate)] = value
    del ev                                          # its caches, before the writing
    workbook.calculation.fullCalcOnLoad = True      # refused cells are computed on open
    workbook.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    _Writer(workbook, _Archive(path, stamp), values, release).save()
    return values


class _Archive(zipfile.ZipFile):
    """The file being written: every part dated 2026-01-01 and the document's created and
    modified times replaced by ``stamp`` (when given), so the same inputs give the same
    bytes."""

    def __init__(self, path, stamp: str | None):
        super().__init__(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.stamp = stamp

    def writestr(self, name, data, *args, **kwargs):
        name = name.filename if isinstance(name, zipfile.ZipInfo) else name
        data = data.encode("utf-8") if isinstance(data, str) else data
        if name == "docProps/core.xml" and self.stamp:
            data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                          rb"\g<1>" + self.stamp.encode() + rb"\g<2>", data)
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        super().writestr(info, data)

    def write(self, filename, arcname=None, *args, **kwargs):
        with open(filename, "rb") as f:
            self.writestr(arcname or str(filename), f.read())


class Dxfs:
    """A workbook's differential styles (a conditional format's font, fill and border),
    numbered as openpyxl's writer numbers them (``wb._differential_styles.add``: the number
    of the first equal style, found by comparing the style with each one numbered so far),
    but once per style object: the agent sheets of a QA workbook share their template
    sheet's styles (:func:`.template._extras`), so each is numbered once per workbook, not
    once per rule of every sheet (about 10 % of writing an agent sheet)."""

    def __init__(self, wb):
        self.wb = wb
        self.seen: dict[int, tuple] = {}        # id(style) -> (the style, its number)

    def number(self, dxf) -> int | None:
        """``dxf``'s number; None for no style (or an empty one), which openpyxl leaves
        unnumbered."""
        hit = self.seen.get(id(dxf))
        if hit is not None and hit[0] is dxf:   # held: its id is no other object's
            return hit[1]
        n = (self.wb._differential_styles.add(dxf)
             if dxf and dxf != DifferentialStyle() else None)
        if len(self.seen) > 10_000:
            self.seen.clear()
        self.seen[id(dxf)] = (dxf, n)
        return n

    def number_formats(self, ws) -> None:
        """Every conditional-format rule of ``ws`` given its style's number (``dxfId``)."""
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                n = self.number(rule.dxf)
                if n is not None:
                    rule.dxfId = n


class _SheetWriter(WorksheetWriter):
    """openpyxl's sheet writer, the cells written by :func:`sheet_data`; ``dxfs``: the
    workbook's :class:`Dxfs` (one for every sheet of the workbook)."""

    def __init__(self, ws, values, dxfs: Dxfs | None = None):
        super().__init__(ws, out=io.BytesIO())    # in memory: no temporary file per sheet
        self.values, self.cells = values, None
        self.dxfs = Dxfs(ws.parent) if dxfs is None else dxfs

    def write_formatting(self):
        """openpyxl's, each rule's style numbered through :class:`Dxfs`."""
        self.dxfs.number_formats(self.ws)
        for cf in self.ws.conditional_formatting:
            self.xf.send(cf.to_tree())

    def cleanup(self):
        """Nothing to remove: the sheet was written in memory."""

    def write_rows(self):
        try:
            self.cells = sheet_data(self.ws, self.values)
        except _Unusual:                     # openpyxl writes them; the values patched in
            super().write_rows()
            return
        xf = self.xf.send(True)
        with xf.element("sheetData"):
            pass
        self.xf.send(None)

    def xml(self) -> bytes:
        data = self.read()
        if self.cells is None:
            return patch_sheet(data, self.ws.title, self.values)
        return _EMPTY_DATA.sub(lambda m: self.cells, data, count=1)


class _Writer(ExcelWriter):
    """openpyxl's workbook writer, each sheet written by :class:`_SheetWriter`."""

    def __init__(self, workbook, archive, values, release: bool = False, ready=None,
                 dxfs: Dxfs | None = None):
        super().__init__(workbook, archive)
        self.values, self.release = values, release
        self.dxfs = Dxfs(workbook) if dxfs is None else dxfs
        #: sheets whose XML was written ahead (kpi_xl.scorecard.streamed): ready.get(ws)
        #: gives (its XML, its relationships) or None
        self.ready = ready

    def write_worksheet(self, ws):                  # as openpyxl's, with our sheet writer
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        hit = self.ready.get(ws) if self.ready is not None else None
        if hit is not None:
            xml, ws._rels = hit
            self._archive.writestr(ws.path[1:], xml)
            self.manifest.append(ws)
            return
        writer = _SheetWriter(ws, self.values, self.dxfs)
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.xml())
        self.manifest.append(ws)
        writer.cleanup()
        if self.release:
            ws._cells = {}


_EMPTY_DATA = re.compile(rb"<sheetData\s*/>|<sheetData>\s*</sheetData>")


class _Unusual(Exception):
    """A cell :func:`sheet_data` leaves to openpyxl (array and data-table formulas, rich
    text)."""


def sheet_data(ws, values) -> bytes:
    """The sheet's ``<sheetData>``, as openpyxl writes it (the same rows, cells,
    attributes and inline strings; comments and hyperlinks collected for the sheet's tail
    the same way), with each formula's value from ``values`` (by (sheet, cell)) in its
    ``<v>``: a formula cell without one has no ``<v>``."""

    title = ws.title
    styles, ids = ws.parent._cell_styles, {}
    rows: dict[int, list] = {}
    for (r, _c), cell in sorted(ws._cells.items()):
        rows.setdefault(r, []).append(cell)
    for r in ws.row_dimensions.keys() - rows.keys():
        rows[r] = []
    dims = ws.row_dimensions
    links = len(ws._hyperlinks)
    comments = []
    out = ["<sheetData>"]
    try:
        for r, cells in sorted(rows.items()):
            attrs = {"r": f"{r}"}
            attrs.update(dims.get(r, {}))
            out.append("<row" + "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items())
                       + ">")
            for cell in cells:
                if cell._comment is not None:
                    comments.append(CommentRecord.from_cell(cell))
                if cell._value is None and not cell.has_style and not cell._comment:
                    continue
                value, a = _attributes(cell, cell.has_style, styles, ids)
                kind = cell.data_type
                if value is None or (type(value) is str and value == ""):
                    out.append("<c" + _attrs(a) + "/>")
                elif kind == "f":
                    if type(value) is not str:
                        raise _Unusual
                    key = (title, a["r"])
                    if key in values:
                        t, text = _value_xml(values[key])
                        if t:
                            a["t"] = t
                        v = "<v>" + text + "</v>"
                    else:
                        v = ""
                    out.append("<c" + _attrs(a) + "><f>" + _esc(value[1:]) + "</f>" + v
                               + "</c>")
                elif kind == "s":
                    if type(value) is not str:
                        raise _Unusual
                    space = ' xml:space="preserve"' if value != value.strip() else ""
                    out.append("<c" + _attrs(a) + "><is><t" + space + ">" + _esc(value)
                               + "</t></is></c>")
                else:
                    out.append("<c" + _attrs(a) + "><v>" + escape(safe_string(value))
                               + "</v></c>")
            out.append("</row>")
    except _Unusual:
        del ws._hyperlinks[links:]
        raise
    ws._comments.extend(comments)
    out.append("</sheetData>")
    return "".join(out).encode("utf-8")


def _attributes(cell, styled: bool, styles, ids: dict) -> tuple:
    """openpyxl's ``_set_attributes(cell, styled)`` (the cell's value, and its reference,
    style number and type), each style numbered once per sheet: ``ids`` holds the numbers
    ``styles`` (the workbook's cell styles) gave, by the style's own numbers (openpyxl
    hashes each cell's style twice to look its number up). Dates and hyperlinks go
    through openpyxl's."""
    kind = cell.data_type
    if kind == "d" or cell.hyperlink:
        return _set_attributes(cell, styled)
    attrs = {"r": f"{get_column_letter(cell.column)}{cell.row}"}
    if styled:
        key = tuple(cell._style)
        n = ids.get(key)
        if n is None:
            n = ids[key] = styles.add(cell._style)
        attrs["s"] = f"{n}"
    if kind == "s":
        attrs["t"] = "inlineStr"
    elif kind != "f":
        attrs["t"] = kind
    return cell._value, attrs


def _attrs(attrs: dict) -> str:
    """A cell's attributes: its reference, style number and type (nothing to escape)."""
    return "".join([f' {k}="{v}"' for k, v in attrs.items()])


def _esc(text: str) -> str:
    return escape(text) if ("&" in text or "<" in text or ">" in text) else text


def patch_sheet(xml: bytes, sheet: str, values) -> bytes:
    """A sheet's XML with the value of every formula cell found in ``values`` (by
    (sheet, cell)) in its ``<v>``; a formula cell not in ``values`` loses its empty
    ``<v>`` (it has no cached value)."""
    def sub(m: re.Match) -> bytes:
        body, prefix = m.group("body"), m.group("p")
        if body is None:
            return m.group(0)
        f = _child(b"f", prefix).search(body)
        if f is None:
            return m.group(0)
        attrs = _ATTR.findall(m.group("attrs"))
        ref = next((v[1:-1].decode() for k, v in attrs if k == b"r"), None)
        rest = _child(b"v", prefix).sub(b"", body[f.end():])
        keep = b"".join(b" " + k + b"=" + v for k, v in attrs if k != b"t")
        vtag = prefix + b"v"
        if ref is not None and (sheet, ref) in values:
            t, text = _value_xml(values[(sheet, ref)])
            if t:
                keep += f' t="{t}"'.encode()
            content = f.group(0) + b"<" + vtag + b">" + text.encode("utf-8") + b"</" + vtag + b">"
        else:
            old = _ATTR.findall(m.group("attrs"))
            keep = b"".join(b" " + k + b"=" + v for k, v in old)
            content = f.group(0)
        return (b"<" + prefix + b"c" + keep + b">" + body[:f.start()] + content + rest
                + b"</" + prefix + b"c>")
    return _CELL.sub(sub, xml)
