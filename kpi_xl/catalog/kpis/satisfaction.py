"""Satisfaction and loyalty: NPS, eNPS, CSAT, CES, survey response rate."""

from __future__ import annotations

from ..expr import Col, Count, Param, Present, ratio, sqrt
from ..spec import Formula, Input, Kpi, ParamSpec, Variant
from ._common import PCT, Z95, count_input, mean_of, scalar_ratio, share

FAMILY = "satisfaction"


def nps_formula(col: str = "scores") -> Formula:
    """Net Promoter Score over 0–10 answers: promoters 9–10, detractors 0–6.

    value = 100·(P − D)/n; margin = 1.96·100·√((p + d − (p − d)²)/n), the standard error
    of a difference of two proportions from one multinomial sample."""
    s = Col(col)
    n = Count(Present(s))
    prom, det = Count(s >= 9), Count(s <= 6)
    p = ratio(prom, n, "no survey responses")
    d = ratio(det, n, "no survey responses")
    return Formula(
        value=100 * (p - d), n=n,
        margin=Z95 * 100 * sqrt((p + d - (p - d) * (p - d)) / n),
        measures={"promoters": prom, "passives": n - prom - det, "detractors": det})


_NPS_SCORES = Input("scores", "number", "Answers to 'How likely are you to recommend "
                    "us?' on the 0–10 scale, one per cell; blanks are ignored.", lo=0, hi=10)

NPS = Kpi(
    key="nps", change="nps", excel_name="KPI_NPS", title="Net Promoter Score", family=FAMILY,
    description="Promoters (9–10) minus detractors (0–6), as points of the responses.",
    formula_text="100 × (promoters − detractors) / responses",
    unit="score", direction="higher", number_format="0", inputs=(_NPS_SCORES,),
    variants=(Variant("standard", "Promoters 9–10, passives 7–8, detractors 0–6.",
                      nps_formula()),),
    target=30.0, target_source="kpi_xl starting value; NPS norms vary widely by industry",
    sources=("F. Reichheld, 'The One Number You Need to Grow', Harvard Business Review, Dec 2003",
             "Bain & Company, netpromotersystem.com: 'Measuring your Net Promoter Score'"),
    min_n=30, examples=("=KPI_NPS(B2:B900)", "=KPI_NPS_DETAIL(B2:B900)"),
    value_range=(-100.0, 100.0))     # all detractors to all promoters

ENPS = Kpi(
    key="enps", change="nps", excel_name="KPI_ENPS", title="Employee Net Promoter Score", family=FAMILY,
    description="NPS asked of employees ('How likely are you to recommend this team as a place to work?').",
    formula_text="100 × (promoters − detractors) / responses (employees)",
    unit="score", direction="higher", number_format="0",
    inputs=(Input("scores", "number", "Employees' 0–10 answers; blanks are ignored.", lo=0, hi=10),),
    variants=(Variant("standard", "Same cut points as NPS (9–10, 0–6).", nps_formula()),
              Variant("mean", "Agent satisfaction as a mean score: the mean of the same "
                      "0–10 answers, with a 95 % margin from the sample s.d.",
                      mean_of("scores", "no survey responses", margin=True),
                      number_format="0.00", target=7.0, change="mean")),
    target=10.0, target_source="kpi_xl starting value; eNPS above 0 means more promoters than detractors",
    sources=("Bain & Company, Net Promoter System: employee NPS",
             "Mean-score variant: employee-survey answers reported as their mean, as Gallup's "
             "Q12 reports do (the GrandMean: the average of the 12 items on their 1–5 scale): "
             "Gallup, 'Reading Your Results Report', copy at https://info.5y1.org/gallup-"
             "employee-engagement-survey-questions_1_091686.html"),
    min_n=10, examples=("=KPI_ENPS(D2:D80)", '=KPI_ENPS(D2:D80,"mean")'), value_range=(-100.0, 100.0))

_csat_scores = Input("scores", "number", "Satisfaction answers on a 1-to-scale_max scale "
                     "(default 1–5); blanks are ignored.", lo=1, hi="scale_max")
_cs = Col("scores")
CSAT = Kpi(
    key="csat", change="proportion", excel_name="KPI_CSAT", title="Customer satisfaction (CSAT)", family=FAMILY,
    description="Share of survey answers in the top two boxes (4–5 on a 5-point scale).",
    formula_text="(responses ≥ scale_max − 1) / responses",
    unit="percent", direction="higher", number_format=PCT, inputs=(_csat_scores,),
    params=(ParamSpec("scale_max", 5, "Highest point of the scale (5, 7 or 10).", lo=2, hi=10,
                      integer=True),),
    variants=(
        Variant("top2box", "Share of answers in the two highest points (default).",
                share(_cs >= Param("scale_max") - 1, Present(_cs), "no survey responses",
                      margin=True, measures={"satisfied": Count(_cs >= Param("scale_max") - 1)})),
        Variant("mean", "Mean score on the scale, with a 95 % margin from the sample s.d.",
                mean_of("scores", "no survey responses", margin=True),
                unit="score", number_format="0.00", target=4.0, change="mean"),
    ),
    target=0.80, target_source="kpi_xl starting value (80 % satisfied is a common service target)",
    sources=("ACSI / common practice: CSAT as top-2-box share of a 5-point scale",
             "Qualtrics XM Institute, 'What is CSAT and how do you measure it?'"),
    min_n=30, examples=("=KPI_CSAT(J2:J5001)", '=KPI_CSAT(J2:J5001,"mean")'))

_ces = Col("scores")
CES = Kpi(
    key="ces", change="mean", excel_name="KPI_CES", title="Customer effort score (CES)", family=FAMILY,
    description="How easy customers found it to get their issue handled.",
    formula_text="mean of effort answers (CES 2.0: 1–7 agreement that 'the company made it easy')",
    unit="score", direction="higher", number_format="0.00",
    inputs=(Input("scores", "number", "Effort answers; blanks are ignored. Scale and "
                  "direction follow the variant.", lo=1, hi="scale_max"),),
    params=(ParamSpec("scale_max", 7, "Highest point of the scale.", lo=2, hi=10, integer=True),),
    variants=(
        Variant("agreement7", "CES 2.0: 1–7 agreement with 'The company made it easy to "
                "handle my issue'; higher is better (default).",
                mean_of("scores", "no survey responses", margin=True)),
        Variant("effort5", "CES 1.0: 'How much effort did you personally have to put forth?' "
                "1 (very low) to 5 (very high); lower is better.",
                mean_of("scores", "no survey responses", margin=True),
                direction="lower", target=2.0, params={"scale_max": 5}),
        Variant("easy_share", "Share of 5–7 answers on the 7-point agreement scale.",
                share(_ces >= 5, Present(_ces), "no survey responses", margin=True),
                unit="percent", number_format=PCT, target=0.80, change="proportion"),
    ),
    target=5.5, target_source="kpi_xl starting value on the 7-point scale",
    sources=("M. Dixon, K. Freeman, N. Toman, 'Stop Trying to Delight Your Customers', HBR, Jul 2010",
             "CEB (Gartner), Customer Effort Score 2.0, 2013"),
    min_n=30, examples=("=KPI_CES(K2:K400)", '=KPI_CES(K2:K400,"effort5")'))

SURVEY_RESPONSE_RATE = Kpi(
    key="survey_response_rate", excel_name="KPI_SURVEY_RESPONSE_RATE",
    title="Survey response rate", family=FAMILY,
    description="Share of surveys sent that came back answered.",
    formula_text="responses / surveys sent", unit="percent", direction="higher",
    number_format=PCT,
    inputs=(count_input("responses", "Surveys answered."),
            count_input("surveys_sent", "Surveys sent.")),
    variants=(Variant("standard", "Answered over sent.",
                      scalar_ratio("responses", "surveys_sent", "no surveys were sent")),),
    target=0.20, target_source="kpi_xl starting value; email survey response is typically 5–30 %",
    sources=("Common survey practice (AAPOR response rate, simplest form RR = completes / invited)",),
    examples=("=KPI_SURVEY_RESPONSE_RATE(412,2950)",))

KPIS = [NPS, ENPS, CSAT, CES, SURVEY_RESPONSE_RATE]
