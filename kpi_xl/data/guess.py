"""``kpi-xl map FILE``: a first ``[[sources]]`` block for an export kpi_xl has never seen.

It reads the header and a sample of rows (CSV, TSV or XLSX) and guesses:

* the file's layout: encoding (UTF-8, UTF-8 with a byte-order mark, or Windows-1252),
  delimiter, the header row (title rows above it are skipped), decimal comma and
  thousands separators;
* for each header, the canonical column it is (``kpi_xl.data.schema``): by its name
  (synonyms used by ACD and help-desk exports) and by its values (dates and their format,
  times of day, durations in seconds or h:mm:ss, yes/no flags, outcome and channel codes);
* the table (contacts, surveys, QA, roster), and for a wide QA export (one column per
  criterion) the columns to unpivot.

The block says why on every line, lists what it could not place commented out, and is
checked to parse with kpi_xl's own source parser before it is returned: the user confirms
it, pastes it into the config and runs ``kpi-xl validate``. Nothing here is used by a run.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KpiXlError
from .convert import NO, YES
from .readers import DELIMITERS
from .sources import FORMATS

SAMPLE_ROWS = 1000
#: rows looked at for title rows above the header
TITLE_SCAN = 20


class MapError(KpiXlError):
    """The file cannot be sampled (missing, empty, not a format kpi_xl reads)."""


# ---------------------------------------------------------------- name synonyms
# normalised names (lower case, runs of other characters as one space); a name matches
# a synonym when it equals it, or (for synonyms of two words or more) contains it
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "id": ("id", "call id", "ticket id", "contact id", "interaction id", "conversation id",
               "case id", "case number", "ticket number", "call number", "session id"),
        "date": ("date", "call date", "contact date", "start date", "date time", "datetime",
                 "timestamp", "start", "start time stamp", "received", "arrival", "arrived",
                 "interaction date", "conversation start"),
        "created": ("created", "created at", "created date", "creation date", "opened",
                    "opened at", "date created", "ticket created"),
        "channel": ("channel", "ticket channel", "via", "media type", "medium", "media",
                    "contact type", "interaction type"),
        "agent": ("agent", "agent name", "assignee", "assigned to", "server", "rep", "owner",
                  "handled by", "user", "user name", "employee", "operator", "agent id"),
        "team": ("team", "group", "department", "team name", "group name", "assigned group"),
        "status": ("status", "ticket status", "state"),
        "first_reply_at": ("first response time", "first reply time", "first reply at",
                           "first response at", "first responded at", "replied at"),
        "solved_at": ("time to resolution", "solved at", "resolved at", "closed at",
                      "resolution time stamp", "closed date", "solved date", "resolved date"),
        "first_response_hours": ("first response hours", "first reply hours",
                                 "hours to first response"),
        "resolution_hours": ("resolution hours", "hours to resolution",
                             "full resolution hours"),
        "answered": ("answered", "answered y n", "outcome", "disposition", "call result",
                     "result", "call outcome", "abandoned", "is abandoned", "connected"),
        "wait": ("wait", "wait time", "queue time", "q time", "speed of answer",
                 "speed of answer in seconds", "time to answer", "queue wait", "asa",
                 "queue duration", "wait seconds", "waiting time", "wait sec"),
        "talk": ("talk", "talk time", "talk duration", "avgtalkduration", "ser time",
                 "service time", "conversation time", "talk seconds", "duration",
                 "call duration", "talk sec", "handle duration"),
        "hold": ("hold", "hold time", "hold duration", "hold seconds"),
        "acw": ("acw", "wrap", "wrap up", "wrap up time", "wrapup", "after call work",
                "acw time", "wrap time"),
        "resolved": ("resolved", "is resolved", "resolved y n"),
        "resolved_first": ("fcr", "first contact resolution", "resolved first contact",
                           "first call resolution"),
        "transferred": ("transferred", "transfer", "is transferred"),
        "escalated": ("escalated", "escalation", "is escalated"),
        "reopens": ("reopens", "reopen count", "reopened", "times reopened"),
        "csat": ("csat", "satisfaction", "satisfaction rating", "customer satisfaction",
                 "customer satisfaction rating", "satisfaction score", "csat score"),
        "nps": ("nps", "likelihood to recommend", "recommend", "nps score"),
        "ces": ("ces", "effort", "customer effort", "effort score", "ces score"),
    },
    "qa": {
        "evaluation": ("evaluation", "evaluation id", "review id", "scorecard id", "audit id",
                       "qa id", "assessment id", "review", "evaluation number"),
        "date": ("date", "evaluation date", "review date", "reviewed at", "evaluated at",
                 "audit date", "created"),
        "agent": ("agent", "agent name", "reviewee", "evaluated agent", "employee",
                  "assignee", "agent id"),
        "team": ("team", "group", "department"),
        "evaluator": ("evaluator", "reviewer", "graded by", "scored by", "auditor",
                      "evaluated by", "reviewed by"),
        "contact_id": ("ticket id", "conversation id", "call id", "contact id",
                       "interaction id"),
        "section": ("section", "category", "rubric section"),
        "criterion": ("criterion", "criteria", "question", "item", "rubric item",
                      "category name"),
        "weight": ("weight", "item weight"),
        "score": ("score", "points", "item score", "rating"),
        "fatal": ("fatal", "critical", "auto fail", "autofail", "compliance"),
        "comment": ("comment", "comments", "notes", "note", "feedback"),
    },
    "surveys": {
        "id": ("response id", "survey id", "survey response id", "answer id"),
        "date": ("date", "response date", "submitted", "submitted at", "answered at",
                 "survey date", "completed at"),
        "contact_id": ("ticket id", "conversation id", "call id", "contact id",
                       "interaction id", "case id"),
        "agent": ("agent", "agent name", "assignee"),
        "team": ("team", "group"),
        "channel": ("channel", "via"),
        "nps": ("nps", "likelihood to recommend", "recommend", "nps score"),
        "csat": ("csat", "satisfaction", "satisfaction rating", "csat score"),
        "ces": ("ces", "effort", "effort score"),
    },
    "roster": {
        "agent": ("agent", "agent name", "name", "employee", "user", "full name"),
        "team": ("team", "group", "department", "team name"),
        "hired": ("hired", "hire date", "start date", "date hired", "joined"),
        "left": ("left", "leave date", "end date", "termination date", "date left"),
    },
    "wfm": {
        "agent": ("agent", "agent name", "employee", "name", "user", "agent id"),
        "date": ("date", "day", "schedule date", "shift date"),
        "team": ("team", "group", "department", "team name"),
        "scheduled": ("scheduled", "scheduled time", "sched time", "scheduled hours",
                      "schedule time"),
        "in_adherence": ("in adherence", "in adherence time", "time in adherence",
                         "adherent time", "in adh"),
        "out_of_adherence": ("out of adherence", "out of adherence time",
                             "time out of adherence", "non adherent time", "out adh"),
        "handling": ("handling", "handle time", "handling time", "handled time"),
        "available": ("available", "available time", "avail time", "idle time",
                      "ready time"),
        "paid": ("paid", "paid time", "paid hours"),
        "shrinkage": ("shrinkage", "shrinkage time"),
    },
}
#: headers that say which table a file is
TABLE_HINTS = {
    "qa": ("evaluation", "evaluator", "reviewer", "criterion", "scorecard", "audit"),
    "wfm": ("adherence", "shrinkage", "paid time"),
    "surveys": ("response id", "survey"),
    "roster": ("hire date", "hired", "leave date", "termination"),
}
CHANNEL_WORDS = {
    "phone": ("phone", "call", "voice", "telephone", "inbound", "outbound", "ivr"),
    "email": ("email", "e mail", "mail"),
    "chat": ("chat", "web chat", "messaging", "live chat", "sms", "whatsapp", "web"),
    "social": ("social", "social media", "twitter", "facebook", "instagram"),
}
ANSWER_WORDS = ("answer", "agent", "handled", "connected", "complete", "served", "accepted")
ABANDON_WORDS = ("abandon", "hang", "drop", "missed", "lost", "abd", "unanswered",
                 "not answered", "no answer")
NO_AGENT = re.compile(r"^(?:no[_ -]?\w*|none|unknown|n/?a|-+|unassigned)$", re.I)
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y",
                "%m/%d/%y", "%d.%m.%y")
COMPACT_DATE_FORMATS = ("%Y%m%d", "%y%m%d")
TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_ISO = re.compile(r"^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$")
_HMS = re.compile(r"^\d{1,3}:\d\d(?::\d\d(?:\.\d+)?)?$")
_INT = re.compile(r"^[+-]?\d+$")
_DOT = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+)$")
_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_GROUPED_SPACE = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?$")


#: words a header may add to a one-word synonym ('Wait (sec)', 'Answered Y/N', 'Agent name')
FILLER = {"sec", "secs", "s", "seconds", "min", "mins", "minutes", "h", "hrs", "hours", "y",
          "n", "yn", "name", "id", "code", "nr", "no", "number", "flag", "in", "total"}


def norm(name: str) -> str:
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", s.lower()).split())


# ---------------------------------------------------------------- the file
@dataclass
class Sample:
    path: Path
    format: str
    encoding: str = "utf-8"
    encoding_why: str = ""
    delimiter: str | None = None
    delimiter_why: str = ""
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    header_row: int = 1
    header_why: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)       # sampled records
    body: list[list[Any]] = field(default_factory=list)       # every record (ids)
    total: int | None = None                                  # records in the file

    def column(self, i: int) -> list[Any]:
        return [r[i] if i < len(r) else "" for r in self.rows]


def sample_file(path: str | Path, sheet: str | None = None,
                rows: int = SAMPLE_ROWS) -> Sample:
    p = Path(path)
    if not p.is_file():
        raise MapError(f"{p}: file not found")
    if p.stat().st_size == 0:
        raise MapError(f"{p.name}: the file is empty")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt not in ("csv", "xlsx"):
        raise MapError(f"{p.name}: kpi-xl map reads .csv, .tsv, .txt and .xlsx files "
                       "(a Parquet file's columns are typed already: map them by hand)")
    s = Sample(p, fmt)
    table = _csv_rows(s) if fmt == "csv" else _xlsx_rows(s, sheet)
    _find_header(s, table, rows)
    return s


def _decode(data: bytes) -> tuple[str, str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig"), "utf-8", "UTF-8 with a byte-order mark"
    try:
        return data.decode("utf-8"), "utf-8", ""
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        where = f"byte {e.start:,} (line {line}) is not UTF-8"
    try:
        return data.decode("cp1252"), "cp1252", f"{where}; the file reads as Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", f"{where}; the file reads as Latin-1"


def _csv_rows(s: Sample) -> list[list[str]]:
    text, s.encoding, s.encoding_why = _decode(s.path.read_bytes())
    if not text.strip():
        raise MapError(f"{s.path.name}: the file is empty")
    lines = text.splitlines()[:TITLE_SCAN + 30]
    if s.path.suffix.lower() == ".tsv":
        s.delimiter, s.delimiter_why = "\t", "a .tsv file"
    else:
        best, score = ",", (-1, -1)
        for d in DELIMITERS:
            counts = [len(r) for r in csv.reader(lines, delimiter=d) if any(f.strip() for f in r)]
            if not counts:
                continue
            width, n = Counter(counts).most_common(1)[0]
            key = (n if width > 1 else 0, width)
            if key > score:
                best, score = d, key
        s.delimiter = best
        name = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[best]
        s.delimiter_why = f"{name}-separated: it splits the rows into {score[1]} fields"
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, 2**31 - 1)))
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=s.delimiter))
    except csv.Error as e:
        raise MapError(f"{s.path.name}: not readable as CSV ({e})") from None


def _checked(s: Sample, sheet: str) -> None:
    """The reader's guard: a sheet whose cells span more than kpi_xl reads is refused
    before python-calamine is asked for it (it would hold the whole rectangle)."""
    from .readers import SourceError, _check_extent
    from .sources import Source

    try:
        _check_extent(Source(name=s.path.stem, table="contacts", path=s.path, format="xlsx",
                             columns=(), sheet=sheet))
    except SourceError as e:
        raise MapError(str(e)) from None


def _xlsx_rows(s: Sample, sheet: str | None) -> list[list[Any]]:
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(s.path))
        s.sheets = tuple(wb.sheet_names)
        if sheet is not None and sheet not in s.sheets:
            raise MapError(f"{s.path.name} has no sheet {sheet!r} (sheets: "
                           f"{', '.join(map(repr, s.sheets))})")
        if sheet is None:     # the first sheet with data
            for name in s.sheets:
                _checked(s, name)
                data = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
                if any(any(v not in ("", None) for v in r) for r in data):
                    sheet = name
                    break
            else:
                raise MapError(f"{s.path.name}: every sheet is empty")
        else:
            _checked(s, sheet)
            data = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except (pc.CalamineError, pc.PasswordError, pc.XmlError, pc.ZipError,
            pc.WorksheetNotFound) as e:
        raise MapError(f"{s.path.name} is not a readable .xlsx workbook ({e})") from None
    s.sheet = sheet
    return [list(r) for r in data]


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _find_header(s: Sample, table: list[list[Any]], rows: int) -> None:
    """The header: the first row (of the first TITLE_SCAN) filled as widely as the rows
    below it, with text in every filled cell and no repeated name."""
    filled = [sum(not _blank(v) for v in r) for r in table[:TITLE_SCAN + 30]]
    if not any(filled):
        raise MapError(f"{s.path.name}: no row has any value")
    width = max(Counter(f for f in filled if f).most_common(3), key=lambda c: (c[1], c[0]))[0]
    width = max(width, max(filled[:TITLE_SCAN]) if filled[:TITLE_SCAN] else 0) \
        if width < 2 else width
    for i, r in enumerate(table[:TITLE_SCAN]):
        cells = [v for v in r if not _blank(v)]
        texts = [str(v).strip() for v in cells]
        if (filled[i] >= max(2, 0.8 * width) and all(isinstance(v, str) for v in cells)
                and len(set(texts)) == len(texts)):
            break
    else:
        i = 0
    s.header_row = i + 1
    if i:
        shown = "; ".join(repr(" ".join(str(v) for v in r if not _blank(v))[:40])
                          for r in table[:i] if any(not _blank(v) for v in r))
        s.header_why = (f"row{'s' if i > 1 else ''} 1-{i} above it are titles "
                        f"({shown or 'empty'})" if i > 1 else
                        f"row 1 above it is a title ({shown or 'empty'})")
    s.header = [str(v).strip() if not _blank(v) else "" for v in table[i]]
    body = [r for r in table[i + 1:] if any(not _blank(v) for v in r)]
    s.total = len(body)
    s.rows = body[:rows]
    s.body = body


# ---------------------------------------------------------------- values
@dataclass
class Kind:
    """What a column's sampled values are."""
    kind: str                   # empty, timestamp, time, hms, number, flag, codes, text
    why: str = ""
    format: str | None = None   # a timestamp's strptime format (None: ISO or cells)
    decimal: str = "."
    thousands: str | None = None
    distinct: tuple[str, ...] = ()
    unique: bool = False
    lo: float | None = None
    hi: float | None = None


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v).strip()


def _shown(values, n=3) -> str:
    return ", ".join(repr(v if len(v) <= 40 else v[:37] + "...") for v in
                     (str(x) for x in list(values)[:n]))


def classify(values: list[Any], name: str = "", continental: bool = False,
             decimal: str = ".") -> Kind:
    """What the values of one column are; ``decimal``: the file's decimal mark (in a
    file of decimal commas, 1.204 is a thousand two hundred and four)."""
    vals = [v for v in values if not _blank(v)]
    if not vals:
        return Kind("empty", "no value in the rows sampled")
    texts = [_text(v) for v in vals]
    distinct = tuple(dict.fromkeys(texts))
    unique = len(distinct) == len(texts)
    low = {t.lower() for t in distinct}
    if all(isinstance(v, (dt.datetime, dt.date)) and not isinstance(v, dt.time)
           for v in vals):
        return Kind("timestamp", "date cells", distinct=distinct[:5], unique=unique)
    if all(isinstance(v, (dt.time, dt.timedelta)) for v in vals):
        return Kind("hms", f"time cells such as {_shown(texts)}", distinct=distinct[:5],
                    unique=unique)
    if low <= YES | NO and low & {"y", "n", "yes", "no", "true", "false", "t", "f"}:
        return Kind("flag", f"yes/no values ({', '.join(sorted(set(distinct))[:4])})",
                    distinct=distinct)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals) or \
            all(_DOT.match(t) for t in texts) and (decimal == "." or all(
                _INT.match(t) for t in texts)):
        nums = [float(t) for t in texts]
        compact = _compact_date(texts, name)
        if compact:
            return compact
        return Kind("number", f"numbers from {min(nums):g} to {max(nums):g}",
                    distinct=distinct[:5], unique=unique, lo=min(nums), hi=max(nums))
    if all(_ISO.match(t) for t in texts):
        return Kind("timestamp", f"ISO dates such as {_shown(texts, 2)}",
                    distinct=distinct[:5], unique=unique)
    fmt = _date_format(texts, continental)
    if fmt:
        return Kind("timestamp", fmt[1], format=fmt[0], distinct=distinct[:5], unique=unique)
    if all(_HMS.match(t) for t in texts):
        return Kind("hms", f"h:mm:ss values such as {_shown(texts)}", distinct=distinct[:5],
                    unique=unique)
    notation = _notation(texts, decimal)
    if notation:
        decimal, thousands, why = notation
        nums = [float(_plain(t, decimal, thousands)) for t in texts]
        telling = [t for t in distinct if not _INT.match(t)] or list(distinct)
        return Kind("number", f"numbers written {why} ({_shown(telling, 2)})", decimal=decimal,
                    thousands=thousands, distinct=distinct[:5], unique=unique, lo=min(nums),
                    hi=max(nums))
    if len(distinct) <= 12 and len(texts) >= 2 * len(distinct):
        return Kind("codes", f"{len(distinct)} value{'s' if len(distinct) > 1 else ''}: "
                    f"{_shown(distinct, 12)}",
                    distinct=distinct)
    return Kind("text", f"text such as {_shown(distinct, 2)}", distinct=distinct[:5],
                unique=unique)


def file_decimal(sample: Sample) -> str:
    """',' when text cells hold numbers with a decimal comma (4,5) and none holds a dot
    that cannot separate thousands (4.5, 4.5678); else '.'."""
    comma = dot = 0
    for r in sample.rows:
        for v in r:
            if isinstance(v, str):
                t = v.strip()
                if _COMMA.match(t) or (_GROUPED_DOT.match(t) and "," in t):
                    comma += 1
                elif re.match(r"^[+-]?\d*\.(?:\d{1,2}|\d{4,})$", t):
                    dot += 1
    return "," if comma and not dot else "."


def _compact_date(texts: list[str], name: str) -> Kind | None:
    if not ({"date", "day"} & set(norm(name).split())):
        return None
    import pandas as pd

    for fmt in COMPACT_DATE_FORMATS:
        if all(len(t) == len(dt.date(2026, 10, 31).strftime(fmt)) for t in texts):
            got = pd.to_datetime(pd.Series(texts), format=fmt, errors="coerce")
            if got.notna().all():
                return Kind("timestamp", f"dates written {fmt.replace('%', '')} such as "
                            f"{_shown(texts, 2)}", format=fmt)
    return None


def _date_format(texts: list[str], continental: bool) -> tuple[str, str] | None:
    import pandas as pd

    if not all(re.match(r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}", t) for t in texts):
        return None
    series = pd.Series(texts)
    fits = []
    for base in DATE_FORMATS:
        for suffix in TIME_SUFFIXES:
            got = pd.to_datetime(series, format=base + suffix, errors="coerce")
            if got.notna().all():
                fits.append(base + suffix)
                break
    if not fits:
        return None
    day_first = [f for f in fits if f.startswith("%d")]
    month_first = [f for f in fits if f.startswith("%m")]
    if day_first and month_first:
        pick = day_first[0] if continental else month_first[0]
        return pick, (f"dates such as {_shown(texts, 2)}; AMBIGUOUS: no sampled day is over "
                      f"12, so day and month cannot be told apart; "
                      f"{'day' if continental else 'month'} first is assumed "
                      f"({'continental' if continental else 'US'} layout of the file): "
                      "check one date")
    return fits[0], f"dates such as {_shown(texts, 2)}"


def _notation(texts: list[str], decimal: str) -> tuple[str, str | None, str] | None:
    if all(_COMMA.match(t) or _INT.match(t) for t in texts) and any(_COMMA.match(t)
                                                                     for t in texts):
        return ",", None, "with a decimal comma"
    if decimal == "," and all(_GROUPED_DOT.match(t) or _COMMA.match(t) or _INT.match(t)
                              for t in texts):
        both = any("," in t for t in texts)
        return ",", ".", ("with a decimal comma and " if both else "with ") + \
            "'.' between thousands"
    if decimal == ",":
        return None
    if all(_GROUPED_COMMA.match(t) or _DOT.match(t) for t in texts):
        return ".", ",", "with ',' between thousands"
    if all(_GROUPED_SPACE.match(t) or _COMMA.match(t) or _DOT.match(t) for t in texts):
        sep = next(c for t in texts for c in " \u00a0\u202f" if c in t)
        dec = "," if any("," in t for t in texts) else "."
        return dec, sep, "with spaces between thousands"
    return None


def _plain(t: str, decimal: str, thousands: str | None) -> str:
    if thousands:
        t = t.replace(thousands, "")
    return t.replace(decimal, ".")


# ---------------------------------------------------------------- the guess
@dataclass
class Placed:
    target: str
    spec: Any                   # what goes right of 'target =' (a header, or a table)
    why: str
    reads: tuple[str, ...] = ()


@dataclass
class Guess:
    sample: Sample
    table: str
    table_why: str
    placed: list[Placed] = field(default_factory=list)
    unplaced: list[tuple[str, str]] = field(default_factory=list)
    decimal: str = "."
    thousands: str | None = None
    numbers_why: str = ""
    thousands_why: str = ""
    unpivot: tuple[str, ...] = ()
    unpivot_why: str = ""
    excludes: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _name_target(header: str, table: str) -> tuple[str, str] | None:
    """(target, synonym) for a header, by name: an exact synonym first, then the
    longest synonym of two words or more that the name contains."""
    n = norm(header)
    syn = SYNONYMS[table]
    for target, names in syn.items():
        if n in names:
            return target, n
    best = None
    for target, names in syn.items():
        for s in names:
            if " " in s and re.search(rf"\b{re.escape(s)}\b", n) and (
                    best is None or len(s) > len(best[1])):
                best = (target, s)
    if best is None:    # a one-word synonym and a unit or a flag's mark ('Wait (sec)')
        words = n.split()
        for target, names in syn.items():
            for s in names:
                if " " not in s and s in words and set(words) - {s} <= FILLER:
                    return target, s
    return best


def _table(sample: Sample) -> tuple[str, str]:
    names = [norm(h) for h in sample.header]
    for table, hints in TABLE_HINTS.items():
        hit = [h for h in names for w in hints if w in h]
        if hit and (table != "roster" or len(names) <= 8):
            return table, f"headers such as {hit[0]!r} are those of a {table} export"
    return "contacts", ("one row per call, ticket or chat (no QA, WFM, survey or roster "
                        "headers)")


TYPES_FOR = {"timestamp": {"timestamp"}, "date": {"timestamp"}, "id": {"number", "text",
             "codes", "flag"}, "text": {"text", "codes", "number", "flag"},
             "category": {"codes", "text"}, "flag": {"flag", "codes", "number"},
             "seconds": {"number", "hms"}, "hours": {"number", "hms"},
             "number": {"number", "flag"}, "score": {"number", "codes"},
             "month": {"text", "timestamp", "codes"}}


def guess(sample: Sample, table: str | None = None) -> Guess:
    from .schema import TABLES

    if table is None:
        table, why = _table(sample)
    else:
        why = "as asked"
    g = Guess(sample, table, why)
    schema = TABLES[table]
    continental = sample.delimiter == ";" or any(
        _COMMA.match(_text(v)) for r in sample.rows[:50] for v in r if isinstance(v, str))
    decimal = file_decimal(sample)
    kinds = {i: classify(sample.column(i), h, continental or decimal == ",", decimal)
             for i, h in enumerate(sample.header) if h}
    taken: set[str] = set()
    used: set[int] = set()
    time_col = None
    for i, h in enumerate(sample.header):          # by name, checked by values
        if not h or i in used:
            continue
        k = kinds[i]
        hit = _name_target(h, table)
        if hit is None:
            continue
        target, syn = hit
        if target == "date" and norm(h) in ("time", "start time") and k.kind == "hms":
            continue
        if target in taken:
            continue
        col = schema.column(target)
        if k.kind != "empty" and k.kind not in TYPES_FOR.get(col.type, {k.kind}):
            if col.type in ("timestamp",) and k.kind in ("hms",):
                continue
            if not (target == "answered" and k.kind in ("codes", "text")):
                continue
        spec, note = _spec(target, col, h, k, sample)
        if spec is None:
            g.unplaced.append((h, note))
            used.add(i)
            continue
        g.placed.append(Placed(target, spec, f"'{h}' is named like {target} ({syn!r}); "
                               + note, (h,)))
        taken.add(target)
        used.add(i)
    # a date of its own, and a time of day beside it
    dates = [p for p in g.placed if p.target in ("date", "created")]
    if schema.date_column and not any(p.target == "date" for p in g.placed):
        candidates = [p for p in g.placed if p.target in ("created", "first_reply_at",
                                                          "solved_at")]
        if candidates and table == "contacts":
            c = candidates[0]
            g.placed.insert(0, Placed("date", c.spec, f"no arrival date found: a contact is "
                                      f"placed in the month of '{c.reads[0]}' (check: "
                                      "another date may suit better)", c.reads))
        else:
            for i, h in enumerate(sample.header):
                if h and i not in used and kinds[i].kind == "timestamp":
                    spec, note = _spec("date", schema.column("date"), h, kinds[i], sample)
                    g.placed.insert(0, Placed("date", spec, f"'{h}' holds {note}; no header "
                                              "is named like a date: check", (h,)))
                    used.add(i)
                    break
        dates = [p for p in g.placed if p.target == "date"]
    date = next((p for p in dates if p.target == "date"), None)
    if date is not None and isinstance(date.spec, (str, dict)) and not _has_time(date, kinds,
                                                                                 sample):
        time_col = _time_of_day(sample, kinds, used)
        if time_col is not None:
            i, why_t = time_col
            h = sample.header[i]
            spec = date.spec if isinstance(date.spec, dict) else {"column": date.spec}
            spec = {"date": spec["column"], "time": h,
                    **({"format": spec["format"]} if "format" in spec else {})}
            date.spec = spec
            date.why += f"; with the time of day from '{h}' ({why_t})"
            date.reads += (h,)
            used.add(i)
    if table == "contacts" and "channel" not in taken and taken & {"answered", "wait", "talk"}:
        g.placed.append(Placed("channel", {"value": "phone"}, "no channel column; the file "
                               "has call fields (answered, wait or talk), so every row is a "
                               "phone call"))
    if table == "qa" and "criterion" not in taken and "score" not in taken:
        crit = [sample.header[i] for i in range(len(sample.header)) if sample.header[i]
                and i not in used and kinds[i].kind in ("number", "codes", "flag")
                and (kinds[i].kind != "number" or (kinds[i].hi is not None
                                                   and kinds[i].hi <= 100))]
        if crit:
            g.unpivot = tuple(crit)
            g.unpivot_why = ("one column per criterion (a wide QA export): each is read as "
                             "one item, criterion = its header, score = its cell")
            used |= {sample.header.index(c) for c in crit}
    for i, h in enumerate(sample.header):
        if h and i not in used:
            g.unplaced.append((h, kinds[i].why))
    # the numbers' notation, from the columns read as numbers
    read = [h for p in g.placed for h in p.reads] + list(g.unpivot)
    for h in dict.fromkeys(read):
        k = kinds[sample.header.index(h)]
        if k.kind != "number":
            continue
        if k.decimal != "." and (g.decimal == "." or "decimal comma" in k.why
                                 and "decimal comma" not in g.numbers_why):
            g.decimal, g.numbers_why = k.decimal, f"'{h}' holds {k.why}"
        if k.thousands and not g.thousands:
            g.thousands, g.thousands_why = k.thousands, f"'{h}' holds {k.why}"
    _excludes(g, kinds)
    return g


def _has_time(p: Placed, kinds, sample) -> bool:
    k = kinds[sample.header.index(p.reads[0])]
    return k.kind == "timestamp" and any(":" in d or "T" in d for d in k.distinct) or (
        k.format is not None and "%H" in k.format or k.format is not None and "%I" in k.format)


def _time_of_day(sample: Sample, kinds, used: set[int]) -> tuple[int, str] | None:
    best = None
    for i, h in enumerate(sample.header):
        if not h or i in used or kinds[i].kind != "hms":
            continue
        n = norm(h)
        vals = [_text(v) for v in sample.column(i) if not _blank(v)]
        if not all(int(v.split(":")[0]) < 24 for v in vals if _HMS.match(v)):
            continue
        rank = 0 if n in ("time", "start time", "call time", "time of day") else \
            1 if any(w in n.split() for w in ("time", "start", "entry", "begin", "arrival",
                                              "received")) else None
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, i, f"times of day such as {_shown(vals, 2)}")
    return (best[1], best[2]) if best else None


def _spec(target: str, col, header: str, k: Kind, sample: Sample) -> tuple[Any, str]:
    """What to write for one column, and why; (None, why) when it cannot be read."""
    if k.kind == "empty":
        return header, "no value in the rows sampled: check it is the right column"
    if col.type in ("timestamp", "date"):
        if k.format:
            return {"column": header, "format": k.format}, k.why
        return header, k.why
    if col.type in ("seconds", "hours"):
        if k.kind == "hms":
            return {"column": header, "unit": "hh:mm:ss"}, f"{k.why}: durations in h:mm:ss"
        n = norm(header).split()
        unit = ("minutes" if {"min", "mins", "minutes", "minute"} & set(n) else
                "hours" if {"hours", "hour", "hrs", "h"} & set(n) else "seconds"
                if {"sec", "secs", "seconds", "s", "second"} & set(n) else None)
        if unit is None:
            unit = "hours" if col.type == "hours" else "seconds"
            return {"column": header, "unit": unit}, (f"{k.why}; the name gives no unit, "
                                                      f"{unit} is assumed: CHECK")
        return {"column": header, "unit": unit}, f"{k.why}, in {unit} (by the name)"
    if col.type == "flag":
        if k.kind == "flag":
            inverted = target == "answered" and "abandon" in norm(header)
            if inverted:
                yes = [d for d in k.distinct if d.lower() in YES]
                no = [d for d in k.distinct if d.lower() in NO]
                return {"column": header, "codes": {**{d: "no" for d in yes},
                                                    **{d: "yes" for d in no}}}, \
                    f"{k.why}; abandoned = yes means answered = no"
            return header, k.why
        if k.kind in ("codes", "text") and target == "answered":
            codes, unknown = {}, []
            for d in k.distinct:
                low = norm(d)
                if any(w in low for w in ABANDON_WORDS):
                    codes[d] = "no"
                elif any(w in low for w in ANSWER_WORDS):
                    codes[d] = "yes"
                else:
                    unknown.append(d)
            if not codes:
                return None, f"{k.why}: none reads as answered or abandoned"
            why = f"outcome codes {k.why}"
            if unknown:
                why += (f"; {_shown(unknown)} read as neither: those rows are rejected unless "
                        "you add them to codes or exclude them (see below)")
            return {"column": header, "codes": codes}, why
        if k.kind == "number" and k.lo is not None and k.lo >= 0 and k.hi <= 1:
            return header, f"{k.why}: 1 = yes, 0 = no"
        return None, f"named like {target}, but holds {k.why}"
    if col.type == "category" and target == "channel":
        codes, unknown = {}, []
        for d in k.distinct:
            low = norm(d)
            hit = next((c for c, words in CHANNEL_WORDS.items() if low in words), None) or \
                next((c for c, words in CHANNEL_WORDS.items()
                      if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words)), None)
            if hit is None:
                unknown.append(d)
            elif d.lower() != hit:
                codes[d] = hit
        why = f"{k.why}"
        if unknown:
            why += (f"; {_shown(unknown)} are not a channel kpi_xl knows: map them in codes "
                    "or add them to [centre] channels")
        return ({"column": header, "codes": codes} if codes else header), why
    if col.type == "id" and k.kind != "empty":
        i = sample.header.index(header)
        seen = Counter(_text(r[i]) for r in sample.body if i < len(r) and not _blank(r[i]))
        twice = [d for d, n in seen.items() if n > 1]
        if twice:
            return None, (f"named like {target}, but {len(twice):,} of its values repeat in "
                          f"the file (e.g. {_shown(twice, 1)}): not used as an id (each row "
                          "is then its own contact)")
    if target == "agent" and k.kind in ("codes", "text"):
        none = [d for d in k.distinct if NO_AGENT.match(d)]
        if none:
            return {"column": header, "codes": {d: "" for d in none}}, \
                f"{k.why}; {_shown(none)} read as no agent"
    if col.type in ("number", "score") and k.kind == "number":
        return header, k.why
    return header, k.why


def _excludes(g: Guess, kinds) -> None:
    """Outcome codes read as neither answered nor abandoned: an exclusion to consider."""
    for p in g.placed:
        if p.target == "answered" and isinstance(p.spec, dict) and "codes" in p.spec:
            k = kinds[g.sample.header.index(p.spec["column"])]
            other = tuple(d for d in k.distinct if d not in p.spec["codes"])
            if other:
                g.excludes.append((p.spec["column"], other,
                                   "not an offered call (say why, e.g. a network signal "
                                   "with no caller)"))


# ---------------------------------------------------------------- the block
def _toml(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return _string(str(v))


def _string(v: str) -> str:
    """A TOML basic string (JSON's escapes, and DEL, which TOML also forbids raw)."""
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _string(k)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _line(left: str, why: str, width: int = 44) -> list[str]:
    if not why:
        return [left]
    why = _CONTROL.sub("?", why)       # a comment holds no control characters
    return [f"{left:<{width}} # {why}" if len(left) < width else f"{left}  # {why}"]


def render(g: Guess, path_text: str, name: str | None = None) -> str:
    s = g.sample
    name = name or re.sub(r"[^a-z0-9]+", "-", s.path.stem.lower()).strip("-") or "export"
    sampled = len(s.rows)
    out = [f"# kpi-xl map {path_text}: a guessed mapping ({sampled:,} of {s.total:,} rows "
           "sampled).",
           "# Check each line (its comment says why it was guessed), fix what is wrong,",
           "# paste the block into your config and run:  kpi-xl validate -c kpi_xl.toml",
           "[[sources]]"]
    out += _line(f"name = {_toml(name)}", "how reports name this source")
    out += _line(f"table = {_toml(g.table)}", g.table_why)
    out += _line(f"path = {_toml(path_text)}", "" if Path(path_text).is_absolute() else
                 "relative to the config file's folder")
    m = re.search(r"(19|20)\d\d-(0[1-9]|1[0-2])", s.path.name)
    if m:
        monthly = path_text.replace(m.group(0), "{month}")
        out.append(f"# the name holds a month: path = {_toml(monthly)} reads each month's file")
    if s.sheet is not None:
        out += _line(f"sheet = {_toml(s.sheet)}", "the first sheet with data" +
                     (f" (sheets: {', '.join(s.sheets)})" if len(s.sheets) > 1 else ""))
    if s.format == "csv":
        out += _line(f"encoding = {_toml(s.encoding)}", s.encoding_why or "the text is UTF-8")
        out += _line(f"delimiter = {_toml(s.delimiter)}", s.delimiter_why)
    if s.header_row != 1:
        out += _line(f"header_row = {s.header_row}", f"the header's row: {s.header_why}")
    if g.decimal != ".":
        out += _line(f"decimal = {_toml(g.decimal)}", g.numbers_why)
    if g.thousands:
        out += _line(f"thousands = {_toml(g.thousands)}", g.thousands_why)
    out.append("[sources.columns]")
    for p in g.placed:
        out += _line(f"{p.target} = {_toml(p.spec)}", p.why)
    if g.unpivot:
        out.append("[sources.unpivot]")
        out += _line(f"criteria = {_toml(list(g.unpivot))}", g.unpivot_why)
    for column, values, reason in g.excludes:
        out.append("# [[sources.exclude]]                       # rows to leave out on "
                   "purpose? (they go to the rejects report with the reason)")
        out.append(f"# column = {_toml(column)}")
        out.append(f"# values = {_toml(list(values))}")
        out.append(f"# reason = {_toml(reason)}")
    if g.unplaced:
        out.append("# Not placed (no canonical column guessed); map any that matter, e.g.")
        for h, why in g.unplaced:
            out.append(f"#   ? = {_toml(h)}".ljust(46) + f" # {_CONTROL.sub('?', why)}")
    for note in g.notes:
        out.append(f"# {note}")
    return "\n".join(out) + "\n"


def map_file(path: str | Path, sheet: str | None = None, table: str | None = None,
             name: str | None = None, rows: int = SAMPLE_ROWS) -> tuple[str, list[str]]:
    """The ``[[sources]]`` block for ``path`` (as text), and what keeps it from parsing
    with kpi_xl's source parser (empty when it parses: the usual case)."""
    import sys

    from .sources import ConfigError, parse_source

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    sample = sample_file(path, sheet, rows)
    g = guess(sample, table)
    text = render(g, str(path), name)
    try:
        spec = tomllib.loads(text)["sources"][0]
        parse_source(spec, ".")
    except ConfigError as e:
        return text, list(e.problems)
    except tomllib.TOMLDecodeError as e:     # a header kpi_xl failed to quote
        return text, [f"the block is not valid TOML ({e}): please report this file's header"]
    return text, []
