"""What ``kpi-xl compute`` shows of the dimensions: per declared dimension, a compact table
of its members (rows) by the headline KPIs (columns) for the reported period, as text
cells formatted with each KPI's number format. The command line prints it
(``kpi_xl.cli.Printer``); the figures are the engine's tidy results, nothing recomputed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..catalog import CATALOG
from ..catalog.format import format_value
from ..mail.stakeholders import HEADLINE


@dataclass
class MemberTable:
    """One dimension's table: ``columns`` (short KPI names), ``rows`` (member, cells...)."""
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    low: int = 0                       # cells marked * (a sample below the KPI's minimum)


def short_title(key: str) -> str:
    """A KPI's column heading: its abbreviation when the title gives one ("AHT")."""
    title = CATALOG[key].title
    m = re.search(r"\(([A-Z][A-Za-z0-9]{1,6})\)$", title)
    if m:
        return m.group(1)
    words = title.split()
    if len(words) > 1 and all(w[:1].isupper() for w in words):    # Net Promoter Score
        return "".join(w[0] for w in words)
    return title


def dimension_tables(results, dimensions: Sequence, kpis: Sequence[str] | None = None
                     ) -> list[MemberTable]:
    """Per dimension (kpi_xl.dimensions.Dimension, or a name), the members of the reported
    period by ``kpis`` (default: the headline KPIs of a dimension member's message), each
    KPI kept when some member has a value for it."""
    if not dimensions:
        return []
    kpis = list(kpis or HEADLINE["dimension"])
    month = results.month
    out = []
    for d in dimensions:
        name = getattr(d, "name", d)
        t = results.frame(name, month)
        if t.empty:
            out.append(MemberTable(getattr(d, "title", name)))
            continue
        t = t[t["kpi"].astype(str).isin(kpis)]
        have = [k for k in kpis if t.loc[t["kpi"].astype(str) == k, "value"].notna().any()]
        cells = {(str(r.key), str(r.kpi)): r for r in t.itertuples()}
        blank = f"(no {name})"
        table = MemberTable(getattr(d, "title", name), [short_title(k) for k in have])
        for member in sorted({str(k) for k in t["key"]}, key=lambda m: (m == blank, m)):
            row = [member]
            for k in have:
                r = cells.get((member, k))
                if r is None or r.value != r.value:
                    row.append("—")
                    continue
                text = format_value(r.value, r.number_format)
                if r.low_sample:
                    text += "*"
                    table.low += 1
                row.append(text)
            table.rows.append(row)
        out.append(table)
    return out
