"""Dynamic-array (spilling) formulas in an xlsx that openpyxl wrote.

openpyxl writes an array formula only in its legacy form (``<f t="array" ref=...>``, the
Ctrl+Shift+Enter kind), which Excel 365 opens as a fixed-size array, or, for a single-cell
ref, as one value. Excel marks a *dynamic* array formula with cell metadata: the cell
carries ``cm="1"``, pointing at an ``XLDAPR`` record (``dynamicArrayProperties
fDynamic="1"``) in ``xl/metadata.xml``, a part the workbook references. This module adds
exactly that, as XlsxWriter's ``write_dynamic_array_formula`` writes it, to cells that
openpyxl saved as :class:`openpyxl.worksheet.formula.ArrayFormula` anchored at the cell.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Iterable, Mapping

from .cached import _sheet_files

METADATA_PART = "xl/metadata.xml"
METADATA_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<metadata xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" '
    'copy="1" pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" '
    'clearFormats="1" clearComments="1" assign="1" coerce="1" cellMeta="1"/>'
    '</metadataTypes><futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    '<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}"><xda:dynamicArrayProperties '
    'fDynamic="1" fCollapsed="0"/></ext></extLst></bk></futureMetadata>'
    '<cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata></metadata>')
_REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata"
_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"


def _mark_cell(xml: bytes, ref: str, sheet: str) -> bytes:
    cell = re.compile(rb'<c(?=\s)(?P<attrs>[^>]*?\sr="' + ref.encode() + rb'"[^>]*?)'
                      rb'(?P<end>/?>)(?P<body>.*?</c>)?', re.S)
    m = cell.search(xml)
    if m is None or m.group("body") is None or b'<f t="array"' not in m.group("body"):
        raise ValueError(f"{sheet}!{ref} holds no array formula to mark as a dynamic array")
    if b" cm=" in m.group("attrs"):
        raise ValueError(f"{sheet}!{ref} already carries cell metadata")
    return (xml[:m.start()] + b"<c" + m.group("attrs") + b' cm="1"' + m.group("end")
            + m.group("body") + xml[m.end():])


def mark_dynamic_arrays(data: bytes, cells: Mapping[str, Iterable[str]]) -> bytes:
    """The xlsx ``data`` with each cell of ``cells`` (sheet title -> cell refs such as
    ``"A4"``) marked as a dynamic array formula; every other part is copied unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        if METADATA_PART in src.namelist():
            raise ValueError("the workbook already has cell metadata (xl/metadata.xml)")
        parts = _sheet_files(src)
        wanted = {parts[sheet]: (sheet, list(refs)) for sheet, refs in cells.items()}
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename in wanted:
                    sheet, refs = wanted[info.filename]
                    for ref in refs:
                        body = _mark_cell(body, ref, sheet)
                elif info.filename == "xl/_rels/workbook.xml.rels":
                    ids = {int(i) for i in re.findall(rb'Id="rId(\d+)"', body)}
                    rel = (f'<Relationship Id="rId{max(ids, default=0) + 1}" Type="{_REL_TYPE}" '
                           'Target="metadata.xml"/>').encode()
                    body = body.replace(b"</Relationships>", rel + b"</Relationships>")
                elif info.filename == "[Content_Types].xml":
                    ov = (f'<Override PartName="/{METADATA_PART}" '
                          f'ContentType="{_CONTENT_TYPE}"/>').encode()
                    body = body.replace(b"</Types>", ov + b"</Types>")
                info2 = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                info2.compress_type = zipfile.ZIP_DEFLATED
                info2.external_attr = info.external_attr
                dst.writestr(info2, body)
            info = zipfile.ZipInfo(METADATA_PART, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, METADATA_XML)
    return out.getvalue()
