"""Worked examples: one sourced test vector per KPI variant, shipped with the catalog.

Each entry is ``(key, variant or None, inputs, expected, source)``: inputs as an Excel
function takes them (by input and option name), the value the catalog's definition gives
on them, and where that value comes from ("by hand" means derived from the definition in
the comment or the source text; published examples name where they were published).

They open the catalog's test vectors (``tests/vectors.py`` imports them and
adds the rest), so every one is checked by every renderer (tests/test_conformance.py).
The KPI handbook (``kpi-xl handbook``) shows the example of each KPI's chosen variant,
worked through by the catalog's own evaluation (:mod:`kpi_xl.render.words`); nothing here
is a formula. Plain data (stdlib only): the catalog still runs in xlwings Lite (Pyodide).
"""

from __future__ import annotations

from typing import Any

Y, N = "Y", "N"

#: (key, variant or None, inputs, expected, source)
WORKED: list[tuple[str, str | None, dict[str, Any], float, str]] = [
    # -- satisfaction --------------------------------------------------------
    ("nps", None, {"scores": [10, 9, 9, 8, 7, 3, None, 0, 10, 6]}, 100 * (4 - 3) / 9,
     "by hand: 9 answers, promoters 10,9,9,10 = 4, detractors 3,0,6 = 3 -> 100*(4-3)/9"),
    ("enps", None, {"scores": [9, 10, 5, 7]}, 25.0,
     "by hand: promoters 2, detractors 1, n 4 -> 100*(2-1)/4"),
    ("enps", "mean", {"scores": [9, 10, 5, 7, None]}, 7.75,
     "by hand: blank ignored, (9 + 10 + 5 + 7) / 4 = 31 / 4"),
    ("csat", None, {"scores": [5, 4, 3, 2, 1, 5, None]}, 0.5,
     "by hand: 6 answers, 3 in the top two boxes (5,4,5)"),
    ("csat", "mean", {"scores": [5, 4, 3, 2, 1, 5]}, 20 / 6, "by hand: 20 / 6"),
    ("ces", None, {"scores": [7, 6, 5, 1]}, 4.75, "by hand: 19 / 4"),
    ("ces", "effort5", {"scores": [1, 2, 2, 5]}, 2.5, "by hand: 10 / 4"),
    ("ces", "easy_share", {"scores": [7, 5, 4, 3]}, 0.5, "by hand: 5-7 answers 2 of 4"),
    ("survey_response_rate", None, {"responses": 412, "surveys_sent": 2950}, 412 / 2950,
     "by hand"),
    # -- speed ---------------------------------------------------------------
    ("first_response_time", None, {"hours": [1, 2, 3, 10]}, 4.0, "by hand: 16 / 4"),
    ("first_response_time", "median", {"hours": [1, 2, 3, 10]}, 2.5, "by hand: (2+3)/2"),
    ("first_response_time", "p90", {"hours": [1, 2, 3, 10]}, 7.9,
     "by hand, PERCENTILE.INC: rank (4-1)*0.9 = 2.7 -> 3 + 0.7*(10-3)"),
    ("average_response_time", None, {"hours": [0.5, 1.5]}, 1.0, "by hand"),
    ("time_to_resolution", None, {"hours": [24, 48, None]}, 36.0, "by hand: blanks ignored"),
    ("time_to_resolution", "median", {"hours": [24, 48, 96]}, 48.0, "by hand"),
    ("time_to_resolution", "p90", {"hours": [10, 20, 30, 40, 50, 60]}, 55.0,
     "by hand, PERCENTILE.INC: rank (6-1)*0.9 = 4.5 -> 50 + 0.5*(60-50)"),
    ("asa", None, {"wait": [10, 20, None, 30], "answered": [Y, Y, N, Y]}, 20.0,
     "by hand: answered waits 10+20+30 over 3 answered calls"),
    ("service_level", None, {"wait": [5, 25, 3, None, 8, 40], "answered": [Y, Y, Y, N, N, N]},
     2 / 6, "by hand: answered within 20 s: 5 and 3 -> 2 of 6 offered"),
    ("service_level", "answered", {"wait": [5, 25, 3, None, 8, 40],
                                   "answered": [Y, Y, Y, N, N, N]}, 2 / 3,
     "by hand: 2 of 3 answered"),
    ("service_level", "exclude_abandons_within_t",
     {"wait": [5, 25, 3, 2, 8, 40], "answered": [Y, Y, Y, N, N, N]}, 2 / 4,
     "by hand: abandoned within 20 s: 2 and 8 -> 2 / (6 - 2)"),
    ("service_level", "abandons_within_t_met",
     {"wait": [5, 25, 3, 2, 8, 40], "answered": [Y, Y, Y, N, N, N]}, 4 / 6,
     "by hand: (2 answered + 2 abandoned within 20 s) / 6"),
    ("service_level", "exclude_short_abandons",
     {"wait": [5, 25, 3, 2, 8, 40], "answered": [Y, Y, Y, N, N, N]}, 2 / 5,
     "by hand: one abandon within 5 s (2 s) -> 2 / (6 - 1)"),
    ("sla_compliance", None, {"seconds": [15, 30, 50, 70, 3600, 20000],
                              "channel": ["phone", "Phone", "chat", "chat", "email", "EMAIL"]},
     0.5, "by hand: 15<=20, 50<=60, 3600<=14400 met; 30, 70, 20000 missed"),
    ("answered_rate", None, {"answered": [Y, Y, Y, N]}, 0.75, "by hand"),
    ("abandonment_rate", None, {"answered": [Y, N, N, Y, Y]}, 0.4, "by hand: 2 of 5"),
    ("abandonment_rate", "exclude_short", {"answered": [Y, N, N, Y, Y],
                                          "wait": [10, 3, 30, 5, 8]}, 0.25,
     "by hand: short abandon (3 s <= 5 s) removed -> (2-1)/(5-1)"),
    ("conversation_abandonment_rate", None, {"initiated": 1200, "completed": 1130},
     1 - 1130 / 1200, "by hand"),
    # -- efficiency ----------------------------------------------------------
    ("aht", None, {"talk": [100, 200], "hold": [10, 0], "acw": [30, 60]}, 200.0,
     "by hand: (140 + 260) / 2"),
    ("contacts_per_agent", None, {"contacts": 5400, "agents": 12}, 450.0, "by hand"),
    ("occupancy", None, {"handle_time": 310, "idle_time": 52}, 310 / 362, "by hand"),
    ("utilisation", None, {"handle_time": 310, "paid_time": 480}, 310 / 480, "by hand"),
    ("schedule_adherence", None, {"adherent_time": 430, "scheduled_time": 480}, 430 / 480,
     "by hand"),
    ("shrinkage", None, {"shrinkage_time": 144, "paid_time": 480}, 0.3, "by hand"),
    ("ticket_volume", None, {"ids": ["A1", "A2", None, "A3", 17]}, 4.0,
     "by hand: four non-blank ids"),
    ("tickets_created", None, {"created": 2400}, 2400.0, "by hand: the count itself"),
    ("tickets_solved", None, {"solved": 2380}, 2380.0, "by hand: the count itself"),
    ("backlog", None, {"open_at_start": 120, "created": 2400, "solved": 2380}, 140.0,
     "by hand: 120 + 2400 - 2380"),
    ("cost_per_contact", None, {"total_cost": 182000, "contacts": 41000}, 182000 / 41000,
     "by hand"),
    ("transfer_rate", None, {"transferred": [Y, N, N, N]}, 0.25, "by hand"),
    ("escalation_rate", None, {"escalated": [1, 0, 0, 0, True]}, 0.4, "by hand"),
    ("cost_per_resolution", None, {"total_cost": 50000, "resolved": 1000}, 50.0,
     "Kodif, 'How to calculate cost per resolution' worked example: $50,000 / 1,000 "
     "resolved tickets = $50"),
    ("self_service_rate", None, {"self_service": 2600, "assisted": 5400}, 0.325,
     "by hand: 2,600 / (2,600 + 5,400) = 2,600 / 8,000"),
    ("deflection_rate", None, {"deflected": 400, "contacts": 600}, 0.40,
     "AI CX Stack glossary worked example: a bot resolves 400 sessions, 600 tickets are "
     "still submitted -> 40 %"),
    ("kb_failed_searches", None, {"failed": 510, "searches": 4230}, 510 / 4230,
     "by hand: 510 searches with no result of 4,230 = 12.06 %"),
    # -- quality -------------------------------------------------------------
    ("fcr", None, {"resolved_first": ["Yes", "yes", "No", True]}, 0.75, "by hand"),
    ("resolution_rate", None, {"resolved": [Y, N, N, Y], "handled": [Y, Y, N, Y]}, 2 / 3,
     "by hand: resolved among handled: 2 of 3"),
    ("resolution_rate", "offered", {"resolved": [Y, N, None, Y, N],
                                    "handled": [Y, Y, N, Y, N]}, 2 / 5,
     "the PwC call-centre dashboards' definition, resolved / all calls (DAX measure in "
     "Mohamed-Sayed-Taha/PwC-Call-Center-Analytics), by hand: 2 resolved of 5 offered, the "
     "unanswered calls included"),
    ("reopen_rate", None, {"reopens": [0, 1, 0, 2]}, 0.5, "by hand"),
    ("qa_score", None, {"weights": [1, 2, 3, 1], "scores": [1, "N/A", 0.5, 1],
                        "fatal": [0, 0, 0, 1]}, 0.7,
     "by hand: N/A leaves the denominator: (1 + 1.5 + 1) / (1 + 3 + 1)"),
    ("servqual_gap", None, {"expectation": [6, 6, 6, 5, None], "perception": [5, 6, 4, 7, None]},
     -0.25, "by hand: gaps P - E = -1, 0, -2, +2 (the blank pair left out), mean -1 / 4"),
    # -- business ------------------------------------------------------------
    ("retention_rate", None, {"start": 1000, "end": 1040, "new": 120}, 0.92,
     "by hand: (1040 - 120) / 1000"),
    ("churn_rate", None, {"start": 1000, "lost": 80}, 0.08, "by hand"),
    ("nrr", None, {"start_revenue": 500000, "expansion": 40000, "contraction": 10000,
                   "churned": 25000}, 1.01, "by hand: 505000 / 500000"),
    ("grr", None, {"start_revenue": 500000, "contraction": 10000, "churned": 25000}, 0.93,
     "by hand: 465000 / 500000"),
    ("conversion_rate", None, {"conversions": 96, "leads": 640}, 0.15, "by hand"),
    ("activation_rate", None, {"activated": 210, "signups": 600}, 0.35, "by hand"),
    ("cac", None, {"cost": 90000, "new_customers": 120}, 750.0, "by hand"),
    ("agent_turnover", None, {"leavers": 3, "headcount_start": 60, "headcount_end": 58},
     3 / 59 * 12, "by hand: 3 / 59 average headcount, x 12 months"),
    ("budget_variance", None, {"actual": 742000, "budget": 720000}, 22000 / 720000,
     "by hand: (742,000 - 720,000) / 720,000 = 3.06 % over"),
    ("revenue_growth", None, {"revenue": 1150000, "previous_revenue": 1000000}, 0.15,
     "by hand: 150,000 / 1,000,000"),
    ("defect_rate", None, {"contacts": 41000, "orders": 520000}, 41000 / 520000 * 1000,
     "by hand: 41,000 / 520,000 x 1,000 = 78.85 contacts per 1,000 orders"),
    ("stickiness", None, {"dau": 3000, "mau": 15000}, 0.20,
     "runfutureproof.com 'Stickiness (DAU/MAU)' worked example: 3,000 / 15,000 = 20 %"),
    ("service_margin", None, {"revenue": 210000, "cost": 182000}, 28000 / 210000,
     "by hand: (210,000 - 182,000) / 210,000 = 13.3 %"),
    ("service_roi", None, {"benefit": 150, "cost": 100}, 0.50,
     "Help Scout, 'Why ROI Matters for Customer Service': spend $100, earn $150 -> 50 %"),
    ("daily_active_users", None, {"users": 3000}, 3000.0, "by hand: the figure as it is"),
    ("weekly_active_users", None, {"users": 8200}, 8200.0, "by hand: the figure as it is"),
    ("monthly_active_users", None, {"users": 15000}, 15000.0, "by hand: the figure as it is"),
    ("contact_rate", None, {"leads_reached": 1800, "leads_dialled": 5000}, 0.36,
     "by hand: 1,800 / 5,000"),
    ("calls_per_lead", None, {"calls": 13500, "leads_dialled": 5000}, 2.7,
     "by hand: 13,500 / 5,000"),
    ("conversion_per_call", None, {"sales": 540, "calls": 13500}, 0.04,
     "by hand: 540 / 13,500"),
    # -- staffing: Call Centre Helper's worked example (100 calls/30 min, AHT 180 s, T 20 s)
    ("traffic_intensity", None, {"calls": 100, "aht": 180}, 10.0,
     "Call Centre Helper worked example: A = 100 * 180 / 1800 = 10 Erlangs"),
    ("erlang_p_wait", None, {"calls": 100, "aht": 180, "agents": 14}, 0.1741,
     "Call Centre Helper worked example: P(wait) = 17.41 % at 14 agents"),
    ("erlang_service_level", None, {"calls": 100, "aht": 180, "agents": 14, "threshold": 20},
     0.8884, "Call Centre Helper worked example: 88.84 % at 14 agents"),
    ("erlang_asa", None, {"calls": 100, "aht": 180, "agents": 14}, 7.84,
     "Call Centre Helper worked example: ASA 7.84 s"),
    ("erlang_occupancy", None, {"calls": 100, "aht": 180, "agents": 14}, 0.714,
     "Call Centre Helper worked example: occupancy 71.4 %"),
    ("erlang_agents", None, {"calls": 100, "aht": 180, "threshold": 20, "target": 0.8}, 14.0,
     "Call Centre Helper worked example: 14 agents for 80/20"),
    # agents for a P(wait) or an ASA target, derived by hand from the worked example's
    # C(14, 10) = 0.1741: Erlang B at 14 is B = C(N-A)/(N-A·C) = 0.1741·4/(14-1.741) =
    # 0.05681; the recursion backwards, B(k-1) = k·B(k)/(A·(1-B(k))), gives B(13) = 0.08432,
    # B(12) = 0.11971; C = N·B/(N-A·(1-B)) gives C(13) = 0.2852, C(12) = 0.4493; and
    # ASA = C·AHT/(N-A): ASA(14) = 7.84 s (published), ASA(13) = 17.1 s, ASA(12) = 40.4 s.
    ("erlang_agents_p_wait", None, {"calls": 100, "aht": 180, "target_p_wait": 0.2}, 14.0,
     "by hand (above): C(13) = 28.5 % > 20 % >= C(14) = 17.41 %, so 14 agents"),
    ("erlang_agents_asa", None, {"calls": 100, "aht": 180, "target_asa": 10}, 14.0,
     "by hand (above): ASA(13) = 17.1 s > 10 s >= ASA(14) = 7.84 s, so 14 agents"),
    ("fte_with_shrinkage", None, {"agents": 14, "shrinkage": 0.3}, 20.0,
     "Call Centre Helper worked example: 14 / (1 - 0.30) = 20"),
    # queue length, service time for a percentile, call capacity, from the worked example's
    # C(14, 10) = 0.1741 (published) by the formulas: Lq = C·A/(N−A) = 0.1741·10/4 = 0.4353
    # (Little's law from the published ASA agrees: 7.84 s × 100 / 1800 s = 0.4356);
    # T(90 %) = 180/4 · ln(0.1741/0.10) = 24.95 s (SL(20 s) = 88.84 % < 90 %: T > 20 s);
    # T(80 %) = 0 since 1 − C = 82.6 % are answered at once
    ("erlang_queue_length", None, {"calls": 100, "aht": 180, "agents": 14}, 0.4353,
     "by hand from the worked example (above)"),
    ("erlang_service_time", None, {"calls": 100, "aht": 180, "agents": 14,
                                   "percentile": 0.9}, 24.95,
     "by hand from the worked example: 45 · ln(1.741) = 24.95 s"),
    ("erlang_call_capacity", None, {"aht": 180, "agents": 14, "threshold": 20, "target": 0.8},
     108.0, "log-space Erlang C of tests/test_erlang.py: SL(108 calls) = 80.85 %, "
     "SL(109) = 79.60 %"),
    # chat: Call Centre Helper's 'Erlang C for chat?' divides AHT by the concurrency factor;
    # a 540 s chat at factor 3 is an effective 180 s, the worked example's traffic and AHT
    ("erlang_chat_agents", None, {"chats": 100, "aht": 540, "concurrency": 3,
                                  "threshold": 20}, 14.0,
     "Call Centre Helper: EAHT = 540 / 3 = 180 s; worked example: 14 agents for 80/20"),
    # patience: waits 10 (answered), 30 (abandoned), 0 (answered at once), 20 (abandoned),
    # 40 (answered): 100 s of waiting, 2 abandons -> mean patience 50 s
    ("mean_patience", None, {"wait": [10, 30, 0, 20, 40], "answered": [Y, N, Y, N, Y]}, 50.0,
     "by hand: (10 + 30 + 0 + 20 + 40) / 2 abandons"),
    # Erlang B: Westbay Engineers' calculator manual, 'How much traffic can a trunk group
    # handle?': 15 lines at 1 % blocking carry at most 8.108 Erlangs (busy hour). Here
    # 162.16 calls x 180 s / 3600 s = 8.108 Erlangs.
    ("erlang_b_blocking", None, {"calls": 162.16, "aht": 180, "lines": 15}, 0.01,
     "Westbay: 8.108 Erlangs is the most 15 lines carry at 1 % blocking, so B = 1.00 %"),
    ("erlang_b_lines", None, {"calls": 162.16, "aht": 180, "target_blocking": 0.01}, 15.0,
     "Westbay: 15 lines carry 8.108 Erlangs at 1 %; 14 lines carry less (B(14) > 1 %)"),
    # Erlang A: Call Centre Helper's traffic (A = 10, 14 agents, T 20 s) with callers of
    # mean patience 120 s. No published Erlang A table was found to cite; the figures come
    # from the independent 60-digit reference in tests/test_erlang_a.py (product form from
    # state 0, hypoexponential waits by partial fractions), which its seeded simulation
    # agrees with: P(wait) 0.126976, P(abandon) 0.022839, SL 0.932730 (offered) and
    # 0.954530 (answered), ASA 2.3454 s; SL over offered at 11/12 agents 74.22 % / 82.56 %,
    # over answered at 10/11 agents 74.19 % / 81.94 %.
    ("erlang_a_p_wait", None, {"calls": 100, "aht": 180, "agents": 14, "patience": 120},
     0.1270, "tests/test_erlang_a.py reference: 0.126976"),
    ("erlang_a_p_abandon", None, {"calls": 100, "aht": 180, "agents": 14, "patience": 120},
     0.0228, "tests/test_erlang_a.py reference: 0.022839"),
    ("erlang_a_service_level", "offered", {"calls": 100, "aht": 180, "agents": 14,
                                           "patience": 120, "threshold": 20},
     0.9327, "tests/test_erlang_a.py reference: 0.932730"),
    ("erlang_a_service_level", "answered", {"calls": 100, "aht": 180, "agents": 14,
                                            "patience": 120, "threshold": 20},
     0.9545, "tests/test_erlang_a.py reference: 0.954530"),
    ("erlang_a_asa", None, {"calls": 100, "aht": 180, "agents": 14, "patience": 120},
     2.345, "tests/test_erlang_a.py reference: 2.3454 s"),
    ("erlang_a_agents", "offered", {"calls": 100, "aht": 180, "patience": 120,
                                    "threshold": 20, "target": 0.8},
     12.0, "tests/test_erlang_a.py reference: SL(11) = 74.22 % < 80 % <= SL(12) = 82.56 %"),
    ("erlang_a_agents", "answered", {"calls": 100, "aht": 180, "patience": 120,
                                     "threshold": 20, "target": 0.8},
     11.0, "tests/test_erlang_a.py reference: SL(10) = 74.19 % < 80 % <= SL(11) = 81.94 %"),
]

#: Published figures are rounded: the tolerance of a vector's expected value per KPI
#: (4 significant digits there), see :func:`tolerance`.
ROUNDED = {"erlang_p_wait": 5e-5, "erlang_service_level": 5e-5, "erlang_asa": 5e-3,
           "erlang_occupancy": 5e-4, "erlang_b_blocking": 5e-5,
           "erlang_queue_length": 5e-4, "erlang_service_time": 1e-3,
           "erlang_a_p_wait": 5e-5, "erlang_a_p_abandon": 5e-5,
           "erlang_a_service_level": 5e-5, "erlang_a_asa": 5e-3}


def tolerance(key: str, expected: float) -> float:
    """How far a computed value may sit from a vector's expected value: the rounding of a
    published figure (:data:`ROUNDED`), else 1e-9, relative to values past 1."""
    return ROUNDED.get(key, 1e-9) * max(1.0, abs(expected))


def worked_example(key: str, variant: str | None = None
                   ) -> tuple[str, str | None, dict[str, Any], float, str] | None:
    """The worked example of a KPI's variant (None: its default variant), or None."""
    from . import CATALOG

    kpi = CATALOG.get(key)
    if kpi is None:
        return None
    name = kpi.variant(variant).name
    for w in WORKED:
        if w[0] == key and kpi.variant(w[1]).name == name:
            return w
    return None
