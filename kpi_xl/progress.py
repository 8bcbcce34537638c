"""Progress on long steps: how far, how fast, and how long still.

A :class:`Meter` follows one step (reading a month of exports, sending the reports): it
is told how far the step has got (rows, and where known how far through the bytes or the
items expected) and says, at most once a ``interval`` (one second), a line such as

    reading calls.csv: 420,000 rows, 140,000 rows/s, about 12 s left

through the step's ``progress(message)`` callback, the one the loader and the run
already take. The time left comes from the share done (bytes of the files, or items
expected) and the pace so far; it is left out until there is a pace to go by. Lines
while the step runs are :class:`Partial`: a terminal shows them on one line that each
replaces (:class:`Display`), a log or a callback that does not know them gets plain
lines. The final line (:meth:`Meter.finish`) is a plain one and always said.

The meter reads a clock it is given (``time.monotonic`` by default), so tests drive it
with a fake one. It formats; it does not print: printing is the CLI's
(:class:`Display`).
"""

from __future__ import annotations

import time
from typing import IO, Callable


class Partial(str):
    """A progress line that the next line replaces, on a terminal."""


def duration(seconds: float) -> str:
    """A time span as a manager reads it: '<1 s', '12 s', '3 min 5 s', '1 h 2 min'."""
    s = int(round(seconds))
    if seconds < 1:
        return "<1 s"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _rate(n: float) -> str:
    return f"{n:,.0f}" if n >= 10 else f"{n:.1f}"


class Meter:
    """One long step: ``update(count, done)`` as it goes, ``finish(count)`` at the end.

    ``count`` is what the line counts (rows read, reports sent), in ``unit``s; ``done``
    is how far the step is, in the measure of ``total`` (bytes of the files read so far
    out of ``total`` bytes, or items out of ``total`` items; by default the count
    itself)."""

    def __init__(self, step: str, say: Callable[[str], None] | None, total: float | None = None,
                 unit: str = "rows", interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.step, self.say, self.total, self.unit = step, say, total, unit
        self.interval, self.clock = interval, clock
        self.start = clock()
        self.last: float | None = None          # when the last line was said
        self.count = 0

    def line(self, count: float, done: float | None = None) -> str:
        """The line for ``count`` so far (and ``done`` of ``total``), now."""
        elapsed = self.clock() - self.start
        done = count if done is None else done
        parts = [f"{count:,.0f} {self.unit}"]
        if elapsed > 0 and count:
            parts.append(f"{_rate(count / elapsed)} {self.unit}/s")
        if self.total and 0 < done < self.total and elapsed > 0:
            left = duration(elapsed * (self.total - done) / done)
            parts.append(f"{left} left" if left.startswith("<") else f"about {left} left")
        return f"{self.step}: " + ", ".join(parts)

    def update(self, count: float, done: float | None = None) -> None:
        """Say where the step is, unless a line was said less than ``interval`` ago."""
        self.count = count
        now = self.clock()
        if self.say is None or (self.last is not None and now - self.last < self.interval):
            return
        if self.last is None and now - self.start < self.interval:
            return                                  # a step under a second says nothing
        self.last = now
        self.say(Partial(self.line(count, done)))

    def finish(self, count: float | None = None, what: str = "") -> None:
        """The step's last line: its count, its pace and how long it took."""
        count = self.count if count is None else count
        if self.say is None:
            return
        elapsed = self.clock() - self.start
        pace = f", {_rate(count / elapsed)} {self.unit}/s" if elapsed > 0 and count else ""
        self.say(f"{self.step}: {count:,.0f} {self.unit}{what} in {duration(elapsed)}{pace}")


class Display:
    """Prints progress lines: on a terminal, :class:`Partial` lines replace each other on
    one line (the next plain line takes its place); elsewhere (a log, a pipe) every line
    is printed as it comes."""

    def __init__(self, stream: IO[str], tty: bool | None = None, prefix: str = "  … "):
        self.stream, self.prefix = stream, prefix
        self.tty = stream.isatty() if tty is None else tty
        self.open = False                       # a partial line is on the screen

    def __call__(self, message: str) -> None:
        text = self.prefix + message
        if self.tty and isinstance(message, Partial):
            self.stream.write("\r\x1b[K" + text)
            self.open = True
        else:
            if self.open:
                self.stream.write("\r\x1b[K")
                self.open = False
            self.stream.write(text + "\n")
        self.stream.flush()


#: what a reader says while it reads one file: ``(rows read so far, bytes of the file
#: read so far)`` (estimates where the reader cannot count them exactly)
Reading = Callable[[int, int], None]


class Poll:
    """Asks ``share()`` (how far a running step is, 0 to 1; below 0 while it has not
    begun) every ``every`` seconds from a thread of its own and passes each answer to
    ``report(share)``, while the ``with`` block runs (a query that runs in one call, such
    as a DuckDB read: ``connection.query_progress()``). The thread ends when the block
    does, whether the block returns or raises; an error in ``share`` or ``report`` ends
    the polling and is raised again when the block ends, not lost."""

    def __init__(self, share: Callable[[], float], report: Callable[[float], None],
                 every: float = 0.25):
        import threading

        self.share, self.report, self.every = share, report, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpi_xl-progress",
                                        daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                s = self.share()
                if s >= 0:
                    self.report(min(s, 1.0))
            except BaseException as e:      # kept, and raised in the caller's thread
                self.error = e
                return

    def __enter__(self) -> "Poll":
        self._thread.start()
        return self

    def __exit__(self, kind, value, tb) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None and kind is None:
            raise self.error
