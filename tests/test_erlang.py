"""Erlang C: the published worked example, the unstable region, fractional traffic, and
stability at 2,000 Erlangs against an independent log-space computation."""

import math

import pytest

from kpi_xl.catalog import erlang
from kpi_xl.errors import KpiError
from kpi_xl.render.arrays import compute


def p_wait_logspace(a: float, n: int) -> float:
    """Independent textbook form: C = (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A)),
    every term in logs (lgamma), summed with the log-sum-exp trick."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    top = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    m = max(max(logs), top)
    s = sum(math.exp(x - m) for x in logs) + math.exp(top - m)
    return math.exp(top - m) / s


def test_worked_example_callcentrehelper():
    # Call Centre Helper, 'Erlang C formula - made simple': 100 calls / 30 min, AHT 180 s
    a = erlang.traffic(100, 180, 1800)
    assert a == 10
    assert erlang.p_wait(a, 14) == pytest.approx(0.1741, abs=5e-5)
    assert erlang.service_level(a, 14, 20, 180) == pytest.approx(0.8884, abs=5e-5)
    assert erlang.asa(a, 14, 180) == pytest.approx(7.84, abs=5e-3)
    assert erlang.occupancy(a, 14) == pytest.approx(0.714, abs=5e-4)
    assert erlang.agents_required(a, 20, 180, 0.8) == 14
    assert compute("fte_with_shrinkage", agents=14, shrinkage=0.3).value == pytest.approx(20)


@pytest.mark.parametrize("a,n", [(10, 14), (55.5, 60), (300, 320), (1000, 1030), (2000, 2050)])
def test_matches_logspace_up_to_2000_erlangs(a, n):
    assert erlang.p_wait(a, n) == pytest.approx(p_wait_logspace(a, n), rel=1e-9)


def test_no_overflow_at_2000_erlangs():
    n = erlang.agents_required(2000.0, 20, 180, 0.8)
    assert 2000 < n < 2100
    assert 0.8 <= erlang.service_level(2000.0, n, 20, 180) <= 1
    assert erlang.service_level(2000.0, n - 1, 20, 180) < 0.8


@pytest.mark.parametrize("n", [1, 5, 10])
def test_unstable_queue_is_stated_not_crashed(n):
    # N <= A = 10: documented limits, never a probability above 1
    assert erlang.p_wait(10, n) == 1.0
    assert erlang.service_level(10, n, 20, 180) == 0.0
    assert erlang.occupancy(10, n) == 1.0
    with pytest.raises(KpiError, match="more than the traffic of 10 Erlangs"):
        compute("erlang_asa", calls=100, aht=180, agents=n)


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5, 10.4, 10.99, 27.25, 99.9])
def test_required_agents_is_the_smallest_valid_n(a):
    # brute force from N = 1 with the closed forms: the search must not skip any N
    brute = next(n for n in range(1, 1000)
                 if n > a and erlang.service_level(a, n, 20, 180) >= 0.8)
    assert erlang.agents_required(a, 20, 180, 0.8) == brute


def test_max_occupancy_caps_the_requirement():
    # A = 10, 14 agents give 71.4 % occupancy; a 70 % cap needs 10 / 0.7 -> 15 agents
    assert erlang.agents_required(10, 20, 180, 0.8, max_occupancy=0.7) == 15
    r = compute("erlang_agents", calls=100, aht=180, max_occupancy=0.7)
    assert r.value == 15


def test_fractional_agents_are_refused():
    with pytest.raises(KpiError, match="whole number"):
        compute("erlang_p_wait", calls=100, aht=180, agents=14.5)


def test_traffic_beyond_the_model_is_refused_quickly():
    # junk such as 10^6 calls of 10^6 s would otherwise loop for hours in a cell
    with pytest.raises(KpiError, match="beyond the model's range"):
        compute("erlang_agents", calls=1e6, aht=1e6)
    with pytest.raises(KpiError, match="beyond the model's range"):
        compute("erlang_p_wait", calls=1e6, aht=1e6, agents=50)
    # ASA named the agents needed first, and 1e308 calls made that an OverflowError
    for calls, aht in ((1e308, 3), (10, 1e308), (1e6, 1e6)):
        with pytest.raises(KpiError, match="beyond the model's range"):
            compute("erlang_asa", calls=calls, aht=aht, agents=7)
    import kpi_xl.xl.functions as xlf
    assert "beyond the model's range" in xlf.KPI_ERLANG_TABLE(1e6, 1e6, 1, 5)


@pytest.mark.parametrize("a,n", [(10, 14), (10, 11), (55.5, 60), (300, 320)])
def test_service_level_at_t0_is_one_minus_p_wait(a, n):
    # exp(-(N - A)·0/AHT) = 1, so SL(T = 0) = 1 - C(N, A): the share answered at once
    assert erlang.service_level(a, n, 0, 180) == pytest.approx(1 - erlang.p_wait(a, n), abs=1e-15)


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5, 10.0, 10.4, 27.25, 99.9])
@pytest.mark.parametrize("target", [0.05, 0.2, 0.5, 0.99])
def test_agents_for_a_p_wait_target_is_the_smallest_n(a, target):
    brute = next(n for n in range(1, 1000) if n > a and erlang.p_wait(a, n) <= target)
    assert erlang.agents_for_p_wait(a, target) == brute
    # the same staffing as a service-level target at T = 0 (SL(0) = 1 - P(wait))
    assert erlang.agents_required(a, 0, 180, 1 - target) == brute


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5, 10.0, 10.4, 27.25, 99.9])
@pytest.mark.parametrize("target", [1, 7.84, 20, 120])
def test_agents_for_an_asa_target_is_the_smallest_n(a, target):
    brute = next(n for n in range(1, 1000) if n > a and erlang.asa(a, n, 180) <= target)
    assert erlang.agents_for_asa(a, 180, target) == brute


def test_agents_for_targets_respect_the_occupancy_cap():
    # A = 10: P(wait) <= 30 % needs 13 agents (76.9 % busy); a 70 % cap needs 10/0.7 -> 15
    assert compute("erlang_agents_p_wait", calls=100, aht=180, target_p_wait=0.3,
                   max_occupancy=0.7).value == 15
    assert compute("erlang_agents_asa", calls=100, aht=180, target_asa=20,
                   max_occupancy=0.7).value == 15


@pytest.mark.parametrize("name,args,words", [
    ("KPI_ERLANG_AGENTS_P_WAIT", (100, 180, 0), "'target_p_wait' must be a number from 0.0001 to 1"),
    ("KPI_ERLANG_AGENTS_P_WAIT", (100, 180, 1.5), "from 0.0001 to 1, got 1.5"),
    ("KPI_ERLANG_AGENTS_P_WAIT", (100, 180, "20%"), "'target_p_wait' holds the text '20%'"),
    ("KPI_ERLANG_AGENTS_ASA", (100, 180, 0), "'target_asa' must be a number > 0"),
    ("KPI_ERLANG_AGENTS_ASA", (100, None, 20), "'aht' is required (a number)"),
    ("KPI_ERLANG_AGENTS_ASA", (1e6, 1e6, 20), "beyond the model's range"),
])
def test_agents_for_targets_refuse_junk_with_a_sentence(name, args, words):
    import kpi_xl.xl.functions as xlf
    out = getattr(xlf, name)(*args)
    assert isinstance(out, str) and out.startswith(name + ":") and words in out, out


# -- Erlang B -------------------------------------------------------------------------------
def erlang_b_exact(a, n: int):
    """Independent reference: the textbook B = (A^N / N!) / Σ_{k≤N} A^k / k!, in exact
    rational arithmetic (A given as a decimal string or an integer)."""
    from fractions import Fraction
    a = Fraction(a)
    term, total = Fraction(1), Fraction(1)
    for k in range(1, n + 1):
        term = term * a / k
        total += term
    return term / total


def test_erlang_b_published_westbay():
    # Westbay Engineers' Erlang B calculator manual ('How much traffic can a trunk group
    # handle?'): 15 lines at 1 % blocking carry at most 8.108 Erlangs
    assert erlang.blocking(8.108, 15) == pytest.approx(0.01, abs=5e-6)
    assert erlang.blocking(8.108, 15) <= 0.01 < erlang.blocking(8.109, 15)
    assert erlang.lines_for_blocking(8.108, 0.01) == 15
    r = compute("erlang_b_lines", calls=162.16, aht=180, target_blocking=0.01)
    assert r.value == 15


@pytest.mark.parametrize("a,n", [("0.5", 1), ("8.108", 15), ("10", 14), ("55.5", 60),
                                 ("300", 320), ("1000", 1030)])
def test_erlang_b_matches_exact_rationals(a, n):
    exact = erlang_b_exact(a, n)
    assert erlang.blocking(float(a), n) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("a", ["0.3", "1", "4.5", "10.4", "27.25", "99.9"])
@pytest.mark.parametrize("target", ["0.001", "0.01", "0.05", "0.5"])
def test_lines_for_blocking_is_the_smallest_n_exactly(a, target):
    from fractions import Fraction
    brute = next(n for n in range(1, 1000) if erlang_b_exact(a, n) <= Fraction(target))
    assert erlang.lines_for_blocking(float(a), float(target)) == brute


def test_erlang_b_refuses_junk_with_a_sentence():
    import kpi_xl.xl.functions as xlf
    assert xlf.KPI_ERLANG_B_BLOCKING(100, 180, 2.5).startswith(
        "KPI_ERLANG_B_BLOCKING: lines must be a whole number")
    assert "'target_blocking' must be a number from 1e-06 to 1" in \
        xlf.KPI_ERLANG_B_LINES(100, 180, 0)
    assert "beyond the model's range" in xlf.KPI_ERLANG_B_LINES(1e6, 1e6, 0.01)


# -- queue length, service time for a percentile, call capacity ----------------------------
@pytest.mark.parametrize("a,n", [(10, 14), (10, 11), (55.5, 60), (300, 320), (2000, 2050)])
def test_queue_length_is_littles_law_over_the_logspace_reference(a, n):
    # Lq = λ · ASA (Little), with λ = A / AHT and ASA = C · AHT / (N − A): C · A / (N − A)
    assert erlang.queue_length(a, n) == pytest.approx(p_wait_logspace(a, n) * a / (n - a),
                                                      rel=1e-9)
    assert erlang.queue_length(a, n) == pytest.approx(erlang.asa(a, n, 180) * a / 180,
                                                      rel=1e-12)


@pytest.mark.parametrize("a,n", [(10, 14), (10, 11), (55.5, 60), (300, 320)])
@pytest.mark.parametrize("x", [0.5, 0.8, 0.9, 0.99])
def test_service_time_inverts_the_service_level(a, n, x):
    t = erlang.service_time(a, n, 180, x)
    if 1 - p_wait_logspace(a, n) >= x:
        assert t == 0          # x of the calls are answered at once
    else:
        assert t > 0 and erlang.service_level(a, n, t, 180) == pytest.approx(x, abs=1e-12)
        assert erlang.service_level(a, n, t * 0.999, 180) < x


@pytest.mark.parametrize("n,t,target,interval", [(14, 20, 0.8, 1800), (5, 20, 0.8, 1800),
                                                 (60, 30, 0.9, 1800), (1, 20, 0.5, 900),
                                                 (25, 0, 0.7, 3600)])
def test_call_capacity_is_the_largest_whole_number_of_calls(n, t, target, interval):
    def sl(calls):   # independent: the log-space P(wait) in the service-level formula
        a = calls * 180 / interval
        if a >= n:
            return 0.0
        return 1 - p_wait_logspace(a, n) * math.exp(-(n - a) * t / 180)

    brute = next(c for c in range(0, 100_000) if sl(c + 1) < target)
    assert erlang.call_capacity(n, t, 180, target, interval) == brute


def test_planning_outputs_state_the_unstable_queue():
    for key, extra in (("erlang_queue_length", {}), ("erlang_service_time", {})):
        with pytest.raises(KpiError, match="more than the traffic of 10 Erlangs"):
            compute(key, calls=100, aht=180, agents=10, **extra)
    assert compute("erlang_call_capacity", aht=180, agents=1, target=0.99,
                   threshold=0).value == 0


# -- chat concurrency ----------------------------------------------------------------------
@pytest.mark.parametrize("chats,aht,k", [(100, 540, 3), (100, 540, 1), (60, 1200, 2.5),
                                         (400, 900, 1.7)])
def test_chat_agents_is_erlang_c_on_the_effective_handle_time(chats, aht, k):
    # Call Centre Helper's method, restated here on purpose: Erlang C with AHT / k
    eaht = aht / k
    expect = erlang.agents_required(chats * eaht / 1800, 60, eaht, 0.8)
    assert compute("erlang_chat_agents", chats=chats, aht=aht, concurrency=k).value == expect
    if k == 1:   # one chat at a time is a phone queue
        assert expect == compute("erlang_agents", calls=chats, aht=aht, threshold=60).value
