"""Intraday traffic and staffing from the data: per interval (15, 30 or 60 minutes), per
date or as a weekday pattern, the calls offered, answered and abandoned, AHT, ASA and
service level; the Erlang C agents the traffic needed for a target; and the agents who
actually handled calls in the interval.

Nothing here states a KPI's formula. Each contact gets two derived columns, ``day``
(its date, ``1999-02-01``) and ``interval`` (the start of its interval, ``09:30``), and
the engine (:class:`kpi_xl.engine.Engine`) computes the catalog's KPIs with ``interval``
(and, per date, the pair ``day × interval``) as levels, in its one GROUPING SETS pass:

* offered = the n of the answered-call rate (variant ``offered``: calls with an answered
  flag); answered = its value × n; abandoned = abandonment rate (variant ``all``) × n;
* AHT, ASA and service level as the config chooses them (the service level's threshold is
  the staffing threshold, so the observed service level and the Erlang target agree).

**Weekday pattern.** Over the period's chosen weekdays (``weekdays = ["sun", "mon",
"tue", "wed", "thu"]`` for a centre that works Sunday to Thursday), counts are averaged
per day: each interval's total over those days is divided by the number of chosen
weekdays in the period that fall between the first and the last contact of the data
(``days``), so a day with no calls in an interval counts as a day with none. Rates and
durations are pooled over the days (a ratio of sums, as the engine computes any level).

**Erlang C.** Per interval, the catalog's Erlang KPIs (``traffic_intensity``,
``erlang_agents``, ``erlang_agents_p_wait``, ``erlang_agents_asa``) are computed through
:func:`kpi_xl.render.arrays.compute` from the calls offered (per date, or the mean per
day) and the AHT (the interval's own, or one given), for a target service level within T
seconds, a P(wait) or an ASA. An interval with no calls needs 0 agents; where the model
cannot say (no call answered, so no AHT; traffic beyond its range) the ``note`` column
says why and the requirement stays blank.

**Actual agents**: the distinct named agents who answered calls that arrived in the
interval (per date), or the mean of that count over the days (pattern). A call is placed
in the interval in which it arrived; answered calls without a named agent are not counted.

Outputs: ``intraday.csv`` (UTF-8 with BOM, text made safe for spreadsheets) and a
workbook with an "Intraday" sheet (:func:`write_sheet` takes any openpyxl workbook, so
the scorecard can hold the sheet too), both written whole (:mod:`kpi_xl.files`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import KpiError, KpiXlError
from .periods import Period, as_period
from .text import cell_text, csv_safe, ooxml_text

#: ``weekdays`` names, in Python's weekday() order (Monday = 0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INTERVALS = (15, 30, 60)
#: the engine KPIs the intraday table reads
KPIS = ("answered_rate", "abandonment_rate", "aht", "asa", "service_level")
#: the Erlang C KPI of each kind of target, and the input its target goes to
TARGETS = {"service_level": ("erlang_agents", "target"),
           "p_wait": ("erlang_agents_p_wait", "target_p_wait"),
           "asa": ("erlang_agents_asa", "target_asa")}
#: [staffing] settings, as the config (and the command line) names them
SETTINGS = ("interval", "weekdays", "target_sl", "threshold", "target_asa", "target_pwait",
            "aht", "per_date", "max_occupancy", "channels", "patience")
_TARGET_KEYS = {"target_sl": "service_level", "target_pwait": "p_wait", "target_asa": "asa"}


class StaffingError(KpiXlError):
    """The data cannot give an intraday table for the period (one sentence saying why)."""


@dataclass(frozen=True)
class StaffingSettings:
    """What to compute: interval minutes, the weekdays, the target (``kind``:
    service_level, p_wait or asa, and its ``value``), the service level's threshold T
    (None: the config's service level threshold, 20 s by default), a given AHT in seconds
    (None: each interval's own), per date or the weekday pattern, the highest occupancy
    the requirement may reach, the channels counted (empty: every contact with an
    answered flag), and for an Erlang A column beside Erlang C the callers' mean patience:
    seconds, or "data" to estimate it from the period's calls (None: no Erlang A)."""
    interval: int = 30
    weekdays: tuple[str, ...] = WEEKDAYS
    target_kind: str = "service_level"
    target_value: float = 0.8
    threshold: float | None = None
    aht: float | None = None
    per_date: bool = False
    max_occupancy: float = 1.0
    channels: tuple[str, ...] = ()
    patience: float | str | None = None

    def target_text(self, threshold: float) -> str:
        if self.target_kind == "service_level":
            return f"service level {self.target_value:.0%} within {threshold:g} s"
        if self.target_kind == "p_wait":
            return f"P(wait) at most {self.target_value:.0%}"
        return f"ASA at most {self.target_value:g} s"


def parse_staffing(spec: Mapping[str, Any] | None, problems: list[str],
                   where: str = "[staffing]",
                   base: StaffingSettings = StaffingSettings()) -> StaffingSettings:
    """``[staffing]`` (or the command line's flags in the same names, over ``base``): each
    problem is a sentence naming the setting, the rule and the value. A target given
    replaces the one in ``base``."""
    s = base
    if spec is None:
        return s
    if not isinstance(spec, Mapping):
        problems.append(f"{where} must be a table of settings, got {spec!r}")
        return s
    for k in spec:
        if k not in SETTINGS:
            problems.append(f"{where}: unknown setting '{k}' (settings: {', '.join(SETTINGS)})")
    out: dict[str, Any] = {}

    def number(key, lo, hi, *, open_lo=False, whole=False):
        v = spec.get(key)
        if v is None:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v > lo if open_lo else v >= lo) and v <= hi and (not whole or v == int(v))
        if not ok:
            rng = f"{'above' if open_lo else 'from'} {lo:g} {'up ' if open_lo else ''}to {hi:g}"
            problems.append(f"{where} {key} must be a {'whole ' if whole else ''}number "
                            f"{rng}, got {v!r}")
            return None
        return v

    iv = spec.get("interval")
    if iv is not None:
        if iv in INTERVALS and not isinstance(iv, bool):
            out["interval"] = int(iv)
        else:
            problems.append(f"{where} interval must be 15, 30 or 60 (minutes), got {iv!r}")
    wd = spec.get("weekdays")
    if wd is not None:
        names = wd.split(",") if isinstance(wd, str) else wd
        if not isinstance(names, (list, tuple)) or not names:
            problems.append(f"{where} weekdays must be a list such as [\"mon\", \"tue\"], "
                            f"got {wd!r}")
        else:
            days = [str(d).strip().lower()[:3] for d in names]
            bad = [str(d) for d, x in zip(names, days) if x not in WEEKDAYS]
            if bad:
                problems.append(f"{where} weekdays: {bad[0]!r} is not a weekday (use "
                                f"{', '.join(WEEKDAYS)})")
            else:
                out["weekdays"] = tuple(dict.fromkeys(days))   # as given: sun, mon...
    targets = [k for k in _TARGET_KEYS if spec.get(k) is not None]
    if len(targets) > 1:
        problems.append(f"{where}: give one target, not {' and '.join(targets)}")
    elif targets:
        key = targets[0]
        v = (number(key, 0, 0.999999, open_lo=True) if key == "target_sl"
             else number(key, 0.0001, 1) if key == "target_pwait"
             else number(key, 0, 86_400, open_lo=True))
        if v is not None:
            out["target_kind"], out["target_value"] = _TARGET_KEYS[key], float(v)
    for key, lo, hi, open_lo in (("threshold", 0, 86_400, False), ("aht", 0, 86_400, True),
                                 ("max_occupancy", 0.01, 1, False)):
        v = number(key, lo, hi, open_lo=open_lo)
        if v is not None:
            out[key] = float(v)
    pd_ = spec.get("per_date")
    if pd_ is not None:
        if isinstance(pd_, bool):
            out["per_date"] = pd_
        else:
            problems.append(f"{where} per_date must be true or false, got {pd_!r}")
    ch = spec.get("channels")
    if ch is not None:
        if isinstance(ch, list) and all(isinstance(c, str) and c.strip() for c in ch):
            out["channels"] = tuple(c.strip().lower() for c in ch)
        else:
            problems.append(f"{where} channels must be a list of channel names such as "
                            f"[\"phone\"], got {ch!r}")
    pt = spec.get("patience")
    if isinstance(pt, str) and pt.strip().lower() == "data":
        out["patience"] = "data"
    elif pt is not None:
        try:
            v = float(pt) if not isinstance(pt, bool) else math.nan
        except (TypeError, ValueError):
            v = math.nan
        if math.isfinite(v) and 0 < v <= 86_400:
            out["patience"] = v
        else:
            problems.append(f"{where} patience must be \"data\" (estimate it from the calls) "
                            f"or a number of seconds above 0 up to 86400, got {pt!r}")
    if out.get("patience", s.patience) is not None and \
            out.get("target_kind", s.target_kind) != "service_level":
        problems.append(f"{where}: patience adds Erlang A agents for a service-level target; "
                        "give target_sl, not a P(wait) or ASA target")
    return replace(s, **out)


def staffing_settings(cfg=None, **given: Any) -> StaffingSettings:
    """The config's ``[staffing]`` section with the command line's values (``given``, in
    the same names; None: not given) on top. A target given on the command line replaces
    the config's. Raises :class:`kpi_xl.data.sources.ConfigError` listing every problem."""
    from .data.sources import ConfigError

    problems: list[str] = []
    section = parse_staffing(cfg.raw.get("staffing") if cfg is not None else None, problems)
    given = {k: v for k, v in given.items() if v is not None}
    out = parse_staffing(given, problems, "staffing:", base=section) if given else section
    if problems:
        raise ConfigError(problems)
    return out


@dataclass
class Intraday:
    """One period's intraday table (``table``, a pandas DataFrame: see :data:`COLUMNS`)
    with what it rests on: the days counted (chosen weekdays between the first and last
    contact), the threshold T, and what the AHT of the requirement was."""
    period: Period
    settings: StaffingSettings
    table: Any
    days: list[dt.date]
    threshold: float
    data_range: tuple[dt.date, dt.date]
    skipped: dict[str, str] = field(default_factory=dict)
    #: the mean patience of the Erlang A column (seconds) and where it came from
    patience: float | None = None
    patience_source: str = ""

    @property
    def per_date(self) -> bool:
        return self.settings.per_date

    def lines(self) -> list[str]:
        """What the table is, in sentences (the sheet and the command line show them)."""
        s = self.settings
        wd = ", ".join(d.capitalize() for d in s.weekdays)
        first, last = self.data_range
        out = [f"{s.interval}-minute intervals, {self.period.title()}, "
               f"{'per date' if s.per_date else 'weekday pattern'} over {wd}.",
               f"{len(self.days)} such days between the first and the last contact "
               f"({first:%d %b %Y} – {last:%d %b %Y})"
               + ("." if s.per_date else "; counts and agents are means per day over them, "
                  "rates and times pooled over them.")]
        out.append(f"Erlang C agents required for {s.target_text(self.threshold)}"
                   + (f", occupancy at most {s.max_occupancy:.0%}" if s.max_occupancy < 1 else "")
                   + (f", AHT given as {s.aht:g} s." if s.aht is not None
                      else ", with each interval's own AHT."))
        if self.patience is not None:
            out.append(f"Erlang A agents for the same target, callers hanging up after a mean "
                       f"patience of {self.patience:.0f} s ({self.patience_source}).")
        out.append(f"Observed service level: answered within {self.threshold:g} s, as the "
                   "config defines service level; actual agents: distinct named agents who "
                   "answered calls arriving in the interval.")
        for k, why in self.skipped.items():
            out.append(f"{k} not computed: {why}")
        return out

    def write_csv(self, path: str | os.PathLike) -> Path:
        """The table as CSV, UTF-8 with BOM (for Excel); text made safe for spreadsheets."""
        from .files import open_replacing

        t = self.table.copy()
        for c in ("date", "weekday", "interval", "note"):
            if c in t:
                t[c] = [csv_safe(str(v)) if isinstance(v, str) else "" for v in t[c]]
        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            t.to_csv(f, index=False)
        return Path(path)


# ------------------------------------------------------------------ the computation
def _label(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def intraday(tables: Mapping[str, Any], period: Period | str,
             settings: StaffingSettings | None = None, *, choices: Mapping[str, Any] | None = None,
             fiscal_start: int = 1) -> Intraday:
    """The intraday table of ``period`` (any grain) from the ``contacts`` table (canonical
    columns: ``date`` with a time of day, ``answered``, and for the KPIs ``wait``,
    ``talk``..., ``agent``); ``choices`` are the config's KPI choices."""
    import numpy as np
    import pandas as pd

    from .engine import PAIR, Engine, KpiChoice

    s = settings or StaffingSettings()
    period = as_period(period, fiscal_start)
    df = tables.get("contacts")
    if df is None or len(df) == 0:
        raise StaffingError("no contacts were loaded: staffing needs the calls (a contacts "
                            "source with a date and time and an answered flag)")
    for col, why in (("date", "to place each call in an interval"),
                     ("answered", "to tell offered, answered and abandoned calls apart")):
        if col not in df:
            raise StaffingError(f"the contacts data has no '{col}' column, needed {why}")
    if s.channels:
        if "channel" not in df:
            raise StaffingError("[staffing] channels names channels, but the contacts data "
                                "has no 'channel' column")
        df = df[df["channel"].isin(s.channels)]
    df = df[df["answered"].notna()]      # offered calls: those the answered flag speaks of
    dates = pd.to_datetime(df["date"])
    if dates.notna().sum() == 0:
        raise StaffingError("no call in the contacts data has an answered flag and a date"
                            + (f" on channels {', '.join(s.channels)}" if s.channels else ""))
    data_range = (dates.min().date(), dates.max().date())
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    in_period = (dates >= start) & (dates < end)
    if not in_period.any():
        raise StaffingError(f"no calls in {period.title()}: the calls in the data run from "
                            f"{data_range[0]:%d %b %Y} to {data_range[1]:%d %b %Y}")
    if (dates[in_period] == dates[in_period].dt.normalize()).all():
        raise StaffingError(
            f"every call in {period.title()} is at 00:00:00: the dates carry no time of day, "
            "so calls cannot be placed in intervals (map the time, e.g. date = { date = "
            "\"Date\", time = \"Time\" })")
    first, last = max(period.start, data_range[0]), min(period.last, data_range[1])
    days = [first + dt.timedelta(k) for k in range((last - first).days + 1)]
    days = [d for d in days if WEEKDAYS[d.weekday()] in s.weekdays]
    if not days:
        raise StaffingError(f"no {', '.join(s.weekdays)} between {first:%d %b %Y} and "
                            f"{last:%d %b %Y} (the period's days with data)")
    chosen = in_period & dates.dt.day_of_week.isin([WEEKDAYS.index(d) for d in s.weekdays])
    rows = df[chosen].copy()
    when = dates[chosen]
    # the two derived columns, through lookups (a label per distinct day or interval, not
    # a string formatted per row: millions of calls stay quick)
    day = when.dt.normalize()
    rows["day"] = day.map({d: d.strftime("%Y-%m-%d") for d in day.unique()})
    labels = np.array([_label(m) for m in range(0, 24 * 60, s.interval)], dtype=object)
    rows["interval"] = labels[((when.dt.hour * 60 + when.dt.minute) // s.interval).to_numpy()]

    # what the engine computes: the config's choices, with the staffing threshold and the
    # variants whose n and value give the counts
    ch = {k: v for k, v in (choices or {}).items() if k in KPIS}
    sl = ch.get("service_level", KpiChoice())
    if s.threshold is not None:
        sl = replace(sl, params={**sl.params, "threshold": s.threshold})
    ch["service_level"] = sl
    ch["answered_rate"] = KpiChoice(variant="offered")
    ch["abandonment_rate"] = KpiChoice(variant="all")
    from .catalog import CATALOG
    from .catalog.rules import resolve_params

    kpi = CATALOG["service_level"]
    threshold = float(resolve_params(kpi, kpi.variant(sl.variant), dict(sl.params))["threshold"])
    eng = Engine({"contacts": rows}, kpis=list(KPIS), choices=ch,
                 dimensions=("day", "interval"),
                 pairs=[("day", "interval")] if s.per_date else (), fiscal_start=fiscal_start)
    res = eng.compute(period, 0, levels=["day", "interval"] if s.per_date else ["interval"])
    if "answered_rate" in res.skipped:
        raise StaffingError(f"calls offered cannot be counted: {res.skipped['answered_rate']}")
    level = PAIR.join(("day", "interval")) if s.per_date else "interval"
    got: dict[tuple[str, str], tuple[float, float, str]] = {}
    for r in res.frame(level, res.month).itertuples(index=False):
        v = float(r.value) if r.value is not None else math.nan
        got[(str(r.key), str(r.kpi))] = (v, float(r.n) if r.n == r.n else math.nan,
                                         str(r.note or ""))
    # distinct named agents who answered, per day and interval (not a KPI: a head count)
    if "agent" in rows:
        named = rows[(rows["answered"] == 1) & rows["agent"].notna()]
        named = named[named["agent"].astype(str).str.strip() != ""]
        heads = named.groupby(["day", "interval"])["agent"].nunique()
    else:
        heads = pd.Series(dtype=float)
    ivs = sorted(set(rows["interval"]))
    lo, hi = (int(ivs[0][:2]) * 60 + int(ivs[0][3:]), int(ivs[-1][:2]) * 60 + int(ivs[-1][3:]))
    span = [_label(m) for m in range(lo, hi + 1, s.interval)]
    patience, source = _patience(s, rows)
    table = _table(s, got, heads, span, days, threshold, patience)
    return Intraday(period, s, table, days, threshold, data_range,
                    {k: v for k, v in res.skipped.items() if k in KPIS}, patience, source)


def _patience(s: StaffingSettings, rows) -> tuple[float | None, str]:
    """The mean patience of the Erlang A column: the setting's seconds, or the catalog's
    ``mean_patience`` (total queue wait / abandons) over the period's chosen calls."""
    from .render.arrays import compute

    if s.patience is None:
        return None, ""
    if s.patience != "data":
        return float(s.patience), "as given"
    if "wait" not in rows:
        raise StaffingError("patience = \"data\" needs each call's queue wait (a 'wait' "
                            "column in the contacts data); give the patience in seconds instead")
    try:
        r = compute("mean_patience", wait=rows["wait"].to_numpy(dtype=float),
                    answered=rows["answered"].to_numpy(dtype=float))
    except KpiError as e:
        raise StaffingError(f"the mean patience cannot be estimated from the calls: {e}; "
                            "give it in seconds instead") from None
    return r.value, (f"estimated from the calls: {r.measures['waiting time (s)']:,.0f} s of "
                     f"queue wait over {r.measures['abandoned']:,.0f} abandon"
                     + ("" if r.measures["abandoned"] == 1 else "s"))


def _table(s: StaffingSettings, got, heads, span, days, threshold, patience=None):
    """One row per interval (per date: per date and interval) from the engine's values
    (``got``: (key, kpi) -> (value, n, note)) and the agent head counts."""
    import pandas as pd

    from .engine import PAIR

    n_days = len(days)
    recs = []
    keys = ([(d.isoformat(), iv) for d in days for iv in span] if s.per_date
            else [(None, iv) for iv in span])
    for day, iv in keys:
        key = f"{day}{PAIR}{iv}" if s.per_date else iv
        notes: list[str] = []

        def val(kpi):
            v, _n, note = got.get((key, kpi), (math.nan, math.nan, ""))
            return v, note

        ar_v, ar_n, _ = got.get((key, "answered_rate"), (math.nan, 0.0, ""))
        offered = 0 if ar_n != ar_n else int(round(ar_n))
        answered = 0 if offered == 0 else int(round(ar_v * ar_n))
        ab_v, ab_n, _ = got.get((key, "abandonment_rate"), (math.nan, 0.0, ""))
        abandoned = 0 if offered == 0 or ab_n != ab_n else int(round(ab_v * ab_n))
        if day is None:
            agents = float(sum(heads.get((d.isoformat(), iv), 0) for d in days)) / n_days
            div = n_days
        else:
            agents = float(heads.get((day, iv), 0))
            div = 1
        rec: dict[str, Any] = {}
        if day is not None:
            rec["date"] = day
            rec["weekday"] = WEEKDAYS[dt.date.fromisoformat(day).weekday()].capitalize()
        rec["interval"] = iv
        rec["offered"] = offered / div
        rec["answered"] = answered / div
        rec["abandoned"] = abandoned / div
        for kpi in ("aht", "asa", "service_level"):
            v, note = val(kpi)
            rec[kpi] = v
            if offered and v != v:
                name = "service level" if kpi == "service_level" else kpi.upper()
                notes.append(f"{name}: {note or 'no call of the interval has what it needs'}")
        calls = offered / div
        aht = s.aht if s.aht is not None else rec["aht"]
        rec["traffic"], rec["required_agents"] = _erlang(s, calls, aht, threshold, notes)
        if patience is not None:
            rec["required_agents_a"] = _erlang_a(s, calls, aht, threshold, patience, notes)
        rec["actual_agents"] = agents
        rec["note"] = "; ".join(notes)
        recs.append(rec)
    t = pd.DataFrame.from_records(recs)
    whole = ["required_agents"] + (["required_agents_a"] if patience is not None else []) + (["offered", "answered", "abandoned", "actual_agents"]
                                   if s.per_date else [])
    for c in whole:
        t[c] = t[c].round().astype("Int64")      # whole numbers; blank where the note says why
    return t


def _erlang(s: StaffingSettings, calls: float, aht: float, threshold: float,
            notes: list[str]) -> tuple[float, float]:
    """(traffic in Erlangs, agents required) from the catalog's Erlang C KPIs; NaN with a
    note where the model cannot say."""
    from .render.arrays import compute

    if calls == 0:
        notes.append("no calls offered: no agents required")
        return 0.0, 0.0
    if aht != aht:
        notes.append("no answered call, so no AHT to size the interval by (give --aht "
                     "or [staffing] aht)")
        return math.nan, math.nan
    interval = s.interval * 60
    key, target_input = TARGETS[s.target_kind]
    args: dict[str, Any] = {"calls": calls, "aht": aht, "interval": interval,
                            "max_occupancy": s.max_occupancy, target_input: s.target_value}
    if s.target_kind == "service_level":
        args["threshold"] = threshold
    try:
        traffic = compute("traffic_intensity", calls=calls, aht=aht, interval=interval).value
        return traffic, compute(key, **args).value
    except KpiError as e:
        notes.append(f"Erlang C: {e}")
        return math.nan, math.nan


def _erlang_a(s: StaffingSettings, calls: float, aht: float, threshold: float,
              patience: float, notes: list[str]) -> float:
    """Erlang A agents (service level over offered calls) from the catalog's
    ``erlang_a_agents``; NaN with a note where the model cannot say."""
    from .render.arrays import compute

    if calls == 0:
        return 0.0
    if aht != aht:
        return math.nan           # the Erlang C note says why
    try:
        return compute("erlang_a_agents", calls=calls, aht=aht, patience=patience,
                       interval=s.interval * 60, threshold=threshold, target=s.target_value,
                       max_occupancy=s.max_occupancy).value
    except KpiError as e:
        notes.append(f"Erlang A: {e}")
        return math.nan


# ------------------------------------------------------------------ the sheet
def _columns(result: Intraday) -> list[tuple[str, str, str]]:
    """The sheet's columns: (table column, heading, number format; the KPIs' from the
    catalog)."""
    from .catalog import CATALOG

    mean = "0.0" if not result.per_date else "0"
    per = " (mean per day)" if not result.per_date else ""
    cols = []
    if result.per_date:
        cols += [("date", "Date", "@"), ("weekday", "Day", "@")]
    cols += [("interval", "Interval", "@"), ("offered", "Offered" + per, mean),
             ("answered", "Answered" + per, mean), ("abandoned", "Abandoned" + per, mean),
             ("aht", CATALOG["aht"].title.split(" (")[0], CATALOG["aht"].number_format),
             ("asa", "ASA", CATALOG["asa"].number_format),
             ("service_level", f"Service level ({result.threshold:g} s)",
              CATALOG["service_level"].number_format),
             ("traffic", "Traffic (Erlangs)", CATALOG["traffic_intensity"].number_format),
             ("required_agents", "Agents required (Erlang C)", "0")]
    if result.patience is not None:
        cols.append(("required_agents_a", "Agents required (Erlang A)", "0"))
    cols += [("actual_agents", "Actual agents" + per, "0.0" if not result.per_date else "0"),
             ("note", "Note", "@")]
    return cols


CM_PT = 72 / 2.54                       # points in a centimetre (a chart's size is in cm)


def _fits_one_page(ws, chart, above: int) -> bool:
    """Whether rows 1..``above`` and ``chart`` below them print on one landscape A4 page
    at the sheet's fit-to-width scale. An estimate that errs towards "no": rows of no set
    height count 15 pt (Excel's for Calibri 11; LibreOffice's are lower), margins are the
    sheet's; a "no" costs a page break before the chart, never a chart cut in two."""
    from .scorecard.pdf import A4_IN, column_width_pt

    m = ws.page_margins
    page_w = (A4_IN[1] - (m.left or 0) - (m.right or 0)) * 72
    page_h = (A4_IN[0] - (m.top or 0) - (m.bottom or 0)) * 72
    table_w = sum(column_width_pt(d.width or 9.140625) for d in ws.column_dimensions.values())
    scale = min(1.0, page_w / max(table_w, chart.width * CM_PT, 1.0))
    rows_h = sum((ws.row_dimensions[r].height or 15.0) for r in range(1, above + 1))
    return (rows_h + chart.height * CM_PT) * scale <= page_h


def write_sheet(workbook, result: Intraday, title: str = "Intraday", centre: str = ""):
    """Add the intraday sheet to an openpyxl ``workbook``: the sentences saying what it
    is, the table, and a chart of calls offered (columns) with agents required and actual
    (lines, right axis). Returns the sheet."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.chart.text import RichText
    from openpyxl.drawing.text import (CharacterProperties, Paragraph, ParagraphProperties,
                                       RichTextProperties)
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.pagebreak import Break

    ws = workbook.create_sheet(title)
    # data text: shown as it is (kpi_xl.text.ooxml_text), as put() writes it
    ws["A1"] = ooxml_text(cell_text(f"{centre + ': ' if centre else ''}Intraday staffing, "
                                    f"{result.period.title()}"))
    ws["A1"].font = Font(name="Calibri", bold=True, size=14)
    lines = result.lines()
    for i, line in enumerate(lines, 2):
        ws.cell(i, 1, ooxml_text(cell_text(line)))
    head = len(lines) + 3
    cols = _columns(result)
    fill = PatternFill("solid", fgColor="1F4E78")
    for j, (_c, heading, _f) in enumerate(cols, 1):
        c = ws.cell(head, j, heading)
        c.font = Font(name="Calibri", bold=True, color="FFFFFF")
        c.fill = fill
        c.alignment = Alignment(wrap_text=True, vertical="top")
    t = result.table
    for i, rec in enumerate(t.to_dict("records"), head + 1):
        for j, (col, _h, fmt) in enumerate(cols, 1):
            v = rec[col]
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif isinstance(v, str):
                v = ooxml_text(cell_text(v))
            c = ws.cell(i, j, v)
            c.number_format = fmt if fmt != "@" else "General"
            if col == "note":
                c.alignment = Alignment(indent=1)
    last = head + len(t)
    widths = {"date": 11, "weekday": 6, "interval": 9, "note": 50}
    for j, (col, _h, _f) in enumerate(cols, 1):
        ws.column_dimensions[get_column_letter(j)].width = widths.get(col, 14)
    ws.row_dimensions[head].height = 48
    ws.freeze_panes = ws.cell(head + 1, 1)
    if len(t):
        idx = {c: j for j, (c, _h, _f) in enumerate(cols, 1)}
        # per date: the columns run day after day, each labelled once with its date
        cats = Reference(ws, min_col=idx["date" if result.per_date else "interval"],
                         min_row=head + 1, max_row=last)
        bar = BarChart()
        bar.title = f"Calls offered and agents, {result.period.title()}"
        bar.add_data(Reference(ws, min_col=idx["offered"], min_row=head, max_row=last),
                     titles_from_data=True)
        bar.set_categories(cats)
        bar.y_axis.title = "calls offered" + (" per day" if not result.per_date else "")
        bar.y_axis.number_format = "0"
        bar.y_axis.majorGridlines = None
        bar.x_axis.number_format = "@"
        # interval labels turned a quarter, so that 24-96 of them fit under the columns
        bar.x_axis.txPr = RichText(bodyPr=RichTextProperties(rot=-5400000, vert="horz"),
                                   p=[Paragraph(pPr=ParagraphProperties(
                                       defRPr=CharacterProperties(sz=800)),
                                       endParaRPr=CharacterProperties(sz=800))])
        line = LineChart()
        for col in ("required_agents", "required_agents_a", "actual_agents"):
            if col not in idx:
                continue
            line.add_data(Reference(ws, min_col=idx[col], min_row=head, max_row=last),
                          titles_from_data=True)
        for series in line.series:
            series.smooth = False                 # agents are steps, not a smooth curve
        line.y_axis.axId = 200
        line.y_axis.title = "agents"
        line.y_axis.number_format = "0"
        line.y_axis.crosses = "max"
        for ax in (bar.x_axis, bar.y_axis, line.y_axis):
            ax.delete = False          # openpyxl 3.1 hides axes unless told
        bar += line
        bar.legend.position = "b"
        bar.height, bar.width = 10, 30
        if result.per_date:
            per_day = len(t) // len(result.days)
            bar.x_axis.tickLblSkip = bar.x_axis.tickMarkSkip = per_day
            bar.gapWidth = 0
            # beside the table's top: a month of rows would push it out of sight below
            ws.add_chart(bar, ws.cell(head, len(cols) + 2).coordinate)
        else:
            ws.add_chart(bar, ws.cell(last + 2, 1).coordinate)    # below the table
            if not _fits_one_page(ws, bar, last + 1):
                # the chart on a page of its own, not cut across the table's last page and
                # the next (LibreOffice printed its title at the foot of the table's page)
                ws.row_breaks.append(Break(id=last))      # after the table's last row
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True          # one page wide, as tall as needed
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = f"1:{head}"          # what it is and the column heads, every page
    return ws


def write_workbook(path: str | os.PathLike, result: Intraday, centre: str = "") -> Path:
    """A workbook holding only the "Intraday" sheet, written whole."""
    from openpyxl import Workbook

    from .files import replacing

    wb = Workbook()
    wb.remove(wb.active)
    write_sheet(wb, result, centre=centre)
    with replacing(path) as tmp:
        wb.save(tmp)
    return Path(path)


# ------------------------------------------------------------------ the command
@dataclass
class StaffingRun:
    result: Intraday
    csv: Path
    workbook: Path
    dataset: Any = None


def run_staffing(cfg, period: Period | str, settings: StaffingSettings | None = None,
                 out: str | os.PathLike = "workbooks", reporter=None,
                 allow_partial: bool = False) -> StaffingRun:
    """Load the config's sources and run the monthly run's data guards on them (a period
    whose data is missing, thin or mostly rejected stops here unless ``allow_partial``),
    compute the period's intraday table and write ``OUT/<period>/intraday.csv`` and
    ``intraday-<period>.xlsx`` (holding the output folder's lock while writing). Raises
    before writing when a file cannot be used or the guards refuse the period."""
    from .files import folder_lock
    from .run.month import Reporter, load_checked

    from .data.sources import ConfigError

    in_place = [s for s in cfg.sources if s.relation is not None]
    if in_place:
        # the intraday table reads each call's arrival time: rows, not counts
        raise ConfigError([f"source '{in_place[0].name}': kpi-xl staffing reads the calls "
                           "from files; a relation read in place (relation = ...) gives the "
                           "monthly run its KPIs, not yet the intraday table: export the "
                           "month's calls to a file and give it with --source"])
    reporter = reporter or Reporter()
    period = as_period(period, cfg.fiscal_start)
    settings = settings or staffing_settings(cfg)
    ds, _report = load_checked(cfg, period, 0, reporter, allow_partial)
    reporter.progress(f"intraday table for {period.label}")
    result = intraday(ds.tables, period, settings, choices=cfg.choices,
                      fiscal_start=cfg.fiscal_start)
    folder = Path(out) / period.label
    with folder_lock(out):
        folder.mkdir(parents=True, exist_ok=True)
        csv = result.write_csv(folder / "intraday.csv")
        book = write_workbook(folder / f"intraday-{period.label}.xlsx", result, cfg.name)
    return StaffingRun(result, csv, book, ds)


def text_table(result: Intraday, rows: Sequence[dict] | None = None) -> list[str]:
    """The table as fixed-width lines for the command line."""
    t = result.table
    recs = rows if rows is not None else t.to_dict("records")
    per = result.per_date
    head = (f"{'date':<11}{'day':<4}" if per else "") + (
        f"{'interval':<9}{'offered':>8}{'answd':>7}{'aband':>7}{'AHT s':>7}{'ASA s':>7}"
        f"{'SL':>6}{'Erl':>7}{'req':>5}" + (f"{'req A':>6}" if result.patience is not None
                                            else "") + f"{'actual':>7}  note")

    def f(v, spec):
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

    out = [head]
    for r in recs:
        cnt = ".0f" if per else ".1f"
        out.append((f"{r['date']:<11}{r['weekday']:<4}" if per else "")
                   + f"{r['interval']:<9}{f(r['offered'], cnt):>8}{f(r['answered'], cnt):>7}"
                   f"{f(r['abandoned'], cnt):>7}{f(r['aht'], '.0f'):>7}{f(r['asa'], '.1f'):>7}"
                   f"{f(r['service_level'], '.0%'):>6}{f(r['traffic'], '.2f'):>7}"
                   f"{f(r['required_agents'], '.0f'):>5}"
                   + (f"{f(r['required_agents_a'], '.0f'):>6}" if result.patience is not None
                      else "")
                   + f"{f(r['actual_agents'], '.0f' if per else '.1f'):>7}  {r['note']}")
    return out
