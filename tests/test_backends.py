"""The same run on every backend (issue 15): the engine's SQL, rendered per dialect, runs
on embedded DuckDB, on a real PostgreSQL server and on a local Spark session, from the
same tables, and gives the same tidy results: every value, n and margin to 1e-9 (relative),
every note, status and low-sample flag, the same rows.

The expected numbers are not typed in: they are the DuckDB engine's, which test_engine.py
holds to the numpy renderer (itself held to sourced vectors). What this file tests is that
the place the SQL runs changes nothing.

PostgreSQL: the tests read the server from ``KPI_XL_TEST_PG_URL`` (``.ci/run`` starts one
with ``scripts/pg_test_server.sh``) and skip, saying so, when it is unset. Spark: pyspark
and a Java runtime; skipped when either is missing. One local Spark session serves every
test (module fixture): its start-up is the slow part.
"""

from __future__ import annotations


import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.demo_data import MAX_SCORE, sample_tables  # noqa: E402
from kpi_xl.engine import Engine, KpiChoice  # noqa: E402
from kpi_xl.engine.backends import DuckDBBackend, connect  # noqa: E402
from kpi_xl.engine.engine import results_from_wide  # noqa: E402
from kpi_xl.engine.quantiles import QuantileError, QuantilePolicy  # noqa: E402
from kpi_xl.render.sql import DIALECTS  # noqa: E402

MONTH = "2026-10"
#: the demo's run (kpi_xl/demo.py): its dimensions, pairs and QA scale; and the quantile
#: variants (exact median and p90) of the two ticket times
DEMO = dict(choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE}),
                     "first_response_time": KpiChoice("median"),
                     "time_to_resolution": KpiChoice("p90")},
            dimensions=["queue", "topic"], pairs=[("team", "channel"), ("queue", "channel")])
#: the canonical flag columns (kpi_xl.data.schema, kind 'flag')
FLAGS = ("answered", "handled", "resolved", "resolved_first", "transferred", "escalated",
         "fatal")


def boolean_flags(tables):
    """The same tables with every flag column as a nullable BOOLEAN (as a warehouse keeps
    them): 1 -> true, 0 -> false, blank stays blank."""
    out = {}
    for name, t in tables.items():
        t = t.copy()
        for c in FLAGS:
            if c in t.columns:
                assert set(t[c].dropna().unique()) <= {0.0, 1.0}, (name, c)
                t[c] = t[c].map({1.0: True, 0.0: False}).astype("boolean")
        out[name] = t
    return out


def with_rule_breaks(tables):
    """The tables with values that break input rules (a negative queue wait and talk
    time, as a broken ACD export writes them): they leave their KPIs, the check lists
    them."""
    out = dict(tables)
    c = tables["contacts"].copy()
    calls = c.index[c["wait"].notna()][:40]
    c.loc[calls[:25], "wait"] = -2.0
    c.loc[calls[25:], "talk"] = -1.5
    out["contacts"] = c
    return out


def assert_same_checks(expected: dict, got: dict, label: str) -> None:
    """The same rule breaks (row, column, value text, rule, KPIs), whatever the order."""
    assert set(expected) == set(got), label
    assert sum(len(f) for f in expected.values()) > 0, "a real comparison compares rule breaks"
    for t in expected:
        cols = ["_table", "_row", "column", "value", "rule", "kpis"]
        a = expected[t][cols].astype(str).sort_values(cols).reset_index(drop=True)
        b = got[t][cols].astype(str).sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, obj=f"{label} {t}")


def assert_same(expected, got, label: str) -> None:
    """Same rows; every number equal to 1e-9 (relative); same notes, status, flags."""
    key = ["period", "level", "key", "kpi"]
    a = expected.table.astype({c: str for c in key}).set_index(key).sort_index()
    b = got.table.astype({c: str for c in key}).set_index(key).sort_index()
    assert len(a) > 1000, "a real comparison compares many values"
    missing, extra = a.index.difference(b.index), b.index.difference(a.index)
    assert not len(missing) and not len(extra), f"{label}: rows differ: {missing[:5]} {extra[:5]}"
    b = b.loc[a.index]
    for col in ("value", "n", "margin", "target"):
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        same = (np.isnan(x) & np.isnan(y)) | np.isclose(x, y, rtol=1e-9, atol=0)
        assert same.all(), (f"{label}: {col} differs in {(~same).sum()} rows, e.g. "
                            f"{a.index[~same][:3].tolist()}: {x[~same][:3]} vs {y[~same][:3]}")
    for col in ("note", "status", "low_sample", "variant"):
        x, y = a[col].astype(str).to_numpy(), b[col].astype(str).to_numpy()
        assert (x == y).all(), f"{label}: {col} differs: {a.index[x != y][:3].tolist()}"
    assert expected.skipped == got.skipped
    assert expected.periods == got.periods


@pytest.fixture(scope="module")
def demo():
    """The demo's canonical tables and their results on embedded DuckDB."""
    tables = sample_tables()
    return tables, Engine(tables, **DEMO).compute(MONTH)


# --------------------------------------------------------------------------- DuckDB
def test_boolean_flags_on_duckdb_give_the_values_of_0_1_flags(demo):
    """Issue 15: a BOOLEAN flag column (``answered``) counts like a 0/1 one. DuckDB
    accepted ``answered = 1.0`` over BOOLEAN before the type contract too; PostgreSQL and
    Spark refused it (the relation test below failed with 'operator does not exist:
    boolean = numeric'): this one holds the embedded path to the same contract."""
    tables, expected = demo
    assert_same(expected, Engine(boolean_flags(tables), **DEMO).compute(MONTH), "duckdb bool")


def test_wide_answers_from_anywhere_make_the_same_results(demo):
    """The public path: prepare the statements, run them elsewhere (here: a DuckDB
    connection of our own, as a warehouse user would), hand the answers back."""
    tables, expected = demo
    eng = Engine(tables, **DEMO)
    prepared = eng.prepare(MONTH)
    mine = DuckDBBackend()
    for name, t in tables.items():
        mine.load(f"in_{name}", t)
    other = Engine(tables, backend=mine, **DEMO)        # views src_* over my tables
    answers = {s.name: other.backend.con.execute(s.sql).df() for s in prepared.statements}
    assert_same(expected, results_from_wide(prepared, answers), "wide answers")
    with pytest.raises(ValueError, match="no answer for the statement"):
        prepared.results({})


def test_sql_shows_every_statement_in_each_dialect(demo):
    tables, _ = demo
    eng = Engine(tables, **DEMO)
    for dialect, quote in (("duckdb", '"'), ("postgres", '"'), ("spark", "`")):
        sql = eng.sql(MONTH, dialect=dialect)
        assert set(sql) == {"contacts", "qa:qa_score", "surveys", "period"}
        assert f"{quote}nps__a0{quote}" in sql["surveys"], dialect
    with pytest.raises(ValueError, match="dialect must be one of"):
        eng.sql(MONTH, dialect="oracle")
    # the views the statements read: one per source, and the survey answers
    views = Engine(boolean_flags(tables), **DEMO).views_sql(dialect="spark")
    assert set(views) == {"src_contacts", "src_qa", "src_roster", "src_business",
                          "src_survey_rows"}
    assert "CASE WHEN `answered` THEN 1.0 WHEN NOT `answered` THEN 0.0 END AS `answered`" \
        in views["src_contacts"]
    assert "`nps` IS NOT NULL" in views["src_survey_rows"]
    assert views["src_roster"] == "SELECT * FROM in_roster"


def test_approximate_quantiles_are_asked_for_never_switched_to(demo):
    """Exact by default (PERCENTILE_CONT); approximate only for the KPIs the policy
    names; PostgreSQL, which has no approximate quantile, refuses the policy."""
    tables, expected = demo
    exact = Engine(tables, **DEMO).sql(MONTH)["contacts"]
    assert "PERCENTILE_CONT" in exact and "APPROX_QUANTILE" not in exact
    pol = QuantilePolicy(approximate_kpis=frozenset({"first_response_time"}))
    eng = Engine(tables, quantiles=pol, **DEMO)
    sql = eng.sql(MONTH)["contacts"]
    assert "APPROX_QUANTILE" in sql and "PERCENTILE_CONT" in sql   # p90 stays exact
    assert "PERCENTILE_APPROX" in eng.sql(MONTH, dialect="spark")["contacts"]
    got = eng.compute(MONTH)
    t, e = got.frame("organisation", MONTH), expected.frame("organisation", MONTH)
    approx = float(t[t.kpi == "first_response_time"].value.iloc[0])
    exact_v = float(e[e.kpi == "first_response_time"].value.iloc[0])
    assert approx == pytest.approx(exact_v, rel=0.05)     # a sketch, close to the median
    with pytest.raises(QuantileError, match="postgres has no approximate quantile"):
        pol.check(DIALECTS["postgres"])
    with pytest.raises(QuantileError, match="must be 'exact' or 'approximate'"):
        QuantilePolicy("roughly")


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg(postgres):
    return postgres                      # (tests/conftest.py)


def test_demo_month_on_postgres_equals_duckdb(demo, pg):
    """The demo's month with its twelve months of history, every level, dimension and
    pair, exact medians and p90s, on a real PostgreSQL server."""
    tables, expected = demo
    assert_same(expected, Engine(tables, backend=pg, **DEMO).compute(MONTH), "postgres")


def test_postgres_relations_with_boolean_flags_are_aggregated_in_place(demo, pg):
    """Sources as relations of the server (``support.contacts``), BOOLEAN flags as a
    warehouse keeps them: same results as the files' 0/1 flags on DuckDB."""
    tables, expected = demo
    pg.execute("DROP SCHEMA IF EXISTS kpi_xl_test CASCADE")
    pg.execute("CREATE SCHEMA kpi_xl_test")
    try:
        for name, t in boolean_flags(tables).items():
            pg.load(f"stage_{name}", t)
            pg.execute(f"CREATE TABLE kpi_xl_test.{name} AS SELECT * FROM stage_{name}")
        kinds = {c.name: c.kind for c in pg.columns("kpi_xl_test.contacts")}
        assert kinds["answered"] == "boolean"
        eng = Engine({}, backend=pg, relations={n: f"kpi_xl_test.{n}" for n in tables}, **DEMO)
        assert_same(expected, eng.compute(MONTH), "postgres relations")
    finally:
        pg.execute("DROP SCHEMA kpi_xl_test CASCADE")


def test_rule_breaks_on_postgres_equal_duckdb_value_text_included(pg):
    """Issue 15: the values of rule breaks read the same on every backend. PostgreSQL
    writes a double -2.0 as '-2' where DuckDB writes '-2.0' (this test failed so before
    the texts were made one)."""
    tables = with_rule_breaks(sample_tables(teams=2, agents_per_team=4,
                                            contacts_per_month=1200))
    duck, theirs = Engine(tables, **DEMO), Engine(tables, backend=pg, **DEMO)
    expected = duck.check()
    assert "-2.0" in set(expected["contacts"]["value"])
    assert_same_checks(expected, theirs.check(), "postgres checks")
    assert_same(duck.compute(MONTH, 2), theirs.compute(MONTH, 2), "postgres, rule breaks")


def test_postgres_refuses_approximate_quantiles(demo, pg):
    tables, _ = demo
    with pytest.raises(QuantileError, match="set quantiles = \"exact\""):
        Engine(tables, backend=pg, quantiles=QuantilePolicy("approximate"), **DEMO)


# --------------------------------------------------------------------------- Spark
def test_month_on_local_spark_equals_duckdb(spark):
    """A smaller centre (2 teams × 4 agents, the demo's generator; Spark's cost here is
    planning and code generation per query, not rows) with BOOLEAN flags and rule breaks
    on Spark, against the 0/1 flags on DuckDB: every level, dimension and pair, three
    months; and the same rule breaks, value texts included."""
    tables = with_rule_breaks(sample_tables(teams=2, agents_per_team=4,
                                            contacts_per_month=1200))
    duck, theirs = Engine(tables, **DEMO), Engine(boolean_flags(tables), backend=spark, **DEMO)
    expected = duck.compute(MONTH, 2)
    assert_same(expected, theirs.compute(MONTH, 2), "spark")
    assert_same_checks(duck.check(), theirs.check(), "spark checks")
    # approximate quantiles when asked: Spark's PERCENTILE_APPROX, near the exact median
    pol = QuantilePolicy(approximate_kpis=frozenset({"first_response_time"}))
    approx = Engine(tables, backend=spark, quantiles=pol, **DEMO)
    st = next(s for s in approx.prepare(MONTH, 0).statements if s.name == "contacts")
    assert "PERCENTILE_APPROX" in st.sql
    wide = spark.query(st.sql)
    got = wide[(wide.level == "organisation") & (wide.period == MONTH)]
    got = float(got["first_response_time__value"].iloc[0])
    exact = expected.value("first_response_time")
    assert got == pytest.approx(exact, rel=0.05)     # a data value near the median


# --------------------------------------------------------------------------- [engine]
def test_engine_section_is_read_checked_and_described():
    from kpi_xl.engine.settings import parse_engine

    problems: list[str] = []
    s = parse_engine({"backend": "postgres", "url_env": "KPI_XL_PG_URL"}, problems)
    assert problems == [] and s.backend == "postgres" and not s.quantiles.any_approximate
    spark = parse_engine({"backend": "spark", "approximate": ["time_to_resolution"]}, problems)
    assert problems == [] and spark.quantiles.approximate("time_to_resolution")
    assert "approximate for time_to_resolution" in spark.describe({})[1]
    lines = s.describe({"KPI_XL_PG_URL": "postgresql://u:secret@db/x"})
    assert "PostgreSQL, connection from $KPI_XL_PG_URL (set)" in lines[0]
    assert not any("secret" in line for line in lines)     # the URL itself is never shown


def test_engine_section_refuses_secrets_unknown_keys_and_silent_switches():
    from kpi_xl.engine.settings import parse_engine

    problems: list[str] = []
    parse_engine({"backend": "oracle", "url": "postgresql://u:pw@h/db", "speed": 1}, problems)
    text = " | ".join(problems)
    assert "backend must be one of duckdb, postgres, spark, got 'oracle'" in text
    assert "never go in the config file" in text
    assert "unknown key 'speed'" in text
    problems = []
    parse_engine({"backend": "postgres", "url_env": "postgresql://u:pw@h/db"}, problems)
    assert "must be the NAME of an environment variable" in problems[0]
    problems = []
    parse_engine({"backend": "postgres", "url_env": "PG", "quantiles": "approximate"},
                 problems)
    assert problems and "postgres has no approximate quantile" in problems[0]
    problems = []
    parse_engine({"backend": "spark", "approximate": ["no_such_kpi"]}, problems)
    assert "'no_such_kpi' is not a KPI key" in problems[0]


def test_connect_names_the_missing_environment_variable():
    from kpi_xl.engine.backends import BackendError

    with pytest.raises(BackendError, match="environment variable KPI_XL_NOPE is not set"):
        connect("postgres", url_env="KPI_XL_NOPE", environ={})


# --------------------------------------------------------------------------- command line
def _config(tmp_path, engine: str):
    from test_config_cli import GOOD

    p = tmp_path / "kpi_xl.toml"
    p.write_text(GOOD + "\n[engine]\n" + engine, encoding="utf-8")
    return p


def test_validate_says_where_it_runs_and_a_missing_variable_is_one_sentence(
        tmp_path, capsys, monkeypatch):
    from kpi_xl.cli import main

    monkeypatch.delenv("KPI_XL_NOT_SET", raising=False)
    p = _config(tmp_path, 'backend = "postgres"\nurl_env = "KPI_XL_NOT_SET"\n')
    assert main(["validate", "-c", str(p)]) == 0
    out = capsys.readouterr().out
    assert "Engine:\n  the KPIs are computed on PostgreSQL, connection from $KPI_XL_NOT_SET " \
           "(NOT SET)" in out
    assert "quantiles: exact" in out
    rc = main(["compute", "-c", str(p), "--month", "2026-10", "--history", "1",
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and "the environment variable KPI_XL_NOT_SET is not set" in err
    assert "Traceback" not in err


def test_compute_command_on_postgres_writes_the_duckdb_results(tmp_path, capsys, pg):
    """The command line end to end with ``[engine] backend = "postgres"``: the same
    kpi-results.csv as the embedded run, byte for byte but for the last digits."""
    from kpi_xl.cli import main

    files = {}
    for name, engine in (("duck", ""), ("pg", 'backend = "postgres"\n'
                                              'url_env = "KPI_XL_TEST_PG_URL"\n')):
        folder = tmp_path / name
        folder.mkdir()
        rc = main(["compute", "-c", str(_config(folder, engine)), "--month", "2026-10",
                   "--history", "1", "--out", str(folder / "out")])
        assert rc == 0, capsys.readouterr().err
        files[name] = pd.read_csv(folder / "out" / "2026-10" / "kpi-results.csv",
                                  keep_default_na=False)
    a, b = files["duck"], files["pg"]
    assert len(a) > 50 and list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        if c in ("value", "n", "margin", "target"):
            x = pd.to_numeric(a[c], errors="coerce").to_numpy(float)
            y = pd.to_numeric(b[c], errors="coerce").to_numpy(float)
            assert ((np.isnan(x) & np.isnan(y)) | np.isclose(x, y, rtol=1e-9, atol=0)).all(), c
        else:
            assert (a[c].astype(str) == b[c].astype(str)).all(), c


def test_a_relation_is_a_name_and_nothing_else():
    """A relation is spliced into SQL: only a (dotted, maybe quoted) name gets through."""
    from kpi_xl.engine.backends import BackendError, relation_name

    assert relation_name("support.contacts") == "support.contacts"
    assert relation_name('"Support Desk"."Contacts"') == '"Support Desk"."Contacts"'
    assert relation_name("lake.support.contacts") == "lake.support.contacts"
    for bad in ("contacts; DROP TABLE x", "(SELECT 1)", "a.b.c.d", ""):
        with pytest.raises(BackendError, match="is not a table or view name"):
            relation_name(bad)
    with pytest.raises(BackendError, match="is not a table or view name"):
        Engine({}, relations={"contacts": "contacts --"})


def test_rule_break_texts_of_floats_are_made_one_and_others_left_alone():
    """PostgreSQL writes the double -2.0 as '-2' and Spark -1e20 as '-1.0E20'; DuckDB
    (and Python's repr) '-2.0' and '-1e+20'. Integers and text are left as they are."""
    from kpi_xl.engine.backends import same_number_text

    frame = pd.DataFrame({"column": ["wait", "wait", "weight", "agent", "wait"],
                          "value": ["-2", "-1.0E20", "-2", "007", None]})
    got = same_number_text(frame, {"wait": "float", "weight": "number", "agent": "text"})
    assert got["value"].tolist()[:4] == ["-2.0", "-1e+20", "-2", "007"]
    assert pd.isna(got["value"].iloc[4])
