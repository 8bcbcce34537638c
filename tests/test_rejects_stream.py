"""A huge rejects report never holds the run in memory (issue 14 §1).

The 2,000,000-line check runs in a subprocess of its own and measures that process's peak
RSS above its RSS before the first line (``ru_maxrss``): it adds two million lines the
way the loader does (every row of a 2 M-row export rejected, two reasons), asks the
questions the loader, the guards and the summary ask, and writes rejects.csv. The bound
is generous and on memory only, never on time: the list of Reject objects this replaced
peaked at about 745 MB above start on this case (measured 2026-12-07 with the commit
before the change); the store keeps about 180-280 MB (DuckDB's memory limit, 128 MB,
plus the batch being written and the CSV writer). 400 MB fails the list and passes the
store.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path


from kpi_xl.data.rejects import (ALL_KPIS, LEFT_OUT, ROW_EXCLUDED, ROW_PLACED, ROW_REJECTED,
                                 VALUE_IGNORED, Reject, Rejects)

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, os, resource, sys
    from kpi_xl.data.rejects import Rejects
    n, out = int(sys.argv[1]), sys.argv[2]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = Rejects()
    why = "'date' is not an ISO date such as 2026-10-31 or 2026-10-31 14:05"
    for i in range(n):
        r.add("calls", "calls.csv", i + 2, "date", f"someday {i % 97}",
              why if i % 4 else "'date' is blank; every row needs a date", "row rejected",
              period="2026-10")
    r.drop_on_rejected_rows()
    summary = r.summary()
    tally = r.tally()
    reasons = r.reasons(["calls"], "row rejected", ["2026-10"])
    r.write_csv(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mb": (peak - before) / 1024, "n": len(r), "summary": summary,
                      "reasons": reasons, "tally": tally}))
""")


def test_two_million_rejects_keep_memory_bounded(tmp_path):
    n = 2_000_000
    out = tmp_path / "rejects.csv"
    got = subprocess.run([sys.executable, "-c", CHILD, str(n), str(out)], check=True,
                         capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    res = json.loads(got.stdout)
    assert res["mb"] < 400, res["mb"]
    assert res["n"] == n
    # every fourth row blank (i % 4 == 0): 500,000; the rest not a date: 1,500,000
    assert res["summary"] == [
        "1,500,000 × row rejected in calls.csv: 'date' is not an ISO date such as "
        "2026-10-31 or 2026-10-31 14:05",
        "500,000 × row rejected in calls.csv: 'date' is blank; every row needs a date"]
    assert res["reasons"] == {"'date' is not an ISO date such as 2026-10-31 or "
                              "2026-10-31 14:05": 1_500_000,
                              "'date' is blank; every row needs a date": 500_000}
    assert res["tally"] == {"calls": [0, 0, 0]}
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        assert next(rows) == ["source", "file", "row", "column", "value", "reason", "action",
                              "kpis"]
        first = next(rows)
        count = 1 + sum(1 for _ in rows)
    assert first[:3] == ["calls", "calls.csv", "2"] and first[6:] == [ROW_REJECTED, "all"]
    assert count == n


def test_the_report_file_matches_the_lines(tmp_path):
    """rejects.csv in the report's order (source, row, column, then as added), its kpis
    cell being Reject.leaves (write_csv states that rule again in SQL: this checks the
    two agree for every action, with and without KPIs), values escaped."""
    r = Rejects()
    lines = [("b", "b.csv", 3, "x", "=1+1", "bad", VALUE_IGNORED, ""),
             ("a", "a.csv", 7, "y", "v", "why", LEFT_OUT, "NPS"),
             ("a", "a.csv", None, "", "broken line", "too many fields", ROW_REJECTED, ""),
             ("a", "a.csv", 7, "x", "w", "why", VALUE_IGNORED, "AHT"),
             ("a", "a.csv", 2, "z", "", "menu", ROW_EXCLUDED, ""),
             ("a", "a.csv", 5, "d", "", "placed", ROW_PLACED, ""),
             ("a", "a.csv", 4, "d", "x", "no", ROW_REJECTED, "NPS")]
    for line in lines:
        r.add(*line)
    out = r.write_csv(tmp_path / "r.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        got = list(csv.reader(f))[1:]
    want = sorted((Reject(*x) for x in lines), key=lambda x: (x.source, x.row or 0, x.column))
    assert [g[2] for g in got] == ["", "2", "4", "5", "7", "7", "3"]
    assert [g[7] for g in got] == [w.leaves for w in want]
    assert [g[7] for g in got] == [ALL_KPIS, ALL_KPIS, "NPS", "", "AHT", "NPS", ""]
    assert got[-1][4] == "'=1+1"


def test_kpis_merge_onto_the_last_line_and_rejected_rows_keep_one_line():
    r = Rejects()
    r.add("s", "s.csv", 2, "talk", "-5", "negative", VALUE_IGNORED, "AHT")
    r.add("s", "s.csv", 2, "talk", "-6", "negative again", VALUE_IGNORED)
    r.add("s", "s.csv", 3, "talk", "-1", "negative", VALUE_IGNORED)
    r.add("s", "s.csv", 3, "date", "", "no date", ROW_REJECTED)
    found = r.merge_kpis(VALUE_IGNORED, {("s", 2, "talk"): "AHT, Occupancy",
                                         ("s", 9, "talk"): "AHT"})
    assert found == {("s", 2, "talk")}
    assert [x.kpis for x in r.items] == ["AHT", "AHT, Occupancy", "", ""]
    r.drop_on_rejected_rows()
    assert [(x.row, x.action) for x in r.items] == [(2, VALUE_IGNORED), (2, VALUE_IGNORED),
                                                   (3, ROW_REJECTED)]
    assert len(r) == 3
    assert r.tally() == {"s": (2, 1, 0)}


def test_the_temporary_folder_goes_with_the_report():
    import gc
    import os

    r = Rejects()
    r.add("s", "s.csv", 2, "c", "v", "why", ROW_REJECTED)
    assert len(list(r)) == 1
    folder = r._folder
    assert oct(os.stat(folder).st_mode & 0o777) == "0o700"
    del r
    gc.collect()
    assert not os.path.exists(folder)


def test_a_file_whose_every_row_is_bad_is_summarised(tmp_path):
    """The loader end to end on a smaller all-bad export: the accounting, the top reasons
    and the report's line count."""
    from kpi_xl.data.load import load
    from kpi_xl.data.sources import parse_source

    path = tmp_path / "calls.csv"
    with open(path, "w") as f:
        f.write("id,date,channel\n")
        for i in range(30_000):
            f.write(f"c{i},{'' if i % 3 == 0 else f'someday {i}'},phone\n")
    ds = load([parse_source({"preset": "generic-contacts", "path": str(path)})])
    assert ds.lines() == ["calls.csv: 30,000 rows read = 0 used + 30,000 rejected"]
    top = ds.rejects.summary()
    assert len(top) == 2
    assert top[0].startswith("20,000 × row rejected in calls.csv: 'date' is not")
    assert top[1].startswith("10,000 × row rejected in calls.csv: 'date' is blank")
    out = ds.rejects.write_csv(tmp_path / "rejects.csv")
    with open(out, encoding="utf-8-sig") as f:
        assert sum(1 for _ in f) == 30_001
