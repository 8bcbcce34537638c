"""``kpi-xl init``: the commented starter config for a centre's own data.

It is valid as written (one Zendesk export), and every optional part is a commented
example: one ``[[sources]]`` per table (calls, surveys, QA evaluations, the roster,
business figures) and the other sections. A commented example starts at a line
``# [section]`` and runs to the next blank line; removing the ``# `` in front of each of
its lines gives TOML that parses (notes inside an example sit after a value, so they stay
comments). A test uncomments each one and reads the result with ``kpi_xl.config``.
"""

from __future__ import annotations

STARTER = """\
# kpi_xl config. Every setting is explained in README.md ("Configuration").
# Check it with:  kpi-xl validate -c kpi_xl.toml
# Run a month:    kpi-xl run -c kpi_xl.toml --month 2026-10
# To use an example below, remove the "# " in front of each of its lines.

[centre]
name = "My contact centre"
time_zone = "Europe/London"            # timestamps with a UTC offset are converted to it
channels = ["phone", "email", "chat", "social"]

# Optional: response and resolution times in business hours.
# [business_hours]
# mon = ["08:00", "18:00"]
# tue = ["08:00", "18:00"]
# wed = ["08:00", "18:00"]
# thu = ["08:00", "18:00"]
# fri = ["08:00", "17:00"]
# holidays = ["2026-12-25", "2026-12-26"]

# One [[sources]] per export file. `kpi-xl presets` lists the shipped mappings and
# `kpi-xl presets NAME` shows one in full; for your own export, name the table and map
# its headers (README, "Configuration"). Tickets from a help desk (the contacts table):
[[sources]]
preset = "zendesk"                     # or "freshdesk", "talkdesk-calls"
path = "exports/zendesk-tickets.csv"

# Calls from an ACD or telephony export (the contacts table too), mapped by hand:
# [[sources]]
# name = "calls"
# table = "contacts"
# path = "exports/acd-calls.csv"
# [sources.columns]
# id = "Call ID"
# date = { column = "Start time", format = "%d/%m/%Y %H:%M" }
# channel = { value = "phone" }
# answered = { column = "Outcome", codes = { Answered = "yes", Abandoned = "no" } }
# wait = { column = "Queue time", unit = "seconds" }
# talk = "Talk time"                   # h:mm:ss or seconds
# agent = "Agent"

# Survey responses, one row per response (the surveys table); agent, team and channel
# are taken from the contact the response is about:
# [[sources]]
# name = "surveys"
# table = "surveys"
# path = "exports/survey-responses.csv"
# [sources.columns]
# id = "Response ID"
# date = { column = "Submitted", format = "%d/%m/%Y %H:%M" }
# contact_id = "Ticket ID"             # the contact (ticket or call) it is about
# nps = "How likely are you to recommend us?"   # 0 to 10
# csat = "How satisfied were you?"     # 1 to the CSAT scale (5 by default)

# QA evaluations, one row per rubric item scored (the qa table); weights and fatal items
# come from [qa] below:
# [[sources]]
# name = "qa"
# table = "qa"
# path = "exports/qa-evaluations.csv"
# [sources.columns]
# evaluation = "Evaluation ID"
# date = "Evaluated on"
# agent = "Agent"
# evaluator = "Reviewer"
# criterion = "Question"
# score = "Score"                      # 0 to [qa] max_score, or N/A

# The roster, one row per agent (the roster table): it gives each agent's team:
# [[sources]]
# preset = "generic-roster"            # headers: agent, team, hired, left
# path = "exports/roster.csv"

# Business figures, one row per month (the business table), for retention, churn, cost
# per contact and the other business KPIs:
# [[sources]]
# preset = "generic-business"          # headers: month, customers_start, customers_end, ...
# path = "exports/business.csv"

# A WFM adherence export, one row per agent and day (the wfm table), for occupancy,
# utilisation, schedule adherence and shrinkage:
# [[sources]]
# preset = "generic-wfm"               # headers: Agent, Date, Scheduled, In Adherence, ...
# path = "exports/wfm-adherence.csv"

# Per KPI: variant, options, target, minimum n, targets per team or channel.
# `kpi-xl kpis service_level` shows a KPI's variants and options.
[kpis.service_level]
variant = "offered"
options = { threshold = 20 }
target = 0.8

# The QA rubric: each criterion's weight, section and whether it is fatal.
# [qa]
# max_score = 5
# rubric = [
#   { criterion = "Greets and introduces self", weight = 1, section = "Opening and greeting" },
#   { criterion = "Verifies identity", weight = 1, section = "Compliance", fatal = true },
# ]

# The balanced scorecard: perspectives, weights and worst cases (README).
# [scorecard]
# near_target = 0.8

# Who receives which reports.
# [[stakeholders]]
# name = "Dana Reyes"
# email = "dana@example.com"
# reports = ["scorecard", "qa-team"]
# formats = ["xlsx", "pdf"]              # a PDF copy of each too (printed by LibreOffice)

# Without [smtp], mail goes to an outbox folder. The password comes from the environment
# variable KPI_XL_SMTP_PASSWORD, never from this file.
# [smtp]
# host = "smtp.example.com"
# port = 587
# security = "starttls"
# username = "reports@example.com"
# sender = "reports@example.com"

# CSV outputs for Excel in a continental locale: ';' between fields, decimal commas.
# [output]
# csv = "semicolon"                    # default "comma"

# When the reports call a change since the period before "larger than chance".
# [report]
# significance = 0.95                  # 0.8 to 0.999
"""

__all__ = ["STARTER"]
