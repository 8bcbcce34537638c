"""LibreOffice headless: recalculate a workbook with a real spreadsheet engine, and render
it to PDF and PNG (for the tests, and for looking at a generated workbook).

Recalculation on load is off by default for xlsx (stale cached values would stay), so
each call uses a private profile whose ``registrymodifications.xcu`` sets Calc's
``OOXMLRecalcMode`` to 0 (always). ``soffice`` exits 0 even when it could not convert,
so every function checks that the output file exists.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    pass


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _profile(root: Path) -> str:
    user = root / "profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
    return (root / "profile").as_uri()


def convert(src: str | Path, fmt: str, out_dir: str | Path, timeout: int = 180) -> Path:
    """``soffice --convert-to fmt``, recalculating on load; the converted file."""
    exe = soffice()
    if exe is None:
        raise LibreOfficeError("LibreOffice (soffice) is not installed")
    src, out_dir = Path(src), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [exe, f"-env:UserInstallation={_profile(Path(tmp))}", "--headless", "--norestore",
               "--convert-to", fmt, "--outdir", str(out_dir), str(src)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    out = out_dir / (src.stem + "." + fmt.split(":")[0])
    if not out.is_file():
        raise LibreOfficeError(f"LibreOffice did not convert {src.name} to {fmt}: "
                               f"{p.stdout.strip()} {p.stderr.strip()}".strip())
    return out


def recalculated_values(xlsx: str | Path) -> dict[tuple[str, str], object]:
    """Every formula cell's value after LibreOffice recalculated the workbook, by
    (sheet, cell)."""
    import openpyxl

    with tempfile.TemporaryDirectory() as tmp:
        out = convert(xlsx, "xlsx:Calc MS Excel 2007 XML", Path(tmp) / "out")
        formulas = openpyxl.load_workbook(xlsx)
        values = openpyxl.load_workbook(out, data_only=True)
        result = {}
        for ws in formulas.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        result[(ws.title, c.coordinate)] = values[ws.title][c.coordinate].value
        return result


def render_png(xlsx: str | Path, out_dir: str | Path, dpi: int = 70) -> list[Path]:
    """The workbook as PNG pages (LibreOffice → PDF → pdftoppm)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise LibreOfficeError("pdftoppm (poppler-utils) is not installed")
    out_dir = Path(out_dir)
    pdf = convert(xlsx, "pdf", out_dir)
    prefix = out_dir / Path(xlsx).stem
    subprocess.run([exe, "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True,
                   capture_output=True, timeout=180)
    pages = sorted(out_dir.glob(prefix.name + "*.png"))
    if not pages:
        raise LibreOfficeError(f"pdftoppm produced no page for {pdf.name}")
    return pages
