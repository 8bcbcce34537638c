"""A small generated month (2 teams × 4 agents) shared by the scorecard tests."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path


#: the stakeholders of the mail tests: the head of service, a team lead, two agents
STAKEHOLDERS = [
    {"name": "Dana Reyes", "email": "dana@example.com", "role": "Head of service",
     "reports": ["scorecard", "qa-team"]},
    {"name": "Tom Berg", "email": "tom@example.com", "teams": ["Billing"]},
    {"name": "Ana Silva", "email": "ana@example.com", "agent": "Ana Silva"},
    {"name": "Ben Adeyemi", "email": "ben@example.com", "agent": "Ben Adeyemi"},
]


@lru_cache(maxsize=None)
def month(out: str, threads: int | None = None):
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import write_month

    tables = sample_tables(teams=2, agents_per_team=4, contacts_per_month=1200)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})},
                 threads=threads).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    paths = write_month(res, tables, out, centre="Acme Support", max_score=MAX_SCORE,
                        rubric=rubric)
    return tables, res, [Path(p) for p in paths]


def same_cell(a, b) -> bool:
    """A recalculated cell equals its cached value: blanks alike, numbers to 1e-9."""
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)
