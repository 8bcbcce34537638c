"""A small Excel formula evaluator: the values that formula cells show before any
spreadsheet recalculates them.

openpyxl writes formulas without results, so a mail preview, a phone, pandas or
``openpyxl(data_only=True)`` would see empty cells. kpi_xl evaluates every formula of a
generated workbook itself and stores the result next to the formula (``cached.py``); Excel
and LibreOffice still recalculate on open. The tests recalculate every generated workbook
in LibreOffice and compare each formula cell with this evaluator.

It covers what the shipped templates use, with Excel's semantics: arithmetic and
comparison (blank is 0 or "", text compares case-insensitively, numbers sort before text),
``&``, ``%``, ranges and cross-sheet references, array arithmetic inside SUMPRODUCT, and
SUM, SUMPRODUCT, SUMIFS, COUNTIFS, AVERAGEIFS, AVERAGE, COUNT, COUNTA, MIN, MAX, IF,
IFERROR, AND, OR, NOT, ISNUMBER, ISBLANK, ROUND, ABS, REPT, RANK, TEXT-free. A formula using
anything else raises :class:`Unsupported` naming the function, so a user's template gets a
clear message instead of a wrong number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import column_index_from_string

from .refs import unquote_sheet


class Unsupported(ValueError):
    """The formula uses something this evaluator does not know."""


@dataclass(frozen=True)
class XlError:
    code: str

    def __str__(self) -> str:
        return self.code


DIV0, VALUE, NA, REF, NUM = (XlError(c) for c in ("#DIV/0!", "#VALUE!", "#N/A", "#REF!", "#NUM!"))
_EPOCH = dt.datetime(1899, 12, 30)


class Array:
    """A 2-D block of values (a range, or the result of array arithmetic)."""

    def __init__(self, rows: list[list[Any]]):
        self.rows = rows

    def flat(self):
        for r in self.rows:
            yield from r

    @property
    def shape(self):
        return len(self.rows), len(self.rows[0]) if self.rows else 0


_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


# ------------------------------------------------------------------ parsing
def _tokens(formula: str) -> list[Token]:
    return [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]


_BIN = {"^": 50, "*": 40, "/": 40, "+": 30, "-": 30, "&": 20,
        "=": 10, "<>": 10, "<": 10, ">": 10, "<=": 10, ">=": 10}


class _Parser:
    def __init__(self, formula: str):
        self.toks = _tokens(formula)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        node = self.expr(0)
        if self.peek() is not None:
            raise Unsupported(f"cannot read the formula near {self.peek().value!r}")
        return node

    def expr(self, min_prec: int):
        left = self.unary()
        while True:
            t = self.peek()
            if t is None:
                return left
            if t.type == Token.OP_POST and t.value == "%":
                self.take()
                left = ("%", left)
                continue
            if t.type != Token.OP_IN or _BIN.get(t.value, -1) < min_prec:
                return left
            op = self.take().value
            prec = _BIN[op]
            right = self.expr(prec + 1)          # Excel: every operator left-associative
            left = ("bin", op, left, right)

    def unary(self):
        t = self.peek()
        if t is not None and t.type == Token.OP_PRE:
            self.take()
            operand = self.unary()
            return ("neg", operand) if t.value == "-" else operand
        return self.primary()

    def primary(self):
        t = self.take()
        if t.type == Token.OPERAND:
            if t.subtype == Token.NUMBER:
                return ("lit", float(t.value))
            if t.subtype == Token.TEXT:
                return ("lit", t.value[1:-1].replace('""', '"'))
            if t.subtype == Token.LOGICAL:
                return ("lit", t.value.upper() == "TRUE")
            if t.subtype == Token.ERROR:
                return ("lit", XlError(t.value))
            return ("ref", t.value)
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = t.value[:-1].upper().removeprefix("_XLFN.")
            args = []
            if self.peek().type == Token.FUNC and self.peek().subtype == Token.CLOSE:
                self.take()
                return ("fn", name, args)
            while True:
                nxt = self.peek()
                if nxt.type == Token.SEP or (nxt.type == Token.FUNC and nxt.subtype == Token.CLOSE):
                    args.append(("lit", None))           # an empty argument
                else:
                    args.append(self.expr(0))
                t2 = self.take()
                if t2.type == Token.FUNC and t2.subtype == Token.CLOSE:
                    return ("fn", name, args)
                if t2.type != Token.SEP:
                    raise Unsupported(f"unexpected {t2.value!r} in {name}()")
        if t.type == Token.PAREN and t.subtype == Token.OPEN:
            node = self.expr(0)
            self.take()
            return node
        raise Unsupported(f"cannot read the formula near {t.value!r}")


# ------------------------------------------------------------------ values
def _num(v: Any) -> Any:
    """A scalar as a number, Excel's way (blank 0, TRUE 1, numeric text), or an error."""
    if isinstance(v, XlError):
        return v
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dt.datetime):
        return (v - _EPOCH).total_seconds() / 86400
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return VALUE
    return VALUE


def _text(v: Any) -> Any:
    if isinstance(v, XlError):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _rank(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    return (1, str(v).lower())


def _compare(op: str, a: Any, b: Any) -> Any:
    if isinstance(a, XlError):
        return a
    if isinstance(b, XlError):
        return b
    if a is None:
        a = "" if isinstance(b, str) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else 0.0
    x, y = _rank(a), _rank(b)
    return {"=": x == y, "<>": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "&":
        a, b = _text(a), _text(b)
        return a if isinstance(a, XlError) else b if isinstance(b, XlError) else a + b
    if op in ("=", "<>", "<", ">", "<=", ">="):
        return _compare(op, a, b)
    a, b = _num(a), _num(b)
    if isinstance(a, XlError):
        return a
    if isinstance(b, XlError):
        return b
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return DIV0 if b == 0 else a / b
    if op == "^":
        try:
            return float(a ** b)
        except (OverflowError, ZeroDivisionError):
            return NUM
    raise Unsupported(op)


def _elementwise(fn: Callable, *args):
    arrays = [a for a in args if isinstance(a, Array)]
    if not arrays:
        return fn(*args)
    h, w = arrays[0].shape
    for a in arrays:
        if a.shape != (h, w):
            return VALUE
    rows = []
    for i in range(h):
        rows.append([fn(*[(a.rows[i][j] if isinstance(a, Array) else a) for a in args])
                     for j in range(w)])
    return Array(rows)


def _scalar(v: Any) -> Any:
    if isinstance(v, Array):
        h, w = v.shape
        return v.rows[0][0] if (h, w) == (1, 1) else VALUE
    return v


def _round_half_away(x: float, digits: int) -> float:
    """Excel's ROUND: halves away from zero, on the number as written (repr)."""
    step = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(x))).quantize(step, rounding=ROUND_HALF_UP))


def _criterion(c: Any) -> Callable[[Any], bool]:
    """SUMIFS/COUNTIFS criteria: a value (equality, case-insensitive), or text starting
    with an operator (">=9", "<>Closed")."""
    if isinstance(c, str):
        m = re.match(r"^(<=|>=|<>|<|>|=)?(.*)$", c, re.S)
        op, rest = m.group(1) or "=", m.group(2)
        try:
            target: Any = float(rest)
        except ValueError:
            target = rest
        if op == "=" and rest == "":
            return lambda v: v is None or v == ""
        if op == "<>" and rest == "":
            return lambda v: not (v is None or v == "")
        if isinstance(target, float):
            def f(v):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return op == "<>"
                return _compare(op, float(v), target)
            return f
        t = target.lower()

        def g(v):
            if op in ("=", "<>"):
                same = isinstance(v, str) and v.lower() == t
                return same if op == "=" else not same
            return isinstance(v, str) and _compare(op, v, target)
        return g
    if c is None:
        return lambda v: v is None or v == ""
    target = _num(c)
    return lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and float(v) == target


def _values(args) -> list:
    out = []
    for a in args:
        if isinstance(a, Array):
            out.extend(v for v in a.flat() if isinstance(v, (int, float)) and not isinstance(v, bool)
                       or isinstance(v, XlError))
        else:
            out.append(_num(a))
    return out


def _first_error(values):
    for v in values:
        if isinstance(v, XlError):
            return v
    return None


def _ifs(args, kind: str):
    if kind == "COUNTIFS":
        target, pairs = None, args
    else:
        target, pairs = args[0], args[1:]
    if len(pairs) % 2:
        return VALUE
    ranges = [pairs[k] for k in range(0, len(pairs), 2)]
    tests = [_criterion(_scalar(pairs[k + 1])) for k in range(0, len(pairs), 2)]
    flat = [list(r.flat()) if isinstance(r, Array) else [r] for r in ranges]
    n = len(flat[0])
    if any(len(f) != n for f in flat):
        return VALUE
    tvals = list(target.flat()) if isinstance(target, Array) else [target] * n
    mask = [True] * n
    for test, values in zip(tests, flat, strict=True):
        mask = [m and test(v) for m, v in zip(mask, values, strict=True)]
    picked = [v for v, m in zip(tvals, mask, strict=True) if m]
    if kind == "COUNTIFS":
        return float(len(picked))
    nums = [float(v) for v in picked if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if kind == "SUMIFS":
        return float(sum(nums))
    return sum(nums) / len(nums) if nums else DIV0


KNOWN = {"IF", "IFERROR", "ISNUMBER", "ISBLANK", "SUM", "AVERAGE", "MIN", "MAX", "COUNT",
         "COUNTA", "SUMPRODUCT", "SUMIFS", "COUNTIFS", "AVERAGEIFS", "AND", "OR", "NOT", "ABS",
         "ROUND", "REPT", "RANK", "RANK.EQ", "NA"}


def _fn(name: str, args: list, ev) -> Any:
    if name not in KNOWN:
        raise Unsupported(f"the function {name}")
    if name == "IF":
        cond = _scalar(ev(args[0]))
        if isinstance(cond, XlError):
            return cond
        c = _num(cond)
        if isinstance(c, XlError):
            return c
        if c != 0:
            return _scalar(ev(args[1])) if len(args) > 1 else True
        return _scalar(ev(args[2])) if len(args) > 2 else False
    if name == "IFERROR":
        v = _scalar(ev(args[0]))
        return _scalar(ev(args[1])) if isinstance(v, XlError) else v
    vals = [ev(a) for a in args]
    if name == "ISNUMBER":
        return _elementwise(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                            vals[0])
    if name == "ISBLANK":
        return _elementwise(lambda v: v is None, vals[0])
    if name in ("SUM", "AVERAGE", "MIN", "MAX", "COUNT"):
        nums = _values(vals)
        err = _first_error(nums)
        if name == "COUNT":
            return float(sum(1 for v in nums if not isinstance(v, XlError)))
        if err is not None:
            return err
        if name == "SUM":
            return float(sum(nums))
        if name == "AVERAGE":
            return sum(nums) / len(nums) if nums else DIV0
        return (min if name == "MIN" else max)(nums) if nums else 0.0
    if name == "COUNTA":
        return float(sum(1 for a in vals for v in (a.flat() if isinstance(a, Array) else [a])
                         if v is not None and v != ""))
    if name == "SUMPRODUCT":
        arrays = [a if isinstance(a, Array) else Array([[a]]) for a in vals]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays):
            return VALUE
        total = 0.0
        for cells in zip(*(list(a.flat()) for a in arrays)):
            for v in cells:
                if isinstance(v, XlError):
                    return v
            prod = 1.0
            for v in cells:
                prod *= float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
            total += prod
        return total
    if name in ("SUMIFS", "COUNTIFS", "AVERAGEIFS"):
        return _ifs(vals, name)
    if name in ("RANK", "RANK.EQ"):
        x = _num(_scalar(vals[0]))
        if isinstance(x, XlError):
            return x
        nums = [v for v in _values([vals[1]]) if not isinstance(v, XlError)]
        order = _num(_scalar(vals[2])) if len(vals) > 2 and vals[2] is not None else 0
        if x not in nums:
            return NA
        return float(1 + sum(1 for v in nums if (v < x if order else v > x)))
    scal = [_scalar(v) for v in vals]
    err = _first_error(scal)
    if name == "AND" or name == "OR":
        flat = [v for a in vals for v in (a.flat() if isinstance(a, Array) else [a])]
        err = _first_error(flat)
        if err:
            return err
        bools = [bool(_num(v)) for v in flat if v is not None and not isinstance(v, str)]
        return all(bools) if name == "AND" else any(bools)
    if err is not None:
        return err
    if name == "NOT":
        return not bool(_num(scal[0]))
    if name == "ABS":
        x = _num(scal[0])
        return x if isinstance(x, XlError) else abs(x)
    if name == "ROUND":
        x, d = _num(scal[0]), _num(scal[1])
        return x if isinstance(x, XlError) else d if isinstance(d, XlError) else \
            _round_half_away(x, int(d))
    if name == "REPT":
        n = _num(scal[1])
        return n if isinstance(n, XlError) else VALUE if n < 0 else _text(scal[0]) * int(n)
    if name == "NA":
        return NA
    raise Unsupported(f"the function {name}")


# ------------------------------------------------------------------ workbook
def _parse_ref(ref: str) -> tuple:
    """(sheet or None, single cell?, col1, row1, col2, row2) of a reference."""
    sheet = None
    if "!" in ref:
        s, _, ref = ref.rpartition("!")
        sheet = unquote_sheet(s)
    parts = ref.split(":")
    cells = [_CELL.match(p) for p in parts]
    if not all(cells):
        raise Unsupported(f"the reference {ref} (named ranges and whole columns are not read)")
    (c1, r1), (c2, r2) = [(column_index_from_string(m.group(1)), int(m.group(2)))
                          for m in (cells[0], cells[-1])]
    return sheet, len(parts) == 1, c1, r1, c2, r2


class Evaluator:
    """Values of every formula cell of an openpyxl workbook, each computed once."""

    def __init__(self, workbook):
        self.wb = workbook
        self.memo: dict[tuple[str, int, int], Any] = {}
        self.busy: set[tuple[str, int, int]] = set()
        self.parsed: dict[str, Any] = {}
        self.sheets = {ws.title: ws for ws in workbook.worksheets}
        self.ranges: dict[tuple[str, str], Array] = {}
        self.coords: dict[str, tuple] = {}

    def cell(self, sheet: str, row: int, col: int) -> Any:
        key = (sheet, row, col)
        if key in self.memo:
            return self.memo[key]
        ws = self.sheets.get(sheet)
        if ws is None:
            return REF
        c = ws._cells.get((row, col))
        if c is None:
            return None
        v = c.value
        if c.data_type == "f" and isinstance(v, str):
            if key in self.busy:
                raise Unsupported(f"a circular reference at {sheet}!{c.coordinate}")
            self.busy.add(key)
            try:
                out = _scalar(self.formula(v, sheet))
            finally:
                self.busy.discard(key)
            self.memo[key] = out
            return out
        if isinstance(v, (dt.datetime, dt.date)):
            v = v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
            return (v - _EPOCH).total_seconds() / 86400
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        return v

    def formula(self, text: str, sheet: str) -> Any:
        tree = self.parsed.get(text)
        if tree is None:
            tree = _Parser(text).parse()
            self.parsed[text] = tree
        return self._eval(tree, sheet)

    def _ref(self, ref: str, sheet: str) -> Any:
        key = (sheet, ref)
        hit = self.ranges.get(key)
        if hit is not None:
            return hit
        out = self._read_ref(ref, sheet)
        if isinstance(out, Array):
            self.ranges[key] = out
        return out

    def _read_ref(self, ref: str, sheet: str) -> Any:
        parsed = self.coords.get(ref)
        if parsed is None:
            parsed = self.coords[ref] = _parse_ref(ref)
        other, single, c1, r1, c2, r2 = parsed
        sheet = other or sheet
        if single:
            return self.cell(sheet, r1, c1)
        return Array([[self.cell(sheet, r, c) for c in range(min(c1, c2), max(c1, c2) + 1)]
                      for r in range(min(r1, r2), max(r1, r2) + 1)])

    def _eval(self, node, sheet: str) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ref":
            return self._ref(node[1], sheet)
        if kind == "neg":
            return _elementwise(lambda v: (lambda x: x if isinstance(x, XlError) else -x)(_num(v)),
                                self._eval(node[1], sheet))
        if kind == "%":
            return _elementwise(lambda v: (lambda x: x if isinstance(x, XlError) else x / 100)(_num(v)),
                                self._eval(node[1], sheet))
        if kind == "bin":
            a, b = self._eval(node[2], sheet), self._eval(node[3], sheet)
            return _elementwise(lambda x, y: _arith(node[1], x, y), a, b)
        if kind == "fn":
            return _fn(node[1], node[2], lambda n: self._eval(n, sheet))
        raise Unsupported(str(node))

    def all_formulas(self):
        """(sheet, cell, value) for every formula cell, in sheet order."""
        for ws in self.wb.worksheets:
            for (r, c), cell in sorted(ws._cells.items()):
                if cell.data_type == "f" and isinstance(cell.value, str):
                    yield ws.title, cell, self.cell(ws.title, r, c)
