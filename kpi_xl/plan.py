"""What a run computes: each KPI's variant, options, minimum n and targets
(:class:`KpiChoice`), and the plan: which KPIs run on which table, and which are left out,
with the reason a manager is given.

Shared by the loader (which checks the input rules of the KPIs a run computes,
:mod:`kpi_xl.checks`) and the engine (which computes them), so it lives below both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .bindings import BINDINGS, NOT_IN_ENGINE, SUMMED
from .catalog import CATALOG
from .catalog.rules import resolve_params
from .catalog.spec import Kpi, Variant, formula_columns

#: one planned KPI: its declaration, the chosen variant, the resolved options
Item = tuple[Kpi, Variant, dict]


@dataclass(frozen=True)
class KpiChoice:
    """How the run computes one KPI: the variant and options (None: the declaration's
    defaults), the minimum n below which results are flagged, the target, and targets per
    member name (a team, a channel, a queue...)."""
    variant: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    min_n: int | None = None
    target: float | None = None
    targets: Mapping[str, float] = field(default_factory=dict)


#: a table in a manager's words, where its name is not one ("no WFM (adherence export)
#: data was loaded")
TABLE_WORDS = {"wfm": "WFM (adherence export)"}


def source_of(table: str) -> str:
    """The view a binding's table reads: survey answers come from ``survey_rows`` (the
    surveys table and the answers on contact rows, as one)."""
    return "survey_rows" if table == "surveys" else table


def make_plan(keys: Sequence[str], choices: Mapping[str, KpiChoice],
              columns: Mapping[str, set[str]]) -> tuple[dict[str, list[Item]], dict[str, str]]:
    """Which KPIs run on which table (``columns``: the columns each loaded view has),
    with their variant and params; and which are skipped, with the reason."""
    plan: dict[str, list[Item]] = {}
    skipped: dict[str, str] = {}
    for key in keys:
        kpi = CATALOG[key]
        if key not in BINDINGS:
            skipped[key] = NOT_IN_ENGINE.get(key, "not bound to any table")
            continue
        b = BINDINGS[key]
        choice = choices.get(key, KpiChoice())
        variant = kpi.variant(choice.variant)
        params = resolve_params(kpi, variant, dict(choice.params))
        if b.table == "period":
            plan.setdefault("period", []).append((kpi, variant, params))
            continue
        cols = columns.get(source_of(b.table))
        if cols is None:
            skipped[key] = f"no {TABLE_WORDS.get(b.table, b.table)} data was loaded"
            continue
        used = formula_columns(variant.formula)
        missing = [b.inputs[i.name] for i in kpi.column_inputs
                   if i.name in used and not i.optional and b.inputs[i.name] not in cols]
        missing += [b.inputs[i.name] for i in kpi.column_inputs
                    if i.name in used and i.optional and i.default_value is None
                    and b.inputs[i.name] not in cols]
        # a table of totals kept per row (the WFM export): every total the KPI sums
        missing += [c for c in b.inputs.values() if b.table in SUMMED and c not in cols]
        if missing:
            skipped[key] = (f"the {TABLE_WORDS.get(b.table, b.table)} data has no "
                            + " or ".join(f"'{m}'" for m in missing) + " column")
            continue
        plan.setdefault(b.table, []).append((kpi, variant, params))
    return plan, skipped
