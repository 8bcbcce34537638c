"""The batch engine: periods × levels × KPIs over canonical tables (DuckDB, generated SQL)."""

from ..periods import months_back
from .bindings import BINDINGS, NOT_IN_ENGINE
from .engine import Engine, compute
from .plan import KpiChoice
from .queries import LEVELS, Grouping
from .results import PAIR, Results, read_results_json

__all__ = ["BINDINGS", "NOT_IN_ENGINE", "LEVELS", "PAIR", "Engine", "Grouping", "KpiChoice",
           "Results", "compute", "months_back", "read_results_json"]
