"""Issue 10, "declared once", in the workbooks: a template asks the catalog for a KPI's
formula over given ranges (``kpi_formula``), and the shipped QA template uses it for the
evaluation score and its failed fatal items instead of restating the QA rule."""

from __future__ import annotations

import math
from pathlib import Path
import re

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.render.arrays import compute  # noqa: E402
from kpi_xl.render.excel import render_excel  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.template import TemplateError, fill  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _one_cell(tmp_path, formula: str, rows=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, values in enumerate(rows, 1):
        for c, v in enumerate(values, 1):
            ws.cell(r, c, v)
    ws["H1"] = formula
    p = tmp_path / "t.xlsx"
    wb.save(p)
    return p


def test_kpi_formula_is_the_renderers_formula(tmp_path):
    """The text a template gets is the Excel renderer's, over the template's ranges; the
    evaluator that caches values computes it to the Excel function's value."""
    # items of two evaluations; e1: weights 1,2,1, scores 5, 4, N/A (out of 5), none
    # fatal: (1·5 + 2·4) / (5 · (1 + 2)) = 13/15; e2 has a failed fatal item: 0
    rows = [("e1", 1, 5, 0), ("e1", 2, 4, 0), ("e1", 1, "N/A", 1),
            ("e2", 1, 5, 0), ("e2", 1, 0, 1)]
    f = ("={{ kpi_formula('qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', "
         "fatal='$D$1:$D$5', max_score=5, where={'$A$1:$A$5': 'G1'}) }}")
    for eid, want in (("e1", 13 / 15), ("e2", 0.0)):
        p = _one_cell(tmp_path, f, [r + (None, None, eid if i == 0 else None)
                                    for i, r in enumerate(rows)])
        wb = fill(p, {}).workbook
        got = wb.active["H1"].value
        kpi = CATALOG["qa_score"]
        assert got == render_excel(
            kpi, kpi.default_variant,
            ranges={"weights": "$B$1:$B$5", "scores": "$C$1:$C$5", "fatal": "$D$1:$D$5"},
            params={"max_score": 5}, rows="($A$1:$A$5=G1)").text
        values = save_with_values(wb, tmp_path / "o.xlsx")
        assert values[("Sheet", "H1")] == pytest.approx(want, rel=1e-12)
        sel = [r for r in rows if r[0] == eid]
        assert compute("qa_score", weights=[r[1] for r in sel], scores=[r[2] for r in sel],
                       fatal=[r[3] for r in sel], max_score=5).value == pytest.approx(want)


@pytest.mark.parametrize("args,message", [
    ("'no_such_kpi', scores='$A$1:$A$5'", "'no_such_kpi' is not a KPI"),
    ("'qa_score', weights=name, scores='$C$1:$C$5'", "weights must be a cell or range reference"),
    ("'qa_score', weights='$B$1:$B$5'", "qa_score needs scores"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', colour='$A$1'", "no input or option 'colour'"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', measure='x'", "no measure 'x'"),
    # before: the value's formula, written where the sample size was asked for
    ("'occupancy', handle_time='$A$1', idle_time='$A$2', measure='n'",
     r"occupancy has no measure 'n' \(measures: none\)"),
    ("'first_response_time', variant='median', hours='$A$1:$A$5'", "needs an array formula"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', where={'$A$1:$A$5': name}",
     "where must be a cell or range reference"),
    ("'qa_score', weights='$B$1:$B$5', scores='$C$1:$C$5', refused=1", "refused= takes a text"),
])
def test_kpi_formula_refuses_what_it_cannot_write_safely(tmp_path, args, message):
    """Arguments are references only: text from data (``name``) never becomes formula
    code; every refusal names the sheet and cell."""
    p = _one_cell(tmp_path, "={{ kpi_formula(" + args + ") }}")
    with pytest.raises(TemplateError, match=r"sheet 'Sheet', cell H1: .*" + message):
        fill(p, {"name": '1)+HYPERLINK("http://x","y"'})


def test_the_shipped_qa_template_asks_the_catalog():
    """No hand-written QA rule left in the agent sheet: the evaluation score and its
    failed fatal items come from kpi_formula (make_templates.py builds them so)."""
    ws = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    assert "kpi_formula('qa_score'" in ws["E13"].value
    assert "measure='fatal items failed'" in ws["G13"].value
    text = (ROOT / "scripts" / "make_templates.py").read_text(encoding="utf-8")
    assert 'F34=0' not in text and "SUMIFS($I$34" not in text


def test_generated_evaluation_formulas_are_the_catalogs(tmp_path_factory):
    """In a generated QA workbook, each evaluation's score cell holds the renderer's
    formula over that sheet's item rows, filtered to the evaluation."""
    from scorecard_data import month

    from kpi_xl.render.excel import ExcelRenderer

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    ws = wb.worksheets[1]
    last = max(r for r in range(1, ws.max_row + 1)
               if isinstance(ws.cell(r, 1).value, str) and ws.cell(r, 1).value.startswith("QA-")
               and r > 30)
    first = next(r for r in range(30, ws.max_row + 1) if ws.cell(r, 1).value == "Evaluation") + 1
    rng = lambda c: f"${c}${first}:${c}${last}"  # noqa: E731
    kpi = CATALOG["qa_score"]
    for r in (12, 13):
        text = ExcelRenderer(kpi, kpi.default_variant, ranges={
            "weights": rng("D"), "scores": rng("F"), "fatal": rng("E")},
            params={"max_score": "$B$4"}, rows=f"({rng('A')}=A{r})",
            keys=(rng("A"),), filled=(rng("A"),)).render(
                refused="check item row").text[1:]
        want = "=IFERROR(" + text + ',"")'
        assert ws.cell(r, 5).value == want


def test_team_qa_score_is_the_mean_of_its_evaluations(tmp_path):
    """The catalog's QA score is per evaluation; a team's is the mean over its
    evaluations (as the engine computes it). Before, the Team row averaged the agents'
    means, which differs as soon as agents have different numbers of evaluations."""
    from kpi_xl.data.load import RubricItem
    from kpi_xl.demo_data import MAX_SCORE, RUBRIC, sample_tables
    from kpi_xl.engine import Engine, KpiChoice
    from kpi_xl.scorecard.build import write_month

    t = sample_tables(teams=1, agents_per_team=3, contacts_per_month=300)
    qa = t["qa"]
    oct_ = qa[qa.period == "2026-10"]
    first_agent = sorted(oct_.agent.unique())[0]
    evals = sorted(oct_[oct_.agent == first_agent].evaluation.unique())
    t["qa"] = qa[~qa.evaluation.isin(evals[1:])]            # that agent keeps one evaluation
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute("2026-10", 1)
    rubric = tuple(RubricItem(i.criterion, i.weight, i.fatal, i.section) for i in RUBRIC)
    paths = write_month(res, t, tmp_path, max_score=MAX_SCORE, rubric=rubric)
    team = openpyxl.load_workbook(paths[1], data_only=True)["Team"]
    name = team["A1"].value.removeprefix("QA: ")
    agents = [team.cell(r, 3).value for r in range(6, 9)]
    assert team.cell(9, 1).value == "Team"
    want = res.value("qa_score", "team", name)
    assert team.cell(9, 3).value == pytest.approx(want, rel=1e-12)
    assert not math.isclose(sum(agents) / 3, want, rel_tol=1e-6)   # the old rule differs


def test_agent_sheet_status_is_the_engines(tmp_path_factory):
    """The agent sheet's on/off-target formula restates the catalog's status rule
    (kpi_xl.catalog.spec.status) with the variant's direction: it must give the engine's
    status, KPI by KPI, agent by agent."""
    from scorecard_data import month

    _t, res, paths = month(str(tmp_path_factory.mktemp("wb")))
    table = res.table
    now = table[(table.level == "agent") & (table.period == "2026-10")]
    checked = 0
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets[1:]:
            agent = ws["A1"].value.removeprefix("QA: ")
            mine = now[now["key"].astype(str) == agent].set_index("title")
            for row in ws.iter_rows():
                title = row[0].value
                if title in mine.index and row[4].value in ("on target", "off target"):
                    assert row[4].value == str(mine.loc[title, "status"]), (agent, title)
                    checked += 1
    assert checked > 20


# ---------------------------------------------------------------------------------------
# The QA sheet's rubric breakdowns (the compliance items of an evaluation, a rubric section
# over the month) are the catalog's "points share" of qa_score: points earned / points
# possible over the applicable items, without the fatal rule. They were SUMIFS written in
# make_templates.py (a restatement of the QA score's arithmetic).

# (evaluation, section, weight, score, fatal); out of 5
_ITEMS = [("e1", "Open", 1, 5, 0), ("e1", "Comp", 2, 4, 1), ("e1", "Comp", 1, "N/A", 1),
          ("e2", "Open", 1, 5, 0), ("e2", "Comp", 1, 0, 1), ("e2", "Comp", 2, 5, 1)]
# by hand, points share = Σ weight × score / (5 × Σ weight), over the applicable items:
#   e1's compliance (fatal) items: 2·4 / (5·2) = 0.8   (the N/A one leaves the denominator)
#   e2's compliance items: (1·0 + 2·5) / (5·(1 + 2)) = 2/3   (its QA score is 0: the fatal
#     rule; the compliance figure is the points share, as the sheet always showed)
#   section Comp over both evaluations: (8 + 0 + 10) / (5·(2 + 1 + 2)) = 18/25
#   section Open: (5 + 5) / (5·2) = 1
_HAND = {("eval", "e1"): 0.8, ("eval", "e2"): 2 / 3, ("section", "Comp"): 18 / 25,
         ("section", "Open"): 1.0}


def _share(items) -> float | None:
    r = compute("qa_score", weights=[i[2] for i in items], scores=[i[3] for i in items],
                fatal=[i[4] for i in items], max_score=5)
    return r.measures["points share"]


def test_points_share_is_a_measure_of_the_qa_score():
    """The Python side of the breakdowns: the catalog's measure, on the hand-derived
    figures above; a ratio with nothing applicable has no value (None, never 0)."""
    for (kind, key), want in _HAND.items():
        col = 0 if kind == "eval" else 1
        sel = [i for i in _ITEMS if i[col] == key and (kind == "section" or i[4] == 1)]
        assert _share(sel) == pytest.approx(want, rel=1e-12), key
    e2 = [i for i in _ITEMS if i[0] == "e2"]
    r = compute("qa_score", weights=[i[2] for i in e2], scores=[i[3] for i in e2],
                fatal=[i[4] for i in e2], max_score=5)
    assert r.value == 0.0 and r.measures["points share"] == pytest.approx(15 / 20)
    # a failed fatal item of weight 0 with the rest N/A: the QA score is 0 (the fatal
    # rule), the points share 0/0: no value, and the score is not turned into an error
    r = compute("qa_score", weights=[0, 1], scores=[0, "N/A"], fatal=[1, 0])
    assert r.value == 0.0 and r.measures["points share"] is None


def test_breakdown_formulas_give_the_catalogs_points_share(tmp_path):
    """kpi_formula(measure='points share', where=...) over a sheet of items: the cached
    value (kpi_xl's evaluator) and LibreOffice's recalculation are the hand figures."""
    from kpi_xl.scorecard.libreoffice import recalculated_values, soffice

    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(_ITEMS, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c, v)
    ws["H1"], ws["H2"], ws["H3"], ws["H4"] = "e1", "e2", "Comp", "Open"
    share = ("'qa_score', measure='points share', weights='$C$1:$C$6', scores='$D$1:$D$6', "
             "fatal='$E$1:$E$6', max_score=5")
    for r in (1, 2):
        ws[f"I{r}"] = ("=IFERROR({{ kpi_formula(" + share + ", where={'$A$1:$A$6': 'H"
                       + str(r) + "', '$E$1:$E$6': 1}) }},\"\")")
    for r in (3, 4):
        ws[f"I{r}"] = ("=IFERROR({{ kpi_formula(" + share + ", where={'$B$1:$B$6': 'H"
                       + str(r) + "'}) }},\"\")")
    p = tmp_path / "t.xlsx"
    wb.save(p)
    filled = fill(p, {}).workbook
    out = tmp_path / "o.xlsx"
    values = save_with_values(filled, out)
    want = dict(zip(("I1", "I2", "I3", "I4"), _HAND.values()))
    for cell, v in want.items():
        assert values[("Sheet", cell)] == pytest.approx(v, rel=1e-12), cell
    if soffice() is not None:
        lo = recalculated_values(out)
        for cell, v in want.items():
            assert lo[("Sheet", cell)] == pytest.approx(v, rel=1e-9), cell


def test_the_qa_template_restates_no_rubric_arithmetic():
    """Every formula of the shipped Agent sheet that reads the item table (row 34, the
    loop row) is the catalog's, through kpi_formula: no SUMIFS or SUMPRODUCT over the
    items, no hand-written points / points possible. Row 34 itself (each item's points
    and out-of, shown in the table) is the only arithmetic on the items."""
    ws = openpyxl.load_workbook(TEMPLATES / "agent-qa.xlsx")["Agent"]
    catalog_only = re.compile(r'^=(IFERROR\()?\{\{ kpi_formula\([^{}]*(\{[^{}]*\})?[^{}]*\) \}\}'
                              r'(,""\))?$')
    reading = []
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and c.value.startswith("=") and "34" in c.value \
                    and c.row != 34:
                reading.append(c.coordinate)
                assert catalog_only.match(c.value), (c.coordinate, c.value)
    assert {"E13", "F13", "G13", "B19"} <= set(reading)
    text = (ROOT / "scripts" / "make_templates.py").read_text(encoding="utf-8")
    assert "SUMIFS($G$34" not in text and "SUMIFS($H$34" not in text


def test_generated_breakdowns_are_the_catalogs_points_share(tmp_path_factory):
    """In generated QA workbooks, each evaluation's compliance and each section's score
    (cached values) are compute('qa_score').measures['points share'] over the source rows
    of that evaluation's fatal items / of the agent's month in that section."""
    from scorecard_data import month

    tables, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    qa = tables["qa"]
    oct_ = qa[qa.period == "2026-10"]

    def share(items):
        scores = ["N/A" if math.isnan(s) else s for s in items.score]
        return compute("qa_score", weights=list(items.weight), scores=scores,
                       fatal=list(items.fatal), max_score=5).measures["points share"]

    checked = {"compliance": 0, "section": 0, "items": 0}
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets[1:]:
            agent = ws["A1"].value.removeprefix("QA: ")
            mine = oct_[oct_.agent == agent]
            # the item table's Points and Out of columns (a deliberate restatement of
            # weight × score, weight × max score, for reading): an evaluation's sums are
            # the catalog's points share of its items
            top = next(r for r in range(30, ws.max_row + 1)
                       if ws.cell(r, 1).value == "Evaluation") + 1
            sums: dict[str, list[float]] = {}
            for r in range(top, ws.max_row + 1):
                eid, points, out_of = (ws.cell(r, c).value for c in (1, 7, 8))
                if isinstance(out_of, (int, float)):
                    s = sums.setdefault(eid, [0.0, 0.0])
                    s[0], s[1] = s[0] + points, s[1] + out_of
            for eid, (points, out_of) in sums.items():
                want = share(mine[mine.evaluation == eid])
                assert points / out_of == pytest.approx(want, rel=1e-12), eid
                checked["items"] += 1
            head = next(r for r in range(1, 40) if ws.cell(r, 1).value == "Section")
            for r in range(12, head):
                eid = ws.cell(r, 1).value
                if not (isinstance(eid, str) and eid.startswith("QA-")):
                    continue
                want = share(mine[(mine.evaluation == eid) & (mine.fatal == 1)])
                got = ws.cell(r, 6).value
                assert (got == "" if want is None else got == pytest.approx(want, rel=1e-12)), eid
                checked["compliance"] += 1
            r = head + 1
            while ws.cell(r, 1).value:
                section = ws.cell(r, 1).value
                want = share(mine[mine.section == section])
                got = ws.cell(r, 2).value
                assert (got == "" if want is None else got == pytest.approx(want, rel=1e-12)), \
                    (agent, section)
                checked["section"] += 1
                r += 1
    assert min(checked.values()) > 20, checked


# ---------------------------------------------------------------------------------------
# A measure cell's guard (issue: the QA sheet's compliance read past 100 % beside a blank
# QA score; the fix of 03fefa3 gave every measure the value's whole guard and turned the
# fatal-fails totals into #N/A, reverted in cb57ee1). A measure is refused by the input
# rules of what it reads, on the rows where it reads them, as the catalog declares it.

def test_each_measure_of_the_qa_score_is_guarded_by_the_rules_of_what_it_reads():
    """The rules of each measure of qa_score, derived by hand from its declaration in
    kpi_xl/catalog/kpis/quality.py:

    * the inputs' rules (``Input`` there; ``kpi_xl.catalog.rules.rules``): weights
      ``lo=0`` and required (the default ``required_when=True``): ``weights < 0``,
      ``weights`` blank; scores ``lo=0, hi="max_score"``, required: ``scores < 0 or
      scores > max_score``, ``scores`` blank; fatal is a flag (no range) with
      ``required_when=False``: no rule;
    * what each measure reads: ``points share`` = Σ weight × score over applicable items
      / (max_score × Σ weight over them), applicable = score present: the scores on every
      row, the weights where the score is present; ``fatal items failed`` = count of
      fatal = 1 and score = 0: the scores of the fatal items (the flags where the score
      is 0, which have no rule); ``n`` and ``applicable items`` = count of scores present:
      the scores on every row;
    * the value keeps every rule (the Excel function refuses the whole call)."""
    from kpi_xl.catalog import rules
    from kpi_xl.catalog.expr import And, Blank, Cmp, Col, Lit, Or, Param, Present

    kpi = CATALOG["qa_score"]
    var = kpi.default_variant
    w, s, f = Col("weights"), Col("scores"), Col("fatal")
    w_range, w_blank = ("weights", "range", Cmp("<", w, Lit(0.0))), ("weights", "required", Blank(w))
    s_range = ("scores", "range", Or(Cmp("<", s, Lit(0.0)), Cmp(">", s, Param("max_score"))))
    s_blank = ("scores", "required", Blank(s))

    def on(rule, rows):
        return rule[0], rule[1], And(rule[2], rows)

    want = {
        None: [w_range, w_blank, s_range, s_blank],
        "points share": [on(w_range, Present(s)), on(w_blank, Present(s)), s_range, s_blank],
        "fatal items failed": [on(s_range, f.eq(1)), on(s_blank, f.eq(1))],
        "applicable items": [s_range, s_blank],
        "n": [s_range, s_blank],
    }
    assert set(want) - {None, "n"} == set(var.formula.measures)
    params = rules.resolve_params(kpi, var, {})
    params["max_score"] = "$B$1"
    for measure, expected in want.items():
        node = (None if measure is None else var.formula.n if measure == "n"
                else var.formula.measures[measure])
        got = rules.rules_read(kpi, var, node, params, ("weights", "scores", "fatal"),
                               symbolic=("max_score",))
        assert [(r.input, r.kind, r.broken) for r in got] == expected, measure


def test_a_rule_over_two_inputs_is_kept_whole_when_a_measure_reads_either():
    """A required-when rule spans two inputs (resolution_rate, kpis/quality.py: 'resolved'
    must not be blank where handled = 1; 'handled' must not be blank, the default
    ``required_when=True``; both flags, no range). The measure 'handled' =
    count(handled = 1) reads only 'handled', on every row, yet keeps the rule on
    'resolved' whole (conservative: a blank resolution beside handled = 1 refuses the
    handled count). The measure 'resolved' = count(resolved = 1 & handled = 1) reads
    'resolved' where handled = 1 and 'handled' where resolved = 1: each rule is judged
    on the rows where either of its inputs is read."""
    from kpi_xl.catalog import rules
    from kpi_xl.catalog.expr import And, Blank, Col, Or

    kpi = CATALOG["resolution_rate"]
    var = kpi.variant("handled")
    r, h = Col("resolved"), Col("handled")
    r_blank = ("resolved", "required", And(h.eq(1), Blank(r)))
    h_blank = ("handled", "required", Blank(h))
    params = rules.resolve_params(kpi, var, {})

    def got(measure):
        return [(x.input, x.kind, x.broken) for x in rules.rules_read(
            kpi, var, var.formula.measures[measure], params, ("resolved", "handled"))]

    assert got("handled") == [r_blank, h_blank]
    # each also where the other input breaks its own rule (review of h-guard2: a bad
    # value must not decide where another input's rules apply)
    assert got("resolved") == [
        ("resolved", "required", And(r_blank[2], Or(Or(h.eq(1), r.eq(1)), h_blank[2]))),
        ("handled", "required", And(h_blank[2], Or(r.eq(1), r_blank[2])))]


def test_reads_a_count_by_the_domain_when_its_condition_holds_on_blanks():
    """A count whose condition can hold where its own column is blank (a blank, a
    negation) counts rows of the domain, which every column input decides: reads says
    so (DOMAIN), and such a measure keeps every rule. No catalog KPI has one today."""
    from kpi_xl.catalog.expr import DOMAIN, Blank, Col, Count, Not, Present, reads

    assert reads(Count(Blank(Col("a")))) == {DOMAIN: True, "a": True}
    assert reads(Count(Not(Present(Col("a"))) & Col("b").eq(1))) == {
        "a": Col("b").eq(1), "b": Not(Present(Col("a")))}
    assert reads(Count(Not(Present(Col("a")))))[DOMAIN] is True


def test_a_measure_cell_is_refused_by_the_rules_of_what_it_reads():
    """The formulas kpi_formula writes: each measure is #N/A where a row it reads breaks
    a rule of an input it reads, and only there (before: no measure had a guard, and a
    score of 7 out of 5 gave a compliance of 140 % beside a blank QA score)."""
    from kpi_xl.scorecard.template import kpi_formula

    args = dict(weights="$D$2:$D$9", scores="$F$2:$F$9", fatal="$E$2:$E$9", max_score="$B$1")

    def guard(measure=None):
        text = str(kpi_formula("qa_score", measure=measure, **args))
        return text[:text.index(",NA(),")] if text.startswith("IF(OR(") else ""

    too_high, blank = "($F$2:$F$9>$B$1)", '($F$2:$F$9="")'
    negative_weight, blank_weight = "($D$2:$D$9<0)", '($D$2:$D$9="")'
    fatal_rows, applicable = "($E$2:$E$9=1)", "ISNUMBER($F$2:$F$9)"
    value = guard()
    assert all(x in value for x in (too_high, blank, negative_weight, blank_weight))
    share = guard("points share")
    assert all(x in share for x in (too_high, blank, negative_weight, blank_weight, applicable))
    fatal = guard("fatal items failed")
    assert too_high in fatal and blank in fatal and fatal_rows in fatal
    assert negative_weight not in fatal and blank_weight not in fatal
    for m in ("n", "applicable items"):
        g = guard(m)
        assert too_high in g and blank in g and negative_weight not in g and fatal_rows not in g


def _qa_sheet_cells(ws):
    """Where things are on a filled Agent sheet: the evaluation rows, the section rows and
    the item rows (first, last)."""
    heads: dict = {}
    for r in range(1, ws.max_row + 1):
        heads.setdefault(ws.cell(r, 1).value, r)
    evals = [r for r in range(heads["Evaluation"] + 1, heads["Section"])
             if str(ws.cell(r, 1).value or "").startswith("QA-")]
    sections = {}
    r = heads["Section"] + 1
    while ws.cell(r, 1).value:
        sections[ws.cell(r, 1).value] = r
        r += 1
    top = next(r for r in range(heads["Section"], ws.max_row + 1)
               if ws.cell(r, 1).value == "Evaluation") + 1
    items = [r for r in range(top, ws.max_row + 1)
             if str(ws.cell(r, 1).value or "").startswith("QA-")]
    return evals, sections, items


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice not installed")
@pytest.mark.parametrize("edit", ["fatal item above the maximum", "non-fatal score cleared",
                                  "fatal item's score cleared"])
def test_one_bad_score_names_its_row_on_every_figure_built_on_it(tmp_path_factory, edit):
    """The real thing: a generated QA workbook, one score edited by a user (openpyxl),
    recalculated by LibreOffice. The edited evaluation's QA score says which item row to
    check (the value's guard); its compliance and fatal fails say so where they read the
    bad score (a fatal item's) and are unchanged where they do not (a non-fatal item's);
    the agent's QA score, the team's, the evaluator calibration (and, for a fatal item,
    the agent's compliance and fatal total) name the row too instead of taking the mean
    or the sum of the other evaluations; every other formula cell of the workbook is as
    before. Before h-guard2: a score of 7 out of 5 on a compliance item showed a
    compliance of 120 % beside a blank QA score; before h-qa: the QA score was blank and
    the agent's and the team's QA scores the mean of the other evaluations, with nothing
    saying one was left out."""
    from scorecard_data import month, same_cell
    from kpi_xl.scorecard.libreoffice import recalculated_values

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    team, ws = wb["Team"], wb.worksheets[1]
    evals, sections, items = _qa_sheet_cells(ws)
    fatal = edit.startswith("fatal")
    # the first evaluation with a scored item of the kind to edit (a fatal item that
    # passed, so that on main its failed-fatal count is the same number)
    item = next(r for r in items if ws.cell(r, 5).value == (1 if fatal else 0)
                and isinstance(ws.cell(r, 6).value, (int, float)) and ws.cell(r, 6).value > 0)
    row = next(r for r in evals if ws.cell(r, 1).value == ws.cell(item, 1).value)
    section = sections[ws.cell(item, 2).value]
    agent_row = next(r for r in range(6, team.max_row + 1) if team.cell(r, 1).value == ws.title)
    total_row = next(r for r in range(agent_row, team.max_row + 1)
                     if team.cell(r, 1).value == "Team")
    base = tmp_path_factory.mktemp("lo") / "base.xlsx"
    wb.save(base)
    ws.cell(item, 6).value = 7 if edit == "fatal item above the maximum" else None
    edited = base.with_name("edited.xlsx")
    wb.save(edited)
    before, after = recalculated_values(base), recalculated_values(edited)

    a, t = ws.title, "Team"
    say, by = f"check item row {item}", f"check {team.cell(agent_row, 1).value}"
    # the edited evaluation: its QA score names the row; compliance and fatal fails too
    # where they read the edited score (its compliance is of the fatal items), else unchanged
    assert isinstance(before[(a, f"E{row}")], float) and after[(a, f"E{row}")] == say
    for col in "FG":
        if fatal:
            assert after[(a, f"{col}{row}")] == say, (edit, col, after[(a, f"{col}{row}")])
        else:
            assert same_cell(after[(a, f"{col}{row}")], before[(a, f"{col}{row}")]), (edit, col)
    # the section of the edited item reads its score
    assert after[(a, f"B{section}")] == say
    # the agent's figures: the QA score names the row, never the mean of the others
    assert after[(a, "B5")] == say and after[(a, "C5")] == "not scored"
    # the evaluations listed, the refused one with them (h-qa2: it was one fewer, the
    # scored ones, beside every evaluation listed)
    assert after[(a, "B7")] == before[(a, "B7")] == len(evals)
    assert after[(t, f"C{agent_row}")] == say and after[(t, f"E{agent_row}")] == "not ranked"
    if fatal:
        # compliance and the fatal total name it too (a total is wrong without every
        # evaluation: review of h-guard2); the team's fatal total is refused (blank)
        assert after[(a, "B6")] == say and after[(a, "B8")] == say
        assert after[(t, f"D{agent_row}")] == say and after[(t, f"F{agent_row}")] == say
        assert after[(t, f"D{total_row}")] == by
        assert after[(t, f"F{total_row}")] in (None, "")
    else:
        # the edited score is not a fatal item's: the fatal fails stand, and so do totals
        fails = sum(after[(a, f"G{r}")] for r in evals)
        assert isinstance(after[(a, "B8")], (int, float)) and after[(a, "B8")] == fails
        assert after[(t, f"F{agent_row}")] == fails
        assert isinstance(after[(t, f"F{total_row}")], (int, float))
        assert after[(t, f"F{total_row}")] == before[(t, f"F{total_row}")] \
            - before[(t, f"F{agent_row}")] + fails
    # the evaluations counted, by the agent and the team: every one listed, as before
    assert after[(t, f"B{total_row}")] == before[(t, f"B{total_row}")]
    assert not [k for k, v in after.items() if isinstance(v, str) and v.startswith("#")]
    # the Team sheet reads each evaluation's QA score from its agent's sheet: the edited
    # one's row of its table names the row, and so do the team's QA score, the team mean
    # of the calibration and the edited evaluation's evaluator's mean
    table = next(r for r in range(total_row, team.max_row + 1)
                 if team.cell(r, 1).value == "Evaluation" and team.cell(r, 2).value == "Evaluator")
    listed = next(r for r in range(table + 1, team.max_row + 1)
                  if team.cell(r, 1).value == ws.cell(row, 1).value)
    assert after[(t, f"D{listed}")] == say
    assert after[(t, f"C{total_row}")] == by
    calibration = [r for r in range(total_row + 1, table) if team.cell(r, 1).value
                   and str(team.cell(r, 2).value or "").startswith("=")]
    assert calibration
    for r in calibration:
        assert after[(t, f"D{r}")] == by and after[(t, f"E{r}")] in (None, "")
        mine = team.cell(r, 1).value == team.cell(listed, 2).value
        assert (after[(t, f"C{r}")] == by) if mine else \
            same_cell(after[(t, f"C{r}")], before[(t, f"C{r}")]), (r, after[(t, f"C{r}")])
    # nothing else changed: the item's own points, the agent's figures and the team's
    # row of the agent (and the ranks, which read the agent's QA score) aside
    moved = {(a, f"{c}{row}") for c in "EFG"} | {(a, f"B{section}"), (a, f"G{item}"),
                                                (a, f"H{item}")}
    moved |= {(a, c) for c in ("B5", "B6", "B7", "B8", "C5")}
    moved |= {(t, f"{c}{agent_row}") for c in "BCDF"} | {(t, f"{c}{total_row}") for c in "BDF"}
    moved |= {k for k in before if k[0] == t and k[1][0] == "E" and k[1][1:].isdigit()
              and int(k[1][1:]) < total_row}
    moved |= {(t, f"C{total_row}"), (t, f"D{listed}")}
    moved |= {(t, f"{c}{r}") for r in calibration for c in "CDE"}
    changed = {k for k in before if k not in moved and not same_cell(before[k], after[k])}
    assert not changed, sorted(changed)[:10]


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice not installed")
def test_a_measure_is_refused_where_two_bad_inputs_hide_each_other(tmp_path):
    """Review of h-guard2: a measure reading two inputs each only where the other holds
    (count of rows with a = 1 and c = 1) narrowed each input's rules by the other input's
    value, read from the same bad row. Inputs a and c both 0 to 3 (``Input(lo=0, hi=3)``);
    one row a = 9, c = 9: both break their range, yet a's rule was judged only where
    c = 1 and c's only where a = 1, so the guard stayed silent and the count showed 0,
    a confident number: corrected to a = 1, c = 1 (both in range) the count is 1. The
    row's a and c must not decide where each other's rules apply while they break a rule
    themselves: the measure is #N/A. Recalculated by LibreOffice."""
    from kpi_xl.catalog.expr import Col, Count, Present
    from kpi_xl.catalog.spec import Formula, Input, Kpi, Variant
    from kpi_xl.render.excel import ExcelRenderer
    from kpi_xl.scorecard.libreoffice import recalculated_values

    a, c = Col("a"), Col("c")
    both = Count(a.eq(1) & c.eq(1))
    kpi = Kpi(key="two_flags", excel_name="KPI_TWO_FLAGS", title="t", family="test",
              description="", formula_text="", unit="count", direction="neutral",
              number_format="0",
              inputs=(Input("a", "number", "", lo=0, hi=3, required_when=False),
                      Input("c", "number", "", lo=0, hi=3, required_when=False)),
              variants=(Variant("v", "", Formula(value=Count(Present(a)),
                                                 measures={"both": both})),),
              target=None, target_source="", sources=("test",))
    f = ExcelRenderer(kpi, kpi.default_variant,
                      ranges={"a": "$A$2:$A$3", "c": "$B$2:$B$3"}).render(both)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "a", "c"
    ws["A2"], ws["B2"] = 9, 9           # both out of 0..3: a typo for 1 and 1?
    ws["A3"], ws["B3"] = 0, 2           # a valid row, not counted
    ws["D1"] = f.text
    path = tmp_path / "two.xlsx"
    wb.save(path)
    got = recalculated_values(path)[(ws.title, "D1")]
    assert isinstance(got, str) and got.startswith("#N/A"), (got, f.text)


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice not installed")
def test_a_failed_fatal_item_stays_in_the_fatal_totals(tmp_path_factory):
    """Review of h-guard2. A QA lead scores one compliance (fatal) item of an evaluation 0
    (a failed fatal item) and clears the score of the evaluation's other fatal item (to
    fill in later). The item table then shows a failed fatal item; the agent's 'Fatal
    items failed' (B8) and the Team sheet's fatal fails must not say fewer than 1. On
    a72c487 (main before h-guard2) they say 1 (the unguarded count of the fatal items'
    zeros); on h-guard2 the evaluation's fatal-fails cell is refused (blank, as it reads
    the cleared fatal score) and SUM dropped it: the agent showed 0 fatal fails, as if
    the failure had not happened. Now a total over a refused evaluation is refused too
    (blank): how many fatal items failed is not known until the score is filled in."""
    from scorecard_data import month
    from kpi_xl.scorecard.libreoffice import recalculated_values

    _t, _res, paths = month(str(tmp_path_factory.mktemp("wb")))
    wb = openpyxl.load_workbook(paths[1])
    team, ws = wb["Team"], wb.worksheets[1]
    evals, _sections, items = _qa_sheet_cells(ws)
    # the first evaluation with two scored fatal items that passed
    by_eval: dict = {}
    for r in items:
        if ws.cell(r, 5).value == 1 and isinstance(ws.cell(r, 6).value, (int, float)) \
                and ws.cell(r, 6).value > 0:
            by_eval.setdefault(ws.cell(r, 1).value, []).append(r)
    failed, cleared = next(v for v in by_eval.values() if len(v) >= 2)[:2]
    ws.cell(failed, 6).value = 0
    ws.cell(cleared, 6).value = None
    agent_row = next(r for r in range(6, team.max_row + 1) if team.cell(r, 1).value == ws.title)
    edited = tmp_path_factory.mktemp("lo") / "edited.xlsx"
    wb.save(edited)
    after = recalculated_values(edited)
    # refused (blank) with the evaluation, or at least 1: never fewer than the items
    # failed in plain sight (the fix: a total over a refused evaluation is refused too)
    for key in ((ws.title, "B8"), ("Team", f"F{agent_row}")):
        got = after[key]      # refused: blank, or which item row to check (h-qa)
        assert got in (None, "", f"check item row {cleared}") or got >= 1, (key, got)
    total = next(r for r in range(agent_row, team.max_row + 1) if team.cell(r, 1).value == "Team")
    got = after[("Team", f"F{total}")]
    assert got in (None, "") or got >= 1, got


def test_a_formula_longer_than_excels_limit_is_refused(tmp_path):
    """Excel refuses a formula longer than 8,192 characters (it "repairs" the file and
    drops the formula): a template whose formula is longer once filled is refused, with
    the template, sheet, cell, the formula's length and the limit, before anything is
    written. Here data text compared in the formula (written as "..."&"..." pieces)."""
    p = _one_cell(tmp_path, '=IF(A1={{ label }},1,0)')
    with pytest.raises(TemplateError) as e:
        fill(p, {"label": "x" * 9_000})
    assert re.fullmatch(r"template t\.xlsx, sheet 'Sheet', cell H1: the formula is 9,\d{3} "
                        r"characters long, longer than Excel's limit of 8,192 .*", str(e.value)), \
        str(e.value)
    # within the limit: written
    assert 8_000 < len(fill(p, {"label": "x" * 7_900}).workbook.active["H1"].value) <= 8_192


def test_a_formula_made_too_long_by_a_loop_moving_its_references_is_refused(tmp_path):
    """A formula within the limit in the template can grow when a loop above it moves the
    rows it reads (A20 becomes A117): checked again once the sheet is filled, naming the
    cell where the filled sheet has it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["A2"], ws["A3"] = "{% for x in xs %}", "{{ x }}", "{% endfor %}"
    ws["A20"] = 1
    ws["B10"] = "=" + "+".join(["A20"] * 2_000)          # 8,000 characters
    p = tmp_path / "grow.xlsx"
    wb.save(p)
    # one item: the loop's two marker rows go, A20 is A18 (and B10 is B8)
    assert fill(p, {"xs": [1]}).workbook.active["B8"].value == ws["B10"].value.replace(
        "A20", "A18")
    with pytest.raises(TemplateError) as e:
        fill(p, {"xs": list(range(100))})
    assert re.fullmatch(r"template grow\.xlsx, sheet 'Sheet', cell B107: the formula is "
                        r"10,000 characters long, longer than Excel's limit of 8,192 .*",
                        str(e.value)), str(e.value)


def test_a_formula_reading_nothing_from_the_context_is_rendered_once_per_text():
    """A kpi_formula cell on constants (the QA sheets' evaluation scores, 3,300 characters
    on every evaluation's row) renders to the same text in any context: it is rendered
    once per text, kept by its whole text (two that differ only in their last cell stay
    two). A formula that reads the context is rendered in each: a name, a filter
    (sheetref reads the loops' sheets), a context that replaces kpi_formula."""
    from kpi_xl.scorecard import template as t

    where = t._Where("t.xlsx", "Agent")

    def render(raw, ctx):
        value, is_formula, fmt = t.render_value(raw, ctx, where, "E13")
        assert is_formula and fmt is None
        return value

    base = ("=IFERROR({{ kpi_formula('qa_score', weights='$D$34:$D$34', "
            "scores='$F$34:$F$34', fatal='$E$34:$E$34', max_score='$B$4', "
            "where={'$A$34:$A$34': %s}) }},\"\")")
    a13, a14 = base % "'A13'", base % "'A14'"
    first = render(a13, {"agent": {"name": "Ann"}})
    assert "=A13)" in first and "=A14)" in render(a14, {}) and "A13" not in render(a14, {})
    assert t._RENDERED.get(a13) == first == render(a13, {"agent": {"name": "Bob"}})
    named = base % "cell"                                   # a name from the context
    assert render(named, {"cell": "A13"}) == first
    assert "=A14)" in render(named, {"cell": "A14"}) and named not in t._RENDERED
    sheet = "={{ 'Ann' | sheetref }}!$B$7"                  # a filter reading the loops
    assert render(sheet, {t.LOOP_SHEETS: {"Ann": "Ann"}}) == "='Ann'!$B$7"
    assert render(sheet, {t.LOOP_SHEETS: {"Ann": "Ann (2)"}}) == "='Ann (2)'!$B$7"
    own = {"kpi_formula": lambda *a, **k: "mine"}          # a context replacing the global
    assert render(a13, own) == '=IFERROR("mine","")' and render(a13, {}) == first


def test_a_true_or_false_is_refused_even_after_the_same_call_with_1_or_0():
    """kpi_formula's memo tells True from 1 and False from 0 (Python finds them equal): a
    where-value or an option given as True is refused as a reference, whatever the
    process rendered before (h-rev5: after a call with 1, the call with True gave the
    formula for 1, so one workbook's template error depended on the workbooks written
    before it)."""
    from kpi_xl.scorecard.template import _KPI_FORMULAS, kpi_formula

    _KPI_FORMULAS.clear()
    args = dict(weights="$B$1:$B$5", scores="$C$1:$C$5", fatal="$D$1:$D$5")
    assert "=1)" in str(kpi_formula("qa_score", where={"$A$1:$A$5": 1}, max_score=5, **args))
    with pytest.raises(ValueError, match="where must be a cell or range reference"):
        kpi_formula("qa_score", where={"$A$1:$A$5": True}, max_score=5, **args)
    str(kpi_formula("qa_score", where={"$A$1:$A$5": 0}, max_score=1, **args))
    with pytest.raises(ValueError, match="max_score"):
        kpi_formula("qa_score", where={"$A$1:$A$5": 0}, max_score=True, **args)


def test_kpi_formula_written_without_being_called_is_refused_naming_the_cell(tmp_path):
    """``={{ kpi_formula }}`` wrote the function's text, with a memory address, into the
    workbook as the cell's value (review h-rev5); now the cell is refused, saying how."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "S"
    wb.active["B2"] = "={{ kpi_formula }}"
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(TemplateError) as e:
        fill(tmp_path / "t.xlsx", {})
    assert "B2" in str(e.value) and "without being called" in str(e.value), str(e.value)
    assert "0x" not in str(e.value)
