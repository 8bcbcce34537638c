"""The shape of the engine's SQL, where it decides the cost (issue: engine benchmark at
2.48x the hand-written query after exact sums and per-KPI rule domains were merged).

* A ``Sum`` whose summand is a whole number by the catalog's construction (0/1
  indicators, integer literals, sums and products of those) is a plain ``SUM``: doubles
  add whole numbers exactly in any order below 2^53. Every other ``Sum`` (a measure that
  may be fractional: handle time, waits, hours, scores) stays an exact, order-free sum.
* A KPI with input rules has its domain computed once per row, as a boolean column of an
  inner SELECT (``<key>__in``), not repeated inside every aggregate; the answers are the
  ones of the inline formulation, rule-breaking rows included.
"""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.catalog.expr import (And, BinOp, Blank, Col, Known, Lit, Lookup,  # noqa: E402
                                 Not, Param, Present, Sum)
from kpi_xl.engine import Engine  # noqa: E402
from kpi_xl.render.sql import SqlRenderer, integer_valued  # noqa: E402

from test_engine import canonical_tables  # noqa: E402

EXACT = "HUGEINT"     # the exact integer type of DuckDB's dialect: only exact_sum writes it


def test_integer_valued_is_decided_by_the_tree():
    s, w = Col("scores"), Col("wait")
    whole = [s >= 9, Present(s), Blank(s), Not(s >= 9), And(s >= 9, w <= 20),
             Known(Param("targets"), Col("channel")), Lit(3.0), (s >= 9) * 100 + 1,
             (s >= 9) - (s <= 6)]
    not_whole = [s, w, s * s, Lit(0.5), Param("threshold"), Lookup(Param("targets"), Col("c")),
                 (s >= 9) * 0.5, (s >= 9) + w, BinOp("/", s >= 9, Lit(2.0))]
    for n in whole:
        assert integer_valued(n), n
    for n in not_whole:
        assert not integer_valued(n), n


def _sum_sql(key: str, node: Sum, variant=None) -> str:
    """The aggregate SQL the renderer writes for ``node`` over the KPI's inputs."""
    kpi = CATALOG[key]
    cols = {i.name: f'"{i.name}"' for i in kpi.column_inputs}
    r = SqlRenderer(kpi, variant or kpi.default_variant, columns=cols)
    alias = r._aggregate(node)
    return {a: q for q, a in r._agg_sql.items()}[alias]


def test_which_sums_are_plain_and_which_exact():
    """NPS declares no Sum (counts only); a Sum over its promoter indicator is a plain
    SUM. AHT's, ASA's and the mean of hours sum measures that may be fractional: exact."""
    s = Col("scores")
    plain = _sum_sql("nps", Sum(s >= 9, Present(s)))
    assert EXACT not in plain and plain.startswith("COALESCE(SUM(")
    nps = CATALOG["nps"]
    assert not [n for v in nps.variants for n in v.formula.value.walk() if isinstance(n, Sum)]
    for key in ("aht", "asa", "first_response_time", "time_to_resolution"):
        kpi = CATALOG[key]
        sums = [n for n in kpi.default_variant.formula.value.walk() if isinstance(n, Sum)]
        assert sums, key
        for n in sums:
            assert EXACT in _sum_sql(key, n), key


def test_every_catalog_sum_is_exact_unless_whole_by_construction():
    """Over the whole catalog: the renderer's choice is integer_valued's, Sum by Sum."""
    for key, kpi in CATALOG.items():
        for v in kpi.variants:
            f = v.formula
            for root in (f.value, f.n, f.margin, *f.measures.values()):
                for n in (root.walk() if root is not None else ()):
                    if isinstance(n, Sum):
                        sql = _sum_sql(key, n, v)
                        assert (EXACT in sql) != integer_valued(n.expr), (key, v.name)


@pytest.fixture(scope="module")
def broken_tables():
    """The engine tests' tables, with rows that break ASA's, AHT's and SLA compliance's
    rules (a negative wait, an answered call without a wait, a negative talk time, a
    channel without an SLA target)."""
    t = canonical_tables()
    c = t["contacts"].copy()
    calls = c.index[c.answered == 1]
    c.loc[calls[:3], "wait"] = -5.0
    c.loc[calls[3:5], "wait"] = None
    c.loc[calls[5:8], "talk"] = -1.0
    if "response_seconds" in c:
        c.loc[c.index[:4], "channel"] = "fax"
    return {**t, "contacts": c}


def test_a_rule_kpis_domain_is_computed_once_per_row(broken_tables):
    eng = Engine(broken_tables)
    for dialect in ("duckdb", "postgres", "spark"):
        sql = eng.sql("2026-10", 1, dialect=dialect)["contacts"]
        q = "`" if dialect == "spark" else '"'
        inner = sql[sql.index("FROM (SELECT *"):]
        # ASA and service level have the same domain: one column, computed in the inner
        # SELECT and tested by the aggregates
        assert f"AS {q}asa__in{q}" in inner, dialect
        assert f"{q}service_level__in{q}" not in sql, dialect
        assert sql.count(f"WHEN {q}asa__in{q} AND") >= 4, dialect
        # each rule's condition is written once per distinct domain, not per aggregate
        assert sql.count("NOT COALESCE(") == inner.count("NOT COALESCE("), dialect


def test_same_answers_as_the_inline_domain(broken_tables, monkeypatch):
    """The per-row domain column gives the answers of the formulation it replaced (the
    full domain inline in every aggregate, and the counts of rule-breaking rows, which
    are 0), at every level and period, notes included."""
    new = Engine(broken_tables).compute("2026-10", 2).table
    from kpi_xl.engine.queries import Queries

    monkeypatch.setattr(Queries, "domain_column",
                        lambda self, kpi, variant, params, table:
                        (self.renderer(kpi, variant, params, table), None))
    eng = Engine(broken_tables)
    assert "__in" not in eng.sql("2026-10", 2)["contacts"]
    old = eng.compute("2026-10", 2).table
    pd.testing.assert_frame_equal(new, old)
    assert len(new) > 100
