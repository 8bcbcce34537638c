"""What an exact check of a yes/no column costs at a million cells, against the anchor of
answered rate (``count_nonzero(x == 1)``): the ways tried to make the check cheaper, each
timed alone (thread CPU time, median of the rounds, the same float64 array of 1,000,000
values, 93 % ones, no blank, as ``bench_functions.py`` hands it over), and each held to
the rule on edge values: a way that says "valid" for a column that holds anything but
1, 0 (or -0.0, which equals 0) is not exact and cannot be used; one that says "not valid"
for a valid column only sends it to the old way (costs time, changes no result).

``floor`` is no check: the anchor plus the cheapest pass numpy makes over the values,
what any exact check costs at least. The same for service level (``sl_*``: its anchor,
main's work, its floor) over a wait column beside the yes/no one.

    python bench/flag_check_floor.py            # warm: the array in the cache, as the bench
    python bench/flag_check_floor.py --cold     # 64 MB read before each call
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kpi_xl.render.cells import _count  # noqa: E402  (count_nonzero's C function)

ONE_BITS = np.uint64(0x3FF0000000000000)
ONE_HI = 0x3FF00000   # the upper 32 bits of 1.0
ONE, ZERO = np.array(1.0), np.array(0.0)
_max, _min, _add = np.maximum.reduce, np.minimum.reduce, np.add.reduce


def cnz(mask) -> int:
    return int(_count(mask))


def anchor(x):
    """numpy's side of answered rate: one comparison and its count."""
    return cnz(x == ONE)


def main_way(x):
    """main (cells._flag_array): 1s and 0s counted; valid where they add up to every row."""
    ones, zeros = cnz(x == ONE), cnz(x == ZERO)
    return ones, ones + zeros == x.shape[0]


def xor_min(x):
    """The bits u: min(u, u ^ bits of 1.0) is 0 exactly where u is +0.0 or 1.0 (one pass
    of each: xor, minimum, greatest value), the 1s counted as on main."""
    u = x.view(np.uint64)
    return cnz(x == ONE), _max(np.minimum(u, u ^ ONE_BITS)) == 0


def bounds_nonzero(x):
    """Greatest bits <= those of 1.0 (every value in [+0.0, 1.0]) and as many values with
    a bit set as 1s: then every value other than 1.0 is +0.0."""
    u = x.view(np.uint64)
    ones = cnz(x == ONE)
    return ones, _max(u) <= ONE_BITS and cnz(u) == ones


def word_sum(x):
    """The values' 32-bit words summed exactly (uint64 accumulator: 2 M words of < 2**32
    cannot overflow) equal the 1s' upper words: every other word is 0."""
    ones = cnz(x == ONE)
    return ones, int(_add(x.view(np.uint32), dtype=np.uint64)) == ones * ONE_HI


def float_sum(x):
    """NOT exact: every value in [+0.0, 1.0] and their float sum equal to the count of 1s.
    A value below 1 can vanish in the rounding of a partial sum."""
    ones = cnz(x == ONE)
    return ones, _max(x.view(np.uint64)) <= ONE_BITS and float(_add(x)) == ones


def wrap_sum(x):
    """NOT exact: the bits' sum modulo 2**64 equal to the 1s' bits: other values may add up
    to a multiple of 2**64 (0.5 and -8.0 do)."""
    ones = cnz(x == ONE)
    return ones, int(_add(x.view(np.uint64))) == (ones * int(ONE_BITS)) % 2**64


def pieces(x, piece=65536):
    """main's two comparisons in pieces into one small buffer (no 1 MB mask; the values of
    a piece read twice while in the cache)."""
    buf, ones, zeros = np.empty(piece, bool), 0, 0
    for lo in range(0, x.shape[0], piece):
        part = x[lo:lo + piece]
        b = buf[:part.shape[0]]
        ones += cnz(np.equal(part, ONE, out=b))
        zeros += cnz(np.equal(part, ZERO, out=b))
    return ones, ones + zeros == x.shape[0]


def masks_or(x):
    """The 0s' mask not counted: the two masks' bytes or-ed as 64-bit words, and their
    least word all ones bytes (every row 1 or 0)."""
    e1, e0 = x == ONE, x == ZERO
    n = x.shape[0]
    w = n // 8 * 8
    ok = _min(np.bitwise_or(e1[:w].view(np.uint64), e0[:w].view(np.uint64))) \
        == np.uint64(0x0101010101010101) and bool(np.all(e1[w:] | e0[w:]))
    return cnz(e1), ok


def floor(x):
    """Not a check: the anchor plus the cheapest pass over the values that numpy has (a
    reduction over the bits); any exact check needs at least one such pass more."""
    return cnz(x == ONE), _max(x.view(np.uint64)) <= ONE_BITS


def sl_anchor(x, w):
    """numpy's side of service level."""
    return cnz((x == 1) & (w <= 20))


def sl_main(x, w):
    """What main's service level does over arrays without blanks: the wait's bits' greatest
    value (no blank, none negative, no infinity), the yes/no check as main_way, then the
    formula's comparison, its and with the 1s and their count."""
    _max(w.view(np.uint64))
    e1, e0 = x == ONE, x == ZERO
    cnz(e1), cnz(e0)
    return cnz(e1 & (w <= np.array(20.0)))


def sl_floor(x, w):
    """Not a check: the anchor, the wait's reduction, the 1s counted and one reduction
    over the yes/no column, the cheapest that any exact check of it could cost."""
    _max(w.view(np.uint64))
    e1 = x == ONE
    cnz(e1), _max(x.view(np.uint64))
    return cnz(e1 & (w <= np.array(20.0)))


WAYS = [anchor, main_way, xor_min, bounds_nonzero, word_sum, float_sum, wrap_sum, pieces,
        masks_or, floor]
CHECKS = [main_way, xor_min, bounds_nonzero, word_sum, float_sum, wrap_sum, pieces, masks_or]


def edge_cases(n: int = 100_000) -> dict[str, np.ndarray]:
    """Columns of n values, 1s and 0s with one or two edge values written at the end."""
    base = (np.random.default_rng(3).random(n) < 0.9).astype(float)
    bits = lambda b: np.array([b], np.uint64).view(np.float64)[0]  # noqa: E731

    def with_(*vals):
        x = base.copy()
        x[n - len(vals):] = vals
        return x

    return {
        "1s and 0s": base, "-0.0": with_(-0.0), "0.5": with_(0.5),
        "1 + eps": with_(1 + 2**-52), "1 - eps/2": with_(1 - 2**-53),
        "5e-324": with_(5e-324), "2.0": with_(2.0), "inf": with_(np.inf),
        "NaN": with_(np.nan), "NaN payload": with_(bits(0x7FF0000000000001)),
        "-NaN": with_(-np.nan), "0.5 and -8.0": with_(0.5, -8.0),
        "1 - eps/2 and 1.0": with_(1 - 2**-53, 1.0),
    }


def exactness() -> None:
    print("exactness: 'valid' said of a column that is not (FALSE ACCEPT) rules a way out")
    cases = edge_cases()
    print(f"{'':22}" + "".join(f"{c.__name__:>15}" for c in CHECKS))
    for name, x in cases.items():
        truth = bool(np.all((x == 1) | (x == 0)))
        row = []
        for way in CHECKS:
            ones, ok = way(x)
            ok = bool(ok)
            row.append("ok" if ok == truth else ("FALSE ACCEPT" if ok else "old way"))
            if ok and ones != cnz(x == 1):
                row[-1] = "WRONG COUNT"
        print(f"{name:22}" + "".join(f"{r:>15}" for r in row))


def timing(cold: bool, rounds: int) -> None:
    """Each way in rounds alternating with the anchor (a way that makes big temporaries
    would otherwise slow the next way down), its median against the anchor's."""
    n = 1_000_000
    x = (np.random.default_rng(1).random(n) < 0.93).astype(float)
    flush = np.ones(8_000_000)
    print(f"\n1,000,000 values, {'cold (64 MB read before each call)' if cold else 'warm'}; "
          f"thread CPU time, median of {rounds} rounds alternating with the anchor")
    for way in WAYS[1:]:
        ours, theirs = [], []
        for _ in range(rounds):
            for f, out in ((way, ours), (anchor, theirs)):
                if cold:
                    flush.sum()
                t = time.thread_time_ns()
                f(x)
                out.append(time.thread_time_ns() - t)
        m, a = statistics.median(ours), statistics.median(theirs)
        print(f"{way.__name__:16}{m / 1e3:9.1f} us  anchor {a / 1e3:7.1f} us {m / a:6.2f}x")
    w = np.random.default_rng(2).exponential(15, n)
    for way in (sl_main, sl_floor):
        ours, theirs = [], []
        for _ in range(rounds):
            for f, out in ((way, ours), (sl_anchor, theirs)):
                if cold:
                    flush.sum()
                t = time.thread_time_ns()
                f(x, w)
                out.append(time.thread_time_ns() - t)
        m, a = statistics.median(ours), statistics.median(theirs)
        print(f"{way.__name__:16}{m / 1e3:9.1f} us  anchor {a / 1e3:7.1f} us {m / a:6.2f}x")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--rounds", type=int, default=41)
    args = ap.parse_args(argv)
    exactness()
    timing(args.cold, args.rounds)


if __name__ == "__main__":
    main()
