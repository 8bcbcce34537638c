"""Business outcomes: retention, churn, NRR, GRR, conversion, activation, CAC, turnover."""

from __future__ import annotations

from ..expr import Param, Scalar, ratio
from ..spec import Formula, Kpi, ParamSpec, Variant
from ._common import PCT, count_input, scalar_ratio

FAMILY = "business"
S = Scalar


def _kpi(key, title, description, text, inputs, formula, direction, target, target_source,
         sources, example, unit="percent", fmt=PCT, params=()):
    return Kpi(key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
               description=description, formula_text=text, unit=unit, direction=direction,
               number_format=fmt, inputs=inputs, params=params,
               variants=(Variant("standard", text, formula),), target=target,
               target_source=target_source, sources=sources, examples=(example,))


_start = count_input("start", "Customers at the start of the period.")
RETENTION = _kpi(
    "retention_rate", "Customer retention rate",
    "Share of the customers you started with who are still customers.",
    "(customers at end − new customers) / customers at start",
    (_start, count_input("end", "Customers at the end of the period."),
     count_input("new", "Customers acquired during the period.")),
    Formula(value=ratio(S("end") - S("new"), S("start"), "no customers at the start")),
    "higher", 0.90, "kpi_xl starting value",
    ("Customer retention rate (CRR) = ((E − N) / S) × 100; e.g. HubSpot, 'Customer "
     "retention rate' and P. Kotler's marketing texts",), "=KPI_RETENTION_RATE(1000,1040,120)")
CHURN = _kpi(
    "churn_rate", "Customer churn rate", "Share of starting customers lost in the period.",
    "customers lost / customers at start",
    (_start, count_input("lost", "Customers lost during the period.")),
    scalar_ratio("lost", "start", "no customers at the start"),
    "lower", 0.05, "kpi_xl starting value (monthly)",
    ("SaaS and subscription practice: logo churn = lost / start",), "=KPI_CHURN_RATE(1000,80)")

_rev = (count_input("start_revenue", "Recurring revenue from existing customers at the start."),
        count_input("expansion", "Upsell and cross-sell revenue from those customers."),
        count_input("contraction", "Revenue lost to downgrades."),
        count_input("churned", "Revenue lost to cancellations."))
NRR = _kpi(
    "nrr", "Net revenue retention (NRR)", "Recurring revenue kept from existing customers, "
    "including expansion.", "(start + expansion − contraction − churned) / start", _rev,
    Formula(value=ratio(S("start_revenue") + S("expansion") - S("contraction") - S("churned"),
                        S("start_revenue"), "no revenue at the start")),
    "higher", 1.00, "kpi_xl starting value (≥ 100 % means the base grows on its own)",
    ("KeyBanc Capital Markets SaaS Survey / common SaaS definition of net dollar retention",),
    "=KPI_NRR(500000,40000,10000,25000)")
GRR = _kpi(
    "grr", "Gross revenue retention (GRR)", "Recurring revenue kept from existing customers, "
    "without expansion (at most 100 %).", "(start − contraction − churned) / start",
    (_rev[0], _rev[2], _rev[3]),
    Formula(value=ratio(S("start_revenue") - S("contraction") - S("churned"),
                        S("start_revenue"), "no revenue at the start")),
    "higher", 0.90, "kpi_xl starting value",
    ("Common SaaS definition of gross dollar retention (expansion excluded)",),
    "=KPI_GRR(500000,10000,25000)")
CONVERSION = _kpi(
    "conversion_rate", "Conversion rate", "Share of leads or sales contacts that converted.",
    "conversions / leads", (count_input("conversions", "Leads that bought or converted."),
                            count_input("leads", "Leads or sales contacts handled.")),
    scalar_ratio("conversions", "leads", "no leads"), "higher", 0.15,
    "kpi_xl starting value", ("Sales funnel practice",), "=KPI_CONVERSION_RATE(96,640)")
ACTIVATION = _kpi(
    "activation_rate", "Activation rate", "Share of new sign-ups who reached the "
    "activation milestone.", "activated / sign-ups",
    (count_input("activated", "Sign-ups that reached activation."),
     count_input("signups", "New sign-ups.")),
    scalar_ratio("activated", "signups", "no sign-ups"), "higher", 0.40,
    "kpi_xl starting value", ("Product-led growth practice (activation / sign-ups)",),
    "=KPI_ACTIVATION_RATE(210,600)")
CAC = _kpi(
    "cac", "Customer acquisition cost", "Sales and marketing spend per new customer.",
    "sales and marketing cost / new customers",
    (count_input("cost", "Sales and marketing spend of the period."),
     count_input("new_customers", "Customers acquired in the period.")),
    scalar_ratio("cost", "new_customers", "no new customers"), "lower", None,
    "set from your unit economics (CAC payback)",
    ("Common definition: CAC = sales & marketing expense / new customers",),
    "=KPI_CAC(90000,120)", unit="currency", fmt="#,##0.00")
TURNOVER = _kpi(
    "agent_turnover", "Agent turnover (annualised)", "Agents who left, per average headcount, "
    "scaled to a year.", "leavers / ((headcount at start + at end) / 2) × 12 / months",
    (count_input("leavers", "Agents who left in the period."),
     count_input("headcount_start", "Agents at the start of the period."),
     count_input("headcount_end", "Agents at the end of the period.")),
    Formula(value=ratio(S("leavers"), (S("headcount_start") + S("headcount_end")) / 2,
                        "no agents in the period") * 12 / Param("months")),
    "lower", 0.30, "kpi_xl starting value; contact-centre turnover is often 30–45 % a year",
    ("SHRM, 'How to determine turnover rate' (separations / average headcount), annualised",),
    "=KPI_AGENT_TURNOVER(3,60,58)",
    params=(ParamSpec("months", 1, "Length of the period in months (1 for a month; the "
                      "engine sets it from the period: 3 for a quarter).",
                      lo=1, hi=12, integer=True, period_months=True),))

KPIS = [RETENTION, CHURN, NRR, GRR, CONVERSION, ACTIVATION, CAC, TURNOVER]
