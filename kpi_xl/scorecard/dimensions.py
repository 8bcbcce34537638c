"""The dimensions in the workbooks: a "By <dimension>" sheet of the balanced scorecard per
dimension the config asks for (``[[dimensions]] sheet = true``), and a scorecard of one
member alone (``<dimension>-<member>-<period>.xlsx``) for a stakeholder scoped to it.

Both are made by the scorecard's own machinery, from the same results:

* the "By" sheet's rows are the scorecard's KPI lines (title, worst case, target, number
  format: :func:`kpi_xl.scorecard.build.scorecard_context`'s, nothing restated) that are
  computed per member of the dimension, and its cells the engine's values and n; the
  sheet comes from the template's "By dimension" sheet (``{% sheet for dimension in
  dimensions %}`` with a ``{% columns %}`` block per member), so a restyled template styles
  it. A user's template made before that sheet existed still gets the sheets, filled from
  the shipped template's "By dimension" sheet and copied in (README says so);
* a member's scorecard is the balanced scorecard template filled with that member's rows
  only, read as the scorecard reads the organisation's: the same perspectives, history,
  scores and targets; KPIs that are not computed per member (the centre's monthly
  business figures) say so in their note. Nothing of another member, team or the
  organisation is in it (tests/test_dimension_outputs.py checks every cell).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Sequence

from ..catalog.change import DEFAULT_LEVEL
from ..engine.results import Results
from ..text import cell_text
from ..names import SheetTitles, sheet_title

#: the template sheet's marker: a sheet loop over ``dimensions``
_MARKER = "in dimensions named"
#: the workbook's custom properties naming a member scorecard's dimension and member
DIMENSION_PROPERTY, MEMBER_PROPERTY = "kpi_xl_dimension", "kpi_xl_member"


def blank_member(dimension: str) -> str:
    """How the engine names the rows that leave a dimension blank: ``(no topic)``."""
    return f"(no {dimension})"


def dimension_contexts(results: Results, scorecard: dict, dimensions: Sequence) -> list[dict]:
    """The "By" sheets' contexts: per dimension with ``sheet`` and members in the
    reported period, its members (sorted, the blank member last) and the scorecard's KPI
    lines computed at that level, each member's value and n in ``member.cells[kpi.index]``."""
    from .build import _Lookup

    look = _Lookup.of(results)
    month = results.month
    t = results.table
    out, taken = [], SheetTitles({"Scorecard"})
    for d in dimensions:
        if not getattr(d, "sheet", True):
            continue
        blank = blank_member(d.name)
        members = sorted(results.members(d.name), key=lambda m: (m == blank, m))
        if not members:
            continue
        at_level = set(t.loc[t["level"].astype(str) == d.name, "kpi"].astype(str))
        lines = [line for p in scorecard["perspectives"] for line in p["kpis"]
                 if line["key"] in at_level]
        kpis = [{"index": i, "key": line["key"], "title": line["title"],
                 "worst": line["worst"], "target": line["target"],
                 "number_format": line["number_format"], "direction": line["direction"]}
                for i, line in enumerate(lines)]
        rows = []
        for m in members:
            cells = []
            for k in kpis:
                got = look.get(k["key"], d.name, m, month) or {}
                cells.append({"value": got.get("value"), "n": got.get("n"),
                              "low": bool(got.get("low"))})
            rows.append({"name": cell_text(m), "cells": cells})
        title = taken.add(f"By {d.title}")
        out.append({"name": d.name, "title": d.title, "noun": d.title.lower(),
                    "sheet": title, "blank": blank, "members": rows, "kpis": kpis})
    return out


def has_dimension_sheet(path: str | Path) -> bool:
    """Whether a balanced-scorecard template has the "By dimension" template sheet."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    return any(isinstance(c.value, str) and "{%" in c.value and _MARKER in c.value
               for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def scorecard_book(template: Path, shipped: Path, ctx: dict):
    """The balanced scorecard filled, "By" sheets included. A template without the "By
    dimension" sheet gets them from the shipped one (its styles), after its own sheets."""
    from .template import fill

    wb = fill(template, ctx).workbook
    if not ctx.get("dimensions") or Path(template).resolve() == Path(shipped).resolve() \
            or has_dimension_sheet(template):
        return wb
    spare = fill(shipped, {**ctx}).workbook
    for ws in spare.worksheets:
        if ws.title in {d["sheet"] for d in ctx["dimensions"]}:
            copy_sheet(ws, wb)
    return wb


def copy_sheet(src, wb) -> None:
    """``src`` (a filled sheet of another workbook) copied into ``wb``: values, styles,
    widths, heights, merged cells, conditional formats, freeze panes, page setup and the
    rows (and columns) printed on every page."""
    from openpyxl.worksheet.cell_range import CellRange

    dst = wb.create_sheet(sheet_title(src.title, set(wb.sheetnames)))
    for row in src.iter_rows():
        for c in row:
            if c.value is None and not c.has_style:
                continue
            n = dst.cell(row=c.row, column=c.column)
            n._value, n.data_type = c._value, c.data_type
            if c.has_style:
                n.font, n.fill, n.border = copy.copy(c.font), copy.copy(c.fill), copy.copy(c.border)
                n.alignment, n.protection = copy.copy(c.alignment), copy.copy(c.protection)
                n.number_format = c.number_format
    for key, dim in src.column_dimensions.items():
        dst.column_dimensions[key].width = dim.width
    for key, dim in src.row_dimensions.items():
        if dim.height is not None:
            dst.row_dimensions[key].height = dim.height
    for m in src.merged_cells.ranges:
        dst.merge_cells(str(CellRange(m.coord)))
    for cf in src.conditional_formatting:
        for rule in cf.rules:
            dst.conditional_formatting.add(str(cf.sqref), copy.copy(rule))
    dst.freeze_panes = src.freeze_panes
    dst.sheet_view.showGridLines = src.sheet_view.showGridLines
    dst.page_setup.orientation = src.page_setup.orientation
    dst.page_setup.fitToWidth, dst.page_setup.fitToHeight = (src.page_setup.fitToWidth,
                                                             src.page_setup.fitToHeight)
    dst.sheet_properties.pageSetUpPr = copy.copy(src.sheet_properties.pageSetUpPr)
    dst.print_title_rows = src.print_title_rows          # header rows on every page
    dst.print_title_cols = src.print_title_cols


# ------------------------------------------------------------------ one member
def member_results(results: Results, dimension: str, member: str,
                   title: str | None = None) -> Results:
    """The results of one member of ``dimension``, as the scorecard reads the
    organisation's (level ``organisation``, key ``all``): that member's rows and nothing
    else. A KPI not computed per member is noted as such."""
    t = results.table
    mine = t[(t["level"].astype(str) == dimension) & (t["key"].astype(str) == member)].copy()
    for col in ("level", "key"):
        mine[col] = "organisation" if col == "level" else "all"
    mine = mine.reset_index(drop=True)
    computed = set(mine["kpi"].astype(str))
    noun = (title or dimension).lower()
    skipped = {k: f"not computed per {noun}" for k in set(t["kpi"].astype(str)) - computed}
    skipped.update({k: why for k, why in results.skipped.items()})
    return Results(mine, results.month, list(results.periods), skipped, results.grain,
                   results.fiscal_start)


def member_stems(pairs) -> dict[tuple[str, str], str]:
    """(dimension, member) -> the file stem ``<dimension>-<member>``, distinct after file
    name folding (members ``a/b`` and ``a-b`` get two files)."""
    from ..names import distinct_stems, file_stem

    out = {}
    by_dim: dict[str, list[str]] = {}
    for dim, m in pairs:
        by_dim.setdefault(dim, []).append(m)
    for dim, members in by_dim.items():
        stems = distinct_stems(members)
        for m in members:
            out[(dim, m)] = f"{file_stem(dim)}-{stems[m]}"
    return out


def write_member_books(results: Results, out: str | Path, members, *, centre: str,
                       dimensions: Sequence = (), layout=None, templates=None,
                       partial: str | None = None,
                       significance: float = DEFAULT_LEVEL) -> list[Path]:
    """The scorecard of each (dimension, member) in ``members``, written as
    ``<out>/<period>/<dimension>-<member>-<period>.xlsx``; ``significance``: as for the
    centre's scorecard (its notes' changes). A member without figures in the
    reported period gets no file: sending to its stakeholder is then refused, naming it
    (:func:`member_problems`), before anything is sent."""
    from openpyxl.packaging.custom import StringProperty

    from ..files import Claims, replacing
    from .build import TEMPLATES, _shown, scorecard_context
    from .cached import save_with_values
    from .layout import DEFAULT
    from ..names import inside
    from .template import fill

    folder = Path(out) / results.month
    folder.mkdir(parents=True, exist_ok=True)
    titles = {d.name: d.title for d in dimensions}
    stems = member_stems(members)
    claims = Claims()
    written = []
    for (dim, member), stem in sorted(stems.items()):
        if member not in results.members(dim):
            continue
        title = titles.get(dim, dim.capitalize())
        res = member_results(results, dim, member, title)
        ctx = scorecard_context(res, f"{centre} · {title} {member}", layout or DEFAULT, partial,
                                significance)
        ctx["dimensions"] = []                        # no other member's sheet
        book = fill(Path(templates or TEMPLATES) / "balanced-scorecard.xlsx", ctx).workbook
        # as JSON (ASCII, escaped): a name from the data may hold what XML cannot
        for prop, value in ((DIMENSION_PROPERTY, dim), (MEMBER_PROPERTY, member)):
            book.custom_doc_props.append(StringProperty(name=prop, value=json.dumps(value)))
        target = claims.claim(inside(folder, f"{stem}-{results.month}.xlsx"),
                              f"{dim} {member!r}")
        y, m = results.history[-1].end.year, results.history[-1].end.month
        stamp = f"{y:04d}-{m:02d}-{results.history[-1].end.day:02d}T00:00:00Z"
        with replacing(target) as tmp:
            save_with_values(_shown(book, ctx["partial"], "balanced-scorecard.xlsx"), tmp, stamp)
        written.append(target)
    return written


def read_member(path: Path) -> tuple[str, str] | None:
    """(dimension, member) a member scorecard names in its properties (None: not one)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        props = {p.name: p.value for p in wb.custom_doc_props}
    finally:
        wb.close()
    try:
        return json.loads(props[DIMENSION_PROPERTY]), json.loads(props[MEMBER_PROPERTY])
    except (KeyError, TypeError, ValueError):
        return None


def member_problems(table, month: str, members) -> list[str]:
    """A sentence per (dimension, member) without figures in ``month`` in the tidy
    results ``table``."""
    out = []
    for dim, m in sorted(set(members)):
        t = table[(table["level"].astype(str) == dim) & (table["period"].astype(str) == month)]
        have = sorted({str(k) for k in t["key"]})
        if m not in have:
            shown = ", ".join(x for x in have[:12]) + (" ..." if len(have) > 12 else "")
            out.append(f"{dim} {m!r} has no figures in {month} (its members there: "
                       f"{shown or 'none: no source maps it'})")
    return out


def context_members(stakeholders) -> list[tuple[str, str]]:
    """The (dimension, member) pairs the stakeholders are scoped to."""
    return sorted({(s.dimension, m) for s in stakeholders
                   if getattr(s, "scope", None) == "dimension" for m in s.members})
