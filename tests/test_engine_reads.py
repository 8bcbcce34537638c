"""The engine holds only the columns it reads (issue 14 §1: the copy of a 2 M-row export
into DuckDB was every column of it, the free text and the loader's bookkeeping included).

What it reads is derived from the declarations (:func:`kpi_xl.engine.engine.columns_read`:
bindings, levels, periods, survey answers, period totals, row identity); the second path
the tests hold it to is the engine holding every column (``Engine.reads`` answering None,
as it did before): the same plan, the same SQL, the same results and rule breaks, over
tables with every canonical column (kpi_xl.data.schema) and columns no query reads. A
column the SQL reads and :func:`columns_read` leaves out would make the SQL fail on the
engine that holds fewer columns.
"""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.bindings import Binding  # noqa: E402
from kpi_xl.data.schema import TABLES  # noqa: E402
from kpi_xl.engine import BINDINGS, DuckDBBackend, Engine  # noqa: E402
from kpi_xl.engine import engine as engine_module  # noqa: E402
from kpi_xl.frames import only_columns  # noqa: E402

from test_backends import assert_same, assert_same_checks  # noqa: E402
from test_engine import canonical_tables  # noqa: E402

#: columns no query of the engine reads: an export's free text, the loader's bookkeeping,
#: canonical columns only the workbooks read (QA comments) or the loader turned into
#: others (the first reply time became first_response_hours)
UNREAD = {"contacts": ["notes", "_source", "first_reply_at", "status"],
          "surveys": ["_source", "id", "contact_id", "comment"],
          "qa": ["_source", "evaluator", "contact_id", "section", "criterion", "comment"],
          "wfm": ["_source", "out_of_adherence"]}
DIMENSIONS = ("topic",)
PAIRS = (("team", "channel"),)


def wide_tables():
    """canonical_tables() with every canonical column of each table (a ``date`` on the
    contacts and QA rows, so a week is placed by date), a dimension (``topic``), and the
    columns of :data:`UNREAD`."""
    t = {k: v.copy() for k, v in canonical_tables().items()}
    rng = np.random.default_rng(3)
    for name, df in t.items():
        if "period" in df and "date" not in df:
            df["date"] = (pd.to_datetime(df["period"] + "-01")
                          + pd.to_timedelta(rng.uniform(0, 27 * 24, len(df)), unit="h"))
        if name in UNREAD:
            df["topic"] = rng.choice(["billing", "delivery", None], len(df))
        for col in TABLES[name].columns:
            if col.name not in df:
                df[col.name] = (rng.choice(["x", "y", None], len(df)) if col.type == "text"
                                else rng.choice([1.0, 2.0, np.nan], len(df)))
        for col in UNREAD.get(name, ()):
            if col not in df:
                df[col] = [f"{col} {i}" for i in range(len(df))]
    t["contacts"]["ces"] = np.where(rng.random(len(t["contacts"])) < 0.2,
                                    rng.integers(1, 8, len(t["contacts"])), np.nan)
    t["contacts"]["first_reply_at"] = t["contacts"]["created"]
    return t


def whole(monkeypatch):
    """The engine as it was: every column of every source held."""
    monkeypatch.setattr(Engine, "reads", lambda self, table: None)


def held(eng: Engine, name: str) -> set[str]:
    return {r[0] for r in eng.con.execute(f"DESCRIBE in_{name}").fetchall()}


@pytest.mark.parametrize("text", ["arrow", "object"])
def test_the_engine_copies_only_the_columns_it_reads(text):
    """Failed before: ``in_contacts`` (the DuckDB table of a frame with Arrow text, or
    the frame registered) held the export's free text, the loader's ``_source`` and
    every other column."""
    if text == "arrow":
        pytest.importorskip("pyarrow")
    t = wide_tables()
    conv = (lambda df: df.astype({c: "string[pyarrow]" for c in df.columns
                                  if pd.api.types.is_string_dtype(df[c])})) \
        if text == "arrow" else \
        (lambda df: df.astype({c: object for c in df.columns
                               if pd.api.types.is_string_dtype(df[c])}))
    tables = {k: conv(v) for k, v in t.items()}
    eng = Engine(tables, dimensions=DIMENSIONS, pairs=PAIRS)
    for name, unread in UNREAD.items():
        have = held(eng, name)
        assert not have & set(unread), name
        assert have == set(t[name].columns) - set(unread), name
        assert eng.columns[name] == have, name
    # the roster and the business figures are held whole
    assert held(eng, "roster") == set(t["roster"].columns)
    assert held(eng, "business") == set(t["business"].columns)


def test_a_column_not_read_changes_no_plan_sql_result_or_check(monkeypatch):
    """The engine holding the columns it reads and the engine holding every column
    (the second path: as it was) plan, write, compute and check the same, for a month
    (rows placed by ``period``) and a week (by ``date``), at every level, dimension and
    pair, with rule-breaking rows; every column of the schema is there, so any column
    a statement reads that the engine does not hold is a failure here."""
    t = wide_tables()
    kw = dict(dimensions=DIMENSIONS, pairs=PAIRS)
    pruned = Engine(t, **kw)
    assert len(pruned.columns["contacts"]) < len(t["contacts"].columns)
    with monkeypatch.context() as m:
        whole(m)
        every = Engine(t, **kw)
    assert every.columns["contacts"] == set(t["contacts"].columns)
    assert pruned.plan()[1] == every.plan()[1]
    assert [[(k.key, v.name) for k, v, _p in items] for items in pruned.plan()[0].values()] \
        == [[(k.key, v.name) for k, v, _p in items] for items in every.plan()[0].values()]
    for period, count in (("2026-10", 2), ("2026-W40", 3)):
        assert pruned.sql(period, count) == every.sql(period, count)
        assert_same(every.compute(period, count), pruned.compute(period, count), period)
    assert pruned.check_sql() == every.check_sql()
    assert_same_checks(every.check(), pruned.check(), "checks")
    # the views read the same columns (the survey answers' view is the same text)
    assert pruned.views_sql()["src_survey_rows"] == every.views_sql()["src_survey_rows"]


def test_a_kpi_whose_column_is_absent_is_still_skipped_with_its_reason(monkeypatch):
    """Holding fewer columns skips nothing new: a KPI whose column the data lacks says
    so, as the engine holding every column does."""
    t = wide_tables()
    c = t["contacts"].drop(columns=["wait", "escalated"])
    pruned = Engine({"contacts": c})
    with monkeypatch.context() as m:
        whole(m)
        every = Engine({"contacts": c})
    assert pruned.plan()[1] == every.plan()[1]
    assert "'wait'" in pruned.plan()[1]["asa"]
    assert "'escalated'" in pruned.plan()[1]["escalation_rate"]


def test_parquet_and_relations_are_read_through_views_of_the_columns_read(tmp_path):
    """A Parquet file and a relation read in place are not copied: their view
    ``src_<table>`` names the columns read (the others are not read by any scan), and the
    results are those of the same rows given as a frame."""
    import duckdb

    t = wide_tables()
    contacts = t["contacts"]
    path = tmp_path / "contacts.parquet"
    # written by DuckDB: pandas' to_parquet needs pyarrow, which README's test command
    # does not install
    writer = duckdb.connect()
    writer.register("f", contacts)
    writer.execute(f"COPY f TO '{path.as_posix()}' (FORMAT parquet)")
    writer.close()
    kw = dict(dimensions=DIMENSIONS, pairs=PAIRS)
    frame = Engine({"contacts": contacts}, **kw)
    expected = frame.compute("2026-10", 2)
    from_file = Engine({"contacts": str(path)}, **kw)
    assert from_file.columns["contacts"] == frame.columns["contacts"]
    view = from_file.views_sql()["src_contacts"]
    assert '"notes"' not in view and '"wait"' in view
    assert_same(expected, from_file.compute("2026-10", 2), "parquet")

    con = duckdb.connect()
    con.execute("CREATE SCHEMA support")
    con.register("f", contacts)
    con.execute("CREATE TABLE support.contacts AS SELECT * FROM f")
    con.unregister("f")
    rel = Engine({}, backend=DuckDBBackend(con), relations={"contacts": "support.contacts"},
                 **kw)
    assert rel.columns["contacts"] == frame.columns["contacts"]
    assert '"notes"' not in rel.views_sql()["src_contacts"]
    assert_same(expected, rel.compute("2026-10", 2), "relation")


def test_a_new_bindings_column_is_held_without_being_listed(monkeypatch):
    """What the engine reads is derived from the bindings: bind ticket volume to another
    column and that column is held, and the one it was bound to no longer is (nothing
    else of an engine computing ticket volume alone reads ``id``)."""
    t = wide_tables()
    c = t["contacts"].assign(ticket_ref=t["contacts"]["id"])
    before = Engine({"contacts": c}, kpis=["ticket_volume"]).columns["contacts"]
    assert "id" in before and "ticket_ref" not in before
    bindings = dict(BINDINGS)
    bindings["ticket_volume"] = Binding("contacts", {"ids": "ticket_ref"})
    monkeypatch.setattr(engine_module, "BINDINGS", bindings)
    after = Engine({"contacts": c}, kpis=["ticket_volume"]).columns["contacts"]
    assert after == before - {"id"} | {"ticket_ref"}


def test_a_level_the_engine_does_not_cut_by_is_refused():
    """A level that is a column but none of the engine's levels or dimensions is refused
    in words (before: grouped by it; the engine no longer holds such a column, and a
    level silently absent from the results would look like a level without members)."""
    t = wide_tables()
    eng = Engine(t, dimensions=DIMENSIONS)
    eng.compute("2026-10", 0, levels=["organisation", "topic"])
    with pytest.raises(ValueError, match="'priority' is not a level of this engine"):
        Engine({"contacts": t["contacts"].assign(priority="high")}).compute(
            "2026-10", 0, levels=["organisation", "priority"])


def test_only_columns_takes_the_frames_own_arrays():
    """The engine's selection of a frame's columns copies none of their data (a copy of
    2 M rows would cost what leaving the columns out saves)."""
    df = wide_tables()["contacts"]
    kept = only_columns(df, {"wait", "agent", "nothing"})
    assert list(kept.columns) == ["agent", "wait"]
    assert np.shares_memory(kept["wait"].to_numpy(), df["wait"].to_numpy())
    assert only_columns(df, set(df.columns)) is df and only_columns(df, {"nothing"}) is df
