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
from ..catalog.expr import (DOMAIN, And, BinOp, Blank, Call, Cmp, Col, Count, Div, If, Known,
                            Lit, Lookup, Node, Not, Or, Param, Present, Quantile, Scalar, Sum,
                            columns, reads)
from ..catalog.spec import Kpi, Variant
from .cells import NA_WORDS
from .sql import NotRenderable

TEXT_KINDS = ("category",)


@dataclass(frozen=True)
class ExcelFormula:
    text: str            # with the leading '='
    array: bool          # enter as an array formula (quantiles)


def quote_text(text: str) -> str:
    """A text literal in a formula: quotes doubled, as Excel and LibreOffice read them."""
    return '"' + text.replace('"', '""') + '"'


def not_applicable(ref: str) -> str:
    """Excel's test (0/1, over a cell or cell by cell over a range) that ``ref`` holds one
    of the catalog's words for a score that does not apply (:data:`NA_WORDS`: "N/A",
    "NA", "not applicable"; any case, spaces around): the formulas' reading of it, and
    the score cell's data validation (:func:`score_validation`)."""
    words = "+".join(f"(LOWER(TRIM({ref}))={quote_text(w)})" for w in sorted(NA_WORDS))
    return f"(({words})>0)"


def score_validation(ref: str, lo: float, hi: str) -> str:
    """The data validation's formula of a score cell ``ref``: a word of
    :func:`not_applicable`, or a number (TRUE/FALSE is not one, which LibreOffice's
    ISNUMBER would let through and Excel's does not) from ``lo`` to ``hi`` (the cell of
    the rubric's maximum): what the formulas read as meant, typed."""
    return (f"OR({not_applicable(ref)},AND(ISNUMBER({ref}),NOT(ISLOGICAL({ref})),"
            f"{ref}>={_num(lo)},{ref}<={hi}))")


def _boolean(ref: str) -> str:
    """Excel's 0/1 test, cell by cell over a range, of a TRUE/FALSE LibreOffice reads as
    a number: it opens a TRUE or FALSE of an .xlsx (pasted in Excel) as the formula
    =TRUE() or =FALSE(), whose value ISNUMBER takes for a number (1 point, a fatal flag
    of 1), where Excel's ISNUMBER(TRUE) is FALSE and its FORMULATEXT of a constant #N/A
    (so this is 0 in Excel, which refuses the cell as text already). ISLOGICAL, which
    both read, is not evaluated cell by cell over a range by LibreOffice."""
    return f'ISNUMBER(FIND(_xlfn.FORMULATEXT({ref}),"=TRUE()=FALSE()"))'


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
    items among the month's. ``scope``, another such array (default: ``rows``), is where
    the ``checked`` inputs' cells the formula cannot read are looked for
    (:meth:`unreadable`): the inputs ``rows`` itself compares (an evaluation's fatal
    items: ``rows`` would leave out a fatal flag typed "Y"); other inputs are looked at
    on ``rows``. ``keys``, the ranges ``rows`` compares that are no input (the evaluation
    column), are looked at for Excel error values as the inputs are (:meth:`errors`)."""

    def __init__(self, kpi: Kpi, variant: Variant, *, ranges: Mapping[str, str],
                 cells: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                 rows: str | None = None, scope: str | None = None,
                 checked: tuple[str, ...] = (), keys: tuple[str, ...] = (),
                 filled: tuple[str, ...] = ()):
        self.kpi, self.variant = kpi, variant
        self.ranges, self.cells = dict(ranges), dict(cells or {})
        self.rows = rows
        self.scope = scope if scope is not None else rows
        self.checked = tuple(checked)
        self.keys = tuple(keys)
        self.filled = tuple(filled)
        self.params = {**rules.resolve_params(kpi, variant, {}), **dict(params or {})}
        self.array = False
        present = [self._present(i.name) for i in kpi.column_inputs if i.name in self.ranges]
        self.domain = "((" + "+".join(present) + ")>0)" if present else None
        if rows:
            self.domain = f"{self.domain}*{rows}" if self.domain else rows

    def render(self, node: Node | None = None, refused: str | None = None) -> ExcelFormula:
        """The formula of ``node`` (default: the KPI's value; else one of its measures or
        its n). It is #N/A when a domain row (or scalar cell) breaks one of the catalog's
        input rules (:func:`kpi_xl.catalog.rules.rules`): the value on any rule, as the
        Excel function then refuses the whole call; a measure on the rules of the inputs
        it reads, on the rows where it reads them (:func:`kpi_xl.catalog.rules.rules_read`):
        the QA sheet's compliance is refused by a score above the maximum on a compliance
        item (a figure past 100 % otherwise), its fatal-fails count by a fatal item's bad
        score but not by another item's. A cell the formula cannot read (:meth:`unreadable`:
        text pasted into a score, which the formula would take for N/A) refuses it as a
        broken rule does. With ``refused`` (a text), a broken row makes the formula that
        text and the row's number, "check item row 37", instead of #N/A (the first such
        row of the sheet; a broken scalar cell still gives #N/A), and so does an Excel
        error value (#DIV/0! pasted from another sheet) where it would otherwise make the
        formula that error (:meth:`errors`)."""
        text = self.scalar(node if node is not None else self.variant.formula.value)
        found = self.rules(node)
        masks = [self._mask(r.broken) for r in found if r.row] + self.unreadable(node)
        scalars = [self.scalar(r.broken) for r in found if not r.row]
        if refused is not None:
            say = quote_text(refused + " ")
            if masks:
                first = self._first_row(masks)
                if scalars:
                    text = f"IF(OR({','.join(scalars)}),NA(),{text})"
                text = f"IF({first}<1E9,{say}&{first},{text})"
            # the error values before anything that reads them (IF reads one branch)
            errors = self.errors(node)
            if errors:
                first = self._first_row(errors)
                text = f"IF({first}<1E9,{say}&{first},{text})"
            return ExcelFormula("=" + text, self.array)
        broken = [f"SUMPRODUCT({m})>0" for m in masks] + scalars
        if broken:
            text = f"IF(OR({','.join(broken)}),NA(),{text})"
        return ExcelFormula("=" + text, self.array)

    def _first_row(self, masks: list[str]) -> str:
        """The sheet row of the first row where one of ``masks`` (0/1 arrays) is not 0,
        1E9 where none is."""
        return (f"SUMPRODUCT(MIN(ROW({next(iter(self.ranges.values()))})"
                f"+1E9*(({'+'.join(masks)})*1=0)))")     # Excel: FALSE=0 is FALSE

    def errors(self, node: Node | None = None) -> list[str]:
        """A 0/1 array of the rows holding an Excel error value in the ``keys`` or in an
        input the node reads, on any row: Excel and LibreOffice evaluate a range whole,
        and an error value makes every comparison and product over it that error, even
        on a row ``rows`` leaves out (error × 0 is the error). An error in another
        evaluation's item refuses this one too, naming that row, where the formula would
        otherwise be the error (ISERROR alone is read safely over every row). A row whose
        ``filled`` cell (a key every row holds) is empty where an input's is not is looked
        for with them (:meth:`_unkeyed`)."""
        names = self._read_names(node)
        refs = [*self.keys, *(self.ranges[n] for n in names)]
        out = "+".join(f"ISERROR({r})" for r in refs)
        unkeyed = self._unkeyed(names)
        if unkeyed:
            out += "+" + unkeyed
        return [f"({out})"] if refs else []

    def _read_names(self, node: Node | None) -> list[str]:
        """The inputs with ranges that ``node`` reads (all for the value), and the
        ``checked`` ones."""
        read = None if node is None else reads(node)
        return [n for n in self.ranges if read is None or DOMAIN in read or n in read
                or n in self.checked]

    def _unkeyed(self, names: list[str]) -> str | None:
        """A 0/1 array of the rows whose ``filled`` cell is empty where one of ``names``'s
        cells is not (an item row whose evaluation id was cleared): in no evaluation anyone
        can tell (the loader rejects such a row, the id being required), which a where over
        the key would leave out silently. Not a key a row may leave empty (an item of no
        rubric section). ISBLANK reads an error value safely, as ISERROR."""
        if not self.filled or not names:
            return None
        empty = "*".join(f"ISBLANK({self.ranges[n]})" for n in names)
        return "+".join(f"ISBLANK({k})*(({empty})=0)" for k in self.filled)

    def _unreadable_cell(self, name: str) -> str | None:
        """Excel's 0/1 array over ``name``'s range: 1 where a cell holds what the formula
        cannot read as the catalog means it (:func:`kpi_xl.render.cells.parse_column`, the
        Excel function, refuses it): text in a number (``"5 "``, ``"five"``), in a score
        text other than N/A, in a fatal flag anything but the number 1 or 0 (the formula
        reads a flag as a number: "Y" or TRUE would make the item silently not fatal),
        and TRUE/FALSE in any of them in either application (:func:`_boolean`).
        Otherwise a number column reads text as not there (a score: N/A), and a weight
        as 0. None for labels (a category is text). Not caught: a date, which both
        applications hold as a number (its serial, 46300 for 2026-10-05) formatted as a
        date; no function tells the format cell by cell over a range (CELL does for one
        cell in Excel; LibreOffice's CELL("format") gave "G" for a date), so a date
        pasted as a weight weighs its serial. Error values: :meth:`errors`."""
        kind = self._kind(name)
        if kind in TEXT_KINDS:
            return None
        r = self.ranges[name]
        if kind == "flag":
            # a sum of products, each 0 or 1: a number, as SUMPRODUCT needs (Excel counts
            # a TRUE there as 0)
            return (f'(({r}<>"")*(1-ISNUMBER({r}))+ISNUMBER({r})*({r}<>0)*({r}<>1)'
                    f'+{_boolean(r)})')
        bad = f'({r}<>"")*(1-ISNUMBER({r}))'
        if kind == "score":
            bad += f"*(1-{not_applicable(r)})"
        return f"({bad}+{_boolean(r)})"

    def unreadable(self, node: Node | None = None) -> list[str]:
        """Per input the node reads (the value: every given column input), a 0/1 array
        of the rows (``rows``) where its cell is unreadable (:meth:`_unreadable_cell`)
        and the node reads it (:func:`kpi_xl.catalog.expr.reads`; the inputs that decide
        where are trusted only where they are readable themselves, as
        :func:`kpi_xl.catalog.rules.rules_read` trusts them only where they keep their
        rules), and the ``checked`` inputs on every row of the scope."""
        read = None if node is None else reads(node)
        out = []
        for name in self.ranges:
            cell = self._unreadable_cell(name)
            if cell is None:
                continue
            if name in self.checked:
                out.append("*".join(p for p in (self.scope, cell) if p))
                continue
            if read is None or DOMAIN in read or read.get(name) is True:
                where = None
            elif name in read:
                others = [self._unreadable_cell(c) for c in columns(read[name])
                          if c != name and c in self.ranges]
                where = f"(({'+'.join([self.row(read[name]), *filter(None, others)])})>0)"
            else:
                continue
            parts = [p for p in (self.rows, cell, where) if p]
            out.append("*".join(parts))
        return out

    def cell_checks(self) -> dict[str, str]:
        """Per given column input, an Excel condition over the ranges (one cell each, for
        a conditional format of a table's first row) that is not 0 where that input's cell
        breaks one of the value's rules (:func:`kpi_xl.catalog.rules.rules`) or is
        unreadable: what the value's guard refuses, cell by cell."""
        out = {}
        for name in self.ranges:
            parts = [self._mask(r.broken) for r in self.rules() if r.row and r.input == name]
            cell = self._unreadable_cell(name)
            if cell is not None:
                parts.append(cell)
            if parts:
                cond = parts[0] if len(parts) == 1 else f"(({'+'.join(parts)})>0)"
                # one cell: an error value, or TRUE/FALSE as either application holds it
                # (LibreOffice's ISLOGICAL reads a cell's TRUE, not a range's)
                r = self.ranges[name]
                out[name] = f"IF(OR(ISERROR({r}),ISLOGICAL({r})),1,{cond})"
        return out


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
