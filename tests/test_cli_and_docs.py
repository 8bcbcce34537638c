"""The command line, and README's promises: the reference equals the catalog's, the two
commands are where .ci/run and users find them."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_xl.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def test_readme_reference_is_generated_from_the_catalog():
    import update_readme
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update_readme.render(text) == text, "run: python scripts/update_readme.py"


def test_readme_has_both_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        block = re.search(re.escape(marker) + r"\n```bash\n(.+?)\n```", text)
        assert block, marker
    assert "kpi-xl demo" in text and "pytest" in text


def test_demo_runs_the_whole_month(tmp_path, capsys):
    pytest.importorskip("duckdb")
    pytest.importorskip("jinja2")
    folder, out = tmp_path / "demo", tmp_path / "wb"
    assert main(["demo", "--folder", str(folder), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "contacts.csv: 78,000 rows read = 78,000 used + 0 rejected" in text
    assert "Done: Northwind Support (demo), 2026-10" in text
    # the head of service, six team leads, the Payments queue manager and one agent
    assert "9 sent, 0 skipped (already sent), 0 failed" in text
    month = out / "2026-10"
    books = sorted(p.name for p in month.glob("*.xlsx"))
    assert books[0] == "balanced-scorecard-2026-10.xlsx" and len(books) == 8
    assert "queue-Payments-2026-10.xlsx" in books
    assert len(list((month / "outbox").glob("*.eml"))) == 9
    from openpyxl import load_workbook

    assert load_workbook(month / books[0], read_only=True).sheetnames == [
        "Scorecard", "By Queue", "By Topic"]
    assert (month / "kpi-results.csv").is_file() and (month / "rejects.csv").is_file()
    first = {p.name: p.read_bytes() for p in month.glob("*.xlsx")}
    # idempotent: run again, the same workbooks; the mail is not sent twice
    assert main(["demo", "--folder", str(folder), "--out", str(out)]) == 0
    assert "0 sent, 9 skipped" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in month.glob("*.xlsx")} == first


def test_init_writes_a_starter_that_validates_its_own_syntax(tmp_path, capsys):
    target = tmp_path / "kpi_xl.toml"
    assert main(["init", str(target)]) == 0
    assert main(["init", str(target)]) == 1 and "use --force" in capsys.readouterr().err
    import tomllib

    from kpi_xl.config import parse_config

    cfg = parse_config(tomllib.loads(target.read_text(encoding="utf-8")), tmp_path)
    assert cfg.sources[0].preset == "zendesk"


def test_kpis_lists_and_details(capsys):
    assert main(["kpis"]) == 0
    assert "KPI_SERVICE_LEVEL" in capsys.readouterr().out
    assert main(["kpis", "service_level"]) == 0
    out = capsys.readouterr().out
    assert "exclude_short_abandons" in out and "ICMI" in out
    # how agents and team leads move it: the catalog's levers, with their source
    assert "how to move it: Planners: staff each interval" in out
    assert "'How to Better Meet Your Service Level Target'" in " ".join(out.split())


def test_unknown_kpi_is_a_sentence_not_a_trace(capsys):
    assert main(["kpis", "nope"]) == 1
    err = capsys.readouterr().err
    assert "must be a key of the catalog" in err and "Traceback" not in err


def test_help_teaches_with_examples():
    out = subprocess.run([sys.executable, "-m", "kpi_xl.cli", "--help"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert "examples:" in out and "kpi-xl demo" in out


def test_example_workbook_formulas_match_the_stored_values():
    """The shipped example holds each formula beside the value kpi_xl computed; re-evaluating
    the formula's ranges from the file's own data gives that value (the file is current)."""
    import openpyxl

    from kpi_xl import CATALOG
    path = ROOT / "workbooks" / "kpi-functions-example.xlsx"
    wb = openpyxl.load_workbook(path)
    ws, data = wb["KPIs"], wb["Calls"]
    funcs = {k.excel_name: k for k in CATALOG.values()}
    import kpi_xl.xl.functions as xlf
    checked = 0
    header = [c.value for c in ws[1]]
    f_col, v_col = header.index("Formula (live with kpi_xl)"), header.index("Value kpi_xl computed")
    for row in ws.iter_rows(min_row=2, values_only=True):
        formula, stored = row[f_col], row[v_col]
        if not isinstance(formula, str) or not formula.startswith("=KPI_") or stored is None:
            continue
        name, args = re.match(r"=(\w+)\((.*)\)", formula).groups()
        values = []
        for a in args.split(","):
            m = re.match(r"Calls!([A-Z])2:\1(\d+)", a)
            if m:
                values.append([c.value for c in data[m.group(1)][1:int(m.group(2))]])
            else:
                values.append(a.strip('"') if a.startswith('"') else float(a))
        assert name in funcs
        import pytest
        assert getattr(xlf, name)(*values) == pytest.approx(stored, rel=1e-12), formula
        checked += 1
    assert checked >= 10
