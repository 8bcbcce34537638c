"""The KPI declarations, one module per family."""

from . import business, efficiency, quality, satisfaction, speed, staffing

ALL = (satisfaction.KPIS + speed.KPIS + efficiency.KPIS + quality.KPIS + business.KPIS
       + staffing.KPIS)
