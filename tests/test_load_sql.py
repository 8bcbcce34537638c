"""Reading and converting in DuckDB (kpi_xl.data.rawcols, readers._read_csv_duckdb) gives
what the Python reader and parsers give, value by value, and leaves to them every file and
value it cannot read alike.

Expected values come from the Python path itself (the definition of each conversion):
each test runs both paths on the same input and compares them."""

from __future__ import annotations

import numpy as np
import pytest

from kpi_xl import frames
from kpi_xl.data import rawcols
from kpi_xl.data.convert import Options, convert
from kpi_xl.data.readers import _read_csv_duckdb, _read_csv_python
from kpi_xl.data.rejects import Rejects
from kpi_xl.data.sources import parse_source


@pytest.fixture(autouse=True, params=["distinct", "sql"])
def typing(request, monkeypatch):
    """Every test twice: as the loader types a column (once per distinct value where
    values repeat, else the SQL path), and with the SQL path alone, so that each of
    ``rawcols``' SQL shortcuts keeps being compared with its parser."""
    if request.param == "sql":
        import kpi_xl.data.convert as convert_module

        monkeypatch.setattr(convert_module, "_parse_distinct", lambda *a: None)
    return request.param


def _both(tmp_path, text: str, mapping: dict, name="x.csv"):
    """(DuckDB path, Python path): each (RawTable or None, DataFrame, accounting, rejects)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    src = parse_source({"name": "s", "path": str(path), **mapping})
    out = []
    for fast in (True, False):
        rejects = Rejects()
        raw = _read_csv_duckdb(src) if fast else _read_csv_python(src, rejects)
        if raw is None:
            out.append((None, None, None, None))
            continue
        df, acc = convert(raw.source, raw, rejects, Options())
        out.append((raw, df, acc, [(r.row, r.column, r.value, r.reason, r.action)
                                   for r in rejects.items]))
    return out


CONTACTS = {"table": "contacts", "columns": {
    "id": "id", "date": "date", "channel": "channel", "agent": "agent",
    "answered": "answered", "wait": "wait", "talk": {"column": "talk", "unit": "minutes"},
    "nps": "nps"}}

# values of each column, written plainly (SQL types them) and oddly (the parser does)
ODD = [
    ("c1", "2026-10-01 08:12:00", "phone", "a1", "Y", "12", "3.5", "9"),
    ("c2", "2026-10-01T08:12", "Phone ", " a2", "yes", " 7", ".5", "N/A"),
    ("c3", "2026-10-01", "EMAIL", "a\u00a03", "TRUE", "1e1", "5.", "10"),
    ("c4", "2026-10-01 08:12:00.25", "chat", "a4", "maybe", "-3", "1:02:03", "11"),
    ("c5", "2026-10-01T08:12:00+02:00", "fax", "a5", "N", "abc", "-1", "nan"),
    ("c6", "01/10/2026", "social", "", "", "", "", ""),
    ("c7", "2026-02-30", "phone", "a7", "0", "inf", "1 5", "7.25"),
    ("\u2003c8", "2026-10-02 23:59:59", "İphone", "a8", "y", "+4", "0", " 8 "),
    ("c9", "  ", "email", "a9", "1.0", "0.1234567890123456789", "2", "-0"),
    # DuckDB alone reads hour 24 as the next day and year 0 as 1 BC; pandas refuses them
    ("c10", "2026-10-01 24:00:00", "chat", "a10", "f", "1", "2", "3"),
    ("c11", "0000-10-01", "chat", "a11", "t", "1", "2", "3"),
    ("c12", "1500-10-01 10:00", "chat", "a12", "no", "1", "2", "3"),
    ("c13", "2026-10-01 10:00:00.1234567", "chat", "a13", "NO", "1", "2", "3"),
    ("c14", "2026-10-01", "chat", "a14", "no", "-0", "-0.0", "-.0"),     # zero's sign
]


def _csv(rows, header=("id", "date", "channel", "agent", "answered", "wait", "talk", "nps"),
         sep=","):
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


def _same(fast, slow):
    raw_f, df_f, acc_f, rej_f = fast
    raw_s, df_s, acc_s, rej_s = slow
    assert raw_f is not None, "DuckDB should read this file"
    column = next(iter(raw_f.columns.values()))
    assert isinstance(column, rawcols.SqlColumn)
    # the file's text is held in Arrow where pyarrow is installed, else in a DuckDB table
    assert (column.held is not None) == (rawcols.arrow_text() is not None)
    assert list(raw_f.rows) == list(raw_s.rows) and raw_f.read == raw_s.read
    assert raw_f.header == raw_s.header
    assert acc_f.line() == acc_s.line()
    assert rej_f == rej_s
    assert list(df_f.columns) == list(df_s.columns)
    for c in df_s.columns:
        assert df_f[c].dtype == df_s[c].dtype, c
        a, b = df_f[c].to_numpy(), df_s[c].to_numpy()
        if a.dtype.kind in "fM":
            assert np.array_equal(a, b, equal_nan=True), (c, a, b)
            if a.dtype.kind == "f":          # -0.0 == 0.0: the sign compared too
                assert np.array_equal(np.signbit(a), np.signbit(b)), (c, a, b)
        else:
            assert a.tolist() == b.tolist(), c


def test_odd_values_are_read_as_the_python_parsers_read_them(tmp_path):
    fast, slow = _both(tmp_path, _csv(ODD), CONTACTS)
    _same(fast, slow)
    assert fast[3]          # the odd values are reported (the rejects compared above)


def test_formats_and_hours_as_the_python_parsers(tmp_path):
    rows = [("t1", "01/10/2026 08:12", "2.5", "0:01:05"), ("t2", "1/10/2026 08:12", "x", "5"),
            ("t6", "01/10/2026 24:00", "1", "1:00:00"), ("t7", "01/10/0000 10:00", "1", ""),
            ("t3", "31/02/2026 08:12", "1", "0:60:00"), ("t4", "01/10/2026 8:12", "0.25",
                                                         "12:34"),
            ("t5", "", "3", "-0:01:00"), ("t8", "02/10/2026 08:12", "1", "0:01:05.5"),
            ("t9", "02/10/2026 08:12", "1", "100:00:00"), ("t10", "02/10/2026", "1", "x:y:z")]
    text = _csv(rows, header=("id", "created", "aht", "hold"))
    mapping = {"table": "contacts", "columns": {
        "id": "id", "created": {"column": "created", "format": "%d/%m/%Y %H:%M"},
        "talk": {"column": "aht", "unit": "hours"},
        "hold": {"column": "hold", "unit": "hh:mm:ss"},
        "first_response_hours": {"column": "hold", "unit": "hh:mm:ss"}}}
    fast, slow = _both(tmp_path, text, mapping)
    _same(fast, slow)


@pytest.mark.parametrize("text", [
    # a trailing delimiter: the csv module reads a 9th field, DuckDB would drop it
    _csv(ODD[:2]) + "c10,2026-10-01,phone,a,Y,1,1,1,\n",
    _csv(ODD[:2]) + "c11,2026-10-01,phone\n",                       # too few fields
    _csv(ODD[:2]) + "\nc12,2026-10-01,phone,a,Y,1,1,1\n",           # a blank line
    _csv(ODD[:2]) + 'c13,"2026-10-01" ,phone,a,Y,1,1,1\n',          # space after a quote
    _csv(ODD[:2]) + 'c14, "2026-10-01",phone,a,Y,1,1,1\n',          # space before a quote
    _csv(ODD[:2]).encode("utf-8") + b"c15,2026-10-01,ph\xe9ne,a,Y,1,1,1\n",   # not UTF-8
    # a field of U+0001 alone: DuckDB's NULL text (readers._NULL), which it read as blank
    # (the channel used blank, where the csv module's reader names the unknown channel)
    _csv(ODD[:2]) + "c16,2026-10-01,\x01,a,Y,1,1,1\n",
    _csv(ODD[:2]) + 'c17,2026-10-01,"\x01",a,Y,1,1,1\n',
])
def test_files_duckdb_would_read_otherwise_go_to_the_csv_module(tmp_path, text):
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    assert _read_csv_duckdb(parse_source({"name": "s", "path": str(path), **CONTACTS})) is None


def test_blank_rows_quoted_line_breaks_and_title_rows_keep_their_row_numbers(tmp_path):
    text = ('Calls export\r\nOctober 2026\r\n' + _csv(ODD[:3]).replace("\n", "\r\n")
            + ',,,,,,,\r\n"c20","2026-10-03 10:00","chat","line\nbreak","Y","1","2","3"\r\n'
            + " , ,,,,,,\r\nc21,2026-10-03,phone,a,N,1,,\r\n")
    fast, slow = _both(tmp_path, text, {**CONTACTS, "header_row": 3})
    _same(fast, slow)
    assert list(fast[0].rows) == [4, 5, 6, 8, 10]


def test_codes_as_the_python_path_applies_them(tmp_path):
    rows = [("k1", "AGENT", "Social media", "Open"), ("k2", " agent ", "social MEDIA", "open"),
            ("k3", "hang", "E-Mail", "Pending Customer"), ("k4", "HANG\u00a0", "Téléphone", "x"),
            ("k5", "other", "TÉLÉPHONE", ""), ("k6", "", "chat", "Closed "),
            ("k7", "Weird", "e-mail ", "CLOSED"), ("k8", "NONE", "phone", "none")]
    text = _csv(rows, header=("id", "outcome", "source", "status"))
    mapping = {"table": "contacts", "columns": {
        "id": "id", "date": {"value": "2026-10-01"},
        "answered": {"column": "outcome", "codes": {"AGENT": "yes", "HANG": "no",
                                                    " Weird ": "no", "none": ""}},
        "channel": {"column": "source", "codes": {"Social media": "social",
                                                  "E-Mail": "email", "Téléphone": "phone"}},
        "state": {"column": "status", "codes": {"Open": "open", "Pending customer": "pending",
                                                "closed": "closed", "none": "Closed"}}}}
    fast, slow = _both(tmp_path, text, mapping)
    _same(fast, slow)
    assert fast[3]


@pytest.mark.parametrize("kinds", [3, 3000])
def test_a_code_for_a_blank_value_codes_nothing_as_in_the_python_path(tmp_path, kinds):
    """A code whose export value is blank ("" or " ", trimmed) never matches: the Python
    path codes no blank field. SQL coded the empty fields with it (a blank 'answered'
    became "no"), on the SQL path alone: a column of many values (``kinds``) or typing
    by SQL."""
    rows = [(f"k{i}", ["Y", "", "N"][i % 3], f"agent-{i % kinds}" if i % 2 else "",
             ["phone", ""][i % 2]) for i in range(6000)]
    text = _csv(rows, header=("id", "outcome", "agent", "source"))
    mapping = {"table": "contacts", "columns": {
        "id": "id", "date": {"value": "2026-10-01"},
        "answered": {"column": "outcome", "codes": {"": "no", "Y": "yes"}},
        "agent": {"column": "agent", "codes": {" ": "nobody", "agent-1": "a1"}},
        "channel": {"column": "source", "codes": {"": "chat", "PHONE": "phone"}}}}
    fast, slow = _both(tmp_path, text, mapping)
    _same(fast, slow)
    assert np.isnan(slow[1]["answered"].to_numpy()[1])       # the Python path: blank


def test_exclusions_as_the_python_path_applies_them(tmp_path):
    rows = [("1", "AGENT", "0:00:00"), ("2", "HANG", "0:00:00"), ("3", "HANG", "9:01:02"),
            ("4", "PHANTOM", "0:00:00"), ("5", "hang ", " 0:00:00 "), ("6", "Phantom", ""),
            ("7", "HANG\u00a0", "0:00:00"), ("8", "", "0:00:00")]
    text = _csv(rows, header=("id", "outcome", "q_start"))
    mapping = {"table": "contacts", "columns": {
        "id": "id", "date": {"value": "2026-10-01"}, "channel": {"value": "phone"},
        "answered": {"column": "outcome", "codes": {"AGENT": "yes", "HANG": "no"}}},
        "exclude": [
            {"column": "outcome", "values": ["PHANTOM"], "reason": "no caller"},
            {"when": [{"column": "outcome", "values": ["HANG"]},
                      {"column": "q_start", "values": ["0:00:00"]}],
             "reason": "never reached the queue"}]}
    fast, slow = _both(tmp_path, text, mapping)
    _same(fast, slow)
    assert fast[2].excluded == 5


def test_a_large_file_keeps_every_value_in_its_row(tmp_path):
    """Over several of DuckDB's row groups (122,880 rows) and threads, each typed value
    stays in its own row (a 200,000-row flag column once came back with chunks swapped)."""
    import duckdb

    path = tmp_path / "big.csv"
    duckdb.sql(f"""COPY (SELECT 'c' || i AS id,
        TIMESTAMP '2026-10-01' + INTERVAL (i % 2592000) SECOND AS date,
        ['phone', 'email', 'Chat', 'social', 'fax'][1 + (i % 5)] AS channel,
        'agent-' || (i % 500) AS agent,
        CASE WHEN i % 5 = 0 THEN ['Y', 'N', 'yes', 'maybe'][1 + (i // 5) % 4] END AS answered,
        CASE WHEN i % 5 = 0 THEN CASE WHEN i % 997 = 0 THEN 'abc' ELSE (i % 60)::VARCHAR END
             END AS wait,
        CASE WHEN i % 5 = 0 THEN (100 + i % 300)::VARCHAR END AS talk,
        CASE WHEN i % 7 = 0 THEN (i % 12)::VARCHAR END AS nps
        FROM range(300000) t(i)) TO '{path.as_posix()}' (HEADER, DELIMITER ',')""")
    fast, slow = _both(tmp_path, path.read_bytes(), CONTACTS, name="big2.csv")
    _same(fast, slow)
    assert len(fast[3]) > 10_000           # bad values and rows, compared one by one


def test_the_text_in_arrow_is_registered_in_batches_duckdb_scans_in_parallel(tmp_path):
    """Where pyarrow holds the file's text, the table registered in DuckDB as ``raw`` is
    in record batches of at most ``kpi_xl.frames.BATCH_ROWS`` rows: DuckDB scans a
    registered Arrow table in parallel only over its batches, and its own result comes in batches of a
    million rows (one thread for every typing query of a 1 M-row export). Without
    pyarrow the text is a DuckDB table, as before."""
    import duckdb

    path = tmp_path / "big.csv"
    duckdb.sql(f"""COPY (SELECT 'c' || i AS id, TIMESTAMP '2026-10-01' + INTERVAL (i) SECOND
        AS date, 'phone' AS channel, 'a' AS agent, 'Y' AS answered, '1' AS wait, '2' AS talk,
        '3' AS nps FROM range(300000) t(i)) TO '{path.as_posix()}' (HEADER, DELIMITER ',')""")
    raw = _read_csv_duckdb(parse_source({"name": "s", "path": str(path), **CONTACTS}))
    column = raw.columns["id"]
    if rawcols.arrow_text() is None:
        assert column.held is None
        assert column.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                                  "'raw'").fetchone() == (1,)
        return
    table = column.held[0]
    sizes = [b.num_rows for b in table.to_batches()]
    assert sum(sizes) == 300_000 and max(sizes) <= frames.BATCH_ROWS and len(sizes) >= 3
    # each column of a batch is one piece (the text and ``_i`` sliced alike)
    assert all(len(table.column(c).chunks) == len(sizes) for c in table.column_names)
    # the table DuckDB reads as ``raw`` is this one: the same rows, positions in order
    assert column.con.execute("SELECT count(*), min(_i), max(_i) FROM raw").fetchone() == (
        300_000, 0, 299_999)
    column.close()


def test_values_typed_across_batches_as_the_python_parsers(tmp_path, monkeypatch):
    """Typed over many small batches (rows of blank fields dropped between them), every
    value is what the Python path gives, in its row."""
    monkeypatch.setattr(frames, "BATCH_ROWS", 3)
    text = (_csv(ODD[:5]) + ",,,,,,,\n" + _csv(ODD[5:], header=()).lstrip("\n")
            + " , ,,,,,,\n" + _csv(ODD, header=()).lstrip("\n"))
    fast, slow = _both(tmp_path, text, CONTACTS)
    _same(fast, slow)
    assert len(fast[0].rows) == 2 * len(ODD)


def test_the_whitespace_class_is_what_strip_removes():
    import re
    import sys

    listed = {chr(int(h, 16)) for h in re.findall(r"\\x\{([0-9a-f]+)\}", rawcols.WHITESPACE)}
    assert listed == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


def test_repeated_values_are_parsed_once_each(tmp_path, typing, monkeypatch):
    """Typing by distinct value: the parser reads each distinct value once, and every
    row gets its value's result (codes applied, bad values reported on each row)."""
    import kpi_xl.data.convert as convert_module

    seen: list[int] = []
    real = convert_module.parse_flag

    def counting(values, m):
        seen.append(len(values))
        return real(values, m)

    monkeypatch.setattr(convert_module, "parse_flag", counting)
    rows = [(f"c{i}", "2026-10-01", "phone", "a", ["Y", "n", " yes", "maybe", "", "AGENT"][i % 6],
             "1", "2", "3") for i in range(600)]
    mapping = {**CONTACTS, "columns": {**CONTACTS["columns"], "answered": {
        "column": "answered", "codes": {"agent": "yes"}}}}
    fast, slow = _both(tmp_path, _csv(rows), mapping)
    _same(fast, slow)
    if typing == "distinct":
        assert seen[0] == 6                   # the DuckDB path: six distinct values
    assert sum(1 for r in fast[3] if r[1] == "answered") == 100     # each 'maybe' row


def test_a_column_of_distinct_values_is_left_to_the_sql_path(tmp_path):
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'v' || (i % 50) AS few, 'id' || i AS many "
                "FROM range(5000) r(i)")
    few = rawcols.SqlColumn(con, "t", "few", 5000).distinct(1000)
    assert few is not None and len(few[0]) == 50
    assert [few[0][k] for k in few[1][:3]] == ["v0", "v1", "v2"]
    assert rawcols.SqlColumn(con, "t", "many", 5000).distinct(1000) is None
    assert rawcols.SqlColumn(con, "t", "few", 5000).distinct(49) is None


def test_a_duckdb_table_column_is_encoded_as_pandas_factorizes_it():
    """Without pyarrow the file's text is a DuckDB table, and DuckDB encodes a column by
    its distinct values (no row's text fetched as a Python string): the distinct values
    in the order they first appear and every row's place, as ``pandas.factorize`` gives
    them over the fetched text, blanks and NULLs alike ''. 300,000 rows over 4 threads:
    the join comes back out of the table's order, and the places must not."""
    import duckdb
    import pandas as pd

    text = ["b", "B", " b", "b ", "", None, "é", "e\u0301", "a\tb", "ß", "SS", "0", "00"]
    n = 300_000
    rng = np.random.default_rng(7)
    picks = rng.integers(0, len(text), n)
    picks[:3] = [12, 5, 0]                     # '00', NULL, 'b' come first
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute("CREATE TABLE t (v VARCHAR)")
    con.execute("INSERT INTO t SELECT unnest($1::VARCHAR[])", [[text[k] for k in picks]])
    want_places, want = pd.factorize(np.array(
        ["" if text[k] is None else text[k] for k in picks], dtype=object))
    uniq, places = rawcols.SqlColumn(con, "t", "v", n).distinct(50)
    assert uniq == list(want) and uniq[:3] == ["00", "", "b"]
    assert places.dtype == np.intp and places.tolist() == want_places.tolist()
    assert rawcols.SqlColumn(con, "t", "v", n).distinct(11) is None    # 12 distinct


def test_a_column_in_batches_is_encoded_as_the_whole_column():
    """Typing by distinct value encodes the text batch by batch (no copy of the column
    into one piece): the same distinct values, in the order they first appear, and the
    same place for every row as encoding the whole column at once."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.compute as pc

    values = [["b", "a", "", "b"], ["c", "a"], [], ["d", "", "c", "e", "b"], ["a"]]
    column = pa.chunked_array(values, type=pa.string())
    whole = pc.dictionary_encode(column.combine_chunks())
    got, places = rawcols._dictionary_encoded(column)
    assert got.to_pylist() == whole.dictionary.to_pylist() == ["b", "a", "", "c", "d", "e"]
    assert places.tolist() == whole.indices.to_numpy().tolist()
    empty = rawcols._dictionary_encoded(pa.chunked_array([], type=pa.string()))
    assert empty[0].to_pylist() == [] and len(empty[1]) == 0
