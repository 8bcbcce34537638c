"""kpi_xl: contact-centre and customer-service KPIs, declared once, computed everywhere.

>>> from kpi_xl import compute
>>> compute("nps", scores=[10, 9, 3, 7]).value
25.0
"""

from .catalog import CATALOG
from .errors import KpiError
from .render.arrays import KpiResult, compute

__version__ = "0.1.0"
__all__ = ["CATALOG", "KpiError", "KpiResult", "compute", "__version__"]
