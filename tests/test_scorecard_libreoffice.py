"""Generated workbooks opened by a real spreadsheet engine: LibreOffice headless
recalculates every formula, and each must equal the value kpi_xl cached for it; one
scorecard is rendered to PNG so its layout can be looked at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")

from kpi_xl.scorecard.cached import save_with_values  # noqa: E402
from kpi_xl.scorecard.libreoffice import recalculated_values, render_png, soffice  # noqa: E402

from scorecard_data import month  # noqa: E402
from scorecard_data import same_cell  # noqa: E402

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed; "
                                 ".ci/run installs it")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return month(str(tmp_path_factory.mktemp("wb")))


def test_libreoffice_really_recalculates(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["A2"], ws["A3"] = 2, 3, "=A1*A2"
    path = tmp_path / "w.xlsx"
    save_with_values(wb, path)
    # plant a wrong cached value: LibreOffice must not show it
    import zipfile

    data = {}
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            data[n] = z.read(n)
    data["xl/worksheets/sheet1.xml"] = data["xl/worksheets/sheet1.xml"].replace(b"<v>6</v>", b"<v>99</v>")
    with zipfile.ZipFile(path, "w") as z:
        for n, d in data.items():
            z.writestr(n, d)
    assert openpyxl.load_workbook(path, data_only=True).active["A3"].value == 99
    assert recalculated_values(path)[("Sheet", "A3")] == 6


def test_every_formula_cell_equals_libreoffice(generated):
    _tables, _res, paths = generated
    total = 0
    for path in paths:
        lo = recalculated_values(path)
        cached = openpyxl.load_workbook(path, data_only=True)
        differ = [(s, c, cached[s][c].value, v) for (s, c), v in lo.items()
                  if not same_cell(cached[s][c].value, v)]
        assert differ == [], f"{path.name}: {differ[:10]}"
        total += len(lo)
    assert total > 500


def test_scorecard_renders_to_png(generated, tmp_path):
    _tables, _res, paths = generated
    pages = render_png(paths[0], tmp_path / "png")
    assert len(pages) == 1 and pages[0].stat().st_size > 20_000
    keep = os.environ.get("KPI_XL_RENDER_DIR")        # to look at it: set this folder
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for p in pages + render_png(paths[1], tmp_path / "png2")[:3]:
            shutil.copy(p, keep)
