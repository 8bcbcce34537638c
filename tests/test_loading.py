"""Loading loses nothing: every row used or rejected with file, row, column, value and a
reason a manager understands; malformed files are named, never a traceback."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.data.hours import BusinessHours, business_seconds  # noqa: E402
from kpi_xl.data.load import LoadOptions, RubricItem, load  # noqa: E402
from kpi_xl.data.rejects import LEFT_OUT, ROW_REJECTED, VALUE_IGNORED  # noqa: E402
from kpi_xl.data.sources import ConfigError, parse_source, preset_names  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def src(path, preset=None, **kw):
    spec = {"path": str(path), **kw}
    if preset:
        spec["preset"] = preset
    return parse_source(spec)


def rejects_by_row(ds):
    """(row, column) -> (action, reason, value) of the first report line there."""
    out = {}
    for r in ds.rejects.items:
        out.setdefault((r.row, r.column), (r.action, r.reason, r.value))
    return out


# ------------------------------------------------------------------ generic CSV
GENERIC = (
    "id;date;channel;agent;answered;wait;talk;csat\r\n"
    "c1;2026-10-01 09:00:00;phone;Ana;Y;12;300;5\r\n"
    "c2;2026-10-01 09:05:00;Phone;Ana;N;40;;\r\n"                     # abandoned
    "c3;2026-10-01 09:10:00;fax;Ben;Y;5;200;\r\n"                     # unknown channel
    "c4;;phone;Ben;Y;5;200;\r\n"                                       # no date
    "c1;2026-10-02 10:00:00;phone;Ben;Y;8;250;\r\n"                    # duplicate id
    "c6;2026-10-02 10:00:00;phone;Ben;Y;-3;250;\r\n"                   # negative wait
    "c7;2026-10-02 11:00:00;phone;Ana;Y;9;twelve;4\r\n"               # text in a number
    "c8;2026-10-02 12:00:00;phone;Ana;maybe;9;100;\r\n"               # not a flag
    "c9;2026-10-02 12:30:00;phone;Ana;Y;9;100;7;extra\r\n"            # too many fields
    "c10;02/10/2026 13:00;phone;Ana;Y;9;100;\r\n"                     # not ISO
    "c11;2026-10-03 08:00:00;chat;\"Ana\";Y;3;\"1:02:03\";\"3\"\r\n"  # quoted, h:mm:ss
)


@pytest.fixture
def generic(tmp_path):
    path = write(tmp_path / "calls.csv", "\ufeff" + GENERIC)      # with a BOM
    return load([src(path, "generic-contacts")])


def test_generic_csv_accounts_for_every_row(generic):
    (acc,) = generic.accounting
    assert acc.read == 11 and acc.balanced
    got = rejects_by_row(generic)
    assert got[(4, "channel")][0] == ROW_REJECTED and "'fax'" not in got[(4, "channel")][1]
    assert "not a known channel" in got[(4, "channel")][1]
    assert got[(5, "date")] == (ROW_REJECTED, "'date' is blank; every row needs a date", "")
    assert got[(6, "id")][0] == ROW_REJECTED
    assert got[(6, "id")][1] == "duplicate id: first seen in calls.csv row 2"
    assert got[(7, "wait")][:2] == (VALUE_IGNORED, "'wait' is a negative duration")
    assert got[(8, "talk")][0] == VALUE_IGNORED and "is not a duration" in got[(8, "talk")][1]
    assert got[(9, "answered")][0] == ROW_REJECTED and "yes/no" in got[(9, "answered")][1]
    assert got[(10, "")][0] == ROW_REJECTED and "has 9 fields where the header has 8" in got[(10, "")][1]
    assert "ISO date" in got[(11, "date")][1] and "format" in got[(11, "date")][1]
    # used: c1, c2 (abandoned), c6 (without its wait, out of ASA and service level),
    # c7 (without its talk time), c11
    assert acc.used == 5 and acc.rejected == 6
    assert acc.values_ignored == 2                     # c6's wait, c7's talk
    assert acc.left_out == 1                           # c6


def test_negative_wait_leaves_asa_and_service_level_only_listed_once(generic):
    # the value is dropped at load; the answered call then has no wait, which ASA and
    # service level need: the row leaves those two and stays in the others, on one line
    # of the report (it was listed as 'value ignored' and again as 'row rejected')
    rows7 = [r for r in generic.rejects.items if r.row == 7]
    assert [(r.action, r.column, r.reason) for r in rows7] == [
        (VALUE_IGNORED, "wait", "'wait' is a negative duration")]
    assert rows7[0].kpis == "Average speed of answer (ASA), Service level"
    assert "c6" in set(generic.tables["contacts"]["id"])


def test_generic_values_are_typed(generic):
    c = generic.tables["contacts"].set_index("id")
    assert c.loc["c11", "talk"] == 3723.0            # 1:02:03
    assert c.loc["c11", "channel"] == "chat"
    assert c.loc["c2", "channel"] == "phone"         # case folded
    assert c.loc["c1", "date"] == pd.Timestamp("2026-10-01 09:00:00")
    assert set(c.period) == {"2026-10"}


@pytest.mark.parametrize("delim", [",", "\t", "|", ";"])
def test_any_delimiter_and_quoted_newlines(tmp_path, delim):
    rows = [["id", "date", "answered", "wait", "status"],
            ["a", "2026-10-01", "Y", "3", "line one\nline two"],
            ["b", "2026-10-01", "N", "4", 'said "hi"']]
    path = tmp_path / "x.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delim).writerows(rows)
    ds = load([src(path, "generic-contacts")])
    assert ds.problems == []
    assert ds.accounting[0].used == 2
    assert ds.tables["contacts"].status.tolist() == ["line one\nline two", 'said "hi"']


def test_cp1252_file_needs_its_encoding(tmp_path):
    path = write(tmp_path / "win.csv", "id,date,agent,answered\nx,2026-10-01,Zoë,Y\n", "cp1252")
    ds = load([src(path, "generic-contacts")])
    assert ds.problems and "not valid utf-8" in ds.problems[0] and "line 2" in ds.problems[0]
    ds = load([src(path, "generic-contacts", encoding="cp1252")])
    assert ds.tables["contacts"].agent.tolist() == ["Zoë"]


@pytest.mark.parametrize("content,words", [
    (None, "file not found"),
    ("", "empty"),
    ("   \n", "empty"),
    ("id,when,answered\nx,2026-10-01,Y\n", "that the file does not have"),
    ('id,date,answered\nx,"2026-10-01,Y\n', "malformed CSV"),
])
def test_malformed_files_are_problems_not_tracebacks(tmp_path, content, words):
    path = tmp_path / "bad.csv"
    if content is not None:
        write(path, content)
    spec = {"path": str(path), "table": "contacts",
            "columns": {"id": "id", "date": "date", "answered": "answered"}}
    ds = load([parse_source(spec)])
    assert len(ds.problems) == 1 and words in ds.problems[0]
    assert ds.problems[0].startswith("bad.csv (source 'source 1'): ")


def test_corrupt_xlsx_and_missing_sheet(tmp_path):
    bad = write(tmp_path / "broken.xlsx", "this is not a zip file")
    ds = load([src(bad, "pwc-call-centre")])
    assert "not a readable .xlsx workbook" in ds.problems[0]
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "Calls"
    wb.active.append(["id"])
    wb.save(tmp_path / "nosheet.xlsx")
    ds = load([src(tmp_path / "nosheet.xlsx", "pwc-call-centre")])
    assert "has no sheet 'Sheet1' (sheets: 'Calls')" in ds.problems[0]


def test_every_problem_of_a_run_is_reported_at_once(tmp_path):
    a = write(tmp_path / "a.csv", "")
    b = tmp_path / "b.csv"
    ds = load([src(a, "generic-contacts"), src(b, "generic-surveys")])
    assert len(ds.problems) == 2


def test_config_errors_list_everything():
    with pytest.raises(ConfigError) as e:
        parse_source({"table": "calls", "columns": {"wait": {"column": "q", "unit": "weeks"}},
                      "colour": "red"})
    text = str(e.value)
    assert "unknown setting 'colour'" in text
    assert "'table' must be one of contacts, surveys, qa, roster, business" in text
    assert "'path' is missing" in text
    with pytest.raises(ConfigError, match="unknown preset 'zendsk'"):
        parse_source({"preset": "zendsk", "path": "x.csv"})
    with pytest.raises(ConfigError, match="'colour' is not a column of the contacts table"):
        parse_source({"table": "contacts", "path": "x.csv", "columns": {"date": "d", "colour": "c"}})
    with pytest.raises(ConfigError, match="unit must be one of"):
        parse_source({"table": "contacts", "path": "x.csv",
                      "columns": {"date": "d", "wait": {"column": "w", "unit": "weeks"}}})


def test_presets_parse():
    names = preset_names()
    assert {"zendesk", "pwc-call-centre", "anonymous-bank", "support-tickets",
            "generic-contacts", "generic-surveys", "generic-qa", "generic-roster",
            "generic-business"} <= set(names)
    for n in names:
        parse_source({"preset": n, "path": "x.csv" if "bank" not in n else "x.tsv"})


# ------------------------------------------------------------------ Zendesk
def test_zendesk_export(tmp_path):
    ds = load([src(FIXTURES / "zendesk-tickets.csv", "zendesk")])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected, acc.values_ignored) == (7, 6, 1, 1)
    got = rejects_by_row(ds)
    assert got[(7, "Via")][0] == ROW_REJECTED and got[(7, "Via")][2] == "Fax"
    assert got[(8, "First reply time in minutes")][:2] == (
        VALUE_IGNORED, "'First reply time in minutes' is a negative duration")
    c = ds.tables["contacts"].set_index("id")
    assert c.loc["1001", "first_response_hours"] == pytest.approx(48 / 60)
    assert c.loc["1002", "channel"] == "chat" and c.loc["1007", "channel"] == "social"
    assert c.loc["1005", "period"] == "2026-09"                 # created 30 Sep 23:50
    res = Engine(ds.tables).compute("2026-10", 1)
    # CSAT: Good, Bad, Good answered (1001, 1002, 1005); Offered etc. are not answers.
    # In October: 1001 Good, 1002 Bad -> 1 of 2 satisfied
    assert res.value("csat") == 0.5
    assert res.value("csat", period="2026-09") == 1.0
    # resolution: Solved/Closed among handled October tickets 1001 1002 1003 1004 1007
    assert res.value("resolution_rate") == pytest.approx(3 / 5)
    assert res.value("ticket_volume", "team", "Billing") == 2
    assert res.value("ticket_volume", "team", "(no team)") == 1


# ------------------------------------------------------------------ QA, roster, surveys
def test_qa_with_rubric_and_roster(tmp_path):
    qa = write(tmp_path / "qa.csv",
               "evaluation,date,agent,evaluator,criterion,score\n"
               "E1,2026-10-03,Ana,Lee,Greeting,1\n"
               "E1,2026-10-03,Ana,Lee,Solved it,N/A\n"
               "E1,2026-10-03,Ana,Lee,ID check,1\n"
               "E2,2026-10-04,Ben,Lee,Greeting,1\n"
               "E2,2026-10-04,Ben,Lee,ID check,0\n"
               "E3,2026-10-05,Zed,Lee,Greeting,1\n"
               "E4,2026-10-05,Ana,Lee,Smile,1\n"
               "E5,2026-10-06,Ana,Lee,Greeting,\n")
    roster = write(tmp_path / "roster.csv", "agent,team,hired,left\nAna,North,2025-01-01,\n"
                   "Ben,South,2024-01-01,\nAna,South,2020-01-01,\n")
    opts = LoadOptions(rubric=(RubricItem("Greeting", 1), RubricItem("Solved it", 3),
                               RubricItem("ID check", 1, fatal=True)))
    ds = load([src(qa, "generic-qa"), src(roster, "generic-roster")], opts,
              choices={})
    got = rejects_by_row(ds)
    # Zed is not in the roster: his evaluation stays, without a team (issue 10 section 2)
    assert (7, "agent") not in got and ds.teams["qa"].unrostered == 1
    assert "not an item of the config's QA rubric" in got[(8, "criterion")][1]
    assert got[(9, "score")][1].startswith("'score' is blank")
    assert "listed twice in the roster" in got[(4, "agent")][1]
    q = ds.tables["qa"]
    assert set(q.team.dropna()) == {"North", "South"}
    res = Engine(ds.tables, kpis=["qa_score"]).compute("2026-10", 0)
    # E1: (1·1 + 1·1) / (1 + 1) = 100 % (N/A leaves the denominator); E2: fatal ID check
    # failed -> 0; E3 (Zed): Greeting 1 of 1 -> 100 %. Mean of evaluations: 2/3.
    assert res.value("qa_score") == pytest.approx(2 / 3)
    assert res.value("qa_score", "agent", "Ana") == 1.0
    assert res.value("qa_score", "team", "South") == 0.0


def test_surveys_take_agent_and_channel_from_their_contact(tmp_path):
    contacts = write(tmp_path / "c.csv", "id,date,channel,agent\nT1,2026-10-01,email,Ana\n"
                     "T2,2026-10-01,chat,Ben\n")
    surveys = write(tmp_path / "s.csv", "id,date,contact_id,nps,ces\nR1,2026-10-02,T1,10,\n"
                    "R2,2026-10-02,T2,3,6\nR3,2026-10-03,,9,\nR4,2026-10-03,T1,11,\n")
    ds = load([src(contacts, "generic-contacts"), src(surveys, "generic-surveys")])
    s = ds.tables["surveys"].set_index("id")
    assert s.loc["R1", "agent"] == "Ana" and s.loc["R2", "channel"] == "chat"
    assert "must be at most 10" in rejects_by_row(ds)[(5, "nps")][1]
    res = Engine(ds.tables, kpis=["nps"]).compute("2026-10", 0)
    # promoters R1, R3; detractor R2; R4's 11 was left out: NPS = 100·(2 − 1)/3
    assert res.value("nps") == pytest.approx(100 / 3)
    assert res.value("nps", "agent", "Ben") == -100


def test_business_figures(tmp_path):
    b = write(tmp_path / "b.csv", "month,customers_start,customers_end,customers_new,total_cost\n"
              "2026-09,1000,1010,30,50000\n2026-10,1010,1000,20,52000\n2026-10,1,1,1,1\n"
              "Oct 2026,1,1,1,1\n")
    ds = load([src(b, "generic-business")])
    got = rejects_by_row(ds)
    assert "two rows of business figures" in got[(4, "month")][1]
    assert "not a month such as 2026-10" in got[(5, "month")][1]
    res = Engine(ds.tables).compute("2026-10", 1)
    # retention (end − new) / start: (1000 − 20) / 1010
    assert res.value("retention_rate") == pytest.approx(980 / 1010)
    assert res.value("churn_rate") == pytest.approx((1010 + 20 - 1000) / 1010)
    assert "cost_per_contact" in res.skipped


# ------------------------------------------------------------------ business hours
def test_business_hours_by_hand():
    h = BusinessHours(week={d: ("09:00", "17:00") for d in ("mon", "tue", "wed", "thu", "fri")},
                      holidays=(dt.date(2026, 10, 5),))
    start = pd.Series(pd.to_datetime(["2026-10-02 16:00", "2026-10-03 10:00",
                                      "2026-10-01 08:00", "2026-10-01 10:00", None]))
    end = pd.Series(pd.to_datetime(["2026-10-06 10:00", "2026-10-03 12:00",
                                    "2026-10-01 18:00", "2026-10-01 10:30", "2026-10-01 00:00"]))
    got = business_seconds(start, end, h)
    # Fri 16:00→17:00 = 1 h; Sat, Sun closed; Mon 5 Oct a holiday; Tue 09:00→10:00 = 1 h
    assert got[0] == 2 * 3600
    assert got[1] == 0                      # Saturday
    assert got[2] == 8 * 3600               # before opening to after closing: the whole day
    assert got[3] == 1800
    assert np.isnan(got[4])


def test_business_hours_config_errors():
    with pytest.raises(ValueError, match="opens at 18:00 but closes at 09:00"):
        BusinessHours(week={"mon": ("18:00", "09:00")})
    with pytest.raises(ValueError, match="unknown day 'monday'"):
        BusinessHours(week={"monday": ("09:00", "17:00")})


def test_first_response_in_business_hours_from_timestamps(tmp_path):
    path = write(tmp_path / "t.csv", "id,created,first_reply_at,solved_at,channel\n"
                 "A,2026-10-02 16:00,2026-10-06 10:00,2026-10-06 11:00,email\n"
                 "B,2026-10-02 16:00,2026-10-02 15:00,,email\n")
    h = BusinessHours(holidays=(dt.date(2026, 10, 5),))
    ds = load([src(path, "generic-contacts")], LoadOptions(business_hours=h))
    c = ds.tables["contacts"].set_index("id")
    assert c.loc["A", "first_response_hours"] == 2.0
    assert c.loc["A", "resolution_hours"] == 3.0
    assert np.isnan(c.loc["B", "first_response_hours"])
    assert "timestamps out of order" in rejects_by_row(ds)[(3, "first_reply_at")][1]
    calendar = load([src(path, "generic-contacts")]).tables["contacts"].set_index("id")
    assert calendar.loc["A", "first_response_hours"] == 24 * 3 + 18


# ------------------------------------------------------------------ the report
def test_rejects_report_opens_safely_in_a_spreadsheet(tmp_path):
    path = write(tmp_path / "c.csv", "id,date,agent,answered\n=HYPERLINK(\"x\"),2026-10-01,"
                 "@SUM(A1),maybe\n")
    ds = load([src(path, "generic-contacts")])
    out = ds.rejects.write_csv(tmp_path / "out" / "rejects.csv")
    raw = Path(out).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["source", "file", "row", "column", "value", "reason", "action", "kpis"]
    assert rows[1][6:] == ["row rejected", "all"]
    assert rows[1][4] == "'maybe" or rows[1][4] == "maybe"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_utc_offsets_are_converted_to_the_centre_time_zone(tmp_path):
    path = write(tmp_path / "z.csv", "id,created,channel\nA,2026-10-31T23:30:00Z,email\n"
                 "B,2026-11-01 00:30:00+01:00,email\nC,2026-10-31 22:00:00,email\n")
    ds = load([src(path, "generic-contacts")], LoadOptions(time_zone="Europe/Lisbon"))
    c = ds.tables["contacts"].set_index("id")
    # Lisbon is UTC+0 on 31 Oct 2026 (summer time ended on 25 Oct)
    assert c.loc["A", "date"] == pd.Timestamp("2026-10-31 23:30")
    assert c.loc["B", "date"] == pd.Timestamp("2026-10-31 23:30")
    assert c.loc["C", "date"] == pd.Timestamp("2026-10-31 22:00")     # already local
    assert set(c.period) == {"2026-10"}
    athens = load([src(path, "generic-contacts")], LoadOptions(time_zone="Europe/Athens"))
    a = athens.tables["contacts"].set_index("id")
    assert a.loc["A", "period"] == "2026-11"                          # 01:30 local
    assert a.loc["C", "date"] == pd.Timestamp("2026-10-31 22:00")     # no offset: local


# ------------------------------------------------------------------ junk never crashes
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_cell = st.one_of(
    st.sampled_from(["", " ", "Y", "N", "maybe", "N/A", "-5", "1e309", "nan", "inf", "0",
                     "12", "3.5", "1:02:03", "99:99:99", "2026-10-01", "2026-13-45",
                     "2026-10-01T08:00:00+14:00", "31/12/2026", "phone", "Fax", "=1+1",
                     "@SUM(A1)", "\"", "a\nb", "é", "\x00"]),
    st.text(max_size=8))
_row = st.lists(_cell, min_size=0, max_size=9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=12), delim=st.sampled_from([",", ";", "\t"]))
def test_junk_csv_never_crashes_and_always_balances(tmp_path, rows, delim):
    header = ["id", "date", "channel", "agent", "answered", "wait", "talk", "csat", "nps"]
    path = tmp_path / "junk.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delim)
        w.writerow(header)
        w.writerows(rows)
    ds = load([src(path, "generic-contacts")])
    for a in ds.accounting:
        assert a.balanced, a
    for r in ds.rejects.items:
        assert r.reason and r.action in (ROW_REJECTED, VALUE_IGNORED)
    if ds.tables:
        res = Engine(ds.tables).compute("2026-10", 0)
        values = res.table.value.to_numpy(dtype=float)
        assert np.all(np.isfinite(values) | (res.table.note.astype(str) != "").to_numpy())


def test_parquet_source(tmp_path):
    import duckdb

    path = tmp_path / "calls.parquet"
    duckdb.sql("SELECT * FROM (VALUES ('a', TIMESTAMP '2026-10-01 09:00:00', 'Y', 10, 'phone'),"
               " ('b', TIMESTAMP '2026-10-01 09:01:00', 'N', 40, 'phone'),"
               " ('c', NULL, 'Y', 5, 'phone')) t(id, date, answered, wait, channel)"
               ).write_parquet(str(path))
    ds = load([src(path, "generic-contacts")])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected) == (3, 2, 1)
    # Parquet has no header row: rows are numbered from 1
    assert rejects_by_row(ds)[(3, "date")][0] == ROW_REJECTED
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("answered_rate") == 0.5


def test_one_file_of_calls_and_tickets(tmp_path):
    path = write(tmp_path / "all.csv", "id,date,channel,answered,wait,first_response_hours\n"
                 "1,2026-10-01,phone,Y,10,\n2,2026-10-01,email,,,3.5\n3,2026-10-01,phone,,,\n")
    ds = load([src(path, "generic-contacts")])
    got = rejects_by_row(ds)
    assert list(got) == [(4, "answered")]
    assert "blank on a phone call" in got[(4, "answered")][1]
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("answered_rate") == 1.0          # the email is not an offered call
    assert res.value("ticket_volume") == 2
    assert res.value("first_response_time") == 3.5


def test_empty_rows_are_not_records_but_keep_spreadsheet_numbering(tmp_path):
    path = write(tmp_path / "gaps.csv", "id,date,answered\na,2026-10-01,Y\n\n,,\n"
                 "b,2026-10-01,perhaps\n")
    ds = load([src(path, "generic-contacts")])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected) == (2, 1, 1)
    assert list(rejects_by_row(ds)) == [(5, "answered")]     # Excel shows it on row 5


# ------------------------------------------------------------------ issue 10: numbers you can trust
def test_non_finite_text_is_refused_in_every_numeric_column(tmp_path):
    """inf, 1e309 (overflows to inf) and NaN were read as numbers: AHT came out inf."""
    path = write(tmp_path / "inf.csv", "id,date,channel,answered,wait,talk,reopens,nps\n"
                 "a,2026-10-01,phone,Y,10,inf,1e309,NaN\n"
                 "b,2026-10-01,phone,Y,10,1e309,inf,-inf\n"
                 "c,2026-10-01,phone,Y,10,NaN,0,9\n"
                 "d,2026-10-01,phone,Y,10,60,0,9\n")
    ds = load([src(path, "generic-contacts")])
    got = {(r.row, r.column): (r.action, r.reason) for r in ds.rejects.items}
    for row, column in [(2, "talk"), (2, "reopens"), (2, "nps"), (3, "talk"), (3, "reopens"),
                        (3, "nps"), (4, "talk")]:
        action, reason = got[(row, column)]
        assert action == VALUE_IGNORED and "finite" in reason, (row, column, reason)
    c = ds.tables["contacts"]
    assert np.isfinite(c["talk"].dropna()).all() and np.isfinite(c["reopens"].dropna()).all()
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("aht") == 60.0                   # d's talk alone


def test_tickets_in_a_mixed_export_are_handled(tmp_path):
    """With 'resolved' and no 'handled' column, 'handled' was a copy of 'answered', blank
    on tickets, so every ticket was rejected by resolution rate's rule."""
    path = write(tmp_path / "mixed.csv", "id,date,channel,answered,wait,resolved\n"
                 "1,2026-10-01,phone,Y,10,Y\n2,2026-10-01,phone,N,3,\n"
                 "3,2026-10-01,email,,,Y\n4,2026-10-01,chat,,,N\n")
    ds = load([src(path, "generic-contacts")])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected) == (4, 4, 0)
    assert ds.tables["contacts"]["handled"].tolist() == [1.0, 0.0, 1.0, 1.0]
    res = Engine(ds.tables).compute("2026-10", 0)
    # handled: the answered call and both tickets (3); resolved: call 1 and ticket 3 (2)
    assert res.value("resolution_rate") == pytest.approx(2 / 3)


def test_roster_fills_every_blank_team_per_row(tmp_path):
    """One source maps 'team', the other does not: the second source's rows took no team
    (they landed in '(no team)'). Now each row without its own team takes its agent's
    team from the roster; a row's own team is kept, even where the roster says
    otherwise; a row without an agent keeps its own team or none."""
    calls = write(tmp_path / "calls.csv", "id,date,channel,agent,answered,wait,talk\n"
                  "1,2026-10-01,phone,Ana,Y,10,100\n2,2026-10-01,phone,Ben,Y,30,200\n")
    tickets = write(tmp_path / "tickets.csv", "id,date,channel,agent,team,first_response_hours\n"
                    "t1,2026-10-01,email,Ana,Tier 1,2\nt2,2026-10-01,email,Ben,,4\n"
                    "t3,2026-10-01,email,,Tier 9,4\nt4,2026-10-01,email,,,4\n"
                    "t5,2026-10-01,email,Ben,Tier 1,6\n")
    roster = write(tmp_path / "roster.csv", "agent,team\nAna,Tier 1\nBen,Tier 2\n")
    ds = load([src(calls, "generic-contacts", name="calls"),
               src(tickets, "generic-contacts", name="tickets"),
               src(roster, "generic-roster")])
    c = ds.tables["contacts"].set_index("id")
    assert c.loc[["1", "2", "t1", "t2", "t3", "t5"], "team"].tolist() == [
        "Tier 1", "Tier 2", "Tier 1", "Tier 2", "Tier 9", "Tier 1"]
    assert c.loc["t4", "team"] is None or c.loc["t4", "team"] != c.loc["t4", "team"]
    fill = ds.teams["contacts"]
    # own: t1, t3, t5; roster: 1, 2, t2; none: t4; t5 says Tier 1 where the roster says 2
    assert (fill.own, fill.roster, fill.none, fill.differs) == (3, 3, 1, 1)
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("aht", "team", "Tier 2") == 200.0          # Ben's call
    assert res.value("aht", "team", "(no team)") is None


def test_a_rule_of_one_kpi_leaves_only_that_kpi(tmp_path):
    """Outgoing calls have no queue wait: ASA and service level cannot use them, but they
    are answered calls for abandonment and answered rate. A KPI's rule used to reject
    the row from every KPI, and abandonment rose from 12.5 % to 25 % here."""
    inbound = [("Y", w) for w in (5, 10, 15, 25, 40, 60)] + [("N", 30), ("N", 50)]
    outgoing = [("Y", "")] * 8
    body = "".join(f"{i},2026-10-01,phone,{a},{w}\n"
                   for i, (a, w) in enumerate(inbound + outgoing))
    path = write(tmp_path / "acd.csv", "id,date,channel,answered,wait\n" + body)
    ds = load([src(path, "generic-contacts")])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected, acc.left_out) == (16, 16, 0, 8)
    assert {(r.action, r.kpis) for r in ds.rejects.items} == {
        (LEFT_OUT, "Average speed of answer (ASA), Service level")}
    assert sorted(r.row for r in ds.rejects.items) == list(range(10, 18))
    res = Engine(ds.tables).compute("2026-10", 0)
    # offered 16 (8 inbound + 8 outgoing), abandoned 2: 2 / 16 = 12.5 % (was 2 / 8)
    assert res.value("abandonment_rate") == 2 / 16
    assert res.value("answered_rate") == 14 / 16
    # ASA over the 6 inbound answered calls: (5+10+15+25+40+60) / 6 = 155 / 6 s;
    # service level over the 8 inbound calls: 3 answered within 20 s / 8 = 37.5 %
    assert res.value("asa") == pytest.approx(155 / 6)
    assert res.value("service_level") == 3 / 8
    t = res.table
    n = dict(zip(t[t.level == "organisation"].kpi, t[t.level == "organisation"].n))
    assert (n["asa"], n["service_level"], n["abandonment_rate"]) == (6, 8, 16)


def test_a_negative_talk_time_is_listed_once(tmp_path):
    """The negative talk time was listed as 'value ignored' and, because AHT then lacked
    the talk of a call with hold time, again as 'row rejected'. Now: one line, which
    names AHT; the call stays in every other KPI."""
    path = write(tmp_path / "t.csv", "id,date,channel,answered,wait,talk,hold\n"
                 "a,2026-10-01,phone,Y,10,-5,3\nb,2026-10-01,phone,Y,30,120,10\n")
    ds = load([src(path, "generic-contacts")])
    assert [(r.row, r.column, r.action, r.kpis) for r in ds.rejects.items] == [
        (2, "talk", VALUE_IGNORED, "Average handle time (AHT)")]
    (acc,) = ds.accounting
    assert (acc.used, acc.rejected, acc.values_ignored, acc.left_out) == (2, 0, 1, 1)
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("aht") == 130.0                    # b alone: 120 + 10
    assert res.value("asa") == 20.0                     # a and b: (10 + 30) / 2
    out = ds.rejects.write_csv(tmp_path / "rejects.csv")
    with open(out, encoding="utf-8-sig") as f:
        (line,) = list(csv.DictReader(f))
    assert (line["action"], line["kpis"]) == ("value ignored", "Average handle time (AHT)")


def test_a_qa_item_breaking_the_score_rule_is_rejected(tmp_path):
    """The QA table feeds one KPI: an item scored above the maximum serves none, so the
    row is rejected (the workbook lists the same items the engine scores)."""
    qa = write(tmp_path / "qa.csv", "evaluation,date,agent,criterion,score,weight\n"
               "E1,2026-10-03,Ana,Greeting,1,1\nE1,2026-10-03,Ana,Close,3,1\n")
    ds = load([src(qa, "generic-qa")])
    assert [(r.row, r.action) for r in ds.rejects.items] == [(3, ROW_REJECTED)]
    assert "from 0 to 1" in ds.rejects.items[0].reason
    assert len(ds.tables["qa"]) == 1


def test_exclusion_on_several_columns(tmp_path):
    """An exclusion's conditions on several columns must all hold; the one-column form
    still works; each excluded row is in the report with its exclusion's reason."""
    path = write(tmp_path / "acd.csv", "id,date,outcome,q_start,wait\n"
                 "1,2026-10-01,AGENT,0:00:00,0\n"          # answered at once: offered
                 "2,2026-10-01,HANG,0:00:00,0\n"           # hung up in the voice menu
                 "3,2026-10-01,HANG,9:01:02,40\n"          # abandoned in the queue
                 "4,2026-10-01,PHANTOM,0:00:00,0\n"
                 "5,2026-10-01,hang , 0:00:00 ,0\n")       # trimmed, any case
    spec = {"path": str(path), "table": "contacts", "columns": {
        "id": "id", "date": "date", "channel": {"value": "phone"}, "wait": "wait",
        "answered": {"column": "outcome", "codes": {"AGENT": "yes", "HANG": "no"}}},
        "exclude": [
            {"column": "outcome", "values": ["PHANTOM"], "reason": "no caller"},
            {"when": [{"column": "outcome", "values": ["HANG"]},
                      {"column": "q_start", "values": ["0:00:00"]}],
             "reason": "never reached the queue"}]}
    ds = load([parse_source(spec)])
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.excluded, acc.rejected) == (5, 2, 3, 0)
    assert sorted((r.row, r.column, r.value, r.reason) for r in ds.rejects.items) == [
        (3, "outcome, q_start", "HANG, 0:00:00", "never reached the queue"),
        (5, "outcome", "PHANTOM", "no caller"),
        (6, "outcome, q_start", "hang, 0:00:00", "never reached the queue")]
    res = Engine(ds.tables).compute("2026-10", 0)
    assert res.value("abandonment_rate") == 0.5       # call 3 of the offered calls 1 and 3


@pytest.mark.parametrize("exclude,words", [
    ({"column": "outcome", "values": ["X"]}, "exclude 1: 'reason' is missing"),
    ({"when": [{"column": "a", "values": ["1"]}], "column": "b", "values": ["2"],
      "reason": "r"}, "exclude 1: give either 'column' and 'values' or 'when', not both"),
    ({"when": [], "reason": "r"}, "exclude 1: 'when' must be a list of conditions"),
    ({"when": [{"column": "a"}], "reason": "r"},
     "exclude 1: 'when' condition 1: 'values' must be a list"),
    ({"when": [{"values": ["1"]}], "reason": "r"},
     "exclude 1: 'when' condition 1: 'column' is missing"),
    ({"column": "a", "values": ["1"], "reason": "r", "why": "x"}, "exclude 1: unknown keys ['why']"),
])
def test_exclusion_config_errors_name_the_key(tmp_path, exclude, words):
    spec = {"path": str(tmp_path / "x.csv"), "preset": "generic-contacts", "name": "calls",
            "exclude": [exclude]}
    with pytest.raises(ConfigError) as e:
        parse_source(spec)
    assert any(p.startswith(f"source 'calls', {words}") for p in e.value.problems), \
        e.value.problems


def test_a_rejected_row_is_not_also_listed_as_used_without_a_value(tmp_path):
    """A row whose talk time was ignored (negative) and which a later check rejects
    (its id repeats) is listed once, as rejected."""
    path = write(tmp_path / "d.csv", "id,date,channel,answered,wait,talk\n"
                 "a,2026-10-01,phone,Y,10,60\na,2026-10-01,phone,Y,10,-5\n")
    ds = load([src(path, "generic-contacts")])
    assert [(r.row, r.column, r.action) for r in ds.rejects.items] == [(3, "id", ROW_REJECTED)]
    (acc,) = ds.accounting
    assert (acc.used, acc.rejected, acc.values_ignored) == (1, 1, 0)


def test_repeated_ids_are_found_as_the_check_finds_them_on_every_row():
    """The duplicate check (kpi_xl.checks.embedded.duplicates) runs on text only on the
    rows whose key's hash another row shares: the same rows and first rows as the check
    over every row (an object column takes that path), blanks (None and NaN alike)
    repeating blanks, text or not."""
    from kpi_xl.checks.embedded import duplicates
    from kpi_xl.data.load import _repeats

    values = ["a", "b", "a", None, "c", np.nan, "b", "a", "A", "x\x00y", "x", "x\x00y"]
    many = np.array([f"id{i}" for i in range(5 * 122_880)], dtype=object)
    many[::40_009] = "id7"                  # repeats across DuckDB's batches (threads)
    kinds = [pd.Series(values, dtype=str), pd.Series(values, dtype=object),
             pd.Series(values, dtype=str).iloc[:0], pd.Series(["u", "v", None], dtype=str),
             pd.Series(many, dtype=str)]
    for key in kinds:
        n = len(key)
        df = pd.DataFrame({"_source": ["s"] * n, "_row": np.arange(2, n + 2)})
        dup, seen = _repeats(df, key, {"s": "f.csv"})
        again, first = duplicates(key.astype(object))      # every row, no hash
        assert np.flatnonzero(dup).tolist() == again.tolist()
        assert seen == [f"f.csv row {f + 2}" for f in first]
    dup, seen = _repeats(pd.DataFrame({"_source": ["s"] * len(values),
                                       "_row": np.arange(2, len(values) + 2)}),
                         pd.Series(values, dtype=str), {"s": "f.csv"})
    assert np.flatnonzero(dup).tolist() == [2, 5, 6, 7, 11]       # by hand
    assert seen == ["f.csv row 2", "f.csv row 5", "f.csv row 3", "f.csv row 2",
                    "f.csv row 11"]
