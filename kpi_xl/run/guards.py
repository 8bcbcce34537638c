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

import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import KpiXlError

#: the tables whose rows are placed in a month (the roster is not; business rows are
#: one per month, in the ``month`` column)
DATED = ("contacts", "surveys", "qa", "business")
NOUNS = {"contacts": "contact", "surveys": "survey", "qa": "QA", "business": "business-figures"}
#: the levels whose coverage is reported, per table
COVERAGE_LEVELS = ("team", "agent", "channel")


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

    def __init__(self, refusals: list[str]):
        self.refusals = list(refusals)
        super().__init__("the data for the month looks incomplete: " + "; ".join(refusals))


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
    month: str | None
    refusals: list[str] = field(default_factory=list)
    volumes: list[SourceVolume] = field(default_factory=list)
    coverage: list[tuple[str, bool]] = field(default_factory=list)   # (line, above threshold)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def partial_note(self) -> str | None:
        """The note a partial report carries (None when the data passed)."""
        return None if self.ok else "partial data: " + "; ".join(self.refusals)

    def raise_if_refused(self) -> None:
        if self.refusals:
            raise DataRefused(self.refusals)


def _periods(df, table: str):
    col = "month" if table == "business" else "period"
    return df[col].astype(str) if col in df else None


def check(ds, month: str | None, settings: GuardSettings = GuardSettings(),
          history: list[str] | None = None, dimensions: tuple[str, ...] = ()) -> GuardReport:
    """Check a loaded :class:`kpi_xl.data.load.Dataset` for ``month`` (``None``: only the
    rejected shares, as ``validate`` does). ``history`` is the months before ``month``
    that the usual volume is taken over (default: every earlier month in the data).
    ``dimensions``: the config's, each given a coverage line (never a refusal)."""
    rep = GuardReport(month)
    by_source: dict[str, list] = {}            # the rejects report, read once
    for r in ds.rejects.items:
        by_source.setdefault(r.source, []).append(r)
    _rejected_shares(ds, by_source, settings, rep)
    _left_out_shares(ds, by_source, month, settings, rep)
    if month is None:
        return rep
    _rejected_in_month(ds, by_source, month, settings, rep)
    _volumes(ds, month, settings, history, rep)
    _coverage(ds, month, settings, rep)
    _dimension_coverage(ds, month, dimensions, settings, rep)
    return rep


def _most_frequent(reasons: dict[str, int]) -> str:
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return "most frequent: " + "; ".join(f"{n:,} × {why}" for why, n in top)


def _rejected_shares(ds, by_source, settings: GuardSettings, rep: GuardReport) -> None:
    from ..data.rejects import ROW_REJECTED

    for acc in ds.accounting:
        considered = acc.read - acc.excluded
        if considered <= 0 or acc.rejected / considered <= settings.max_rejected_share:
            continue
        reasons: dict[str, int] = {}
        for r in by_source.get(acc.source, ()):
            if r.action == ROW_REJECTED:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        rep.refusals.append(
            f"{acc.file} ({acc.source}) rejects {acc.rejected:,} of its {considered:,} rows "
            f"({acc.rejected / considered:.0%}, more than the {settings.max_rejected_share:.0%} "
            "allowed by [guards] max_rejected_share); " + _most_frequent(reasons))


def _rejected_in_month(ds, by_source, month: str, settings: GuardSettings,
                       rep: GuardReport) -> None:
    """The rejected share among the rows dated in ``month`` (rows whose date could not be
    read are judged over the whole file only): a file of a good year and a bad month
    stays under the whole-file share, while the month loses many of its rows."""
    from ..data.rejects import ROW_REJECTED

    for acc in ds.accounting:
        whole = acc.read - acc.excluded
        if acc.table not in DATED or (whole > 0 and acc.rejected / whole >
                                      settings.max_rejected_share):
            continue                       # refused over the whole file already
        reasons: dict[str, int] = {}
        for r in by_source.get(acc.source, ()):
            if r.action == ROW_REJECTED and r.period == month:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        rejected = sum(reasons.values())
        if not rejected:
            continue
        df = ds.tables.get(acc.table)
        used = 0
        if df is not None and "_source" in df:
            periods = _periods(df, acc.table)
            if periods is not None:
                used = int(((df["_source"] == acc.source).to_numpy()
                            & (periods == month).to_numpy()).sum())
        considered = used + rejected
        if rejected / considered <= settings.max_rejected_share:
            continue
        rep.refusals.append(
            f"{acc.file} ({acc.source}) rejects {rejected:,} of its {considered:,} rows in "
            f"{month} ({rejected / considered:.0%}, more than the "
            f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share); "
            + _most_frequent(reasons))


def _left_out_shares(ds, by_source, month: str | None, settings: GuardSettings,
                     rep: GuardReport) -> None:
    """Per source and KPI: the rows the KPI's input rules leave out (in ``month``, or in
    the whole file), as a share of the source's rows (in the month, or used)."""
    from ..data.rejects import LEFT_OUT, VALUE_IGNORED

    for acc in ds.accounting:
        items = [r for r in by_source.get(acc.source, ()) if
                 r.action == VALUE_IGNORED or (r.kpis and r.action == LEFT_OUT)]
        if not items:
            continue
        df = ds.tables.get(acc.table)
        if df is None or "_source" not in df or "_row" not in df:
            continue
        mine = df[(df["_source"] == acc.source).to_numpy()]
        if month is not None:
            periods = _periods(mine, acc.table)
            if periods is None:
                continue
            mine = mine[(periods == month).to_numpy()]
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
        where = f" in {month}" if month is not None else ""
        for column, bad in sorted(ignored.items()):
            n = len(bad)
            if n / total <= settings.max_rejected_share:
                continue
            rep.refusals.append(
                f"{acc.file} ({acc.source}): {n:,} of its {total:,} rows{where} "
                f"({n / total:.0%}) have their '{column}' value ignored (more than the "
                f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share; "
                "the KPIs that read it would be computed from the rest); "
                + _most_frequent(why["'" + column]))
        for lost_rows, kpis in sorted(groups.items(), key=lambda g: (-len(g[0]), g[1])):
            n = len(lost_rows)
            rep.refusals.append(
                f"{acc.file} ({acc.source}): {n:,} of its {total:,} rows{where} ({n / total:.0%})"
                f" leave {', '.join(sorted(kpis))} by their input rules (more than the "
                f"{settings.max_rejected_share:.0%} allowed by [guards] max_rejected_share; "
                "the rows that stay would give a value of the rest only); "
                + _most_frequent(why[kpis[0]]))


def _volumes(ds, month: str, settings: GuardSettings, history, rep: GuardReport) -> None:
    for acc in ds.accounting:
        if acc.table not in DATED:
            continue
        df = ds.tables.get(acc.table)
        counts: dict[str, int] = {}
        if df is not None and "_source" in df:
            periods = _periods(df, acc.table)
            if periods is None:
                continue
            mine = periods[(df["_source"] == acc.source).to_numpy()]
            counts = {str(k): int(v) for k, v in mine.value_counts().items()}
        rows = counts.get(month, 0)
        earlier = [counts[p] for p in (history if history is not None else sorted(counts))
                   if p < month and counts.get(p, 0) > 0]
        usual = float(statistics.median(earlier)) if earlier else None
        rep.volumes.append(SourceVolume(acc.source, acc.file, acc.table, rows, usual,
                                        len(earlier)))
        what = NOUNS.get(acc.table, acc.table) + " row"
        if rows == 0:
            rep.refusals.append(
                f"{acc.file} ({acc.source}) has no {what}s in {month}"
                + (f"; it usually has {usual:,.0f}" if usual else
                   " (check --month, or that the export covers it)"))
        elif usual and rows < settings.min_share_of_usual * usual:
            rep.refusals.append(
                f"{acc.file} ({acc.source}) has {rows:,} {what}s in {month}, "
                f"{rows / usual:.0%} of its usual {usual:,.0f} (the median of {len(earlier)} "
                f"earlier month{'s' if len(earlier) != 1 else ''}; [guards] min_share_of_usual "
                f"is {settings.min_share_of_usual:.0%})")


def _coverage(ds, month: str, settings: GuardSettings, rep: GuardReport) -> None:
    for table, fill in getattr(ds, "teams", {}).items():    # where teams came from (all rows)
        rows = fill.own + fill.roster + fill.none
        if fill.roster:
            rep.coverage.append((f"{fill.roster:,} of {rows:,} {table} rows took their team "
                                 "from the roster (their source maps none)", False))
        if fill.unrostered:
            rep.coverage.append((f"{fill.unrostered:,} of {rows:,} {table} rows name an agent "
                                 "who is not in the roster (kept, with their own team or "
                                 "'(no team)'; add them to the roster)",
                                 fill.unrostered / rows > settings.max_share_without_member))
        if fill.differs:
            rep.coverage.append((f"{fill.differs:,} {table} rows keep their own team, which "
                                 "differs from their agent's team in the roster", False))
    for table in ("contacts", "surveys", "qa"):
        df = ds.tables.get(table)
        if df is None or "period" not in df:
            continue
        in_month = df[(df["period"] == month).to_numpy()]
        total = len(in_month)
        if table == "qa" and "evaluation" in in_month:   # QA rows are items: count evaluations
            in_month = in_month.drop_duplicates("evaluation")
            total = len(in_month)
        if total == 0:
            continue
        noun = "evaluations" if table == "qa" else table
        for level in COVERAGE_LEVELS[:2] if table == "qa" else COVERAGE_LEVELS:
            missing = total if level not in in_month else int(in_month[level].isna().sum())
            if missing == 0:
                continue
            share = missing / total
            rep.coverage.append((f"{missing:,} of {total:,} {noun} in {month} have no {level}"
                                 + ("" if level in in_month else " (no source maps it)"),
                                 share > settings.max_share_without_member))


def _dimension_coverage(ds, month: str, dimensions: tuple[str, ...], settings: GuardSettings,
                        rep: GuardReport) -> None:
    """Per declared dimension, how many of the month's contacts (and surveys, QA
    evaluations, when there are some) have no member: "120 of 6,000 contacts in 2026-10
    have no topic". Informational: those rows are reported as ``(no topic)`` and counted
    everywhere else; flagged (never refused) above ``max_share_without_member``."""
    for dim in dimensions:
        for table in ("contacts", "surveys", "qa"):
            df = ds.tables.get(table)
            if df is None or "period" not in df:
                continue
            in_month = df[(df["period"] == month).to_numpy()]
            if table == "qa" and "evaluation" in in_month:
                in_month = in_month.drop_duplicates("evaluation")
            total = len(in_month)
            if total == 0:
                continue
            noun = "evaluations" if table == "qa" else table
            mapped = dim in in_month and in_month[dim].notna().any()
            missing = total if dim not in in_month else int(in_month[dim].isna().sum())
            if missing == 0:
                line = f"every one of the {total:,} {noun} in {month} has a {dim}"
            else:
                line = (f"{missing:,} of {total:,} {noun} in {month} have no {dim}"
                        + ("" if mapped else " (no source maps it)"))
            rep.coverage.append((line, missing / total > settings.max_share_without_member))
