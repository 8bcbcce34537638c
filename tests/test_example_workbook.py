"""workbooks/kpi-functions-example.xlsx teaches: spilling functions stored as dynamic
arrays (not legacy formulas Excel 365 would cut to one value), what to type readable
without the add-in (FORMULATEXT), each row's definition that of the variant it uses, data
sheets with a styled, frozen header; and the file is what the script makes today."""

import importlib.util
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kpi_xl import CATALOG
from kpi_xl.scorecard.libreoffice import soffice
from kpi_xl.scorecard.spill import METADATA_PART, mark_dynamic_arrays

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "workbooks" / "kpi-functions-example.xlsx"
SPILLING = ("KPI_ERLANG_TABLE",) + tuple(k.excel_name + "_DETAIL" for k in CATALOG.values())


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _sheet_xml(path, title) -> str:
    from kpi_xl.scorecard.cached import _sheet_files
    with zipfile.ZipFile(path) as z:
        return z.read(_sheet_files(z)[title]).decode()


def test_the_shipped_file_is_what_the_script_makes(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_example_workbook", ROOT / "scripts" / "make_example_workbook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.OUT = tmp_path / "example.xlsx"
    fresh, shipped = _parts(mod.main()), _parts(PATH)
    assert fresh.keys() == shipped.keys()
    for name in fresh:
        if name != "docProps/core.xml":    # holds the save time
            assert fresh[name] == shipped[name], f"{name}: run scripts/make_example_workbook.py"


def test_spilling_functions_are_dynamic_array_formulas():
    parts = _parts(PATH)
    cells = []
    for title in ("KPIs", "Spills", "Calls"):
        xml = _sheet_xml(PATH, title)
        for attrs, body in re.findall(r"<c ([^>]*)>(.*?)</c>", xml):
            f = re.search(r"<f([^>]*)>([^<]*)</f>", body)
            if f and f.group(2).startswith(SPILLING):
                cells.append((title, f.group(2)))
                ref = re.search(r'r="([A-Z]+\d+)"', attrs).group(1)
                assert 'cm="1"' in attrs, f"{title}!{ref} is a legacy formula"
                assert f'<f t="array" ref="{ref}">' in body   # anchored; Excel sizes the spill
    assert {f.split("(")[0] for _, f in cells} == {"KPI_NPS_DETAIL", "KPI_ERLANG_TABLE"}
    meta = parts[METADATA_PART].decode()
    assert 'name="XLDAPR"' in meta and 'fDynamic="1"' in meta and '<rc t="1" v="0"/>' in meta
    assert 'Target="metadata.xml"' in parts["xl/_rels/workbook.xml.rels"].decode()
    assert ('PartName="/xl/metadata.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheetMetadata+xml"') in parts["[Content_Types].xml"].decode()


def _kpi_formula_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                text = getattr(c.value, "text", c.value)   # ArrayFormula or str
                if isinstance(text, str) and text.startswith("=KPI_"):
                    yield ws, c


def _relative(formula: str) -> str:
    """A formula with its relative row numbers taken out: equal for a formula copied down."""
    return re.sub(r"(?<![$\d])([A-Z]+)(\d+)", r"\1#", formula)


def test_every_kpi_formula_has_its_formulatext_beside_it():
    """Each formula, or the first row of a table column it was copied down from (the
    Staffing sheet), has a FORMULATEXT cell saying what to type."""
    wb = openpyxl.load_workbook(PATH)
    found = 0
    for ws, c in _kpi_formula_cells(wb):
        found += 1
        texts = [re.search(r"\((\w+)\)", x.value).group(1) for row in ws.iter_rows()
                 for x in row if str(x.value).startswith("=_xlfn.FORMULATEXT(")]
        shown = [ws[t] for t in texts if ws[t].column == c.column]
        assert any(t.coordinate == c.coordinate or
                   _relative(str(t.value)) == _relative(str(c.value)) for t in shown), \
            f"{ws.title}!{c.coordinate} has no FORMULATEXT cell"
    assert found >= 14


def _excel_functions():
    from kpi_xl.xl.adapter import build

    def arg(*_a, **_k):
        return lambda f: f
    return build(lambda f: f, arg, "example")


def _evaluate(wb, ws, formula: str, functions):
    """A KPI_ formula as Excel with kpi_xl loaded evaluates it: each argument a literal, a
    cell (evaluated when it holds a KPI_ formula itself) or a column range, passed in order
    to the Excel function kpi_xl registers."""
    name, body = re.fullmatch(r"=(KPI_\w+)\((.*)\)", formula).groups()

    def value(arg: str):
        if arg == "":
            return None
        if arg.startswith('"'):
            return arg.strip('"')
        sheet, _, ref = arg.rpartition("!")
        target = wb[sheet] if sheet else ws
        ref = ref.replace("$", "")
        if ":" in ref:
            return [c.value for row in target[ref] for c in row]
        if re.fullmatch(r"[A-Z]+\d+", ref):
            v = target[ref].value
            return _evaluate(wb, target, v, functions) if str(v).startswith("=KPI_") else v
        return float(arg)
    return functions[name](*[value(a) for a in body.split(",")])


def test_each_live_formula_gives_the_value_shown_beside_it():
    """The formulas as typed, through the Excel functions (their argument order, the
    variant's place, the references), give what the file says kpi_xl computed: on the KPIs
    sheet column B against D; on the Staffing sheet D, E, G, H against J, K, L, M. A formula
    passing its arguments in the wrong order fails here, not in a user's sheet."""
    wb = openpyxl.load_workbook(PATH)
    functions = _excel_functions()
    pairs = [(wb["KPIs"], f"B{r}", f"D{r}") for r in range(2, wb["KPIs"].max_row + 1)
             if str(wb["KPIs"][f"B{r}"].value).startswith("=KPI_")]
    staffing = wb["Staffing"]
    for r in range(1, staffing.max_row + 1):
        if str(staffing[f"D{r}"].value).startswith("=KPI_"):
            pairs += [(staffing, f"{a}{r}", f"{b}{r}") for a, b in zip("DEGH", "JKLM")]
    assert len(pairs) >= 17 + 4 * 8
    for ws, live, shown in pairs:
        got = _evaluate(wb, ws, ws[live].value, functions)
        assert got == pytest.approx(ws[shown].value, rel=1e-12), (ws.title, live)


def test_the_staffing_sheet_shows_where_erlang_c_overstaffs():
    """Issue 17: Erlang A beside Erlang C on the same traffic. With callers who hang up
    (mean patience 120 s) Erlang A needs fewer agents than Erlang C in every half-hour for
    the same 80/20 target, and at its agents still meets the target over offered calls
    (the values kpi_xl computed, checked against the catalog directly)."""
    from kpi_xl import compute
    ws = openpyxl.load_workbook(PATH)["Staffing"]
    target, threshold, patience = ws["B3"].value, ws["B4"].value, ws["B5"].value
    rows = [r for r in range(1, ws.max_row + 1)
            if str(ws[f"D{r}"].value).startswith("=KPI_")]
    assert len(rows) == 8
    for r in rows:
        calls, aht, c_agents, a_agents = (ws[f"{c}{r}"].value for c in "BCJK")
        assert a_agents < c_agents
        assert c_agents == compute("erlang_agents", calls=calls, aht=aht,
                                   threshold=threshold, target=target).value
        sl = compute("erlang_a_service_level", "offered", calls=calls, aht=aht,
                     agents=a_agents, patience=patience, threshold=threshold).value
        assert sl >= target and ws[f"M{r}"].value == sl


def test_each_rows_definition_is_that_of_the_variant_it_uses():
    ws = openpyxl.load_workbook(PATH)["KPIs"]
    header = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(header)}
    by_excel = {k.excel_name: k for k in CATALOG.values()}
    checked = set()
    for row in ws.iter_rows(min_row=2, values_only=True):
        formula = row[col["Formula (live with kpi_xl)"]]
        if not isinstance(formula, str) or not formula.startswith("=KPI_"):
            continue
        name = formula[1:].split("(")[0]
        kpi = by_excel[name]
        variant = re.search(r',"([a-z_0-9]+)"\)$', formula)
        var = kpi.variant(variant.group(1) if variant else None)
        expected = kpi.formula_text if var is kpi.default_variant else \
            f"variant '{var.name}': {var.doc}"
        assert row[col["Definition"]] == expected, formula
        checked.add(var.name if variant else "default")
    assert {"mean", "answered", "default"} <= checked


def test_sheets_have_a_styled_frozen_header():
    wb = openpyxl.load_workbook(PATH)
    calls, kpis = wb["Calls"], wb["KPIs"]
    assert calls.freeze_panes == "A2" and kpis.freeze_panes == "B2"
    assert calls.auto_filter.ref == f"A1:J{calls.max_row}"
    assert calls.print_title_rows == "$1:$1"
    for ws in (calls, kpis):
        for cell in ws[1]:
            assert cell.font.bold and cell.fill.fgColor.rgb.endswith("1F4E78"), cell.coordinate


def test_marking_refuses_a_cell_without_an_array_formula(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=SUM(1,2)"
    wb.save(tmp_path / "x.xlsx")
    data = (tmp_path / "x.xlsx").read_bytes()
    with pytest.raises(ValueError, match="Sheet!A1 holds no array formula"):
        mark_dynamic_arrays(data, {"Sheet": ["A1"]})
    with pytest.raises(ValueError, match="Sheet!B9 holds no array formula"):
        mark_dynamic_arrays(data, {"Sheet": ["B9"]})


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_it_and_formulatext_shows_what_to_type():
    from kpi_xl.scorecard.libreoffice import recalculated_values
    values = recalculated_values(PATH)
    wb = openpyxl.load_workbook(PATH)
    texts = {k: v for k, v in values.items()
             if str(wb[k[0]][k[1]].value).startswith("=_xlfn.FORMULATEXT(")}
    assert len(texts) >= 14
    for (sheet, cell), shown in texts.items():
        target = re.search(r"\((\w+)\)", wb[sheet][cell].value).group(1)
        formula = wb[sheet][target].value
        name = getattr(formula, "text", formula)[1:].split("(")[0]
        # LibreOffice spells an unknown function in lower case and references its own way
        assert isinstance(shown, str) and name.lower() in shown.lower(), (sheet, cell, shown)
