"""The KPI catalog: every KPI declared once (pure Python; imports nothing but the stdlib).

>>> from kpi_xl.catalog import CATALOG
>>> CATALOG["nps"].title
'Net Promoter Score'
"""

from .kpis import ALL as _ALL
from .spec import Catalog, Formula, Input, Kpi, ParamSpec, Variant

CATALOG = Catalog(list(_ALL))

__all__ = ["CATALOG", "Catalog", "Formula", "Input", "Kpi", "ParamSpec", "Variant"]
