"""Every column KPI over a 1,000,000-cell range: kpi_xl.compute vs the plainest numpy
expression of the same formula, in the same process. Target: ratio <= 1.5.

kpi_xl's side includes what numpy's does not: validation of every input (range, flags,
blanks where required) and the breakdown (n, margin, measures). Inputs are float arrays
with ~5 % blanks (NaN), as the engine and pandas hand them over; Excel's own path adds the
conversion of cell values, which is Excel-bound either way.

    python bench/bench_functions.py            # all column KPIs, best of 5
    python bench/bench_functions.py nps aht    # some
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kpi_xl import compute  # noqa: E402

N = 1_000_000
rng = np.random.default_rng(1)


def blanks(x, share=0.05):
    x = x.astype(float)
    x[rng.random(N) < share] = np.nan
    return x


score10 = blanks(rng.integers(0, 11, N))
score5 = blanks(rng.integers(1, 6, N))
score7 = blanks(rng.integers(1, 8, N))
hours = blanks(rng.exponential(5, N))
answered = (rng.random(N) < 0.93).astype(float)
wait = rng.exponential(15, N)
talk = np.where(answered == 1, rng.lognormal(5.4, 0.4, N), np.nan)
hold = np.where(answered == 1, rng.exponential(20, N), np.nan)
acw = np.where(answered == 1, rng.uniform(10, 60, N), np.nan)
flag = blanks((rng.random(N) < 0.2).astype(float))
flag2 = (rng.random(N) < 0.8).astype(float)
reopens = blanks(rng.poisson(0.1, N))
channels = rng.choice(np.array(["phone", "chat", "email", "social"], dtype=object), N)
resp_secs = rng.exponential(1800, N)
ids = np.arange(N).astype(str).astype(object)
weights = rng.integers(1, 4, N).astype(float)
qa_scores = rng.integers(0, 2, N).astype(float)
fatal = np.zeros(N)


def _p(x):
    return x[~np.isnan(x)]


TARGETS = {"phone": 20.0, "chat": 60.0, "email": 14400.0, "social": 3600.0}


def _sla():
    u, inv = np.unique(channels, return_inverse=True)
    t = np.array([TARGETS[k] for k in u])[inv]
    return np.count_nonzero(resp_secs <= t) / N


def _nps(x):
    s = _p(x)
    return 100 * (np.count_nonzero(s >= 9) - np.count_nonzero(s <= 6)) / s.size


CASES = {
    "nps": (dict(scores=score10), lambda: _nps(score10)),
    "enps": (dict(scores=score10), lambda: _nps(score10)),
    "csat": (dict(scores=score5), lambda: np.count_nonzero(_p(score5) >= 4) / _p(score5).size),
    "ces": (dict(scores=score7), lambda: np.nanmean(score7)),
    "first_response_time": (dict(hours=hours), lambda: np.nanmean(hours)),
    "average_response_time": (dict(hours=hours), lambda: np.nanmean(hours)),
    "time_to_resolution": (dict(hours=hours), lambda: np.nanmean(hours)),
    "asa": (dict(wait=wait, answered=answered), lambda: wait[answered == 1].mean()),
    "service_level": (dict(wait=wait, answered=answered),
                      lambda: np.count_nonzero((answered == 1) & (wait <= 20)) / N),
    "sla_compliance": (dict(seconds=resp_secs, channel=channels), _sla),
    "answered_rate": (dict(answered=answered), lambda: np.count_nonzero(answered == 1) / N),
    "abandonment_rate": (dict(answered=answered), lambda: np.count_nonzero(answered == 0) / N),
    "aht": (dict(talk=talk, hold=hold, acw=acw),
            lambda: np.nanmean(talk + hold + acw)),
    "ticket_volume": (dict(ids=ids), lambda: np.count_nonzero(ids != None)),  # noqa: E711
    "transfer_rate": (dict(transferred=flag), lambda: np.nanmean(flag)),
    "escalation_rate": (dict(escalated=flag), lambda: np.nanmean(flag)),
    "fcr": (dict(resolved_first=flag), lambda: np.nanmean(flag)),
    "resolution_rate": (dict(resolved=flag2, handled=answered),
                        lambda: np.count_nonzero((flag2 == 1) & (answered == 1))
                        / np.count_nonzero(answered == 1)),
    "reopen_rate": (dict(reopens=reopens), lambda: np.count_nonzero(_p(reopens) > 0)
                    / _p(reopens).size),
    "qa_score": (dict(weights=weights, scores=qa_scores, fatal=fatal),
                 lambda: 0.0 if np.any((fatal == 1) & (qa_scores == 0)) else
                 np.sum(weights * qa_scores) / weights.sum()),
}


def best(f, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(keys):
    print(f"{'KPI':<24}{'kpi_xl ms':>10}{'numpy ms':>10}{'ratio':>8}  same value")
    ratios = []
    for key in keys or CASES:
        inputs, baseline = CASES[key]
        t_k, r = best(lambda: compute(key, **inputs))
        t_n, v = best(baseline)
        same = abs(r.value - float(v)) <= 1e-9 * max(1.0, abs(float(v)))
        ratios.append(t_k / t_n)
        print(f"{key:<24}{t_k * 1e3:>10.2f}{t_n * 1e3:>10.2f}{t_k / t_n:>8.2f}  {same}")
    print(f"\ngeometric mean ratio {np.exp(np.mean(np.log(ratios))):.2f}; "
          f"{sum(r <= 1.5 for r in ratios)}/{len(ratios)} within 1.5x")


if __name__ == "__main__":
    main(sys.argv[1:])
