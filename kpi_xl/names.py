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
    """``folder/filename``, refusing anything that would land outside ``folder``. The
    name itself is not resolved: a symbolic link there is the writer's to refuse
    (``kpi_xl.files.replacing``), never followed."""
    base = Path(folder).resolve()
    target = Path(os.path.normpath(base / filename))
    if target.parent != base or target.name in ("", ".", ".."):
        raise ValueError(f"refusing to write {filename!r} outside {base}")
    return target


def _fold(stem: str) -> str:
    """How a case-insensitive file system (Windows, macOS) compares names."""
    return unicodedata.normalize("NFKC", stem).casefold()


def distinct_stems(names) -> dict[str, str]:
    """``file_stem`` of each name, made distinct: names whose stems are alike (``a/b`` and
    ``a-b``, ``Sales: EU`` and ``Sales? EU``, ``Billing`` and ``billing``) each get a short
    suffix from a digest of the original name, so every one keeps its own file, and the
    same set of names always gives the same file names."""
    import hashlib

    names = sorted({str(n) for n in names})
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(_fold(file_stem(n)), []).append(n)
    out = {}
    for group in groups.values():
        for n in group:
            stem = file_stem(n)
            if len(group) > 1:
                stem = f"{stem[:72]}-{hashlib.sha256(n.encode('utf-8')).hexdigest()[:6]}"
            out[n] = stem
    return out
