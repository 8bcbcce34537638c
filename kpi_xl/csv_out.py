"""CSV files that open cleanly in any locale's Excel: the number format and the separator
of the files kpi_xl writes for people (``kpi-results.csv``, ``rejects.csv``).

* :func:`number_text`: a number as a spreadsheet reads it back exactly. Whole values are
  integers (``816``, not ``816.0``: counts, n, volumes); other values keep 15 significant
  digits, which drops binary float noise (``0.30000000000000004`` is written ``0.3``) and
  is what Excel itself keeps; never an exponent (``0.00001``, not ``1e-05``).
* :class:`CsvStyle`: ``comma`` (the default: ``,`` between fields, ``.`` in numbers) or
  ``semicolon`` (``;`` between fields, ``,`` in numbers), which Excel set to a continental
  locale (German, French, Italian, Spanish, Portuguese...) opens by double-click with
  numbers as numbers. The config chooses with ``[output] csv = "semicolon"``.

Both files keep their UTF-8 byte-order mark, so Excel shows accents.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Iterable, Mapping, Sequence


@dataclass(frozen=True)
class CsvStyle:
    name: str
    delimiter: str
    decimal: str


COMMA = CsvStyle("comma", ",", ".")
SEMICOLON = CsvStyle("semicolon", ";", ",")
STYLES = {s.name: s for s in (COMMA, SEMICOLON)}
#: significant digits kept: a double holds 15 exactly (DBL_DIG), and Excel keeps 15
DIGITS = 15


def number_text(value: Any, decimal: str = ".") -> str:
    """``value`` as CSV text: '' when missing, an integer when whole, else at most 15
    significant digits in positional notation, with ``decimal`` as the decimal mark."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    v = float(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):       # not a value a KPI gives; written so that it is seen, not lost
        return "inf" if v > 0 else "-inf"
    s = f"{v:.{DIGITS}g}"
    if "e" in s:
        s = format(Decimal(s), "f")
    if s in ("-0", "-0.0"):
        s = "0"
    return s.replace(".", decimal) if decimal != "." else s


def parse_output(spec: Any, problems: list[str]) -> CsvStyle:
    """The ``[output]`` section: ``csv = "comma"`` (default) or ``"semicolon"``."""
    if spec is None:
        return COMMA
    if not isinstance(spec, Mapping):
        problems.append(f"[output] must be a table, got {spec!r}")
        return COMMA
    for k in spec:
        if k != "csv":
            problems.append(f"[output]: unknown key {k!r} (keys: csv)")
    name = spec.get("csv", COMMA.name)
    if name not in STYLES:
        problems.append(f"[output] csv must be \"comma\" (fields split by ',', decimal "
                        f"point) or \"semicolon\" (fields split by ';', decimal comma, for "
                        f"Excel in continental locales), got {name!r}")
        return COMMA
    return STYLES[name]


def write_rows(f: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]],
               style: CsvStyle = COMMA) -> None:
    """Rows of text (numbers already written with :func:`number_text`) in ``style``."""
    w = csv.writer(f, delimiter=style.delimiter)
    w.writerow(header)
    w.writerows(rows)


def write_frame(f: IO[str], frame, numeric: Sequence[str], style: CsvStyle = COMMA) -> None:
    """A DataFrame in ``style``: the ``numeric`` columns through :func:`number_text`
    (whole values are cast at once; the rest one by one), the others as text."""
    import numpy as np

    out = frame.copy()
    for c in numeric:
        v = out[c].to_numpy(dtype=float)
        text = np.full(len(v), "", dtype=object)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(v) & (np.abs(v) < 1e15) & (v == np.round(v))
        text[whole] = v[whole].astype(np.int64).astype(str)
        for i in np.flatnonzero(~whole):
            text[i] = number_text(v[i], style.decimal)
        out[c] = text
    out.to_csv(f, index=False, sep=style.delimiter)


__all__ = ["COMMA", "SEMICOLON", "STYLES", "CsvStyle", "number_text", "parse_output",
           "write_frame", "write_rows"]
