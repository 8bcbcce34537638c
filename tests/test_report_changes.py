"""Issue 16 §2 in the outputs: the message's "biggest changes" and the scorecard's notes
say whether each change is better or worse and whether it is larger than chance, list
the ones larger than chance first, and write a share's change in percentage points.
(The tests themselves are checked in test_change.py.)"""

from __future__ import annotations

import math

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("jinja2")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.catalog.kpis._common import Z95  # noqa: E402
from kpi_xl.config import ConfigError, parse_config  # noqa: E402
from kpi_xl.engine.results import TIDY_COLUMNS, Results  # noqa: E402
from kpi_xl.mail.message import build, environment, summary  # noqa: E402
from kpi_xl.mail.stakeholders import Delivery, Stakeholder  # noqa: E402
from kpi_xl.scorecard.build import scorecard_context  # noqa: E402

MONTH, PREVIOUS = "2026-10", "2026-09"
BOSS = Stakeholder("Dana Reyes", "dana@example.com", "Head of service")

#: kpi -> (September, October, n, margin or None). The figures are made up; what each
#: test says of them is derived in test_issue_16_changes below.
FIGURES = {
    "nps": (6.0, 9.0, 350, 10.0),
    "fcr": (0.70, 0.66, 4000, None),
    "aht": (360.0, 372.0, 5000, Z95 * 150 / math.sqrt(5000)),
    "asa": (30.0, 33.0, 20, Z95 * 12 / math.sqrt(20)),
}


def _table(figures=FIGURES):
    rows = []
    for key, (sep, octo, n, margin) in figures.items():
        k = CATALOG[key]
        v = k.default_variant
        for period, value in ((PREVIOUS, sep), (MONTH, octo)):
            rows.append({
                "period": period, "level": "organisation", "key": "all", "kpi": key,
                "variant": v.name, "value": value, "n": float(n),
                "margin": float("nan") if margin is None else margin,
                "target": float("nan"), "status": "",
                "low_sample": k.min_n is not None and n < k.min_n, "note": "",
                "title": k.title, "unit": k.unit_of(v), "number_format": k.format_of(v),
                "direction": k.direction_of(v)})
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


def test_issue_16_changes():
    """NPS 6 → 9 on 350 answers with a ±10 margin came first (its relative size, 50 %, is
    the largest) with no direction. Now:
    - AHT 360 → 372 s (s.d. 150, n 5,000 each): se = 150·√(2/5000) = 3.0, t = 4.0,
      p ≈ 6.4e-5: worse, larger than chance;
    - FCR 70 % → 66 % of 4,000: pooled 68 %, se = √(0.68·0.32·2/4000) = 0.010431,
      z = −3.835, p ≈ 1.3e-4: worse, larger than chance, "-4.0 points";
    - NPS +3 points: z = 0.416, p = 0.678 (test_change.py): better, within noise;
    - ASA 30 → 33 s on 20 calls (+10 %): below the 30 rows a mean needs: small sample,
      ranked after NPS (+50 %), so the fourth and left out of the three listed."""
    ctx = summary(_table(), Delivery(BOSS), MONTH, PREVIOUS)
    got = [(c["key"], c["direction"], c["verdict"], c["change_text"]) for c in ctx["changes"]]
    assert got == [("aht", "worse", "larger than chance", "+12 s"),
                   ("fcr", "worse", "larger than chance", "-4.0 points"),
                   ("nps", "better", "within noise", "+3 points")]
    # t = 4.0 on 9,998 Welch df; scipy 1.17: 2·t.sf(4, 9998) = 6.37988e-5
    assert ctx["changes"][0]["p_value"] == pytest.approx(6.37988e-5, rel=1e-5)
    msg = build(Delivery(BOSS), ctx, [], "reports@example.com", "kpi_xl", environment(),
                "Acme Support")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "- Net Promoter Score: 6 -> 9 (+3 points): better, within noise" in text
    assert ("- First contact resolution (FCR): 70.0% -> 66.0% (-4.0 points): worse, "
            "larger than chance at 95 %") in text
    assert "less than 5 % of the time" in text
    assert "<b>worse</b>, larger than chance at 95 %" in html


def test_a_small_sample_says_so():
    only_asa = {"asa": FIGURES["asa"]}
    [c] = summary(_table(only_asa), Delivery(BOSS), MONTH, PREVIOUS)["changes"]
    assert (c["direction"], c["verdict"]) == ("worse", "small sample")


def test_the_level_is_the_configs():
    """FCR 80 % → 76 % of 1,000 contacts each: pooled 78 %, se = √(0.78·0.22·2/1000) =
    0.018526, z = −2.1591, p = 0.0308 (2·(1 − Φ(2.159)); normal table Φ(2.16) = 0.9846):
    beyond chance at 95 %, within noise at 99 %."""
    table = _table({"fcr": (0.80, 0.76, 1000, None)})
    [c] = summary(table, Delivery(BOSS), MONTH, PREVIOUS)["changes"]
    assert c["p_value"] == pytest.approx(0.0308, abs=1e-4)
    assert c["verdict"] == "larger than chance"
    ctx = summary(table, Delivery(BOSS), MONTH, PREVIOUS, significance=0.99)
    assert ctx["changes"][0]["verdict"] == "within noise" and ctx["level_text"] == "99 %"


@pytest.mark.parametrize("value, ok", [(0.9, True), (0.95, True), (95, False), (1.0, False),
                                       ("95%", False), (True, False), (0.5, False)])
def test_report_significance_is_validated(value, ok):
    base = {"sources": [{"preset": "zendesk", "path": "x.csv"}]}
    if ok:
        assert parse_config({**base, "report": {"significance": value}}).significance == value
    else:
        with pytest.raises(ConfigError, match=r"\[report\] significance must be"):
            parse_config({**base, "report": {"significance": value}})
    assert parse_config(base).significance == 0.95
    with pytest.raises(ConfigError, match=r"\[report\] unknown key 'level'"):
        parse_config({**base, "report": {"level": 0.9}})


def test_the_scorecard_note_carries_the_change():
    res = Results(_table(), MONTH, [PREVIOUS, MONTH], {})
    ctx = scorecard_context(res, "Acme Support")
    notes = {k["key"]: k["note"] for p in ctx["perspectives"] for k in p["kpis"]}
    assert notes["nps"] == "change: better, within noise"
    assert notes["fcr"] == "change: worse, larger than chance at 95 %"


def test_a_change_the_format_rounds_away_is_not_listed():
    """NPS 3.2 -> 2.9 shows as '3 -> 3' (format 0): not 'worse, within noise' beside
    '0 points', but unchanged, and left out of the list."""
    table = _table({"nps": (3.2, 2.9, 900, 6.0), "fcr": (0.80, 0.76, 1000, None)})
    ctx = summary(table, Delivery(BOSS), MONTH, PREVIOUS)
    assert [c["key"] for c in ctx["changes"]] == ["fcr"]


def _history(key, values):
    """One organisation row per month up to October 2026 (values oldest first)."""
    from kpi_xl.periods import Period

    k = CATALOG[key]
    v = k.default_variant
    months = [p.label for p in Period.parse(MONTH).back(len(values) - 1)]
    return pd.DataFrame([{
        "period": p, "level": "organisation", "key": "all", "kpi": key, "variant": v.name,
        "value": x, "n": 900.0, "margin": 1.0, "target": float("nan"), "status": "",
        "low_sample": False, "note": "", "title": k.title, "unit": k.unit_of(v),
        "number_format": k.format_of(v), "direction": k.direction_of(v)}
        for p, x in zip(months, values, strict=True)], columns=list(TIDY_COLUMNS)), months


def test_a_first_response_spike_is_flagged():
    """First response time (hours) over eleven months: 2.0, 2.2, 2.1, 1.9, 2.3, 2.0, 2.1,
    2.2, 2.0, 2.1, 1.9, then 3.5 in October: median 2.1, absolute deviations 0.1, 0.1, 0,
    0.2, 0.2, 0.1, 0, 0.1, 0.1, 0, 0.2 whose median is 0.1; M = 0.6745 · 1.4 / 0.1 = 9.4 >
    3.5: far above its usual level, in the message and on the scorecard's note."""
    table, months = _history("first_response_time",
                             [2.0, 2.2, 2.1, 1.9, 2.3, 2.0, 2.1, 2.2, 2.0, 2.1, 1.9, 3.5])
    ctx = summary(table, Delivery(BOSS), MONTH, PREVIOUS)
    [s] = ctx["spikes"]
    assert s["score"] == pytest.approx(0.6745 * 1.4 / 0.1, rel=1e-6)
    want = "far above its usual level (2.1 h, the median of the 11 months before)"
    assert (s["title"], s["value_text"], s["wording"]) == ("First response time", "3.5 h", want)
    msg = build(Delivery(BOSS), ctx, [], "reports@example.com", "kpi_xl", environment(),
                "Acme Support")
    assert f"- First response time: 3.5 h, {want}" in msg.get_body(("plain",)).get_content()
    notes = {k["key"]: k["note"] for p in scorecard_context(
        Results(table, MONTH, months, {}), "Acme Support")["perspectives"] for k in p["kpis"]}
    assert want in notes["first_response_time"]
    # a usual October: nothing flagged
    table, _ = _history("first_response_time",
                        [2.0, 2.2, 2.1, 1.9, 2.3, 2.0, 2.1, 2.2, 2.0, 2.1, 1.9, 2.2])
    assert summary(table, Delivery(BOSS), MONTH, PREVIOUS)["spikes"] == []
