"""Regenerate README.md's function reference from the catalog (kpi-xl kpis --markdown)."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.cli import markdown_reference  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
PATTERN = re.compile(r"(<!-- reference:start -->\n).*?(<!-- reference:end -->)", re.S)


def render(text: str) -> str:
    md = markdown_reference(list(CATALOG.values()))
    return PATTERN.sub(lambda m: m.group(1) + md + m.group(2), text)


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {README}")
