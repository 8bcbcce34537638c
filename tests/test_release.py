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
