"""Sheet and file names made from data: valid in Excel, unique, and unable to leave the
output folder."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r"[^\w.\- ]+", re.UNICODE)
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}


def sheet_title(name: str, taken: set[str] = frozenset()) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, not starting or
    ending with an apostrophe, not 'History', unique (case-insensitively)."""
    t = _SHEET_BAD.sub("-", " ".join(str(name).split())).strip("'").strip() or "Sheet"
    if t.lower() == "history":
        t = "History (data)"
    t = t[:31]
    lower = {x.lower() for x in taken}
    base, k = t, 2
    while t.lower() in lower:
        suffix = f" ({k})"
        t = base[:31 - len(suffix)] + suffix
        k += 1
    return t


def file_stem(name: str) -> str:
    """A file name part from data: letters, digits, '-', '_', '.', spaces become '-';
    never empty, never a dot-name or a Windows device name."""
    t = unicodedata.normalize("NFKC", str(name))
    t = _FILE_BAD.sub("-", t).replace(" ", "-").strip(".-_") or "unnamed"
    t = re.sub(r"-{2,}", "-", t)[:80]
    return f"{t}-file" if t.upper() in _RESERVED else t


def inside(folder: str | os.PathLike, filename: str) -> Path:
    """``folder/filename``, refusing anything that would land outside ``folder``."""
    base = Path(folder).resolve()
    target = (base / filename).resolve()
    if target.parent != base:
        raise ValueError(f"refusing to write {filename!r} outside {base}")
    return target
