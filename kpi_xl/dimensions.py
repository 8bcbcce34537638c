"""Dimensions: the extra cuts a centre reports by (queue, topic, ticket type, priority,
product, site, language...), besides team, agent and channel; and the pairs of levels cut
together (team × channel, queue × channel).

    [[dimensions]]
    name = "topic"          # a source maps it like any column: topic = "Topic"
    title = "Topic"         # how sheets and messages name it (default: the name, capitalised)
    sheet = true            # the balanced scorecard gets a "By Topic" sheet (default: true)

    [centre]
    pairs = [["team", "channel"], ["topic", "channel"]]

A dimension is text from a source column, mapped with ``column``, ``codes`` or ``value``
like any other column, on contacts, survey or QA sources; a source without it leaves its
rows blank for that dimension (they show as ``(no topic)``, and the guards' coverage line
counts them). A canonical text column (``status`` of contacts) can be named as a dimension
too: its rows are then cut by it without being mapped again.

Only the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

#: the levels every run has; a dimension cannot take their names
BUILT_IN = ("organisation", "team", "agent", "channel")
#: the tables whose rows can carry a dimension
ROW_TABLES = ("contacts", "surveys", "qa")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class Dimension:
    name: str
    title: str
    sheet: bool = True


def parse_dimensions(spec: Any, problems: list[str]) -> list[Dimension]:
    """``[[dimensions]]``: each problem is a sentence naming the entry and the rule."""
    from .data.schema import TABLES

    if spec is None:
        return []
    if not isinstance(spec, list):
        problems.append(f"[[dimensions]] must be a list of tables, got {spec!r}")
        return []
    out: list[Dimension] = []
    for i, d in enumerate(spec, 1):
        where = f"[[dimensions]] entry {i}"
        if not isinstance(d, Mapping):
            problems.append(f"{where} must be a table with a 'name', got {d!r}")
            continue
        unknown = sorted(set(d) - {"name", "title", "sheet"})
        if unknown:
            problems.append(f"{where}: unknown setting '{unknown[0]}' (settings: name, sheet, title)")
        name = d.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}: 'name' must be a lower-case word (letters, digits, _), "
                            f"e.g. \"topic\", got {name!r}")
            continue
        if name in BUILT_IN:
            problems.append(f"{where}: '{name}' is a level every run has; name the new "
                            "dimension differently")
            continue
        clash = [t for t in ROW_TABLES if name in TABLES[t].names
                 and TABLES[t].column(name).type not in ("text", "category")]
        if clash:
            problems.append(f"{where}: '{name}' is a column of the {clash[0]} table that is "
                            "not text; name the dimension differently")
            continue
        if name in {x.name for x in out}:
            problems.append(f"{where}: '{name}' is declared twice")
            continue
        title = d.get("title", name.replace("_", " ").capitalize())
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: 'title' must be text, got {title!r}")
            title = name
        sheet = d.get("sheet", True)
        if not isinstance(sheet, bool):
            problems.append(f"{where}: 'sheet' must be true or false, got {sheet!r}")
            sheet = True
        out.append(Dimension(name, title.strip(), sheet))
    return out


def parse_pairs(spec: Any, dimensions: Sequence[Dimension],
                problems: list[str]) -> list[tuple[str, str]]:
    """``[centre] pairs``: two different levels each (team, agent, channel or a declared
    dimension)."""
    if spec is None:
        return []
    levels = [*BUILT_IN[1:], *(d.name for d in dimensions)]
    if not isinstance(spec, list):
        problems.append(f"[centre] pairs must be a list of pairs, e.g. [[\"team\", \"channel\"]], "
                        f"got {spec!r}")
        return []
    out: list[tuple[str, str]] = []
    for p in spec:
        if (not isinstance(p, list) or len(p) != 2 or not all(isinstance(x, str) for x in p)
                or p[0] == p[1]):
            problems.append(f"[centre] pairs: each pair is two different levels, e.g. "
                            f"[\"team\", \"channel\"], got {p!r}")
            continue
        bad = [x for x in p if x not in levels]
        if bad:
            problems.append(f"[centre] pairs: '{bad[0]}' is not a level (levels: "
                            f"{', '.join(levels)}; declare others under [[dimensions]])")
            continue
        if tuple(p) in out or tuple(reversed(p)) in out:
            continue
        out.append((p[0], p[1]))
    return out
