"""A QA workbook written one agent sheet at a time (issue 14 §2, kpi_xl/scorecard/streamed.py).

At 2,000 agents ``kpi-xl run`` peaked at 1.4 GB: the QA workbook was filled whole, then
evaluated and written, every agent sheet held at once. Now each agent sheet is filled,
evaluated, written and let go in turn. The contract is the file: the same bytes as the
whole-workbook path (``fill`` + ``save_with_values``), whose values the LibreOffice tests
hold to a real spreadsheet's (tests/test_scorecard_libreoffice.py, through write_month).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("jinja2")

from kpi_xl.scorecard import cached  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES, qa_contexts  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.formula import Evaluator, Unsupported  # noqa: E402
from kpi_xl.scorecard.streamed import save_filled  # noqa: E402
from kpi_xl.scorecard.template import fill  # noqa: E402

STAMP = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def contexts():
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice

    tables = sample_tables(teams=2, agents_per_team=6, contacts_per_month=1200)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    return {partial: qa_contexts(res, tables["qa"], "Acme", max_score=MAX_SCORE,
                                 roster=tables.get("roster"), rubric=rubric, partial=partial)
            for partial in (None, "partial data: contacts has 1,200 rows in 2026-10")}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("partial", [None, "partial data: contacts has 1,200 rows in 2026-10"])
def test_the_same_bytes_as_the_whole_workbook(tmp_path, contexts, partial):
    """Each team's workbook, streamed and whole: byte for byte the same file (with and
    without the partial-data banner), with the writer openpyxl picked at import (lxml
    when installed; tests/test_cached_and_formula.py runs write_month, which streams,
    under both writers)."""
    for team, ctx in contexts[partial].items():
        whole, streamed = tmp_path / f"whole-{team}.xlsx", tmp_path / f"streamed-{team}.xlsx"
        save_with_values(fill(TEMPLATES / "agent-qa.xlsx", ctx).workbook, whole, STAMP,
                         release=True)
        save_filled(TEMPLATES / "agent-qa.xlsx", ctx, streamed, STAMP)
        assert len(openpyxl.load_workbook(streamed, read_only=True).sheetnames) == \
            len(ctx["agents"]) + 1
        assert _digest(streamed) == _digest(whole), team


def test_one_agent_sheet_held_at_a_time(tmp_path, monkeypatch):
    """write_month's QA workbooks: when any of their sheets' cells are written, at most
    three sheets of the workbook hold cells (the Team sheet, the template's agent sheet
    the copies are made from, and the agent sheet being written), whatever the number of
    agents. Before, the whole workbook was filled first: writing the Team sheet found
    every sheet full (5 of 5 with 4 agents)."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import write_month

    held: list[int] = []
    write_rows = cached._SheetWriter.write_rows

    def counting(self):
        book = self.ws.parent
        if book.worksheets[0].title == "Team":             # the QA workbooks only
            held.append(sum(1 for s in book.worksheets if s._cells))
        return write_rows(self)

    monkeypatch.setattr(cached._SheetWriter, "write_rows", counting)
    tables = sample_tables(teams=2, agents_per_team=4, contacts_per_month=1200)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    paths = write_month(res, tables, tmp_path, centre="Acme", max_score=MAX_SCORE,
                        rubric=rubric)
    assert len(paths) == 3
    assert len(held) == 2 * (4 + 1)                        # two teams, Team + 4 agents each
    assert max(held) <= 3, held


def test_a_cell_let_go_is_never_read_as_blank():
    """A sheet written and let go keeps only the cells other sheets read; reading any
    other cell of it is refused (no cached value: the spreadsheet computes it on open),
    never taken for a blank cell (0)."""
    wb = openpyxl.Workbook()
    agent = wb.active
    agent.title = "Agent"
    agent["A1"], agent["A2"], agent["A3"] = 4, "=A1*2", 7
    team = wb.create_sheet("Team")
    team["A1"], team["A2"] = "='Agent'!A2+1", "='Agent'!A3"
    ev = Evaluator(wb)
    assert [v for _c, v in ev.sheet_values(agent)] == [8.0]
    ev.let_go(agent, {(2, 1)})                       # Team reads A2 only
    values = {c.coordinate: v for c, v in ev.sheet_values(team)}
    assert values["A1"] == 9.0
    assert isinstance(values["A2"], Unsupported)
    assert "let go" in str(values["A2"])


def test_writing_a_big_centres_qa_workbooks_says_how_far_it_is(tmp_path, monkeypatch):
    """At 2,000 agents the QA workbook takes over a minute, and ``kpi-xl run`` said only
    "writing the workbooks". Now each agent sheet written is counted, with the pace and
    the time left, and the step's last line says how many sheets in how many workbooks
    (a meter that speaks at once here: the real one waits a second between lines)."""
    from kpi_xl import progress
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard import build

    class Eager(progress.Meter):
        def __init__(self, *a, **kw):
            super().__init__(*a, **{**kw, "interval": 0.0})

    monkeypatch.setattr(build, "Meter", Eager)
    tables = sample_tables(teams=2, agents_per_team=3, contacts_per_month=600)
    res = Engine(tables, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10")
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    said = []
    build.write_month(res, tables, tmp_path, centre="Acme", max_score=MAX_SCORE,
                      rubric=rubric, progress=said.append)
    partial = [s for s in said if isinstance(s, progress.Partial)]
    counts = [int(s.split(": ")[1].split()[0]) for s in partial]
    assert counts == list(range(1, 7)), said          # each agent sheet, as it is written
    assert all(s.startswith("writing the QA workbooks: ") for s in said), said
    assert "left" in partial[0], partial[0]
    last = said[-1]
    assert not isinstance(last, progress.Partial)
    assert last.startswith("writing the QA workbooks: 6 agent sheets (2 workbooks) in "), last
