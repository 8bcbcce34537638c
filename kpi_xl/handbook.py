"""The KPI handbook: one page for training agents and team leads, generated from the
catalog and the centre's config (``kpi-xl handbook``).

Every KPI the centre's run computes for its sources (the engine's plan over the loaded
tables, for a monthly run) gets: what it measures, the formula in words and as the Excel
function with the catalog's examples, the variant the centre chose (or the default) and the
options it runs with, a worked example of that variant (the catalog's sourced vector,
worked through by the catalog's own evaluation: :mod:`kpi_xl.render.words`), the centre's
target (its config's, or the catalog's with its source), which way is better and how
agents and team leads move it (the catalog's ``levers``, with their source). Nothing on
the page is written by hand: the words come from the catalog (:mod:`kpi_xl.catalog`) and
the config. The page is rendered in jinja2's sandbox
with autoescape (a centre's name is data, never markup), from the template shipped in the
package (``kpi_xl/templates/handbook/handbook.html``); with
LibreOffice Writer or a Chromium browser, a PDF of it is written too (:mod:`kpi_xl.pdf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from .catalog import CATALOG
from .catalog.format import format_value
from .catalog.spec import Kpi, Variant
from .plan import KpiChoice
from .render.words import Worked, worked

#: the shipped handbook template, inside the package (installed with it)
TEMPLATES = Path(str(resources.files("kpi_xl") / "templates" / "handbook"))
NAME = "handbook.html"
#: how the page says which way is better (from the catalog's ``direction``)
DIRECTION = {
    "higher": "Higher is better.",
    "lower": "Lower is better.",
    "neutral": "Neither way is better: it is watched, not aimed at.",
}


@dataclass(frozen=True)
class Entry:
    """One KPI of the handbook, as the template shows it."""
    key: str
    title: str
    family: str
    description: str
    formula_text: str
    excel_name: str
    examples: tuple[str, ...]
    variant: str
    variant_doc: str
    variant_chosen: bool            # the config names the variant (else: the default)
    other_variants: tuple[str, ...]
    options: tuple[tuple[str, str, str], ...]   # (name, value, what it is)
    unit: str
    target: str | None
    target_source: str
    member_targets: tuple[tuple[str, str], ...]
    direction: str
    direction_text: str
    worked: Worked | None           # the variant's worked example (None: none shipped)
    #: options the example runs with that differ from the centre's: (name, example's, centre's)
    worked_options: tuple[tuple[str, str, str], ...]
    levers: str                     # how agents and team leads move it (the catalog's)
    levers_source: str


@dataclass(frozen=True)
class Handbook:
    html: Path
    pdf: Path | None
    pdf_note: str | None            # why there is no PDF, and how to get one
    keys: tuple[str, ...]


def planned_kpis(cfg) -> list[tuple[Kpi, Variant, dict]]:
    """The KPIs a monthly run of ``cfg`` computes for its sources, in catalog order, with
    their variant and resolved options: the engine's plan over the loaded tables, less
    what it skips (a column or a business figure the sources lack)."""
    from .data.sources import ConfigError
    from .periods import as_period
    from .run.month import FilesUnusable, engine_of, load_sources

    if not cfg.sources:
        raise ConfigError(["there are no sources to take the KPIs from: give the config "
                           "(-c kpi_xl.toml) or a file with --source PRESET=PATH"])
    ds = load_sources(cfg)
    if ds.problems:
        raise FilesUnusable(ds.problems)
    engine = engine_of(cfg, ds)
    plan, _ = engine.plan()
    prepared = engine.prepare(as_period(date.today().strftime("%Y-%m"), cfg.fiscal_start), 0)
    items = {kpi.key: (kpi, variant, params) for table in plan.values()
             for kpi, variant, params in table if kpi.key not in prepared.skipped}
    return [items[k] for k in CATALOG if k in items]


def entry(kpi: Kpi, variant: Variant, params: dict, choice: KpiChoice) -> Entry:
    """What the handbook says about one KPI under the centre's choice."""
    fmt = kpi.format_of(variant)
    direction = kpi.direction_of(variant)
    if choice.target is not None:
        target, source = choice.target, f"your centre's config ([kpis.{kpi.key}] target)"
    else:
        target, source = kpi.target_of(variant), kpi.target_source
    options = tuple((p.name, _option(params.get(p.name, p.default)), p.doc)
                    for p in kpi.params if p.name in params)
    example = worked(kpi.key, variant.name)
    differ = () if example is None else tuple(
        (name, _option(example.options[name]), _option(params[name]))
        for name in example.options
        if name in params and _option(example.options[name]) != _option(params[name]))
    return Entry(
        key=kpi.key, title=kpi.title, family=kpi.family, description=kpi.description,
        formula_text=kpi.formula_text, excel_name=kpi.excel_name, examples=kpi.examples,
        variant=variant.name, variant_doc=variant.doc,
        variant_chosen=bool(choice.variant),
        other_variants=tuple(v.name for v in kpi.variants if v.name != variant.name),
        options=options, unit=kpi.unit_of(variant),
        target=None if target is None else format_value(target, fmt),
        target_source=source if target is not None else "",
        member_targets=tuple((name, format_value(t, fmt)) for name, t in choice.targets.items()),
        direction=direction, direction_text=DIRECTION[direction],
        worked=example, worked_options=differ, levers=kpi.levers,
        levers_source=kpi.levers_source)


def _option(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_option(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def render(cfg, entries: list[Entry]) -> str:
    """The page: the shipped template in the sandbox, autoescaped."""
    env = SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                               undefined=StrictUndefined,
                               autoescape=select_autoescape(["html"]))
    families: dict[str, list[Entry]] = {}
    for e in entries:
        families.setdefault(e.family, []).append(e)
    return env.get_template(NAME).render(centre=cfg.name, entries=entries, families=families,
                                         count=len(entries))


def write_handbook(cfg, out: str | Path = "handbook", make_pdf: bool = True) -> Handbook:
    """``handbook.html`` in ``out``, and ``handbook.pdf`` beside it where LibreOffice
    Writer or a Chromium browser can print it (:mod:`kpi_xl.pdf`); nothing is written
    anywhere else."""
    from .files import write_bytes
    from .pdf import NoPdf, html_to_pdf

    items = planned_kpis(cfg)
    entries = [entry(k, v, p, cfg.choices.get(k.key, KpiChoice())) for k, v, p in items]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    html = write_bytes(folder / NAME, render(cfg, entries).encode("utf-8"))
    pdf, note = None, None
    if make_pdf:
        try:
            html_to_pdf(html)
            pdf = html.with_suffix(".pdf")
        except NoPdf as e:
            note = str(e)
    return Handbook(html, pdf, note, tuple(e.key for e in entries))
