"""Every column KPI through kpi_xl.compute vs the plainest numpy expression of the same
formula, in the same process, interleaved (kpi_xl, numpy, kpi_xl, numpy...), medians.

Two cases, both targets from issue 14 §2:

* ``--cells 1000000`` (default): one call over a million-cell range. Inputs are float
  arrays with ~5 % blanks (NaN), as the engine and pandas hand them over. Target <= 1.5.
* ``--cells 10``: a recalculating sheet, many calls over a 10-cell range. Inputs are what
  xlwings hands a function: Python lists of floats with None for blanks, text for labels.
  Each side is timed over a batch of calls; the figure is microseconds per call.
  numpy's side converts the same lists (``np.array(x, float)``). Target <= 3.

Columns: each side's median over the rounds, their ratio, and the ratio of each side's
best round ("best": on a machine shared with other work, the round least disturbed by
it; the two agree on a quiet machine).

kpi_xl's side includes what numpy's does not: validation of every input (range, flags,
blanks where required, error values and booleans refused) and the breakdown (n, margin,
measures).

    python bench/bench_functions.py                      # all column KPIs, 1 M cells
    python bench/bench_functions.py --cells 10           # all column KPIs, 10 cells
    python bench/bench_functions.py --cells 10 nps aht   # some
    python bench/bench_functions.py --cpu                # CPU time, not wall time
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kpi_xl import compute  # noqa: E402

TARGETS = {"phone": 20.0, "chat": 60.0, "email": 14400.0, "social": 3600.0}


def make_inputs(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def blanks(x, share=0.05):
        x = x.astype(float)
        x[rng.random(n) < share] = np.nan
        if n <= 100 and np.isnan(x).all():
            x[0] = 1.0
        return x

    answered = (rng.random(n) < 0.93).astype(float)
    answered[0] = 1.0   # resolution rate and ASA need one handled/answered row
    return dict(
        score10=blanks(rng.integers(0, 11, n)),
        score5=blanks(rng.integers(1, 6, n)),
        score7=blanks(rng.integers(1, 8, n)),
        hours=blanks(rng.exponential(5, n)),
        answered=answered,
        wait=rng.exponential(15, n),
        talk=np.where(answered == 1, rng.lognormal(5.4, 0.4, n), np.nan),
        hold=np.where(answered == 1, rng.exponential(20, n), np.nan),
        acw=np.where(answered == 1, rng.uniform(10, 60, n), np.nan),
        flag=blanks((rng.random(n) < 0.2).astype(float)),
        flag2=(rng.random(n) < 0.8).astype(float),
        reopens=blanks(rng.poisson(0.1, n)),
        channels=rng.choice(np.array(["phone", "chat", "email", "social"], dtype=object), n),
        resp_secs=rng.exponential(1800, n),
        ids=np.array([f"T{i:07d}" for i in range(n)], dtype=object),
        weights=rng.integers(1, 4, n).astype(float),
        qa_scores=rng.integers(0, 2, n).astype(float),
        fatal=np.zeros(n),
    )


def as_cells(x: np.ndarray) -> list:
    """What xlwings hands a function for a one-column range: floats, None for blanks."""
    if x.dtype == object:
        return x.tolist()
    return [None if v != v else v for v in x.tolist()]


# numpy's side: f(a) where a(name) gives the input as a float (or object) array --------------
def _p(x):
    return x[~np.isnan(x)]


def _nps(x):
    s = _p(x)
    return 100 * (np.count_nonzero(s >= 9) - np.count_nonzero(s <= 6)) / s.size


def _sla(a):
    ch, secs = a("channels"), a("resp_secs")
    u, inv = np.unique(ch, return_inverse=True)
    t = np.array([TARGETS[k] for k in u])[inv]
    return np.count_nonzero(secs <= t) / secs.size


def _qa(a):
    w, s, f = a("weights"), a("qa_scores"), a("fatal")
    return 0.0 if np.any((f == 1) & (s == 0)) else np.sum(w * s) / w.sum()


CASES = {
    "nps": ({"scores": "score10"}, lambda a: _nps(a("score10"))),
    "enps": ({"scores": "score10"}, lambda a: _nps(a("score10"))),
    "csat": ({"scores": "score5"},
             lambda a: (lambda s: np.count_nonzero(s >= 4) / s.size)(_p(a("score5")))),
    "ces": ({"scores": "score7"}, lambda a: np.nanmean(a("score7"))),
    "first_response_time": ({"hours": "hours"}, lambda a: np.nanmean(a("hours"))),
    "average_response_time": ({"hours": "hours"}, lambda a: np.nanmean(a("hours"))),
    "time_to_resolution": ({"hours": "hours"}, lambda a: np.nanmean(a("hours"))),
    "asa": ({"wait": "wait", "answered": "answered"},
            lambda a: a("wait")[a("answered") == 1].mean()),
    "service_level": ({"wait": "wait", "answered": "answered"},
                      lambda a: (lambda w, ans: np.count_nonzero((ans == 1) & (w <= 20))
                                 / w.size)(a("wait"), a("answered"))),
    "sla_compliance": ({"seconds": "resp_secs", "channel": "channels"}, _sla),
    "answered_rate": ({"answered": "answered"},
                      lambda a: (lambda x: np.count_nonzero(x == 1) / x.size)(a("answered"))),
    "abandonment_rate": ({"answered": "answered"},
                         lambda a: (lambda x: np.count_nonzero(x == 0) / x.size)(a("answered"))),
    "aht": ({"talk": "talk", "hold": "hold", "acw": "acw"},
            lambda a: np.nanmean(a("talk") + a("hold") + a("acw"))),
    "ticket_volume": ({"ids": "ids"},
                      lambda a: np.count_nonzero(a("ids") != None)),  # noqa: E711
    "transfer_rate": ({"transferred": "flag"}, lambda a: np.nanmean(a("flag"))),
    "escalation_rate": ({"escalated": "flag"}, lambda a: np.nanmean(a("flag"))),
    "fcr": ({"resolved_first": "flag"}, lambda a: np.nanmean(a("flag"))),
    "resolution_rate": ({"resolved": "flag2", "handled": "answered"},
                        lambda a: (lambda r, h: np.count_nonzero((r == 1) & (h == 1))
                                   / np.count_nonzero(h == 1))(a("flag2"), a("answered"))),
    "reopen_rate": ({"reopens": "reopens"},
                    lambda a: (lambda s: np.count_nonzero(s > 0) / s.size)(_p(a("reopens")))),
    "qa_score": ({"weights": "weights", "scores": "qa_scores", "fatal": "fatal"}, _qa),
}


#: the clock of _timed: wall time, or with --cpu the thread's CPU time (on a machine shared
#: with other work, a call preempted mid-way then costs only what it ran)
CLOCK = [time.perf_counter]


def _timed(f, calls: int) -> tuple[float, object]:
    clock = CLOCK[0]
    t0 = clock()
    for _ in range(calls):
        out = f()
    return (clock() - t0) / calls, out


def run(key: str, data: dict, cells: int, rounds: int, calls: int):
    """(kpi_xl seconds per call, numpy seconds per call, same value, ratio of the best
    rounds): medians of ``rounds`` interleaved rounds of ``calls`` calls each."""
    names, baseline = CASES[key]
    if cells <= 1000:
        given = {arg: as_cells(data[src]) for arg, src in names.items()}
        kinds = {src: (object if data[src].dtype == object else float) for src in names.values()}
        a = lambda src: np.array(given_src[src], kinds[src])  # noqa: E731
        given_src = {src: given[arg] for arg, src in names.items()}
    else:
        given = {arg: data[src] for arg, src in names.items()}
        a = data.__getitem__
    ours, theirs = [], []
    for _ in range(rounds):
        t, r = _timed(lambda: compute(key, **given), calls)
        ours.append(t)
        t, v = _timed(lambda: baseline(a), calls)
        theirs.append(t)
    same = abs(r.value - float(v)) <= 1e-9 * max(1.0, abs(float(v)))
    return statistics.median(ours), statistics.median(theirs), same, min(ours) / min(theirs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kpis", nargs="*", help="KPI keys (default: every column KPI)")
    ap.add_argument("--cells", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (median)")
    ap.add_argument("--cpu", action="store_true",
                    help="time the thread's CPU time instead of wall time (a shared machine)")
    args = ap.parse_args(argv)
    if args.cpu:
        CLOCK[0] = time.thread_time
    small = args.cells <= 1000
    rounds = args.rounds or (9 if small else 5)
    calls = 2000 if small else 1
    scale, unit = (1e6, "µs") if small else (1e3, "ms")
    data = make_inputs(args.cells)
    print(f"{args.cells:,} cells; median of {rounds} interleaved rounds"
          + (f" of {calls} calls" if calls > 1 else "")
          + ("; thread CPU time" if args.cpu else ""))
    print(f"{'KPI':<24}{'kpi_xl ' + unit:>11}{'numpy ' + unit:>11}{'ratio':>8}"
          f"{'best':>7}  same value")
    ratios, bests = [], []
    target = 3.0 if small else 1.5
    for key in args.kpis or CASES:
        t_k, t_n, same, best = run(key, data, args.cells, rounds, calls)
        ratios.append(t_k / t_n)
        bests.append(best)
        print(f"{key:<24}{t_k * scale:>11.2f}{t_n * scale:>11.2f}{t_k / t_n:>8.2f}"
              f"{best:>7.2f}  {same}")
    for name, rs in (("ratio of medians", ratios), ("ratio of best rounds", bests)):
        print(f"\n{name}: geometric mean {np.exp(np.mean(np.log(rs))):.2f}; "
              f"{sum(r <= target for r in rs)}/{len(rs)} within {target:g}x", end="")
    print()


if __name__ == "__main__":
    main()
