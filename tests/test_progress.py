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
