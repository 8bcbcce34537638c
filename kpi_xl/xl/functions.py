"""The Excel functions, registered with the installed xlwings.

* classic xlwings (Windows/macOS add-in): set ``UDF_MODULES`` to ``kpi_xl.xl.functions``
  and click *Import Functions*;
* xlwings Lite: add ``kpi-xl`` to requirements.txt and ``from kpi_xl.xl.functions import *``
  in main.py;
* xlwings Server: import this module into the server's custom-functions module.

Every function is built from the catalog by :func:`kpi_xl.xl.adapter.build`.
"""

import xlwings as xw

from .adapter import build

_FUNCS = build(xw.func, xw.arg, __name__)
globals().update(_FUNCS)
__all__ = sorted(_FUNCS)
