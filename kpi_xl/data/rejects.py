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

    Lines are kept in an SQLite table: in memory while the report is small, moved to a
    file in a private temporary folder (removed when the report is) once it passes
    ``bound`` lines, so a file whose every row is bad never holds the run in memory. New
    lines wait in a short buffer and are written in batches. Readers ask for what they
    need, never for the whole list: :meth:`find` streams the lines of a source or action,
    :meth:`reasons` counts them, :meth:`merge_kpis` adds KPIs to existing lines,
    :meth:`summary` gives the top reasons and :meth:`write_csv` streams the report in
    its order. ``items`` builds the whole list, for small reports and tests only; a
    line taken from it is a copy (change lines with :meth:`merge_kpis`).
    """

    #: lines held in memory before the report moves to a file (a line is ~0.3-1 KB)
    BOUND = 50_000
    _BATCH = 5_000

    def __init__(self, items: Iterable[Reject] = (), bound: int | None = None):
        import sqlite3

        self._bound = self.BOUND if bound is None else bound
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._create(self._db)
        self._pending: list[tuple] = []
        self._count = 0
        self._folder: str | None = None
        self._finalizer = None
        self.extend(items)

    @staticmethod
    def _create(db) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS lines (seq INTEGER PRIMARY KEY, source TEXT, "
                   "file TEXT, row INTEGER, col TEXT, value TEXT, reason TEXT, action TEXT, "
                   "kpis TEXT, period TEXT)")
        db.execute("CREATE INDEX IF NOT EXISTS lines_at ON lines (source, row, col)")

    # -------------------------------------------------------------- writing lines
    def add(self, source: str, file: str, row: int | None, column: str, value: object,
            reason: str, action: str, kpis: str = "", period: str = "") -> None:
        self._pending.append((source, file, row, column, _show(value), reason, action,
                              kpis, period))
        if len(self._pending) >= self._BATCH:
            self._flush()

    def extend(self, items: Iterable[Reject]) -> None:
        for r in items:
            self._pending.append((r.source, r.file, r.row, r.column, r.value, r.reason,
                                  r.action, r.kpis, r.period))
            if len(self._pending) >= self._BATCH:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        self._db.executemany("INSERT INTO lines (source, file, row, col, value, reason, "
                             "action, kpis, period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             self._pending)
        self._db.commit()
        self._count += len(self._pending)
        self._pending = []
        if self._folder is None and self._count > self._bound:
            self._spill()

    def _spill(self) -> None:
        """Move the table to a file: past ``bound`` lines the report lives on disk."""
        import sqlite3
        import tempfile
        import weakref

        self._folder = tempfile.mkdtemp(prefix="kpi-xl-rejects-")     # private (0700)
        disk = sqlite3.connect(os.path.join(self._folder, "rejects.sqlite"),
                               check_same_thread=False)
        disk.execute("PRAGMA journal_mode=OFF")
        disk.execute("PRAGMA synchronous=OFF")
        disk.execute("PRAGMA cache_size=-16000")          # 16 MB of pages, whatever the size
        self._db.backup(disk)
        self._db.close()
        self._db = disk
        self._finalizer = weakref.finalize(self, _remove, disk, self._folder)

    def _ready(self):
        self._flush()
        return self._db

    # -------------------------------------------------------------- reading lines
    def __len__(self) -> int:
        return self._count + len(self._pending)

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
        cur = self._ready().execute(f"SELECT {_FIELDS} FROM lines{where} ORDER BY seq", args)
        while True:
            batch = cur.fetchmany(10_000)
            if not batch:
                return
            for t in batch:
                yield Reject(*t)

    def rows(self, source: str, action: str) -> set:
        """The row numbers of ``source`` with a line of ``action``."""
        return {r for (r,) in self._ready().execute(
            "SELECT DISTINCT row FROM lines WHERE source = ? AND action = ?", (source, action))}

    def reasons(self, sources: Iterable[str], action: str,
                periods: Iterable[str] | None = None) -> dict[str, int]:
        """How many lines of ``action`` in ``sources`` (and ``periods``) give each reason."""
        sources = list(sources)
        sql = (f"SELECT reason, COUNT(*) FROM lines WHERE action = ? AND source IN "
               f"({', '.join('?' * len(sources))})")
        args: list = [action, *sources]
        if periods is not None:
            periods = list(periods)
            sql += f" AND period IN ({', '.join('?' * len(periods))})"
            args += periods
        return dict(self._ready().execute(sql + " GROUP BY reason", args).fetchall())

    def tally(self) -> dict[str, tuple[int, int, int]]:
        """Per source: (values ignored, rows left out of some KPIs, rows placed), as the
        accounting line counts them: a row is left out when it has a ``left out of KPIs``
        line or an ignored value that leaves KPIs."""
        out: dict[str, tuple[int, int, int]] = {}
        for source, ignored, left, placed in self._ready().execute(
                "SELECT source, SUM(action = ?), "
                "COUNT(DISTINCT CASE WHEN action = ? OR (action = ? AND kpis <> '') "
                "THEN COALESCE(row, -1) END), SUM(action = ?) FROM lines GROUP BY source",
                (VALUE_IGNORED, LEFT_OUT, VALUE_IGNORED, ROW_PLACED)):
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
        db = self._ready()
        by_column = len(next(iter(kpis))) == 3
        db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (source TEXT, row INTEGER, "
                   "col TEXT, kpis TEXT)")
        db.execute("DELETE FROM wanted")
        db.executemany("INSERT INTO wanted VALUES (?, ?, ?, ?)",
                       [(k[0], k[1], k[2] if by_column else None, v) for k, v in kpis.items()])
        on = "l.source = w.source AND l.row IS w.row" + (" AND l.col IS w.col" if by_column
                                                         else "")
        # with MAX(), SQLite takes the bare column (l.kpis) from the row of the maximum
        found = db.execute(
            f"SELECT MAX(l.seq), l.kpis, w.source, w.row, w.col, w.kpis FROM wanted w "
            f"JOIN lines l ON {on} AND l.action = ? GROUP BY w.source, w.row, w.col, w.kpis",
            (action,)).fetchall()
        db.executemany("UPDATE lines SET kpis = ? WHERE seq = ?", [
            (", ".join(dict.fromkeys([k for k in (have or "").split(", ") if k]
                                     + [k for k in add.split(", ") if k])), seq)
            for seq, have, _s, _r, _c, add in found])
        db.execute("DELETE FROM wanted")
        db.commit()
        return {(s, r, c) if by_column else (s, r) for _q, _h, s, r, c, _k in found}

    def drop_on_rejected_rows(self) -> None:
        """A rejected row is listed as rejected only: the values ignored and the KPIs left
        on it before it was rejected (by a later check) are dropped from the report."""
        db = self._ready()
        gone = db.execute(
            "DELETE FROM lines WHERE action NOT IN (?, ?) AND EXISTS (SELECT 1 FROM lines g "
            "WHERE g.action IN (?, ?) AND g.source = lines.source AND g.row IS lines.row)",
            (ROW_REJECTED, ROW_EXCLUDED, ROW_REJECTED, ROW_EXCLUDED)).rowcount
        db.commit()
        self._count -= max(gone, 0)

    # -------------------------------------------------------------- the report
    def summary(self, limit: int = 8) -> list[str]:
        """The most frequent reasons, for the run's closing summary."""
        top = self._ready().execute(
            "SELECT file, action, reason, kpis, COUNT(*) AS n FROM lines "
            "GROUP BY file, action, reason, kpis ORDER BY n DESC, MIN(seq) LIMIT ?",
            (limit,)).fetchall()
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

        cur = self._ready().execute(f"SELECT {_FIELDS} FROM lines "
                                    "ORDER BY source, row, col, seq")
        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f, delimiter=(style or COMMA).delimiter)
            w.writerow(REPORT_COLUMNS)
            while True:
                batch = cur.fetchmany(10_000)
                if not batch:
                    break
                for t in batch:
                    r = Reject(*t)
                    w.writerow([_safe(r.source), _safe(r.file),
                                r.row if r.row is not None else "", _safe(r.column),
                                _safe(r.value), _safe(r.reason), r.action, _safe(r.leaves)])
        return path

    def close(self) -> None:
        """Remove the report's temporary file now (it goes when the report does anyway)."""
        if self._finalizer is not None:
            self._finalizer()
        else:
            self._db.close()


_FIELDS = "source, file, row, col, value, reason, action, kpis, period"


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
