"""The release path: one version source, a changelog, a release workflow that refuses a tag
that differs from the package version, and the built wheel as users install it."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kpi_xl

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def test_one_version_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "pyproject must not state its own version"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kpi_xl.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?", kpi_xl.__version__)


def test_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog")
    assert "keepachangelog.com" in text
    assert "## [Unreleased]" in text
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    assert "### Added" in unreleased and unreleased.count("\n- ") >= 5


# -- the release workflow ------------------------------------------------------------
def _step_script(text: str, name_start: str) -> str:
    """The ``run: |`` block of the step whose name starts with ``name_start`` (plain text:
    PyYAML is not a dependency)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"- name: {name_start}"))
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    block = []
    indent = None
    for ln in lines[run + 1:]:
        if ln.strip() and indent is None:
            indent = len(ln) - len(ln.lstrip())
        if ln.strip() and len(ln) - len(ln.lstrip()) < indent:
            break
        block.append(ln)
    return textwrap.dedent("\n".join(block))


def test_release_workflow_builds_checks_tries_and_publishes():
    text = WORKFLOW.read_text()
    for needle in ['tags: ["v*"]', "python -m build", "twine check --strict",
                   "kpi-xl\" demo", "pypa/gh-action-pypi-publish@release/v1",
                   "id-token: write", "environment: pypi", "python -m venv"]:
        assert needle in text, needle
    try:
        import yaml
    except ModuleNotFoundError:
        return
    wf = yaml.safe_load(text)
    on = wf.get("on", wf.get(True))   # YAML 1.1 reads the key `on` as True
    assert on == {"push": {"tags": ["v*"]}}
    publish = wf["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["environment"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish")
               for s in publish["steps"])
    names = [s.get("name", "") for s in wf["jobs"]["build"]["steps"]]
    assert names.index("Tag matches the package version") < names.index("Build sdist and wheel")


@pytest.mark.parametrize("tag, ok", [(f"v{kpi_xl.__version__}", True), ("v99.0.0", False),
                                     (kpi_xl.__version__, False)])
def test_release_workflow_refuses_a_tag_that_differs_from_the_version(tag, ok):
    script = _step_script(WORKFLOW.read_text(), "Tag matches")
    env = {**os.environ, "GITHUB_REF_NAME": tag, "PATH": f"{Path(sys.executable).parent}:"
           + os.environ.get("PATH", "")}
    r = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert (r.returncode == 0) is ok, r.stdout + r.stderr
    if not ok:
        assert f"does not match kpi_xl.__version__ {kpi_xl.__version__}" in r.stdout


# -- the wheel as users install it (slow: builds, then installs into a fresh venv) ---------
_NO_INDEX = ("No matching distribution found", "Could not find a version",
             "Failed to establish a new connection", "Temporary failure in name resolution",
             "Network is unreachable", "NewConnectionError", "ConnectTimeout")


def _pip(args, **kw):
    # without PYTHONPATH: a source tree on it (pytest run with PYTHONPATH=., after an
    # editable install left kpi_xl.egg-info there) makes pip take kpi-xl as installed
    # already, and skip the wheel
    kw.setdefault("env", {k: v for k, v in os.environ.items()
                          if k not in ("PYTHONPATH", "PYTHONHOME")})
    r = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    if r.returncode and any(s in r.stdout + r.stderr for s in _NO_INDEX):
        last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1]
        pytest.skip(f"pip could not reach a package index to install from ({last})")
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the sources (the build writes build/ and egg-info
    beside them, which must not land in the working tree)."""
    import shutil
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "kpi_xl", src / "kpi_xl",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    _pip([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)])
    (whl,) = out.glob("kpi_xl-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_metadata_version_is_the_package_version(wheel):
    import zipfile
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA")))
    version = re.search(r"^Version: (.+)$", meta.decode(), re.M).group(1).strip()
    assert version == kpi_xl.__version__
    assert wheel.name.startswith(f"kpi_xl-{kpi_xl.__version__}-py3-none-any")


@pytest.mark.slow
def test_wheel_with_only_numpy_and_xlwings_imports_the_excel_functions(wheel, tmp_path):
    """What xlwings Lite installs: the pure-Python wheel, numpy and xlwings, nothing else."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / ("Scripts/python.exe" if sys.platform.startswith("win") else "bin/python")
    _pip([str(py), "-m", "pip", "install", "-q", "numpy>=1.24,<3", "xlwings>=0.33,<1"])
    _pip([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    code = textwrap.dedent("""
        import importlib.metadata, importlib.util, warnings
        warnings.simplefilter("error")        # registered: no warning
        import kpi_xl, kpi_xl.xl.functions as f
        from kpi_xl.catalog import CATALOG
        from kpi_xl.xl.adapter import has_detail
        assert "site-packages" in kpi_xl.__file__, kpi_xl.__file__
        assert importlib.metadata.version("kpi-xl") == kpi_xl.__version__
        expected = len(CATALOG) + sum(map(has_detail, CATALOG.values())) + 1  # + ERLANG_TABLE
        assert len(f.__all__) == expected, (len(f.__all__), expected)
        assert all(hasattr(getattr(f, n), "__xlfunc__") for n in f.__all__)
        missing = [m for m in ("duckdb", "pandas", "openpyxl", "jinja2")
                   if importlib.util.find_spec(m) is None]
        print(f.KPI_NPS([10, 9, 3, 7]), ",".join(missing))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(XLWINGS_ON_SERVER="true",
               XLWINGS_LICENSE_KEY=os.environ.get("XLWINGS_LICENSE_KEY", "noncommercial"))
    r = subprocess.run([str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # by hand: promoters 2, detractors 1 of 4 -> 25; the batch side's packages are absent
    assert r.stdout.split() == ["25.0", "duckdb,pandas,openpyxl,jinja2"]


def test_readme_says_how_to_get_the_wheel_and_set_up_excel():
    text = (ROOT / "README.md").read_text()
    excel = text.split("## Using the functions in Excel", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"\*\*Getting the package\.\*\*.*?```bash\n(.+?)\n```", excel, re.S)
    assert block and block.group(1).split("#")[0].split() == \
        ["pip", "wheel", ".", "-w", "dist", "--no-deps"]   # what the wheel fixture runs
    # the file names README gives follow the one version source
    for name in re.findall(r"kpi_xl-([\d.]+)-py3-none-any\.whl", excel):
        assert name == kpi_xl.__version__
    for needle in ["Windows only", "Trust access to the VBA project object model",
                   "*Interpreter*", "python.exe", "XLWINGS_ON_SERVER=true", "Own packages",
                   "lite.xlwings.org/dependencies", '"days"']:
        assert needle in excel, needle
    # the promise about typed times is made for the classic add-in only
    assert "Office.js passes dates and times as plain numbers" in excel
