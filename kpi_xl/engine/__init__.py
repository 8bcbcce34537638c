"""The batch engine: months × levels × KPIs over canonical tables (DuckDB, generated SQL)."""

from .bindings import BINDINGS, NOT_IN_ENGINE
from .engine import LEVELS, Engine, KpiChoice, Results, compute, months_back

__all__ = ["BINDINGS", "NOT_IN_ENGINE", "LEVELS", "Engine", "KpiChoice", "Results", "compute",
           "months_back"]
