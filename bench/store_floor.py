"""A prototype of issue 14 §1's structural change, to measure where it lands (not the product).

``bench_compute.py --floor`` runs it as the side ``floor``: the canonical contacts table
made by DuckDB in one SQL pass from the file, and the engine reading that table where it
is (``Engine(relations=...)``, as for sources read in place), with nothing in pandas.

What it does, for ``bench_load.py``'s 19-column export only:

* ``read_csv`` of the file as text, each column typed by the loader's own SQL fast path
  (:mod:`kpi_xl.data.rawcols`: the same shape tests and casts ``kpi-xl compute`` runs), and
  a bit per column for the values that SQL leaves to the Python parsers (none in this file);
* in the same statement the loader's derived columns for contacts (response and resolution
  hours in calendar time, handled, response seconds, the month) and its rules that blank a
  value (a solved time before the created time, handle times of an abandoned call), and
  the reason a row is rejected (no date, an unknown channel, a call without its answered
  flag), kept in the table as ``_reject``;
* a duplicate-id count, and the engine over the month and the 12 before it.

What it leaves out, and the real change would add: the Python parsers for the values SQL
leaves (a second read of those rows), the rejects report and the accounting counts, the
catalog's input rules, the guards. So it is a floor for the change *as designed*, with the
loader's typing SQL; a cheaper typing pass (DuckDB's typed reader is ~2 s of CPU per
million rows cheaper, but not exact: bench/README.md) would go below it. Its rules are the
loader's for this file's columns only; ``side_floor`` refuses a file with values for the
Python parsers or duplicate ids rather than give other figures. ``store``: ``memory`` (an in-memory
database) or ``file`` (a database file in the output folder with a memory limit, so that
DuckDB's buffer manager keeps memory flat and writes the table out).
"""

from __future__ import annotations

from pathlib import Path

#: bench_load.py's columns, by the loader's parser kind (and whether text is lowered)
COLUMNS = {"id": ("text", False), "agent": ("text", False), "team": ("text", False),
           "channel": ("text", True), "state": ("text", True),
           "date": ("timestamp",), "created": ("timestamp",),
           "first_reply_at": ("timestamp",), "solved_at": ("timestamp",),
           "answered": ("flag",), "resolved": ("flag",), "transferred": ("flag",),
           "wait": ("number",), "talk": ("number",), "hold": ("number",),
           "acw": ("number",), "nps": ("number",), "csat": ("number",)}
MEMORY_LIMIT = "300MB"


class _Col:
    """What :mod:`kpi_xl.data.rawcols`' SQL builders read of a column."""

    def __init__(self, name: str):
        from kpi_xl.data.rawcols import quote

        self.ref = quote(name)


def typed_sql(path: Path, channels=("phone", "email", "chat", "social")) -> str:
    from kpi_xl.data import rawcols
    from kpi_xl.data.convert import NO, YES
    from kpi_xl.data.rawcols import literal

    flags = {**{k: 1.0 for k in YES}, **{k: 0.0 for k in NO}}
    typed, leftover = [], []
    for k, (name, kind) in enumerate(COLUMNS.items()):
        c = _Col(name)
        if kind[0] == "text":
            simple, value = rawcols.text(c, kind[1])
        elif kind[0] == "timestamp":
            simple, value = rawcols.timestamp(c, None)
        elif kind[0] == "flag":
            simple, value = rawcols.codes(c, flags)
        else:
            simple, value = rawcols.number(c)
        blank = f"({c.ref} IS NULL OR {c.ref} = '')"
        typed.append(f"CASE WHEN {blank} THEN NULL WHEN {simple} THEN {value} END AS {c.ref}")
        leftover.append(f"CASE WHEN NOT {blank} AND NOT coalesce({simple}, false) "
                        f"THEN {1 << k} ELSE 0 END")
    known = ", ".join(literal(c) for c in channels)
    # the loader's timestamp-order rules, in its order (derive.finish_source): a first
    # reply before the created time, then a solved time before the created time or before
    # the first reply left (each left out)
    reply = "CASE WHEN first_reply_at < created THEN NULL ELSE first_reply_at END"
    solved = (f"CASE WHEN solved_at < created OR solved_at < ({reply}) THEN NULL "
              "ELSE solved_at END")
    return f"""SELECT id, date, channel, agent, team, state, created, {reply} AS first_reply_at,
  {solved} AS solved_at, answered, resolved, transferred, wait,
  CASE WHEN answered = 0 THEN NULL ELSE talk END AS talk,
  CASE WHEN answered = 0 THEN NULL ELSE hold END AS hold,
  CASE WHEN answered = 0 THEN NULL ELSE acw END AS acw, nps, csat,
  date_diff('microsecond', created, {reply}) / 3.6e9 AS first_response_hours,
  date_diff('microsecond', created, {solved}) / 3.6e9 AS resolution_hours,
  CASE WHEN answered IS NULL AND channel IS DISTINCT FROM 'phone' THEN 1.0
       ELSE answered END AS handled,
  CASE WHEN answered = 1 THEN wait WHEN answered IS NULL THEN
       date_diff('microsecond', created, {reply}) / 1e6 END AS response_seconds,
  strftime(date, '%Y-%m') AS period, _py,
  CASE WHEN date IS NULL THEN 'no date' WHEN channel NOT IN ({known}) THEN 'channel'
       WHEN channel = 'phone' AND answered IS NULL THEN 'answered' END AS _reject
FROM (SELECT {', '.join(typed)}, {' + '.join(leftover)} AS _py
      FROM read_csv({literal(path.as_posix())}, all_varchar = true, header = true))"""


def side_floor(path: Path, out: Path, month: str, store: str = "memory") -> dict:
    import duckdb

    from kpi_xl.engine.backends import DuckDBBackend
    from kpi_xl.engine.engine import Engine

    out.mkdir(parents=True, exist_ok=True)
    if store == "file":
        con = duckdb.connect(str(out / "store.duckdb"), config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": str(out / "spill")})
    else:
        con = duckdb.connect()
    con.execute(f"CREATE TABLE contacts AS {typed_sql(path)}")
    con.execute("CREATE VIEW used AS SELECT * FROM contacts WHERE _reject IS NULL")
    left, dups = con.execute("SELECT count(*) FILTER (_py <> 0), count(id) - count(DISTINCT id) "
                             "FROM used").fetchone()
    if left or dups:
        raise SystemExit(f"the floor prototype takes clean files only: {left} values for "
                         f"the Python parsers, {dups} duplicate ids")
    engine = Engine({}, backend=DuckDBBackend(con), relations={"contacts": "used"})
    res = engine.compute(month)
    res.write_csv(out / "kpi-results.csv")
    t = res.table
    org = t[(t["level"] == "organisation") & (t["period"] == month) & t["value"].notna()]
    sample = {str(k): float(v) for k, v in zip(org["kpi"], org["value"])}
    con.close()
    return {"rows_out": len(t), "sample": sample}
