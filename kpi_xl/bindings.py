"""Which canonical column feeds which KPI input: the engine's only knowledge of each KPI
besides its declaration. A binding names a table and maps input names to column names;
the formula, units, rules and variants all come from the catalog.

Every catalog KPI is either bound here or listed in :data:`NOT_IN_ENGINE` with the reason
a manager would be given (a test checks that nothing falls between the two).

Below the engine and the data layer: the engine computes through the bindings, the loader
checks the bound columns against the KPIs' input rules (:mod:`kpi_xl.checks`) and names the
KPIs a row leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Binding:
    #: 'contacts', 'surveys' (survey answers from both surveys and contacts), 'qa',
    #: 'wfm' (agent-days of a WFM export, whose KPIs' inputs are the sums of their
    #: columns, see :data:`SUMMED`), or 'period' (one row of totals per period: business
    #: figures and derived counts, such as the ticket flow)
    table: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: columns a row must have to belong to the KPI at all (SLA compliance: the contacts
    #: that have a response time; an abandoned call has none and is not a breach)
    where: tuple[str, ...] = ()
    #: flag columns that must be set for a row to belong to the KPI (transfer rate is
    #: declared per handled contact: an abandoned call marked "not transferred" is not in
    #: its denominator)
    only: tuple[str, ...] = ()


def _b(table: str, where: tuple[str, ...] = (), only: tuple[str, ...] = (),
       **inputs: str) -> Binding:
    return Binding(table, MappingProxyType(inputs), where, only)


#: row tables whose KPIs take period totals (scalar inputs, such as occupancy's handle
#: time and idle time): each total is the sum of its bound column over the rows of the
#: group (a period at a level: the centre, a team, an agent), so a team's occupancy is
#: its agents' handling time over their handling + available time, never a mean of the
#: agents' percentages
SUMMED = ("wfm",)

#: the period table's ticket-flow figures, counted from each ticket's state and times
#: (:mod:`kpi_xl.engine.totals`)
TICKET_FLOW = ("tickets_created", "tickets_solved", "tickets_open_start", "tickets_open_end")

BINDINGS: Mapping[str, Binding] = MappingProxyType({
    # satisfaction
    "nps": _b("surveys", scores="nps"),
    "csat": _b("surveys", scores="csat"),
    "ces": _b("surveys", scores="ces"),
    "survey_response_rate": _b("period", responses="survey_responses", surveys_sent="surveys_sent"),
    # speed
    "first_response_time": _b("contacts", hours="first_response_hours"),
    "time_to_resolution": _b("contacts", hours="resolution_hours"),
    "asa": _b("contacts", wait="wait", answered="answered"),
    "service_level": _b("contacts", wait="wait", answered="answered"),
    "sla_compliance": _b("contacts", ("response_seconds",), seconds="response_seconds",
                         channel="channel"),
    "answered_rate": _b("contacts", answered="answered"),
    "abandonment_rate": _b("contacts", answered="answered", wait="wait"),
    # efficiency
    "aht": _b("contacts", talk="talk", hold="hold", acw="acw"),
    "ticket_volume": _b("contacts", ids="id"),
    # the ticket flow: counts per period from each ticket's state and times (totals.py)
    "tickets_created": _b("period", created="tickets_created"),
    "tickets_solved": _b("period", solved="tickets_solved"),
    "backlog": _b("period", open_at_start="tickets_open_start", created="tickets_created",
                  solved="tickets_solved"),
    "transfer_rate": _b("contacts", only=("handled",), transferred="transferred"),
    "escalation_rate": _b("contacts", only=("handled",), escalated="escalated"),
    # the WFM export (one row per agent-day): each KPI over the days that have both of its
    # times (a day whose paid time was left out still counts in occupancy)
    "occupancy": _b("wfm", ("handling", "available"), handle_time="handling",
                    idle_time="available"),
    "utilisation": _b("wfm", ("handling", "paid"), handle_time="handling", paid_time="paid"),
    "schedule_adherence": _b("wfm", ("in_adherence", "scheduled"),
                             adherent_time="in_adherence", scheduled_time="scheduled"),
    "shrinkage": _b("wfm", ("shrinkage", "paid"), shrinkage_time="shrinkage",
                    paid_time="paid"),
    "contacts_per_agent": _b("period", contacts="contacts_handled", agents="agents_active"),
    "cost_per_contact": _b("period", total_cost="total_cost", contacts="contacts_handled"),
    "cost_per_resolution": _b("period", total_cost="total_cost", resolved="contacts_resolved"),
    "self_service_rate": _b("period", self_service="self_service_resolutions",
                            assisted="assisted_resolutions"),
    "deflection_rate": _b("period", deflected="deflected_contacts",
                          contacts="contacts_handled"),
    "kb_failed_searches": _b("period", failed="kb_failed_searches", searches="kb_searches"),
    # quality
    "fcr": _b("contacts", resolved_first="resolved_first"),
    "resolution_rate": _b("contacts", resolved="resolved", handled="handled"),
    "reopen_rate": _b("contacts", reopens="reopens"),
    "qa_score": _b("qa", weights="weight", scores="score", fatal="fatal"),
    # business
    "retention_rate": _b("period", start="customers_start", end="customers_end",
                         new="customers_new"),
    "churn_rate": _b("period", start="customers_start", lost="customers_lost"),
    "nrr": _b("period", start_revenue="revenue_start", expansion="expansion",
              contraction="contraction", churned="churned_revenue"),
    "grr": _b("period", start_revenue="revenue_start", contraction="contraction",
              churned="churned_revenue"),
    "conversion_rate": _b("period", conversions="conversions", leads="leads"),
    "cac": _b("period", cost="acquisition_cost", new_customers="customers_new"),
    "agent_turnover": _b("period", leavers="leavers", headcount_start="headcount_start",
                         headcount_end="headcount_end"),
    "budget_variance": _b("period", actual="total_cost", budget="cost_budget"),
    "defect_rate": _b("period", contacts="contacts_handled", orders="orders"),
    "service_margin": _b("period", revenue="revenue", cost="total_cost"),
    "service_roi": _b("period", benefit="service_benefit", cost="total_cost"),
    "daily_active_users": _b("period", users="dau"),
    "weekly_active_users": _b("period", users="wau"),
    "monthly_active_users": _b("period", users="mau"),
    "stickiness": _b("period", dau="dau", mau="mau"),
    # the outbound funnel
    "contact_rate": _b("period", leads_reached="leads_reached", leads_dialled="leads_dialled"),
    "calls_per_lead": _b("period", calls="outbound_calls", leads_dialled="leads_dialled"),
    "conversion_per_call": _b("period", sales="outbound_sales", calls="outbound_calls"),
})

_PLANNING = ("a staffing-planning function: it answers 'how many agents for this forecast', "
             "not 'how did the month go'; use it in Excel (KPI_ERLANG_*)")
NOT_IN_ENGINE: Mapping[str, str] = MappingProxyType({
    "enps": "needs an employee survey export, which the monthly run does not read",
    "average_response_time": "needs one row per agent reply; exports give the first reply only",
    "conversation_abandonment_rate": "needs chat-platform counts of conversations initiated "
                                     "and completed; use abandonment rate on chat contacts",
    "activation_rate": "needs product sign-up and activation counts",
    "revenue_growth": "compares a period's revenue with the period before, and the monthly "
                      "run computes each period from its own figures; use it in Excel on "
                      "two periods' revenue",
    "servqual_gap": "needs a SERVQUAL survey export (each respondent's expectation and "
                    "perception answers per statement, with the statement's dimension), "
                    "which no shipped mapping reads; use it in Excel on one dimension's "
                    "answers",
    "traffic_intensity": _PLANNING, "erlang_p_wait": _PLANNING,
    "erlang_service_level": _PLANNING, "erlang_asa": _PLANNING,
    "erlang_occupancy": _PLANNING, "erlang_agents": _PLANNING,
    "erlang_agents_p_wait": _PLANNING, "erlang_agents_asa": _PLANNING,
    "erlang_queue_length": _PLANNING, "erlang_service_time": _PLANNING,
    "erlang_call_capacity": _PLANNING, "erlang_chat_agents": _PLANNING,
    "erlang_b_blocking": _PLANNING, "erlang_b_lines": _PLANNING,
    "erlang_a_p_wait": _PLANNING, "erlang_a_p_abandon": _PLANNING,
    "erlang_a_service_level": _PLANNING, "erlang_a_asa": _PLANNING,
    "erlang_a_agents": _PLANNING,
    "fte_with_shrinkage": _PLANNING,
    "mean_patience": "an input of the Erlang A model, estimated by `kpi-xl staffing --patience "
                     "data` over the period's calls; binding it would make the queue wait "
                     "required on every contact of the monthly run",
})
