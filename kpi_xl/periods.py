"""Reporting periods: a day, an ISO week, a month, a quarter, a year, or a custom range.

A period is a half-open span of calendar dates ``[start, end)`` with a label that sorts in
time order within its grain and reads as people write it:

=========  ========================  ==========================================
grain      label                     span
=========  ========================  ==========================================
day        ``2026-10-05``            that day
week       ``2026-W44``              ISO 8601 week, Monday to Sunday
month      ``2026-10``               the calendar month
quarter    ``2026-Q3``               calendar quarter; with a fiscal year start,
           ``FY2027-Q1``             fiscal quarter (see below)
year       ``2026`` / ``FY2027``     calendar or fiscal year
range      ``2021-01-01..2021-03-31``  the dates given, both included
=========  ========================  ==========================================

A fiscal year that starts in month ``fiscal_start`` (e.g. 4 for April) is named after the
calendar year in which it **ends**: with ``fiscal_start = 4``, FY2027 runs from April 2026 to
March 2027 and its first quarter is April–June 2026 (``FY2027-Q1``). With the default
``fiscal_start = 1`` quarters and years are the calendar ones and carry no ``FY``.

The history before a period follows its grain (:data:`HISTORY`): 13 months, 13 weeks,
5 quarters; a custom range is compared with the range of the same length just before it.

Only the standard library: the catalog, the Excel functions and every output share it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

GRAINS = ("day", "week", "month", "quarter", "year", "range")
#: periods shown in a history, the reported one included
HISTORY = {"day": 14, "week": 13, "month": 13, "quarter": 5, "year": 3, "range": 2}
#: what a period of each grain is called in a sentence
NOUN = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year",
        "range": "period"}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_QUARTER = re.compile(r"^(FY)?(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(FY)?(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")

EXAMPLES = {"day": "2026-10-05", "week": "2026-W44", "month": "2026-10",
            "quarter": "2026-Q3", "year": "2026", "range": "2021-01-01..2021-03-31"}


def _add_months(year: int, month: int, k: int) -> tuple[int, int]:
    i = year * 12 + (month - 1) + k
    return i // 12, i % 12 + 1


@dataclass(frozen=True, order=True)
class Period:
    """``[start, end)``: ``end`` is the first day after the period."""
    start: dt.date
    end: dt.date
    grain: str
    label: str
    fiscal_start: int = 1

    # ------------------------------------------------------------------ making
    @classmethod
    def parse(cls, text: str, grain: str | None = None, *, fiscal_start: int = 1) -> "Period":
        """A period from its label. ``grain`` (optional) says which kind is expected;
        a label of another kind is refused with a sentence giving an example."""
        if not isinstance(text, str):
            raise ValueError(f"a period is written as text, e.g. {EXAMPLES[grain or 'month']}, "
                             f"got {text!r}")
        if not 1 <= int(fiscal_start) <= 12:
            raise ValueError(f"fiscal_start must be a month number from 1 to 12, got {fiscal_start!r}")
        s = text.strip()
        found = None
        for g, make in (("month", cls._month), ("day", cls._day), ("week", cls._week),
                        ("quarter", cls._quarter), ("year", cls._year), ("range", cls._range)):
            p = make(s, fiscal_start)
            if p is not None:
                found = p
                break
        if found is None or (grain is not None and found.grain != grain):
            want = grain or "month"
            raise ValueError(f"{NOUN[want] if want != 'range' else 'a range'} must look like "
                             f"{EXAMPLES[want]}, got {text!r}")
        return found

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        y2, m2 = _add_months(year, month, 1)
        return cls(dt.date(year, month, 1), dt.date(y2, m2, 1), "month", f"{year:04d}-{month:02d}")

    @classmethod
    def week(cls, year: int, week: int) -> "Period":
        start = dt.date.fromisocalendar(year, week, 1)
        return cls(start, start + dt.timedelta(days=7), "week", f"{year:04d}-W{week:02d}")

    @classmethod
    def day(cls, day: dt.date) -> "Period":
        return cls(day, day + dt.timedelta(days=1), "day", day.isoformat())

    @classmethod
    def quarter(cls, year: int, q: int, fiscal_start: int = 1) -> "Period":
        """Quarter ``q`` of (fiscal) year ``year``."""
        y0, m0 = _add_months(year, fiscal_start, -12 if fiscal_start != 1 else 0)
        y1, m1 = _add_months(y0, m0, 3 * (q - 1))
        y2, m2 = _add_months(y1, m1, 3)
        label = f"FY{year:04d}-Q{q}" if fiscal_start != 1 else f"{year:04d}-Q{q}"
        return cls(dt.date(y1, m1, 1), dt.date(y2, m2, 1), "quarter", label, fiscal_start)

    @classmethod
    def year(cls, year: int, fiscal_start: int = 1) -> "Period":
        y0, m0 = _add_months(year, fiscal_start, -12 if fiscal_start != 1 else 0)
        y2, m2 = _add_months(y0, m0, 12)
        label = f"FY{year:04d}" if fiscal_start != 1 else f"{year:04d}"
        return cls(dt.date(y0, m0, 1), dt.date(y2, m2, 1), "year", label, fiscal_start)

    @classmethod
    def between(cls, first: dt.date, last: dt.date) -> "Period":
        """A custom range, both days included."""
        if last < first:
            raise ValueError(f"a range must end on or after its first day: {first} .. {last}")
        return cls(first, last + dt.timedelta(days=1), "range", f"{first}..{last}")

    @classmethod
    def containing(cls, day: dt.date, grain: str, fiscal_start: int = 1) -> "Period":
        """The period of ``grain`` that contains ``day``."""
        if grain == "day":
            return cls.day(day)
        if grain == "week":
            y, w, _ = day.isocalendar()
            return cls.week(y, w)
        if grain == "month":
            return cls.month(day.year, day.month)
        if grain in ("quarter", "year"):
            # the fiscal year is named after the calendar year it ends in
            fy = day.year + (1 if fiscal_start != 1 and day.month >= fiscal_start else 0)
            if grain == "year":
                return cls.year(fy, fiscal_start)
            q = ((day.month - fiscal_start) % 12) // 3 + 1
            return cls.quarter(fy, q, fiscal_start)
        raise ValueError(f"grain must be one of {', '.join(GRAINS[:-1])}, got {grain!r}")

    # parsers: None when the text is not of that kind
    @classmethod
    def _month(cls, s, fs):
        m = _MONTH.match(s)
        if not m:
            return None
        y, mo = int(m[1]), int(m[2])
        return cls.month(y, mo) if 1 <= mo <= 12 else None

    @classmethod
    def _day(cls, s, fs):
        if not _DAY.match(s):
            return None
        try:
            return cls.day(dt.date.fromisoformat(s))
        except ValueError:
            return None

    @classmethod
    def _week(cls, s, fs):
        m = _WEEK.match(s)
        if not m:
            return None
        try:
            return cls.week(int(m[1]), int(m[2]))
        except ValueError:           # week 53 of a year that has 52
            return None

    @classmethod
    def _quarter(cls, s, fs):
        m = _QUARTER.match(s)
        if not m or bool(m[1]) != (fs != 1):
            return None
        return cls.quarter(int(m[2]), int(m[3]), fs)

    @classmethod
    def _year(cls, s, fs):
        m = _YEAR.match(s)
        if not m or bool(m[1]) != (fs != 1):
            return None
        return cls.year(int(m[2]), fs)

    @classmethod
    def _range(cls, s, fs):
        m = _RANGE.match(s)
        if not m:
            return None
        try:
            a, b = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        except ValueError:
            return None
        return cls.between(a, b) if b >= a else None

    # ------------------------------------------------------------------ using
    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> dt.date:
        """The period's last day (included)."""
        return self.end - dt.timedelta(days=1)

    @property
    def noun(self) -> str:
        return NOUN[self.grain]

    def shift(self, k: int) -> "Period":
        """The period ``k`` steps later (earlier when negative), of the same grain."""
        if self.grain == "range":
            step = dt.timedelta(days=self.days * k)
            return Period.between(self.start + step, self.last + step)
        if self.grain == "day":
            return Period.day(self.start + dt.timedelta(days=k))
        if self.grain == "week":
            return Period.containing(self.start + dt.timedelta(days=7 * k), "week")
        months = {"month": 1, "quarter": 3, "year": 12}[self.grain] * k
        y, m = _add_months(self.start.year, self.start.month, months)
        return Period.containing(dt.date(y, m, 1), self.grain, self.fiscal_start)

    def back(self, count: int) -> list["Period"]:
        """This period and the ``count`` before it, oldest first."""
        return [self.shift(-i) for i in range(count, -1, -1)]

    def history(self) -> list["Period"]:
        """The periods a history shows for this grain (:data:`HISTORY`), oldest first."""
        return self.back(HISTORY[self.grain] - 1)

    @property
    def months(self) -> list[str] | None:
        """The calendar months (``YYYY-MM``) the period is made of, or None when it does
        not cover whole months (a week, a day, most ranges)."""
        if self.start.day != 1 or self.end.day != 1:
            return None
        out, (y, m) = [], (self.start.year, self.start.month)
        while dt.date(y, m, 1) < self.end:
            out.append(f"{y:04d}-{m:02d}")
            y, m = _add_months(y, m, 1)
        return out

    def calendar_months(self) -> list[str]:
        """The calendar months (``YYYY-MM``) the period has days in, oldest first."""
        out, (y, m) = [], (self.start.year, self.start.month)
        while dt.date(y, m, 1) <= self.last:
            out.append(f"{y:04d}-{m:02d}")
            y, m = _add_months(y, m, 1)
        return out

    def title(self) -> str:
        """How a manager reads it: 'October 2026', 'Week 44, 2026 (26 Oct – 1 Nov)',
        'Q3 2026', 'FY2027 Q1 (Apr – Jun 2026)', '1 Jan – 31 Mar 2021'."""
        s, e = self.start, self.last
        if self.grain == "month":
            return s.strftime("%B %Y")
        if self.grain == "day":
            return f"{s.day} {s.strftime('%B %Y')}"
        if self.grain == "week":
            y, w, _ = s.isocalendar()
            return f"Week {w}, {y} ({_span(s, e)})"
        if self.grain == "quarter":
            q = self.label.rsplit("Q", 1)[1]
            if self.fiscal_start == 1:
                return f"Q{q} {s.year}"
            return f"{self.label.split('-')[0]} Q{q} ({s.strftime('%b')} – {e.strftime('%b %Y')})"
        if self.grain == "year":
            if self.fiscal_start == 1:
                return str(s.year)
            return f"{self.label} ({s.strftime('%b %Y')} – {e.strftime('%b %Y')})"
        return _span(s, e)

    def short(self) -> str:
        """A column heading: 'Oct 26', 'W44', 'Q3 26', '5 Oct', the label otherwise."""
        s = self.start
        if self.grain == "month":
            return s.strftime("%b %y")
        if self.grain == "week":
            return self.label.split("-")[1]
        if self.grain == "day":
            return f"{s.day} {s.strftime('%b')}"
        if self.grain == "quarter" and self.fiscal_start == 1:
            return f"Q{self.label[-1]} {s.strftime('%y')}"
        return self.label

    def __str__(self) -> str:
        return self.label


def _span(s: dt.date, e: dt.date) -> str:
    if s == e:
        return f"{s.day} {s.strftime('%b %Y')}"
    if s.year != e.year:
        return f"{s.day} {s.strftime('%b %Y')} – {e.day} {e.strftime('%b %Y')}"
    if s.month != e.month:
        return f"{s.day} {s.strftime('%b')} – {e.day} {e.strftime('%b %Y')}"
    return f"{s.day} – {e.day} {e.strftime('%b %Y')}"


def month(text: str) -> Period:
    """A ``YYYY-MM`` month, or a ValueError with an example."""
    return Period.parse(text, "month")


def months_back(month_text: str, count: int) -> list[str]:
    """``month_text`` and the ``count`` months before it, oldest first (labels)."""
    return [p.label for p in month(month_text).back(count)]


def as_period(value: "Period | str", fiscal_start: int = 1) -> Period:
    """A Period, from itself or its label."""
    return value if isinstance(value, Period) else Period.parse(value, fiscal_start=fiscal_start)
