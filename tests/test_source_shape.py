"""Source options real exports need (kpi_xl.data.shape): title rows above the header,
decimal commas and thousands separators, paths that are globs, lists or {month}, and wide
QA exports unpivoted to one item per criterion column; every file accounted on its own,
every reject naming its file, row and column as the original file shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

from kpi_xl.config import parse_config  # noqa: E402
from kpi_xl.data.load import LoadOptions, RubricItem, load  # noqa: E402
from kpi_xl.data.rejects import ROW_REJECTED, VALUE_IGNORED  # noqa: E402
from kpi_xl.data.sources import ConfigError, parse_source  # noqa: E402
from kpi_xl.run.guards import GuardSettings, check  # noqa: E402


def rejects_at(ds):
    """(file, row, column) -> (action, reason, value)."""
    return {(r.file, r.row, r.column): (r.action, r.reason, r.value) for r in ds.rejects.items}


# ------------------------------------------------------------------ title rows, numbers
# lines: 1-2 title rows, 3 header, 4 c1, 5 c2, 6 blank, 7 c3 (no date), 8 c4
CONTINENTAL = (
    "Rapport d'appels octobre 2026\n"
    "export ACD;;;;;\n"
    "id;date;channel;answered;talk;csat\n"
    "c1;2026-10-01 09:00;phone;Y;1.234,5;4,5\n"
    "c2;2026-10-01 10:00;phone;Y;12,5;x\n"
    "\n"
    "c3;;phone;Y;3;4\n"
    "c4;2026-10-02 10:00;phone;Y;1.23,4;3\n"
)


@pytest.mark.parametrize("rows", [{"header_row": 3}, {"skip_rows": 2}])
def test_title_rows_decimal_comma_and_thousands_keep_the_files_row_numbers(tmp_path, rows):
    path = tmp_path / "calls.csv"
    path.write_text(CONTINENTAL, encoding="utf-8")
    ds = load([parse_source({"path": str(path), "preset": "generic-contacts", **rows,
                             "decimal": ",", "thousands": "."})])
    assert ds.problems == []
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected) == (4, 3, 1) and acc.balanced
    df = ds.tables["contacts"].set_index("id")
    # 1.234,5 seconds = 1234.5; 12,5 = 12.5; the csat 4,5 = 4.5
    assert df.at["c1", "talk"] == 1234.5 and df.at["c2", "talk"] == 12.5
    assert df.at["c1", "csat"] == 4.5
    assert df["_row"].to_dict() == {"c1": 4, "c2": 5, "c4": 8}
    got = rejects_at(ds)
    assert got[("calls.csv", 7, "date")][0] == ROW_REJECTED          # line 7 of the file
    assert got[("calls.csv", 5, "csat")][:2] == (VALUE_IGNORED, "'csat' is not a number")
    # 1.23,4 is no number in this notation (a group of two digits): reported, not guessed
    assert got[("calls.csv", 8, "talk")][0] == VALUE_IGNORED
    assert df.at["c4", "talk"] != df.at["c4", "talk"]                  # NaN


def test_without_the_settings_a_decimal_comma_is_refused_not_misread(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CONTINENTAL, encoding="utf-8")
    ds = load([parse_source({"path": str(path), "preset": "generic-contacts",
                             "header_row": 3})])
    got = rejects_at(ds)
    reason = got[("calls.csv", 4, "csat")][1]
    assert reason.startswith("'csat' is not a number") and "decimal" in reason
    assert ds.tables["contacts"].set_index("id").at["c1", "csat"] != 4.5


def test_xlsx_title_rows_keep_the_sheets_row_numbers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    pytest.importorskip("python_calamine")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calls"
    ws["A1"] = "Call report, October 2026"          # row 2 left empty
    ws.append([])
    for row in (["id", "date", "channel", "answered", "wait"],
                ["c1", "2026-10-01 09:00", "phone", "Y", 10],
                ["c2", "2026-10-01 09:05", "phone", "perhaps", 12],
                ["c3", "2026-10-01 09:10", "phone", "N", 30]):
        ws.append(row)
    wb.save(tmp_path / "calls.xlsx")
    ds = load([parse_source({"path": str(tmp_path / "calls.xlsx"), "preset": "generic-contacts",
                             "sheet": "Calls", "header_row": 3})])
    assert ds.problems == []
    (acc,) = ds.accounting
    assert (acc.read, acc.used, acc.rejected) == (3, 2, 1)
    assert ds.tables["contacts"]["_row"].tolist() == [4, 6]
    assert rejects_at(ds)[("calls.xlsx", 5, "answered")][0] == ROW_REJECTED


def test_a_header_row_past_the_file_is_a_sentence(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("id;date\nc1;2026-10-01\n", encoding="utf-8")
    ds = load([parse_source({"path": str(path), "preset": "generic-contacts",
                             "header_row": 5})])
    assert len(ds.problems) == 1 and "header is set at row 5" in ds.problems[0]


@pytest.mark.parametrize("spec, words", [
    ({"header_row": 0}, "'header_row' must be a whole number of at least 1"),
    ({"skip_rows": "2"}, "'skip_rows' must be a whole number"),
    ({"header_row": 3, "skip_rows": 1}, "disagree"),
    ({"decimal": ";"}, "'decimal' must be"),
    ({"thousands": "x"}, "'thousands' must be one of"),
    ({"decimal": ",", "thousands": ","}, "both ','"),
    ({"encoding": "klingon"}, "'encoding' 'klingon' is not an encoding"),
    ({"sheet": 2}, "'sheet' must be the name of a worksheet"),
])
def test_layout_settings_errors_name_the_source_and_rule(spec, words):
    with pytest.raises(ConfigError) as e:
        parse_source({"name": "calls", "path": "calls.csv", "preset": "generic-contacts",
                      **spec})
    assert any(p.startswith("source 'calls'") and words in p for p in e.value.problems), \
        e.value.problems


# ------------------------------------------------------------------ path
@pytest.mark.parametrize("path, kind", [(5, "a number"), ({"file": "a.csv"}, "a table"),
                                        ([], "an empty list"), (True, "true/false")])
def test_a_wrong_type_of_path_is_a_sentence_naming_source_and_rule(path, kind):
    with pytest.raises(ConfigError) as e:
        parse_config({"sources": [{"name": "calls", "preset": "generic-contacts",
                                   "path": path}]})
    (problem,) = [p for p in e.value.problems if "path" in p]
    assert problem.startswith("source 'calls': 'path' must be a file name")
    assert "a glob" in problem and "{month}" in problem and kind in problem


def _monthly(folder: Path) -> None:
    """Three monthly files; September's has one row whose answered flag is 'maybe'
    (file row 7: header row 1, five good rows 2-6)."""
    folder.mkdir(exist_ok=True)
    for month, n in (("2026-08", 4), ("2026-09", 5), ("2026-10", 5)):
        rows = "".join(f"{month}-c{k},{month}-{k + 1:02d} 09:00,phone,Y,{10 + k}\n"
                       for k in range(n))
        if month == "2026-09":
            rows += f"{month}-bad,{month}-03 09:00,phone,maybe,3\n"
        (folder / f"calls-{month}.csv").write_text("id,date,channel,answered,wait\n" + rows,
                                                   encoding="utf-8")


@pytest.mark.parametrize("path", ["exports/calls-{month}.csv", "exports/calls-*.csv",
                                  ["exports/calls-2026-08.csv", "exports/calls-2026-09.csv",
                                   "exports/calls-2026-10.csv"]])
def test_every_file_of_a_multi_file_source_is_accounted_and_named(tmp_path, path):
    _monthly(tmp_path / "exports")
    cfg = parse_config({"sources": [{"name": "calls", "preset": "generic-contacts",
                                     "path": path}]}, tmp_path)
    ds = load(cfg.sources)
    assert ds.problems == []
    got = {a.file: (a.read, a.used, a.rejected, a.balanced) for a in ds.accounting}
    assert got == {"calls-2026-08.csv": (4, 4, 0, True), "calls-2026-09.csv": (6, 5, 1, True),
                   "calls-2026-10.csv": (5, 5, 0, True)}
    (bad,) = ds.rejects.items
    assert (bad.file, bad.row, bad.column, bad.value) == ("calls-2026-09.csv", 7, "answered",
                                                         "maybe")
    assert {a.group for a in ds.accounting} == {"calls"}
    assert len(ds.tables["contacts"]) == 14


def test_month_in_a_path_reads_the_runs_month_and_the_ones_before(tmp_path):
    _monthly(tmp_path / "exports")
    (src,) = parse_config({"sources": [{"name": "calls", "preset": "generic-contacts",
                                        "path": "exports/calls-{month}.csv"}]},
                          tmp_path).sources
    ds = load([src], months=["2026-09", "2026-10"])
    assert [a.file for a in ds.accounting] == ["calls-2026-09.csv", "calls-2026-10.csv"]
    ds = load([src], months=["2026-10", "2026-11"])
    assert ds.problems == [f"source 'calls': no file for 2026-11: nothing matches "
                           f"{tmp_path / 'exports' / 'calls-2026-11.csv'}"]


def test_a_glob_matching_nothing_is_a_problem(tmp_path):
    src = parse_source({"name": "calls", "preset": "generic-contacts",
                        "path": "nowhere/calls-*.csv"}, tmp_path)
    ds = load([src])
    assert ds.problems == [f"source 'calls': no file matches "
                           f"{tmp_path / 'nowhere' / 'calls-*.csv'}"]


def test_guards_judge_a_multi_file_source_as_one(tmp_path):
    """Monthly files: August's and September's have no October rows, and must not be
    refused for it; the usual volume comes from the earlier files. Judged as one file of
    15 rows, one rejected row is 1/15 = 7 % (over the 5 % allowed); the month itself has
    5 rows of a usual median(4, 5) = 4.5."""
    _monthly(tmp_path / "exports")
    (src,) = parse_config({"sources": [{"name": "calls", "preset": "generic-contacts",
                                        "path": "exports/calls-{month}.csv"}]},
                          tmp_path).sources
    ds = load([src], months=["2026-08", "2026-09", "2026-10"])
    rep = check(ds, "2026-10", GuardSettings(), history=["2026-08", "2026-09"])
    (vol,) = rep.volumes
    assert (vol.source, vol.rows, vol.usual) == ("calls", 5, 4.5)
    assert not any("has no" in r for r in rep.refusals)
    (refusal,) = rep.refusals
    assert refusal.startswith("3 files (calls) rejects 1 of its 15 rows (7%")
    rep = check(ds, "2026-10", GuardSettings(max_rejected_share=0.1),
                history=["2026-08", "2026-09"])
    assert rep.refusals == []


# ------------------------------------------------------------------ unpivot
# A wide QA export: title row, header on row 2, one row per evaluation (rows 3-5).
WIDE = (
    "QA export\n"
    "Evaluation;Date;Agent;Q Greeting;Q Empathy;Q Resolution;Comment\n"
    "e1;2026-10-02;Ana;1;0,5;1;good\n"
    "e2;2026-10-03;Ben;1;x;0;\n"
    "e3;2026-10-03;Ben;;1;N/A;late\n"
)
RUBRIC = (RubricItem("Q Greeting", 1), RubricItem("Q Empathy", 2), RubricItem("Q Resolution", 3))


@pytest.mark.parametrize("unpivot", [
    {"criteria": ["Q Greeting", "Q Empathy", "Q Resolution"]}, {"columns": "Q *"}])
def test_a_wide_qa_export_unpivots_with_every_item_traced_to_its_cell(tmp_path, unpivot):
    path = tmp_path / "qa-wide.csv"
    path.write_text(WIDE, encoding="utf-8")
    src = parse_source({"name": "qa", "table": "qa", "path": str(path), "header_row": 2,
                        "decimal": ",", "unpivot": unpivot,
                        "columns": {"evaluation": "Evaluation", "date": "Date",
                                    "agent": "Agent", "comment": "Comment"}})
    ds = load([src], LoadOptions(rubric=RUBRIC))
    assert ds.problems == []
    (acc,) = ds.accounting
    # 3 evaluations x 3 criteria = 9 items; e2's Empathy 'x' and e3's blank Greeting go
    assert (acc.read, acc.used, acc.rejected) == (9, 7, 2) and acc.balanced
    qa = ds.tables["qa"]
    items = {(e, c): s for e, c, s in zip(qa["evaluation"], qa["criterion"], qa["score"])}
    assert items[("e1", "Q Empathy")] == 0.5 and items[("e2", "Q Resolution")] == 0
    assert items[("e3", "Q Resolution")] != items[("e3", "Q Resolution")]    # N/A
    assert sorted(qa.loc[qa["evaluation"] == "e1", "_row"]) == [3, 3, 3]
    assert dict(zip(qa["criterion"], qa["weight"])) == {"Q Greeting": 1, "Q Empathy": 2,
                                                        "Q Resolution": 3}
    got = rejects_at(ds)
    assert got[("qa-wide.csv", 4, "Q Empathy")][:2] == (ROW_REJECTED,
                                                         "'Q Empathy' is not a number")
    assert got[("qa-wide.csv", 5, "Q Greeting")][0] == ROW_REJECTED


def test_an_unpivoted_score_over_the_maximum_names_its_column(tmp_path):
    path = tmp_path / "qa-wide.csv"
    path.write_text("Evaluation,Date,Agent,Greeting,Empathy\n"
                    "e1,2026-10-02,Ana,1,7\n", encoding="utf-8")
    src = parse_source({"name": "qa", "table": "qa", "path": str(path),
                        "unpivot": {"criteria": ["Greeting", "Empathy"]},
                        "columns": {"evaluation": "Evaluation", "date": "Date",
                                    "agent": "Agent"}})
    from kpi_xl.engine import KpiChoice

    ds = load([src], LoadOptions(rubric=(RubricItem("Greeting", 1), RubricItem("Empathy", 1))),
              choices={"qa_score": KpiChoice(params={"max_score": 1})})
    bad = [r for r in ds.rejects.items if r.row == 2]
    assert bad and all(r.column == "Empathy" for r in bad), bad


@pytest.mark.parametrize("spec, words", [
    ({"table": "contacts", "unpivot": {"criteria": ["A"]}}, "needs table = \"qa\""),
    ({"unpivot": {"criteria": ["A"], "columns": "Q*"}}, "one of 'criteria' or 'columns'"),
    ({"unpivot": {"criteria": []}}, "'criteria' must be a list of headers"),
    ({"unpivot": {"criteria": ["A"]}, "columns": {"score": "S"}}, "leave them out"),
    ({"unpivot": ["A"]}, "'unpivot' must be a table"),
])
def test_unpivot_errors_name_the_source(spec, words):
    base = {"name": "qa", "table": "qa", "path": "qa.csv",
            "columns": {"evaluation": "E", "date": "D", "agent": "A"}}
    cols = {**base["columns"], **spec.pop("columns", {})}
    with pytest.raises(ConfigError) as e:
        parse_source({**base, **spec, "columns": cols})
    assert any(p.startswith("source 'qa'") and words in p for p in e.value.problems), \
        e.value.problems


def test_an_unpivot_glob_matching_no_header_is_a_sentence(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("E,D,A,Greeting\ne1,2026-10-01,Ana,1\n", encoding="utf-8")
    src = parse_source({"name": "qa", "table": "qa", "path": str(path),
                        "unpivot": {"columns": "Q*"},
                        "columns": {"evaluation": "E", "date": "D", "agent": "A"}})
    ds = load([src], LoadOptions(rubric=(RubricItem("Greeting", 1),)))
    (problem,) = ds.problems
    assert "no column header matches the unpivot pattern 'Q*'" in problem


def test_a_monthly_run_reads_the_months_files_named_by_month(tmp_path, capsys):
    """compute for 2026-09 reads August's and September's files (the run's month and the
    months before it), not October's; validate (no month) reads all three."""
    from kpi_xl.cli import main

    _monthly(tmp_path / "exports")
    cfg = tmp_path / "kpi_xl.toml"
    cfg.write_text('[guards]\nmax_rejected_share = 0.2\n\n[[sources]]\nname = "calls"\n'
                   'preset = "generic-contacts"\npath = "exports/calls-{month}.csv"\n',
                   encoding="utf-8")
    assert main(["compute", "-c", str(cfg), "--month", "2026-09",
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "calls-2026-08.csv: 4 rows read" in out and "calls-2026-09.csv: 6 rows read" in out
    assert "calls-2026-10.csv" not in out
    assert (tmp_path / "out" / "2026-09" / "kpi-results.csv").is_file()
    assert main(["validate", "-c", str(cfg)]) == 0
    assert "calls-2026-10.csv: 5 rows read" in capsys.readouterr().out
    assert main(["compute", "-c", str(cfg), "--month", "2026-11",
                 "--out", str(tmp_path / "out")]) == 1
    assert "no file for 2026-11" in capsys.readouterr().err


def test_an_unpivot_lets_duckdbs_copy_of_the_file_go(tmp_path):
    """The unpivoted table holds the file's values as lists, so DuckDB's copy of the file
    (its connection, and the Arrow table where pyarrow is installed) is closed once they
    are taken, as convert closes it for a source read as it is: it stayed open until the
    garbage collector found it."""
    import duckdb

    from kpi_xl.data.readers import _read_csv_duckdb
    from kpi_xl.data.rawcols import SqlColumn
    from kpi_xl.data.shape import UNPIVOT_SCORE, unpivot_table

    path = tmp_path / "qa-wide.csv"
    path.write_text(WIDE, encoding="utf-8")
    src = parse_source({"name": "qa", "table": "qa", "path": str(path), "header_row": 2,
                        "decimal": ",", "unpivot": {"columns": "Q *"},
                        "columns": {"evaluation": "Evaluation", "date": "Date",
                                    "agent": "Agent", "comment": "Comment"}})
    raw = _read_csv_duckdb(src)
    read = [c for c in raw.columns.values() if isinstance(c, SqlColumn)]
    assert read
    wide = unpivot_table(raw)
    assert wide.columns[UNPIVOT_SCORE][:3] == ["1", "0,5", "1"]     # e1's three items
    for c in read:
        with pytest.raises(duckdb.ConnectionException):
            c.con.execute("SELECT 1")
        assert not c.held
