"""Fill an .xlsx template: jinja2 expressions in cells, repeated rows, one sheet per item.

The template language, for people who restyle the shipped templates in Excel:

``{{ expr }}`` alone in a cell
    the value, with its type: a number stays a number (the cell's number format shows
    it), text stays text, nothing leaves the cell empty.
``Month: {{ month }}``
    text with expressions in it.
``{% for kpi in perspective.kpis %}`` alone in a cell, ``{% endfor %}`` further down
    the rows between the two marker rows repeat once per item (the marker rows go).
    Formulas inside repeated rows work like Excel's fill-down for references to the
    repeated rows; references elsewhere stay put. Formulas, conditional formats, data
    validations, merged cells and charts elsewhere move and stretch as if the rows had been
    inserted in Excel: ``=SUM(J10:J10)`` over a one-row loop becomes ``=SUM(J10:J21)``.
    With no items, the rows appear once, empty.
``{% sheet for agent in agents named agent.name %}`` in any cell
    the sheet is repeated once per item, named by the expression (made a valid, unique
    sheet name), with every chart, conditional format and data validation of the template
    sheet; the template sheet goes. A name that is not a valid sheet name as it stands
    (``Ann/Lee``, more than 31 characters, ``Team`` when there is a Team sheet, ``ann``
    after ``ANN``) gets one that is (``Ann-Lee``, cut, ``Team (2)``, ``ann (2)``), and
    ``{{ name | sheetref }}`` in any formula is the sheet the loop made for that name; the
    template sheet's own name (``Agent``) is free for an item to take.
``{% columns D:E for member in dimension.members %}`` in any cell
    columns D to E (the block) are repeated once per item, side by side (D:E, F:G, ...),
    with their styles, widths and conditional formats; in each copy, ``member`` inside
    ``{{ }}`` and ``{% %}`` is that copy's item. The block must be the last used columns of
    the sheet. Row loops then expand every column as usual.
``{{ kpi.actual | numfmt(kpi.number_format) }}``, ``={{ kpi.number_format | cellformat }}G5-H5``
    the value (or the formula) with that number format, for columns whose rows hold
    different units (a percentage on one row, seconds on the next).
``={{ x }}`` in a formula
    numbers are written as numbers, text as an Excel string literal ("..."), and
    ``{{ agent.sheet | sheetref }}`` as a quoted sheet name (of the sheet a sheet loop
    made for that name, when one did): data never becomes formula code.
``=IFERROR({{ kpi_formula('qa_score', weights='$D$34:$D$34', scores='$F$34:$F$34', fatal='$E$34:$E$34', max_score='$B$4', where={'$A$34:$A$34': 'A13'}) }},"")``
    a catalog KPI as a live formula over the given ranges, written by the catalog's Excel
    renderer (``kpi_xl.render.excel``): the template states where the inputs are, never
    the KPI's formula. Inputs take ranges (column inputs) or cells (period totals);
    options take numbers or cells; ``variant=`` picks a variant, ``measure=`` one of the
    declaration's measures (``'fatal items failed'``, ``'points share'``) or ``'n'``;
    ``where={range: cell or number, ...}`` keeps the rows whose ranges equal them (one
    evaluation's items; its fatal items: ``'$E$34:$E$34': 1``). The value is #N/A where
    a row breaks one of the KPI's input rules; a measure where a row it reads breaks a
    rule of an input it reads (``kpi_xl.catalog.rules.rules_read``), and where a cell it
    reads holds what it cannot read (text in a number or score other than N/A, a fatal
    flag not 0 or 1: a pasted value, which data validation never judges);
    ``refused='check item row'`` makes it that text and the first such row's number
    instead ("check item row 37"). Only cell references are accepted as arguments, so
    data cannot become formula code.

The page header and footer take ``{{ }}`` like a cell (a value's ``&`` is doubled, so it
prints as ``&``, not as a header code), and print titles below a loop follow their rows.

Column widths are the template's, widened where a filled value would be cut by the cell
to its right (up to 60 characters; longer text wraps): kpi_xl.scorecard.widths.

Expressions run in jinja2's sandbox (no attribute access to internals, no imports). An
error names the template, sheet and cell. Text from data that starts with ``=``, ``+``,
``-`` or ``@`` is written as text, never as a formula.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from jinja2 import StrictUndefined, Undefined, nodes, pass_context
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment
from openpyxl import load_workbook
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.worksheet.cell_range import MultiCellRange

from ..errors import KpiXlError
from ..text import cell_text, ooxml_text, printable, shown_text
from ..names import SheetTitles
from .refs import Block, Mapper, Moves, map_formula, map_ranges, quote_sheet, retitle
from .widths import fit_columns

FOR = re.compile(r"^\{%-?\s*for\s+(\w+)\s+in\s+(.+?)\s*-?%\}$")
ENDFOR = re.compile(r"^\{%-?\s*endfor\s*-?%\}$")
SHEET = re.compile(r"^\{%-?\s*sheet\s+for\s+(\w+)\s+in\s+(.+?)\s+named\s+(.+?)\s*-?%\}$")
COLUMNS = re.compile(r"^\{%-?\s*columns\s+([A-Z]{1,3}):([A-Z]{1,3})\s+for\s+(\w+)\s+in\s+(.+?)"
                     r"\s*-?%\}$")
ONE = re.compile(r"^\{\{(.+?)\}\}$", re.S)


class TemplateError(KpiXlError, ValueError):
    """A template cannot be filled; the message names the file, sheet and cell."""


#: Excel's longest formula, in characters (its '=' counted): Excel "repairs" a workbook
#: holding a longer one and drops the formula
EXCEL_FORMULA_MAX = 8_192


def _too_long(formula: Any) -> str | None:
    """Why ``formula`` (a cell's formula text, with its '=') cannot be written, or None."""
    if type(formula) is not str or len(formula) <= EXCEL_FORMULA_MAX:
        return None
    return (f"the formula is {len(formula):,} characters long, longer than Excel's limit of "
            f"{EXCEL_FORMULA_MAX:,} (Excel would drop it when opening the workbook); "
            "shorten it, for instance by splitting it over helper cells")


class SheetRef(str):
    """A sheet name to be written into a formula, quoted."""


#: the context's key for the sheets the sheet loops made: the name each item asked for
#: -> the title its sheet has (None: two items asked for that name)
LOOP_SHEETS = "kpi_xl_loop_sheets"


def _loop_sheet(titles: Mapping[str, str | None] | None, name: SheetRef) -> str:
    """The title of the sheet a sheet loop made for ``name`` (``name`` itself when no loop
    made one: a sheet of the template, whose title it must be able to be)."""
    if not titles or name not in titles:
        if SheetTitles().add(str(name)) != str(name):
            raise ValueError(f"sheetref: {printable(str(name))!r} is not the name of a sheet "
                             "a sheet loop made, and no sheet can have that title; name the "
                             "loop's sheets by what the formula names (named agent.sheet "
                             "with agent.sheet | sheetref)")
        return str(name)
    title = titles[name]
    if title is None:
        raise ValueError(f"sheetref: two sheets of a sheet loop are named {str(name)!r}, so "
                         "a formula cannot tell which one it means; name each item's sheet "
                         "by something unique (agent.sheet)")
    return title


class _Empty:
    """The item of a loop with no items: every attribute is empty, it renders as ''."""

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self

    def __str__(self):
        return ""

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False


EMPTY = _Empty()


def _formula_literal(value: Any) -> str:
    """How a value from data is written inside a formula: never as formula code."""
    if isinstance(value, SheetRef):
        return quote_sheet(str(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return "NA()"
        return repr(float(value)) if isinstance(value, float) else str(value)
    if value is None or isinstance(value, _Empty):
        return '""'
    if callable(value):             # {{ kpi_formula }}: its text, an address, in the cell
        raise ValueError(f"{getattr(value, '__name__', 'a function')} is written without "
                         "being called: write it with its arguments, "
                         "{{ kpi_formula('qa_score', ...) }}")
    # data text as a formula's string: printable, and in pieces of at most 255 characters
    # (Excel's limit for one text constant in a formula) joined with &
    text = printable(str(value)).replace('"', '""')
    return "&".join('"' + text[i:i + 255] + '"' for i in range(0, len(text), 255)) or '""'


class _Nothing(str):
    """What ``cellformat`` leaves in a formula: nothing at all."""


_FORMATS: list[str] = []     # number formats asked for while rendering the current cell


def _numfmt(value: Any, fmt: Any) -> Any:
    if fmt:
        _FORMATS.append(str(fmt))
    return value


def _cellformat(fmt: Any) -> _Nothing:
    if fmt:
        _FORMATS.append(str(fmt))
    return _Nothing("")


class _Code(str):
    """Formula text written by the catalog's renderer: goes into the formula as is."""


_REFERENCE = re.compile(r"^(?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?\$?[A-Z]{1,3}\$?\d+"
                        r"(?::\$?[A-Z]{1,3}\$?\d+)?$")


def _reference(name: str, v: Any) -> str:
    if not isinstance(v, str) or not _REFERENCE.match(v):
        raise ValueError(f"kpi_formula: {name} must be a cell or range reference such as "
                         f"'$B$2:$B$99', got {v!r}")
    return v


_KPI_FORMULAS: dict = {}


def kpi_formula(key: str, variant: str | None = None, measure: str | None = None,
                where: Mapping[str, Any] | None = None, refused: str | None = None,
                filled: tuple[str, ...] | list[str] = (), **args: Any) -> _Code:
    """A catalog KPI rendered as a worksheet formula over the given cells (without the
    leading ``=``): see the module's docstring."""
    from ..catalog import CATALOG
    from ..render.arrays import resolve_params
    from ..render.excel import ExcelRenderer

    # each value with its type: True == 1 and False == 0, but True is refused as a
    # reference where 1 is a number
    memo = (key, variant, measure,
            tuple(sorted((k, type(v), v) for k, v in (where or {}).items())), refused,
            tuple(filled), tuple(sorted((k, type(v), v) for k, v in args.items())))
    hit = _KPI_FORMULAS.get(memo)
    if hit is not None:
        return hit
    if key not in CATALOG:
        raise ValueError(f"kpi_formula: {key!r} is not a KPI of the catalog")
    kpi = CATALOG[key]
    var = kpi.variant(variant)
    params = {p.name for p in kpi.params}
    ranges, cells, given, refs = {}, {}, {}, {}
    for name, v in args.items():
        if name in params:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                given[name] = v
            else:
                refs[name] = _reference(name, v)
            continue
        try:
            inp = kpi.input(name)
        except KeyError:
            raise ValueError(f"kpi_formula: {key} has no input or option {name!r} (inputs: "
                             f"{', '.join(i.name for i in kpi.inputs)}; options: "
                             f"{', '.join(sorted(params)) or 'none'})") from None
        (ranges if inp.is_column else cells)[name] = _reference(name, v)
    missing = [i.name for i in kpi.inputs if not i.optional and i.name not in args]
    if missing:
        raise ValueError(f"kpi_formula: {key} needs {', '.join(missing)}")
    resolved = {**resolve_params(kpi, var, given), **refs}
    rows = None
    if where:
        def equals(v):
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            return _num_text(v) if number else _reference("where", v)
        rows = "*".join(f"({_reference('where', r)}={equals(v)})" for r, v in where.items())
    # cells the formula cannot read are looked for on the rows the where-ranges that are
    # not inputs pick (one evaluation's items), and an input the where compares (its
    # fatal items: fatal = 1) on all of them: "Y" typed as a fatal flag must not take the
    # item silently out of the evaluation's compliance
    compared = {_reference("where", r) for r in (where or {})}
    checked = tuple(n for n, r in ranges.items() if r in compared)
    scope = "*".join(f"({_reference('where', r)}={equals(v)})" for r, v in (where or {}).items()
                     if _reference("where", r) not in ranges.values()) or None
    if refused is not None and not isinstance(refused, str):
        raise ValueError("kpi_formula: refused= takes a text (what the cell says where a row "
                         "breaks a rule, before the row's number)")
    # an Excel error value in a where-range that is no input (the evaluation column):
    # the row is in no evaluation anyone can tell, so it refuses the formula on any row
    keys = tuple(dict.fromkeys(_reference("where", r) for r in (where or {})
                               if _reference("where", r) not in ranges.values()))
    # a where-range that holds a value on every row of the table (the evaluation id: the
    # loader rejects a row without one): a row with inputs but none there refuses too
    filled = tuple(_reference("filled", r) for r in filled)
    if any(r not in keys for r in filled):
        raise ValueError("kpi_formula: filled= names where-ranges that are no input")
    renderer = ExcelRenderer(kpi, var, ranges=ranges, cells=cells, params=resolved, rows=rows,
                             scope=scope, checked=checked, keys=keys, filled=filled)
    known = {**({"n": var.formula.n} if var.formula.n is not None else {}),
             **var.formula.measures}
    if measure is None:
        node = None
    elif measure in known:
        node = known[measure]
    else:       # 'n' of a KPI without one (a formula on period totals) included
        raise ValueError(f"kpi_formula: {key} has no measure {measure!r} (measures: "
                         f"{', '.join(known) or 'none'})")
    f = renderer.render(node, refused)
    if f.array:
        raise ValueError(f"kpi_formula: {key} needs an array formula (a quantile), which "
                         "templates cannot hold yet")
    if len(_KPI_FORMULAS) > 5_000:
        _KPI_FORMULAS.clear()
    out = _KPI_FORMULAS[memo] = _Code(f.text[1:])
    return out


def _num_text(v: float) -> str:
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"kpi_formula: cannot compare with {v!r}")
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _env(formula: bool) -> SandboxedEnvironment:
    @pass_context
    def finalize(jctx, v):
        if isinstance(v, _Code):
            return str(v)
        if isinstance(v, SheetRef):
            v = SheetRef(_loop_sheet(jctx.get(LOOP_SHEETS), v))
        return "" if isinstance(v, _Nothing) else _formula_literal(v)

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               finalize=finalize if formula else None)
    env.filters["sheetref"] = lambda v: SheetRef(str(v))
    env.filters["numfmt"] = _numfmt
    env.filters["cellformat"] = _cellformat
    if formula:
        env.globals["kpi_formula"] = kpi_formula
    return env


ENV, FORMULA_ENV = _env(False), _env(True)


@dataclass
class _Where:
    file: str
    sheet: str

    def error(self, cell: str, e: Exception) -> TemplateError:
        return TemplateError(f"template {self.file}, sheet '{self.sheet}', cell {cell}: {e}")


def put(cell, value: Any) -> None:
    """Write a value from data: text stays text even when it looks like a formula, and is
    shown as it is (``_x0041_`` stored ``_x005F_x0041_``: :func:`~kpi_xl.text.ooxml_text`)."""
    t = type(value)
    if t is str:
        text = cell_text(value)
        cell._value = ooxml_text(text) if "_x" in text else text     # (the test: a call less)
        cell.data_type = "s"
    elif t is float or t is int:
        if value != value:
            cell._value = None
        else:
            cell._value, cell.data_type = value, "n"
    elif value is None or isinstance(value, _Empty):
        cell._value = None
    elif isinstance(value, str):        # a subclass (numpy.str_): as text, like any str
        cell._value, cell.data_type = ooxml_text(cell_text(str(value))), "s"
    else:
        cell.value = value


_COMPILED: dict[tuple[str, str], Any] = {}
_PATH = re.compile(r"^[A-Za-z]\w*(?:\.[A-Za-z]\w*|\[\d+\])*$")
_STEP = re.compile(r"\.([A-Za-z]\w*)|\[(\d+)\]")
_MISS = object()


_PATHS: dict[str, tuple | None] = {}


def _path(expr: str) -> tuple | None:
    """``a.b[0].c`` as ("a", ("b", None), (None, 0), ("c", None)), once per text; None
    for anything else."""
    hit = _PATHS.get(expr, _MISS)
    if hit is _MISS:
        hit = None
        if _PATH.match(expr):
            head = re.match(r"[A-Za-z]\w*", expr).group(0)
            hit = (head, *((name, int(index) if index else None)
                           for name, index in _STEP.findall(expr[len(head):])))
        if len(_PATHS) > 20_000:
            _PATHS.clear()
        _PATHS[expr] = hit
    return hit


def _lookup(expr: str, ctx: Mapping[str, Any]) -> Any:
    """``a.b[0].c`` read directly (a loop evaluates thousands of them); anything else, or
    anything not plainly found in dicts and lists, goes through jinja2's sandbox."""
    path = _path(expr)
    if path is None or path[0] not in ctx:
        return _MISS
    v = ctx[path[0]]
    for name, index in path[1:]:
        if index is not None:
            if not isinstance(v, (list, tuple)) or index >= len(v):
                return _MISS
            v = v[index]
        elif isinstance(v, dict) and name in v and not hasattr(dict, name):
            v = v[name]
        else:
            return _MISS
    return v if isinstance(v, (str, int, float, type(None), dt.date, list, tuple, dict)) else _MISS


def _compiled(kind: str, text: str):
    """Templates and expressions compiled once per distinct text (a loop repeats them)."""
    key = (kind, text)
    fn = _COMPILED.get(key)
    if fn is None:
        if kind == "formula":
            fn = FORMULA_ENV.from_string(text).render
        elif kind == "expr":
            fn = ENV.compile_expression(text, undefined_to_none=False)
        else:
            fn = ENV.from_string(text).render
        if len(_COMPILED) > 20_000:
            _COMPILED.clear()
        _COMPILED[key] = fn
    return fn


#: the template's globals whose result depends on their arguments alone (kpi_formula: the
#: catalog's formula over the cells named), so that a formula calling them on constants
#: renders to the same text in every context
_PURE_GLOBALS = frozenset({"kpi_formula"})
#: what such a formula may hold: text, constants (in dicts, lists and tuples) and calls of
#: those globals; anything else (a name from the context, an attribute, a filter: sheetref
#: reads the loops' sheets, numfmt notes a number format) may differ between contexts
_CONSTANT_NODES = frozenset({nodes.Output, nodes.TemplateData, nodes.Const, nodes.Keyword,
                             nodes.Dict, nodes.Pair, nodes.List, nodes.Tuple, nodes.Call,
                             nodes.Name})
_CONSTANT: dict[str, frozenset | None] = {}
_RENDERED: dict[str, str] = {}      # such formulas rendered, by their text


def _context_free(text: str) -> frozenset | None:
    """The names formula ``text`` reads, when it reads nothing but :data:`_PURE_GLOBALS`
    (called on constants: the QA sheets' ``kpi_formula`` cells, a 3,300-character formula
    rendered on every row of every agent's evaluations); None when it may read anything
    else, or cannot be parsed (rendering it says why)."""
    hit = _CONSTANT.get(text, _MISS)
    if hit is _MISS:
        try:
            tree = FORMULA_ENV.parse(text)
        except JinjaError:
            tree = None
        names: set[str] | None = None if tree is None else set()
        for n in () if tree is None else tree.find_all(nodes.Node):
            kind = type(n)
            if (kind not in _CONSTANT_NODES
                    or (kind is nodes.Name and (n.ctx != "load" or n.name not in _PURE_GLOBALS))
                    or (kind is nodes.Call and type(n.node) is not nodes.Name)):
                names = None
                break
            if kind is nodes.Name:
                names.add(n.name)
        hit = None if names is None else frozenset(names)
        if len(_CONSTANT) > 20_000:
            _CONSTANT.clear()
        _CONSTANT[text] = hit
    return hit


def _render_formula(raw: str, ctx: Mapping[str, Any]) -> str:
    """Formula ``raw`` rendered in ``ctx``; once per text where it reads nothing from the
    context (:func:`_context_free`, its names not taken by the context)."""
    pure = _context_free(raw)
    if pure is None or any(name in ctx for name in pure):
        return _compiled("formula", raw)(ctx)
    text = _RENDERED.get(raw)
    if text is None:
        text = _compiled("formula", raw)(ctx)
        if len(_RENDERED) > 5_000:
            _RENDERED.clear()
        _RENDERED[raw] = text
    return text


def render_value(raw: Any, ctx: Mapping[str, Any], where: _Where, coord: str
                 ) -> tuple[Any, bool, str | None]:
    """(value, is_formula, number format asked for) of a template cell in ``ctx``.

    A template's text (not its formulas) is read as Excel shows it (openpyxl reads it as
    stored: ``_x005F_x0041_`` for ``_x0041_``), so that :func:`put` stores it again as the
    template had it, with the data it now holds."""
    if not isinstance(raw, str) or ("{{" not in raw and "{%" not in raw):
        if isinstance(raw, str) and not raw.startswith("="):
            return shown_text(raw), False, None
        return raw, isinstance(raw, str) and raw.startswith("="), None
    _FORMATS.clear()
    try:
        if raw.startswith("="):
            out = _render_formula(raw, ctx), True
        else:
            m = ONE.match(raw.strip())
            if m and "{{" not in m.group(1):
                expr = m.group(1).strip()
                v = _lookup(expr, ctx)
                out = (v if v is not _MISS else _compiled("expr", expr)(ctx)), False
            else:
                out = _compiled("text", shown_text(raw))(ctx), False
        if isinstance(out[0], Undefined):
            str(out[0])                      # StrictUndefined: raises, naming the name
    except (JinjaError, TypeError, ValueError, AttributeError, KeyError, IndexError,
            ZeroDivisionError) as e:
        raise where.error(coord, f"{type(e).__name__}: {e}") from None
    return out[0], out[1], (_FORMATS[-1] if _FORMATS else None)


def _evaluate(expr: str, ctx: Mapping[str, Any], where: _Where, coord: str) -> Any:
    try:
        v = _lookup(expr, ctx)
        return v if v is not _MISS else _compiled("expr", expr)(ctx)
    except (JinjaError, TypeError, ValueError, AttributeError, KeyError) as e:
        raise where.error(coord, f"{type(e).__name__}: {e}") from None


# ------------------------------------------------------------------ the workbook
@dataclass
class Filled:
    workbook: Any
    mappers: dict[str, Mapper]


def fill(template: str | Path, context: Mapping[str, Any]) -> Filled:
    """The template filled with ``context``; formulas are left for the caller to cache."""
    path = Path(template)
    return fill_workbook(open_template(path), context, path.name)


def open_template(path: Path):
    """The template's workbook; one that cannot be opened is a TemplateError naming it."""
    try:
        return load_workbook(path)
    except (OSError, KeyError, ValueError) as e:
        raise TemplateError(f"template {path.name} cannot be opened: {e}") from None


def fill_workbook(wb, context: Mapping[str, Any], file: str) -> Filled:
    """:func:`fill` of a template already opened (``file``: its name, for messages)."""
    contexts: dict[str, dict] = {}
    context = with_loop_sheets(context)
    for ws in list(wb.worksheets):
        _sheet_loop(wb, ws, dict(context), contexts, file)
    mappers: dict[str, Mapper] = {}
    moves = Moves()
    for ws in wb.worksheets:
        mappers[ws.title] = _fill_sheet(ws, contexts.get(ws.title, dict(context)), file, moves)
    _finish_sheets(wb, mappers, wb.worksheets, file)
    wb.calculation.fullCalcOnLoad = True        # Excel recalculates on open
    return Filled(wb, mappers)


def with_loop_sheets(context: Mapping[str, Any]) -> dict:
    """``context`` with room for the titles the sheet loops give (``LOOP_SHEETS``, read by
    ``sheetref``): every sheet of one workbook is filled in a context made from it."""
    return {**context, LOOP_SHEETS: {}}


def _fill_sheet(ws, ctx: dict, file: str, moves: Moves | None = None) -> Mapper:
    """One sheet filled in ``ctx``: its column loop, its cells and row loops, its page
    header and footer; how its rows moved (for the other sheets' references to it).
    :func:`fill` and the streamed writer (:mod:`.streamed`) fill every sheet this way,
    with one ``moves`` for the workbook's sheets (the formulas moved so far)."""
    where = _Where(file, ws.title)
    ctx = _column_loop(ws, ctx, where)
    mapper = _expand_sheet(ws, ctx, where, Moves() if moves is None else moves)
    _running_heads(ws, ctx, where)
    return mapper


def _finish_sheets(wb, mappers: dict[str, Mapper], sheets, file: str) -> None:
    """``sheets``, filled: their references to other sheets moved with those sheets' rows
    (``mappers``: the sheets filled so far), then their columns widened where a value
    would be cut by its neighbour. A formula longer than Excel takes (as rendered, or made
    so by its references: a row number with more digits, a longer sheet name) is refused
    here, the one place where each formula is final (``file``: the template's name, for
    the message)."""
    _cross_sheet(wb, mappers, sheets)
    for ws in sheets:
        for c in ws._cells.values():
            if c.data_type == "f" and (why := _too_long(c._value)):
                raise _Where(file, ws.title).error(c.coordinate, why)
        fit_columns(ws)


def _header_text(v: Any) -> str:
    # '&' starts a header code (&P the page, &"font"…): a value's '&' is doubled
    return "" if v is None or isinstance(v, _Nothing) else printable(str(v)).replace("&", "&&")


HEADER_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                  finalize=_header_text)


#: the most a filled header or footer part holds: Excel refuses (repairs) a workbook whose
#: header or footer is longer than 255 characters, its three parts and codes together
HEADER_PART_MAX = 70


def _header_cut(text: str) -> str:
    if len(text) <= HEADER_PART_MAX:
        return text
    cut = text[:HEADER_PART_MAX - 1]
    if (len(cut) - len(cut.rstrip("&"))) % 2:        # not half of a doubled '&'
        cut = cut[:-1]
    return cut + "…"


@functools.lru_cache(maxsize=64)
def _header_template(text: str):
    """A page header's template, compiled once (a QA workbook fills the same header on
    every agent's sheet: compiling it each time was 3 % of a big centre's workbooks)."""
    return HEADER_ENV.from_string(text)


def _running_heads(ws, ctx: Mapping[str, Any], where: _Where) -> None:
    """The page header's and footer's ``{{ … }}`` rendered like a cell's (the sheet's
    title above the column heads a continued table repeats on every page)."""
    hf = ws.HeaderFooter
    for name in ("oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader",
                 "firstFooter"):
        part = getattr(hf, name, None)
        for side in ("left", "center", "right"):
            text = getattr(getattr(part, side, None), "text", None)
            if not text or ("{{" not in text and "{%" not in text):
                continue
            try:
                filled = _header_template(text).render(ctx)
                getattr(part, side).text = _header_cut(filled)
            except (JinjaError, TypeError, ValueError, AttributeError, KeyError) as e:
                raise TemplateError(f"template {where.file}, sheet '{where.sheet}', page "
                                    f"{name[-6:].lower()} ({side}): {type(e).__name__}: {e}"
                                    ) from None


def _marker(ws, pattern: re.Pattern):
    """(cell, match) of the sheet's first cell, in row order, that is ``pattern``'s marker
    (``SHEET``, ``COLUMNS``); None when none is."""
    for _key, c in sorted(ws._cells.items()):
        v = c.value
        if isinstance(v, str) and "{%" in v:
            m = pattern.match(v.strip())
            if m:
                return c, m
    return None


def _sheet_loop(wb, ws, context: dict, contexts: dict, file: str) -> None:
    """The sheet loop of ``ws``, if it has one: a sheet per item in its place (each
    item's context in ``contexts``, by the name the loop gave its sheet), and ``ws``
    gone."""
    found = _marker(ws, SHEET)
    if found is None:
        return
    for _new, title, ctx in _loop_sheets(wb, ws, *found, context, file):
        contexts[title] = ctx
    wb.remove(ws)


def _loop_sheets(wb, ws, cell, match, context: dict, file: str):
    """The sheet loop whose marker is ``cell`` of ``ws`` (``match``: its ``SHEET``
    match). Its items and their sheets' titles are decided now, and the marker cleared;
    the iterator returned makes each item's sheet when asked, after the last one's: a
    copy of ``ws`` with its :func:`_copy_extras`, titled and moved to the item's place;
    (the sheet, its title, the item's context). The caller removes ``ws`` after the last.
    :func:`fill` makes them all before filling any; the streamed writer fills and writes
    each before the next is made.

    The titles are made here and only here (kpi_xl.names.SheetTitles): valid, and unique
    among the workbook's other sheets and each other as Excel compares them. The name
    each item asked for -> its title goes into ``context[LOOP_SHEETS]`` (when the caller
    put a dict there), which ``sheetref`` reads, so a formula naming an item's sheet names
    the one made for it even when its title is not the name asked for. ``ws`` is renamed
    while the copies are made, so its title is free for an item (an agent called "Agent":
    openpyxl named that copy "Agent1", and the Team sheet's formulas pointed at no sheet),
    unless something outside ``ws`` names it (:func:`_named_elsewhere`): that reference
    would then read an item's sheet. In each copy, references to ``ws`` itself (formulas,
    hyperlinks) name the copy, as charts' do."""
    where = _Where(file, ws.title)
    var, items_expr, name_expr = match.groups()
    items = list(_evaluate(items_expr, context, where, cell.coordinate) or [])
    cell.value = None
    position = wb.worksheets.index(ws)
    own = ws.title
    taken = SheetTitles([s.title for s in wb.worksheets if s is not ws]
                        + ([own] if _named_elsewhere(wb, ws, own) else []))
    made = []                                       # (the item's context, its title)
    asked: dict[str, str | None] = {}
    for item in items:
        ctx = {**context, var: item}
        name = str(_evaluate(name_expr, ctx, where, cell.coordinate))
        title = taken.add(printable(name))
        asked[name] = None if name in asked else title
        made.append((ctx, title))
    known = context.get(LOOP_SHEETS)
    if isinstance(known, dict):                     # a name two loops gave: neither's
        for name, title in asked.items():
            known[name] = None if name in known else title
    # ws meanwhile: a title no item has, nor the copies' first ones (openpyxl's "… Copy")
    hold = taken.add("Template")
    while any(t.lower().startswith(f"{hold} copy".lower()) for _c, t in made):
        hold = taken.add("Template")
    ws.title = hold
    extras = _extras(ws)

    def sheets():
        for k, (ctx, title) in enumerate(made):
            new = wb.copy_worksheet(ws)
            new.title = title
            if new.title != title:                  # openpyxl renamed it: never let it pass
                raise where.error(cell.coordinate, f"the sheet for {title!r} was named "
                                  f"{new.title!r}; rename the template's sheets")
            _copy_extras(ws, new, extras, own)
            _retitle_own(new, own)
            wb.move_sheet(new, position + k - wb.worksheets.index(new))
            yield new, title, ctx

    return sheets()


def _names(text: Any, title: str) -> bool:
    """Whether ``text`` (a formula, a hyperlink's place, a defined name) may name sheet
    ``title``: read generously (a template's formula may not parse before it is filled),
    so a title is kept from an item rather than lent to one a reference meant otherwise."""
    if not isinstance(text, str) or "!" not in text:
        return False
    low = text.lower()
    return any(f.lower() + "!" in low for f in (title, quote_sheet(title)))


def _named_elsewhere(wb, ws, title: str) -> bool:
    """Whether a formula, hyperlink or defined name outside ``ws`` names sheet ``title``."""
    for dn in wb.defined_names.values():
        if _names(dn.attr_text, title):
            return True
    for s in wb.worksheets:
        if s is ws:
            continue
        if any(_names(dn.attr_text, title) for dn in s.defined_names.values()):
            return True
        for c in s._cells.values():
            link = getattr(c, "_hyperlink", None)           # merged cells have none
            if _names(c._value, title) or (link is not None and _names(link.location, title)):
                return True
    return False


def _retitle_own(new, title: str) -> None:
    """The copy ``new`` of sheet ``title``: its formulas' and hyperlinks' references to
    that sheet made references to itself (``='Agent'!B5`` in "Ann"'s sheet reads Ann's)."""
    for c in new._cells.values():
        if c.data_type == "f" and _names(c._value, title):
            c._value = retitle(c._value, title, new.title)
        link = getattr(c, "_hyperlink", None)
        if link is not None:
            link.location = _to_copy(link.location, title, new.title)


def _to_copy(text: str | None, title: str, copy: str) -> str | None:
    """A reference without its '=' (a hyperlink's place, a conditional format's or a
    validation's formula) naming sheet ``title`` made to name ``copy``; else as it was."""
    return retitle("=" + text, title, copy)[1:] if _names(text, title) else text


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _column_loop(ws, ctx: dict, where: _Where) -> dict:
    """``{% columns D:E for member in items %}``: the block of columns repeated once per
    item to its right (values, styles, widths, merged cells, conditional formats); in copy
    ``j`` the loop variable is renamed ``member__j``, which the returned context holds."""
    from openpyxl.formula.translate import Translator
    from openpyxl.utils import column_index_from_string, get_column_letter

    found = _marker(ws, COLUMNS)
    if found is None:
        return ctx
    cell, m = found
    first, last = column_index_from_string(m.group(1)), column_index_from_string(m.group(2))
    var, expr = m.group(3), m.group(4)
    if last < first:
        raise where.error(cell.coordinate, f"columns {m.group(1)}:{m.group(2)} run backwards")
    items = list(_evaluate(expr, ctx, where, cell.coordinate) or [])
    cell.value = None
    right = sorted((r, col) for (r, col), c in ws._cells.items()
                   if col > last and c.value is not None)
    if right:
        raise where.error(ws.cell(*right[0]).coordinate,
                          "the columns repeated by {% columns %} must be the last used ones "
                          "of the sheet; move this cell left of them or below the table")
    width = last - first + 1
    name = re.compile(rf"(?<![\w.]){re.escape(var)}(?!\w)")
    block = [(r, col, c, c.value) for (r, col), c in sorted(ws._cells.items())
             if first <= col <= last]
    widths = {col: ws.column_dimensions[get_column_letter(col)].width
              for col in range(first, last + 1)}
    merged = [mr for mr in ws.merged_cells.ranges
              if mr.min_col >= first and mr.max_col <= last]
    formats = [(cf, rule) for cf in ws.conditional_formatting for rule in cf.rules
               if all(first <= r.min_col and r.max_col <= last for r in cf.sqref.ranges)]
    ctx = dict(ctx)
    for j in range(max(len(items), 1)):
        alias = f"{var}__{j}"
        ctx[alias] = items[j] if items else EMPTY
        shift = j * width
        for r, col, c, v in block:
            target = ws.cell(row=r, column=col + shift) if shift else c
            if shift and c.has_style:
                target._style = copy.copy(c._style)
            if isinstance(v, str) and ("{{" in v or "{%" in v):
                target.value = _JINJA.sub(lambda x: name.sub(alias, x.group(0)), v)
            elif shift and c.data_type == "f" and isinstance(v, str):
                target.value = Translator(v, origin=c.coordinate).translate_formula(
                    target.coordinate)
            elif shift:
                target._value, target.data_type = v, c.data_type
        if not shift:
            continue
        for col, w in widths.items():
            if w is not None:
                ws.column_dimensions[get_column_letter(col + shift)].width = w
        for mr in merged:
            ws.merge_cells(start_row=mr.min_row, end_row=mr.max_row,
                           start_column=mr.min_col + shift, end_column=mr.max_col + shift)
        for cf, rule in formats:
            parts = sorted(cf.sqref.ranges, key=lambda r: (r.min_row, r.min_col))
            ranges = " ".join(f"{get_column_letter(r.min_col + shift)}{r.min_row}:"
                              f"{get_column_letter(r.max_col + shift)}{r.max_row}"
                              for r in parts)
            top = parts[0]
            origin = f"{get_column_letter(top.min_col)}{top.min_row}"
            moved = copy.copy(rule)
            moved.formula = [Translator("=" + f, origin=origin).translate_formula(
                f"{get_column_letter(top.min_col + shift)}{top.min_row}")[1:]
                for f in (rule.formula or [])]
            ws.conditional_formatting.add(ranges, moved)
    return ctx


def _extras(src) -> tuple[bytes, list]:
    """What :func:`_copy_extras` copies from ``src`` that openpyxl's objects hold, pickled
    once: each copy is one ``pickle.loads`` (openpyxl's own copies go through XML and
    back, 8× slower, once per agent sheet). The conditional formats' styles (font, fill,
    border: nothing changes them) are not copied but shared by every copy, so that the
    writer numbers each once per workbook (:class:`.cached.Dxfs`); (the pickle, the
    styles it leaves out)."""
    shared: list = []
    numbers: dict[int, int] = {}                # id(style) -> its place in shared
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)

    def persistent_id(obj):
        if type(obj) is not DifferentialStyle:
            return None
        if id(obj) not in numbers:
            numbers[id(obj)] = len(shared)
            shared.append(obj)
        return numbers[id(obj)]

    pickler.persistent_id = persistent_id
    pickler.dump(([(str(cf.sqref), rule) for cf in src.conditional_formatting
                   for rule in cf.rules],
                  list(src.data_validations.dataValidation), list(src._charts),
                  src.HeaderFooter, src.sheet_properties.pageSetUpPr))
    return buf.getvalue(), shared


def _copied_extras(extras: tuple[bytes, list]):
    """:func:`_extras`' objects, a new copy of them (the styles it left out shared)."""
    data, shared = extras
    unpickler = pickle.Unpickler(io.BytesIO(data))
    unpickler.persistent_load = shared.__getitem__
    return unpickler.load()


def _copy_extras(src, dst, extras: tuple[bytes, list] | None = None,
                 title: str | None = None) -> None:
    """What openpyxl's copy_worksheet leaves behind: conditional formats and validations
    (their references to ``src`` pointed at the copy), charts (pointed at the copy),
    freeze panes, view, print titles, header and footer.
    ``extras``: :func:`_extras` of ``src``, when it was made already; ``title``: the title
    ``src``'s charts name it by (its own when None)."""
    rules, validations, charts, header, page = _copied_extras(extras or _extras(src))
    title = src.title if title is None else title
    for sqref, rule in rules:
        if rule.formula:
            rule.formula = [_to_copy(f, title, dst.title) for f in rule.formula]
        dst.conditional_formatting.add(sqref, rule)
    for dv in validations:
        dv.formula1 = _to_copy(dv.formula1, title, dst.title)
        dv.formula2 = _to_copy(dv.formula2, title, dst.title)
        dst.add_data_validation(dv)
    old = quote_sheet(title)
    for c in charts:
        _retarget_chart(c, lambda f: f.replace(old + "!", quote_sheet(dst.title) + "!")
                        .replace(title + "!", quote_sheet(dst.title) + "!")
                        if f else f)
        dst.add_chart(c)
    dst.freeze_panes = src.freeze_panes
    dst.sheet_view.showGridLines = src.sheet_view.showGridLines
    dst.sheet_view.zoomScale = src.sheet_view.zoomScale
    dst.print_title_rows = src.print_title_rows
    dst.print_title_cols = src.print_title_cols
    if src.print_area:
        dst.print_area = [str(a).split("!")[-1].replace("$", "") for a in
                          (src.print_area if isinstance(src.print_area, list) else
                           str(src.print_area).split(","))]
    dst.HeaderFooter = header
    dst.sheet_properties.pageSetUpPr = page


def _chart_refs(chart):
    """Every (object, attribute) holding a reference formula in a chart's series."""
    for s in chart.series:
        for part in (s.val, s.cat, s.xVal, s.yVal, s.tx):
            if part is None:
                continue
            for attr in ("numRef", "strRef"):
                ref = getattr(part, attr, None)
                if ref is not None and ref.f:
                    yield ref


_SINGLE = re.compile(r"^(.*!)?(\$?[A-Z]{1,3}\$?\d+)$")


def _retarget_chart(chart, fn) -> None:
    """Rewrite a chart's references; a single cell is read as a one-cell range, so that a
    series or its categories on a loop row grow with the loop."""
    for ref in _chart_refs(chart):
        m = _SINGLE.match(ref.f)
        f = f"{m.group(1) or ''}{m.group(2)}:{m.group(2)}" if m else ref.f
        new = fn(f)
        ref.f = ref.f if new == f else new


# ------------------------------------------------------------------ one sheet
def _expand_sheet(ws, ctx: dict, where: _Where, moves: Moves) -> Mapper:
    """Render the sheet's cells and expand all of its loops in one pass: every cell is
    written once, at the row the loops ahead of it send it to."""
    found = _find_blocks(ws)
    in_block = {r for s, e in found for r in range(s, e + 1)}
    # existing cells only (iter_rows would create every empty cell of the used range)
    for (r, _col), c in sorted(ws._cells.items()):
        if r in in_block or c.value is None:
            continue
        value, is_formula, fmt = render_value(c.value, ctx, where, c.coordinate)
        if is_formula:
            c.value = value
        else:
            put(c, value)
        if fmt:
            c.number_format = fmt
    mapper = Mapper()
    if not found:
        return mapper
    loops = []                    # (template start, template end, var, items)
    for start, end in found:
        var, items = _loop_header(ws, start, ctx, where)
        loops.append((start, end, var, items))
    for start, end, _var, items in loops:   # each block in the rows left by those before it
        mapper.blocks.append(Block(mapper.row(start), mapper.row(end), max(len(items), 1)))
    _write_expanded(ws, loops, mapper, ctx, where, moves)
    return mapper


def _find_blocks(ws) -> list[tuple[int, int]]:
    out, start = [], None
    for _key, c in sorted(ws._cells.items()):
        if not isinstance(c.value, str) or "{%" not in c.value:
            continue
        v = c.value.strip()
        if FOR.match(v):
            if start is not None:
                raise TemplateError(f"sheet '{ws.title}', cell {c.coordinate}: a loop "
                                    "inside a loop is not supported; close the first "
                                    "with {% endfor %}")
            start = c.row
        elif ENDFOR.match(v):
            if start is None:
                raise TemplateError(f"sheet '{ws.title}', cell {c.coordinate}: "
                                    "{% endfor %} without a {% for %} above it")
            out.append((start, c.row))
            start = None
    if start is not None:
        raise TemplateError(f"sheet '{ws.title}', row {start}: {{% for %}} without "
                            "{% endfor %} below it")
    return out


def _loop_header(ws, start: int, ctx: dict, where: _Where):
    for c in ws[start]:
        if isinstance(c.value, str) and FOR.match(c.value.strip()):
            var, expr = FOR.match(c.value.strip()).groups()
            return var, list(_evaluate(expr, ctx, where, c.coordinate) or [])
    raise AssertionError("loop row without its marker")


def _write_expanded(ws, loops, mapper: Mapper, ctx: dict, where: _Where, moves: Moves
                    ) -> None:
    from openpyxl.cell.cell import Cell
    from openpyxl.styles.cell_style import StyleArray
    from openpyxl.utils import get_column_letter

    own = ws.title
    first = loops[0][0]
    merged = [str(m) for m in ws.merged_cells.ranges]
    for m in merged:
        ws.unmerge_cells(m)
    body_of = {}                                   # template row -> loop index
    markers = set()
    for k, (start, end, _v, _i) in enumerate(loops):
        markers.update((start, end))
        for r in range(start + 1, end):
            body_of[r] = k

    memo: dict = {}

    def final(row, last=False, within=None, relative=False):
        key = (row, last, within, relative)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = mapper.row(row, last=last, within=within, relative=relative)
        return hit

    outside = moves.mover(mapper, own)
    insides: dict[tuple[int, int], Any] = {}       # (loop, copy) -> its formulas' mover

    def inside_of(k: int, j: int):
        """How a formula written in copy ``j`` of loop ``k``'s body moves."""
        inside = insides.get((k, j))
        if inside is None:
            inside = insides[(k, j)] = moves.mover(mapper, own, (k, j))
        return inside

    contexts = [[{**ctx, var: items[j] if items else EMPTY} for j in range(b.copies)]
                for (_s, _e, var, items), b in zip(loops, mapper.blocks)]   # each copy's
    # formulas above the first loop: only their references move
    for (r, _c), cell in ws._cells.items():
        if r < first and cell.data_type == "f" and isinstance(cell.value, str):
            cell.value = outside(cell.value)
    snapshot = []
    for (r, col), c in list(ws._cells.items()):
        if r >= first:
            snapshot.append((r, col, c._value, c.data_type, c._style if c.has_style else None,
                             c.comment))
            del ws._cells[(r, col)]
    heights = {r: ws.row_dimensions[r] for r in list(ws.row_dimensions) if r >= first}
    for r in heights:
        del ws.row_dimensions[r]
    cells = ws._cells

    def place(row, col, style):
        cell = Cell(ws, row=row, column=col)
        if style is not None:
            cell._style = StyleArray(style)
        cells[(row, col)] = cell
        return cell

    for r, col, val, dtype, style, comment in snapshot:
        if r in markers:
            continue
        k = body_of.get(r)
        if k is None:                              # after (or between) loops: moved
            cell = place(final(r), col, style)
            if dtype == "f":
                cell.value = outside(val)
            else:
                cell._value, cell.data_type = val, dtype
            if comment is not None:
                cell.comment = copy.copy(comment)
            continue
        coord = f"{get_column_letter(col)}{r}"     # the template's cell, for messages
        for j, local in enumerate(contexts[k]):
            cell = place(final(r, within=(k, j), relative=True), col, style)
            value, is_formula, fmt = render_value(val, local, where, coord)
            if is_formula or dtype == "f":
                cell._value = inside_of(k, j)(value if is_formula else val)
                cell.data_type = "f"
            else:
                put(cell, value)
            if fmt:
                cell.number_format = fmt
    for r, dim in heights.items():
        if r in markers:
            continue
        k = body_of.get(r)
        targets = ([final(r, within=(k, j), relative=True)
                    for j in range(mapper.blocks[k].copies)] if k is not None
                   else [final(r)])
        for t in targets:
            d = copy.copy(dim)
            d.index = t
            ws.row_dimensions[t] = d
    for m in merged:
        rows = [int(x) for x in re.findall(r"\d+", m)]
        k = body_of.get(rows[0])
        if k is not None and body_of.get(rows[-1]) == k:
            for j in range(mapper.blocks[k].copies):
                ws.merge_cells(map_ranges(m, lambda r, last, j=j, k=k:
                                          mapper.row(r, last=last, within=(k, j),
                                                     relative=True)))
        else:
            ranged = map_ranges(m, lambda r, last: mapper.row(r, last=last))
            if ranged:
                ws.merge_cells(ranged)

    def rules_mover(row: int):
        """How a conditional format's or a validation's formulas move, read (as Excel
        reads them) from their range's first cell, on template ``row``: as a formula
        written there (in a loop's body: its first copy, where the range now starts)."""
        k = body_of.get(row)
        return outside if k is None else inside_of(k, 0)

    _move_formats(ws, lambda r, last: mapper.row(r, last=last), rules_mover)
    _move_charts(ws, mapper, own)


def _move_formats(ws, fn, movers) -> None:
    """The sheet's conditional formats and validations, their ranges' rows moved by
    ``fn(row, last)`` and their formulas' references by ``movers(row)`` (:func:`_write_expanded`:
    how a formula written on template row ``row``, the range's first, moves)."""
    old = ws.conditional_formatting
    new = ConditionalFormattingList()
    for cf in old:
        sqref = map_ranges(str(cf.sqref), fn)
        for rule in cf.rules:
            if sqref:
                new.add(sqref, _rule_moved(rule, _formulas_mover(str(cf.sqref), movers)))
    ws.conditional_formatting = new
    for dv in ws.data_validations.dataValidation:
        was = str(dv.sqref)
        sq = map_ranges(was, fn)
        dv.sqref = MultiCellRange(sq) if sq else MultiCellRange()
        # like a conditional format's rule, a validation's formula is read from the
        # range's top-left cell (a score's own cell, F34, is F40 once the rows moved)
        move = _formulas_mover(was, movers)
        for attr in ("formula1", "formula2"):
            f = getattr(dv, attr)
            if f and move is not None:
                setattr(dv, attr, move("=" + f)[1:])
    if ws.print_area:
        areas = ws.print_area if isinstance(ws.print_area, list) else str(ws.print_area).split(",")
        ws.print_area = [map_ranges(str(a).split("!")[-1].replace("$", ""), fn) for a in areas]
    titles = re.fullmatch(r"\$?(\d+):\$?(\d+)", str(ws.print_title_rows or ""))
    if titles:                          # a table's column heads, wherever the loops put them
        ws.print_title_rows = f"{fn(int(titles[1]), False)}:{fn(int(titles[2]), True)}"


def _formulas_mover(sqref: str, movers):
    """``movers`` of range list ``sqref``'s first cell's row (None: no range)."""
    top = re.match(r"\$?[A-Z]{1,3}\$?(\d+)", sqref.split()[0]) if sqref.strip() else None
    return None if top is None else movers(int(top[1]))


def _rule_moved(rule, move):
    """A conditional format's rule with its formulas' references moved by ``move`` (a
    formula read from the range's top-left cell, as Excel reads the rule's: a rule on
    loop row 7 that said C7 says C6 when the body lands on row 6, and one reading the
    total below the loop reads the total's new row), as Excel moves them on inserting
    or deleting rows; the rule itself where nothing moves."""
    if not rule.formula or move is None:
        return rule
    formula = [move("=" + f)[1:] for f in rule.formula]
    if formula == list(rule.formula):
        return rule
    # a copy sharing all but its formulas (openpyxl's copy goes through XML and drops the
    # rule's style): its style stays the one the writer numbered once (cached.Dxfs)
    moved = object.__new__(type(rule))
    moved.__dict__.update(rule.__dict__)
    moved.formula = formula
    return moved


def _move_charts(ws, mapper: Mapper, own: str) -> None:
    def fn(sheet, row, relative, last):
        return mapper.row(row, last=last) if sheet == own else None

    for chart in ws._charts:
        _retarget_chart(chart, lambda f: map_formula("=" + f, own, fn)[1:])
        anchor = chart.anchor
        for point in (getattr(anchor, "_from", None), getattr(anchor, "to", None)):
            if point is not None:
                point.row = mapper.row(point.row + 1) - 1


def _cross_sheet(wb, mappers: dict[str, Mapper], sheets=None) -> None:
    """References to other sheets, mapped through how those sheets' rows moved (in
    ``sheets``, every sheet of ``wb`` when None)."""
    def for_sheet(own):
        def fn(sheet, row, relative, last):
            if sheet == own or sheet not in mappers or not mappers[sheet].blocks:
                return None
            return mappers[sheet].row(row, last=last)
        return fn

    for ws in wb.worksheets if sheets is None else sheets:
        fn = for_sheet(ws.title)
        for c in ws._cells.values():
            if c.data_type == "f" and isinstance(c.value, str) and "!" in c.value:
                c.value = map_formula(c.value, ws.title, fn)
        for chart in ws._charts:
            _retarget_chart(chart, lambda f, fn=fn, t=ws.title: map_formula("=" + f, t, fn)[1:])
