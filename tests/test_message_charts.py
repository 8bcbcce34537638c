"""Issue 16 §1: a message understood in ten seconds. The organisation's message gives the
scorecard's index and each perspective's score (as the workbook computes them), the
headline KPIs against target with status, and each KPI's 13-period trend against target as
an inline PNG (Content-ID, alt text, a text line in the plain part), in the MIME shape
mail clients show: multipart/related inside multipart/alternative. A headless Chromium
renders the HTML part at phone width. Agents' messages point to no file they cannot see.
(Delivery over real SMTP: test_mail.py; the rest of the message: test_mail_message.py.)"""

from __future__ import annotations

import html as htmllib
import re
import subprocess
from functools import lru_cache

import numpy as np
import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.engine import Engine, KpiChoice  # noqa: E402
from kpi_xl.mail.chart import HEIGHT, LINE, OFF, ON, SCALE, WIDTH, trend_png  # noqa: E402
from kpi_xl.mail.message import build, environment, summary  # noqa: E402
from kpi_xl.mail.preview import browser_flags, chromium, inline_html, screenshot  # noqa: E402
from kpi_xl.mail.stakeholders import Delivery, Report, Stakeholder  # noqa: E402
from kpi_xl.png import decode, encode  # noqa: E402
from kpi_xl.scorecard.build import scorecard_context, write_month  # noqa: E402

MONTH, PREVIOUS = "2026-10", "2026-09"
BOSS = Stakeholder("Dana Reyes", "dana@example.com", "Head of service")
AGENT = Stakeholder("Agent", "agent@example.com", scope="agent", agent="")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@lru_cache(maxsize=None)
def _month(folder: str):
    """The sample centre (two teams of four), 13 months of history."""
    from kpi_xl.demo_data import MAX_SCORE, sample_tables

    t = sample_tables(teams=2, agents_per_team=4, contacts_per_month=600)
    res = Engine(t, choices={"qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute(MONTH)
    paths = write_month(res, t, folder, max_score=MAX_SCORE)
    csv = res.write_csv(f"{folder}/{MONTH}/kpi-results.csv")
    table = pd.read_csv(csv, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                        dtype={"key": str, "note": str})
    return res, table, paths


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    return _month(str(tmp_path_factory.mktemp("charts")))


def _boss(month):
    res, table, paths = month
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0]),
                        Report("qa-team:x", "QA workbook", paths[1], team="x")])
    ctx = summary(table, d, MONTH, PREVIOUS, history=res.periods,
                  board=scorecard_context(res, "Acme Support"))
    return d, ctx, _message(d, ctx)


def _message(delivery, ctx):
    files = [(r.path.name, r.path.read_bytes()) for r in delivery.reports]
    return build(delivery, ctx, files, "reports@example.com", "kpi_xl", environment(),
                 "Acme Support")


# ------------------------------------------------------------------ the PNG and the chart
def test_png_round_trip_and_crc():
    """The writer's bytes decode to the same pixels; a flipped byte is caught by the
    chunk's CRC (ISO/IEC 15948 §5.3)."""
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 13
    data = encode(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (decode(data) == rgb).all()
    bad = bytearray(data)
    bad[20] ^= 1                       # inside IHDR's width/height
    with pytest.raises(ValueError, match="CRC"):
        decode(bytes(bad))


def _colour_share(px: np.ndarray, colour) -> float:
    return float((np.abs(px.astype(int) - colour).sum(axis=2) < 30).mean())


def test_the_chart_shows_the_good_side_the_target_and_the_last_status():
    """A 'higher is better' KPI at 0.5 → 0.9 against a target of 0.8: the pale band lies
    above the target (its top rows), not below it; the last dot is green when on target,
    red when off target; a 'lower is better' KPI shades the bottom instead."""
    values = [0.5, 0.6, None, 0.7, 0.9]
    on = decode(trend_png(values, 0.8, "higher", "on target"))
    assert on.shape == (HEIGHT * SCALE, WIDTH * SCALE, 3)
    band = (226, 242, 228)
    assert _colour_share(on[:8], band) > 0.9 and _colour_share(on[-8:], band) == 0
    right = on[:, -30:]
    assert _colour_share(right, ON) > 0.01 and _colour_share(right, OFF) == 0
    off = decode(trend_png(values, 0.8, "higher", "off target"))
    assert _colour_share(off[:, -30:], OFF) > 0.01 and _colour_share(off[:, -30:], ON) == 0
    low = decode(trend_png(values, 0.8, "lower", "off target"))
    assert _colour_share(low[-8:], band) > 0.9 and _colour_share(low[:8], band) == 0
    # the missing third month breaks the line: no line colour in the middle column
    middle = on[:, on.shape[1] // 2 - 2:on.shape[1] // 2 + 2]
    assert _colour_share(middle, LINE) == 0
    assert _colour_share(on, LINE) > 0.01
    assert trend_png([None, None], 0.8, "higher") is None


def test_the_same_figures_give_the_same_chart_bytes():
    a = trend_png([1.0, 2.0, 3.0], 2.5, "lower", "off target")
    assert a == trend_png([1.0, 2.0, 3.0], 2.5, "lower", "off target")


# ------------------------------------------------------------------ the message
def test_mime_shape_related_inside_alternative(month):
    """multipart/mixed[ multipart/alternative[ text/plain, multipart/related[ text/html,
    image/png × charts ] ], the workbooks ]: every chart the HTML shows by cid: is a part
    with that Content-ID, every image part is shown, and the workbooks are attached
    byte for byte."""
    d, ctx, msg = _boss(month)
    assert msg.get_content_type() == "multipart/mixed"
    alt, *attached = msg.iter_parts()
    assert alt.get_content_type() == "multipart/alternative"
    plain, related = alt.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert images and all(p.get_content_type() == "image/png" for p in images)
    assert all(p.get_content_disposition() == "inline" for p in images)
    html = html_part.get_content()
    shown = re.findall(r'src="cid:([^"]+)"', html)
    assert sorted(shown) == sorted(p["Content-ID"].strip("<>") for p in images)
    assert len(shown) == len([k for k in ctx["headline"] if k["trend"]]) >= 8
    for p in images:
        assert decode(p.get_content()).shape == (HEIGHT * SCALE, WIDTH * SCALE, 3)
    assert [p.get_content_type() for p in attached] == [XLSX, XLSX]
    assert [p.get_content() for p in attached] == [r.path.read_bytes() for r in d.reports]


def test_each_chart_has_alt_text_and_a_text_line(month):
    """Alt text in words (first and last value, target, status) for clients that block
    images; the plain part carries the same trend as a line of text."""
    res, _table, _paths = month
    _d, ctx, msg = _boss(month)
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    sl = next(k for k in ctx["headline"] if k["key"] == "service_level")
    first, last = res.value("service_level", period=res.periods[0]), res.value("service_level")
    # the sample's service level is a share, format 0.0%
    want = (f"Service level, 13 months: {first * 100:.1f}% in October 2025, "
            f"{last * 100:.1f}% in October 2026; target {sl['target_text']}, {sl['status']}")
    assert sl["trend"]["alt"] == want
    assert f'alt="{htmllib.escape(want)}"' in html
    assert f"  {sl['trend']['text']}\n" in text
    assert sl["trend"]["text"].endswith(f"{first * 100:.1f}% (October 2025) -> {last * 100:.1f}%")
    assert re.match(r"^[▁▂▃▄▅▆▇█·]{13}  ", sl["trend"]["text"])


def test_perspective_scores_are_the_workbooks(month):
    """The message's perspective scores and statuses equal the scorecard sheet's cached
    C8:D11 (the workbook's own formulas, evaluated when it was written): the message
    reuses the scorecard's context, and score_status restates the sheet's status formula
    deliberately, held equal here."""
    _res, _table, paths = month
    _d, ctx, msg = _boss(month)
    ws = openpyxl.load_workbook(paths[0], data_only=True)["Scorecard"]
    sheet = []
    for r in range(8, 12):
        score = ws[f"C{r}"].value
        fmt = ws[f"C{r}"].number_format
        assert fmt == "0%"
        sheet.append((ws[f"A{r}"].value,
                      f"{score * 100:.0f}%" if isinstance(score, (int, float)) else "",
                      ws[f"D{r}"].value))
    assert [(p["name"], p["score_text"], p["status"]) for p in ctx["perspectives"]] == sheet
    text = msg.get_body(("plain",)).get_content()
    for name, score, status in sheet:
        assert f"- {name}: {score or '–'} ({status})" in text


def test_no_perspectives_without_the_scorecard(month):
    res, table, paths = month
    d = Delivery(BOSS, [Report("qa-team:x", "QA workbook", paths[1], team="x")])
    ctx = summary(table, d, MONTH, PREVIOUS, history=res.periods,
                  board=scorecard_context(res, "Acme Support"))
    assert ctx["index"] is None and ctx["perspectives"] == []


def test_agents_are_not_pointed_to_files_they_cannot_see(month):
    """Before: every message ended "rows that could not be used are listed in
    rejects.csv next to the workbooks", a file in the output folder that an agent (or a
    team lead) never sees. Now only the organisation's message says so."""
    res, table, paths = month
    agent = str(table.loc[table["level"] == "agent", "key"].iloc[0])
    who = Stakeholder(agent, "agent@example.com", scope="agent", agent=agent)
    d = Delivery(who, [Report(f"qa-agent:{agent}", "QA sheet", paths[1], agent=agent)])
    msg = _message(d, summary(table, d, MONTH, PREVIOUS, history=res.periods))
    for body in (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()):
        assert "rejects.csv" not in body
    _d, _ctx, boss = _boss(month)
    assert "rejects.csv" in boss.get_body(("plain",)).get_content()


def test_an_agents_figures_read_as_on_their_sheet(month, tmp_path):
    """Every figure of an agent's message reads as the same KPI on the sheet attached
    (its "Operational KPIs this month" rows: the cached value in the cell's own number
    format, Agent and Target columns), so the two never disagree."""
    from kpi_xl.catalog.format import format_value
    from kpi_xl.scorecard.build import agent_workbook

    res, table, paths = month
    wb = openpyxl.load_workbook(paths[1], read_only=True)
    agent = next(ws["A1"].value[4:] for ws in wb.worksheets if ws.title != "Team")
    wb.close()
    cut = agent_workbook(paths[1], agent, tmp_path / "cut.xlsx")
    who = Stakeholder(agent, "agent@example.com", scope="agent", agent=agent)
    d = Delivery(who, [Report(f"qa-agent:{agent}", "QA sheet", cut, agent=agent)])
    ctx = summary(table, d, MONTH, PREVIOUS, history=res.periods)
    ws = openpyxl.load_workbook(cut, data_only=True).worksheets[0]
    shown = {}
    for row in ws.iter_rows():
        if isinstance(row[0].value, str) and isinstance(row[1].value, (int, float)):
            shown.setdefault(row[0].value, (format_value(row[1].value, row[1].number_format),
                                            "" if row[3].value is None else
                                            format_value(row[3].value, row[3].number_format)))
    both = [k for k in ctx["headline"] if k["title"] in shown]
    assert len(both) >= 5, [k["title"] for k in ctx["headline"]]
    for k in both:
        assert (k["value_text"], k["target_text"]) == shown[k["title"]], k["title"]


def test_charts_off_gives_the_text_alone(month):
    """Without charts (``charts=False``) the message is multipart/alternative with no
    related part, and the plain part still carries each trend line."""
    res, table, paths = month
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])])
    ctx = summary(table, d, MONTH, PREVIOUS, history=res.periods, charts=False)
    msg = _message(d, ctx)
    alt = next(msg.iter_parts())
    assert [p.get_content_type() for p in alt.iter_parts()] == ["text/plain", "text/html"]
    assert "cid:" not in msg.get_body(("html",)).get_content()
    assert ctx["headline"][0]["trend"]["text"] in msg.get_body(("plain",)).get_content()


def test_changes_of_percentages_are_points():
    """A change of a share is in percentage points, with the value's decimals: 64.7% →
    69.2% is +4.5 points (not "+4.5%", a relative change, nor "+7.0%", the relative one);
    a score's change keeps its format (3.89 → 3.95: +0.06), seconds keep " s". The
    templates' filter and the changes block say it the same way (one format_change)."""
    from kpi_xl.mail.message import change_filter

    assert change_filter(0.692 - 0.647, "0.0%") == "+4.5 points"
    assert change_filter(0.080 - 0.091, "0.0%") == "-1.1 points"
    assert change_filter(3.95 - 3.89, "0.00") == "+0.06"
    assert change_filter(19.4 - 14.6, '0.0" s"') == "+4.8 s"
    assert change_filter(1234, "#,##0") == "+1,234"
    assert change_filter(-0.0001, "0.0%") == "0.0 points"          # no "-0.0"
    assert change_filter(None, "0.0%") == "–"
    assert environment().from_string('{{ d | change("0.0%") }}').render(d=0.01) == "+1.0 point"


# ------------------------------------------------------------------ a real browser
PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="m" style="width:{w}px;height:5000px;border:0" srcdoc="{doc}"></iframe>
<script>window.addEventListener('load', () => {{
  const d = document.getElementById('m').contentDocument;
  const imgs = [...d.images];
  document.body.setAttribute('data-probe', JSON.stringify({{
    width: d.documentElement.scrollWidth,
    images: imgs.map(i => [i.naturalWidth, i.naturalHeight, i.width, i.alt.length])}}));
}});</script></body></html>"""


def test_html_part_renders_on_a_phone_in_chromium(month, tmp_path):
    """Headless Chromium lays the HTML part out 375 px wide (an iPhone's width): nothing
    is wider than the screen, and every chart decodes (the browser reads the PNG writer's
    bytes: 320 × 80 pixels, shown 160 px wide) and has alt text. A screenshot is kept
    beside the test's files, to look at."""
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; "
                    ".ci/run installs it)")
    import json

    _d, _ctx, msg = _boss(month)
    html = inline_html(msg)
    page = tmp_path / "probe.html"
    page.write_text(PROBE.format(w=375, doc=htmllib.escape(html, quote=True)), encoding="utf-8")
    dom = subprocess.run(browser_flags(exe, tmp_path / "profile") + ["--dump-dom", page.as_uri()],
                         capture_output=True,
                         text=True, timeout=120, check=True).stdout
    got = re.search(r'data-probe="([^"]*)"', dom)
    assert got, dom[-500:]
    probe = json.loads(htmllib.unescape(got.group(1)))
    assert probe["width"] <= 375, f"the message is {probe['width']} px wide on a 375 px phone"
    assert len(probe["images"]) >= 8
    for natural_w, natural_h, shown_w, alt in probe["images"]:
        assert (natural_w, natural_h, shown_w) == (WIDTH * SCALE, HEIGHT * SCALE, WIDTH)
        assert alt > 20
    shot = screenshot(html, tmp_path / "phone.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
