"""Periods on the command line and in the run's small parts (issue 12, §2), without data:
which flags name a period, the sentences (exit 2) when they are wrong, the folder a label
makes, the guards' window per grain, and a message's Message-ID for a custom range."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_xl.cli import main
from kpi_xl.periods import Period
from kpi_xl.run.period_flags import Chosen, PeriodError, choose, resolve

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("flags,label,start,end", [
    (["--month", "2026-10"], "2026-10", "2026-10-01", "2026-11-01"),
    (["--week", "2026-W44"], "2026-W44", "2026-10-26", "2026-11-02"),      # ISO: Mon 26 Oct
    (["--quarter", "2026-Q3"], "2026-Q3", "2026-07-01", "2026-10-01"),
    (["--year", "2026"], "2026", "2026-01-01", "2027-01-01"),
    (["--day", "2026-10-05"], "2026-10-05", "2026-10-05", "2026-10-06"),
    (["--from", "2021-01-01", "--to", "2021-03-31"], "2021-01-01..2021-03-31",
     "2021-01-01", "2021-04-01"),
])
def test_each_flag_names_its_period(flags, label, start, end):
    import argparse

    from kpi_xl.cli import _check_period, add_period_flags

    p = argparse.ArgumentParser()
    add_period_flags(p, required=True)
    args = p.parse_args(flags)
    _check_period(p, args)
    got = resolve(args.chosen)
    assert (got.label, str(got.start), str(got.end)) == (label, start, end)


@pytest.mark.parametrize("argv,says", [
    (["--month", "2026-10", "--week", "2026-W44"],
     "give one period, not --month 2026-10 and --week 2026-W44"),
    (["--from", "2021-01-01"], "a range needs both --from and --to"),
    (["--to", "2021-01-01"], "a range needs both --from and --to"),
    (["--from", "2021-03-01", "--to", "2021-01-01"], "--to 2021-01-01 is before --from"),
    (["--week", "2026-W54"], "a week is written like 2026-W44, got '2026-W54'"),
    (["--quarter", "2026-Q5"], "a quarter is written like 2026-Q3 (or FY2027-Q1"),
    (["--day", "2026-02-30"], "a day is written like 2026-10-05"),
    (["--month", "2026-13"], "month must look like 2026-10"),
    ([], "which period? give one of --month 2026-10, --week 2026-W44"),
])
@pytest.mark.parametrize("command", ["compute", "scorecard", "run", "send"])
def test_a_wrong_period_exits_2_before_any_file_is_read(command, argv, says, capsys, tmp_path):
    """The config named does not exist: exit 2 (not 1, 'config file not found') shows the
    period was refused first."""
    with pytest.raises(SystemExit) as e:
        main([command, "-c", str(tmp_path / "missing.toml"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_validate_takes_a_period_or_none():
    assert choose({"month": None, "week": None}, None, None, required=False) == (None, None)
    assert choose({"month": None, "week": "2026-W44"}, None, None,
                  required=False) == (Chosen("week", "2026-W44"), None)


def test_a_fiscal_quarter_needs_the_fiscal_year_start(tmp_path, capsys):
    chosen = Chosen("quarter", "FY2027-Q1")
    with pytest.raises(PeriodError) as e:
        resolve(chosen, 1)
    assert e.value.exit_code == 2 and "fiscal_year_start" in str(e.value)
    q = resolve(chosen, 4)                       # FY2027 starts in April 2026
    assert (q.start, q.end, q.title()) == (dt.date(2026, 4, 1), dt.date(2026, 7, 1),
                                           "FY2027 Q1 (Apr – Jun 2026)")
    # a calendar quarter stays one whatever the fiscal year
    assert resolve(Chosen("quarter", "2026-Q3"), 4).start == dt.date(2026, 7, 1)
    # through the command line: the config is read, its data files are not (they do not
    # exist: a data read would exit 1)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[centre]\nname = "X"\n[[sources]]\npreset = "generic-contacts"\n'
                   'path = "nowhere.csv"\n', encoding="utf-8")
    assert main(["compute", "-c", str(cfg), "--quarter", "FY2027-Q1"]) == 2
    err = capsys.readouterr().err
    assert "--quarter FY2027-Q1 is a fiscal quarter" in err and "fiscal_year_start" in err


def test_help_teaches_every_grain_with_an_example():
    out = subprocess.run([sys.executable, "-m", "kpi_xl.cli", "compute", "--help"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    for example in ("--month 2026-10", "--week 2026-W44", "--quarter 2026-Q3",
                    "--quarter FY2027-Q1", "--year 2026", "--day 2026-10-05",
                    "--from 2021-01-01 --to 2021-03-31"):
        assert example in out, example


def test_every_label_is_a_folder_and_file_name_inside_the_output(tmp_path):
    from kpi_xl.run.month import output_folder
    from kpi_xl.names import inside

    for label in ("2026-10", "2026-W44", "2026-Q3", "FY2027-Q1", "2026", "FY2027",
                  "2026-10-05", "2021-01-01..2021-03-31"):
        p = Period.parse(label, fiscal_start=4 if label.startswith("FY") else 1)
        folder = output_folder(tmp_path, p)
        assert folder.parent == tmp_path.resolve() and folder.name == label
        # no character Windows refuses, no trailing dot or space
        assert not set(label) & set('<>:"/\\|?*') and label[-1] not in ". "
        inside(folder, f"balanced-scorecard-{label}.xlsx")


def test_the_guards_judge_a_period_against_earlier_ones_of_its_grain():
    from kpi_xl.run.guards import in_words, usual_window

    week = Period.parse("2026-W44")
    assert [p.label for p in usual_window(week)] == [f"2026-W{w}" for w in range(32, 44)]
    assert [p.label for p in usual_window(Period.parse("2026-Q3"))] == [
        "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    # a longer --history widens it
    assert len(usual_window(week, 20)) == 20
    # a day against the same weekday: 4 Oct 2026 is a Sunday, so are the 8 before
    sundays = usual_window(Period.parse("2026-10-04"))
    assert len(sundays) == 8 and {p.start.weekday() for p in sundays} == {6}
    assert sundays[-1].label == "2026-09-27"
    assert in_words(week) == "week 44, 2026 (26 Oct – 1 Nov 2026)"
    assert in_words(Period.parse("2026-10")) == "2026-10"      # as monthly messages said


def test_a_range_gives_a_valid_message_id():
    """Before: Message-ID <kpi-xl.2021-01-01..2021-03-31.…@…>: '..' is no dot-atom, and
    a mail parser reports it as a defect."""
    from kpi_xl.mail.message import message_id

    for label in ("2021-01-01..2021-03-31", "2026-W44", "FY2027-Q1"):
        mid = message_id(label, "a@b.example", ["scorecard"], "acme.test")
        m = email.message_from_string(f"Message-ID: {mid}\n\nhi", policy=email.policy.default)
        assert m["Message-ID"].defects == (), (label, m["Message-ID"].defects)
    # months keep the Message-ID they had
    assert message_id("2026-10", "a@b.example", ["scorecard"], "acme.test").startswith(
        "<kpi-xl.2026-10.")


def test_demo_takes_a_week_checked_before_anything_is_written(tmp_path, capsys, monkeypatch):
    from kpi_xl.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["demo", "--week", "2026-43"])
    assert e.value.code == 2
    assert "a week is written like 2026-W44, got '2026-43'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
