"""Render README's screenshots (docs/*.png) from the demo month, through the same
LibreOffice → PDF → pdftoppm path the tests use.

    python scripts/make_screenshots.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.scorecard.libreoffice import render_png  # noqa: E402


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        assert main(["demo", "--folder", str(tmp / "demo"), "--out", str(tmp / "wb")]) == 0
        month = tmp / "wb" / "2026-10"
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        pages = render_png(month / "balanced-scorecard-2026-10.xlsx", tmp / "png", dpi=80)
        shutil.copy(pages[0], docs / "scorecard.png")
        agent = next((month / "agents").glob("*.xlsx"))
        pages = render_png(agent, tmp / "png2", dpi=80)
        shutil.copy(pages[0], docs / "qa-sheet.png")
        print(f"wrote {docs / 'scorecard.png'} and {docs / 'qa-sheet.png'}")


if __name__ == "__main__":
    run()
