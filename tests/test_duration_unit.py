"""The ``unit`` option of every function with duration inputs: in xlwings Lite and Server,
Office.js hands a time-formatted cell over as a plain number of days (0:02:23 arrives as
0.00165509...), so only the caller can say what unit the numbers are in."""

import numbers

import pytest

from kpi_xl import KpiError, compute
from kpi_xl.catalog import CATALOG
from kpi_xl.catalog.spec import TIME_UNITS
from kpi_xl.xl.adapter import arguments
from vectors import VECTORS

DURATION_KPIS = {k.key for k in CATALOG.values() if k.duration_inputs}


def _numeric_duration_vectors():
    for key, variant, inputs, expected, source in VECTORS:
        kpi = CATALOG[key]
        durations = {i.name: i.time_unit for i in kpi.duration_inputs if i.name in inputs}
        if durations and all(v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))
                             for name in durations for v in inputs[name]):
            yield key, variant, inputs, expected, durations


CASES = list(_numeric_duration_vectors())


def test_every_duration_kpi_has_a_numeric_vector():
    assert {c[0] for c in CASES} == DURATION_KPIS
    assert DURATION_KPIS >= {"aht", "asa", "service_level", "first_response_time"}


@pytest.mark.parametrize("unit", list(TIME_UNITS))
@pytest.mark.parametrize("key, variant, inputs, expected, durations", CASES,
                         ids=[f"{c[0]}-{c[1] or 'default'}-{i}" for i, c in enumerate(CASES)])
def test_unit_converts_every_duration_input(key, variant, inputs, expected, durations, unit):
    # the vector's numbers are in each input's own unit; restate them in `unit`
    given = dict(inputs)
    for name, own in durations.items():
        given[name] = [None if v is None else v * TIME_UNITS[own] / TIME_UNITS[unit]
                       for v in inputs[name]]
    assert compute(key, variant, unit=unit, **given).value == pytest.approx(expected, rel=1e-9)
    assert compute(key, variant, unit=unit.upper(), **given).value == pytest.approx(expected,
                                                                                    rel=1e-9)


@pytest.mark.parametrize("key", sorted(DURATION_KPIS))
def test_unit_left_out_keeps_each_inputs_own_unit(key):
    case = next(c for c in CASES if c[0] == key)
    _, variant, inputs, expected, _ = case
    for unit in (None, "", " "):
        assert compute(key, variant, unit=unit, **inputs).value == pytest.approx(expected)


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_unit_is_documented_where_it_applies(key):
    kpi = CATALOG[key]
    args = dict((a[0], a[1]) for a in arguments(kpi))
    if not kpi.duration_inputs:
        assert "unit" not in args
        return
    assert list(args)[-1] == "unit"       # last: no existing argument moved
    doc = args["unit"]
    assert all(f'"{u}"' in doc for u in TIME_UNITS)
    assert f'default "{kpi.duration_inputs[0].time_unit}"' in doc
    assert all(i.name in doc for i in kpi.duration_inputs)
    assert len(doc) <= 255                # Excel's limit for an argument description


def test_bad_unit_and_unit_without_durations_are_sentences():
    with pytest.raises(KpiError, match=r"""'unit' must be one of "seconds", "minutes", "hours", "days".*got 'weeks'"""):
        compute("aht", talk=[100], unit="weeks")
    with pytest.raises(KpiError, match="'unit' must be one of"):
        compute("aht", talk=[100], unit=3)
    with pytest.raises(KpiError, match="'unit' is an option of functions with duration inputs; "
                                       "Net Promoter Score has none"):
        compute("nps", scores=[10], unit="days")


def test_time_values_convert_exactly_whatever_the_unit():
    import datetime as dt
    # by hand: 0:02:23 and 0:04:02 are 143 s and 242 s, mean 192.5 s
    talk = [dt.time(0, 2, 23), dt.timedelta(minutes=4, seconds=2)]
    for unit in (None, *TIME_UNITS):
        assert compute("aht", talk=talk, unit=unit).value == pytest.approx(192.5)


def test_a_unit_that_overflows_is_refused():
    with pytest.raises(KpiError, match="must be a finite number"):
        compute("aht", talk=[1e308], unit="days")
