"""Turning what Excel (or a Python caller) hands over into typed columns, with messages.

Excel gives a range as nested lists of Python values: numbers, ``None`` for blanks, ``str``
for text and (Office.js) for error values such as ``#N/A``, ``bool`` for TRUE/FALSE,
``datetime`` for dates and times. pandas and numpy give arrays. Every value either becomes
a number in the input's kind or raises a :class:`~kpi_xl.errors.KpiError` that says which
row of the range holds what, and what was expected. Nothing is coerced silently: the text
"12" is not the number 12, TRUE is not 1 in a number column, and a date is not a duration.
"""

from __future__ import annotations

import datetime as dt
import math
from numbers import Real
from typing import Any, Sequence

import numpy as np

from ..catalog.rules import to_float
from ..catalog.spec import TIME_UNITS
from ..errors import KpiError

EXCEL_ERRORS = frozenset({"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!",
                          "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA", "#FIELD!",
                          "#BUSY!", "#BLOCKED!", "#CONNECT!", "#UNKNOWN!", "#PYTHON!"})
FLAG_WORDS = {"y": 1.0, "yes": 1.0, "true": 1.0, "n": 0.0, "no": 0.0, "false": 0.0}
NA_WORDS = frozenset({"n/a", "na", "not applicable"})
_EXCEL_TIME_DAYS = (dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1))


class Column:
    """A parsed column: ``values`` (float64 with NaN where blank or N/A; for categories an
    object array of the labels as written, None where blank) and the masks that say which
    is which. Categories compare case-insensitively (see the Lookup renderer).

    A category column whose cells are all plain labels (see :func:`_plain_labels`) is
    checked without parsing each label: its ``values``, ``codes`` and ``keys`` are worked
    out on first use by the full parser (``parse``), which a count of ids never needs."""

    __slots__ = ("_values", "blank", "na", "_codes", "_keys", "cache", "parse")

    def __init__(self, values: np.ndarray | None, blank: np.ndarray,
                 na: np.ndarray | None = None, codes: np.ndarray | None = None,
                 keys: np.ndarray | None = None, cache: dict[Any, Any] | None = None):
        self._values, self.blank, self.na = values, blank, na
        #: categories: code of each row into ``keys``; label per code as written (None =
        #: blank)
        self._codes, self._keys = codes, keys
        #: masks and counts computed once per call and shared by validation and the
        #: formula (a parse may hand over what it found on the way)
        self.cache: dict[Any, Any] = {} if cache is None else cache
        self.parse: Any = None

    def _parsed(self) -> None:
        full = self.parse()
        self._values, self._codes, self._keys = full.values, full.codes, full.keys
        self.parse = None

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            self._parsed()
        return self._values

    @property
    def codes(self) -> np.ndarray | None:
        if self.parse is not None:
            self._parsed()
        return self._codes

    @codes.setter
    def codes(self, v: np.ndarray | None) -> None:
        self._codes = v

    @property
    def keys(self) -> np.ndarray | None:
        if self.parse is not None:
            self._parsed()
        return self._keys

    @keys.setter
    def keys(self, v: np.ndarray | None) -> None:
        self._keys = v

    def __repr__(self) -> str:
        return f"Column(values={self.values!r}, blank={self.blank!r}, na={self.na!r})"

    @property
    def present(self) -> np.ndarray:
        m = self.cache.get("present")
        if m is None:
            # "no N/A": a score column parsed from numbers, whose ``na`` is all False
            m = self.not_blank if self.na is None or "no N/A" in self.cache \
                else ~(self.blank | self.na)
            self.cache["present"] = m
        return m

    @property
    def nblank(self) -> int:
        """How many rows are blank."""
        k = self.cache.get("nblank")
        if k is None:
            k = self.cache["nblank"] = int(_count(self.blank))
        return k

    @property
    def npresent(self) -> int:
        """How many rows hold a value (not blank, not N/A)."""
        k = self.cache.get("npresent")
        if k is None:
            k = self.cache["npresent"] = (len(self.blank) - self.nblank if self.na is None
                                          else int(_count(self.present)))
        return k

    @property
    def not_blank(self) -> np.ndarray:
        m = self.cache.get("not_blank")
        if m is None:
            n = self.blank.shape[0]
            m = self.cache["not_blank"] = ~self.blank if n > 256 or self.nblank \
                else _shared(n, True)
        return m

    @property
    def extremes(self) -> tuple[float, float] | None:
        """(least, greatest) of the values, blanks skipped (NaN where all are blank), for
        range rules to skip their row-by-row test; None where finding them would cost more
        than that test (a few cells whose parse did not note them). A greatest value the
        parse noted ("hi") is not looked for again."""
        e = self.cache.get("extremes")
        if e is None and self.values.shape[0] > 256:
            lo, hi = _extremes(self.values, self.cache.get("hi"))
            e = self.cache["extremes"] = (lo, hi)
        return e

    def may(self, op: str, bound: float) -> bool:
        """Whether some value may compare ``op`` ("<", "<=", ">", ">=") with ``bound``: a
        range rule's precheck, which runs the rule's row-by-row test only where this
        holds. False only where the facts the parse noted say no value does: none is
        negative ("nonneg", see parse_column), the greatest value ("hi"), both extremes;
        True where nothing is known (a few cells whose parse noted no extremes)."""
        cache = self.cache
        if op[0] == "<":
            if "nonneg" in cache and (bound < 0.0 or (bound == 0.0 and op == "<")):
                return False
            e = cache.get("extremes") or self.extremes
            if e is None:
                return True
            return bool(e[0] < bound) if op == "<" else bool(e[0] <= bound)
        e = cache.get("hi")
        if e is None:
            e = cache.get("extremes") or self.extremes
            if e is None:
                return True
            e = e[1]
        return bool(e > bound) if op == ">" else bool(e >= bound)

    def equals(self, value: float) -> np.ndarray:
        m = self.cache.get(("=", value))
        if m is None:
            m = self.cache[("=", value)] = self.values == zero_d(value)
        return m

    def count_eq(self, value: float) -> int:
        """How many rows equal ``value`` (the parse of a flag column notes its 1s and 0s)."""
        k = self.cache.get(("#", value))
        if k is None:
            k = self.cache[("#", value)] = int(_count(self.equals(value)))
        return k

    def __len__(self) -> int:
        return len(self.blank)


def flatten(kpi: str, name: str, data: Any) -> Sequence[Any]:
    """A single row or column of a range, as a flat sequence (2-D blocks are refused)."""
    if type(data) is list and (not data or type(data[0]) not in (list, tuple)):
        return data   # the common case: one column or row, as xlwings hands it over
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            return data
        if data.ndim == 2 and 1 in data.shape:
            return data.reshape(-1)
        if data.ndim == 0:
            return data.reshape(1)
        raise KpiError(kpi, name, _one_row_or_column(data.shape[0], data.shape[1]))
    if hasattr(data, "to_numpy") and not isinstance(data, (str, bytes)):
        return flatten(kpi, name, data.to_numpy())
    if not isinstance(data, (list, tuple)):
        return [data]
    if data and all(isinstance(r, (list, tuple)) for r in data):
        widths = {len(r) for r in data}
        if widths == {1}:
            return [r[0] for r in data]
        if len(data) == 1:
            return list(data[0])
        raise KpiError(kpi, name, _one_row_or_column(len(data), max(widths)))
    return data


def _one_row_or_column(rows: int, cols: int) -> str:
    def n(k: int, word: str) -> str:
        return f"{k} {word}" + ("" if k == 1 else "s")
    return f"must be one row or one column, got {n(rows, 'row')} × {n(cols, 'column')}"


def _text_problem(v: str, expected: str) -> str:
    s = v.strip()
    if s.upper() in EXCEL_ERRORS:
        return f"holds the Excel error {s}; fix or filter that cell"
    try:
        float(s.replace(",", ""))
        return f"holds the text {v!r}: a number stored as text; convert it to a number"
    except ValueError:
        return f"holds the text {v!r}, but {expected}"


def _time_seconds(v: Any) -> float | None:
    """Seconds in a time value, or None if v is not one (a real date is not a duration)."""
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, dt.datetime):
        if v.date() in _EXCEL_TIME_DAYS:
            base = dt.datetime.combine(dt.date(1899, 12, 30), dt.time(), tzinfo=v.tzinfo)
            return (v - base).total_seconds()
        return None
    if isinstance(v, dt.time):
        return v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6
    return None


_EXPECT = {
    "number": "a number is expected (blanks are ignored)",
    "duration": "a duration is expected (a number or a time value)",
    "flag": "Y/N, Yes/No, TRUE/FALSE or 1/0 is expected",
    "score": "a number or N/A is expected",
    "category": "a text label is expected",
}


def duration_unit(kpi: str, given: Any) -> str | None:
    """The ``unit`` option as a cell gives it: blank/omitted (None: numbers are in each
    input's own unit) or one of :data:`~kpi_xl.catalog.spec.TIME_UNITS`, any case."""
    seq = flatten(kpi, "unit", given)
    v = seq[0] if len(seq) == 1 else seq
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, str) and v.strip().lower() in TIME_UNITS:
        return v.strip().lower()
    raise KpiError(kpi, "unit", "must be one of " + ", ".join(f'"{u}"' for u in TIME_UNITS)
                   + " (or left out: the input's own unit)", v)


def parse_column(kpi: str, name: str, kind: str, data: Any, *,
                 time_unit: str | None = None, unit: str | None = None) -> Column:
    """Parse one input range. Fast path for float arrays; one pass over Python values
    otherwise (which is what Excel hands over). For durations, ``unit`` (one of
    :data:`~kpi_xl.catalog.spec.TIME_UNITS`) says what unit plain numbers are in; they
    are converted to the input's ``time_unit``. Time values convert exactly either way."""
    if type(data) is list and len(data) <= 256 and kind != "category" \
            and (unit is None or unit == time_unit or kind != "duration"):
        types = set(map(type, data))
        if _PLAIN_NUMBERS.issuperset(types):   # (no cell is a list: no flattening)
            col = _few_numbers(kind, data, _NONE_TYPE in types)
            if col is not None:
                return col
    if kind == "category":
        return _parse_category(kpi, name, flatten(kpi, name, data))
    factor = 1.0
    if kind == "duration" and unit is not None and unit != time_unit:
        factor = TIME_UNITS[unit] / TIME_UNITS[time_unit]
    # one column or row as xlwings hands it over needs no flattening (see flatten)
    seq = data if type(data) is list and (not data or type(data[0]) not in (list, tuple)) \
        else flatten(kpi, name, data)
    if type(seq) is list and _PLAIN_NUMBERS.issuperset(map(type, seq)):
        col = _parse_plain_numbers(kpi, name, kind, seq, factor)
        if col is not None:
            return col
    if isinstance(seq, np.ndarray) and seq.dtype.kind in "fiu":
        values = seq.astype(np.float64, copy=False)
        if factor != 1.0:
            with np.errstate(over="ignore"):   # an overflow is refused just below
                values = values * factor
        n = values.shape[0]
        if kind == "flag":
            return _flag_array(kpi, name, values)
        if n:
            # one reduction over the values' bits as unsigned integers: below those of +inf
            # where every value is +0.0 or a positive finite number (a sign bit, NaN or an
            # infinity gives more), and then it is the greatest value's bits (the order of
            # such bits is the order of the values). Most inputs of a KPI are never
            # negative: no blank, no infinity and the greatest value in one pass.
            top = _maximum(values.view(np.uint64))
            if top < _INF_BITS:
                col = Column(values, _all_false(n),
                             _all_false(n) if kind == "score" else None)
                col.cache.update({"nblank": 0, "npresent": n, "nonneg": True,
                                  "hi": top.view(np.float64)})
                if kind == "score":   # no N/A in an array: present is not blank
                    col.cache["no N/A"] = True
                return col
            if top < _SIGN_BIT:
                # no value has its sign bit set: blanks (NaN) or +inf among values >= +0.0;
                # the greatest value says whether one is +inf (blanks skipped)
                return _nonneg_with_blanks(kpi, name, kind, values)
            # no blank and no infinity: two reductions say so without a mask (minimum and
            # maximum are NaN where any value is), and they are the extremes that range
            # rules read (Column.extremes)
            lo, hi = _minimum(values), _maximum(values)
            if -math.inf < lo and hi < math.inf:
                col = Column(values, _all_false(n),
                             _all_false(n) if kind == "score" else None)
                col.cache.update({"nblank": 0, "npresent": n, "extremes": (lo, hi)})
                if kind == "score":   # no N/A in an array: present is not blank
                    col.cache["no N/A"] = True
                return col
        blank = np.isnan(values)
        # an infinity (no cell holds one; an array may) is one of the extremes, which
        # skip blanks (NaN where every value is blank)
        extremes = _extremes(values) if n else None
        if extremes and (extremes[0] == -math.inf or extremes[1] == math.inf):
            i = int(np.flatnonzero(np.isinf(values))[0])
            raise KpiError(kpi, name, "must be a finite number", float(values[i]), row=i + 1)
        col = Column(values, blank, _all_false(n) if kind == "score" else None)
        if extremes:
            col.cache["extremes"] = extremes
        nblank = col.nblank
        if kind == "score":   # no N/A in an array: present is not blank
            col.cache["no N/A"] = True
            col.cache["npresent"] = n - nblank
        return col
    n = len(seq)
    values = np.empty(n, np.float64)
    blank = np.zeros(n, bool)
    na = np.zeros(n, bool) if kind == "score" else None
    scale = TIME_UNITS[time_unit] if kind == "duration" else 1.0
    expected = _EXPECT[kind]
    for i, v in enumerate(seq):
        if v is None or (isinstance(v, str) and not v.strip()) or type(v).__name__ in ("NAType", "NaTType"):
            values[i] = np.nan
            blank[i] = True
            continue
        if isinstance(v, (bool, np.bool_)):
            if kind != "flag":
                raise KpiError(kpi, name, f"holds TRUE/FALSE, but {expected}", row=i + 1)
            values[i] = 1.0 if v else 0.0
        elif isinstance(v, Real):
            f = to_float(v)
            if math.isnan(f):
                values[i] = np.nan
                blank[i] = True
                continue
            if math.isinf(f):
                raise KpiError(kpi, name, "must be a finite number", f, row=i + 1)
            if kind == "flag" and f not in (0.0, 1.0):
                raise KpiError(kpi, name, f"must be 1 or 0 when numeric ({expected})", f, row=i + 1)
            values[i] = f * factor
            if factor != 1.0 and math.isinf(values[i]):   # 1e308 days is no duration
                raise KpiError(kpi, name, "must be a finite number", values[i], row=i + 1)
        elif isinstance(v, str):
            s = v.strip().lower()
            if kind == "flag" and s in FLAG_WORDS:
                values[i] = FLAG_WORDS[s]
            elif kind == "score" and s in NA_WORDS:
                values[i] = np.nan
                na[i] = True
            else:
                raise KpiError(kpi, name, _text_problem(v, expected), row=i + 1)
        elif kind == "duration" and (secs := _time_seconds(v)) is not None:
            values[i] = secs / scale
        elif isinstance(v, (dt.date, dt.time, dt.timedelta)):
            what = "a date" if isinstance(v, dt.date) else "a time value"
            raise KpiError(kpi, name, f"holds {what} ({v}), but {expected}", row=i + 1)
        else:
            raise KpiError(kpi, name, f"holds a {type(v).__name__}, but {expected}", row=i + 1)
    return Column(values, blank, na)


def _flag_array(kpi: str, name: str, values: np.ndarray) -> Column:
    """A float array of a yes/no input: every value 1, 0 or blank (NaN), else a
    sentence: at the first infinity if there is one, else at the first number other
    than 1 and 0. The counts of 1s and 0s are the formula's (Column.count_eq); where
    they and the blanks add up to every row, no value is infinite, so the least and
    greatest value are not looked for (two passes over the values fewer than before).
    (Counting the values' nonzero bits instead of comparing with 0 measured the same.)"""
    n = values.shape[0]
    eq1, eq0 = values == zero_d(1.0), values == zero_d(0.0)
    ones, zeros = int(_count(eq1)), int(_count(eq0))
    if ones + zeros == n:   # valid, neither blank nor infinite
        col = Column(values, _all_false(n))
        col.cache.update({("=", 1.0): eq1, ("=", 0.0): eq0, "nblank": 0,
                          ("#", 1.0): ones, ("#", 0.0): zeros})
        return col
    blank = np.isnan(values)
    col = Column(values, blank)
    col.cache.update({("=", 1.0): eq1, ("=", 0.0): eq0, ("#", 1.0): ones,
                      ("#", 0.0): zeros})
    if ones + zeros + col.nblank == n:   # valid, with blanks, none infinite
        return col
    # an infinity (no cell holds one; an array may) is one of the extremes, which skip
    # blanks
    lo, hi = _extremes(values)
    if lo == -math.inf or hi == math.inf:
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise KpiError(kpi, name, "must be a finite number", float(values[i]), row=i + 1)
    col.cache["extremes"] = (lo, hi)
    _check_flags(kpi, name, col)
    return col


def _extremes(values: np.ndarray, hi: Any = None) -> tuple[Any, Any]:
    """(least, greatest) of the values, blanks (NaN) skipped: NaN where every value is
    blank; ``hi`` where already known. (numpy's fmin and fmax reductions misjudge a
    signalling NaN, whose bits lie between +inf's and the NaN numpy, pandas and DuckDB
    make; no reader hands one over.)"""
    return np.fmin.reduce(values), np.fmax.reduce(values) if hi is None else hi


#: the bits of +inf and of the sign, as unsigned integers (see parse_column's arrays)
_INF_BITS = np.uint64(0x7FF0000000000000)
_SIGN_BIT = np.uint64(0x8000000000000000)


def _nonneg_with_blanks(kpi: str, name: str, kind: str, values: np.ndarray) -> Column:
    """A float array none of whose values has its sign bit set, with NaN (blanks) or
    +inf among them: the blanks' mask and the greatest value (blanks skipped), two
    passes after the bits' reduction that found this, where the old way made five (least
    and greatest value with and without blanks, the blanks' mask). No value is below
    +0.0, so range rules need not look for one (Column.may)."""
    n = values.shape[0]
    blank = np.isnan(values)
    hi = np.fmax.reduce(values)   # (see _extremes)
    if hi == math.inf:   # the first infinity, as the general path names it
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise KpiError(kpi, name, "must be a finite number", float(values[i]), row=i + 1)
    col = Column(values, blank, _all_false(n) if kind == "score" else None)
    col.cache.update({"nonneg": True, "hi": hi})
    nblank = col.nblank
    if kind == "score":   # no N/A in an array: present is not blank
        col.cache["no N/A"] = True
        col.cache["npresent"] = n - nblank
    return col


_SHARED: dict[bool, dict[int, np.ndarray]] = {False: {}, True: {}}


def _shared(n: int, value: bool) -> np.ndarray:
    """A mask of ``n`` rows all ``value`` (n <= 256), read-only and shared by every call
    (a column's blanks where none is blank, cheaper than a fresh array of a few cells)."""
    m = _SHARED[value].get(n)
    if m is None:
        m = np.full(n, value)
        m.flags.writeable = False
        _SHARED[value][n] = m
    return m


_FALSE = np.zeros(1, bool)
_FALSE.flags.writeable = False


def _all_false(n: int) -> np.ndarray:
    """A read-only mask of ``n`` rows all False: a column's blanks (or N/A) where the parse
    found none. Shared for a few cells (see _shared); over more, one False byte seen ``n``
    times (stride 0) instead of ``n`` bytes allocated and zeroed per call, which nothing
    reads row by row where the column's count of blanks is 0."""
    if n <= 256:
        return _shared(n, False)
    return np.ndarray((n,), bool, _FALSE, 0, (0,))


_ZERO_D: dict[float, np.ndarray] = {}


def zero_d(value: float) -> np.ndarray:
    """``value`` as a 0-d float64 array: numpy compares an array with one about twice as
    fast as with a Python float (no scalar conversion per call), with the same result."""
    z = _ZERO_D.get(value)
    if z is None:
        if len(_ZERO_D) > 1024:
            _ZERO_D.clear()
        z = np.array(value, np.float64)
        z.flags.writeable = False   # shared by every call (and thread)
        _ZERO_D[value] = z
    return z


#: count_nonzero without numpy's dispatch layer (a tenth of a 10-cell call is dispatch)
#: nor its Python wrapper (which calls this C function when no axis is given); the
#: public function where a numpy lacks either
_count = (getattr(getattr(getattr(np, "_core", None), "multiarray", None), "count_nonzero", None)
          or getattr(np.count_nonzero, "_implementation", np.count_nonzero))
_minimum, _maximum = np.minimum.reduce, np.maximum.reduce
#: the types of a range that holds nothing but numbers and blanks, as Excel hands it over
_PLAIN_NUMBERS = frozenset({float, int, type(None), np.float64})
_NONE_TYPE = type(None)


def _finite_sum(xs: list) -> bool:
    """Whether the exact sum of the numbers is finite: False where one is NaN or infinite
    (or the sum leaves the range of a float). No warning: math.fsum works in Python floats,
    where numpy's float64 would warn on an overflow."""
    try:
        return math.isfinite(math.fsum(xs))
    except (OverflowError, ValueError):   # an overflow on the way; inf + -inf
        return False


def _few_numbers(kind: str, seq: list, blanks: bool) -> Column | None:
    """A few cells (up to 256) of plain numbers and blanks, in their own unit, checked by
    Python's own list operations, which beat numpy calls on a few cells. None where a
    cell breaks a rule, is NaN or infinite, or does not fit a float: the longer paths
    then find which cell and say why."""
    try:
        values = np.array(seq, np.float64)
    except OverflowError:
        return None
    n = len(seq)
    if kind == "flag":
        # every cell is 1, 0 or blank when the counts add up (no cell equals two of them;
        # NaN equals none); the counts of 1 and 0 are the formula's (Column.count_eq),
        # so no mask is made for them. A blank is None, the only cell that becomes NaN.
        ones, zeros = seq.count(1.0), seq.count(0.0)
        nblank = seq.count(None) if blanks else 0
        if ones + zeros + nblank != n:
            return None
        return Column(values, np.isnan(values) if nblank else _shared(n, False), None,
                      None, None, {"nblank": nblank, "npresent": n - nblank,
                                   ("#", 1.0): ones, ("#", 0.0): zeros})
    filled = [v for v in seq if v is not None] if blanks else seq
    try:   # the exact sum is finite only if every number is (see _finite_sum)
        if not math.isfinite(math.fsum(filled)):
            return None
    except (OverflowError, ValueError):
        return None
    nblank = n - len(filled)
    # no NaN among the numbers (the sum is finite): the blanks are the Nones
    # no N/A among numbers; the least and greatest value let range rules skip their
    # test (sorted: one pass on a few cells, cheaper than min and max; only their
    # comparisons with a bound are read, so -0.0 for 0.0 changes nothing)
    cache = {"nblank": nblank, "npresent": n - nblank}
    if filled:
        order = sorted(filled) if n <= 32 else None
        cache["extremes"] = (order[0], order[-1]) if order else (min(filled), max(filled))
    if kind == "score":
        cache["no N/A"] = True
        return Column(values, np.isnan(values) if nblank else _shared(n, False),
                      _shared(n, False), None, None, cache)
    return Column(values, np.isnan(values) if nblank else _shared(n, False), None, None,
                  None, cache)


def _parse_plain_numbers(kpi: str, name: str, kind: str, seq: list, factor: float
                         ) -> Column | None:
    """The fast path for a list of plain numbers and blanks (None, NaN): one conversion
    and a few vectorised checks, with the same sentence at the same row as the loop of
    parse_column gives (the first row that breaks a rule, whichever rule). None where a
    number does not fit a float (the loop says so)."""
    try:
        values = np.array(seq, np.float64)
    except OverflowError:
        return None
    n = values.shape[0]
    if kind != "flag" and factor == 1.0 and n:
        # no blank and no infinity (see parse_column's arrays), and the extremes
        lo, hi = _minimum(values), _maximum(values)
        if -math.inf < lo and hi < math.inf:
            col = Column(values, _all_false(n),
                         _all_false(n) if kind == "score" else None)
            col.cache.update({"nblank": 0, "npresent": n, "extremes": (lo, hi)})
            if kind == "score":   # no N/A here: present is not blank
                col.cache["no N/A"] = True
            return col
    blank = np.isnan(values)
    nblank = int(_count(blank))
    if kind == "flag":
        col = Column(values, blank)
        col.cache["nblank"] = nblank
        if col.count_eq(1.0) + col.count_eq(0.0) + nblank != n:
            i = int(np.flatnonzero(~(blank | col.equals(0.0) | col.equals(1.0)))[0])
            v = float(values[i])
            if math.isinf(v):
                raise KpiError(kpi, name, "must be a finite number", v, row=i + 1)
            raise KpiError(kpi, name, f"must be 1 or 0 when numeric ({_EXPECT['flag']})", v,
                           row=i + 1)
        return col
    if factor != 1.0:
        with np.errstate(over="ignore"):   # an overflow is refused just below
            values = values * factor
    inf = np.isinf(values)
    if _count(inf):
        i = int(np.flatnonzero(inf)[0])
        raise KpiError(kpi, name, "must be a finite number", float(values[i]), row=i + 1)
    col = Column(values, blank, _all_false(n) if kind == "score" else None)
    col.cache["nblank"] = nblank
    if kind == "score":   # no N/A here: present is not blank
        col.cache["no N/A"] = True
        col.cache["npresent"] = n - nblank
    return col


def _check_flags(kpi: str, name: str, col: Column) -> None:
    """Every non-blank value is 0 or 1; the ==0 / ==1 masks stay cached for the formula."""
    if col.count_eq(1.0) + col.count_eq(0.0) + col.nblank != len(col):
        bad = ~(col.blank | col.equals(0.0) | col.equals(1.0))
        i = int(np.flatnonzero(bad)[0])
        raise KpiError(kpi, name, f"must be 1 or 0 when numeric ({_EXPECT['flag']})",
                       col.values[i], row=i + 1)


def _category_label(kpi: str, name: str, v: Any, row: int) -> str | None:
    """The label of one cell (None for a blank), or the error that cell deserves."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or \
            (isinstance(v, str) and not v.strip()) or type(v).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(v, str):
        if v.strip().upper() in EXCEL_ERRORS:
            raise KpiError(kpi, name, _text_problem(v, ""), row=row)
        return v.strip()
    if isinstance(v, (bool, np.bool_)):
        raise KpiError(kpi, name, "holds TRUE/FALSE, but a label is expected", row=row)
    if isinstance(v, Real):
        return format(v, "g")   # numeric ids are labels too
    return str(v)


#: whitespace among the ASCII characters (str.strip removes these)
_ASCII_SPACE = tuple(c for c in map(chr, range(128)) if c.isspace())


#: cells per piece of :func:`_plain_labels`' check of many cells
_LABELS_PIECE = 16384


def _plain_labels(seq: Sequence[Any]) -> bool:
    """Whether every cell is text that the full parser takes as its own label, unchanged:
    no blank, no padding, no error value (nothing that begins with #), no TRUE/FALSE or
    number. Checked on the cells joined into one string (a join refuses anything that is
    not text), so a million distinct ids cost a few scans instead of a dict of a million
    entries. A column this refuses goes to the full parser, which says why. ``seq`` is a
    list, or an object or text array (converted to lists piece by piece)."""
    n = len(seq)
    if not n:
        return False
    if n < 1000:
        cells = seq if type(seq) is list else seq.tolist()
        try:
            text = "\0".join(cells)
        except TypeError:
            return False
        if "#" in text or text[:1] in ("", "\0") or text[-1:] == "\0":
            return False
        # no whitespace (str.split's is str.strip's), no empty cell
        return len(text.split(None, 1)) == 1 and not text[0].isspace() \
            and not text[-1].isspace() and "\0\0" not in text
    # in pieces: a piece's text (about 150 kB of ids) stays in the cache and reuses the
    # memory of the one before, where the text of a million ids (9 MB) took fresh pages
    # from the kernel on every call and was read again by each check
    for i in range(0, n, _LABELS_PIECE):
        cells = seq[i:i + _LABELS_PIECE]
        try:
            text = "\0".join(cells if type(cells) is list else cells.tolist())
        except TypeError:
            return False
        # a piece's first or last cell empty, an error value
        if "#" in text or text[:1] in ("", "\0") or text[-1:] == "\0":
            return False
        if not text.isascii() or any(c in text for c in _ASCII_SPACE) or _two_nuls(text):
            return False
    return True


def _two_nuls(text: str) -> bool:
    """Whether an ASCII text holds two NULs in a row: in the joined cells of
    :func:`_plain_labels` (neither first nor last character NUL), an empty cell or a cell
    with a NUL at one end (which the full parser then takes as it is). The text's bytes
    read as 16-bit words at even and at odd offsets: a pair of NULs is a word of zero
    bits in one of the two, so the least word of each says it, two reductions without a
    mask (was: the list's own search for "", which compares every cell with it)."""
    b = text.encode("ascii")
    n = len(b)
    if n < 4:
        return "\0\0" in text
    return bool(_minimum(np.frombuffer(b, np.uint16, n // 2)) == 0
                or _minimum(np.frombuffer(b, np.uint16, (n - 1) // 2, 1)) == 0)


def _parse_category(kpi: str, name: str, seq: Sequence[Any]) -> Column:
    """A category column: plain labels (:func:`_plain_labels`) are checked in bulk and
    parsed only when a formula reads them; anything else is parsed cell by cell."""
    text_array = isinstance(seq, np.ndarray) and seq.dtype.kind in "OU"
    if (type(seq) is list or text_array) and _plain_labels(seq):
        col = Column(None, np.zeros(len(seq), bool))
        col.cache["nblank"] = 0
        col.parse = lambda: _factorise(kpi, name, seq.tolist() if text_array else seq)
        return col
    return _factorise(kpi, name, seq)


def _factorise(kpi: str, name: str, seq: Sequence[Any]) -> Column:
    """Factorise: each distinct cell value is parsed once (a channel column of a million
    cells holds a handful), then codes map the results back to rows. ``codes`` and
    ``keys`` (label per code, None for blank) serve lookups without re-sorting.
    Booleans would share a dict key with 1 and 0, so their presence is checked first."""
    n = len(seq)
    if any(issubclass(t, (bool, np.bool_)) for t in set(map(type, seq))):
        i = next(i for i, v in enumerate(seq) if isinstance(v, (bool, np.bool_)))
        _category_label(kpi, name, seq[i], i + 1)
    memo: dict[Any, int] = {}
    try:
        codes = np.fromiter((memo.setdefault(v, len(memo)) for v in seq), np.intp, n)
    except TypeError:  # an unhashable cell value (a nested list): name it
        i = next(i for i, v in enumerate(seq) if not _hashable(v))
        raise KpiError(kpi, name, "holds a list, but a label is expected", row=i + 1) from None
    labels_u: list[str | None] = []
    add = labels_u.append
    for v in memo:
        if type(v) is str:   # the common case, inlined: a million distinct ids stay cheap
            t = v.strip()
            if t and (t[0] != "#" or t.upper() not in EXCEL_ERRORS):
                add(t)
                continue
        try:
            add(_category_label(kpi, name, v, 0))
        except KpiError:   # refused: say so at its first row (found only on this path)
            _category_label(kpi, name, v, int(np.argmax(codes == memo[v])) + 1)
    labels = np.array(labels_u, object)
    blank_u = np.fromiter((lab is None for lab in labels_u), bool, len(labels_u))
    col = Column(labels[codes], blank_u[codes])
    col.codes, col.keys = codes, labels
    return col


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def parse_scalar(kpi: str, name: str, data: Any) -> float:
    """One number: a plain number, or a one-cell range."""
    seq = flatten(kpi, name, data)
    if len(seq) != 1:
        raise KpiError(kpi, name, f"must be a single number, not a range of {len(seq)} cells")
    v = seq[0]
    if v is None or (isinstance(v, str) and not v.strip()) or (
            isinstance(v, Real) and not isinstance(v, bool) and math.isnan(to_float(v))):
        raise KpiError(kpi, name, "is blank; a number is required")
    if isinstance(v, (bool, np.bool_)):
        raise KpiError(kpi, name, "holds TRUE/FALSE, but a number is required")
    if isinstance(v, str):
        raise KpiError(kpi, name, _text_problem(v, "a number is required"))
    if not isinstance(v, Real) or not math.isfinite(to_float(v)):
        raise KpiError(kpi, name, "must be a finite number",
                       to_float(v) if isinstance(v, Real) else v)
    return float(v)


def read_cell(kpi: str, name: str, kind: str, v: Any) -> float:
    """An option's value as a worksheet gives it (the reader of
    :func:`kpi_xl.catalog.rules.resolve_params`): a number or a one-cell range; for
    durations (a table's seconds) also an Excel time value."""
    if kind == "duration":
        col = parse_column(kpi, name, "duration", [v], time_unit="seconds")
        if col.blank[0]:
            raise KpiError(kpi, name, "is blank; a number is required")
        return float(col.values[0])
    return parse_scalar(kpi, name, v)
