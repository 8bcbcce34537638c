"""What a source is: a file, its format, and how its columns map onto a canonical table.

A source is written in the config (TOML) and needs no code::

    [[sources]]
    preset = "pwc-call-centre"        # optional: start from a shipped mapping
    path = "exports/calls-q1.xlsx"

    [[sources]]
    name = "tickets"
    table = "contacts"
    path = "exports/tickets.csv"
    [sources.columns]
    id = "Ticket ID"                                  # a column, by its header
    date = { column = "Created", format = "%d/%m/%Y %H:%M" }
    channel = { column = "Via", codes = { "Web form" = "email", "Phone" = "phone" } }
    answered = { column = "outcome", codes = { AGENT = "yes", HANG = "no" } }
    wait = { column = "q_time", unit = "seconds" }
    created = { date = "Date", time = "Time" }        # two columns make one timestamp
    team = { value = "Tier 1" }                       # the same value on every row
    state = { column = "Status", codes = { New = "open", Hold = "pending" } }
    [[sources.exclude]]
    column = "outcome"
    values = ["PHANTOM"]
    reason = "phantom call: a network signal, no caller"
    [[sources.exclude]]                               # several columns: all must hold
    when = [{ column = "outcome", values = ["HANG"] }, { column = "q_start", values = ["0:00:00"] }]
    reason = "hung up in the voice menu: never reached the queue"

A contacts source may say where tickets *without a date* go: ``undated = "latest"`` places
a row whose date is blank and whose ``state`` is open or pending at the latest time any row
of the file carries (the export's "as of"), ``undated = "2023-06-02 09:00"`` at that time;
such a row counts as an open ticket there (volume, status, backlog) and stays out of the
KPIs that need the times it lacks. Each placed row is on the rejects report (``row
placed``) and the file's accounting line counts them; an undated solved or closed ticket is
still rejected, with its reason. Without ``undated``, every row needs a date.

Every problem in a source's description is reported at once, with the source's name.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ..errors import KpiXlError
from .schema import TABLES
from .shape import Unpivot, parse_layout, parse_path, parse_unpivot

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".parquet": "parquet"}
UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}


class ConfigError(KpiXlError, ValueError):
    """The config (or a preset) says something kpi_xl cannot do; ``problems`` lists all."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ColumnMap:
    target: str
    column: str | None = None
    value: Any = None
    date: str | None = None
    time: str | None = None
    format: str | None = None
    unit: str | None = None
    codes: Mapping[str, Any] | None = None

    @property
    def reads(self) -> list[str]:
        return [c for c in (self.column, self.date, self.time) if c]


@dataclass(frozen=True)
class Condition:
    """A column holds one of these values (compared as text, trimmed, in any case)."""
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Exclude:
    """Rows where every condition holds are left out on purpose, with the reason (to the
    rejects report as 'row excluded')."""
    when: tuple[Condition, ...]
    reason: str

    @property
    def columns(self) -> list[str]:
        return [c.column for c in self.when]

    @property
    def column(self) -> str:
        """The column(s), as the rejects report names them."""
        return ", ".join(self.columns)

    @property
    def values(self) -> tuple[str, ...]:
        """The values of a one-condition exclusion (the short form)."""
        return self.when[0].values if len(self.when) == 1 else ()


@dataclass(frozen=True)
class Source:
    name: str
    table: str
    path: Path
    format: str
    columns: tuple[ColumnMap, ...]
    exclude: tuple[Exclude, ...] = ()
    sheet: str | None = None
    delimiter: str | None = None       # None: detected (comma, semicolon, tab, pipe)
    encoding: str = "utf-8"
    preset: str | None = None
    notes: str = ""
    by_name: bool = False     # headers named like canonical columns are read as such
    # the file's layout (kpi_xl.data.shape): patterns to expand at load time (a glob, a
    # list, {month}), the header's row, the numbers' notation, a wide QA export
    paths: tuple[str, ...] = ()
    header_row: int = 1
    decimal: str = "."
    thousands: str | None = None
    unpivot: Unpivot | None = None
    group: str = ""           # one file of a multi-file source: that source's name
    #: where open or pending tickets without a date are placed: "latest" (the latest time
    #: in the file) or an ISO date/time; None: a row without a date is rejected
    undated: str | None = None
    #: a table or view of the ``[engine]`` backend (``support.contacts``) read in place
    #: instead of a file (:mod:`kpi_xl.run.relations`); None: a file
    relation: str | None = None

    def column(self, target: str) -> ColumnMap | None:
        for c in self.columns:
            if c.target == target:
                return c
        return None

    @property
    def file(self) -> str:
        return self.relation if self.relation is not None else self.path.name


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("kpi_xl.data.presets").iterdir()
                  if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    f = resources.files("kpi_xl.data.presets").joinpath(f"{name}.toml")
    if not f.is_file():
        raise ConfigError([f"unknown preset {name!r}; presets: {', '.join(preset_names())}"])
    return tomllib.loads(f.read_text(encoding="utf-8"))


def preset_dimensions(name: str) -> dict[str, str]:
    """The dimensions a preset offers: {dimension: the export's column}, for the columns
    it maps that are not columns of its table (read when the config declares them)."""
    spec = load_preset(name)
    schema = TABLES.get(spec.get("table"))
    out = {}
    for target, m in spec.get("columns", {}).items():
        if schema is not None and target not in schema.names:
            out[target] = m if isinstance(m, str) else str(m.get("column") or m.get("date") or "")
    return out


def parse_source(spec: Mapping[str, Any], base_dir: str | os.PathLike = ".",
                 index: int = 1, dimensions: tuple[str, ...] = ()) -> Source:
    """A source from its config table (merged over its preset, if any). ``dimensions``:
    the config's dimension names, which a contacts, surveys or QA source may map like
    columns (``kpi_xl.dimensions``)."""
    problems: list[str] = []
    spec = dict(spec)
    if "relation" in spec:
        return _relation_source(spec, index, dimensions)
    preset = spec.get("preset")
    offered: set[str] = set()       # columns only the preset maps, not the user
    if preset:
        base = load_preset(preset)
        cols = dict(base.get("columns", {}))
        own = spec.get("columns", {})
        offered = set(cols) - (set(own) if isinstance(own, Mapping) else set())
        cols.update(own)
        merged = {**base, **spec, "columns": cols}
        if "exclude" not in spec:
            merged["exclude"] = base.get("exclude", [])
        spec = merged
    name = str(spec.get("name") or preset or f"source {index}")
    where = f"source '{name}'"
    known = {"name", "preset", "table", "path", "sheet", "delimiter", "encoding", "columns",
             "exclude", "notes", "description", "by_name", "header_row", "skip_rows",
             "decimal", "thousands", "unpivot", "undated"}
    for k in spec:
        if k not in known:
            problems.append(f"{where}: unknown setting '{k}' (settings: {', '.join(sorted(known))})")
    table = spec.get("table")
    if table not in TABLES:
        problems.append(f"{where}: 'table' must be one of {', '.join(TABLES)}, got {table!r}")
    path, patterns = parse_path(spec.get("path"), where, base_dir, problems, FORMATS)
    if not path and (spec.get("path") is None or isinstance(spec.get("path"), str)):
        problems.append(f"{where}: 'path' is missing (the file to read)")
        path = ""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir) / p
    fmt = FORMATS.get(p.suffix.lower())
    if path and fmt is None and not patterns:
        problems.append(f"{where}: cannot read '{p.name}': kpi_xl reads "
                        f"{', '.join(sorted(FORMATS))} files")
    columns: list[ColumnMap] = []
    raw_cols = spec.get("columns", {})
    by_name = bool(spec.get("by_name", False))
    if not isinstance(raw_cols, Mapping) or (not raw_cols and not by_name):
        problems.append(f"{where}: 'columns' must map canonical columns to your headers")
        raw_cols = {}
    schema = TABLES.get(table)
    for target, m in raw_cols.items():
        dimension = target in dimensions and table in ("contacts", "surveys", "qa")
        if schema is not None and target not in schema.names and not dimension:
            if target in offered:
                # a dimension the preset offers (topic, ticket_type...) that the config
                # does not declare: not asked for, so not read
                continue
            extra = (f"; dimensions: {', '.join(dimensions)}" if dimensions
                     and table in ("contacts", "surveys", "qa") else
                     "; to cut results by it, declare it under [[dimensions]]")
            problems.append(f"{where}: '{target}' is not a column of the {table} table "
                            f"(columns: {', '.join(schema.names)}{extra})")
            continue
        try:
            columns.append(_column_map(target, m))
        except ValueError as e:
            problems.append(f"{where}, column '{target}': {e}")
    unpivot = parse_unpivot(spec.get("unpivot"), where, table, raw_cols, problems)
    layout = parse_layout(spec, where, fmt, problems)
    if schema is not None and not by_name:
        mapped = {c.target for c in columns} | ({"criterion", "score"} if unpivot else set())
        for c in schema.columns:
            if c.required and c.name not in mapped:
                problems.append(f"{where}: the {table} table needs '{c.name}' ({c.doc})")
        if table == "contacts" and not ({"date", "created"} & mapped):
            problems.append(f"{where}: contacts need 'date' or 'created' to be placed in a month")
    excludes = []
    raw_ex = spec.get("exclude", []) or []
    if not isinstance(raw_ex, list):
        problems.append(f"{where}: 'exclude' must be a list of [[sources.exclude]] tables")
        raw_ex = []
    for k, e in enumerate(raw_ex, 1):
        try:
            excludes.append(_exclude(e))
        except ValueError as err:
            problems.append(f"{where}, exclude {k}: {err}")
    undated = spec.get("undated")
    if undated is not None:
        problems += _undated_problems(where, undated, table, columns, by_name)
    delim = spec.get("delimiter")
    if delim is not None and (not isinstance(delim, str) or len(delim) != 1):
        problems.append(f"{where}: 'delimiter' must be one character, got {delim!r}")
    if problems:
        raise ConfigError(problems)
    return Source(name=name, table=table, path=p, format=fmt, columns=tuple(columns),
                  exclude=tuple(excludes), sheet=spec.get("sheet"), delimiter=delim,
                  encoding=str(spec.get("encoding") or "utf-8"), preset=preset,
                  notes=str(spec.get("notes") or spec.get("description") or ""),
                  by_name=by_name, paths=patterns, unpivot=unpivot, **layout, undated=undated)


#: a relation's name: up to three dotted parts (catalog.schema.table), each a plain
#: identifier or one in double quotes or backticks. It is spliced into SQL, so nothing
#: but a name gets through (the engine's backends check it again).
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"|`(?:[^`]|``)+`)'
RELATION_NAME = re.compile(rf"^{_PART}(?:\.{_PART}){{0,2}}$")

#: the tables that cannot be read in place, and why (the loader derives and checks what
#: the SQL path does not): the sentence a config naming one gets
NOT_IN_PLACE = {
    "wfm": "the wfm table (a WFM adherence export) cannot be read in place: its times are "
           "derived and checked against each other row by row (in adherence from out of "
           "adherence, shrinkage from paid time, a value contradicting another left out and "
           "reported, one row per agent and day) by the loader only; export it to a file "
           "and give it as path (preset = \"generic-wfm\"); the other sources may stay "
           "relations",
}

#: the settings a relation source takes (everything else describes a file)
RELATION_KEYS = ("name", "table", "relation", "columns", "notes", "description")


def _relation_source(spec: Mapping[str, Any], index: int,
                     dimensions: tuple[str, ...]) -> Source:
    """A source that is a table or view of the ``[engine]`` backend, read in place
    (``relation = "support.contacts"``). Its columns are the canonical ones; ``columns``
    may rename them (``agent = "agent_name"``: the relation's column, by name). What a
    file's mapping converts (codes, units, formats, two columns made one, a fixed value)
    and the file settings (path, preset, exclude...) have no meaning here and are refused,
    each with a sentence."""
    name = str(spec.get("name") or f"source {index}")
    where = f"source '{name}'"
    problems = []
    for k in spec:
        if k not in RELATION_KEYS:
            problems.append(f"{where}: '{k}' does not apply to a relation read in place "
                            f"(a relation's settings: {', '.join(RELATION_KEYS)}); convert "
                            "the values in a view of your database, or export a file")
    table = spec.get("table")
    if table not in TABLES:
        problems.append(f"{where}: 'table' must be one of {', '.join(TABLES)}, got {table!r}")
    elif table in NOT_IN_PLACE:
        problems.append(f"{where}: {NOT_IN_PLACE[table]}")
    relation = spec.get("relation")
    if not isinstance(relation, str) or not RELATION_NAME.match(relation.strip()):
        problems.append(f"{where}: 'relation' must name a table or view (schema.table, "
                        f"e.g. support.contacts), got {relation!r}")
        relation = ""
    raw = spec.get("columns", {}) or {}
    columns = []
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: 'columns' must rename canonical columns to the "
                        "relation's (agent = \"agent_name\")")
        raw = {}
    schema = TABLES.get(table)
    for target, m in raw.items():
        dimension = target in dimensions and table in ("contacts", "surveys", "qa")
        if schema is not None and target not in schema.names and not dimension:
            problems.append(f"{where}: '{target}' is not a column of the {table} table "
                            f"(columns: {', '.join(schema.names)})")
        elif not isinstance(m, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", m):
            problems.append(f"{where}, column '{target}': a relation's column is renamed "
                            f"by its plain name (e.g. {target} = \"{target}_col\"); "
                            f"conversions (codes, unit, format, date + time, value) are "
                            f"for files: do them in a view of your database; got {m!r}")
        else:
            columns.append(ColumnMap(target, column=m))
    if problems:
        raise ConfigError(problems)
    return Source(name=name, table=table, path=Path(relation.strip()), format="relation",
                  columns=tuple(columns), notes=str(spec.get("notes") or
                                                   spec.get("description") or ""),
                  relation=relation.strip())


UNDATED_LATEST = "latest"


def undated_time(value: str):
    """The time an ``undated`` setting names, as a ``datetime`` (None for "latest", which
    the loader takes from the file); ValueError when it is neither."""
    import datetime as dt

    if value == UNDATED_LATEST:
        return None
    return dt.datetime.fromisoformat(value.strip())


def _undated_problems(where: str, undated: Any, table: Any, columns: list[ColumnMap],
                      by_name: bool) -> list[str]:
    out = []
    if table != "contacts":
        out.append(f"{where}: 'undated' places tickets without a date; it applies to "
                   f"contacts sources, not {table}")
    if not isinstance(undated, str):
        out.append(f"{where}: 'undated' must be \"latest\" or a date and time such as "
                   f"\"2023-06-02 09:00\", got {undated!r}")
        return out
    try:
        fixed = undated_time(undated)
    except ValueError:
        out.append(f"{where}: 'undated' must be \"latest\" (the latest time in the file) "
                   f"or a date and time such as \"2023-06-02 09:00\", got {undated!r}")
    else:
        if fixed is not None and fixed.tzinfo is not None:
            out.append(f"{where}: 'undated' must be a local time in the centre's time zone, "
                       f"without a UTC offset, got {undated!r}")
    if not by_name and "state" not in {c.target for c in columns}:
        out.append(f"{where}: 'undated' places open and pending tickets only, so the source "
                   "must map 'state' (e.g. state = { column = \"Status\", codes = { Open = "
                   "\"open\", Closed = \"closed\" } })")
    return out


def resolve_by_name(source: Source, header: list[str]) -> Source:
    """For a by-name source: every header spelled like a canonical column (any case) is
    mapped to it, unless the source maps that column already."""
    import dataclasses

    from .schema import TABLES

    if not source.by_name:
        return source
    table = TABLES[source.table]
    mapped = {c.target for c in source.columns}
    used = {n for c in source.columns for n in c.reads}
    extra = []
    for h in header:
        key = str(h).strip().lower()
        if key in table.names and key not in mapped and h not in used:
            extra.append(ColumnMap(key, column=h))
            mapped.add(key)
    missing = [c.name for c in table.columns if c.required and c.name not in mapped]
    if source.table == "contacts" and not ({"date", "created"} & mapped):
        missing.append("date")
    if source.undated is not None and "state" not in mapped:
        missing.append("state")        # the undated rule places open and pending tickets
    if missing:
        raise ConfigError([f"source '{source.name}': {source.file} has no column "
                           + " or ".join(repr(m) for m in missing)
                           + f", which the {source.table} table needs"])
    return dataclasses.replace(source, columns=source.columns + tuple(extra))


def _exclude(e: Any) -> Exclude:
    """``{column, values, reason}`` (one column) or ``{when = [{column, values}, ...],
    reason}`` (several columns, all must hold)."""
    if not isinstance(e, Mapping):
        raise ValueError(f"must be a table with 'column', 'values' and 'reason', got {e!r}")
    extra = set(e) - {"column", "values", "when", "reason"}
    if extra:
        raise ValueError(f"unknown keys {sorted(extra)} (keys: column, values, when, reason)")
    reason = e.get("reason")
    problems = []
    if not isinstance(reason, str) or not reason.strip():
        problems.append("'reason' is missing: say why these rows are left out (it goes to "
                        "rejects.csv)")
    if "when" in e:
        if "column" in e or "values" in e:
            problems.append("give either 'column' and 'values' or 'when', not both")
        conds = e["when"]
        if not isinstance(conds, list) or not conds:
            problems.append("'when' must be a list of conditions such as "
                            '{ column = "Outcome", values = ["HANG"] }')
            conds = []
    else:
        conds = [{k: e[k] for k in ("column", "values") if k in e}]
    when = []
    for j, c in enumerate(conds, 1):
        at = f"'when' condition {j}: " if "when" in e else ""
        if not isinstance(c, Mapping):
            problems.append(f"{at}must be a table {{ column = ..., values = [...] }}, got {c!r}")
            continue
        bad = set(c) - {"column", "values"}
        if bad:
            problems.append(f"{at}unknown keys {sorted(bad)} (keys: column, values)")
        column, values = c.get("column"), c.get("values")
        if not isinstance(column, str) or not column.strip():
            problems.append(f"{at}'column' is missing: the header of the column to look at")
        if isinstance(values, (str, int, float)) and not isinstance(values, bool):
            values = [values]
        if not isinstance(values, list) or not values or not all(
                isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            problems.append(f"{at}'values' must be a list of the values (as text) that "
                            f"exclude a row, got {values!r}")
            continue
        if isinstance(column, str) and column.strip():
            when.append(Condition(column, tuple(str(v) for v in values)))
    if problems:
        raise ValueError("; ".join(problems))
    return Exclude(tuple(when), reason.strip())


def _column_map(target: str, m: Any) -> ColumnMap:
    if isinstance(m, str):
        return ColumnMap(target, column=m)
    if not isinstance(m, Mapping):
        raise ValueError(f"must be a header name or a table, got {m!r}")
    allowed = {"column", "value", "date", "time", "format", "unit", "codes"}
    extra = set(m) - allowed
    if extra:
        raise ValueError(f"unknown keys {sorted(extra)} (allowed: {', '.join(sorted(allowed))})")
    forms = [k for k in ("column", "value", "date") if k in m]
    if len(forms) != 1:
        raise ValueError("give exactly one of column, value, or date (+ time)")
    if "time" in m and "date" not in m:
        raise ValueError("'time' goes with 'date'")
    unit = m.get("unit")
    if unit is not None and unit not in UNITS and unit != "hh:mm:ss":
        raise ValueError(f"unit must be one of {', '.join(UNITS)} or hh:mm:ss, got {unit!r}")
    codes = m.get("codes")
    if codes is not None and not isinstance(codes, Mapping):
        raise ValueError("codes must be a table: { \"export value\" = \"meaning\" }")
    return ColumnMap(target, column=m.get("column"), value=m.get("value"), date=m.get("date"),
                     time=m.get("time"), format=m.get("format"), unit=unit,
                     codes=dict(codes) if codes is not None else None)


__all__ = ["UNDATED_LATEST", "undated_time", "ColumnMap", "Condition", "ConfigError",
           "Exclude", "Source", "load_preset", "parse_source", "preset_dimensions",
           "preset_names"]
