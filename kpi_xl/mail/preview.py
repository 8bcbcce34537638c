"""Look at a message as a reader would: its HTML part with the charts a mail client would
show in place (each ``cid:`` replaced by its image), and a headless Chromium screenshot of
it at a phone's width. For the tests and for README's screenshots
(``scripts/make_screenshots.py``); the mail step itself needs no browser.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

PHONE_WIDTH = 375                    # CSS pixels: an iPhone's (and most phones') width


class BrowserError(RuntimeError):
    pass


def chromium() -> str | None:
    """The Chromium-family browser on the PATH (one list: :data:`kpi_xl.pdf.BROWSERS`)."""
    from ..pdf import browser

    return browser()


def inline_html(msg: EmailMessage) -> str:
    """The HTML part with each ``cid:`` reference replaced by its image, as a data URI."""
    html = msg.get_body(("html",)).get_content()
    for part in msg.walk():
        cid = part["Content-ID"]
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_content()).decode("ascii")
            html = html.replace(f"cid:{cid.strip('<>')}",
                                f"data:{part.get_content_type()};base64,{data}")
    return html


def browser_flags(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}"]


def screenshot(html: str, png: str | Path, width: int = PHONE_WIDTH, height: int = 2000,
               scale: int = 2, timeout: int = 120) -> Path:
    """A PNG of ``html`` laid out ``width`` CSS pixels wide (``scale`` device pixels
    each), the top ``height`` pixels of it."""
    exe = chromium()
    if exe is None:
        raise BrowserError("Chromium is not installed (Debian: apt-get install chromium)")
    png = Path(png)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "message.html"
        page.write_text(html, encoding="utf-8")
        p = subprocess.run(browser_flags(exe, Path(tmp) / "profile")
                           + [f"--force-device-scale-factor={scale}",
                              f"--window-size={width},{height}", f"--screenshot={png}",
                              page.as_uri()], capture_output=True, text=True, timeout=timeout,
                           check=False)
    if not png.is_file():
        raise BrowserError(f"Chromium made no screenshot: {p.stderr.strip()[-300:]}")
    return png
