"""The Excel functions as each xlwings runtime sees them, on Linux without Excel.

* classic xlwings (Windows add-in): the real ``xlwings.udfs.import_udfs`` runs against a
  recording stand-in for the COM workbook (only the Windows modules pythoncom, pywintypes
  and win32com are stubbed), so the VBA wrapper it writes and the ``MacroOptions`` docs it
  registers are the ones Excel would get;
* Office.js (xlwings Lite and Server): ``custom_functions_meta`` and
  ``custom_functions_call`` of ``xlwings.server`` run unchanged.
"""

import asyncio
import importlib
import os
import re
import sys
import types

import pytest

import kpi_xl.xl.functions as xlf
from kpi_xl.catalog import CATALOG
from kpi_xl.xl.adapter import arguments, build


# -- classic -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def classic_udfs():
    stubs = {}
    pythoncom = types.ModuleType("pythoncom")
    pythoncom.CoInitialize = lambda: None
    pywintypes = types.ModuleType("pywintypes")
    pywintypes.com_error = type("com_error", (Exception,), {})
    win32com = types.ModuleType("win32com")
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda x: x
    win32com.client = client
    for name, mod in [("pythoncom", pythoncom), ("pywintypes", pywintypes),
                      ("win32com", win32com), ("win32com.client", client)]:
        stubs[name] = sys.modules.get(name)
        sys.modules[name] = mod
    try:
        udfs = importlib.import_module("xlwings.udfs")
        yield udfs
    finally:
        sys.modules.pop("xlwings.udfs", None)
        for name, old in stubs.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


class _Recorder:
    """Stands in for the COM workbook: keeps the imported VBA and the MacroOptions calls."""

    def __init__(self, com_error):
        self.Name = "kpi.xlsm"
        self.vba = ""
        self.options = {}
        outer = self

        class Components:
            def Remove(self, _c):
                raise com_error("no module yet")

            def __call__(self, name):
                return name

            def Import(self, path):
                with open(path) as fh:
                    outer.vba = fh.read()

        class Project:
            VBComponents = Components()

        class App:
            Version = "16.0"

            def MacroOptions(self, name, **kw):
                outer.options[name.split("!")[1]] = kw

        self.VBProject = Project()
        self.Application = App()


def test_classic_import_udfs_wraps_every_function(classic_udfs, monkeypatch):
    udfs = classic_udfs
    module = types.ModuleType("kpi_xl_classic")
    module.__dict__.update(build(udfs.xlfunc, udfs.xlarg, "kpi_xl_classic"))
    monkeypatch.setitem(udfs.udf_modules, "kpi_xl_classic", {"module": module, "filetime": None})
    monkeypatch.setattr(udfs, "__pro__", False)
    wb = _Recorder(sys.modules["pywintypes"].com_error)
    udfs.import_udfs("kpi_xl_classic", wb)

    declared = dict(re.findall(r"^Function (\w+)\((.*)\)$", wb.vba, re.M))
    assert set(declared) == set(xlf.__all__)
    for kpi in CATALOG.values():
        args = arguments(kpi)
        sig = declared[kpi.excel_name]
        required = sum(1 for i in kpi.inputs if not i.optional)
        expected = ", ".join(("Optional " if i >= required else "") + a[0]
                             for i, a in enumerate(args))
        assert sig == expected
        assert f'XLPy.CallUDF("kpi_xl_classic", "{kpi.excel_name}"' in wb.vba
        opts = wb.options[kpi.excel_name]
        assert opts["Description"].startswith(kpi.title)
        assert opts["ArgumentDescriptions"] == [a[1][:255] for a in args]
    assert wb.options["KPI_NPS"]["ArgumentDescriptions"][0].startswith("Answers to")


def test_classic_function_runs_and_reports_bad_cells(classic_udfs):
    funcs = build(classic_udfs.xlfunc, classic_udfs.xlarg, "kpi_xl_classic")
    # classic passes time-formatted cells as datetimes on Excel's day zero
    import datetime as dt
    talk = [[dt.datetime(1899, 12, 30, 0, 2, 23)], [dt.datetime(1899, 12, 30, 0, 4, 2)]]
    assert funcs["KPI_AHT"](talk) == pytest.approx(192.5)
    assert funcs["KPI_NPS"]([10, "#N/A", 3]) == (
        "KPI_NPS: 'scores' holds the Excel error #N/A; fix or filter that cell "
        "(cell 2 of the range)")


# -- Office.js: xlwings Lite and Server ----------------------------------------------
def test_officejs_meta_lists_every_function_with_docs():
    from xlwings.server import custom_functions_meta
    meta = custom_functions_meta(xlf)
    by_id = {f["id"]: f for f in meta["functions"]}
    assert set(by_id) == set(xlf.__all__)
    nps = by_id["KPI_NPS"]
    assert nps["description"].startswith("Net Promoter Score")
    assert [p["name"] for p in nps["parameters"]] == ["scores"]
    assert nps["parameters"][0]["description"].startswith("Answers to")
    sl = by_id["KPI_SERVICE_LEVEL"]
    params = {p["name"]: p for p in sl["parameters"]}
    assert params["variant"].get("optional") is True
    assert "answered" in params and not params["answered"].get("optional")


def _call(name, *args):
    from xlwings.server import custom_functions_call
    import xlwings
    data = {"func_name": name, "args": list(args), "version": xlwings.__version__,
            "client": "Office.js", "caller_address": "Sheet1!Z1", "formula_name": name,
            "culture_info_name": "en-US", "date_format": "M/d/yyyy", "runtime": "1.4"}
    return asyncio.run(custom_functions_call(data, xlf))


def test_officejs_call_returns_the_value():
    # Office.js sends ranges as 2-D arrays, blanks as "" (no spill for a scalar result)
    out = _call("KPI_NPS", [[10], [9], [""], [3], [6]])
    assert out == [[0.0]]  # by hand: promoters 2, detractors 2 of 4 -> 0
    out = _call("KPI_SERVICE_LEVEL", [[5], [25], [3], [""]], [["Y"], ["Y"], ["Y"], ["N"]],
                [["answered"]])
    assert out[0][0] == pytest.approx(2 / 3)


def test_officejs_call_shows_a_message_for_error_cells():
    out = _call("KPI_CSAT", [[5], ["#DIV/0!"], [4]])
    assert out[0][0].startswith("KPI_CSAT: 'scores' holds the Excel error #DIV/0!")


def test_officejs_detail_spills():
    out = _call("KPI_NPS_DETAIL", [[10], [9], [3], [7]])
    labels = [row[0] for row in out]
    assert labels[:4] == ["Net Promoter Score", "promoters", "passives", "detractors"]
    assert out[0][1] == pytest.approx(25.0)   # by hand: (2 - 1) / 4


# -- hosts where xlwings registers nothing ------------------------------------------
def _import_functions(env_changes):
    import os
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "XLWINGS_ON_SERVER"}
    env.update(env_changes, PYTHONPATH=str(root))
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import kpi_xl.xl.functions as f\n"
            "print(len(f.__all__), callable(f.KPI_NPS), f.KPI_NPS([10, 9, 3, 7]))\n")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="classic xlwings registers on Windows")
def test_functions_warn_once_when_xlwings_registers_nothing():
    r = _import_functions({})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1:] == ["True", "25.0"]   # still plain Python (by hand: (2-1)/4)
    assert r.stderr.count("UserWarning") == 1, r.stderr
    assert "xlwings registered none of the KPI_ functions" in r.stderr
    assert "XLWINGS_ON_SERVER=true" in r.stderr


def test_functions_do_not_warn_when_registered():
    r = _import_functions({"XLWINGS_ON_SERVER": "true",
                           "XLWINGS_LICENSE_KEY": os.environ.get("XLWINGS_LICENSE_KEY",
                                                                 "noncommercial")})
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr, r.stderr


# -- a 2-D block where one row or column belongs ---------------------------------------
def test_officejs_2d_range_to_a_1d_argument_is_kpi_xls_sentence():
    out = _call("KPI_AHT", [[60, 70], [80, 90], [100, 110]])
    assert out == [["KPI_AHT: 'talk' must be one row or one column, got 3 rows × 2 columns"]]
    out = _call("KPI_SERVICE_LEVEL", [[5], [25]], [["Y", "N"], ["Y", "Y"]])
    assert out == [["KPI_SERVICE_LEVEL: 'answered' must be one row or one column, "
                    "got 2 rows × 2 columns"]]
    # one row and one column still work (by hand: mean of 60, 70 = 65)
    assert _call("KPI_AHT", [[60, 70]]) == [[65.0]]
    assert _call("KPI_AHT", [[60], [70]]) == [[65.0]]
    assert _call("KPI_AHT", 60) == [[60.0]]


def test_classic_2d_range_to_a_1d_argument_is_kpi_xls_sentence(classic_udfs):
    funcs = build(classic_udfs.xlfunc, classic_udfs.xlarg, "kpi_xl_classic")
    # classic hands a 2-D range as a list of rows, a 1-D range as a flat list
    assert funcs["KPI_NPS"]([[10, 9], [3, 7]]) == (
        "KPI_NPS: 'scores' must be one row or one column, got 2 rows × 2 columns")
    assert funcs["KPI_NPS"]([10, 9, 3, 7]) == 25.0   # by hand: (2 - 1) / 4


def test_officejs_time_cells_need_unit_days():
    # Office.js sends 0:02:23 and 0:04:02 as day fractions; by hand 143 s and 242 s
    talk = [[143 / 86400], [242 / 86400]]
    out = _call("KPI_AHT", talk, None, None, "days")
    assert out[0][0] == pytest.approx(192.5)
    out = _call("KPI_SERVICE_LEVEL", [[5 / 86400], [25 / 86400]], [["Y"], ["Y"]], None, None,
                None, "days")   # by hand: 5 s within 20 s, 25 s not -> 1/2
    assert out[0][0] == pytest.approx(0.5)
    meta = {f["id"]: f for f in __import__("xlwings.server", fromlist=["x"])
            .custom_functions_meta(xlf)["functions"]}
    unit = {p["name"]: p for p in meta["KPI_AHT"]["parameters"]}["unit"]
    assert unit.get("optional") is True and '"days"' in unit["description"]
