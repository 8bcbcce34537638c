"""Speed: response and resolution times, ASA, service level, SLA, answer and abandon rates."""

from __future__ import annotations

from ..expr import Col, Count, Lookup, Param, Present, Quantile, ratio
from ..expr import Scalar as _sc
from ..spec import Formula, Input, Kpi, ParamSpec, Variant
from ._common import PCT, count_input, mean_of, share

FAMILY = "speed"


def _time_variants(col: str, empty: str) -> tuple[Variant, ...]:
    c = Col(col)
    n = Count(Present(c))
    return (
        Variant("mean", "Arithmetic mean (default).", mean_of(col, empty, margin=True),
                change="mean"),
        Variant("median", "Median (50th percentile, linear interpolation as "
                "PERCENTILE.INC / quantile_cont).",
                Formula(value=_guard(Quantile(c, 0.5, Present(c)), n, empty), n=n),
                change="quantile"),
        Variant("p90", "90th percentile (linear interpolation, PERCENTILE.INC).",
                Formula(value=_guard(Quantile(c, 0.9, Present(c)), n, empty), n=n),
                change="quantile"),
    )


def _guard(q, n, empty):
    """A quantile of no rows is undefined: n/n·q raises the 'empty' sentence instead of NaN."""
    return ratio(n, n, empty) * q


def _hours(name: str, doc: str) -> Input:
    return Input(name, "duration", doc + " In hours, or as Excel time values ([h]:mm); "
                 "blanks are ignored; negatives are refused.", lo=0, time_unit="hours")


FIRST_RESPONSE_TIME = Kpi(
    key="first_response_time", spikes=True, excel_name="KPI_FIRST_RESPONSE_TIME",
    title="First response time", family=FAMILY,
    description="Time from a ticket's creation to the first reply by an agent. On social "
                "media contacts it is the social-media response time: the reports' channel "
                "level gives it per channel (channel 'social'); in Excel, pass that channel's "
                "rows.",
    formula_text="mean (or median, p90) of (first-reply time − created time)",
    unit="hours", direction="lower", number_format='0.0" h"',
    inputs=(_hours("hours", "First response time of each ticket."),),
    variants=_time_variants("hours", "no tickets with a first response"),
    target=4.0, target_source="kpi_xl starting value (email first reply within 4 business hours)",
    sources=("Zendesk Benchmark / help-desk practice: first reply time = first public agent "
             "comment − ticket created",
             "Social channels measured like the others, for comparison: ICMI, 'Successfully "
             "Measuring Social Customer Service Performance' (2014), response time and "
             "inbound volume per social channel, https://www.icmi.com/resources/2014/"
             "successfully-measuring-social-customer-service-performance"),
    examples=("=KPI_FIRST_RESPONSE_TIME(F2:F900)", '=KPI_FIRST_RESPONSE_TIME(F2:F900,"p90")',
              '=KPI_FIRST_RESPONSE_TIME(FILTER(F2:F900,C2:C900="social"))'))

AVERAGE_RESPONSE_TIME = Kpi(
    key="average_response_time", change="mean", excel_name="KPI_AVERAGE_RESPONSE_TIME",
    title="Average response time", family=FAMILY,
    description="Mean time customers wait for each agent reply (all replies, not only the first).",
    formula_text="Σ reply waits / replies", unit="hours", direction="lower",
    number_format='0.0" h"',
    inputs=(_hours("hours", "Wait before each agent reply."),),
    variants=(Variant("mean", "Mean over replies.", mean_of("hours", "no replies", margin=True)),),
    target=8.0, target_source="kpi_xl starting value",
    sources=("Help-desk practice (Zendesk, Freshdesk: 'average response time')",),
    examples=("=KPI_AVERAGE_RESPONSE_TIME(G2:G4000)",))

TIME_TO_RESOLUTION = Kpi(
    key="time_to_resolution", spikes=True, excel_name="KPI_TIME_TO_RESOLUTION",
    title="Time to resolution (MTTR)", family=FAMILY,
    description="Time from a ticket's creation to its resolution. The average resolution "
                "time per channel is this KPI at the reports' channel level (one value per "
                "channel); in Excel, pass one channel's rows.",
    formula_text="mean (or median, p90) of (solved time − created time)",
    unit="hours", direction="lower", number_format='0.0" h"',
    inputs=(_hours("hours", "Resolution time of each solved ticket."),),
    variants=_time_variants("hours", "no resolved tickets"),
    target=24.0, target_source="kpi_xl starting value (resolve within one day)",
    sources=("ITIL 4 / help-desk practice: mean time to resolve",),
    examples=("=KPI_TIME_TO_RESOLUTION(H2:H900)",
              '=KPI_TIME_TO_RESOLUTION(FILTER(H2:H900,C2:C900="email"))'))

_ANSWERED_OPT = Input("answered", "flag", "Optional: Y/N or TRUE/FALSE, answered or not. "
                      "Left out, every row with a wait counts as answered.",
                      optional=True, default_value=1.0)
_w, _a = Col("wait"), Col("answered")
_answered = _a.eq(1)
_abandoned = _a.eq(0)

ASA = Kpi(
    key="asa", change="mean", excel_name="KPI_ASA", title="Average speed of answer (ASA)", family=FAMILY,
    description="Mean time answered calls waited in queue before an agent picked up.",
    formula_text="Σ queue wait of answered calls / answered calls",
    unit="seconds", direction="lower", number_format='0.0" s"',
    inputs=(Input("wait", "duration", "Queue wait in seconds (or time values). Blanks "
                  "are allowed on unanswered calls.", lo=0, time_unit="seconds",
                  required_when=_answered),
            _ANSWERED_OPT),
    variants=(Variant("answered", "Over answered calls only: an abandoned call's wait is "
                      "not an answer time.",
                      mean_of(_w, "no answered calls", margin=True, where=_answered)),),
    target=30.0, target_source="kpi_xl starting value (ASA near 30 s goes with an 80/20 service level)",
    sources=("ICMI, Call Center Management glossary: average speed of answer",),
    examples=("=KPI_ASA(H2:H5001)", "=KPI_ASA(H2:H5001,F2:F5001)"))

_T, _S = Param("threshold"), Param("short_abandon")
_offered = Present(_a)
_ans_in_t = _answered & (_w <= _T)
_ab_in_t = _abandoned & (_w <= _T)
_short = _abandoned & (_w <= _S)
_wait_always = {"wait": True}


def _sl(num, den, empty="no offered calls", **kw):
    return Formula(value=ratio(num, den, empty), n=den,
                   measures={"answered within T": Count(_ans_in_t),
                             "offered": Count(_offered), "answered": Count(_answered)}, **kw)


SERVICE_LEVEL = Kpi(
    key="service_level", change="proportion", excel_name="KPI_SERVICE_LEVEL", title="Service level", family=FAMILY,
    description="Share of calls answered within the threshold T (the 'X' of 'X % in Y seconds').",
    formula_text="answered within T / offered (see variants for other denominators)",
    unit="percent", direction="higher", number_format=PCT,
    inputs=(Input("wait", "duration", "Queue wait in seconds (or time values): time to "
                  "answer, or to abandon. Blanks allowed on abandoned calls unless the "
                  "variant looks at abandon times.", lo=0, time_unit="seconds",
                  required_when=_answered),
            Input("answered", "flag", "Y/N or TRUE/FALSE: was the call answered by an agent?")),
    params=(ParamSpec("threshold", 20, "T, the answer-time threshold in seconds.", lo=0),
            ParamSpec("short_abandon", 5, "Calls abandoned within this many seconds are "
                      "'short abandons' (variant exclude_short_abandons).", lo=0)),
    variants=(
        Variant("offered", "Answered within T / all offered calls: abandons count against "
                "you (default; the strictest form).",
                _sl(Count(_ans_in_t), Count(_offered))),
        Variant("answered", "Answered within T / answered calls: abandons are ignored.",
                _sl(Count(_ans_in_t), Count(_answered), "no answered calls")),
        Variant("exclude_abandons_within_t", "Answered within T / (offered − abandoned "
                "within T): callers who hung up before T are not counted.",
                _sl(Count(_ans_in_t), Count(_offered) - Count(_ab_in_t)),
                required=_wait_always),
        Variant("abandons_within_t_met", "(Answered within T + abandoned within T) / "
                "offered: an abandon before T counts as met.",
                _sl(Count(_ans_in_t) + Count(_ab_in_t), Count(_offered)),
                required=_wait_always),
        Variant("exclude_short_abandons", "Answered within T / (offered − abandoned within "
                "short_abandon seconds).",
                _sl(Count(_ans_in_t), Count(_offered) - Count(_short)),
                required=_wait_always),
    ),
    target=0.80, target_source="80 % in 20 s: the common industry default (ICMI)",
    sources=("ICMI, 'Service level: the definitive guide' (four common calculations)",
             "B. Cleveland, Call Center Management on Fast Forward, 3rd ed., ch. 3"),
    examples=("=KPI_SERVICE_LEVEL(H2:H5001,F2:F5001)",
              '=KPI_SERVICE_LEVEL(H2:H5001,F2:F5001,"answered",30)'))

#: Default SLA targets in seconds, per channel (kpi_xl defaults; override per team/channel).
DEFAULT_SLA_TARGETS = {"phone": 20.0, "chat": 60.0, "email": 4 * 3600.0, "social": 3600.0}
_d, _ch = Col("seconds"), Col("channel")
SLA_COMPLIANCE = Kpi(
    key="sla_compliance", change="proportion", excel_name="KPI_SLA_COMPLIANCE", title="SLA compliance", family=FAMILY,
    description="Share of contacts answered within their channel's target time.",
    formula_text="contacts within the target of their channel / contacts",
    unit="percent", direction="higher", number_format=PCT,
    inputs=(Input("seconds", "duration", "Response time of each contact, in seconds (or "
                  "time values).", lo=0, time_unit="seconds"),
            Input("channel", "category", "Channel of each contact (phone, chat, email, "
                  "social, or the names in your targets table). A channel without a "
                  "target is refused, never counted as a breach.", one_of="targets")),
    params=(ParamSpec("targets", DEFAULT_SLA_TARGETS, "Target seconds per channel: phone "
                      "20 s, chat 60 s, email 4 h, social 1 h by default; in Excel a "
                      "two-column range (channel, seconds)."),),
    variants=(Variant("per_channel", "Each contact against its own channel's target.",
                      share(_d <= Lookup(Param("targets"), _ch), Present(_d),
                            "no contacts")),),
    target=0.90, target_source="kpi_xl starting value",
    sources=("Contact-centre SLA practice: phone 80/20, chat first reply 60 s, email 4–24 h "
             "(ICMI; Call Centre Helper)",),
    examples=("=KPI_SLA_COMPLIANCE(E2:E900,C2:C900)",
              "=KPI_SLA_COMPLIANCE(E2:E900,C2:C900,M2:N5)"))

ANSWERED_RATE = Kpi(
    key="answered_rate", change="proportion", excel_name="KPI_ANSWERED_RATE", title="Answered-call rate", family=FAMILY,
    description="Share of offered calls that an agent answered.",
    formula_text="answered / offered", unit="percent", direction="higher", number_format=PCT,
    inputs=(Input("answered", "flag", "Y/N or TRUE/FALSE per offered call."),),
    variants=(Variant("offered", "Over every offered call.",
                      share(_answered, _offered, "no offered calls",
                            measures={"answered": Count(_answered),
                                      "offered": Count(_offered)})),),
    target=0.95, target_source="kpi_xl starting value (complement of a 5 % abandonment goal)",
    sources=("ICMI glossary: calls answered / calls offered",),
    examples=("=KPI_ANSWERED_RATE(F2:F5001)",))

ABANDONMENT_RATE = Kpi(
    key="abandonment_rate", change="proportion", excel_name="KPI_ABANDONMENT_RATE", title="Abandonment rate",
    family=FAMILY, description="Share of offered calls where the caller hung up before an agent answered.",
    formula_text="abandoned / offered (variant: short abandons removed from both)",
    unit="percent", direction="lower", number_format=PCT,
    inputs=(Input("answered", "flag", "Y/N or TRUE/FALSE per offered call (N = abandoned)."),
            Input("wait", "duration", "Optional: seconds in queue before answer or hang-up; "
                  "needed for the exclude_short variant.", lo=0, time_unit="seconds",
                  optional=True, default_value=None, required_when=_abandoned)),
    params=(ParamSpec("short_abandon", 5, "Abandons within this many seconds are 'short' "
                      "(wrong numbers, instant hang-ups).", lo=0),),
    variants=(
        Variant("all", "Every abandoned call over every offered call (default).",
                share(_abandoned, _offered, "no offered calls",
                      measures={"abandoned": Count(_abandoned), "offered": Count(_offered)}),
                required={"wait": False}),
        Variant("exclude_short", "(abandoned − short abandons) / (offered − short abandons).",
                Formula(value=ratio(Count(_abandoned) - Count(_short),
                                    Count(_offered) - Count(_short), "no offered calls"),
                        n=Count(_offered) - Count(_short),
                        measures={"abandoned": Count(_abandoned),
                                  "short abandons": Count(_short)})),
    ),
    target=0.05, target_source="5 %: widely used rule of thumb (ICMI, Call Centre Helper)",
    sources=("ICMI glossary: abandoned calls / calls offered; short abandons per "
             "B. Cleveland, Call Center Management on Fast Forward",),
    examples=("=KPI_ABANDONMENT_RATE(F2:F5001)",
              '=KPI_ABANDONMENT_RATE(F2:F5001,H2:H5001,"exclude_short")'))

CONVERSATION_ABANDONMENT_RATE = Kpi(
    key="conversation_abandonment_rate", excel_name="KPI_CONVERSATION_ABANDONMENT_RATE",
    title="Chat abandonment rate", family=FAMILY,
    description="Share of chats or messaging conversations the customer left before completion.",
    formula_text="1 − completed / initiated", unit="percent", direction="lower",
    number_format=PCT,
    inputs=(count_input("initiated", "Conversations started by customers."),
            count_input("completed", "Conversations completed with an agent.")),
    variants=(Variant("standard", "1 − completed / initiated.",
                      Formula(value=1 - ratio(_sc("completed"), _sc("initiated"),
                                              "no conversations were initiated"))),),
    target=0.05, target_source="kpi_xl starting value",
    sources=("Messaging/chat practice: conversation abandonment = 1 − completed / initiated",),
    examples=("=KPI_CONVERSATION_ABANDONMENT_RATE(1200,1130)",))

KPIS = [FIRST_RESPONSE_TIME, AVERAGE_RESPONSE_TIME, TIME_TO_RESOLUTION, ASA, SERVICE_LEVEL,
        SLA_COMPLIANCE, ANSWERED_RATE, ABANDONMENT_RATE, CONVERSATION_ABANDONMENT_RATE]
