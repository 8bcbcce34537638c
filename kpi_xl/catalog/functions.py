"""Scalar functions that formulas may :func:`~kpi_xl.catalog.expr.call` by name.

Each entry is the plain-Python meaning; renderers for SQL and Excel map the same names to
their own spelling (``SQRT``, the ``POISSON.DIST`` form of Erlang C...).
"""

from __future__ import annotations

import math

from . import erlang, erlang_a

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
    "erlang_queue_length": erlang.queue_length,
    "erlang_service_time": erlang.service_time,
    "erlang_call_capacity": erlang.call_capacity,
    "erlang_b_blocking": erlang.blocking,
    "erlang_b_lines": erlang.lines_for_blocking,
    "erlang_a_p_wait": erlang_a.p_wait,
    "erlang_a_p_abandon": erlang_a.p_abandon,
    "erlang_a_service_level": erlang_a.service_level,
    "erlang_a_service_level_answered": erlang_a.service_level_answered,
    "erlang_a_asa": erlang_a.asa,
    "erlang_a_agents": erlang_a.agents_required,
    "erlang_a_agents_answered": erlang_a.agents_required_answered,
}
