"""Issue 10, "Numbers you can trust", in the scorecard workbooks: a month without data is
blank, never scored; the index says which perspectives it leaves out; the chart leaves gaps
and draws straight lines; the KPIs' chosen variants give the format, direction, unit and
the units worst cases and targets are checked in; a partial month says so in every title.

The history's scores are computed in Python (layout.weighted), the current month's by the
workbook's formulas: the tests below hold the two to one rule, month by month.
(test_scorecard_libreoffice.py and the last test here recalculate in LibreOffice.)"""

from __future__ import annotations

import math
import re
import zipfile
from functools import lru_cache

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.engine import Engine, KpiChoice  # noqa: E402
from kpi_xl.engine.results import Results  # noqa: E402
from kpi_xl.scorecard.build import TEMPLATES, scorecard_context, write_month  # noqa: E402
from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.layout import DEFAULT, Layout, Line, Perspective, weighted  # noqa: E402
from kpi_xl.scorecard.template import TemplateError, fill  # noqa: E402

MONTH = "2026-10"
WITH_DATA = ("2026-08", "2026-09", "2026-10")


@lru_cache(maxsize=None)
def _sparse():
    """Ten months with no contacts, QA or business figures, only the roster (so agent
    turnover has a value every month), and one agent leaving in 2026-03; the last three
    months complete."""
    from kpi_xl.demo_data import MAX_SCORE, sample_tables

    t = sample_tables(teams=2, agents_per_team=4, contacts_per_month=600)
    for name, col in (("contacts", "period"), ("qa", "period"), ("business", "month")):
        t[name] = t[name][t[name][col].astype(str).isin(WITH_DATA)].reset_index(drop=True)
    roster = t["roster"].copy()
    roster["left"] = pd.NaT
    roster.loc[0, "left"] = pd.Timestamp("2026-03-10")
    t["roster"] = roster
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute(MONTH)
    return t, res


def _history(ws) -> dict[str, list]:
    """The history table of a generated scorecard: month -> the row's values."""
    rows, on = {}, False
    for row in ws.iter_rows(values_only=True):
        if row[0] == "Month":
            on = True
            continue
        if on and isinstance(row[0], str) and re.fullmatch(r"\d{4}-\d{2}", row[0]):
            rows[row[0]] = list(row[:7])
    return rows


# ------------------------------------------------------------------ (1) history
def test_months_without_contacts_are_not_scored():
    """Before: the ten months with only agent turnover scored 100 % (turnover 0 is on
    target, and it was the only KPI with a value), and 2026-03, when one agent of eight
    left (1/8 × 12 = 150 % annualised, above the 60 % worst case), scored 0 %."""
    _t, res = _sparse()
    turnover = res.frame("organisation")
    turnover = turnover[turnover.kpi == "agent_turnover"].set_index("period")["value"]
    assert turnover["2026-03"] == pytest.approx(1 / ((8 + 7) / 2) * 12)   # leavers / mean headcount × 12
    assert turnover["2026-02"] == 0.0
    ctx = scorecard_context(res, "X")
    by_month = {h["month"]: h for h in ctx["history"]}
    for m in res.periods:
        if m in WITH_DATA:
            assert by_month[m]["overall"] is not None and by_month[m]["left_out"] == "", m
        else:
            assert by_month[m]["overall"] is None, m          # not 1.0, not 0.0
            assert by_month[m]["scores"] == [None] * 4, m      # Learning: turnover alone
            assert by_month[m]["left_out"] == "too little data for an index"


def test_history_rows_are_blank_and_the_chart_leaves_gaps(tmp_path):
    t, res = _sparse()
    path = write_month(res, t, tmp_path)[0]
    ws = openpyxl.load_workbook(path, data_only=True)["Scorecard"]
    hist = _history(ws)
    assert list(hist) == res.periods
    for m, row in hist.items():
        if m in WITH_DATA:
            assert all(isinstance(v, float) for v in row[1:6]), row
        else:
            assert row[1:6] == [None] * 5, row                  # empty cells: chart gaps
            assert row[6] == "too little data for an index"
    with zipfile.ZipFile(path) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 1
    assert '<c:dispBlanksAs val="gap"' in charts[0] or '<dispBlanksAs val="gap"' in charts[0]
    series = re.findall(r"<(?:c:)?ser>.*?</(?:c:)?ser>", charts[0], re.S)
    assert len(series) == 5
    for s in series:           # Excel smooths a line series whose smooth flag is missing
        assert re.search(r'<(?:c:)?smooth val="0"', s), s[:200]


def test_a_perspective_without_data_says_so_and_the_index_names_it(tmp_path):
    """No business figures at all: Financial has no KPI value; the index weights the
    other three perspectives and says it leaves Financial out, in the workbook (formula)
    and in the Python history (same words)."""
    t, res = _sparse()
    t = {**t, "business": t["business"].iloc[0:0]}
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": 5})}).compute(MONTH)
    ctx = scorecard_context(res, "X")
    last = ctx["history"][-1]
    assert last["scores"][0] is None and last["left_out"] == "leaves out Financial"
    # the index: Σ weight × score over Customer (30), Process (30), Learning (20)
    want = (30 * last["scores"][1] + 30 * last["scores"][2] + 20 * last["scores"][3]) / 80
    assert last["overall"] == pytest.approx(want)
    path = write_month(res, t, tmp_path)[0]
    ws = openpyxl.load_workbook(path, data_only=True)["Scorecard"]
    assert ws["A8"].value == "Financial" and ws["D8"].value == "no data"
    assert ws["C8"].value in (None, "")
    assert ws["B4"].value == pytest.approx(last["overall"], rel=1e-12)
    assert ws["E4"].value == "leaves out Financial"
    assert _history(ws)[MONTH][6] == "leaves out Financial"


def _workbook_scores(results: Results, layout: Layout, tmp_path):
    """The workbook's own (formula) perspective scores and index for results.month."""
    ctx = scorecard_context(results, "X", layout)
    out = tmp_path / f"sc-{results.month}.xlsx"
    values = save_with_values(fill(TEMPLATES / "balanced-scorecard.xlsx", ctx).workbook, out)
    ws = openpyxl.load_workbook(out)["Scorecard"]
    scores = [values[("Scorecard", f"C{r}")] for r in range(8, 12)]
    status = [values[("Scorecard", f"D{r}")] for r in range(8, 12)]
    assert [ws[f"C{r}"].value for r in range(8, 12)][0].startswith("=H")   # formulas
    return ctx, [None if s in ("", None) else s for s in scores], status, \
        values[("Scorecard", "B4")], values[("Scorecard", "E4")]


@pytest.mark.parametrize("cover", [0.5, 0.3, 1.0])
def test_one_rule_month_by_month(tmp_path, cover):
    """For every month of the history, the workbook made for that month (its formulas,
    evaluated) gives the perspective scores, the index and the note that the history of
    the October workbook shows for it (layout.weighted and layout.left_out): one rule."""
    _t, res = _sparse()
    layout = Layout(DEFAULT.perspectives, min_coverage=cover)
    history = {h["month"]: h for h in scorecard_context(res, "X", layout)["history"]}
    t = res.table
    checked = 0
    for i, m in enumerate(res.periods):
        if i not in (0, 5, 9, 10, 12):
            continue
        sub = Results(t[t.period.astype(str) <= m], m, res.periods[:i + 1], res.skipped)
        _ctx, scores, status, index, note = _workbook_scores(sub, layout, tmp_path)
        h = history[m]
        for a, b in zip(scores, h["scores"], strict=True):
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12), (m, a, b)
        if h["overall"] is None:
            assert index in ("", None), m
        else:
            assert index == pytest.approx(h["overall"], rel=1e-12), m
        assert (note or "") == h["left_out"], m
        if m not in WITH_DATA:
            # Learning has turnover (40 of 100): "too little data" at 50 % and 100 %;
            # at 30 % turnover alone is enough (a deliberate, configured choice)
            assert status[3] == ("too little data" if cover > 0.4 else status[3])
            assert status[:3] == ["no data"] * 3
        checked += 1
    assert checked == 5


def test_weighted_is_the_coverage_rule():
    # hand-derived: scores 1.0 (w 40) and 0.5 (w 20) of 100 → covered 60 ≥ 50:
    # (40·1 + 20·0.5) / 60 = 50/60
    assert weighted([(40, 1.0), (20, 0.5), (40, None)], 0.5) == pytest.approx(50 / 60)
    assert weighted([(40, 1.0), (60, None)], 0.5) is None          # 40 < 50
    assert weighted([(50, 0.2), (50, None)], 0.5) == pytest.approx(0.2)   # 50 ≥ 50
    assert weighted([(50, None), (50, None)], 0.5) is None
    assert weighted([(40, 0.0), (60, None)], 0.4) == 0.0


# ------------------------------------------------------------------ (2) variants
@lru_cache(maxsize=None)
def _csat_mean():
    from kpi_xl.demo_data import MAX_SCORE, sample_tables

    t = sample_tables(teams=2, agents_per_team=4, contacts_per_month=600)
    res = Engine(t, choices={"csat": KpiChoice(variant="mean"),
                             "qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute(MONTH)
    return t, res


def test_scorecard_uses_the_chosen_variant(tmp_path):
    """Before: CSAT's mean (≈ 3.9 on the 1–5 scale) was formatted 0.0% ("388.8%"), its
    worst case was top-2-box's 0.5 and the index scored it against it."""
    t, res = _csat_mean()
    actual = res.value("csat")
    assert 1 <= actual <= 5
    paths = write_month(res, t, tmp_path)
    ws = openpyxl.load_workbook(paths[0], data_only=True)["Scorecard"]
    row = next(r for r in ws.iter_rows() if r[0].value == "Customer satisfaction (CSAT)")
    worst, target, value, change = row[2], row[3], row[4], row[6]
    assert value.value == pytest.approx(actual) and value.number_format == "0.00"
    assert worst.value == 3.0 and target.value == 4.0           # the mean's, not 0.5 / 0.8
    assert {worst.number_format, target.number_format, change.number_format} == {"0.00"}
    assert row[7].value == pytest.approx(min(1, max(0, (actual - 3) / (4 - 3))))
    qa = openpyxl.load_workbook(paths[1], data_only=True)
    agent = next(ws for ws in qa.worksheets if ws.title != "Team")
    krow = next(r for r in agent.iter_rows() if r[0].value == "Customer satisfaction (CSAT)")
    assert krow[1].number_format == "0.00" and krow[3].value == 4.0
    assert krow[3].number_format == "0.00"


def test_variant_direction_worst_and_target_reach_the_scorecard():
    """CES 'effort5' is lower-is-better on a 1–5 scale, target 2: the scorecard line
    carries that, and the shipped layout's worst case for it (4), not agreement7's 3.5."""
    t, _ = _csat_mean()
    res = Engine(t, choices={"ces": KpiChoice(variant="effort5")}, kpis=["ces"]).compute(MONTH)
    table = res.table
    assert set(table["direction"].astype(str)) == {"lower"}
    ctx = scorecard_context(res, "X")
    ces = next(k for p in ctx["perspectives"] for k in p["kpis"] if k["key"] == "ces")
    assert (ces["direction"], ces["worst"], ces["target"], ces["number_format"]) == \
        ("lower", 4.0, 2.0, "0.00")


def test_worst_cases_and_targets_are_checked_in_the_variants_unit():
    def problems(lines, choices=None):
        return "\n".join(Layout((Perspective("Customer", 100, lines),)).validate(choices))

    csat_pct = problems((Line("csat", 50, 50.0), Line("fcr", 50, 0.5, target=75.0)))
    assert "csat (variant top2box): the worst case 50 looks like a whole-number " \
        "percentage; write it as a fraction: 0.5 means 50 %" in csat_pct
    assert "fcr: the target 75 looks like a whole-number percentage; write it as a " \
        "fraction: 0.75 means 75 %" in csat_pct
    # CSAT's mean is a score on the 1–5 scale: 0.5 is outside it, 3 is fine
    mean = {"csat": KpiChoice(variant="mean")}
    assert "the worst case 0.5 must be from 1 to 5 (the variant is a mean score on the " \
        "answers' scale)" in problems((Line("csat", 100, 0.5),), mean)
    assert problems((Line("csat", 100, 3.0),), mean) == ""
    # and its scale follows the option: on a 10-point scale, 8 is a fine worst case
    ten = {"csat": KpiChoice(variant="mean", params={"scale_max": 10}, target=9.0)}
    assert problems((Line("csat", 100, 8.0),), ten) == ""
    # CES effort5 (1–5, lower is better): a worst case below the target is refused
    effort = {"ces": KpiChoice(variant="effort5")}
    text = problems((Line("ces", 100, 1.5),), effort)
    assert "lower is better, so the worst case (1.50) must be above the target (2.00)" in text
    # a ratio of period totals may pass 100 % (net revenue retention 110 %), not 500 %
    assert problems((Line("nrr", 100, 0.9, target=1.1),)) == ""
    assert "0.9 means 90 %" in problems((Line("nrr", 100, 90.0),))
    assert "must be from 0 to 5 (a ratio of period totals)" in \
        problems((Line("nrr", 100, 900.0),))
    # the shipped layout carries worst cases for the other variants
    assert DEFAULT.validate({"csat": KpiChoice(variant="mean"),
                             "ces": KpiChoice(variant="effort5")}) == []


def test_config_checks_the_default_layout_against_the_chosen_variants():
    from kpi_xl.config import parse_config
    from kpi_xl.data.sources import ConfigError

    src = {"sources": [{"preset": "zendesk", "path": "x.csv"}]}
    cfg = parse_config({**src, "kpis": {"csat": {"variant": "mean"}}})
    line = next(x for p in cfg.layout.perspectives for x in p.lines if x.kpi == "csat")
    assert line.worst_for("mean") == 3.0
    with pytest.raises(ConfigError) as e:
        parse_config({**src, "kpis": {"csat": {"variant": "mean"}}, "scorecard": {
            "min_coverage": 0.5, "perspectives": [{"name": "Customer", "weight": 100, "kpis": [
                {"kpi": "csat", "weight": 100, "worst": 0.5}]}]}})
    assert "scorecard, Customer: csat (variant mean): the worst case 0.5 must be from 1 to 5 " \
        "(the variant is a mean score on the answers' scale)" in "\n".join(e.value.problems)
    with pytest.raises(ConfigError) as e:
        parse_config({**src, "scorecard": {"min_coverage": 0}})
    assert "min_coverage must be above 0" in "\n".join(e.value.problems)


# ------------------------------------------------------------------ (3) partial data
NOTE = "contacts has 1,200 rows in 2026-10, usually 8,400"


def test_partial_data_is_said_in_every_title(tmp_path):
    t, res = _csat_mean()
    paths = write_month(res, t, tmp_path / "p", partial=NOTE)
    banner = f"partial data: {NOTE}"
    sc = openpyxl.load_workbook(paths[0])["Scorecard"]
    assert sc["A3"].value == banner
    for path in paths[1:]:
        wb = openpyxl.load_workbook(path)
        assert wb["Team"]["D3"].value == banner
        for ws in wb.worksheets[1:]:
            assert ws["A3"].value == banner, ws.title
    # without a note: nothing said, nothing changed
    plain = write_month(res, t, tmp_path / "c")
    assert openpyxl.load_workbook(plain[0])["Scorecard"]["A3"].value is None
    assert all(c.value is None or "partial" not in str(c.value)
               for ws in openpyxl.load_workbook(plain[1]).worksheets
               for row in ws.iter_rows(max_row=6) for c in row)


def test_a_template_that_would_hide_partial_data_is_refused(tmp_path):
    import shutil

    t, res = _csat_mean()
    folder = tmp_path / "tpl"
    shutil.copytree(TEMPLATES, folder, ignore=shutil.ignore_patterns("email"))
    wb = openpyxl.load_workbook(folder / "balanced-scorecard.xlsx")
    wb["Scorecard"]["A3"] = None                     # a restyled copy without the banner
    wb.save(folder / "balanced-scorecard.xlsx")
    with pytest.raises(TemplateError, match=r"balanced-scorecard.xlsx, sheet 'Scorecard': "
                                            r"the data is partial but the sheet does not say so"):
        write_month(res, t, tmp_path / "o", templates=folder, partial=NOTE)
    assert write_month(res, t, tmp_path / "o2", templates=folder)      # complete data: fine


# ------------------------------------------------------------------ LibreOffice
@pytest.mark.libreoffice
def test_libreoffice_agrees_with_the_cached_index_and_notes(tmp_path):
    from kpi_xl.scorecard.libreoffice import recalculated_values, soffice

    if soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    t, res = _sparse()
    t = {**t, "business": t["business"].iloc[0:0]}
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": 5})}).compute(MONTH)
    path = write_month(res, t, tmp_path, partial=NOTE)[0]
    lo = recalculated_values(path)
    cached = openpyxl.load_workbook(path, data_only=True)["Scorecard"]
    differ = []
    for (sheet, cell), v in lo.items():
        c = cached[cell].value
        same = (c in (None, "") and v in (None, "")) or (
            isinstance(c, float) and isinstance(v, (int, float)) and math.isclose(c, v, rel_tol=1e-9)
        ) or c == v
        if not same:
            differ.append((cell, c, v))
    assert differ == []
    assert lo[("Scorecard", "E4")] == "leaves out Financial"
    assert lo[("Scorecard", "D8")] == "no data"
