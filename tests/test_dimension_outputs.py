"""Dimensions in everything after the engine (issue 12, §1): the demo centre's queue and
topic, what `kpi-xl compute` prints of them, the balanced scorecard's "By <dimension>"
sheets (from the template's "By dimension" sheet, or the shipped one's for an older
template), member scorecards for stakeholders scoped to a dimension member (privacy as for
teams: every cell of every attachment and the whole body), and the guards' coverage line.

Every expected figure is the engine's own value for that member (``Results.value``), or
counted here from the demo's CSV with the csv module."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import math
import re
import shutil
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.catalog.format import format_value  # noqa: E402
from kpi_xl.dimensions import Dimension  # noqa: E402
from kpi_xl.engine import Engine, KpiChoice  # noqa: E402
from kpi_xl.mail.stakeholders import HEADLINE  # noqa: E402
from kpi_xl.mail.run import send_month  # noqa: E402
from kpi_xl.mail.send import MailError  # noqa: E402
from kpi_xl.mail.stakeholders import parse_stakeholders  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES, write_month  # noqa: E402
from kpi_xl.scorecard.dimensions import write_member_books  # noqa: E402

MONTH = "2026-10"
#: two queues whose file names fold together ("Sales-EU"), one that reads like a formula
COLLIDE = ("Sales: EU", "Sales? EU")
FORMULA_LIKE = "=HYPERLINK(\"http://x\")"
QUEUES = [*COLLIDE, FORMULA_LIKE, "Payments"]
DIMS = [Dimension("queue", "Queue"), Dimension("topic", "Topic", sheet=False)]


def _tables():
    """The sample centre (2 teams × 4 agents) with its queues renamed: two whose file
    names collide, one that looks like a formula."""
    from kpi_xl.demo_data import sample_tables

    t = sample_tables(teams=2, agents_per_team=4, contacts_per_month=1200)
    names = sorted(set(t["contacts"]["queue"]))
    rename = {old: QUEUES[i % len(QUEUES)] for i, old in enumerate(names)}
    for name in ("contacts", "qa"):
        t[name]["queue"] = t[name]["queue"].map(rename)
    return t


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    from kpi_xl.demo_data import MAX_SCORE

    out = tmp_path_factory.mktemp("wb")
    t = _tables()
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})},
                 dimensions=["queue", "topic"], pairs=[("queue", "channel")]).compute(MONTH)
    paths = write_month(res, t, out, centre="Acme Support", max_score=MAX_SCORE,
                        dimensions=DIMS)
    res.write_csv(out / MONTH / "kpi-results.csv")
    from kpi_xl.run.month import write_status

    write_status(out / MONTH, MONTH, None)
    return out, t, res, paths


def _by_sheet(ws):
    """{(kpi title, member): (value, n)} and the members, read from a By sheet."""
    head = [c.value for c in ws[6]]
    members = {col: head[col - 1] for col in range(4, len(head) + 1, 2)}
    cells = {}
    for row in ws.iter_rows(min_row=7):
        title = row[0].value
        if not isinstance(title, str) or title.startswith("Rows:"):
            continue
        for col, m in members.items():
            cells[(title, m)] = (row[col - 1].value, row[col].value)
    return cells, list(members.values())


def test_by_sheet_is_the_engines_value_and_n_per_member(month):
    out, _t, res, paths = month
    wb = openpyxl.load_workbook(paths[0])
    assert "By Queue" in wb.sheetnames
    assert "By Topic" not in wb.sheetnames and "By dimension" not in wb.sheetnames  # sheet = false
    cells, members = _by_sheet(wb["By Queue"])
    assert sorted(members) == sorted(res.members("queue"))
    titles = {CATALOG[k].title: k for k in CATALOG}
    checked = 0
    for (title, m), (value, n) in cells.items():
        key = titles[title]
        row = res.frame("queue", MONTH, m)
        row = row[row.kpi == key]
        want = None if row.empty or math.isnan(row.iloc[0]["value"]) else row.iloc[0]["value"]
        # (an .xlsx keeps 16 significant digits: openpyxl writes floats so)
        assert value == want if want is None else math.isclose(value, want, rel_tol=1e-14), \
            (title, m)
        want_n = None if row.empty or math.isnan(row.iloc[0]["n"]) else row.iloc[0]["n"]
        assert n == want_n, (title, m)
        checked += value is not None
    assert checked >= 30
    # a member's name from the data is text, never a formula
    formula_like = [c for c in wb["By Queue"][6] if c.value == FORMULA_LIKE]
    assert len(formula_like) == 1 and formula_like[0].data_type == "s"


def test_by_sheet_colours_with_the_scorecards_rule_on_each_members_rows(month):
    """Each member's value column carries the three rules (green, amber, red) over its
    KPI rows, each reading that column's first KPI row; the score is the scorecard's
    (value − worst) / (target − worst) against the threshold in B4."""
    _out, _t, res, paths = month
    ws = openpyxl.load_workbook(paths[0])["By Queue"]
    first = 7                                     # the loop's first row (marker gone)
    assert isinstance(ws.cell(first, 1).value, str) and ws.cell(first, 1).value in {
        CATALOG[k].title for k in CATALOG}
    cols = {}
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            cols.setdefault(str(cf.sqref), []).append(rule.formula[0])
    assert len(cols) == len(res.members("queue"))
    for sqref, formulas in cols.items():
        col = re.match(r"([A-Z]+)(\d+)", sqref).group(1)
        assert re.match(rf"{col}{first}:{col}\d+$", sqref)
        assert len(formulas) == 3
        assert f"({col}{first}-$B{first})/($C{first}-$B{first})>=1" in formulas[0]
        assert ">=$B$4" in formulas[1]
    assert ws["B4"].value == 0.8                  # the layout's near_target


def test_a_rule_on_a_loop_row_reads_its_own_row():
    """Before: the QA Team sheet's rule 'QA score below target' stayed on C7 while its
    range moved to C6 (the loop's marker row goes), so each agent was coloured by the
    agent below. Now the rule reads the range's first cell."""
    from scorecard_data import month as generated

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _t, _r, paths = generated(tmp)
        qa = next(p for p in paths if p.name.startswith("qa-"))
        ws = openpyxl.load_workbook(qa)["Team"]
        rules = [(str(cf.sqref), r.formula[0]) for cf in ws.conditional_formatting
                 for r in cf.rules if r.formula and "$B$3" in r.formula[0]]
        assert rules
        for sqref, formula in rules:
            top = re.match(r"([A-Z]+\d+)", sqref).group(1)
            assert formula == f"AND(ISNUMBER({top}),{top}<$B$3)", (sqref, formula)


def test_a_template_without_the_by_sheet_gets_the_shipped_one(month, tmp_path):
    _out, t, res, paths = month
    folder = tmp_path / "tpl"
    shutil.copytree(TEMPLATES, folder)
    wb = openpyxl.load_workbook(folder / "balanced-scorecard.xlsx")
    wb.remove(wb["By dimension"])
    wb["Scorecard"]["A2"] = "Restyled · {{ month_label }}"
    wb.save(folder / "balanced-scorecard.xlsx")
    got = write_month(res, t, tmp_path / "wb", centre="Acme Support", templates=folder,
                      dimensions=DIMS)[0]
    mine = openpyxl.load_workbook(got)
    assert mine.sheetnames == ["Scorecard", "By Queue"]
    assert mine["Scorecard"]["A2"].value.startswith("Restyled")
    assert _by_sheet(mine["By Queue"]) == _by_sheet(openpyxl.load_workbook(paths[0])["By Queue"])


# ------------------------------------------------------------------ member scorecards
PEOPLE = [
    {"name": "Sal Eu", "email": "sal@example.com", "dimension": "queue", "members": [COLLIDE[0]]},
    {"name": "Sam Query", "email": "sam@example.com", "dimension": "queue",
     "members": [COLLIDE[1]]},
    {"name": "Pat Pay", "email": "pat@example.com", "dimension": "queue",
     "members": ["Payments", FORMULA_LIKE]},
]


def _people(items=PEOPLE):
    problems = []
    out = parse_stakeholders(items, problems, dimensions=("queue", "topic"))
    assert problems == []
    return out


def _member_month(month, tmp_path, people):
    out, _t, res, _paths = month
    work = tmp_path / "wb"
    shutil.copytree(out, work)
    from kpi_xl.scorecard.dimensions import context_members

    write_member_books(res, work, context_members(people), centre="Acme Support",
                       dimensions=DIMS)
    return work


def _numbers(res, level, keys):
    """Every value of the given rows (any period) that is not a simple fraction: such a
    number in another scope's file could only have come from these rows. (Small samples
    give simple fractions, 1/11 or 9/14, that a member's own figures or their differences
    can equal by chance.)"""
    from fractions import Fraction

    t = res.table
    rows = t[(t.level.astype(str) == level) & t["key"].astype(str).isin(keys)]
    return {round(float(v), 9) for v in rows["value"] if v == v and
            abs(float(Fraction(float(v)).limit_denominator(100)) - float(v)) > 1e-9}


def _settings(res):
    """The layout's worst cases, targets and thresholds: constants every scorecard shows
    (a team's value may happen to equal one, e.g. 0.15)."""
    from kpi_xl.scorecard.layout import DEFAULT

    out = {round(float(v), 9) for v in res.table["target"] if v == v}
    for p in DEFAULT.perspectives:
        for line in p.lines:
            out |= {round(float(v), 9) for v in (line.worst, line.target,
                                                 *line.worst_by_variant.values())
                    if v is not None}
    return out | {DEFAULT.near_target, DEFAULT.min_coverage}


def test_member_scorecards_reach_only_their_manager_with_only_their_figures(month, tmp_path):
    out, t, res, _paths = month
    people = _people()
    work = _member_month(month, tmp_path, people)
    outcome, where = send_month(people, work, MONTH, smtp=None, centre="Acme Support")
    assert sorted(outcome.sent) == sorted(p["email"] for p in PEOPLE)
    members = set(res.members("queue"))
    teams = set(t["roster"]["team"])
    agents = set(t["roster"]["agent"])
    files = {}
    for eml in sorted(Path(where).glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        who = next(p for p in PEOPLE if p["email"] == msg["To"].addresses[0].addr_spec)
        mine = set(who["members"])
        others = members - mine
        # numbers: nothing of another queue, a team, an agent or the organisation
        foreign = (_numbers(res, "queue", others) | _numbers(res, "team", teams)
                   | _numbers(res, "agent", agents) | _numbers(res, "organisation", ["all"])
                   | _numbers(res, "queue × channel", [k for k in res.members("queue × channel")]))
        foreign -= _numbers(res, "queue", mine) | _settings(res)
        atts = list(msg.iter_attachments())
        assert len(atts) == len(mine)
        for a in atts:
            wb = openpyxl.load_workbook(io.BytesIO(a.get_payload(decode=True)), data_only=True)
            assert wb.sheetnames == ["Scorecard"]
            nums, texts = set(), []
            for ws in wb.worksheets:
                for row in ws.iter_rows(values_only=True):
                    for v in row:
                        if isinstance(v, float):
                            nums.add(round(v, 9))
                        elif isinstance(v, str):
                            texts.append(v)
            assert not (nums & foreign), (who["name"], sorted(nums & foreign)[:5])
            blob = "\n".join(texts)
            assert not [n for n in others | teams | agents if n in blob], who["name"]
            member = next(m for m in mine if f"Queue {m}" in blob)
            files[a.get_filename()] = member
            own = set(res.frame("queue", None, member)["value"].dropna().round(9))
            assert len(nums & own) >= 10           # the member's own figures are there
        body = msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
        assert not [n for n in others | teams | agents if n in body], who["name"]
        text = msg.get_body(("plain",)).get_content()
        # the KPI lines (each followed by its trend's line of text, indented)
        headline = [ln for ln in text.split("Headline KPIs")[1].split("\n\n")[0].splitlines()
                    if ln.startswith("- ")]
        want = []
        for key in HEADLINE["dimension"]:
            for m in who["members"]:
                row = res.frame("queue", MONTH, m)
                row = row[row.kpi == key]
                if row.empty or row.iloc[0]["value"] != row.iloc[0]["value"]:
                    continue
                label = CATALOG[key].title + (f" ({m})" if len(mine) > 1 else "")
                want.append(f"- {label}: "
                            + format_value(row.iloc[0]["value"], row.iloc[0]["number_format"]))
        assert len(headline) == len(want) >= 5
        for line, w in zip(headline, want, strict=True):
            assert line.startswith(w), (line, w)
    # two members whose names fold to the same file name: two files, each to its manager
    assert len(files) == 4 and sorted(files.values()) == sorted(QUEUES)
    stems = [f for f in files if f.startswith("queue-Sales-EU")]
    assert len(stems) == 2 and stems[0] != stems[1]


def test_a_member_absent_from_the_data_is_refused_before_anything_is_sent(month, tmp_path):
    people = _people(PEOPLE + [{"name": "Nora", "email": "nora@example.com",
                                "dimension": "queue", "members": ["Mortgages"]}])
    work = _member_month(month, tmp_path, people)
    with pytest.raises(MailError, match=r"Nora: queue 'Mortgages' has no figures in 2026-10"):
        send_month(people, work, MONTH, smtp=None, centre="Acme Support")
    assert not (work / MONTH / "outbox").exists() or not list((work / MONTH / "outbox").iterdir())


@pytest.mark.parametrize("entry, words", [
    ({"dimension": "region", "members": ["North"]}, "not declared under [[dimensions]]"),
    ({"dimension": "queue"}, "lists no member"),
    ({"dimension": "queue", "members": "Payments"}, "members must be a list"),
    ({"members": ["Payments"]}, "goes with dimension"),
    ({"dimension": "queue", "members": ["Payments"], "reports": ["scorecard"]},
     "cannot receive 'scorecard'"),
    ({"dimension": "queue", "members": ["Payments"], "teams": ["Billing"]}, "give one scope"),
])
def test_dimension_scopes_are_checked(entry, words):
    problems = []
    parse_stakeholders([{"name": "X", "email": "x@example.com", **entry}], problems,
                       dimensions=("queue",))
    assert any(words in p for p in problems), problems


# ------------------------------------------------------------------ the demo, end to end
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from kpi_xl.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    return write_demo(folder, MONTH).parent


def test_compute_prints_each_dimension_and_the_coverage(demo, tmp_path, capsys):
    from kpi_xl.cli import main
    from kpi_xl.engine.results import read_results_json

    assert main(["compute", "-c", str(demo / "kpi_xl.toml"), "--month", MONTH,
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    with open(demo / "exports" / "contacts.csv", newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r["date"].startswith(MONTH)]
    no_topic = sum(1 for r in rows if not r["topic"])
    assert 0 < no_topic < len(rows) / 10
    assert f"{no_topic:,} of {len(rows):,} contacts in {MONTH} have no topic" in out
    assert f"every one of the {len(rows):,} contacts in {MONTH} has a queue" in out
    res = read_results_json(tmp_path / MONTH / "kpi-results.json")
    assert {"queue", "topic", "team × channel", "queue × channel"} <= set(res.levels)
    block = out.split(f"By queue, {MONTH}:")[1].split("\n\n")[0].strip("\n").splitlines()
    queues = sorted({r["queue"] for r in rows})
    assert [line.split("  ")[1].strip() for line in block[1:]] == queues
    head = block[0].split()
    assert head[:2] == ["Ticket", "volume"] and "AHT" in head
    for line, q in zip(block[1:], queues, strict=True):
        volume = sum(1 for r in rows if r["queue"] == q)
        aht = res.frame("queue", MONTH, q)
        aht = aht[aht.kpi == "aht"].iloc[0]
        assert f" {volume:,} " in line and format_value(aht["value"], aht["number_format"]) in line
    assert "(no topic)" in out.split(f"By topic, {MONTH}:")[1]


# ------------------------------------------------------------------ LibreOffice
def _lo():
    from kpi_xl.scorecard.libreoffice import soffice

    return soffice()


@pytest.mark.libreoffice
@pytest.mark.skipif(_lo() is None, reason="LibreOffice (soffice) is not installed; .ci/run "
                    "installs it")
def test_libreoffice_reads_every_by_cell_as_the_engine_and_recalculates_the_member_book(
        month, tmp_path):
    """LibreOffice opens the scorecard: every value and n of the By sheet, as it reads
    them, is the engine's; every formula of a member's scorecard, recalculated, equals
    the value cached for it; the workbook renders (looked at: tmp_path/png)."""
    from kpi_xl.scorecard.libreoffice import convert, recalculated_values, render_png

    _out, _t, res, paths = month
    lo = convert(paths[0], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    cells, members = _by_sheet(openpyxl.load_workbook(lo, data_only=True)["By Queue"])
    titles = {CATALOG[k].title: k for k in CATALOG}
    assert sorted(members) == sorted(res.members("queue"))
    for (title, m), (value, n) in cells.items():
        row = res.frame("queue", MONTH, m)
        row = row[row.kpi == titles[title]]
        if row.empty or row.iloc[0]["value"] != row.iloc[0]["value"]:
            assert value in (None, ""), (title, m)
            continue
        assert math.isclose(value, row.iloc[0]["value"], rel_tol=1e-14), (title, m)
        assert n == row.iloc[0]["n"], (title, m)
    book = write_member_books(res, tmp_path / "m", [("queue", "Payments")],
                              centre="Acme Support", dimensions=DIMS)[0]
    cached = openpyxl.load_workbook(book, data_only=True)
    got = recalculated_values(book)
    assert len(got) > 20
    for (sheet, cell), v in got.items():
        mine = cached[sheet][cell].value
        if isinstance(v, (int, float)) and isinstance(mine, (int, float)):
            assert math.isclose(v, mine, rel_tol=1e-9, abs_tol=1e-12), (sheet, cell)
        else:
            assert (v or "") == (mine or ""), (sheet, cell, v, mine)
    assert len(render_png(paths[0], tmp_path / "png", dpi=60)) >= 2
