"""DuckDB reads the loader's frames as Arrow when pandas holds text as Arrow (issue 14 §1).

With pyarrow installed, pandas 3 keeps text columns as Arrow arrays; DuckDB scanning a
registered *pandas* frame turns each of them into Python strings again at every scan, and
the engine scans its sources several times: on 1 M contacts that was about 10 s of a 37 s
``kpi-xl compute`` (bench/README.md, "kpi-xl compute end to end"). The defect is checked in
DuckDB's own plan (``EXPLAIN``: ``ARROW_SCAN``, not ``PANDAS_SCAN``), never by timing; the
values DuckDB reads must be the frame's, NULL where pandas has NaN, NaT or None.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from test_engine import PERIODS, canonical_tables  # noqa: E402

from kpi_xl.data.load import _month_labels  # noqa: E402
from kpi_xl.engine import Engine  # noqa: E402
from kpi_xl import frames  # noqa: E402
from kpi_xl.frames import for_duckdb, has_arrow_columns  # noqa: E402


def _scans(con, sql: str) -> list[str]:
    def walk(n):
        yield n
        for c in n.get("children", []):
            yield from walk(c)
    roots = json.loads(con.execute("EXPLAIN (FORMAT json) " + sql).fetchall()[0][1])
    return [n["name"] for r in roots for n in walk(r) if "SCAN" in n["name"]
            and n["name"] != "DUMMY_SCAN"]


def _arrow_text(df):
    return df.astype({c: "string[pyarrow]" for c in df.columns
                      if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])})


def test_the_engine_copies_the_text_of_a_frame_and_reads_the_rest_where_it_is():
    """A source frame with Arrow text: its text columns are copied once into a DuckDB
    table (DuckDB converts Arrow text at each scan, and the engine scans its sources
    several times), its other columns are read from the frame's own buffers, the two
    joined row by row. Failed before: ``in_contacts`` was a table of every column it
    reads, the numbers and times held twice (2 M contacts: peak 1,245 -> 950 MB,
    bench/README.md). Rows, columns, order and types are the frame's as DuckDB reads it;
    filters on either side select the right rows."""
    pytest.importorskip("pyarrow")
    t = canonical_tables()
    contacts = _arrow_text(t["contacts"])
    assert has_arrow_columns(contacts)
    eng = Engine({"contacts": contacts})
    held = eng.columns["contacts"]
    text = {c for c in held if pd.api.types.is_string_dtype(contacts[c])}
    assert text and held - text
    tables = eng.con.execute("SELECT table_name, temporary FROM duckdb_tables()").fetchall()
    assert tables == [("in_contacts__text0", True)]
    copied = {r[0] for r in eng.con.execute("DESCRIBE in_contacts__text0").fetchall()}
    assert copied == text
    assert sorted(_scans(eng.con, "SELECT * FROM in_contacts")) == \
        ["ARROW_SCAN", "POSITIONAL_SCAN", "SEQ_SCAN"]
    direct = _registered(for_duckdb(contacts[[c for c in contacts.columns if c in held]]))
    assert eng.con.execute("DESCRIBE in_contacts").fetchall() == \
        direct.execute("DESCRIBE f").fetchall()
    assert eng.con.execute("SELECT * FROM in_contacts").fetchall() == \
        direct.execute("SELECT * FROM f").fetchall()
    agent = contacts["agent"].dropna().iloc[0]
    sql = "SELECT count(*), sum(_row) FROM {} WHERE agent IN (?, 'nobody') AND wait > 10"
    assert eng.con.execute(sql.format("in_contacts"), [agent]).fetchone() == \
        direct.execute(sql.format("f"), [agent]).fetchone()
    mask = (contacts["agent"] == agent) & (contacts["wait"] > 10)
    assert eng.con.execute(sql.format("in_contacts"), [agent]).fetchone()[0] == mask.sum() > 0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_large_frame_is_joined_in_parts_one_a_thread(threads):
    """A POSITIONAL JOIN runs on one thread: a frame of more rows than a batch is cut
    into as many contiguous parts as DuckDB has threads (each at least a batch), joined
    part by part, UNION ALL. Failed before: one join, one thread for every query. Each
    row's text stays with its own numbers in every part (the text says the number)."""
    pytest.importorskip("pyarrow")
    import duckdb

    from kpi_xl.engine.backends import DuckDBBackend

    n = 2 * frames.BATCH_ROWS + 1_001
    at = np.arange(n)
    frame = pd.DataFrame({"agent": pd.array([f"a{i}" for i in at], dtype="string[pyarrow]"),
                          "wait": at.astype(float),
                          "team": pd.array(np.where(at % 3 == 0, "x", "y"),
                                           dtype="string[pyarrow]")})
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    backend = DuckDBBackend(con)
    backend.load("in_contacts", frame)
    scans = _scans(con, "SELECT max(agent), sum(wait) FROM in_contacts")
    assert scans.count("POSITIONAL_SCAN") == threads
    assert con.execute("SELECT count(*), count(*) FILTER (agent <> 'a' || CAST(wait AS "
                       "BIGINT)), count(*) FILTER (team <> CASE WHEN wait % 3 = 0 THEN "
                       "'x' ELSE 'y' END) FROM in_contacts").fetchone() == (n, 0, 0)
    assert con.execute("SELECT sum(wait) FROM in_contacts WHERE team = 'x'").fetchone()[0] \
        == float(at[at % 3 == 0].sum())


def test_a_connection_that_does_not_keep_row_order_gets_a_copy_of_every_column():
    """Joined row by row, the text table must be in the frame's order: on a connection
    set not to keep insertion order, DuckDB inserts the batches in any order, so the
    frame is copied whole (no join: failed before the check, ``in_contacts`` was the
    join's view) and the results are the same."""
    pytest.importorskip("pyarrow")
    import duckdb

    from kpi_xl.engine.backends import DuckDBBackend

    t = canonical_tables()
    tables = {k: _arrow_text(v) for k, v in t.items() if v is not None}
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    eng = Engine(tables, backend=DuckDBBackend(con))
    assert ("in_contacts", True) in \
        eng.con.execute("SELECT table_name, temporary FROM duckdb_tables()").fetchall()
    pd.testing.assert_frame_equal(eng.compute(PERIODS[-1], len(PERIODS) - 1).table,
                                  Engine(tables).compute(PERIODS[-1], len(PERIODS) - 1).table)


def test_for_duckdb_gives_batches():
    """DuckDB reads a registered Arrow table one record batch per thread. Failed before:
    one batch of every row, read on one thread. The values are the frame's, NULL where
    it has none."""
    pytest.importorskip("pyarrow")
    n = 2 * frames.BATCH_ROWS + 7
    frame = pd.DataFrame({
        "agent": pd.array(np.where(np.arange(n) % 5 == 0, None, "ana"), dtype="string[pyarrow]"),
        "note": pd.array(["a longer text than twelve characters %d" % i for i in range(n)],
                         dtype="string[pyarrow]"),
        "wait": np.where(np.arange(n) % 3 == 0, np.nan, 1.5)})
    table = for_duckdb(frame)
    assert [b.num_rows for b in table.to_batches()] == \
        [frames.BATCH_ROWS, frames.BATCH_ROWS, 7]
    want = (n - len(range(0, n, 5)), n - len(range(0, n, 3)), max(frame["note"]), n)
    sql = "SELECT count(agent), count(wait), max(note), count(*) FROM f"
    assert _registered(table).execute(sql).fetchone() == want


def test_a_frame_of_python_text_stays_registered():
    """Without Arrow text the frame is scanned where it is (a copy cost more than the
    scans: bench/README.md, "kpi-xl compute end to end")."""
    t = canonical_tables()
    contacts = t["contacts"].astype({c: object for c in t["contacts"].columns
                                     if pd.api.types.is_string_dtype(t["contacts"][c])})
    assert not has_arrow_columns(contacts)
    eng = Engine({"contacts": contacts})
    assert _scans(eng.con, "SELECT count(*) FROM in_contacts") == ["PANDAS_SCAN"]


def _registered(data):
    import duckdb

    con = duckdb.connect()
    con.register("f", data)
    return con


def test_the_engine_gives_the_same_results_either_way():
    """The same rows with text as Python objects (read as a pandas scan) and as Arrow
    arrays (an Arrow scan): every value, n and note of the results is the same."""
    pytest.importorskip("pyarrow")
    t = canonical_tables()
    plain = {k: v.astype({c: object for c in v.columns if pd.api.types.is_string_dtype(v[c])})
             for k, v in t.items() if v is not None}
    arrow = {k: _arrow_text(v) for k, v in plain.items()}
    a = Engine(plain).compute(PERIODS[-1], len(PERIODS) - 1).table
    b = Engine(arrow).compute(PERIODS[-1], len(PERIODS) - 1).table
    assert len(a) > 100
    pd.testing.assert_frame_equal(a, b)


def test_duckdb_reads_the_arrow_table_as_it_read_the_frame():
    """Blanks of every kind (NaN, NaT, None) are NULL either way, and each column has the
    type DuckDB gave the frame's."""
    pytest.importorskip("pyarrow")
    import duckdb

    frame = pd.DataFrame({
        "agent": pd.array(["ana", None, "ben"], dtype="string[pyarrow]"),
        "wait": [1.5, np.nan, 3.0],
        "date": np.array(["2026-10-01T08:00", "NaT", "2026-10-02"], dtype="datetime64[us]"),
        "n": np.array([1, 2, 3], dtype="int64"),
        "note": pd.Series(["x", None, "z"], dtype=object),
    })
    con = duckdb.connect()
    con.register("f", frame)
    con.register("a", for_duckdb(frame))
    assert _scans(con, "SELECT * FROM a") == ["ARROW_SCAN"]
    assert con.execute("DESCRIBE a").fetchall() == con.execute("DESCRIBE f").fetchall()
    assert con.execute("SELECT * FROM a").fetchall() == con.execute("SELECT * FROM f").fetchall()
    assert con.execute("SELECT * FROM a").fetchall()[1] == (None, None, None, 2, None)


def test_a_frame_without_arrow_text_or_that_arrow_cannot_take_stays_a_frame():
    frame = pd.DataFrame({"wait": [1.0, 2.0], "note": pd.Series(["x", None], dtype=object)})
    assert for_duckdb(frame) is frame
    pytest.importorskip("pyarrow")
    mixed = pd.DataFrame({"agent": pd.array(["ana", "ben"], dtype="string[pyarrow]"),
                          "odd": pd.Series([1, "two"], dtype=object)})
    assert for_duckdb(mixed) is mixed          # pyarrow refuses the mixed column


def test_month_labels_are_strftimes():
    """Each row's period as pandas' strftime('%Y-%m') writes it: blank where no date,
    same dtype, for any length (formatted once per distinct month)."""
    dates = pd.Series(np.array(["2026-10-31T23:59:59.999999", "NaT", "1999-02-01",
                                "2026-09-30T00:00"], dtype="datetime64[us]"), index=[5, 6, 7, 8])
    got = _month_labels(dates)
    want = pd.to_datetime(dates).dt.strftime("%Y-%m")
    pd.testing.assert_series_equal(got, want)
    assert got.tolist()[:1] == ["2026-10"] and got.isna().tolist() == [False, True, False, False]
    empty = dates.iloc[:0]
    pd.testing.assert_series_equal(_month_labels(empty),
                                   pd.to_datetime(empty).dt.strftime("%Y-%m"))
    aware = pd.Series(pd.to_datetime([dt.datetime(2026, 10, 1, 0, 30)]).tz_localize("UTC"))
    pd.testing.assert_series_equal(_month_labels(aware), aware.dt.strftime("%Y-%m"))


def test_text_read_by_duckdb_reaches_pandas_as_arrow(tmp_path):
    """Text columns typed in DuckDB come as Arrow into pandas' ``str`` columns, never as
    a numpy array of Python strings (before: ``fetchnumpy`` made 1 M Python strings per
    text column, and pandas turned them back into Arrow for the DataFrame); values that
    SQL leaves to the parser (spaces around, unknown channels) are as the parser gives
    them, and the frame is the Python path's, value by value (tests/test_load_sql.py)."""
    pytest.importorskip("pyarrow")
    from kpi_xl.data import rawcols
    from kpi_xl.data.convert import Options, convert, parse_text
    from kpi_xl.data.readers import _read_csv_duckdb
    from kpi_xl.data.rejects import Rejects
    from kpi_xl.data.sources import parse_source

    path = tmp_path / "c.csv"
    path.write_text("id,date,channel,agent\nc1,2026-10-01,phone,ana\nc2,2026-10-01,FAX, ben \n"
                    "c3,2026-10-02,Email,\n", encoding="utf-8")
    src = parse_source({"name": "s", "path": str(path), "preset": "generic-contacts"})
    raw = _read_csv_duckdb(src)
    col = raw.columns["agent"]
    typed, bad = rawcols.merge(col, rawcols.text(col, False), None,
                               lambda vs: parse_text(vs, src.column("agent")), object,
                               text=True)
    assert not isinstance(typed, np.ndarray) and str(typed.dtype) == "str"
    assert list(typed[:2]) == ["ana", "ben"] and pd.isna(typed[2]) and not bad
    rejects = Rejects()
    df, acc = convert(raw.source, raw, rejects, Options())
    assert type(df["agent"].array).__name__ == "ArrowStringArray"
    assert df["id"].tolist() == ["c1", "c3"]          # an unknown channel rejects its row
    assert df["channel"].tolist() == ["phone", "email"]
    assert df["agent"].tolist()[0] == "ana" and pd.isna(df["agent"].iloc[1])
    assert [(r.row, r.value) for r in rejects.items] == [(3, "FAX")]


def _as_duckdb_reads_it(frame):
    """``frame`` as DuckDB reads it registered directly (kpi_xl.frames.for_duckdb): the
    columns (DuckDB's names and types) and the rows."""
    direct = _registered(for_duckdb(frame))
    return direct.execute("DESCRIBE f").fetchall(), direct.execute("SELECT * FROM f").fetchall()


@pytest.mark.parametrize("columns", [
    {"agent": "text", "Wait": "number", "wait": "number"},   # the numbers' side
    {"Team": "text", "team": "text", "wait": "number"},      # the text's side
    {"Team": "text", "team": "number"},                      # one name on each side
    {"": "text", "wait": "number"},                          # no name
])
def test_a_source_whose_column_names_duckdb_cannot_tell_apart_is_read_as_it_is(columns):
    """DuckDB's names are case-insensitive: registered, a frame's ``Wait`` and ``wait``
    are read as ``Wait`` and ``wait_1``, each with its own values. Failed on h-view,
    whose view named the frame's columns again over the text and the other columns
    joined row by row: ``wait`` and ``Team`` were bound to ``Wait`` and ``team``, so one
    column's values were read as another's (no error), or the view was refused
    (ambiguous ``Team``; a zero-length name). The engine holds the roster and the
    business figures whole, whatever columns they have."""
    pytest.importorskip("pyarrow")
    from kpi_xl.engine.backends import DuckDBBackend

    n = 3
    frame = pd.DataFrame({
        name: (pd.array([f"{name}{i}" for i in range(n)], dtype="string[pyarrow]")
               if kind == "text" else np.arange(n, dtype=float) + 10 * k)
        for k, (name, kind) in enumerate(columns.items())})
    backend = DuckDBBackend()
    backend.load("in_roster", frame)
    described, rows = _as_duckdb_reads_it(frame)
    assert backend.con.execute("DESCRIBE in_roster").fetchall() == described
    assert backend.con.execute("SELECT * FROM in_roster").fetchall() == rows


def test_a_source_loaded_again_under_the_same_name_replaces_the_first():
    """``DuckDBBackend.load`` replaces what a name held (``CREATE OR REPLACE``), whatever
    the two frames are: text and other columns (a view over a table and the frame), only
    text (a table), no Arrow text (the frame registered). Failed on h-view: DuckDB
    refused to replace a view by a table or a table by a view (Catalog Error), and the
    first frame's other columns stayed registered."""
    pytest.importorskip("pyarrow")
    from kpi_xl.engine.backends import DuckDBBackend

    both = pd.DataFrame({"agent": pd.array(["ana", "ben"], dtype="string[pyarrow]"),
                         "wait": [1.5, 2.5]})
    text = pd.DataFrame({"agent": pd.array(["cy"], dtype="string[pyarrow]"),
                         "team": pd.array(["North"], dtype="string[pyarrow]")})
    numbers = pd.DataFrame({"wait": pd.array([4, None], dtype="int64[pyarrow]")})
    plain = pd.DataFrame({"wait": [7.0]})
    frames_ = [both, text, both, numbers, both, plain, text, numbers, text, plain, both]
    backend = DuckDBBackend()
    for frame in frames_:
        backend.load("in_contacts", frame)
        assert backend.con.execute("SELECT * FROM in_contacts").fetchall() == \
            _as_duckdb_reads_it(frame)[1]
        held = backend.con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                   "SELECT view_name FROM duckdb_views() WHERE NOT internal")
        parts = ["in_contacts__other0", "in_contacts__text0"] if frame is both else []
        assert sorted(r[0] for r in held.fetchall()) == ["in_contacts", *parts]


def test_a_frame_in_reverse_order_is_read_as_it_is():
    """``df.iloc[::-1]`` (rows in reverse, a view) holds its columns with negative
    strides, which DuckDB's pandas scan cannot read ("Unable to cast Python instance of
    type int", at ``register``): such a frame is given as a copy in its own order, to the
    engine and to the rule checks alike, with or without Arrow text."""
    import duckdb

    frame = pd.DataFrame({"wait": np.arange(6.0), "n": np.arange(6),
                          "at": pd.to_datetime(["2026-10-01"] * 6),
                          "score": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
                          "agent": pd.Series(list("abcdef"), dtype=object)})
    import importlib.util

    arrow = importlib.util.find_spec("pyarrow") is not None
    for f in (frame, _arrow_text(frame)) if arrow else (frame,):
        backwards = f.iloc[::-1]
        con = duckdb.connect()
        con.register("t", for_duckdb(backwards))
        got = con.execute("SELECT wait, n, score, agent FROM t").fetchall()
        assert got == [(5.0, 5, 6, "f"), (4.0, 4, 5, "e"), (3.0, 3, 4, "d"),
                       (2.0, 2, 3, "c"), (1.0, 1, None, "b"), (0.0, 0, 1, "a")]
    forwards = pd.DataFrame({"wait": np.arange(6.0)})
    assert for_duckdb(forwards) is forwards          # no copy where none is needed


def test_a_frame_of_every_other_row_keeps_its_blanks_in_place():
    """``df[::2]`` (every other row, a view) holds pandas' nullable numbers and flags
    (Int64, Float64, boolean) with a step: DuckDB's pandas scan reads their values with
    the step but their blanks without it, so values came back blank and blanks as values,
    with no error (CSAT of every other contact: other results than the same rows copied).
    Such a frame is given as a copy, to the engine and to the rule checks alike."""
    import duckdb

    from kpi_xl.engine import compute

    frame = pd.DataFrame({k: pd.array([1, None, 3, 4, 5, None, 7, 8], dtype=k)
                          for k in ("Int64", "Float64", "UInt8")})
    frame["boolean"] = pd.array([True, None, False, False, True, True, None, True],
                                dtype="boolean")
    for step in (2, 3):
        view = frame[::step]
        con = duckdb.connect()
        con.register("t", for_duckdb(view))
        got = con.execute("SELECT * FROM t").fetchall()
        assert got == [tuple(None if pd.isna(v) else v for v in row)
                       for row in view.itertuples(index=False)], step
    t = canonical_tables()
    contacts = t["contacts"].assign(csat=pd.array(t["contacts"]["csat"], dtype="Float64"))
    every_other = contacts[::2]
    got = compute({**t, "contacts": every_other}, PERIODS[-1], kpis=["csat"]).frame()
    want = compute({**t, "contacts": every_other.copy()}, PERIODS[-1], kpis=["csat"]).frame()
    pd.testing.assert_frame_equal(got, want)


def test_a_frame_with_a_column_named_schema_is_registered():
    """The engine tells an Arrow table from a frame it registers as it is; a frame with a
    column named ``schema`` (a dimension of that name) was taken for an Arrow table:
    "'DataFrame' object has no attribute 'column_names'" from kpi_xl.engine.compute."""
    from kpi_xl.engine import compute
    from kpi_xl.engine.backends import DuckDBBackend

    frame = pd.DataFrame({"schema": ["a", "b"], "wait": [1.0, 2.0]}).astype(
        {"schema": object})
    backend = DuckDBBackend()
    backend.load("t", frame)
    assert backend.con.execute("SELECT * FROM t").fetchall() == [("a", 1.0), ("b", 2.0)]
    t = canonical_tables()
    contacts = t["contacts"]
    contacts = contacts.astype({c: object for c in contacts.columns
                                if not pd.api.types.is_numeric_dtype(contacts[c])
                                and not pd.api.types.is_datetime64_any_dtype(contacts[c])})
    contacts["schema"] = np.where(np.arange(len(contacts)) % 2, "x", "y").astype(object)
    got = compute({**t, "contacts": contacts}, PERIODS[-1], kpis=["csat"],
                  dimensions=("schema",)).frame()
    assert set(got[got["level"] == "schema"]["key"]) == {"x", "y"}
