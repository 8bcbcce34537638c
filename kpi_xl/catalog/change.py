"""Is a change between two periods better or worse, and larger than chance?

Given a KPI's declaration (its direction, and the change test it declares: see
``CHANGE_TESTS`` in :mod:`kpi_xl.catalog.spec`) and the two periods' figures as the engine
gives them (value, n, margin), :func:`compare` says which way the KPI moved for the better
or the worse, and whether the move is larger than sampling noise at a chosen level
(default 95 %, two-sided):

``proportion``  two-proportion z-test, pooled under no change: x = p·n successes,
                z = (p₂ − p₁) / √(p̄(1 − p̄)(1/n₁ + 1/n₂)), p̄ = (x₁ + x₂)/(n₁ + n₂).
``nps``         the NPS difference over its standard error. Each period's promoter and
                detractor shares are read back from its value and margin (the margin is
                Z95·100·√((p + d − (p − d)²)/n), :func:`kpi_xl.catalog.kpis.satisfaction.
                nps_formula`); under no change they are pooled, as in the two-proportion
                test, and the multinomial variance of p − d is p̄ + d̄ − (p̄ − d̄)².
``mean``        Welch's t: se² = (margin/Z95)² per period (the margin is Z95·s/√n,
                :func:`kpi_xl.catalog.kpis._common.mean_of`), t = Δ/√(se₁² + se₂²),
                Welch–Satterthwaite degrees of freedom.
``count``       events in two periods compared as Poisson rates, conditionally on their
                total: x₂ | x₁ + x₂ ~ Binomial(x₁ + x₂, e₂/(e₁ + e₂)) with e the periods'
                lengths (days); exact two-sided p = min(1, 2 · the smaller tail).
``quantile``    not tested: a median or p90 has no sampling variance in the aggregates.
``none``        not tested: a formula on period totals, a stock or a model.

Each test has the sample it needs to be trusted; below it the change is "small sample",
not a verdict. Plain math on the standard library (the catalog also runs in Pyodide).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .kpis._common import Z95

#: the tests of the sampling distribution need, per period: for shares, at least this many
#: expected successes and failures (the usual rule for the normal approximation)
MIN_EXPECTED = 5
#: for NPS and means, at least this many rows (skewed durations and 0–10 answers need
#: about 30 before the mean's sampling distribution is near normal)
MIN_ROWS = 30
DEFAULT_LEVEL = 0.95

#: how each test is named to a reader (``kpi-xl kpis KEY``)
TEST_NAMES = {"proportion": "two-proportion z-test", "nps": "NPS difference over its "
              "multinomial standard error", "mean": "Welch's t-test",
              "count": "exact Poisson test (conditional binomial)",
              "quantile": "not tested (a median or percentile)",
              "none": "not tested (a formula on period totals)"}
VERDICTS = ("larger than chance", "within noise", "small sample", "not tested")


@dataclass(frozen=True)
class Sample:
    """One period's figures for one KPI, as the results carry them. ``margin``: the
    half-width of the 95 % interval the catalog declares (None: none); ``days``: the
    period's length, used by the count test (periods of different lengths)."""
    value: float
    n: float | None = None
    margin: float | None = None
    days: float = 1.0


@dataclass(frozen=True)
class Change:
    """What changed from ``before`` to ``after``.

    ``direction``: "better", "worse" or "unchanged" (a KPI without a direction: "up",
    "down" or "unchanged"); ``significant``: True/False, None when not tested or the sample
    is too small; ``verdict``: one of ``VERDICTS``; ``reason``: why there is no verdict."""
    test: str
    before: float
    after: float
    direction: str
    p_value: float | None
    statistic: float | None
    significant: bool | None
    verdict: str
    level: float
    reason: str = ""

    @property
    def delta(self) -> float:
        return self.after - self.before


def direction_word(delta: float, direction: str) -> str:
    """'better'/'worse' from the KPI's direction ('higher' or 'lower'); a neutral KPI
    goes 'up' or 'down'; no change is 'unchanged'."""
    if delta == 0:
        return "unchanged"
    if direction == "higher":
        return "better" if delta > 0 else "worse"
    if direction == "lower":
        return "better" if delta < 0 else "worse"
    return "up" if delta > 0 else "down"


def compare(test: str, direction: str, before: Sample, after: Sample, *,
            level: float = DEFAULT_LEVEL, min_n: float | None = None,
            low_sample: bool = False) -> Change:
    """Test the change of one KPI between two periods (``test``: the KPI's declared change
    test, ``Kpi.change_of(variant)``; ``direction``: its direction; ``min_n``: the KPI's
    minimum n, below which it is a small sample whatever the test; ``low_sample``: the
    results already flag a period as below its minimum n, the config's included)."""
    if not 0 < level < 1:
        raise ValueError(f"the significance level must be between 0 and 1, got {level!r}")
    word = direction_word(after.value - before.value, direction)

    def done(p, stat, verdict=None, reason=""):
        if verdict is None:
            sig = p < 1 - level
            verdict = VERDICTS[0] if sig else VERDICTS[1]
        else:
            sig = None
        return Change(test, before.value, after.value, word, p, stat, sig, verdict, level,
                      reason)

    if test in ("quantile", "none"):
        why = ("a median or percentile has no sampling error in the figures"
               if test == "quantile" else "the KPI is a formula on period totals")
        return done(None, None, VERDICTS[3], why)
    small = _small(test, before, after, min_n) or (
        "a period is below the KPI's minimum n" if low_sample else "")
    if small in (_NO_ROWS, _NO_SPREAD):
        return done(None, None, VERDICTS[2], small)      # nothing to test with
    if test == "proportion":
        p, stat = proportion_test(before.value, before.n, after.value, after.n)
    elif test == "nps":
        p, stat = nps_test(before.value, before.n, before.margin,
                           after.value, after.n, after.margin)
    elif test == "mean":
        p, stat = welch_test(before.value, before.n, before.margin,
                             after.value, after.n, after.margin)
    elif test == "count":
        p, stat = poisson_test(before.value, after.value, before.days, after.days)
    else:
        raise ValueError(f"unknown change test {test!r}")
    if small:
        return done(p, stat, VERDICTS[2], small)
    return done(p, stat)


_NO_ROWS, _NO_SPREAD = "no rows in a period", "one row gives no spread"


def _small(test: str, a: Sample, b: Sample, min_n: float | None) -> str:
    """Why the samples are too small for the test ('' if they are not)."""
    if test == "count":
        return ""            # the exact test holds for any count
    ns = [s.n for s in (a, b)]
    if any(n is None or not n > 0 for n in ns):
        return _NO_ROWS
    if test == "mean" and (a.margin is None or b.margin is None):
        return _NO_SPREAD
    low = min(ns)
    if min_n is not None and low < min_n:
        return f"n = {low:g} is below the KPI's minimum of {min_n:g}"
    if test == "proportion":
        pooled = (a.value * a.n + b.value * b.n) / (a.n + b.n)
        if min(pooled, 1 - pooled) * low < MIN_EXPECTED:
            return (f"fewer than {MIN_EXPECTED} expected in a period "
                    f"(n = {low:g} at {pooled:.1%})")
    elif low < MIN_ROWS:
        return f"n = {low:g} is below {MIN_ROWS}"
    return ""


# --------------------------------------------------------------------------- the tests
def normal_two_sided(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def proportion_test(p1: float, n1: float, p2: float, n2: float) -> tuple[float, float]:
    """(two-sided p, z) of the pooled two-proportion z-test."""
    x1, x2 = p1 * n1, p2 * n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _z(p2 - p1, se)


def _z(diff: float, se: float) -> tuple[float, float]:
    if se == 0:
        return (1.0, 0.0) if diff == 0 else (0.0, math.copysign(math.inf, diff))
    z = diff / se
    return normal_two_sided(z), z


def nps_shares(value: float, n: float, margin: float) -> tuple[float, float]:
    """(promoters, detractors) as shares, read back from an NPS's value, n and margin:
    p − d = value/100 and p + d = (margin/(Z95·100))²·n + (p − d)²."""
    diff = value / 100
    total = (margin / (Z95 * 100)) ** 2 * n + diff * diff
    total = min(1.0, max(abs(diff), total))
    return (total + diff) / 2, (total - diff) / 2


def nps_test(v1: float, n1: float, m1: float | None, v2: float, n2: float,
             m2: float | None) -> tuple[float, float]:
    """(two-sided p, z) of the change of an NPS (points, −100..100), pooled under no
    change; each period's shares come from its value, n and margin."""
    p1, d1 = nps_shares(v1, n1, m1 or 0.0)
    p2, d2 = nps_shares(v2, n2, m2 or 0.0)
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    d = (d1 * n1 + d2 * n2) / (n1 + n2)
    var = max(0.0, p + d - (p - d) ** 2)
    return _z((v2 - v1) / 100, math.sqrt(var * (1 / n1 + 1 / n2)))


def welch_test(m1: float, n1: float, e1: float | None, m2: float, n2: float,
               e2: float | None) -> tuple[float, float]:
    """(two-sided p, t) of Welch's t-test, from each period's mean, n and 95 % margin."""
    s1, s2 = (((e or 0.0) / Z95) ** 2 for e in (e1, e2))     # s²/n of each mean
    return welch_from_se2(m1, n1, s1, m2, n2, s2)


def welch_from_se2(m1, n1, se2_1, m2, n2, se2_2) -> tuple[float, float]:
    """Welch's t from the squared standard errors s²/n of the two means."""
    se2 = se2_1 + se2_2
    if se2 == 0:
        return _z(m2 - m1, 0.0)
    t = (m2 - m1) / math.sqrt(se2)
    df = se2 * se2 / (se2_1 ** 2 / max(n1 - 1, 1) + se2_2 ** 2 / max(n2 - 1, 1))
    return t_two_sided(t, df), t


def t_two_sided(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` (not necessarily whole) degrees of freedom:
    I_{df/(df+t²)}(df/2, 1/2)."""
    return betainc(df / 2, 0.5, df / (df + t * t))


def poisson_test(x1: float, x2: float, days1: float = 1.0, days2: float = 1.0
                 ) -> tuple[float, float]:
    """(two-sided p, the rate ratio) of two Poisson counts over periods of ``days1`` and
    ``days2`` days: x₂ given x₁ + x₂ is binomial with p₀ = days2/(days1 + days2); the
    p-value doubles the smaller exact tail."""
    k, total = round(x2), round(x1) + round(x2)
    ratio = (x2 / days2) / (x1 / days1) if x1 > 0 else math.inf if x2 > 0 else 1.0
    if total == 0:
        return 1.0, ratio
    p0 = days2 / (days1 + days2)
    lower = binom_cdf(k, total, p0)                              # P(X ≤ k)
    upper = 1.0 - binom_cdf(k - 1, total, p0) if k > 0 else 1.0  # P(X ≥ k)
    return min(1.0, 2 * min(lower, upper)), ratio


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p): 1 − I_p(k + 1, n − k)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return 1.0 - betainc(k + 1, n - k, p)


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction
    (Lentz's method; Press et al., Numerical Recipes, 3rd ed., §6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    # converges in O(√max(a, b)) steps: a million events need a few thousand
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


# --------------------------------------------------------------------------- spikes
#: a period is a spike when its modified z-score against the periods before it exceeds
#: this (Iglewicz & Hoaglin, "How to Detect and Handle Outliers", ASQC 1993, §2.2: 3.5)
SPIKE_Z = 3.5
#: the periods before it that must have a value for a usual level to exist
SPIKE_HISTORY = 6


@dataclass(frozen=True)
class Spike:
    """A period far from its usual level on the bad side: ``usual`` is the median of the
    periods before it, ``score`` the modified z-score 0.6745·(x − median)/MAD."""
    value: float
    usual: float
    score: float
    periods: int


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def spike(history: list[float | None], value: float | None, direction: str) -> Spike | None:
    """The period's ``value`` against the ``history`` before it (oldest first; None: no
    value): a Spike when it is worse than the median by a modified z-score above
    ``SPIKE_Z`` (for a KPI without a direction, either side), else None; None also when
    fewer than ``SPIKE_HISTORY`` periods have a value. Where half the periods sit on the
    median (MAD 0) the mean absolute deviation stands in (M = (x − median)/(1.253314·MeanAD),
    Iglewicz & Hoaglin); no spread at all flags nothing."""
    xs = [float(x) for x in history if x is not None and not math.isnan(float(x))]
    if value is None or math.isnan(value) or len(xs) < SPIKE_HISTORY:
        return None
    med = _median(xs)
    mad = _median([abs(x - med) for x in xs])
    if mad > 0:
        score = 0.6745 * (value - med) / mad
    else:
        mean_ad = sum(abs(x - med) for x in xs) / len(xs)
        if mean_ad == 0:
            return None
        score = (value - med) / (1.253314 * mean_ad)
    bad = {"lower": score, "higher": -score}.get(direction, abs(score))
    return Spike(value, med, score, len(xs)) if bad > SPIKE_Z else None
