"""Regenerate README.md's generated parts: the function reference (from the catalog), the
canonical tables (from kpi_xl.data.schema), the presets (from kpi_xl/data/presets) and
the Erlang C / Erlang A staffing comparison (computed by kpi_xl.catalog)."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.cli import markdown_reference  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)


def tables_markdown() -> str:
    from kpi_xl.data.schema import TABLES
    from kpi_xl.bindings import BINDINGS

    used: dict[tuple[str, str], list[str]] = {}
    for key, b in BINDINGS.items():
        # survey answers come from the contacts too; the period KPIs read the business
        # table's monthly figures (the derived counts name no business column)
        table = {"surveys": "contacts", "period": "business"}.get(b.table, b.table)
        for col in b.inputs.values():
            used.setdefault((table, col), []).append(key)
            if b.table == "surveys":
                used.setdefault(("surveys", col), []).append(key)
    out = []
    for t in TABLES.values():
        out.append(f"**{t.name}**: {t.doc}\n")
        out.append("| column | type | rules | feeds |")
        out.append("|---|---|---|---|")
        for c in t.columns:
            rules = []
            if c.required:
                rules.append("required")
            if c.filled:
                rules.append("blank rejects the row")
            elif c.role == "key":
                rules.append("bad value rejects the row")
            if c.lo is not None or c.hi is not None:
                rules.append(f"{'' if c.lo is None else f'≥ {c.lo:g}'}"
                             f"{' and ' if c.lo is not None and c.hi is not None else ''}"
                             f"{'' if c.hi is None else f'≤ {c.hi:g}'}")
            feeds = ", ".join(sorted(set(used.get((t.name, c.name), []))))
            out.append(f"| `{c.name}` | {c.type} | {'; '.join(rules)} | {feeds} |")
        out.append("")
    return "\n".join(out)


def presets_markdown() -> str:
    """The presets by group (exports, generic, examples), as `kpi-xl presets` lists them,
    with the dimensions each offers."""
    from kpi_xl.data.presets import groups, summary
    from kpi_xl.data.sources import load_preset, preset_dimensions

    out = ["| preset | group | table | what it reads |", "|---|---|---|---|"]
    for group, names in groups().items():
        for name in names:
            text = summary(name)
            dims = preset_dimensions(name)
            if dims:
                text += (" Dimensions it offers (read when declared under `[[dimensions]]`): "
                         + ", ".join(f"`{d}` from \"{col}\"" for d, col in dims.items()) + ".")
            out.append(f"| `{name}` | {group} | {load_preset(name)['table']} | {text} |")
    return "\n".join(out) + "\n"


def erlang_a_markdown() -> str:
    """Where Erlang C overstaffs: agents for 80 % in 20 s (AHT 180 s) by Erlang C and by
    Erlang A at three mean patiences, with the abandonment Erlang A forecasts there."""
    from kpi_xl.catalog import erlang, erlang_a

    out = ["| traffic (Erlangs) | mean patience | Erlang C agents | Erlang A agents (SL over "
           "offered) | abandoned there | Erlang A agents (SL over answered) | abandoned "
           "there | Erlang A SL (over offered) at the Erlang C staffing |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for a in (10, 50, 200):
        c = erlang.agents_required(a, 20, 180, 0.8)
        for pat in (60, 180, 600):
            n1 = erlang_a.agents_required(a, 20, 180, pat, 0.8)
            n2 = erlang_a.agents_required(a, 20, 180, pat, 0.8, over="answered")
            out.append(f"| {a} | {pat} s | {c} | {n1} | "
                       f"{erlang_a.p_abandon(a, n1, 180, pat):.1%} | {n2} | "
                       f"{erlang_a.p_abandon(a, n2, 180, pat):.1%} | "
                       f"{erlang_a.service_level(a, c, 20, 180, pat):.1%} |")
    return "\n".join(out) + "\n"


def render(text: str) -> str:
    for name, md in (("reference", markdown_reference(list(CATALOG.values()))),
                     ("tables", tables_markdown()), ("presets", presets_markdown()),
                     ("erlang-a", erlang_a_markdown())):
        text = _block(name).sub(lambda m, md=md: m.group(1) + md + m.group(2), text)
    return text


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {README}")
