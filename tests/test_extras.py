"""Each command with only the extras it needs: `compute` and `validate` need [engine];
`scorecard`, `run` and `demo` need [engine] and [workbooks] (openpyxl writes the
workbooks, jinja2 fills their templates and the messages). A command missing an extra
says which to install, and exits 3, with no traceback; one that has what it needs runs
(a user who installed ``kpi-xl[engine]`` to compute found `kpi-xl compute` on a config
with dimensions ending in ModuleNotFoundError: jinja2, from the member tables' headline
KPIs, which lived in the message module)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: runs kpi-xl with some modules made impossible to import, as if not installed
RUNNER = textwrap.dedent("""
    import sys
    blocked = set(sys.argv[1].split(","))

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    from kpi_xl.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def kpi_xl(blocked: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, blocked, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory) -> Path:
    """The demo's exports and config (with its queue and topic dimensions)."""
    from kpi_xl.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("extras") / "demo")


def test_compute_needs_no_workbook_extra(demo_config):
    got = kpi_xl("jinja2,openpyxl", "compute", "-c", str(demo_config), "--month", "2026-10",
                 "--out", "out", cwd=demo_config.parent)
    assert got.returncode == 0, got.stderr
    assert "Traceback" not in got.stderr
    assert "By queue, 2026-10:" in got.stdout         # the dimension tables are printed
    assert (demo_config.parent / "out" / "2026-10" / "kpi-results.csv").exists()


@pytest.mark.parametrize("command", ["scorecard", "run"])
def test_a_command_missing_the_workbooks_extra_says_which_to_install(demo_config, command):
    got = kpi_xl("jinja2", command, "-c", str(demo_config), "--month", "2026-10",
                 "--out", "out-" + command, cwd=demo_config.parent)
    assert got.returncode == 3, got.stderr
    assert "Traceback" not in got.stderr
    assert "jinja2" in got.stderr and "pip install 'kpi-xl[workbooks]'" in got.stderr
    assert not (demo_config.parent / ("out-" + command)).exists()      # nothing written


def test_demo_missing_the_workbooks_extra_says_which_to_install(tmp_path):
    got = kpi_xl("openpyxl", "demo", cwd=tmp_path)
    assert got.returncode == 3, got.stderr
    assert "Traceback" not in got.stderr
    assert "openpyxl" in got.stderr and "pip install 'kpi-xl[workbooks]'" in got.stderr


def test_map_and_templates_say_which_extra_they_need(tmp_path):
    """`kpi-xl map` reads the export with pandas ([engine]); `kpi-xl templates` copies
    the templates through the workbook writer ([workbooks]). Before, both stopped with a
    ModuleNotFoundError traceback."""
    export = tmp_path / "calls.csv"
    export.write_text("Call ID,Date,Agent\nc1,2026-10-01 09:00,Ann\n", encoding="utf-8")
    got = kpi_xl("pandas", "map", str(export), cwd=tmp_path)
    assert got.returncode == 3 and "Traceback" not in got.stderr, got.stderr
    assert "pip install 'kpi-xl[engine]'" in got.stderr
    got = kpi_xl("openpyxl", "templates", str(tmp_path / "mine"), cwd=tmp_path)
    assert got.returncode == 3 and "Traceback" not in got.stderr, got.stderr
    assert "pip install 'kpi-xl[workbooks]'" in got.stderr
    assert not (tmp_path / "mine").exists()
