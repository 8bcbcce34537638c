"""kpi-xl handbook (issue 16 §5): the page for training agents and team leads, generated
from the catalog and the config. Expected values come from the catalog itself (titles,
descriptions, targets and their sources) and from the demo config (kpi_xl/demo.py), or
from a real monthly compute of the demo data, never from numbers typed here."""

from __future__ import annotations


import re
import shutil
import subprocess

import pytest

from markupsafe import escape

from kpi_xl.catalog import CATALOG
from kpi_xl.catalog.format import format_value
from kpi_xl.cli import main
from kpi_xl.config import config_with_sources
from kpi_xl.demo import write_demo
from kpi_xl.handbook import write_handbook

pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("hb") / "demo")


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="kpi" id="([a-z0-9_]+)">', page)


def test_lists_exactly_the_kpis_the_run_computes(demo_config, tmp_path):
    """The handbook's KPIs are the KPIs a real compute of the demo month returns."""
    from kpi_xl.data.load import load
    from kpi_xl.run.month import engine_for

    cfg = config_with_sources(demo_config, [])
    book = write_handbook(cfg, tmp_path / "out", make_pdf=False)
    ds = load(cfg.sources, cfg.load, cfg.choices)
    computed = set(engine_for(cfg, ds.tables).compute("2026-10", 0).table["kpi"].unique())
    page = book.html.read_text(encoding="utf-8")
    assert set(_sections(page)) == computed == set(book.keys)
    assert len(_sections(page)) == len(computed)        # each once
    # a KPI the run does not compute (no data for it, or not bound) is not on the page
    for key in CATALOG:
        if key not in computed:
            assert f'id="{key}"' not in page
    # what each entry says comes from the catalog
    sl = CATALOG["service_level"]
    assert str(escape(sl.description)) in page and str(escape(sl.formula_text)) in page
    assert sl.excel_name in page and str(escape(sl.examples[0])) in page


def test_shows_the_centres_variant_options_and_own_target(demo_config, tmp_path):
    """The demo config chooses service_level's 'offered' variant with threshold 20; with a
    target of 0.85 added for it, the page shows 85.0 %, from the config, not the catalog's
    80 %; csat keeps the catalog's target and its source."""
    text = demo_config.read_text(encoding="utf-8").replace(
        "[kpis.service_level]\n", "[kpis.service_level]\ntarget = 0.85\n")
    cfg_path = demo_config.parent / "own-target.toml"
    cfg_path.write_text(text, encoding="utf-8")
    book = write_handbook(config_with_sources(cfg_path, []), tmp_path / "out", make_pdf=False)
    page = book.html.read_text(encoding="utf-8")
    sl = CATALOG["service_level"]
    entry = page.split('id="service_level"')[1].split("</section>")[0]
    own = format_value(0.85, sl.format_of(sl.variant("offered")))
    assert f"<b>{own}</b>, from your centre&#39;s config" in entry
    assert format_value(sl.target, sl.number_format) not in entry
    assert "<b>offered</b> (chosen in the config)" in entry
    assert "threshold = 20" in entry
    csat = CATALOG["csat"]
    entry = page.split('id="csat"')[1].split("</section>")[0]
    assert format_value(csat.target, csat.number_format) in entry
    assert str(escape(csat.target_source)) in entry
    assert "(the default)" in entry


def test_escapes_a_hostile_centre_name(demo_config, tmp_path):
    text = demo_config.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = "Northwind Support \(demo\)"',
                  'name = "<script>alert(1)</script> & Co"', text, count=1)
    assert "<script>" in text
    cfg_path = demo_config.parent / "hostile.toml"
    cfg_path.write_text(text, encoding="utf-8")
    page = write_handbook(config_with_sources(cfg_path, []), tmp_path / "out",
                          make_pdf=False).html.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co: KPI handbook" in page


def test_cli_writes_only_inside_out(demo_config, tmp_path, monkeypatch, capsys):
    """Run from an empty folder: afterwards the only new files are in --out."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = {p for p in tmp_path.rglob("*")}
    assert main(["handbook", "-c", str(demo_config), "--out", "book"]) == 0
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(p == work / "book" or (work / "book") in p.parents for p in new)
    out = capsys.readouterr().out
    assert "wrote book/handbook.html" in out
    if (work / "book" / "handbook.pdf").exists():
        assert "wrote book/handbook.pdf" in out
        assert (work / "book" / "handbook.pdf").read_bytes()[:5] == b"%PDF-"
    else:                    # no LibreOffice Writer, no Chromium: a sentence, no PDF
        assert "no PDF:" in out and "print it to PDF" in out


def test_without_sources_it_says_what_to_give(tmp_path, capsys):
    assert main(["handbook", "--out", str(tmp_path / "book")]) == 1
    err = capsys.readouterr().err
    assert "no data" in err and "--source PRESET=PATH" in err
    assert not (tmp_path / "book").exists()


def _screenshot(url: str, shot, profile) -> None:
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
           f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1000,1400", url]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium is not installed")
def test_the_page_renders_in_chromium(demo_config, tmp_path):
    """A real browser draws the page (no JavaScript, inline CSS): its screenshot is far
    larger than a blank page's (a blank 1000 x 1400 PNG compresses to a few kB; text and
    boxes do not). """
    book = write_handbook(config_with_sources(demo_config, []), tmp_path / "out",
                          make_pdf=False)
    page = book.html.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page and 'src="http' not in page
    shot, empty = tmp_path / "handbook.png", tmp_path / "blank.png"
    _screenshot(book.html.resolve().as_uri(), shot, tmp_path / "profile")
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>", encoding="utf-8")
    _screenshot(blank.as_uri(), empty, tmp_path / "profile")
    assert shot.is_file() and empty.is_file()
    assert shot.stat().st_size > 4 * empty.stat().st_size


def test_the_template_ships_in_the_wheel():
    """pyproject's package-data globs cover the handbook template (else an installed
    kpi-xl has no template to render)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import kpi_xl

    root = Path(kpi_xl.__file__).parent
    globs = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["kpi_xl"]
    files = [p.relative_to(root).as_posix() for p in (root / "templates" / "handbook").iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)


def test_source_flag_lists_what_the_export_feeds(tmp_path, capsys):
    """--source zendesk=FILE: tickets only (the fixture, tests/fixtures/README), so the
    ticket KPIs are there and the call KPIs (service level needs answer times of calls)
    are not."""
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "zendesk-tickets.csv"
    out = tmp_path / "book"
    assert main(["handbook", "--source", f"zendesk={fixture}", "--out", str(out),
                 "--no-pdf"]) == 0
    keys = _sections((out / "handbook.html").read_text(encoding="utf-8"))
    assert "first_response_time" in keys and "ticket_volume" in keys
    assert "service_level" not in keys and "asa" not in keys
    assert not (out / "handbook.pdf").exists()


def test_without_libreoffice_or_a_browser_it_says_how_to_get_a_pdf(tmp_path, monkeypatch):
    """With neither on the PATH: the page is written, no PDF, and a sentence saying how."""
    from kpi_xl.pdf import NoPdf, html_to_pdf

    page = tmp_path / "out" / "handbook.html"
    page.parent.mkdir()
    page.write_text("<html><body>x</body></html>", encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(NoPdf, match="neither LibreOffice nor a Chromium browser is installed"
                                    r".*print it to PDF"):
        html_to_pdf(page)
    assert sorted(p.name for p in page.parent.iterdir()) == ["handbook.html"]


# -- worked examples (issue 16 §5: "a worked example (the sourced test vector)") ----------
from kpi_xl.catalog.worked import WORKED  # noqa: E402
from kpi_xl.render.words import agrees, worked  # noqa: E402


@pytest.mark.parametrize("key,variant,expected", [(k, v, e) for k, v, _i, e, _s in WORKED],
                         ids=[f"{k}-{v or 'default'}" for k, v, *_ in WORKED])
def test_every_shipped_example_computes_its_sourced_value(key, variant, expected):
    """The handbook's result of each example is the catalog's evaluation of the shipped
    vector, and it equals the vector's sourced expected value (tests/vectors.py runs the
    same vectors through every renderer)."""
    w = worked(key, variant)
    assert w is not None and w.expected == expected
    assert agrees(w, key), (key, w.value, expected)
    kpi = CATALOG[key]
    assert w.result == format_value(w.value, kpi.format_of(kpi.variant(variant)))


def test_every_kpi_of_the_demo_handbook_has_a_worked_example(demo_config, tmp_path):
    book = write_handbook(config_with_sources(demo_config, []), tmp_path / "out",
                          make_pdf=False)
    page = book.html.read_text(encoding="utf-8")
    for key in book.keys:
        entry = page.split(f'id="{key}"')[1].split("</section>")[0]
        assert "<dt>Worked example</dt>" in entry, key
        assert "Source: " in entry, key


def test_nps_example_reads_as_its_source_works_it(demo_config, tmp_path):
    """tests/vectors.py's first NPS vector: 10 answers, one blank; its source works it as
    'promoters 10,9,9,10 = 4, detractors 3,0,6 = 3 -> 100*(4-3)/9' = 11.1, shown in the
    KPI's format "0" as 11. The page shows those numbers in the catalog's own shape of the
    formula, 100 × (share of promoters − share of detractors)."""
    page = write_handbook(config_with_sources(demo_config, []), tmp_path / "out",
                          make_pdf=False).html.read_text(encoding="utf-8")
    entry = page.split('id="nps"')[1].split("</section>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", entry)
    assert cells == ["10", "9", "9", "8", "7", "3", "blank", "0", "10", "6"]
    assert "promoters (scores ≥ 9): <b>4</b>" in entry
    assert "detractors (scores ≤ 6): <b>3</b>" in entry
    assert "rows with scores given: <b>9</b>" in entry
    assert "100 × (4 / 9 − 3 / 9) = <b>11</b>" in entry


def test_example_options_that_differ_from_the_centres_are_said(demo_config, tmp_path):
    """The demo scores QA out of 5 (max_score = 5 in its config); the shipped QA vector
    uses the catalog's default 1: by hand (1·1 + 3·0.5 + 1·1) / (1 × (1 + 3 + 1)) = 70 %,
    with the item marked N/A left out. The page says the example's option differs."""
    page = write_handbook(config_with_sources(demo_config, []), tmp_path / "out",
                          make_pdf=False).html.read_text(encoding="utf-8")
    entry = page.split('id="qa_score"')[1].split("</section>")[0]
    assert "3.5 / (1 × 5) = <b>70.0%</b>" in entry
    assert "catalog's max_score = 1 (this centre: 5)" in entry
