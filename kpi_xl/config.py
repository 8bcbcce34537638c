"""The run's config file (TOML): where the data is and how the KPIs are computed.

    [centre]
    name = "Acme Support"
    time_zone = "Europe/Lisbon"               # offsets in exports are converted to it
    channels = ["phone", "email", "chat", "social"]

    [business_hours]                          # optional: response times in business hours
    mon = ["08:00", "18:00"]                  # days left out are closed
    fri = ["08:00", "16:00"]
    holidays = ["2026-12-25"]

    [[sources]]                               # one per file (see kpi_xl.data.sources)
    preset = "zendesk"
    path = "exports/tickets-2026-10.csv"

    [kpis.service_level]                      # per KPI: variant, options, target, min n
    variant = "offered"
    options = { threshold = 20 }
    target = 0.8
    min_n = 30
    targets = { "Tier 2" = 0.9 }              # per team or channel

    [qa]
    max_score = 5
    rubric = [
      { criterion = "Greeting", weight = 1, section = "Opening and greeting" },
      { criterion = "ID check", weight = 1, fatal = true, section = "Compliance" },
    ]

Every problem is reported at once (``ConfigError.problems``), naming the section and key.
Secrets never go here: SMTP passwords come from the environment or a keyring.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .bindings import BINDINGS, NOT_IN_ENGINE
from .catalog import CATALOG
from .catalog.change import DEFAULT_LEVEL
from .data.convert import DEFAULT_CHANNELS
from .data.hours import DAYS, BusinessHours
from .data.load import LoadOptions, RubricItem
from .data.sources import ConfigError, Source, parse_source
from .errors import KpiError
from .plan import KpiChoice

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTIONS = {"centre", "business_hours", "sources", "kpis", "qa", "scorecard", "stakeholders",
            "smtp", "output", "guards", "dimensions", "staffing", "report", "engine", "alerts"}
KPI_KEYS = {"variant", "options", "target", "min_n", "targets"}


@dataclass
class Config:
    path: Path | None
    sources: list[Source] = field(default_factory=list)
    load: LoadOptions = field(default_factory=LoadOptions)
    choices: dict[str, KpiChoice] = field(default_factory=dict)
    name: str = "Contact centre"
    raw: dict[str, Any] = field(default_factory=dict)
    layout: Any = None                  # kpi_xl.scorecard.layout.Layout
    stakeholders: list = field(default_factory=list)
    smtp: Any = None                    # kpi_xl.mail.send.SmtpSettings, or None: the outbox
    templates: Path | None = None       # a folder with your restyled templates
    max_score: float = 1.0              # QA: full marks for a rubric item
    guards: Any = None                  # kpi_xl.run.guards.GuardSettings
    dimensions: list = field(default_factory=list)        # kpi_xl.dimensions.Dimension
    pairs: list[tuple[str, str]] = field(default_factory=list)
    fiscal_start: int = 1               # [centre] fiscal_year_start: the month a fiscal year starts
    csv: Any = None                     # [output] csv: kpi_xl.csv_out.CsvStyle (None: comma)
    staffing: Any = None                # [staffing]: kpi_xl.intraday.StaffingSettings
    significance: float = DEFAULT_LEVEL  # [report] significance: the level of "larger than chance"
    engine: Any = None                  # [engine]: kpi_xl.engine.settings.EngineSettings
    alerts: Any = None                  # [alerts]: kpi_xl.alerts.AlertSettings (None: no section)


def read_config(path: str | os.PathLike) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"config file not found: {p} (kpi-xl init writes a starter one)"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"config file {p} cannot be read: {e}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{p.name} is not valid TOML: {e}"]) from None
    return parse_config(data, p.parent, p)


def config_with_sources(path: str | os.PathLike | None,
                        sources: "list[tuple[str, str]]" = ()) -> Config:
    """The config a command line gives: the file at ``path`` (or an empty config) with
    each ``(preset, file)`` of ``--source`` added as a source named after its preset
    (numbered when two share one), mapped with the config's dimensions; the guards'
    default settings where the file has no [guards]. No source at all is a ConfigError."""
    from .run.guards import GuardSettings

    cfg = read_config(path) if path else Config(None)
    for i, (preset, file) in enumerate(sources, len(cfg.sources) + 1):
        names = {s.name for s in cfg.sources}
        name = preset if preset not in names else f"{preset} #{i}"
        cfg.sources.append(parse_source({"preset": preset, "path": file, "name": name},
                                        ".", i, dimensions=cfg.load.dimensions))
    if not cfg.sources:
        raise ConfigError(["no data: give --config FILE or --source PRESET=PATH"])
    if cfg.guards is None:
        cfg.guards = GuardSettings()
    return cfg


def parse_config(data: Mapping[str, Any], base_dir: str | os.PathLike = ".",
                 path: Path | None = None) -> Config:
    problems: list[str] = []
    for k in data:
        if k not in SECTIONS:
            problems.append(f"unknown section [{k}] (sections: {', '.join(sorted(SECTIONS))})")
    cfg = Config(path, raw=dict(data))
    data = _shapes(data, problems)
    centre = data.get("centre", {})
    cfg.name = str(centre.get("name", cfg.name))
    tz = str(centre.get("time_zone", "UTC"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except (KeyError, ValueError, OSError):
        problems.append(f"[centre] time_zone {tz!r} is not a time zone name (e.g. Europe/Lisbon)")
        tz = "UTC"
    channels = centre.get("channels", list(DEFAULT_CHANNELS))
    if not isinstance(channels, list) or not all(isinstance(c, str) and c.strip() for c in channels):
        problems.append("[centre] channels must be a list of names")
        channels = list(DEFAULT_CHANNELS)
    channels = tuple(c.strip().lower() for c in channels)
    hours = _business_hours(data.get("business_hours"), tz, problems)
    rubric, max_score = _rubric(data.get("qa", {}), problems)
    from .dimensions import parse_dimensions, parse_pairs

    cfg.dimensions = parse_dimensions(data.get("dimensions"), problems)
    cfg.pairs = parse_pairs(centre.get("pairs"), cfg.dimensions, problems)
    fiscal = centre.get("fiscal_year_start", 1)
    if isinstance(fiscal, bool) or not isinstance(fiscal, int) or not 1 <= fiscal <= 12:
        problems.append(f"[centre] fiscal_year_start must be the month a fiscal year starts, "
                        f"1 to 12 (4 for April), got {fiscal!r}")
        fiscal = 1
    cfg.fiscal_start = fiscal
    dims = tuple(d.name for d in cfg.dimensions)
    cfg.load = LoadOptions(channels=channels, time_zone=tz, business_hours=hours, rubric=rubric,
                           dimensions=dims)
    for i, s in enumerate(data.get("sources", []) or [], 1):
        try:
            cfg.sources.append(parse_source(s, base_dir, i, dimensions=dims))
        except ConfigError as e:
            problems.extend(e.problems)
    if not data.get("sources"):
        problems.append("no [[sources]]: list the files to read (kpi-xl init writes examples)")
    cfg.choices = _choices(data.get("kpis", {}), problems)
    from .run.guards import parse_guards

    cfg.guards = parse_guards(data.get("guards"), problems)
    _sla_targets_cover_channels(data.get("kpis", {}), channels, problems)
    cfg.layout = _layout(data.get("scorecard"), problems, cfg.choices)
    from .mail.send import parse_smtp
    from .mail.stakeholders import parse_stakeholders

    cfg.stakeholders = parse_stakeholders(data.get("stakeholders", []), problems,
                                          dimensions=dims)
    cfg.smtp = parse_smtp(data.get("smtp"), problems)
    from .alerts import parse_alerts

    cfg.alerts = parse_alerts(data.get("alerts"), cfg.stakeholders, problems)
    from .csv_out import parse_output

    cfg.csv = parse_output(data.get("output"), problems)
    from .intraday import parse_staffing

    cfg.staffing = parse_staffing(data.get("staffing"), problems)
    cfg.significance = _report(data.get("report") or {}, problems)
    from .engine.settings import parse_engine

    cfg.engine = parse_engine(data.get("engine"), problems)
    problems += relation_problems(cfg.sources, cfg.engine.backend)
    folder = (data.get("scorecard") or {}).get("templates")
    if folder is not None and not isinstance(folder, str):
        problems.append(f"[scorecard] templates must be a folder name (text), got {folder!r}")
        folder = None
    if folder:
        t = Path(folder).expanduser()
        t = t if t.is_absolute() else Path(base_dir) / t
        missing = [n for n in ("balanced-scorecard.xlsx", "agent-qa.xlsx") if not (t / n).is_file()]
        if missing:
            problems.append(f"[scorecard] templates: {t} has no {' or '.join(missing)} "
                            "(copy them from kpi_xl's templates: kpi-xl templates FOLDER writes a copy, then restyle)")
        cfg.templates = t
    if max_score is not None:
        cfg.max_score = float(max_score)
        qa = cfg.choices.get("qa_score", KpiChoice())
        cfg.choices["qa_score"] = KpiChoice(qa.variant, {**qa.params, "max_score": max_score},
                                            qa.min_n, qa.target, qa.targets)
    if problems:
        raise ConfigError(problems)
    return cfg


def _report(section: Mapping[str, Any], problems: list[str]) -> float:
    """[report] significance: the confidence at which the reports call a change between
    periods larger than chance (kpi_xl.catalog.change), 0.80 to 0.999; default 0.95."""
    for k in section:
        if k != "significance":
            problems.append(f"[report] unknown key {k!r} (keys: significance)")
    level = section.get("significance", DEFAULT_LEVEL)
    if isinstance(level, bool) or not isinstance(level, (int, float)) \
            or not 0.8 <= level <= 0.999:
        hint = " (a share: 0.95, not 95)" if isinstance(level, (int, float)) \
            and not isinstance(level, bool) and 80 <= level < 100 else ""
        problems.append(f"[report] significance must be the confidence at which a change "
                        f"is called larger than chance, from 0.8 to 0.999 (0.95 for 95 %), "
                        f"got {level!r}{hint}")
        return DEFAULT_LEVEL
    return float(level)


# the shape each section must have: a value of another type is one sentence naming the
# section, and the section is then read as absent (so one run reports every problem)
_SHAPES = {"centre": (Mapping, "a table"), "business_hours": (Mapping, "a table"),
           "qa": (Mapping, "a table"), "kpis": (Mapping, "a table"),
           "scorecard": (Mapping, "a table"), "smtp": (Mapping, "a table"),
           "guards": (Mapping, "a table"), "output": (Mapping, "a table"),
           "report": (Mapping, "a table"), "alerts": (Mapping, "a table"),
           "engine": (Mapping, "a table"),
           "sources": (list, "a list of [[sources]] tables"),
           "dimensions": (list, "a list of [[dimensions]] tables"),
           "stakeholders": (list, "a list of [[stakeholders]] tables")}


def _shapes(data: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    out = dict(data)
    for name, (kind, what) in _SHAPES.items():
        value = out.get(name)
        if value is None:
            continue
        if not isinstance(value, kind):
            problems.append(f"[{name}] must be {what}, got {value!r}")
            del out[name]
        elif kind is list:
            bad = [i for i, v in enumerate(value, 1) if not isinstance(v, Mapping)]
            for i in bad:
                problems.append(f"[[{name}]] entry {i} must be a table, got {value[i - 1]!r}")
            out[name] = [v for v in value if isinstance(v, Mapping)]
    return out


def _number(value: Any, where: str, default: float, problems: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{where} must be a number, got {value!r}")
        return default
    return float(value)


def _layout(spec, problems: list[str], choices=None):
    """[scorecard]: perspectives, their KPIs, weights and worst cases (default: the
    shipped layout, kpi_xl.scorecard.layout.DEFAULT), checked against the KPIs' chosen
    variants (their units, scales and directions)."""
    from .scorecard.layout import DEFAULT, Layout, Line, Perspective

    if spec is None:
        problems.extend(DEFAULT.validate(choices))
        return DEFAULT
    for k in spec:
        if k not in ("near_target", "min_coverage", "perspectives", "templates"):
            problems.append(f"[scorecard]: unknown key {k!r} (keys: near_target, min_coverage, "
                            "perspectives, templates)")
    near = _number(spec.get("near_target", DEFAULT.near_target), "[scorecard] near_target",
                   DEFAULT.near_target, problems)
    cover = _number(spec.get("min_coverage", DEFAULT.min_coverage), "[scorecard] min_coverage",
                    DEFAULT.min_coverage, problems)
    persp = spec.get("perspectives")
    if persp is not None and not isinstance(persp, list):
        problems.append(f"[scorecard] perspectives must be a list of tables, got {persp!r}")
        persp = None
    if persp is None:
        layout = Layout(DEFAULT.perspectives, near_target=float(near), min_coverage=float(cover))
    else:
        out = []
        for i, p in enumerate(persp, 1):
            try:
                lines = tuple(Line(str(k["kpi"]), float(k["weight"]), float(k["worst"]),
                                   None if k.get("target") is None else float(k["target"]))
                              for k in p["kpis"])
                out.append(Perspective(str(p["name"]), float(p["weight"]), lines))
            except (KeyError, TypeError, ValueError):
                problems.append(f"[scorecard] perspective {i} needs name, weight and kpis, each "
                                "kpi with kpi, weight and worst (target optional)")
        layout = Layout(tuple(out), near_target=float(near), min_coverage=float(cover))
    problems.extend(layout.validate(choices))
    return layout


def _business_hours(spec, tz: str, problems: list[str]) -> BusinessHours | None:
    if spec is None:
        return None
    week: dict[str, tuple[str, str]] = {}
    holidays = []
    for k, v in spec.items():
        if k == "holidays":
            if not isinstance(v, list):
                problems.append(f"[business_hours] holidays must be a list of dates, got {v!r}")
                continue
            for d in v:
                try:
                    holidays.append(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)))
                except ValueError:
                    problems.append(f"[business_hours] holiday {d!r} is not a date like 2026-12-25")
            continue
        if k not in DAYS:
            problems.append(f"[business_hours] unknown key {k!r} (use {', '.join(DAYS)}, holidays)")
            continue
        if not (isinstance(v, list) and len(v) == 2):
            problems.append(f"[business_hours] {k} must be [\"opens\", \"closes\"], e.g. [\"08:00\", \"18:00\"]")
            continue
        week[k] = (str(v[0]), str(v[1]))
    try:
        return BusinessHours(week=week, holidays=tuple(holidays), time_zone=tz)
    except ValueError as e:
        problems.append(str(e))
        return None


def _rubric(qa: Mapping[str, Any], problems: list[str]):
    items = []
    rubric = qa.get("rubric", []) or []
    if not isinstance(rubric, list):
        problems.append(f"[qa] rubric must be a list of items, got {rubric!r}")
        rubric = []
    for i, r in enumerate(rubric, 1):
        try:
            w = float(r["weight"])
            if w < 0:
                raise ValueError
            items.append(RubricItem(str(r["criterion"]), w, bool(r.get("fatal", False)),
                                    str(r.get("section", ""))))
        except (KeyError, TypeError, ValueError):
            problems.append(f"[qa] rubric item {i} needs criterion and a weight >= 0")
    max_score = qa.get("max_score")
    if max_score is not None and (not isinstance(max_score, (int, float)) or max_score <= 0):
        problems.append(f"[qa] max_score must be a number > 0, got {max_score!r}")
        max_score = None
    return tuple(items), max_score


def _sla_targets_cover_channels(kpis: Any, channels: tuple[str, ...],
                                problems: list[str]) -> None:
    """Given its own SLA targets, every channel of ``[centre] channels`` needs one: a
    contact of a channel without a target can be neither met nor missed."""
    spec = kpis.get("sla_compliance") if isinstance(kpis, Mapping) else None
    options = spec.get("options") if isinstance(spec, Mapping) else None
    targets = options.get("targets") if isinstance(options, Mapping) else None
    if targets is None:
        return
    if isinstance(targets, Mapping):
        labels = targets.keys()
    elif isinstance(targets, list) and all(isinstance(r, list) and len(r) == 2 for r in targets):
        labels = [r[0] for r in targets]
    else:
        return          # its shape is _choices' to report
    have = {str(k).strip().lower() for k in labels}
    missing = [c for c in channels if c not in have]
    if missing:
        problems.append(f"[kpis.sla_compliance] options.targets has no target for the "
                        f"channel{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(repr(c) for c in missing)} of [centre] channels; add "
                        "one per channel (seconds), or drop the channel from [centre] channels")


def _choices(kpis: Mapping[str, Any], problems: list[str]) -> dict[str, KpiChoice]:
    from .catalog.rules import resolve_params

    out: dict[str, KpiChoice] = {}
    for key, spec in kpis.items():
        where = f"[kpis.{key}]"
        if key not in CATALOG:
            problems.append(f"{where}: {key!r} is not a KPI (see `kpi-xl kpis`)")
            continue
        if key in NOT_IN_ENGINE:
            problems.append(f"{where}: {key} is not computed by the monthly run: "
                            f"{NOT_IN_ENGINE[key]}")
            continue
        assert key in BINDINGS
        if not isinstance(spec, Mapping):
            problems.append(f"{where} must be a table")
            continue
        for k in spec:
            if k not in KPI_KEYS:
                problems.append(f"{where}: unknown key {k!r} (keys: {', '.join(sorted(KPI_KEYS))})")
        kpi = CATALOG[key]
        if spec.get("variant") is not None and not isinstance(spec.get("variant"), str):
            problems.append(f"{where}: variant must be a name (text), got {spec['variant']!r}")
            continue
        try:
            variant = kpi.variant(spec.get("variant"))
        except KpiError as e:
            problems.append(f"{where}: variant {e.text.split(' variant ', 1)[-1]}")
            continue
        for k in ("options", "targets"):
            if not isinstance(spec.get(k, {}), Mapping):
                problems.append(f"{where}: {k} must be a table, got {spec[k]!r}")
                spec = {**spec, k: {}}
        options = dict(spec.get("options", {}))
        known = {p.name for p in kpi.params}
        for o in options:
            if o not in known:
                problems.append(f"{where}: unknown option {o!r} (options: "
                                f"{', '.join(sorted(known)) or 'none'})")
        try:
            resolve_params(kpi, variant, {o: v for o, v in options.items() if o in known})
        except KpiError as e:
            problems.append(f"{where}: {e.text}")
        target = spec.get("target")
        targets = dict(spec.get("targets", {}))
        for name, t in [("target", target), *targets.items()]:
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))):
                problems.append(f"{where}: target for {name} must be a number, got {t!r}")
            elif t is not None:
                problems.extend(_target_in_range(where, kpi, variant, options, name, t))
        min_n = spec.get("min_n")
        if min_n is not None and (not isinstance(min_n, int) or min_n < 1):
            problems.append(f"{where}: min_n must be a whole number >= 1, got {min_n!r}")
        out[key] = KpiChoice(spec.get("variant"), options, min_n, target,
                             {str(k): float(v) for k, v in targets.items()
                              if isinstance(v, (int, float))})
    return out


def _target_in_range(where: str, kpi, variant, options, name: str, t: float) -> list[str]:
    """A target the variant can reach (kpi_xl.catalog.rules.value_range): a percent is a
    fraction (0.8 means 80 %), a mean score lies on its scale, NPS within -100..100."""
    from .catalog.rules import value_range

    try:
        rng = value_range(kpi, variant, options)
    except (KeyError, TypeError, ValueError):    # an option of the wrong kind: named above
        return []
    if rng is None:
        return []
    lo, hi, what = rng
    label = "target" if name == "target" else f"target for {name!r}"
    if (lo is None or t >= lo) and (hi is None or t <= hi):
        return []
    if kpi.unit_of(variant) == "percent" and hi is not None and hi < t <= 100 * hi:
        return [f"{where}: {label} is {t!r}, but percentages are written as fractions: "
                f"{t / 100:g} means {t:g} %"]
    span = (f"from {lo:g} to {hi:g}" if hi is not None else f">= {lo:g}")
    return [f"{where}: {label} must be {span} ({what}), got {t!r}"]


__all__ = ["Config", "ConfigError", "parse_config", "read_config"]


def relation_problems(sources, backend: str) -> list[str]:
    """Sources read in place (``relation =``) need a backend holding them, and each table
    comes either from files or from one relation (the loader's checks across the rows of
    a table, duplicate ids for one, would otherwise straddle two places)."""
    out = []
    relations = [s for s in sources if s.relation is not None]
    if relations and backend == "duckdb":
        out.append(f"source '{relations[0].name}': relation = \"{relations[0].relation}\" is a "
                   "table or view of a database, so [engine] backend must be \"postgres\" or "
                   "\"spark\" (the embedded DuckDB holds no tables of yours: give a file as "
                   "path instead)")
    for table in dict.fromkeys(s.table for s in relations):
        mine = [s for s in sources if s.table == table]
        if len(mine) > 1:
            out.append(f"the {table} table comes from a relation ('{mine[0].name}' and "
                       f"{len(mine) - 1} other source{'s' if len(mine) > 2 else ''}): a table "
                       "read in place comes from that one relation only (a UNION ALL view "
                       "in your database joins several)")
    return out

