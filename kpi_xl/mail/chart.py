"""The message's trend chart: one KPI's last periods (13 months, 13 weeks...) against its
target, as a small PNG shown beside the KPI in the HTML body (by Content-ID).

What it shows, at 160 × 40 CSS pixels (drawn at twice that, for phone screens):
the value of each period as a line (a period without a value breaks it), the target as a
dashed grey line, the side of the target that is good (the KPI's direction) shaded pale
green, and the last period as a dot: green on target, red off target, blue when the KPI
has no target. No text is drawn: the KPI's name, value and target stand beside the chart
in the message, and its alt text says the same in words.

Drawn with numpy (the core's dependency) and written by :mod:`kpi_xl.png`; no plotting
library. Anti-aliased by drawing at three times the size and averaging.
"""

from __future__ import annotations

import numpy as np

from ..png import encode

WIDTH, HEIGHT = 160, 40            # CSS pixels, as the HTML shows it
SCALE = 2                          # image pixels per CSS pixel
_SS = 3                            # supersampling (anti-aliasing)
_MARGIN = 5.0                      # CSS pixels around the plot

WHITE = (255, 255, 255)
GOOD = (226, 242, 228)             # the good side of the target
TARGET = (107, 114, 128)
LINE = (31, 58, 95)                # the workbooks' header blue
ON, OFF = (46, 125, 50), (198, 40, 40)


def _scale(values: list[float | None], target: float | None) -> tuple[float, float]:
    nums = [v for v in values if v is not None] + ([target] if target is not None else [])
    lo, hi = min(nums), max(nums)
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
    else:
        pad = (hi - lo) * 0.12
    return lo - pad, hi + pad


def trend_png(values: list[float | None], target: float | None = None,
              direction: str | None = None, status: str = "") -> bytes | None:
    """PNG bytes of the chart (None when no period has a value). ``direction``: 'higher'
    or 'lower' is better (anything else: no side shaded); ``status``: the last period's,
    'on target' or 'off target'."""
    if not any(v is not None for v in values):
        return None
    r = SCALE * _SS
    w, h = WIDTH * r, HEIGHT * r
    img = np.empty((h, w, 3), np.float32)
    img[:] = WHITE
    lo, hi = _scale(values, target)
    m = _MARGIN * r
    n = len(values)

    def y_of(v: float) -> float:
        return m + (hi - v) / (hi - lo) * (h - 2 * m)

    def x_of(i: int) -> float:
        return w / 2 if n == 1 else m + i * (w - 2 * m) / (n - 1)

    if target is not None:
        ty = int(round(y_of(target)))
        if direction == "higher":
            img[:ty] = GOOD
        elif direction == "lower":
            img[ty:] = GOOD
        dash, thick = 4 * r, max(1, r // 2)
        for x0 in range(0, w, 2 * dash):
            img[max(0, ty - thick):ty + thick, x0:x0 + dash] = TARGET
    points = [(x_of(i), y_of(v)) for i, v in enumerate(values) if v is not None]
    for i in range(n - 1):
        if values[i] is not None and values[i + 1] is not None:
            _segment(img, (x_of(i), y_of(values[i])), (x_of(i + 1), y_of(values[i + 1])),
                     0.9 * r, LINE)
    for i, v in enumerate(values):         # a value with no neighbour would not show
        alone = (i == 0 or values[i - 1] is None) and (i == n - 1 or values[i + 1] is None)
        if v is not None and alone:
            _disk(img, (x_of(i), y_of(v)), 1.6 * r, LINE)
    last = {"on target": ON, "off target": OFF}.get(status, LINE)
    if values[-1] is not None:
        _disk(img, points[-1], 3.2 * r, WHITE)
        _disk(img, points[-1], 2.4 * r, last)
    small = img.reshape(HEIGHT * SCALE, _SS, WIDTH * SCALE, _SS, 3).mean(axis=(1, 3))
    return encode(np.clip(np.rint(small), 0, 255).astype(np.uint8))


def _segment(img: np.ndarray, a: tuple[float, float], b: tuple[float, float], radius: float,
             colour) -> None:
    """A line from a to b, ``radius`` thick on each side, with round ends."""
    (x0, y0), (x1, y1) = a, b
    h, w, _ = img.shape
    left, right = int(max(0, min(x0, x1) - radius - 1)), int(min(w, max(x0, x1) + radius + 2))
    top, bottom = int(max(0, min(y0, y1) - radius - 1)), int(min(h, max(y0, y1) + radius + 2))
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32) + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xs) if length2 == 0 else np.clip(((xs - x0) * dx + (ys - y0) * dy)
                                                       / length2, 0, 1)
    inside = (xs - (x0 + t * dx)) ** 2 + (ys - (y0 + t * dy)) ** 2 <= radius * radius
    img[top:bottom, left:right][inside] = colour


def _disk(img: np.ndarray, centre: tuple[float, float], radius: float, colour) -> None:
    _segment(img, centre, centre, radius, colour)
