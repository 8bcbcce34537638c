"""The Excel-formula renderer: a catalog declaration as one worksheet formula over the
ranges that hold its inputs, so a workbook can compute a KPI live from its rows.

Semantics kept from the catalog (``kpi_xl.catalog.expr``): a blank makes every comparison
false (Excel would read a blank as 0, so each comparison on a column is guarded with
ISNUMBER, or ``<>""`` for text); counts are over the KPI's domain (rows where any input is
filled); an empty denominator gives ``#N/A`` (never a division error or a 0). Counts and
sums are SUMPRODUCTs of 0/1 arrays, which Excel and LibreOffice evaluate without array
entry; quantiles use PERCENTILE.INC over IF(...), written with its _xlfn. prefix as
Excel stores functions newer than 2007, which needs an array formula
(:attr:`ExcelFormula.array`).

    =100*(SUMPRODUCT(((ISNUMBER(B2:B9))>0)*(ISNUMBER(B2:B9)*(B2:B9>=9)))/...)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..catalog import rules
from ..catalog.expr import (And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known, Lit, Lookup,
                            Node, Not, Or, Param, Present, Quantile, Scalar, Sum)
from ..catalog.spec import Kpi, Variant
from .sql import NotRenderable

TEXT_KINDS = ("category",)


@dataclass(frozen=True)
class ExcelFormula:
    text: str            # with the leading '='
    array: bool          # enter as an array formula (quantiles)


def quote_text(text: str) -> str:
    """A text literal in a formula: quotes doubled, as Excel and LibreOffice read them."""
    return '"' + text.replace('"', '""') + '"'


def _num(x: float) -> str:
    x = float(x)
    if not math.isfinite(x):
        raise NotRenderable(f"cannot write {x!r} in a formula")
    return repr(x) if not x.is_integer() else str(int(x))


class ExcelRenderer:
    """``ranges`` maps column inputs to ranges (``'Data'!$B$2:$B$500``), ``cells`` scalar
    inputs to cell references, ``params`` resolved options to values (numbers, or cell
    references as text). ``rows``, an Excel 0/1 array over the same rows (``($A$2:$A$99=A5)``),
    restricts the KPI to those rows, as a criterion of COUNTIFS would: one QA evaluation's
    items among the month's."""

    def __init__(self, kpi: Kpi, variant: Variant, *, ranges: Mapping[str, str],
                 cells: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                 rows: str | None = None):
        self.kpi, self.variant = kpi, variant
        self.ranges, self.cells = dict(ranges), dict(cells or {})
        self.params = {**rules.resolve_params(kpi, variant, {}), **dict(params or {})}
        self.array = False
        present = [self._present(i.name) for i in kpi.column_inputs if i.name in self.ranges]
        self.domain = "((" + "+".join(present) + ")>0)" if present else None
        if rows:
            self.domain = f"{self.domain}*{rows}" if self.domain else rows

    def render(self, node: Node | None = None) -> ExcelFormula:
        """The formula of ``node`` (default: the KPI's value; else one of its measures or
        its n). It is #N/A when a domain row (or scalar cell) breaks one of the catalog's
        input rules (:func:`kpi_xl.catalog.rules.rules`): the value on any rule, as the
        Excel function then refuses the whole call; a measure on the rules of the inputs
        it reads, on the rows where it reads them (:func:`kpi_xl.catalog.rules.rules_read`):
        the QA sheet's compliance is refused by a score above the maximum on a compliance
        item (a figure past 100 % otherwise), its fatal-fails count by a fatal item's bad
        score but not by another item's."""
        text = self.scalar(node if node is not None else self.variant.formula.value)
        broken = [f"SUMPRODUCT({self._mask(r.broken)})>0" if r.row else self.scalar(r.broken)
                  for r in self.rules(node)]
        if broken:
            text = f"IF(OR({','.join(broken)}),NA(),{text})"
        return ExcelFormula("=" + text, self.array)

    def rules(self, node: Node | None = None) -> list[rules.Rule]:
        """The catalog's input rules over the inputs that have ranges or cells: all of them
        for the value (``node`` None), those ``node`` reads for a measure."""
        text = [k for k, v in self.params.items() if isinstance(v, str)]   # cell references
        return [r for r in rules.rules_read(self.kpi, self.variant, node, self.params,
                                            self.ranges.keys(), symbolic=text)
                if r.row or r.input in self.cells]

    def _param(self, name: str) -> str:
        """A resolved option: a number, or a cell reference given as text (the template's
        cell holding the rubric's maximum score)."""
        v = self.params[name]
        return v if isinstance(v, str) else _num(v)

    # ------------------------------------------------------------------ rows (arrays)
    def _kind(self, name: str) -> str:
        return self.kpi.input(name).kind

    def _present(self, name: str) -> str:
        r = self.ranges[name]
        return f'({r}<>"")' if self._kind(name) in TEXT_KINDS else f"ISNUMBER({r})"

    def row(self, n: Node) -> str:
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, Param):
            return self._param(n.name)
        if isinstance(n, Col):
            if n.name in self.ranges:
                return self.ranges[n.name]
            default = self.kpi.input(n.name).default_value
            if default is None:
                raise NotRenderable(f"{self.kpi.key}: input '{n.name}' has no range")
            return _num(default)
        if isinstance(n, Present):
            if n.col.name in self.ranges:
                return self._present(n.col.name)
            return "0" if self.kpi.input(n.col.name).default_value is None else "1"
        if isinstance(n, Blank):
            if n.col.name in self.ranges:
                return f'({self.ranges[n.col.name]}="")'
            return "1" if self.kpi.input(n.col.name).default_value is None else "0"
        if isinstance(n, Not):
            return f"(1-{self.row(n.a)})"
        if isinstance(n, Known):
            key = self.ranges[n.key.name]
            terms = "+".join(f"(LOWER({key})={quote_text(k.lower())})"
                             for k in sorted(self.params[n.table.name]))
            return f"(({terms})>0)" if terms else "0"
        if isinstance(n, BinOp):
            return f"({self.row(n.a)}{n.op}{self.row(n.b)})"
        if isinstance(n, Cmp):
            guards = [self._present(c.name) for c in (n.a, n.b)
                      if isinstance(c, Col) and c.name in self.ranges]
            cmp = f"({self.row(n.a)}{n.op}{self.row(n.b)})"
            return "(" + "*".join(guards + [cmp]) + ")"
        if isinstance(n, And):
            return f"({self.row(n.a)}*{self.row(n.b)})"
        if isinstance(n, Or):
            return f"(({self.row(n.a)}+{self.row(n.b)})>0)"
        if isinstance(n, Lookup):
            key = self.ranges[n.key.name]
            table = self.params[n.table.name]
            terms = "+".join(f"(LOWER({key})={quote_text(k.lower())})*{_num(v)}"
                             for k, v in sorted(table.items()))
            return f"({terms})"
        raise NotRenderable(f"{self.kpi.key}: no row-level Excel form for {type(n).__name__}")

    def _mask(self, where: Node) -> str:
        w = self.row(where)
        return f"{self.domain}*{w}" if self.domain else w

    def _terms(self, n: Node):
        """expr as Σ coefficient × product of columns, or None if it is not one."""
        if isinstance(n, Col):
            if n.name not in self.ranges:            # an input left out: its default
                default = self.kpi.input(n.name).default_value
                return None if default is None else [(float(default), [])]
            return [(1.0, [self.row(n)])]
        if isinstance(n, Param) and isinstance(self.params[n.name], str):
            return None          # a cell, not a number: written as array arithmetic
        if isinstance(n, (Lit, Param)):
            return [(float(n.value if isinstance(n, Lit) else self.params[n.name]), [])]
        if isinstance(n, BinOp):
            a, b = self._terms(n.a), self._terms(n.b)
            if a is None or b is None:
                return None
            if n.op == "+":
                return a + b
            if n.op == "-":
                return a + [(-c, f) for c, f in b]
            if n.op == "*":
                return [(ca * cb, fa + fb) for ca, fa in a for cb, fb in b]
        return None

    # ------------------------------------------------------------------ scalars
    def scalar(self, n: Node) -> str:
        if isinstance(n, Count):
            return f"SUMPRODUCT({self._mask(n.where)})"
        if isinstance(n, Sum):
            # each product of columns as separate SUMPRODUCT arguments: text in a cell
            # (N/A) is then 0 instead of a #VALUE! from array arithmetic
            mask = self._mask(n.where)
            terms = self._terms(n.expr)
            if terms is None:
                return f"SUMPRODUCT({mask},{self.row(n.expr)})"
            parts = [f"{_num(c)}*SUMPRODUCT({','.join([mask, *f])})" if c != 1 else
                     f"SUMPRODUCT({','.join([mask, *f])})" for c, f in terms if c != 0]
            if not parts:
                return "0"
            return "(" + "+".join(parts) + ")"
        if isinstance(n, Quantile):
            self.array = True
            return f"_xlfn.PERCENTILE.INC(IF({self._mask(n.where)}>0,{self.row(n.expr)}),{_num(n.q)})"
        if isinstance(n, Lit):
            return _num(n.value)
        if isinstance(n, Param):
            return self._param(n.name)
        if isinstance(n, Scalar):
            return self.cells[n.name]
        if isinstance(n, BinOp):
            return f"({self.scalar(n.a)}{n.op}{self.scalar(n.b)})"
        if isinstance(n, Cmp):
            return f"({self.scalar(n.a)}{n.op}{self.scalar(n.b)})"
        if isinstance(n, (And, Or)):
            return f"{type(n).__name__.upper()}({self.scalar(n.a)},{self.scalar(n.b)})"
        if isinstance(n, Not):
            return f"NOT({self.scalar(n.a)})"
        if isinstance(n, Div):
            den = self.scalar(n.b)
            return f"IF({den}=0,NA(),{self.scalar(n.a)}/{den})"
        if isinstance(n, If):
            return f"IF({self.scalar(n.cond)},{self.scalar(n.then)},{self.scalar(n.other)})"
        if isinstance(n, Call) and n.fn == "sqrt":
            return f"SQRT(MAX(0,{self.scalar(n.args[0])}))"
        if isinstance(n, Call) and n.fn == "erlang_traffic":   # calls × AHT / interval
            a, b, c = (self.scalar(x) for x in n.args)
            return f"({a}*{b}/{c})"
        raise NotRenderable(f"{self.kpi.key}: no Excel form for {type(n).__name__}"
                            + (f" {n.fn}" if isinstance(n, Call) else ""))


def render_excel(kpi: Kpi, variant: Variant, **kw: Any) -> ExcelFormula:
    return ExcelRenderer(kpi, variant, **kw).render()
