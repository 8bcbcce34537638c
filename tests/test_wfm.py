"""The WFM adherence export (issue 17, section 2): the ``wfm`` table read through the
``generic-wfm`` preset, every row used or rejected with a reason, the checks between its
columns, and occupancy, utilisation, schedule adherence and shrinkage in the engine at
organisation, team and agent level, worked out by hand from the fixture.

The fixture (tests/fixtures/wfm-adherence.csv, described in tests/fixtures/README.md) in
seconds, October: row 2 ana 1 Oct scheduled 28800, in adherence 25920, handling 18000,
available 3600, paid 30600; row 3 ben 1 Oct 28800, 27360, 14400, 7200, 30600; row 4 ana 2 Oct
28800, 29400 (above scheduled: ignored), 19800, 1800, 30600; row 5 ben 2 Oct 14400, 13680,
10800, 5400, paid 14400 (short of 10800 + 5400: ignored); row 9 cy 3 Oct 28800, 25200,
handling -600 (ignored), 3600, 30600. Row 10 is cy on 30 September."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.data.load import load  # noqa: E402
from kpi_xl.data.rejects import ROW_REJECTED, VALUE_IGNORED  # noqa: E402
from kpi_xl.data.sources import parse_source  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "wfm-adherence.csv"


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    roster = tmp_path_factory.mktemp("wfm") / "roster.csv"
    roster.write_text("agent,team\nana,North\nben,North\ncy,South\n")
    return load([parse_source({"preset": "generic-wfm", "path": str(FIXTURE)}),
                 parse_source({"preset": "generic-roster", "path": str(roster)})])


def test_every_row_is_used_or_rejected_with_a_reason(ds):
    assert ds.ok, ds.problems
    acc = next(a for a in ds.accounting if a.file == FIXTURE.name)
    # rows 6 (no agent), 7 (no such date) and 8 (ana's 1 October again) rejected
    assert (acc.read, acc.used, acc.rejected, acc.values_ignored) == (9, 6, 3, 3)
    got = {(r.row, r.column): (r.action, r.value) for r in ds.rejects.items}
    assert got == {
        (6, "Agent"): (ROW_REJECTED, ""),
        (7, "Date"): (ROW_REJECTED, "2026-13-45"),
        (8, "Date"): (ROW_REJECTED, "2026-10-01"),
        (4, "In Adherence"): (VALUE_IGNORED, "8:10:00"),
        (5, "Paid"): (VALUE_IGNORED, "4:00:00"),
        (9, "Handling"): (VALUE_IGNORED, "-600"),
    }
    why = {r.row: r.reason for r in ds.rejects.items}
    assert "row 2" in why[8] and "one row per agent and day" in why[8]
    assert "more than the scheduled time" in why[4]
    assert "less than handling + available" in why[5]


def test_shrinkage_is_derived_and_teams_come_from_the_roster(ds):
    w = ds.tables["wfm"].set_index("_row")
    assert w.loc[2, "shrinkage"] == 30600 - 18000 - 3600
    assert pd.isna(w.loc[5, "shrinkage"])          # its paid time was left out
    assert pd.isna(w.loc[9, "shrinkage"])          # its handling time was left out
    assert list(w.team) == ["North", "North", "North", "North", "South", "South"]
    assert list(w.period) == ["2026-10"] * 5 + ["2026-09"]


def test_kpis_by_hand(ds):
    res = Engine(ds.tables).compute("2026-10", 1)

    def v(key, level="organisation", member=None):
        return res.value(key, level, member) if member else res.value(key)

    # schedule adherence: rows 2, 3, 5, 9 (row 4's in-adherence time left out)
    assert v("schedule_adherence") == pytest.approx(
        (25920 + 27360 + 13680 + 25200) / (28800 + 28800 + 14400 + 28800), rel=1e-12)
    assert v("schedule_adherence", "team", "North") == pytest.approx(66960 / 72000, rel=1e-12)
    assert v("schedule_adherence", "agent", "ana") == pytest.approx(0.9, rel=1e-12)
    assert v("schedule_adherence", "agent", "ben") == pytest.approx(41040 / 43200, rel=1e-12)
    # occupancy: rows 2-5 (row 9's handling left out): 63000 / (63000 + 18000) = 7/9
    assert v("occupancy") == pytest.approx(7 / 9, rel=1e-12)
    assert v("occupancy", "agent", "ana") == pytest.approx(37800 / 43200, rel=1e-12)
    assert v("occupancy", "agent", "ben") == pytest.approx(2 / 3, rel=1e-12)
    # utilisation and shrinkage: rows 2-4 (row 5's paid, row 9's handling left out)
    assert v("utilisation") == pytest.approx(52200 / 91800, rel=1e-12)     # 29/51
    assert v("shrinkage") == pytest.approx(27000 / 91800, rel=1e-12)       # 5/17
    # on the same days, utilisation = occupancy x (1 - shrinkage)
    assert v("utilisation") == pytest.approx(52200 / 64800 * (1 - 5 / 17), rel=1e-12)
    # cy has one October day, without handling time: no occupancy, with the reason
    assert v("occupancy", "agent", "cy") is None
    assert v("schedule_adherence", "team", "South") == pytest.approx(25200 / 28800)
    # September: cy's one day
    assert res.value("occupancy", period="2026-09") == pytest.approx(21600 / 25200)


def test_without_a_wfm_export_the_kpis_say_why():
    res = Engine({"roster": pd.DataFrame({"agent": ["a"], "team": ["t"]})}).compute("2026-10", 0)
    assert res.skipped["occupancy"] == "no WFM (adherence export) data was loaded"


def test_an_export_without_paid_time_gives_the_adherence_kpis_only(tmp_path):
    f = tmp_path / "adherence.csv"
    f.write_text("Agent,Date,Scheduled,In Adherence\nana,2026-10-01,8:00:00,7:00:00\n")
    ds = load([parse_source({"preset": "generic-wfm", "path": str(f)})])
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("schedule_adherence") == pytest.approx(7 / 8)
    assert res.skipped["occupancy"] == ("the WFM (adherence export) data has no 'handling' "
                                        "or 'available' column")
    assert res.skipped["shrinkage"] == ("the WFM (adherence export) data has no 'shrinkage' "
                                        "or 'paid' column")


def test_out_of_adherence_gives_in_adherence(tmp_path):
    f = tmp_path / "adherence.csv"
    f.write_text("Agent,Date,Scheduled,Out of Adherence\nana,2026-10-01,8:00:00,0:48:00\n"
                 "ben,2026-10-01,1:00:00,2:00:00\n")
    ds = load([parse_source({"table": "wfm", "path": str(f), "by_name": True,
                             "columns": {"out_of_adherence": "Out of Adherence"}})])
    w = ds.tables["wfm"].set_index("agent")
    assert w.loc["ana", "in_adherence"] == 8 * 3600 - 48 * 60
    assert pd.isna(w.loc["ben", "in_adherence"])     # out of adherence above scheduled
    (r,) = ds.rejects.items
    assert (r.row, r.column, r.action) == (3, "Out of Adherence", VALUE_IGNORED)


def test_a_month_without_wfm_rows_is_refused(ds):
    """The guards count a WFM export's agent-days like a contact export's rows: a month it
    does not cover stops the run (the fixture has September and October only)."""
    from kpi_xl.run.guards import check

    rep = check(ds, "2026-11")
    assert any(r.startswith("wfm-adherence.csv (generic-wfm) has no WFM agent-day rows in")
               for r in rep.refusals), rep.refusals
    # October has its agent-days (the fixture's bad rows are refused for what they are)
    october = check(ds, "2026-10").refusals
    assert not any("agent-day rows" in r for r in october)
    assert any("rejects 3 of its 9 rows" in r for r in october)


def test_postgres_gives_the_duckdb_values(postgres):
    """The WFM KPIs' SQL (sums of times per group, guarded ratios) on a real PostgreSQL
    server, against embedded DuckDB, on the engine tests' agent-days (three months, every
    level, blanks and an agent-day with neither handling nor available time)."""
    from test_engine import canonical_tables

    t = canonical_tables()
    tables = {"wfm": t["wfm"].drop(columns="_row")}
    keys = ["occupancy", "utilisation", "schedule_adherence", "shrinkage"]
    cols = ["period", "level", "key", "kpi"]
    duck = Engine(tables, kpis=keys).compute("2026-10", 2).table.sort_values(cols)
    pg = Engine(tables, kpis=keys, backend=postgres).compute("2026-10", 2).table
    pg = pg.sort_values(cols)
    assert len(duck) == len(pg) > 4 * 3 * 4
    assert (duck[cols].to_numpy() == pg[cols].to_numpy()).all()
    assert np.allclose(duck.value.to_numpy(float), pg.value.to_numpy(float), rtol=1e-12,
                       equal_nan=True)
    assert list(duck.note.fillna("")) == list(pg.note.fillna(""))


def test_kpi_xl_map_guesses_a_wfm_export(tmp_path):
    """``kpi-xl map`` tells an adherence export by its headers and maps its times."""
    import tomllib

    from kpi_xl.data.guess import map_file

    f = tmp_path / "adherence.csv"
    f.write_text("Agent Name,Date,Scheduled Time,Time In Adherence,Handle Time,Idle Time,"
                 "Paid Hours\nana,2026-10-01,8:00:00,7:30:00,5:00:00,1:00:00,8:30:00\n"
                 "ben,2026-10-01,4:00:00,3:00:00,2:00:00,0:45:00,4:00:00\n")
    text, problems = map_file(f)
    assert problems == []
    src = tomllib.loads(text)["sources"][0]
    assert src["table"] == "wfm"
    assert {k: (v if isinstance(v, str) else v["column"]) for k, v in src["columns"].items()} \
        == {"agent": "Agent Name", "date": "Date", "scheduled": "Scheduled Time",
            "in_adherence": "Time In Adherence", "handling": "Handle Time",
            "available": "Idle Time", "paid": "Paid Hours"}
    ds = load([parse_source({**src, "path": str(f)})])
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("schedule_adherence") == pytest.approx(10.5 / 12)
    assert res.value("shrinkage") == pytest.approx((12.5 - 7 - 1.75) / 12.5)
