"""Store each formula's value next to it, so that viewers that never recalculate (mail
and phone previews, ``openpyxl(data_only=True)``, pandas) show numbers.

openpyxl writes a formula cell as ``<c r="D7"><f>SUM(D2:D6)</f><v/></c>``. After it has
saved, the sheet XML is rewritten once, cell by cell, putting the evaluator's result into
``<v>`` (and ``t="str"``, ``t="b"`` or ``t="e"`` for text, booleans and errors). The
workbook also asks Excel to recalculate everything on open (``fullCalcOnLoad``), so a
cached value can never outlive a changed input.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from posixpath import join, normpath
from xml.sax.saxutils import escape

from .formula import Evaluator, XlError

# an empty value is <v/> (or <v /> from xml.etree), <v></v> when openpyxl writes with lxml
_CELL_F = re.compile(rb'<c r="([A-Z]+[0-9]+)"((?: [a-zA-Z]+="[^"]*")*)><f>(.*?)</f>'
                     rb'(?:<v\s*/>|<v></v>)</c>', re.S)


def _value_xml(value) -> tuple[str | None, str]:
    if value is None:
        return "str", ""
    if isinstance(value, XlError):
        return "e", value.code
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return "e", "#NUM!"
        return None, repr(float(value)) if not float(value).is_integer() else str(int(value))
    return "str", escape(str(value))


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


def save_with_values(workbook, path, stamp: str | None = None) -> dict[tuple[str, str], object]:
    """Save ``workbook`` to ``path`` with every formula's value cached; return the values
    by (sheet, cell) (the tests compare them with LibreOffice's). ``stamp`` (an ISO time
    such as ``2026-11-01T00:00:00Z``) replaces the save time in the document properties,
    so that the same inputs give the same bytes."""
    ev = Evaluator(workbook)
    values: dict[tuple[str, str], object] = {}
    for sheet, cell, value in ev.all_formulas():
        values[(sheet, cell.coordinate)] = value
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
                    data = _patch(data, sheet, values)
                elif info.filename == "docProps/core.xml" and stamp:
                    data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                  rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
                info2 = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
                info2.compress_type = zipfile.ZIP_DEFLATED
                info2.external_attr = info.external_attr
                dst.writestr(info2, data)
    return values


def _patch(xml: bytes, sheet: str, values) -> bytes:
    def sub(m: re.Match) -> bytes:
        ref = m.group(1).decode()
        if (sheet, ref) not in values:
            return m.group(0)
        t, text = _value_xml(values[(sheet, ref)])
        attrs = re.sub(rb' t="[^"]*"', b"", m.group(2))
        if t:
            attrs += f' t="{t}"'.encode()
        return (b'<c r="' + m.group(1) + b'"' + attrs + b"><f>" + m.group(3) + b"</f><v>"
                + text.encode("utf-8") + b"</v></c>")
    return _CELL_F.sub(sub, xml)
