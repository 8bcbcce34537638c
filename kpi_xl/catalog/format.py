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


def format_change(delta: float | None, number_format: str) -> str:
    """A change between two values of one KPI, signed, in the KPI's format; a change of a
    percentage is in percentage points ("+4.5 pts", never "+4.5%", which would read as a
    relative change). The same decimals as the value: 64.7% → 69.2% is "+4.5 pts", 3.89
    → 3.95 "+0.06", 14.6 s → 19.4 s "+4.8 s"."""
    if delta is None or delta != delta:
        return "–"
    m = _FMT.match(number_format)
    if not m:
        return f"{delta:+g}"
    dec = len(m["dec"] or "")
    x = delta * 100 if m["pct"] else delta
    text = f"{x:+{',' if m['sep'] else ''}.{dec}f}"
    if float(text.replace(",", "")) == 0:
        text = f"{0:.{dec}f}"                      # no "+0.0" or "-0.0": no change shown
    unit = " pts" if m["pct"] else (m["suffix"] or "")
    return text + unit
