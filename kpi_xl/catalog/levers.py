"""How agents and team leads move each KPI: the catalog's ``levers`` (issue 16 §5).

One entry per KPI key: a short, concrete text in a trainer's words (what an agent does,
what a team lead does, and what not to do where gaming the number hurts the customer),
and where the advice comes from. KPIs no one aims at (volumes, occupancy, the staffing
models) say who acts on them instead. The KPI handbook shows both (``kpi-xl handbook``).

Kept in one table rather than inside each declaration so that the family modules (and the
factories several KPIs share) stay as they are; :data:`kpi_xl.catalog.kpis.ALL` copies each
entry into its :class:`~kpi_xl.catalog.spec.Kpi` (fields ``levers``, ``levers_source``).
A test walks the catalog: every KPI has levers, and every entry here names a KPI.
"""

from __future__ import annotations

# -- sources (practitioner pages read for this table) -----------------------------------
_SQM_FCR = ("SQM Group, '17 Best Practices for Improving First Contact Resolution Rate' "
            "(sqmgroup.com) and 'Top 5 Operating Practices that Hinder Agents from "
            "Achieving First Call Resolution'")
_SQM_CSAT = ("SQM Group: FCR is the metric most correlated with customer satisfaction; "
             "'Call Center Best Practices' (sqmgroup.com)")
_HBR_EFFORT = ("M. Dixon, K. Freeman, N. Toman, 'Stop Trying to Delight Your Customers', "
               "Harvard Business Review, Jul 2010 (repeat contacts, transfers and channel "
               "switching drive effort)")
_AHT = ("Contact Center Pipeline, 'Average Handle Time vs. Human Time' (parts 1–2); "
        "customerservicemanager.com, 'How to Reduce Average Handle Time Without Lowering "
        "Quality' (measure talk, hold and after-call work apart)")
_CCH_SL = ("Call Centre Helper, 'How to Better Meet Your Service Level Target' "
           "(callcentrehelper.com)")
_CCH_ABANDON = ("Call Centre Helper, 'Are High Call Abandonment Rates Hurting Your Contact "
                "Centre?' (callcentrehelper.com); Bright Pattern, 'How to Reduce Call "
                "Abandonment' (announce the expected wait, offer a call-back)")
_CCH_OCC = ("Call Centre Helper, 'Maximum Occupancy – The Most Common Resource Planning "
            "Mistake' (keep occupancy at or under 85 %)")
_CCH_SHRINK = ("Call Centre Helper, 'The Biggest Cause of Call Centre Shrinkage (And How to "
               "Eliminate It)' and 'What is Call Centre Shrinkage and How to Minimize It?'")
_SWPP = ("SWPP (Society of Workforce Planning Professionals), 'Three Steps for Attacking "
         "Adherence Problems'")
_FRT = ("Help-desk practice on first reply time: route every new ticket to an owner and "
        "answer by priority with prepared replies (e.g. TidySupport, 'How to reduce first "
        "response time'; Zendesk Benchmark)")
_REOPEN = ("eesel.ai glossary, 'Reopen rate' (premature closure, symptom-only fixes); "
           "knowup.io glossary, 'Reopened ticket' (confirm before closing)")
_ESCALATE = ("Supportbench, 'How to build a knowledge process for L1 that reduces L2 "
             "interrupts'; NICE glossary, 'Average call transfer rate' (training, routing, "
             "knowledge bases)")
_CCH_ERLANG = ("Call Centre Helper, 'Erlang C formula – made simple with an easy worked "
               "example' (the catalog's source of the staffing model)")
_SQM_RETAIN = ("SQM Group, 'Call Center Best Practices': improving FCR also reduces "
               "customers at risk of leaving")

_PLANNER = ("A planner's tool, not an agent's target: it follows from the calls, the handle "
            "time and the agents in the interval. Planners use it to staff each interval; "
            "agents move its inputs by keeping to their schedule and cutting avoidable "
            "handle time and repeat calls.")

#: key -> (levers, source)
LEVERS: dict[str, tuple[str, str]] = {
    # -- satisfaction --------------------------------------------------------------------
    "nps": ("Agents: resolve the issue on the first contact, explain what happens next and "
            "keep every promise of a call-back; the score answers the whole relationship, "
            "so the contact is one part of it. Team leads: call back detractors, group "
            "their reasons, and send fixes for product and policy causes to their owners.",
            _SQM_CSAT),
    "enps": ("Team leads and managers act on it: fair schedules, regular coaching, "
             "recognition and tools that work; read the comments of detractors and say "
             "what changed because of them.", "Bain & Company, Net Promoter System: "
             "employee NPS (the catalog's source)"),
    "csat": ("Agents: own the issue to the end, answer the question that was asked, and "
             "confirm it is fixed before closing; a resolved contact scores far higher than "
             "a fast one. Team leads: read every low score's comment and coach on the "
             "contact behind it.", _SQM_CSAT),
    "ces": ("Agents: anticipate the next question, never ask for what the customer already "
            "gave, and avoid transfers and 'call us back'. Team leads: remove the steps "
            "that make customers repeat themselves or switch channels.", _HBR_EFFORT),
    "survey_response_rate": ("Team leads and survey owners: send the survey right after "
                             "the contact, keep it to one or two questions, and never ask "
                             "agents to coach customers on the score.",
                             "Zendesk documentation, 'Customizing your customer "
                             "satisfaction survey' (send soon after solving, keep it short)"),
    # -- speed ---------------------------------------------------------------------------
    "first_response_time": ("Agents: take the oldest ticket of the highest priority first "
                            "and send a real first answer (not only an acknowledgement), "
                            "with prepared replies for common questions. Team leads: give "
                            "every new ticket an owner and staff the hours tickets arrive.",
                            _FRT),
    "average_response_time": ("Agents: reply to waiting customers before starting new "
                              "tickets; team leads: watch tickets waiting on an agent, not "
                              "only new ones.", _FRT),
    "time_to_resolution": ("Agents: ask for everything needed in the first reply, fix the "
                           "cause rather than the symptom, and chase pending work. Team "
                           "leads: unblock tickets waiting on other teams and watch the "
                           "oldest open tickets, not only the average.", _FRT),
    "asa": ("Mostly a staffing matter: planners match agents to the forecast interval by "
            "interval. Agents help by being available when scheduled and keeping wrap-up "
            "short; team leads by keeping meetings and coaching out of peak intervals.",
            _CCH_SL),
    "service_level": ("Planners: staff each interval to the forecast, with shrinkage "
                      "allowed for. Agents: keep to the schedule (breaks and log-in on "
                      "time) and avoid needless after-call work. Team leads: move "
                      "off-phone work out of the busy intervals.", _CCH_SL),
    "sla_compliance": ("Agents: work queues by time left to each channel's target; team "
                       "leads: route by channel and skill and watch tickets close to "
                       "breach.", _CCH_SL),
    "answered_rate": ("Planners staff the busy intervals; agents keep to their schedule; "
                      "team leads announce the expected wait and offer a call-back when "
                      "the queue is long.", _CCH_ABANDON),
    "abandonment_rate": ("Planners: staff the peaks. Team leads: announce the expected "
                         "wait, offer a call-back, shorten the phone menu. Agents: keep to "
                         "the schedule so the staffing that was planned is there.",
                         _CCH_ABANDON),
    "conversation_abandonment_rate": ("Agents: greet a new chat at once and keep "
                                      "concurrent chats to what you can follow; team "
                                      "leads: staff chat peaks and show the expected wait.",
                                      _CCH_ABANDON),
    # -- efficiency ----------------------------------------------------------------------
    "aht": ("Agents: cut hold and after-call work with ready answers (knowledge base, "
            "templates) and notes written during the call; not by rushing the customer, "
            "which raises repeat contacts. Team leads: look at talk, hold and wrap-up "
            "apart, by contact reason, and coach the part that is long.", _AHT),
    "contacts_per_agent": ("Neither way is better on its own: team leads and planners read "
                           "it beside quality and FCR (more contacts per agent can mean "
                           "more repeat contacts).", _SQM_FCR),
    "occupancy": ("Planners act on it: keep it near 85 % or below; above that agents burn "
                  "out and handle time rises. Agents do not aim at it.", _CCH_OCC),
    "utilisation": ("Team leads and planners: schedule training and meetings in quiet "
                    "intervals and cut unplanned off-phone time; agents keep to the "
                    "schedule.", _CCH_SHRINK),
    "schedule_adherence": ("Agents: log in, take breaks and lunch, and return at the "
                           "scheduled times. Team leads: end meetings and coaching on "
                           "time, explain why ten minutes matter to the queue, and share "
                           "adherence with each agent.", _SWPP),
    "shrinkage": ("Team leads: track unplanned shrinkage (lateness, long breaks, ad hoc "
                  "meetings) as closely as planned; agents: keep to breaks and shifts. "
                  "Planners: allow for the real figure when staffing.", _CCH_SHRINK),
    "ticket_volume": ("No one aims at it: planners staff to it, and product and process "
                      "owners reduce the demand behind it (repeat contacts, unclear "
                      "bills, defects).", _SQM_FCR),
    "tickets_created": ("No one aims at it: planners staff to it; product and process "
                        "owners cut avoidable demand.", _SQM_FCR),
    "tickets_solved": ("No one aims at it on its own: team leads read it beside the tickets "
                       "created, and solved below created "
                       "means the backlog grows.", _FRT),
    "backlog": ("Team leads: solve at least as many tickets as arrive, clear the oldest "
                "first, and close tickets only when solved (a reopened ticket comes back). "
                "Planners: add capacity when arrivals outrun solves.", _FRT),
    "cost_per_contact": ("Managers act on it, mostly by removing avoidable contacts and "
                         "repeat calls; agents help through first-contact resolution, not "
                         "shorter calls.", _SQM_FCR),
    "cost_per_resolution": ("Managers and agents: resolve on the first contact (a repeat "
                            "contact costs a second time) and move simple requests to "
                            "self-service.", _SQM_FCR),
    "self_service_rate": ("Knowledge managers and agents: turn the answers agents give "
                          "most into help-centre articles, and point customers to them.",
                          _ESCALATE),
    "deflection_rate": ("Knowledge managers: keep help articles and bot answers current "
                        "with what agents see; agents flag missing or wrong articles.",
                        _ESCALATE),
    "kb_failed_searches": ("Knowledge managers: read the searches that found nothing each "
                           "month and write or retitle articles in the customers' own "
                           "words; agents: flag questions the help centre cannot answer.",
                           "Helpable, 'Knowledge Base Analytics: The 3 Reports That "
                           "Actually Matter' (the catalog's source)"),
    "transfer_rate": ("Agents: learn the common reasons you transfer and how to resolve "
                      "them; when a transfer is needed, make it warm (brief the next "
                      "agent). Team leads: fix routing that sends calls to the wrong queue.",
                      _ESCALATE),
    "escalation_rate": ("Agents: use the knowledge base before escalating and give the "
                        "next tier everything tried. Team leads: widen what tier 1 may "
                        "decide and turn frequent escalations into articles.", _ESCALATE),
    # -- quality -------------------------------------------------------------------------
    "fcr": ("Agents: own the call ('who takes the call, owns the call'), check the "
            "customer has nothing else, and reach an expert during the call rather than "
            "promising a call-back. Team leads: give agents the authority to fix, and send "
            "the causes of repeat contacts to the teams that own them.", _SQM_FCR),
    "resolution_rate": ("Agents: fix or route each contact to an outcome before it ends; "
                        "team leads: track unresolved reasons and remove the blockers "
                        "agents cannot.", _SQM_FCR),
    "reopen_rate": ("Agents: confirm the fix worked before solving, fix the cause and not "
                    "the symptom, and give clear next steps. Team leads: review reopened "
                    "tickets for coaching, and send product faults to product.", _REOPEN),
    "qa_score": ("Agents: follow the compliance (fatal) items every time, then the rest of "
                 "the rubric; ask for your evaluations and calibrate with your team lead. "
                 "Team leads: coach on the lowest-scoring items, one at a time.",
                 "ICMI, 'Quality monitoring: building the form'; COPC CX Standard (the "
                 "catalog's sources)"),
    "servqual_gap": ("Managers act on the dimension with the widest gap first "
                     "(reliability, responsiveness, assurance, empathy, tangibles); agents "
                     "close it by doing what was promised, when it was promised.",
                     "A. Parasuraman, V. A. Zeithaml and L. L. Berry, SERVQUAL, Journal "
                     "of Retailing 1988 (the catalog's source)"),
    # -- business ------------------------------------------------------------------------
    "retention_rate": ("Account managers and product act on it; agents help by resolving "
                       "issues first time and passing on customers at risk (cancel "
                       "requests, repeated complaints).", _SQM_RETAIN),
    "churn_rate": ("Account managers and product act on it; agents help by resolving "
                   "issues first time and flagging customers who mention leaving.",
                   _SQM_RETAIN),
    "nrr": ("Account managers: expand and renew; agents pass on upgrade needs they hear and "
            "protect revenue by resolving issues first time.", _SQM_RETAIN),
    "grr": ("Account managers and support: prevent downgrades and cancellations by "
            "resolving problems first time and following up on at-risk accounts.",
            _SQM_RETAIN),
    "conversion_rate": ("Sales agents: ask about needs before offering, and follow up "
                        "every open lead; team leads coach from recorded calls.",
                        "Sales funnel practice (the catalog's source)"),
    "activation_rate": ("Onboarding and product teams act on it; agents help new "
                        "customers past the first steps when they call.",
                        "Product-led growth practice (the catalog's source)"),
    "cac": ("Marketing and sales leaders act on it (spend and conversion); agents do not.",
            "Common definition of CAC (the catalog's source)"),
    "agent_turnover": ("Team leads and managers: regular coaching and recognition, fair "
                       "schedules, and occupancy kept at or under 85 %.", _CCH_OCC),
    "budget_variance": ("Managers and finance act on it: staffing to the forecast (not "
                        "above it) and fewer repeat contacts keep cost to budget.",
                        _SQM_FCR),
    "revenue_growth": ("Business leaders act on it; the contact centre contributes "
                       "through retention and sales conversations.", _SQM_RETAIN),
    "defect_rate": ("Product and process owners act on it: read the contact reasons and "
                    "remove the causes; agents log the reason of every contact "
                    "accurately.", "B. Price and D. Jaffe, 'The Best Service Is No "
                    "Service' (the catalog's source)"),
    "stickiness": ("Product teams act on it; support helps by resolving usage problems "
                   "quickly.", "WebmasterID analytics glossary (the catalog's source)"),
    "service_margin": ("Managers and finance act on it: fewer avoidable and repeat "
                       "contacts lower the cost per contact; agents help through "
                       "first-contact resolution, not shorter calls.", _SQM_FCR),
    "service_roi": ("Managers act on it: count the revenue service protects (renewals, "
                    "saves, upsells) and cut avoidable contacts; agents help by resolving "
                    "first time and passing on sales leads they hear.",
                    "Help Scout, 'Why ROI Matters for Customer Service' (the catalog's "
                    "source)"),
    "daily_active_users": ("Product teams act on it; support helps by resolving usage "
                           "problems quickly.", "Adjust Help Center (the catalog's source)"),
    "weekly_active_users": ("Product teams act on it; support helps by resolving usage "
                            "problems quickly.", "Adjust Help Center (the catalog's source)"),
    "monthly_active_users": ("Product teams act on it; support helps by resolving usage "
                             "problems quickly.", "Adjust Help Center (the catalog's "
                             "source)"),
    "contact_rate": ("Campaign managers: dial when the list's customers answer (time of "
                     "day, day of week) and keep the list's numbers clean; agents: log "
                     "every outcome accurately.", "Unlimcall, 'Measuring Contact Rate "
                     "Correctly' (the catalog's source)"),
    "calls_per_lead": ("Campaign managers act on it, setting how many attempts a lead "
                       "gets and when; neither way is better on its own: read it beside "
                       "the contact rate.", "Trellus, 'Dial attempts' (the catalog's source)"),
    "conversion_per_call": ("Sales agents: ask about needs before offering and follow up "
                            "every open lead; team leads coach from recorded calls; "
                            "campaign managers stop dialling leads that never answer.",
                            "KPI Depot, 'Outbound Call Conversion Rate' (the catalog's "
                            "source)"),
    # -- staffing ------------------------------------------------------------------------
    "traffic_intensity": (_PLANNER, _CCH_ERLANG),
    "erlang_p_wait": (_PLANNER, _CCH_ERLANG),
    "erlang_service_level": (_PLANNER, _CCH_ERLANG),
    "erlang_asa": (_PLANNER, _CCH_ERLANG),
    "erlang_occupancy": (_PLANNER + " Keep it at or under 85 %.", _CCH_OCC),
    "erlang_agents": (_PLANNER, _CCH_ERLANG),
    "erlang_agents_p_wait": (_PLANNER, _CCH_ERLANG),
    "erlang_agents_asa": (_PLANNER, _CCH_ERLANG),
    "fte_with_shrinkage": (_PLANNER + " Lower real shrinkage (see Shrinkage) lowers it.",
                           _CCH_SHRINK),
    "erlang_queue_length": (_PLANNER, _CCH_ERLANG),
    "erlang_service_time": (_PLANNER, _CCH_ERLANG),
    "erlang_call_capacity": (_PLANNER, _CCH_ERLANG),
    "erlang_chat_agents": (_PLANNER + " For chat, the number of chats an agent can follow "
                           "at once also counts.", _CCH_ERLANG),
    "mean_patience": ("A planner's input for Erlang A: how long callers wait before "
                      "hanging up. No one aims at it; announcing the expected wait and "
                      "offering call-backs change it.", _CCH_ABANDON),
    "erlang_b_blocking": ("A planner's tool: lines or trunks to buy for the busy hour; not "
                          "an agent's target.", _CCH_ERLANG),
    "erlang_b_lines": ("A planner's tool: lines or trunks to buy for the busy hour; not an "
                       "agent's target.", _CCH_ERLANG),
    "erlang_a_p_wait": (_PLANNER, _CCH_ERLANG),
    "erlang_a_p_abandon": (_PLANNER, _CCH_ERLANG),
    "erlang_a_service_level": (_PLANNER, _CCH_ERLANG),
    "erlang_a_asa": (_PLANNER, _CCH_ERLANG),
    "erlang_a_agents": (_PLANNER, _CCH_ERLANG),
}


def with_levers(kpi):
    """The declaration with its levers from :data:`LEVERS` (unchanged when it has none)."""
    from dataclasses import replace

    entry = LEVERS.get(kpi.key)
    if entry is None or kpi.levers:
        return kpi
    return replace(kpi, levers=entry[0], levers_source=entry[1])
