"""Store each formula's value next to it, so that viewers that never recalculate (mail
and phone previews, ``openpyxl(data_only=True)``, pandas) show numbers.

openpyxl writes a formula cell without its value, in a shape that depends on whether lxml
is installed: ``<c r="D7"><f>SUM(D2:D6)</f><v /></c>`` with the standard library's
ElementTree, ``<c r="D7"><f>SUM(D2:D6)</f><v></v></c>`` with lxml. After it has saved, each
sheet's XML is rewritten once, cell by cell: every ``<c>`` element holding an ``<f>`` is
read whatever its shape (the empty ``<v>`` written either way, or none; any namespace
prefix; attributes in any order and quoting) and written back with the evaluator's result
in ``<v>`` (and ``t="str"``, ``t="b"`` or ``t="e"`` for text, booleans and errors).

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
from xml.sax.saxutils import escape

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


def save_with_values(workbook, path, stamp: str | None = None) -> CachedValues:
    """Save ``workbook`` to ``path`` with every formula's value cached; return the values
    by (sheet, cell) (the tests compare them with LibreOffice's), and in ``.refused`` the
    cells left for the spreadsheet to compute. ``stamp`` (an ISO time such as
    ``2026-11-01T00:00:00Z``) replaces the save time in the document properties, so that
    the same inputs give the same bytes."""
    ev = Evaluator(workbook)
    values = CachedValues()
    for sheet, cell, value in ev.all_values():
        if isinstance(value, Unsupported):
            values.refused[(sheet, cell.coordinate)] = str(value)
        else:
            values[(sheet, cell.coordinate)] = value
    workbook.calculation.fullCalcOnLoad = True      # refused cells are computed on open
    buf = io.BytesIO()
    workbook.save(buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src:
        files = {v: k for k, v in _sheet_files(src).items()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                sheet = files.get(info.filename)
                if sheet is not None:
                    data = patch_sheet(data, sheet, values)
                elif info.filename == "docProps/core.xml" and stamp:
                    data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                  rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
                info2 = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
                info2.compress_type = zipfile.ZIP_DEFLATED
                info2.external_attr = info.external_attr
                dst.writestr(info2, data)
    return values


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
