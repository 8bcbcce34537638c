"""Progress lines on long steps (kpi_xl/progress.py), on a fake clock: no test here reads
the real time, and none asserts how long anything takes."""

from __future__ import annotations

import io

from kpi_xl.progress import Display, Meter, Partial, duration


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_and_time_left_by_bytes():
    clock, said = Clock(), []
    m = Meter("reading calls.csv", said.append, total=1_000, clock=clock)
    clock.t += 2.0
    m.update(300_000, 250)          # a quarter of the bytes in 2 s: 6 s to go
    assert said == ["reading calls.csv: 300,000 rows, 150,000 rows/s, about 6 s left"]
    assert isinstance(said[0], Partial)


def test_at_most_one_line_a_second():
    clock, said = Clock(), []
    m = Meter("reading", said.append, total=100, clock=clock)
    for k in range(1, 41):          # 40 updates, a quarter of a second apart: 10 s
        clock.t += 0.25
        m.update(k * 1_000, k)
    # the first at 1 s, then one each second: 1, 2, ..., 10 s
    assert len(said) == 10
    assert said[0] == "reading: 4,000 rows, 4,000 rows/s, about 24 s left"
    assert said[-1] == "reading: 40,000 rows, 4,000 rows/s, about 15 s left"


def test_a_short_step_says_only_its_end():
    clock, said = Clock(), []
    m = Meter("reading", said.append, total=10, clock=clock)
    clock.t += 0.4
    m.update(500, 5)
    clock.t += 0.4
    m.finish(1_000, " from 2 files")
    assert said == ["reading: 1,000 rows from 2 files in <1 s, 1,250 rows/s"]
    assert not isinstance(said[0], Partial)


def test_rows_expected_and_no_total():
    clock, said = Clock(), []
    m = Meter("sending", said.append, total=40, unit="recipients", clock=clock)
    clock.t += 5
    m.update(10)                    # 10 of 40 in 5 s: 15 s to go
    assert said[-1] == "sending: 10 recipients, 2.0 recipients/s, about 15 s left"
    clock.t += 70
    m.finish(40, " (40 sent)")
    assert said[-1] == "sending: 40 recipients (40 sent) in 1 min 15 s, 0.5 recipients/s"
    m2 = Meter("reading", said.append, clock=clock)    # no total: no time left
    clock.t += 3
    m2.update(30_000)
    assert said[-1] == "reading: 30,000 rows, 10,000 rows/s"


def test_durations():
    assert [duration(x) for x in (0.2, 1, 59.4, 60, 185, 3600, 3725)] == [
        "<1 s", "1 s", "59 s", "1 min", "3 min 5 s", "1 h 0 min", "1 h 2 min"]


def test_terminal_updates_one_line_and_a_log_gets_plain_lines():
    tty, log = io.StringIO(), io.StringIO()
    for stream, is_tty in ((tty, True), (log, False)):
        show = Display(stream, tty=is_tty)
        show("reading a.csv")
        show(Partial("reading: 1,000 rows"))
        show(Partial("reading: 2,000 rows"))
        show("reading: 3,000 rows in 2 s")
    assert tty.getvalue() == ("  … reading a.csv\n"
                              "\r\x1b[K  … reading: 1,000 rows"
                              "\r\x1b[K  … reading: 2,000 rows"
                              "\r\x1b[K  … reading: 3,000 rows in 2 s\n")
    assert log.getvalue() == ("  … reading a.csv\n  … reading: 1,000 rows\n"
                              "  … reading: 2,000 rows\n  … reading: 3,000 rows in 2 s\n")


def test_the_loader_reports_rows_read(tmp_path):
    from kpi_xl.data.load import load
    from kpi_xl.data.sources import parse_source

    for k in range(3):
        (tmp_path / f"c{k}.csv").write_text(
            "id,date,channel\n" + "".join(f"{k}-{i},2026-10-0{1 + i % 9},email\n"
                                          for i in range(100)))
    said: list[str] = []
    load([parse_source({"preset": "generic-contacts", "path": str(tmp_path / "c*.csv")})],
         progress=said.append)
    assert [s for s in said if s.startswith("reading c")] == [
        "reading c0.csv (contacts)", "reading c1.csv (contacts)", "reading c2.csv (contacts)"]
    assert any(s.startswith("reading: 300 rows from 3 files in ") for s in said)


# ------------------------------------------------------------ progress inside one file
# (issue 14 §1: a 2 M-row export said a start line and an end line, 70 s of silence)
import threading  # noqa: E402

import pytest  # noqa: E402

from kpi_xl.data import load as load_module  # noqa: E402
from kpi_xl.data import readers  # noqa: E402
from kpi_xl.data.rejects import Rejects  # noqa: E402
from kpi_xl.data.sources import parse_source  # noqa: E402
from kpi_xl.progress import Poll  # noqa: E402

MAPPING = {"table": "contacts", "columns": {"id": "id", "date": "date", "channel": "channel",
                                            "agent": "agent", "wait": "wait"}}


def _export(tmp_path, n: int):
    path = tmp_path / "calls.csv"
    with open(path, "w", newline="") as f:
        f.write("id,date,channel,agent,wait\n")
        for i in range(n):
            f.write(f"c{i},2026-10-{i % 28 + 1:02d} 08:{i % 60:02d}:00,phone,a{i % 40},{i % 300}\n")
    return path, parse_source({"name": "calls", "path": str(path), **MAPPING})


def _no_poller() -> bool:
    return not any(t.name == "kpi_xl-progress" for t in threading.enumerate())


def _rising(heard):
    rows, done = zip(*heard)
    return list(rows) == sorted(rows) and list(done) == sorted(done)


def test_python_reader_reports_every_block_of_rows(tmp_path, monkeypatch):
    # 1,000 rows in blocks of 100: a report after each full block (100, 200, ... 1,000);
    # the bytes are the reader's place in the file, so they rise to at most its size
    monkeypatch.setattr(readers, "ROWS_PER_REPORT", 100)
    monkeypatch.setattr(readers, "DUCKDB_FROM_BYTES", 1 << 40)     # Python's reader
    path, src = _export(tmp_path, 1_000)
    heard = []
    raw = readers.read_source(src, Rejects(), lambda r, b: heard.append((r, b)))
    assert raw.read == 1_000
    assert [r for r, _ in heard] == list(range(100, 1_001, 100))
    assert _rising(heard) and 0 < heard[0][1] < heard[-1][1] <= path.stat().st_size


def test_python_reader_fault_row_number_unchanged_by_blocks(tmp_path, monkeypatch):
    # broken quoting on the 251st record (file row 252) is named with that row, as
    # before the rows were read in blocks (the blocks are 100 rows: it falls in the third)
    monkeypatch.setattr(readers, "ROWS_PER_REPORT", 100)
    monkeypatch.setattr(readers, "DUCKDB_FROM_BYTES", 1 << 40)
    path, src = _export(tmp_path, 400)
    lines = path.read_text().splitlines(keepends=True)
    lines[251] = 'c250,"2026"x,phone,a1,3\n'
    path.write_text("".join(lines))
    with pytest.raises(readers.SourceError, match="row 252 is malformed CSV"):
        readers.read_source(src, Rejects(), lambda r, b: None)


def test_duckdb_reader_reports_while_its_query_runs(tmp_path, monkeypatch):
    # DuckDB reads the whole file in one statement; a thread asks its share of the query
    # every 5 ms: a 1,000,000-row file (~41 MB; DuckDB reports per buffer of some MB)
    # gives several reports, rising, none past the file's size; then the thread is gone
    monkeypatch.setattr(readers, "DUCKDB_FROM_BYTES", 0)
    monkeypatch.setattr(readers, "POLL_SECONDS", 0.005)
    path, src = _export(tmp_path, 1_000_000)
    heard = []
    raw = readers.read_source(src, Rejects(), lambda r, b: heard.append((r, b)))
    assert type(raw.columns["id"]).__name__ == "SqlColumn"      # DuckDB did read it
    assert raw.read == 1_000_000
    # it moves: at least two different places inside the file (DuckDB's percent read as a
    # share of the file, not clamped to its end)
    assert len({b for _, b in heard if 0 < b < path.stat().st_size}) >= 2
    assert _rising(heard) and heard[-1][1] <= path.stat().st_size
    assert heard[-1][0] > 0
    assert _no_poller()


def test_load_says_lines_while_one_file_is_read(tmp_path, monkeypatch):
    # the loader's meter on a clock that moves 1 s each time it is read: every report
    # inside the one file becomes a line, with the rows so far and a time left by bytes
    monkeypatch.setattr(readers, "ROWS_PER_REPORT", 100)
    monkeypatch.setattr(readers, "DUCKDB_FROM_BYTES", 1 << 40)
    clock = Clock()

    def tick():
        clock.t += 1.0
        return clock.t

    monkeypatch.setattr(load_module, "Meter",
                        lambda *a, **k: Meter(*a, clock=tick, **k))
    _, src = _export(tmp_path, 1_000)
    said = []
    load_module.load([src], check_rules=False, progress=said.append)
    partial = [s for s in said if isinstance(s, Partial)]
    counts = [int(s.split(": ")[1].split(" rows")[0].replace(",", "")) for s in partial]
    assert len(partial) >= 5 and counts == sorted(counts) and counts[-1] <= 1_000
    assert all("left" in s for s in partial[:-1])
    assert said[-1].startswith("reading: 1,000 rows")


def test_poll_stops_with_its_block_and_keeps_an_error():
    class Boom(RuntimeError):
        pass

    shares = iter([-1.0, 0.2, 0.5])

    def share():
        try:
            return next(shares)
        except StopIteration:
            raise Boom("no more") from None

    heard = []
    with pytest.raises(Boom):
        with Poll(share, heard.append, every=0.001):
            while not heard or len(heard) < 2:
                threading.Event().wait(0.001)
            threading.Event().wait(0.05)
    assert heard == [0.2, 0.5]                        # -1 (not begun) is not reported
    assert _no_poller()
    with pytest.raises(KeyError):                     # the block's own error wins
        with Poll(lambda: 0.1, heard.append, every=0.001):
            raise KeyError("x")
    assert _no_poller()


def test_under_a_second_left_is_not_about():
    """'about <1 s left' read oddly at the end of a step (the QA workbooks, the mail)."""
    clock, said = Clock(), []
    m = Meter("sending", said.append, total=10, unit="recipients", clock=clock)
    clock.t += 2.0
    m.update(9)                     # 9 in 2 s: 0.2 s to go
    assert said == ["sending: 9 recipients, 4.5 recipients/s, <1 s left"]
