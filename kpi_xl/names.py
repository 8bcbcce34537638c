"""Sheet and file names made from data: valid in Excel, unique, and unable to leave the
output folder."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from .text import XSTRING_START

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r"[^\w.\- ]+", re.UNICODE)
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}


#: Excel's longest sheet title, in UTF-16 units (how Excel counts: an emoji is two)
SHEET_TITLE_MAX = 31
#: control characters (C0, DEL, C1), and what XML 1.0 does not allow in a document (an
#: .xlsx is XML: U+FFFE, U+FFFF, a lone surrogate from text decoded badly)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 units (never inside a character), with no
    apostrophe or space left at its end."""
    while _units(text) > units:
        text = text[:-1]
    return text.rstrip("' ")


def _folds(title: str) -> tuple[str, str]:
    """The forms under which two titles are one to Excel (it compares them ignoring case;
    where its case rule is not documented, full case mapping or a final sigma, both forms
    are kept, so a title is given a suffix rather than refused by Excel)."""
    return title.lower(), title.upper().lower()


def sheet_title(name: str, taken=frozenset()) -> str:
    """A valid Excel sheet title for ``name``, not one of ``taken``: at most 31 UTF-16
    units, none of ``[]:*?/\\``, control characters nor characters XML does not allow
    (each becomes ``-``), no underscore starting ``_xHHHH_`` (it becomes ``-``: Excel and
    LibreOffice read a sheet named ``Bob_x0041_`` as "BobA", and a formula naming
    ``'Bob_x0041_'!A1`` gives #NAME?; see kpi_xl.text.ooxml_text),
    no apostrophe first or last, not 'History' (Excel keeps it), and unique compared as
    Excel compares titles (ignoring case): ``ann`` after ``ANN`` is ``ann (2)``."""
    return SheetTitles(taken).add(name)


def same_title(a: str, b: str) -> bool:
    """Whether Excel takes sheet titles ``a`` and ``b`` for one (see ``_folds``)."""
    return bool(set(_folds(a)) & set(_folds(b)))


class SheetTitles:
    """The titles of one workbook's sheets, as they are given: :meth:`add` makes the next
    one (:func:`sheet_title`'s rules) and keeps it, so a loop of 2,000 agent sheets
    compares each new title with a set, not with every title before it."""

    def __init__(self, taken=()):
        self._seen: set[str] = set()
        for t in taken:
            self._seen.update(_folds(t))

    def __contains__(self, title: str) -> bool:
        return any(f in self._seen for f in _folds(title))

    def add(self, name: str) -> str:
        """The title for ``name`` (valid, and none of the titles given before), kept."""
        t = _CONTROL.sub("-", _SHEET_BAD.sub("-", " ".join(str(name).split())))
        t = XSTRING_START.sub("-", t)
        t = _cut(t.strip("' "), SHEET_TITLE_MAX) or "Sheet"
        if t.lower() == "history":
            t = "History (data)"
        base, k = t, 2
        while t in self:
            suffix = f" ({k})"
            t = (_cut(base, SHEET_TITLE_MAX - len(suffix)) or "Sheet") + suffix
            k += 1
        self._seen.update(_folds(t))
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
