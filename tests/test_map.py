"""``kpi-xl map FILE`` (kpi_xl.data.guess): the guessed [[sources]] block parses with
kpi_xl's own config parser and loads the very file it came from, on the three real
exports and on fixtures written here (a Windows-1252 semicolon CSV with a title row,
decimal commas and thousands; an xlsx with title rows and time cells; a wide QA export)."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.config import parse_config  # noqa: E402
from kpi_xl.data.guess import classify, map_file  # noqa: E402
from kpi_xl.data.load import LoadOptions, RubricItem, load  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def round_trip(path, options=LoadOptions(), **kw):
    """The block for ``path``: (its [[sources]] table, the loaded dataset)."""
    text, problems = map_file(path, **kw)
    assert problems == [], text
    spec = tomllib.loads(text)["sources"][0]
    cfg = parse_config({"sources": [spec]}, ".")
    ds = load(cfg.sources, options)
    assert ds.problems == [], text
    for acc in ds.accounting:
        assert acc.balanced and acc.used > 0, (acc, text)
    for line in text.splitlines():          # a comment on every guess
        if "=" in line and not line.startswith(("#", "[")):
            assert "#" in line or line.startswith("path ="), line
    return spec, ds, text


# ------------------------------------------------------------------ the real exports
def test_pwc_workbook(shared_data):
    spec, ds, text = round_trip(shared_data / "pwc-call-centre/call-centre-q1-2021.xlsx")
    cols = spec["columns"]
    assert spec["sheet"] == "Sheet1" and spec["table"] == "contacts"
    assert cols["id"] == "Call Id" and cols["agent"] == "Agent"
    assert cols["date"] == {"date": "Date", "time": "Time"}
    assert cols["answered"] == "Answered (Y/N)" and cols["resolved"] == "Resolved"
    assert cols["wait"] == {"column": "Speed of answer in seconds", "unit": "seconds"}
    assert cols["talk"] == {"column": "AvgTalkDuration", "unit": "hh:mm:ss"}
    assert cols["csat"] == "Satisfaction rating"
    assert '#   ? = "Topic"' in text
    # the shipped preset's reading of the same file (tests/test_pwc_call_centre.py)
    (acc,) = ds.accounting
    assert (acc.read, acc.rejected) == (5_000, 0)


def test_bank_tsv(shared_data):
    spec, ds, text = round_trip(shared_data / "anonymous-bank-1999/anonymous-bank-feb-1999.tsv")
    cols = spec["columns"]
    assert spec["delimiter"] == "\t"
    assert cols["date"] == {"date": "date", "time": "vru_entry", "format": "%y%m%d"}
    assert cols["answered"] == {"column": "outcome", "codes": {"AGENT": "yes", "HANG": "no"}}
    assert cols["wait"]["column"] == "q_time" and cols["talk"]["column"] == "ser_time"
    assert cols["agent"] == {"column": "server", "codes": {"NO_SERVER": ""}}
    assert "id" not in cols            # call_id repeats in this export
    assert '# values = ["PHANTOM"]' in text
    (acc,) = ds.accounting
    # with the exclusion left commented out, the 278 PHANTOM rows are rejected (not yes/no)
    assert (acc.read, acc.rejected) == (33_344, 278)


def test_support_tickets_csv(shared_data):
    spec, ds, _text = round_trip(shared_data / "support-tickets/customer-support-tickets.csv")
    cols = spec["columns"]
    assert cols["id"] == "Ticket ID" and cols["status"] == "Ticket Status"
    assert cols["first_reply_at"] == "First Response Time"
    assert cols["solved_at"] == "Time to Resolution"
    assert cols["date"] == "First Response Time"       # no creation time, as the preset
    assert cols["channel"] == {"column": "Ticket Channel", "codes": {"Social media": "social"}}
    assert cols["csat"] == "Customer Satisfaction Rating"


# ------------------------------------------------------------------ fixtures
CONTINENTAL = [
    "Export des appels \u2013 octobre 2026;;;;;;;;",
    "Call ID;Call date;Start;Agent;Outcome;Wait (sec);Talk time;CSAT;Topic",
    "A-001;01/10/2026;08:02:11;Jos\u00e9;Answered;12;0:04:12;4,5;Billing",
    "A-002;01/10/2026;08:15:40;Zo\u00eb;Abandoned;41;;;Technical",
    "A-003;15/10/2026;09:01:05;Jos\u00e9;Answered;7;0:02:50;3;Billing",
    "A-004;15/10/2026;09:30:00;Zo\u00eb;Answered;1.204;0:10:00;5;Technical",
    "A-005;20/10/2026;10:00:00;Jos\u00e9;Voicemail;30;;;Billing",
    "A-006;21/10/2026;11:11:11;Zo\u00eb;Answered;9;0:01:59;2,5;Technical",
    "A-007;22/10/2026;12:00:00;Jos\u00e9;Abandoned;15;;;Billing",
    "A-008;31/10/2026;16:45:00;Zo\u00eb;Answered;3;0:03:03;4;Technical",
]


def test_semicolon_cp1252_csv_with_a_title_row_and_decimal_commas(tmp_path):
    path = tmp_path / "calls-2026-10.csv"
    path.write_bytes(("\r\n".join(CONTINENTAL) + "\r\n").encode("cp1252"))
    spec, ds, text = round_trip(path)
    assert (spec["encoding"], spec["delimiter"], spec["header_row"]) == ("cp1252", ";", 2)
    assert (spec["decimal"], spec["thousands"]) == (",", ".")
    cols = spec["columns"]
    assert cols["date"] == {"date": "Call date", "time": "Start", "format": "%d/%m/%Y"}
    assert cols["answered"] == {"column": "Outcome",
                                "codes": {"Answered": "yes", "Abandoned": "no"}}
    assert cols["talk"] == {"column": "Talk time", "unit": "hh:mm:ss"}
    assert cols["wait"] == {"column": "Wait (sec)", "unit": "seconds"}
    assert 'path = "' + str(tmp_path / "calls-{month}.csv").replace("\\", "\\\\") + '"' in text
    (acc,) = ds.accounting
    # 8 calls; A-005's 'Voicemail' is neither answered nor abandoned: rejected, row 7
    assert (acc.read, acc.used, acc.rejected) == (8, 7, 1)
    (bad,) = [r for r in ds.rejects.items if r.action == "row rejected"]
    assert (bad.row, bad.column, bad.value) == (7, "Outcome", "Voicemail")
    calls = ds.tables["contacts"].set_index("id")
    # 1.204 with thousands '.' is 1204 s; 4,5 is 4.5; 0:04:12 is 252 s; 15/10 08:02:11
    assert calls.at["A-004", "wait"] == 1204 and calls.at["A-001", "csat"] == 4.5
    assert calls.at["A-001", "talk"] == 252
    assert calls.at["A-003", "date"] == pd.Timestamp("2026-10-15 09:01:05")
    assert calls.at["A-001", "agent"] == "Jos\u00e9"


def test_xlsx_with_title_rows_time_cells_and_seconds(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    pytest.importorskip("python_calamine")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Report"
    ws["A1"] = "Interactions, October 2026"
    ws["A2"] = "Exported 2026-11-01"
    ws.append(["Conversation ID", "Created", "Media Type", "Assignee", "Abandoned",
               "Queue Duration (s)", "Handle", "Satisfaction"])
    start = dt.datetime(2026, 10, 1, 8)
    for k in range(12):
        ws.append([f"conv-{k}", start + dt.timedelta(hours=7 * k),
                   ["Voice", "Email", "Chat"][k % 3], ["Ana", "Ben"][k % 2],
                   "Yes" if k == 4 else "No", 10 + k, dt.time(0, 3, k), 1 + k % 5])
    wb.save(tmp_path / "interactions.xlsx")
    spec, ds, _text = round_trip(tmp_path / "interactions.xlsx")
    cols = spec["columns"]
    assert spec["header_row"] == 3 and spec["sheet"] == "Report"
    assert cols["id"] == "Conversation ID"
    assert cols["created"] == "Created" and cols["date"] == "Created"
    assert cols["channel"] == {"column": "Media Type", "codes": {"Voice": "phone"}}
    # 'Abandoned' Yes means answered no
    assert cols["answered"] == {"column": "Abandoned", "codes": {"Yes": "no", "No": "yes"}}
    assert cols["wait"] == {"column": "Queue Duration (s)", "unit": "seconds"}
    assert cols["csat"] == "Satisfaction"
    (acc,) = ds.accounting
    assert (acc.read, acc.used) == (12, 12)
    assert ds.tables["contacts"]["_row"].tolist() == list(range(4, 16))


def test_wide_qa_export_guesses_an_unpivot(tmp_path):
    path = tmp_path / "qa-october.csv"
    rows = ["Evaluation ID,Review date,Agent,Reviewer,Greeting,Empathy,Resolution,Notes"]
    for k in range(6):
        rows.append(f"ev{k},2026-10-{k + 1:02d},{['Ana', 'Ben'][k % 2]},Quinn,"
                    f"{k % 2},{(k + 1) % 2},1,{'fine' if k else ''}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rubric = LoadOptions(rubric=tuple(RubricItem(c, 1) for c in
                                      ("Greeting", "Empathy", "Resolution")))
    spec, ds, _text = round_trip(path, rubric)
    assert spec["table"] == "qa"
    assert spec["unpivot"] == {"criteria": ["Greeting", "Empathy", "Resolution"]}
    assert spec["columns"]["evaluation"] == "Evaluation ID"
    assert spec["columns"]["evaluator"] == "Reviewer"
    (acc,) = ds.accounting
    assert (acc.read, acc.used) == (18, 18)


@pytest.mark.parametrize("values, kind, fmt", [
    (["990201", "990202"], "timestamp", "%y%m%d"),
    (["13/02/2026", "01/03/2026"], "timestamp", "%d/%m/%Y"),
    (["02/13/2026 14:05", "03/01/2026 09:00"], "timestamp", "%m/%d/%Y %H:%M"),
    (["0:01:02", "1:00:00"], "hms", None),
    (["Y", "N", "Y"], "flag", None),
    (["12", "7"], "number", None),
])
def test_values_are_recognised(values, kind, fmt):
    got = classify(values, "date")
    assert (got.kind, got.format) == (kind, fmt)


def test_day_and_month_that_cannot_be_told_apart_are_flagged():
    got = classify(["01/02/2026", "03/04/2026"], "date", continental=True)
    assert got.format == "%d/%m/%Y" and "AMBIGUOUS" in got.why


# ------------------------------------------------------------------ the command
def test_map_command_prints_the_block(tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_bytes(("\r\n".join(CONTINENTAL) + "\r\n").encode("cp1252"))
    assert main(["map", str(path)]) == 0
    out = capsys.readouterr().out
    assert tomllib.loads(out)["sources"][0]["header_row"] == 2


def test_map_command_refuses_a_missing_file_in_a_sentence(tmp_path, capsys):
    assert main(["map", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv: file not found" in capsys.readouterr().err


def test_map_command_says_what_keeps_a_block_from_parsing(tmp_path, capsys):
    path = tmp_path / "things.csv"
    path.write_text("Colour,Size\nred,3\nblue,4\n", encoding="utf-8")
    assert main(["map", str(path)]) == 1
    io = capsys.readouterr()
    assert "[[sources]]" in io.out and "contacts need 'date' or 'created'" in io.err


def test_map_help_teaches_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["map", "--help"])
    out = capsys.readouterr().out
    assert "kpi-xl map exports/calls-2026-10.csv" in out and "kpi-xl validate" in out


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_cell = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cell, min_size=1, max_size=5), min_size=1, max_size=6),
       delim=st.sampled_from([",", ";", "\t"]))
def test_any_csv_gives_valid_toml_or_a_sentence(tmp_path, rows, delim):
    import csv
    import io

    from kpi_xl.errors import KpiXlError

    buf = io.StringIO()
    csv.writer(buf, delimiter=delim).writerows(rows)
    path = tmp_path / "any.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        text, problems = map_file(path)
    except KpiXlError:
        return                                   # a sentence (empty file, no values)
    tomllib.loads(text)                          # always valid TOML
    assert not any("not valid TOML" in p for p in problems)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_AS is POSIX")
def test_map_refuses_an_xlsx_dimension_bomb_by_name_within_2_gb(tmp_path):
    """Before: kpi-xl map handed the sheet to python-calamine unchecked, which asks for
    16,384 x 1,048,576 cells x 32 bytes and dies of SIGABRT; now the reader's extent guard
    runs first, as it does for validate and compute."""
    import os
    import subprocess
    from pathlib import Path

    from test_hostile_inputs import _limit_memory, xlsx_with_cell_at

    root = Path(__file__).resolve().parents[1]
    bomb = xlsx_with_cell_at(tmp_path / "bomb.xlsx", "XFD1048576")
    p = subprocess.run([sys.executable, "-m", "kpi_xl.cli", "map", str(bomb)],
                       capture_output=True, text=True, timeout=120, cwd=root,
                       env={**os.environ, "PYTHONPATH": str(root)}, preexec_fn=_limit_memory)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "panicked" not in p.stderr
    assert "bomb.xlsx" in p.stderr and "XFD1048576" in p.stderr
