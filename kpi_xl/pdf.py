"""An HTML page to PDF, with what the machine has: LibreOffice (its Writer opens HTML; a
Calc-only install cannot) or else a Chromium-family browser printing headless. Neither is
a Python dependency; :func:`html_to_pdf` says why there is no PDF when neither works."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: Chromium-family browsers tried, in order, for printing to PDF
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW = ("install LibreOffice Writer (e.g. apt install libreoffice-writer) or Chromium and "
       "run again, or open the page in a browser and print it to PDF")


class NoPdf(RuntimeError):
    """No PDF could be made; the message says why and how to get one."""


def browser() -> str | None:
    for name in BROWSERS:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def html_to_pdf(html: str | Path, timeout: int = 180) -> Path:
    """``html`` as a PDF beside it (same name, ``.pdf``); raises :class:`NoPdf`."""
    from .scorecard.libreoffice import LibreOfficeError, convert, soffice

    html = Path(html).resolve()
    target = html.with_suffix(".pdf")
    why = []
    if soffice() is not None:
        try:
            return convert(html, "pdf:writer_web_pdf_Export", html.parent, timeout=timeout)
        except (LibreOfficeError, subprocess.TimeoutExpired) as e:
            why.append(f"LibreOffice could not open the page ({str(e).splitlines()[-1]})")
    exe = browser()
    if exe is not None:
        with tempfile.TemporaryDirectory() as profile:
            cmd = [exe, "--headless", "--disable-gpu", "--no-pdf-header-footer",
                   f"--user-data-dir={profile}", f"--print-to-pdf={target}", html.as_uri()]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.insert(1, "--no-sandbox")     # Chromium refuses to run as root otherwise
            try:
                subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               check=False)
            except subprocess.TimeoutExpired:
                why.append(f"{Path(exe).name} did not finish in {timeout} s")
        if target.is_file() and target.stat().st_size > 0:
            return target
        why.append(f"{Path(exe).name} did not print the page")
    if not why:
        why.append("neither LibreOffice nor a Chromium browser is installed")
    raise NoPdf(f"no PDF: {'; '.join(why)}; {HOW}")
