"""Every input row is used or rejected with a reason: the collector and the report.

Five things can happen to a row or value, each written to the rejects report with the
source, file, row, column, value, reason and the KPIs the row leaves (``kpis``):

``row rejected``      the row cannot be used (no date, unknown channel, duplicate id...);
                      it leaves every KPI (``kpis`` = all);
``row excluded``      the mapping leaves it out on purpose (e.g. the bank's PHANTOM calls);
``left out of KPIs``  the row breaks an input rule of some KPIs (an answered call without
                      its queue wait): it leaves those KPIs, named in ``kpis``, and stays
                      in every other one;
``value ignored``     one value is bad (a negative talk time), so the row is used without
                      it; where that leaves the row outside some KPIs' rules (AHT needs
                      the talk time of a call that has hold or wrap-up time), ``kpis``
                      names them, on this one line;
``row placed``        the row has no date, and the source's ``undated`` rule placed it
                      (an open or pending ticket, at the export's latest time): it is
                      used, counted as open there, and the reason says where and why.

A row is on the report under one action only: a rejected row is not also listed as used
without a value.

Row numbers are the ones a person sees when opening the file in Excel: the header is row
1, the first record row 2, whatever line breaks quoted fields contain.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

ROW_REJECTED, ROW_EXCLUDED, VALUE_IGNORED = "row rejected", "row excluded", "value ignored"
LEFT_OUT = "left out of KPIs"
ROW_PLACED = "row placed"
#: ``kpis`` on a rejected or excluded row: it leaves every KPI
ALL_KPIS = "all"
REPORT_COLUMNS = ("source", "file", "row", "column", "value", "reason", "action", "kpis")


@dataclass
class Reject:
    source: str
    file: str
    row: int | None
    column: str
    value: str
    reason: str
    action: str
    kpis: str = ""          # the KPIs the row leaves (titles, comma-separated), or 'all'
    period: str = ""        # the row's month, when its date was read (for the guards)

    @property
    def leaves(self) -> str:
        """The report's ``kpis`` cell."""
        return self.kpis or (ALL_KPIS if self.action in (ROW_REJECTED, ROW_EXCLUDED) else "")


@dataclass
class Accounting:
    """Per source: read = used + rejected + excluded; ignored values are within used rows,
    and so are the rows left out of some KPIs (``left_out``) by those KPIs' input rules."""
    source: str
    file: str
    table: str
    read: int = 0
    used: int = 0
    rejected: int = 0
    excluded: int = 0
    values_ignored: int = 0
    left_out: int = 0
    #: the config source this file belongs to (a source may read several files)
    group: str = ""
    #: used rows without a date that the source's ``undated`` rule placed (open tickets)
    placed: int = 0
    #: where they were placed, and why there (for the line)
    placed_at: str = ""

    @property
    def balanced(self) -> bool:
        return self.read == self.used + self.rejected + self.excluded

    def line(self) -> str:
        s = (f"{self.file}: {self.read:,} rows read = {self.used:,} used + "
             f"{self.rejected:,} rejected")
        if self.excluded:
            s += f" + {self.excluded:,} excluded"
        notes = []
        if self.values_ignored:
            word = "value" if self.values_ignored == 1 else "values"
            notes.append(f"{self.values_ignored:,} {word} ignored in used rows")
        if self.left_out:
            word = "row" if self.left_out == 1 else "rows"
            notes.append(f"{self.left_out:,} used {word} left out of some KPIs")
        if self.placed:
            word = "row" if self.placed == 1 else "rows"
            notes.append(f"{self.placed:,} open or pending {word} without a date placed at "
                         f"{self.placed_at}")
        if notes:
            s += " (" + "; ".join(notes) + ")"
        return s


class Rejects:
    """The rejects report of a run, which can be far larger than memory.

    Lines are kept in a DuckDB table with a memory limit (``MEMORY``): past it, DuckDB
    moves the table's blocks to a private temporary folder (removed with the report), so
    a file whose every row is bad never holds the run in memory. New lines wait in a
    short buffer and are written in batches. Readers ask for what they need, never for
    the whole list: :meth:`find` streams the lines of a source or action,
    :meth:`reasons` and :meth:`tally` count them, :meth:`merge_kpis` adds KPIs to
    existing lines, :meth:`summary` gives the top reasons and :meth:`write_csv` streams
    the report in its order. ``items`` builds the whole list, for small reports and
    tests only; a line taken from it is a copy (change lines with :meth:`merge_kpis`).

    Measured with 2,000,000 lines (tests/test_rejects_stream.py, bench/README.md): the
    list this replaced peaked about 745 MB above the process's start, this about 180 MB.
    """

    #: what DuckDB may hold in memory before it moves the table to disk
    MEMORY = "128MB"
    _BATCH = 20_000

    def __init__(self, items: Iterable[Reject] = ()):
        import tempfile
        import weakref

        import duckdb

        self._folder = tempfile.mkdtemp(prefix="kpi-xl-rejects-")     # private (0700)
        self._db = duckdb.connect(":memory:", config={
            "memory_limit": self.MEMORY, "temp_directory": self._folder, "threads": 1})
        # a query over millions of lines that takes over 2 s (a busy machine) made DuckDB
        # draw its progress bar on stdout, inside kpi-xl's own output
        self._db.execute("SET enable_progress_bar = false")
        self._db.execute("CREATE TABLE lines (seq BIGINT, source VARCHAR, file VARCHAR, "
                         "row BIGINT, col VARCHAR, value VARCHAR, reason VARCHAR, "
                         "action VARCHAR, kpis VARCHAR, period VARCHAR)")
        # lines counted but not listed (a capped sample of a relation read in place,
        # kpi_xl.run.relations): how many more of each reason
        self._db.execute("CREATE TABLE unlisted (source VARCHAR, file VARCHAR, "
                         "action VARCHAR, reason VARCHAR, kpis VARCHAR, period VARCHAR, "
                         "n BIGINT)")
        self._unlisted = 0
        self._finalizer = weakref.finalize(self, _remove, self._db, self._folder)
        self._pending: list[tuple] = []
        self._count = 0
        self._seq = 0
        self.extend(items)

    # -------------------------------------------------------------- writing lines
    def add(self, source: str, file: str, row: int | None, column: str, value: object,
            reason: str, action: str, kpis: str = "", period: str = "") -> None:
        self._pending.append((source, file, row, column, _show(value), reason, action,
                              kpis, period))
        if len(self._pending) >= self._BATCH:
            self._flush()

    def add_unlisted(self, source: str, file: str, action: str, reason: str, n: int,
                     kpis: str = "", period: str = "") -> None:
        """``n`` more lines of ``action`` and ``reason`` that are counted, not listed (a
        relation read in place sends back a capped sample of its rejects with the full
        count of each reason): :meth:`reasons` and :meth:`summary` count them, and the
        report says "N more not listed"."""
        if n <= 0:
            return
        self._db.execute("INSERT INTO unlisted VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [source, file, action, reason, kpis, period or "", int(n)])
        self._unlisted += int(n)

    @property
    def unlisted(self) -> int:
        """How many lines are counted but not listed (see :meth:`add_unlisted`)."""
        return self._unlisted

    def extend(self, items: Iterable[Reject]) -> None:
        for r in items:
            self._pending.append((r.source, r.file, r.row, r.column, r.value, r.reason,
                                  r.action, r.kpis, r.period))
            if len(self._pending) >= self._BATCH:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        import pandas as pd

        batch = pd.DataFrame(self._pending, columns=_COLUMNS[1:], dtype=object)
        # the row as a typed column: DuckDB guesses an object column's type from its
        # first values, which may all be blank
        batch["row"] = pd.array(batch["row"].tolist(), dtype="Int64")
        batch.insert(0, "seq", range(self._seq, self._seq + len(batch)))
        self._db.register("batch", batch)
        self._db.execute("INSERT INTO lines SELECT seq, " + ", ".join(
            f"CAST({c} AS VARCHAR)" if c != "row" else "row" for c in _COLUMNS[1:])
            + " FROM batch")
        self._db.unregister("batch")
        self._seq += len(batch)
        self._count += len(batch)
        self._pending = []

    def _ready(self):
        self._flush()
        return self._db

    # -------------------------------------------------------------- reading lines
    def __len__(self) -> int:
        """The lines the report stands for: those listed and those only counted."""
        return self._count + len(self._pending) + self._unlisted

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Reject]:
        return self.find()

    @property
    def items(self) -> list[Reject]:
        """Every line, in the order added (builds the whole list: small reports only)."""
        return list(self.find())

    def find(self, source: str | None = None, action: str | tuple[str, ...] | None = None,
             column: str | None = None) -> Iterator[Reject]:
        """The lines of ``source`` (and ``action``, one or several; and ``column``), in
        the order they were added, read in batches."""
        where, args = _where(source, action, column)
        yield from self._stream(f"SELECT {_FIELDS} FROM lines{where} ORDER BY seq", args)

    def _stream(self, sql: str, args=()) -> Iterator[Reject]:
        """The lines a query gives, in batches, on a cursor of its own (so that adding
        lines or asking other questions meanwhile does not end it)."""
        cur = self._ready().cursor()
        try:
            cur.execute(sql, list(args))
            while True:
                batch = cur.fetchmany(10_000)
                if not batch:
                    return
                for t in batch:
                    yield Reject(*t)
        finally:
            cur.close()

    def rows(self, source: str, action: str) -> set:
        """The row numbers of ``source`` with a line of ``action``."""
        return {r for (r,) in self._ready().execute(
            "SELECT DISTINCT row FROM lines WHERE source = ? AND action = ?",
            [source, action]).fetchall()}

    def reasons(self, sources: Iterable[str], action: str,
                periods: Iterable[str] | None = None) -> dict[str, int]:
        """How many lines of ``action`` in ``sources`` (and ``periods``) give each reason."""
        sources = list(sources)
        if not sources:
            return {}
        where = f"WHERE action = ? AND source IN ({', '.join('?' * len(sources))})"
        args: list = [action, *sources]
        if periods is not None:
            periods = list(periods)
            where += f" AND period IN ({', '.join('?' * len(periods))})"
            args += periods
        db = self._ready()
        if not self._unlisted:
            return {r: int(n) for r, n in db.execute(
                f"SELECT reason, COUNT(*) FROM lines {where} GROUP BY reason", args).fetchall()}
        sql = (f"SELECT reason, SUM(n) FROM (SELECT reason, 1 AS n FROM lines {where} "
               f"UNION ALL SELECT reason, n FROM unlisted {where}) AS u GROUP BY reason")
        return {r: int(n) for r, n in db.execute(sql, args + args).fetchall()}

    def tally(self) -> dict[str, tuple[int, int, int]]:
        """Per source: (values ignored, rows left out of some KPIs, rows placed), as the
        accounting line counts them: a row is left out when it has a ``left out of KPIs``
        line or an ignored value that leaves KPIs."""
        out: dict[str, tuple[int, int, int]] = {}
        for source, ignored, left, placed in self._ready().execute(
                "SELECT source, COUNT(*) FILTER (WHERE action = ?), "
                "COUNT(DISTINCT CASE WHEN action = ? OR (action = ? AND kpis <> '') "
                "THEN COALESCE(row, -1) END), COUNT(*) FILTER (WHERE action = ?) "
                "FROM lines GROUP BY source",
                [VALUE_IGNORED, LEFT_OUT, VALUE_IGNORED, ROW_PLACED]).fetchall():
            out[source] = (int(ignored), int(left), int(placed))
        return out

    # -------------------------------------------------------------- changing lines
    def merge_kpis(self, action: str, kpis: Mapping[tuple, str]) -> set[tuple]:
        """Add KPI titles to existing lines: ``kpis`` maps (source, row, column) — or
        (source, row) for any column — to titles (comma-separated); each goes to the last
        line of ``action`` with that key, after the titles it has, without repeating
        one. Returns the keys that had a line."""
        if not kpis:
            return set()
        import pandas as pd

        db = self._ready()
        by_column = len(next(iter(kpis))) == 3
        wanted = pd.DataFrame([(k[0], k[1], k[2] if by_column else None, v)
                               for k, v in kpis.items()],
                              columns=["source", "row", "col", "kpis"], dtype=object)
        db.register("wanted_df", wanted)
        on = ("l.source = w.source AND l.row = w.row"
              + (" AND l.col IS NOT DISTINCT FROM w.col" if by_column else ""))
        found = db.execute(
            "SELECT MAX(l.seq), arg_max(l.kpis, l.seq), w.source, w.row, w.col, w.kpis "
            "FROM (SELECT CAST(source AS VARCHAR) AS source, CAST(row AS BIGINT) AS row, "
            "CAST(col AS VARCHAR) AS col, CAST(kpis AS VARCHAR) AS kpis FROM wanted_df) w "
            f"JOIN lines l ON {on} AND l.action = ? GROUP BY w.source, w.row, w.col, w.kpis",
            [action]).fetchall()
        db.unregister("wanted_df")
        if found:
            new = pd.DataFrame({
                "seq": [f[0] for f in found],
                "kpis": [", ".join(dict.fromkeys([k for k in (have or "").split(", ") if k]
                                                 + [k for k in add.split(", ") if k]))
                         for _q, have, _s, _r, _c, add in found]})
            db.register("new_kpis", new)
            db.execute("UPDATE lines SET kpis = CAST(n.kpis AS VARCHAR) FROM new_kpis n "
                       "WHERE lines.seq = n.seq")
            db.unregister("new_kpis")
        return {(s, r, c) if by_column else (s, r) for _q, _h, s, r, c, _k in found}

    def drop_on_rejected_rows(self) -> None:
        """A rejected row is listed as rejected only: the values ignored and the KPIs left
        on it before it was rejected (by a later check) are dropped from the report."""
        db = self._ready()
        db.execute(
            "DELETE FROM lines WHERE action NOT IN (?, ?) AND EXISTS (SELECT 1 FROM lines g "
            "WHERE g.action IN (?, ?) AND g.source = lines.source "
            "AND g.row IS NOT DISTINCT FROM lines.row)",
            [ROW_REJECTED, ROW_EXCLUDED, ROW_REJECTED, ROW_EXCLUDED])
        self._count = db.execute("SELECT COUNT(*) FROM lines").fetchone()[0]

    # -------------------------------------------------------------- the report
    def summary(self, limit: int = 8) -> list[str]:
        """The most frequent reasons, for the run's closing summary."""
        lines = "lines" if not self._unlisted else (
            "(SELECT file, action, reason, kpis, 1 AS n, seq FROM lines UNION ALL SELECT "
            "file, action, reason, kpis, n, NULL FROM unlisted) AS u")
        top = self._ready().execute(
            f"SELECT file, action, reason, kpis, {'COUNT(*)' if not self._unlisted else 'SUM(n)'}"
            f" AS n FROM {lines} GROUP BY file, action, reason, kpis "
            "ORDER BY n DESC, MIN(seq) NULLS LAST, file, reason LIMIT ?",
            [limit]).fetchall()
        return [f"{n:,} × {action}{f' ({kpis})' if kpis else ''} in {file}: {reason}"
                for file, action, reason, kpis, n in top]

    def write_csv(self, path: str | os.PathLike, style=None) -> str:
        """The report as CSV (UTF-8 with a BOM so Excel shows accents), streamed from the
        table in the report's order (source, row, column, then the order added). Values
        that a spreadsheet would run as a formula are written with a leading apostrophe.
        The field separator follows ``style`` (:mod:`kpi_xl.csv_out`); values are written
        as the export had them."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        from ..csv_out import COMMA
        from ..files import open_replacing

        # a line without a row sorts first, as the 0 it stood for in a list's sort did;
        # the kpis cell is Reject.leaves
        cur = self._ready().cursor()
        leaves = "CASE WHEN kpis <> '' THEN kpis WHEN action IN (?, ?) THEN ? ELSE '' END"
        if not self._unlisted:
            cur.execute(f"SELECT source, file, row, col, value, reason, action, {leaves} "
                        "FROM lines ORDER BY source, row NULLS FIRST, col, seq",
                        [ROW_REJECTED, ROW_EXCLUDED, ALL_KPIS])
        else:
            # then, per source, one line per reason counted but not listed
            cur.execute(f"SELECT source, file, row, col, value, reason, action, kpis FROM ("
                        f"SELECT source, file, row, col, value, reason, action, {leaves} AS "
                        "kpis, 0 AS part, seq FROM lines UNION ALL SELECT source, file, NULL, "
                        "'', '', CAST(SUM(n) AS VARCHAR) || ' more not listed (counted in "
                        "place, only a sample is listed): ' || reason, action, " + leaves +
                        ", 1, MIN(n) FROM unlisted GROUP BY source, file, reason, action, "
                        "kpis) AS u ORDER BY source, part, row NULLS FIRST, col, seq",
                        [ROW_REJECTED, ROW_EXCLUDED, ALL_KPIS] * 2)
        try:
            with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
                w = csv.writer(f, delimiter=(style or COMMA).delimiter)
                w.writerow(REPORT_COLUMNS)
                while True:
                    batch = cur.fetchmany(10_000)
                    if not batch:
                        break
                    w.writerows([_safe(source), _safe(file), "" if row is None else row,
                                 _safe(col), _safe(value), _safe(reason), action, _safe(kpis)]
                                for source, file, row, col, value, reason, action, kpis
                                in batch)
        finally:
            cur.close()
        return path

    def close(self) -> None:
        """Remove the report's temporary files now (they go when the report does anyway)."""
        self._finalizer()


_FIELDS = "source, file, row, col, value, reason, action, kpis, period"
_COLUMNS = ("seq", *_FIELDS.split(", "))


def _where(source, action, column) -> tuple[str, list]:
    parts, args = [], []
    if source is not None:
        parts.append("source = ?")
        args.append(source)
    if action is not None:
        acts = (action,) if isinstance(action, str) else tuple(action)
        parts.append(f"action IN ({', '.join('?' * len(acts))})")
        args.extend(acts)
    if column is not None:
        parts.append("col = ?")
        args.append(column)
    return (" WHERE " + " AND ".join(parts) if parts else ""), args


def _remove(db, folder: str) -> None:
    import shutil

    db.close()
    shutil.rmtree(folder, ignore_errors=True)


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    s = str(value)
    return s if len(s) <= 200 else s[:197] + "..."


from ..text import csv_safe as _safe  # noqa: E402  (one escaping rule: kpi_xl.text)
