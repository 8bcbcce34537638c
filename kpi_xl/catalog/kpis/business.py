"""Business outcomes: retention, churn, NRR, GRR, conversion, activation, CAC, turnover,
budget variance, revenue growth, defect rate (contacts per 1,000 orders), stickiness."""

from __future__ import annotations

from ..expr import Param, Scalar, ratio
from ..spec import Formula, Kpi, ParamSpec, Variant
from ._common import PCT, count_input, scalar_ratio

FAMILY = "business"
S = Scalar


def _kpi(key, title, description, text, inputs, formula, direction, target, target_source,
         sources, example, unit="percent", fmt=PCT, params=(), value_range=None):
    return Kpi(key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
               description=description, formula_text=text, unit=unit, direction=direction,
               number_format=fmt, inputs=inputs, params=params,
               variants=(Variant("standard", text, formula),), target=target,
               target_source=target_source, sources=sources, examples=(example,),
               value_range=value_range)


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
    "scaled to a year.", "(leavers / average headcount) × (12 / months), average headcount "
    "= (headcount at start + at end) / 2",
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

BUDGET_VARIANCE = _kpi(
    "budget_variance", "Budget variance", "How far the period's actual cost is over (+) or "
    "under (−) its budget, as a share of the budget.", "(actual − budget) / budget",
    (count_input("actual", "Actual cost of the period."),
     count_input("budget", "Budgeted cost of the same period.")),
    Formula(value=ratio(S("actual") - S("budget"), S("budget"), "no budget for the period")),
    "lower", 0.0, "kpi_xl starting value: spend no more than the budget",
    ("CIMA Official Terminology: a variance is the difference between an actual and a "
     "budgeted figure; expressed as a percentage of budget, (actual − budget) / budget",),
    "=KPI_BUDGET_VARIANCE(742000,720000)",
    value_range=(-1.0, None))       # an actual cost of 0 is 100 % under budget
REVENUE_GROWTH = _kpi(
    "revenue_growth", "Revenue growth", "Change in revenue from the previous period, as a "
    "share of the previous period's revenue.",
    "(revenue − previous period's revenue) / previous period's revenue",
    (count_input("revenue", "Revenue of the period."),
     count_input("previous_revenue", "Revenue of the period before (same length).")),
    Formula(value=ratio(S("revenue") - S("previous_revenue"), S("previous_revenue"),
                        "no revenue in the previous period")),
    "higher", None, "set from your business plan",
    ("Standard period-over-period growth rate, e.g. CFI (Corporate Finance Institute), "
     "'Revenue growth rate' = (current − prior) / prior",),
    "=KPI_REVENUE_GROWTH(1150000,1000000)",
    value_range=(-1.0, None))       # revenue falling to 0 is −100 %
DEFECT_RATE = _kpi(
    "defect_rate", "Defect rate (contacts per 1,000 orders)", "Contacts customers had to "
    "make per 1,000 orders: each contact is a sign the product or process failed them.",
    "1,000 × contacts / orders",
    (count_input("contacts", "Contacts handled in the period."),
     count_input("orders", "Orders (or another unit of business, such as active accounts) "
                 "in the period.")),
    Formula(value=ratio(S("contacts"), S("orders"), "no orders in the period") * 1000),
    "lower", None, "set from your own trend: the aim is fewer contacts per order",
    ("B. Price and D. Jaffe, 'The Best Service Is No Service' (Jossey-Bass, 2008): contacts "
     "per order (CPO) as the measure of demand the business creates",),
    "=KPI_DEFECT_RATE(41000,520000)", unit="ratio", fmt='0.0" per 1,000"',
    value_range=(0.0, None))        # counts over counts: never negative
STICKINESS = _kpi(
    "stickiness", "Stickiness (DAU/MAU)", "Average daily active users as a share of the "
    "month's active users: how often users come back.", "average daily active users / "
    "monthly active users",
    (count_input("dau", "Average daily active users over the month."),
     count_input("mau", "Unique users active in the month.")),
    scalar_ratio("dau", "mau", "no monthly active users"),
    "higher", 0.20, "kpi_xl starting value; 20 % is often quoted as good for a business app",
    ("WebmasterID analytics glossary, 'DAU/MAU stickiness ratio' = daily active users ÷ "
     "monthly active users (DAU averaged over the period)",),
    "=KPI_STICKINESS(3000,15000)")

KPIS = [RETENTION, CHURN, NRR, GRR, CONVERSION, ACTIVATION, CAC, TURNOVER, BUDGET_VARIANCE,
        REVENUE_GROWTH, DEFECT_RATE, STICKINESS]
