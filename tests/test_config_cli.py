"""The config file and the data commands (validate, compute, presets)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.config import parse_config, read_config  # noqa: E402
from kpi_xl.data.sources import ConfigError  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"

GOOD = f"""
[centre]
name = "Acme Support"
time_zone = "Europe/Lisbon"

[business_hours]
mon = ["09:00", "17:00"]
tue = ["09:00", "17:00"]
holidays = ["2026-10-05"]

[[sources]]
preset = "zendesk"
path = "{(FIXTURES / 'zendesk-tickets.csv').as_posix()}"

[kpis.csat]
variant = "top2box"
target = 0.9
min_n = 5
targets = {{ Billing = 0.95 }}

[kpis.sla_compliance]
options = {{ targets = {{ phone = 30, email = 7200, chat = 60, social = 3600 }} }}

[guards]
max_rejected_share = 0.2     # the fixture rejects 1 of its 7 tickets on purpose (channel 'Via')

[qa]
max_score = 5
rubric = [{{ criterion = "Greeting", weight = 1 }}, {{ criterion = "ID check", weight = 1, fatal = true }}]
"""


def test_good_config(tmp_path):
    p = tmp_path / "kpi_xl.toml"
    p.write_text(GOOD, encoding="utf-8")
    cfg = read_config(p)
    assert cfg.name == "Acme Support"
    assert cfg.load.time_zone == "Europe/Lisbon"
    assert set(cfg.load.business_hours.week) == {"mon", "tue"}
    assert cfg.choices["csat"].targets == {"Billing": 0.95}
    assert cfg.choices["qa_score"].params == {"max_score": 5}
    assert [r.fatal for r in cfg.load.rubric] == [False, True]


def test_bad_config_lists_every_problem():
    with pytest.raises(ConfigError) as e:
        parse_config({
            "centre": {"time_zone": "Mars/Olympus"}, "colours": {},
            "business_hours": {"monday": ["09:00", "17:00"], "tue": ["18:00", "09:00"]},
            "kpis": {"nsp": {}, "erlang_agents": {}, "aht": {"variant": "fast"},
                     "service_level": {"options": {"threshold": -1, "speed": 2}, "min_n": 0,
                                       "target": "high"}},
            "qa": {"rubric": [{"criterion": "Greeting"}], "max_score": 0}})
    text = "\n".join(e.value.problems)
    for words in ("unknown section [colours]", "'Mars/Olympus' is not a time zone",
                  "unknown key 'monday'", "opens at 18:00 but closes at 09:00",
                  "'nsp' is not a KPI", "erlang_agents is not computed by the monthly run",
                  "[kpis.aht]: variant", "unknown option 'speed'",
                  "'threshold' must be >= 0, got -1", "min_n must be a whole number >= 1",
                  "target for target must be a number", "rubric item 1 needs criterion and a weight",
                  "max_score must be a number > 0", "no [[sources]]"):
        assert words in text, words


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        read_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[centre\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_config(bad)


def test_compute_command_writes_results_and_rejects(tmp_path, capsys):
    p = tmp_path / "kpi_xl.toml"
    p.write_text(GOOD, encoding="utf-8")
    rc = main(["compute", "-c", str(p), "--month", "2026-10", "--history", "1",
               "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "zendesk-tickets.csv: 7 rows read = 6 used + 1 rejected" in out.out
    assert "Acme Support, 2026-10: organisation level" in out.out
    assert "Customer satisfaction (CSAT)" in out.out
    assert "reading zendesk-tickets.csv" in out.err          # progress goes to stderr
    folder = tmp_path / "out" / "2026-10"
    with open(folder / "kpi-results.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {r["period"] for r in rows} == {"2026-09", "2026-10"}
    csat_billing = [r for r in rows if r["kpi"] == "csat" and r["key"] == "Billing"
                    and r["period"] == "2026-10"]
    assert csat_billing[0]["target"] == "0.95"
    with open(folder / "rejects.csv", encoding="utf-8-sig") as f:
        rej = list(csv.DictReader(f))
    assert [(r["row"], r["column"], r["action"]) for r in rej] == [
        ("7", "Via", "row rejected"), ("8", "First reply time in minutes", "value ignored")]


def test_validate_reports_problems_without_writing(tmp_path, capsys):
    missing = tmp_path / "nothing.csv"
    with pytest.raises(SystemExit) as e:    # a command-line mistake: exit 2, nothing read
        main(["validate", "--source", f"zendesk={missing}", "--source", "nope=x.csv"])
    assert e.value.code == 2 and "unknown preset 'nope'" in capsys.readouterr().err
    rc = main(["validate", "--source", f"zendesk={missing}"])
    captured = capsys.readouterr()
    assert rc == 1 and "file not found" in captured.err
    assert not any(tmp_path.iterdir())
    # one of the fixture's 7 tickets is rejected: above the default 5 %, validate says so
    rc = main(["validate", "--source", f"zendesk={FIXTURES / 'zendesk-tickets.csv'}"])
    err = capsys.readouterr().err
    assert rc == 4 and "rejects 1 of its 7 rows (14%" in err and "'Via'" in err
    p = tmp_path / "kpi_xl.toml"        # the config allows 20 %
    p.write_text(GOOD, encoding="utf-8")
    rc = main(["validate", "-c", str(p)])
    assert rc == 0 and "usable; 2 rows or values would be reported" in capsys.readouterr().out
    assert [x.name for x in tmp_path.iterdir()] == ["kpi_xl.toml"]


@pytest.mark.parametrize("command", ["compute", "scorecard", "run", "send"])
def test_a_bad_month_is_a_command_line_mistake(command, tmp_path, capsys):
    """Checked before any file is read (the config does not exist), exit 2."""
    with pytest.raises(SystemExit) as e:
        main([command, "-c", str(tmp_path / "missing.toml"), "--month", "../../etc"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "month must look like 2026-10" in err and "missing.toml" not in err
    with pytest.raises(SystemExit) as e:
        main(["compute", "-c", "x.toml", "--month", "2026-10", "--history", "-3"])
    assert e.value.code == 2


def test_presets_command(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "zendesk" in out and "anonymous-bank" in out and "(contacts)" in out


def test_readme_config_example_is_valid():
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Configuration\n\n```toml\n(.*?)```", readme, re.S).group(1)
    tomllib = pytest.importorskip("tomllib")

    cfg = parse_config(tomllib.loads(block))
    assert [s.name for s in cfg.sources] == ["zendesk", "calls"]
    assert cfg.choices["service_level"].targets == {"Tier 2": 0.9}
    assert cfg.sources[1].exclude[0].values == ("Test",)


def test_scorecard_section_is_checked():
    with pytest.raises(ConfigError) as e:
        parse_config({"sources": [{"preset": "zendesk", "path": "x.csv"}], "scorecard": {
            "perspectives": [{"name": "Customer", "weight": 60, "kpis": [
                {"kpi": "csat", "weight": 50, "worst": 0.5},
                {"kpi": "nps", "weight": 40, "worst": 30}]}, {"name": "Broken"}]}})
    text = "\n".join(e.value.problems)
    assert "perspectives' weights sum to 60, not 100" in text
    assert "Customer: the KPI weights sum to 90, not 100" in text
    assert "nps's worst case equals its target" in text
    assert "perspective 2 needs name, weight and kpis" in text


def test_scorecard_command_writes_the_workbook(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    rc = main(["scorecard", "--source", f"zendesk={FIXTURES / 'zendesk-tickets.csv'}",
               "--month", "2026-10", "--history", "1", "--out", str(tmp_path),
               "--allow-partial"])    # the fixture rejects 1 ticket of 7, over the 5 % guard
    out = capsys.readouterr().out
    assert rc == 0
    book = tmp_path / "2026-10" / "balanced-scorecard-2026-10.xlsx"
    assert str(book) in out and book.is_file()
    import openpyxl

    ws = openpyxl.load_workbook(book, data_only=True)["Scorecard"]
    rows = {r[0].value: r for r in ws.iter_rows() if r[0].value}
    assert rows["Customer satisfaction (CSAT)"][4].value == 0.5      # Good, Bad in October
