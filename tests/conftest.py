import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not present: {SHARED_DATA} (they ship beside the repo "
                    "in CI, not in a user's clone)")
    return SHARED_DATA


# xlwings Server / Lite functions check for a license key; the documented 'noncommercial'
# key covers this open-source project's tests.
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
