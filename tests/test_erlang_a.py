"""Erlang A (M/M/N+M) against three independent references written here:

* ``reference``: the textbook product form from state 0 and the hypoexponential wait by
  partial fractions (c_i = Π_{k≠i} ρ_k / (ρ_k − ρ_i)), in 60-digit decimal arithmetic,
  sums to a fixed depth: no recursion, ratio, tilting or incomplete-beta identity of the
  module under test;
* ``simulate``: a seeded discrete-event simulation of FCFS agents with exponential
  patience (each caller takes the first agent free if it comes within its patience),
  compared within 4 standard errors of batch means;
* the limits: patience → ∞ is Erlang C, patience → 0 is Erlang B.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
from decimal import Decimal, getcontext

import pytest

from kpi_xl.catalog import erlang, erlang_a
from kpi_xl.render.arrays import compute


@functools.lru_cache(maxsize=None)
def reference(a, n: int, aht, patience, t, depth: int = 80) -> dict[str, float]:
    """Every Erlang A output from first principles, in Decimal (60 digits)."""
    getcontext().prec = 60
    a, aht, patience, t = (Decimal(str(x)) for x in (a, aht, patience, t))
    mu, theta = 1 / aht, 1 / patience
    lam = a * mu
    w = [Decimal(1)]                          # π_k ∝ Π λ / death_k, from k = 0
    for k in range(1, n + depth):
        w.append(w[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
    z = sum(w)
    p = [x / z for x in w]
    p_wait = sum(p[n:])
    p_ab = within = wait_answered = Decimal(0)
    within = sum(p[:n])
    for j in range(len(p) - n):
        # an arrival that finds j queued: V_j = Σ Exp(Nμ + iθ), i = j..0, patience Exp(θ)
        rates = [n * mu + i * theta for i in range(j + 1)]
        served = Decimal(1)
        for r in rates:                       # P(V < patience) = Π r / (r + θ)
            served *= r / (r + theta)
        p_ab += p[n + j] * (1 - served)
        # answered within t: ∫_0^t f_V(v) e^{-θv} dv = served · P(V' ≤ t), V' with rates
        # r + θ, by partial fractions of the hypoexponential
        tilted = [r + theta for r in rates]
        tail = Decimal(0)
        for i, ri in enumerate(tilted):
            c = Decimal(1)
            for k, rk in enumerate(tilted):
                if k != i:
                    c *= rk / (rk - ri)
            tail += c * (-ri * t).exp()
        within += p[n + j] * served * (1 - tail)
        wait_answered += p[n + j] * served * sum(1 / r for r in tilted)
    lq = sum(j * p[n + j] for j in range(len(p) - n))
    return {"p_wait": float(p_wait), "p_abandon": float(p_ab), "sl": float(within),
            "sl_answered": float(within / (1 - p_ab)),
            "asa": float(wait_answered / (1 - p_ab)), "lq": float(lq)}


CASES = [(10, 14, 180, 120, 20), (10, 12, 180, 300, 20), (10, 9, 180, 60, 30),
         (4.5, 5, 240, 90, 15), (27.25, 25, 300, 200, 20)]


@pytest.mark.parametrize("a,n,aht,patience,t", CASES)
def test_matches_the_decimal_reference(a, n, aht, patience, t):
    ref = reference(a, n, aht, patience, t)
    assert erlang_a.p_wait(a, n, aht, patience) == pytest.approx(ref["p_wait"], rel=1e-12)
    assert erlang_a.p_abandon(a, n, aht, patience) == pytest.approx(ref["p_abandon"],
                                                                    rel=1e-12)
    assert erlang_a.service_level(a, n, t, aht, patience) == pytest.approx(ref["sl"],
                                                                           rel=1e-12)
    assert erlang_a.service_level_answered(a, n, t, aht, patience) == pytest.approx(
        ref["sl_answered"], rel=1e-12)
    assert erlang_a.asa(a, n, aht, patience) == pytest.approx(ref["asa"], rel=1e-12)
    assert erlang_a.mean_queue(a, n, aht, patience) == pytest.approx(ref["lq"], rel=1e-12)
    # abandonment rate θ·Lq equals λ·P(abandon) (rate conservation)
    assert ref["lq"] * aht / patience / a == pytest.approx(ref["p_abandon"], rel=1e-12)


def simulate(a, n, aht, patience, t, calls=200_000, batches=20, seed=17):
    """FCFS M/M/N+M: agents' next-free times in a heap; a caller is answered by the first
    agent free if that comes within its patience, else it abandons (and takes no agent).
    Returns {measure: (mean, standard error from batch means)}."""
    rng = random.Random(seed)
    lam = a / aht
    free = [0.0] * n
    heapq.heapify(free)
    clock = 0.0
    per = calls // batches
    stats = {k: [] for k in ("p_wait", "p_abandon", "sl", "asa")}
    waits, answered_flags = [], []
    for _ in range(batches + 1):              # the first batch is warm-up
        waited = abandoned = within = 0
        answered_wait, answered = 0.0, 0
        for _ in range(per):
            clock += rng.expovariate(lam)
            first = free[0]
            wait = max(0.0, first - clock)
            if wait > 0:
                waited += 1
            give_up = rng.expovariate(1 / patience)
            if wait > give_up:
                abandoned += 1
                waits.append(give_up)          # waited until the patience ran out
                answered_flags.append(0.0)
                continue
            waits.append(wait)                 # censored: the patience was longer
            answered_flags.append(1.0)
            heapq.heapreplace(free, clock + wait + rng.expovariate(1 / aht))
            answered += 1
            answered_wait += wait
            within += wait <= t
        for k, v in (("p_wait", waited / per), ("p_abandon", abandoned / per),
                     ("sl", within / per), ("asa", answered_wait / answered)):
            stats[k].append(v)
    out = {}
    for k, v in stats.items():
        v = v[1:]
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
        out[k] = (m, sd / math.sqrt(len(v)))
    out["calls"] = (waits, answered_flags)
    return out


@pytest.mark.parametrize("a,n,aht,patience,t", [(10, 12, 180, 120, 20), (10, 9, 180, 60, 30)])
def test_matches_a_simulation(a, n, aht, patience, t):
    sim = simulate(a, n, aht, patience, t)
    model = {"p_wait": erlang_a.p_wait(a, n, aht, patience),
             "p_abandon": erlang_a.p_abandon(a, n, aht, patience),
             "sl": erlang_a.service_level(a, n, t, aht, patience),
             "asa": erlang_a.asa(a, n, aht, patience)}
    waits, answered = sim.pop("calls")
    for k, (mean, se) in sim.items():
        assert abs(model[k] - mean) <= 4 * se, (k, model[k], mean, se)
    # the censored-data estimate recovers the simulated mean patience: the exponential
    # MLE's standard error is patience / sqrt(abandons)
    est = compute("mean_patience", wait=waits, answered=answered)
    abandons = est.measures["abandoned"]
    assert abs(est.value - patience) <= 4 * patience / math.sqrt(abandons), (est.value, abandons)
    # the naive mean wait of abandoned calls alone is biased low (it ignores the censored
    # waits of answered callers): the estimate must differ from it
    naive = sum(w for w, a in zip(waits, answered) if a == 0) / abandons
    assert naive < 0.8 * patience


@pytest.mark.parametrize("a,n", [(10, 14), (10, 11), (55.5, 60), (300, 320)])
def test_long_patience_is_erlang_c(a, n):
    # patience 10^9 AHT (r = 1e-9): the Erlang A terms differ from Erlang C by O(r)
    pat = 180 * 1e9
    assert erlang_a.p_wait(a, n, 180, pat) == pytest.approx(erlang.p_wait(a, n), rel=1e-6)
    assert erlang_a.service_level(a, n, 20, 180, pat) == pytest.approx(
        erlang.service_level(a, n, 20, 180), rel=1e-6)
    assert erlang_a.asa(a, n, 180, pat) == pytest.approx(erlang.asa(a, n, 180), rel=1e-6)
    assert erlang_a.p_abandon(a, n, 180, pat) < 1e-6


@pytest.mark.parametrize("a,n", [(10, 14), (10, 5), (300, 320)])
def test_no_patience_is_erlang_b(a, n):
    # patience AHT / 10^9: whoever cannot be answered at once hangs up, so P(abandon) =
    # P(wait) = B(N, A) and the answered calls never waited
    pat = 180 / 1e9
    b = erlang.blocking(a, n)
    assert erlang_a.p_wait(a, n, 180, pat) == pytest.approx(b, rel=1e-6)
    assert erlang_a.p_abandon(a, n, 180, pat) == pytest.approx(b, rel=1e-6)
    assert erlang_a.service_level_answered(a, n, 0, 180, pat) == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("a", [0.3, 4.5, 10.0, 27.25, 99.9])
@pytest.mark.parametrize("patience", [30, 180, 900])
@pytest.mark.parametrize("over", ["offered", "answered"])
@pytest.mark.parametrize("cap", [1.0, 0.8])
def test_agents_is_the_smallest_valid_n(a, patience, over, cap):
    def ok(n):
        sl = (erlang_a.service_level if over == "offered" else
              erlang_a.service_level_answered)(a, n, 20, 180, patience)
        return sl >= 0.8 and erlang_a.occupancy(a, n, 180, patience) <= cap
    brute = next(n for n in range(1, 1000) if ok(n))
    assert erlang_a.agents_required(a, 20, 180, patience, 0.8, cap, over) == brute


def test_stable_at_2000_erlangs_and_with_fewer_agents_than_traffic():
    # Erlang C has no answer at N <= A; Erlang A does, and it stays a probability
    for n in (1000, 1990, 2000, 2050):
        for f in (erlang_a.p_wait, erlang_a.p_abandon):
            assert 0 <= f(2000, n, 180, 120) <= 1
        assert 0 <= erlang_a.service_level(2000, n, 20, 180, 120) <= 1
        assert erlang_a.asa(2000, n, 180, 120) > 0
    n = erlang_a.agents_required(2000, 20, 180, 120, 0.8)
    assert erlang_a.service_level(2000, n, 20, 180, 120) >= 0.8
    assert erlang_a.service_level(2000, n - 1, 20, 180, 120) < 0.8


def test_the_catalog_functions_and_their_refusals():
    import kpi_xl.xl.functions as xlf
    ref = reference(10, 14, 180, 120, 20)
    r = compute("erlang_a_service_level", calls=100, aht=180, agents=14, patience=120)
    assert r.value == pytest.approx(ref["sl"], rel=1e-12)
    assert xlf.KPI_ERLANG_A_P_WAIT(100, 180, 14, 0).startswith(
        "KPI_ERLANG_A_P_WAIT: 'patience' must be a number > 0")
    assert "outside the model's range" in xlf.KPI_ERLANG_A_ASA(100, 180, 14, 1e300)
    assert "whole number" in xlf.KPI_ERLANG_A_P_ABANDON(100, 180, 14.5, 120)
    # a very long patience with too few agents: the queue would hold millions of callers
    assert "beyond the model's range" in xlf.KPI_ERLANG_A_P_WAIT(200, 180, 10, 1e9)
