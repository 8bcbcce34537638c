"""Period-on-period changes as the outputs show them: the message's "biggest changes" and
the scorecard's change column. One place reads two periods' result rows (value, n,
margin, variant, low-sample flag), asks the catalog's test (kpi_xl.catalog.change, chosen
by the KPI's declaration) and words the answer:

    NPS 6 → 9 (+3 points): better, within noise
    Escalation rate 4.0% → 6.5% (+2.5 points): worse, larger than chance at 95 %

``level`` is the config's ``[report] significance`` (default 0.95). KPIs that declare
``spikes`` (resolution and first response times) are also checked for a period far worse
than its usual level (:func:`spikes`)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

from .catalog import CATALOG
from .catalog.change import DEFAULT_LEVEL, Change, Sample, compare, spike
from .catalog.format import format_change, format_value


def number(v: Any) -> float | None:
    """A result cell's figure as a float; None when blank, not a number or NaN (results
    read back from CSV or JSON hold text and NaN). The alerts read cells the same way."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def between(kpi: str, before: Mapping[str, Any], after: Mapping[str, Any], *,
            before_days: float = 1.0, after_days: float = 1.0,
            level: float = DEFAULT_LEVEL) -> Change | None:
    """The change of ``kpi`` from the row ``before`` to the row ``after`` (result rows, or
    any mapping with value, n, margin, variant and low_sample/low), tested as the KPI's
    variant declares; None where either period has no value. The periods' lengths in days
    matter to counts (a 31-day month has more tickets than a 30-day one at the same
    rate). A change the KPI's number format rounds to 0 is "unchanged". A period flagged low-sample by the results (below the KPI's or the config's
    minimum n) makes the change a small sample whatever the test says."""
    k = CATALOG[kpi]
    a, b = number(before.get("value")), number(after.get("value"))
    if a is None or b is None:
        return None
    name = after.get("variant")
    variant = k.variant(name if isinstance(name, str) and name in k.variant_names else None)
    low = any(str(r.get("low_sample", r.get("low", False))).lower() in ("true", "1")
              for r in (before, after))
    c = compare(k.change_of(variant), k.direction_of(variant),
                Sample(a, number(before.get("n")), number(before.get("margin")), before_days),
                Sample(b, number(after.get("n")), number(after.get("margin")), after_days),
                level=level, min_n=k.min_n, low_sample=low)
    text = format_change(c.delta, k.unit_of(variant), k.format_of(variant))
    if not any(ch in "123456789" for ch in text):
        # a change the KPI's format rounds away (NPS 3.2 -> 2.9 reads '3 -> 3') is none
        # to the reader: 'worse, within noise' beside '0 points' would only confuse
        c = replace(c, direction="unchanged")
    return c


def level_text(level: float) -> str:
    """0.95 -> '95 %' (0.05 -> '5 %')."""
    return f"{round(level * 100, 6):g} %"


def wording(c: Change) -> str:
    """'better, larger than chance at 95 %', 'worse, within noise', 'up, small sample'."""
    verdict = c.verdict + (f" at {level_text(c.level)}" if c.significant else "")
    return c.direction if c.direction == "unchanged" else f"{c.direction}, {verdict}"


def describe(kpi: str, c: Change, variant: str | None = None) -> dict[str, Any]:
    """What a template shows of a change: the signed difference in the KPI's terms
    (percentage points for shares), the direction, the verdict and one line of both."""
    k = CATALOG[kpi]
    v = k.variant(variant if variant in k.variant_names else None)
    text = format_change(c.delta, k.unit_of(v), k.format_of(v))
    return {"change_text": text, "direction": c.direction, "verdict": c.verdict,
            "significant": bool(c.significant), "p_value": c.p_value,
            "wording": wording(c), "reason": c.reason}


def rank(changes: list[tuple[Change, Any]], limit: int = 3, min_relative: float = 0.02
         ) -> list[Any]:
    """The changes a reader should see first: those larger than chance (smallest p first),
    then the others that moved by at least ``min_relative`` of the earlier value (largest
    first); unchanged figures are left out."""
    def relative(c: Change) -> float:
        return abs(c.delta) / max(abs(c.before), 1e-9)

    changes = [x for x in changes if x[0].direction != "unchanged"]
    sig = sorted((x for x in changes if x[0].significant), key=lambda x: x[0].p_value)
    rest = sorted((x for x in changes if not x[0].significant
                   and relative(x[0]) >= min_relative), key=lambda x: -relative(x[0]))
    return [item for _c, item in (sig + rest)[:limit]]


def spike_of(kpi: str, series: list[float | None], variant: str | None = None,
             noun: str = "period") -> dict[str, Any] | None:
    """A KPI that declares ``spikes`` (resolution and first response times): is the last
    value of ``series`` (oldest first, the reported period last) far worse than the
    periods before it? The words and figures a report shows, or None."""
    k = CATALOG[kpi]
    if not k.spikes or not series:
        return None
    v = k.variant(variant if variant in k.variant_names else None)
    s = spike(list(series[:-1]), series[-1], k.direction_of(v))
    if s is None:
        return None
    fmt = k.format_of(v)
    text = (f"far {'above' if s.value > s.usual else 'below'} its usual level "
            f"({format_value(s.usual, fmt)}, the median of the {s.periods} {noun}s before)")
    return {"key": kpi, "value_text": format_value(s.value, fmt),
            "usual_text": format_value(s.usual, fmt), "periods": s.periods, "wording": text,
            "score": s.score}


def spikes(rows, month: str, members: list[str], history: int = 12, noun: str = "period"
           ) -> list[dict[str, Any]]:
    """The spikes of the reported period among ``rows`` (tidy results of one level),
    per member, each KPI that declares ``spikes`` against up to ``history`` periods before
    (the results' own grain: weeks in a weekly run, days in a daily one)."""
    out = []
    periods = sorted({str(p) for p in rows["period"]})
    if month not in periods:
        return out
    before = periods[:periods.index(month)][-history:]
    for key in (k for k in CATALOG if CATALOG[k].spikes):
        for member in members:
            r = rows[(rows["kpi"].astype(str) == key) & (rows["key"].astype(str) == member)]
            values = dict(zip(r["period"].astype(str), r["value"], strict=True))
            now = r[r["period"].astype(str) == month]
            if now.empty:
                continue
            found = spike_of(key, [number(values.get(p)) for p in before] + [number(values[month])],
                             str(now.iloc[0]["variant"]), noun)
            if found:
                title = CATALOG[key].title + (f" ({member})" if len(members) > 1 else "")
                out.append({**found, "title": title})
    return out
