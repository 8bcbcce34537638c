"""Dimensions, pairs of levels and periods other than the month, in the engine: every
bound KPI variant, per member of a declared dimension (``topic``), per pair (``team ×
channel``, ``topic × channel``), per ISO week and per quarter, equals the Excel function on
the same rows (the rows are chosen here with pandas from each row's date, independently of
the engine's SQL). The period totals follow the period: flows summed over a quarter's
months, stocks from its first or last month, nothing for a week."""

from __future__ import annotations

import math

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.engine import BINDINGS, Engine, KpiChoice  # noqa: E402
from kpi_xl.periods import Period  # noqa: E402

from test_engine import ROW_KPIS, canonical_tables  # noqa: E402
from test_engine import _check as check_rows  # noqa: E402

TOPICS = ["Billing", "Admin Support", "Technical"]


def dated(seed: int = 7):
    """The engine tests' tables with a timestamp per row inside its month, and a topic on
    contacts and surveys (blank on some rows, as when a source does not map it)."""
    t = canonical_tables(seed)
    rng = np.random.default_rng(seed + 1)
    for name in ("contacts", "surveys", "qa"):
        df = t[name].copy()
        first = pd.to_datetime(df["period"] + "-01")
        days = first.dt.days_in_month.to_numpy()
        offset = (rng.random(len(df)) * days * 86400).astype("int64")
        df["date"] = first + pd.to_timedelta(offset, unit="s")
        if name == "qa":         # an evaluation's items share its date
            df["date"] = df.groupby("evaluation")["date"].transform("first")
        if name in ("contacts", "surveys"):
            df["topic"] = rng.choice([*TOPICS, None], len(df), p=[0.3, 0.3, 0.3, 0.1])
        t[name] = df
    return t


@pytest.fixture(scope="module")
def tables():
    return dated()


def _in(df, period: Period):
    d = df["date"]
    return df[(d >= pd.Timestamp(period.start)) & (d < pd.Timestamp(period.end))]


def _check(res, key, variant, frame, b, params, history):
    """test_engine's check, with each period's rows chosen by their dates."""
    by_label = {p.label: p for p in history}
    return check_rows(res, key, variant, frame, b, params,
                      in_period=lambda df, label: _in(df, by_label[label]))


def _clean(tables, key, choices):
    """The tables without the rows that break the KPI's input rules (the engine leaves
    them out of that KPI; the Excel function would refuse them)."""
    bad = Engine(tables, kpis=[key], choices=choices).check()
    tables = dict(tables)
    for problems in bad.values():
        for src, rows in problems.groupby("_table"):
            tables[src] = tables[src][~tables[src]._row.isin(rows._row)]
    return tables


def _frame(tables, b):
    if b.table == "surveys":
        s, c = tables["surveys"], tables["contacts"]
        return pd.concat([s, c[c.nps.notna() | c.csat.notna()]], ignore_index=True)
    return tables[b.table]


@pytest.mark.parametrize("key,variant", ROW_KPIS)
def test_weekly_by_dimension_and_pairs_equal_excel_function(tables, key, variant):
    b = BINDINGS[key]
    params = {"max_score": 5} if key == "qa_score" else {}
    choices = {key: KpiChoice(variant=variant, params=params)}
    week = Period.parse("2026-W41")
    eng = Engine(tables, kpis=[key], choices=choices, dimensions=["topic"],
                 pairs=[("team", "channel"), ("topic", "channel")])
    res = eng.compute(week, count=4)
    assert res.grain == "week" and res.month == "2026-W41"
    assert res.periods == ["2026-W37", "2026-W38", "2026-W39", "2026-W40", "2026-W41"]
    clean = _clean(tables, key, choices)
    levels = _check(res, key, variant, _frame(clean, b), b, params, week.back(4))
    if b.table in ("contacts", "surveys"):
        assert {"topic", "team × channel", "topic × channel"} <= levels, levels
    else:       # QA rows have no topic and no channel: only the levels they have
        assert levels <= {"organisation", "team", "agent"}


@pytest.mark.parametrize("key,variant", [kv for kv in ROW_KPIS if kv[1] ==
                                         CATALOG[kv[0]].variants[0].name])
def test_quarter_equals_excel_function(tables, key, variant):
    b = BINDINGS[key]
    params = {"max_score": 5} if key == "qa_score" else {}
    choices = {key: KpiChoice(variant=variant, params=params)}
    q = Period.parse("2026-Q3")             # July to September: August and September rows
    res = Engine(tables, kpis=[key], choices=choices, dimensions=["topic"]).compute(q)
    assert res.periods == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert set(res.table.period.astype(str)) == {"2026-Q3"}
    _check(res, key, variant, _frame(_clean(tables, key, choices), b), b, params, q.history())


def test_monthly_run_from_dates_equals_the_loader_period_column(tables):
    """A monthly run places rows by the ``period`` column; from their dates alone it
    places them the same (the loader's column is the month of the date)."""
    by_column = Engine(tables).compute("2026-10", 2).table
    no_period = {k: (v.drop(columns="period") if k in ("contacts", "surveys", "qa") else v)
                 for k, v in tables.items()}
    by_date = Engine(no_period).compute("2026-10", 2).table
    pd.testing.assert_frame_equal(by_column, by_date)


def test_business_figures_add_up_over_a_quarter_and_not_over_a_week(tables):
    t = dict(tables)
    b = t["business"].copy()
    b["month"] = ["2026-07", "2026-08", "2026-09"]          # one whole quarter
    t["business"] = b
    eng = Engine(t)
    q = eng.period_totals("2026-Q3", 1).set_index("period").loc["2026-Q3"]
    # from the fixture: start 1000 (July, the first month), end 5 (September, the last),
    # costs 9e4 + 9.5e4 + 1e5, new customers 40 + 50 + 5
    assert q["customers_start"] == 1000 and q["customers_end"] == 5
    assert q["total_cost"] == 9e4 + 9.5e4 + 1e5 and q["customers_new"] == 95
    assert q["customers_lost"] == 1000 + 95 - 5
    # 2026-Q2 has no business rows: no figures, never a partial sum
    q2 = eng.period_totals("2026-Q3", 1).set_index("period").loc["2026-Q2"]
    assert math.isnan(q2["total_cost"])
    res = eng.compute("2026-Q3", 1)
    assert res.value("cost_per_contact", period="2026-Q3") == pytest.approx(
        (9e4 + 9.5e4 + 1e5) / q["contacts_handled"])
    assert "2026-Q2" not in set(res.table[res.table.kpi == "cost_per_contact"].period.astype(str))
    # a quarter with one month missing a flow has no value for it
    b2 = b.copy()
    b2.loc[1, "total_cost"] = np.nan
    t["business"] = b2
    q = Engine(t).period_totals("2026-Q3", 0).set_index("period").loc["2026-Q3"]
    assert math.isnan(q["total_cost"]) and q["customers_new"] == 95
    wk = Engine(tables).compute("2026-W40", 1)
    assert "whole months" in wk.skipped["cost_per_contact"]
    assert wk.value("contacts_per_agent", period="2026-W40") is not None


def test_headcounts_follow_the_period(tables):
    t = Engine(tables).period_totals("2026-Q3", 0).set_index("period").loc["2026-Q3"]
    # roster by hand: on 1 Jul ana, cy, dee, eve (ben hired 15 Sep) = 4; on 30 Sep ana,
    # ben, dee, eve (cy's last day is 30 Sep) = 4; cy left within the quarter = 1
    assert (t["headcount_start"], t["headcount_end"], t["leavers"]) == (4, 4, 1)
    w = Engine(tables).period_totals("2026-W42", 0).set_index("period").loc["2026-W42"]
    # week 42 = 12-18 Oct: eve's last day is 12 Oct, so she starts the week and leaves in it
    assert (w["headcount_start"], w["headcount_end"], w["leavers"]) == (4, 3, 1)


def test_rows_without_a_date_cannot_be_placed_in_weeks(tables):
    no_date = {k: (v.drop(columns="date") if k in ("contacts", "surveys", "qa") else v)
               for k, v in tables.items()}
    res = Engine(no_date).compute("2026-W40", 1)
    assert res.skipped["aht"] == "the contacts data has no 'date' column to place its rows in weeks"
    assert Engine(no_date).compute("2026-10", 1).value("aht") is not None


def test_sql_shows_the_period_totals_and_the_period_bounds(tables):
    sql = Engine(tables, dimensions=["topic"], pairs=[("team", "channel")]).sql("2026-W40", 1)
    assert "CROSS JOIN src_roster" in sql["period"] and "VALUES" in sql["period"]
    assert "TIMESTAMP '2026-09-28 00:00:00'" in sql["contacts"]
    assert 'GROUPING("team") = 0 AND GROUPING("channel") = 0' in sql["contacts"]
    # the totals are rendered in the dialect too (PostgreSQL has no type named DOUBLE)
    s = Engine(tables).sql("2026-Q3", 1, dialect="postgres")["period"]
    assert "AS DOUBLE PRECISION)" in s and "AS DOUBLE)" not in s


def test_results_filter_by_dimension_member(tables):
    res = Engine(tables, dimensions=["topic"]).compute("2026-10", 0)
    assert res.members("topic") == sorted([*TOPICS, "(no topic)"])
    f = res.frame("topic", key="Billing")
    assert set(f.kpi.astype(str)) >= {"aht", "nps", "csat"}
    c = tables["contacts"]
    billing = c[(c.period == "2026-10") & (c.topic == "Billing")]
    assert res.value("ticket_volume", "topic", "Billing") == len(billing)


@pytest.mark.parametrize("label,fiscal,count", [
    ("2026-10-05", 1, 13),                   # a day and the 13 before it
    ("2026", 1, 1),                          # a calendar year
    ("2026-08-15..2026-10-14", 1, 1),        # a custom range and the one before it
    ("FY2027-Q1", 4, 2),                     # April-June 2026 with a fiscal year from April
    ("FY2027", 7, 1),                        # July 2026 - June 2027
])
@pytest.mark.parametrize("key", ["service_level", "nps", "qa_score"])
def test_every_grain_equals_excel_function(tables, label, fiscal, count, key):
    b = BINDINGS[key]
    params = {"max_score": 5} if key == "qa_score" else {}
    choices = {key: KpiChoice(params=params)}
    p = Period.parse(label, fiscal_start=fiscal)
    eng = Engine(tables, kpis=[key], choices=choices, dimensions=["topic"], fiscal_start=fiscal)
    res = eng.compute(label, count)
    assert res.month == label and res.periods == [x.label for x in p.back(count)]
    frame = _frame(_clean(tables, key, choices), b)
    if not any(len(_in(frame, x)) for x in p.back(count)):
        assert res.table[res.table.kpi == key].empty
        return
    _check(res, key, CATALOG[key].variants[0].name, frame, b, params, p.back(count))


def test_annualised_turnover_follows_the_period_length(tables):
    """Agent turnover is annualised from the period's months (catalog: × 12 / months):
    a quarter is 3 months, never 1; a week is not made of whole months, so it has no
    annualised figure (before, a quarter's turnover came out 3× too high and a week's was
    annualised as if it were a month)."""
    res = Engine(tables).compute("2026-Q3", 0)
    t = Engine(tables).period_totals("2026-Q3", 0).set_index("period").loc["2026-Q3"]
    # by hand from the roster (see test_headcounts_follow_the_period): 1 leaver, 4 and 4
    assert (t["leavers"], t["headcount_start"], t["headcount_end"]) == (1, 4, 4)
    assert res.value("agent_turnover") == pytest.approx(1 / 4 * 12 / 3)
    wk = Engine(tables).compute("2026-W40", 1)
    assert wk.skipped["agent_turnover"] == ("it is annualised from whole months, and a week "
                                           "is not made of whole months")
    month = Engine(tables).compute("2026-10", 0)
    assert month.value("agent_turnover") is not None
