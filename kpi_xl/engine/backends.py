"""Where the engine's SQL runs: an executor per backend.

The engine renders every statement in the backend's dialect (:mod:`kpi_xl.render.sql`)
and hands it to a :class:`Backend`, which runs it where the data is and brings back only
the answer (wide aggregates: one row per period × level × member). Three backends:

* :class:`DuckDBBackend`, the default: an embedded DuckDB in this process (pandas tables
  and Parquet files are read in place).
* :class:`PostgresBackend`: a PostgreSQL server through psycopg 3 (``pip install
  'kpi-xl[postgres]'``). Tables kpi_xl loaded from files are copied into TEMPORARY tables
  of the session (nothing is written to the database); a source given as a relation
  (``support.contacts``) is read where it is.
* :class:`SparkBackend`: any ``SparkSession`` (local, a cluster, Databricks Connect;
  ``pip install 'kpi-xl[spark]'``, Java needed for a local one). Tables become temporary
  views; a relation is read where it is.

Each backend names its sources ``in_<table>``; the engine puts the views ``src_<table>``
it queries on top (:meth:`Backend.view`), with BOOLEAN columns read as 1.0/0.0 so that a
warehouse's BOOLEAN flag and a file's 0/1 flag give the same rows (the catalog compares
flags with 1). Every view is TEMPORARY: nothing outlives the session.

A backend is a small protocol (``load``, ``relation``, ``columns``, ``execute``,
``query``, ``close``); another warehouse whose SQL the renderer's dialects cover can be
added the same way.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..data.sources import RELATION_NAME
from ..errors import KpiXlError
from ..render.sql import DIALECTS, Dialect, quote_text

#: the kinds of column the engine tells apart (the rest is 'other'): FLOAT is a binary
#: floating-point number, NUMBER any other (integers, decimals)
BOOLEAN, FLOAT, NUMBER, TEXT, TIME = "boolean", "float", "number", "text", "time"


class BackendError(KpiXlError, RuntimeError):
    """A backend cannot be reached or refuses a statement: one sentence for a manager
    (the command line prints it and exits with code 1)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str          # BOOLEAN, FLOAT, NUMBER, TEXT, TIME or 'other'


class Backend:
    """What the engine needs from a place that runs SQL."""
    name = "?"
    dialect: Dialect = DIALECTS["duckdb"]
    #: where the rows are, in words (``kpi-xl validate`` prints it)
    where = ""

    def load(self, name: str, data: Any) -> None:           # pragma: no cover - protocol
        """A pandas DataFrame (or a Parquet path) as the relation ``name``."""
        raise NotImplementedError

    def relation(self, name: str, relation: str) -> None:
        """A table or view already in the backend (``schema.table``) as ``name``."""
        self.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT * FROM "
                     f"{relation_name(relation)}")

    def columns(self, name: str) -> list[Column]:            # pragma: no cover - protocol
        raise NotImplementedError

    def execute(self, sql: str) -> None:                     # pragma: no cover - protocol
        raise NotImplementedError

    def query(self, sql: str):                               # pragma: no cover - protocol
        """The answer of ``sql`` as a pandas DataFrame (NULL as NaN / None)."""
        raise NotImplementedError

    def temp_view(self, name: str, sql: str) -> None:
        self.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    def close(self) -> None:
        pass


#: a relation's name (kpi_xl.data.sources: the config checks it too)
_RELATION = RELATION_NAME


def relation_name(text: str) -> str:
    """``text`` when it is a relation's name (``support.contacts``), else a sentence: a
    relation is spliced into SQL, so nothing but a name gets through."""
    if not isinstance(text, str) or not _RELATION.match(text.strip()):
        raise BackendError(f"{text!r} is not a table or view name (schema.table, e.g. "
                           "support.contacts)")
    return text.strip()


def view_sql(source: str, cols: list[Column], dialect: Dialect, every: bool = True) -> str:
    """The SELECT of a source's view: its columns ``cols``, BOOLEAN ones as 1.0/0.0
    (DOUBLE, so flag tests such as ``answered = 1.0`` read BOOLEAN and 0/1 columns alike;
    ``every``: ``cols`` are all of the source's; else the SELECT names them)."""
    if every and not any(c.kind == BOOLEAN for c in cols):
        return f"SELECT * FROM {source}"
    d = dialect
    sel = ", ".join(f"CASE WHEN {d.ident(c.name)} THEN 1.0 WHEN NOT {d.ident(c.name)} THEN 0.0 "
                    f"END AS {d.ident(c.name)}" if c.kind == BOOLEAN else d.ident(c.name)
                    for c in cols)
    return f"SELECT {sel} FROM {source}"


def number_text(text):
    """A number's text as every backend reports it: the shortest text that reads back as
    the same double, whole numbers with '.0' (Python's ``repr``, which is also DuckDB's
    ``CAST(x AS VARCHAR)``): PostgreSQL writes ``-2`` and Spark ``-1.0E20`` where DuckDB
    writes ``-2.0`` and ``-1e+20``. Text that is not a number is returned unchanged."""
    if not isinstance(text, str):
        return text
    try:
        x = float(text)
    except ValueError:
        return text
    return repr(x)


def same_number_text(frame, kinds, value: str = "value", column: str = "column"):
    """``frame`` (rule breaks: ``column`` names a source column, ``value`` its text) with
    the text of floating-point columns' values written as :func:`number_text` says
    (integers read the same everywhere already)."""
    if frame is None or not len(frame) or value not in frame or column not in frame:
        return frame
    numeric = frame[column].map(lambda c: kinds.get(c) == FLOAT).to_numpy(dtype=bool)
    if numeric.any():
        frame = frame.copy()
        vals = frame[value].astype(object).to_numpy()
        frame[value] = [number_text(v) if n else v for v, n in zip(vals, numeric, strict=True)]
    return frame


#: canonical column types (kpi_xl.data.schema) -> the pandas type an all-blank column takes
_BLANK_AS = {"date": "datetime64[us]", "timestamp": "datetime64[us]", "number": "float64",
             "flag": "float64", "hours": "float64", "seconds": "float64", "score": "float64"}


def typed_blanks(table: str, frame):
    """``frame`` with each column that holds no value at all (pandas keeps it as an
    untyped ``object`` column) given the type the canonical schema declares for it: a
    roster's blank ``left`` is a date on every backend (PostgreSQL refuses ``text >=
    date``; DuckDB guessed INTEGER)."""
    from ..data.schema import TABLES

    schema = TABLES.get(table)
    if schema is None or isinstance(frame, (str, os.PathLike)):
        return frame
    names = {c.name: c.type for c in schema.columns}
    fix = [c for c in frame.columns if frame[c].dtype == object and names.get(c) in _BLANK_AS
           and frame[c].isna().all()]
    if not fix:
        return frame
    return frame.astype({c: _BLANK_AS[names[c]] for c in fix})


# --------------------------------------------------------------------------- DuckDB
class DuckDBBackend(Backend):
    """The embedded default: DuckDB in this process."""
    name = "duckdb"
    dialect = DIALECTS["duckdb"]
    where = "embedded DuckDB, in this process"

    def __init__(self, con=None, threads: int | None = None):
        import duckdb

        self.con = con if con is not None else duckdb.connect()
        #: the tables and Arrow tables behind each source loaded as text and the rest
        self._held: dict[str, list[str]] = {}
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def load(self, name: str, data: Any) -> None:
        self._forget(name)
        if isinstance(data, (str, os.PathLike)):
            self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT * FROM "
                             f"read_parquet({quote_text(os.fspath(data))})")
        else:
            from ..frames import for_duckdb, is_text

            arrow = for_duckdb(data)
            if isinstance(arrow, type(data)):  # no Arrow text: the frame, registered
                # (not "has a schema": a frame's column named schema is an attribute)
                self.con.register(name, arrow)
                return
            # A frame with Arrow text. DuckDB converts Arrow text at every scan of a
            # registered table, and the queries scan each source several times (views,
            # survey answers, one query per table), so the text columns are copied once
            # into DuckDB (1 M contacts, queries 2.4-3.7 -> 1.3-1.4 s CPU); the other
            # columns (numbers, times, flags) are read where they are, from the frame's
            # own buffers (:meth:`_text_and_rest`): a copy would hold them twice (2 M
            # contacts: peak 1,272 -> 930 MB, bench/README.md). A frame of
            # Python-object text stays registered (above): copying it cost more (11.6 ->
            # 14.4 s, 792 -> 992 MB) than the scans, which read only the columns a query
            # needs. Every column is copied where the two sides could not be joined row
            # by row: on a connection that does not keep insertion order (the text table
            # would not be in the frame's order), and where DuckDB cannot tell the
            # frame's column names apart (the view names them again; names are
            # case-insensitive: of ``Wait`` and ``wait`` it would read ``Wait`` twice,
            # where registered they are ``Wait`` and ``wait_1``; a zero-length name
            # cannot be written).
            names = arrow.column_names
            text = [c for c, t in zip(names, arrow.schema.types, strict=True) if is_text(t)]
            rest = [c for c in names if c not in text]
            ordered = self.con.execute(
                "SELECT current_setting('preserve_insertion_order')").fetchone()[0]
            if not ordered or len({c.lower() for c in names}) < len(names) or "" in names:
                text, rest = names, []
            if not text:
                self.con.register(name, arrow)
            elif not rest:
                self._copy(name, arrow)
            else:
                self._text_and_rest(name, arrow, text, rest)

    def _copy(self, name: str, arrow) -> None:
        """The Arrow table ``arrow`` copied into the temporary DuckDB table ``name``."""
        frame = f"{name}__frame"
        self.con.register(frame, arrow)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS "
                             f"SELECT * FROM {frame}")
        finally:
            self.con.unregister(frame)

    def _text_and_rest(self, name: str, arrow, text: list[str], rest: list[str]) -> None:
        """``name``: the view of the Arrow table ``arrow``, its columns ``text`` copied
        into DuckDB and the others (``rest``) read where they are, joined row by row. A
        POSITIONAL JOIN runs on one thread, so the rows are cut into as many parts as
        DuckDB has threads (contiguous, of a batch at least), each part's join read by
        one, UNION ALL (2 M contacts, 2 threads: as one join, the queries took about
        twice the wall time they take on a copy). The view reads the frame's buffers as
        they are when queried: the frame must not change while the engine holds it (the
        loader's do not)."""
        from ..frames import BATCH_ROWS

        threads = int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])
        n = arrow.num_rows
        parts = max(1, min(threads, -(-n // BATCH_ROWS)))
        step = -(-n // parts)
        cols = ", ".join(self.dialect.ident(c) for c in arrow.column_names)
        selects, held = [], []
        for j in range(parts):
            part = arrow.slice(j * step, step) if parts > 1 else arrow
            words, other = f"{name}__text{j}", f"{name}__other{j}"
            held += [words, other]
            self._held[name] = held           # so far: what a failed load made is dropped
            self._copy(words, part.select(text))
            self.con.register(other, part.select(rest))
            selects.append(f"SELECT {cols} FROM {words} POSITIONAL JOIN {other}")
        self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS "
                         + " UNION ALL ".join(selects))

    def _forget(self, name: str) -> None:
        """What ``name`` held, dropped (a frame or Arrow table registered, a temporary
        table or view, and the parts of a frame's text and other columns): a source loaded
        again under its name replaces it, whichever of them each is."""
        for held in (name, *self._held.pop(name, ())):
            self.con.unregister(held)          # a registered frame (drops nothing else)
            kinds = self.con.execute(
                "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = $n "
                "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND "
                "view_name = $n", {"n": held}).fetchall()
            for (kind,) in kinds:
                self.con.execute(f"DROP {kind} {held}")

    def columns(self, name: str) -> list[Column]:
        return [Column(r[0], _duck_kind(r[1]))
                for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str):
        return self.con.execute(sql).df()

    def close(self) -> None:
        self.con.close()


def _duck_kind(t: str) -> str:
    t = t.upper()
    if t == "BOOLEAN":
        return BOOLEAN
    if t.startswith(("TIMESTAMP", "DATE")):
        return TIME
    if t in ("VARCHAR", "TEXT") or t.startswith("VARCHAR"):
        return TEXT
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return FLOAT
    if t.startswith(("DECIMAL", "BIGINT", "INTEGER", "SMALLINT",
                     "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")):
        return NUMBER
    return "other"


# --------------------------------------------------------------------------- PostgreSQL
class PostgresBackend(Backend):
    """A PostgreSQL server (psycopg 3). ``url``: a libpq connection string or URL
    (``postgresql://user@host:5432/db``); kpi_xl reads it from an environment variable,
    never from the config file. Or an open psycopg connection (``connection``)."""
    name = "postgres"
    dialect = DIALECTS["postgres"]

    def __init__(self, url: str | None = None, connection=None):
        try:
            import psycopg
        except ImportError:
            raise BackendError("the PostgreSQL backend needs psycopg: pip install "
                               "'kpi-xl[postgres]'") from None
        self._psycopg = psycopg
        if connection is None:
            try:
                connection = psycopg.connect(url or "", autocommit=True)
            except psycopg.Error as e:
                raise BackendError(f"cannot connect to PostgreSQL: {_first_line(e)}") from None
        self.conn = connection
        info = self.conn.info
        self.where = f"PostgreSQL {info.server_version // 10000} at {info.host}:{info.port}/{info.dbname}"

    def load(self, name: str, data: Any) -> None:
        import pandas as pd

        if isinstance(data, (str, os.PathLike)):
            data = pd.read_parquet(data)
        d = self.dialect
        types = {c: _pg_type(data[c]) for c in data.columns}
        cols = ", ".join(f"{d.ident(c)} {t}" for c, t in types.items())
        self._drop_temp(name)
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE TEMPORARY TABLE {name} ({cols})")
            names = ", ".join(d.ident(c) for c in data.columns)
            with cur.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                for row in _rows(data):
                    copy.write_row(row)
            cur.execute(f"ANALYZE {name}")

    def _drop_temp(self, name: str) -> None:
        """Drop the session's temporary table or view ``name`` (and the temporary views
        over it), if any: PostgreSQL has no CREATE OR REPLACE for a view whose columns
        change. Only the session's own temporary schema is touched."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT relkind FROM pg_class WHERE relnamespace = "
                        "pg_my_temp_schema() AND relname = %s", (name,))
            row = cur.fetchone()
            if row:
                kind = "VIEW" if row[0] == "v" else "TABLE"
                cur.execute(f"DROP {kind} pg_temp.{name} CASCADE")

    def relation(self, name: str, relation: str) -> None:
        self._drop_temp(name)
        self.execute(f"CREATE TEMPORARY VIEW {name} AS SELECT * FROM {relation_name(relation)}")

    def temp_view(self, name: str, sql: str) -> None:
        self._drop_temp(name)
        self.execute(f"CREATE TEMPORARY VIEW {name} AS {sql}")

    def columns(self, name: str) -> list[Column]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {name} LIMIT 0")
                out = []
                for c in cur.description:
                    tname = self.conn.adapters.types.get(c.type_code)
                    out.append(Column(c.name, _pg_kind(tname.name if tname else "")))
                return out
        except self._psycopg.Error as e:
            raise BackendError(f"PostgreSQL cannot read {name}: {_first_line(e)}") from e

    def execute(self, sql: str) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except self._psycopg.Error as e:
            raise BackendError(f"PostgreSQL refused a statement: {_first_line(e)}") from e

    def query(self, sql: str):
        import pandas as pd

        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                names = [c.name for c in cur.description]
                rows = cur.fetchall()
        except self._psycopg.Error as e:
            raise BackendError(f"PostgreSQL refused a statement: {_first_line(e)}") from e
        return _frame(pd, rows, names)

    def close(self) -> None:
        self.conn.close()


def _pg_type(s) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(s):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(s):
        return "BIGINT"
    if pd.api.types.is_float_dtype(s):
        return "DOUBLE PRECISION"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "TIMESTAMP"
    return "TEXT"


def _pg_kind(t: str) -> str:
    if t == "bool":
        return BOOLEAN
    if t in ("float4", "float8"):
        return FLOAT
    if t in ("int2", "int4", "int8", "numeric"):
        return NUMBER
    if t in ("text", "varchar", "bpchar", "name"):
        return TEXT
    if t in ("timestamp", "timestamptz", "date"):
        return TIME
    return "other"


def _rows(frame):
    """The rows of a DataFrame as Python values, NULL for NaN / NaT / <NA>."""
    import pandas as pd

    cols = []
    for c in frame.columns:
        s = frame[c]
        mask = s.isna().to_numpy()
        if pd.api.types.is_datetime64_any_dtype(s):
            vals = list(s.dt.to_pydatetime())
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s) \
                or pd.api.types.is_float_dtype(s):
            vals = s.to_numpy(dtype=object, na_value=None).tolist() \
                if hasattr(s, "array") else list(s)
        else:
            vals = [str(v) for v in s.astype(object)]
        cols.append([None if m else v for v, m in zip(vals, mask, strict=True)])
    return zip(*cols, strict=True) if cols else iter(())


def _frame(pd, rows, names):
    """A DataFrame of fetched rows, numbers as float (NUMERIC arrives as Decimal)."""
    import decimal

    frame = pd.DataFrame.from_records(rows, columns=names)
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object and any(isinstance(v, decimal.Decimal) for v in col):
            frame[c] = [float(v) if v is not None else float("nan") for v in col]
    return frame


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# --------------------------------------------------------------------------- Spark
#: see :meth:`SparkBackend._planning`
CONSTRAINT_PROPAGATION = "spark.sql.constraintPropagation.enabled"


class SparkBackend(Backend):
    """A SparkSession: the one given, or a local one (``local[*]``, UTC session time
    zone) built on first use. Tables kpi_xl loaded become temporary views; relations
    are read where they are."""
    name = "spark"
    dialect = DIALECTS["spark"]

    def __init__(self, session=None, master: str | None = None):
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise BackendError("the Spark backend needs pyspark (and Java for a local "
                               "session): pip install 'kpi-xl[spark]'") from None
        self.spark = session if session is not None else local_spark(master)
        self.where = f"Spark {self.spark.version} ({self.spark.sparkContext.master})" \
            if hasattr(self.spark, "sparkContext") else f"Spark {self.spark.version}"

    def load(self, name: str, data: Any) -> None:
        import pyarrow as pa

        if isinstance(data, (str, os.PathLike)):
            df = self.spark.read.parquet(os.fspath(data))
        else:
            # through Arrow: pandas NaN / NaT / <NA> become NULL (a float NaN handed to
            # Spark row by row stays NaN, which IS NOT NULL)
            df = self.spark.createDataFrame(pa.Table.from_pandas(_arrow_ready(data),
                                                                 preserve_index=False))
        df.createOrReplaceTempView(name)

    def columns(self, name: str) -> list[Column]:
        from pyspark.errors import PySparkException

        try:
            fields = self.spark.table(name).schema.fields
        except PySparkException as e:
            raise BackendError(f"Spark cannot read {name}: {_first_line(e)}") from e
        return [Column(f.name, _spark_kind(f.dataType.typeName())) for f in fields]

    def execute(self, sql: str) -> None:
        with self._planning():
            self._run(sql)

    def query(self, sql: str):
        with self._planning():
            return self._run(sql).toPandas()

    @contextlib.contextmanager
    def _planning(self):
        """Catalyst's constraint propagation off while a statement of kpi_xl's is planned
        and run, and the session's own setting back afterwards (the session may be the
        user's: a notebook's, from ``getOrCreate``). Over the list of rule breaks a
        relation's rows make (:func:`kpi_xl.checks.sql.scan_sql`: a flag per rule, then
        the rows where any holds) it grows with every flag, and planned a 16,000-row
        table for over 40 minutes without running a task. The results do not depend on
        it: it only infers extra filters. A session that does not let it be set (Databricks
        serverless takes a short list of settings) runs the statement as it plans it."""
        from pyspark.errors import PySparkException

        conf = self.spark.conf
        try:
            before = conf.get(CONSTRAINT_PROPAGATION)
            conf.set(CONSTRAINT_PROPAGATION, "false")
        except PySparkException:
            yield
            return
        try:
            yield
        finally:
            conf.set(CONSTRAINT_PROPAGATION, before)

    def _run(self, sql: str):
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(sql)
        except PySparkException as e:
            raise BackendError(f"Spark refused a statement: {_first_line(e)}") from e


def local_spark(master: str | None = None):
    """A local SparkSession for kpi_xl: UTC, Arrow transfers, few shuffle partitions
    (the answers are small), no UI."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(master or "local[*]").appName("kpi_xl")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")     # the run prints its own lines
    return spark


def _arrow_ready(frame):
    """Text columns as object (None for missing), datetimes in microseconds."""
    import pandas as pd

    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.astype("datetime64[us]")
        elif pd.api.types.is_string_dtype(s) or s.dtype == object or \
                isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = pd.Series([None if v is None or (isinstance(v, float) and v != v)
                                or v is pd.NA else str(v) for v in s.astype(object)],
                               dtype=object, index=s.index)
        else:
            out[c] = s
    return pd.DataFrame(out)


def _spark_kind(t: str) -> str:
    if t == "boolean":
        return BOOLEAN
    if t in ("float", "double"):
        return FLOAT
    if t in ("byte", "short", "integer", "long") or t.startswith("decimal"):
        return NUMBER
    if t in ("string", "varchar", "char"):
        return TEXT
    if t in ("timestamp", "timestamp_ntz", "date"):
        return TIME
    return "other"


# --------------------------------------------------------------------------- choosing
BACKENDS = ("duckdb", "postgres", "spark")


def connect(backend: str = "duckdb", *, url: str | None = None, session=None,
            threads: int | None = None, environ: Mapping[str, str] | None = None,
            url_env: str | None = None) -> Backend:
    """The backend named ``backend``. PostgreSQL's connection comes from ``url`` or from
    the environment variable ``url_env`` (secrets never sit in the config file); Spark
    uses ``session`` or builds a local one (``url`` as its master, e.g. ``local[2]``)."""
    env = os.environ if environ is None else environ
    if url is None and url_env:
        url = env.get(url_env)
        if not url:
            raise BackendError(f"[engine] url_env: the environment variable {url_env} is not "
                               f"set (it holds the {backend} connection, e.g. "
                               "postgresql://user@host:5432/db)")
    if backend == "duckdb":
        return DuckDBBackend(threads=threads)
    if backend == "postgres":
        return PostgresBackend(url)
    if backend == "spark":
        return SparkBackend(session, master=url)
    raise BackendError(f"[engine] backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


__all__ = ["BACKENDS", "Backend", "BackendError", "Column", "DuckDBBackend", "PostgresBackend",
           "SparkBackend", "connect", "local_spark", "number_text", "same_number_text"]
