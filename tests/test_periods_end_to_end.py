"""A weekly and a quarterly run of the demo centre, end to end through ``kpi-xl``: data,
guards, KPIs, workbooks and mail to a real SMTP server on 127.0.0.1 (tests/smtp_faults.py,
STARTTLS and AUTH as on a real server); the weekly scorecard recalculated by LibreOffice
equals the engine; the ledger keys on the period, so a week and the month holding it are
each sent once, and a re-run sends nothing again (issue 12, §2).

Expected figures are counted here from the demo's CSV exports with the csv module, by each
row's date, independently of kpi_xl's loader and engine."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import math
import os
import shutil
import statistics
from collections import Counter
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")
pytest.importorskip("trustme")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.engine.results import read_results_json  # noqa: E402
from kpi_xl.scorecard.libreoffice import recalculated_values, render_png, soffice  # noqa: E402

from smtp_faults import FaultServer, tls_pair  # noqa: E402
from scorecard_data import same_cell  # noqa: E402

WEEK, MONTH, QUARTER = "2026-W41", "2026-10", "2026-Q3"     # W41: Mon 5 – Sun 11 Oct 2026
PASSWORD = "s3cret-pw"


def _dates(path: Path, column: str = "date") -> list[dt.date]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [dt.date.fromisoformat(r[column][:10]) for r in csv.DictReader(f)]


def _eval_dates(path: Path) -> dict[str, dt.date]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r["evaluation"]: dt.date.fromisoformat(r["date"][:10])
                for r in csv.DictReader(f)}


def _parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    from kpi_xl.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, MONTH)
    return folder


@pytest.fixture(scope="module")
def runs(demo_folder, tmp_path_factory):
    """Week, then the month holding it, then a quarter, each run once against the SMTP
    server; then the week's send again. What the server held after each step."""
    tmp = tmp_path_factory.mktemp("runs")
    ctx, pem = tls_pair(str(tmp))
    mp = pytest.MonkeyPatch()
    mp.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    server = FaultServer(tls=ctx, password=PASSWORD)
    try:
        cfg = tmp / "kpi_xl.toml"
        text = (demo_folder / "kpi_xl.toml").read_text(encoding="utf-8")
        text = text.replace('path = "exports/', f'path = "{(demo_folder / "exports").as_posix()}/')
        cfg.write_text(text + f'\n[smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
                       f'username = "reports"\nsender = "reports@northwind.example"\n'
                       f'ca_file = "{Path(pem).as_posix()}"\ntimeout = 10\n', encoding="utf-8")
        out = tmp / "out"
        steps = {}
        for name, argv in (("week", ["run", "--week", WEEK]),
                           ("month", ["run", "--month", MONTH, "--history", "1"]),
                           ("quarter", ["run", "--quarter", QUARTER]),
                           ("week again", ["send", "--week", WEEK])):
            rc = main([*argv, "-c", str(cfg), "--out", str(out)])
            steps[name] = (rc, list(server.messages))
        yield out, steps
    finally:
        server.stop()
        mp.undo()


def test_weekly_run_mails_each_stakeholder_the_week(runs, demo_folder):
    out, steps = runs
    rc, messages = steps["week"]
    assert rc == 0
    people = {r for r, _raw in messages}
    # the demo's 9 stakeholders (8, and its Payments queue manager), once each
    assert len(people) == len(messages) == 9
    for _r, raw in messages:
        m = _parse(raw)
        assert "Week 41, 2026 (5 – 11 Oct 2026)" in " ".join(str(m["Subject"]).split())
        body = m.get_body(("plain",)).get_content()
        assert "Here are the Week 41, 2026 (5 – 11 Oct 2026) results" in body
        assert "the week's exports" in body
        if "Biggest changes since" in body:             # the previous week, not month
            assert "Biggest changes since Week 40, 2026 (28 Sep – 4 Oct 2026)" in body
        for part in m.iter_attachments():
            assert part.get_filename().endswith(f"-{WEEK}.xlsx")
    folder = out / WEEK
    assert (folder / f"balanced-scorecard-{WEEK}.xlsx").is_file()
    res = read_results_json(folder / "kpi-results.json")
    assert res.grain == "week" and res.periods[0] == "2026-W29" and len(res.periods) == 13
    # contacts dated Mon 5 – Sun 11 Oct 2026, counted from the export
    want = sum(dt.date(2026, 10, 5) <= d <= dt.date(2026, 10, 11)
               for d in _dates(demo_folder / "exports" / "contacts.csv"))
    assert res.value("ticket_volume") == want


def test_a_week_and_its_month_are_each_sent_once_and_never_again(runs):
    """Before: the ledger keyed on the month alone and no --week existed; now a week and
    the month holding the same dates are two reports, each sent once, and re-sending the
    week sends nothing."""
    _out, steps = runs
    assert steps["month"][0] == 0
    week, month = steps["week"][1], steps["month"][1]
    new = month[len(week):]
    assert len(new) == 9 and {r for r, _ in new} == {r for r, _ in week}
    assert all("October 2026" in str(_parse(raw)["Subject"]) for _r, raw in new)
    rc, after = steps["week again"]
    assert rc == 0
    assert len(after) == len(steps["quarter"][1])     # nothing sent again


def test_quarterly_run_follows_the_quarter(runs, demo_folder):
    out, steps = runs
    rc, messages = steps["quarter"]
    assert rc == 0
    new = messages[len(steps["month"][1]):]
    assert len(new) == 9
    assert all("Q3 2026" in str(_parse(raw)["Subject"]) for _r, raw in new)
    folder = out / QUARTER
    res = read_results_json(folder / "kpi-results.json")
    assert res.periods == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    want = sum(dt.date(2026, 7, 1) <= d <= dt.date(2026, 9, 30)
               for d in _dates(demo_folder / "exports" / "contacts.csv"))
    assert res.value("ticket_volume") == want
    # business figures add up over the quarter's months: its cost over the contacts
    # handled in it (cost_per_contact's binding: total_cost / contacts_handled)
    with open(demo_folder / "exports" / "business.csv", newline="", encoding="utf-8") as f:
        cost = sum(float(r["total_cost"]) for r in csv.DictReader(f)
                   if r["month"] in ("2026-07", "2026-08", "2026-09"))
    with open(demo_folder / "exports" / "contacts.csv", newline="", encoding="utf-8") as f:
        handled = sum(float(r["handled"] or 0) for r in csv.DictReader(f)
                      if "2026-07-01" <= r["date"][:10] <= "2026-09-30")
    assert res.value("cost_per_contact") == pytest.approx(cost / handled, rel=1e-12)
    ws = openpyxl.load_workbook(folder / f"balanced-scorecard-{QUARTER}.xlsx")["Scorecard"]
    cells = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Q3 2026 · generated by kpi_xl from the quarter's exports" in cells
    assert "Scores over 5 quarters" in cells and "Quarter" in cells
    assert [v for v in cells if v in ("Q3 25", "Q4 25", "Q1 26", "Q2 26", "Q3 26")] == [
        "Q3 25", "Q4 25", "Q1 26", "Q2 26", "Q3 26"]


def test_weekly_qa_workbook_holds_the_weeks_evaluations(runs, demo_folder):
    out, _steps = runs
    dates = _eval_dates(demo_folder / "exports" / "qa-evaluations.csv")
    want = {e for e, d in dates.items() if dt.date(2026, 10, 5) <= d <= dt.date(2026, 10, 11)}
    got = set()
    for path in (out / WEEK).glob(f"qa-*-{WEEK}.xlsx"):
        ws = openpyxl.load_workbook(path)["Team"]
        assert "Week 41, 2026 (5 – 11 Oct 2026)" in ws["A2"].value
        start = next(r for r in range(1, ws.max_row + 1)
                     if ws.cell(r, 1).value == "Evaluation") + 1
        for r in range(start, ws.max_row + 1):
            v = ws.cell(r, 1).value
            if v:
                got.add(v)
                d = ws.cell(r, 5).value
                assert dt.date(2026, 10, 5) <= (d.date() if hasattr(d, "date") else d) \
                    <= dt.date(2026, 10, 11)
    assert got == want and len(want) > 0


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed; "
                    ".ci/run installs it")
def test_weekly_scorecard_recalculated_by_libreoffice_equals_the_engine(runs):
    from kpi_xl.catalog import CATALOG
    from kpi_xl.scorecard.build import scorecard_context
    from kpi_xl.scorecard.layout import DEFAULT

    out, _steps = runs
    folder = out / WEEK
    path = folder / f"balanced-scorecard-{WEEK}.xlsx"
    res = read_results_json(folder / "kpi-results.json")
    lo = recalculated_values(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    differ = [(s, c, cached[s][c].value, v) for (s, c), v in lo.items()
              if not same_cell(cached[s][c].value, v)]
    assert differ == [] and len(lo) > 50
    ws = cached["Scorecard"]
    titles = {CATALOG[k].title: k for k in CATALOG}
    seen = 0
    for row in ws.iter_rows(min_row=1):
        key = titles.get(row[0].value)
        if key is None or row[4].value is None:
            continue
        assert row[4].value == pytest.approx(res.value(key), rel=1e-12), key   # Actual
        seen += 1
    # every KPI of the layout that the engine computed for the week (a week has no
    # business figures: the financial ones stay empty)
    computed = [line.kpi for p in DEFAULT.perspectives for line in p.lines
                if res.value(line.kpi) is not None and not math.isnan(res.value(line.kpi))]
    assert seen == len(computed) >= 10
    ctx = scorecard_context(res, "x", DEFAULT)
    index = lo[("Scorecard", "B4")]
    assert isinstance(index, float) and index == pytest.approx(ctx["history"][-1]["overall"],
                                                               rel=1e-12)
    values = [c.value for r in ws.iter_rows() for c in r]
    assert "Trend (13 weeks)" in values and "Scores over 13 weeks" in values
    assert [v for v in values if isinstance(v, str) and v.startswith("W") and v[1:].isdigit()
            ] == [f"W{w}" for w in range(29, 42)]
    pages = render_png(path, folder.parent / "png")
    # one page each: the scorecard, and the demo's By Queue and By Topic sheets
    assert len(pages) == 3 and pages[0].stat().st_size > 20_000
    keep = os.environ.get("KPI_XL_RENDER_DIR")        # to look at it: set this folder
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(pages[0], keep)


# ------------------------------------------------------------------ other grains, guards
@pytest.fixture
def demo(demo_folder, tmp_path) -> Path:
    shutil.copytree(demo_folder, tmp_path / "demo")
    return tmp_path / "demo"


def test_a_thin_week_is_refused_against_the_usual_week(demo, tmp_path, capsys):
    """Keep one contact in ten of week 41: the run stops (exit 4) before writing, and says
    so with the week's title and the median of the 12 weeks before it."""
    path = demo / "exports" / "contacts.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        head, *body = list(csv.reader(f))
    i = head.index("date")

    def week(r):
        return dt.date.fromisoformat(r[i][:10]).isocalendar()[:2]
    inside = [r for r in body if week(r) == (2026, 41)]
    kept = [r for r in body if week(r) != (2026, 41)] + inside[9::10]
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([head, *kept])
    counts = Counter(week(r) for r in kept)
    rows = counts[(2026, 41)]
    usual = statistics.median(counts[(2026, w)] for w in range(29, 41))
    out = tmp_path / "out"
    rc = main(["scorecard", "-c", str(demo / "kpi_xl.toml"), "--week", WEEK, "--out", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 4
    assert "the data for the week is not complete" in err and "fix the data or --week" in err
    assert (f"contacts.csv (generic-contacts) has {rows:,} contact rows in week 41, 2026 "
            f"(5 – 11 Oct 2026), {rows / usual:.0%} of its usual {usual:,.0f} (the median of "
            "12 earlier weeks;") in err
    assert not (out / WEEK).exists()


def test_a_fiscal_quarter_a_day_and_a_range(demo, tmp_path):
    """A range through the command line (its folder and file names hold '..'); a fiscal
    quarter and a day through the same run machinery on the data loaded once."""
    from kpi_xl.config import read_config
    from kpi_xl.periods import Period
    from kpi_xl.run.month import Reporter, engine_for, load_checked

    contacts = _dates(demo / "exports" / "contacts.csv")
    cfg = demo / "kpi_xl.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[centre]\n", "[centre]\nfiscal_year_start = 4\n", 1), encoding="utf-8")
    out = tmp_path / "out"
    rng = "2026-09-01..2026-10-15"
    assert main(["scorecard", "-c", str(cfg), "--from", "2026-09-01", "--to", "2026-10-15",
                 "--history", "1", "--out", str(out)]) == 0
    res = read_results_json(out / rng / "kpi-results.json")
    assert res.periods == ["2026-07-18..2026-08-31", rng]      # 45 days, and the 45 before
    assert res.value("ticket_volume") == sum(
        dt.date(2026, 9, 1) <= d <= dt.date(2026, 10, 15) for d in contacts)
    book = openpyxl.load_workbook(out / rng / f"balanced-scorecard-{rng}.xlsx")["Scorecard"]
    assert book["A2"].value.startswith("1 Sep – 15 Oct 2026 · ")

    config = read_config(str(cfg))
    assert config.fiscal_start == 4
    ds, report = load_checked(config, Period.parse("FY2027-Q1", fiscal_start=4), None,
                              Reporter())
    assert report.ok
    engine = engine_for(config, ds.tables)
    for label, first, last in (("FY2027-Q1", dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
                               ("2026-10-05", dt.date(2026, 10, 5), dt.date(2026, 10, 5))):
        res = engine.compute(label, 1)
        assert res.month == label and len(res.periods) == 2
        assert res.value("ticket_volume") == sum(first <= d <= last for d in contacts), label
    assert engine.compute("FY2027-Q1", 1).periods[0] == "FY2026-Q4"
