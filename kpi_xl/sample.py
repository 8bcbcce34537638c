"""A built-in, deterministic sample month of a mid-size contact centre.

Used by ``kpi-xl demo`` and the example workbook, so a fresh install shows real numbers
with nothing to configure. Generated with the standard library's Mersenne Twister from a
fixed seed (its stream is stable across Python versions), so every run gives the same
data. The figures are invented but shaped like real operations: queue waits with a long
tail, abandons that grow with the wait, lognormal handle times, survey answers leaning
positive, QA rubric scores and month-level business totals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

AGENTS = [f"{first} {last}" for first, last in [
    ("Ana", "Silva"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("Dev", "Patel"),
    ("Elif", "Yilmaz"), ("Femi", "Adeyemi"), ("Grace", "Kim"), ("Hugo", "Laurent"),
    ("Ines", "Costa"), ("Jonas", "Berg"), ("Kira", "Novak"), ("Liam", "Walsh")]]
RUBRIC = [("Opening and greeting", 1.0, False), ("Tone and empathy", 2.0, False),
          ("Product knowledge", 2.0, False), ("Problem solving", 3.0, False),
          ("Compliance: identity check", 1.0, True), ("Closing", 1.0, False)]


@dataclass
class SampleMonth:
    month: str
    calls: dict[str, list] = field(default_factory=dict)
    tickets: dict[str, list] = field(default_factory=dict)
    qa: list[dict] = field(default_factory=list)
    business: dict[str, float] = field(default_factory=dict)


def sample_month(month: str = "2026-10", calls: int = 4000, seed: int = 2026) -> SampleMonth:
    rng = random.Random(f"{seed}-{month}")
    s = SampleMonth(month)
    c = {k: [] for k in ("agent", "answered", "wait", "talk", "hold", "acw", "resolved_first",
                         "transferred", "nps", "csat")}
    for _ in range(calls):
        wait = round(rng.expovariate(1 / 12.0))
        patience = rng.expovariate(1 / 200.0)
        answered = wait <= patience
        c["wait"].append(wait if answered else round(min(wait, patience)))
        c["answered"].append("Y" if answered else "N")
        agent = rng.choice(AGENTS) if answered else None
        c["agent"].append(agent)
        talk = round(rng.lognormvariate(5.45, 0.45)) if answered else None
        c["talk"].append(talk)
        c["hold"].append(round(rng.expovariate(1 / 25.0)) if answered else None)
        c["acw"].append(round(rng.uniform(20, 70)) if answered else None)
        c["resolved_first"].append(("Y" if rng.random() < 0.74 else "N") if answered else None)
        c["transferred"].append(("Y" if rng.random() < 0.08 else "N") if answered else None)
        surveyed = answered and rng.random() < 0.18
        c["nps"].append(min(10, max(0, round(rng.gauss(8.1, 2.1)))) if surveyed else None)
        c["csat"].append(min(5, max(1, round(rng.gauss(4.1, 0.9)))) if surveyed else None)
    s.calls = c
    t = {"first_response_hours": [], "resolution_hours": [], "channel": [], "reopens": []}
    for _ in range(calls // 3):
        ch = rng.choices(["email", "chat", "social"], [0.6, 0.3, 0.1])[0]
        frt = rng.lognormvariate(0.6, 0.9) if ch != "chat" else rng.uniform(0.002, 0.03)
        t["channel"].append(ch)
        t["first_response_hours"].append(round(frt, 3))
        t["resolution_hours"].append(round(frt + rng.lognormvariate(2.3, 0.8), 2))
        t["reopens"].append(0 if rng.random() < 0.93 else rng.choice([1, 1, 2]))
    s.tickets = t
    for i, agent in enumerate(AGENTS * 4):
        scores = []
        for _name, _w, fatal in RUBRIC:
            if fatal:
                scores.append(5 if rng.random() < 0.97 else 0)
            elif rng.random() < 0.06:
                scores.append("N/A")
            else:
                scores.append(rng.choice([3, 4, 4, 5, 5]))
        s.qa.append({"evaluation": f"QA-{i + 1:04d}", "agent": agent, "scores": scores})
    s.business = {"customers_start": 48210, "customers_end": 48904, "customers_new": 2140,
                  "revenue_start": 3_910_000, "expansion": 121_000, "contraction": 38_500,
                  "churned_revenue": 61_200, "total_cost": 742_000,
                  "peak_calls_30min": 310, "peak_aht": 305}
    return s
