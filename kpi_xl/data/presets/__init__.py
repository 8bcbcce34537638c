"""Shipped source mappings (TOML), usable as ``preset = "<name>"`` in a config.

``kpi-xl presets`` lists them in three groups (:func:`groups`):

* **exports** of the tools centres use (Zendesk, Freshdesk, Talkdesk...), each written from
  the columns the tool documents, cited in its description, which also says what was left
  out and why;
* **generic**: files whose headers are kpi_xl's own column names (``generic-*``);
* **examples**: the real public data sets kpi_xl is tested on (:data:`EXAMPLES`), kept
  available as worked examples of a mapping, not as exports a centre has.

``kpi-xl presets NAME`` shows one in full (:func:`show`).
"""

from __future__ import annotations

import re
import textwrap
from importlib import resources

#: the real data sets of the tests (README, "Real data"): examples, not a tool's export
EXAMPLES = ("anonymous-bank", "pwc-call-centre", "support-tickets")
GROUPS = (("exports", "exports of contact-centre and help-desk tools"),
          ("generic", "headers named like kpi_xl's own columns"),
          ("examples", "the public data sets kpi_xl is tested on, as worked examples"))


def group_of(name: str) -> str:
    if name in EXAMPLES:
        return "examples"
    return "generic" if name.startswith("generic-") else "exports"


def groups() -> dict[str, list[str]]:
    """Preset names by group, in :data:`GROUPS` order, each sorted."""
    from ..sources import preset_names

    out: dict[str, list[str]] = {g: [] for g, _ in GROUPS}
    for name in preset_names():
        out[group_of(name)].append(name)
    return out


def summary(name: str) -> str:
    """The description in one line."""
    from ..sources import load_preset

    return " ".join(str(load_preset(name).get("description", "")).split())


def listing(width: int = 90) -> str:
    """What ``kpi-xl presets`` prints: every preset, by group, with its table and the
    start of its description."""
    from ..sources import load_preset, preset_dimensions

    lines = []
    for group, doc in GROUPS:
        names = groups()[group]
        if not names:
            continue
        lines.append(f"{group} ({doc}):")
        for name in names:
            table = load_preset(name)["table"]
            lines.append(f"  {name:<18} ({table}) {textwrap.shorten(summary(name), width)}")
            dims = preset_dimensions(name)
            if dims:
                lines.append(f"  {'':<18} dimensions it offers: "
                             + ", ".join(f"{d} ({col})" for d, col in dims.items()))
        lines.append("")
    lines.append("`kpi-xl presets NAME` shows one in full; use one with preset = \"NAME\" in a "
                 "[[sources]] table, or --source NAME=PATH.")
    return "\n".join(lines)


_DESCRIPTION = re.compile(r'^description\s*=\s*""".*?"""\s*\n', re.S | re.M)


def show(name: str, width: int = 88) -> str:
    """One preset in full: its description, its mapping as the TOML it is written in,
    and the lines that use it in a config."""
    from ..sources import load_preset

    spec = load_preset(name)          # an unknown name: ConfigError naming the presets
    text = resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    mapping = _DESCRIPTION.sub("", text, count=1).strip()
    wrapped = "\n".join(textwrap.fill(p, width, initial_indent="  ", subsequent_indent="  ",
                                      break_long_words=False, break_on_hyphens=False)
                        for p in [summary(name)])
    out = [f"{name}: a mapping onto the {spec['table']} table ({group_of(name)})", "",
           wrapped, "", "Mapping (kpi_xl/data/presets/" + f"{name}.toml):"]
    out += ["  " + line if line else "" for line in mapping.splitlines()]
    out += ["", "Use it in a config (a [sources.columns] entry there overrides the preset's):",
            "  [[sources]]", f'  preset = "{name}"', '  path = "exports/your-file.csv"']
    return "\n".join(out)


__all__ = ["EXAMPLES", "GROUPS", "group_of", "groups", "listing", "show", "summary"]
