"""Is the month's data there, complete and assigned? Checked before anything is written.

A monthly report that is wrong once is not opened again, so the run compares what it
loaded with what it usually loads and stops (before any workbook, CSV or message) when:

* a source has **no rows** in the month, or far fewer than usual: fewer than
  ``min_share_of_usual`` × its usual rows, *usual* being the median of the rows it had in
  the months that have data among the 12 before it (or the --history months, if more;
  a source with no earlier months is only checked for being empty);
* a source **rejects** more than ``max_rejected_share`` of the rows it read (rows left out
  on purpose by the mapping, and values ignored in used rows, do not count), or of its
  rows dated in the month (a new channel in the month's export is rejected row by row,
  and a 13-month file dilutes that below the share);
* one KPI **loses** more than ``max_rejected_share`` of a source's rows (of the month's
  rows, or of the whole file for ``validate``) to its input rules (``left out of KPIs``):
  a rule of one KPI leaves only that KPI, but when most answered calls leave service
  level for lack of a queue wait, the abandoned calls that stay make it 0 %, a confident
  wrong number. The rows a KPI loses are rejected rows for that KPI; so are the values of
  one column ignored in more than that share of the rows (a talk time written '5 min').

``--allow-partial`` goes ahead on purpose: the refusals become a *partial data* note that
the workbooks' title area and the messages show.

**Coverage** is reported, never refused: per table and level, how many of the month's rows
have no member ("2,500 of 2,500 contacts have no team"), flagged above
``max_share_without_member``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import KpiXlError
from ..periods import Period, as_period
from ..plan import TABLE_WORDS

#: the tables whose rows are placed in a month (the roster is not; business rows are
#: one per month, in the ``month`` column)
DATED = ("contacts", "surveys", "qa", "business", "wfm")
NOUNS = {"contacts": "contact", "surveys": "survey", "qa": "QA", "business": "business-figures",
         "wfm": "WFM agent-day"}
#: the levels whose coverage is reported, per table
COVERAGE_LEVELS = ("team", "agent", "channel")
#: per grain, the earlier periods the usual volume is the median of (at least; a longer
#: --history widens it): a year of months or weeks, a year of quarters; a day is compared
#: with the same weekday of the 8 weeks before (a Sunday with a Monday, it would always
#: look thin)
USUAL = {"month": 12, "week": 12, "quarter": 4, "year": 3, "day": 8, "range": 4}


def usual_window(period: Period, history: int = 0) -> list[Period]:
    """The earlier periods whose volumes give the usual one, oldest first."""
    if period.grain == "day":
        return [Period.day(period.start - dt.timedelta(days=7 * k))
                for k in range(USUAL["day"], 0, -1)]
    return period.back(max(history, USUAL[period.grain]))[:-1]


def in_words(period: Period) -> str:
    """The period in a sentence: a month by its label ('in 2026-10', as the monthly
    reports always said), any other by its title ('in week 44, 2026 (26 Oct – 1 Nov
    2026)', 'in Q3 2026')."""
    if period.grain == "month":
        return period.label
    t = period.title()
    return t[0].lower() + t[1:] if period.grain == "week" else t


def flag_of(period: Period) -> str:
    """The command-line flag that names a period of this grain."""
    return "--from/--to" if period.grain == "range" else f"--{period.grain}"


@dataclass(frozen=True)
class GuardSettings:
    """``[guards]`` in the config (every value a share from 0 to 1)."""
    min_share_of_usual: float = 0.5
    max_rejected_share: float = 0.05
    max_share_without_member: float = 0.10

    KEYS = ("min_share_of_usual", "max_rejected_share", "max_share_without_member")


def parse_guards(spec: Any, problems: list[str]) -> GuardSettings:
    """The ``[guards]`` table, each problem added to ``problems`` naming the key."""
    if spec is None:
        return GuardSettings()
    if not isinstance(spec, Mapping):
        problems.append("[guards] must be a table, e.g. [guards] min_share_of_usual = 0.5")
        return GuardSettings()
    values = {}
    for k, v in spec.items():
        if k not in GuardSettings.KEYS:
            problems.append(f"[guards]: unknown key {k!r} (keys: {', '.join(GuardSettings.KEYS)})")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            problems.append(f"[guards] {k} must be a share from 0 to 1 (0.5 means 50 %), "
                            f"got {v!r}")
        else:
            values[k] = float(v)
    return GuardSettings(**values)


class DataRefused(KpiXlError):
    """The month's data is missing, thin or mostly rejected: nothing was written or sent."""
    exit_code = 4

    def __init__(self, refusals: list[str], noun: str = "month", flag: str = "--month"):
        self.refusals = list(refusals)
        self.noun, self.flag = noun, flag
        super().__init__(f"the data for the {noun} looks incomplete: " + "; ".join(refusals))


@dataclass
class SourceVolume:
    source: str
    file: str
    table: str
    rows: int                   # used rows in the month
    usual: float | None         # median of the earlier months with data (None: no history)
    months: int                 # how many earlier months with data the median is over


@dataclass
class GuardReport:
    """What the guards found: refusals (stop the run), coverage lines (reported)."""
    month: str | None                   # the period's label (any grain)
    refusals: list[str] = field(default_factory=list)
    volumes: list[SourceVolume] = field(default_factory=list)
    coverage: list[tuple[str, bool]] = field(default_factory=list)   # (line, above threshold)
    period: Period | None = None

    @property
    def ok(self) -> bool:
        return not self.refusals

    def partial_note(self) -> str | None:
        """The note a partial report carries (None when the data passed)."""
        return None if self.ok else "partial data: " + "; ".join(self.refusals)

    def raise_if_refused(self) -> None:
        if self.refusals:
            p = self.period
            raise DataRefused(self.refusals, *((p.noun, flag_of(p)) if p else ()))


def _size(df, mask=None) -> int:
    """How many rows ``df`` stands for (where ``mask`` holds): its rows, or the sum of
    their ``_n`` for the counts of a source read in place (kpi_xl.run.relations: one row
    per month, day, team, channel..., weighted by the rows it counts)."""
    import numpy as np

    weights = df["_n"].to_numpy() if "_n" in df else None
    if mask is None:
        return int(weights.sum()) if weights is not None else len(df)
    m = np.asarray(mask, bool)
    return int(weights[m].sum()) if weights is not None else int(m.sum())


def _periods(df, table: str):
    col = "month" if table == "business" else "period"
    return df[col].astype(str) if col in df else None


@dataclass(frozen=True)
class _Place:
    """Which period each row of a table is in: a month from the loader's ``period``
    (``month`` for business figures) column, as the monthly run always did; a period of
    another grain from the row's ``date`` (a business figure, from its month, only where
    the periods are made of whole months)."""
    period: Period
    spans: tuple[Period, ...]                 # the reported period and the earlier ones

    def labels(self, df, table: str):
        if self.period.grain == "month":
            return _periods(df, table)
        import numpy as np
        import pandas as pd

        spans = sorted(set(self.spans), key=lambda p: p.start)
        if table == "business":
            if "month" not in df or any(p.months is None for p in spans):
                return None
            dates = pd.to_datetime(df["month"].astype(str) + "-01", errors="coerce")
        elif "date" in df:
            dates = pd.to_datetime(df["date"], errors="coerce")
        else:
            return None
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
        values = dates.to_numpy(dtype="datetime64[ns]")
        starts = np.array([np.datetime64(p.start, "ns") for p in spans])
        ends = np.array([np.datetime64(p.end, "ns") for p in spans])
        i = np.searchsorted(starts, values, side="right") - 1
        j = i.clip(0)
        inside = (i >= 0) & (values < ends[j])          # NaT compares False: no period
        names = np.array([p.label for p in spans], dtype=object)
        return pd.Series(np.where(inside, names[j], None), index=df.index, dtype=object)


def check(ds, month: "Period | str | None", settings: GuardSettings = GuardSettings(),
          history: "list[Period | str] | None" = None,
          dimensions: tuple[str, ...] = ()) -> GuardReport:
    """Check a loaded :class:`kpi_xl.data.load.Dataset` for ``month``, a period of any
    grain or its label (``None``: only the rejected shares, as ``validate`` does).
    ``history`` is the periods before it that the usual volume is taken over (default:
    every earlier month in the data for a month, :func:`usual_window` otherwise).
    ``dimensions``: the config's, each given a coverage line (never a refusal)."""
    period = None if month is None else as_period(month)
    rep = GuardReport(None if period is None else period.label, period=period)
    _rejected_shares(ds, settings, rep)
    if period is None:
        _left_out_shares(ds, None, settings, rep)
        return rep
    if history is None and period.grain != "month":
        history = usual_window(period)
    earlier = None if history is None else [as_period(p, period.fiscal_start) for p in history]
    place = _Place(period, (*(earlier or ()), period))
    _left_out_shares(ds, place, settings, rep)
    _rejected_in_month(ds, place, settings, rep)
    _volumes(ds, place, settings, earlier, rep)
    units = _units_in_period(ds, place)         # each table's rows placed once
    _coverage(ds, place, units, settings, rep)
    _dimension_coverage(place, units, dimensions, settings, rep)
    return rep


def _most_frequent(reasons: dict[str, int]) -> str:
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return "most frequent: " + "; ".join(f"{n:,} × {why}" for why, n in top)


def _rejected_shares(ds, settings: GuardSettings, rep: GuardReport) -> None:
    from ..data.rejects import ROW_REJECTED

    for acc, accs in _sources(ds.accounting):
        considered = acc.read - acc.excluded
        if considered <= 0 or acc.rejected / considered <= settings.max_rejected_share:
            continue
        reasons = ds.rejects.reasons([a.source for a in accs], ROW_REJECTED)
        rep.refusals.append(
            f"{acc.file} ({acc.source}) rejects {acc.rejected:,} of its {considered:,} rows "
            f"({acc.rejected / considered:.0%}, more than the {settings.max_rejected_share:.0%} "
            "allowed by [guards] max_rejected_share); " + _most_frequent(reasons))


def _rejected_in_month(ds, place: _Place, settings: GuardSettings,
                       rep: GuardReport) -> None:
    """The rejected share among the rows dated in the period (rows whose date could not be
    read are judged over the whole file only): a file of a good year and a bad month
    stays under the whole-file share, while the month loses many of its rows. A rejected
    row is dated by its month only (the rejects report's ``period``): a period that is
    not made of whole months (a week) is judged over the months it falls in, and the
    sentence names them."""
    from ..data.rejects import ROW_REJECTED

    period = place.period
    months = period.months or period.calendar_months()
    where = in_words(period) if period.months is not None else (
        f"{' and '.join(months)} (the month{'s' if len(months) > 1 else ''} "
        f"{in_words(period)} falls in; a rejected row is dated by its month only)")

    for acc, accs in _sources(ds.accounting):
        whole = acc.read - acc.excluded
        if acc.table not in DATED or (whole > 0 and acc.rejected / whole >
                                      settings.max_rejected_share):
            continue                       # refused over the whole file already
        reasons = ds.rejects.reasons([a.source for a in accs], ROW_REJECTED, months)
        rejected = sum(reasons.values())
        if not rejected:
            continue
        df = ds.tables.get(acc.table)
        used = 0
        if df is not None and "_source" in df:
            periods = _periods(df, acc.table)
            if periods is not None:
                used = _size(df, df["_source"].isin([a.source for a in accs]).to_numpy()
                             & periods.isin(months).to_numpy())
        considered = used + rejected
        if rejected / considered <= settings.max_rejected_share:
            continue
        rep.refusals.append(
            f"{acc.file} ({acc.source}) rejects {rejected:,} of its {considered:,} rows in "
            f"{where} ({rejected / considered:.0%}, more than the "
            f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share); "
            + _most_frequent(reasons))


def _left_out_shares(ds, place: "_Place | None", settings: GuardSettings,
                     rep: GuardReport) -> None:
    """Per source and KPI: the rows the KPI's input rules leave out (in the period, or in
    the whole file), as a share of the source's rows (in the period, or used)."""
    from ..data.rejects import LEFT_OUT, VALUE_IGNORED

    for acc in ds.accounting:
        if acc.source in getattr(ds, "counted", {}):
            _left_out_counted(ds, acc, place, settings, rep)
            continue
        # the source's lines, streamed from the report (never all of it in memory)
        items = (r for r in ds.rejects.find(acc.source, (VALUE_IGNORED, LEFT_OUT))
                 if r.action == VALUE_IGNORED or r.kpis)
        first = next(items, None)
        if first is None:
            continue
        items = itertools.chain([first], items)
        df = ds.tables.get(acc.table)
        if df is None or "_row" not in df:
            continue
        mine = _source_rows(df, acc, place)
        if mine is None:
            continue
        total = len(mine)
        if total == 0:
            continue
        rows = {int(r) for r in mine["_row"]}
        lost: dict[str, set[int]] = {}
        why: dict[str, dict[str, int]] = {}
        # values ignored that no rule names (a talk time written '5 min'): the KPIs that
        # read the column are computed from the rest, so a column counts like a KPI
        ignored: dict[str, set[int]] = {}
        for r in items:
            if r.row is None or r.row not in rows:
                continue
            if r.action == VALUE_IGNORED:
                ignored.setdefault(r.column, set()).add(r.row)
                why.setdefault("'" + r.column, {}).setdefault(r.reason, 0)
                why["'" + r.column][r.reason] += 1
            if not r.kpis:
                continue
            for kpi in dict.fromkeys(k.strip() for k in r.kpis.split(", ") if k.strip()):
                lost.setdefault(kpi, set()).add(r.row)
                why.setdefault(kpi, {}).setdefault(r.reason, 0)
                why[kpi][r.reason] += 1
        # KPIs losing the same rows are named together, in one sentence
        groups: dict[frozenset, list[str]] = {}
        for kpi, lost_rows in lost.items():
            if len(lost_rows) / total > settings.max_rejected_share:
                groups.setdefault(frozenset(lost_rows), []).append(kpi)
        where = f" in {in_words(place.period)}" if place is not None else ""
        _left_out_lines(acc, total, where, {tuple(kpis): len(rows_lost)
                                            for rows_lost, kpis in groups.items()},
                        why, settings, rep, ignored)


def _source_rows(df, acc, place: "_Place | None"):
    """The rows of ``df`` (a table, or a relation's counts) from ``acc``'s source, in
    ``place``'s period when one is given; None where they cannot be told apart (no
    ``_source``, or no way to place the table's rows in a period)."""
    if "_source" not in df:
        return None
    mine = df[(df["_source"] == acc.source).to_numpy()]
    if place is not None:
        periods = place.labels(mine, acc.table)
        if periods is None:
            return None
        mine = mine[(periods == place.period.label).to_numpy()]
    return mine


def _left_out_counted(ds, acc, place: "_Place | None", settings: GuardSettings,
                      rep: GuardReport) -> None:
    """:func:`_left_out_shares` for a source read in place, from its counts: per KPI,
    the rows (in the period, or all) breaking one of its rules. KPIs losing rows by the
    same rules lose the same rows, and are named together."""
    counted = ds.counted[acc.source]
    df = ds.tables.get(acc.table)
    if df is None or not counted.lost:
        return
    mine = _source_rows(df, acc, place)
    if mine is None:
        return
    total = _size(mine)
    if total == 0:
        return
    why = {kpi: {counted.texts[c]: int(mine[c].sum()) for c in cols if mine[c].sum()}
           for kpi, cols in counted.rules.items()}
    groups: dict[tuple, list[str]] = {}
    lost = {kpi: int(mine[col].sum()) for kpi, col in counted.lost.items()}
    for kpi, n in lost.items():
        if n / total > settings.max_rejected_share:
            groups.setdefault(tuple(counted.rules[kpi]), []).append(kpi)
    where = f" in {in_words(place.period)}" if place is not None else ""
    _left_out_lines(acc, total, where, {tuple(kpis): lost[kpis[0]] for kpis in groups.values()},
                    why, settings, rep)


def _left_out_lines(acc, total: int, where: str, groups: dict, why: dict,
                    settings: GuardSettings, rep: GuardReport, ignored=None) -> None:
    """The refusals of one source: the columns whose values are ignored in too many of
    its ``total`` rows, and the KPIs (``groups``: the KPIs losing the same rows -> how
    many they lose) that lose too many to their input rules."""
    for column, bad in sorted((ignored or {}).items()):
        n = len(bad)
        if n / total <= settings.max_rejected_share:
            continue
        rep.refusals.append(
            f"{acc.file} ({acc.source}): {n:,} of its {total:,} rows{where} "
            f"({n / total:.0%}) have their '{column}' value ignored (more than the "
            f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share; "
            "the KPIs that read it would be computed from the rest); "
            + _most_frequent(why["'" + column]))
    for kpis, n in sorted(groups.items(), key=lambda g: (-g[1], list(g[0]))):
        rep.refusals.append(
            f"{acc.file} ({acc.source}): {n:,} of its {total:,} rows{where} ({n / total:.0%})"
            f" leave {', '.join(sorted(kpis))} by their input rules (more than the "
            f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share; "
            "the rows that stay would give a value of the rest only); "
            + _most_frequent(why[kpis[0]]))


def _sources(accounting) -> list[tuple[Any, list]]:
    """The accounting per config source: a source reading several files (a glob, a list,
    {month}) is judged as one, like one file holding them all (each month's file has no
    rows in the other months): (its summed accounting, the files' own)."""
    groups: dict[str, list] = {}
    for acc in accounting:
        groups.setdefault(getattr(acc, "group", "") or acc.source, []).append(acc)
    out = []
    for name, accs in groups.items():
        acc = accs[0]
        if len(accs) > 1:
            acc = dataclasses.replace(
                acc, source=name, file=f"{len(accs)} files",
                **{k: sum(getattr(a, k) for a in accs)
                   for k in ("read", "used", "rejected", "excluded", "values_ignored",
                             "left_out")})
        out.append((acc, accs))
    return out


def _volumes(ds, place: _Place, settings: GuardSettings, history: list[Period] | None,
             rep: GuardReport) -> None:
    period = place.period
    month = period.label
    where = in_words(period)
    noun = ("earlier " + period.start.strftime("%A")) if period.grain == "day" else \
        f"earlier {period.noun}"
    flag = flag_of(period)
    labels = None if history is None else [p.label for p in history
                                           if p.start < period.start]
    for acc, accs in _sources(ds.accounting):
        if acc.table not in DATED:
            continue
        df = ds.tables.get(acc.table)
        counts: dict[str, int] = {}
        if df is not None and "_source" in df:
            periods = place.labels(df, acc.table)
            if periods is None:
                continue
            at = df["_source"].isin([a.source for a in accs]).to_numpy()
            if "_n" in df:          # counted in place: rows weighted by what they count
                mine = df["_n"][at].groupby(periods[at].to_numpy()).sum()
            else:
                mine = periods[at].value_counts()
            counts = {str(k): int(v) for k, v in mine.items()}
        rows = counts.get(month, 0)
        earlier = [counts[p] for p in (labels if labels is not None else sorted(counts))
                   if (labels is not None or p < month) and counts.get(p, 0) > 0]
        usual = float(statistics.median(earlier)) if earlier else None
        rep.volumes.append(SourceVolume(acc.source, acc.file, acc.table, rows, usual,
                                        len(earlier)))
        what = NOUNS.get(acc.table, acc.table) + " row"
        if rows == 0:
            rep.refusals.append(
                f"{acc.file} ({acc.source}) has no {what}s in {where}"
                + (f"; it usually has {usual:,.0f}" if usual else
                   f" (check {flag}, or that the export covers it)"))
        elif usual and rows < settings.min_share_of_usual * usual:
            rep.refusals.append(
                f"{acc.file} ({acc.source}) has {rows:,} {what}s in {where}, "
                f"{rows / usual:.0%} of its usual {usual:,.0f} (the median of {len(earlier)} "
                f"{noun}{'s' if len(earlier) != 1 else ''}; [guards] min_share_of_usual "
                f"is {settings.min_share_of_usual:.0%})")


def _coverage(ds, place: _Place, units, settings: GuardSettings, rep: GuardReport) -> None:
    month = in_words(place.period)
    for table, fill in getattr(ds, "teams", {}).items():    # where teams came from (all rows)
        rows = fill.own + fill.roster + fill.none
        if fill.roster:
            rep.coverage.append((f"{fill.roster:,} of {rows:,} {TABLE_WORDS.get(table, table)} "
                                 "rows took their team "
                                 "from the roster (their source maps none)", False))
        if fill.unrostered:
            rep.coverage.append((f"{fill.unrostered:,} of {rows:,} "
                                 f"{TABLE_WORDS.get(table, table)} rows name an agent "
                                 "who is not in the roster (kept, with their own team or "
                                 "'(no team)'; add them to the roster)",
                                 fill.unrostered / rows > settings.max_share_without_member))
        if fill.differs:
            rep.coverage.append((f"{fill.differs:,} {table} rows keep their own team, which "
                                 "differs from their agent's team in the roster", False))
    for table, noun, in_month in units:
        total = _size(in_month)
        for level in COVERAGE_LEVELS[:2] if table == "qa" else COVERAGE_LEVELS:
            missing = total if level not in in_month else _size(in_month,
                                                                in_month[level].isna())
            if missing == 0:
                continue
            share = missing / total
            rep.coverage.append((f"{missing:,} of {total:,} {noun} in {month} have no {level}"
                                 + ("" if level in in_month else " (no source maps it)"),
                                 share > settings.max_share_without_member))


def _units_in_period(ds, place: _Place) -> list[tuple[str, str, Any]]:
    """(table, noun, rows) of the reported period for each row table that has some, each
    table's rows placed once: contacts, survey answers, and QA evaluations (QA rows are
    items: one row per evaluation)."""
    out = []
    for table in ("contacts", "surveys", "qa"):
        df = ds.tables.get(table)
        if df is None or "period" not in df:
            continue
        labels = place.labels(df, table)
        if labels is None:
            continue
        rows = df[(labels == place.period.label).to_numpy()]
        if table == "qa" and "evaluation" in rows:
            rows = rows.drop_duplicates("evaluation")
            if "_n" in rows:       # counted in place: an evaluation counts once
                rows = rows.assign(_n=1)
        if len(rows):
            out.append((table, "evaluations" if table == "qa" else table, rows))
    return out


def _dimension_coverage(place: _Place, units, dimensions: tuple[str, ...],
                        settings: GuardSettings, rep: GuardReport) -> None:
    """Per declared dimension, how many of the period's contacts (and surveys, QA
    evaluations, when there are some) have no member: "120 of 6,000 contacts in 2026-10
    have no topic". Informational: those rows are reported as ``(no topic)`` and counted
    everywhere else; flagged (never refused) above ``max_share_without_member``."""
    where = in_words(place.period)
    for dim in dimensions:
        for _table, noun, in_month in units:
            total = _size(in_month)
            mapped = dim in in_month and in_month[dim].notna().any()
            missing = total if dim not in in_month else _size(in_month, in_month[dim].isna())
            if missing == 0:
                line = f"every one of the {total:,} {noun} in {where} has a {dim}"
            else:
                line = (f"{missing:,} of {total:,} {noun} in {where} have no {dim}"
                        + ("" if mapped else " (no source maps it)"))
            rep.coverage.append((line, missing / total > settings.max_share_without_member))
