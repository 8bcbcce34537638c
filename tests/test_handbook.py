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
