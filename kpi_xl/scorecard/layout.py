"""What the balanced scorecard shows: perspectives, their KPIs, weights and worst cases.

The KPI score is the NICE / BSC Designer convention: the actual value placed between a
worst case (score 0) and the target (score 1), clamped to 0–1, so "lower is better" KPIs
need no special case (their worst case is above their target)::

    score = min(1, max(0, (actual − worst) / (target − worst)))

Perspective score = Σ weight × score / Σ weight over the KPIs that have a value, provided
those KPIs carry at least ``min_coverage`` (default half) of the perspective's weight;
otherwise the perspective has no score for that month ("no data" when none of its KPIs has
a value, "too little data" otherwise), so that a month with one KPI out of many is never
scored on that one. The overall index weights the perspective scores the same way, under
the same coverage rule, and names the perspectives it leaves out. Weights within a
perspective, and the perspectives' weights, each sum to 100. The workbook writes this rule
as live formulas (``templates/balanced-scorecard.xlsx``, built by
``scripts/make_templates.py``); :func:`kpi_score` and :func:`weighted` restate it for the
13-month history, deliberately, and tests hold the two equal (tests/test_scorecard.py,
tests/test_scorecard_history.py, recalculated by LibreOffice).

Worst cases and targets are in the unit of the KPI's *chosen variant* (CSAT's ``mean``
is a score on the 1–5 scale, its ``top2box`` a share where 0.8 means 80 %):
:meth:`Layout.validate` checks them against it.

The defaults below are starting values for a mid-size centre, to be set in the config's
``[scorecard]`` section; the targets are the catalog's unless a line gives one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..catalog import CATALOG
from ..catalog.rules import value_range
from ..catalog.format import format_value


@dataclass(frozen=True)
class Line:
    kpi: str
    weight: float
    worst: float
    target: float | None = None        # None: the config's target, else the variant's
    #: worst cases for other variants of the KPI, in their units (the shipped layout's
    #: defaults: CSAT's ``mean`` is on a 1–5 scale, not a share)
    worst_by_variant: Mapping[str, float] = field(default_factory=dict)

    def worst_for(self, variant: str | None) -> float:
        return self.worst_by_variant.get(variant or "", self.worst)


@dataclass(frozen=True)
class Perspective:
    name: str
    weight: float
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Layout:
    perspectives: tuple[Perspective, ...]
    near_target: float = 0.8            # score from which an off-target KPI is amber
    min_coverage: float = 0.5           # share of the weight that must have data to score
    problems: list = field(default_factory=list, compare=False)

    def validate(self, choices: Mapping[str, Any] | None = None) -> list[str]:
        """Problems with the layout, for the KPIs' chosen variants (``choices``: KPI key ->
        an object with ``variant`` and ``target``, as the config's [kpis.X] tables give)."""
        choices = choices or {}
        out = []
        total = sum(p.weight for p in self.perspectives)
        if abs(total - 100) > 1e-9:
            out.append(f"scorecard: the perspectives' weights sum to {total:g}, not 100")
        for p in self.perspectives:
            s = sum(x.weight for x in p.lines)
            if abs(s - 100) > 1e-9:
                out.append(f"scorecard, {p.name}: the KPI weights sum to {s:g}, not 100")
            for x in p.lines:
                if x.kpi not in CATALOG:
                    out.append(f"scorecard, {p.name}: {x.kpi!r} is not a KPI")
                    continue
                out.extend(_check_line(p.name, x, choices.get(x.kpi)))
        if not 0 < self.near_target < 1:
            out.append("scorecard: near_target must be between 0 and 1")
        if not 0 < self.min_coverage <= 1:
            out.append("scorecard: min_coverage must be above 0 and at most 1 (0.5: half of "
                       "the weight must have data)")
        return out


def _check_line(perspective: str, x: Line, choice) -> list[str]:
    """One line's worst case and target against its KPI's chosen variant."""
    kpi = CATALOG[x.kpi]
    chosen = getattr(choice, "variant", None)
    try:
        variant = kpi.variant(chosen)
    except ValueError:                   # an unknown variant: the [kpis] check names it
        return []
    where = f"scorecard, {perspective}: {x.kpi}"
    if len(kpi.variants) > 1:
        where += f" (variant {variant.name})"
    worst = x.worst_for(variant.name)
    config_target = getattr(choice, "target", None)
    if config_target is not None and (isinstance(config_target, bool)
                                      or not isinstance(config_target, (int, float))):
        return []                        # not a number: the [kpis] check names it
    t = x.target if x.target is not None else (
        config_target if config_target is not None else kpi.target_of(variant))
    if t is None:
        return [f"{where} needs a target (the catalog has none for it): give target = ..."]
    out = []
    unit = kpi.unit_of(variant)
    fmt = kpi.format_of(variant)
    values = [("worst case", worst)] + ([("target", x.target)] if x.target is not None else [])
    rng = value_range(kpi, variant, getattr(choice, "params", None) or {})
    if rng is not None:                  # the catalog's rule, as for [kpis] targets
        lo, hi, what = rng
        for name, v in values:
            if (lo is None or v >= lo) and (hi is None or v <= hi):
                continue
            if unit == "percent" and hi is not None and hi < v <= 100 * hi:
                out.append(f"{where}: the {name} {v:g} looks like a whole-number "
                           f"percentage; write it as a fraction: {v / 100:g} means {v:g} %")
            else:
                span = f"from {lo:g} to {hi:g}" if hi is not None else f">= {lo:g}"
                out.append(f"{where}: the {name} {v:g} must be {span} ({what})")
    if out:
        return out
    if t == worst:
        return [f"{where}'s worst case equals its target; the score needs them apart"]
    direction = kpi.direction_of(variant)
    if direction == "higher" and worst > t:
        out.append(f"{where}: higher is better, so the worst case "
                   f"({format_value(worst, fmt)}) must be below the target "
                   f"({format_value(t, fmt)})")
    elif direction == "lower" and worst < t:
        out.append(f"{where}: lower is better, so the worst case "
                   f"({format_value(worst, fmt)}) must be above the target "
                   f"({format_value(t, fmt)})")
    return out


def weighted(pairs, min_coverage: float) -> float | None:
    """Σ w·s / Σ w over the (weight, score) pairs that have a score, when those carry at
    least ``min_coverage`` of the total weight; else None (the workbook's rule)."""
    total = sum(w for w, _ in pairs)
    have = [(w, s) for w, s in pairs if s is not None]
    covered = sum(w for w, _ in have)
    if not have or not covered or covered < min_coverage * total:
        return None
    return sum(w * s for w, s in have) / covered


def kpi_score(actual: float | None, worst: float, target: float) -> float | None:
    """The scorecard's KPI score (see the module's docstring)."""
    if actual is None or actual != actual:
        return None
    return min(1.0, max(0.0, (actual - worst) / (target - worst)))


DEFAULT = Layout((
    Perspective("Financial", 20, (
        Line("nrr", 40, 0.9), Line("grr", 30, 0.8),
        Line("cost_per_contact", 30, 12.0, target=6.0))),
    Perspective("Customer", 30, (
        Line("csat", 30, 0.5, worst_by_variant={"mean": 3.0}), Line("nps", 30, -20.0),
        Line("ces", 15, 3.5, worst_by_variant={"effort5": 4.0, "easy_share": 0.5}),
        Line("fcr", 25, 0.5))),
    Perspective("Internal process", 30, (
        Line("service_level", 25, 0.5), Line("asa", 15, 120.0),
        Line("abandonment_rate", 20, 0.15), Line("aht", 15, 600.0),
        Line("first_response_time", 15, 24.0), Line("sla_compliance", 10, 0.6))),
    Perspective("Learning and growth", 20, (
        Line("qa_score", 60, 0.6), Line("agent_turnover", 40, 0.6))),
))

#: The operational KPIs on each agent's QA sheet, against the team's average and target.
AGENT_KPIS = ("aht", "fcr", "csat", "first_response_time", "ticket_volume", "transfer_rate")


#: the number format of a score (KPI, perspective) on the scorecard sheet
SCORE_FORMAT = "0%"


def score_status(score: float | None, near_target: float, some_value: bool = False) -> str:
    """A score's status as the scorecard sheet writes it (its perspective rows:
    ``IF(H>=1,"on target",IF(H>=near,"near target","off target"))``, and "too little
    data" or "no data" without a score). Restated for the message, deliberately;
    tests/test_mail_message.py holds it equal to the workbook's cached cells."""
    if score is None:
        return "too little data" if some_value else "no data"
    return "on target" if score >= 1 else "near target" if score >= near_target else "off target"
