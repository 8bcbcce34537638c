"""The batch engine: periods × levels × KPIs over canonical tables (generated SQL, run on
embedded DuckDB, PostgreSQL or Spark)."""

from ..periods import months_back
from .bindings import BINDINGS, NOT_IN_ENGINE
from .backends import Backend, BackendError, DuckDBBackend, PostgresBackend, SparkBackend, connect
from .engine import Engine, Prepared, Statement, compute, results_from_wide
from .plan import KpiChoice
from .quantiles import QuantilePolicy
from .queries import LEVELS, Grouping
from .results import PAIR, Results, read_results_json

__all__ = ["BINDINGS", "NOT_IN_ENGINE", "LEVELS", "PAIR", "Backend", "BackendError",
           "DuckDBBackend", "Engine", "Grouping", "KpiChoice", "PostgresBackend", "Prepared",
           "QuantilePolicy", "Results", "SparkBackend", "Statement", "compute", "connect",
           "months_back", "read_results_json", "results_from_wide"]
