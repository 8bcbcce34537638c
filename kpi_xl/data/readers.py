"""Read a source file into raw columns, losing nothing and crashing on nothing.

* CSV: any of comma, semicolon, tab or pipe (detected, or set in the source); quoted
  fields with line breaks; UTF-8 with or without a byte-order mark (another encoding is
  a setting, and a wrong one is named with the byte and line where it breaks). A record
  with the wrong number of fields is rejected with its row, not skipped. A well-formed
  UTF-8 file of 1 MB or more is read by DuckDB into a table of text columns
  (``rawcols.SqlColumn``); any other, or one DuckDB would read differently, by Python's
  csv module, which gives the same rows and row numbers and names each fault.
* XLSX: python-calamine (about ten times openpyxl's speed), typed cells kept as they are
  (numbers, dates, times, booleans); the first row is the header.
* Parquet: DuckDB.

A file that cannot be read at all raises :class:`SourceError` with a sentence saying why
(missing, empty, not the format its name says, headers that are not there); the loader
collects them so one run reports every broken file at once.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import itertools
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable
from xml.etree import ElementTree

import numpy as np

from ..errors import KpiXlError
from ..progress import Poll, Reading
from .rejects import ROW_REJECTED, Rejects
from .sources import ConfigError, Source, resolve_by_name

DELIMITERS = ",;\t|"
_SNIFF_BYTES = 1 << 16


class SourceError(KpiXlError):
    """A source file that cannot be used at all; the message says what and where."""

    def __init__(self, source: Source, message: str):
        self.source = source
        super().__init__(f"{source.file} (source '{source.name}'): {message}")


@dataclass
class RawTable:
    header: list[str]
    columns: dict[str, list]      # header -> values, for the columns the mapping reads
    rows: np.ndarray              # the row number of each record as a spreadsheet shows it
    read: int                     # records in the file (incl. structurally broken ones)
    source: Source                # the source, with by-name columns resolved
    #: a column made from several of the file's (an unpivot): the header of each value
    headers: dict[str, list] = field(default_factory=dict)


def read_source(source: Source, rejects: Rejects, on_read: Reading | None = None) -> RawTable:
    """The source's file read. ``on_read(rows, bytes)`` hears, while a CSV file is read,
    how far it has got (about every ``ROWS_PER_REPORT`` rows on Python's reader; a few
    times a second from DuckDB's share of its query, as estimates)."""
    from .shape import unpivot_table

    raw = _read_source(source, rejects, on_read)
    return unpivot_table(raw) if raw.source.unpivot is not None else raw


def _read_source(source: Source, rejects: Rejects, on_read: Reading | None = None) -> RawTable:
    if not source.path.is_file():
        raise SourceError(source, f"file not found at {source.path}")
    if source.path.stat().st_size == 0:
        raise SourceError(source, "the file is empty (not even a header row)")
    if source.format == "csv":
        return _read_csv(source, rejects, on_read)
    if source.format == "xlsx":
        return _read_xlsx(source)
    return _read_parquet(source)


def _needed(source: Source) -> list[str]:
    out: dict[str, None] = {}
    for c in source.columns:
        for name in c.reads:
            out.setdefault(name)
    for e in source.exclude:
        for c in e.columns:
            out.setdefault(c)
    if source.unpivot is not None:
        out.update(dict.fromkeys(source.unpivot.columns))
    return list(out)


def _check_header(source: Source, header: list[str]) -> tuple[Source, dict[str, int]]:
    try:
        source = resolve_by_name(source, [str(h).strip() for h in header])
    except ConfigError as e:
        raise SourceError(source, str(e).split(": ", 1)[1]) from None
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(h.strip() if isinstance(h, str) else str(h), i)
    if source.unpivot is not None:
        source = _unpivot_columns(source, list(index))
    missing = [n for n in _needed(source) if n not in index]
    if missing:
        shown = ", ".join(repr(h) for h in list(index)[:30])
        raise SourceError(source, "the mapping names column(s) "
                          + ", ".join(repr(m) for m in missing)
                          + f" that the file does not have. Its header row has: {shown}. "
                          "Check the spelling in the config, or that this is the right file.")
    return source, index


def _unpivot_columns(source: Source, header: list[str]) -> Source:
    import dataclasses

    taken = set(_needed(source))
    unpivot = source.unpivot.resolve(header, taken)
    if not unpivot.columns:
        raise SourceError(source, f"no column header matches the unpivot pattern "
                          f"{unpivot.pattern!r}. Its header row has: "
                          + ", ".join(repr(h) for h in header[:30]))
    return dataclasses.replace(source, unpivot=unpivot)


def _title_rows(source: Source, reader) -> None:
    """Skip the rows above the header (``header_row``)."""
    for k in range(source.header_row - 1):
        try:
            next(reader)
        except StopIteration:
            raise SourceError(source, f"has {k} row{'s' if k != 1 else ''}, but its "
                              f"header is set at row {source.header_row} (header_row)") \
                from None
        except csv.Error as e:
            raise SourceError(source, f"row {k + 1}, above the header, cannot be read: "
                              f"{e}") from None


# ---------------------------------------------------------------------------- CSV
#: files from this size on are read by DuckDB: below it, DuckDB's fixed cost (a
#: connection, a table, a query a column: ~0.3 s) is more than Python's reading (measured
#: 2026-12-07, 8 columns: 0.8 s each at 1 MB, DuckDB 1.5 s against 2.9 s at 3 MB).
#: The loading tests run with 0 as well: KPI_XL_TEST_DUCKDB_CSV=1 (tests/conftest.py).
DUCKDB_FROM_BYTES = 1 << 20


def _read_csv(source: Source, rejects: Rejects, on_read: Reading | None = None) -> RawTable:
    """DuckDB reads a well-formed UTF-8 file of some size (:func:`_read_csv_duckdb`); any
    other file, or one it finds a fault in, is read by Python's csv module, which names
    each fault."""
    fast = _read_csv_duckdb(source, on_read) \
        if source.path.stat().st_size >= DUCKDB_FROM_BYTES else None
    return fast if fast is not None else _read_csv_python(source, rejects, on_read)


_HEAD_BYTES = 1 << 22
#: Python's reader tells ``on_read`` where it is every so many rows; while DuckDB reads,
#: its share of the query is asked for every so many seconds (the Meter says at most a
#: line a second of either)
ROWS_PER_REPORT = 50_000
POLL_SECONDS = 0.25
_NULL = "\x01"            # DuckDB's NULL text: an empty field stays '', a missing one NULL


def _read_csv_duckdb(source: Source, on_read: Reading | None = None) -> RawTable | None:
    """The file read by DuckDB into a table of the mapping's columns (as text), or None
    where Python's reader must read it to say what is wrong (or to read it alike): not
    UTF-8, a header it cannot place, blank lines (which DuckDB skips, shifting row
    numbers), spaces around a quoted field (which DuckDB trims and the csv module
    refuses), or any record with another number of fields than the header (DuckDB
    would drop a trailing delimiter; an extra column read past the header catches it).
    Title rows, header and row numbers are as Python's reader gives them.

    While DuckDB reads, a thread asks it how far its query is (``query_progress``) and
    tells ``on_read`` the bytes that share of the file is, and the rows, estimated from
    the bytes per row of the file's head."""
    import mmap

    import duckdb

    if source.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None
    try:
        with open(source.path, "rb") as f, \
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            head_bytes = mm[:_HEAD_BYTES]
            if size > _HEAD_BYTES:             # a whole line: no character cut in two
                head_bytes = head_bytes[:head_bytes.rfind(b"\n") + 1]
            head = head_bytes.decode("utf-8-sig")
            if not head.strip():
                return None
            below = _below_titles(head, source.header_row)
            if size > _HEAD_BYTES and len(below) < _SNIFF_BYTES:
                return None
            delim = source.delimiter or _sniff(source, below)
            end = size - (len(mm[max(0, size - 64):]) - len(mm[max(0, size - 64):]
                                                            .rstrip(b"\r\n")))
            # (a search for one byte is a memchr: the two-byte ones only where it hits)
            cr = mm.find(b"\r") >= 0
            # a field of DuckDB's NULL text alone would be read as blank, where the csv
            # module reads the character (a memchr: ~6 ms on the 90 MB bench export)
            if mm.find(_NULL.encode()) >= 0:
                return None
            if any(mm.find(b, 0, end) >= 0 for b in
                   ((b"\n\n", b"\n\r\n", b"\r\r") if cr else (b"\n\n",))):
                return None
            if mm.find(b'"') >= 0 and any(mm.find(b) >= 0 for b in
                                          (b' "', b'" ', b'\t"', b'"\t')):
                d = re.escape(delim.encode())
                if re.search(rb'(?:' + d + rb'|^)[ \t]+"|"[ \t]+(?:' + d + rb'|\r|\n|$)',
                             mm, re.M):
                    return None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    lines = _Lines(head)
    reader = csv.reader(lines, delimiter=delim, strict=True)
    try:
        titles = [next(reader) for _ in range(source.header_row - 1)]
        header = next(reader)
    except (csv.Error, StopIteration):
        return None
    if len(lines.taken) != source.header_row or any(f == [] for f in titles) \
            or "\r" in "".join(lines.taken).replace("\r\n", ""):
        return None
    source, index = _check_header(source, header)
    wanted = {n: index[n] for n in _needed(source)}
    width = len(header)
    con = duckdb.connect()
    if on_read is not None:
        con.execute("SET enable_progress_bar = true")          # query_progress() needs it
        con.execute("SET enable_progress_bar_print = false")   # ... but not the bar
        # bytes per row, from the rows of the head below the header (the whole file if
        # it is all head)
        head_rows = max(head.count("\n") - len(lines.taken), 1)
        above = len("".join(lines.taken).encode())
        per_row = max((len(head_bytes) if size > _HEAD_BYTES else size) - above, 1) / head_rows

        def watching() -> Poll:
            return Poll(lambda: con.query_progress() / 100, lambda share: on_read(
                int(share * size / per_row), int(share * size)), POLL_SECONDS)
    else:
        watching = contextlib.nullcontext
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width + 1)) + "}"
    order = list(dict.fromkeys([*wanted.values(), *range(width)]))
    blank = [f"regexp_full_match(c{i}, '{_ws()}*')" for i in order]
    # a row of blank fields: as CASE, the first field that is not blank ends the test
    # (DuckDB evaluates every operand of an AND in a select list: 19 regular expressions
    # a row on the bench export, 0.7 s CPU of 2.3 at 1 M rows; now one where the first field is filled). The ELSE is the
    # AND itself, so a NULL field gives what it gave before
    empty = ("CASE " + " ".join(f"WHEN NOT {b} THEN false " for b in blank)
             + "ELSE " + " AND ".join(blank) + " END")
    from .rawcols import arrow_table, arrow_text

    # where pyarrow is installed the file is read into an Arrow table (held in this list,
    # which the columns share and empty when done), not copied into a DuckDB table: its
    # text takes less memory and CPU (the 2 M-row bench export, the read alone: peak
    # 544-556 MB against 690-695 MB, CPU 3.4-4.2 s against 4.7-5.1 s), and the columns
    # typed once per distinct value are encoded from it without a query
    held = [] if arrow_text() is not None else None
    for parallel in ("true", "false"):
        try:
            select = (
                "SELECT " + "".join(f"c{i}, " for i in sorted(set(wanted.values())))
                + f"c{width - 1} IS NULL OR c{width} IS NOT NULL AS _ragged, {empty} AS _empty "
                f"FROM read_csv({_sql_text(source.path.as_posix())}, header = false, "
                f"skip = {len(lines.taken)}, delim = {_sql_text(delim)}, quote = '\"', "
                f"escape = '\"', auto_detect = false, strict_mode = true, "
                f"null_padding = true, nullstr = '{_NULL}', encoding = 'utf-8', "
                f"parallel = {parallel}, "
                f"columns = {cols})")
            with watching():
                if held is not None:
                    held.append(arrow_table(con.execute(select)))
                else:
                    con.execute("CREATE OR REPLACE TABLE raw AS " + select)
            break
        except duckdb.Error:
            if parallel == "false":
                con.close()
                return None
    first = source.header_row + 1
    if held is not None:
        return _arrow_raw(con, held, header, wanted, first, source)
    total, ragged, n_empty = con.execute(
        "SELECT count(*), count(*) FILTER (_ragged), count(*) FILTER (_empty) FROM raw") \
        .fetchone()
    if ragged:
        con.close()
        return None
    if n_empty:
        kept = con.execute("SELECT rowid FROM raw WHERE NOT _empty ORDER BY rowid") \
            .fetchnumpy()["rowid"]
        con.execute("CREATE OR REPLACE TABLE raw AS SELECT * FROM raw WHERE NOT _empty "
                    "ORDER BY rowid")
        rows = np.asarray(kept, dtype=np.int64) + first
    else:
        rows = np.arange(total, dtype=np.int64) + first
    from .rawcols import SqlColumn

    n = total - n_empty
    columns = {name: SqlColumn(con, "raw", f"c{i}", n) for name, i in wanted.items()}
    return RawTable(header, columns, rows, n, source)


def _arrow_raw(con, held: list, header, wanted: dict, first: int, source: Source):
    """The RawTable of a file read into Arrow (``held[0]``): its rows of blank fields left
    out, each row's position as ``_i``, registered in ``con`` as ``raw``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..frames import in_batches
    from .rawcols import SqlColumn

    table = held[0]
    if pc.any(table.column("_ragged")).as_py():
        con.close()
        held.clear()
        return None
    empty = np.asarray(table.column("_empty").to_numpy(zero_copy_only=False), dtype=bool)
    table = table.drop_columns(["_ragged", "_empty"])
    if empty.any():
        kept = np.flatnonzero(~empty)
        table = table.filter(pa.array(~empty))
    else:
        kept = np.arange(table.num_rows, dtype=np.int64)
    n = table.num_rows
    table = table.append_column("_i", pa.array(np.arange(n, dtype=np.int64)))
    # registered in record batches (kpi_xl.frames.in_batches: slices, no copy): DuckDB
    # scans a registered Arrow table in parallel over its batches only, one thread a
    # batch, and DuckDB's result comes in batches of a million rows (the 1 M-row export:
    # one batch, so each typing query ran on one thread)
    table = in_batches(table)
    held[0] = table
    con.register("raw", table)
    columns = {name: SqlColumn(con, "raw", f"c{i}", n, held) for name, i in wanted.items()}
    return RawTable(header, columns, kept.astype(np.int64) + first, n, source)


class _Lines:
    """Lines of a text for the csv module, keeping the ones it has taken."""

    def __init__(self, text: str):
        self._it = iter(io.StringIO(text, newline=""))
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.taken.append(line)
        return line


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ws() -> str:
    from .rawcols import WHITESPACE

    return WHITESPACE


def _read_csv_python(source: Source, rejects: Rejects, on_read: Reading | None = None) \
        -> RawTable:
    enc = "utf-8-sig" if source.encoding.lower().replace("_", "-") in ("utf-8", "utf8") \
        else source.encoding
    try:
        raw = source.path.read_bytes()
        text = raw.decode(enc)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise SourceError(source, f"is not valid {source.encoding} text (byte {e.start:,}, "
                          f"line {line}). Save it as 'CSV UTF-8' from Excel, or set "
                          "encoding = \"cp1252\" (or the file's encoding) for this source.") from None
    except LookupError:
        raise SourceError(source, f"unknown encoding {source.encoding!r}") from None
    except OSError as e:
        raise SourceError(source, f"cannot be read: {e.strerror}") from None
    if not text.strip():
        raise SourceError(source, "the file is empty (not even a header row)")
    delim = source.delimiter or _sniff(source, _below_titles(text, source.header_row))
    # the csv module refuses a field over 131,072 characters as if the quoting were broken;
    # the whole file is in memory already, so a field as long as the file is no risk
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, 2**31 - 1)))
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delim, strict=True)
    _title_rows(source, reader)
    try:
        header = next(reader)
    except csv.Error as e:
        raise SourceError(source, f"the header row cannot be read: {e}") from None
    except StopIteration:
        raise SourceError(source, f"has no row {source.header_row}, where its header is set "
                          "(header_row)") from None
    source, index = _check_header(source, header)
    wanted = {n: index[n] for n in _needed(source)}
    # a million small lists would set off the cyclic garbage collector over and over,
    # each pass walking all of them (none can form a cycle): pause it while reading, and
    # let the lists go before it runs again
    collecting = gc.isenabled()
    gc.disable()
    try:
        # the bytes read: the characters read, in the file's bytes per character
        per_char = len(raw) / max(len(text), 1)
        return _records(source, reader, header, wanted, delim, rejects, on_read,
                        lambda: int(stream.tell() * per_char))
    finally:
        if collecting:
            gc.enable()




def _records(source: Source, reader, header: list[str], wanted: dict[str, int], delim: str,
             rejects: Rejects, on_read: Reading | None = None,
             where: Callable[[], int] | None = None) -> RawTable:
    records: list[list[str]] = []
    try:
        # the csv module does the work, a block of rows at a time (extend keeps the rows
        # of a block read before a fault, so a fault's row number stays right)
        while True:
            before = len(records)
            records.extend(itertools.islice(reader, ROWS_PER_REPORT))
            if len(records) - before < ROWS_PER_REPORT:
                break
            if on_read is not None:
                on_read(len(records), where() if where is not None else 0)
    except csv.Error as e:
        # the csv module cannot resume after broken quoting: the file is unusable
        raise SourceError(source, f"row {len(records) + 2} is malformed CSV ({e}); fix the "
                          "quoting there and run again") from None
    # row k of the file (header = row h) is records[k - h - 1], as a spreadsheet numbers
    # them; empty rows (a blank line, or only delimiters) are not records
    first = source.header_row + 1
    width = len(header)
    empty = [not "".join(f).strip() for f in records]
    bad_width = [len(f) != width and not e for f, e in zip(records, empty, strict=True)]
    for k in (k for k, b in enumerate(bad_width) if b):
        f = records[k]
        rejects.add(source.name, source.file, k + first, "", delim.join(f)[:120],
                    f"has {len(f)} fields where the header has {width}", ROW_REJECTED)
    good = [k for k, (e, b) in enumerate(zip(empty, bad_width, strict=True)) if not e and not b]
    kept = [records[k] for k in good] if len(good) != len(records) else records
    if kept:
        columns = list(zip(*kept, strict=True))
        cols = {n: list(columns[i]) for n, i in wanted.items()}
        del columns
    else:
        cols = {n: [] for n in wanted}
    read = len(records) - sum(empty)
    del records, kept
    return RawTable(header, cols, np.asarray(good, dtype=np.int64) + first, read, source)


def _below_titles(text: str, header_row: int) -> str:
    """The text from the header's line on (title rows confuse delimiter sniffing)."""
    at = 0
    for _ in range(header_row - 1):
        nl = text.find("\n", at)
        if nl < 0:
            return text
        at = nl + 1
    return text[at:]


def _sniff(source: Source, text: str) -> str:
    if source.path.suffix.lower() == ".tsv":
        return "\t"
    sample = text[:_SNIFF_BYTES]
    first = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # the header decides: the candidate that splits it into the most fields
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


# ---------------------------------------------------------------------------- XLSX
# python-calamine holds a sheet as one dense rectangle from A1 to its farthest cell, 32
# bytes a cell, whatever the file holds: a 5 KB file with one cell at XFD1048576 asks for
# 550 GB and aborts the process. So before calamine sees a sheet, its XML is streamed once
# (about a fifth of calamine's own reading time) to find its farthest row and column, and a
# sheet whose rectangle passes MAX_CELLS (64 columns by Excel's full height, 2 GiB in
# calamine: a full-height export of 60 columns, or 300,000 rows of 200 columns, fit) or
# Excel's own limits is refused by name, with the cell that makes it so.
MAX_ROWS = 1_048_576
MAX_COLS = 16_384                 # column XFD, Excel's last
MAX_CELLS = 64 * MAX_ROWS
_CHUNK = 1 << 23
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ROW_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\b[^>]*?\sr="([0-9]{1,9})"')


def _above(value: str, alphabet: str, longest: int) -> str:
    """A regular expression matching the strings over ``alphabet`` (in its order, without
    leading zeros for digits) that are greater than ``value``: longer ones, or as long
    and greater at the first difference."""
    cls = f"[{alphabet[0]}-{alphabet[-1]}]"
    n = len(value)
    alts = [f"{cls}{{{n + 1},{longest}}}"] if n < longest else []
    for i, c in enumerate(value):
        higher = alphabet[alphabet.index(c) + 1:]
        if higher:
            rest = f"{cls}{{{n - i - 1}}}" if n - i - 1 else ""
            alts.append(re.escape(value[:i]) + f"[{higher[0]}-{higher[-1]}]" + rest)
    return "(?:" + "|".join(alts) + ")" if alts else "(?!)"


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + _LETTERS.index(ch) + 1
    return n


def _sheet_part(z: zipfile.ZipFile, sheet: str | None) -> list[str]:
    """The zip part(s) of the sheet calamine will read (every worksheet if unsure)."""
    every = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    try:
        wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return every
    sheets = [el for el in wb.iter() if el.tag.endswith("}sheet") or el.tag == "sheet"]
    chosen = next((el for el in sheets if el.get("name") == sheet), None) if sheet else \
        (sheets[0] if sheets else None)
    rid = chosen.get(_NS_REL) if chosen is not None else None
    target = next((r.get("Target") for r in rels.iter() if r.get("Id") == rid), None)
    if not target:
        return every
    part = target.lstrip("/") if target.startswith("/") else \
        posixpath.normpath(posixpath.join("xl", target))
    return [part] if part in z.namelist() else every


def _check_extent(source: Source) -> None:
    """Refuse, by name, a sheet whose rectangle from A1 to its farthest cell passes
    MAX_CELLS or Excel's limits. Rows come from the ``<row r=…>`` tags (the last of each
    chunk: rows are in order) and from any cell reference past them; the widest column
    from cell references wider than any seen before (a search that rarely matches)."""
    try:
        with zipfile.ZipFile(source.path) as z:
            for part in _sheet_part(z, source.sheet):
                _scan_extent(source, z, part)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError):
        return          # not a zip (or unreadable): calamine says why below


def _scan_extent(source: Source, z: zipfile.ZipFile, part: str) -> None:
    rows, cols, far = 1, "A", "A1"
    tail = b""

    def wider(c: str):
        return re.compile((' r="(' + _above(c, _LETTERS, 3) + ')([0-9]{1,9})"').encode())

    def taller(r: int):
        return re.compile((' r="([A-Z]{1,3})(' + _above(str(r), "0123456789", 9) + ')"').encode())

    col_re, row_re = wider(cols), taller(rows)
    with z.open(part) as f:
        while chunk := f.read(_CHUNK):
            buf = tail + chunk
            at = max(buf.rfind(b"<row"), buf.rfind(b":row"))       # the chunk's last row
            last = _ROW_TAG.search(buf, max(0, at - 32)) if at >= 0 else None
            if last is not None and int(last.group(1)) > rows:
                rows, far = int(last.group(1)), f"row {int(last.group(1)):,}"
                row_re = taller(rows)
            while m := row_re.search(buf):
                rows, far = int(m.group(2)), (m.group(1) + m.group(2)).decode()
                row_re = taller(rows)
            while m := col_re.search(buf):
                cols, far = m.group(1).decode(), (m.group(1) + m.group(2)).decode()
                col_re = wider(cols)
            width = _column_number(cols)
            if rows > MAX_ROWS or width > MAX_COLS or rows * width > MAX_CELLS:
                raise SourceError(source, f"reaches {far}: its cells span {width:,} "
                                  f"column{'s' if width != 1 else ''} "
                                  f"(to {cols}) by {rows:,} rows, more than kpi-xl reads "
                                  f"({MAX_CELLS:,} cells, Excel's {MAX_ROWS:,} rows at most). "
                                  "Delete the stray cells or columns past the data, or export "
                                  "only the columns the mapping reads.")
            tail = buf[-64:]


def _read_xlsx(source: Source) -> RawTable:
    import python_calamine as pc

    _check_extent(source)
    try:
        wb = pc.CalamineWorkbook.from_path(str(source.path))
        names = wb.sheet_names
        if source.sheet is not None and source.sheet not in names:
            raise SourceError(source, f"has no sheet {source.sheet!r} (sheets: "
                              f"{', '.join(map(repr, names))})")
        sheet = wb.get_sheet_by_name(source.sheet or names[0])
        data = sheet.to_python(skip_empty_area=False)
    except (pc.CalamineError, pc.PasswordError, pc.XmlError, pc.ZipError,
            pc.WorksheetNotFound) as e:
        raise SourceError(source, f"is not a readable .xlsx workbook ({type(e).__name__}: "
                          f"{e}). Open it in Excel and save it again as .xlsx.") from None
    if not data:
        raise SourceError(source, "the sheet is empty (not even a header row)")
    if len(data) < source.header_row:
        raise SourceError(source, f"the sheet has {len(data)} rows, but its header is set at "
                          f"row {source.header_row} (header_row)")
    header = [str(h).strip() if h is not None else "" for h in data[source.header_row - 1]]
    source, index = _check_header(source, header)
    wanted = {n: index[n] for n in _needed(source)}
    cols: dict[str, list] = {n: [] for n in wanted}
    rows: list[int] = []
    for r, values in enumerate(data[source.header_row:], start=source.header_row + 1):
        if all(v == "" or v is None for v in values):
            continue
        for n, i in wanted.items():
            v = values[i] if i < len(values) else ""
            cols[n].append(v)
        rows.append(r)
    return RawTable(header, cols, np.asarray(rows, dtype=np.int64), len(rows), source)


# ---------------------------------------------------------------------------- Parquet
def _read_parquet(source: Source) -> RawTable:
    import duckdb

    try:
        df = duckdb.sql(f"SELECT * FROM read_parquet('{source.path.as_posix()}')").df()
    except duckdb.Error as e:
        raise SourceError(source, f"is not a readable Parquet file ({e})") from None
    header = [str(c) for c in df.columns]
    source, index = _check_header(source, header)
    cols = {n: df[header[index[n]]].tolist() for n in _needed(source)}
    return RawTable(header, cols, np.arange(1, len(df) + 1, dtype=np.int64), len(df), source)
