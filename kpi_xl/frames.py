"""pandas DataFrames as DuckDB reads them fastest, and rows dropped without a second table.

With pyarrow installed, pandas 3 keeps text columns as Arrow arrays (``str`` dtype). DuckDB
scans a registered pandas frame column by column through numpy, so every scan of such a
frame turns each Arrow text column into a numpy array of Python strings again (pandas'
``ArrowExtensionArray.to_numpy``): the engine reads its sources several times (views,
survey answers, one query per table), and on 1 M contacts these conversions were about
10 s of a 37 s ``kpi-xl compute`` (cProfile, bench/README.md "kpi-xl compute end to end").
Given the same frame as a pyarrow Table instead, DuckDB scans the Arrow buffers in place:
``pyarrow.Table.from_pandas`` takes pandas' Arrow text columns without a copy and numeric
columns from their numpy buffers (NaN becomes NULL, as DuckDB reads NaN in a pandas frame).

The table comes in record batches of :data:`BATCH_ROWS` rows: DuckDB's scan of a
registered Arrow table reads one batch per thread, so a table of one 2 M-row chunk was
read on one thread.

Without pyarrow (or for a frame with no Arrow-backed column) the frame is given as it is
(a copy where its rows are held in reverse, or its nullable columns' blanks with a step,
which DuckDB cannot scan as they are: :func:`readable`).

:func:`keep_rows` drops rows from a frame column by column, so that a few rejected rows
never hold the table twice.

The engine, which scans its sources several times, copies a frame's text columns into
DuckDB and reads its other columns where they are (:class:`kpi_xl.engine.backends.
DuckDBBackend`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def has_arrow_columns(frame) -> bool:
    """Some column of ``frame`` is held as Arrow arrays (pandas' pyarrow storage)."""
    for dtype in getattr(frame, "dtypes", ()):
        if getattr(dtype, "storage", None) == "pyarrow" or type(dtype).__name__ == "ArrowDtype":
            return True
    return False


def for_duckdb(frame) -> Any:
    """What to ``register`` with DuckDB for ``frame``: a pyarrow Table of the same columns
    when the frame holds Arrow-backed columns (in batches of :data:`BATCH_ROWS` rows),
    else the frame. A frame that pyarrow cannot take as it is (an object column mixing
    numbers and text) stays a frame: DuckDB reads those by value, as before."""
    if not has_arrow_columns(frame):
        return readable(frame)
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return readable(frame)
    return in_batches(table)


def readable(frame) -> Any:
    """``frame`` as DuckDB's pandas scan can read it: a copy where a column's values are
    held in reverse (negative strides: ``df.iloc[::-1]``, a view, which the scan refuses
    at ``register``, "Unable to cast Python instance of type int"), or where the blanks
    of pandas' nullable numbers and flags are held with a step (``df[::2]``: the scan
    reads their values with the step and their blanks without it, so blanks land on the
    wrong rows, with no error); else ``frame``."""
    for _, column in frame.items():
        values = column.array
        # the numpy array behind the column: its own (numpy dtypes), or an extension
        # array's values (pandas' masked numbers and its numpy-backed arrays)
        held = column.to_numpy(copy=False) if isinstance(column.dtype, np.dtype) else \
            getattr(values, "_data", getattr(values, "_ndarray", None))
        if isinstance(held, np.ndarray) and held.ndim and held.strides[0] < 0:
            return frame.copy()
        mask = getattr(values, "_mask", None)
        if isinstance(mask, np.ndarray) and mask.ndim and mask.strides[0] != mask.itemsize:
            return frame.copy()
    return frame


#: rows per record batch of an Arrow table given to DuckDB (:func:`in_batches`): its Arrow
#: scan reads one batch per thread; DuckDB's own row groups are this size
BATCH_ROWS = 122_880


def in_batches(table):
    """The pyarrow Table ``table`` in record batches of :data:`BATCH_ROWS` rows (slices of
    its own buffers, no copy), for DuckDB to scan in parallel."""
    import pyarrow as pa

    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)


def is_text(t) -> bool:
    """Arrow type ``t`` is text DuckDB converts to its own strings at each scan (``string``,
    ``large_string``, or either in a dictionary)."""
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or \
        (pa.types.is_dictionary(t) and is_text(t.value_type))


def only_columns(frame, names) -> Any:
    """``frame`` with only its columns named in ``names``, in the frame's order, their
    data not copied (a frame of the same column arrays, not consolidated into new
    blocks): the engine loads the columns it reads and nothing else. The frame itself
    when every column is named, or none is."""
    keep = [c for c in frame.columns if c in names]
    if not keep or len(keep) == len(frame.columns):
        return frame
    import pandas as pd

    return pd.DataFrame({c: frame[c] for c in keep}, copy=False)


def keep_rows(frame, keep) -> Any:
    """The rows of ``frame`` where the mask ``keep`` holds, as a new frame (index 0 to
    n-1), made column by column, each of ``frame``'s columns dropped from it once taken:
    the two tables are never held whole side by side (a 2 M-row export with 0.17 % of its
    rows rejected peaked at 1,230 MB against 912 MB without them: each step that dropped
    rows made the table again beside the old one). ``frame`` is left without columns:
    the caller replaces it with the result."""
    import pandas as pd

    keep = np.asarray(keep, dtype=bool)
    out = {}
    for name in list(frame.columns):
        out[name] = frame[name].array[keep]
        del frame[name]
    return pd.DataFrame(out, copy=False)
