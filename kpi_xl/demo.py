"""``kpi-xl demo``: a whole month of a sample centre, the way a real team runs it.

It writes what a centre would have — exports (contacts with survey answers and the help
desk's ticket status, QA evaluations, the roster, business figures, a WFM adherence
export) as CSV files and a config that maps them — into a folder, and then runs the month
on them exactly as ``kpi-xl run`` would: the same loader (every row accounted for),
engine, workbooks and mail (to an outbox: nothing leaves the machine). The sample is
generated from a fixed seed (``kpi_xl.demo_data``), so every run gives the same files.
Every KPI a support centre has data for is computed; only the outbound funnel (contact
rate, calls per lead, conversion per call) is not: the demo centre runs no outbound
campaign, and the run says so.
"""

from __future__ import annotations

from pathlib import Path

from .demo_data import MAX_SCORE, RUBRIC, STATUSES, TEAMS, sample_tables, sample_wfm
from .text import clock

CONFIG = """\
# kpi_xl config of the demo centre (written by `kpi-xl demo`; `kpi-xl init` writes a
# commented starter for your own data). Run it again with:
#   kpi-xl run -c {folder}/kpi_xl.toml --month {month}

[centre]
name = "Northwind Support (demo)"
time_zone = "Europe/Lisbon"
channels = ["phone", "email", "chat", "social"]
pairs = [["team", "channel"], ["queue", "channel"]]     # levels cut together

# extra cuts besides team, agent and channel (README: Dimensions); each source maps them
[[dimensions]]
name = "queue"

[[dimensions]]
name = "topic"

[[sources]]
preset = "generic-contacts"       # headers named like kpi_xl's columns (README: tables)
path = "exports/contacts.csv"
[sources.columns]
queue = "queue"
topic = "topic"
# the help desk's ticket status: kept in its words ('status', read by its name) and
# mapped with codes to kpi_xl's states, which give the ticket flow and the backlog
# (README: Tickets); a status the codes do not map is reported in rejects.csv
state = {{ column = "status", codes = {{ {codes} }} }}

[[sources]]
preset = "generic-qa"
path = "exports/qa-evaluations.csv"
columns = {{ queue = "queue", topic = "topic" }}

[[sources]]
preset = "generic-roster"
path = "exports/roster.csv"

[[sources]]
preset = "generic-business"
path = "exports/business.csv"

[[sources]]
preset = "generic-wfm"             # the WFM tool's adherence export, one row per agent-day
path = "exports/wfm-adherence.csv"

[kpis.service_level]
variant = "offered"
options = {{ threshold = 20 }}
min_n = 50

[kpis.csat]
min_n = 30

[kpis.nps]
min_n = 30

[qa]
max_score = {max_score}
rubric = [
{rubric}]

[[stakeholders]]
name = "Dana Reyes"
email = "dana.reyes@northwind.example"
role = "Head of customer service"
reports = ["scorecard", "qa-team"]
{leads}
[[stakeholders]]
name = "Sam Okafor"
email = "payments.queue@northwind.example"
role = "Payments queue manager"
dimension = "queue"                 # a queue manager: that queue's figures only
members = ["Payments"]

[[stakeholders]]
name = "{agent}"
email = "{agent_email}"
agent = "{agent}"

# no [smtp] section: messages go to workbooks/{month}/outbox as .eml files
"""


def write_demo(folder: str | Path, month: str = "2026-10") -> Path:
    """Sample exports and their config in ``folder``; returns the config's path."""
    folder = Path(folder)
    exports = folder / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    t = sample_tables(month)
    # the export has the help desk's status; its state comes from the config's codes
    contacts = t["contacts"].drop(columns=["_row", "_source", "period", "state"])
    contacts.to_csv(exports / "contacts.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    qa = t["qa"].drop(columns=["_row", "_source", "period"])
    qa["score"] = qa["score"].map(lambda s: "N/A" if s != s else f"{s:g}")
    qa["fatal"] = qa["fatal"].map(lambda f: "Y" if f == 1 else "N")
    qa = qa.drop(columns=["weight", "fatal"])          # weights and fatal items: the rubric
    qa.to_csv(exports / "qa-evaluations.csv", index=False, date_format="%Y-%m-%d")
    t["roster"].to_csv(exports / "roster.csv", index=False, date_format="%Y-%m-%d")
    t["business"].to_csv(exports / "business.csv", index=False)
    wfm = sample_wfm(t["roster"], month)
    for col in ("scheduled", "in_adherence", "handling", "available", "paid"):
        wfm[col] = [clock(x) for x in wfm[col]]
    wfm.columns = ["Agent", "Date", "Scheduled", "In Adherence", "Handling", "Available",
                   "Paid"]
    wfm.to_csv(exports / "wfm-adherence.csv", index=False, date_format="%Y-%m-%d")
    roster = t["roster"]
    leads = ""
    for team in TEAMS:
        if team in set(roster.team):
            name = f"{team} Lead"
            leads += (f'\n[[stakeholders]]\nname = "{name}"\nemail = '
                      f'"{team.lower()}.lead@northwind.example"\nteams = ["{team}"]\n')
    agent = roster.agent.iloc[0]
    rubric = "".join(f'  {{ criterion = "{i.criterion}", weight = {i.weight:g}, section = '
                     f'"{i.section}"{", fatal = true" if i.fatal else ""} }},\n' for i in RUBRIC)
    config = folder / "kpi_xl.toml"
    codes = ", ".join(f'"{status}" = "{state}"' for status, state in STATUSES.items())
    config.write_text(CONFIG.format(folder=folder, month=month, max_score=MAX_SCORE,
                                    codes=codes,
                                    rubric=rubric, leads=leads, agent=agent,
                                    agent_email=agent.lower().replace(" ", ".") +
                                    "@northwind.example"), encoding="utf-8")
    return config

