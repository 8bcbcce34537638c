"""Every input row is used or rejected with a reason: the collector and the report.

Three things can happen to a row or value, each written to the rejects report with the
source, file, row, column, value and reason:

``row rejected``   the row cannot be used (no date, unknown channel, duplicate id...);
``row excluded``   the mapping leaves it out on purpose (e.g. the bank's PHANTOM calls);
``value ignored``  one value is bad (a negative talk time), so the row is used without it.

Row numbers are the ones a person sees when opening the file in Excel: the header is row
1, the first record row 2, whatever line breaks quoted fields contain.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from typing import Iterable

ROW_REJECTED, ROW_EXCLUDED, VALUE_IGNORED = "row rejected", "row excluded", "value ignored"
REPORT_COLUMNS = ("source", "file", "row", "column", "value", "reason", "action")


@dataclass
class Reject:
    source: str
    file: str
    row: int | None
    column: str
    value: str
    reason: str
    action: str


@dataclass
class Accounting:
    """Per source: read = used + rejected + excluded; ignored values are within used rows."""
    source: str
    file: str
    table: str
    read: int = 0
    used: int = 0
    rejected: int = 0
    excluded: int = 0
    values_ignored: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.used + self.rejected + self.excluded

    def line(self) -> str:
        s = (f"{self.file}: {self.read:,} rows read = {self.used:,} used + "
             f"{self.rejected:,} rejected")
        if self.excluded:
            s += f" + {self.excluded:,} excluded"
        if self.values_ignored:
            word = "value" if self.values_ignored == 1 else "values"
            s += f" ({self.values_ignored:,} {word} ignored in used rows)"
        return s


@dataclass
class Rejects:
    items: list[Reject] = field(default_factory=list)

    def add(self, source: str, file: str, row: int | None, column: str, value: object,
            reason: str, action: str) -> None:
        self.items.append(Reject(source, file, row, column, _show(value), reason, action))

    def extend(self, items: Iterable[Reject]) -> None:
        self.items.extend(items)

    def __len__(self) -> int:
        return len(self.items)

    def summary(self, limit: int = 8) -> list[str]:
        """The most frequent reasons, for the run's closing summary."""
        counts: dict[tuple[str, str, str], int] = {}
        for r in self.items:
            k = (r.file, r.action, r.reason)
            counts[k] = counts.get(k, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return [f"{n:,} × {action} in {file}: {reason}" for (file, action, reason), n in top]

    def write_csv(self, path: str | os.PathLike) -> str:
        """The report as CSV (UTF-8 with a BOM so Excel shows accents). Values that a
        spreadsheet would run as a formula are written with a leading apostrophe."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        from ..files import open_replacing

        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(REPORT_COLUMNS)
            for r in sorted(self.items, key=lambda r: (r.source, r.row or 0, r.column)):
                w.writerow([_safe(r.source), _safe(r.file), r.row if r.row is not None else "",
                            _safe(r.column), _safe(r.value), _safe(r.reason), r.action])
        return path


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    s = str(value)
    return s if len(s) <= 200 else s[:197] + "..."


def _safe(text: str) -> str:
    """Keep data from becoming a formula when the report is opened in a spreadsheet."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
