"""Edits to the demo centre's exports that the guard tests share (counted with the csv
module, independently of kpi_xl's loader)."""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from pathlib import Path


def contacts_per_month(path: Path) -> Counter:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return Counter(r["date"][:7] for r in csv.DictReader(f))


def thin_month(demo: Path, month: str, keep_every: int) -> tuple[int, float]:
    """Keep one row in ``keep_every`` of the month's contacts in ``demo/exports``; return
    (rows left in the month, the median of the earlier months)."""
    path = demo / "exports" / "contacts.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        head, *body = list(csv.reader(f))
    date = head.index("date")
    in_month = [r for r in body if r[date][:7] == month]
    kept = [r for r in body if r[date][:7] != month] + in_month[keep_every - 1::keep_every]
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([head, *kept])
    months = contacts_per_month(path)
    return months[month], statistics.median(n for m, n in months.items() if m < month)
