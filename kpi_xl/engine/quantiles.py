"""The quantile policy: exact or approximate order statistics, said out loud.

Exact quantiles (``PERCENTILE_CONT … WITHIN GROUP``) are the default on every backend:
they are what the Excel functions and the scorecard's ``PERCENTILE.INC`` compute, so the
three agree. On a large table they cost: Spark sorts every group (measured by the issue
about 16× a mean), and some warehouses have no exact percentile at all. ``approximate``
asks the backend for its own sketch instead: DuckDB's ``APPROX_QUANTILE`` (t-digest),
Spark's ``PERCENTILE_APPROX`` (Greenwald-Khanna, accuracy 10000: rank error at most
1/10000 of the group). Approximate values differ by backend and from the scorecard's
formula, so the switch is never made for you: it is set in ``[engine] quantiles`` for
every KPI, or per KPI in ``[engine] approximate``; a backend without an approximate
quantile (PostgreSQL) refuses the setting instead of quietly computing exact ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import KpiXlError
from ..render.sql import Dialect

POLICIES = ("exact", "approximate")


class QuantileError(KpiXlError, ValueError):
    """The quantile policy cannot run on the chosen backend."""


@dataclass(frozen=True)
class QuantilePolicy:
    """``default``: 'exact' or 'approximate' for every quantile KPI; ``approximate``:
    KPI keys computed approximately even when the default is exact."""
    default: str = "exact"
    approximate_kpis: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.default not in POLICIES:
            raise QuantileError(f"[engine] quantiles must be 'exact' or 'approximate', got "
                                f"{self.default!r}")

    def approximate(self, kpi: str) -> bool:
        return self.default == "approximate" or kpi in self.approximate_kpis

    @property
    def any_approximate(self) -> bool:
        return self.default == "approximate" or bool(self.approximate_kpis)

    def check(self, dialect: Dialect) -> None:
        """Refuse approximate quantiles where the backend has none (never fall back)."""
        if self.any_approximate and dialect.approx_quantile is None:
            raise QuantileError(
                f"[engine] approximate quantiles were asked for, and {dialect.name} has no "
                "approximate quantile function: set quantiles = \"exact\" (kpi_xl does not "
                "switch to exact ones on its own)")

    def describe(self, dialect: Dialect | None = None) -> str:
        """One line for ``kpi-xl validate``."""
        how = {"exact": "exact (PERCENTILE_CONT, as Excel's PERCENTILE.INC)",
               "approximate": "approximate (the backend's own sketch)"}
        text = f"quantiles: {how[self.default]}"
        if self.approximate_kpis and self.default == "exact":
            text += f"; approximate for {', '.join(sorted(self.approximate_kpis))}"
        return text
