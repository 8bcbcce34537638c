"""Render README's screenshots (docs/*.png) from the demo month, through the same
LibreOffice → PDF → pdftoppm and Chromium paths the tests use.

    python scripts/make_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kpi_xl.cli import main  # noqa: E402
from kpi_xl.mail.preview import inline_html, screenshot  # noqa: E402
from kpi_xl.scorecard.libreoffice import render_png  # noqa: E402
from kpi_xl.scorecard.pdf import pdf_copy  # noqa: E402


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
        # the head of service's message on a phone (Chromium, as in the tests), and the
        # first page of the scorecard's PDF copy (formats = ["xlsx", "pdf"])
        import email
        import email.policy

        eml = next((month / "outbox").glob("dana*.eml"))
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        screenshot(inline_html(msg), docs / "message-phone.png", height=1400, scale=1)
        # a team lead's alert (kpi-xl alert on the same month): the one whose alerts
        # include a significant worsening as well as KPIs off target two months running
        from kpi_xl.cli import ALERTS_SENT

        assert main(["alert", "-c", str(tmp / "demo" / "kpi_xl.toml"), "--month", "2026-10",
                     "--out", str(tmp / "wb")]) == ALERTS_SENT
        alerts = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                  for p in sorted((month / "alerts").glob("*.eml"))]
        lead = next(m for m in alerts if "team " in m["Subject"]
                    and "worse, larger than chance at" in m.get_body(("plain",)).get_content())
        screenshot(inline_html(lead), docs / "alert-phone.png", height=700, scale=1)
        pdf = pdf_copy(month / "balanced-scorecard-2026-10.xlsx", tmp / "pdf" / "scorecard.pdf")
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf),
                        str(tmp / "pdf" / "page")], check=True)
        shutil.copy(next((tmp / "pdf").glob("page*.png")), docs / "scorecard-pdf.png")
        # the top of the demo centre's KPI handbook (kpi-xl handbook), as a browser shows it
        assert main(["handbook", "-c", str(tmp / "demo" / "kpi_xl.toml"),
                     "--out", str(tmp / "hb"), "--no-pdf"]) == 0
        screenshot((tmp / "hb" / "handbook.html").read_text(encoding="utf-8"),
                   docs / "handbook.png", width=900, height=1100, scale=1)
        print(f"wrote {docs / 'scorecard.png'}, {docs / 'qa-sheet.png'}, "
              f"{docs / 'message-phone.png'}, {docs / 'alert-phone.png'}, "
              f"{docs / 'scorecard-pdf.png'} and {docs / 'handbook.png'}")


if __name__ == "__main__":
    run()
