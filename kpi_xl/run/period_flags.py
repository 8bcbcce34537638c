"""The period a command reports, from its flags: ``--month 2026-10`` (the default grain),
``--week 2026-W44``, ``--quarter 2026-Q3`` (or ``FY2027-Q1`` with ``[centre]
fiscal_year_start``), ``--year 2026``, ``--day 2026-10-05`` or ``--from 2021-01-01 --to
2021-03-31``; exactly one of them.

Each flag's text is checked when the command line is parsed, before any file is read (a
mistake exits 2 with a sentence and an example). A fiscal label (``FY...``) needs the
config's fiscal year start, so :func:`resolve` turns the checked flags into a
:class:`~kpi_xl.periods.Period` once the config is read (still before any data file)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import KpiXlError
from ..periods import EXAMPLES, Period

#: the flags naming one period, in the order --help lists them
FLAGS = ("month", "week", "quarter", "year", "day")
EXAMPLE = ("--month 2026-10, --week 2026-W44, --quarter 2026-Q3 (FY2027-Q1 with "
           "[centre] fiscal_year_start), --year 2026, --day 2026-10-05, or "
           "--from 2021-01-01 --to 2021-03-31")


class PeriodError(KpiXlError):
    """The period asked for cannot be made (exit 2, as a wrong command line)."""
    exit_code = 2


@dataclass(frozen=True)
class Chosen:
    """A checked flag: its grain and text (a fiscal label is resolved with the config)."""
    grain: str
    text: str

    @property
    def fiscal(self) -> bool:
        return self.text.startswith("FY")

    def flag(self) -> str:
        if self.grain == "range":
            first, last = self.text.split("..")
            return f"--from {first} --to {last}"
        return f"--{self.grain} {self.text}"


def check(grain: str, text: str) -> str:
    """The text of ``--<grain>``, or a ValueError saying how it is written. A fiscal
    label (``FY2027-Q1``, ``FY2027``) is checked for its shape here and resolved with the
    config's fiscal year start later."""
    text = text.strip()
    fiscal = grain in ("quarter", "year") and text.startswith("FY")
    try:
        Period.parse(text, grain, fiscal_start=4 if fiscal else 1)
    except ValueError:
        more = " (or FY2027-Q1 for a fiscal quarter)" if grain == "quarter" else \
            " (or FY2027 for a fiscal year)" if grain == "year" else ""
        raise ValueError(f"a {grain} is written like {EXAMPLES[grain]}{more}, "
                         f"got {text!r}") from None
    return text


def check_day(text: str) -> str:
    """``--from`` / ``--to``: a date written YYYY-MM-DD."""
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"a date is written like 2021-01-01, got {text!r}") from None
    return text.strip()


def choose(values: dict[str, str | None], first: str | None, last: str | None,
           required: bool) -> tuple[Chosen | None, str | None]:
    """(the one period the flags name, None) or (None, why the flags are wrong).
    ``values``: flag (month, week...) -> its checked text or None."""
    given = [(g, t) for g, t in values.items() if t is not None]
    if first is not None or last is not None:
        if first is None or last is None:
            return None, (f"a range needs both --from and --to, e.g. --from 2021-01-01 "
                          f"--to 2021-03-31 (got only {'--from' if first else '--to'})")
        if dt.date.fromisoformat(last) < dt.date.fromisoformat(first):
            return None, (f"--to {last} is before --from {first}: a range ends on or after "
                          "its first day, e.g. --from 2021-01-01 --to 2021-03-31")
        given.append(("range", f"{first}..{last}"))
    if len(given) > 1:
        names = " and ".join(Chosen(g, t).flag() for g, t in given)
        return None, f"give one period, not {names}: {EXAMPLE}"
    if not given:
        return None, (f"which period? give one of {EXAMPLE}") if required else None
    return Chosen(*given[0]), None


def resolve(chosen: Chosen | None, fiscal_start: int = 1) -> Period | None:
    """The Period of a checked flag, with the config's fiscal year start for a fiscal
    label (a calendar ``2026-Q3`` stays the calendar quarter whatever the config says)."""
    if chosen is None:
        return None
    if chosen.fiscal and fiscal_start == 1:
        raise PeriodError(f"{chosen.flag()} is a fiscal {chosen.grain}, but the config does "
                          "not say when the fiscal year starts: add [centre] "
                          "fiscal_year_start = 4 (April, for example), or give the calendar "
                          f"{chosen.grain}, e.g. --{chosen.grain} "
                          f"{EXAMPLES[chosen.grain]}")
    return Period.parse(chosen.text, chosen.grain,
                        fiscal_start=fiscal_start if chosen.fiscal else 1)
