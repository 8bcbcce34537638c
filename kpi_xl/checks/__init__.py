"""Validation against the catalog's input rules, as SQL over the run's tables.

A room of its own, below both users: the loader (:mod:`kpi_xl.data.load`) runs the checks
on its tables and lists the rows that break a rule in the rejects report; the engine
(:mod:`kpi_xl.engine`) leaves those rows out of the KPIs whose rules they break and shows
the same checks (``Engine.check_sql``) for any dialect. :mod:`.sql` renders the rules and
the one-scan check queries (pure Python, any dialect); :mod:`.embedded` runs them on an
embedded DuckDB over the loader's tables.
"""

from .embedded import Checks, survey_sources
from .sql import RowRule, check_sql, kpi_renderer, kpi_rules, scan_sql, table_rules

__all__ = ["Checks", "RowRule", "check_sql", "kpi_renderer", "kpi_rules", "scan_sql",
           "survey_sources", "table_rules"]
