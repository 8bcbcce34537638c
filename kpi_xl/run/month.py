"""The monthly run: config → load → guards → compute → workbooks → mail → summary.

The period is a month by default, or any :class:`~kpi_xl.periods.Period` (a week, a
quarter, a year, a day, a range): its files go to ``<out>/<label>/`` and its history
follows its grain. Each step can run alone (``validate`` stops after the guards,
``compute`` after the results, ``scorecard`` after the workbooks) and a re-run for the
same period gives the same files. A step that finds the data wrong raises before anything is written or sent
(:class:`FilesUnusable`, :class:`kpi_xl.data.sources.ConfigError`,
:class:`kpi_xl.run.guards.DataRefused`), so a report is never half made.

What happens is told to a :class:`Reporter` (the command line prints it); this module
prints nothing itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import KpiXlError
from ..periods import HISTORY, Period, as_period
from .guards import DataRefused, GuardReport, GuardSettings, check, usual_window

STEPS = ("validate", "compute", "scorecard", "run")
STATUS_FILE = "run-status.json"
#: the months before the reported one that the guards take the usual volume over (at
#: least; a longer --history widens it); other grains: kpi_xl.run.guards.USUAL
GUARD_MONTHS = 12


class FilesUnusable(KpiXlError):
    """Some data files cannot be read at all; ``problems`` names each one."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("these files cannot be used; nothing was computed: "
                         + "; ".join(problems))


class Reporter:
    """Hears each step's outcome; the default hears nothing."""

    def progress(self, message: str) -> None: ...
    def data(self, ds) -> None: ...
    def guards(self, report: GuardReport, allowed: bool) -> None: ...
    def results(self, run: "MonthRun") -> None: ...
    def workbooks(self, paths: list[Path]) -> None: ...


@dataclass
class MonthRun:
    """What one run did: the data, the guards' findings and what was written and sent."""
    month: str | None                        # the period's label (any grain)
    step: str
    dataset: Any = None
    guards: GuardReport | None = None
    results: Any = None                      # kpi_xl.engine.Results
    results_path: str | None = None
    rejects_path: str | None = None
    books: list[Path] = field(default_factory=list)
    outcome: Any = None                      # kpi_xl.mail.send.Outcome, when mail ran
    alerts: Any = None                       # kpi_xl.run.alerts.AlertRun, with [alerts]
    where: str | None = None
    folder: Path | None = None
    period: Period | None = None

    @property
    def partial(self) -> str | None:
        return self.guards.partial_note() if self.guards is not None else None


def unknown_override_keys(cfg, ds) -> list[str]:
    """Targets per team or channel naming no team or channel of the data."""
    names: set[str] = set()
    for t in ds.tables.values():
        for col in ("team", "channel"):
            if col in t:
                names |= {str(x) for x in t[col].dropna().unique()}
    out = []
    for key, choice in cfg.choices.items():
        for name in choice.targets:
            if name not in names:
                out.append(f"[kpis.{key}] targets: {name!r} is not a team or channel in the data "
                           f"(there: {', '.join(sorted(names)) or 'none'})")
    return out


def load_checked(cfg, month: "Period | str | None", history: int | None, reporter: Reporter,
                 allow_partial: bool = False):
    """Load every source and run the guards: (dataset, guard report). Raises, before
    anything is written, when a file cannot be read, a target names nothing in the data,
    or (unless ``allow_partial``) the guards refuse the period (a month, or a period of
    any grain)."""
    from ..data.sources import ConfigError

    period = None if month is None else period_of(month, cfg.fiscal_start)
    if history is None and period is not None:
        history = HISTORY[period.grain] - 1
    # the usual volume is judged over a year at least, whatever the report's --history:
    # with --history 0 the window was empty and no month was ever too thin
    window = None if period is None else (
        period.back(max(history, GUARD_MONTHS))[:-1] if period.grain == "month"
        else usual_window(period, history))
    # a path with {month} reads the files of the months the period, its history and the
    # guards' usual volume have days in (the period's own last)
    months = None if period is None else sorted(
        {m for p in [*window, *period.back(history)] for m in p.calendar_months()})
    ds = load_sources(cfg, reporter.progress, months)
    reporter.data(ds)
    if ds.problems:
        raise FilesUnusable(ds.problems)
    unknown = unknown_override_keys(cfg, ds)
    if unknown:
        raise ConfigError(unknown)
    report = check(ds, period, cfg.guards or GuardSettings(), history=window,
                   dimensions=tuple(d.name for d in cfg.dimensions))
    reporter.guards(report, allow_partial)
    if not allow_partial:
        report.raise_if_refused()
    return ds, report


def load_sources(cfg, progress=None, months=None):
    """Every source of the config: files read and checked here (:func:`kpi_xl.data.load.
    load`), tables or views of the ``[engine]`` backend validated and counted where they
    are (:func:`kpi_xl.run.relations.read_in_place`), into one dataset."""
    from ..data.load import load

    files = [s for s in cfg.sources if s.relation is None]
    ds = load(files, cfg.load, cfg.choices, progress=progress, months=months)
    in_place = [s for s in cfg.sources if s.relation is not None]
    if in_place and not ds.problems:
        from .relations import read_in_place

        read_in_place(cfg.engine.connect(), in_place, ds, cfg.load, cfg.choices,
                      sample=cfg.engine.sample_rejects, progress=progress)
    return ds


def engine_of(cfg, ds):
    """The engine over a loaded dataset: its file tables loaded on the backend, its
    relations read where they are."""
    from .relations import engine_tables

    return engine_for(cfg, engine_tables(ds), backend=ds.backend, relations=ds.relations)


def run_month(cfg, step: str, month: "Period | str | None", *, history: int | None = None,
              out: str | os.PathLike = "workbooks", allow_partial: bool = False,
              resend: bool = False, resend_uncertain: bool = False,
              reporter: Reporter | None = None, lock_wait: float = 30.0) -> MonthRun:
    """Run ``step`` (validate, compute, scorecard or run) for ``month``: a
    :class:`~kpi_xl.periods.Period` of any grain or its label (``validate`` takes None:
    the files only). ``history``: the periods before it (default: the grain's,
    :data:`kpi_xl.periods.HISTORY`, 12 months before a month). Once the data has passed
    its guards, the step holds the output folder's lock (one run per folder at a time:
    :func:`kpi_xl.files.folder_lock`) while it writes and sends."""
    from ..files import folder_lock

    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step!r}")
    reporter = reporter or Reporter()
    period = None if month is None else period_of(month, cfg.fiscal_start)
    if period is not None and history is None:
        history = HISTORY[period.grain] - 1
    try:
        ds, report = load_checked(cfg, period, history, reporter, allow_partial)
    except DataRefused as e:
        if step == "run" and getattr(cfg, "alerts", None) is not None:
            _tell_data_contacts(cfg, period, e, out, reporter, lock_wait)
        raise
    run = MonthRun(None if period is None else period.label, step, ds, report, period=period)
    if step == "validate":
        report.raise_if_refused()
        return run
    if period is None:
        raise ValueError(f"the {step} step needs a period, e.g. a month: 2026-10")
    with folder_lock(out, wait=lock_wait):
        _write_and_send(cfg, run, step, period, history, Path(out), resend, resend_uncertain,
                        reporter)
    return run


def _tell_data_contacts(cfg, period: Period, e: DataRefused, out, reporter: Reporter,
                       lock_wait: float) -> None:
    """``run`` with ``[alerts]`` whose guards refused the period: the data contacts get
    the guard alert (kpi_xl.run.alerts), and the refusal says how that went
    (``e.alerted``: the alert run, or ``e.alert_error``: why mail stopped); the refusal
    stays the run's outcome."""
    from ..mail.send import MailError
    from .alerts import AlertRun, send_guard_alert, settings_of

    if "guard_failure" not in settings_of(cfg).rules:
        return
    try:
        alerts, outcome, where = send_guard_alert(cfg, period, e.refusals, out,
                                                  progress=reporter.progress,
                                                  lock_wait=lock_wait)
    except MailError as m:
        e.alert_error = str(m)
        return
    e.alerted = AlertRun(period, alerts, outcome, where, e)


def period_of(value: "Period | str", fiscal_start: int = 1) -> Period:
    """A Period, from itself or its label: a fiscal label (``FY2027-Q1``) with the config's
    fiscal year start, a calendar one (``2026-Q3``) as the calendar period."""
    if isinstance(value, Period):
        return value
    try:
        return as_period(value, fiscal_start)
    except ValueError:
        if fiscal_start == 1:
            raise
        return as_period(value, 1)


def output_folder(out: str | os.PathLike, period: Period) -> Path:
    """``<out>/<label>``: every label is a valid folder name on Windows too (a range's
    ``2021-01-01..2021-03-31`` included: '..' inside a name is not a parent)."""
    from ..names import inside

    return inside(out, period.label)


def _write_and_send(cfg, run: MonthRun, step: str, period: Period, history: int, out: Path,
                    resend: bool, resend_uncertain: bool, reporter: Reporter) -> None:
    ds = run.dataset
    month = period.label
    folder = out / month
    output_folder(out, period)                     # refuses a label that is no folder name
    folder.mkdir(parents=True, exist_ok=True)
    run.folder = folder
    # the files about to be rewritten no longer match the month's workbooks: send waits
    # until a scorecard (or run) step has made them again from the same results
    (folder / STATUS_FILE).unlink(missing_ok=True)
    reporter.progress(f"computing {month} and {history} {period.noun}s before it")
    from .relations import scorecard_tables

    res = engine_of(cfg, ds).compute(period, history)
    run.results = res
    run.results_path = res.write_csv(folder / "kpi-results.csv", cfg.csv)
    run.rejects_path = ds.rejects.write_csv(folder / "rejects.csv", cfg.csv)
    reporter.results(run)
    if step in ("scorecard", "run"):
        from ..scorecard.build import write_month
        from ..scorecard.layout import DEFAULT

        reporter.progress("writing the workbooks")
        run.books = write_month(res, scorecard_tables(ds, period), out, centre=cfg.name,
                                layout=cfg.layout or DEFAULT, max_score=cfg.max_score,
                                rubric=cfg.load.rubric, partial=run.partial,
                                dimensions=cfg.dimensions, significance=cfg.significance,
                                progress=reporter.progress,
                                **({"templates": cfg.templates} if cfg.templates else {}))
        run.books += member_books(cfg, res, out, run.partial)
        reporter.workbooks(run.books)
    if step in ("scorecard", "run"):
        write_status(folder, month, run.partial)
    if step == "run" and cfg.stakeholders:
        reporter.progress("sending the reports")
        run.outcome, run.where = send(cfg, period, out, resend=resend,
                                      resend_uncertain=resend_uncertain,
                                      progress=reporter.progress)
    if step == "run" and getattr(cfg, "alerts", None) is not None:
        from .alerts import send_alerts

        reporter.progress("sending the alerts")
        run.alerts = send_alerts(cfg, res, period, out,
                                 partial=run.guards.refusals if run.partial else None,
                                 progress=reporter.progress)


def member_books(cfg, res, out: Path, partial: str | None) -> list[Path]:
    """The scorecards of the dimension members that stakeholders are scoped to
    (``dimension = "queue"``, ``members = [...]``)."""
    from ..scorecard.dimensions import context_members, write_member_books

    members = context_members(cfg.stakeholders)
    if not members:
        return []
    return write_member_books(res, out, members, centre=cfg.name, dimensions=cfg.dimensions,
                              layout=cfg.layout, partial=partial,
                              templates=cfg.templates or None,
                              significance=cfg.significance)


def engine_for(cfg, tables, *, backend=None, relations=None):
    """The engine for a config: its KPI choices, dimensions, pairs and fiscal year, on
    the ``[engine]`` backend with its quantile policy. ``backend`` and ``relations``:
    the connection the sources read in place were checked on, and their views of used
    rows (kpi_xl.run.relations), which the engine computes on where they are."""
    from ..engine import Engine

    settings = cfg.engine
    if backend is None:
        backend = settings.connect() if settings is not None and settings.backend != "duckdb" \
            else None
    return Engine(tables, choices=cfg.choices, dimensions=[d.name for d in cfg.dimensions],
                  pairs=cfg.pairs, fiscal_start=cfg.fiscal_start, backend=backend,
                  relations=relations or None,
                  quantiles=settings.quantiles if settings is not None else None)


def write_status(folder: Path, month: str, partial: str | None) -> None:
    """What ``send`` needs to know about the run that made the month's files."""
    from ..files import write_bytes

    write_bytes(folder / STATUS_FILE,
                json.dumps({"month": month, "partial": partial}, indent=1).encode("utf-8"))


def read_status(folder: Path) -> dict:
    try:
        return json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def send(cfg, month: "Period | str", out, *, resend: bool = False,
         resend_uncertain: bool = False, progress: Callable[[str], None] | None = None):
    """Deliver the period's reports to the config's stakeholders: (outcome, where). Only a
    period whose workbooks and results a scorecard or run step made together, after its
    data guards passed (or with --allow-partial), is sent: a later compute withdraws it."""
    from ..mail.run import send_month
    from ..mail.send import MailError

    period = period_of(month, cfg.fiscal_start)
    month = period.label

    if not (Path(out) / month / STATUS_FILE).is_file():
        raise MailError(f"no finished run for {month} in {Path(out) / month}: run "
                        f"kpi-xl scorecard (or run) for {month} first, so its data is checked")

    return send_month(cfg.stakeholders, out, period, smtp=cfg.smtp, centre=cfg.name,
                      resend=resend, resend_uncertain=resend_uncertain, progress=progress,
                      significance=cfg.significance,
                      partial=read_status(Path(out) / month).get("partial"), layout=cfg.layout)
