"""The engine vs a hand-written DuckDB query of the same KPIs, same data, same machine.

    python bench/bench_engine.py                 # 1 M and 10 M contacts
    python bench/bench_engine.py --rows 200000   # a quick look
    python bench/bench_engine.py --scenario weekly-dims   # weeks, two more dimensions

Data: N synthetic contacts over 12 months, 500 agents in 20 teams, 4 channels (phone rows
carry ACD fields, the others ticket fields), a survey answer (NPS, CSAT) on ~12 % of rows;
written once to Parquet with DuckDB. Each side then runs in its own fresh process (so peak
memory is its own): read the Parquet file, compute every contacts KPI at organisation,
team, agent and channel level for the 13 months, and hand back a pandas DataFrame. Wall
time is the best of 3 runs inside that process; peak memory is the process's max RSS.

The hand-written side is what an analyst fluent in DuckDB would write for the same
definitions (default variants): one GROUPING SETS query, FILTER clauses, no validation,
no notes, no tidy reshaping. Target: engine / hand ≤ 1.25 on time and on memory.

Scenarios: ``monthly`` (the month and 12 before it, by team, agent and channel) and
``weekly-dims`` (an ISO week and the 12 before it, placed from each contact's timestamp,
by team, agent, channel and two more dimensions, queue and topic; the hand-written query
labels weeks with ``strftime(date, '%G-W%V')``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MONTHS = [f"{2025 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}" for i in range(12)]  # 2025-11..2026-10


def generate(rows: int, path: Path) -> None:
    import duckdb

    months = "[" + ", ".join(f"'{m}'" for m in MONTHS) + "]"
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""
    COPY (
      WITH base AS (
        SELECT i,
               hash(i) AS h,
               ['phone', 'email', 'chat', 'social'][1 + (hash(i * 7) % 4)::INT] AS channel,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM range({rows}) t(i)
      ), typed AS (
        SELECT *, channel = 'phone' AS is_call,
               CASE WHEN channel = 'phone' THEN (CASE WHEN r1 < 0.92 THEN 1.0 ELSE 0.0 END) END AS answered
        FROM base
      )
      SELECT 'c' || i AS id,
             {months}[1 + (i % 12)::INT] AS period,
             strptime({months}[1 + (i % 12)::INT] || '-01', '%Y-%m-%d')
               + to_seconds(floor(r1 * 28 * 86400)::BIGINT) AS date,
             'queue-' || (hash(i * 13) % 8)::VARCHAR AS queue,
             'topic-' || lpad((hash(i * 17) % 12)::VARCHAR, 2, '0') AS topic,
             'team-' || lpad(((h % 500) % 20)::VARCHAR, 2, '0') AS team,
             'agent-' || lpad((h % 500)::VARCHAR, 3, '0') AS agent,
             channel,
             answered,
             CASE WHEN is_call THEN round(-ln(1 - r2) * 25) END AS wait,
             CASE WHEN answered = 1 THEN round(120 + r3 * 400) END AS talk,
             CASE WHEN answered = 1 THEN round(r4 * 60) END AS hold,
             CASE WHEN answered = 1 THEN round(20 + r2 * 40) END AS acw,
             CASE WHEN is_call THEN answered ELSE 1.0 END AS handled,
             CASE WHEN answered = 1 OR NOT is_call THEN (CASE WHEN r3 < 0.8 THEN 1.0 ELSE 0.0 END) END AS resolved,
             CASE WHEN answered = 1 OR NOT is_call THEN (CASE WHEN r4 < 0.72 THEN 1.0 ELSE 0.0 END) END AS resolved_first,
             CASE WHEN answered = 1 THEN (CASE WHEN r2 < 0.08 THEN 1.0 ELSE 0.0 END) END AS transferred,
             CASE WHEN NOT is_call THEN (CASE WHEN r1 < 0.1 THEN 1.0 ELSE 0.0 END) END AS escalated,
             CASE WHEN NOT is_call THEN (CASE WHEN r3 < 0.93 THEN 0.0 ELSE 1.0 END) END AS reopens,
             CASE WHEN NOT is_call THEN -ln(1 - r4) * 3 END AS first_response_hours,
             CASE WHEN NOT is_call THEN -ln(1 - r1) * 20 END AS resolution_hours,
             CASE WHEN answered = 1 THEN round(-ln(1 - r2) * 25)
                  WHEN NOT is_call THEN -ln(1 - r4) * 3 * 3600 END AS response_seconds,
             CASE WHEN (h % 100) < 12 THEN (h % 11)::DOUBLE END AS nps,
             CASE WHEN (h % 100) < 12 THEN (1 + (h % 5))::DOUBLE END AS csat
      FROM typed
    ) TO '{path.as_posix()}' (FORMAT parquet)""")


HAND_SQL = """
SELECT period,
  CASE WHEN GROUPING(team) = 0 THEN 'team' WHEN GROUPING(agent) = 0 THEN 'agent'
       WHEN GROUPING(channel) = 0 THEN 'channel' ELSE 'organisation' END AS level,
  COALESCE(team, agent, channel, 'all') AS member,
  -- surveys
  100.0 * (count(*) FILTER (nps >= 9) - count(*) FILTER (nps <= 6)) / nullif(count(nps), 0) AS nps,
  count(nps) AS nps_n,
  count(*) FILTER (csat >= 4) / nullif(count(csat), 0) AS csat,
  count(csat) AS csat_n,
  -- calls
  avg(wait) FILTER (answered = 1) AS asa,
  count(*) FILTER (answered = 1 AND wait <= 20) / nullif(count(answered), 0) AS service_level,
  count(*) FILTER (answered = 1) / nullif(count(answered), 0) AS answered_rate,
  count(*) FILTER (answered = 0) / nullif(count(answered), 0) AS abandonment_rate,
  count(answered) AS offered,
  avg(talk + coalesce(hold, 0) + coalesce(acw, 0)) AS aht,
  count(talk) AS aht_n,
  -- tickets and all contacts
  count(*) FILTER (response_seconds <= CASE lower(channel) WHEN 'phone' THEN 20 WHEN 'chat' THEN 60
        WHEN 'email' THEN 14400 WHEN 'social' THEN 3600 END) / nullif(count(response_seconds), 0) AS sla_compliance,
  count(id) AS ticket_volume,
  avg(transferred) AS transfer_rate,
  avg(escalated) AS escalation_rate,
  avg(resolved_first) AS fcr,
  count(*) FILTER (resolved = 1 AND handled = 1) / nullif(count(*) FILTER (handled = 1), 0) AS resolution_rate,
  count(*) FILTER (reopens > 0) / nullif(count(reopens), 0) AS reopen_rate,
  avg(first_response_hours) AS first_response_time,
  avg(resolution_hours) AS time_to_resolution
FROM read_parquet('{path}')
WHERE period IN ({periods})
GROUP BY GROUPING SETS ((period), (period, team), (period, agent), (period, channel))
"""

# the same KPIs for 13 ISO weeks placed by timestamp, with queue and topic as well
HAND_WEEKLY = (HAND_SQL
               .replace("SELECT period,", "SELECT wk AS period,", 1)
               .replace("WHEN GROUPING(channel) = 0 THEN 'channel'",
                        "WHEN GROUPING(channel) = 0 THEN 'channel' WHEN GROUPING(queue) = 0 "
                        "THEN 'queue' WHEN GROUPING(topic) = 0 THEN 'topic'")
               .replace("COALESCE(team, agent, channel, 'all')",
                        "COALESCE(team, agent, channel, queue, topic, 'all')")
               .replace("FROM read_parquet('{path}')\nWHERE period IN ({periods})",
                        "FROM (SELECT *, strftime(date, '%G-W%V') AS wk FROM read_parquet('{path}')"
                        "\n      WHERE date >= TIMESTAMP '{first}' AND date < TIMESTAMP '{end}')")
               .replace("GROUP BY GROUPING SETS ((period), (period, team), (period, agent), "
                        "(period, channel))",
                        "GROUP BY GROUPING SETS ((wk), (wk, team), (wk, agent), (wk, channel), "
                        "(wk, queue), (wk, topic))"))

ENGINE_KPIS = ["nps", "csat", "asa", "service_level", "answered_rate", "abandonment_rate",
               "aht", "sla_compliance", "ticket_volume", "transfer_rate", "escalation_rate",
               "fcr", "resolution_rate", "reopen_rate", "first_response_time",
               "time_to_resolution"]


#: the weekly scenario's last week (inside the data's last month, 2026-10)
WEEK = "2026-W43"


def run_side(side: str, path: str, threads: int, scenario: str = "monthly") -> dict:
    """One side, in this (fresh) process: best of 3 wall times, then the peak RSS."""
    import duckdb

    from kpi_xl.periods import Period

    periods = ", ".join(f"'{m}'" for m in MONTHS[-13:])
    weeks = Period.parse(WEEK).back(12)
    last = MONTHS[-1] if scenario == "monthly" else WEEK
    times = []
    out = None
    for _ in range(3):
        t0 = time.perf_counter()
        if side == "hand":
            con = duckdb.connect()
            con.execute(f"SET threads = {threads}")
            sql = (HAND_SQL.format(path=path, periods=periods) if scenario == "monthly" else
                   HAND_WEEKLY.format(path=path, first=weeks[0].start, end=weeks[-1].end))
            out = con.execute(sql).df()
        else:
            from kpi_xl.engine import Engine

            if scenario == "monthly":
                eng = Engine({"contacts": path}, kpis=ENGINE_KPIS, threads=threads)
                out = eng.compute(MONTHS[-1], 12).table
            else:
                eng = Engine({"contacts": path}, kpis=ENGINE_KPIS, threads=threads,
                             dimensions=["queue", "topic"])
                out = eng.compute(WEEK, 12).table
        times.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample = {}
    if side == "hand":
        org = out[(out.level == "organisation") & (out.period == last)].iloc[0]
        sample = {k: float(org[k]) for k in ENGINE_KPIS}
    else:
        org = out[(out.level == "organisation") & (out.period == last)]
        sample = {r.kpi: float(r.value) for r in org.itertuples()}
    return {"seconds": min(times), "rss_mb": rss_mb, "rows_out": len(out), "sample": sample}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--scenario", choices=["monthly", "weekly-dims"], nargs="*",
                    default=["monthly", "weekly-dims"])
    ap.add_argument("--side", choices=["engine", "hand"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:
        print(json.dumps(run_side(a.side, a.path, a.threads, a.scenario[0])))
        return
    print(f"{'rows':>11} {'scenario':>11} {'side':>7} {'seconds':>8} {'peak MB':>8} {'out rows':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.rows:
            path = Path(tmp) / f"contacts-{n}.parquet"
            t0 = time.perf_counter()
            generate(n, path)
            gen = time.perf_counter() - t0
            for scenario in a.scenario:
                res = {}
                for side in ("hand", "engine"):          # interleaved: same data, same minute
                    p = subprocess.run([sys.executable, __file__, "--side", side, "--path",
                                        str(path), "--threads", str(a.threads), "--scenario",
                                        scenario], capture_output=True, text=True, check=True)
                    res[side] = json.loads(p.stdout)
                    r = res[side]
                    print(f"{n:>11,} {scenario:>11} {side:>7} {r['seconds']:>8.2f} "
                          f"{r['rss_mb']:>8.0f} {r['rows_out']:>9,}")
                h, e = res["hand"], res["engine"]
                same = all(abs(h["sample"][k] - e["sample"][k])
                           <= 1e-9 * max(1, abs(h["sample"][k])) for k in ENGINE_KPIS)
                print(f"{'':>11} {scenario:>11} {'ratio':>7} {e['seconds'] / h['seconds']:>8.2f} "
                      f"{e['rss_mb'] / h['rss_mb']:>8.2f}   same values: {same}  "
                      f"(data generated in {gen:.1f} s, {path.stat().st_size / 1e6:.0f} MB parquet)")


if __name__ == "__main__":
    main()
