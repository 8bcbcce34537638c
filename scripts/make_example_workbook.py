"""Build workbooks/kpi-functions-example.xlsx: sample data with the KPI formulas typed in.

Each formula sits next to the value kpi_xl computed for the same cells when the file was
made, so a user can check the add-in (or xlwings Lite) gives the same number. Data come
from the built-in sample (kpi_xl.sample), so the file is reproducible.

    python scripts/make_example_workbook.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402
from openpyxl.styles import Alignment, Font, PatternFill  # noqa: E402
from openpyxl.utils import get_column_letter  # noqa: E402

from kpi_xl import CATALOG, compute  # noqa: E402
from kpi_xl.sample import sample_month  # noqa: E402

OUT = ROOT / "workbooks" / "kpi-functions-example.xlsx"
CALLS = 400


def main() -> Path:
    s = sample_month("2026-10", calls=CALLS)
    c = s.calls
    wb = Workbook()
    data = wb.active
    data.title = "Calls"
    header = ["Agent", "Answered", "Wait (s)", "Talk (s)", "Hold (s)", "ACW (s)",
              "Resolved first", "Transferred", "NPS (0-10)", "CSAT (1-5)"]
    keys = ["agent", "answered", "wait", "talk", "hold", "acw", "resolved_first",
            "transferred", "nps", "csat"]
    data.append(header)
    for i in range(CALLS):
        data.append([c[k][i] for k in keys])
    bold = Font(bold=True)
    for cell in data[1]:
        cell.font = bold
    for i, w in enumerate([16, 10, 9, 9, 9, 9, 14, 12, 11, 11], 1):
        data.column_dimensions[get_column_letter(i)].width = w
    data.freeze_panes = "A2"
    last = CALLS + 1

    def rng(col):
        return f"Calls!{col}2:{col}{last}"

    ws = wb.create_sheet("KPIs", 0)
    ws.append(["KPI", "Formula (live with kpi_xl)", "Value kpi_xl computed", "Unit", "Note"])
    rows = [
        ("nps", None, f"=KPI_NPS({rng('I')})", dict(scores=c["nps"])),
        ("csat", None, f"=KPI_CSAT({rng('J')})", dict(scores=c["csat"])),
        ("csat", "mean", f'=KPI_CSAT({rng("J")},"mean")', dict(scores=c["csat"])),
        ("service_level", None, f"=KPI_SERVICE_LEVEL({rng('C')},{rng('B')})",
         dict(wait=c["wait"], answered=c["answered"])),
        ("service_level", "answered", f'=KPI_SERVICE_LEVEL({rng("C")},{rng("B")},"answered")',
         dict(wait=c["wait"], answered=c["answered"])),
        ("asa", None, f"=KPI_ASA({rng('C')},{rng('B')})",
         dict(wait=c["wait"], answered=c["answered"])),
        ("abandonment_rate", None, f"=KPI_ABANDONMENT_RATE({rng('B')})",
         dict(answered=c["answered"])),
        ("aht", None, f"=KPI_AHT({rng('D')},{rng('E')},{rng('F')})",
         dict(talk=c["talk"], hold=c["hold"], acw=c["acw"])),
        ("fcr", None, f"=KPI_FCR({rng('G')})", dict(resolved_first=c["resolved_first"])),
        ("transfer_rate", None, f"=KPI_TRANSFER_RATE({rng('H')})",
         dict(transferred=c["transferred"])),
        ("erlang_agents", None, "=KPI_ERLANG_AGENTS(100,180,20,0.8)",
         dict(calls=100, aht=180, threshold=20, target=0.8)),
        ("fte_with_shrinkage", None, "=KPI_FTE_WITH_SHRINKAGE(14,0.3)",
         dict(agents=14, shrinkage=0.3)),
    ]
    for key, variant, formula, inputs in rows:
        r = compute(key, variant, **inputs)
        kpi = CATALOG[key]
        ws.append([kpi.title + (f" ({variant})" if variant else ""), formula, r.value,
                   kpi.unit_of(kpi.variant(variant)), kpi.formula_text])
        ws.cell(ws.max_row, 3).number_format = r.number_format
    ws.append([])
    ws.append(["Breakdown (spills)", f"=KPI_NPS_DETAIL({rng('I')})"])
    ws.append(["Erlang C table (spills)", "=KPI_ERLANG_TABLE(100,180,11,16)"])
    ws.append([])
    ws.append(["Without kpi_xl loaded these formulas show #NAME?. Install the add-in or "
               "xlwings Lite (see README) and recalculate: column B should equal column C."])
    head = PatternFill("solid", fgColor="1F4E78")
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = head
    for col, w in zip("ABCDE", [34, 50, 25, 10, 52]):
        ws.column_dimensions[col].width = w
    note = ws.cell(ws.max_row, 1)
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=5)
    note.alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[ws.max_row].height = 30
    for sheet in (ws, data):   # print/preview: landscape, one page wide
        sheet.page_setup.orientation = "landscape"
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    wb.save(OUT)
    return OUT


if __name__ == "__main__":
    print(f"wrote {main()}")
