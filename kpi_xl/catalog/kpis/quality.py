"""Resolution and quality: FCR, resolution rate, reopen rate, QA score, SERVQUAL gap."""

from __future__ import annotations

from ..expr import Col, Count, If, Param, Present, Sum, ratio
from ..spec import Formula, Input, Kpi, ParamSpec, Variant
from ._common import PCT, flag_rate, mean_of, share

FAMILY = "quality"

FCR = Kpi(
    key="fcr", change="proportion", excel_name="KPI_FCR", title="First contact resolution (FCR)", family=FAMILY,
    description="Share of contacts resolved on the first contact, with no follow-up needed.",
    formula_text="contacts resolved on first contact / contacts",
    unit="percent", direction="higher", number_format=PCT,
    inputs=(Input("resolved_first", "flag", "Y/N or TRUE/FALSE: resolved without a repeat "
                  "contact (from the system or a survey question)."),),
    variants=(Variant("contacts", "Over all contacts in the range.",
                      flag_rate("resolved_first", "no contacts")),),
    target=0.75, target_source="SQM Group: the industry average FCR is about 70 %; 80 %+ is world class",
    sources=("SQM Group, 'First Call Resolution: definition and benchmarks'",
             "ICMI glossary: first contact resolution"),
    examples=("=KPI_FCR(G2:G5001)",))

_r, _hd = Col("resolved"), Col("handled")
RESOLUTION_RATE = Kpi(
    key="resolution_rate", change="proportion", excel_name="KPI_RESOLUTION_RATE", title="Resolution rate",
    family=FAMILY, description="Share of handled contacts that were resolved (variant "
    "offered: of all contacts).",
    formula_text="resolved / handled contacts (or / offered contacts)", unit="percent", direction="higher",
    number_format=PCT,
    inputs=(Input("resolved", "flag", "Y/N or TRUE/FALSE per contact; may be blank where "
                  "the contact was not handled (an abandoned call).",
                  required_when=Col("handled").eq(1)),
            Input("handled", "flag", "Optional: Y/N handled (for calls: answered). Left out, "
                  "every row counts as handled.", optional=True, default_value=1.0)),
    variants=(Variant("handled", "Resolved among handled contacts (an unanswered call "
                      "cannot be resolved, so it is not in the denominator).",
                      share(_r.eq(1) & _hd.eq(1), _hd.eq(1), "no handled contacts",
                            measures={"resolved": Count(_r.eq(1) & _hd.eq(1)),
                                      "handled": Count(_hd.eq(1))})),
              Variant("offered", "Resolved among all offered contacts, handled or not (the "
                      "definition of the dashboards published on the PwC call-centre file: "
                      "resolved / all calls). Map 'handled' to answered as usual; an "
                      "unanswered call counts as not resolved.",
                      share(_r.eq(1) & _hd.eq(1), Present(_r) | Present(_hd),
                            "no offered contacts",
                            measures={"resolved": Count(_r.eq(1) & _hd.eq(1)),
                                      "offered": Count(Present(_r) | Present(_hd))}))),
    target=0.85, target_source="kpi_xl starting value",
    sources=("Help-desk and call-centre practice (resolved / handled)",
             "PwC call-centre dashboards (repository Mohamed-Sayed-Taha/PwC-Call-Center-"
             "Analytics, DAX measure: resolved calls / all calls)"),
    examples=("=KPI_RESOLUTION_RATE(G2:G5001,F2:F5001)",
              '=KPI_RESOLUTION_RATE(G2:G5001,F2:F5001,"offered")'))

_ro = Col("reopens")
REOPEN_RATE = Kpi(
    key="reopen_rate", change="proportion", excel_name="KPI_REOPEN_RATE", title="Reopen rate", family=FAMILY,
    description="Share of solved tickets that were reopened at least once.",
    formula_text="(tickets with reopens > 0) / solved tickets", unit="percent", direction="lower",
    number_format=PCT,
    inputs=(Input("reopens", "number", "Number of reopens per solved ticket (0, 1, 2...).",
                  lo=0),),
    variants=(Variant("solved", "Over solved tickets.",
                      share(_ro > 0, Present(_ro), "no solved tickets",
                            measures={"reopened": Count(_ro > 0)})),),
    target=0.05, target_source="kpi_xl starting value",
    sources=("Zendesk Benchmark: reopen rate",), examples=("=KPI_REOPEN_RATE(N2:N900)",))

_qw, _qs, _qf = Col("weights"), Col("scores"), Col("fatal")
_applicable = Present(_qs)
_fatal_failed = _qf.eq(1) & _qs.eq(0)
#: points earned / points possible over the applicable items, without the fatal rule: the
#: QA score of an evaluation no fatal item failed, and (its measure "points share") the QA
#: sheets' rubric breakdowns: the compliance (fatal) items of an evaluation, and a rubric
#: section over the month's evaluations, which show where the points are lost (zeroed by
#: the fatal rule, they would show nothing but the fail the fatal-fails column counts)
_points_share = ratio(Sum(_qw * _qs, _applicable), Param("max_score") * Sum(_qw, _applicable),
                      "every item is N/A or has weight 0")
QA_SCORE = Kpi(
    key="qa_score", excel_name="KPI_QA_SCORE", title="QA score", family=FAMILY,
    description="Weighted score of one evaluation against the QA rubric; N/A items leave "
                "the denominator; a failed fatal (compliance) item scores the evaluation 0.",
    formula_text="Σ (weight × score) / (max_score × Σ weight), both sums over applicable "
                 "items; 0 if any fatal item scored 0",
    unit="percent", direction="higher", number_format=PCT,
    inputs=(Input("weights", "number", "Weight of each rubric item (≥ 0).", lo=0),
            Input("scores", "score", "Score of each item from 0 to max_score, or the text "
                  "N/A where the item does not apply. A blank score next to a weight is "
                  "an error: score the item or mark it N/A.", lo=0, hi="max_score"),
            Input("fatal", "flag", "Optional: Y/N, TRUE/FALSE, 1/0: is the item fatal "
                  "(compliance)? Left out, no item is fatal.", optional=True,
                  default_value=0.0, required_when=False)),
    params=(ParamSpec("max_score", 1, "Full marks for an item (1 for yes/no rubrics, 5 "
                      "for 0–5 points).", lo=0.000001),),
    variants=(Variant("weighted", "Weighted mean over applicable items; fatal fail = 0. The "
                      "QA workbooks' compliance and section scores are the same mean "
                      "without the fatal rule (the measure 'points share').",
                      Formula(value=If(Count(_fatal_failed) > 0, 0.0, _points_share),
                              n=Count(_applicable),
                              measures={"applicable items": Count(_applicable),
                                        "fatal items failed": Count(_fatal_failed),
                                        "points share": _points_share})),),
    per="evaluation",
    target=0.85, target_source="kpi_xl starting value (85 % is a common QA pass mark)",
    sources=("COPC CX Standard: transaction monitoring with critical (fatal) errors",
             "ICMI, 'Quality monitoring: building the form'"),
    examples=("=KPI_QA_SCORE(B2:B20,C2:C20)", "=KPI_QA_SCORE(B2:B20,C2:C20,D2:D20,5)"))

_exp, _per = Col("expectation"), Col("perception")
_paired = Present(_exp) & Present(_per)
SERVQUAL_GAP = Kpi(
    key="servqual_gap", change="mean", excel_name="KPI_SERVQUAL_GAP",
    title="SERVQUAL gap", family=FAMILY,
    description="How far customers' perception of the service falls short of (below 0) or "
                "exceeds (above 0) what they expected, on one SERVQUAL dimension (reliability, "
                "responsiveness, assurance, empathy or tangibles): pass the answers to that "
                "dimension's statements.",
    formula_text="mean of (perception − expectation) over the paired answers",
    unit="score", direction="higher", number_format="0.00",
    inputs=(Input("expectation", "number", "Expectation answers (what an excellent company "
                  "would do), one per respondent and statement, on the 1-to-scale_max scale; "
                  "a blank next to a perception answer is an error.", lo=1, hi="scale_max"),
            Input("perception", "number", "Perception answers (what this company does), on "
                  "the same rows and scale; a blank next to an expectation answer is an "
                  "error.", lo=1, hi="scale_max")),
    params=(ParamSpec("scale_max", 7, "Highest point of the agreement scale (7 in "
                      "SERVQUAL).", lo=2, hi=10, integer=True),),
    variants=(Variant("unweighted", "The mean gap score P − E over every paired answer of "
                      "the dimension, with a 95 % margin from the sample s.d. of the gaps "
                      "(SERVQUAL's sign: negative means the service falls short).",
                      mean_of(_per - _exp, "no paired expectation and perception answers",
                              margin=True, where=_paired)),),
    target=0.0, target_source="SERVQUAL: a gap of 0 means perceptions meet expectations",
    sources=("A. Parasuraman, V. A. Zeithaml and L. L. Berry, 'SERVQUAL: A Multiple-Item "
             "Scale for Measuring Consumer Perceptions of Service Quality', Journal of "
             "Retailing 64(1), 1988: 22 paired expectation/perception statements on a 7-point "
             "scale, five dimensions, gap = perception − expectation",
             "SERVQUAL scoring steps (gap score P − E per statement, averaged per dimension): "
             "inArtifex, 'SERVQUAL in practice', https://www.inartifexyou.com/servqual-in-"
             "practice-how-to-measure-and-close-service-quality-gaps.html"),
    examples=("=KPI_SERVQUAL_GAP(C2:C400,D2:D400)",))

KPIS = [FCR, RESOLUTION_RATE, REOPEN_RATE, QA_SCORE, SERVQUAL_GAP]
