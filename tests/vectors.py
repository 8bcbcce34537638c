"""Test vectors: for every KPI, inputs and the expected value, each with its source.

"by hand" means the expected number is derived in the comment next to it from the
definition in the catalog; published examples name where they were published.

One vector of each KPI variant ships with the catalog as its worked example
(kpi_xl/catalog/worked.py, shown in the KPI handbook); the vectors here add to those.
"""

import datetime as dt

from kpi_xl.catalog.worked import WORKED, N, Y

# (key, variant or None, inputs, expected, source): the worked examples, then the rest
VECTORS = [
    *WORKED,
    # -- satisfaction ------------------------------------------------------------------
    ("nps", None, {"scores": [10] * 7 + [8] * 2 + [5]}, 60.0,
     "Bain's definition example: 70 % promoters - 10 % detractors = NPS 60"),
    ("csat", None, {"scores": [10, 9, 8, 3], "scale_max": 10}, 0.5,
     "by hand: 10-point scale, top two boxes 9-10: 2 of 4"),
    # -- speed ---------------------------------------------------------------------------
    ("first_response_time", None, {"hours": [dt.time(1, 30), dt.timedelta(hours=2, minutes=30)]},
     2.0, "by hand: time values 1:30 and 2:30 are 1.5 h and 2.5 h"),
    ("asa", None, {"wait": [10, 20, None, 30]}, 20.0, "by hand: blank (abandoned) ignored"),
    ("service_level", None, {"wait": [5, 25, 3], "answered": [Y, Y, Y], "threshold": 30}, 1.0,
     "by hand: T = 30 s, all three within"),
    ("sla_compliance", None, {"seconds": [15, 30], "channel": ["phone", "phone"],
                              "targets": [["phone", 30]]}, 1.0, "by hand: own target 30 s"),
    ("sla_compliance", None, {"seconds": [15, 30, 50], "channel": ['a"b', 'A"B', "chat"],
                              "targets": [['a"b', 20], ["chat", 60]]}, 2 / 3,
     'by hand: a channel named a"b (a quote in a label) with target 20 s: 15 met, 30 missed; '
     "chat 50 <= 60 met"),
    # -- efficiency ---------------------------------------------------------------------
    ("aht", None, {"talk": [dt.time(0, 2, 23), dt.time(0, 4, 2), None]}, 192.5,
     "by hand: 143 s and 242 s (PwC file's first two calls), blank ignored"),
    ("cost_per_resolution", None, {"total_cost": 182000, "resolved": 36500}, 182000 / 36500,
     "by hand: 182,000 / 36,500 = 4.986..."),
    ("kb_failed_searches", None, {"failed": 540, "searches": 12000}, 0.045,
     "codingace.net 'Zero Results Rate Calculator' example table: 540 zero-result queries "
     "of 12,000 = 4.50 %"),
    # -- quality -------------------------------------------------------------------------
    ("qa_score", None, {"weights": [1, 2, 3, 1], "scores": [1, 1, 1, 0],
                        "fatal": [N, N, N, Y]}, 0.0, "by hand: the fatal item failed"),
    ("qa_score", None, {"weights": [2, 1], "scores": [5, 3], "max_score": 5}, 13 / 15,
     "by hand: (2*5 + 1*3) / (5 * 3)"),
    ("servqual_gap", None, {"expectation": [7, 7, 6], "perception": [5, 6, 6], "scale_max": 7},
     -1.0, "by hand: gaps -2, -1, 0, mean -3 / 3: the service falls one point short"),
    # -- business ------------------------------------------------------------------------
    ("retention_rate", None, {"start": 100, "end": 110, "new": 20}, 0.9,
     "by hand: (110 - 20) / 100"),
    ("agent_turnover", None, {"leavers": 30, "headcount_start": 60, "headcount_end": 58,
                              "months": 12}, 30 / 59, "by hand: a year's leavers"),
    ("budget_variance", None, {"actual": 648000, "budget": 720000}, -0.10,
     "by hand: (648,000 - 720,000) / 720,000 = -72,000 / 720,000 (10 % under)"),
    ("revenue_growth", None, {"revenue": 900000, "previous_revenue": 1000000}, -0.10,
     "by hand: -100,000 / 1,000,000"),
    ("revenue_growth", None, {"revenue": 120000, "previous_revenue": 100000}, 0.20,
     "CalculatorLib 'Revenue Growth Rate Calculator' worked example: $100,000 last quarter, "
     "$120,000 this quarter -> 20 %"),
    ("stickiness", None, {"dau": 15000, "mau": 50000}, 0.30,
     "pitchkit.net glossary example: DAU 15,000, MAU 50,000 -> 30 %"),
    ("service_margin", None, {"revenue": 150000, "cost": 165000}, -0.10,
     "by hand: a loss, (150,000 - 165,000) / 150,000 = -10 %"),
    ("service_roi", None, {"benefit": 90000, "cost": 120000}, -0.25,
     "by hand: (90,000 - 120,000) / 120,000"),
    # -- staffing: Call Centre Helper's worked example (100 calls/30 min, AHT 180 s, T 20 s)
    ("erlang_service_level", None, {"calls": 100, "aht": 180, "agents": 14, "threshold": 0},
     1 - 0.1741, "by hand from the worked example: at T = 0, SL = 1 - C·exp(0) = 1 - P(wait) "
     "= 1 - 17.41 %"),
    ("erlang_agents_p_wait", None, {"calls": 100, "aht": 180, "target_p_wait": 0.3}, 13.0,
     "by hand (above): C(12) = 44.9 % > 30 % >= C(13) = 28.5 %, so 13 agents"),
    ("erlang_agents_asa", None, {"calls": 100, "aht": 180, "target_asa": 20}, 13.0,
     "by hand (above): ASA(12) = 40.4 s > 20 s >= ASA(13) = 17.1 s, so 13 agents"),
    ("erlang_service_time", None, {"calls": 100, "aht": 180, "agents": 14,
                                   "percentile": 0.8}, 0.0,
     "by hand from the worked example: 82.6 % answered at once, so 80 % within 0 s"),
]

__all__ = ["VECTORS", "ERROR_VECTORS", "Y", "N"]

# Inputs that break a rule of the catalog: every renderer must refuse them (the Excel
# function with the sentence below, SQL with no value and the sentence as its note, a
# worksheet formula with an error value), never give a number.
# (name, key, variant or None, inputs, words of the refusal)
ERROR_VECTORS = [
    ("negative duration", "aht", None, {"talk": [100, -5, 30]},
     "'talk' must be a duration >= 0 (negative durations are refused)"),
    ("above the scale", "nps", None, {"scores": [10, 11, 3]},
     "'scores' must be a number from 0 to 10"),
    ("above the param's scale", "csat", None, {"scores": [5, 6], "scale_max": 5},
     "'scores' must be a number from 1 to 5"),
    ("blank where answered", "service_level", None,
     {"wait": [5, None, 8], "answered": [Y, Y, N]},
     "'wait' must not be blank where 'answered' is yes"),
    ("blank beside a filled input", "aht", None, {"talk": [100, None], "hold": [10, 5]},
     "'talk' must not be blank while other inputs on that row are filled"),
    ("blank resolved on a handled contact", "resolution_rate", "offered",
     {"resolved": [Y, None, N], "handled": [Y, Y, N]},
     "'resolved' must not be blank where 'handled' is yes"),
    ("channel without a target", "sla_compliance", None,
     {"seconds": [15, 10, 50], "channel": ["phone", "fax", "chat"]},
     "'channel' has no entry in 'targets' for this value (known: chat, email, phone, social)"),
    ("channel without its own target", "sla_compliance", None,
     {"seconds": [15, 10], "channel": ['a"b', "phone"], "targets": [['a"b', 20]]},
     "'channel' has no entry in 'targets' for this value (known: a\"b)"),
    ("blank QA score", "qa_score", None, {"weights": [1, 2], "scores": [1, None]},
     "'scores' must not be blank while other inputs on that row are filled"),
    ("negative scalar", "churn_rate", None, {"start": 1000, "lost": -3},
     "'lost' must be a number >= 0"),
    ("scalar above its bound", "fte_with_shrinkage", None, {"agents": 14, "shrinkage": 1.2},
     "'shrinkage' must be a number from 0 to 0.999999"),
    ("empty denominator", "asa", None, {"wait": [None, None], "answered": [N, N]},
     "no answered calls"),
    ("quantile of no rows", "time_to_resolution", "median", {"hours": [None, None]},
     "no resolved tickets"),
    ("scalar denominator zero", "cost_per_contact", None, {"total_cost": 100, "contacts": 0},
     "no contacts were handled"),
    ("SERVQUAL answer without its pair", "servqual_gap", None,
     {"expectation": [6, 5], "perception": [5, None]},
     "'perception' must not be blank while other inputs on that row are filled"),
]
