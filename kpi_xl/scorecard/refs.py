"""Cell references, and how a row loop moves and stretches them.

When a template's loop rows are repeated N times, every reference to the sheet changes the
way it would if a person inserted those rows in Excel: cells below move down, a range that
covers the loop rows grows to cover every copy. Inside a copy, references to the loop's own
rows point at that copy (like filling a formula down); references elsewhere stay put.
This module does that for formulas (through openpyxl's tokenizer, so strings and function
names are never touched), for range lists (conditional formats, validations, merged cells)
and for chart series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.formula.tokenizer import Token, Tokenizer

_CELL = r"(\$?)([A-Z]{1,3})(\$?)(\d+)"
_REF = re.compile(rf"^(?:(?P<sheet>'(?:[^']|'')+'|[^'!:\s]+)!)?{_CELL}(?::{_CELL})?$")


def quote_sheet(title: str) -> str:
    """A sheet name as a formula writes it: always quoted, quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def unquote_sheet(text: str) -> str:
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return text


@dataclass(frozen=True)
class Block:
    """One expanded loop: template rows ``start`` (the ``{% for %}`` row) to ``end`` (the
    ``{% endfor %}`` row), whose body was written ``copies`` times from row ``start``."""
    start: int
    end: int
    copies: int

    def __post_init__(self):
        body = self.end - self.start - 1
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "delta", self.copies * body - (body + 2))

    def outside(self, row: int, *, last: bool = False) -> int:
        """Where an outside reference to ``row`` goes; ``last`` for the end of a range
        (a body row then means the last copy)."""
        if row < self.start:
            return row
        if row > self.end:
            return row + self.delta
        if row == self.start or row == self.end:     # the marker rows are gone
            return self.start if not last else self.start + max(self.copies * self.body - 1, 0)
        i = row - self.start - 1
        copy = self.copies - 1 if last else 0
        return self.start + copy * self.body + i

    def inside(self, row: int, copy: int) -> int:
        """Where a relative reference to ``row``, written in the body, goes in ``copy``."""
        if self.start < row < self.end:
            return self.start + copy * self.body + (row - self.start - 1)
        return self.outside(row)


class Mapper:
    """How one sheet's rows moved: the loops expanded on it, in order."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def row(self, row: int, *, last: bool = False, within: tuple[int, int] | None = None,
            relative: bool = False) -> int:
        """Where template ``row`` ends up (``last``: as the end of a range); ``within`` =
        (loop, copy) for a reference written in that loop's body, which follows the copy
        when relative and inside the body."""
        for k, b in enumerate(self.blocks):
            if within is not None and within[0] == k and relative and b.start < row < b.end:
                row = b.inside(row, within[1])
            else:
                row = b.outside(row, last=last)
        return row

    def shape(self) -> tuple:
        """What :meth:`row` depends on: two mappers of the same shape move rows alike."""
        return tuple((b.start, b.end, b.copies) for b in self.blocks)


def _parse(ref: str):
    m = _REF.match(ref)
    if not m:
        return None
    g = m.groups()
    sheet = unquote_sheet(g[0]) if g[0] else None
    first = (g[1], g[2], g[3], int(g[4]))
    second = (g[5], g[6], g[7], int(g[8])) if g[6] else None
    return sheet, first, second


def _cell(part) -> str:
    dc, col, dr, row = part
    return f"{dc}{col}{dr}{row}"


def map_ref(ref: str, own: str, fn) -> str:
    """Rewrite one reference; ``fn(sheet, row, relative, last)`` gives the new row for a
    row of ``sheet`` (None: the reference is not to a moving sheet)."""
    p = _parse(ref)
    if p is None:
        return ref
    sheet, first, second = p
    target = sheet or own
    r1 = fn(target, first[3], first[2] == "", False)
    if r1 is None:
        return ref
    prefix = ref.rsplit("!", 1)[0] + "!" if sheet else ""     # a quoted name may hold "!"
    a = (first[0], first[1], first[2], r1)
    if second is None:
        return prefix + _cell(a)
    r2 = fn(target, second[3], second[2] == "", True)
    return prefix + _cell(a) + ":" + _cell((second[0], second[1], second[2], r2))


_TOKENS: dict[str, list[tuple[bool, str]]] = {}


def _token_values(formula: str) -> list[tuple[bool, str]]:
    """(is a reference, text) for each token; tokenized once per distinct formula."""
    out = _TOKENS.get(formula)
    if out is None:
        out = [(t.type == Token.OPERAND and t.subtype == Token.RANGE, t.value)
               for t in Tokenizer(formula).items]
        if len(_TOKENS) > 50_000:
            _TOKENS.clear()
        _TOKENS[formula] = out
    return out


def map_formula(formula: str, own: str, fn, refs: dict[str, str] | None = None) -> str:
    """Every range operand of a formula rewritten with :func:`map_ref`; ``refs``: the
    references already rewritten with this ``own`` and ``fn``, by their text (added to)."""
    parts = []
    changed = False
    for is_ref, text in _token_values(formula):
        if is_ref:
            if refs is None:
                new = map_ref(text, own, fn)
            else:
                new = refs.get(text)
                if new is None:
                    new = refs[text] = map_ref(text, own, fn)
            changed |= new != text
            text = new
        parts.append(text)
    return "=" + "".join(parts) if changed else formula


class Moves:
    """Formulas with their references moved by their sheet's loops, remembered while one
    workbook is filled (make one per workbook: nothing is shared between workbooks).

    A QA workbook's agent sheets hold the same formulas (3,000-4,000 characters, hundreds
    of references each), and every agent with as many evaluations has loops of the same
    sizes: each formula is moved once per loop shape, copy and formula text, not once per
    sheet. What a moved formula depends on is in its key: the formula's text, the shape of
    the sheet's loops (:meth:`Mapper.shape`), which copy of which loop it is written in,
    and, when it names a sheet, the title of its own (a reference naming its own sheet
    moves, one naming another does not)."""

    #: characters held (formulas and their moved texts) before everything is forgotten
    LIMIT = 8_000_000

    def __init__(self) -> None:
        self._done: dict[tuple, str] = {}
        self._shapes: dict[tuple, int] = {}     # (loops' shape, copy): its number, kept
        self._chars = 0

    def mover(self, mapper: Mapper, own: str, within: tuple[int, int] | None = None):
        """A function from a formula written on sheet ``own`` (in copy ``within`` =
        (loop, copy) of a loop's body; None: outside the loops) to that formula with its
        references to ``own``'s rows moved as ``mapper``'s loops moved them."""
        shape = self._shapes.setdefault((mapper.shape(), within), len(self._shapes))
        refs: dict[str, str] = {}              # this sheet's, this copy's references

        def fn(sheet, row, relative, last):
            if sheet != own:
                return None
            return mapper.row(row, last=last, within=within, relative=relative)

        def move(formula: str) -> str:
            key = (formula, shape, own if "!" in formula else None)
            out = self._done.get(key)
            if out is None:
                out = map_formula(formula, own, fn, refs)
                self._chars += len(formula) + len(out)
                if self._chars > self.LIMIT:
                    self._done.clear()
                    self._chars = len(formula) + len(out)
                self._done[key] = out
            return out

        return move


def retitle(formula: str, old: str, new: str) -> str:
    """``formula`` with its references to sheet ``old`` (compared as Excel compares
    titles, ignoring case) made references to sheet ``new``; anything else kept. A
    formula the tokenizer cannot read (a template's, before it is filled) has the text
    ``old!`` or ``'old'!`` replaced where no other name ends in it."""
    from openpyxl.formula.tokenizer import TokenizerError

    from ..names import same_title

    try:
        tokens = _token_values(formula)
    except TokenizerError:
        pattern = rf"(?<![\w.'])(?:{re.escape(quote_sheet(old))}|{re.escape(old)})!"
        return re.sub(pattern, lambda _m: quote_sheet(new) + "!", formula, flags=re.I)
    parts, changed = [], False
    for is_ref, text in tokens:
        if is_ref and "!" in text:
            sheet, _bang, cells = text.rpartition("!")
            if same_title(unquote_sheet(sheet), old):
                text, changed = quote_sheet(new) + "!" + cells, True
        parts.append(text)
    return "=" + "".join(parts) if changed else formula


def map_ranges(sqref: str, fn_rows) -> str:
    """A space-separated range list (A1:B5 D7) with rows mapped by ``fn_rows(row, last)``."""
    out = []
    for part in str(sqref).split():
        p = _parse(part)
        if p is None:
            out.append(part)
            continue
        _sheet, first, second = p
        second = second or first
        r1, r2 = fn_rows(first[3], False), fn_rows(second[3], True)
        if r2 < r1:
            continue
        a = f"{first[1]}{r1}"
        b = f"{second[1]}{r2}"
        out.append(a if a == b else f"{a}:{b}")
    return " ".join(out)
