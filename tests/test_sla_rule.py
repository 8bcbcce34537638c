"""SLA compliance: a contact whose channel has no target is refused with the reason, in
every place a KPI runs — never counted as a breach (issue 10, point 3). The rule is
declared once (the channel input's ``one_of="targets"``, kpi_xl.catalog.rules); the
conformance suite runs it through every renderer; here are the places around it: the
Excel function, the engine's month, the config check and text in a worksheet formula."""

import math

import pytest

from kpi_xl.catalog import CATALOG
from kpi_xl.errors import KpiError
from kpi_xl.render.arrays import compute

SLA = CATALOG["sla_compliance"]


def test_excel_function_names_the_channel_without_a_target():
    import kpi_xl.xl.functions as xlf
    out = xlf.KPI_SLA_COMPLIANCE([15, 30, 50], ["phone", "fax", "chat"])
    assert out == ("KPI_SLA_COMPLIANCE: 'channel' has no entry in 'targets' for this value "
                   "(known: chat, email, phone, social), got 'fax' (cell 2 of the range)")
    with pytest.raises(KpiError, match="known: phone"):
        compute("sla_compliance", seconds=[1], channel=["chat"], targets={"phone": 20})


def test_engine_leaves_the_row_out_with_the_reason_not_a_breach():
    """Before: the fax contact met no target, so it counted as missed (org 2/3, fax 0 %).
    Now the row leaves SLA compliance (only that KPI), and the row check names it."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("duckdb")
    from kpi_xl.engine import Engine

    contacts = pd.DataFrame({"period": "2026-10", "_row": [2, 3, 4],
                             "channel": ["phone", "fax", "chat"],
                             "response_seconds": [15.0, 10.0, 50.0]})
    eng = Engine({"contacts": contacts}, kpis=["sla_compliance"])
    res = eng.compute("2026-10", count=0)
    t = res.table.set_index(["level", "key"])
    # phone 15 s <= 20 s and chat 50 s <= 60 s (the default targets): 2 of 2
    assert t.loc[("organisation", "all"), "value"] == 1.0
    assert t.loc[("organisation", "all"), "n"] == 2
    assert ("channel", "fax") not in t.index or math.isnan(t.loc[("channel", "fax"), "value"])
    broken = eng.check()["contacts"]
    assert broken["_row"].tolist() == [3] and broken["column"].tolist() == ["channel"]
    assert broken["rule"].iloc[0].startswith(
        "'channel' has no entry in 'targets' for this value (known: chat, email, phone, social)")


def test_sql_row_checks_list_the_offending_rows():
    """The renderer's per-row conditions (what a row check lists as rejects)."""
    duckdb = pytest.importorskip("duckdb")
    from kpi_xl.render.sql import SqlRenderer

    r = SqlRenderer(SLA, SLA.default_variant, columns={"seconds": "s", "channel": "c"})
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 15.0, 'phone'), (2, 10.0, 'Fax'),"
                " (3, -1.0, 'chat'), (4, NULL, NULL), (5, 3.0, NULL)) AS v(id, s, c)")
    found = {(rule.kind, row[0]) for rule, cond in r.row_checks()
             for row in con.execute(f"SELECT id FROM t WHERE {cond}").fetchall()}
    assert found == {("one_of", 2), ("range", 3), ("required", 5)}


def test_config_needs_a_target_for_every_channel_of_the_centre():
    from kpi_xl.config import ConfigError, parse_config

    base = {"sources": [{"preset": "zendesk", "path": "x.csv"}],
            "centre": {"channels": ["phone", "chat", "Fax", "sms"]}}
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "kpis": {"sla_compliance": {
            "options": {"targets": {"Phone": 20, "chat": 60}}}}})
    assert ("[kpis.sla_compliance] options.targets has no target for the channels 'fax', "
            "'sms' of [centre] channels") in "\n".join(e.value.problems)
    # every channel covered (any case), or no targets given (the defaults): no problem
    for kpis in ({"sla_compliance": {"options": {"targets": {
            "phone": 20, "chat": 60, "FAX": 600, "sms": 600}}}}, {}):
        parse_config({**base, "kpis": kpis})


def test_text_in_a_worksheet_formula_doubles_its_quotes():
    """A channel named a"b: before, the formula held "a"b" and did not parse; the
    conformance suite has LibreOffice compute it (vector with channel a"b)."""
    from kpi_xl.render.excel import render_excel

    f = render_excel(SLA, SLA.default_variant, ranges={"seconds": "D!$A$2:$A$3",
                                                       "channel": "D!$B$2:$B$3"},
                     params={"targets": {'a"b': 20.0}})
    assert '"a""b"' in f.text and '"a"b"' not in f.text
