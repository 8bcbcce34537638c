"""The KPI declarations, one module per family; each with its levers (how agents and team
leads move it, kpi_xl.catalog.levers)."""

from ..levers import with_levers
from . import business, efficiency, quality, satisfaction, speed, staffing

ALL = tuple(with_levers(k) for k in satisfaction.KPIS + speed.KPIS + efficiency.KPIS
            + quality.KPIS + business.KPIS + staffing.KPIS)
