"""What the balanced scorecard shows: perspectives, their KPIs, weights and worst cases.

The KPI score is the NICE / BSC Designer convention: the actual value placed between a
worst case (score 0) and the target (score 1), clamped to 0–1, so "lower is better" KPIs
need no special case (their worst case is above their target)::

    score = min(1, max(0, (actual − worst) / (target − worst)))

Perspective score = Σ weight × score / Σ weight over the KPIs that have a value; the
overall index weights the perspective scores the same way. Weights within a perspective,
and the perspectives' weights, each sum to 100. The workbook writes this as live formulas
(``templates/balanced-scorecard.xlsx``); :func:`kpi_score` is the same rule for the
13-month history, and a test holds the two equal.

The defaults below are starting values for a mid-size centre, to be set in the config's
``[scorecard]`` section; the targets are the catalog's unless a line gives one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..catalog import CATALOG


@dataclass(frozen=True)
class Line:
    kpi: str
    weight: float
    worst: float
    target: float | None = None        # None: the catalog's (or the config's) target


@dataclass(frozen=True)
class Perspective:
    name: str
    weight: float
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Layout:
    perspectives: tuple[Perspective, ...]
    near_target: float = 0.8            # score from which an off-target KPI is amber
    problems: list = field(default_factory=list, compare=False)

    def validate(self) -> list[str]:
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
                t = x.target if x.target is not None else CATALOG[x.kpi].target
                if t is None:
                    out.append(f"scorecard, {p.name}: {x.kpi} needs a target (the catalog "
                               "has none for it)")
                elif t == x.worst:
                    out.append(f"scorecard, {p.name}: {x.kpi}'s worst case equals its "
                               "target; the score needs them apart")
        if not 0 < self.near_target < 1:
            out.append("scorecard: near_target must be between 0 and 1")
        return out


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
        Line("csat", 30, 0.5), Line("nps", 30, -20.0), Line("ces", 15, 3.5),
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
