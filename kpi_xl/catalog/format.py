"""One formatter for a KPI value, in a table or a sentence, from its Excel number format.

Supports the formats the catalog uses: ``0``, ``0.0``, ``0.00``, ``#,##0``, ``#,##0.0``,
``0.0%`` and a quoted suffix such as ``0.0" h"``. The workbook writes the same format
string to the cell, so a number reads the same in Excel, in email and in the terminal.
"""

from __future__ import annotations

import re

_FMT = re.compile(r'^(?P<sep>#,##)?0(?:\.(?P<dec>0+))?(?P<pct>%)?(?:"(?P<suffix>[^"]*)")?$')


def format_value(value: float | None, number_format: str) -> str:
    if value is None:
        return "–"
    m = _FMT.match(number_format)
    if not m:
        return f"{value:g}"
    dec = len(m["dec"] or "")
    x = value * 100 if m["pct"] else value
    text = f"{x:{',' if m['sep'] else ''}.{dec}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text + ("%" if m["pct"] else "") + (m["suffix"] or "")
