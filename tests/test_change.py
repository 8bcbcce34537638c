"""The tests of a change between two periods (kpi_xl.catalog.change): hand-derived
vectors for each test, the verdict and direction words, and a simulation showing that on
unchanged data each test calls about 5 % of changes "larger than chance" at 95 %.

Where a vector says "scipy 1.17 gives", the figure was checked with scipy.stats in a
separate venv (scipy is no dependency of kpi_xl); the derivation by hand is beside it."""

import math

import numpy as np
import pytest

from kpi_xl.catalog import CATALOG
from kpi_xl.catalog.change import (Sample, betainc, compare, direction_word, nps_shares,
                                   nps_test, poisson_test, proportion_test, t_two_sided,
                                   welch_test)
from kpi_xl.catalog.kpis._common import Z95
from kpi_xl.render.arrays import compute


def test_two_proportion_z():
    """FCR 80 % of 500 contacts, then 75 % of 400.
    x = 400 and 300; pooled p = 700/900 = 0.77778; se = √(0.77778 · 0.22222 · (1/500 +
    1/400)) = √(0.172840 · 0.0045) = 0.027889; z = (0.75 − 0.80)/0.027889 = −1.7928;
    two-sided p = 2·(1 − Φ(1.7928)) = 0.0730 (normal table: Φ(1.79) = 0.9633).
    scipy 1.17: 2·norm.sf(1.792843) = 0.0729980."""
    p, z = proportion_test(0.80, 500, 0.75, 400)
    assert z == pytest.approx(-1.792843, abs=1e-6)
    assert p == pytest.approx(0.0729980, abs=1e-6)
    c = compare("proportion", "higher", Sample(0.80, 500), Sample(0.75, 400))
    assert (c.direction, c.significant, c.verdict) == ("worse", False, "within noise")
    # at 90 % the same change is beyond chance (p = 0.073 < 0.10)
    c = compare("proportion", "higher", Sample(0.80, 500), Sample(0.75, 400), level=0.90)
    assert (c.significant, c.verdict) == (True, "larger than chance")


def test_nps_change_of_the_issue_is_within_noise():
    """Issue 16: NPS 6 → 9 on 350 answers each, margin ±10. Each period's shares: p − d =
    0.06 (0.09) and p + d = (10/196)²·350 + 0.06² = 0.911079 + 0.0036 = 0.914679
    (0.911079 + 0.0081 = 0.919179); pooled (equal n): p − d = 0.075, p + d = 0.916929;
    variance per answer 0.916929 − 0.075² = 0.911304; se = √(0.911304 · 2/350) = 0.072163;
    z = 0.03/0.072163 = 0.41573; p = 2·(1 − Φ(0.4157)) = 0.6776.
    scipy 1.17: 2·norm.sf(0.4157275) = 0.6776094."""
    p, z = nps_test(6, 350, 10, 9, 350, 10)
    assert z == pytest.approx(0.4157275, abs=1e-6)
    assert p == pytest.approx(0.6776094, abs=1e-6)
    c = compare("nps", "higher", Sample(6, 350, 10), Sample(9, 350, 10))
    assert (c.direction, c.verdict) == ("better", "within noise")


def test_nps_shares_come_back_from_the_catalogs_margin():
    """45 promoters, 30 passives, 25 detractors of 100: the catalog's NPS is 20 with its
    margin; reading the shares back gives 0.45 and 0.25."""
    scores = [10] * 45 + [8] * 30 + [3] * 25
    r = compute("nps", scores=scores)
    assert r.value == pytest.approx(20.0)
    assert nps_shares(r.value, r.n, r.margin) == pytest.approx((0.45, 0.25), abs=1e-12)


def test_nps_change_beyond_chance():
    """400 answers: 50 % promoters, 20 % detractors (NPS 30), then 40 % and 30 % (NPS 10).
    Pooled p = 0.45, d = 0.25: variance 0.70 − 0.04 = 0.66; se = √(0.66 · 2/400) = 0.057446;
    z = −0.20/0.057446 = −3.4815; p = 0.000499 (scipy 1.17: 2·norm.sf(3.4815) = 0.000499)."""
    a = compute("nps", scores=[9] * 200 + [7] * 120 + [0] * 80)
    b = compute("nps", scores=[9] * 160 + [7] * 120 + [0] * 120)
    c = compare("nps", "higher", Sample(a.value, a.n, a.margin), Sample(b.value, b.n, b.margin))
    assert c.statistic == pytest.approx(-3.4815, abs=1e-4)
    assert c.p_value == pytest.approx(0.000499, abs=2e-6)
    assert (c.direction, c.verdict) == ("worse", "larger than chance")


def test_welch_t():
    """AHT 300 s (s.d. 120, n 50), then 330 s (s.d. 150, n 40); lower is better.
    se² = 120²/50 + 150²/40 = 288 + 562.5 = 850.5; t = 30/√850.5 = 1.02869;
    df = 850.5² / (288²/49 + 562.5²/39) = 723350.25 / (1692.73 + 8113.46) = 73.76;
    scipy 1.17: ttest_ind_from_stats(330, 150, 40, 300, 120, 50, equal_var=False) gives
    t = 1.028689, p = 0.306987."""
    m1, m2 = Z95 * 120 / math.sqrt(50), Z95 * 150 / math.sqrt(40)
    p, t = welch_test(300, 50, m1, 330, 40, m2)
    assert t == pytest.approx(1.028689, abs=1e-6)
    assert p == pytest.approx(0.306987, abs=1e-6)
    c = compare("mean", "lower", Sample(300, 50, m1), Sample(330, 40, m2))
    assert (c.direction, c.verdict) == ("worse", "within noise")


def test_welch_reads_the_catalogs_margin():
    """ASA over answered calls 10, 20, 30 s (mean 20, s.d. 10) then 40, 50, 60 s (mean 50,
    s.d. 10): se² = 100/3 each; t = 30/√(200/3) = 3.674235; df = (200/3)² / (2 · (100/3)²/2)
    = 4; p = 0.021312 (t table, 4 df: t₀.₀₂₅ = 2.776, t₀.₀₁ = 3.747; scipy 1.17:
    ttest_ind([40, 50, 60], [10, 20, 30], equal_var=False) p = 0.0213116)."""
    a = compute("asa", wait=[10, 20, 30], answered=[1, 1, 1])
    b = compute("asa", wait=[40, 50, 60], answered=[1, 1, 1])
    p, t = welch_test(a.value, a.n, a.margin, b.value, b.n, b.margin)
    assert t == pytest.approx(3.674235, abs=1e-6)
    assert p == pytest.approx(0.0213116, abs=1e-6)
    # 3 calls is below the 30 the test needs: no verdict, and the message says so
    c = compare("mean", "lower", Sample(a.value, a.n, a.margin), Sample(b.value, b.n, b.margin))
    assert (c.direction, c.significant, c.verdict) == ("worse", None, "small sample")
    assert "n = 3" in c.reason


def test_t_distribution_against_the_table():
    """Student's t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2): two-sided 5 % points
    t = 2.228 at 10 df and 1.960 at infinity; the incomplete beta I_0.4(2, 3) =
    Σ_{j=2..4} C(4, j) 0.4^j 0.6^(4−j) = 0.3456 + 0.1536 + 0.0256 = 0.5248."""
    assert t_two_sided(2.228139, 10) == pytest.approx(0.05, abs=1e-6)
    assert t_two_sided(1.959964, 1e7) == pytest.approx(0.05, abs=1e-6)
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248, abs=1e-12)


def test_poisson_counts():
    """10 tickets, then 25 in a period of the same length: given 35, the second count is
    Binomial(35, ½); P(X ≥ 25) = Σ_{k=25..35} C(35, k)/2³⁵ = 0.0083369; two-sided p =
    0.0166738 (scipy 1.17: binomtest(25, 35, 0.5).pvalue = 0.0166738)."""
    upper = sum(math.comb(35, k) for k in range(25, 36)) / 2 ** 35
    p, ratio = poisson_test(10, 25)
    assert p == pytest.approx(2 * upper, abs=1e-12)
    assert p == pytest.approx(0.0166738, abs=1e-7)
    assert ratio == 2.5
    c = compare("count", "neutral", Sample(10, days=7), Sample(25, days=7))
    assert (c.direction, c.verdict) == ("up", "larger than chance")


def test_poisson_counts_over_periods_of_different_lengths():
    """1,000 tickets in 30 days, then 1,100 in 31: under one daily rate the second count is
    Binomial(2,100, 31/61). scipy 1.17: 2·min(binom.cdf(1100, 2100, 31/61),
    binom.sf(1099, 2100, 31/61)) = 0.158694; the same counts over equal lengths give
    0.0382 (Σ by math.comb below)."""
    p, ratio = poisson_test(1000, 1100, 30, 31)
    assert p == pytest.approx(0.158694, abs=1e-6)
    assert ratio == pytest.approx(1100 / 31 / (1000 / 30))
    upper = sum(math.comb(2100, k) for k in range(1100, 2101)) / 2 ** 2100
    assert poisson_test(1000, 1100)[0] == pytest.approx(2 * upper, rel=1e-9)


def test_directions_and_no_change():
    assert direction_word(0.02, "higher") == "better"
    assert direction_word(-3, "higher") == "worse"
    assert direction_word(-3, "lower") == "better"
    assert direction_word(12, "lower") == "worse"
    assert direction_word(0, "lower") == "unchanged"
    assert direction_word(5, "neutral") == "up"
    c = compare("proportion", "higher", Sample(0.5, 400), Sample(0.5, 400))
    assert (c.direction, c.p_value, c.verdict) == ("unchanged", 1.0, "within noise")


def test_small_samples_and_untested_kpis_say_so():
    # 2 of 40 escalated, then 4 of 40: 3 expected escalations per period, below 5
    c = compare("proportion", "lower", Sample(0.05, 40), Sample(0.10, 40))
    assert (c.direction, c.verdict, c.significant) == ("worse", "small sample", None)
    assert "fewer than 5 expected" in c.reason
    # below the KPI's own minimum n (NPS: 30)
    c = compare("nps", "higher", Sample(10, 20, 40), Sample(50, 20, 35), min_n=30)
    assert c.verdict == "small sample" and "minimum of 30" in c.reason
    c = compare("quantile", "lower", Sample(4.0, 900), Sample(6.0, 900))
    assert (c.direction, c.verdict, c.p_value) == ("worse", "not tested", None)
    with pytest.raises(ValueError, match="between 0 and 1"):
        compare("proportion", "higher", Sample(0.5, 400), Sample(0.6, 400), level=95)


# --------------------------------------------------------------------------- false alarms
N_SIM = 2000
#: 5 % ± 3.5 binomial standard errors of a rate over 2,000 pairs: √(0.05·0.95/2000) = 0.00487
TOLERANCE = 3.5 * math.sqrt(0.05 * 0.95 / N_SIM)


def _rate(pvalues) -> float:
    return float(np.mean(np.asarray(pvalues) < 0.05))


def test_false_alarms_proportion():
    rng = np.random.default_rng(16)
    x = rng.binomial(400, 0.8, size=(N_SIM, 2))
    rate = _rate([proportion_test(a / 400, 400, b / 400, 400)[0] for a, b in x])
    assert abs(rate - 0.05) <= TOLERANCE, rate


def test_false_alarms_nps_through_the_catalog():
    """Two periods of 300 answers from one population (45 % promoters, 20 % detractors),
    each scored by the catalog's NPS (value, n, margin) and compared."""
    rng = np.random.default_rng(17)
    codes = np.array([10, 8, 2])
    out = []
    for _ in range(N_SIM):
        a, b = (compute("nps", scores=codes[rng.choice(3, 300, p=[0.45, 0.35, 0.20])])
                for _ in range(2))
        out.append(nps_test(a.value, a.n, a.margin, b.value, b.n, b.margin)[0])
    assert abs(_rate(out) - 0.05) <= TOLERANCE, _rate(out)


def test_false_alarms_welch_on_skewed_durations():
    """Handle times from one log-normal population (median 300 s, long right tail), 200
    contacts a period, through the catalog's AHT margin."""
    rng = np.random.default_rng(18)
    out = []
    for _ in range(N_SIM):
        a, b = (compute("aht", talk=rng.lognormal(math.log(300), 0.6, 200)) for _ in range(2))
        out.append(welch_test(a.value, a.n, a.margin, b.value, b.n, b.margin)[0])
    assert abs(_rate(out) - 0.05) <= TOLERANCE, _rate(out)


def test_false_alarms_poisson():
    """Ticket counts with one daily rate (40 a day) over 30- and 31-day months. The exact
    test's size is at most 5 % and, at counts this large, close to it. The test is cheap,
    so 10,000 pairs (tolerance 3.5 · √(0.05·0.95/10000) = 0.0076)."""
    rng = np.random.default_rng(19)
    a, b = rng.poisson(40 * 30, 10_000), rng.poisson(40 * 31, 10_000)
    rate = _rate([poisson_test(x, y, 30, 31)[0] for x, y in zip(a, b, strict=True)])
    assert abs(rate - 0.05) <= 3.5 * math.sqrt(0.05 * 0.95 / 10_000), rate


def test_compare_follows_the_catalog_declaration():
    """The test comes from the KPI's declaration, not from its name."""
    assert CATALOG["nps"].change_of(CATALOG["nps"].default_variant) == "nps"
    csat = CATALOG["csat"]
    assert [csat.change_of(v) for v in csat.variants] == ["proportion", "mean"]
    frt = CATALOG["first_response_time"]
    assert [frt.change_of(v) for v in frt.variants] == ["mean", "quantile", "quantile"]
    assert CATALOG["ticket_volume"].change_of(CATALOG["ticket_volume"].default_variant) == "count"


def test_spike_by_the_modified_z_score():
    """Resolution time (hours) over eight weeks: 20, 22, 21, 19, 23, 20, 21, 22. Median 21;
    absolute deviations 1, 1, 0, 2, 2, 1, 0, 1, whose median (MAD) is 1. A week at 30 h:
    M = 0.6745 · 9 / 1 = 6.07 > 3.5 (Iglewicz & Hoaglin's cut): a spike. At 25 h:
    M = 0.6745 · 4 = 2.70: none. Lower is better, so a week at 12 h (M = −6.07) is good
    news, no spike; a KPI without a direction is flagged either way."""
    from kpi_xl.catalog.change import spike

    weeks = [20, 22, 21, 19, 23, 20, 21, 22]
    s = spike(weeks, 30.0, "lower")
    assert (s.usual, s.periods) == (21.0, 8) and s.score == pytest.approx(6.0705)
    assert spike(weeks, 25.0, "lower") is None
    assert spike(weeks, 12.0, "lower") is None
    assert spike(weeks, 12.0, "neutral").score == pytest.approx(-6.0705)
    # fewer than six weeks with a value: no usual level to compare with
    assert spike([20, None, 21, 19, 23, float("nan")], 90.0, "lower") is None


def test_spike_when_most_weeks_sit_on_the_median():
    """20, 20, 20, 20, 24, 20, 20: MAD 0, so the mean absolute deviation stands in:
    MeanAD = 4/7 = 0.5714; a week at 23 h: M = 3/(1.253314 · 0.5714) = 4.19 > 3.5.
    All weeks equal: no spread, nothing flagged."""
    from kpi_xl.catalog.change import spike

    s = spike([20, 20, 20, 20, 24, 20, 20], 23.0, "lower")
    assert s.score == pytest.approx(3 / (1.253314 * 4 / 7))
    assert spike([20] * 8, 23.0, "lower") is None


def test_a_period_without_rows_or_spread_is_a_small_sample_not_an_error():
    c = compare("proportion", "higher", Sample(0.5, 0), Sample(0.6, 100))
    assert (c.verdict, c.p_value, c.reason) == ("small sample", None, "no rows in a period")
    c = compare("nps", "higher", Sample(10, None, None), Sample(20, 50, 20))
    assert c.verdict == "small sample" and c.p_value is None
    c = compare("mean", "lower", Sample(300, 1, None), Sample(320, 80, 30))
    assert (c.verdict, c.reason) == ("small sample", "one row gives no spread")
