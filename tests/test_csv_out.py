"""kpi-results.csv and rejects.csv open cleanly in any locale's Excel (issue 13, section 4):
counts are integers (not ``816.0``), values carry no float noise, and ``[output] csv =
"semicolon"`` writes ``;`` between fields and decimal commas."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.config import parse_config  # noqa: E402
from kpi_xl.csv_out import COMMA, SEMICOLON, number_text  # noqa: E402
from kpi_xl.data.load import load  # noqa: E402
from kpi_xl.data.sources import ConfigError, parse_source  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402
from kpi_xl.engine.results import TIDY_COLUMNS, Results  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def zendesk_results():
    ds = load([parse_source({"preset": "zendesk",
                             "path": str(FIXTURES / "zendesk-tickets.csv")})])
    return ds, Engine(ds.tables).compute("2026-10", 1)


def read_rows(path, delimiter=","):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


@pytest.mark.parametrize("value,text", [
    (816.0, "816"), (0.0, "0"), (-0.0, "0"), (-33.0, "-33"),
    (0.1 + 0.2, "0.3"),                        # 0.30000000000000004: noise dropped
    (2 / 3, "0.666666666666667"),              # 15 significant digits
    (1e-05, "0.00001"), (1e16, "10000000000000000"),     # never an exponent
    (float("nan"), ""), (None, ""),
])
def test_number_text(value, text):
    assert number_text(value) == text
    assert number_text(value, ",") == text.replace(".", ",")


def test_number_text_round_trips_to_15_digits():
    for v in (2 / 3, 1 / 7, 123456.789, 0.8333333333333334, 9.87654321e-3, 1234567890.125):
        assert float(number_text(v)) == float(f"{v:.15g}")
        assert math.isclose(float(number_text(v)), v, rel_tol=1e-14)


def test_counts_are_integers_in_kpi_results(tmp_path):
    # Before: pandas wrote every float column as it was, so n and ticket_volume read
    # '2.0' (and '816.0' on the real data); this test fails on that code.
    _ds, res = zendesk_results()
    rows = read_rows(res.write_csv(tmp_path / "kpi-results.csv"))
    vol = [r for r in rows if r["kpi"] == "ticket_volume" and r["level"] == "team"
           and r["key"] == "Billing" and r["period"] == "2026-10"]
    # the fixture's October tickets of the Billing group: 1001 and 1003 (test_loading)
    assert vol[0]["value"] == "2" and vol[0]["n"] == "2"
    # count KPIs whose format shows whole numbers (contacts per agent is a count per
    # agent, format #,##0.0: not whole in general)
    counts = [r for r in rows if r["unit"] == "count" and r["number_format"] == "#,##0"]
    assert counts and all(r["value"].lstrip("-").isdigit() for r in counts if r["value"])
    assert all(r["n"].isdigit() for r in rows if r["n"])
    # a value that is not whole keeps its digits: CSAT of October, 1 of 2 satisfied
    csat = [r for r in rows if r["kpi"] == "csat" and r["level"] == "organisation"
            and r["period"] == "2026-10"]
    assert csat[0]["value"] == "0.5"


def test_noisy_floats_are_cut_to_15_significant_digits(tmp_path):
    row = {c: "" for c in TIDY_COLUMNS}
    row.update(period="2026-10", level="organisation", key="all", kpi="fcr_rate",
               variant="standard", value=0.1 + 0.2, n=816.0, margin=float("nan"),
               target=0.7, status="off target", low_sample=False, unit="percent")
    res = Results(pd.DataFrame([row], columns=list(TIDY_COLUMNS)), "2026-10", ["2026-10"], {})
    (r,) = read_rows(res.write_csv(tmp_path / "k.csv"))
    assert (r["value"], r["n"], r["margin"], r["target"]) == ("0.3", "816", "", "0.7")


def test_semicolon_style_reads_back_with_csv_and_pandas(tmp_path):
    ds, res = zendesk_results()
    path = res.write_csv(tmp_path / "kpi-results.csv", SEMICOLON)
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n" if b"\r\n" in raw else b"\n")[0].decode()
    assert header == ";".join(TIDY_COLUMNS)
    rows = read_rows(path, ";")
    csat = [r for r in rows if r["kpi"] == "csat" and r["level"] == "organisation"
            and r["period"] == "2026-10"][0]
    assert csat["value"] == "0,5"
    back = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    assert len(back) == len(res.table)
    for c in ("value", "n", "margin", "target"):
        got = back[c].to_numpy(dtype=float)
        want = res.table[c].to_numpy(dtype=float)
        assert ((got == want) | (pd.isna(got) & pd.isna(want))
                | pd.Series(abs(got - want) <= 1e-14 * abs(want)).to_numpy()).all(), c
    rej = ds.rejects.write_csv(tmp_path / "rejects.csv", SEMICOLON)
    rrows = read_rows(rej, ";")
    assert [(r["row"], r["column"]) for r in rrows] == [
        ("7", "Via"), ("8", "First reply time in minutes")]
    assert len(pd.read_csv(rej, sep=";", decimal=",", encoding="utf-8-sig")) == 2
    # the default stays the comma file it was
    assert read_rows(ds.rejects.write_csv(tmp_path / "r2.csv", COMMA))[0]["row"] == "7"


CONFIG = f"""
[centre]
name = "Acme"
time_zone = "Europe/Lisbon"

[[sources]]
preset = "zendesk"
path = "{(FIXTURES / 'zendesk-tickets.csv').as_posix()}"

[output]
csv = "semicolon"
"""


def test_output_setting_reaches_both_files(tmp_path, capsys):
    p = tmp_path / "kpi_xl.toml"
    p.write_text(CONFIG, encoding="utf-8")
    rc = main(["compute", "-c", str(p), "--month", "2026-10", "--history", "1",
               "--allow-partial", "--out", str(tmp_path / "out")])
    assert rc == 0, capsys.readouterr().err
    folder = tmp_path / "out" / "2026-10"
    for name in ("kpi-results.csv", "rejects.csv"):
        first = (folder / name).read_text(encoding="utf-8-sig").splitlines()[0]
        assert ";" in first and "," not in first, name


def test_output_setting_is_checked():
    base = {"sources": [{"preset": "zendesk", "path": "x.csv"}]}
    assert parse_config({**base, "output": {"csv": "semicolon"}}).csv is SEMICOLON
    assert parse_config(base).csv is COMMA
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "output": {"csv": "tab", "xlsx": True}})
    text = "\n".join(e.value.problems)
    assert "[output] csv must be \"comma\"" in text and "got 'tab'" in text
    assert "unknown key 'xlsx'" in text
