"""Status is data, not a reject (issue 12 §1): a ticket's state (open, pending, solved,
closed, mapped from the export's status with codes) gives the ticket flow per period
(created, solved, open at the start and at the end) and the backlog; an open ticket
without a date is placed by the source's explicit ``undated`` rule instead of being
rejected; a status the codes do not map is a sentence in the rejects report.

The expected numbers are derived by hand in the comments from the tickets written here.
"""

from __future__ import annotations

import math
import textwrap

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.data.load import LoadOptions, load  # noqa: E402
from kpi_xl.data.rejects import LEFT_OUT, ROW_PLACED, ROW_REJECTED, VALUE_IGNORED  # noqa: E402
from kpi_xl.data.sources import ConfigError, parse_source  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402

T = pd.Timestamp
FLOW = ["tickets_created", "tickets_solved", "backlog"]


def _tickets() -> pd.DataFrame:
    """Ten tickets and a call, July to October 2026 (id, created, solved_at, state)."""
    rows = [
        ("T1", "2026-07-20 10:00", "2026-08-05 09:00", "closed"),
        ("T2", "2026-07-25 11:00", None, "open"),
        ("T3", "2026-08-10 08:00", "2026-08-12 08:00", "solved"),
        ("T4", "2026-08-20 08:00", "2026-09-03 08:00", "solved"),
        ("T5", "2026-09-01 00:00", None, "pending"),            # created on the bound
        ("T6", "2026-09-15 08:00", "2026-10-01 00:00", "solved"),  # solved on the bound
        ("T7", "2026-10-02 08:00", None, "closed"),   # closed without a solved time
        ("T8", "2026-10-05 08:00", "2026-10-06 08:00", "solved"),
        ("T9", "2026-10-30 08:00", None, "open"),
        ("C1", "2026-08-01 08:00", None, None),         # a call: no state, not a ticket
        ("T11", "2026-09-10 08:00", "2026-09-09 08:00", "solved"),  # solved 'before' created
    ]
    df = pd.DataFrame(rows, columns=["id", "created", "solved_at", "state"])
    df["created"] = pd.to_datetime(df["created"])
    df["solved_at"] = pd.to_datetime(df["solved_at"])
    df["date"] = df["created"]
    df["period"] = df["date"].dt.strftime("%Y-%m")
    df["handled"] = 1.0
    return df


def test_backlog_by_hand_over_three_months():
    """By hand, each period [first day, next first day), a ticket open at a bound when
    created before it and not solved before it; T7 (closed, no solved time) is left out;
    T11's solved time precedes its creation, so it counts as solved when created; C1 has
    no state and is not a ticket.

    Aug: open at start T1, T2 = 2; created T3, T4 = 2; solved T1 (5 Aug), T3 = 2;
         backlog 2 + 2 - 2 = 2 (T2, T4).
    Sep: open at start 2; created T5 (1 Sep 00:00, on the bound), T6, T11 = 3; solved T4,
         T11 = 2 (T6 at 1 Oct 00:00 is October's); backlog 2 + 3 - 2 = 3 (T2, T5, T6).
    Oct: open at start 3; created T8, T9 = 2; solved T6, T8 = 2; backlog 3 + 2 - 2 = 3
         (T2, T5, T9).
    Jul: open at start 0; created T1, T2 = 2; solved 0; backlog 2."""
    eng = Engine({"contacts": _tickets()}, kpis=FLOW + ["ticket_volume"])
    res = eng.compute("2026-10", 4)
    want = {"2026-07": (2, 0, 2), "2026-08": (2, 2, 2), "2026-09": (3, 2, 3),
            "2026-10": (2, 2, 3)}
    for period, (created, solved, backlog) in want.items():
        got = tuple(res.value(k, period=period) for k in FLOW)
        assert got == (created, solved, backlog), period
    # June ends before the first ticket (20 July): the data do not cover it, no figures
    # (not zeros)
    assert all(res.value(k, period="2026-06") is None for k in FLOW)
    totals = eng.period_totals("2026-10", 4).set_index("period")
    # the identity, checked against the open tickets counted directly at each bound
    for p in want:
        t = totals.loc[p]
        assert t.tickets_open_start + t.tickets_created - t.tickets_solved == t.tickets_open_end
    assert list(totals.loc[["2026-08", "2026-09", "2026-10"], "tickets_open_start"]) == [2, 2, 3]
    assert totals.loc["2026-10", "tickets_open_end"] == 3
    assert math.isnan(totals.loc["2026-06", "tickets_created"])


def test_flow_needs_a_state_and_a_solved_time():
    t = _tickets().drop(columns=["state"])
    res = Engine({"contacts": t}, kpis=FLOW).compute("2026-10", 0)
    assert "'state'" in res.skipped["backlog"] and "status" in res.skipped["backlog"]
    t = _tickets().drop(columns=["solved_at"])
    res = Engine({"contacts": t}, kpis=FLOW).compute("2026-10", 0)
    assert "'solved_at'" in res.skipped["tickets_solved"]


def test_flow_for_a_week_and_a_quarter():
    """Weeks and quarters take their bounds the same way.
    2026-W40 is [Mon 28 Sep, Mon 5 Oct): open at its start T2, T5, T6 = 3 (T4 was solved
    on 3 Sep); created 0 (T7 is left out, T8 is 5 Oct 08:00, the next week); solved T6
    (1 Oct) = 1; backlog 3 + 0 - 1 = 2.
    Q3 2026 is [1 Jul, 1 Oct): open at start 0; created T1, T2, T3, T4, T5, T6, T11 = 7;
    solved T1, T3, T4, T11 = 4; backlog 0 + 7 - 4 = 3 (T2, T5, T6)."""
    eng = Engine({"contacts": _tickets()}, kpis=FLOW)
    w = eng.compute("2026-W40", 0)
    assert [w.value(k) for k in FLOW] == [0, 1, 2]
    q = eng.compute("2026-Q3", 0)
    assert [q.value(k) for k in FLOW] == [7, 4, 3]


# ------------------------------------------------------------------ through the loader
CSV = textwrap.dedent("""\
    Ticket,Status,Created,Solved,First reply,Channel
    A1,Open,,,,Email
    A2,Pending,2026-10-03 09:00,,2026-10-03 10:00,Email
    A3,Solved,2026-10-01 08:00,2026-10-02 08:00,2026-10-01 09:00,Email
    A4,Closed,,2026-10-04 12:00,,Email
    A5,Escalated,2026-10-05 10:00,,,Email
    A6,Closed,2026-10-06 10:00,,2026-10-06 11:00,Email
    """)
CODES = {"Open": "open", "Pending": "pending", "Solved": "solved", "Closed": "closed"}


def _source(path, **extra):
    spec = {"name": "desk", "table": "contacts", "path": str(path), "undated": "latest",
            "columns": {"id": "Ticket", "created": "Created", "solved_at": "Solved",
                        "first_reply_at": "First reply", "status": "Status",
                        "channel": {"column": "Channel", "codes": {"Email": "email"}},
                        "state": {"column": "Status", "codes": CODES}}}
    spec.update(extra)
    return parse_source(spec)


@pytest.fixture()
def desk(tmp_path):
    p = tmp_path / "desk.csv"
    p.write_text(CSV, encoding="utf-8")
    return p


def test_undated_open_ticket_is_placed_and_reported(desk):
    """A1 (open, no date) is placed at the latest time in the file, 6 Oct 11:00 (A6's first
    reply); A4 (closed, no date) stays rejected, saying why; A5's status 'Escalated' is not
    mapped: the value is ignored with a sentence and A5 is used without a state; A6 is
    closed without a solved time: it leaves the ticket flow, with a line."""
    ds = load([_source(desk)], LoadOptions(dimensions=("state",)))
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected, acc.placed) == (6, 5, 1, 1)
    assert acc.balanced
    assert "1 open or pending row without a date placed at 2026-10-06 11:00:00 (the " \
           "latest time in the file)" in acc.line()
    by = {(r.row, r.action): r for r in ds.rejects.items}
    placed = by[(2, ROW_PLACED)]
    assert placed.column == "Created" and "the ticket is open" in placed.reason
    # the KPIs the placed ticket cannot feed are named on its line: it has no first reply
    assert "First response time" in placed.kpis and "Ticket volume" not in placed.kpis
    rejected = by[(5, ROW_REJECTED)]
    assert rejected.reason == ("'Created' is blank; every row needs a date (the source's "
                               "undated rule places open and pending tickets only, and "
                               "this ticket is closed)")
    ignored = by[(6, VALUE_IGNORED)]
    assert ignored.column == "Status" and ignored.value == "Escalated"
    assert ignored.reason.startswith("'Status' is not a ticket state (open, pending, solved, "
                                     "closed); map the export's statuses with codes")
    left = by[(7, LEFT_OUT)]
    assert left.column == "Solved" and "closed ticket" in left.reason
    assert left.kpis == "Tickets created, Tickets solved, Backlog at period end"
    c = ds.tables["contacts"].set_index("id")
    assert c.at["A1", "date"] == T("2026-10-06 11:00")
    assert pd.isna(c.at["A1", "created"])        # when it was created is not known

    res = Engine(ds.tables, dimensions=["state"]).compute("2026-10", 0)
    # by hand: tickets in the flow: A1 (placed), A2, A3; A5 has no state, A6 left out.
    # created 3, solved 1 (A3), open at start 0, backlog 0 + 3 - 1 = 2 (A1, A2)
    assert [res.value(k) for k in FLOW] == [3, 1, 2]
    assert res.value("ticket_volume") == 5               # every used row, A1 included
    # first response time over the tickets with a reply: A2, A3 and A6, 1 h each (09:00 ->
    # 10:00, 08:00 -> 09:00, 10:00 -> 11:00); A1 has no reply and is not in n
    assert res.value("first_response_time") == 1.0
    frt = res.frame("organisation", key="all")
    assert frt[frt.kpi == "first_response_time"].n.iloc[0] == 3
    # ticket volume by state, as the codes map the statuses
    vol = res.frame("state")
    vol = dict(zip(vol[vol.kpi == "ticket_volume"].key, vol[vol.kpi == "ticket_volume"].value))
    assert vol == {"open": 1, "pending": 1, "solved": 1, "closed": 1, "(no state)": 1}


def test_without_the_undated_rule_a_row_needs_a_date(desk):
    ds = load([parse_source({"name": "desk", "table": "contacts", "path": str(desk),
                             "columns": {"id": "Ticket", "created": "Created",
                                         "state": {"column": "Status", "codes": CODES}}})])
    (acc,) = ds.accounting
    assert (acc.rejected, acc.placed) == (2, 0)        # A1 and A4: no date to place them
    assert {r.reason for r in ds.rejects.items if r.action == ROW_REJECTED} == {
        "has no date to place it in a month"}


def test_a_fixed_time_and_config_problems(desk, tmp_path):
    ds = load([_source(desk, undated="2026-10-31 18:00")])
    c = ds.tables["contacts"].set_index("id")
    assert c.at["A1", "date"] == T("2026-10-31 18:00")
    assert "the time the source's undated setting gives" in ds.accounting[0].line()
    with pytest.raises(ConfigError, match="'undated' must be \"latest\""):
        _source(desk, undated="yesterday")
    with pytest.raises(ConfigError, match="without a UTC offset"):
        _source(desk, undated="2026-10-31T18:00+02:00")
    with pytest.raises(ConfigError, match="must map 'state'"):
        parse_source({"table": "contacts", "path": str(desk), "undated": "latest",
                      "columns": {"id": "Ticket", "created": "Created"}})
    with pytest.raises(ConfigError, match="applies to contacts sources"):
        parse_source({"table": "surveys", "path": str(desk), "undated": "latest",
                      "columns": {"id": "Ticket", "date": "Created"}})


def test_zendesk_preset_maps_states_and_gives_the_flow():
    """The shipped fixture (tests/fixtures/zendesk-tickets.csv, 7 tickets; 1006 is rejected
    for its 'Fax' channel). By hand, October 2026: open at its start 1005 (created 30 Sep
    23:50, solved 1 Oct 00:20) = 1; created 1001, 1002, 1003, 1004, 1007 = 5; solved 1001,
    1002, 1005, 1007 = 4; backlog 1 + 5 - 4 = 2 (1003 Pending, 1004 New)."""
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "zendesk-tickets.csv"
    ds = load([parse_source({"preset": "zendesk", "path": str(path)})])
    c = ds.tables["contacts"].set_index("id")
    assert c["state"].to_dict() == {"1001": "solved", "1002": "solved", "1003": "pending",
                                    "1004": "open", "1005": "closed", "1007": "solved"}
    res = Engine(ds.tables, kpis=FLOW).compute("2026-10", 0)
    assert [res.value(k) for k in FLOW] == [5, 4, 2]
    assert Engine(ds.tables).period_totals("2026-10", 0).tickets_open_start.iloc[0] == 1
