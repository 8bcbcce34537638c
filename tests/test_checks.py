"""The input-rule checks (issue 14 §1): a room of their own (``kpi_xl.checks``) that the
loader and the engine both use, the data layer never importing the engine; each table read
by one query whatever the number of rules; the loader's checks listing exactly the rows
the engine's do.

Scans are counted in DuckDB's own plan of the query (``EXPLAIN (FORMAT json)``), never
timed. The tables are test_engine's canonical tables, with rows that break rules of
several KPIs put there on purpose (a negative talk time, answered calls without a wait, a
CSAT of 7 on a 1-5 scale, a QA score above the maximum...)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from test_engine import canonical_tables  # noqa: E402
from test_lite_closure import closure  # noqa: E402

from kpi_xl.checks import Checks, check_sql, survey_sources  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402
from kpi_xl.frames import has_arrow_columns  # noqa: E402
from kpi_xl.render.sql import DIALECTS  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    return canonical_tables()


def _nodes(con, sql: str) -> list[dict]:
    """Every operator of DuckDB's physical plan of ``sql``; a POSITIONAL_SCAN (the
    engine's source of Arrow text: its text table joined row by row to the frame's other
    columns) is one read of the source, its two sides not listed."""
    def walk(n):
        yield n
        if n["name"] == "POSITIONAL_SCAN":
            return
        for c in n.get("children", []):
            yield from walk(c)
    roots = json.loads(con.execute("EXPLAIN (FORMAT json) " + sql).fetchall()[0][1])
    return [n for r in roots for n in walk(r)]


def _scans(con, sql: str) -> list[str]:
    """The scans of a table or frame (not DUMMY_SCAN: a SELECT without FROM, such as the
    constant list of rules, reads nothing)."""
    return [n["name"] for n in _nodes(con, sql)
            if "SCAN" in n["name"] and n["name"] != "DUMMY_SCAN"]


def test_the_engines_check_reads_each_table_once(tables):
    """Before: one SELECT per rule joined by UNION ALL, each a scan of the whole table
    (20 scans of the contacts frame for its 20 rules here). Survey answers are read
    through the engine's survey view: once from each of the two tables it takes."""
    eng = Engine(tables)
    sql = eng.check_sql()
    assert {"contacts", "surveys", "qa"} <= set(sql)
    scans = {table: len(_scans(eng.con, text)) for table, text in sql.items()}
    assert scans == {"contacts": 1, "qa": 1, "surveys": 2}, scans
    # the one query still finds what the rules say: the seeded breaks are there
    broken = eng.check()["contacts"]
    rules = set(broken["rule"])
    assert "'talk' must be a duration >= 0 (negative durations are refused)" in rules
    assert "'csat' must be a number from 1 to 5" in set(eng.check()["surveys"]["rule"])


def test_the_loaders_checks_read_each_table_once(tables, monkeypatch):
    """Each table the loader checks is given to DuckDB once, holding only the columns its
    rules read (and positions), and read by one query: read in place (the default), or
    copied into a DuckDB table first (``Checks.copy``), with the same lines either way."""
    checks = Checks(tables)
    found = checks.run()
    assert set(found) == {"contacts", "surveys", "qa"}
    cols = {r[0] for r in checks.con.execute("DESCRIBE src_contacts").fetchall()}
    assert "agent" not in cols and "id" not in cols and {"talk", "wait", "_row"} <= cols
    for name, text in checks.sql().items():
        # a frame of Arrow text as an Arrow table (kpi_xl.frames.for_duckdb), else the frame
        reads = sorted({c for r in checks.rules[name] for c in r.reads})
        scan = "ARROW_SCAN" if has_arrow_columns(tables[name][reads]) else "PANDAS_SCAN"
        assert _scans(checks.con, text) == [scan], name
    monkeypatch.setattr(Checks, "copy", True)
    copied = Checks(tables)
    again = copied.run()
    created = copied.con.execute(
        "SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()
    assert [t for (t,) in created] == ["src_contacts", "src_qa", "src_surveys"]
    for name, text in copied.sql().items():
        assert _scans(copied.con, text) in (["SEQ_SCAN"], ["TABLE_SCAN"]), name
        pd.testing.assert_frame_equal(found[name], again[name])


def test_with_arrow_strings_the_check_scans_the_frame_once():
    """pandas with pyarrow stores strings as Arrow arrays, which DuckDB converts on every
    scan: the check reads the frame once, never once per rule."""
    pytest.importorskip("pyarrow")
    t = canonical_tables()
    t["contacts"] = t["contacts"].astype({"channel": "string[pyarrow]",
                                          "agent": "string[pyarrow]"})
    checks = Checks(t)
    assert len(checks.rules["contacts"]) > 10
    checks.load("contacts")
    assert str(checks.tables["contacts"]["channel"].dtype) == "string"
    # failed before: a PANDAS_SCAN, which makes a Python string of every text value on
    # one thread; now the Arrow table of kpi_xl.frames.for_duckdb, text as string views
    assert _scans(checks.con, checks.sql()["contacts"]) == ["ARROW_SCAN"]


def _lines(frames) -> list[tuple]:
    out = []
    for df in frames:
        out += [tuple(r) for r in df[["_table", "_row", "column", "value", "rule", "kpis"]]
                .itertuples(index=False)]
    return sorted(out, key=repr)


def test_the_loaders_checks_list_what_the_engines_list(tables):
    """One rendering, two runners: on the same tables (positions as rows) the loader's
    per-table queries and the engine's per-binding queries (survey answers through its
    survey view) list the same (table, row, column, value, rule, KPIs), line for line."""
    t = {n: (df.assign(_row=np.arange(len(df))) if "_row" in df else df)
         for n, df in tables.items()}
    ours = _lines(Checks(t).run().values())
    engines = _lines(Engine(t).check().values())
    assert ours == engines
    # not vacuous: the contacts' own rules, the survey rules on contact rows and on the
    # surveys table, and the QA rules all found something
    kinds = {(r[0], r[2]) for r in ours}
    assert {("contacts", "talk"), ("contacts", "wait"), ("contacts", "csat"),
            ("qa", "score")} <= kinds, kinds


def test_survey_sources_are_the_engines_survey_view():
    """The loader's checks read survey answers from the tables the engine's survey view
    takes (a restatement of that choice, held here): a table with a survey column and a
    period or date column, for each mix of columns (the survey columns are one
    definition, :func:`survey_columns`, which the engine takes)."""
    base = {"contacts": {"_row": [2], "id": ["c1"]}, "surveys": {"_row": [2]}}
    mixes = [({}, {}), ({"nps": [9.0]}, {}), ({"nps": [9.0], "period": ["2026-10"]}, {}),
             ({"csat": [4.0], "date": pd.to_datetime(["2026-10-02"])}, {"ces": [3.0]}),
             ({"period": ["2026-10"]}, {"nps": [7.0], "period": ["2026-10"]}),
             ({"nps": [1.0], "period": ["2026-10"]}, {"ces": [2.0], "period": ["2026-10"]})]
    for c_extra, s_extra in mixes:
        t = {"contacts": pd.DataFrame({**base["contacts"], **c_extra}),
             "surveys": pd.DataFrame({**base["surveys"], **s_extra})}
        eng = Engine(t)
        view = ([r[0] for r in eng.con.execute(
            "SELECT DISTINCT _table FROM src_survey_rows").fetchall()]
            if "survey_rows" in eng.columns else [])
        cols = {n: set(df.columns) for n, df in t.items()}
        assert sorted(view) == sorted(survey_sources(cols)), (c_extra, s_extra)


def test_check_sql_in_every_dialect(tables):
    """The check is standard SQL: rendered for PostgreSQL and Spark it parses there
    (sqlglot), and DuckDB runs the PostgreSQL spelling with the same answer."""
    sqlglot = pytest.importorskip("sqlglot")
    eng = Engine(tables)
    for dialect in ("postgres", "spark"):
        for text in eng.check_sql(dialect=dialect).values():
            assert sqlglot.parse_one(text, read=dialect) is not None
    pg = eng.check_sql(dialect="postgres")
    assert pg == check_sql(eng.plan()[0], eng.columns, DIALECTS["postgres"])
    with pytest.raises(ValueError, match="dialect must be one of"):
        eng.check_sql(dialect="oracle")
    for table, text in eng.check_sql().items():
        a, b = eng.con.execute(text).df(), eng.con.execute(pg[table]).df()
        pd.testing.assert_frame_equal(a, b)
        assert len(a) > 0


def test_the_data_layer_does_not_import_the_engine():
    """The arrow runs one way: engine -> checks <- data. Statically (every import of the
    loader's modules, function-level ones too) and at run time (a load that checks the
    rules leaves kpi_xl.engine unimported)."""
    for root in ("kpi_xl.data.load", "kpi_xl.checks"):
        ours, _ = closure(root)
        assert not [m for m in ours if m.startswith("kpi_xl.engine")], (root, sorted(ours))
    code = (
        "import sys, tempfile, pathlib\n"
        "from kpi_xl.data.load import load\n"
        "from kpi_xl.data.sources import parse_source\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "(d / 'c.csv').write_text('id,date,channel,answered,wait,talk\\n'\n"
        "    'a,2026-10-01 09:00,phone,Y,12,-5\\nb,2026-10-01 10:00,phone,Y,,60\\n')\n"
        "ds = load([parse_source({'preset': 'generic-contacts', 'path': str(d / 'c.csv')})])\n"
        "assert ds.ok, ds.problems\n"
        "assert any('talk' in r.reason for r in ds.rejects.items), ds.rejects.items\n"
        "print(sorted(m for m in sys.modules if m.startswith('kpi_xl.engine')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def _pg_type(dtype) -> str:
    kind = getattr(dtype, "kind", "O")
    return {"f": "DOUBLE PRECISION", "i": "BIGINT", "u": "BIGINT", "b": "BOOLEAN",
            "M": "TIMESTAMP"}.get(kind, "TEXT")


def test_check_sql_runs_on_postgresql(tables):
    """The PostgreSQL spelling of the check runs on a real PostgreSQL server and lists
    what DuckDB lists. The relations the checks read (each row table, and the engine's
    survey view as DuckDB computes it) are copied there, with the columns the rules read.
    Needs a server: ``KPI_XL_TEST_PG_URL`` (e.g. from a throw-away server on 127.0.0.1)
    and psycopg; skipped, saying so, without them."""
    import os

    url = os.environ.get("KPI_XL_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set KPI_XL_TEST_PG_URL to run the checks there")
    psycopg = pytest.importorskip("psycopg")
    eng = Engine(tables)
    duck = eng.check()
    pg_sql = eng.check_sql(dialect="postgres")
    plan = eng.plan()[0]
    from kpi_xl.checks.sql import table_rules
    from kpi_xl.plan import source_of

    with psycopg.connect(url, autocommit=True) as con:
        for table, items in plan.items():
            if table == "period":
                continue
            src = source_of(table)
            rules = table_rules(table, items, eng.columns[src])
            cols = [c for c in dict.fromkeys(["_table", "_row", *(c for r in rules
                                                                   for c in r.reads)])
                    if c in eng.columns[src]]
            df = eng.con.execute(f"SELECT {', '.join(cols)} FROM src_{src}").df()
            con.execute(f"DROP TABLE IF EXISTS src_{src}")
            con.execute(f"CREATE TEMP TABLE src_{src} ("
                        + ", ".join(f'"{c}" {_pg_type(df[c].dtype)}' for c in cols) + ")")
            with con.cursor().copy(f"COPY src_{src} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in df.astype(object).where(df.notna(), None).itertuples(index=False):
                    cp.write_row(row)
        for table, text in pg_sql.items():
            cur = con.execute(text)
            got = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
            want = duck[table]
            assert len(got) == len(want) > 0, table
            assert got["_row"].astype("int64").tolist() == want["_row"].astype("int64").tolist()
            for c in ("_table", "column", "rule", "kpis"):
                assert got[c].tolist() == want[c].tolist(), (table, c)
            # values as text: each engine writes a double its own way ('-30' / '-30.0')
            assert [float(v) if v is not None else None for v in got["value"]
                    if v is None or _number(v)] == \
                [float(v) if v is not None else None for v in want["value"]
                 if v is None or _number(v)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_duplicates_are_pandas_duplicated_with_the_first_seen():
    """The duplicate-id check as SQL (kpi_xl.checks.duplicates) finds what pandas'
    ``duplicated`` finds (the loader's rule before), blanks included, and the first row
    holding each repeated value; Arrow-backed text too."""
    from kpi_xl.checks.embedded import duplicates

    values = ["a", "b", "a", None, "c", None, "b", "a", "A"]
    kinds = [pd.Series(values, dtype=object)]
    try:
        import pyarrow  # noqa: F401
        kinds.append(pd.Series(values, dtype="string[pyarrow]"))
    except ImportError:
        pass
    for s in kinds:
        again, first = duplicates(s)
        assert again.tolist() == np.flatnonzero(s.duplicated().to_numpy()).tolist() \
            == [2, 5, 6, 7]
        assert first.tolist() == [0, 3, 1, 0]
    none, _ = duplicates(pd.Series([], dtype=object))
    assert none.tolist() == []


_REPEATS_PEAK = r"""
import sys
import numpy as np, pandas as pd
from kpi_xl.checks.embedded import duplicates

def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

n = 2_000_000
ids = np.array([f"c{i}" for i in range(n)], dtype=object)
if sys.argv[1] == "repeated":
    ids[3::1500] = [f"c{i - 1}" for i in range(3, n, 1500)]
values = pd.Series(ids, dtype=sys.argv[2])
del ids
with open("/proc/self/clear_refs", "w") as f:    # the peak from here on
    f.write("5")
base = rss("VmRSS:")
again, first = duplicates(values)
print(len(again), rss("VmHWM:") - base)
"""


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]"])
def test_repeated_ids_are_checked_without_reading_every_id_again(dtype):
    """Ids that repeat (a few, in a large export) are checked on the rows whose hash
    another row's shares. Those rows were a view of every id joined to their positions,
    which DuckDB scanned in full on both sides of the check's join: 2 M ids with 1,334
    repeated took 178 MB more at their peak than 2 M ids without a repeat (94 MB without
    pyarrow), and finding those rows (``np.isin``) sorted every hash again. Now the rows
    are taken from the column itself and the hashes looked up: 14-16 MB more. Measured in
    a fresh process each (the peak resident set from the call on)."""
    if dtype == "string[pyarrow]":
        pytest.importorskip("pyarrow")
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs to measure a call's peak")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    peaks = {}
    for kind in ("distinct", "repeated"):
        out = subprocess.run([sys.executable, "-c", _REPEATS_PEAK, kind, dtype],
                             capture_output=True, text=True, env=env, check=True).stdout
        found, peak = map(int, out.split())
        assert found == (1334 if kind == "repeated" else 0)
        peaks[kind] = peak
    extra = peaks["repeated"] - peaks["distinct"]
    assert extra < 50 * 2**20, f"{extra / 2**20:.0f} MB more at the peak with ids repeated"
