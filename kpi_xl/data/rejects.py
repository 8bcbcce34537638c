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
from dataclasses import dataclass, field
from typing import Iterable

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


@dataclass
class Rejects:
    items: list[Reject] = field(default_factory=list)

    def add(self, source: str, file: str, row: int | None, column: str, value: object,
            reason: str, action: str, kpis: str = "", period: str = "") -> None:
        self.items.append(Reject(source, file, row, column, _show(value), reason, action, kpis,
                                 period))

    def extend(self, items: Iterable[Reject]) -> None:
        self.items.extend(items)

    def __len__(self) -> int:
        return len(self.items)

    def summary(self, limit: int = 8) -> list[str]:
        """The most frequent reasons, for the run's closing summary."""
        counts: dict[tuple[str, str, str, str], int] = {}
        for r in self.items:
            k = (r.file, r.action, r.reason, r.kpis)
            counts[k] = counts.get(k, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return [f"{n:,} × {action}{f' ({kpis})' if kpis else ''} in {file}: {reason}"
                for (file, action, reason, kpis), n in top]

    def write_csv(self, path: str | os.PathLike, style=None) -> str:
        """The report as CSV (UTF-8 with a BOM so Excel shows accents). Values that a
        spreadsheet would run as a formula are written with a leading apostrophe. The
        field separator follows ``style`` (:mod:`kpi_xl.csv_out`); values are written as
        the export had them."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        from ..csv_out import COMMA
        from ..files import open_replacing

        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f, delimiter=(style or COMMA).delimiter)
            w.writerow(REPORT_COLUMNS)
            for r in sorted(self.items, key=lambda r: (r.source, r.row or 0, r.column)):
                w.writerow([_safe(r.source), _safe(r.file), r.row if r.row is not None else "",
                            _safe(r.column), _safe(r.value), _safe(r.reason), r.action,
                            _safe(r.leaves)])
        return path


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    s = str(value)
    return s if len(s) <= 200 else s[:197] + "..."


from ..text import csv_safe as _safe  # noqa: E402  (one escaping rule: kpi_xl.text)
