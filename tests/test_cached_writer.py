"""The cells of a saved workbook are written by kpi_xl (issue 14 §2: big centres'
workbooks), with their cached values, in one pass; these tests hold that writer to what
openpyxl writes, and the evaluator's shared subtrees to the values of unshared ones.

* Every sheet's XML is the same, once canonicalised (C14N: attribute order and empty
  elements normalised), as openpyxl's own save followed by the value patch that kpi_xl
  used before (``patch_sheet``): strings (with edge spaces, markup characters), numbers,
  booleans, dates, styled empty cells, row heights, formulas of every value type and a
  refused formula.
* Equal subtrees are evaluated once per sheet: ``1`` and ``TRUE`` are equal in Python
  but not in Excel, and stay two subtrees.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from xml.etree.ElementTree import canonicalize

import pytest

openpyxl = pytest.importorskip("openpyxl")

from openpyxl.styles import Font  # noqa: E402

from kpi_xl.scorecard.cached import _sheet_files, patch_sheet, save_with_values  # noqa: E402
from kpi_xl.scorecard.formula import Evaluator  # noqa: E402


def _workbook():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Team & co"
    ws["A1"] = "  padded text "
    ws["A2"] = "a < b & c > d"
    ws["A3"] = 3.25
    ws["A4"] = 7
    ws["A5"] = True
    ws["A6"] = dt.datetime(2026, 10, 31, 12, 30)
    ws["A7"].font = Font(bold=True)                       # styled, empty
    ws.row_dimensions[9].height = 30                      # a row with no cells
    ws["B1"] = "=SUM(A3:A4)"                              # number
    ws["B2"] = '="x"&A3'                                  # text
    ws["B3"] = "=A3>1"                                    # boolean
    ws["B4"] = "=1/0"                                     # error
    ws["B5"] = "=XLOOKUP(1,A3:A4,A3:A4)"                  # refused: no cached value
    ws["B5"].font = Font(italic=True)
    other = wb.create_sheet("Agent 1")
    other["A1"] = "='Team & co'!B1*2"
    return wb


def test_cells_are_written_as_openpyxl_writes_them_with_the_values(tmp_path):
    ours = tmp_path / "ours.xlsx"
    values = save_with_values(_workbook(), ours)
    assert values[("Team & co", "B1")] == 10.25 and ("Team & co", "B5") in values.refused

    buf = io.BytesIO()                     # before: openpyxl's save, then the value patch
    _workbook().save(buf)
    with zipfile.ZipFile(buf) as before, zipfile.ZipFile(ours) as now:
        files = _sheet_files(before)
        assert files == _sheet_files(now)
        for title, part in files.items():
            expected = patch_sheet(before.read(part), title, values)
            assert canonicalize(now.read(part).decode()) == canonicalize(expected.decode()), title

    back = openpyxl.load_workbook(ours, data_only=True)
    ws = back["Team & co"]
    assert ws["A1"].value == "  padded text " and ws["A2"].value == "a < b & c > d"
    assert (ws["B1"].value, ws["B2"].value, ws["B3"].value, ws["B4"].value) == \
        (10.25, "x3.25", True, "#DIV/0!")
    assert ws["B5"].value is None                          # refused: computed on open
    assert back["Agent 1"]["A1"].value == 20.5
    assert back["Team & co"].row_dimensions[9].height == 30


def test_equal_subtrees_are_shared_but_one_and_true_are_not():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "=ISNUMBER(1)"
    ws["A2"] = "=ISNUMBER(TRUE)"
    ws["A3"] = "=SUMPRODUCT((B1:B3>1)*(B1:B3<5))"
    ws["A4"] = "=SUMPRODUCT((B1:B3>1)*(B1:B3<5)*B1:B3)"
    for k, v in enumerate((1, 2, 4), start=1):
        ws.cell(k, 2, v)
    ev = Evaluator(wb)
    got = {c.coordinate: v for _s, c, v in ev.all_values()}
    # Excel: ISNUMBER(1) is TRUE, ISNUMBER(TRUE) is FALSE; 2 and 4 are in (1, 5): 2 rows,
    # summing 6
    assert got == {"A1": True, "A2": False, "A3": 2.0, "A4": 6.0}
    a3, a4 = ev.parsed["=SUMPRODUCT((B1:B3>1)*(B1:B3<5))"], \
        ev.parsed["=SUMPRODUCT((B1:B3>1)*(B1:B3<5)*B1:B3)"]
    assert a4[2][0][2] is a3[2][0]          # the filter of A3 is the one object inside A4


def test_rank_next_to_a_near_tie_is_left_to_the_spreadsheet(tmp_path):
    """Before: in a 500-agent QA workbook, RANK(C173,$C$6:$C$505) was cached as 281 where
    LibreOffice computes 280: C97 holds 0.7214285714285715 and C173 0.7214285714285714
    (both the same mean, summed in another order), which Excel and LibreOffice rank as a
    tie. Such a rank is now refused (no cached value; computed on open); exact ties and
    plain ranks are still computed."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for k, v in enumerate((0.7214285714285715, 0.7214285714285714, 0.5, 0.5), start=1):
        ws.cell(k, 2, v)
    ws["A1"] = "=RANK(B2,$B$1:$B$4)"
    ws["A2"] = "=RANK(B3,$B$1:$B$4)"            # 0.5 twice: an exact tie, rank 3
    ws["A3"] = '=IFERROR(RANK(B2,$B$1:$B$4),"")'
    values = save_with_values(wb, tmp_path / "rank.xlsx")
    assert ("Sheet", "A1") in values.refused and ("Sheet", "A3") in values.refused
    assert values[("Sheet", "A2")] == 3.0


def _formatted():
    """Three sheets whose conditional formats' styles are shared objects, equal objects
    and different ones, as a QA workbook's agent sheets share their template's."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.styles.differential import DifferentialStyle

    wb = openpyxl.Workbook()
    red = DifferentialStyle(fill=PatternFill(bgColor="FFC7CE", fill_type="solid"))
    styles = [                              # (sheet, its rules' styles)
        ("One", [red, DifferentialStyle(font=Font(bold=True))]),
        ("Two", [red, DifferentialStyle(fill=PatternFill(bgColor="C6EFCE",
                                                         fill_type="solid")), None]),
        ("Three", [DifferentialStyle(fill=PatternFill(bgColor="FFC7CE", fill_type="solid")),
                   DifferentialStyle(), red,
                   DifferentialStyle(font=Font(italic=True))]),
    ]
    for k, (title, dxfs) in enumerate(styles):
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = title
        for j, dxf in enumerate(dxfs):
            rule = FormulaRule(formula=[f"A{j + 1}>1"])
            rule.dxf = dxf
            ws.conditional_formatting.add(f"A{j + 1}:B{j + 1}", rule)
    return wb


def test_conditional_formats_styles_are_numbered_as_openpyxl_numbers_them(tmp_path):
    """The writer numbers each style object once (cached.Dxfs: by the object, held);
    numbering by anything less than the object (its type, say) gives Two's green the
    number of One's red. The sheets' XML and the styles are openpyxl's own."""
    ours = tmp_path / "ours.xlsx"
    save_with_values(_formatted(), ours)
    buf = io.BytesIO()
    _formatted().save(buf)
    with zipfile.ZipFile(buf) as before, zipfile.ZipFile(ours) as now:
        assert canonicalize(now.read("xl/styles.xml").decode()) == \
            canonicalize(before.read("xl/styles.xml").decode())
        for title, part in _sheet_files(before).items():
            assert canonicalize(now.read(part).decode()) == \
                canonicalize(before.read(part).decode()), title
    back = openpyxl.load_workbook(ours)
    ids = {ws.title: [rule.dxfId for cf in ws.conditional_formatting for rule in cf.rules]
           for ws in back.worksheets}
    assert ids == {"One": [0, 1], "Two": [0, 2, None], "Three": [0, None, 0, 3]}


def _styled():
    """Cells whose styles differ in one part each (font, fill, border, number format,
    protection, alignment), on two sheets, the second's in another order."""
    from openpyxl.styles import Alignment, Border, PatternFill, Protection, Side

    wb = openpyxl.Workbook()
    parts = [("font", Font(bold=True)), ("fill", PatternFill("solid", fgColor="FFFF00")),
             ("border", Border(left=Side(style="thin"))), ("number_format", "0.0%"),
             ("protection", Protection(locked=False)),
             ("alignment", Alignment(wrap_text=True))]
    for k, title in enumerate(("One", "Two")):
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = title
        for r, (attr, value) in enumerate(parts[::1 if k == 0 else -1], 1):
            for c in (1, 2):
                cell = ws.cell(r, c, r * c)
                setattr(cell, attr, value)
    return wb


def test_each_cells_style_number_is_openpyxls(tmp_path):
    """sheet_data numbers each distinct style once per sheet (cached._attributes, by all
    of the style's numbers); a key missing one of them (the alignment, the protection)
    gives two styles one number."""
    ours = tmp_path / "ours.xlsx"
    save_with_values(_styled(), ours)
    buf = io.BytesIO()
    _styled().save(buf)
    with zipfile.ZipFile(buf) as before, zipfile.ZipFile(ours) as now:
        assert now.read("xl/styles.xml") == before.read("xl/styles.xml")
        for title, part in _sheet_files(before).items():
            assert canonicalize(now.read(part).decode()) == \
                canonicalize(before.read(part).decode()), title
    back = openpyxl.load_workbook(ours)
    assert back["Two"]["A1"].alignment.wrap_text and back["One"]["A5"].protection.locked is False


def test_agent_sheets_share_their_template_sheets_conditional_format_styles():
    """Each agent sheet's conditional formats are copies of the template sheet's
    (template._extras), their styles the template's own objects, so that the writer
    numbers each once per workbook (Dxfs); a rule a loop moves is a new rule with the
    same style, the template's rule unchanged."""
    from pathlib import Path

    from kpi_xl.scorecard.refs import Block, Mapper, Moves
    from kpi_xl.scorecard.template import _copied_extras, _extras, _rule_moved

    path = Path(__file__).resolve().parents[1] / "kpi_xl" / "templates" / "agent-qa.xlsx"
    ws = openpyxl.load_workbook(path)["Agent"]
    styles = [rule.dxf for cf in ws.conditional_formatting for rule in cf.rules]
    assert styles and all(s is not None for s in styles)
    extras = _extras(ws)
    one, two = _copied_extras(extras)[0], _copied_extras(extras)[0]
    for (_s1, a), (_s2, b), style in zip(one, two, styles, strict=True):
        assert a is not b and a.dxf is style and b.dxf is style
    from openpyxl.utils.cell import coordinate_from_string

    sqref, rule = next((s, r) for s, r in one        # a rule reading a cell of its row
                       if r.formula and re.search(r"(?<![$\w])[A-Z]+\d", r.formula[0]))
    before = list(rule.formula)
    col, row = coordinate_from_string(sqref.split()[0].split(":")[0])
    assert row > 3
    loop = Mapper()
    loop.blocks.append(Block(1, 3, 6))          # rows below row 3 move down 3
    moved = _rule_moved(rule, Moves().mover(loop, "Agent"))
    assert moved is not rule and moved.dxf is rule.dxf and rule.formula == before
    assert moved.formula != before and moved.priority == rule.priority
