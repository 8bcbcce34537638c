"""How a source's file(s) are laid out, beyond the column mapping (``kpi_xl.data.sources``).

* ``path`` names one file, a glob (``exports/calls-*.csv``), a list of either, or a name
  with ``{month}`` (``exports/calls-{month}.csv``): filled with the run's month and the
  months before it that the run reads; with no month (``kpi-xl validate``), a glob over
  every month. Each file of a source is read, accounted and reported on its own.
* ``header_row`` (or ``skip_rows``): title rows above the header are skipped; row numbers
  in the rejects report stay the rows of the original file.
* ``decimal`` / ``thousands``: numbers written ``1.234,5`` (continental) or ``1,234.5``.
* ``unpivot`` (QA): a wide export, one row per evaluation and one column per criterion,
  read as one item per (row, criterion column): the criterion is the column's header, the
  score the cell.

Every problem in these settings is a sentence naming the source and the rule.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

MONTH_FIELD = "{month}"
MONTH_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]"
DECIMALS = (".", ",")
THOUSANDS = (",", ".", " ", "'", "\u00a0", "\u202f")
#: the canonical columns an unpivot makes, and the names their raw columns go by
UNPIVOT_CRITERION = "(criterion: the column's header)"
UNPIVOT_SCORE = "(score: the cell)"
_MAGIC = re.compile(r"[*?\[]")
PATH_RULE = ("'path' must be a file name (\"exports/calls.csv\"), a glob "
             "(\"exports/calls-*.csv\"), a name with {month} (\"exports/calls-{month}.csv\"), "
             "or a list of these")


# ------------------------------------------------------------------ path
def parse_path(value: Any, where: str, base_dir, problems: list[str],
               formats: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """(the path as the source names it, the patterns to expand at load time: empty for a
    plain file name). Problems are sentences added to ``problems``."""
    if value is None:
        return "", ()
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) and v.strip()
                                                   for v in value):
        items = list(value)
    else:
        problems.append(f"{where}: {PATH_RULE}; got {value!r} "
                        f"({_kind(value)})")
        return "", ()
    for item in items:
        rest = item.replace(MONTH_FIELD, "")
        if "{" in rest or "}" in rest:
            problems.append(f"{where}: path {item!r}: only {MONTH_FIELD} is filled in a path "
                            "(the run's month, e.g. 2026-10)")
            continue
    if len(items) == 1 and not _MAGIC.search(items[0]) and MONTH_FIELD not in items[0]:
        return items[0], ()
    for item in items:
        suffix = Path(item.replace(MONTH_FIELD, "2026-10")).suffix.lower()
        if suffix not in formats:
            problems.append(f"{where}: path {item!r}: end each name or pattern with the "
                            f"file type kpi_xl reads ({', '.join(sorted(formats))}), "
                            "e.g. exports/calls-*.csv")
    return items[0], tuple(_absolute(i, base_dir) for i in items)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an empty list" if not value else "a list with something other than text"
    return type(value).__name__


def _absolute(item: str, base_dir) -> str:
    p = Path(item).expanduser()
    return str(p if p.is_absolute() else Path(base_dir) / p)


def _matches(pattern: str) -> list[Path]:
    if not _MAGIC.search(pattern):
        return [Path(pattern)]          # a plain name: the reader says if it is missing
    return [Path(p) for p in sorted(glob.glob(pattern))]


def source_files(source, months: Sequence[str] | None = None):
    """The source, one per file it names: ([Source], problems). ``months``: the months the
    run reads, oldest first, the run's month last (None: every file). A ``{month}`` file
    of the run's month must be there; earlier months' files are read when present."""
    from .sources import FORMATS

    if not source.paths:
        return [source], []
    where = f"source '{source.name}'"
    files: dict[Path, None] = {}
    problems: list[str] = []
    for pattern in source.paths:
        if MONTH_FIELD in pattern and months:
            for m in months:
                hits = [f for f in _matches(pattern.replace(MONTH_FIELD, m)) if f.is_file()]
                if not hits and m == months[-1]:
                    problems.append(f"{where}: no file for {m}: nothing matches "
                                    f"{pattern.replace(MONTH_FIELD, m)}")
                files.update(dict.fromkeys(hits))
            continue
        hits = _matches(pattern.replace(MONTH_FIELD, MONTH_GLOB))
        if not hits:
            problems.append(f"{where}: no file matches {pattern}")
        files.update(dict.fromkeys(hits))
    out = []
    names: set[str] = set()
    for f in files:
        fmt = FORMATS.get(f.suffix.lower())
        if fmt is None:
            problems.append(f"{where}: cannot read '{f.name}': kpi_xl reads "
                            f"{', '.join(sorted(FORMATS))} files")
            continue
        name = source.name if len(files) == 1 else f"{source.name}:{f.name}"
        if name in names:
            name = f"{source.name}:{f.parent.name}/{f.name}"
        names.add(name)
        out.append(dataclasses.replace(source, name=name, path=f, format=fmt, paths=(),
                                       group=source.group or source.name))
    return out, problems


# ------------------------------------------------------------------ layout
def parse_layout(spec: Mapping[str, Any], where: str, fmt: str | None,
                 problems: list[str]) -> dict[str, Any]:
    """header_row (from header_row or skip_rows), decimal and thousands."""
    out: dict[str, Any] = {"header_row": 1, "decimal": ".", "thousands": None}
    header_row, skip = spec.get("header_row"), spec.get("skip_rows")
    for key, value, least in (("header_row", header_row, 1), ("skip_rows", skip, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            problems.append(f"{where}: '{key}' must be a whole number of at least {least} "
                            + ("(the row of the header, as a spreadsheet numbers it)"
                               if key == "header_row" else "(the title rows above the header)")
                            + f", got {value!r}")
            return out
    if header_row is not None and skip is not None and header_row != skip + 1:
        problems.append(f"{where}: 'header_row' = {header_row} and 'skip_rows' = {skip} "
                        "disagree (the header is the row after the skipped ones): give one")
    row = header_row if header_row is not None else (skip + 1 if skip is not None else 1)
    if row != 1 and fmt == "parquet":
        problems.append(f"{where}: a Parquet file has no title rows: drop header_row/skip_rows")
    out["header_row"] = row
    decimal, thousands = spec.get("decimal", "."), spec.get("thousands")
    if decimal not in DECIMALS:
        problems.append(f"{where}: 'decimal' must be \".\" or \",\" (the decimal mark of the "
                        f"export's numbers), got {decimal!r}")
        decimal = "."
    if thousands is not None and thousands != "" and thousands not in THOUSANDS:
        problems.append(f"{where}: 'thousands' must be one of "
                        + ", ".join(repr(t) for t in THOUSANDS)
                        + f" (the separator of thousands in the export's numbers), got "
                          f"{thousands!r}")
        thousands = None
    if thousands and thousands == decimal:
        problems.append(f"{where}: 'thousands' and 'decimal' are both {decimal!r}: a number "
                        "such as 1.234 would mean two things")
        thousands = None
    out["decimal"], out["thousands"] = decimal, thousands or None
    sheet, encoding = spec.get("sheet"), spec.get("encoding")
    if sheet is not None and (not isinstance(sheet, str) or not sheet.strip()):
        problems.append(f"{where}: 'sheet' must be the name of a worksheet (text), got "
                        f"{sheet!r}")
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(str(encoding))
        except LookupError:
            problems.append(f"{where}: 'encoding' {encoding!r} is not an encoding Python "
                            "knows (e.g. utf-8, cp1252, latin-1, utf-16)")
    return out


def plain_numbers(values: list, decimal: str, thousands: str | None) -> list:
    """Text numbers in the export's notation rewritten as 1234.5; numbers whose
    separators do not make a number in that notation are left as they are (to be
    reported as not a number). Cells that are numbers already are untouched."""
    if decimal == "." and not thousands:
        return values
    t = re.escape(thousands) if thousands else None
    d = re.escape(decimal)
    grouped = re.compile(rf"^[+-]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d+)?$") if t else None
    plain = re.compile(rf"^[+-]?(?:\d+(?:{d}\d*)?|{d}\d+)$")
    out = list(values)
    for i, v in enumerate(values):
        if not isinstance(v, str):
            continue
        s = v.strip()
        if grouped is not None and grouped.match(s):
            s = s.replace(thousands, "")
        elif not plain.match(s):
            continue          # not a number in this notation: left as it is
        out[i] = s.replace(decimal, ".") if decimal != "." else s
    return out


# ------------------------------------------------------------------ unpivot
@dataclass(frozen=True)
class Unpivot:
    """A wide QA export: each of these columns is a criterion, its cell the score.
    ``criteria``: the headers; ``pattern``: a glob over the headers (``Q*``,
    ``Score - *``). ``columns``: the headers found in the file (set when read)."""
    criteria: tuple[str, ...] = ()
    pattern: str | None = None
    columns: tuple[str, ...] = ()

    def resolve(self, header: Sequence[str], taken: set[str]) -> "Unpivot":
        if self.criteria:
            return dataclasses.replace(self, columns=self.criteria)
        found = tuple(h for h in header if h and h not in taken
                      and fnmatch.fnmatchcase(h, self.pattern or ""))
        return dataclasses.replace(self, columns=found)


def parse_unpivot(spec: Any, where: str, table: str | None, mapped: Mapping[str, Any],
                  problems: list[str]) -> Unpivot | None:
    if spec is None:
        return None
    example = ('[sources.unpivot] criteria = ["Greeting", "Empathy"] (the criterion '
               'columns\' headers) or columns = "Q*" (a glob over the headers)')
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: 'unpivot' must be a table: {example}")
        return None
    if table != "qa":
        problems.append(f"{where}: 'unpivot' reads a wide QA export (one column per "
                        f"criterion); it needs table = \"qa\", not {table!r}")
    bad = set(spec) - {"criteria", "columns"}
    if bad:
        problems.append(f"{where}: unpivot: unknown keys {sorted(bad)} (keys: criteria, "
                        "columns)")
    criteria, pattern = spec.get("criteria"), spec.get("columns")
    if (criteria is None) == (pattern is None):
        problems.append(f"{where}: unpivot needs one of 'criteria' or 'columns': {example}")
        return None
    if criteria is not None and (not isinstance(criteria, list) or not criteria or not all(
            isinstance(c, str) and c.strip() for c in criteria)):
        problems.append(f"{where}: unpivot 'criteria' must be a list of headers, got "
                        f"{criteria!r}")
        return None
    if pattern is not None and (not isinstance(pattern, str) or not pattern.strip()):
        problems.append(f"{where}: unpivot 'columns' must be a glob over the headers such as "
                        f"\"Q*\", got {pattern!r}")
        return None
    both = [t for t in ("criterion", "score") if t in mapped]
    if both:
        problems.append(f"{where}: with unpivot, {' and '.join(both)} come from the criterion "
                        "columns (the header and the cell): leave them out of [sources.columns]")
    return Unpivot(tuple(c.strip() for c in criteria) if criteria else (), pattern)


def unpivot_table(raw):
    """A RawTable of a wide QA export as one row per (file row, criterion column): the
    criterion is the header, the score the cell, the row number the file's. Structurally
    broken records stay one row each (in ``read``)."""
    import numpy as np

    from .rawcols import SqlColumn
    from .readers import RawTable
    from .sources import ColumnMap

    src = raw.source
    crit = src.unpivot.columns
    k, n = len(crit), len(raw.rows)
    keep = [c for c in raw.columns if c not in crit or any(c in m.reads for m in src.columns)
            or any(c in e.columns for e in src.exclude)]
    columns = {c: [v for v in raw.columns[c] for _ in range(k)] for c in keep}
    columns[UNPIVOT_CRITERION] = list(crit) * n
    cells = [raw.columns[c] for c in crit]
    columns[UNPIVOT_SCORE] = [cells[j][i] for i in range(n) for j in range(k)]
    for values in raw.columns.values():     # taken as lists: DuckDB's copy is done with
        if isinstance(values, SqlColumn):
            values.close()
    source = dataclasses.replace(src, columns=src.columns + (
        ColumnMap("criterion", column=UNPIVOT_CRITERION),
        ColumnMap("score", column=UNPIVOT_SCORE)))
    return RawTable(raw.header, columns, np.repeat(raw.rows, k), raw.read - n + n * k,
                    source, headers={UNPIVOT_SCORE: list(crit) * n,
                                     UNPIVOT_CRITERION: list(crit) * n})
