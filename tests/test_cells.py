"""How cell values from Excel (or Python) become typed columns, and the messages when not."""

import datetime as dt

import numpy as np
import pytest

from kpi_xl.errors import KpiError
from kpi_xl.render.arrays import compute
from kpi_xl.render.cells import parse_column, parse_scalar


def col(kind, data, unit=None):
    return parse_column("k", "x", kind, data, time_unit=unit)


def test_flags_accept_the_documented_spellings_only():
    c = col("flag", ["Y", "n", "Yes", "NO", True, False, 1, 0, None, " "])
    assert c.values[:8].tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    assert c.blank.tolist() == [False] * 8 + [True, True]
    with pytest.raises(KpiError, match=r"'x' must be 1 or 0 when numeric .*got 2 \(cell 1"):
        col("flag", [2])
    with pytest.raises(KpiError, match=r"holds the text 'maybe'"):
        col("flag", ["Y", "maybe"])


def test_durations_convert_time_values_exactly():
    # 0:02:23 as Python time, as a classic-Excel datetime on day zero, and as a timedelta
    c = col("duration", [dt.time(0, 2, 23), dt.datetime(1899, 12, 30, 0, 2, 23),
                         dt.timedelta(minutes=2, seconds=23), 143], "seconds")
    assert c.values.tolist() == [143.0] * 4
    assert col("duration", [dt.time(1, 30)], "hours").values.tolist() == [1.5]
    with pytest.raises(KpiError, match=r"holds a date \(2026-10-01\), but a duration"):
        col("duration", [dt.date(2026, 10, 1)], "seconds")


@pytest.mark.parametrize("value,message", [
    ("12", "a number stored as text; convert it to a number"),
    ("#N/A", "holds the Excel error #N/A"),
    ("abc", "holds the text 'abc', but a number is expected"),
    (True, "holds TRUE/FALSE, but a number is expected"),
    (dt.time(1, 0), "holds a time value"),
])
def test_numbers_refuse_what_is_not_a_number(value, message):
    with pytest.raises(KpiError, match=message):
        col("number", [1, value])


def test_scores_take_na_and_keep_it_apart_from_blank():
    c = col("score", [1, "N/A", "n/a", None])
    assert c.na.tolist() == [False, True, True, False]
    assert c.blank.tolist() == [False, False, False, True]
    assert c.present.tolist() == [True, False, False, False]


def test_ranges_must_be_one_row_or_column():
    assert col("number", [[1, 2, 3]]).values.tolist() == [1, 2, 3]     # one row
    assert col("number", [[1], [2]]).values.tolist() == [1, 2]          # one column
    with pytest.raises(KpiError, match=r"must be one row or one column, got 2 rows × 2 columns"):
        col("number", [[1, 2], [3, 4]])


def test_categories_factorise_and_report_the_first_bad_row():
    c = col("category", ["phone", " Chat ", None, "phone", 17, ""])
    assert c.values.tolist() == ["phone", "Chat", None, "phone", "17", None]
    assert c.blank.tolist() == [False, False, True, False, False, True]
    assert c.keys[c.codes].tolist() == c.values.tolist()
    with pytest.raises(KpiError, match=r"Excel error #REF!.*cell 3 of the range"):
        col("category", ["a", "b", "#REF!", "#REF!"])
    # TRUE shares a dict key with 1: it must still be refused, at its own row
    with pytest.raises(KpiError, match=r"TRUE/FALSE.*cell 2 of the range"):
        col("category", [1, True])


def test_float_arrays_take_the_fast_path_and_nan_is_blank():
    c = col("number", np.array([1.0, np.nan, 3.0]))
    assert c.blank.tolist() == [False, True, False]


def test_scalars():
    assert parse_scalar("k", "s", [[5]]) == 5.0
    for bad, msg in [(None, "is blank"), (float("nan"), "is blank"), ("x", "holds the text"),
                     ([1, 2], "not a range of 2 cells"), (False, "TRUE/FALSE")]:
        with pytest.raises(KpiError, match=msg):
            parse_scalar("k", "s", bad)


@pytest.mark.parametrize("call,message", [
    (dict(scores=[4, 10**400]), r"'scores' must be a finite number, got inf \(cell 2 "),
    (dict(scores=(10**400,)), r"'scores' must be a finite number, got inf \(cell 1 "),
    (dict(scores=[5], scale_max=-10**400), r"'scale_max' must be a finite number, got -inf"),
])
def test_an_integer_too_large_for_a_float_is_refused_by_name(call, message):
    """Python callers can pass integers beyond a float (10**400): they are not finite
    numbers, said as such, never an OverflowError."""
    with pytest.raises(KpiError, match=message):
        compute("csat", **call)
    with pytest.raises(KpiError, match=r"'calls' must be a finite number, got inf"):
        compute("traffic_intensity", calls=10**400, aht=100)


@pytest.mark.parametrize("variant", [3.0, ["mean"], True])
def test_a_variant_cell_holding_no_text_is_refused_by_name(variant):
    """A number or a range in the variant's cell gets the list of variants, not an
    AttributeError from str.strip."""
    with pytest.raises(KpiError, match=r"csat: 'variant' must be one of \('top2box', 'mean'\)"):
        compute("csat", variant, scores=[1, 5])
