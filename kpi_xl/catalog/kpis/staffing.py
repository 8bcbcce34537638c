"""Staffing with Erlang C: traffic, P(wait), service level, ASA, occupancy, agents (for a
service-level, P(wait) or ASA target), FTE; lines with Erlang B (blocking, lines for a
target blocking)."""

from __future__ import annotations

from ..expr import Col, Count, Param, Present, Scalar, Sum, call, ratio
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

QUEUE = _kpi("erlang_queue_length", "Forecast queue length (Erlang C)", "Mean number of "
             "calls waiting in the queue with N agents.", "Lq = C(N, A) · A / (N − A)",
             (_calls, _aht, _agents), call("erlang_queue_length", A, S("agents")), "count",
             "0.00", "lower", (_interval,), "=KPI_ERLANG_QUEUE_LENGTH(100,180,14)")
SERVICE_TIME = _kpi(
    "erlang_service_time", "Service time for a percentile (Erlang C)", "The time within "
    "which the given share of calls is answered with N agents (0 when that share is "
    "answered at once).", "T = AHT / (N − A) · ln(C(N, A) / (1 − x)), at least 0",
    (_calls, _aht, _agents), call("erlang_service_time", A, S("agents"), S("aht"),
                                  Param("percentile")),
    "seconds", '0.0" s"', "lower",
    (ParamSpec("percentile", 0.8, "x: the share of calls answered within the time (0–1), "
               "0.9 for 90 %.", lo=0, hi=0.999999), _interval),
    "=KPI_ERLANG_SERVICE_TIME(100,180,14,0.9)")
CAPACITY = _kpi(
    "erlang_call_capacity", "Call capacity (Erlang C)", "Most whole calls per interval that "
    "N agents answer at the target service level.",
    "largest calls with SL(calls × AHT / interval, N) ≥ target", (_aht, _agents),
    call("erlang_call_capacity", S("agents"), Param("threshold"), S("aht"), Param("target"),
         Param("interval")),
    "count", "0", "higher",
    (_threshold, ParamSpec("target", 0.8, "Target service level (0–1).", lo=0, hi=0.999999),
     _interval), "=KPI_ERLANG_CALL_CAPACITY(180,14,20,0.8)")

# -- chat: Erlang C on the effective handle time AHT / concurrency ---------------------------
_EAHT = ratio(S("aht"), S("concurrency"), "a concurrency of 0 handles no chats")
CHAT_AGENTS = Kpi(
    key="erlang_chat_agents", excel_name="KPI_ERLANG_CHAT_AGENTS",
    title="Agents required for chat (Erlang C with concurrency)", family=FAMILY,
    description="Fewest agents for a chat service level when each agent runs several "
                "conversations at once: Erlang C on the effective handle time AHT / "
                "concurrency (Call Centre Helper's method). An approximation: it treats "
                "an agent as one server that is concurrency times faster, so use the "
                "concurrency factor agents really sustain (below the maximum they are "
                "allowed: 1.7 for 2, 2.5 for 3 in Call Centre Helper's table) and the "
                "wall-clock chat handle time measured at that concurrency.",
    formula_text="Erlang C agents for A = chats × (AHT / k) / interval, handle time AHT / k",
    unit="agents", direction="lower", number_format="0",
    inputs=(Input("chats", "scalar", "Chats offered in the interval.", lo=0),
            Input("aht", "scalar", "Average wall-clock handle time of a chat, in seconds, "
                  "as measured when agents run chats concurrently.", lo=0, positive=True),
            Input("concurrency", "scalar", "k: the concurrency factor, the average number "
                  "of chats an agent effectively handles at once (≥ 1, may be fractional).",
                  lo=1)),
    params=(ParamSpec("threshold", 60, "T: first-response threshold in seconds.", lo=0),
            ParamSpec("target", 0.8, "Target service level (0–1).", lo=0, hi=0.999999),
            _max_occ, _interval),
    variants=(Variant("effective_aht", "Erlang C with handle time AHT / concurrency.",
                      Formula(value=call("erlang_agents",
                                         call("erlang_traffic", S("chats"), _EAHT,
                                              Param("interval")),
                                         Param("threshold"), _EAHT, Param("target"),
                                         Param("max_occupancy")))),),
    target=None, target_source="a model output, not a goal",
    sources=(_SRC[1], "Call Centre Helper, 'Erlang C for chat?' (effective AHT = AHT / "
             "concurrency factor; factor table 1, 1.7, 2.5, 2.9, 3.5 for 1 to 5 chats)"),
    examples=("=KPI_ERLANG_CHAT_AGENTS(100,540,3,20)",))

# -- patience from the data: the censored-data estimate that feeds Erlang A -----------------
_w, _ans = Col("wait"), Col("answered")
_offered, _abandoned = Present(_ans), _ans.eq(0)
MEAN_PATIENCE = Kpi(
    key="mean_patience", excel_name="KPI_MEAN_PATIENCE", title="Mean patience (estimated)",
    family=FAMILY,
    description="How long callers are willing to wait, on average, estimated from the "
                "queue waits of every offered call: an abandoned call's wait is a patience "
                "that ran out, an answered call's wait a patience known to be longer "
                "(censored). With exponential patience the maximum-likelihood estimate is "
                "the total waiting time over the number of abandons: the patience input "
                "of the Erlang A functions.",
    formula_text="Σ queue wait of all offered calls / abandoned calls (= 1 / θ̂)",
    unit="seconds", direction="neutral", number_format='0" s"',
    inputs=(Input("wait", "duration", "Queue wait in seconds (or time values) of every "
                  "offered call: until the answer, or until the caller hung up.", lo=0,
                  time_unit="seconds"),
            Input("answered", "flag", "Y/N or TRUE/FALSE per offered call (N = abandoned).")),
    variants=(Variant("exponential_mle", "Exponential patience, censored at the answer: "
                      "θ̂ = abandons / total waiting time, mean patience = 1 / θ̂.",
                      Formula(value=ratio(Sum(_w, _offered), Count(_abandoned),
                                          "no abandoned calls: nobody ran out of patience, so "
                                          "it cannot be estimated (use Erlang C)"),
                              n=Count(_offered),
                              measures={"abandoned": Count(_abandoned),
                                        "waiting time (s)": Sum(_w, _offered)})),),
    target=None, target_source="a model input, not a goal",
    sources=("L. Brown, N. Gans, A. Mandelbaum et al., 'Statistical analysis of a telephone "
             "call center: a queueing-science perspective', JASA 100 (2005): θ̂ = P(abandon) "
             "/ E[wait] under exponential patience",
             "J. Lawless, Statistical Models and Methods for Lifetime Data (2003), §2.2: "
             "the exponential MLE from censored data, events / total time at risk"),
    examples=("=KPI_MEAN_PATIENCE(H2:H5001,F2:F5001)",))

_SRC_B = (_SRC[0], "Westbay Engineers, Erlang B calculator manual, 'How much traffic can a "
          "trunk group handle?': 15 lines at 1 % blocking carry 8.108 Erlangs "
          "(erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm)")
_lines_interval = ParamSpec("interval", 3600, "Interval length in seconds (3600 = the busy "
                            "hour).", lo=1)
BLOCKING = _kpi(
    "erlang_b_blocking", "Blocking probability (Erlang B)",
    "Share of calls that find every line busy and are lost (not queued): lines, trunks or "
    "ports for the traffic offered in the busy hour.",
    "B(N, A): B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))",
    (_calls, _aht, Input("lines", "scalar", "Lines (trunks, ports) in the group, a whole "
                         "number ≥ 1.", lo=1)),
    call("erlang_b_blocking", A, S("lines")), "percent", "0.00%", "lower",
    (_lines_interval,), "=KPI_ERLANG_B_BLOCKING(162.16,180,15)", sources=_SRC_B)
LINES = _kpi(
    "erlang_b_lines", "Lines required (Erlang B)",
    "Fewest lines (trunks, ports) with which at most the target share of calls is "
    "blocked.", "smallest N with B(N, A) ≤ target blocking",
    (_calls, _aht, Input("target_blocking", "scalar", "Highest acceptable share of calls "
                         "blocked, 0.000001–1 (0.01 for 1 %).", lo=0.000001, hi=1)),
    call("erlang_b_lines", A, S("target_blocking")), "count", "0", "lower",
    (_lines_interval,), "=KPI_ERLANG_B_LINES(162.16,180,0.01)", sources=_SRC_B)

# -- Erlang A (M/M/N+M): Erlang C with callers who hang up ---------------------------------
_SRC_A = ("C. Palm, 'Research on telephone traffic carried by full availability groups', "
          "Tele 1957 (the M/M/N+M queue)",
          "O. Garnett, A. Mandelbaum, M. Reiman, 'Designing a call center with impatient "
          "customers', Manufacturing & Service Operations Management 4(3), 2002",
          "A. Mandelbaum, S. Zeltyn, 'Service engineering in action: the Palm/Erlang-A "
          "queue, with applications to call centers', 2007")
_patience = Input("patience", "scalar", "Mean patience in seconds: how long callers wait, on "
                  "average, before they hang up (> 0).", lo=0, positive=True)
_A_NOTE = (" Erlang A: callers hang up after an exponential patience, so any N ≥ 1 gives a "
           "finite answer; as patience grows it becomes Erlang C.")
_OVER = {"offered": "over all offered calls (an abandoned call counts as missed)",
         "answered": "over answered calls (abandoned calls left out)"}


def _kpi_a(key, title, description, text, inputs, values, unit, fmt, direction, params,
           example, target=None, target_source="a model output, not a goal"):
    """An Erlang A KPI; ``values`` maps variant name -> (doc, value node)."""
    return Kpi(key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
               description=description + _A_NOTE, formula_text=text, unit=unit,
               direction=direction, number_format=fmt, inputs=inputs, params=params,
               variants=tuple(Variant(name, doc, Formula(value=value))
                              for name, (doc, value) in values.items()),
               target=target, target_source=target_source, sources=_SRC_A,
               examples=(example,))


_A_ARGS = (A, S("agents"), S("aht"), S("patience"))
_A_INPUTS = (_calls, _aht, _agents, _patience)
A_P_WAIT = _kpi_a(
    "erlang_a_p_wait", "Probability of waiting (Erlang A)", "Chance a call has to queue "
    "(whether it is answered later or hangs up).", "Σ_{k ≥ N} π_k of the M/M/N+M chain",
    _A_INPUTS, {"erlang_a": ("M/M/N+M, stationary distribution by ratio recursion.",
                             call("erlang_a_p_wait", *_A_ARGS))},
    "percent", "0.0%", "lower", (_interval,), "=KPI_ERLANG_A_P_WAIT(100,180,14,120)")
A_P_ABANDON = _kpi_a(
    "erlang_a_p_abandon", "Probability of abandoning (Erlang A)", "Share of offered calls "
    "that hang up before an agent answers.",
    "Σ_j π_{N+j} · (j+1)·θ / (N·μ + (j+1)·θ) = θ · Lq / λ", _A_INPUTS,
    {"erlang_a": ("M/M/N+M, exponential patience.", call("erlang_a_p_abandon", *_A_ARGS))},
    "percent", "0.0%", "lower", (_interval,), "=KPI_ERLANG_A_P_ABANDON(100,180,14,120)")
A_SL = _kpi_a(
    "erlang_a_service_level", "Forecast service level (Erlang A)", "Share of calls answered "
    "within T with N agents when callers hang up.",
    "P(no wait) + Σ_j π_{N+j} · P(answered within T | j queued)", _A_INPUTS,
    {"offered": ("Answered within T " + _OVER["offered"] + ".",
                 call("erlang_a_service_level", A, S("agents"), Param("threshold"), S("aht"),
                      S("patience"))),
     "answered": ("Answered within T " + _OVER["answered"] + ".",
                  call("erlang_a_service_level_answered", A, S("agents"), Param("threshold"),
                       S("aht"), S("patience")))},
    "percent", "0.0%", "higher", (_threshold, _interval),
    "=KPI_ERLANG_A_SERVICE_LEVEL(100,180,14,120,\"offered\",20)", 0.80, "80/20 (ICMI)")
A_ASA = _kpi_a(
    "erlang_a_asa", "Forecast ASA (Erlang A)", "Mean wait of answered calls with N agents "
    "when callers hang up.", "E[wait | answered] of the M/M/N+M queue", _A_INPUTS,
    {"erlang_a": ("Mean wait of answered calls.", call("erlang_a_asa", *_A_ARGS))},
    "seconds", '0.0" s"', "lower", (_interval,), "=KPI_ERLANG_A_ASA(100,180,14,120)")
_a_target = ParamSpec("target", 0.8, "Target service level (0–1).", lo=0, hi=0.999999)
A_AGENTS = _kpi_a(
    "erlang_a_agents", "Agents required (Erlang A)", "Fewest agents whose Erlang A service "
    "level reaches the target (and occupancy stays at or under max_occupancy).",
    "smallest N with SL_A(N) ≥ target and A·(1 − P(abandon))/N ≤ max occupancy",
    (_calls, _aht, _patience),
    {"offered": ("Service level " + _OVER["offered"] + ".",
                 call("erlang_a_agents", A, Param("threshold"), S("aht"), S("patience"),
                      Param("target"), Param("max_occupancy"))),
     "answered": ("Service level " + _OVER["answered"] + ".",
                  call("erlang_a_agents_answered", A, Param("threshold"), S("aht"),
                       S("patience"), Param("target"), Param("max_occupancy")))},
    "agents", "0", "lower", (_threshold, _a_target, _max_occ, _interval),
    "=KPI_ERLANG_A_AGENTS(100,180,120,\"offered\",20,0.8)")

KPIS = [TRAFFIC, P_WAIT, SL, ASA, OCC, AGENTS, AGENTS_P_WAIT, AGENTS_ASA, FTE, QUEUE, SERVICE_TIME, CAPACITY, CHAT_AGENTS, MEAN_PATIENCE, BLOCKING, LINES,
        A_P_WAIT, A_P_ABANDON, A_SL, A_ASA, A_AGENTS]
