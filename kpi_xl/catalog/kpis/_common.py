"""Shapes several KPIs share, written once (a KPI declaration picks one and names it)."""

from __future__ import annotations

from ..expr import Col, Count, Present, Scalar, Sum, ratio, sqrt
from ..spec import Formula, Input

PCT = "0.0%"
Z95 = 1.96  # two-sided 95 % normal quantile


def share(where, of, empty: str, *, margin: bool = False, measures=None) -> Formula:
    """Share of rows: Count(where) / Count(of), with a Wald 95 % margin if asked."""
    num, den = Count(where), Count(of)
    p = ratio(num, den, empty)
    m = Z95 * sqrt(p * (1 - p) / den) if margin else None
    return Formula(value=p, n=den, margin=m, measures=measures or {})


def flag_rate(col: str, empty: str) -> Formula:
    """Share of rows whose flag is set (escalated, transferred, FCR...)."""
    c = Col(col)
    return share(c.eq(1), Present(c), empty, measures={"flagged": Count(c.eq(1)),
                                                        "rows": Count(Present(c))})


def mean_of(col, empty: str, *, margin: bool = False, where=None) -> Formula:
    """Arithmetic mean of a column (or a row expression, over the rows ``where`` says;
    default: where the column is present) with n and a t≈z 95 % margin (sample s.d.).
    The margin is also what the test of a change between periods reads the sample's
    spread from (kpi_xl.catalog.change)."""
    c = Col(col) if isinstance(col, str) else col
    rows = Present(c) if where is None else where
    n = Count(rows)
    m = ratio(Sum(c, rows), n, empty)
    margin_node = None
    if margin:
        var = ratio(Sum(c * c, rows) - n * m * m, n - 1, "one response gives no margin")
        margin_node = Z95 * sqrt(var / n)
    return Formula(value=m, n=n, margin=margin_node)


def scalar_ratio(num: str, den: str, empty: str) -> Formula:
    return Formula(value=ratio(Scalar(num), Scalar(den), empty))


def count_input(name: str, doc: str) -> Input:
    return Input(name, "scalar", doc, lo=0)
