"""Raw columns held in DuckDB, and the SQL fast path of each value parser.

A CSV export is read by DuckDB (``readers``) into a table of text columns, one per column
the mapping reads, in the file's order (its ``rowid`` is the record's position). Each
column is a :class:`SqlColumn`: a sequence of the export's text ('' where blank) that is
only turned into Python strings when something asks for them.

The parsers of ``convert`` stay the definition of every conversion. Here, for each of
them, SQL takes the values written in the plain way that parser reads exactly (a decimal
number, a yes/no code, an ISO timestamp, text with no space around it...) and types them
in DuckDB; every other value (blank-looking, spelled oddly, or bad) goes to the Python
parser, which decides it and gives the reason. So SQL never rejects a value: it only
takes the ones whose meaning is not in doubt, and yields for them what the parser would
(``tests/test_load_sql.py`` checks this equality value by value).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

#: every character Python's str.strip() removes (str.isspace), as an RE2 class: "text
#: unchanged by strip()" is "text whose first and last characters are not in it". Written
#: out (computing it walks every code point: 0.1 s at each import);
#: tests/test_load_sql.py checks it against str.isspace
WHITESPACE = ("[\\x{9}\\x{a}\\x{b}\\x{c}\\x{d}\\x{1c}\\x{1d}\\x{1e}\\x{1f}\\x{20}\\x{85}"
              "\\x{a0}\\x{1680}\\x{2000}\\x{2001}\\x{2002}\\x{2003}\\x{2004}\\x{2005}"
              "\\x{2006}\\x{2007}\\x{2008}\\x{2009}\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
              "\\x{205f}\\x{3000}]")
#: a decimal number as pandas.to_numeric and DuckDB read it alike (both round correctly)
DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
UNSIGNED = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
#: date and time fields as pandas and DuckDB read them alike: DuckDB takes hour 24 as the
#: next day's midnight and year 0 as 1 BC, pandas refuses both, so such values (and years
#: outside 1900-2199) go to the parser
_FIELDS = {"%Y": "(?:19|20|21)[0-9]{2}", "%m": "[0-9]{2}", "%d": "[0-9]{2}",
           "%H": "(?:[01][0-9]|2[0-3])", "%M": "[0-5][0-9]", "%S": "[0-5][0-9]"}
#: ISO 8601 without a UTC offset
ISO = ("{Y}-{m}-{d}(?:[ T]{H}:{M}(?::{S}(?:\\.[0-9]{{1,6}})?)?)?"
       .format(**{k[1]: v for k, v in _FIELDS.items()}))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SqlColumn(Sequence):
    """One raw text column of a table in DuckDB (``rowid`` = position); with ``codes``,
    the column as the mapping's codes make it (see :meth:`coded`). ``held``: the table is
    an Arrow table registered under that name (``readers`` reads the file into Arrow where
    pyarrow is installed), held in this list (shared by the file's columns, emptied by
    :meth:`close`), with the position in its column ``_i``."""

    def __init__(self, con, table: str, name: str, n: int, held: list | None = None):
        self.con, self.table, self.name, self.n = con, table, name, n
        self.held = held
        self.pos = "_i" if held is not None else "rowid"
        self._values: list | None = None
        self._codes: dict[str, str] | None = None
        self._recode = None

    def coded(self, codes: dict[str, str], recode) -> "SqlColumn":
        """The column with the mapping's codes applied: ``codes`` maps each export value,
        trimmed and lower-cased, to its meaning. SQL applies them to printable ASCII
        values with no space around them (where trim and lower are the same as Python's);
        ``recode`` (convert's own rule) applies them to the others."""
        out = SqlColumn(self.con, self.table, self.name, self.n, self.held)
        out._codes, out._recode = codes, recode
        return out

    @property
    def ref(self) -> str:
        return quote(self.name)

    @property
    def source(self) -> str:
        """The rows, as SQL: ``_i`` (position), the column (coded), ``_py`` (the codes of
        this value are Python's to apply)."""
        c = self.ref
        # a code for a blank value ('' once trimmed) matches nothing: the Python path
        # (``recode``) codes no blank field, and SQL's CASE would code every empty one
        codes = {k: v for k, v in (self._codes or {}).items() if k}
        if not codes:
            return f"(SELECT {self.pos} AS _i, {c}, false AS _py FROM {self.table})"
        plain = f"(NOT {unstripped(c)} AND {_match(c, '[ -~]*')})"
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in codes.items())
        return (f"(SELECT {self.pos} AS _i, CASE WHEN {plain} THEN coalesce(CASE lower({c}) "
                f"{cases} END, {c}) ELSE {c} END AS {c}, {c} <> '' AND NOT {plain} AS _py "
                f"FROM {self.table})")

    def __len__(self) -> int:
        return self.n

    def _all(self) -> list:
        if self._values is None:
            self._values = self._fetch("")
        return self._values

    def _fetch(self, where: str, params=()) -> list:
        got = self.con.execute(f"SELECT coalesce({self.ref}, '') AS v, _py, _i FROM "
                               f"{self.source}{where}", list(params)).fetchnumpy()
        values = _in_order(got, "v", object).tolist()
        got["_py"] = _in_order(got, "_py", bool)
        for k in np.flatnonzero(np.asarray(got["_py"], dtype=bool)):
            values[k] = self._recode([values[k]], self._codes)[0]
        return values

    def __getitem__(self, i):
        return self._all()[i]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, SqlColumn)) else NotImplemented

    __hash__ = None

    def close(self) -> None:
        """Let DuckDB's (or Arrow's) copy of the file go (the values read so far stay)."""
        self.con.close()
        if self.held is not None:
            self.held.clear()

    def take(self, idx: np.ndarray) -> list:
        """The values at these positions, ascending (as the Python parsers take them)."""
        if self._values is not None or len(idx) > self.n // 20:
            values = self._all()
            return [values[i] for i in idx]
        return self._fetch(" WHERE _i IN (SELECT unnest($1::BIGINT[]))",
                           [np.asarray(idx, dtype=np.int64).tolist()])

    def distinct(self, limit: int, sample: int = 20_000):
        """(the column's distinct values as the column yields them, codes applied, in the
        order they first appear; each row's place among them, as numpy), or None where
        the column has more than ``limit`` distinct values. ``sample``: the first rows
        are counted first, and where more than half of their values differ (an id, a
        time) the column is left at once: grouping a million distinct values costs more
        than typing them."""
        c = self.ref
        if self.held:                     # the file in Arrow: its column, as it is
            import pyarrow.compute as pc

            column = self.held[0].column(self.name)
            head = column.slice(0, sample)
            seen = pc.count_distinct(head).as_py()
            filled = len(head) - (pc.sum(pc.or_kleene(pc.is_null(head), pc.equal(
                head, ""))).as_py() or 0)
        else:
            seen, filled = self.con.execute(
                f"SELECT count(DISTINCT {c}), count(NULLIF({c}, '')) FROM (SELECT {c} FROM "
                f"{self.table} LIMIT {int(sample)})").fetchone()
        if seen > limit or (seen * 2 > filled and seen > 100):
            return None
        if self.held:
            dictionary, places = _dictionary_encoded(column.fill_null(""))
            if len(dictionary) > limit:
                return None
            uniq = dictionary.to_pylist()
        else:                             # a DuckDB table (readers: no pyarrow)
            got = self._encoded(limit)
            if got is None:
                return None
            uniq, places = got
        if self._codes:
            uniq = self._recode(uniq, self._codes)
        return uniq, np.asarray(places, dtype=np.intp)

    def _encoded(self, limit: int):
        """:meth:`distinct` of a DuckDB table, encoded by DuckDB: each row's place is
        found by a join to the distinct values, numbered in the order they first appear
        (as ``pandas.factorize`` numbers them), so no row's text becomes a Python string
        (which had fetched every row's text: 2 M-row bench export without pyarrow, a
        peak of compute 1,067 -> 1,005 MB, its CPU time the same)."""
        c = self.ref
        groups = (f"(SELECT coalesce({c}, '') AS v, min(rowid) AS f FROM {self.table} "
                  "GROUP BY ALL)")
        uniq = [v for v, in self.con.execute(
            f"SELECT v FROM {groups} ORDER BY f LIMIT {int(limit) + 1}").fetchall()]
        if len(uniq) > limit:
            return None
        got = self.con.execute(
            f"WITH d AS (SELECT v, (row_number() OVER (ORDER BY f) - 1)::INTEGER AS p "
            f"FROM {groups}) SELECT d.p AS v, t.rowid AS _i FROM {self.table} AS t "
            f"JOIN d ON coalesce(t.{c}, '') = d.v").fetchnumpy()
        return uniq, _in_order(got, "v", np.intp)

    def typed(self, simple: str, value: str, empty, text: bool = False,
              shape: str | None = None):
        """(value where ``simple`` holds, as numpy; the mask of those positions). An empty
        field is simple and yields ``empty``; a value whose codes are Python's is not.
        ``text`` (``value`` is text, ``empty`` None): with pyarrow installed, the values
        come as pandas' Arrow-backed text (``str``) rather than a numpy array of Python
        strings (see :func:`arrow_text`). ``shape`` (a :class:`Checked` shortcut):
        ``simple`` is "``shape`` holds and ``value`` is not NULL", and the query computes
        ``value`` once, on the rows of that shape."""
        c = self.ref
        blank = f"({c} IS NULL OR {c} = '')"
        # as CASE, not ``b OR (NOT _py AND simple)``: DuckDB evaluates every operand of
        # AND / OR in a select list on every row, and a failing TRY_CAST (each blank field
        # of a timestamp column) writes an error message; a CASE branch runs only on the
        # rows that reach it (solved_at of the 1 M-row bench export: 0.5 -> 0.05 s CPU)
        if shape is not None:
            # the cast once, not in the test and again for the value (a timestamp column
            # of the 1 M-row bench export: 0.42-0.44 -> 0.29-0.34 s CPU)
            result = self.con.execute(
                f"SELECT v, b OR v IS NOT NULL AS s, _i FROM (SELECT _i, {blank} AS b, "
                f"CASE WHEN {blank} OR _py THEN NULL WHEN {shape} THEN {value} END AS v "
                f"FROM {self.source})")
        else:
            result = self.con.execute(
                f"SELECT CASE WHEN s AND NOT b THEN {value} END AS v, s, _i FROM ("
                f"SELECT {c}, _i, {blank} AS b, CASE WHEN b THEN true WHEN _py THEN false "
                f"ELSE coalesce({simple}, false) END AS s FROM {self.source})")
        if text and empty is None and arrow_text() is not None:
            return _arrow_in_order(result)
        got = result.fetchnumpy()
        v = got["v"]
        if isinstance(v, np.ma.MaskedArray):
            got["v"] = v.filled(empty) if v.dtype != object else _filled(v, empty)
        return _in_order(got, "v", None), _in_order(got, "s", bool)


def arrow_text():
    """pandas' Arrow-backed text type (``str`` with pyarrow storage, missing as NaN: what
    pandas makes of a column of Python strings when pyarrow is installed), or None
    without pyarrow. Text fetched from DuckDB as Arrow goes into it without becoming
    Python strings: on a 1 M-row export, each text column cost ~1 s as Python strings
    and as much again when pandas turned them into Arrow for the DataFrame."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    import pandas as pd

    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    return dtype if pd.Series(["x"]).dtype == dtype else None


def arrow_table(result):
    """A DuckDB query's result as an Arrow table (``to_arrow_table`` where this DuckDB has
    it, ``fetch_arrow_table`` in the older releases the project supports)."""
    return (result.to_arrow_table() if hasattr(result, "to_arrow_table")
            else result.fetch_arrow_table())


def _dictionary_encoded(column):
    """(the distinct values of an Arrow text column in the order they first appear, as
    Arrow; each row's place among them, as numpy). Encoded batch by batch, without first
    copying the column's text into one piece (``combine_chunks``; read and convert of the
    2 M-row bench export: peak 924 -> 904 MB, CPU the same): Arrow encodes the batches of
    a column with one table of the values seen so far, so each batch's dictionary is the
    start of the longest one and a place means the same value in every batch. That is
    checked (a few hundred values), and where it does not hold the column is copied into
    one piece and encoded."""
    import pyarrow.compute as pc

    chunks = pc.dictionary_encode(column).chunks
    if chunks:
        whole = max((c.dictionary for c in chunks), key=len)
        if all(c.dictionary.equals(whole.slice(0, len(c.dictionary))) for c in chunks):
            return whole, np.concatenate([c.indices.to_numpy() for c in chunks])
    coded = pc.dictionary_encode(column.combine_chunks())
    return coded.dictionary, coded.indices.to_numpy()


def _arrow_in_order(result):
    """(the text column ``v`` as pandas' Arrow text, the mask ``s`` as numpy), in the
    order of ``_i`` (see :func:`_in_order`)."""
    import pandas as pd
    import pyarrow.compute as pc

    table = arrow_table(result)
    at = table.column("_i").to_numpy()
    if len(at) and not (at[:-1] < at[1:]).all():
        table = table.take(pc.sort_indices(table.column("_i")))
    values = pd.array(table.column("v"), dtype=arrow_text())
    return values, np.asarray(table.column("s").to_numpy(), dtype=bool)


def _in_order(got: dict, name: str, dtype) -> np.ndarray:
    """A fetched column put in the order of ``_i``, the rows' positions: DuckDB runs a
    query over a large table in parallel and does not keep the table's order in every
    plan (a 200,000-row flag column came back with chunks swapped)."""
    values = np.asarray(got[name], dtype=dtype)
    at = np.asarray(got["_i"], dtype=np.int64)
    if len(at) and (at[:-1] < at[1:]).all():
        return values
    order = np.argsort(at, kind="stable")
    return values[order]


def _filled(v: np.ma.MaskedArray, empty) -> np.ndarray:
    out = np.asarray(v.data, dtype=object).copy()
    out[np.ma.getmaskarray(v)] = empty
    return out


def _match(c: str, pattern: str) -> str:
    return f"regexp_full_match({c}, {literal(pattern)})"


def unstripped(c: str) -> str:
    """SQL: the text would change under str.strip()."""
    return f"regexp_matches({c}, {literal('^' + WHITESPACE + '|' + WHITESPACE + '$')})"


# ------------------------------------------------------------------ per parser
def merge(col: SqlColumn, sql: tuple[str, str], empty, parse, dtype=None,
          extra: bool = False, then=None, text: bool = False):
    """Values typed in SQL where ``sql``'s condition holds (``sql`` = (condition, value));
    ``parse`` (a parser of ``convert``, given the list of the other values) decides the
    rest. Returns what ``parse`` returns, for the whole column: (typed, bad), or with
    ``extra`` (typed, bad, the mask ``parse`` gives third). ``then``: what the parser
    does to the values SQL typed (a unit's factor), applied to them the same way.
    ``text``: the values are text: with pyarrow installed they come back as pandas'
    Arrow-backed text rather than a numpy array (see :meth:`SqlColumn.typed`)."""
    typed, ok = col.typed(sql[0], sql[1], empty, text=text, shape=getattr(sql, "shape", None))
    if isinstance(typed, np.ndarray):           # (not Arrow-backed text)
        if dtype is not None:
            typed = typed.astype(dtype, copy=False)
        if then is not None:
            typed = then(typed)
        if not typed.flags.writeable:
            typed = typed.copy()
    hard = np.flatnonzero(~ok)
    bad: dict[int, str] = {}
    more = np.zeros(col.n, bool)
    if len(hard):
        got = parse(col.take(hard))
        typed[hard] = got[0]
        bad = {int(hard[k]): why for k, why in got[1].items()}
        if extra:
            more[hard] = got[2]
    return (typed, bad, more) if extra else (typed, bad)


def expand(typed, places: np.ndarray, text: bool = False):
    """Each row's value from the values of :meth:`SqlColumn.distinct` (``typed``, one per
    distinct value) and the rows' places among them. ``text``: with pyarrow installed,
    as pandas' Arrow-backed text, as :meth:`SqlColumn.typed` gives text."""
    if text and arrow_text() is not None:
        import pandas as pd
        import pyarrow as pa

        # as large_string, the type of pandas' Arrow text: pd.array would otherwise cast
        # the rows taken from string to it
        values = pa.array(np.asarray(typed, dtype=object), type=pa.large_string(),
                          from_pandas=True)
        return pd.array(values.take(pa.array(places)), dtype=arrow_text())
    return np.asarray(typed)[places]


def expand_reasons(bad: dict[int, str], places: np.ndarray, count: int) -> dict[int, str]:
    """The reasons of :func:`expand`'s values, row by row (in row order): ``bad`` gives
    them by distinct value, ``count`` values in all."""
    if not bad:
        return {}
    hit = np.zeros(count, bool)
    hit[np.fromiter(bad, dtype=np.intp)] = True
    rows = np.flatnonzero(hit[places])
    return {int(i): bad[int(k)] for i, k in zip(rows, places[rows])}


def number(col: SqlColumn) -> tuple[str, str]:
    return _match(col.ref, DECIMAL), f"TRY_CAST({col.ref} AS DOUBLE)"


def unsigned(col: SqlColumn) -> tuple[str, str]:
    return _match(col.ref, UNSIGNED), f"TRY_CAST({col.ref} AS DOUBLE)"


def clock(col: SqlColumn) -> tuple[str, str]:
    """h:mm:ss with whole numbers as seconds, summed in the order _duration_seconds sums
    them (hours, then minutes, then seconds)."""
    part = [f"CAST(split_part({col.ref}, ':', {k}) AS DOUBLE)" for k in (1, 2, 3)]
    return (_match(col.ref, "[0-9]{1,9}:[0-5][0-9]:[0-5][0-9]"),
            f"({part[0]} * 3600 + {part[1]} * 60) + {part[2]}")


def codes(col: SqlColumn, table: dict[str, float]) -> tuple[str, str]:
    """Text codes (matched in any case, ASCII only) to their values."""
    low = f"lower({col.ref})"
    keys = ", ".join(literal(k) for k in table)
    values = ", ".join(repr(float(v)) for v in table.values())
    # the value by its code's place in the list: CASE lower(x) WHEN ... compared lower(x)
    # with each code in turn (a flag column of the 1 M-row bench export: 0.30 -> 0.14 s CPU)
    return (f"{_match(col.ref, '[ -~]*')} AND {low} IN ({keys})",
            f"CAST([{values}] AS DOUBLE[])[list_position([{keys}], {low})]")


def one_of(col: SqlColumn, wanted: list[str]) -> tuple[str, str]:
    """Printable ASCII text with no space around it (where trim and lower are Python's),
    compared with these lower-case values."""
    listed = ", ".join(literal(w) for w in wanted) or "NULL"
    return (f"NOT {unstripped(col.ref)} AND {_match(col.ref, '[ -~]*')}",
            f"coalesce(lower({col.ref}) IN ({listed}), false)")


def timestamp(col: SqlColumn, fmt: str | None) -> tuple[str, str] | None:
    """ISO text without an offset, or text in a format of fixed-width numeric fields."""
    if fmt is None:
        return _checked(_match(col.ref, ISO), f"TRY_CAST({col.ref} AS TIMESTAMP)")
    parts = re.split(r"(%.)", fmt)
    if any(p.startswith("%") and p not in _FIELDS for p in parts) or "%" in "".join(
            p for p in parts if not p.startswith("%")):
        return None
    pattern = "".join(_FIELDS[p] if p.startswith("%") else re.escape(p) for p in parts)
    value = f"TRY_STRPTIME({col.ref}, {literal(fmt)})"
    return _checked(_match(col.ref, pattern), value)


class Checked(tuple):
    """A shortcut (condition, value) whose condition is "the text has ``shape`` and
    ``value`` of it is not NULL": :meth:`SqlColumn.typed` then computes the value once."""
    shape: str


def _checked(shape: str, value: str) -> tuple[str, str]:
    """(the text has this shape and ``value`` of it is not NULL, ``value``): the TRY_ cast
    only on text of the shape (as CASE: see :meth:`SqlColumn.typed`)."""
    out = Checked((f"CASE WHEN {shape} THEN {value} IS NOT NULL ELSE false END", value))
    out.shape = shape
    return out


def text(col: SqlColumn, lower: bool) -> tuple[str, str]:
    """Text that strip() leaves as it is (lowered: ASCII text only)."""
    simple = f"NOT {unstripped(col.ref)}"
    if lower:
        return f"{simple} AND {_match(col.ref, '[ -~]*')}", f"lower({col.ref})"
    return simple, col.ref
