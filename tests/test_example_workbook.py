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


def test_every_kpi_formula_has_its_formulatext_beside_it():
    wb = openpyxl.load_workbook(PATH)
    found = 0
    for ws, c in _kpi_formula_cells(wb):
        found += 1
        refs = [x for row in ws.iter_rows() for x in row
                if x.value == f"=_xlfn.FORMULATEXT({c.coordinate})"]
        assert refs, f"{ws.title}!{c.coordinate} has no FORMULATEXT cell"
    assert found >= 14


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
