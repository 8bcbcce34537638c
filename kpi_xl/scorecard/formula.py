"""A small Excel formula evaluator: the values that formula cells show before any
spreadsheet recalculates them.

openpyxl writes formulas without results, so a mail preview, a phone, pandas or
``openpyxl(data_only=True)`` would see empty cells. kpi_xl evaluates every formula of a
generated workbook itself and stores the result next to the formula (``cached.py``); Excel
and LibreOffice still recalculate on open. The tests recalculate every generated workbook
in LibreOffice and compare each formula cell with this evaluator.

It covers what the shipped templates use, with Excel's semantics: arithmetic and
comparison (blank is 0 or "", text compares case-insensitively, numbers sort before text),
``&`` (numbers joined to text as Excel writes them: 15 significant digits), ``%``, ranges
and cross-sheet references, array arithmetic inside SUMPRODUCT, and SUM, SUMPRODUCT, SUMIFS,
COUNTIFS, AVERAGEIFS, AVERAGE, COUNT, COUNTA, MIN, MAX, IF, IFERROR, AND, OR, NOT, ISNUMBER,
ISBLANK, ISTEXT, ISERROR, LOWER, TRIM, FIND, FORMULATEXT (of cells holding no formula), ROW
(of a cell, or of a column's cells inside SUMPRODUCT), ROUND,
ABS, REPT, RANK, INDEX (of a range, by position), TEXT-free.

What it cannot compute exactly as Excel does, it refuses: it raises :class:`Unsupported`,
whose message names the formula (and the cell, when evaluating a workbook) and what is not
supported, rather than return a value that might be wrong. Refused are: other functions;
wildcards (``* ? ~``) in SUMIFS/COUNTIFS/AVERAGEIFS criteria; criteria that are, or meet,
numbers, dates, times or booleans written as text (``"10%"``, ``"2026-10-01"``, a cell
holding the text ``"5"`` under a numeric criterion), an error, a boolean or a blank cell as
a criterion; text Excel might read as a number in arithmetic; a range or array where one
value is expected (IF over an array, array arithmetic outside SUMPRODUCT: Excel would
intersect or spill); arrays or ranges of different shapes; malformed formulas and wrong
argument counts; numbers that differ only in their last digits (by at most 1e-13 of their
size: Excel and LibreOffice compare them as equal and snap their difference to 0); numbers
joined to text outside 1e-4 ≤ |x| < 1e15 (where Excel switches to scientific notation).
The workbook writer (``cached.py``) stores no value for a refused cell, which Excel and
LibreOffice then compute on open (``fullCalcOnLoad``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import math
import operator
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError
from openpyxl.utils import column_index_from_string
from openpyxl.utils import get_column_letter as _letter

from ..text import shown_text
from .refs import quote_sheet, unquote_sheet


class Unsupported(ValueError):
    """The formula uses something this evaluator cannot compute exactly as Excel does.

    ``reason`` says what; ``formula`` and ``where`` (``Sheet!A1``), once known, are in the
    message too."""

    def __init__(self, reason: str, formula: str | None = None, where: str | None = None):
        self.reason, self.formula, self.where = reason, formula, where
        text = reason
        if formula is not None:
            text = f"{formula}: {text}"
        if where is not None:
            text = f"{where}: {text}"
        super().__init__(text)


@dataclass(frozen=True)
class XlError:
    code: str

    def __str__(self) -> str:
        return self.code


DIV0, VALUE, NA, REF, NUM = (XlError(c) for c in ("#DIV/0!", "#VALUE!", "#N/A", "#REF!", "#NUM!"))
_EPOCH = dt.datetime(1899, 12, 30)


class Array:
    """A 2-D block of values (a range, or the result of array arithmetic): ``values``
    row by row in one list, and its ``shape`` (rows, columns). One list, not a list per
    row: most arrays are one column of a table, and array arithmetic walks them cell by
    cell (the QA workbook's guards: ~2.4 M one-cell rows at 200 agents)."""

    def __init__(self, values: list, shape: tuple[int, int], numbers: list | None = None):
        self.values = values
        self.shape = shape
        self._numbers = numbers if numbers is not None else _MISSING
        self._nonneg: bool | None = None

    @classmethod
    def one(cls, value: Any) -> "Array":
        return cls([value], (1, 1))

    def flat(self) -> list:
        return self.values

    def numbers(self) -> list | None:
        """The cells as numbers where each is a number or a boolean (TRUE 1.0, FALSE 0.0:
        what ``*`` and ``+`` make of them), else None. Found once per array."""
        if self._numbers is _MISSING:
            v = self.values
            self._numbers = (list(map(float, v)) if all(type(x) in _NUMBER_OR_BOOL for x in v)
                             else None)
        return self._numbers

    def nonneg(self) -> bool:
        """Every cell a number ≥ 0 (or a boolean): a sum of two such never cancels."""
        if self._nonneg is None:
            nums = self.numbers()
            self._nonneg = nums is not None and (not nums or min(nums) >= 0)
        return self._nonneg


_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_MISSING = object()
_NUMBER_OR_BOOL = (float, bool)


# ------------------------------------------------------------------ parsing
def _tokens(formula: str) -> list[Token]:
    try:
        items = Tokenizer(formula).items
    except (TokenizerError, IndexError) as e:     # IndexError: openpyxl on an unmatched ')'
        raise Unsupported(f"the formula is malformed ({e or 'unbalanced parentheses'})") from None
    return [t for t in items if t.type != Token.WSPACE]


_BIN = {"^": 50, "*": 40, "/": 40, "+": 30, "-": 30, "&": 20,
        "=": 10, "<>": 10, "<": 10, ">": 10, "<=": 10, ">=": 10}


class _Parser:
    """Parses a formula into a tree of tuples: ``("lit", v)``, ``("ref", "A1:B2")``,
    ``("neg", x)``, ``("%", x)``, ``("bin", op, a, b)``, ``("fn", NAME, (args...))``.

    ``shared``, when given, makes equal subtrees one object, across all the formulas parsed
    with it: the evaluator then computes a subtree once per sheet however many formulas
    hold it (a catalog KPI's formula repeats its row filters in every SUMPRODUCT, and every
    evaluation row repeats them)."""

    def __init__(self, formula: str, shared: dict | None = None):
        self.toks = _tokens(formula)
        self.i = 0
        self.shared = shared

    def node(self, *parts):
        if self.shared is None:
            return parts
        kind = parts[0]
        if kind == "lit":                 # 1.0 == True: the type is part of the key
            key = ("lit", type(parts[1]), parts[1])
        elif kind == "ref":
            key = parts
        elif kind == "fn":
            key = ("fn", parts[1], tuple(id(a) for a in parts[2]))
        else:
            key = (kind, *(id(x) if isinstance(x, tuple) else x for x in parts[1:]))
        return self.shared.setdefault(key, parts)

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        if self.i >= len(self.toks):
            raise Unsupported("the formula is malformed (it ends where a value is expected)")
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
                left = self.node("%", left)
                continue
            if t.type != Token.OP_IN or _BIN.get(t.value, -1) < min_prec:
                return left
            op = self.take().value
            prec = _BIN[op]
            right = self.expr(prec + 1)          # Excel: every operator left-associative
            left = self.node("bin", op, left, right)

    def unary(self):
        t = self.peek()
        if t is not None and t.type == Token.OP_PRE:
            self.take()
            operand = self.unary()
            return self.node("neg", operand) if t.value == "-" else operand
        return self.primary()

    def primary(self):
        t = self.take()
        if t.type == Token.OPERAND:
            if t.subtype == Token.NUMBER:
                return self.node("lit", float(t.value))
            if t.subtype == Token.TEXT:
                return self.node("lit", t.value[1:-1].replace('""', '"'))
            if t.subtype == Token.LOGICAL:
                return self.node("lit", t.value.upper() == "TRUE")
            if t.subtype == Token.ERROR:
                return self.node("lit", XlError(t.value))
            return self.node("ref", t.value)
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = t.value[:-1].upper().removeprefix("_XLFN.")
            args = []
            nxt = self.peek()
            if nxt is not None and nxt.type == Token.FUNC and nxt.subtype == Token.CLOSE:
                self.take()
                return self.node("fn", name, ())
            while True:
                nxt = self.peek()
                if nxt is None:
                    raise Unsupported(f"the formula is malformed ({name}( is not closed)")
                if nxt.type == Token.SEP or (nxt.type == Token.FUNC and nxt.subtype == Token.CLOSE):
                    raise Unsupported(f"an empty argument in {name}()")
                else:
                    args.append(self.expr(0))
                t2 = self.take()
                if t2.type == Token.FUNC and t2.subtype == Token.CLOSE:
                    return self.node("fn", name, tuple(args))
                if t2.type != Token.SEP:
                    raise Unsupported(f"unexpected {t2.value!r} in {name}()")
        if t.type == Token.PAREN and t.subtype == Token.OPEN:
            node = self.expr(0)
            close = self.take()
            if close.type != Token.PAREN or close.subtype != Token.CLOSE:
                raise Unsupported(f"cannot read the formula near {close.value!r}")
            return node
        raise Unsupported(f"cannot read the formula near {t.value!r}")


# ------------------------------------------------------------------ values
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# words that may stand in a date or time Excel reads from text ("1-Oct", "10 am")
_DATE_WORDS = re.compile(r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|"
                         r"july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|"
                         r"dec(?:ember)?|am|pm|a|p)\b", re.I)


def _plain_number(text: str) -> float | None:
    """The number a text is, when it is written as a plain decimal number ('12', '-0.5',
    '1e3'), else None."""
    if _NUMBER.fullmatch(text):
        x = float(text)
        return x if math.isfinite(x) else None
    return None


def _maybe_value(text: str) -> bool:
    """Could Excel read this text as a number, date, time or boolean in some other way
    than a plain number ('10%', '$5', '1,000', '2026-10-01', '1-Oct', '10:30', 'TRUE',
    ' 5')? Text with a letter that is not part of a date or time ('EV-0001', 'Team 2')
    cannot be."""
    t = text.strip()
    if t.upper() in ("TRUE", "FALSE"):
        return True
    rest = _DATE_WORDS.sub("", t)
    if re.search(r"[^\W\d_]", rest):
        return False
    return bool(re.search(r"\d", rest))


def _num(v: Any) -> Any:
    """A scalar as a number, Excel's way (blank 0, TRUE 1, numeric text), or an error."""
    if type(v) is float:
        return v
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
        x = _plain_number(v)
        if x is not None:
            return x
        if _maybe_value(v):
            raise Unsupported(f"the text {v!r} used as a number (Excel may read it as a "
                              "number, date, time or boolean)")
        return VALUE
    return VALUE


def _number_text(x: float) -> str:
    """A number as Excel writes it when joining it to text: at most 15 significant
    digits ('="x"&0.1+0.2' is 'x0.3'). Refused where Excel would use scientific notation
    or where the 16th digit is an exact tie."""
    if x == 0:
        return "0"
    if not 1e-4 <= abs(x) < 1e15:
        raise Unsupported(f"joining the number {x!r} to text (Excel may write it in "
                          "scientific notation)")
    d = Decimal(x)                                       # the binary value, exactly
    step = Decimal(1).scaleb(d.adjusted() - 14)          # the 15th significant digit
    down = d.quantize(step, rounding=ROUND_DOWN)
    if abs(d - down) * 2 == step:
        raise Unsupported(f"joining the number {x!r} to text (it is halfway between two "
                          "15-digit numbers)")
    r = d.quantize(step, rounding=ROUND_HALF_UP)
    if not Decimal("1e-4") <= abs(r) < Decimal("1e15"):
        raise Unsupported(f"joining the number {x!r} to text (Excel may write it in "
                          "scientific notation)")
    text = format(r, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _text(v: Any) -> Any:
    if isinstance(v, XlError):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return _number_text(v)
    return str(v)


def _rank(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    return (1, str(v).lower())


def _close(a: float, b: float) -> bool:
    """Different, but equal to about 15 significant digits: Excel and LibreOffice treat
    such numbers as equal in comparisons and snap their difference to 0, each by its own
    rule, so no value here is certain."""
    return a != b and abs(a - b) <= 1e-13 * max(abs(a), abs(b))


_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 ]*")


def _compare(op: str, a: Any, b: Any) -> Any:
    if type(a) is float and type(b) is float:          # the common case, first
        if a != b and abs(a - b) <= 1e-13 * max(abs(a), abs(b)):
            raise Unsupported(f"comparing {a!r} with {b!r}, equal to 15 significant "
                              "digits (Excel compares them as equal, Python does not)")
        return _ORDER[op](a, b)
    if isinstance(a, XlError):
        return a
    if isinstance(b, XlError):
        return b
    if a is None:
        a = "" if isinstance(b, str) else False if isinstance(b, bool) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else False if isinstance(a, bool) else 0.0
    x, y = _rank(a), _rank(b)
    if x[0] == y[0] == 0 and _close(x[1], y[1]):
        raise Unsupported(f"comparing {x[1]!r} with {y[1]!r}, equal to 15 significant "
                          "digits (Excel compares them as equal, Python does not)")
    if x[0] == y[0] == 1 and op not in ("=", "<>") and not (
            _PLAIN_TEXT.fullmatch(x[1]) and _PLAIN_TEXT.fullmatch(y[1])):
        raise Unsupported(f"ordering the texts {a!r} and {b!r} (Excel's collation of "
                          "punctuation and accents is not reproduced)")
    return _ORDER[op](x, y)


_ORDER = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, ">": operator.gt,
          "<=": operator.le, ">=": operator.ge}


def _finite(x: float) -> Any:
    """An arithmetic result: #NUM! past the largest number (Excel's and LibreOffice's
    error there), not Python's inf (or NaN, inf × 0)."""
    return x if math.isfinite(x) else NUM


def _average(nums: list, name: str) -> Any:
    """The mean of ``nums`` (#DIV/0! of none). Refused where their sum passes the largest
    number: the mean may not, and how Excel and LibreOffice add them there is not known."""
    if not nums:
        return DIV0
    total = sum(nums)
    if not math.isfinite(total):
        raise Unsupported(f"{name} of numbers whose sum passes the largest number")
    return total / len(nums)


def _arith(op: str, a: Any, b: Any) -> Any:
    if type(a) is float and type(b) is float:          # the common case, first
        if op == "*":
            return _finite(a * b)
        if op in _ORDER:
            return _compare(op, a, b)
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
    if op in ("+", "-"):
        out = a + b if op == "+" else a - b
        if out != 0 and abs(out) <= 1e-13 * max(abs(a), abs(b)):
            raise Unsupported(f"{a!r} {op} {b!r} cancels to {out!r}: Excel and LibreOffice "
                              "may snap such a result to 0")
        return _finite(out)
    if op == "*":
        return _finite(a * b)
    if op == "/":
        return DIV0 if b == 0 else _finite(a / b)
    if op == "^":
        if a == 0 and b <= 0:
            raise Unsupported(f"{a!r}^{b!r} (0 to a power ≤ 0)")
        if a < 0 and not float(b).is_integer():
            # Excel: #NUM!; LibreOffice takes odd roots ((-8)^(1/3) = -2): not certain
            raise Unsupported(f"{a!r}^{b!r} (a negative number to a fractional power)")
        try:
            return float(a ** b)
        except (OverflowError, ZeroDivisionError):
            return NUM
    raise Unsupported(f"the operator {op}")


def _times(a: Any, b: Any) -> Any:
    # a number or a boolean (TRUE is 1: what _arith makes of it) on both sides, first
    if type(a) in _NUMBER_OR_BOOL and type(b) in _NUMBER_OR_BOOL:
        return _finite(float(a) * b)
    return _arith("*", a, b)


def _plus(a: Any, b: Any) -> Any:
    if type(a) in _NUMBER_OR_BOOL and type(b) in _NUMBER_OR_BOOL:
        out = float(a) + b
        if out == 0 or abs(out) > 1e-13 * max(abs(a), abs(b)):
            return _finite(out)
    return _arith("+", a, b)


def _equal(op: str, a: Any, b: Any) -> Any:
    """``=`` or ``<>``, with a path for two texts (Excel compares them ignoring case, as
    _compare does)."""
    if type(a) is str and type(b) is str:
        return (a.lower() == b.lower()) == (op == "=")
    return _compare(op, a, b)


#: the operators of array arithmetic with a path for two numbers (the rest: _arith)
_BINARY = {"*": _times, "+": _plus,
           **{op: functools.partial(_equal if op in ("=", "<>") else _compare, op)
              for op in _ORDER}}


def _shape(v: Any) -> tuple[int, int]:
    return v.shape if isinstance(v, Array) else (1, 1)


def _one(v: Any) -> Any:
    """A 1×1 array as its value; anything else unchanged."""
    return v.values[0] if isinstance(v, Array) and v.shape == (1, 1) else v


def _elementwise(fn: Callable, *args, array: bool):
    """``fn`` applied to scalars, or cell by cell to arrays of one shape (only where Excel
    evaluates arrays: inside SUMPRODUCT)."""
    args = tuple(_one(a) for a in args)
    arrays = [a for a in args if isinstance(a, Array)]
    if not arrays:
        return fn(*args)
    if not array:
        raise Unsupported("a range or array in arithmetic outside SUMPRODUCT (Excel would "
                          "take one cell of it by implicit intersection)")
    h, w = arrays[0].shape
    for a in arrays:
        if a.shape != (h, w):
            raise Unsupported(f"arrays of different shapes ({h}×{w} and {a.shape[0]}×"
                              f"{a.shape[1]}): Excel repeats or pads them")
    n = h * w
    if fn is _times or fn is _plus:
        quick = _sum_or_product(fn, args, n)
        if quick is not None:
            return Array(quick, (h, w), quick)
    # cell by cell in row order, each argument's cells (one value: repeated)
    cells = [a.values if isinstance(a, Array) else itertools.repeat(a, n) for a in args]
    return Array(list(map(fn, *cells)), (h, w))


def _sum_or_product(fn: Callable, args: tuple, n: int) -> list | None:
    """``a * b`` or ``a + b`` cell by cell where every cell of both is a number or a
    boolean, without a call per cell: what _times and _plus give there (a product of two
    such is ``float(a) * b``; a sum, ``float(a) + b``, can cancel to a tiny remainder only
    where a cell is negative, so a sum takes this path where none is; one past the largest
    number, inf, is left to _plus: #NUM!). None otherwise."""
    nums = []
    for a in args:
        if isinstance(a, Array):
            x = a.numbers()
            if x is None or (fn is _plus and not a.nonneg()):
                return None
            nums.append(x)
        elif type(a) in _NUMBER_OR_BOOL and (fn is _times or a >= 0):
            nums.append(itertools.repeat(float(a), n))
        else:
            return None
    if fn is _times:                # past the largest number: _times's #NUM! per cell
        out = list(map(operator.mul, *nums))
        return out if math.isfinite(sum(out)) else None
    out = list(map(operator.add, *nums))
    return None if math.inf in out else out


def _scalar(v: Any, what: str = "a value") -> Any:
    if isinstance(v, Array):
        if v.shape == (1, 1):
            return v.values[0]
        raise Unsupported(f"a range or array as {what} (Excel would take one cell of it by "
                          "implicit intersection, or spill it)")
    return v


def _round_half_away(x: float, digits: int) -> float:
    """Excel's ROUND: halves away from zero, on the number as written (repr)."""
    step = Decimal(1).scaleb(-digits)
    try:
        return float(Decimal(repr(float(x))).quantize(step, rounding=ROUND_HALF_UP))
    except InvalidOperation:
        raise Unsupported(f"ROUND({x!r}, {digits})") from None


def _criterion(c: Any, values: list) -> Callable[[Any], bool]:
    """SUMIFS/COUNTIFS criteria over the cells ``values``: a number (equality), or text,
    optionally after an operator (">=9", "<>Closed"); text equality ignores case.
    Wildcards and numbers, dates, times or booleans written as text are refused."""
    if isinstance(c, XlError):
        raise Unsupported(f"the error {c} as a criterion")
    if isinstance(c, bool):
        raise Unsupported("a boolean as a criterion")
    if c is None:
        raise Unsupported("a blank cell as a criterion")
    if any(isinstance(v, XlError) for v in values):
        raise Unsupported("an error value in a criteria range")
    if isinstance(c, (int, float)):
        op, target, shown = "=", float(c), _text(float(c))
    else:
        m = re.match(r"^(<=|>=|<>|<|>|=)?(.*)$", c, re.S)
        op, rest, shown = m.group(1) or "=", m.group(2), repr(c)
        if any(ch in rest for ch in "*?~"):
            raise Unsupported(f"the criterion {shown} has a wildcard (* ? ~), which is not "
                              "matched here")
        if rest == "":
            if op not in ("=", "<>") or any(v == "" for v in values):
                raise Unsupported(f"the criterion {shown} over cells holding empty text")
            return (lambda v: v is None) if op == "=" else (lambda v: v is not None)
        target = _plain_number(rest)
        if target is None:
            if _maybe_value(rest):
                raise Unsupported(f"the criterion {shown}: text that Excel may read as a "
                                  "number, date, time or boolean")
            low = rest.lower()
            if op in ("=", "<>"):
                return lambda v: (isinstance(v, str) and v.lower() == low) == (op == "=")
            return lambda v: isinstance(v, str) and _compare(op, v, rest)
    for v in values:
        if isinstance(v, str) and (_plain_number(v) is not None or _maybe_value(v)):
            raise Unsupported(f"the numeric criterion {shown} over the text {v!r} (a number "
                              "written as text)")

    def f(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return op == "<>"
        return _compare(op, float(v), target)
    return f


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
        raise Unsupported(f"{kind} needs criteria in (range, criterion) pairs")
    ranges = [pairs[k] for k in range(0, len(pairs), 2)]
    shapes = {_shape(r) for r in ranges} | ({_shape(target)} if kind != "COUNTIFS" else set())
    if len(shapes) > 1:
        raise Unsupported(f"{kind} over ranges of different shapes "
                          f"({', '.join(f'{h}×{w}' for h, w in sorted(shapes))})")
    flat = [list(r.flat()) if isinstance(r, Array) else [r] for r in ranges]
    tests = [_criterion(_scalar(pairs[k + 1], f"a {kind} criterion"), flat[k // 2])
             for k in range(0, len(pairs), 2)]
    n = len(flat[0])
    tvals = list(target.flat()) if isinstance(target, Array) else [target] * n
    mask = [True] * n
    for test, values in zip(tests, flat, strict=True):
        mask = [m and test(v) for m, v in zip(mask, values, strict=True)]
    picked = [v for v, m in zip(tvals, mask, strict=True) if m]
    if kind == "COUNTIFS":
        return float(len(picked))
    err = _first_error(picked)
    if err is not None:
        return err
    nums = [float(v) for v in picked if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if kind == "SUMIFS":
        return _finite(float(sum(nums)))
    return _average(nums, kind)


_MANY = 255
ARITY = {"IF": (1, 3), "IFERROR": (2, 2), "ISNUMBER": (1, 1), "ISBLANK": (1, 1),
         "SUM": (1, _MANY), "AVERAGE": (1, _MANY), "MIN": (1, _MANY), "MAX": (1, _MANY),
         "COUNT": (1, _MANY), "COUNTA": (1, _MANY), "SUMPRODUCT": (1, _MANY),
         "SUMIFS": (3, _MANY), "COUNTIFS": (2, _MANY), "AVERAGEIFS": (3, _MANY),
         "AND": (1, _MANY), "OR": (1, _MANY), "NOT": (1, 1), "ABS": (1, 1), "ROUND": (2, 2),
         "REPT": (2, 2), "RANK": (2, 3), "RANK.EQ": (2, 3), "NA": (0, 0), "INDEX": (2, 3),
         "ISTEXT": (1, 1), "LOWER": (1, 1), "TRIM": (1, 1), "ROW": (1, 1),
         "ISERROR": (1, 1), "FIND": (2, 2), "FORMULATEXT": (1, 1)}
KNOWN = set(ARITY)


def _fn(name: str, args: list, ev, array: bool) -> Any:
    """``ev(node, array)`` evaluates an argument; ``array`` is true inside SUMPRODUCT,
    where Excel evaluates ranges and arrays cell by cell."""
    if name not in KNOWN:
        raise Unsupported(f"the function {name}")
    lo, hi = ARITY[name]
    if not lo <= len(args) <= hi:
        wanted = (f"at least {lo}" if hi == _MANY else f"{lo}" if lo == hi else f"{lo} to {hi}")
        raise Unsupported(f"{name} takes {wanted} arguments, not {len(args)}")
    if name == "IF":
        cond = _scalar(ev(args[0], array), "IF's condition")
        if isinstance(cond, XlError):
            return cond
        c = _num(cond)
        if isinstance(c, XlError):
            return c
        if c != 0:
            return _scalar(ev(args[1], array), "IF's result") if len(args) > 1 else True
        return _scalar(ev(args[2], array), "IF's result") if len(args) > 2 else False
    if name == "IFERROR":
        v = _scalar(ev(args[0], array), "IFERROR's value")
        return _scalar(ev(args[1], array), "IFERROR's result") if isinstance(v, XlError) else v
    if name == "SUMPRODUCT":
        vals = [ev(a, True) for a in args]
        arrays = [a if isinstance(a, Array) else Array.one(a) for a in vals]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays):
            raise Unsupported("SUMPRODUCT over arrays of different shapes ("
                              + ", ".join(f"{a.shape[0]}×{a.shape[1]}" for a in arrays) + ")")
        columns = [a.values for a in arrays]
        if any(isinstance(v, XlError) for c in columns for v in c):
            for cells in zip(*columns):     # the first error, position by position
                for v in cells:
                    if isinstance(v, XlError):
                        return v
        # each cell as its number (0 unless it is one: a boolean, text, a blank), the
        # products left to right from 1.0, added in order from 0.0, as Excel's loop
        factors = [[v if type(v) is float else float(v) if isinstance(v, (int, float))
                    and not isinstance(v, bool) else 0.0 for v in c] for c in columns]
        total = 0.0
        if len(factors) == 1:
            for p in factors[0]:
                total += p
        else:
            products = factors[0]
            for f in factors[1:]:
                products = list(map(operator.mul, products, f))
            for p in products:
                total += p
        return _finite(total)          # a product or the sum past the largest number
    vals = [ev(a, array) for a in args]
    if name == "ISNUMBER":
        return _elementwise(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                            vals[0], array=array)
    if name == "ISBLANK":
        return _elementwise(lambda v: v is None, vals[0], array=array)
    if name == "ISTEXT":            # a formula's "" is text too
        return _elementwise(lambda v: isinstance(v, str), vals[0], array=array)
    if name == "ISERROR":
        return _elementwise(lambda v: isinstance(v, XlError), vals[0], array=array)
    if name == "FIND":
        return _elementwise(_find, vals[0], vals[1], array=array)
    if name in ("LOWER", "TRIM"):
        return _elementwise(_lower if name == "LOWER" else _trim, vals[0], array=array)
    if name in ("SUM", "AVERAGE", "MIN", "MAX", "COUNT"):
        nums = _values(vals)
        err = _first_error(nums)
        if name == "COUNT":
            return float(sum(1 for v in nums if not isinstance(v, XlError)))
        if err is not None:
            return err
        if name == "SUM":
            return _finite(float(sum(nums)))
        if name == "AVERAGE":
            return _average(nums, name)
        return (min if name == "MIN" else max)(nums) if nums else 0.0
    if name == "COUNTA":        # Excel counts every cell that is not empty, "" results too
        return float(sum(1 for a in vals for v in (a.flat() if isinstance(a, Array) else [a])
                         if v is not None))
    if name in ("SUMIFS", "COUNTIFS", "AVERAGEIFS"):
        return _ifs(vals, name)
    if name in ("RANK", "RANK.EQ"):
        x = _num(_scalar(vals[0], f"{name}'s number"))
        if isinstance(x, XlError):
            return x
        if not isinstance(vals[1], Array):
            raise Unsupported(f"{name} over something that is not a range")
        ranked = getattr(vals[1], "ranked", None)          # sorted once per range
        if ranked is None:
            ranked = vals[1].ranked = sorted(v for v in _values([vals[1]])
                                             if not isinstance(v, XlError))
        order = _num(_scalar(vals[2], f"{name}'s order")) if len(vals) > 2 else 0.0
        if isinstance(order, XlError):
            return order
        lo, hi = bisect.bisect_left(ranked, x), bisect.bisect_right(ranked, x)
        if lo == hi:
            return NA
        # a number within 15 significant digits of x sits next to x's run of equals
        for near in (ranked[lo - 1] if lo else None, ranked[hi] if hi < len(ranked) else None):
            if near is not None and _close(near, x):
                raise Unsupported(f"{name} of {x!r} next to {near!r}, equal to 15 "
                                  "significant digits (Excel ranks them as a tie, Python "
                                  "would not)")
        return float(1 + (lo if order else len(ranked) - hi))
    if name == "INDEX":
        return _index(vals)
    if name == "AND" or name == "OR":
        flat = [v for a in vals for v in (a.flat() if isinstance(a, Array) else [a])]
        err = _first_error(flat)
        if err:
            return err
        bools = [bool(_num(v)) for v in flat if v is not None and not isinstance(v, str)]
        return all(bools) if name == "AND" else any(bools)
    scal = [_scalar(v, f"an argument of {name}") for v in vals]
    err = _first_error(scal)
    if err is not None:
        return err
    if name == "NOT":
        x = _num(scal[0])
        return x if isinstance(x, XlError) else not bool(x)
    if name == "ABS":
        x = _num(scal[0])
        return x if isinstance(x, XlError) else abs(x)
    if name == "ROUND":
        x, d = _num(scal[0]), _num(scal[1])
        return x if isinstance(x, XlError) else d if isinstance(d, XlError) else \
            _round_half_away(x, int(d))
    if name == "REPT":
        n, text = _num(scal[1]), _text(scal[0])
        if isinstance(text, XlError):
            return text
        if isinstance(n, XlError):
            return n
        if n < 0 or len(text) * int(n) > 32767:      # Excel: #VALUE! past 32,767 characters
            return VALUE
        return text * int(n)
    if name == "NA":
        return NA
    raise Unsupported(f"the function {name}")


def _lower(v: Any) -> Any:
    """Excel's LOWER: a number or blank as its text first. Refused where Python's
    lower case of a letter is not one character (Excel keeps the length)."""
    t = _text(v)
    if isinstance(t, XlError):
        return t
    out = t.lower()
    if len(out) != len(t):
        raise Unsupported(f"LOWER of {t!r} (a letter whose lower case is longer)")
    return out


def _find(what: Any, within: Any) -> Any:
    """Excel's FIND (from the first character): where ``what`` begins in ``within``,
    case-sensitive and without wildcards, counted from 1; #VALUE! where it does not."""
    a, b = _text(what), _text(within)
    for t in (a, b):
        if isinstance(t, XlError):
            return t
    if a == "":
        raise Unsupported("FIND of empty text (Excel finds it at 1, LibreOffice gives #VALUE!)")
    if any(ord(ch) > 0xFFFF for ch in a + b):     # Excel counts UTF-16 units
        raise Unsupported("FIND over a character outside the Basic Multilingual Plane")
    at = b.find(a)
    return VALUE if at < 0 else float(at + 1)


def _trim(v: Any) -> Any:
    """Excel's TRIM: spaces (only the character 32) cut at both ends and runs of them
    inside made one."""
    t = _text(v)
    if isinstance(t, XlError):
        return t
    return " ".join(w for w in t.split(" ") if w)


def _index(vals: list) -> Any:
    """INDEX(range, row[, column]): the one cell at that position of the range, as a
    reference to it (a blank cell shows as 0, as a plain reference does). A range of one
    row takes its one index as the column's. Past the range: #REF!; an index below 1:
    #VALUE!; 0 (a whole row or column, which Excel spills) and one index into a range of
    several rows and columns are refused, and so are a position a hair below a whole number
    (LibreOffice rounds it to 15 significant digits before truncating: 2.999999999999999
    is 3 there) and one past 2,147,483,647 (LibreOffice: #VALUE!)."""
    area = vals[0]
    if not isinstance(area, Array):
        raise Unsupported("INDEX of something that is not a range")
    at = []
    for v in vals[1:]:
        x = _num(_scalar(v, "INDEX's position"))
        if isinstance(x, XlError):
            return x
        if x >= 2 ** 31:
            raise Unsupported(f"INDEX's position {x!r}: more than 2,147,483,647 "
                              "(LibreOffice gives #VALUE!, the range's end says #REF!)")
        if x != int(x) and math.trunc(float(f"{x:.15g}")) != math.trunc(x):
            raise Unsupported(f"INDEX's position {x!r}, a hair from a whole number: "
                              "LibreOffice rounds it to 15 significant digits before "
                              "truncating, Python would not")
        at.append(int(x))                 # Excel truncates the position
    rows, cols = area.shape
    if len(at) == 1:
        if rows > 1 and cols > 1:
            raise Unsupported("INDEX with one index into a range of several rows and "
                              "columns")
        at = [1, at[0]] if rows == 1 else [at[0], 1]
    if any(x < 0 for x in at):
        return VALUE
    if 0 in at:
        raise Unsupported("INDEX of a whole row or column (position 0): Excel would spill it")
    r, c = at
    if r > rows or c > cols:
        return REF
    return Array.one(area.values[(r - 1) * cols + (c - 1)])


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
    """Values of every formula cell of an openpyxl workbook, each computed once. A cell
    it cannot compute raises :class:`Unsupported` naming the cell and the formula (and so
    does every cell that uses it)."""

    def __init__(self, workbook):
        self.wb = workbook
        self.memo: dict[tuple[str, int, int], Any] = {}
        self.busy: set[tuple[str, int, int]] = set()
        self.parsed: dict[str, Any] = {}
        self.sheets = {ws.title: ws for ws in workbook.worksheets}
        self.ranges: dict[tuple[str, str], Array] = {}
        self.coords: dict[str, tuple] = {}
        # equal subtrees of all formulas are one object (_Parser's ``shared``); the value
        # of a compound subtree, by (its id, sheet, array): a cell's value never changes
        # while a workbook is evaluated, so a subtree over the same cells has one value
        self.shared: dict = {}
        self.values: dict[tuple[int, str, bool], Any] = {}
        #: sheets written and let go (kpi_xl.scorecard.streamed): only the cells kept in
        #: the memo can still be read; any other raises Unsupported, never reads as blank
        self.gone: set[str] = set()

    def cell(self, sheet: str, row: int, col: int) -> Any:
        key = (sheet, row, col)
        if key in self.memo:
            out = self.memo[key]
            if isinstance(out, Unsupported):
                raise out
            return out
        if sheet in self.gone:
            raise Unsupported(f"{quote_sheet(sheet)}!{_letter(col)}{row} was written and let go "
                              "before it was read", where=f"{quote_sheet(sheet)}!{_letter(col)}{row}")
        ws = self.sheets.get(sheet)
        if ws is None:
            return REF
        c = ws._cells.get((row, col))
        if c is None:
            return None
        v = c.value
        if c.data_type == "f" and isinstance(v, str):
            where = f"{quote_sheet(sheet)}!{c.coordinate}"
            if key in self.busy:
                raise Unsupported("a circular reference", v, where)
            self.busy.add(key)
            try:
                out = self._formula(v, sheet)
            except Unsupported as e:
                err = (Unsupported(e.reason, v, where) if e.where is None else
                       Unsupported(f"it uses {e.where}, which is not computed ({e.reason})",
                                   v, where))
                self.memo[key] = err
                raise err from None
            finally:
                self.busy.discard(key)
            self.memo[key] = out
            return out
        if c.data_type == "e" and isinstance(v, str):
            return XlError(v)               # an error value typed or pasted in
        if isinstance(v, (dt.datetime, dt.date)):
            v = v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
            return (v - _EPOCH).total_seconds() / 86400
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        if type(v) is str and "_x" in v:
            return shown_text(v)            # the text Excel shows (put() stores it escaped)
        return v

    def formula(self, text: str, sheet: str) -> Any:
        """The value of ``text`` (a formula such as ``=SUM(A1:A3)``) on ``sheet``."""
        try:
            return self._formula(text, sheet)
        except Unsupported as e:
            if e.formula is None:
                raise Unsupported(e.reason, text) from None
            if e.where is not None:
                raise Unsupported(f"it uses {e.where}, which is not computed ({e.reason})",
                                  text) from None
            raise

    def _formula(self, text: str, sheet: str) -> Any:
        tree = self.parsed.get(text)
        if tree is None:
            tree = _Parser(text, self.shared).parse()
            self.parsed[text] = tree
        out = _scalar(self._eval(tree, sheet, False), "the formula's result")
        return 0.0 if out is None else out          # a formula showing a blank cell shows 0

    def _ref(self, ref: str, sheet: str) -> Any:
        key = (sheet, ref)
        hit = self.ranges.get(key)
        if hit is not None:
            return hit
        out = self._read_ref(ref, sheet)
        if isinstance(out, Array):
            self.ranges[key] = out
        return out

    def _coords(self, ref: str) -> tuple:
        """:func:`_parse_ref` of ``ref``, parsed once per evaluator."""
        parsed = self.coords.get(ref)
        if parsed is None:
            parsed = self.coords[ref] = _parse_ref(ref)
        return parsed

    def _read_ref(self, ref: str, sheet: str) -> Any:
        other, single, c1, r1, c2, r2 = self._coords(ref)
        sheet = other or sheet
        if single:
            return self.cell(sheet, r1, c1)
        cols = range(min(c1, c2), max(c1, c2) + 1)
        rows = range(min(r1, r2), max(r1, r2) + 1)
        return Array([self.cell(sheet, r, c) for r in rows for c in cols],
                     (len(rows), len(cols)))

    def _eval(self, node, sheet: str, array: bool) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ref":
            return self._ref(node[1], sheet)
        key = (id(node), sheet, array)
        hit = self.values.get(key, _MISSING)
        if hit is _MISSING:
            hit = self.values[key] = self._compound(node, kind, sheet, array)
        return hit

    def _compound(self, node, kind: str, sheet: str, array: bool) -> Any:
        if kind == "neg":
            return _elementwise(lambda v: (lambda x: x if isinstance(x, XlError) else -x)(_num(v)),
                                self._eval(node[1], sheet, array), array=array)
        if kind == "%":
            return _elementwise(lambda v: (lambda x: x if isinstance(x, XlError) else x / 100)(_num(v)),
                                self._eval(node[1], sheet, array), array=array)
        if kind == "bin":
            a, b = self._eval(node[2], sheet, array), self._eval(node[3], sheet, array)
            return _elementwise(_BINARY.get(node[1]) or (lambda x, y: _arith(node[1], x, y)),
                                a, b, array=array)
        if kind == "fn" and node[1] == "ROW":
            return self._row(node[2], array)
        if kind == "fn" and node[1] == "FORMULATEXT":
            return self._formulatext(node[2], sheet, array)
        if kind == "fn":
            return _fn(node[1], node[2], lambda n, arr: self._eval(n, sheet, arr), array)
        raise Unsupported(str(node))

    def _reference(self, name: str, args) -> tuple[str, tuple]:
        """(the text, :func:`_parse_ref`'s parts) of the one reference a function of
        references (ROW, FORMULATEXT) takes as its argument."""
        if len(args) != 1 or args[0][0] != "ref":
            raise Unsupported(f"{name} of something that is not one reference")
        ref = args[0][1]
        return ref, self._coords(ref)

    def _row(self, args, array: bool) -> Any:
        """ROW(reference): the sheet row of a cell; of each cell of a one-column range
        inside SUMPRODUCT (elsewhere Excel would spill it)."""
        ref, (_other, single, c1, r1, c2, r2) = self._reference("ROW", args)
        if single or r1 == r2 and not array:
            return float(r1)
        if c1 != c2 or not array:
            raise Unsupported(f"ROW({ref}): of several columns, or outside SUMPRODUCT (Excel "
                              "would spill it)")
        rows = range(min(r1, r2), max(r1, r2) + 1)
        return Array([float(r) for r in rows], (len(rows), 1))

    def _formulatext(self, args, sheet: str, array: bool) -> Any:
        """FORMULATEXT(reference) of cells that hold no formula: #N/A each (of each cell of
        a range inside SUMPRODUCT). The text Excel gives a formula is not reproduced: a
        formula cell there is refused."""
        ref, (other, single, c1, r1, c2, r2) = self._reference("FORMULATEXT", args)
        sheet = other or sheet
        ws = self.sheets.get(sheet)
        if ws is None or sheet in self.gone:
            raise Unsupported(f"FORMULATEXT({ref}) of a sheet not at hand")
        if not single and not array:
            raise Unsupported(f"FORMULATEXT({ref}) of a range outside SUMPRODUCT (Excel "
                              "would spill it)")
        rows = range(min(r1, r2), max(r1, r2) + 1)
        cols = range(min(c1, c2), max(c1, c2) + 1)
        for r in rows:
            for c in cols:
                cell = ws._cells.get((r, c))
                if cell is not None and cell.data_type == "f":
                    raise Unsupported(f"FORMULATEXT of a formula ({_letter(c)}{r})")
        return NA if single else Array([NA] * (len(rows) * len(cols)), (len(rows), len(cols)))

    def sheet_values(self, ws):
        """(cell, value) for every formula cell of ``ws``, computed alone (what was kept for
        other sheets' subtrees and ranges goes first, and once it is done), the value the
        :class:`Unsupported` error of a cell that cannot be computed."""
        self.sheets[ws.title] = ws
        self.values.clear()
        self.ranges.clear()
        out = []
        for (r, c), cell in sorted(ws._cells.items()):
            if cell.data_type == "f" and isinstance(cell.value, str):
                try:
                    out.append((cell, self.cell(ws.title, r, c)))
                except Unsupported as e:
                    out.append((cell, e))
        self.values.clear()
        self.ranges.clear()
        return out

    def let_go(self, ws, keep) -> None:
        """Forget ``ws`` except the cells ``keep`` ((row, column) pairs: what other sheets
        read), whose values stay in the memo; reading any other cell of it raises."""
        title = ws.title
        kept = {}
        for r, c in keep:
            try:
                kept[(title, r, c)] = self.cell(title, r, c)
            except Unsupported as e:
                kept[(title, r, c)] = self.memo.get((title, r, c), e)
        for r, c in ws._cells:
            self.memo.pop((title, r, c), None)
        self.memo.update(kept)
        self.gone.add(title)
        self.sheets.pop(title, None)

    def all_formulas(self):
        """(sheet, cell, value) for every formula cell, in sheet order; raises
        :class:`Unsupported` at the first cell it cannot compute."""
        for sheet, cell, value in self.all_values():
            if isinstance(value, Unsupported):
                raise value
            yield sheet, cell, value

    def all_values(self):
        """(sheet, cell, value) for every formula cell, in sheet order; the value is the
        :class:`Unsupported` error for a cell that cannot be computed.

        The sheets are computed first those without references to other sheets (a QA
        workbook's agent sheets before its Team sheet), each alone: what was kept for a
        sheet (its subtrees' values and ranges) goes when the next begins, and only the
        cells' values stay, for the references of later sheets."""
        def formulas(ws):
            return [(r, c, cell) for (r, c), cell in sorted(ws._cells.items())
                    if cell.data_type == "f" and isinstance(cell.value, str)]

        def refers_out(ws):
            return any("!" in cell.value for _r, _c, cell in formulas(ws))

        for ws in sorted(self.wb.worksheets, key=refers_out):      # stable: in sheet order
            self.values.clear()
            self.ranges.clear()
            for r, c, _cell in formulas(ws):
                try:
                    self.cell(ws.title, r, c)
                except Unsupported:
                    pass                   # kept in the memo; given below, in order
        self.values.clear()
        self.ranges.clear()
        for ws in self.wb.worksheets:
            for r, c, cell in formulas(ws):
                try:
                    value = self.cell(ws.title, r, c)
                except Unsupported as e:
                    value = e
                yield ws.title, cell, value
