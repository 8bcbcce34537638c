"""``kpi-xl init`` writes a starter that parses as written and whose every commented
example, uncommented, parses too: one for each table (calls, surveys, QA, roster,
business), not only calls (issue 13, section 4)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.config import read_config  # noqa: E402
from kpi_xl.starter import STARTER  # noqa: E402


def examples(text: str) -> list[str]:
    """The commented examples, uncommented: from a line '# [section]' to the next blank
    line, each line without its leading '# ' (kpi_xl.starter's convention)."""
    out, block = [], None
    for line in text.splitlines() + [""]:
        if block is None and re.match(r"# \[", line):
            block = []
        if block is not None:
            if not line.strip():
                out.append("\n".join(block) + "\n")
                block = None
            else:
                assert line.startswith("#"), line
                block.append(line[2:] if line.startswith("# ") else line[1:])
    return out


def make_paths(folder, toml: str) -> None:
    """Create the files the config names (read_config does not read them, but a config
    that names files which exist is the one a user has)."""
    for rel in re.findall(r'^path = "([^"]+)"', toml, re.M):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("", encoding="utf-8")


def read(folder, text: str):
    path = folder / "kpi_xl.toml"
    path.write_text(text, encoding="utf-8")
    make_paths(folder, text)
    return read_config(path)


def test_init_writes_the_starter_and_it_parses(tmp_path, capsys):
    target = tmp_path / "kpi_xl.toml"
    assert main(["init", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text == STARTER
    make_paths(tmp_path, text)
    cfg = read_config(target)
    assert [s.preset for s in cfg.sources] == ["zendesk"]


def test_an_example_for_every_table():
    blocks = examples(STARTER)
    tables = {m for b in blocks for m in re.findall(r'^table = "(\w+)"', b, re.M)}
    presets = {m for b in blocks for m in re.findall(r'^preset = "([\w-]+)"', b, re.M)}
    assert {"contacts", "surveys", "qa"} <= tables
    assert {"generic-roster", "generic-business", "generic-wfm"} <= presets
    heads = {b.splitlines()[0] for b in blocks}
    assert {"[business_hours]", "[qa]", "[scorecard]", "[[stakeholders]]", "[smtp]",
            "[output]"} <= heads


def block_id(block: str) -> str:
    named = re.search(r'^(?:name|preset) = "([^"]+)"', block, re.M)
    return block.splitlines()[0] + (f" {named[1]}" if named else "")


@pytest.mark.parametrize("block", examples(STARTER), ids=block_id)
def test_each_example_uncommented_parses(tmp_path, block):
    base = len(read(tmp_path, STARTER).sources)
    cfg = read(tmp_path, STARTER + "\n" + block)
    if block.startswith("[[sources]]"):
        (new,) = cfg.sources[base:]
        assert new.path.is_file()


def test_every_example_at_once(tmp_path):
    cfg = read(tmp_path, STARTER + "\n" + "\n".join(examples(STARTER)))
    assert sorted(s.table for s in cfg.sources) == [
        "business", "contacts", "contacts", "qa", "roster", "surveys", "wfm"]
    assert cfg.csv.delimiter == ";" and len(cfg.load.rubric) == 2 and cfg.stakeholders
