"""A few rejected rows must not hold the whole table twice (issue 14 §1: flat memory).

A 2 M-row export with 0.17 % of its rows rejected (blank dates, repeated ids) peaked at
1,230 MB where the same export without them peaked at 912 MB: each step that drops rows
(convert's rows rejected, ``derive.reject_rows``: duplicate ids, blank dates, the QA
rubric, a phone call without answered...) made the table's rows again while the table it
came from was still held, so for a moment both were in memory, whole. Memory is counted
with tracemalloc (numpy and pandas report their buffers to it): what a step allocates on
top of what it was given, not the process's RSS, so the counts do not depend on the
machine or on what else runs.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.data.convert import Options, convert  # noqa: E402
from kpi_xl.data.derive import reject_rows  # noqa: E402
from kpi_xl.data.load import Dataset  # noqa: E402
from kpi_xl.data.readers import read_source  # noqa: E402
from kpi_xl.data.rejects import Rejects  # noqa: E402
from kpi_xl.data.sources import parse_source  # noqa: E402


def _peak_above(make, fn):
    """(fn(make()), the most memory fn held at once beyond what was held before it).
    Traced from before ``make``: a buffer allocated untraced is not seen when freed."""
    tracemalloc.start()
    try:
        given = make()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn(given)
        return out, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_rejecting_rows_does_not_hold_the_table_twice():
    n = 400_000

    def table():
        frame = pd.DataFrame({f"v{k}": np.arange(n, dtype=float) + k for k in range(10)},
                             copy=False)
        frame["_source"] = "calls"
        frame["_row"] = np.arange(n, dtype=np.int64) + 2
        return frame

    size = int(table().memory_usage(index=False).sum())
    mask = np.zeros(n, bool)
    mask[[0, n // 2, n - 1]] = True
    ds = Dataset(rejects=Rejects())
    out, extra = _peak_above(table, lambda frame: reject_rows(
        ds, frame, mask, {"calls": "calls.csv"}, "id", ["a", "b", "c"], "duplicate id"))
    assert len(out) == n - 3 and list(out["_row"][:2]) == [3, 4]
    assert out["v3"].iloc[-1] == n - 2 + 3 and out.index.equals(pd.RangeIndex(n - 3))
    assert [r.row for r in ds.rejects.items] == [2, n // 2 + 2, n + 1]
    # the table's rows made again column by column, each of the given table's columns
    # let go once taken: at most a few columns on top, not a second table
    assert extra < 0.35 * size, f"{extra:,} bytes on top of a {size:,}-byte table"


def test_a_row_rejected_by_convert_does_not_hold_the_table_twice(tmp_path):
    n = 200_000
    rows = [f"c{i},2026-10-01 08:{i % 60:02d}:00,phone,a{i % 50},Y,{i % 90},{i % 300}"
            for i in range(n)]

    def converted(text: str):
        path = tmp_path / "calls.csv"
        path.write_text("id,date,channel,agent,answered,wait,talk\n" + "\n".join(text)
                        + "\n", encoding="utf-8")
        src = parse_source({"name": "calls", "path": str(path), "table": "contacts",
                            "columns": {c: c for c in ("id", "date", "channel", "agent",
                                                       "answered", "wait", "talk")}})
        rejects = Rejects()
        return _peak_above(lambda: read_source(src, rejects),
                           lambda raw: convert(raw.source, raw, rejects, Options()))

    (clean, _), clean_peak = converted(rows)
    rows[n // 2] = f"c{n // 2},,phone,a0,Y,1,2"       # a blank date: the row is rejected
    (dirty, acc), dirty_peak = converted(rows)
    assert acc.rejected == 1 and len(dirty) == n - 1
    # the columns numpy holds (tracemalloc does not see pyarrow's buffers: with pyarrow
    # installed the text columns are Arrow arrays)
    size = sum(clean[c].to_numpy().nbytes for c in clean if isinstance(clean[c].dtype, np.dtype))
    # rejecting one row costs at most a column or two more than keeping them all
    assert dirty_peak - clean_peak < 0.3 * size, \
        f"{dirty_peak - clean_peak:,} bytes more than the clean file's peak ({size:,} bytes)"
