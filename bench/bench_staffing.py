"""Each staffing function in a cell-sized call (one set of scalars) through its Excel
function (argument parsing, the catalog's input rules, the formula tree) against a plain
Python implementation of the same formula, interleaved in the same run: time per call
(best of 5 rounds) and peak memory of one call (tracemalloc).

The plain side is what a planner would type: Erlang B and C as the textbook sums of
A^k / k! (floats; fine at these sizes), Erlang A as the product form from state 0 summed to
a fixed depth with the per-state formulas of kpi_xl/catalog/erlang_a.py's docstring.

    python bench/bench_staffing.py
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.simplefilter("ignore")
import kpi_xl.xl.functions as xlf  # noqa: E402

CALLS, AHT, N, PATIENCE, T = 100, 180, 14, 120, 20        # the worked example: A = 10
A = CALLS * AHT / 1800


def plain_b(a, n):
    terms = [a ** k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def plain_c(a, n):
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


def plain_c_sl(a, n, t, aht):
    return 1 - plain_c(a, n) * math.exp(-(n - a) * t / aht)


def plain_c_agents(a, t, aht, target):
    n = math.floor(a) + 1
    while plain_c_sl(a, n, t, aht) < target:
        n += 1
    return n


def plain_a(a, n, aht, patience, t, depth=60):
    """P(wait), P(abandon), SL over offered, by the textbook product form."""
    r = aht / patience
    w = [1.0]
    for k in range(1, n + depth):
        w.append(w[-1] * a / (min(k, n) + max(k - n, 0) * r))
    z = sum(w)
    p = [x / z for x in w]
    b, x = n / r, 1 - math.exp(-r * t / aht)
    sl = sum(p[:n])
    ab = 0.0
    for j in range(depth):
        g = n / (n + (j + 1) * r)
        ab += p[n + j] * (1 - g)
        tail = sum(math.comb(k + int(b), k) * x ** k * (1 - x) ** (b + 1)
                   for k in range(j + 1)) if b == int(b) else \
            sum(math.exp(math.lgamma(k + b + 1) - math.lgamma(k + 1) - math.lgamma(b + 1))
                * x ** k * (1 - x) ** (b + 1) for k in range(j + 1))
        sl += p[n + j] * g * (1 - tail)
    return sum(p[n:]), ab, sl


def plain_lines(a, target):
    n = 1
    while plain_b(a, n) > target:
        n += 1
    return n


CASES = [
    ("KPI_ERLANG_B_BLOCKING", lambda: xlf.KPI_ERLANG_B_BLOCKING(CALLS, AHT, N, 1800),
     lambda: plain_b(A, N)),
    ("KPI_ERLANG_B_LINES", lambda: xlf.KPI_ERLANG_B_LINES(CALLS, AHT, 0.01, 1800),
     lambda: plain_lines(A, 0.01)),
    ("KPI_ERLANG_P_WAIT", lambda: xlf.KPI_ERLANG_P_WAIT(CALLS, AHT, N), lambda: plain_c(A, N)),
    ("KPI_ERLANG_SERVICE_LEVEL", lambda: xlf.KPI_ERLANG_SERVICE_LEVEL(CALLS, AHT, N, T),
     lambda: plain_c_sl(A, N, T, AHT)),
    ("KPI_ERLANG_AGENTS", lambda: xlf.KPI_ERLANG_AGENTS(CALLS, AHT, T, 0.8),
     lambda: plain_c_agents(A, T, AHT, 0.8)),
    ("KPI_ERLANG_QUEUE_LENGTH", lambda: xlf.KPI_ERLANG_QUEUE_LENGTH(CALLS, AHT, N),
     lambda: plain_c(A, N) * A / (N - A)),
    ("KPI_ERLANG_SERVICE_TIME", lambda: xlf.KPI_ERLANG_SERVICE_TIME(CALLS, AHT, N, 0.9),
     lambda: max(0.0, AHT / (N - A) * math.log(plain_c(A, N) / 0.1))),
    ("KPI_ERLANG_A_P_ABANDON", lambda: xlf.KPI_ERLANG_A_P_ABANDON(CALLS, AHT, N, PATIENCE),
     lambda: plain_a(A, N, AHT, PATIENCE, T)[1]),
    ("KPI_ERLANG_A_SERVICE_LEVEL",
     lambda: xlf.KPI_ERLANG_A_SERVICE_LEVEL(CALLS, AHT, N, PATIENCE, None, T),
     lambda: plain_a(A, N, AHT, PATIENCE, T)[2]),
]


def per_call(f, rounds=5, target=0.2):
    reps = 1
    while True:                       # calibrate: a round of ~target/rounds seconds
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        if time.perf_counter() - t0 > target / rounds:
            break
        reps *= 2
    return reps


def main() -> None:
    print(f"{'function':28} {'kpi_xl µs':>10} {'plain µs':>10} {'ratio':>7} "
          f"{'kpi_xl KiB':>10} {'plain KiB':>10}  same value")
    for name, ours, plain in CASES:
        reps = max(per_call(ours), per_call(plain))
        best = {"ours": math.inf, "plain": math.inf}
        for _ in range(5):            # interleaved rounds
            for side, f in (("ours", ours), ("plain", plain)):
                t0 = time.perf_counter()
                for _ in range(reps):
                    f()
                best[side] = min(best[side], (time.perf_counter() - t0) / reps)
        mem = {}
        for side, f in (("ours", ours), ("plain", plain)):
            tracemalloc.start()
            f()
            mem[side] = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
        same = abs(float(ours()) - float(plain())) <= 1e-9 * max(1.0, abs(float(plain())))
        print(f"{name:28} {best['ours'] * 1e6:10.1f} {best['plain'] * 1e6:10.1f} "
              f"{best['ours'] / best['plain']:7.2f} {mem['ours']:10.1f} {mem['plain']:10.1f}"
              f"  {same}")


if __name__ == "__main__":
    main()
