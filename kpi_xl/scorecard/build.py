"""The period's workbooks, from the engine's results and the QA evaluations.

``write_month`` writes into ``<out>/<label>/`` (``2026-10``, or any period's label:
``2026-W44``, ``2026-Q3``...):

* ``balanced-scorecard-<label>.xlsx``: the organisation's balanced scorecard, its history
  following the period's grain (13 months, 13 weeks, 5 quarters);
* ``qa-<team>-<label>.xlsx``: per team, a Team sheet (agents ranked, evaluator
  calibration) and one sheet per agent (rubric scores, operational KPIs, coaching notes),
  from the evaluations dated in the period.

Every value comes from the engine's tidy results or from the loaded QA rows; the
templates' formulas (scores, statuses, sums) stay live, and their values are cached so
that previews show numbers. The same inputs give the same bytes.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from ..catalog import CATALOG
from ..catalog.change import DEFAULT_LEVEL
from ..changes import between, spike_of, wording
from ..engine.results import Results
from ..periods import Period
from ..progress import Meter
from .cached import load_as_stored, save_with_values
from ..files import Claims, replacing
from .layout import AGENT_KPIS, DEFAULT, Layout, kpi_score, weighted
from ..text import cell_text, printable, shown_text
from ..names import SheetTitles, distinct_stems, inside
from .dimensions import dimension_contexts, scorecard_book
from .streamed import save_filled
from .template import TemplateError

#: the shipped templates, inside the package (importlib.resources: they install with it)
TEMPLATES = Path(str(resources.files("kpi_xl") / "templates"))
SPARK = "▁▂▃▄▅▆▇█"


def period_words(results: Results) -> dict[str, Any]:
    """What the templates say about the period: its title (``month_label``, the name
    kept), its noun ('month', 'week'...) and the history's span ('13 months')."""
    p = results.period
    n = len(results.periods)
    return {"month_label": p.title(), "period_title": p.title(), "noun": p.noun,
            "span": f"{n} {p.noun}{'s' if n != 1 else ''}"}


def heading(period: Period) -> str:
    """A history row's heading: a month by its label (2026-10), as it always was; other
    grains by their short form (W44, Q3 26)."""
    return period.label if period.grain == "month" else period.short()


def sparkline(values: list[float | None]) -> str:
    """Thirteen months as block characters (· where a month has no value)."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            k = 0 if hi == lo else round((v - lo) / (hi - lo) * (len(SPARK) - 1))
            out.append(SPARK[k])
    return "".join(out)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _texts(column) -> list[str]:
    """A column's values as text, as ``astype(str)`` writes them (a missing value as
    'nan'), through the categories of a categorical column (each text made once)."""
    if hasattr(column, "cat"):
        cats = [str(c) for c in column.cat.categories.tolist()] + ["nan"]
        return [cats[k] for k in column.cat.codes.tolist()]      # code -1: missing
    return [str(v) for v in column.tolist()]


_LOOKUP: list = [None]          # (weak reference to the results, their _Lookup)


@dataclass
class _Lookup:
    """Fast access to the tidy results by (kpi, level, key, period), and the variant each
    KPI was computed with (its unit, number format and direction are the variant's).

    The rows of one (period, level) are indexed the first time one of them is asked for,
    by (kpi, key) to their position; a row's figures stay in the results' own columns and
    :meth:`get` makes its dict when asked. Holding a dict per row for every row made this
    lookup the largest thing a big centre's workbooks kept (+70 MB at 500 agents, 112,573
    rows), though they read only the period's rows and the organisation's history, never
    an agent's history (12 of every 13 agent rows)."""
    texts: tuple                    # kpi, key per row (text, as astype(str) gives)
    slices: dict                    # (period, level) -> positions of its rows
    variants: dict
    columns: tuple = ()
    rows: dict = None

    @classmethod
    def of(cls, results: Results) -> "_Lookup":
        """The lookup of ``results``, made once (the scorecard, the QA workbooks and the
        By sheets all read the same results)."""
        import numpy as np

        last = _LOOKUP[0]
        if last is not None and last[0]() is results:
            return last[1]
        t = results.table
        kpis = _texts(t["kpi"])
        codes: dict = {}
        pairs = np.fromiter((codes.setdefault(pl, len(codes)) for pl in
                             zip(_texts(t["period"]), _texts(t["level"]), strict=True)),
                            np.intp, len(t))
        order = np.argsort(pairs, kind="stable")        # each (period, level)'s rows, in order
        bounds = np.searchsorted(pairs[order], np.arange(len(codes) + 1))
        slices = {pl: order[bounds[c]:bounds[c + 1]] for pl, c in codes.items()}
        columns = tuple(t[c].to_numpy() for c in ("value", "n", "target", "low_sample",
                                                    "note", "margin"))
        variants = {}
        if len(t):
            pairs_kv = dict.fromkeys(zip(kpis, _texts(t["variant"]), strict=True))
            variants = dict(pairs_kv.keys())       # each distinct pair in order, the last wins
        out = cls((kpis, _texts(t["key"])), slices, variants, columns, {})
        _LOOKUP[0] = (weakref.ref(results), out)
        return out

    def get(self, kpi, level, key, period) -> dict | None:
        rows = self.rows.get((period, level))
        if rows is None:
            kpis, keys = self.texts
            at = self.slices.get((period, level))
            at = [] if at is None else at.tolist()
            # in table order: of two rows with the same key, the last wins (as before)
            rows = self.rows[(period, level)] = {(kpis[i], keys[i]): i for i in at}
        i = rows.get((kpi, key))
        if i is None:
            return None
        value, n, target, low, note, margin = self.columns
        return {"value": _clean(float(value[i])), "n": _clean(float(n[i])),
                "target": _clean(float(target[i])), "low": bool(low[i]),
                # results read back from JSON hold NaN (pandas 3: astype(str) keeps it)
                "note": note[i] if isinstance(note[i], str) else "",
                "margin": _clean(float(margin[i]))}

    def variant(self, kpi: str):
        """The variant the results were computed with (the default where there are none)."""
        k = CATALOG[kpi]
        name = self.variants.get(kpi)
        return k.variant(name) if name in k.variant_names else k.default_variant


# ------------------------------------------------------------------ scorecard
def scorecard_context(results: Results, centre: str, layout: Layout = DEFAULT,
                      partial: str | None = None, level: float = DEFAULT_LEVEL) -> dict:
    """What the balanced scorecard shows. Each KPI's note says how it changed since the
    period before, better or worse and whether by more than chance at ``level``
    ([report] significance; kpi_xl.changes), next to the Change column."""
    look = _Lookup.of(results)
    month = results.month
    periods = results.periods
    prev = periods[-2] if len(periods) > 1 else None
    cover = layout.min_coverage
    perspectives = []
    history_scores: list[list[float | None]] = []
    history_empty: list[list[bool]] = []        # per perspective: no KPI value that month
    for p in layout.perspectives:
        lines = []
        per_period = {per: [] for per in periods}
        for line in p.lines:
            kpi = CATALOG[line.kpi]
            variant = look.variant(line.kpi)
            worst = line.worst_for(variant.name)
            cur = look.get(line.kpi, "organisation", "all", month) or {}
            target = line.target if line.target is not None else (
                cur.get("target") if cur.get("target") is not None else kpi.target_of(variant))
            series = [(look.get(line.kpi, "organisation", "all", per) or {}).get("value")
                      for per in periods]
            for per, v in zip(periods, series, strict=True):
                per_period[per].append((line.weight, kpi_score(v, worst, target)))
            note = cur.get("note") or ""
            if not cur:
                note = results.skipped.get(line.kpi, "no data for this month")
            elif cur.get("low"):
                note = (note + "; " if note else "") + f"low sample (n = {cur.get('n'):g})"
            before = look.get(line.kpi, "organisation", "all", prev) if prev else None
            change = between(line.kpi, {**before, "variant": variant.name},
                             {**cur, "variant": variant.name},
                             before_days=results.history[-2].days,
                             after_days=results.history[-1].days, level=level) \
                if before and cur else None
            if change is not None and change.direction != "unchanged":
                note = (note + "; " if note else "") + "change: " + wording(change)
            jump = spike_of(line.kpi, series, variant.name, results.period.noun)
            if jump is not None:
                note = (note + "; " if note else "") + jump["wording"]
            lines.append({
                "key": line.kpi, "title": kpi.title, "weight": line.weight,
                "worst": worst, "target": target, "actual": cur.get("value"),
                "previous": (look.get(line.kpi, "organisation", "all", prev) or {}).get("value")
                if prev else None,
                "n": cur.get("n"), "trend": sparkline(series), "note": note,
                "variant": variant.name, "unit": kpi.unit_of(variant),
                "direction": kpi.direction_of(variant),
                "number_format": kpi.format_of(variant)})
        perspectives.append({"name": p.name, "weight": p.weight, "kpis": lines})
        history_scores.append([weighted(per_period[per], cover) for per in periods])
        history_empty.append([all(s is None for _w, s in per_period[per]) for per in periods])
    history = []
    names = [p.name for p in layout.perspectives]
    for i, per in enumerate(periods):
        scores = [h[i] for h in history_scores]
        overall = weighted([(p.weight, s) for p, s in zip(layout.perspectives, scores,
                                                          strict=True)], cover)
        empty = all(h[i] for h in history_empty)
        history.append({"month": per, "heading": heading(results.history[i]),
                        "title": results.history[i].title(), "scores": scores,
                        "overall": overall, "left_out": left_out(names, scores, overall, empty)})
    return {"centre": centre, "month": month, **period_words(results),
            "near_target": layout.near_target, "min_coverage": cover,
            "perspectives": perspectives, "history": history,
            "partial": partial_banner(partial),
            "dimensions": []}        # the By sheets' (write_month: dimension_contexts)


def left_out(names: list[str], scores: list[float | None], overall: float | None,
             empty: bool = False) -> str:
    """What the index of a month says about the perspectives without a score (the
    workbook's formula next to the index says the same for the month); ``empty``: no KPI
    of any perspective has a value."""
    missing = [n for n, s in zip(names, scores, strict=True) if s is None]
    if not missing:
        return ""
    if empty:
        return "no data"
    if overall is None:
        return "too little data for an index"
    return "leaves out " + ", ".join(missing)


def partial_banner(note: str | None) -> str | None:
    """The title-area line of a workbook made from partial data (None: complete data)."""
    if not note:
        return None
    note = " ".join(str(note).split())
    return note if note.lower().startswith("partial data") else f"partial data: {note}"


# ------------------------------------------------------------------ QA
def qa_contexts(results: Results, qa, centre: str, *, max_score: float = 1.0,
                roster=None, rubric=(), partial: str | None = None) -> dict[str, dict]:
    """One context per team: its agents' evaluations, item scores and KPIs."""
    from ..render.arrays import compute

    look = _Lookup.of(results)
    month = results.month
    qa_target = CATALOG["qa_score"].target_of(look.variant("qa_score"))
    cur = look.get("qa_score", "organisation", "all", month)
    if cur and cur.get("target") is not None:
        qa_target = cur["target"]
    rows = _in_period(qa, results.period) if qa is not None and len(qa) else None
    teams: dict[str, set] = {}
    if rows is not None:
        for agent, team in zip(rows["agent"], rows.get("team", [None] * len(rows)), strict=True):
            teams.setdefault(team if isinstance(team, str) else "(no team)", set()).add(agent)
    if roster is not None:
        for agent, team in zip(roster["agent"], roster["team"], strict=True):
            teams.setdefault(team, set()).add(agent)
    order = {c: k for k, c in reversed(list(enumerate(r.criterion for r in rubric)))}
    by_agent = _evaluations_by_agent(rows)
    out = {}
    for team in sorted(teams):
        agents_ctx, evaluations, evaluators = [], [], set()
        # each agent's sheet name: valid and unique (the sheet loop makes the titles, and
        # keeps any formula naming an agent's sheet on it; these are its names already)
        taken = SheetTitles({"Team"})
        active: dict[str, int] = {}                # count KPIs: the team's agents with a value
        for agent in sorted(teams[team]):
            evals, items = [], []
            title = taken.add(printable(agent))
            for eid, ev in by_agent.get(agent, ()):
                # the rubric's order (criteria not in it after, in their rows' order)
                ev = sorted(ev, key=lambda r: order.get(r["criterion"], len(order)))
                scores = ["N/A" if r["score"] != r["score"] else float(r["score"]) for r in ev]
                try:
                    score = compute("qa_score", weights=[r["weight"] for r in ev],
                                    scores=scores, fatal=[r["fatal"] for r in ev],
                                    max_score=max_score).value
                except ValueError:
                    score = None
                evaluator = _first(ev, "evaluator")
                date = _earliest([r["date"] for r in ev])
                date = date.to_pydatetime() if hasattr(date, "to_pydatetime") else date
                evals.append({"id": eid, "date": date, "evaluator": evaluator,
                              "contact": _first(ev, "contact_id"), "score": score})
                # where its QA score is on the agent's sheet (the Team sheet reads it there,
                # so a score corrected on that sheet moves the team's figures too)
                evaluations.append({"id": eid, "agent": agent, "evaluator": evaluator,
                                    "score": score, "date": date, "sheet": title,
                                    "index": len(evals) - 1})
                if evaluator:
                    evaluators.add(evaluator)
                for r, shown in zip(ev, scores, strict=True):
                    items.append({
                        "evaluation": eid, "section": r.get("section") or "",
                        "criterion": r["criterion"], "weight": float(r["weight"]),
                        "fatal": 1 if r.get("fatal", 0) == 1 else 0,
                        "score": shown, "comment": r.get("comment") or ""})
            kpis = []
            for key in AGENT_KPIS:
                kpi = CATALOG[key]
                variant = look.variant(key)
                a = look.get(key, "agent", agent, month) or {}
                t = look.get(key, "team", team, month) or {}
                team_value = t.get("value")
                if kpi.unit_of(variant) == "count" and team_value is not None:
                    # a count's team figure is a total: the team average is per agent
                    if key not in active:
                        per = [look.get(key, "agent", other, month) for other in teams[team]]
                        active[key] = sum(1 for x in per if x and x.get("value") is not None)
                    team_value = team_value / active[key] if active[key] else None
                kpis.append({"title": kpi.title, "agent": a.get("value"), "team": team_value,
                             "target": a.get("target", t.get("target", kpi.target_of(variant))),
                             "n": a.get("n"), "number_format": kpi.format_of(variant),
                             "direction": kpi.direction_of(variant)})
            agents_ctx.append({"name": agent, "sheet": title, "evaluations": evals,
                               "item_scores": items, "kpis": kpis})
        # the Team sheet ranks them: by the engine's QA score, best first, ties by name,
        # agents without a scored evaluation last
        def by_score(a):
            v = (look.get("qa_score", "agent", a["name"], month) or {}).get("value")
            return (v is None, -(v if v is not None else 0), a["name"])
        agents_ctx.sort(key=by_score)
        sections = list(dict.fromkeys(
            [r.section for r in rubric if r.section] +
            [i["section"] for a in agents_ctx for i in a["item_scores"] if i["section"]]))
        out[team] = {"centre": centre, "team": team, "month": month,
                     **period_words(results),
                     "max_score": int(max_score) if float(max_score).is_integer() else max_score,
                     "qa_target": qa_target, "agents": agents_ctx,
                     # the rule in the catalog's words, for the item table's note
                     "qa_rule": CATALOG["qa_score"].description,
                     "evaluations": sorted(evaluations, key=lambda e: (e["date"], e["id"])),
                     "evaluators": [{"name": e} for e in sorted(evaluators)],
                     "sections": sections, "partial": partial_banner(partial)}
    return out


def _in_period(qa, period: Period):
    """The QA rows of the period: a month's by the loader's ``period`` column (as it
    always was), another grain's by each evaluation's ``date``."""
    if period.grain == "month":
        return qa[qa["period"] == period.label]
    import pandas as pd

    if "date" not in qa:
        return qa.iloc[0:0]
    d = pd.to_datetime(qa["date"], errors="coerce")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_localize(None)
    return qa[((d >= pd.Timestamp(period.start)) & (d < pd.Timestamp(period.end))).to_numpy()]


#: the QA rows' columns that :func:`qa_contexts` reads
_QA_READ = frozenset({"evaluation", "agent", "team", "evaluator", "contact_id", "date",
                      "section", "criterion", "weight", "fatal", "score", "comment"})


def _evaluations_by_agent(rows) -> dict[str, list[tuple[Any, list[dict]]]]:
    """The QA rows grouped once (not filtered once per agent): agent -> [(evaluation id,
    its rows in their order)], the evaluations in id order; rows without an evaluation
    id are left out, as pandas' groupby leaves them."""
    if rows is None or not len(rows):
        return {}
    groups: dict[Any, dict[Any, list[dict]]] = {}
    # only the columns the contexts read (a dict per row: the loader's bookkeeping
    # columns, period, queue and topic were a third of it)
    rows = rows[[c for c in rows.columns if c in _QA_READ]]
    for r in rows.to_dict("records"):
        eid = r["evaluation"]
        if eid is None or eid != eid:
            continue
        groups.setdefault(r["agent"], {}).setdefault(eid, []).append(r)
    return {agent: sorted(evs.items(), key=lambda kv: kv[0]) for agent, evs in groups.items()}


def _earliest(dates: list):
    """The earliest date, missing ones skipped (NaT when none is there), as pandas' min."""
    import pandas as pd

    known = [d for d in dates if not pd.isna(d)]
    return min(known) if known else pd.NaT


def _first(rows: list[dict], column: str):
    """The first value of ``column`` in the rows that is there (None: no such column or
    no value)."""
    for r in rows:
        if column not in r:
            return None
        v = r[column]
        if v is not None and v == v:
            return v
    return None


# ------------------------------------------------------------------ writing
def copy_templates(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped templates (the two workbooks and the message templates) into
    ``folder``, to restyle and name in ``[scorecard] templates``. Existing files are kept
    unless ``force``; returns the files written."""
    import shutil

    folder = Path(folder)
    written = []
    for src in sorted(TEMPLATES.rglob("*")):
        if not src.is_file():
            continue
        dst = folder / src.relative_to(TEMPLATES)
        if dst.exists() and not force:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    return written


def write_month(results: Results, tables: Mapping[str, Any], out: str | Path, *,
                centre: str = "Contact centre", layout: Layout = DEFAULT,
                max_score: float = 1.0, rubric=(), templates: str | Path = TEMPLATES,
                partial: str | None = None, dimensions=(),
                significance: float = DEFAULT_LEVEL,
                progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the month's scorecard and QA workbooks; return their paths.

    ``partial``: a note saying the month's data is incomplete (``partial data: contacts
    has 1,200 rows in 2026-10, usually 8,400``), shown in every sheet's title area (the
    templates' ``{{ partial }}`` cell); a template that would not show it is refused.
    ``dimensions``: the config's (kpi_xl.dimensions.Dimension); each with ``sheet`` gets a
    "By <title>" sheet in the scorecard (kpi_xl.scorecard.dimensions). ``significance``:
    the confidence at which a KPI's note calls its change larger than chance.
    ``progress(message)`` hears how far the QA workbooks are, in agent sheets, with the
    pace and the time left (kpi_xl.progress.Meter), on a big centre's long step."""
    period = results.period                           # refuses a label that is no period
    inside(out, period.label)                         # and one that is no folder name
    folder = Path(out) / results.month
    folder.mkdir(parents=True, exist_ok=True)
    books = []
    stamp = f"{period.end.isoformat()}T00:00:00Z"     # 'as of' the period's end
    ctx = scorecard_context(results, centre, layout, partial, significance)
    ctx["dimensions"] = dimension_contexts(results, ctx, dimensions)
    claims = Claims()                                 # one output, once, per run
    target = claims.claim(inside(folder, f"balanced-scorecard-{results.month}.xlsx"))
    with replacing(target) as tmp:                    # whole files only (kpi_xl/files.py)
        book = scorecard_book(Path(templates) / "balanced-scorecard.xlsx",
                              TEMPLATES / "balanced-scorecard.xlsx", ctx)
        save_with_values(_shown(book, ctx["partial"], "balanced-scorecard.xlsx"), tmp, stamp,
                         release=True)
    books.append(target)
    qa = tables.get("qa")
    teams = {team: tctx for team, tctx in qa_contexts(
        results, qa, centre, max_score=max_score, roster=tables.get("roster"),
        rubric=rubric, partial=partial).items() if tctx["agents"]}
    stems = distinct_stems(teams)                     # a/b and a-b: two files
    meter = Meter("writing the QA workbooks", progress,
                  total=sum(len(t["agents"]) for t in teams.values()), unit="agent sheets")

    def written() -> None:
        meter.update(meter.count + 1)

    for team, tctx in teams.items():
        target = claims.claim(inside(folder, f"qa-{stems[team]}-{results.month}.xlsx"),
                              f"team {team!r}")
        banner = tctx["partial"]
        with replacing(target) as tmp:               # one agent sheet in memory at a time
            save_filled(Path(templates) / "agent-qa.xlsx", tctx, tmp, stamp,
                        check=(lambda ws, b=banner: _sheet_shows(ws, b, "agent-qa.xlsx"))
                        if banner else None, written=written)
        books.append(target)
    if meter.last is not None:                    # a step long enough to have said so
        meter.finish(meter.total, f" ({len(teams):,} workbook{'s' if len(teams) != 1 else ''})")
    return books


def _shown(workbook, banner: str | None, template: str):
    """The workbook, after checking that every sheet shows the partial-data banner in
    its first rows (a restyled template without ``{{ partial }}`` would hide it)."""
    if banner:
        for ws in workbook.worksheets:
            _sheet_shows(ws, banner, template)
    return workbook


def _sheet_shows(ws, banner: str, template: str) -> None:
    """Refuse a sheet that does not show the partial-data banner in its first rows."""
    if not any(isinstance(c.value, str) and banner in shown_text(c.value)
               for row in ws.iter_rows(min_row=1, max_row=6) for c in row):
        raise TemplateError(
            f"template {template}, sheet '{ws.title}': the data is partial but the "
            "sheet does not say so; add a cell with {{ partial }} to its first rows "
            "(README, Editing the templates)")


def agent_workbook(team_file: str | Path, agent: str, out: str | Path) -> Path:
    """The team's QA workbook cut down to one agent's sheet (for that agent alone): every
    other sheet, the Team summary included, is removed; the values are re-cached."""
    wb = load_as_stored(team_file)          # its page headers as the team's workbook has them
    mine = [ws for ws in wb.worksheets if isinstance(ws["A1"].value, str)
            and shown_text(ws["A1"].value) == cell_text(f"QA: {agent}")]
    if len(mine) != 1:
        raise ValueError(f"{Path(team_file).name} has no single QA sheet for {agent!r}")
    for ws in list(wb.worksheets):
        if ws is not mine[0]:
            wb.remove(ws)
    for name, dn in list(wb.defined_names.items()):    # names of removed sheets' cells
        if any(sheet != mine[0].title for sheet, _cell in dn.destinations):
            del wb.defined_names[name]
    wb.calculation.fullCalcOnLoad = True
    out = Path(out)
    modified = wb.properties.modified              # the team file's stamp: same bytes again
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%SZ") if modified else None
    with replacing(out) as tmp:
        save_with_values(wb, tmp, stamp)
    return out
