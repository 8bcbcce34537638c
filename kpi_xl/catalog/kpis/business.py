"""Business outcomes: retention, churn, NRR, GRR, conversion, activation, CAC, turnover,
budget variance, revenue growth, the service operation's margin and ROI, defect rate
(contacts per 1,000 orders), active users (DAU, WAU, MAU) and stickiness, and the outbound
funnel (contact rate, calls per lead, conversion per call)."""

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
    ("APT Initiatives glossary, 'Variance': the difference between budgeted and actual "
     "figures, as a percentage: (actual − budgeted) / budgeted × 100, "
     "https://www.apt-initiatives.com/glossary/variance/",),
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
    ("CalculatorLib, 'Revenue Growth Rate Calculator': (current revenue − prior revenue) / "
     "prior revenue, period over period; $100,000 then $120,000 is 20 %, "
     "https://calculatorlib.com/revenue-growth-rate-calculator",),
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
     "per customer order (CPO) as the measure of demand the business creates; reviewed in "
     "the Financial Times, https://www.ft.com/content/3f719b9c-fb5b-11dc-8c3e-000077b07658",),
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
     "monthly active users (DAU averaged over the period), "
     "https://webmasterid.com/analytics-metrics/dau-to-mau-stickiness-metric",),
    "=KPI_STICKINESS(3000,15000)")

_cost = count_input("cost", "Operating cost of the service operation in the period "
                    "(staff, technology, facilities).")
MARGIN = _kpi(
    "service_margin", "Margin of the service operation", "Share of the revenue the service "
    "operation earned that is left after its operating cost (an outsourced centre: what its "
    "clients were billed).", "(revenue − operating cost) / revenue",
    (count_input("revenue", "Revenue the service operation earned in the period."), _cost),
    Formula(value=ratio(S("revenue") - S("cost"), S("revenue"), "no revenue in the period")),
    "higher", None, "set from your business plan (the margin agreed in the client contract)",
    ("Operating profit margin = operating profit / revenue, operating profit = revenue − "
     "operating expenses: Accounting Prose, 'Operating Profit Margin', "
     "https://help.accountingprose.com/operating-profit-margin",),
    "=KPI_SERVICE_MARGIN(210000,182000)",
    value_range=(None, 1.0))        # at most 100 % (no cost); a loss is negative
ROI = _kpi(
    "service_roi", "ROI of the service operation", "What the service operation brought in or "
    "saved for each unit it cost, net of that cost. The benefit is your finance team's "
    "valuation of the period: revenue from renewals, upsells and cross-sells the service "
    "handled, revenue kept by churn it prevented, and costs avoided (for example, contacts "
    "self-service absorbed).", "(benefit − operating cost) / operating cost",
    (count_input("benefit", "Money the service operation brought in or saved in the period, "
                 "as your finance team values it."), _cost),
    Formula(value=ratio(S("benefit") - S("cost"), S("cost"), "no operating cost in the "
                                                             "period")),
    "higher", 0.0, "kpi_xl starting value: above 0 % the service returns more than it costs",
    ("Help Scout, 'Why ROI Matters for Customer Service': ROI = (return − investment) / "
     "investment; spend $100 on service, earn $150 from it, ROI 50 %, "
     "https://www.helpscout.com/helpu/customer-service-roi/",
     "LTVplus, 'How to Measure Customer Service ROI': (customer service benefits − customer "
     "service costs) / customer service costs; benefits are revenue from renewals, upsells, "
     "cross-sells, referrals and reduced churn, "
     "https://www.ltvplus.com/customer-service/customer-service-roi/"),
    "=KPI_SERVICE_ROI(150,100)",
    value_range=(-1.0, None))       # no benefit at all is −100 %

_ACTIVE_SRC = ("Adjust Help Center, 'Understanding DAU, WAU & MAU metrics': unique users with "
               "at least one session in a day, a 7-day and a 30-day period, "
               "https://help.adjust.com/en/article/understanding-dau-wau-and-mau-metrics",)


def _active_users(key, title, description, doc, example):
    """A figure of the product's active users for the period, shown as it is."""
    return Kpi(
        key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
        description=description, formula_text=doc, unit="count", direction="higher",
        number_format="#,##0", inputs=(count_input("users", doc[0].upper() + doc[1:] + "."),),
        variants=(Variant("figure", doc, Formula(value=S("users"))),),
        target=None, target_source="set from your product plan", sources=_ACTIVE_SRC,
        examples=(example,), value_range=(0.0, None))


DAU = _active_users(
    "daily_active_users", "Daily active users (DAU)", "Unique users active on a day, "
    "averaged over the period's days: how many come on a typical day.",
    "unique users active on a day, averaged over the period", "=KPI_DAILY_ACTIVE_USERS(3000)")
WAU = _active_users(
    "weekly_active_users", "Weekly active users (WAU)", "Unique users active in a week, "
    "averaged over the period's weeks.", "unique users active in a week, averaged over the "
    "period", "=KPI_WEEKLY_ACTIVE_USERS(8200)")
MAU = _active_users(
    "monthly_active_users", "Monthly active users (MAU)", "Unique users active at least once "
    "in the month.", "unique users active in the month", "=KPI_MONTHLY_ACTIVE_USERS(15000)")

_dialled = count_input("leads_dialled", "Leads the outbound campaign dialled at least once "
                       "in the period (each lead once, however many calls).")
CONTACT_RATE = _kpi(
    "contact_rate", "Contact rate (outbound)", "Share of the leads dialled that a live agent "
    "reached (a conversation with the person, not voicemail or no answer).",
    "leads reached / leads dialled",
    (count_input("leads_reached", "Leads reached in a live conversation in the period."),
     _dialled),
    scalar_ratio("leads_reached", "leads_dialled", "no leads were dialled"),
    "higher", None, "set per campaign: it depends on the list and the dialling hours",
    ("Unlimcall, 'Measuring Contact Rate Correctly': contact rate per unique lead dialled "
     "(not per dial attempt, which re-dials inflate), "
     "https://unlimcall.com/blog/measuring-contact-rate-correctly-outbound-call-centers/",),
    "=KPI_CONTACT_RATE(1800,5000)", value_range=(0.0, 1.0))
CALLS_PER_LEAD = _kpi(
    "calls_per_lead", "Calls per lead (outbound)", "Outbound calls made for each lead "
    "dialled: the dialling effort a lead takes.", "outbound calls / leads dialled",
    (count_input("calls", "Outbound calls (dial attempts) made in the period."), _dialled),
    scalar_ratio("calls", "leads_dialled", "no leads were dialled"),
    "neutral", None, "no universal target: persistence against the cost of each attempt",
    ("Trellus, 'Dial attempts': every call placed is one attempt, answered or not; attempts "
     "per lead show how much effort reaching a contact takes, "
     "https://www.trellus.ai/learning-center/dial-attempts",),
    "=KPI_CALLS_PER_LEAD(13500,5000)", unit="ratio", fmt="0.00",
    value_range=(0.0, None))
CONVERSION_PER_CALL = _kpi(
    "conversion_per_call", "Conversion per call (outbound)", "Share of outbound calls that "
    "ended in a sale.", "sales / outbound calls",
    (count_input("sales", "Sales (conversions) from the outbound calls in the period."),
     count_input("calls", "Outbound calls (dial attempts) made in the period.")),
    scalar_ratio("sales", "calls", "no outbound calls were made"),
    "higher", None, "set per campaign",
    ("KPI Depot, 'Outbound Call Conversion Rate': the percentage of outbound calls that "
     "result in a desired action, such as a meeting or sale, "
     "https://kpidepot.com/kpi/outbound-call-conversion-rate",),
    "=KPI_CONVERSION_PER_CALL(540,13500)", value_range=(0.0, 1.0))

KPIS = [RETENTION, CHURN, NRR, GRR, CONVERSION, ACTIVATION, CAC, TURNOVER, BUDGET_VARIANCE,
        REVENUE_GROWTH, MARGIN, ROI, DEFECT_RATE, DAU, WAU, MAU, STICKINESS, CONTACT_RATE,
        CALLS_PER_LEAD, CONVERSION_PER_CALL]
