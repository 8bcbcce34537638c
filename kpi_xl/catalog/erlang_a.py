"""Erlang A (M/M/N+M, Palm's queue with abandonment): Erlang C where callers hang up when
they have waited longer than their patience, exponential with mean ``patience`` seconds.

Notation as in :mod:`kpi_xl.catalog.erlang`: ``A`` Erlangs offered, ``N`` agents, ``aht``
seconds, threshold ``T`` seconds; μ = 1/AHT, λ = A·μ, θ = 1/patience. Everything below is
computed in units of one AHT (μ = 1, λ = A, θ = r = AHT / patience, T' = T / AHT).

Method (exact up to a stated truncation, no factorials or powers, so stable to the model's
range of 20,000 Erlangs):

* **Stationary distribution** of the birth-death chain on k callers in the system (birth A,
  death min(k, N) + max(k − N, 0)·r) by ratio recursion π_k / π_{k−1} = A / d_k, started
  at 1 at the mode and walked down and up until a term falls below 1e-20 of the mass
  (terms fall monotonically on both sides of the mode). Arrivals see π (PASTA).
* An arrival who finds j ≥ 0 callers queued reaches an agent after V_j, the sum of
  exponentials with rates N + i·r, i = j … 0 (the hypoexponential wait of Garnett,
  Mandelbaum & Reiman 2002, §3), unless its own patience runs out first. Then, with
  g_j = N / (N + (j+1)·r) (a telescoping product of E[exp(−r·V_j)]):

  - P(answered | j) = g_j, so P(abandon) = Σ π_{N+j} (1 − g_j), which equals r·Lq / A
    (abandonment rate θ times the mean queue; the test checks the identity);
  - E[wait; answered | j] = g_j · Σ_{i=1}^{j+1} 1 / (N + i·r);
  - P(answered within T | j) = g_j · (1 − S_{j+1}), where the exponentially tilted wait is
    hypoexponential with rates N + i·r, i = 1 … j+1, whose tail is a negative-binomial
    sum: S_m = Σ_{k<m} C(b+k, k)·x^k·(1−x)^{b+1}, b = N / r, x = 1 − exp(−r·T') (the
    regularised incomplete beta function I_{1−x}(b+1, m) of Mandelbaum & Zeltyn's closed
    forms, as a sum of positive terms, each from the last by a ratio, in logs).

Outputs: P(wait) = Σ_{k≥N} π_k (the share that must queue, whether later answered or not);
P(abandon); service level over offered = P(no wait) + Σ π_{N+j}·P(answered within T | j),
and over answered = that / (1 − P(abandon)); ASA = mean wait of answered calls; occupancy
= A·(1 − P(abandon)) / N. Agents for a target: service level rises with N, so a bisection
between 1 and the first N (doubling from the Erlang C requirement) that meets the target.

As patience → ∞ (r → 0) this is Erlang C (the test checks the limit); as patience → 0 it is
Erlang B (every caller who cannot be answered at once leaves). Unlike Erlang C, Erlang A is
stable for any N ≥ 1, N ≤ A included: the callers who would make the queue grow hang up.
"""

from __future__ import annotations

import math

from . import erlang

#: callers in the queue beyond which the computation refuses (very long patience with
#: fewer agents than traffic: the queue settles at (A − N)·patience / AHT callers)
MAX_QUEUE = 200_000
_TINY = 1e-20


def _check(a: float, n: float, aht: float, patience: float) -> tuple[int, float]:
    n = erlang._check_agents(n)
    erlang._check_traffic(a)
    if not patience > 0 or not aht > 0:
        raise ValueError("patience and AHT must be more than 0 seconds")
    r = aht / patience
    if not 1e-9 <= r <= 1e9:
        raise ValueError(f"a patience of {patience:,.6g} s against an AHT of {aht:,.6g} s "
                         "is outside the model's range (from AHT / 10^9 to AHT × 10^9; "
                         "for callers who never hang up use Erlang C)")
    if a > n and (a - n) / r > MAX_QUEUE:
        raise ValueError(f"with {n} agents for {a:.4g} Erlangs and a patience of "
                         f"{patience:,.0f} s the queue settles above {MAX_QUEUE:,} callers: "
                         "beyond the model's range (check patience and agents)")
    return n, r


def _distribution(a: float, n: int, r: float) -> tuple[int, list[float]]:
    """(lo, p): p[i] = π_{lo+i}, normalised, truncated where terms < 1e-20 of the mass."""
    if a <= 0:
        return 0, [1.0]
    mode = min(math.floor(a), n) if a < n else n + math.floor((a - n) / r)
    down: list[float] = []
    term, mass, k = 1.0, 1.0, mode
    while k > 0:
        d = k if k <= n else n + (k - n) * r
        term *= d / a
        if term < _TINY * mass:
            break
        down.append(term)
        mass += term
        k -= 1
    lo = mode - len(down)
    up: list[float] = []
    term, k = 1.0, mode
    while True:
        k += 1
        d = k if k <= n else n + (k - n) * r
        term *= a / d
        if term < _TINY * mass:
            break
        up.append(term)
        mass += term
        if len(up) > MAX_QUEUE + n:
            raise ValueError("the queue's distribution is too wide to compute; check "
                             "patience and agents")
    p = down[::-1] + [1.0] + up
    return lo, [x / mass for x in p]


class _Model:
    """One solution of the chain for (A, N, AHT, patience); each output is a sum over it."""

    def __init__(self, a: float, n: float, aht: float, patience: float):
        self.n, self.r = _check(a, n, aht, patience)
        self.a, self.aht = a, aht
        self.lo, self.p = _distribution(a, self.n, self.r)

    def queued(self):
        """(j, π_{N+j}, g_j) for every state with j ≥ 0 callers queued on arrival."""
        n, r = self.n, self.r
        for i, pk in enumerate(self.p):
            j = self.lo + i - n
            if j >= 0:
                yield j, pk, n / (n + (j + 1) * r)

    def p_wait(self) -> float:
        return min(1.0, sum(pk for _, pk, _ in self.queued()))

    def p_abandon(self) -> float:
        return min(1.0, sum(pk * (1.0 - g) for _, pk, g in self.queued()))

    def mean_queue(self) -> float:
        return sum(j * pk for j, pk, _ in self.queued())

    def asa(self) -> float:
        """Mean wait of answered calls, seconds."""
        n, r = self.n, self.r
        total, h, last = 0.0, 0.0, -1
        for j, pk, g in self.queued():
            while last < j:           # H_j = Σ_{i=1}^{j+1} 1/(N + i·r), built up once
                last += 1
                h += 1.0 / (n + (last + 1) * r)
            total += pk * g * h
        return total / (1.0 - self.p_abandon()) * self.aht

    def answered_within(self, t: float) -> float:
        """Share of all offered calls answered within ``t`` seconds."""
        n, r = self.n, self.r
        at_once = sum(pk for i, pk in enumerate(self.p) if self.lo + i < n)
        if t <= 0:
            return min(1.0, at_once)
        tt = t / self.aht
        b = n / r
        log_x = math.log(-math.expm1(-r * tt))
        log_t = -(n + r) * tt          # log t_0 = (b + 1)·log(1 − x)
        s, k, total = math.exp(log_t), 0, at_once
        for j, pk, g in self.queued():
            while k < j:               # S_{j+1} = Σ_{k≤j} t_k, each term from the last
                log_t += log_x + math.log((k + b + 1) / (k + 1))
                k += 1
                s += math.exp(log_t)
            total += pk * g * max(0.0, 1.0 - s)
        return min(1.0, total)

    def occupancy(self) -> float:
        return min(1.0, self.a * (1.0 - self.p_abandon()) / self.n)


def p_wait(a: float, n: float, aht: float, patience: float) -> float:
    return _Model(a, n, aht, patience).p_wait()


def p_abandon(a: float, n: float, aht: float, patience: float) -> float:
    return _Model(a, n, aht, patience).p_abandon()


def service_level(a: float, n: float, t: float, aht: float, patience: float) -> float:
    """Answered within T over all offered calls (abandoned ones count as missed)."""
    return _Model(a, n, aht, patience).answered_within(t)


def service_level_answered(a: float, n: float, t: float, aht: float,
                           patience: float) -> float:
    """Answered within T over answered calls (abandoned ones left out)."""
    m = _Model(a, n, aht, patience)
    return min(1.0, m.answered_within(t) / (1.0 - m.p_abandon()))


def asa(a: float, n: float, aht: float, patience: float) -> float:
    return _Model(a, n, aht, patience).asa()


def mean_queue(a: float, n: float, aht: float, patience: float) -> float:
    return _Model(a, n, aht, patience).mean_queue()


def occupancy(a: float, n: float, aht: float, patience: float) -> float:
    return _Model(a, n, aht, patience).occupancy()


def _agents(a: float, meets) -> int:
    """Smallest N ≥ 1 for which ``meets(model)`` holds, for a criterion that is monotone in
    N: find a bracket by doubling from the Erlang C requirement, then bisect."""
    if a <= 0:
        return 0
    erlang._check_traffic(a)
    lo, hi = 0, max(1, math.floor(a) + 1)      # lo never meets (N = 0), hi to be found
    while not meets(hi):
        lo, hi = hi, 2 * hi
        if hi > erlang.MAX_AGENTS:
            raise ValueError(f"no agent count up to {erlang.MAX_AGENTS:,} reaches the "
                             "target; check the target")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi


def agents_required(a: float, t: float, aht: float, patience: float, target_sl: float,
                    max_occupancy: float = 1.0, over: str = "offered") -> int:
    """Fewest agents whose Erlang A service level (over offered or over answered calls)
    reaches the target and whose occupancy is at most ``max_occupancy``."""
    _check(0.0, 1, aht, patience)

    def meets(n: int) -> bool:
        m = _Model(a, n, aht, patience)
        sl = m.answered_within(t)
        if over == "answered":
            sl /= 1.0 - m.p_abandon()
        return sl >= target_sl - 1e-12 and m.occupancy() <= max_occupancy + 1e-12

    return _agents(a, meets)


def agents_required_answered(a: float, t: float, aht: float, patience: float,
                             target_sl: float, max_occupancy: float = 1.0) -> int:
    return agents_required(a, t, aht, patience, target_sl, max_occupancy, over="answered")
