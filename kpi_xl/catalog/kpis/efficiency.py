"""Efficiency: AHT, contacts per agent, occupancy, utilisation, adherence, shrinkage,
volume, the ticket flow (created, solved, backlog), cost per contact and per resolution,
self-service and deflection rates, knowledge-base failed searches, transfer and escalation
rates."""

from __future__ import annotations

from ..expr import Col, Count, Present, Scalar, ratio
from ..spec import Formula, Input, Kpi, Variant
from ._common import PCT, count_input, flag_rate, mean_of, scalar_ratio

FAMILY = "efficiency"

_t, _h, _w = Col("talk"), Col("hold"), Col("acw")
_handled = Present(_t)
AHT = Kpi(
    key="aht", change="mean", excel_name="KPI_AHT", title="Average handle time (AHT)", family=FAMILY,
    description="Mean time an agent spends on a contact: talk + hold + after-call work.",
    formula_text="Σ (talk + hold + after-call work) / handled contacts",
    unit="seconds", direction="lower", number_format='0" s"',
    inputs=(Input("talk", "duration", "Talk time per handled contact, seconds or time "
                  "values; blanks (unanswered calls) are ignored.", lo=0, time_unit="seconds"),
            Input("hold", "duration", "Optional hold time per contact; left out = 0.", lo=0,
                  time_unit="seconds", optional=True, default_value=0.0),
            Input("acw", "duration", "Optional after-call work per contact; left out = 0.",
                  lo=0, time_unit="seconds", optional=True, default_value=0.0)),
    variants=(Variant("talk_hold_acw", "Talk + hold + after-call work (ICMI, COPC).",
                      mean_of(_t + _h + _w, "no handled contacts", margin=True,
                              where=_handled)),),
    target=360.0, target_source="kpi_xl starting value (6 minutes); AHT depends on the work",
    sources=("ICMI glossary: average handle time = talk + hold + after-call work",
             "COPC CX Standard, handle time definition"),
    examples=("=KPI_AHT(I2:I5001)", "=KPI_AHT(I2:I5001,J2:J5001,K2:K5001)"))

CONTACTS_PER_AGENT = Kpi(
    key="contacts_per_agent", excel_name="KPI_CONTACTS_PER_AGENT", title="Contacts per agent",
    family=FAMILY, description="Contacts handled in the period per agent (or per FTE).",
    formula_text="contacts handled / agents", unit="count", direction="neutral",
    number_format="#,##0.0",
    inputs=(count_input("contacts", "Contacts handled in the period."),
            count_input("agents", "Agents (or FTE) who handled them.")),
    variants=(Variant("standard", "Contacts / agents.",
                      scalar_ratio("contacts", "agents", "there are no agents")),),
    target=None, target_source="no universal target: depends on channel and work",
    sources=("Contact-centre productivity practice (ICMI)",),
    examples=("=KPI_CONTACTS_PER_AGENT(5400,12)",))


def _time_ratio(key, title, description, text, num, num_doc, den, den_doc, direction, target,
                target_source, sources, example, formula=None):
    return Kpi(
        key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
        description=description, formula_text=text, unit="percent", direction=direction,
        number_format=PCT,
        inputs=(Input(num, "scalar", num_doc, lo=0), Input(den, "scalar", den_doc, lo=0)),
        variants=(Variant("standard", text, formula or scalar_ratio(num, den, f"'{den}' is zero")),),
        target=target, target_source=target_source, sources=sources, examples=(example,))


OCCUPANCY = _time_ratio(
    "occupancy", "Occupancy", "Share of agents' available time spent handling contacts.",
    "handle time / (handle time + idle time)", "handle_time",
    "Time spent handling contacts (any unit, same for both).", "idle_time",
    "Time available but waiting for a contact.", "neutral", 0.85,
    "kpi_xl starting value: 80–90 % is sustainable; above it burns agents out",
    ("Call Centre Helper, 'Occupancy: how to calculate it' (handling / (handling + available))",),
    "=KPI_OCCUPANCY(310,52)",
    Formula(value=ratio(Scalar("handle_time"), Scalar("handle_time") + Scalar("idle_time"),
                        "no handle or idle time")))
UTILISATION = _time_ratio(
    "utilisation", "Utilisation", "Share of paid time spent handling contacts.",
    "handle time / paid time", "handle_time", "Time spent handling contacts.", "paid_time",
    "Paid time in the period, same unit.", "higher", 0.65, "kpi_xl starting value",
    ("ICMI glossary: utilization = handle time / paid time",), "=KPI_UTILISATION(310,480)")
SCHEDULE_ADHERENCE = _time_ratio(
    "schedule_adherence", "Schedule adherence",
    "Share of scheduled time the agent was in the scheduled activity.",
    "time in adherence / scheduled time", "adherent_time", "Time in the scheduled state.",
    "scheduled_time", "Scheduled time, same unit.", "higher", 0.90,
    "kpi_xl starting value (90 % is a common goal)",
    ("ICMI glossary: schedule adherence",), "=KPI_SCHEDULE_ADHERENCE(430,480)")
SHRINKAGE = _time_ratio(
    "shrinkage", "Shrinkage", "Share of paid time agents are unavailable to handle contacts "
    "(breaks, training, meetings, absence).", "shrinkage time / paid time", "shrinkage_time",
    "Paid time not available for contacts.", "paid_time", "Paid time, same unit.", "lower",
    0.30, "kpi_xl starting value (30–35 % is typical)",
    ("Call Centre Helper, 'Shrinkage: a complete guide'",), "=KPI_SHRINKAGE(144,480)")

TICKET_VOLUME = Kpi(
    key="ticket_volume", change="count", excel_name="KPI_TICKET_VOLUME", title="Ticket volume", family=FAMILY,
    description="Number of contacts or tickets in the range (non-blank ids). On social "
                "media contacts it is the social-media volume: the reports' channel level "
                "gives it per channel (channel 'social').",
    formula_text="count of non-blank ticket ids", unit="count", direction="neutral",
    number_format="#,##0",
    inputs=(Input("ids", "category", "Ticket or contact ids; blanks are ignored."),),
    variants=(Variant("count", "Non-blank ids.",
                      Formula(value=Count(Present(Col("ids"))), n=Count(Present(Col("ids"))))),),
    target=None, target_source="volume has no target: it drives staffing",
    sources=("Help-desk practice",
             "Social channels measured like the others, for comparison: ICMI, 'Successfully "
             "Measuring Social Customer Service Performance' (2014), inbound volume per "
             "social channel, https://www.icmi.com/resources/2014/successfully-measuring-"
             "social-customer-service-performance"),
    examples=("=KPI_TICKET_VOLUME(A2:A9000)",
              '=KPI_TICKET_VOLUME(FILTER(A2:A9000,C2:C9000="social"))'))

def _flow_count(key, title, description, text, name, doc, example):
    """A count of the ticket flow for the period (created, solved): one figure, checked
    (a count, never negative) and shown as it is."""
    return Kpi(
        key=key, change="count", excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
        description=description, formula_text=text, unit="count", direction="neutral",
        number_format="#,##0", inputs=(count_input(name, doc),),
        variants=(Variant("count", text, Formula(value=Scalar(name))),),
        target=None, target_source="a count has no target: it drives staffing and backlog",
        sources=("Help-desk practice: the ticket flow (created, solved, open) that the "
                 "backlog equation balances; e.g. Zendesk Explore 'Tickets created', "
                 "'Tickets solved'",),
        examples=(example,))


TICKETS_CREATED = _flow_count(
    "tickets_created", "Tickets created",
    "Tickets created in the period (from each ticket's created time, or its date).",
    "tickets whose created time falls in the period", "created",
    "Tickets created in the period.", "=KPI_TICKETS_CREATED(2400)")
TICKETS_SOLVED = _flow_count(
    "tickets_solved", "Tickets solved",
    "Tickets solved or closed in the period (from each ticket's solved time).",
    "tickets whose solved time falls in the period", "solved",
    "Tickets solved or closed in the period.", "=KPI_TICKETS_SOLVED(2380)")

BACKLOG = Kpi(
    key="backlog", excel_name="KPI_BACKLOG", title="Backlog at period end", family=FAMILY,
    description="Tickets still open at the end of the period.",
    formula_text="open at start + created − solved", unit="count", direction="lower",
    number_format="#,##0",
    inputs=(count_input("open_at_start", "Tickets open at the start of the period."),
            count_input("created", "Tickets created in the period."),
            count_input("solved", "Tickets solved in the period.")),
    variants=(Variant("flow", "Start + created − solved.",
                      Formula(value=Scalar("open_at_start") + Scalar("created")
                              - Scalar("solved"))),),
    target=None, target_source="set per team (for example, under one day of volume)",
    sources=("Help-desk practice: backlog flow equation, a stock-and-flow identity "
             "(tickets open at the end = open at the start + created − solved)",),
    examples=("=KPI_BACKLOG(120,2400,2380)",))

COST_PER_CONTACT = Kpi(
    key="cost_per_contact", excel_name="KPI_COST_PER_CONTACT", title="Cost per contact",
    family=FAMILY, description="Total operating cost of the centre divided by contacts handled.",
    formula_text="total cost / contacts handled", unit="currency", direction="lower",
    number_format="#,##0.00",
    inputs=(count_input("total_cost", "Operating cost of the period (staff, technology, facilities)."),
            count_input("contacts", "Contacts handled in the period.")),
    variants=(Variant("standard", "Cost / contacts.",
                      scalar_ratio("total_cost", "contacts", "no contacts were handled")),),
    target=None, target_source="set from your budget",
    sources=("ICMI / SQM Group: cost per contact",),
    examples=("=KPI_COST_PER_CONTACT(182000,41000)",))

COST_PER_RESOLUTION = Kpi(
    key="cost_per_resolution", excel_name="KPI_COST_PER_RESOLUTION",
    title="Cost per resolution", family=FAMILY,
    description="Total operating cost of the support operation divided by the contacts it "
                "resolved.",
    formula_text="total cost / resolved contacts", unit="currency", direction="lower",
    number_format="#,##0.00",
    inputs=(count_input("total_cost", "Operating cost of the period (staff, technology, "
                        "facilities)."),
            count_input("resolved", "Contacts or tickets resolved in the period.")),
    variants=(Variant("standard", "Cost / resolved contacts.",
                      scalar_ratio("total_cost", "resolved", "no contacts were resolved")),),
    target=None, target_source="set from your budget",
    sources=("Plecto KPI library, 'Cost per Resolution': all operating costs of the support "
             "team divided by the number of tickets resolved, "
             "https://www.plecto.com/kpis/cost-resolution/",),
    examples=("=KPI_COST_PER_RESOLUTION(182000,36500)",))


def _scalar_share(key, title, description, text, num, num_doc, other, other_doc, empty,
                  sources, example):
    """num / (num + other): a share of period totals whose denominator is the sum of the
    two inputs, so it can never pass 100 %."""
    return Kpi(
        key=key, excel_name="KPI_" + key.upper(), title=title, family=FAMILY,
        description=description, formula_text=text, unit="percent", direction="higher",
        number_format=PCT, inputs=(count_input(num, num_doc), count_input(other, other_doc)),
        variants=(Variant("standard", text, Formula(value=ratio(
            Scalar(num), Scalar(num) + Scalar(other), empty))),),
        target=None, target_source="set from your channel strategy: it depends on how much "
                                   "of the demand self-service can answer",
        sources=sources, examples=(example,))


SELF_SERVICE_RATE = _scalar_share(
    "self_service_rate", "Self-service rate",
    "Share of all resolutions that customers reached on their own (help centre, bot, IVR) "
    "without an agent.",
    "self-service resolutions / (self-service resolutions + assisted resolutions)",
    "self_service", "Issues resolved through self-service in the period.",
    "assisted", "Issues resolved by an agent in the period.", "no resolutions in the period",
    ("Ticketboard glossary, 'Self-Service Rate': self-service resolutions / total issues, "
     "https://ticketboard.cc/glossary/self-service-rate/; 99helpers glossary, 'Self-Service "
     "Rate': the ratio of self-service resolutions to total resolution events, "
     "https://99helpers.com/glossary/self-service-rate",),
    "=KPI_SELF_SERVICE_RATE(2600,5400)")
DEFLECTION_RATE = _scalar_share(
    "deflection_rate", "Deflection rate",
    "Share of potential contacts that self-service absorbed before they reached an agent.",
    "deflected / (deflected + contacts handled)",
    "deflected", "Contacts deflected by self-service (bot or help-centre sessions resolved "
    "without an agent) in the period.",
    "contacts", "Contacts handled by agents in the period.", "no contacts and nothing deflected",
    ("Kustomer glossary, 'Ticket Deflection': contacts deflected / (contacts deflected + "
     "contacts handled), https://www.kustomer.com/glossary/ticket-deflection/",
     "AI CX Stack glossary, 'Ticket deflection rate': deflected / (deflected + submitted), "
     "https://www.aicxstack.com/glossary/ticket-deflection-rate"),
    "=KPI_DEFLECTION_RATE(400,600)")

KB_FAILED_SEARCHES = Kpi(
    key="kb_failed_searches", excel_name="KPI_KB_FAILED_SEARCHES",
    title="Knowledge-base failed searches", family=FAMILY,
    description="Share of the searches in the help centre or knowledge base that found "
                "nothing: each one is a question the articles do not answer yet.",
    formula_text="failed searches / searches", unit="percent", direction="lower",
    number_format=PCT,
    inputs=(count_input("failed", "Searches that returned no result in the period."),
            count_input("searches", "All searches in the period.")),
    variants=(Variant("standard", "Searches with no result over all searches.",
                      scalar_ratio("failed", "searches", "no searches in the period")),),
    target=0.15, target_source="Helpable, 'Knowledge Base Analytics: The 3 Reports That "
                               "Actually Matter': a zero-results rate below 15 %",
    sources=("Helpable, 'Knowledge Base Analytics: The 3 Reports That Actually Matter': "
             "zero-results rate = searches with no results / total searches, "
             "https://gethelpable.com/blog/knowledge-base-analytics-reports",
             "eGain Analytics, 'Federated Search by Search Phrase': % successful KB searches, "
             "the searches that returned at least one knowledge-base article (the complement)"),
    examples=("=KPI_KB_FAILED_SEARCHES(510,4230)",), value_range=(0.0, 1.0))

TRANSFER_RATE = Kpi(
    key="transfer_rate", change="proportion", excel_name="KPI_TRANSFER_RATE", title="Transfer rate", family=FAMILY,
    description="Share of contacts transferred to another agent or queue.",
    formula_text="transferred / handled", unit="percent", direction="lower", number_format=PCT,
    inputs=(Input("transferred", "flag", "Y/N or TRUE/FALSE per handled contact."),),
    variants=(Variant("handled", "Over handled contacts.",
                      flag_rate("transferred", "no handled contacts")),),
    target=0.10, target_source="kpi_xl starting value",
    sources=("ICMI glossary: transfer rate",), examples=("=KPI_TRANSFER_RATE(L2:L5001)",))

ESCALATION_RATE = Kpi(
    key="escalation_rate", change="proportion", excel_name="KPI_ESCALATION_RATE", title="Escalation rate",
    family=FAMILY, description="Share of contacts escalated to a higher tier or supervisor.",
    formula_text="escalated / handled", unit="percent", direction="lower", number_format=PCT,
    inputs=(Input("escalated", "flag", "Y/N or TRUE/FALSE per handled contact."),),
    variants=(Variant("handled", "Over handled contacts.",
                      flag_rate("escalated", "no handled contacts")),),
    target=0.05, target_source="kpi_xl starting value",
    sources=("Help-desk practice (tier-2 escalation share)",),
    examples=("=KPI_ESCALATION_RATE(M2:M900)",))

KPIS = [AHT, CONTACTS_PER_AGENT, OCCUPANCY, UTILISATION, SCHEDULE_ADHERENCE, SHRINKAGE,
        TICKET_VOLUME, TICKETS_CREATED, TICKETS_SOLVED, BACKLOG, COST_PER_CONTACT,
        COST_PER_RESOLUTION, SELF_SERVICE_RATE, DEFLECTION_RATE, KB_FAILED_SEARCHES,
        TRANSFER_RATE, ESCALATION_RATE]
