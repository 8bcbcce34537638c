"""Build workbooks/kpi-functions-example.xlsx: sample data with the KPI formulas typed in.

Each formula sits next to what it says (FORMULATEXT, readable without the add-in) and the
value kpi_xl computed for the same cells when the file was made, so a user can check the
add-in (or xlwings Lite) gives the same number. The spilling functions are stored as
dynamic-array formulas (kpi_xl.scorecard.spill). Data come from the built-in sample
(kpi_xl.sample), so the file is reproducible.

    python scripts/make_example_workbook.py
"""

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402
from openpyxl.styles import Alignment, Font, PatternFill  # noqa: E402
from openpyxl.utils import get_column_letter  # noqa: E402
from openpyxl.worksheet.formula import ArrayFormula  # noqa: E402

from kpi_xl import CATALOG, compute  # noqa: E402
from kpi_xl.files import write_bytes  # noqa: E402
from kpi_xl.sample import sample_month  # noqa: E402
from kpi_xl.scorecard.spill import mark_dynamic_arrays  # noqa: E402
from kpi_xl.xl.adapter import arguments, erlang_table  # noqa: E402

OUT = ROOT / "workbooks" / "kpi-functions-example.xlsx"
CALLS = 400
KPI_HEADER = ["KPI", "Formula (live with kpi_xl)", "What to type (FORMULATEXT)",
              "Value kpi_xl computed", "Unit", "Definition"]
HEAD_FILL = PatternFill("solid", fgColor="1F4E78")
HEAD_FONT = Font(bold=True, color="FFFFFF")


def _header(ws, row: int = 1) -> None:
    for cell in ws[row]:
        if cell.value is not None:
            cell.font, cell.fill = HEAD_FONT, HEAD_FILL


def _formulatext(cell: str) -> str:
    """FORMULATEXT shows what a cell's formula says, add-in or not (the KPI_ cell itself
    shows #NAME? where kpi_xl is not loaded). FORMULATEXT came with Excel 2013, so the
    file spells it with Excel's _xlfn. prefix for functions newer than 2007."""
    return f"=_xlfn.FORMULATEXT({cell})"


def _calls_sheet(wb, c) -> int:
    data = wb.active
    data.title = "Calls"
    header = ["Agent", "Answered", "Wait (s)", "Talk (s)", "Hold (s)", "ACW (s)",
              "Resolved first", "Transferred", "NPS (0-10)", "CSAT (1-5)"]
    keys = ["agent", "answered", "wait", "talk", "hold", "acw", "resolved_first",
            "transferred", "nps", "csat"]
    data.append(header)
    for i in range(CALLS):
        data.append([c[k][i] for k in keys])
    _header(data)
    for i, w in enumerate([16, 11, 10, 10, 10, 10, 15, 13, 12, 12], 1):
        data.column_dimensions[get_column_letter(i)].width = w
    data.freeze_panes = "A2"
    data.auto_filter.ref = f"A1:J{CALLS + 1}"
    data.print_title_rows = "1:1"    # the header on every printed page
    return CALLS + 1


def _kpis_sheet(wb, c, last: int):
    def rng(col):
        return f"Calls!{col}2:{col}{last}"

    ws = wb.create_sheet("KPIs", 0)
    ws.append(KPI_HEADER)
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
        # Erlang A next to Erlang C on the same traffic (100 calls / 30 min, AHT 180 s),
        # callers of mean patience 120 s
        ("erlang_service_level", None, "=KPI_ERLANG_SERVICE_LEVEL(100,180,14,20)",
         dict(calls=100, aht=180, agents=14, threshold=20)),
        ("erlang_a_service_level", "offered",
         '=KPI_ERLANG_A_SERVICE_LEVEL(100,180,14,120,"offered",20)',
         dict(calls=100, aht=180, agents=14, patience=120, threshold=20)),
        ("erlang_a_p_abandon", None, "=KPI_ERLANG_A_P_ABANDON(100,180,14,120)",
         dict(calls=100, aht=180, agents=14, patience=120)),
        ("erlang_a_agents", "offered", '=KPI_ERLANG_A_AGENTS(100,180,120,"offered",20,0.8)',
         dict(calls=100, aht=180, patience=120, threshold=20, target=0.8)),
        ("erlang_a_p_abandon", None, "=KPI_ERLANG_A_P_ABANDON(100,180,12,120)",
         dict(calls=100, aht=180, agents=12, patience=120)),
        ("erlang_b_lines", None, "=KPI_ERLANG_B_LINES(162.16,180,0.01)",
         dict(calls=162.16, aht=180, target_blocking=0.01)),
        ("fte_with_shrinkage", None, "=KPI_FTE_WITH_SHRINKAGE(14,0.3)",
         dict(agents=14, shrinkage=0.3)),
    ]
    for key, variant, formula, inputs in rows:
        r = compute(key, variant, **inputs)
        kpi = CATALOG[key]
        var = kpi.variant(variant)
        # the definition of the variant used: the KPI's formula text describes the default
        definition = kpi.formula_text if var is kpi.default_variant else \
            f"variant '{var.name}': {var.doc}"
        n = ws.max_row + 1
        ws.append([kpi.title + (f" ({variant})" if variant else ""), formula,
                   _formulatext(f"B{n}"), r.value, kpi.unit_of(var), definition])
        ws.cell(n, 4).number_format = r.number_format
    ws.append([])
    ws.append(["Spilling functions (KPI_NPS_DETAIL, KPI_ERLANG_TABLE): see the sheet Spills."])
    ws.append(["Without kpi_xl loaded the formulas in column B show #NAME?; column C shows "
               "what they say. Install the add-in or xlwings Lite (see README) and "
               "recalculate: column B should equal column D."])
    _header(ws)
    for col, w in zip("ABCDEF", [34, 46, 46, 22, 9, 60]):
        ws.column_dimensions[col].width = w
    for row in ws.iter_rows(min_row=2, max_col=6):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for n in (ws.max_row - 1, ws.max_row):
        ws.merge_cells(start_row=n, start_column=1, end_row=n, end_column=6)
        ws.row_dimensions[n].height = 30
    ws.freeze_panes = "B2"
    return ws


def _spill_block(ws, top: int, title: str, formula: str, values: list[list]) -> str:
    """One spilling function: the formula at A(top+3) spills down and right; the values
    kpi_xl computed stand at H, beside the spill area, for comparison."""
    ws.cell(top, 1, title).font = Font(bold=True, size=12)
    ws.cell(top + 1, 1, "What to type:")
    ws.cell(top + 1, 2, _formulatext(f"A{top + 3}"))
    ws.cell(top + 2, 1, "Live (spills from here)")
    ws.cell(top + 2, 8, "Values kpi_xl computed")
    for col in (1, 8):
        ws.cell(top + 2, col).font, ws.cell(top + 2, col).fill = HEAD_FONT, HEAD_FILL
    anchor = f"A{top + 3}"
    ws[anchor] = ArrayFormula(anchor, formula)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            cell = ws.cell(top + 3 + i, 8 + j, v)
            if i == 0 and isinstance(v, str) and len(values[0]) > 2:   # a table's header
                cell.font = Font(bold=True)
            if isinstance(v, float):
                cell.number_format = "0" if v.is_integer() else "0.0000"
    return anchor


def _spills_sheet(wb, c, last: int) -> list[str]:
    ws = wb.create_sheet("Spills", 1)
    nps = f"=KPI_NPS_DETAIL(Calls!I2:I{last})"
    a1 = _spill_block(ws, 1, "KPI_NPS_DETAIL: the NPS with its breakdown, n and margin", nps,
                      compute("nps", scores=c["nps"]).breakdown())
    top = ws.max_row + 3
    a2 = _spill_block(ws, top, "KPI_ERLANG_TABLE: Erlang C for 100 calls of 180 s "
                      "per half hour, 11 to 16 agents", "=KPI_ERLANG_TABLE(100,180,11,16)",
                      erlang_table(100, 180, 11, 16))
    ws.cell(ws.max_row + 2, 1, "Each formula is stored as a dynamic array: Excel 365, "
            "xlwings Lite and Server spill it into the cells below and to the right, "
            "which must stay empty (else #SPILL!).")
    for col, w in zip("ABCDEFGHIJKL", [24, 16, 14, 12, 12, 4, 4, 24, 16, 14, 12, 12]):
        ws.column_dimensions[col].width = w
    return [a1, a2]

#: a morning's half-hours: calls offered and handle time (s), made up for the example
INTERVALS = [("08:00", 42, 270), ("08:30", 68, 260), ("09:00", 95, 250), ("09:30", 118, 245),
             ("10:00", 131, 240), ("10:30", 124, 245), ("11:00", 104, 250), ("11:30", 87, 255)]
STAFFING_SETTINGS = [("Service-level target", 0.8, "0%"), ("Answered within (s)", 20, "0"),
                     ("Callers' mean patience (s)", 120, "0")]


def _call(key: str, variant: str | None, refs: dict[str, str]) -> str:
    """``=KPI_...(…)`` with the arguments in the order the Excel function takes them
    (:func:`kpi_xl.xl.adapter.arguments`), trailing optional ones left out."""
    kpi = CATALOG[key]
    args = [f'"{variant}"' if name == "variant" and variant else refs.get(name, "")
            for name, _doc, _is_range in arguments(kpi)]
    while args and args[-1] == "":
        args.pop()
    return f"={kpi.excel_name}({','.join(args)})"


def _staffing_sheet(wb):
    """Erlang A next to Erlang C on the same traffic (issue 17): per half-hour, the agents
    each model says a service-level target needs, and what callers who hang up (mean
    patience) change. Live formulas in D:H, kpi_xl's values for the same inputs in J:M."""
    ws = wb.create_sheet("Staffing", 2)
    ws["A1"] = "Staffing: Erlang A beside Erlang C on the same traffic"
    ws["A1"].font = Font(bold=True, size=12)
    ws["A2"] = ("Erlang C assumes nobody hangs up, so it staffs for a queue that callers "
                "would in part leave; Erlang A counts the callers who give up after their "
                "patience. Change the settings or the calls: the live columns follow.")
    ws.merge_cells("A2:M2")
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 30
    for i, (label, value, fmt) in enumerate(STAFFING_SETTINGS, 3):
        ws.cell(i, 1, label)
        ws.cell(i, 2, value).number_format = fmt
    target, threshold, patience = "$B$3", "$B$4", "$B$5"
    head = 7
    live = [("Agents (Erlang C)", "erlang_agents", None, "0"),
            ("Agents (Erlang A)", "erlang_a_agents", "offered", "0"),
            ("Erlang C minus Erlang A", None, None, "0"),
            ("Abandoning (Erlang A, at its agents)", "erlang_a_p_abandon", None, "0.0%"),
            ("Service level (Erlang A, offered)", "erlang_a_service_level", "offered", "0.0%")]
    header = ["Half-hour", "Calls", "AHT (s)"] + [t for t, *_ in live] + \
        ["", "kpi_xl computed: agents (Erlang C)", "agents (Erlang A)", "abandoning",
         "service level"]
    for j, text in enumerate(header, 1):
        ws.cell(head, j, text or None)
    _header(ws, head)
    for i, (label, calls, aht) in enumerate(INTERVALS, head + 1):
        ws.cell(i, 1, label)
        ws.cell(i, 2, calls)
        ws.cell(i, 3, aht)
        refs = {"calls": f"B{i}", "aht": f"C{i}", "threshold": threshold, "target": target,
                "patience": patience, "agents": f"E{i}"}
        for j, (_title, key, variant, _fmt) in enumerate(live, 4):
            ws.cell(i, j, _call(key, variant, refs) if key else f"=D{i}-E{i}")
        inputs = dict(calls=calls, aht=aht, patience=STAFFING_SETTINGS[2][1],
                      threshold=STAFFING_SETTINGS[1][1], target=STAFFING_SETTINGS[0][1])
        c_agents = compute("erlang_agents", **{k: inputs[k] for k in
                                               ("calls", "aht", "threshold", "target")}).value
        a_agents = compute("erlang_a_agents", "offered", **inputs).value
        at_a = dict(calls=calls, aht=aht, agents=a_agents, patience=inputs["patience"])
        values = [c_agents, a_agents, compute("erlang_a_p_abandon", **at_a).value,
                  compute("erlang_a_service_level", "offered", threshold=inputs["threshold"],
                          **at_a).value]
        for j, v in enumerate(values, 10):
            ws.cell(i, j, v)
        for col, fmt in zip("DEFGHJKLM", [f for *_, f in live] + ["0", "0", "0.0%", "0.0%"]):
            ws[f"{col}{i}"].number_format = fmt
    last = head + len(INTERVALS)
    row = last + 2
    ws.cell(row, 1, f"What to type (row {head + 1}):").font = Font(bold=True)
    for k, col in enumerate("DEGH", row + 1):
        ws.cell(k, 1, ws[f"{col}{head}"].value)
        ws.cell(k, 2, _formulatext(f"{col}{head + 1}"))
        ws.merge_cells(start_row=k, start_column=2, end_row=k, end_column=8)
    ws.cell(row + 6, 1, "Without kpi_xl loaded the formulas in D:H show #NAME?; J:M hold "
            "what kpi_xl computed for the same inputs when the file was made.")
    ws.merge_cells(start_row=row + 6, start_column=1, end_row=row + 6, end_column=13)
    for col, w in zip("ABCDEFGHIJKLM", [30, 8, 8, 12, 12, 12, 14, 14, 3, 18, 12, 12, 12]):
        ws.column_dimensions[col].width = w
    for cell in ws[head]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[head].height = 45
    ws.freeze_panes = f"B{head + 1}"
    ws.print_title_rows = f"{head}:{head}"
    return ws


def main() -> Path:
    s = sample_month("2026-10", calls=CALLS)
    c = s.calls
    wb = Workbook()
    last = _calls_sheet(wb, c)
    kpis = _kpis_sheet(wb, c, last)
    spills = _spills_sheet(wb, c, last)
    _staffing_sheet(wb)
    wb.active = wb.index(kpis)
    wb.calculation.fullCalcOnLoad = True   # FORMULATEXT and the KPI cells compute on open
    for sheet in wb.worksheets:   # print/preview: landscape, one page wide
        # the header row (the Spills sheet: its first block's title) on every page
        sheet.print_title_rows = sheet.print_title_rows or "1:1"
        sheet.page_setup.orientation = "landscape"
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
    buf = io.BytesIO()
    wb.save(buf)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(OUT, mark_dynamic_arrays(buf.getvalue(), {"Spills": spills}))
    return OUT


if __name__ == "__main__":
    print(f"wrote {main()}")
