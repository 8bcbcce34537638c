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


#: units whose changes are differences of points: a share's percentage points, a score's
#: points (NPS 6 → 9 is +3 points, CSAT 78.0% → 82.5% is +4.5 points)
POINT_UNITS = ("percent", "score")


def format_change(delta: float, unit: str, number_format: str) -> str:
    """A change between two values, signed, in the value's own terms: a share's change in
    percentage points ('+4.5 points', not '+4.5%'), a score's in points, anything else in
    its number format ('-12 s', '+1,200')."""
    m = _FMT.match(number_format)
    if unit in POINT_UNITS:
        dec = len(m["dec"] or "") if m else 1
        x = delta * 100 if (m and m["pct"]) else delta
        text = f"{abs(x):.{dec}f}"
        word = " point" if text == f"{1:.{dec}f}" else " points"
    else:
        text, word = format_value(abs(delta), number_format), ""
    shown = any(ch in "123456789" for ch in text)      # not rounded away to 0
    sign = ("+" if delta > 0 else "-") if shown else ""
    return sign + text + word
