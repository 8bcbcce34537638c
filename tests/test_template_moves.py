"""Formulas moved by their sheet's loops, remembered for a workbook (kpi_xl/scorecard/refs.py
``Moves``; issue 14 §2: moving the QA sheets' references was 27 % of writing them).

A QA workbook's agent sheets repeat the same formulas, so a formula is moved once per
loop shape and copy and the result reused. What a moved formula depends on must all be
in what it is remembered by: the loops' sizes, the copy it is written in, and, for a
formula that names a sheet, which sheet it is on. Each test below would give a wrong
formula if one of them were left out of the key (checked by leaving each out).
"""

from __future__ import annotations

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("jinja2")

from kpi_xl.scorecard.refs import Block, Mapper, Moves, map_formula  # noqa: E402
from kpi_xl.scorecard.template import fill  # noqa: E402


def _mapper(*blocks: tuple[int, int, int]) -> Mapper:
    m = Mapper()
    m.blocks.extend(Block(*b) for b in blocks)
    return m


def _plain(mapper: Mapper, own: str, within=None):
    """The formula moved without remembering anything (what every move must equal)."""
    def fn(sheet, row, relative, last):
        return mapper.row(row, last=last, within=within, relative=relative) if sheet == own \
            else None
    return lambda f: map_formula(f, own, fn)


def test_loops_of_other_sizes_move_the_same_formula_otherwise():
    # the loop of rows 2-4 (body: row 3), written 2 and 3 times; the sum below stretches
    moves = Moves()
    two, three = _mapper((2, 4, 2)), _mapper((2, 4, 3))
    assert moves.mover(two, "A")("=SUM(B3:B3)+$B$6") == "=SUM(B2:B3)+$B$5"
    assert moves.mover(three, "B")("=SUM(B3:B3)+$B$6") == "=SUM(B2:B4)+$B$6"
    assert moves.mover(two, "C")("=SUM(B3:B3)+$B$6") == "=SUM(B2:B3)+$B$5"


def test_each_copy_of_a_loop_moves_its_relative_references_to_itself():
    moves = Moves()
    m = _mapper((2, 4, 3))
    got = [moves.mover(m, "A", (0, j))("=B3*2+$B$3") for j in range(3)]
    assert got == ["=B2*2+$B$2", "=B3*2+$B$2", "=B4*2+$B$2"]
    # the same formula outside the loop (no copy) reads the template's row as a whole
    assert moves.mover(m, "A")("=B3*2") == "=B2*2"


def test_a_formula_naming_its_own_sheet_moves_only_on_that_sheet():
    moves = Moves()
    m = _mapper((2, 4, 4))                  # rows below the loop move down 1
    formula = "='A'!B7+B7"
    assert moves.mover(m, "A")(formula) == "='A'!B8+B8"          # its own sheet: moves
    assert moves.mover(m, "B")(formula) == "='A'!B7+B8"          # another sheet's: stays
    assert moves.mover(m, "A", (0, 2))("='A'!B3") == "='A'!B4"   # copy 2 of row 3: row 4
    assert moves.mover(m, "B", (0, 2))("='A'!B3") == "='A'!B3"


def test_what_is_remembered_is_what_moving_again_gives_even_once_forgotten():
    moves = Moves()
    moves.LIMIT = 200                       # forgets every few formulas
    formulas = ["=SUM(B3:B3)", "=B3*$B$6", "=IF(B3>0,B7,\"B3\")", "='A'!B3+'B'!B7", "=A1"]
    shapes = [_mapper((2, 4, n)) for n in (1, 2, 5)] + [_mapper((2, 4, 2), (6, 8, 4))]
    for _round in range(3):
        for m in shapes:
            for own in ("A", "B"):
                for within in [None] + [(k, j) for k in range(len(m.blocks))
                                        for j in range(m.blocks[k].copies)]:
                    mover, plain = moves.mover(m, own, within), _plain(m, own, within)
                    for f in formulas:
                        assert mover(f) == plain(f), (f, m.shape(), own, within)
    assert moves._chars <= 200 + 2 * max(map(len, formulas)) + 20


def _loop_sheets(tmp_path):
    """A template whose loop sheet has a row loop, a total below it and a formula naming
    the loop sheet by its title (each copy's title, through ``sheetref``)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Agent"
    ws["J1"] = "{% sheet for a in agents named a.name %}"
    ws["A1"] = "{{ a.name }}"
    ws["A2"] = "{% for x in a.xs %}"
    ws["A3"], ws["B3"] = "{{ x }}", "=A3*2"
    ws["A4"] = "{% endfor %}"
    ws["A5"] = "=SUM(A3:A3)"
    ws["A6"] = "={{ a.name | sheetref }}!A5+{{ 'P' | sheetref }}!A5"
    p = tmp_path / "t.xlsx"
    wb.save(p)
    return p


def test_sheets_with_other_loop_sizes_in_one_workbook(tmp_path):
    agents = [{"name": "P", "xs": [1, 2]}, {"name": "Q", "xs": [1, 2, 3]},
              {"name": "R", "xs": [5, 6]}]
    wb = fill(_loop_sheets(tmp_path), {"agents": agents}).workbook
    p, q, r = wb["P"], wb["Q"], wb["R"]
    assert [p["B2"].value, p["B3"].value, p["A4"].value] == ["=A2*2", "=A3*2", "=SUM(A2:A3)"]
    assert [q["B4"].value, q["A5"].value] == ["=A4*2", "=SUM(A2:A4)"]
    assert [r["B3"].value, r["A4"].value] == ["=A3*2", "=SUM(A2:A3)"]
    # each sheet's own total moved with its own rows, and P's total with P's rows
    assert p["A5"].value == "='P'!A4+'P'!A4"
    assert q["A6"].value == "='Q'!A5+'P'!A4"
    assert r["A5"].value == "='R'!A4+'P'!A4"


def test_conditional_formats_and_validations_read_the_rows_the_loops_moved(tmp_path):
    """A conditional format's or a validation's references to rows a loop moved follow
    them, as a cell's formula's do (as Excel moves them on inserting rows): the total
    below a loop written 5 times is two rows lower, and a rule on the loop's rows that
    compares each with the total, or a validation capped by it, reads it there, not the
    row the template had it on (h-rev5: they were only shifted with the range's first
    cell, so $A$5 stayed $A$5 and A$9 stayed A$9, cells the loops had filled with other
    rows or left blank)."""
    from openpyxl.formatting.rule import Rule
    from openpyxl.styles import Font
    from openpyxl.styles.differential import DifferentialStyle
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A2"] = "{% for x in xs %}"
    ws["A3"] = "{{ x }}"
    ws["A4"] = "{% endfor %}"
    ws["A5"] = "=SUM(A3:A3)"
    ws["A6"] = "{% for y in ys %}"
    ws["A7"] = "{{ y }}"
    ws["A8"] = "{% endfor %}"
    ws["A9"] = "=SUM(A7:A7)"
    bold = DifferentialStyle(font=Font(bold=True))
    ws.conditional_formatting.add("A3", Rule(type="expression", formula=["A3>$A$5/2"],
                                             dxf=bold))
    ws.conditional_formatting.add("A7", Rule(type="expression", formula=["A7>A$9+'S'!A3"],
                                             dxf=bold))
    ws.conditional_formatting.add("A9", Rule(type="expression",
                                             formula=["A9>SUM(A$3:A3)"], dxf=bold))
    dv = DataValidation(type="whole", operator="between", formula1="0", formula2="$A$5")
    ws.add_data_validation(dv)
    dv.add("A3")
    p = tmp_path / "t.xlsx"
    wb.save(p)
    s = fill(p, {"xs": [1, 2, 3, 4, 5], "ys": [1, 2]}).workbook["S"]
    # rows: xs 2-6, total 7, ys 8-9, total 10
    assert [s["A7"].value, s["A10"].value] == ["=SUM(A2:A6)", "=SUM(A8:A9)"]
    rules = {str(cf.sqref): [r.formula for r in cf.rules] for cf in s.conditional_formatting}
    assert rules == {"A2:A6": [["A2>$A$7/2"]], "A8:A9": [["A8>A$10+'S'!A2"]],
                     "A10": [["A10>SUM(A$2:A6)"]]}
    (moved,) = s.data_validations.dataValidation
    assert (str(moved.sqref), moved.formula2) == ("A2:A6", "$A$7")
