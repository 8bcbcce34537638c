"""Scalar functions that formulas may :func:`~kpi_xl.catalog.expr.call` by name.

Each entry is the plain-Python meaning; renderers for SQL and Excel map the same names to
their own spelling (``SQRT``, the ``POISSON.DIST`` form of Erlang C...).
"""

from __future__ import annotations

import math

from . import erlang

FUNCTIONS = {
    "sqrt": lambda x: math.sqrt(max(x, 0.0)),
    "ceil": math.ceil,
    "min": min,
    "max": max,
    "erlang_traffic": erlang.traffic,
    "erlang_p_wait": erlang.p_wait,
    "erlang_service_level": erlang.service_level,
    "erlang_asa": erlang.asa,
    "erlang_occupancy": erlang.occupancy,
    "erlang_agents": erlang.agents_required,
    "erlang_agents_p_wait": erlang.agents_for_p_wait,
    "erlang_agents_asa": erlang.agents_for_asa,
}
