"""A realistic, deterministic sample centre as canonical tables: a mid-size operation with
teams, agents, four channels, 13 months of contacts (the e-mails, chats and social
messages are tickets, with the help desk's status and solved time), surveys on a share of
them, QA evaluations against a sectioned rubric, a roster with hires and leavers, and
monthly business figures (customers, revenue, cost and its budget, self-service, orders,
the help centre's searches, the product's active users).

Generated with numpy's PCG64 from a fixed seed: the same arguments always give the same
tables. The shapes are those of real operations (long-tailed waits, abandons growing with
the wait, lognormal handle times, positive-leaning surveys, a few failed compliance
items), and each team has its own level so that rankings and statuses mean something.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .periods import months_back

FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jonas", "Kira",
         "Liam", "Maya", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vera",
         "Wes", "Xia", "Yusuf", "Zoe"]
LAST = ["Silva", "Okafor", "Martin", "Patel", "Yilmaz", "Adeyemi", "Kim", "Laurent", "Costa",
        "Berg", "Novak", "Walsh", "Haddad", "Larsen", "Moreau", "Rossi", "Sato", "Weber"]
TEAMS = ["Billing", "Technical", "Onboarding", "Retention", "Orders", "Premium"]
#: the demo's two dimensions (README, "Dimensions"): the queue a contact came in on, mostly
#: the one its team serves (and by channel: social contacts often land in Social care), and
#: the topic the agent tagged it with (blank on about 2 % of contacts)
QUEUES = ["Payments", "Tech support", "Sales & orders", "Cancellations", "Priority",
          "Social care"]
QUEUE_OF_TEAM = {"Billing": "Payments", "Technical": "Tech support", "Onboarding": "Sales & orders",
                 "Retention": "Cancellations", "Orders": "Sales & orders", "Premium": "Priority"}
TOPICS = ["Invoice or payment", "Fault or outage", "Account change", "Order or delivery",
          "Complaint"]
#: each queue's usual topic (half of its contacts); the rest spread over every topic
TOPIC_OF_QUEUE = {"Payments": "Invoice or payment", "Tech support": "Fault or outage",
                  "Sales & orders": "Order or delivery", "Cancellations": "Account change",
                  "Priority": "Complaint", "Social care": "Complaint"}


@dataclass(frozen=True)
class Item:
    section: str
    criterion: str
    weight: float
    fatal: bool = False


RUBRIC = (
    Item("Opening and greeting", "Greets and introduces self", 1),
    Item("Opening and greeting", "Confirms the reason for contact", 1),
    Item("Tone and empathy", "Acknowledges the customer's situation", 2),
    Item("Tone and empathy", "Keeps a courteous, clear tone", 1),
    Item("Product knowledge", "Gives correct information", 3),
    Item("Problem solving", "Resolves or sets a clear next step", 3),
    Item("Compliance", "Verifies identity before account details", 1, fatal=True),
    Item("Compliance", "Reads the required disclosure", 1, fatal=True),
    Item("Closing", "Summarises and offers further help", 1),
)
MAX_SCORE = 5

#: a help desk's ticket statuses (Zendesk's words, as its ticket export writes them) and
#: kpi_xl's state for each (README, "Tickets"): the demo's config maps one to the other
#: with these codes, so the demo shows the codes mapping a real help-desk export needs
STATUSES = {"New": "open", "Open": "open", "Pending": "pending", "On-hold": "pending",
            "Solved": "solved", "Closed": "closed"}
#: a solved ticket is closed this many days after it was solved (Zendesk's default
#: automation, "Close ticket 4 days after status is set to solved": Zendesk, "About the
#: standard automations", support.zendesk.com/hc/en-us/articles/4408835051546)
CLOSE_AFTER_DAYS = 4


def sample_tables(month: str = "2026-10", *, history: int = 12, teams: int = 6,
                  agents_per_team: int = 10, contacts_per_month: int = 6000,
                  evaluations_per_agent: int = 4, seed: int = 2026) -> dict:
    """Canonical tables (contacts, qa, roster, business) for ``month`` and ``history``
    months before it."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    # the queue and topic come from a stream of their own, so that adding them shifted no
    # draw of the figures above (the tests' demo numbers stay what they were)
    dim_rng = np.random.default_rng([seed, 12])
    periods = months_back(month, history)
    pairs = len(FIRST) * len(LAST)          # every first name with every surname, once
    # surname index 5·(i // 26 + i % 26) mod 18: a bijection for each first name (5 and 18
    # are coprime), so names are unique and surnames mixed
    names = [f"{FIRST[i % len(FIRST)]} {LAST[5 * (i // len(FIRST) + i % len(FIRST)) % len(LAST)]}"
             + (f" {i // pairs + 1}" if i >= pairs else "") for i in range(teams * agents_per_team)]
    team_of = {a: TEAMS[i // agents_per_team % len(TEAMS)] for i, a in enumerate(names)}
    skill = {a: rng.normal(0, 1) for a in names}
    t_level = {t: rng.normal(0, 0.6) for t in TEAMS}
    # roster: everyone hired before the window; a few leave and are replaced
    roster_rows = []
    first = pd.Timestamp(periods[0] + "-01")
    for a in names:
        hired = first - pd.Timedelta(days=int(rng.integers(60, 1500)))
        left = None
        if rng.random() < 0.12 and len(periods) > 1:
            left = pd.Timestamp(periods[int(rng.integers(1, len(periods)))] + "-01") + \
                pd.Timedelta(days=int(rng.integers(0, 27)))
        roster_rows.append({"agent": a, "team": team_of[a], "hired": hired, "left": left})
    roster = pd.DataFrame(roster_rows)
    contacts = []
    qa_rows = []
    cid = 0
    for k, per in enumerate(periods):
        start = pd.Timestamp(per + "-01")
        days = (start + pd.offsets.MonthEnd(0)).day
        active = [r["agent"] for r in roster_rows if r["left"] is None or r["left"] >= start]
        n = contacts_per_month
        trend = k / max(len(periods) - 1, 1)          # the centre improves over the year
        channel = rng.choice(["phone", "email", "chat", "social"], n, p=[0.5, 0.3, 0.15, 0.05])
        agent = rng.choice(active, n)
        level = np.array([skill[a] * 0.5 + t_level[team_of[a]] for a in agent])
        when = start + pd.to_timedelta(rng.integers(0, days * 86400, n), unit="s")
        call = channel == "phone"
        wait = np.round(rng.exponential(22 - 6 * trend, n))
        patience = rng.exponential(180, n)
        answered = np.where(call, (wait <= patience).astype(float), np.nan)
        wait = np.where(call, np.where(answered == 1, wait, np.round(np.minimum(wait, patience))),
                        np.nan)
        handled = np.where(call, answered, 1.0)
        on = handled == 1
        talk = np.where(on & call, np.round(rng.lognormal(5.4 - 0.05 * level, 0.4)), np.nan)
        hold = np.where(on & call, np.round(rng.exponential(20, n)), np.nan)
        acw = np.where(on & call, np.round(rng.uniform(20, 60, n)), np.nan)
        frt = np.where(~call, np.where(channel == "chat", rng.uniform(0.005, 0.05, n),
                                       rng.lognormal(0.8 - 0.1 * level, 0.8)), np.nan)
        res = np.where(~call, frt + rng.lognormal(2.4, 0.7, n), np.nan)
        p_fcr = np.clip(0.72 + 0.05 * level + 0.04 * trend, 0.3, 0.97)
        resolved_first = np.where(on, (rng.random(n) < p_fcr).astype(float), np.nan)
        surveyed = on & (rng.random(n) < 0.15)
        csat = np.where(surveyed, np.clip(np.round(rng.normal(4.0 + 0.3 * level, 0.9)), 1, 5), np.nan)
        nps = np.where(surveyed, np.clip(np.round(rng.normal(7.8 + 0.6 * level, 2.0)), 0, 10), np.nan)
        ces = np.where(surveyed & (rng.random(n) < 0.5),
                       np.clip(np.round(rng.normal(5.6 + 0.3 * level, 1.0)), 1, 7), np.nan)
        frame = pd.DataFrame({
            "id": [f"C{cid + i:07d}" for i in range(n)], "date": when, "channel": channel,
            "agent": np.where(on, agent, None), "answered": answered, "wait": wait,
            "talk": talk, "hold": hold, "acw": acw, "handled": handled,
            "resolved_first": resolved_first,
            "resolved": np.where(on, (rng.random(n) < 0.88).astype(float), np.nan),
            "transferred": np.where(on, (rng.random(n) < 0.07).astype(float), np.nan),
            "escalated": np.where(on & ~call, (rng.random(n) < 0.05).astype(float), np.nan),
            "reopens": np.where(~call, rng.choice([0.0, 1.0, 2.0], n, p=[0.95, 0.04, 0.01]),
                                np.nan),
            "first_response_hours": frt, "resolution_hours": res,
            "csat": csat, "nps": nps, "ces": ces})
        frame["team"] = frame["agent"].map(team_of)
        frame["response_seconds"] = np.where(frame.answered == 1, frame.wait,
                                             np.where(~call, frt * 3600, np.nan))
        frame["queue"], frame["topic"] = _queue_and_topic(dim_rng, frame["team"], channel)
        frame["period"] = per
        contacts.append(frame)
        cid += n
        for a in active:
            for e in range(evaluations_per_agent):
                eid = f"QA-{per}-{names.index(a):03d}-{e + 1}"
                day = start + pd.Timedelta(days=int(rng.integers(0, days)))
                evaluator = ["Lee Park", "Marta Gomez", "Ravi Nair"][int(rng.integers(0, 3))]
                for item in RUBRIC:
                    if item.fatal:
                        score = 0.0 if rng.random() < 0.03 else float(MAX_SCORE)
                    elif rng.random() < 0.06:
                        score = np.nan                            # N/A
                    else:
                        score = float(np.clip(round(rng.normal(3.8 + 0.5 * skill[a], 0.8)), 0,
                                              MAX_SCORE))
                    qa_rows.append({"evaluation": eid, "date": day, "agent": a,
                                    "team": team_of[a], "evaluator": evaluator,
                                    "contact_id": f"C{int(rng.integers(0, cid)):07d}",
                                    "section": item.section, "criterion": item.criterion,
                                    "weight": item.weight, "fatal": float(item.fatal),
                                    "score": score, "comment": "", "period": per})
    contacts = pd.concat(contacts, ignore_index=True)
    # the tickets' status as the help desk saw it when the month was exported (the first
    # moment of the next month), from a stream of its own: no draw above moves
    _ticket_status(np.random.default_rng([seed, 13]), contacts,
                   pd.Timestamp(periods[-1] + "-01") + pd.offsets.MonthBegin(1))
    contacts["_row"] = np.arange(2, len(contacts) + 2)
    contacts["_source"] = "sample"
    qa = pd.DataFrame(qa_rows)
    # an evaluation is of a contact (its first item names it): that contact's queue, topic
    by_id = contacts.set_index("id")
    evaluated = qa.groupby("evaluation", sort=False)["contact_id"].transform("first")
    for col in ("queue", "topic"):
        qa[col] = evaluated.map(by_id[col])
    qa["_row"] = np.arange(2, len(qa) + 2)
    qa["_source"] = "sample-qa"
    base = 48_000
    biz = []
    for k, per in enumerate(periods):
        start = base + 300 * k
        new = 2100 + int(rng.integers(-150, 150))
        lost = 1800 + int(rng.integers(-150, 150))
        biz.append({"month": per, "customers_start": float(start), "customers_new": float(new),
                    "customers_end": float(start + new - lost),
                    "revenue_start": 3_900_000.0 + 15_000 * k, "expansion": 120_000.0 + 1000 * k,
                    "contraction": 38_000.0, "churned_revenue": 60_000.0 - 800 * k,
                    "total_cost": contacts_per_month * (6.9 - 0.04 * k), "acquisition_cost": 410_000.0,
                    "leads": 9000.0, "conversions": 1300.0 + 10 * k, "surveys_sent": 4000.0})
    _more_business(np.random.default_rng([seed, 23]), biz, contacts)
    return {"contacts": contacts, "qa": qa, "roster": roster, "business": pd.DataFrame(biz)}


def _ticket_status(rng, contacts, as_of) -> None:
    """The help desk's ``status`` of each ticket (the e-mail, chat and social contacts;
    calls have none), kpi_xl's ``state`` for it (:data:`STATUSES`) and its ``solved_at``,
    as exported at ``as_of``: a ticket is solved ``resolution_hours`` after it was
    created (its ``date``), so one whose solved time falls after ``as_of`` is still open
    then. Such a ticket has no solved time, no resolution time and is not resolved (yet,
    so neither on first contact); it is "New" when no agent had replied by ``as_of``
    (then no first response time either), else "Open", "Pending" (waiting for the
    customer) or "On-hold" (waiting for a third party), drawn 50/40/10 from ``rng``. A
    solved ticket is "Closed" once :data:`CLOSE_AFTER_DAYS` have passed, else "Solved".
    Changes ``contacts`` in place."""
    import pandas as pd

    n = len(contacts)
    ticket = (contacts["channel"] != "phone").to_numpy()
    created = contacts["date"]
    solved = (created + pd.to_timedelta(contacts["resolution_hours"] * 3600, unit="s")) \
        .dt.round("s")
    replied = created + pd.to_timedelta(contacts["first_response_hours"] * 3600, unit="s")
    waiting = rng.choice(["Open", "Pending", "On-hold"], n, p=[0.5, 0.4, 0.1])
    still_open = ticket & (solved >= as_of).to_numpy()
    new = still_open & (replied >= as_of).to_numpy()
    closed = (solved < as_of - pd.Timedelta(days=CLOSE_AFTER_DAYS)).to_numpy()
    status = np.where(~ticket, None, np.where(closed, "Closed", "Solved")).astype(object)
    status[still_open] = waiting[still_open]
    status[new] = "New"
    contacts["status"] = status
    contacts["state"] = [STATUSES.get(s) for s in status]
    contacts["solved_at"] = solved.where(ticket & ~still_open)
    contacts.loc[still_open, ["resolution_hours", "resolved", "resolved_first"]] = \
        [np.nan, 0.0, 0.0]
    contacts.loc[new, ["first_response_hours", "response_seconds"]] = np.nan


def _more_business(rng, biz: list[dict], contacts) -> None:
    """The month's figures beyond customers and revenue retention, in ``biz`` (one dict
    per month, the oldest first), on the scale of the figures there (a total cost of
    about 40,000 a month for some 5,800 contacts handled, 48,000 to 52,000 customers):
    a flat cost budget of 40,000; the centre bills 7.50 per contact handled (its
    revenue); its benefit, as a finance team would value it, is 30 % of the expansion
    revenue (the upsells it handled) and 6.00 per self-service resolution (the contact
    avoided); the contacts it resolved are the assisted resolutions, and self-service,
    deflection and the help centre's searches grow over the year as failed searches
    fall; orders about 1.15 per customer; and the product's monthly active users about
    78 % of the customers, a fifth of them on a typical day. Drawn from ``rng`` (a
    stream of its own, so that no figure of :func:`sample_tables` moves)."""
    handled = contacts[contacts["handled"] == 1].groupby("period").size()
    resolved = contacts[contacts["resolved"] == 1].groupby("period").size()

    def noisy(x: float, sd: float) -> float:
        return float(round(x * (1 + rng.normal(0, sd))))

    for k, row in enumerate(biz):
        per = row["month"]
        self_service = noisy(2200 + 60 * k, 0.03)
        searches = noisy(18_000 + 300 * k, 0.03)
        mau = noisy(0.78 * row["customers_end"], 0.01)
        row.update({
            "cost_budget": 40_000.0,
            "revenue": 7.5 * float(handled.get(per, 0)),
            "service_benefit": float(round(0.3 * row["expansion"] + 6.0 * self_service)),
            "self_service_resolutions": self_service,
            "assisted_resolutions": float(resolved.get(per, 0)),
            "deflected_contacts": noisy(1100 + 40 * k, 0.04),
            "orders": noisy(1.15 * row["customers_start"], 0.02),
            "kb_searches": searches,
            "kb_failed_searches": float(round(searches * (0.18 - 0.004 * k
                                                          + rng.normal(0, 0.005)))),
            "dau": float(round(mau * (0.19 + 0.003 * k + rng.normal(0, 0.004)))),
            "wau": float(round(mau * (0.52 + rng.normal(0, 0.01)))),
            "mau": mau})


def sample_wfm(roster, month: str = "2026-10", *, history: int = 12, seed: int = 2026):
    """A WFM adherence export for the roster's agents (``roster``: the ``roster`` table of
    :func:`sample_tables`): one row per agent and weekday they were employed, over
    ``month`` and ``history`` months before it, in seconds. An 8-hour paid day, all of it
    scheduled; about 8 % of days absent (paid, nothing scheduled or worked: shrinkage);
    on the others a share of the day in breaks, meetings and coaching (about 22 %), and of
    the rest most handling contacts (about 84 %) and the remainder available. From a stream
    of its own, so that it shifts no draw of :func:`sample_tables`."""
    import pandas as pd

    rng = np.random.default_rng([seed, 17])
    paid = 8 * 3600.0
    rows = []
    agents = list(roster.itertuples(index=False))
    lean = {r.agent: rng.normal(0, 1) for r in agents}     # each agent's own habits
    for per in months_back(month, history):
        start = pd.Timestamp(per + "-01")
        for day in pd.date_range(start, start + pd.offsets.MonthEnd(0), freq="B"):
            for r in agents:
                if r.hired > day or (r.left is not None and not pd.isna(r.left)
                                     and r.left < day):
                    continue
                if rng.random() < 0.08:                    # absent: paid, not worked
                    rows.append((r.agent, day, 0.0, 0.0, 0.0, 0.0, paid))
                    continue
                off = float(np.clip(rng.normal(0.22, 0.05), 0.1, 0.4))
                occ = float(np.clip(rng.normal(0.84 + 0.02 * lean[r.agent], 0.04), 0.6, 0.97))
                adh = float(np.clip(rng.normal(0.91 + 0.02 * lean[r.agent], 0.03), 0.7, 1.0))
                on = paid * (1 - off)
                handling = round(on * occ)
                rows.append((r.agent, day, paid, float(round(paid * adh)), float(handling),
                             float(round(on) - handling), paid))
    return pd.DataFrame(rows, columns=["agent", "date", "scheduled", "in_adherence",
                                       "handling", "available", "paid"])


def _queue_and_topic(rng, team, channel):
    """(queue, topic) per contact: the queue its team serves for 75 % of its calls and 55 %
    of its written contacts (social contacts: Social care, half of them), any queue
    otherwise (a contact nobody answered has no team: any queue); the queue's usual topic
    for half of them, any topic otherwise, and no topic for 2 %."""
    n = len(channel)
    team = np.asarray(team, dtype=object)
    home = np.array([QUEUE_OF_TEAM.get(t, "") if isinstance(t, str) else "" for t in team],
                    dtype=object)
    keep = rng.random(n) < np.where(channel == "phone", 0.75, 0.55)
    queue = np.where((home != "") & keep, home, rng.choice(QUEUES, n))
    queue = np.where((channel == "social") & (rng.random(n) < 0.5), "Social care", queue)
    usual = np.array([TOPIC_OF_QUEUE[q] for q in queue], dtype=object)
    topic = np.where(rng.random(n) < 0.5, usual, rng.choice(TOPICS, n)).astype(object)
    topic[rng.random(n) < 0.02] = None
    return queue.astype(object), topic
