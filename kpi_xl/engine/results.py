"""The engine's answer as a tidy table: one row per (period, level, key, KPI) with value,
n, margin, the reason when there is no value, target, status and a low-sample flag; and
the JSON beside the CSV that programs (the mail step) read back.

``level`` is ``organisation`` (key ``all``), a built-in level (``team``, ``agent``,
``channel``), a dimension the config declares (``topic``, ``queue``...), or a pair of
them (``team × channel``, key ``Sales × phone``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..catalog import CATALOG
from ..periods import Period
from ..text import csv_safe as _safe_text   # one escaping rule: kpi_xl.text
from .plan import KpiChoice

#: ``key`` names the member of the level: a team, an agent, a channel, a topic, or 'all'
TIDY_COLUMNS = ("period", "level", "key", "kpi", "variant", "value", "n", "margin",
                "target", "status", "low_sample", "note", "title", "unit", "number_format",
                "direction")
#: how the two members of a pair level are joined in ``level`` and ``key``
PAIR = " × "


@dataclass
class Results:
    """The engine's answer: a tidy DataFrame plus what was not computed and why.

    ``month`` is the label of the reported period (``2026-10``, ``2026-W44``,
    ``2026-Q3``...; the name stays from when every period was a month), ``periods`` the
    labels of the history, oldest first, and ``grain`` their kind."""
    table: Any                       # pandas.DataFrame with TIDY_COLUMNS
    month: str
    periods: list[str]
    skipped: dict[str, str]          # kpi key -> reason
    grain: str = "month"
    fiscal_start: int = 1

    @property
    def period(self) -> Period:
        return Period.parse(self.month, self.grain, fiscal_start=self.fiscal_start)

    @property
    def history(self) -> list[Period]:
        return [Period.parse(p, self.grain, fiscal_start=self.fiscal_start)
                for p in self.periods]

    @property
    def levels(self) -> list[str]:
        """The levels the table holds, in the engine's order."""
        return [str(x) for x in self.table["level"].cat.categories] \
            if hasattr(self.table["level"], "cat") else list(dict.fromkeys(self.table["level"]))

    def value(self, kpi: str, level: str = "organisation", key: str = "all",
              period: str | None = None) -> float | None:
        t = self.table
        row = t[(t.kpi == kpi) & (t.level == level) & (t["key"] == key)
                & (t.period == (period or self.month))]
        if row.empty:
            return None
        v = float(row.iloc[0]["value"])
        return None if math.isnan(v) else v

    def members(self, level: str, period: str | None = None) -> list[str]:
        """The members of ``level`` that have a row in ``period`` (default: the reported
        one), sorted."""
        t = self.frame(level, period or self.month)
        return sorted({str(k) for k in t["key"]})

    def write_csv(self, path: str | os.PathLike, style=None) -> str:
        """The tidy table as CSV (UTF-8 with BOM, for Excel). Names from the data are
        written so that no spreadsheet runs them as formulas; numbers and separators as
        ``style`` says (:mod:`kpi_xl.csv_out`: whole numbers as integers, 15 significant
        digits; comma or semicolon)."""
        from ..csv_out import COMMA, write_frame
        from ..files import open_replacing

        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        t = self.table.copy()
        for c in ("key", "note"):
            t[c] = [_safe_text(v) if isinstance(v, str) else "" for v in t[c].astype(object)]
        with open_replacing(path, "w", newline="", encoding="utf-8-sig") as f:
            write_frame(f, t, ("value", "n", "margin", "target"), style or COMMA)
        write_results_json(self, os.path.splitext(path)[0] + ".json")  # unescaped, for programs
        return path

    def frame(self, level: str | None = None, period: str | None = None, key: str | None = None):
        """Rows of one level, period and member (each optional)."""
        t = self.table
        if level is not None:
            t = t[t.level == level]
        if period is not None:
            t = t[t.period == period]
        if key is not None:
            t = t[t["key"] == key]
        return t.reset_index(drop=True)


def write_results_json(results: Results, path: str | os.PathLike) -> str:
    """The tidy table as JSON beside the CSV, names exactly as in the data (``+44 Sales``,
    not the CSV's ``'+44 Sales``): what programs (the mail step) read back, with
    ``read_results_json``. {month, grain, fiscal_start, periods, levels, skipped, columns,
    rows}; NaN is null."""
    import json

    from ..files import open_replacing

    t = results.table
    rows = []
    for r in t[list(TIDY_COLUMNS)].astype(object).itertuples(index=False, name=None):
        rows.append([None if isinstance(v, float) and math.isnan(v) else
                     (v.item() if hasattr(v, "item") else v) for v in r])
    doc = {"month": results.month, "grain": results.grain,
           "fiscal_start": results.fiscal_start, "periods": list(results.periods),
           "levels": results.levels, "skipped": dict(results.skipped),
           "columns": list(TIDY_COLUMNS), "rows": rows}
    path = os.fspath(path)
    with open_replacing(path, "w", encoding="utf-8") as f:
        # dumps, not dump: json.dump encodes in Python piece by piece, dumps in C (the
        # same text; 3,618 rows: 0.7 -> 0.1 s)
        f.write(json.dumps(doc, ensure_ascii=False, allow_nan=False))
    return path


def read_results_json(path: str | os.PathLike) -> Results:
    import json

    import pandas as pd

    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    t = pd.DataFrame(doc["rows"], columns=doc["columns"])
    for c in ("value", "n", "margin", "target"):
        t[c] = pd.to_numeric(t[c], errors="coerce").astype(float)
    for c in ("period", "level", "key", "kpi", "variant", "status", "note", "title", "unit",
              "number_format", "direction"):
        t[c] = [float("nan") if v is None or v == "" else str(v) for v in t[c]]  # as read_csv
    t["low_sample"] = t["low_sample"].astype(bool)
    return Results(t, doc["month"], list(doc["periods"]), dict(doc["skipped"]),
                   doc.get("grain", "month"), int(doc.get("fiscal_start", 1)))


# --------------------------------------------------------------------------- wide -> tidy
_KPI_INDEX = {k: i for i, k in enumerate(CATALOG)}
_STATUS = ("", "on target", "off target")


def tidy_parts(wide, rendered, choices: Mapping[str, KpiChoice], scalar: bool = False) -> dict | None:
    """The tidy rows of one query's wide answer, as arrays: positions into the wide
    rows (for period, level, member), the KPI's position in the catalog, and the
    numbers. Text columns are built once, as categoricals, in :func:`assemble`."""
    import numpy as np

    if not rendered:
        return None
    parts: dict[str, list] = {c: [] for c in ("row", "kpi", "variant", "value", "n",
                                               "margin", "target", "status", "low",
                                               "note")}
    members = wide["member"].to_numpy(dtype=object)
    for kpi, variant, _ks in rendered:
        k = kpi.key
        value = wide[k + "__value"].to_numpy(dtype=float)
        note = wide[k + "__note"].to_numpy(dtype=object)
        if k + "__rows" in wide:
            keep = wide[k + "__rows"].to_numpy(dtype=float) > 0
        elif scalar:   # a period without the figures is not a period with an undefined KPI
            keep = ~np.isnan(value) | (note != None)  # noqa: E711 (elementwise)
        else:
            keep = np.ones(len(value), bool)
        rows = np.flatnonzero(keep)
        choice = choices.get(k, KpiChoice())
        default = choice.target if choice.target is not None else kpi.target_of(variant)
        target = np.full(len(rows), np.nan if default is None else float(default))
        for name, t in choice.targets.items():
            target[members[rows] == name] = float(t)
        v = value[rows]
        n = wide[k + "__n"].to_numpy(dtype=float)[rows]
        direction = kpi.direction_of(variant)
        min_n = choice.min_n if choice.min_n is not None else kpi.min_n
        parts["row"].append(rows)
        parts["kpi"].append(np.full(len(rows), _KPI_INDEX[k], dtype=np.int16))
        parts["variant"].append(variant.name)
        parts["value"].append(v)
        parts["n"].append(n)
        parts["margin"].append(wide[k + "__margin"].to_numpy(dtype=float)[rows])
        parts["target"].append(target)
        parts["status"].append(status_codes(v, target, direction))
        parts["low"].append(n < min_n if min_n is not None else np.zeros(len(rows), bool))
        parts["note"].append(note[rows])
    return {"wide": wide[["period", "level", "member"]], "parts": parts}


def status_codes(value, target, direction: str):
    """:func:`kpi_xl.catalog.spec.status` over arrays, as positions in ``_STATUS``
    (a test holds the two equal)."""
    import numpy as np

    out = np.zeros(len(value), dtype=np.int8)
    if direction == "neutral":
        return out
    has = ~np.isnan(value) & ~np.isnan(target)
    with np.errstate(invalid="ignore"):
        ok = value >= target if direction == "higher" else value <= target
    out[has & ok] = 1
    out[has & ~ok] = 2
    return out


def status_array(value, target, direction: str):
    import numpy as np

    return np.array(_STATUS, dtype=object)[status_codes(value, target, direction)]


def assemble(frames: list[dict], levels: list[str], periods: list[str]):
    """One tidy DataFrame (text columns categorical), ordered by period (oldest first),
    level (in ``levels`` order), key, then catalog order."""
    import numpy as np
    import pandas as pd

    if not frames:
        return pd.DataFrame(columns=list(TIDY_COLUMNS))
    keys = pd.concat([f["wide"] for f in frames], ignore_index=True)
    offsets = np.cumsum([0] + [len(f["wide"]) for f in frames])[:-1]
    row = np.concatenate([o + r for f, o in zip(frames, offsets, strict=True)
                          for r in f["parts"]["row"]])

    def cat(name):
        return np.concatenate([a for f in frames for a in f["parts"][name]])

    kpi = cat("kpi")
    # a KPI whose query kept no row (a mapped column blank on every row) has an empty
    # part: it names no KPI, so it must not lend its variant to another one
    var_of = {int(a[0]): v for f in frames
              for a, v in zip(f["parts"]["kpi"], f["parts"]["variant"], strict=True) if len(a)}
    keys = keys.iloc[row].reset_index(drop=True)
    period = pd.Categorical(keys["period"].astype(str), categories=list(periods))
    member = pd.Categorical(keys["member"].astype(str))
    level = pd.Categorical(keys["level"].astype(str), categories=list(levels))
    idx = np.lexsort((kpi, member.codes, np.asarray(level.codes), period.codes))
    used = sorted(set(kpi.tolist()))
    keys_list = list(CATALOG)
    meta = {k: CATALOG[keys_list[k]] for k in used}

    def per_kpi(fn):
        cats = list(dict.fromkeys(fn(k) for k in used))
        lut = np.array([cats.index(fn(k)) if k in meta else -1 for k in range(len(keys_list))])
        return pd.Categorical.from_codes(lut[kpi][idx], categories=cats)

    def variant_of(k):
        return meta[k].variant(var_of[k])

    note = np.array([x if isinstance(x, str) else "" for x in cat("note")[idx]], dtype=object)
    return pd.DataFrame({
        "period": period[idx], "level": level[idx], "key": member[idx],
        "kpi": per_kpi(lambda k: keys_list[k]),
        "variant": per_kpi(lambda k: var_of[k]),
        "value": cat("value")[idx], "n": cat("n")[idx], "margin": cat("margin")[idx],
        "target": cat("target")[idx],
        "status": pd.Categorical.from_codes(cat("status")[idx], categories=list(_STATUS)),
        "low_sample": cat("low")[idx],
        "note": pd.Categorical(note),
        "title": per_kpi(lambda k: meta[k].title),
        "unit": per_kpi(lambda k: meta[k].unit_of(variant_of(k))),
        "number_format": per_kpi(lambda k: meta[k].format_of(variant_of(k))),
        "direction": per_kpi(lambda k: meta[k].direction_of(variant_of(k))),
    })
