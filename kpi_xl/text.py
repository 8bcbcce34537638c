"""Small text helpers several outputs share (CSV files, workbook cells).

* :func:`csv_safe`: data text written to a CSV file never starts a formula when the file
  is opened in a spreadsheet (OWASP "CSV injection"): text starting with ``= + - @``, a tab
  or a carriage return, or their full-width forms ``＝ ＋ － ＠`` (which Excel and
  LibreOffice also read as a formula start), gets a leading apostrophe.
* :func:`cell_text`: text over Excel's 32,767-character cell limit is cut, with a visible
  note saying so (Excel refuses a longer cell, and openpyxl would write a file Excel repairs).
* :func:`printable`: control characters (which XML 1.0, hence .xlsx, cannot hold) replaced by
  a visible ``?``.
* :func:`ooxml_text`: data text as an .xlsx must store it to be shown as it is. Cell text
  is OOXML's ``ST_Xstring``, where ``_xHHHH_`` (H a hex digit, lower-case ``x``) stands for
  the character HHHH: Excel and LibreOffice show a cell holding ``Bob_x0041_`` as "BobA"
  (sheet names too: :mod:`kpi_xl.names` keeps such an underscore out of them; LibreOffice
  25.2 does not decode page headers and footers, which are left as they are). The underscore that starts such a sequence is written
  ``_x005F_`` (itself an escaped underscore). openpyxl neither writes nor reads this
  escape, so it is applied once, where data text is finally put in a cell
  (``scorecard.template.put``, the intraday sheet), never by :func:`cell_text` (which a
  value may pass twice). Formula text is not ``ST_Xstring``: LibreOffice shows
  ``="Bob_x0041_"`` as ``Bob_x0041_``, so text inside a formula is left as it is.
* :func:`shown_text`: the reverse, what Excel shows for text stored in a cell (for code
  reading our own cells back: the formula evaluator, the mail's reading of workbooks).
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
EXCEL_CELL_LIMIT = 32_767
_CUT_NOTE = " [… cut: {n:,} characters, longer than Excel's 32,767 per cell]"
# the characters openpyxl refuses (IllegalCharacterError): C0 controls but tab, LF, CR; and
# those XML 1.0 does not allow in a document, which openpyxl writes as they are (U+FFFE and
# U+FFFF: valid UTF-8 in a CSV; a lone surrogate: text decoded with surrogateescape)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def csv_safe(text: str) -> str:
    """``text`` as a CSV field a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def printable(text: str) -> str:
    """``text`` with control characters an .xlsx cannot hold replaced by ``?``."""
    return _CONTROL.sub("?", text)


# an underscore that starts OOXML's escape _xHHHH_ (overlapping ones too: the lookahead
# leaves the next sequence's underscore to be found on its own)
XSTRING_START = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_XSTRING = re.compile("_x([0-9A-Fa-f]{4})_")


def ooxml_text(text: str) -> str:
    """``text`` as an .xlsx cell stores it so that Excel and LibreOffice show ``text``:
    each underscore that starts ``_xHHHH_`` written ``_x005F_``."""
    return XSTRING_START.sub("_x005F_", text) if "_x" in text else text


def shown_text(text: str) -> str:
    """What Excel and LibreOffice show for ``text`` stored in an .xlsx cell: each
    ``_xHHHH_`` decoded, left to right (a UTF-16 surrogate pair to its one character)."""
    if "_x" not in text:
        return text
    out = _XSTRING.sub(lambda m: chr(int(m.group(1), 16)), text)
    if any("\ud800" <= ch <= "\udfff" for ch in out):
        out = out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return out


def cell_text(text: str) -> str:
    """Data text as a workbook cell holds it: printable, and cut with a note past Excel's
    limit (the note counts the original length)."""
    text = printable(text)
    if len(text) <= EXCEL_CELL_LIMIT:
        return text
    note = _CUT_NOTE.format(n=len(text))
    return text[:EXCEL_CELL_LIMIT - len(note)] + note


def clock(seconds: float) -> str:
    """A duration as a WFM report or a cell shows it: h:mm:ss (whole seconds, rounded)."""
    whole = int(round(float(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
