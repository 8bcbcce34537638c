"""The canonical tables every export is mapped into.

Whatever a help desk, an ACD or a WFM tool exports, kpi_xl works on six tables with fixed column
names, types and units. A source's mapping (``kpi_xl.data.mapping``) says which of its
columns feeds which canonical column; the engine's bindings (``kpi_xl.bindings``)
say which canonical column feeds which KPI input. Neither restates a formula.

Column types:

``id`` / ``text``  text, trimmed; blank is missing.
``category``       text compared case-insensitively (channels): stored lower case.
``timestamp``      date and time (naive, in the centre's time zone).
``date``           a calendar date.
``month``          a month, ``YYYY-MM``.
``flag``           yes/no, stored 1.0 / 0.0.
``seconds``/``hours``  durations, stored as float seconds or hours; never negative.
``number``         a float (scores, counts, money).
``score``          a float, or N/A (not applicable), stored as missing.

``role`` says what a bad value costs: a bad ``key`` value (the row's date, the answered
flag of a call, an id) makes the row unusable, so the row is rejected; a bad ``measure``
value (one survey score, one talk time) is dropped and reported, and the row still counts
everywhere else. Both land in the rejects report with file, row, column, value and reason.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the canonical ticket states (the ``state`` column of contacts); open and pending
#: tickets are waiting for the centre or the customer, solved and closed ones are done
STATES = ("open", "pending", "solved", "closed")
OPEN_STATES = ("open", "pending")

TYPES = ("id", "text", "category", "timestamp", "date", "month", "flag", "seconds", "hours",
         "number", "score")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    role: str = "measure"          # "key": a bad value rejects the row
    required: bool = False         # a source of this table must map it
    filled: bool = False           # where mapped, a blank rejects the row
    lo: float | None = None
    hi: float | None = None
    #: how a figure of a monthly table adds up over several months: "sum" (a flow),
    #: "first" (a stock at the start), "last" (a stock at the end)
    over: str = "sum"


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    date_column: str | None = None   # assigns each row to a month ('period')

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


C = Column
CONTACTS = Table("contacts", "One row per customer contact on any channel: a call from an ACD "
                 "export, a ticket, a chat. Call fields stay blank on tickets and vice versa.", (
    C("id", "id", "Contact or ticket id; duplicates are rejected. Left unmapped, each row "
      "is its own contact.", role="key", filled=True),
    C("date", "timestamp", "When the contact arrived: assigns it to a month. Left unmapped, "
      "the created time is used.", role="key", filled=True),
    C("channel", "category", "phone, email, chat, social (or the channels your config "
      "lists); rows with other channels are rejected.", role="key"),
    C("agent", "text", "Agent who handled the contact (blank: not handled by an agent).",
      role="key"),
    C("team", "text", "Team; left unmapped, taken from the roster by agent.", role="key"),
    C("status", "text", "Status text as exported (Open, Pending Customer Response, "
      "Solved...): kept as the help desk words it, so that results can be cut by it."),
    C("state", "category", "Where the ticket is in its life: open, pending, solved or "
      "closed, mapped from the export's status with codes (New = open, On-hold = "
      "pending...); a status the codes do not map is ignored and reported. Tickets are "
      "the rows with a state: it gives the ticket flow (created, solved, backlog) and "
      "decides whether a ticket without a solved time is still open."),
    C("created", "timestamp", "Ticket created."),
    C("first_reply_at", "timestamp", "First reply by an agent."),
    C("solved_at", "timestamp", "Solved or closed."),
    C("first_response_hours", "hours", "First response time; left unmapped, computed from "
      "created and first_reply_at (calendar or business hours, per the config).", lo=0),
    C("resolution_hours", "hours", "Resolution time; left unmapped, computed from created "
      "and solved_at.", lo=0),
    C("answered", "flag", "Calls: answered by an agent (no = abandoned). Blank on tickets; "
      "a phone contact without it is rejected (it cannot be counted as offered).",
      role="key"),
    C("wait", "seconds", "Calls: queue wait until answer, or until hang-up on abandons.", lo=0),
    C("talk", "seconds", "Talk time.", lo=0),
    C("hold", "seconds", "Hold time.", lo=0),
    C("acw", "seconds", "After-call work.", lo=0),
    C("response_seconds", "seconds", "Response time for SLA compliance; left unmapped: the "
      "wait of an answered call, the first response time of a ticket.", lo=0),
    C("handled", "flag", "Handled by an agent; left unmapped: the answered flag for calls, "
      "yes for tickets."),
    C("resolved", "flag", "Resolved."),
    C("resolved_first", "flag", "Resolved on first contact (FCR)."),
    C("transferred", "flag", "Transferred to another agent or queue."),
    C("escalated", "flag", "Escalated to a higher tier."),
    C("reopens", "number", "Times the ticket was reopened.", lo=0),
    C("nps", "number", "Survey answer on this contact: likelihood to recommend, 0–10.", lo=0, hi=10),
    C("csat", "number", "Survey answer on this contact: satisfaction, 1 to the CSAT scale.", lo=0),
    C("ces", "number", "Survey answer on this contact: effort score.", lo=0),
), date_column="date")

SURVEYS = Table("surveys", "One row per survey response (when surveys come as their own "
                "export; answers on the contact rows are read too).", (
    C("id", "id", "Response id; duplicates are rejected.", role="key", filled=True),
    C("date", "timestamp", "When the response was given.", role="key", required=True,
      filled=True),
    C("contact_id", "id", "The contact it is about (agent, team and channel are taken "
      "from it when not given here)."),
    C("agent", "text", "Agent.", role="key"),
    C("team", "text", "Team.", role="key"),
    C("channel", "category", "Channel.", role="key"),
    C("nps", "number", "Likelihood to recommend, 0–10.", lo=0, hi=10),
    C("csat", "number", "Satisfaction, 1 to the CSAT scale.", lo=0),
    C("ces", "number", "Customer effort score.", lo=0),
), date_column="date")

QA = Table("qa", "One row per rubric item of a QA evaluation.", (
    C("evaluation", "id", "Evaluation id: the rows of one evaluation are scored together.",
      role="key", required=True, filled=True),
    C("date", "timestamp", "Date of the evaluation.", role="key", required=True, filled=True),
    C("agent", "text", "Agent evaluated.", role="key", required=True, filled=True),
    C("team", "text", "Team; left unmapped, taken from the roster.", role="key"),
    C("evaluator", "text", "Who scored it."),
    C("contact_id", "id", "The contact evaluated."),
    C("section", "text", "Rubric section (opening, tone, knowledge...)."),
    C("criterion", "text", "Rubric item.", role="key", required=True, filled=True),
    C("weight", "number", "Weight of the item; left unmapped, from the config's rubric.",
      role="key", lo=0, filled=True),
    C("score", "score", "Score from 0 to the rubric's maximum, or N/A. A blank is an "
      "error: score the item or mark it N/A.", role="key", lo=0, required=True, filled=True),
    C("fatal", "flag", "Fatal (compliance) item; left unmapped, from the config's rubric."),
    C("comment", "text", "Evaluator's comment."),
), date_column="date")

ROSTER = Table("roster", "One row per agent.", (
    C("agent", "text", "Agent, as written in the other exports.", role="key", required=True,
      filled=True),
    C("team", "text", "Team.", role="key", required=True, filled=True),
    C("hired", "date", "First day.", role="key"),
    C("left", "date", "Last day (blank: still here)."),
))

WFM = Table("wfm", "One row per agent and day from a workforce-management (WFM) adherence "
            "export: the agent's scheduled, adherent, handling, available and paid time. "
            "Feeds occupancy, utilisation, schedule adherence and shrinkage, summed over "
            "the agent-days of each period and level.", (
    C("agent", "text", "Agent, as written in the other exports.", role="key", required=True,
      filled=True),
    C("date", "date", "The day: assigns the row to a month.", role="key", required=True,
      filled=True),
    C("team", "text", "Team; left unmapped, taken from the roster by agent.", role="key"),
    C("scheduled", "seconds", "Time scheduled in activities (schedule adherence's "
      "denominator).", lo=0),
    C("in_adherence", "seconds", "Scheduled time the agent spent in the scheduled activity; "
      "left unmapped, scheduled − out_of_adherence. More than 'scheduled' is an error: "
      "the value is left out.", lo=0),
    C("out_of_adherence", "seconds", "Scheduled time spent out of the scheduled activity "
      "(read only to derive in_adherence).", lo=0),
    C("handling", "seconds", "Time handling contacts: talk, hold and after-contact work.",
      lo=0),
    C("available", "seconds", "Time logged in, ready and waiting for a contact (idle).",
      lo=0),
    C("paid", "seconds", "Paid time. Less than handling + available is an error: the value "
      "is left out.", lo=0),
    C("shrinkage", "seconds", "Paid time not available for contacts (breaks, training, "
      "meetings, absence, not-ready states); left unmapped, paid − handling − available. "
      "More than 'paid' is an error: the value is left out.", lo=0),
), date_column="date")

BUSINESS = Table("business", "One row per month of business figures.", (
    C("month", "month", "The month, YYYY-MM.", role="key", required=True, filled=True),
    *(C(x[0], "number", x[1], over=x[2] if len(x) > 2 else "sum") for x in (
        ("customers_start", "Customers at the start of the month.", "first"),
        ("customers_end", "Customers at the end of the month.", "last"),
        ("customers_new", "New customers won in the month."),
        ("customers_lost", "Customers lost in the month (left unmapped: start + new − end)."),
        ("revenue_start", "Recurring revenue at the start of the month.", "first"),
        ("expansion", "Expansion revenue (upsell, cross-sell)."),
        ("contraction", "Contraction revenue (downgrades)."),
        ("churned_revenue", "Revenue lost to churned customers."),
        ("total_cost", "Total cost of the service operation."),
        ("revenue", "Revenue the service operation earned in the month (an outsourced "
         "centre: what its clients were billed), for its margin."),
        ("service_benefit", "Money the service operation brought in or saved in the month, "
         "as your finance team values it (renewals and upsells it handled, churn it "
         "prevented, costs self-service avoided), for its ROI."),
        ("cost_budget", "Budgeted cost of the service operation (for budget variance)."),
        ("self_service_resolutions", "Issues resolved through self-service (help centre, "
         "bot, IVR) without an agent."),
        ("assisted_resolutions", "Issues resolved by an agent."),
        ("deflected_contacts", "Contacts deflected by self-service before reaching an agent."),
        ("orders", "Orders (or another unit of business) in the month."),
        ("kb_searches", "Searches made in the help centre or knowledge base."),
        ("kb_failed_searches", "Knowledge-base searches that returned no result."),
        ("dau", "Daily active users of the product, averaged over the month's days (a "
         "quarter or year shows its last month's figure: active users do not add up).",
         "last"),
        ("wau", "Weekly active users of the product, averaged over the month's weeks (a "
         "quarter or year shows its last month's figure).", "last"),
        ("mau", "Unique users of the product active in the month (a quarter or year shows "
         "its last month's figure).", "last"),
        ("acquisition_cost", "Sales and marketing cost of winning customers."),
        ("leads", "Leads or sales conversations."),
        ("conversions", "Leads converted to a sale."),
        ("leads_dialled", "Outbound: leads dialled for the first time in the month (each "
         "lead once, however many calls)."),
        ("leads_reached", "Outbound: leads reached in a live conversation for the first time "
         "in the month."),
        ("outbound_calls", "Outbound: calls (dial attempts) made in the month."),
        ("outbound_sales", "Outbound: sales made on the outbound calls."),
        ("surveys_sent", "Surveys sent."),
    )),
))

TABLES = {t.name: t for t in (CONTACTS, SURVEYS, QA, ROSTER, BUSINESS, WFM)}
