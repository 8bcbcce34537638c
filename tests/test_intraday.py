"""Intraday staffing (kpi_xl.intraday): a small centre with every number derived by hand,
the published Erlang C worked example, the refusals, the command line with a [staffing]
section, and the bank's ACD export against definitions written out here with pandas."""

from __future__ import annotations

import csv as csv_module
import datetime as dt
import math

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
openpyxl = pytest.importorskip("openpyxl")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.data.sources import ConfigError  # noqa: E402
from kpi_xl.intraday import (StaffingError, StaffingSettings, intraday,  # noqa: E402
                             staffing_settings, write_workbook)
from kpi_xl.periods import Period  # noqa: E402


def _calls(rows):
    """Canonical contacts from (timestamp, answered, wait, talk, agent) tuples."""
    t = pd.DataFrame(rows, columns=["date", "answered", "wait", "talk", "agent"])
    t["date"] = pd.to_datetime(t["date"])
    t["channel"] = "phone"
    t["handled"] = t["answered"]
    return t


# Two days (Mon 5 and Tue 6 October 2026) × two 30-minute intervals, 09:00 and 09:30:
#   Mon 09:05 answered, waited 10 s, talked 100 s, ann
#   Mon 09:10 answered, waited 30 s, talked 200 s, bob
#   Mon 09:20 abandoned after 40 s
#   Mon 09:45 answered, waited  0 s, talked 300 s, ann
#   Tue 09:29:59 answered, waited 20 s, talked 400 s, ann   (still the 09:00 interval)
SMALL = [("2026-10-05 09:05:00", 1.0, 10.0, 100.0, "ann"),
         ("2026-10-05 09:10:00", 1.0, 30.0, 200.0, "bob"),
         ("2026-10-05 09:20:00", 0.0, 40.0, None, None),
         ("2026-10-05 09:45:00", 1.0, 0.0, 300.0, "ann"),
         ("2026-10-06 09:29:59", 1.0, 20.0, 400.0, "ann")]


def _row(result, interval, date=None):
    t = result.table
    t = t[t.interval == interval]
    if date is not None:
        t = t[t.date == date]
    assert len(t) == 1
    return t.iloc[0]


def test_weekday_pattern_by_hand():
    res = intraday({"contacts": _calls(SMALL)}, "2026-10", StaffingSettings(interval=30))
    # the data runs from Mon 5 to Tue 6 October: 2 days of the chosen weekdays (all)
    assert res.days == [dt.date(2026, 10, 5), dt.date(2026, 10, 6)]
    assert list(res.table.interval) == ["09:00", "09:30"]
    r = _row(res, "09:00")
    # offered 4 calls over 2 days = 2.0 a day; answered 3 / 2 = 1.5; abandoned 1 / 2 = 0.5
    assert (r.offered, r.answered, r.abandoned) == (2.0, 1.5, 0.5)
    # pooled over the days: AHT (100 + 200 + 400) / 3; ASA (10 + 30 + 20) / 3 = 20;
    # service level (offered, T = 20 s): answered within 20 s (10 s and 20 s) / 4 offered
    assert r.aht == pytest.approx(700 / 3)
    assert r.asa == pytest.approx(20)
    assert r.service_level == pytest.approx(2 / 4)
    # distinct agents who answered: Mon {ann, bob} = 2, Tue {ann} = 1 -> mean 1.5
    assert r.actual_agents == 1.5
    # A = 2.0 calls × 233.33 s / 1800 s = 0.2593 Erlangs. N = 1: C = A = 0.2593,
    # SL = 1 − 0.2593 · exp(−0.7407 · 20 / 233.33) = 1 − 0.2593 · 0.9385 = 0.757 < 0.8.
    # N = 2: B1 = A / (1 + A) = 0.2059, B2 = A·B1 / (2 + A·B1) = 0.05338 / 2.05338 = 0.02600,
    # C = 2·B2 / (2 − A(1 − B2)) = 0.05199 / 1.74748 = 0.02975,
    # SL = 1 − 0.02975 · exp(−1.7407 · 20 / 233.33) = 0.974 ≥ 0.8 -> 2 agents
    assert r.traffic == pytest.approx(2 * (700 / 3) / 1800)
    assert r.required_agents == 2
    assert r.note == ""
    r = _row(res, "09:30")
    # 1 call in 2 days: 0.5 offered and answered a day; AHT 300, ASA 0, SL 1/1;
    # agents Mon {ann} = 1, Tue none = 0 -> 0.5.
    # A = 0.5 · 300 / 1800 = 0.0833; N = 1: SL = 1 − 0.0833 · exp(−0.9167 · 20 / 300)
    # = 1 − 0.0833 · 0.9407 = 0.922 ≥ 0.8 -> 1 agent
    assert (r.offered, r.answered, r.abandoned, r.actual_agents) == (0.5, 0.5, 0.0, 0.5)
    assert (r.aht, r.asa, r.service_level) == (300, 0, 1.0)
    assert r.required_agents == 1


def test_per_date_by_hand():
    res = intraday({"contacts": _calls(SMALL)}, "2026-10",
                   StaffingSettings(interval=30, per_date=True))
    assert len(res.table) == 4                  # 2 dates × 2 intervals, the empty one too
    r = _row(res, "09:00", "2026-10-05")
    # offered 3, answered 2, abandoned 1; AHT (100 + 200) / 2 = 150; ASA (10 + 30) / 2 = 20;
    # SL 1 of 3 within 20 s; agents {ann, bob}
    assert (r.weekday, r.offered, r.answered, r.abandoned, r.actual_agents) == \
        ("Mon", 3, 2, 1, 2)
    assert (r.aht, r.asa, r.service_level) == (150, 20, pytest.approx(1 / 3))
    # A = 3 · 150 / 1800 = 0.25. N = 1: SL = 1 − 0.25 · exp(−0.75 · 20 / 150) = 0.774 < 0.8;
    # N = 2: B1 = 0.2, B2 = 0.05 / 2.05 = 0.02439, C = 0.04878 / 1.7561 = 0.02778,
    # SL = 1 − 0.02778 · exp(−1.75 · 20 / 150) = 0.978 -> 2
    assert r.required_agents == 2
    r = _row(res, "09:00", "2026-10-06")
    # one call, AHT 400: A = 400 / 1800 = 0.2222; N = 1: SL = 1 − 0.2222 · exp(−0.7778 · 20
    # / 400) = 0.786 < 0.8; N = 2: C = 0.02222, SL = 0.980 -> 2 agents for a single call
    assert (r.offered, r.actual_agents, r.service_level, r.required_agents) == (1, 1, 1.0, 2)
    r = _row(res, "09:30", "2026-10-06")
    # no calls: nothing needed, and the note says so (no silent blanks)
    assert (r.offered, r.required_agents, r.actual_agents) == (0, 0, 0)
    assert math.isnan(r.aht) and "no calls offered" in r.note


def test_pattern_divides_by_the_chosen_days_in_the_data_range():
    # calls on Mondays 5 and 19 October only: Monday 12 is in the data range with no call,
    # so the Monday pattern is over 3 days (a day without calls is a day with none)
    rows = [("2026-10-05 10:00:00", 1.0, 5.0, 60.0, "ann"),
            ("2026-10-19 10:10:00", 1.0, 5.0, 60.0, "bob"),
            ("2026-10-14 10:00:00", 1.0, 5.0, 60.0, "cy")]         # a Wednesday: not chosen
    res = intraday({"contacts": _calls(rows)}, "2026-10",
                   StaffingSettings(interval=60, weekdays=("mon",)))
    assert res.days == [dt.date(2026, 10, 5), dt.date(2026, 10, 12), dt.date(2026, 10, 19)]
    r = _row(res, "10:00")
    assert (r.offered, r.actual_agents) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert "3 such days" in res.lines()[1]


def test_published_worked_example():
    # Call Centre Helper, 'Erlang C formula - made simple with an easy worked example':
    # 100 calls in 30 minutes, AHT 180 s, 80 % within 20 s -> traffic 10 Erlangs, 14 agents
    rows = [(f"2026-10-05 09:{i * 18 // 60:02d}:{i * 18 % 60:02d}", 1.0, 0.0, 180.0, f"a{i % 14}")
            for i in range(100)]                       # one every 18 s, 09:00:00 – 09:29:42
    res = intraday({"contacts": _calls(rows)}, "2026-10",
                   StaffingSettings(interval=30, target_value=0.8, threshold=20))
    (r,) = res.table.itertuples()
    assert (r.interval, r.offered, r.traffic, r.required_agents) == ("09:00", 100, 10.0, 14)
    # the same for a given AHT, and for a P(wait) target: the book's 14 agents have
    # P(wait) 17.41 %, so a 17.5 % cap needs 14 and a 17 % cap 15
    assert intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(
        aht=180, target_kind="p_wait", target_value=0.175)).table.required_agents[0] == 14
    assert intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(
        target_kind="p_wait", target_value=0.17)).table.required_agents[0] == 15
    # ASA with 14 agents is 7.84 s (same source): a target of 8 s needs 14, 7.5 s needs 15
    assert intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(
        target_kind="asa", target_value=8)).table.required_agents[0] == 14
    assert intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(
        target_kind="asa", target_value=7.5)).table.required_agents[0] == 15


def test_no_aht_is_said_not_guessed():
    rows = [("2026-10-05 09:05:00", 0.0, 40.0, None, None),          # abandoned only
            ("2026-10-05 10:05:00", 1.0, 5.0, 200.0, "ann")]
    res = intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(interval=60))
    r = _row(res, "09:00")
    assert pd.isna(r.required_agents) and "no answered call" in r.note
    assert "AHT: no call of the interval has what it needs" in r.note
    # given an AHT, the requirement is computed: A = 1 · 180 / 3600 = 0.05, N = 1:
    # SL = 1 − 0.05 · exp(−0.95 · 20 / 180) = 0.955 -> 1
    res = intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(interval=60, aht=180))
    assert _row(res, "09:00").required_agents == 1


def test_refusals_name_the_problem():
    t = _calls(SMALL)
    with pytest.raises(StaffingError, match="no calls in November 2026: the calls in the "
                                            "data run from 05 Oct 2026 to 06 Oct 2026"):
        intraday({"contacts": t}, "2026-11")
    midnight = t.assign(date=t["date"].dt.normalize())
    with pytest.raises(StaffingError, match="carry no time of day"):
        intraday({"contacts": midnight}, "2026-10")
    with pytest.raises(StaffingError, match="no sat, sun between"):
        intraday({"contacts": t}, "2026-10", StaffingSettings(weekdays=("sat", "sun")))
    with pytest.raises(StaffingError, match="no 'answered' column"):
        intraday({"contacts": t.drop(columns="answered")}, "2026-10")


def test_any_period_grain():
    # an ISO week and a custom range place the rows by their dates, as a month does
    week = intraday({"contacts": _calls(SMALL)}, Period.parse("2026-W41"))
    rng = intraday({"contacts": _calls(SMALL)}, Period.parse("2026-10-06..2026-10-06"))
    assert week.table.offered.sum() == 5 / 2
    assert (len(rng.days), rng.table.offered.sum()) == (1, 1)


def test_settings_from_config_and_flags():
    class Cfg:
        raw = {"staffing": {"interval": 60, "weekdays": ["sun", "mon"], "target_asa": 30}}
    s = staffing_settings(Cfg())
    assert (s.interval, s.weekdays, s.target_kind, s.target_value) == (60, ("sun", "mon"),
                                                                       "asa", 30.0)
    # a target on the command line replaces the config's
    s = staffing_settings(Cfg(), target_sl=0.9, weekdays="tue,wed")
    assert (s.target_kind, s.target_value, s.weekdays, s.interval) == (
        "service_level", 0.9, ("tue", "wed"), 60)
    Cfg.raw = {"staffing": {"interval": 20, "weekdays": ["funday"], "target_sl": 0.8,
                            "target_pwait": 0.2, "shifts": 3}}
    with pytest.raises(ConfigError) as e:
        staffing_settings(Cfg())
    text = "\n".join(e.value.problems)
    for part in ("unknown setting 'shifts'", "interval must be 15, 30 or 60 (minutes), got 20",
                 "'funday' is not a weekday", "give one target, not target_sl and target_pwait"):
        assert part in text


def test_cli_with_a_staffing_section(tmp_path, capsys):
    data = tmp_path / "calls.csv"
    _calls(SMALL).drop(columns="handled").to_csv(data, index=False)
    cfg = tmp_path / "kpi_xl.toml"
    cfg.write_text('[[sources]]\npreset = "generic-contacts"\npath = "calls.csv"\n\n'
                   '[staffing]\ninterval = 30\nper_date = true\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["staffing", "-c", str(cfg), "--month", "2026-10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "per date" in printed and "2026-10-05 Mon 09:00" in printed
    raw = (out / "2026-10" / "intraday.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                          # BOM, for Excel
    csv = pd.read_csv(out / "2026-10" / "intraday.csv", encoding="utf-8-sig")
    assert list(csv.required_agents) == [2, 1, 2, 0]                # as derived above
    wb = openpyxl.load_workbook(out / "2026-10" / "intraday-2026-10.xlsx")
    assert wb.sheetnames == ["Intraday"]
    ws = wb["Intraday"]
    assert len(ws._charts) == 1
    # a flag overrides the section; two targets at once are a command-line mistake
    assert main(["staffing", "-c", str(cfg), "--month", "2026-10", "--out", str(out),
                 "--interval", "60"]) == 0
    assert pd.read_csv(out / "2026-10" / "intraday.csv", encoding="utf-8-sig").interval.tolist() \
        == ["09:00", "09:00"]
    with pytest.raises(SystemExit) as e:
        main(["staffing", "-c", str(cfg), "--month", "2026-10", "--target-sl", "0.8",
              "--target-asa", "20"])
    assert e.value.code == 2
    capsys.readouterr()
    assert main(["staffing", "-c", str(cfg), "--month", "2026-10", "--out", str(out),
                 "--weekdays", "mon,noday"]) == 1
    assert "'noday' is not a weekday" in capsys.readouterr().err
    # a month without calls: the data guards refuse it (as for run), exit 4, nothing written
    assert main(["staffing", "-c", str(cfg), "--month", "2026-09", "--out", str(out)]) == 4
    assert "has no contact rows in 2026-09" in capsys.readouterr().err
    assert not (out / "2026-09").exists()


def test_sheet_goes_into_any_workbook(tmp_path):
    # the scorecard can hold the sheet: write_sheet takes an openpyxl Workbook
    from kpi_xl.intraday import write_sheet

    res = intraday({"contacts": _calls(SMALL)}, "2026-10")
    wb = openpyxl.Workbook()
    ws = write_sheet(wb, res)
    assert wb.sheetnames == ["Sheet", "Intraday"] and ws.title == "Intraday"
    path = write_workbook(tmp_path / "i.xlsx", res)
    assert openpyxl.load_workbook(path).sheetnames == ["Intraday"]


# --------------------------------------------------------------------------- the bank
BANK = "anonymous-bank-1999/anonymous-bank-feb-1999.tsv"
#: the data's README: "Israeli weekdays in 1999 were Sunday–Thursday"
SUN_THU = ("sun", "mon", "tue", "wed", "thu")


@pytest.fixture(scope="module")
def bank_hourly(shared_data):
    from kpi_xl.data.load import load
    from kpi_xl.data.sources import parse_source

    ds = load([parse_source({"preset": "anonymous-bank", "path": str(shared_data / BANK)})])
    return intraday(ds.tables, "1999-02", StaffingSettings(interval=60, weekdays=SUN_THU,
                                                           target_value=0.8, threshold=20))


def _erlang_c(a: float, n: int) -> float:
    """Textbook Erlang C, written out: (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! ·
    N/(N−A)), the terms built one from the other."""
    term, total = 1.0, 0.0
    for k in range(n):
        total += term
        term *= a / (k + 1)
    top = term * n / (n - a)
    return top / (total + top)


@pytest.fixture(scope="module")
def bank_defs(shared_data):
    """Per hour of the day, over the Sunday–Thursday days of February 1999, from the raw
    file. Offered: AGENT or HANG rows that reached the queue (not PHANTOM, not a HANG with
    q_start 0:00:00, which hung up in the voice menu), placed at their VRU entry time.
    Counts and agents are per day over the 20 Sunday–Thursday dates from the first to the
    last call (1–28 Feb 1999); AHT, ASA and service level are pooled over those days."""
    raw = pd.read_csv(shared_data / BANK, sep="\t")
    c = raw[(raw.outcome != "PHANTOM") & ~((raw.outcome == "HANG")
                                          & (raw.q_start.str.strip() == "0:00:00"))].copy()
    c["when"] = pd.to_datetime(c.date.astype(str) + " " + c.vru_entry, format="%y%m%d %H:%M:%S")
    all_days = pd.date_range(c.when.min().normalize(), c.when.max().normalize())
    days = [d for d in all_days if d.day_name()[:3].lower() in SUN_THU]
    c = c[c.when.dt.day_name().str[:3].str.lower().isin(SUN_THU)]
    c["hour"] = c.when.dt.hour
    c["day"] = c.when.dt.date
    a = c[c.outcome == "AGENT"]
    g = c.groupby("hour")
    out = pd.DataFrame({"offered": g.size() / len(days),
                        "answered": a.groupby("hour").size() / len(days),
                        "abandoned": c[c.outcome == "HANG"].groupby("hour").size() / len(days),
                        "aht": a.groupby("hour").ser_time.mean(),
                        "asa": a.groupby("hour").q_time.mean(),
                        "service_level": (a.q_time <= 20).groupby(a.hour).sum() / g.size()})
    named = a[a.server != "NO_SERVER"]
    out["agents"] = named.groupby(["day", "hour"]).server.nunique().groupby("hour").sum() / len(days)
    out = out.fillna(0.0)
    # Erlang C, 80 % within 20 s: the smallest N > A with 1 − C(N, A)·exp(−(N − A)·20/AHT) ≥ 0.8
    need = {}
    for hour, r in out.iterrows():
        traffic = r.offered * r.aht / 3600
        n = math.floor(traffic) + 1
        while 1 - _erlang_c(traffic, n) * math.exp(-(n - traffic) * 20 / r.aht) < 0.8:
            n += 1
        need[hour] = n
    out["required"] = pd.Series(need)
    return len(days), out


def test_bank_hourly_against_pandas(bank_hourly, bank_defs):
    n_days, want = bank_defs
    assert n_days == len(bank_hourly.days) == 20     # Sun–Thu, 1–28 February 1999
    got = bank_hourly.table.assign(hour=lambda t: t.interval.str[:2].astype(int)).set_index("hour")
    for hour, w in want.iterrows():
        g = got.loc[hour]
        assert g.offered == pytest.approx(w.offered, rel=1e-12), hour
        assert g.answered == pytest.approx(w.answered, rel=1e-12), hour
        assert g.abandoned == pytest.approx(w.abandoned, rel=1e-12), hour
        assert g.aht == pytest.approx(w.aht, rel=1e-12), hour
        assert g.asa == pytest.approx(w.asa, rel=1e-12), hour
        assert g.service_level == pytest.approx(w.service_level, rel=1e-12), hour
        assert g.actual_agents == pytest.approx(w.agents, rel=1e-12), hour
        assert g.required_agents == w.required, hour
    # the hours with no calls are there, need nobody, and say so
    quiet = got[got.offered == 0]
    assert len(quiet) == 24 - len(want) and (quiet.required_agents == 0).all()
    assert quiet.note.str.contains("no calls offered").all()
    # the busy morning hour, pinned: 10:00–11:00 carries the most calls
    assert got.offered.idxmax() == want.offered.idxmax() == 10


@pytest.mark.libreoffice
def test_sheet_opens_and_renders_in_libreoffice(tmp_path):
    """A real spreadsheet reads the sheet back (values as written) and prints it, table
    and chart, on one landscape page (set KPI_XL_RENDER_DIR to keep the PNG and look)."""
    import os
    import shutil

    from kpi_xl.scorecard.libreoffice import convert, render_png, soffice

    if soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    res = intraday({"contacts": _calls(SMALL)}, "2026-10", StaffingSettings(interval=30))
    path = write_workbook(tmp_path / "intraday-2026-10.xlsx", res)
    back = openpyxl.load_workbook(convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo"))
    ws = back["Intraday"]
    rows = [r for r in ws.iter_rows(values_only=True) if r[0] in ("09:00", "09:30")]
    assert [(r[0], r[1], r[8], r[9]) for r in rows] == [("09:00", 2, 2, 1.5),
                                                        ("09:30", 0.5, 1, 0.5)]
    pages = render_png(path, tmp_path / "png")
    assert len(pages) == 1 and pages[0].stat().st_size > 10_000
    keep = os.environ.get("KPI_XL_RENDER_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(pages[0], keep)


def test_staffing_runs_the_data_guards_before_writing(tmp_path, capsys):
    """Before: `kpi-xl staffing` loaded the files without the guards the monthly run has,
    so an export whose dates were mostly unreadable (20 of 30 calls written 25/10/2026
    without a `format`) gave an intraday table and Erlang requirement from the 10 calls
    left, exit 0, with nothing said. Now the same guard as `run` refuses it (exit 4,
    nothing written), and --allow-partial goes ahead saying so."""
    rows = [["id", "date", "channel", "answered", "wait", "talk"]]
    rows += [[f"C{i}", f"{13 + i % 18:02d}/10/2026 10:00", "phone", "1", "10", "100"]
             for i in range(20)]
    rows += [[f"D{i}", f"2026-10-{5 + i:02d} 10:00", "phone", "1", "10", "100"]
             for i in range(10)]
    path = tmp_path / "calls.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv_module.writer(f).writerows(rows)
    out = tmp_path / "out"
    rc = main(["staffing", "--source", f"generic-contacts={path}", "--month", "2026-10",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 4, err
    assert "calls.csv (generic-contacts) rejects 20 of its 30 rows" in err
    assert not out.exists()
    rc = main(["staffing", "--source", f"generic-contacts={path}", "--month", "2026-10",
               "--out", str(out), "--allow-partial"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "partial data" in captured.err
    assert (out / "2026-10" / "intraday.csv").exists()


def test_validate_checks_the_staffing_section(tmp_path, capsys):
    """Before: `kpi-xl validate` said the config was fine with `interval = 20` in
    [staffing]; only `kpi-xl staffing` found it."""
    data = tmp_path / "calls.csv"
    _calls(SMALL).drop(columns="handled").to_csv(data, index=False)
    cfg = tmp_path / "kpi_xl.toml"
    cfg.write_text('[[sources]]\npreset = "generic-contacts"\npath = "calls.csv"\n\n'
                   '[staffing]\ninterval = 20\n', encoding="utf-8")
    assert main(["validate", "-c", str(cfg)]) != 0
    assert "[staffing] interval must be 15, 30 or 60 (minutes), got 20" in capsys.readouterr().err


# -- Erlang A beside Erlang C: patience given or estimated from the calls -------------------
def test_erlang_a_column_with_a_given_patience(tmp_path):
    # the worked example's traffic (A = 10, AHT 180 s, 80/20): Erlang C 14 agents; with
    # callers of mean patience 120 s Erlang A needs 12 (tests/test_erlang_a.py's reference:
    # service level over offered calls 74.22 % at 11 agents, 82.56 % at 12)
    rows = [(f"2026-10-05 09:{i * 18 // 60:02d}:{i * 18 % 60:02d}", 1.0, 0.0, 180.0, f"a{i % 14}")
            for i in range(100)]
    res = intraday({"contacts": _calls(rows)}, "2026-10",
                   StaffingSettings(threshold=20, patience=120.0))
    (r,) = res.table.itertuples()
    assert (r.required_agents, r.required_agents_a) == (14, 12)
    assert any("mean patience of 120 s (as given)" in line for line in res.lines())
    ws = openpyxl.load_workbook(write_workbook(tmp_path / "i.xlsx", res)).active
    assert "Agents required (Erlang A)" in [c.value for c in ws[len(res.lines()) + 3]]
    # without patience the column is not there
    plain = intraday({"contacts": _calls(rows)}, "2026-10", StaffingSettings(threshold=20))
    assert "required_agents_a" not in plain.table


def test_patience_estimated_from_the_calls():
    # SMALL: queue waits 10 + 30 + 40 (abandoned) + 0 + 20 = 100 s, 1 abandon -> 100 s
    res = intraday({"contacts": _calls(SMALL)}, "2026-10", StaffingSettings(patience="data"))
    assert res.patience == 100.0
    assert "100 s of queue wait over 1 abandon" in res.patience_source
    assert res.table.required_agents_a.notna().all()
    # no abandons: nothing to estimate from, said, not guessed
    answered_only = [r for r in SMALL if r[1] == 1.0]
    with pytest.raises(StaffingError, match="no abandoned calls"):
        intraday({"contacts": _calls(answered_only)}, "2026-10",
                 StaffingSettings(patience="data"))
    with pytest.raises(StaffingError, match="needs each call's queue wait"):
        intraday({"contacts": _calls(SMALL).drop(columns="wait")}, "2026-10",
                 StaffingSettings(patience="data"))


def test_patience_setting_is_checked():
    class Cfg:
        raw = {"staffing": {"patience": "data"}}
    assert staffing_settings(Cfg()).patience == "data"
    assert staffing_settings(Cfg(), patience="90").patience == 90.0
    Cfg.raw = {"staffing": {"patience": -5, "target_asa": 20}}
    with pytest.raises(ConfigError) as e:
        staffing_settings(Cfg())
    text = "\n".join(e.value.problems)
    assert "patience must be \"data\" (estimate it from the calls) or a number" in text
    Cfg.raw = {"staffing": {"patience": 90, "target_asa": 20}}
    with pytest.raises(ConfigError, match="patience adds Erlang A agents for a service-level"):
        staffing_settings(Cfg())
