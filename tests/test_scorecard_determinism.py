"""The same inputs give byte-identical workbooks (issue 10).

What varied: the engine's float sums. DuckDB aggregates in parallel and adds its threads'
partial sums in the order they finish; floating-point addition is not associative, so
the organisation's QA score (a mean of per-evaluation fractions) changed in its last
digits from run to run (two different results over five runs on this 2-core machine),
and with it the scorecard's history. Python's hash randomisation was ruled out: the engine's SQL text and inputs are
the same under every PYTHONHASHSEED, and with one DuckDB thread every seed gave the same
bytes. The fix sums floats exactly (``kpi_xl.render.sql.exact_sum``), so the order cannot
matter. These tests build in separate processes, with different hash seeds and thread
counts, and compare bytes; and they reorder the input rows, which changes the summation
order deterministically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("openpyxl")
pytest.importorskip("jinja2")

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[3])
from scorecard_data import month
_t, _r, paths = month(sys.argv[1], threads=int(sys.argv[2]))
print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}))
"""


def test_same_bytes_in_separate_processes_whatever_the_hash_seed_and_threads(tmp_path):
    """Three builds of the same month, each in its own Python process, under different
    PYTHONHASHSEED values and DuckDB thread counts (1, 2 and 4): the same bytes. Before
    the fix the one-thread build differed from the parallel ones (its sums run in another
    order) and the parallel ones from each other, most runs."""
    runs = [("0", 1), ("1", 2), ("2", 4)]
    procs = []
    for seed, threads in runs:
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        out = tmp_path / f"seed{seed}-threads{threads}"
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(out), str(threads), str(ROOT / "tests")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    digests = []
    for (seed, threads), p in zip(runs, procs, strict=True):
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        digests.append(json.loads(stdout.strip().splitlines()[-1]))
    assert len(digests[0]) == 3
    for (seed, threads), d in zip(runs[1:], digests[1:], strict=True):
        assert d == digests[0], f"PYTHONHASHSEED={seed}, {threads} threads: different bytes"


def test_engine_results_do_not_depend_on_the_order_of_the_rows():
    """The same rows in reverse order give bit-identical KPI values (one thread each, so
    only the row order differs). A plain floating-point SUM or AVG adds in row order, and
    reversing it changed the last digits of the QA scores and the duration totals."""
    import numpy as np
    import pandas as pd

    from kpi_xl.demo_data import MAX_SCORE, sample_tables
    from kpi_xl.engine import Engine, KpiChoice

    tables = sample_tables(teams=2, agents_per_team=4, contacts_per_month=1200)
    # the reversed view itself (negative strides; kpi_xl.frames.for_duckdb copies it)
    backwards = {k: (v.iloc[::-1] if isinstance(v, pd.DataFrame) else v)
                 for k, v in tables.items()}
    choices = {"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
    keys = ["kpi", "level", "key", "period"]

    def run(t):
        res = Engine(t, choices=choices, threads=1).compute("2026-10")
        return res.table.astype({k: str for k in keys}).sort_values(keys).reset_index(drop=True)

    a, b = run(tables), run(backwards)
    assert a[keys].equals(b[keys])
    va, vb = a["value"].to_numpy(float), b["value"].to_numpy(float)
    differ = ~((va == vb) | (np.isnan(va) & np.isnan(vb)))
    assert not differ.any(), a.loc[differ, keys + ["value"]].assign(reversed=vb[differ]).head(10)
    assert len(a) > 1000 and (a["kpi"] == "qa_score").any()


def test_exact_sum_is_the_same_in_every_row_order():
    """``exact_sum`` over the same values in three orders, on two threads: one result, and
    it is the exact sum to within its final rounding (math.fsum is the correctly rounded
    exact sum). The values mix signs and magnitudes from 1e-3 to 1e6, where a plain SUM
    varies with the order."""
    import math

    import duckdb
    import numpy as np
    import pandas as pd

    from kpi_xl.render.sql import exact_sum

    rng = np.random.default_rng(7)
    x = rng.standard_normal(200_000) * 10.0 ** rng.integers(-3, 7, 200_000)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    exact, plain = set(), set()
    for order in (np.arange(len(x)), np.arange(len(x))[::-1], rng.permutation(len(x))):
        con.register("t", pd.DataFrame({"x": x[order]}))
        e, p = con.execute(f"SELECT {exact_sum('x')}, SUM(x) FROM t").fetchone()
        exact.add(e)
        plain.add(p)
        con.unregister("t")
    assert len(exact) == 1
    assert math.isclose(exact.pop(), math.fsum(x), rel_tol=4e-16)
    assert len(plain) > 1          # the defect: a plain SUM depends on the order
