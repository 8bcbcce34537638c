"""The Excel functions, registered with the installed xlwings.

* classic xlwings (Windows only: its UDFs need pywin32): set ``UDF Modules`` to
  ``kpi_xl.xl.functions`` and click *Import Functions*;
* xlwings Lite: add ``kpi-xl`` to requirements.txt and ``from kpi_xl.xl.functions import *``
  in main.py;
* xlwings Server: set ``XLWINGS_ON_SERVER=true`` before xlwings is imported and import this
  module into the server's custom-functions module.

Elsewhere (macOS or Linux without ``XLWINGS_ON_SERVER``) xlwings' decorators do nothing:
the module still exports the functions as plain Python, and warns once that Excel will
see none of them.

Every function is built from the catalog by :func:`kpi_xl.xl.adapter.build`.
"""

import warnings

import xlwings as xw

from .adapter import build, registered

_FUNCS = build(xw.func, xw.arg, __name__)
globals().update(_FUNCS)
__all__ = sorted(_FUNCS)

if not registered(_FUNCS):
    warnings.warn(
        "kpi_xl.xl.functions: xlwings registered none of the KPI_ functions, so Excel will "
        "not see them: on this host (not Windows with pywin32, not xlwings Lite) xlwings' "
        "decorators do nothing unless the environment variable XLWINGS_ON_SERVER=true is "
        "set before xlwings is first imported (xlwings Server). The functions remain "
        "callable from Python.", UserWarning, stacklevel=2)
