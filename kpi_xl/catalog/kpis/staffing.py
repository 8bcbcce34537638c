"""Staffing with Erlang C: traffic, P(wait), service level, ASA, occupancy, agents (for a
service-level, P(wait) or ASA target), FTE."""

from __future__ import annotations

from ..expr import Param, Scalar, call, ratio
from ..spec import Formula, Input, Kpi, ParamSpec, Variant

FAMILY = "staffing"
S = Scalar
_SRC = ("A. K. Erlang, 'Solution of some problems in the theory of probabilities of "
        "significance in automatic telephone exchanges', 1917",
        "Call Centre Helper, 'Erlang C formula - made simple with an easy worked example' "
        "(100 calls / 30 min, AHT 180 s, T 20 s)")
_calls = Input("calls", "scalar", "Calls offered in the interval.", lo=0)
_aht = Input("aht", "scalar", "Average handle time in seconds.", lo=0, positive=True)
_agents = Input("agents", "scalar", "Agents on the phones (a whole number ≥ 1).", lo=1)
_interval = ParamSpec("interval", 1800, "Interval length in seconds (1800 = 30 minutes).",
                      lo=1)
_threshold = ParamSpec("threshold", 20, "T: answer-time threshold in seconds.", lo=0)
_max_occ = ParamSpec("max_occupancy", 1.0, "Highest acceptable occupancy (0–1); 1 = no cap.",
                     lo=0.01, hi=1)
A = call("erlang_traffic", S("calls"), S("aht"), Param("interval"))
_N_LE_A = ("When agents ≤ traffic the queue is unstable: P(wait) = 1, service level = 0, "
           "occupancy = 100 %, and ASA has no finite value (the cell says so).")


def _kpi(key, title, description, text, inputs, value, unit, fmt, direction, params,
         example, target=None, target_source="a model output, not a goal", sources=_SRC):
    return Kpi(key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
               description=description + " " + _N_LE_A if "agents" in
               [i.name for i in inputs] else description,
               formula_text=text, unit=unit, direction=direction, number_format=fmt,
               inputs=inputs, params=params, variants=(Variant("erlang_c", text,
                                                               Formula(value=value)),),
               target=target, target_source=target_source, sources=sources, examples=(example,))


TRAFFIC = _kpi("traffic_intensity", "Traffic intensity", "Workload in Erlangs: hours of "
               "handling per hour.", "A = calls × AHT / interval", (_calls, _aht), A,
               "erlangs", "0.00", "neutral", (_interval,), "=KPI_TRAFFIC_INTENSITY(100,180)")
P_WAIT = _kpi("erlang_p_wait", "Probability of waiting (Erlang C)", "Chance a call has to "
              "queue.", "C(N, A) = N·B / (N − A·(1 − B)), B = Erlang B",
              (_calls, _aht, _agents), call("erlang_p_wait", A, S("agents")), "percent",
              "0.0%", "lower", (_interval,), "=KPI_ERLANG_P_WAIT(100,180,14)")
SL = _kpi("erlang_service_level", "Forecast service level (Erlang C)", "Share of calls "
          "answered within T with N agents; at T = 0 it is 1 − P(wait), the share answered "
          "at once.", "1 − C(N, A) · exp(−(N − A) · T / AHT)",
          (_calls, _aht, _agents), call("erlang_service_level", A, S("agents"),
                                        Param("threshold"), S("aht")),
          "percent", "0.0%", "higher", (_threshold, _interval),
          "=KPI_ERLANG_SERVICE_LEVEL(100,180,14,20)", 0.80, "80/20 (ICMI)")
ASA = _kpi("erlang_asa", "Forecast ASA (Erlang C)", "Mean wait of all calls with N agents.",
           "C(N, A) · AHT / (N − A)", (_calls, _aht, _agents),
           call("erlang_asa", A, S("agents"), S("aht")), "seconds", '0.0" s"', "lower",
           (_interval,), "=KPI_ERLANG_ASA(100,180,14)")
OCC = _kpi("erlang_occupancy", "Forecast occupancy (Erlang C)", "Share of agents' time busy.",
           "A / N (at most 100 %)", (_calls, _aht, _agents),
           call("erlang_occupancy", A, S("agents")), "percent", "0.0%", "neutral",
           (_interval,), "=KPI_ERLANG_OCCUPANCY(100,180,14)")
AGENTS = _kpi("erlang_agents", "Agents required (Erlang C)", "Fewest agents whose forecast "
              "service level reaches the target (and occupancy stays at or under "
              "max_occupancy).", "smallest N > A with SL(N) ≥ target and A/N ≤ max occupancy",
              (_calls, _aht),
              call("erlang_agents", A, Param("threshold"), S("aht"), Param("target"),
                   Param("max_occupancy")),
              "agents", "0", "lower",
              (_threshold, ParamSpec("target", 0.8, "Target service level (0–1).", lo=0,
                                     hi=0.999999),
               _max_occ, _interval),
              "=KPI_ERLANG_AGENTS(100,180,20,0.8)")
AGENTS_P_WAIT = _kpi(
    "erlang_agents_p_wait", "Agents required for a P(wait) target (Erlang C)",
    "Fewest agents with whom at most the target share of calls has to queue (and "
    "occupancy stays at or under max_occupancy). The same as a service-level target with "
    "T = 0, since service level at T = 0 is 1 − P(wait).",
    "smallest N > A with C(N, A) ≤ target P(wait) and A/N ≤ max occupancy",
    (_calls, _aht, Input("target_p_wait", "scalar", "Highest acceptable probability that a "
                         "call queues, 0.0001–1 (0.2 for 20 %).", lo=0.0001, hi=1)),
    call("erlang_agents_p_wait", A, S("target_p_wait"), Param("max_occupancy")),
    "agents", "0", "lower", (_max_occ, _interval), "=KPI_ERLANG_AGENTS_P_WAIT(100,180,0.2)")
AGENTS_ASA = _kpi(
    "erlang_agents_asa", "Agents required for an ASA target (Erlang C)",
    "Fewest agents whose forecast average speed of answer (over all calls) is at or under "
    "the target (and occupancy at or under max_occupancy); Westbay's AgentsASA.",
    "smallest N > A with C(N, A) · AHT / (N − A) ≤ target ASA and A/N ≤ max occupancy",
    (_calls, _aht, Input("target_asa", "scalar", "Highest acceptable ASA in seconds "
                         "(> 0), e.g. 15.", lo=0, positive=True)),
    call("erlang_agents_asa", A, S("aht"), S("target_asa"), Param("max_occupancy")),
    "agents", "0", "lower", (_max_occ, _interval), "=KPI_ERLANG_AGENTS_ASA(100,180,15)",
    sources=_SRC + ("Westbay Engineers, Erlang for Excel: AgentsASA (agents for a target "
                    "average speed of answer)",))
FTE = Kpi(
    key="fte_with_shrinkage", excel_name="KPI_FTE_WITH_SHRINKAGE",
    title="Staff required with shrinkage", family=FAMILY,
    description="Agents to schedule so that enough are on the phones after shrinkage.",
    formula_text="agents required / (1 − shrinkage)", unit="fte", direction="lower",
    number_format="0.0",
    inputs=(Input("agents", "scalar", "Agents required on the phones (e.g. KPI_ERLANG_AGENTS).",
                  lo=0),
            Input("shrinkage", "scalar", "Shrinkage as a fraction (0.30 for 30 %), below 1.",
                  lo=0, hi=0.999999)),
    variants=(Variant("standard", "Requirement / (1 − shrinkage), unrounded: round up when "
                      "scheduling whole people.",
                      Formula(value=ratio(S("agents"), 1 - S("shrinkage"),
                                          "shrinkage of 100 % leaves no one")),),),
    target=None, target_source="a model output, not a goal", sources=_SRC[1:] + (
        "Call Centre Helper, 'Shrinkage: a complete guide'",),
    examples=("=KPI_FTE_WITH_SHRINKAGE(14,0.3)",))

KPIS = [TRAFFIC, P_WAIT, SL, ASA, OCC, AGENTS, AGENTS_P_WAIT, AGENTS_ASA, FTE]
