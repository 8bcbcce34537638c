"""Build the shipped templates (templates/*.xlsx) so that their changes can be reviewed here.

    python scripts/make_templates.py

Users may restyle the templates in Excel (fonts, colours, widths, formats, charts): the
generator keeps whatever the template holds. README's "Editing the templates" explains the
placeholders used below.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "kpi_xl" / "templates"
sys.path.insert(0, str(ROOT))       # the catalog's renderer writes the item table's marks

NAVY, INK, GREY, LIGHT = "1F3A5F", "222222", "6B7280", "EEF2F7"
GREEN, AMBER, RED = "C6EFCE", "FFEB9C", "FFC7CE"
GREEN_T, AMBER_T, RED_T = "006100", "9C5700", "9C0006"
thin = Side(style="thin", color="D0D7E2")
BOX = Border(bottom=thin)
TITLE = Font(name="Calibri", size=16, bold=True, color=NAVY)
SUB = Font(name="Calibri", size=11, color=GREY)
HEAD = Font(name="Calibri", size=10, bold=True, color="FFFFFF")
HEAD_FILL = PatternFill("solid", start_color=NAVY)
BAND = PatternFill("solid", start_color=LIGHT)
BOLD = Font(name="Calibri", size=11, bold=True, color=INK)
BODY = Font(name="Calibri", size=10, color=INK)
SMALL = Font(name="Calibri", size=9, color=GREY)
MONO = Font(name="DejaVu Sans Mono", size=9, color=NAVY)
BANNER = Font(name="Calibri", size=12, bold=True, color=RED_T)   # partial data
CENTER = Alignment(horizontal="center", vertical="center")
RIGHT = Alignment(horizontal="right", vertical="center")
WRAP = Alignment(wrap_text=True, vertical="top")


def status_colours(ws, rng: str) -> None:
    """Green / amber / red by the status text (conditional formatting)."""
    for text, fill, font in (("on target", GREEN, GREEN_T), ("near target", AMBER, AMBER_T),
                             ("off target", RED, RED_T)):
        ws.conditional_formatting.add(rng, CellIsRule(
            operator="equal", formula=[f'"{text}"'],
            fill=PatternFill("solid", start_color=fill, end_color=fill),
            font=Font(color=font, bold=True)))


#: what an evaluation's QA score, compliance, fatal fails and a section's score say where an
#: item row holds what the catalog's formula cannot use (a score pasted as text, 7 out
#: of 5): "check item row 37" (kpi_formula's refused=)
REFUSED = "check item row"


def first_refused(rng: str, where: str = "") -> str:
    """The sheet row of the first cell of ``rng`` that holds text (a refused evaluation's
    "check item row 37"; a blank result is text too, and left out), 1E9 where none does;
    ``where`` an Excel 0/1 array over the same rows narrowing the search."""
    cond = f'ISTEXT({rng})*({rng}<>"")' + (f"*{where}" if where else "")
    return f"SUMPRODUCT(MIN(ROW({rng})+1E9*(({cond})*1=0)))"   # Excel: FALSE=0 is FALSE


def unless_refused(rng: str, first: str, otherwise: str, label: str = "",
                   where: str = "") -> str:
    """``otherwise`` (a mean over ``rng``), or, where a cell of ``rng`` holds a refusal,
    that refusal; with ``label`` (a range beside it: the agents), "check " and the
    label's cell on that row, the agent whose sheet says which row: a mean is never
    taken around an evaluation its rubric refuses."""
    k = first_refused(rng, where)
    at = f"{k}-ROW({first})+1"
    said = f'"check "&INDEX({label},{at})' if label else f"INDEX({rng},{at})"
    return f"IF({k}<1E9,{said},{otherwise})"


#: a refusal is longer than the figure the cell holds otherwise: shrunk to the column
FIT = Alignment(horizontal="right", vertical="center", shrink_to_fit=True)


def name_cell(wb, name: str, ws, cell: str) -> None:
    """A workbook name for a cell the email reads (the index, the partial-data banner):
    Excel keeps it pointing at the cell when a restyled copy moves it."""
    col, row = cell.rstrip("0123456789"), cell[len(cell.rstrip("0123456789")):]
    wb.defined_names[name] = DefinedName(name, attr_text=f"'{ws.title}'!${col}${row}")


def header(ws, row: int, labels: list[str], widths: dict[str, float] | None = None) -> None:
    for i, label in enumerate(labels, 1):
        c = ws.cell(row=row, column=i, value=label)
        c.font, c.fill, c.alignment = HEAD, HEAD_FILL, CENTER
    ws.row_dimensions[row].height = 18


def marker(ws, row: int, text: str) -> None:
    c = ws.cell(row=row, column=1, value=text)
    c.font = SMALL


# ---------------------------------------------------------------- balanced scorecard
SEP = '", "'


def weighted_formula(weights: str, scores: str) -> str:
    """Σ w·s / Σ w over the scores that are numbers, when those carry at least $B$6 (the
    minimum coverage) of the weight; else blank. kpi_xl.scorecard.layout.weighted is
    the same rule for the history (a test holds the two equal)."""
    covered = f"SUMPRODUCT({weights},--ISNUMBER({scores}))"
    return (f"=IF({covered}>=$B$6*SUM({weights}),IFERROR(SUMPRODUCT({weights},{scores})"
            f"/{covered},\"\"),\"\")")
COLS = ["KPI", "Weight", "Worst", "Target", "Actual", "Previous", "Change", "Score",
        "Status", "n", "Trend ({{ span }})", "Score bar", "Note"]


def scorecard() -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Scorecard"
    ws.sheet_view.showGridLines = False
    for col, w in zip("ABCDEFGHIJKLM", (30, 8, 10, 10, 11, 11, 10, 8, 12, 8, 18, 12, 34)):
        ws.column_dimensions[col].width = w
    ws["A1"] = "{{ centre }}: balanced scorecard"
    ws["A1"].font = TITLE
    ws["A2"] = "{{ month_label }} · generated by kpi_xl from the {{ noun }}'s exports"
    ws["A2"].font = SUB
    ws["A3"] = "{{ partial }}"                 # empty unless the month's data is partial
    ws["A3"].font = BANNER
    ws["A4"], ws["B4"] = "Overall index", None
    ws["A4"].font = BOLD
    ws["A5"] = "Near-target threshold (score)"
    ws["A5"].font = SMALL
    ws["B5"] = "{{ near_target }}"
    ws["B5"].number_format = "0%"
    ws["B5"].font = SMALL
    ws["A6"] = "Least weight with data to score"
    ws["A6"].font = SMALL
    ws["B6"] = "{{ min_coverage }}"
    ws["B6"].number_format = "0%"
    ws["B6"].font = SMALL
    # perspective summary (rows 7-11); the scores point at each block's total row
    for c, label in zip("ABCD", ("Perspective", "Weight", "Score", "Status")):
        cell = ws[f"{c}7"]
        cell.value, cell.font, cell.fill, cell.alignment = label, HEAD, HEAD_FILL, CENTER
    # what the KPI columns below mean (issue 16 §6), the words of the H and I formulas
    ws["A12"] = ("How to read the KPIs: Worst scores 0 %, Target 100 %, and an actual between "
                 "them scores in proportion (capped to 0–100 %). Status: on target at 100 %; "
                 "near target from the near-target threshold above; off target below it.")
    ws["A12"].font = SMALL
    # wrapped over A:I, the columns a PDF copy prints on its first page: spilled over
    # empty cells instead, it was cut at that page's edge ("near target from the nea")
    ws["A12"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("A12:I12")
    ws.row_dimensions[12].height = 26          # two lines of 9 pt (a merged cell does not grow)
    row = 14
    block_totals = []
    for p in range(4):
        ws.cell(row=row, column=1, value=f"{{{{ perspectives[{p}].name }}}}").font = BOLD
        ws.cell(row=row, column=2, value=f"{{{{ perspectives[{p}].weight }}}}").font = SMALL
        ws.cell(row=row, column=3, value="weight").font = SMALL
        ws.cell(row=row, column=3).alignment = Alignment(indent=1)   # "20 weight"
        header(ws, row + 1, COLS)
        marker(ws, row + 2, f"{{% for kpi in perspectives[{p}].kpis %}}")
        r = row + 3
        values = {
            "A": "{{ kpi.title }}", "B": "{{ kpi.weight }}",
            "C": "{{ kpi.worst | numfmt(kpi.number_format) }}",
            "D": "{{ kpi.target | numfmt(kpi.number_format) }}",
            "E": "{{ kpi.actual | numfmt(kpi.number_format) }}",
            "F": "{{ kpi.previous | numfmt(kpi.number_format) }}",
            "G": f"={{{{ kpi.number_format | cellformat }}}}IF(AND(ISNUMBER(E{r}),ISNUMBER(F{r})),E{r}-F{r},\"\")",
            "H": f"=IF(ISNUMBER(E{r}),MIN(1,MAX(0,(E{r}-C{r})/(D{r}-C{r}))),\"\")",
            "I": f"=IF(ISNUMBER(H{r}),IF(H{r}>=1,\"on target\",IF(H{r}>=$B$5,\"near target\",\"off target\")),\"no data\")",
            "J": "{{ kpi.n }}", "K": "{{ kpi.trend }}",
            "L": f"=IF(ISNUMBER(H{r}),REPT(\"█\",ROUND(H{r}*10,0)),\"\")",
            "M": "{{ kpi.note }}",
        }
        for col, v in values.items():
            c = ws[f"{col}{r}"]
            c.value, c.font, c.border = v, BODY, BOX
        ws[f"H{r}"].number_format = "0%"
        ws[f"J{r}"].number_format = "#,##0"
        ws[f"K{r}"].font = MONO
        ws[f"K{r}"].alignment = Alignment(indent=1)     # apart from n, right-aligned beside
        ws[f"L{r}"].font = Font(name="DejaVu Sans", size=8, color=NAVY)
        ws[f"M{r}"].font = SMALL
        for col in "BCDEFGHIJ":
            ws[f"{col}{r}"].alignment = RIGHT
        ws[f"I{r}"].alignment = CENTER
        status_colours(ws, f"I{r}")
        marker(ws, r + 1, "{% endfor %}")
        t = r + 2
        ws.cell(row=t, column=1, value=f"={{{{ perspectives[{p}].name }}}}&\" score\"").font = BOLD
        ws[f"B{t}"] = f"=SUM(B{r}:B{r})"
        # the scorecard's rule, restated deliberately in kpi_xl/scorecard/layout.py
        # (weighted); tests hold the two equal
        ws[f"H{t}"] = weighted_formula(f"B{r}:B{r}", f"H{r}:H{r}")
        ws[f"I{t}"] = (f"=IF(ISNUMBER(H{t}),IF(H{t}>=1,\"on target\",IF(H{t}>=$B$5,"
                       f"\"near target\",\"off target\")),IF(COUNT(H{r}:H{r})>0,"
                       f"\"too little data\",\"no data\"))")
        for col in "ABHI":
            ws[f"{col}{t}"].font = BOLD
            ws[f"{col}{t}"].fill = BAND
        ws[f"H{t}"].number_format = "0%"
        ws[f"I{t}"].alignment = CENTER
        status_colours(ws, f"I{t}")
        block_totals.append(t)
        s = 8 + p
        ws[f"A{s}"] = f"=A{row}"
        ws[f"B{s}"] = f"=B{row}"
        ws[f"C{s}"] = f"=H{t}"
        ws[f"D{s}"] = f"=I{t}"
        ws[f"C{s}"].number_format = "0%"
        for col in "ABCD":
            ws[f"{col}{s}"].font, ws[f"{col}{s}"].border = BODY, BOX
        ws[f"D{s}"].alignment = CENTER
        row = t + 2
    status_colours(ws, "D8:D11")
    ws["B4"] = weighted_formula("B8:B11", "C8:C11")
    # which perspectives the index leaves out (layout.left_out says the same in Python)
    blank = '""'      # (a bare "" inside the f-string below would end it)
    parts = [f'IF(ISNUMBER(C{s}),"",{"" if s == 8 else f"IF(COUNT(C8:C{s - 1})<{s - 8},{SEP},{blank})&"}A{s})'
             for s in range(8, 12)]
    ws["E4"] = ('=IF(COUNT(C8:C11)=4,"",IF(COUNTIFS(D8:D11,"no data")=4,"no data",'
                'IF(ISNUMBER(B4),"leaves out "&' + "&".join(parts)
                + ',"too little data for an index")))')
    ws["E4"].font = SMALL
    ws.merge_cells("B4:C4")
    ws["B4"].number_format = "0.0%"
    ws["B4"].font = Font(name="Calibri", size=16, bold=True, color=NAVY)
    ws["B4"].alignment = Alignment(horizontal="left", vertical="center")
    ws["D4"] = ("=IF(ISNUMBER(B4),IF(B4>=1,\"on target\",IF(B4>=$B$5,\"near target\","
                "\"off target\")),\"no data\")")
    ws["D4"].alignment = CENTER
    ws.row_dimensions[4].height = 24
    status_colours(ws, "D4")
    # 13-month history of the perspective scores and the index, and its chart
    h = row + 1
    ws.cell(row=h - 1, column=1, value="Scores over {{ span }}").font = BOLD
    header(ws, h, ["{{ noun | capitalize }}"] + [f"{{{{ perspectives[{p}].name }}}}" for p in range(4)]
           + ["Overall", "Not scored"])
    for col in "BCDEF":                          # perspective names may be long
        ws[f"{col}{h}"].alignment = Alignment(horizontal="center", vertical="center",
                                              wrap_text=True)
    ws.row_dimensions[h].height = 28
    marker(ws, h + 1, "{% for m in history %}")
    b = h + 2
    for col, v in zip("ABCDEFG", ("{{ m.heading }}", "{{ m.scores[0] }}", "{{ m.scores[1] }}",
                                  "{{ m.scores[2] }}", "{{ m.scores[3] }}", "{{ m.overall }}",
                                  "{{ m.left_out }}")):
        ws[f"{col}{b}"] = v
        ws[f"{col}{b}"].font = BODY
        if col not in "AG":
            ws[f"{col}{b}"].number_format = "0%"
    ws[f"G{b}"].font = SMALL
    ws[f"G{b}"].alignment = Alignment(indent=1)      # apart from the index beside it
    marker(ws, b + 1, "{% endfor %}")
    # a month without a score is a blank cell: the chart leaves a gap there (no line drawn
    # through it, no zero), and draws straight lines (smoothed ones overshoot)
    chart = LineChart()
    chart.display_blanks = "gap"
    chart.title = "Overall index and perspective scores"
    chart.height, chart.width = 7.5, 18
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.add_data(Reference(ws, min_col=2, max_col=6, min_row=h, max_row=b), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=b, max_row=b))
    for series in chart.series:
        series.smooth = False
    ws.add_chart(chart, f"J{h}")
    ws.freeze_panes = "A4"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:2"
    for name, cell in (("kpi_xl_index", "B4"), ("kpi_xl_index_status", "D4"),
                       ("kpi_xl_index_note", "E4"), ("kpi_xl_partial", "A3")):
        name_cell(wb, name, ws, cell)
    by_dimension(wb)
    wb.properties.creator = "kpi_xl"
    return wb


def by_dimension(wb) -> None:
    """One "By <dimension>" sheet per dimension the config asks for: the scorecard's KPIs
    (rows) by member (a value and n column each), coloured against the scorecard's worst
    case and target with the scorecard's own rule (score = (value − worst) / (target −
    worst): on target from 1, near target from the threshold in B4, off target below)."""
    ws = wb.create_sheet("By dimension")
    ws.sheet_view.showGridLines = False
    for col, w in zip("ABCDE", (30, 10, 10, 13, 7)):
        ws.column_dimensions[col].width = w
    ws["H1"] = "{% sheet for dimension in dimensions named dimension.sheet %}"
    ws["A1"] = "{{ centre }}: {{ dimension.sheet }}"
    ws["A1"].font = TITLE
    ws["A2"] = ("{{ month_label }} · each {{ dimension.noun }}'s value and n (contacts, "
                "answers or evaluations), coloured against the scorecard's targets")
    ws["A2"].font = SUB
    ws["A3"] = "{{ partial }}"                 # empty unless the month's data is partial
    ws["A3"].font = BANNER
    ws["A4"] = "Near-target threshold (score)"
    ws["A4"].font = SMALL
    ws["B4"] = "{{ near_target }}"
    ws["B4"].number_format = "0%"
    ws["B4"].font = SMALL
    # the member columns D:E repeat once per member (templates: {% columns %})
    ws["D5"] = "{% columns D:E for member in dimension.members %}"
    ws["D5"].font = SMALL
    header(ws, 6, ["KPI", "Worst", "Target", "{{ member.name }}", "n"])
    ws["D6"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[6].height = 30
    marker(ws, 7, "{% for kpi in dimension.kpis %}")
    values = {"A": "{{ kpi.title }}", "B": "{{ kpi.worst | numfmt(kpi.number_format) }}",
              "C": "{{ kpi.target | numfmt(kpi.number_format) }}",
              "D": "{{ member.cells[kpi.index].value | numfmt(kpi.number_format) }}",
              "E": "{{ member.cells[kpi.index].n }}"}
    for col, v in values.items():
        c = ws[f"{col}8"]
        c.value, c.font, c.border = v, BODY, BOX
        if col != "A":
            c.alignment = RIGHT
    ws["B8"].font = ws["C8"].font = SMALL
    ws["E8"].font = SMALL
    ws["E8"].number_format = "#,##0"
    score = "(D8-$B8)/($C8-$B8)"
    scored = "AND(ISNUMBER(D8),ISNUMBER($B8),ISNUMBER($C8),$C8<>$B8)"
    for rule, fill, font in ((f"AND({scored},{score}>=1)", GREEN, GREEN_T),
                             (f"AND({scored},{score}>=$B$4)", AMBER, AMBER_T),
                             (scored, RED, RED_T)):
        ws.conditional_formatting.add("D8:D8", FormulaRule(
            formula=[rule], stopIfTrue=True,
            fill=PatternFill("solid", start_color=fill, end_color=fill), font=Font(color=font)))
    marker(ws, 9, "{% endfor %}")
    ws["A11"] = ("Rows: the balanced scorecard's KPIs that are computed per "
                 "{{ dimension.noun }}; ({{ dimension.blank }}): rows the data leaves blank.")
    ws["A11"].font = SMALL
    ws.freeze_panes = "B7"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:6"


def running_head(ws, text: str) -> None:
    """``text`` (filled like a cell) and the page number in the header of every printed
    page: a page a table runs on to names whose it is above the repeated column heads."""
    hf = ws.HeaderFooter
    hf.oddHeader.left.text, hf.oddHeader.left.size = text, 9
    hf.oddHeader.right.text, hf.oddHeader.right.size = "page &P of &N", 9


# ---------------------------------------------------------------- agent QA
def agent_qa() -> Workbook:
    wb = Workbook()
    team = wb.active
    team.title = "Team"
    team.sheet_view.showGridLines = False
    # A + … + F ≤ 86 characters: the Team sheet prints portrait at ≥ 8 pt (scorecard/pdf.py)
    for col, w in zip("ABCDEFG", (22, 12, 12, 12, 15, 12, 28)):
        team.column_dimensions[col].width = w
    team["A1"] = "QA: {{ team }}"
    team["A1"].font = TITLE
    team["A2"] = "{{ centre }} · {{ month_label }} · scores out of {{ max_score }} per item"
    team["A2"].font = SUB
    team["A3"], team["B3"] = "QA target", "{{ qa_target }}"
    team["A3"].font = team["B3"].font = SMALL
    team["B3"].number_format = "0%"
    team["D3"] = "{{ partial }}"               # empty unless the month's data is partial
    team["D3"].font = BANNER
    name_cell(wb, "kpi_xl_partial", team, "D3")
    team["A4"] = "Agents, ranked by QA score"
    team["A4"].font = BOLD
    header(team, 5, ["Agent", "Evaluations", "QA score", "Compliance", "Rank", "Fatal fails"])
    marker(team, 6, "{% for agent in agents %}")
    team["A7"] = "{{ agent.name }}"
    team["B7"] = "={{ agent.sheet | sheetref }}!$B$7"
    team["C7"] = "={{ agent.sheet | sheetref }}!$B$5"
    team["D7"] = "={{ agent.sheet | sheetref }}!$B$6"
    team["E7"] = ('=IF(ISNUMBER(C7),RANK(C7,$C$7:$C$7),IF(C7="","no evaluations",'
                  '"not ranked"))')
    team["F7"] = "={{ agent.sheet | sheetref }}!$B$8"
    for col in "ABCDEF":
        team[f"{col}7"].font, team[f"{col}7"].border = BODY, BOX
    team["C7"].number_format = team["D7"].number_format = "0.0%"
    team["C7"].alignment = team["D7"].alignment = team["F7"].alignment = FIT
    team.conditional_formatting.add("C7:C7", FormulaRule(
        formula=["AND(ISNUMBER(C7),C7<$B$3)"],
        fill=PatternFill("solid", start_color=RED, end_color=RED), font=Font(color=RED_T)))
    marker(team, 8, "{% endfor %}")
    team["A9"] = "Team"
    team["B9"] = "=SUM(B7:B7)"
    # the team's QA score: the mean of its evaluations (the catalog's per-evaluation
    # rule, as the engine computes it), not the mean of the agents' means
    # where an evaluation is refused (an item row its rubric cannot use), the team's
    # figures name it (the agent and the row to check), never a mean of the others
    team_mean = ("=IFERROR(" + unless_refused("$D$20:$D$20", "$D$20", "AVERAGE($D$20:$D$20)",
                                              label="$C$20:$C$20") + ",\"\")")
    team["C9"] = team_mean
    team["D9"] = ("=IFERROR(" + unless_refused("D7:D7", "D7", "AVERAGE(D7:D7)", label="A7:A7")
                  + ",\"\")")
    team["F9"] = '=IF(COUNT(F7:F7)<COUNTA(A7:A7),"",SUM(F7:F7))'
    for col in "ABCDF":
        team[f"{col}9"].font, team[f"{col}9"].fill = BOLD, BAND
    team["C9"].number_format = team["D9"].number_format = "0.0%"
    team["C9"].alignment = team["D9"].alignment = FIT
    team["A11"] = "Evaluator calibration: each evaluator's mean score against the team's"
    team["A11"].font = BOLD
    header(team, 12, ["Evaluator", "Evaluations", "Mean given", "Team mean", "Difference"])
    marker(team, 13, "{% for e in evaluators %}")
    team["A14"] = "{{ e.name }}"
    team["B14"] = "=COUNTIFS($B$20:$B$20,A14)"
    team["C14"] = ("=IFERROR(" + unless_refused(
        "$D$20:$D$20", "$D$20", "AVERAGEIFS($D$20:$D$20,$B$20:$B$20,A14)",
        label="$C$20:$C$20", where="($B$20:$B$20=A14)") + ",\"\")")
    team["D14"] = team_mean
    team["E14"] = "=IF(AND(ISNUMBER(C14),ISNUMBER(D14)),C14-D14,\"\")"
    for col in "ABCDE":
        team[f"{col}14"].font, team[f"{col}14"].border = BODY, BOX
    team["C14"].number_format = team["D14"].number_format = "0.0%"
    team["C14"].alignment = team["D14"].alignment = FIT
    team["E14"].number_format = '+0.0%;-0.0%;0.0%'
    marker(team, 15, "{% endfor %}")
    team["A17"] = "Every evaluation of the {{ noun }} (the calibration's data)"
    team["A17"].font = BOLD
    header(team, 18, ["Evaluation", "Evaluator", "Agent", "QA score", "Date"])
    marker(team, 19, "{% for e in evaluations %}")
    # the QA score as the agent's sheet computes it (the evaluation's place in the QA
    # score column of its evaluations, which the agent's loop makes E13:E<last>), so a
    # score corrected there moves the team's QA score and the calibration too; #N/A
    # where that place holds another evaluation (a restyled agent sheet listing them in
    # another order), never another evaluation's score
    here = "{{ e.sheet | sheetref }}!$COL$13:$COL$13,{{ e.index + 1 }}"
    for col, v in zip("ABCDE", ("{{ e.id }}", "{{ e.evaluator }}", "{{ e.agent }}",
                                f"=IF(INDEX({here.replace('COL', 'A')})=A20,"
                                f"INDEX({here.replace('COL', 'E')}),NA())", "{{ e.date }}")):
        team[f"{col}20"] = v
        team[f"{col}20"].font = SMALL
    team["D20"].number_format = "0.0%"
    team["E20"].number_format = "yyyy-mm-dd"
    team["E20"].alignment = CENTER
    marker(team, 21, "{% endfor %}")
    team.page_setup.orientation = "landscape"
    team.page_setup.fitToWidth, team.page_setup.fitToHeight = 1, 0
    team.sheet_properties.pageSetUpPr.fitToPage = True
    # printed: the evaluations' column heads on every page they run on to, and the team
    # above them in the page header
    team.print_title_rows = "18:18"
    running_head(team, "QA: {{ team }} · {{ month_label }}")

    ws = wb.create_sheet("Agent")
    ws.sheet_view.showGridLines = False
    # E: wide enough for a refused evaluation's "check item row 137"
    for col, w in zip("ABCDEFGHIJ", (30, 14, 22, 16, 16, 12, 10, 10, 30, 10)):
        ws.column_dimensions[col].width = w
    ws["J1"] = "{% sheet for agent in agents named agent.sheet %}"
    ws["A1"] = "QA: {{ agent.name }}"
    ws["A1"].font = TITLE
    ws["A2"] = "{{ team }} · {{ month_label }} · scores out of {{ max_score }} per item"
    ws["A2"].font = SUB
    ws["C2"] = None
    ws["A3"] = "{{ partial }}"                 # empty unless the month's data is partial
    ws["A3"].font = BANNER
    ws["A4"], ws["B4"] = "Max score per item", "{{ max_score }}"
    ws["A4"].font = ws["B4"].font = SMALL
    labels = (("A5", "QA score (mean of evaluations)"), ("A6", "Compliance score"),
              ("A7", "Evaluations"), ("A8", "Fatal items failed"))
    for ref, text in labels:
        ws[ref] = text
        ws[ref].font = BOLD
    # a mean is not taken around a refused evaluation: it shows the first one's refusal
    ws["B5"] = "=IFERROR(" + unless_refused("E13:E13", "E13", "AVERAGE(E13:E13)") + ",\"\")"
    ws["B6"] = "=IFERROR(" + unless_refused("F13:F13", "F13", "AVERAGE(F13:F13)") + ",\"\")"
    # every evaluation listed, a refused one too: its QA score (B5) says which item row
    # to check; a count of the scored ones read "3" beside four evaluations
    ws["B7"] = "=COUNTA(A13:A13)"
    # a total, unlike a mean, is wrong without every evaluation: blank (refused) when one
    # evaluation's fatal fails are (a score its rubric refuses), not a count short of it
    ws["B8"] = ("=" + unless_refused("G13:G13", "G13",
                                     'IF(COUNT(G13:G13)<COUNTA(A13:A13),"",SUM(G13:G13))'))
    ws["B5"].number_format = ws["B6"].number_format = "0.0%"
    ws["B5"].font = Font(name="Calibri", size=14, bold=True, color=NAVY)
    ws["B5"].alignment = ws["B6"].alignment = ws["B8"].alignment = FIT
    ws["A9"], ws["B9"] = "QA target", "{{ qa_target }}"
    ws["A9"].font = ws["B9"].font = SMALL
    ws["B9"].number_format = "0%"
    ws["C5"] = ('=IF(ISNUMBER(B5),IF(B5>=$B$9,"on target","off target"),'
                'IF(B5="","no evaluations","not scored"))')
    ws["C5"].alignment = CENTER
    status_colours(ws, "C5")
    ws["A10"] = "Evaluations"
    ws["A10"].font = BOLD
    header(ws, 11, ["Evaluation", "Date", "Evaluator", "Contact", "QA score", "Compliance",
                    "Fatal fails"])
    marker(ws, 12, "{% for e in agent.evaluations %}")
    ws["A13"], ws["B13"], ws["C13"], ws["D13"] = ("{{ e.id }}", "{{ e.date }}",
                                                  "{{ e.evaluator }}", "{{ e.contact }}")
    # each evaluation's QA score, its compliance and its failed fatal items, and each
    # section's score, written by the catalog's Excel renderer over the item rows below
    # (kpi_formula): the template says where the inputs are and which rows to use, the
    # catalog how they combine (N/A items leave the denominator, a failed fatal item
    # scores the evaluation 0; its measure 'points share' is the same weighted mean
    # without the fatal rule, for the breakdowns: the compliance (fatal) items, a section)
    items = "'$A$34:$A$34'"
    inputs = ("'qa_score', weights='$D$34:$D$34', scores='$F$34:$F$34', "
              "fatal='$E$34:$E$34', max_score='$B$4'")
    # an item row the formulas cannot use (text pasted into a score or weight, which
    # data validation does not judge; a score above the maximum) makes the cell say which:
    # "check item row 37" (never a number computed as if the item were N/A or 0)
    inputs += f", refused='{REFUSED}'"
    # an item row without its evaluation id (the loader rejects one) names its row too
    qa = f"{inputs}, where={{{items}: 'A13'}}, filled=[{items}]"
    ws["E13"] = f"=IFERROR({{{{ kpi_formula({qa}) }}}},\"\")"
    # compliance: the points share of the evaluation's fatal (compliance) items
    ws["F13"] = (f"=IFERROR({{{{ kpi_formula({inputs}, measure='points share', "
                 f"where={{{items}: 'A13', '$E$34:$E$34': 1}}, filled=[{items}]) }}}},\"\")")
    # failed fatal items: "check item row 37", as the QA score beside it, where a fatal
    # item's score breaks a rule (its guard reads the fatal items' scores only); the
    # agent's total (B8) and the team's are then refused too, as B5 and the team's means
    ws["G13"] = f"=IFERROR({{{{ kpi_formula({qa}, measure='fatal items failed') }}}},\"\")"
    for col in "ABCDEFG":
        ws[f"{col}13"].font, ws[f"{col}13"].border = BODY, BOX
    ws["B13"].number_format = "yyyy-mm-dd"
    ws["B13"].alignment = CENTER               # apart from the evaluator beside it
    ws["E13"].number_format = ws["F13"].number_format = "0.0%"
    ws["E13"].alignment = ws["F13"].alignment = ws["G13"].alignment = FIT
    # a blank (refused) count is text, which Excel and LibreOffice rank above any number
    ws.conditional_formatting.add("G13:G13", FormulaRule(
        formula=["AND(ISNUMBER(G13),G13>0)"],
        fill=PatternFill("solid", start_color=RED, end_color=RED)))
    marker(ws, 14, "{% endfor %}")
    ws["A16"] = "Score by rubric section"
    ws["A16"].font = BOLD
    header(ws, 17, ["Section", "Score"])
    marker(ws, 18, "{% for section in sections %}")
    ws["A19"] = "{{ section }}"
    # a section's score: the points share of the agent's items in it over the month
    # (the fatal rule is each evaluation's, in its QA score above)
    ws["B19"] = (f"=IFERROR({{{{ kpi_formula({inputs}, measure='points share', "
                 "where={'$B$34:$B$34': 'A19'}) }},\"\")")
    ws["B19"].number_format = "0%"
    ws["B19"].alignment = FIT
    ws["A19"].font = ws["B19"].font = BODY
    marker(ws, 20, "{% endfor %}")
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Score by section"
    chart.height, chart.width = 5.5, 10
    chart.legend = None
    chart.x_axis.scaling.orientation = "maxMin"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.y_axis.number_format = "0%"
    chart.add_data(Reference(ws, min_col=2, min_row=19, max_row=19))
    chart.set_categories(Reference(ws, min_col=1, min_row=19, max_row=19))
    ws.add_chart(chart, "I2")
    ws["A22"] = "Operational KPIs this {{ noun }}"
    ws["A22"].font = BOLD
    header(ws, 23, ["KPI", "Agent", "Team average", "Target", "Status", "n"])
    marker(ws, 24, "{% for k in agent.kpis %}")
    ws["A25"] = "{{ k.title }}"
    ws["B25"] = "{{ k.agent | numfmt(k.number_format) }}"
    ws["C25"] = "{{ k.team | numfmt(k.number_format) }}"
    ws["D25"] = "{{ k.target | numfmt(k.number_format) }}"
    ws["E25"] = ('=IF(NOT(ISNUMBER(B25)),"no data",IF(NOT(ISNUMBER(D25)),"",'
                 'IF(IF(K25="higher",B25>=D25,B25<=D25),"on target","off target")))')
    ws["F25"] = "{{ k.n }}"
    ws["K25"] = "{{ k.direction }}"
    ws["K25"].font = Font(color="FFFFFF", size=8)
    for col in "ABCDEF":
        ws[f"{col}25"].font, ws[f"{col}25"].border = BODY, BOX
    ws["E25"].alignment = CENTER
    ws["F25"].number_format = "#,##0"
    status_colours(ws, "E25:E25")
    marker(ws, 26, "{% endfor %}")
    ws["A28"] = "Coaching notes"
    ws["A28"].font = BOLD
    header(ws, 29, ["Date", "Topic", "Agreed action", "Follow-up by", "Status"])
    # showErrorMessage: without it Excel accepts any text and shows no alert
    dv = DataValidation(type="list", formula1='"Open,In progress,Done"', allow_blank=True,
                        showErrorMessage=True, errorStyle="stop")
    dv.error, dv.errorTitle = "Choose Open, In progress or Done", "Follow-up status"
    ws.add_data_validation(dv)
    dv.add("E30:E30")
    ws["A30"].number_format = "yyyy-mm-dd"
    for col in "ABCDE":
        ws[f"{col}30"].border = BOX
    ws["A31"] = "Scores per item"
    ws["A31"].font = BOLD
    ws["A31"].alignment = Alignment(vertical="top")          # level with the note
    # the QA score's rule in the catalog's words (qa_rule), the columns' in the template's
    ws["B31"] = ("Weight: how many times the item counts. Points: weight × score, out of "
                 "weight × {{ max_score }} (N/A items count neither). QA score: {{ qa_rule }}")
    ws["B31"].font = SMALL
    ws["B31"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("B31:I31")                  # wrapped over the table's width
    ws.row_dimensions[31].height = 36          # three lines of 9 pt (a merged cell does not grow)
    ws.row_dimensions[30].height = 60          # room to write; insert rows for more notes
    header(ws, 32, ["Evaluation", "Section", "Criterion", "Weight", "Fatal item",
                    "Score (0–{{ max_score }})", "Points", "Out of", "Comment"])
    marker(ws, 33, "{% for i in agent.item_scores %}")
    # the item rows: the formulas above point at row 34, the loop row
    for col, v in zip("ABCDEF", ("{{ i.evaluation }}", "{{ i.section }}", "{{ i.criterion }}",
                                 "{{ i.weight }}", "{{ i.fatal }}", "{{ i.score }}")):
        ws[f"{col}34"] = v
        ws[f"{col}34"].font = SMALL
    # blank where the weight or the score is no number (N/A, or a value the formulas
    # refuse: an error value pasted as a weight showed that error here)
    ws["G34"] = '=IF(AND(ISNUMBER(D34),ISNUMBER(F34)),D34*F34,"")'
    ws["H34"] = '=IF(AND(ISNUMBER(D34),ISNUMBER(F34)),D34*$B$4,"")'
    # the weight and the catalog's fatal flag (1 fatal, 0 not) stay numbers for the
    # formulas above, shown in words: "3×", "Fatal — fails the evaluation" (blank when not)
    ws["D34"].number_format = 'General"×"'
    ws["E34"].number_format = ('"Fatal — fails the evaluation";"Fatal — fails the evaluation";'
                               '""')
    ws["F34"].alignment = RIGHT                # N/A beside the numbers
    from kpi_xl.render.cells import NA_WORDS
    from kpi_xl.render.excel import score_validation

    # "N/A, NA or not applicable": the words, any case, as a QA lead would write them
    words = sorted((w.upper() if len(w) <= 3 else w for w in NA_WORDS),
                   key=lambda w: (w != "N/A", len(w)))
    na_words = ", ".join(words[:-1]) + " or " + words[-1]
    # what a QA lead may type in an item row: what the formulas above read as meant ("Y"

    # in the fatal column would make the item silently not fatal, text in a weight 0).
    # The bounds restate the catalog's input rules for qa_score deliberately (a validation
    # is Excel's own dialog, typed-in values only); tests/test_qa_pasted_values.py holds
    # them to the catalog. Pasted values are caught by the marks below and the formulas.
    for ref, dv in (
            ("D34", DataValidation(type="decimal", operator="greaterThanOrEqual",
                                   formula1="0", error="A weight is a number, 0 or more "
                                   "(how many times the item counts).")),
            ("E34", DataValidation(type="whole", operator="between", formula1="0",
                                   formula2="1", error="1 for a fatal (compliance) item, "
                                   "which fails the evaluation when scored 0; 0 for the "
                                   "others.")),
            # the words for N/A are the formulas' (the renderer's NA_WORDS), not restated
            ("F34", DataValidation(type="custom",
                                   formula1=score_validation("F34", lo=0, hi="$B$4"),
                                   error="A score from 0 to the maximum per item (B4), or "
                                         f"{na_words} where the item does not apply."))):
        dv.allow_blank, dv.showErrorMessage, dv.errorStyle = True, True, "stop"
        dv.errorTitle = "Scores per item"
        ws.add_data_validation(dv)
        dv.add(ref)
    # and, as data validation judges only what is typed, a mark (red) on a weight, fatal
    # flag or score pasted in that the formulas refuse: the catalog's Excel renderer's
    # condition for that cell (its input rules, and what it cannot read), not a restatement
    from kpi_xl.catalog import CATALOG
    from kpi_xl.render.excel import ExcelRenderer

    qa_kpi = CATALOG["qa_score"]
    marks = ExcelRenderer(qa_kpi, qa_kpi.variant(None), ranges={
        "weights": "D34", "fatal": "E34", "scores": "F34"},
        params={"max_score": "$B$4"}).cell_checks()
    for name, ref in (("weights", "D34"), ("fatal", "E34"), ("scores", "F34")):
        ws.conditional_formatting.add(ref, FormulaRule(
            formula=[marks[name]], fill=PatternFill("solid", start_color=RED, end_color=RED),
            font=Font(color=RED_T, bold=True)))
    ws["I34"] = "{{ i.comment }}"
    ws["I34"].alignment = Alignment(indent=1)  # apart from the numbers beside it
    for col in "GHI":
        ws[f"{col}34"].font = SMALL

    marker(ws, 35, "{% endfor %}")
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    # printed: the item scores' column heads on every page they run on to, and the agent
    # above them in the page header
    ws.print_title_rows = "32:32"
    running_head(ws, "QA: {{ agent.name }} · {{ team }} · {{ month_label }}")
    wb.properties.creator = "kpi_xl"
    return wb


def main() -> None:
    TEMPLATES.mkdir(exist_ok=True)
    for name, build in (("balanced-scorecard.xlsx", scorecard), ("agent-qa.xlsx", agent_qa)):
        build().save(TEMPLATES / name)
        print(f"wrote {TEMPLATES / name}")


if __name__ == "__main__":
    sys.exit(main())
