"""A hostile review of issue 10 ("Numbers you can trust"): each test pins a path that still
let a wrong, empty or mis-assigned number reach a workbook or a message, found by using
the command line as a user would."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.cli import main  # noqa: E402

from demo_exports import thin_month  # noqa: E402


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path

def _refused_compute(tmp_path, capsys, rows):
    """Write the calls, run `compute` for 2026-10 on them: (path, out, stderr), exit 4."""
    path = _write(tmp_path / "calls.csv", rows)
    out = tmp_path / "out"
    rc = main(["compute", "--source", f"generic-contacts={path}", "--month", "2026-10",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 4, err
    return path, out, err


def test_a_kpi_that_loses_most_rows_to_its_rule_stops_the_run(tmp_path, capsys):
    """An export whose queue-wait column is blank on the answered calls: each answered
    call leaves ASA and service level (issue 10, section 3), the abandoned calls stay, so
    service level came out as 0 / 2 = 0.0 % 'off target', exit 0, a confident wrong
    number. The rows a KPI loses are rejected rows for that KPI: above
    max_rejected_share the run stops, naming the KPI, as it does for rejected rows.

    10 calls in 2026-10: 8 answered without a wait, 2 abandoned after 30 and 50 s."""
    rows = [["id", "date", "channel", "answered", "wait", "talk"]]
    rows += [[f"A{i}", "2026-10-05 10:00", "phone", "1", "", "100"] for i in range(8)]
    rows += [[f"N{i}", "2026-10-05 11:00", "phone", "0", w, ""] for i, w in enumerate(
        ("30", "50"))]
    path, out, err = _refused_compute(tmp_path, capsys, rows)
    # 8 of the 10 rows in the month leave service level and ASA: 80 % > 5 %
    assert "calls.csv (generic-contacts): 8 of its 10 rows in 2026-10 (80%) leave " \
           "Average speed of answer (ASA), Service level by their input rules" in err, err
    assert "8 × 'wait' must not be blank where 'answered' is yes" in err
    assert not out.exists()
    # validate (no month) judges the whole file the same way
    assert main(["validate", "--source", f"generic-contacts={path}"]) == 4
    assert "8 of its 10 rows (80%) leave Average speed of answer (ASA), Service level" \
        in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    from kpi_xl.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, "2026-10")
    return folder


def test_compute_after_scorecard_does_not_let_send_mix_results_and_workbooks(
        demo_folder, tmp_path, capsys):
    """`scorecard` writes the results, the workbooks and the run status; a later `compute`
    for the same month (another config: CSAT as a mean) rewrote the results and the
    status but not the workbooks, and `send` then mailed a summary from the new results
    (CSAT 3.87) with workbooks of the old ones attached (CSAT 69.2 %). A step that
    rewrites the results withdraws the status until the workbooks are made again."""
    cfg = demo_folder / "kpi_xl.toml"
    mean = tmp_path / "mean.toml"
    mean.write_text(cfg.read_text(encoding="utf-8").replace(
        'path = "exports/', f'path = "{demo_folder.as_posix()}/exports/').replace(
        "[kpis.csat]\n", '[kpis.csat]\nvariant = "mean"\ntarget = 4.2\n'), encoding="utf-8")
    out = tmp_path / "out"
    common = ["--month", "2026-10", "--out", str(out)]
    assert main(["scorecard", "-c", str(cfg), *common]) == 0
    status = out / "2026-10" / "run-status.json"
    assert status.is_file()
    assert main(["compute", "-c", str(mean), *common]) == 0
    assert not status.exists()
    capsys.readouterr()
    assert main(["send", "-c", str(cfg), *common]) == 1
    assert "no finished run for 2026-10" in capsys.readouterr().err
    assert not (out / "2026-10" / "outbox").exists()


def test_history_0_does_not_switch_the_thin_month_guard_off(demo_folder, tmp_path, capsys):
    """The usual volume was the median over the --history window only: with --history 0
    the window was empty, so a month holding a tenth of its usual contacts went through
    (exit 0). How many months of trend a report shows is not how the data is checked:
    the guard looks at the 12 months before (or the history, if longer)."""
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(demo_folder, folder)
    # the demo has 6,000 contacts in each month (counted from the file)
    assert thin_month(folder, "2026-10", 10) == (600, 6000)
    out = tmp_path / "out"
    rc = main(["compute", "-c", str(folder / "kpi_xl.toml"), "--month", "2026-10",
               "--history", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 4, err
    assert "has 600 contact rows in 2026-10, 10% of its usual 6,000 (the median of 12 " \
           "earlier months" in err
    assert not out.exists()


def test_a_partial_report_sent_does_not_block_the_complete_one(demo_folder, tmp_path, capsys):
    """`run --allow-partial` on a month with a tenth of its contacts mails everyone a
    report marked partial data and ledgers it as sent; when the complete export arrives,
    `run` rebuilt the workbooks and then skipped every message as 'already sent' (exit 0):
    the stakeholders kept the partial report, the harm issue 10 section 1 names. A report
    sent as partial is now ledgered apart, so the complete one is still due."""
    import email
    import shutil

    folder = tmp_path / "thin"
    shutil.copytree(demo_folder, folder)
    thin_month(folder, "2026-10", 10)
    out = tmp_path / "out"
    common = ["--month", "2026-10", "--out", str(out)]
    assert main(["run", "-c", str(folder / "kpi_xl.toml"), *common, "--allow-partial"]) == 0
    assert main(["run", "-c", str(demo_folder / "kpi_xl.toml"), *common]) == 0
    # the demo's nine stakeholders (its Payments queue manager among them)
    assert "9 sent, 0 skipped" in capsys.readouterr().out
    assert main(["run", "-c", str(demo_folder / "kpi_xl.toml"), *common]) == 0
    assert "0 sent, 9 skipped" in capsys.readouterr().out          # and only once
    boxes = sorted((out / "2026-10" / "outbox").glob("*.eml"))
    assert boxes
    for p in boxes:      # what each stakeholder last received is the complete report
        msg = email.message_from_bytes(p.read_bytes())
        assert "partial data" not in msg["Subject"].lower(), (p.name, msg["Subject"])


@pytest.mark.parametrize("kpis", [
    {"csat": {"variant": "mean", "target": 80}},     # a 1-5 mean cannot reach 80
    {"nps": {"target": 150}},                        # NPS lies within -100..100
    {"aht": {"target": -5}},                         # a handle time is never negative
])
def test_targets_outside_what_the_variant_can_take_are_refused(kpis):
    """Issue 10 section 4: 'targets and worst cases are checked against the variant's
    unit'. A CSAT mean target of 80 (meant as 80 %) was accepted, and every month was then
    scored against it: 3.87 of 80 is 'off target' with a score near 0 %. The variant's
    range now comes from the catalog (kpi_xl.catalog.rules.value_range)."""
    from kpi_xl.config import parse_config
    from kpi_xl.data.sources import ConfigError

    with pytest.raises(ConfigError):
        parse_config({"sources": [{"preset": "zendesk", "path": "x.csv"}], "kpis": kpis})


def test_a_month_with_many_rejected_rows_is_refused_though_the_file_is_mostly_fine(
        demo_folder, tmp_path, capsys):
    """A new channel ('video', not in [centre] channels) appears in the reported month on
    2 of every 5 contacts: each of those rows is rejected. The rejected share was judged
    over the whole 13-month file (2,400 of 78,000 = 3.1 % < 5 %) and the month kept 60 % of
    its usual volume (> 50 %), so the report went out built on 3,600 of 6,000 contacts,
    exit 0. The share is now judged in the month too."""
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(demo_folder, folder)
    path = folder / "exports" / "contacts.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        head, *body = list(csv.reader(f))
    date, channel = head.index("date"), head.index("channel")
    october = [r for r in body if r[date][:7] == "2026-10"]
    for i, r in enumerate(october):
        if i % 5 < 2:
            r[channel] = "video"
    _write(path, [head, *body])
    assert len(october) == 6000 and sum(r[channel] == "video" for r in october) == 2400
    out = tmp_path / "out"
    rc = main(["compute", "-c", str(folder / "kpi_xl.toml"), "--month", "2026-10",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 4, err
    assert "contacts.csv (generic-contacts) rejects 2,400 of its 6,000 rows in 2026-10 (40%" \
           in err, err
    assert "'channel' is not a known channel" in err
    assert not out.exists()


def test_a_column_whose_values_are_mostly_ignored_stops_the_run(tmp_path, capsys):
    """Talk times written '5 min' are not durations: each is ignored and the call stays
    without it, named by no KPI (no rule needs the talk), so AHT came from the 2 calls of
    10 whose talk was a number (exit 0). Above max_rejected_share of the month's rows, a
    column's ignored values stop the run like rejected rows."""
    rows = [["id", "date", "channel", "answered", "wait", "talk"]]
    rows += [[f"A{i}", "2026-10-05 10:00", "phone", "1", "10", "5 min"] for i in range(8)]
    rows += [[f"B{i}", "2026-10-05 11:00", "phone", "1", "10", "300"] for i in range(2)]
    path, out, err = _refused_compute(tmp_path, capsys, rows)
    assert "calls.csv (generic-contacts): 8 of its 10 rows in 2026-10 (80%) have their " \
           "'talk' value ignored" in err, err
    assert "8 × 'talk' is not a duration" in err
    assert not out.exists()


def test_a_row_whose_agent_is_not_in_the_roster_stays_and_is_counted(tmp_path, capsys):
    """Issue 10 section 2: 'a row whose agent is not in the roster keeps its own team or
    "(no team)", counted in the coverage line'. The loader rejected such rows instead: a
    new hire missing from the roster vanished from every KPI, the centre's too (here 2 of
    4 calls: ticket volume 2, AHT (100 + 200) / 2 = 150 s instead of 4 and 250 s)."""
    calls = _write(tmp_path / "calls.csv", [
        ["id", "date", "channel", "agent", "answered", "wait", "talk", "team"],
        ["1", "2026-10-01", "phone", "Ana", "1", "5", "100", ""],
        ["2", "2026-10-01", "phone", "Ben", "1", "5", "200", ""],
        ["3", "2026-10-01", "phone", "Zoe", "1", "5", "300", "Tier 3"],
        ["4", "2026-10-01", "phone", "Max", "1", "5", "400", ""]])
    roster = _write(tmp_path / "roster.csv", [["agent", "team"], ["Ana", "Tier 1"],
                                              ["Ben", "Tier 2"]])
    out = tmp_path / "out"
    rc = main(["compute", "--source", f"generic-contacts={calls}",
               "--source", f"generic-roster={roster}", "--month", "2026-10",
               "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "! 2 of 4 contacts rows name an agent who is not in the roster" in captured.out
    import pandas as pd

    t = pd.read_csv(out / "2026-10" / "kpi-results.csv", encoding="utf-8-sig")

    def value(kpi, level="organisation", key="all"):
        row = t[(t.kpi == kpi) & (t.level == level) & (t.key == key) & (t.period == "2026-10")]
        return float(row.value.iloc[0])
    assert value("ticket_volume") == 4
    assert value("aht") == (100 + 200 + 300 + 400) / 4          # 250 s
    assert value("aht", "team", "Tier 3") == 300                 # Zoe keeps her own team
    assert value("aht", "team", "(no team)") == 400              # Max: no team anywhere
