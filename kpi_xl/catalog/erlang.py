"""Erlang B and Erlang C queueing models, in plain floating point, stable up to thousands
of Erlangs.

Notation (Call Centre Helper, "Erlang C formula - made simple"; Koole, *Call Center
Optimization*, ch. 5): calls ``c`` arriving in an interval of ``interval`` seconds,
average handling time ``aht`` seconds, so the traffic intensity is
``A = c * aht / interval`` Erlangs; ``N`` agents; answer-time threshold ``T`` seconds.

* P(wait) = C(N, A) = N·B / (N − A·(1 − B)), with B the Erlang B blocking probability,
  computed by the recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)). The recursion
  never forms A^N or N!, so it neither overflows nor loses precision at 2,000 Erlangs
  (the textbook formula overflows a double near 170 agents).
* service level = 1 − C · exp(−(N − A) · T / aht); at T = 0 it is 1 − P(wait): the share
  of calls answered at once
* ASA = C · aht / (N − A)
* occupancy = A / N
* queue length (mean number of calls waiting) Lq = C · A / (N − A) (= λ · ASA, Little's law)
* service time for a percentile x: the T with service level x, from the service-level
  formula: T = AHT / (N − A) · ln(C / (1 − x)), and 0 when at least x of the calls are
  answered at once (C ≤ 1 − x)
* call capacity: the most whole calls in an interval that N agents answer at the target
  service level (SL falls as calls rise, so a bisection over calls)

Erlang B (the loss model: a call that finds every line busy is blocked, not queued) is the
blocking probability B(N, A) of the same recursion, defined for any N ≥ 0 and A ≥ 0 (no
stability condition: blocked calls leave); :func:`lines_for_blocking` is the fewest lines
with B ≤ a target (Westbay Engineers' "Lines" of the Erlang B calculator).

When N ≤ A the queue is unstable: it grows without limit. The limits are then stated,
never a probability above 1: P(wait) = 1, service level = 0, occupancy = 1 (every agent
busy all the time), and ASA has no finite value (:class:`UnstableQueue` is raised, which
the callers turn into the sentence "N agents cannot carry A Erlangs").
"""

from __future__ import annotations

import math

#: The model's stated range. Beyond it one queue is unrealistic (split it) and the O(N)
#: recursion would take seconds per call in a cell.
MAX_ERLANGS = 20_000.0
MAX_AGENTS = 50_000


class UnstableQueue(ArithmeticError):
    def __init__(self, agents: float, erlangs: float):
        self.agents, self.erlangs = agents, erlangs
        super().__init__(
            f"{agents:g} agents cannot carry {erlangs:.4g} Erlangs of traffic: the queue "
            f"grows without limit (more than {math.floor(erlangs):d} agents are needed)")


def traffic(calls: float, aht: float, interval: float) -> float:
    return calls * aht / interval


def erlang_b(n: int, a: float) -> float:
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def _check_agents(n: float, what: str = "agents") -> int:
    if n != math.floor(n) or n < 1 or n > MAX_AGENTS:
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_AGENTS:,}")
    return int(n)


def blocking(a: float, lines: float) -> float:
    """Erlang B: the share of calls offered A Erlangs that find all ``lines`` busy."""
    n = _check_agents(lines, "lines")
    _check_traffic(a)
    if a <= 0:
        return 0.0
    return erlang_b(n, a)


def lines_for_blocking(a: float, target: float) -> int:
    """Fewest lines N with B(N, A) ≤ target. B falls strictly with N (from B(0) = 1), so
    the first N of the recursion that meets the target is the answer (O(N))."""
    _check_traffic(a)
    if a <= 0:
        return 0
    n, b = 0, 1.0
    while b > target + 1e-15:
        n += 1
        b = a * b / (n + a * b)
        if n > 10 * a + 1000:  # unreachable for targets ≥ 1e-6; a guard, not a guess
            raise ValueError("no line count up to 10 × the traffic + 1,000 reaches the "
                             "target blocking; check the target")
    return n


def _check_traffic(a: float) -> float:
    if a > MAX_ERLANGS:
        raise ValueError(f"traffic of {a:,.6g} Erlangs is beyond the model's range (at most "
                         f"{MAX_ERLANGS:,.0f}); check calls, AHT and interval, or split the queue")
    return a


def p_wait(a: float, n: float) -> float:
    n = _check_agents(n)
    _check_traffic(a)
    if a <= 0:
        return 0.0
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1.0 - b))


def service_level(a: float, n: float, t: float, aht: float) -> float:
    n = _check_agents(n)
    if n <= a:
        return 0.0
    return 1.0 - p_wait(a, n) * math.exp(-(n - a) * t / aht)


def asa(a: float, n: float, aht: float) -> float:
    n = _check_agents(n)
    _check_traffic(a)   # first: an infinite traffic has no 'agents needed' to name
    if n <= a:
        raise UnstableQueue(n, a)
    return p_wait(a, n) * aht / (n - a)


def queue_length(a: float, n: float) -> float:
    n = _check_agents(n)
    if n <= a:
        raise UnstableQueue(n, a)
    return p_wait(a, n) * a / (n - a)


def service_time(a: float, n: float, aht: float, percentile: float) -> float:
    """The T (seconds) within which the share ``percentile`` of calls is answered."""
    n = _check_agents(n)
    if n <= a:
        raise UnstableQueue(n, a)
    c = p_wait(a, n)
    if c <= 1.0 - percentile:
        return 0.0
    return aht / (n - a) * math.log(c / (1.0 - percentile))


def call_capacity(n: float, t: float, aht: float, target_sl: float, interval: float) -> int:
    """Most whole calls per interval with service level ≥ target on N agents (0 if even
    one call misses it). Service level falls as traffic rises, so the traffic where it
    crosses the target is bracketed by bisection (60 halvings of [0, N]) and the whole
    number of calls is then settled by testing its neighbours."""
    n = _check_agents(n)
    if n > MAX_ERLANGS:
        raise ValueError(f"call capacity covers up to {MAX_ERLANGS:,.0f} agents")
    per_erlang = interval / aht                     # calls per interval per Erlang
    if n * per_erlang > 1e9:
        raise ValueError("more than 10^9 calls per interval: check AHT and interval")

    def meets(a: float) -> bool:
        return a < n and service_level(a, n, t, aht) >= target_sl - 1e-12

    if not meets(1 / per_erlang):
        return 0
    lo, hi = 1 / per_erlang, float(n)               # lo meets, hi (A = N) never does
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if meets(mid) else (lo, mid)
    calls = math.floor(lo * per_erlang)
    while meets((calls + 1) / per_erlang):
        calls += 1
    while calls > 0 and not meets(calls / per_erlang):
        calls -= 1
    return calls


def occupancy(a: float, n: float) -> float:
    n = _check_agents(n)
    return min(1.0, a / n)


def _smallest_agents(a: float, meets, max_occupancy: float = 1.0) -> int:
    """Smallest N > A for which ``meets(n, c)`` holds (c = P(wait) at N) and occupancy
    A/N ≤ max_occupancy. Every target is met at some N, because P(wait), 1 − service level
    and ASA all fall towards 0 as N grows. The search starts at floor(A) + 1, the smallest
    N > A, so a fractional A (say 10.4) never skips N = 11; Erlang B is carried along
    incrementally (O(N) in all)."""
    if a <= 0:
        return 0
    _check_traffic(a)
    n = math.floor(a) + 1
    b = erlang_b(n, a)
    while True:
        c = n * b / (n - a * (1.0 - b))
        if meets(n, c) and a / n <= max_occupancy + 1e-12:
            return n
        n += 1
        b = a * b / (n + a * b)
        if n > 10 * a + 1000:  # unreachable for the stated target ranges; a guard, not a guess
            raise ValueError("no agent count up to 10 × the traffic + 1,000 reaches the "
                             "target; check the target")


def agents_required(a: float, t: float, aht: float, target_sl: float,
                    max_occupancy: float = 1.0) -> int:
    """Smallest N with service level ≥ target and occupancy ≤ max_occupancy."""
    return _smallest_agents(
        a, lambda n, c: 1.0 - c * math.exp(-(n - a) * t / aht) >= target_sl - 1e-12,
        max_occupancy)


def agents_for_p_wait(a: float, target_p_wait: float, max_occupancy: float = 1.0) -> int:
    """Smallest N with P(wait) = C(N, A) ≤ target (and occupancy ≤ max_occupancy). Since
    service level at T = 0 is 1 − P(wait), this is also the staffing for a service level
    target with T = 0."""
    return _smallest_agents(a, lambda n, c: c <= target_p_wait + 1e-12, max_occupancy)


def agents_for_asa(a: float, aht: float, target_asa: float, max_occupancy: float = 1.0) -> int:
    """Smallest N with ASA = C(N, A) · AHT / (N − A) ≤ target seconds (and occupancy ≤
    max_occupancy): Westbay Engineers' AgentsASA."""
    return _smallest_agents(a, lambda n, c: c * aht / (n - a) <= target_asa + 1e-12,
                            max_occupancy)
