"""The engine walks the catalog: on the same rows, every bound KPI and every variant gives
what the Excel functions' renderer (``kpi_xl.render.arrays.compute``) gives, at every
level and period, including the reason when there is no value.

The expected numbers are not typed in: they are the numpy renderer's, which is itself held
to sourced vectors in test_vectors.py. Hand-derived engine values are in test_bank_acd.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.engine import BINDINGS, NOT_IN_ENGINE, PAIR, Engine, KpiChoice, months_back  # noqa: E402
from kpi_xl.engine.bindings import SUMMED  # noqa: E402
from kpi_xl.errors import KpiError  # noqa: E402
from kpi_xl.render.arrays import compute  # noqa: E402
from kpi_xl.render.sql import NotRenderable, render_kpi  # noqa: E402

PERIODS = ["2026-08", "2026-09", "2026-10"]


def canonical_tables(seed: int = 7, n: int = 600):
    """Small canonical tables with blanks where real exports have them."""
    rng = np.random.default_rng(seed)
    answered = rng.choice([1.0, 0.0, np.nan], n, p=[0.6, 0.15, 0.25])   # nan: a ticket
    is_call = ~np.isnan(answered)
    wait = np.where(is_call, rng.exponential(25, n).round(), np.nan)
    handled = np.where(is_call, answered, 1.0)
    on = handled == 1

    def maybe(values, p_blank=0.1):
        v = values.astype(float)
        v[rng.random(n) < p_blank] = np.nan
        return v

    contacts = pd.DataFrame({
        "period": rng.choice(PERIODS, n),
        "team": rng.choice(["North", "South", None], n, p=[0.45, 0.45, 0.1]),
        "agent": np.where(on, rng.choice(["ana", "ben", "cy", "dee"], n), None),
        "channel": np.where(is_call, "phone", rng.choice(["email", "chat", "social"], n)),
        "id": [f"c{i}" for i in range(n)],
        "answered": answered, "wait": wait, "handled": handled,
        "talk": np.where(on, rng.exponential(240, n).round(), np.nan),
        "hold": np.where(on, rng.exponential(20, n).round(), np.nan),
        "acw": np.where(on, rng.uniform(10, 60, n).round(), np.nan),
        "resolved": np.where(on, rng.choice([1.0, 0.0], n, p=[0.8, 0.2]), np.nan),
        "resolved_first": np.where(on, maybe(rng.choice([1.0, 0.0], n)), np.nan),
        # escalation and reopens are ticket fields; answers blank on calls
        "transferred": np.where(on, rng.choice([1.0, 0.0], n, p=[0.1, 0.9]), np.nan),
        "escalated": np.where(on & ~is_call, rng.choice([1.0, 0.0], n, p=[0.2, 0.8]), np.nan),
        "reopens": np.where(~is_call, maybe(rng.choice([0.0, 0.0, 1.0, 2.0], n)), np.nan),
        "first_response_hours": np.where(~is_call, maybe(rng.exponential(3, n)), np.nan),
        "resolution_hours": np.where(~is_call, maybe(rng.exponential(20, n), 0.3), np.nan),
        "nps": np.where(rng.random(n) < 0.3, rng.integers(0, 11, n), np.nan),
        "csat": np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), np.nan),
    })
    contacts["response_seconds"] = np.where(
        contacts.answered == 1, contacts.wait,
        np.where(contacts.answered.isna(), contacts.first_response_hours * 3600, np.nan))
    contacts.loc[rng.random(n) < 0.03, "channel"] = None      # a few contacts lack a channel
    # the tickets (contacts that are not calls) have a state and times: created in their
    # month, some solved days later (in the next month, or never), a few closed without a
    # solved time (they leave the ticket flow), one solved before it was created
    ticket = ~is_call
    created = (pd.to_datetime(contacts.period + "-01")
               + pd.to_timedelta(rng.uniform(0, 27 * 24, n), unit="h"))
    solved = created + pd.to_timedelta(rng.exponential(24 * 6, n), unit="h")
    solved = solved.where(ticket & (rng.random(n) < 0.7))
    state = np.where(solved.notna(), rng.choice(["solved", "closed"], n),
                     rng.choice(["open", "pending"], n))
    state = np.where(ticket & (rng.random(n) < 0.05) & solved.isna(), "closed", state)
    contacts["created"] = created.where(ticket)
    contacts["solved_at"] = solved
    contacts["state"] = np.where(ticket, state, None)
    first = np.flatnonzero(solved.notna().to_numpy())[0]
    contacts.loc[first, "solved_at"] = contacts.loc[first, "created"] - pd.Timedelta(hours=1)
    # rows that break one KPI's input rules, which leave that KPI only: answered calls
    # without a queue wait (ASA, service level), a negative talk time (AHT), a CSAT of 7
    # on the default 1-5 scale (CSAT)
    contacts.loc[(contacts.answered == 1) & (rng.random(n) < 0.05), "wait"] = np.nan
    contacts.loc[on & (rng.random(n) < 0.03), "talk"] = -30.0
    contacts.loc[contacts.csat.notna() & (rng.random(n) < 0.1), "csat"] = 7.0
    m = 150
    surveys = pd.DataFrame({
        "period": rng.choice(PERIODS, m), "team": rng.choice(["North", "South"], m),
        "agent": rng.choice(["ana", "ben", "cy", "dee", None], m),
        "channel": rng.choice(["phone", "email"], m),
        "ces": np.where(rng.random(m) < 0.8, rng.integers(1, 8, m), np.nan),
        "nps": np.where(rng.random(m) < 0.5, rng.integers(0, 11, m), np.nan)})
    rows = []
    for e in range(60):
        agent = ["ana", "ben", "cy", "dee"][e % 4]
        period = PERIODS[e % 3]
        for item in range(5):
            score = float(rng.integers(0, 6)) if rng.random() > 0.15 else np.nan   # nan: N/A
            if e == 7:
                score = np.nan                     # an evaluation with every item N/A
            rows.append({"period": period, "evaluation": f"E{e}", "agent": agent,
                         "team": "North" if agent in ("ana", "ben") else "South",
                         "weight": float(item + 1), "score": score,
                         "fatal": 1.0 if item == 4 else 0.0})
    qa = pd.DataFrame(rows)
    business = pd.DataFrame({
        "month": PERIODS, "customers_start": [1000.0, 1010, 0], "customers_end": [1010.0, 1030, 5],
        "customers_new": [40.0, 50, 5], "revenue_start": [5e5, 5.1e5, 5.2e5],
        "expansion": [1e4, 2e4, 0], "contraction": [5e3, 2e3, 1e3], "churned_revenue": [8e3, 1e4, 0],
        "total_cost": [9e4, 9.5e4, 1e5], "acquisition_cost": [2e4, 2.2e4, 0],
        "leads": [400.0, 0, 380], "conversions": [40.0, 0, 45], "surveys_sent": [900.0, 950, 1000],
        # budget, self-service and orders (a month with none of each: the empty case)
        "cost_budget": [1e5, 9e4, 0], "self_service_resolutions": [120.0, 0, 140],
        "assisted_resolutions": [180.0, 0, 160], "deflected_contacts": [60.0, 75, 0],
        "orders": [4e3, 0, 4.4e3],
        # margin, ROI, knowledge base, active users, outbound (months with none: the empty
        # cases; a month whose cost exceeds its revenue and benefit: the negative cases)
        "revenue": [1.2e5, 0, 9e4], "service_benefit": [1.35e5, 1e5, 0],
        "kb_searches": [4000.0, 0, 4200], "kb_failed_searches": [480.0, 0, 630],
        "dau": [3000.0, 3300, 3600], "wau": [8000.0, 8400, 8800],
        "mau": [15000.0, 0, 16000],
        "leads_dialled": [5000.0, 0, 5200], "leads_reached": [1800.0, 0, 2080],
        "outbound_calls": [13500.0, 0, 14000], "outbound_sales": [540.0, 0, 700]})
    roster = pd.DataFrame({"agent": ["ana", "ben", "cy", "dee", "eve"],
                           "team": ["North", "North", "South", "South", "South"],
                           "hired": pd.to_datetime(["2025-01-01", "2026-09-15", "2024-05-01",
                                                    "2023-01-01", "2022-01-01"]),
                           "left": pd.to_datetime([None, None, "2026-09-30", None, "2026-10-12"])})
    # a WFM export: one row per agent-day, times in seconds, blanks where a value was left
    # out (the loader's checks between columns); eve's one day has neither handling nor
    # available time (her occupancy has no value, with its reason)
    days = pd.date_range("2026-08-01", "2026-10-31", freq="D")
    wd = [(a, d) for d in days for a in ("ana", "ben", "cy", "dee") if rng.random() < 0.7]
    k = len(wd)
    paid = rng.choice([28800.0, 30600.0, 14400.0], k)
    scheduled = paid - rng.choice([0.0, 1800.0], k)
    handling = (paid * rng.uniform(0.4, 0.7, k)).round()
    available = (paid * rng.uniform(0.05, 0.2, k)).round()
    wfm = pd.DataFrame({
        "date": [d for _a, d in wd], "agent": [a for a, _d in wd],
        "scheduled": scheduled, "in_adherence": (scheduled * rng.uniform(0.8, 1.0, k)).round(),
        "handling": handling, "available": available, "paid": paid,
        "shrinkage": paid - handling - available})
    wfm["team"] = wfm.agent.map({"ana": "North", "ben": "North", "cy": "South", "dee": "South"})
    wfm.loc[rng.random(k) < 0.05, "team"] = None
    for col in ("in_adherence", "available", "paid", "scheduled"):
        wfm.loc[rng.random(k) < 0.04, col] = np.nan
    wfm.loc[wfm.paid.isna(), "shrinkage"] = np.nan
    wfm = pd.concat([wfm, pd.DataFrame({
        "date": [pd.Timestamp("2026-10-12")], "agent": ["eve"], "team": ["South"],
        "scheduled": [3600.0], "in_adherence": [3600.0], "handling": [0.0],
        "available": [0.0], "paid": [3600.0], "shrinkage": [3600.0]})], ignore_index=True)
    wfm["period"] = wfm.date.dt.strftime("%Y-%m")
    for t in (contacts, surveys, qa, wfm):
        t["_row"] = np.arange(2, len(t) + 2)
    return {"contacts": contacts, "surveys": surveys, "qa": qa, "business": business,
            "roster": roster, "wfm": wfm}


@pytest.fixture(scope="module")
def tables():
    return canonical_tables()


def test_every_kpi_is_bound_or_excluded_with_a_reason():
    for key in CATALOG:
        assert (key in BINDINGS) != (key in NOT_IN_ENGINE), key
        if key in NOT_IN_ENGINE:
            assert len(NOT_IN_ENGINE[key]) > 20
    for key, b in BINDINGS.items():
        kpi = CATALOG[key]
        assert set(b.inputs) == {i.name for i in kpi.inputs}, key


def test_planning_functions_have_no_sql():
    kpi = CATALOG["erlang_p_wait"]
    with pytest.raises(NotRenderable):
        render_kpi(kpi, kpi.default_variant, columns={},
                   scalars={"calls": "c", "aht": "a", "agents": "n"},
                   params={"interval": 1800})


def _rows(df, level, member):
    """The rows of one member of a level; a pair level (``team × channel``) is its two
    levels' members at once."""
    if level == "organisation":
        return df
    if PAIR in level:
        for lv, m in zip(level.split(PAIR), member.split(PAIR), strict=True):
            df = _rows(df, lv, m)
        return df
    col = df[level]
    if member == f"(no {level})":
        return df[col.isna()]
    return df[col == member]


def _expected(key, variant, rows, b, params=None):
    kpi = CATALOG[key]
    inputs = dict(params or {})
    for col in b.where:
        rows = rows[rows[col].notna()]
    for name, col in b.inputs.items():
        if col not in rows:
            continue
        if b.table in SUMMED:        # totals kept per row (agent-days): the group's sum
            inputs[name] = float(rows[col].sum())
            continue
        v = rows[col].to_numpy(dtype=object)
        v = [None if (x is None or (isinstance(x, float) and math.isnan(x))) else x for x in v]
        if kpi.input(name).kind == "score":
            v = ["N/A" if x is None else x for x in v]
        inputs[name] = v
    return compute(key, variant, **inputs)


def _check(results, key, variant, frame, b, params, in_period=None):
    """Every result row of ``key`` equals the Excel function on the rows of its period
    and member. ``in_period(frame, label)``: the rows of a period (default: by the
    ``period`` column). Returns the levels seen."""
    got = results.table[(results.table.kpi == key)]
    assert len(got) > 0, key
    levels = set()
    for r in got.itertuples():
        levels.add(r.level)
        rows = in_period(frame, r.period) if in_period else frame[frame.period == r.period]
        rows = _rows(rows, r.level, r.key)
        if CATALOG[key].per:
            values = []
            for _ev, unit in rows.groupby(CATALOG[key].per, sort=False):
                try:
                    values.append(_expected(key, variant, unit, b, params).value)
                except KpiError:
                    pass
            if not values:
                assert math.isnan(r.value) and r.note, (key, r)
                continue
            assert r.value == pytest.approx(sum(values) / len(values), rel=1e-12, abs=1e-12)
            assert r.n == len(values)
            continue
        try:
            want = _expected(key, variant, rows, b, params)
        except KpiError as e:
            assert math.isnan(r.value), (key, variant, r)
            assert r.note and r.note in e.text, (key, r.note, e.text)
            continue
        assert r.value == pytest.approx(want.value, rel=1e-12, abs=1e-12), (key, variant, r)
        if want.n is not None:
            assert r.n == want.n
        if want.margin is not None:
            assert r.margin == pytest.approx(want.margin, rel=1e-9)
    return levels


ROW_KPIS = [(k, v.name) for k in BINDINGS if BINDINGS[k].table != "period"
            for v in CATALOG[k].variants]


@pytest.mark.parametrize("key,variant", ROW_KPIS)
def test_engine_equals_excel_function_on_the_same_rows(tables, key, variant):
    b = BINDINGS[key]
    params = {"max_score": 5} if key == "qa_score" else {}
    choices = {key: KpiChoice(variant=variant, params=params)}
    # the engine leaves out of the KPI the rows that break its input rules: on the whole
    # tables it gives what the Excel function gives on the rows that keep those rules
    res = Engine(tables, kpis=[key], choices=choices).compute("2026-10", count=2)
    bad = Engine(tables, kpis=[key], choices=choices).check()
    tables = dict(tables)
    for problems in bad.values():
        for src, rows in problems.groupby("_table"):
            tables[src] = tables[src][~tables[src]._row.isin(rows._row)]
    eng = Engine(tables, kpis=[key], choices=choices)
    assert all(len(v) == 0 for v in eng.check().values())
    assert key not in res.skipped
    if b.table == "surveys":
        s = tables["surveys"]
        c = tables["contacts"]
        frame = pd.concat([s, c[c.nps.notna() | c.csat.notna()]], ignore_index=True)
    else:
        frame = tables[b.table]
    for flag in b.only:                  # the rows the binding keeps (handled contacts)
        frame = frame[frame[flag] == 1]
    assert len(frame) > 0
    _check(res, key, variant, frame, b, params)
    assert set(res.table.level) <= {"organisation", "team", "agent", "channel"}


PERIOD_KPIS = [k for k in BINDINGS if BINDINGS[k].table == "period"]


@pytest.mark.parametrize("key", PERIOD_KPIS)
def test_period_kpis_equal_excel_function(tables, key):
    eng = Engine(tables, kpis=[key])
    res = eng.compute("2026-10", count=2)
    assert key not in res.skipped, res.skipped
    totals = eng.period_totals("2026-10", 2).set_index("period")
    got = res.table[res.table.kpi == key]
    assert len(got) == 3
    for r in got.itertuples():
        scal = {i: totals.loc[r.period, c] for i, c in BINDINGS[key].inputs.items()}
        try:
            want = compute(key, **scal).value
        except KpiError as e:
            assert math.isnan(r.value) and r.note in e.text, (key, r)
            continue
        assert r.value == pytest.approx(want, rel=1e-12), (key, r.period)


def test_business_figures_feed_the_new_period_kpis(tables):
    """Budget variance, self-service, deflection and defect rate from the business table
    (numbers by hand from canonical_tables' business rows)."""
    keys = ["budget_variance", "self_service_rate", "deflection_rate", "defect_rate"]
    eng = Engine(tables, kpis=keys)
    res = eng.compute("2026-10", count=2)
    handled = {p: ((tables["contacts"].period == p) & (tables["contacts"].handled == 1)).sum()
               for p in PERIODS}
    # August: actual 90,000 against a budget of 100,000 -> 10 % under
    assert res.value("budget_variance", period="2026-08") == pytest.approx(-0.10)
    # August: 120 self-service of 120 + 180 resolutions
    assert res.value("self_service_rate", period="2026-08") == pytest.approx(0.4)
    # September: 75 deflected against the month's handled contacts
    assert res.value("deflection_rate", period="2026-09") == pytest.approx(
        75 / (75 + handled["2026-09"]))
    # October: handled contacts per 4,400 orders, per 1,000
    assert res.value("defect_rate", period="2026-10") == pytest.approx(
        handled["2026-10"] / 4400 * 1000)
    # empty denominators give no number, with the reason: no budget (Oct), no resolutions
    # (Sep), no orders (Sep)
    for key, period in (("budget_variance", "2026-10"), ("self_service_rate", "2026-09"),
                        ("defect_rate", "2026-09")):
        assert res.value(key, period=period) is None, (key, period)


def test_business_figures_feed_margin_roi_kb_users_and_outbound(tables):
    """Issue 17 §2: the service operation's margin and ROI, knowledge-base failed searches,
    active users and stickiness, and the outbound funnel from the business table (numbers
    by hand from canonical_tables' business rows; total cost 90,000 / 95,000 / 100,000)."""
    keys = ["service_margin", "service_roi", "kb_failed_searches", "daily_active_users",
            "weekly_active_users", "monthly_active_users", "stickiness", "contact_rate",
            "calls_per_lead", "conversion_per_call"]
    res = Engine(tables, kpis=keys).compute("2026-10", count=2)
    assert not res.skipped
    # August: (120,000 - 90,000) / 120,000 = 25 %; October: (90,000 - 100,000) / 90,000
    assert res.value("service_margin", period="2026-08") == pytest.approx(0.25)
    assert res.value("service_margin", period="2026-10") == pytest.approx(-1 / 9)
    # August: (135,000 - 90,000) / 90,000 = 50 %; October: no benefit, -100 %
    assert res.value("service_roi", period="2026-08") == pytest.approx(0.5)
    assert res.value("service_roi", period="2026-10") == pytest.approx(-1.0)
    # October: 630 of 4,200 searches found nothing
    assert res.value("kb_failed_searches", period="2026-10") == pytest.approx(0.15)
    assert res.value("daily_active_users", period="2026-09") == 3300
    assert res.value("weekly_active_users", period="2026-10") == 8800
    assert res.value("stickiness", period="2026-08") == pytest.approx(0.2)
    # October: 2,080 of 5,200 leads reached; 14,000 calls; 700 sales
    assert res.value("contact_rate", period="2026-10") == pytest.approx(0.4)
    assert res.value("calls_per_lead", period="2026-10") == pytest.approx(14000 / 5200)
    assert res.value("conversion_per_call", period="2026-10") == pytest.approx(0.05)
    # September has no revenue, no searches, no monthly actives, nothing dialled: no
    # number, and the note says why
    for key in ("service_margin", "kb_failed_searches", "stickiness", "contact_rate",
                "calls_per_lead", "conversion_per_call"):
        assert res.value(key, period="2026-09") is None, key


def test_active_users_over_a_quarter_are_its_last_months(tables):
    """Active users do not add up over months (the same user is active in several): a
    quarter shows its last month's DAU, WAU and MAU, and stickiness from those. The
    fixture's three months relabelled July to September: MAU 15,000, 0, 16,000 -> the
    quarter's 16,000 (summed it would be 31,000); DAU 3,600 -> stickiness 3,600 / 16,000."""
    b = tables["business"].assign(month=["2026-07", "2026-08", "2026-09"])
    res = Engine({"business": b}, kpis=["monthly_active_users", "daily_active_users",
                                        "stickiness"]).compute("2026-Q3", count=0)
    assert res.value("monthly_active_users", period="2026-Q3") == 16000
    assert res.value("daily_active_users", period="2026-Q3") == 3600
    assert res.value("stickiness", period="2026-Q3") == pytest.approx(3600 / 16000)


def test_period_totals_derive_counts_from_rows_and_roster(tables):
    t = Engine(tables).period_totals("2026-10", 2).set_index("period")
    c = tables["contacts"]
    oct_ = c[(c.period == "2026-10") & (c.handled == 1)]
    assert t.loc["2026-10", "contacts_handled"] == len(oct_)
    assert t.loc["2026-10", "agents_active"] == oct_.agent.nunique()
    # the handled contacts marked resolved (cost per resolution's denominator)
    assert t.loc["2026-10", "contacts_resolved"] == (oct_.resolved == 1).sum()
    # roster by hand: on 1 Sep: ana, cy, dee, eve (ben hired 15 Sep) = 4; cy leaves 30 Sep
    assert t.loc["2026-09", "headcount_start"] == 4
    assert t.loc["2026-09", "leavers"] == 1
    # on 30 Sep: ana, ben, dee, eve (cy's last day is that day: not counted at the end)
    assert t.loc["2026-09", "headcount_end"] == 4
    assert t.loc["2026-10", "leavers"] == 1       # eve, 12 Oct
    # business: customers lost = start + new - end, when not given
    assert t.loc["2026-08", "customers_lost"] == 1000 + 40 - 1010


def test_results_hold_every_level_period_and_status(tables):
    res = Engine(tables).compute("2026-10", count=2)
    t = res.table
    assert set(t.period) == set(PERIODS)
    assert set(t.level) == {"organisation", "team", "agent", "channel"}
    assert "(no team)" in set(t[t.level == "team"]["key"])
    assert res.value("nps") is not None
    assert set(t.status) <= {"on target", "off target", ""}
    assert not t[["period", "level", "key", "kpi"]].duplicated().any()
    assert res.skipped == {}


def test_targets_and_min_n_per_choice(tables):
    res = Engine(tables, kpis=["aht"], choices={"aht": KpiChoice(
        target=100.0, targets={"North": 1000.0}, min_n=10_000)}).compute("2026-10", 0)
    t = res.table
    assert set(t[t["key"] == "North"].target) == {1000.0}
    assert set(t[t["key"] == "all"].target) == {100.0}
    assert t.low_sample.all()


def test_missing_columns_skip_with_reason():
    c = pd.DataFrame({"period": ["2026-10"], "answered": [1.0]})
    res = Engine({"contacts": c}).compute("2026-10", 0)
    assert res.value("answered_rate") == 1.0
    assert "'wait'" in res.skipped["asa"]
    assert res.skipped["nps"] == "no surveys data was loaded"


def test_months_back():
    assert months_back("2026-02", 3) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert len(months_back("2026-10", 12)) == 13
    with pytest.raises(ValueError, match="2026-10"):
        months_back("10/2026", 1)


def test_sql_is_plain_and_guarded(tables):
    sql = Engine(tables).sql("2026-10", 1)
    assert set(sql) >= {"contacts", "surveys", "qa:qa_score", "period"}
    for text in sql.values():
        assert "GROUPING SETS" in text or "period_totals" in text
        assert " / 0" not in text


def test_status_array_is_the_catalog_rule():
    from kpi_xl.catalog.spec import status
    from kpi_xl.engine.results import status_array

    values = np.array([0.5, 0.8, 0.9, np.nan, 0.8])
    targets = np.array([0.8, 0.8, 0.8, 0.8, np.nan])
    for direction in ("higher", "lower", "neutral"):
        got = status_array(values, targets, direction)
        want = [status(None if np.isnan(v) else v, None if np.isnan(t) else t, direction)
                for v, t in zip(values, targets, strict=True)]
        assert list(got) == want


@pytest.mark.parametrize("dialect", ["postgres", "spark"])
def test_sql_in_other_dialects_parses_there(tables, dialect):
    """The engine's SQL, written for PostgreSQL or Spark SQL, parses in that dialect
    (sqlglot's parser). It is the same text but for identifier quotes and type names."""
    sqlglot = pytest.importorskip("sqlglot")
    for name, text in Engine(tables).sql("2026-10", 1, dialect=dialect).items():
        tree = sqlglot.parse_one(text, read=dialect)
        assert tree is not None, name
        assert ('"' in text) == (dialect == "postgres") or name == "period"


def test_postgres_sql_gives_the_same_answer_on_duckdb(tables):
    """DuckDB also reads the PostgreSQL spelling (DOUBLE PRECISION): same numbers."""
    eng = Engine(tables)
    a = eng.sql("2026-10", 1)["contacts"]
    b = eng.sql("2026-10", 1, dialect="postgres")["contacts"]
    assert a != b
    x = eng.con.execute(a).df().sort_values(["period", "level", "member"]).reset_index(drop=True)
    y = eng.con.execute(b).df().sort_values(["period", "level", "member"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(x, y)
    with pytest.raises(ValueError, match="dialect must be one of"):
        eng.sql("2026-10", 1, dialect="oracle")


def test_a_column_blank_on_every_row_does_not_lend_its_variant_to_another_kpi():
    """An empty result part (reopen rate over a 'reopens' column blank on every row) was
    read as the catalog's first KPI (NPS), which then took reopen rate's variant 'solved'
    and stopped the run with NPS's error."""
    t = pd.DataFrame({"period": ["2026-10", "2026-10"], "id": ["a", "b"],
                      "channel": ["phone", "phone"], "answered": [1.0, 0.0],
                      "wait": [10.0, 3.0], "handled": [1.0, 0.0],
                      "resolved": [np.nan, np.nan], "reopens": [np.nan, np.nan],
                      "nps": [9.0, np.nan], "_row": [0, 1]})
    res = Engine({"contacts": t}).compute("2026-10", 0)
    assert res.value("nps") == 100.0
    assert res.table[res.table.kpi == "nps"]["variant"].unique().tolist() == ["standard"]
    assert res.value("reopen_rate") is None


def test_share_of_handled_contacts_counts_handled_contacts_only():
    """Transfer and escalation rate are declared "per handled contact" (the catalog's
    inputs; their variant is "handled"); FCR is declared over all contacts. Before: the engine counted every row with the
    flag, so an ACD export marking abandoned calls transferred = N put them in the
    denominator: 2 transferred of 4 answered calls, plus 4 abandoned marked N, gave
    2 / 8 = 25 % instead of 2 / 4 = 50 % (by hand)."""
    answered = [1.0] * 4 + [0.0] * 4
    t = pd.DataFrame({"period": ["2026-10"] * 8, "id": list("abcdefgh"),
                      "channel": ["phone"] * 8, "answered": answered,
                      "wait": [10.0] * 8, "handled": answered,
                      "transferred": [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                      "escalated": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                      "resolved_first": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                      "_row": range(8)})
    res = Engine({"contacts": t}).compute("2026-10", 0)
    assert res.value("transfer_rate") == pytest.approx(0.5)
    assert res.value("escalation_rate") == pytest.approx(0.25)
    assert res.value("fcr") == pytest.approx(3 / 8)          # over all contacts, as declared


def test_missing_figures_are_named_in_a_managers_words():
    """Issue 16 §6: the scorecard's note for a KPI without its figures names them in plain
    words, once, not as canonical column names ("no 'revenue_start' figure was loaded")."""
    c = pd.DataFrame({"period": ["2026-10"], "answered": [1.0]})
    b = pd.DataFrame({"month": ["2026-10"], "total_cost": [1000.0]})
    res = Engine({"contacts": c, "business": b}).compute("2026-10", 0)
    # nrr needs revenue_start, expansion, contraction and churned_revenue: none loaded
    assert res.skipped["nrr"] == ("no starting revenue, expansion revenue, contraction "
                                  "revenue or churned revenue figures were loaded")
    assert res.skipped["budget_variance"] == "no cost budget figures were loaded"
    assert "'" not in res.skipped["self_service_rate"]
    # every business column has its words (a new column without them fails here)
    from kpi_xl.data.schema import BUSINESS
    from kpi_xl.engine.totals import FIGURE_WORDS
    assert {col.name for col in BUSINESS.columns if col.name != "month"} <= set(FIGURE_WORDS)


@pytest.fixture(scope="module")
def demo_tables():
    from kpi_xl.demo_data import sample_tables
    return sample_tables("2026-10")


@pytest.mark.parametrize("key,variant", [("time_to_resolution", "mean"),
                                         ("time_to_resolution", "median"),
                                         ("first_response_time", "mean"),
                                         ("ticket_volume", "count")])
def test_per_channel_kpis_are_the_channel_level_on_the_demo(demo_tables, key, variant):
    """Issue 17 §2: average resolution time per channel, and social-media response time
    and volume, are time to resolution, first response time and ticket volume at the
    channel level, not KPIs of their own. On the demo's contacts, the engine's value for
    each channel equals the Excel function on that channel's rows (the expected numbers
    are the numpy renderer's, held to sourced vectors in test_vectors.py)."""
    choices = {key: KpiChoice(variant=variant)}
    res = Engine(demo_tables, kpis=[key], choices=choices).compute("2026-10", count=0)
    got = res.table[(res.table.kpi == key) & (res.table.level == "channel")]
    c = demo_tables["contacts"]
    c = c[c.period == "2026-10"]
    (name, col), = BINDINGS[key].inputs.items()
    channels = set()
    for r in got.itertuples():
        rows = [None if isinstance(x, float) and math.isnan(x) else x
                for x in c[c.channel == r.key][col]]
        want = compute(key, variant, **{name: rows})
        assert r.value == pytest.approx(want.value, rel=1e-12), (key, r.key)
        assert r.n == want.n
        channels.add(r.key)
    # social and email have tickets (phone calls have no resolution or first-reply time)
    assert {"social", "email", "chat"} <= channels
