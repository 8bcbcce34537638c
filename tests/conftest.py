import os
import sys
from pathlib import Path

# Before xlwings is imported anywhere: decorate as xlwings Lite and xlwings Server do
# (XLWINGS_ON_SERVER), with the documented 'noncommercial' license key that covers this
# open-source project's tests. Without them, xlwings on Linux makes @xw.func a no-op.
os.environ.setdefault("XLWINGS_ON_SERVER", "true")
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not present: {SHARED_DATA} (they ship beside the repo "
                    "in CI, not in a user's clone)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def postgres():
    """The engine's PostgreSQL backend on the test server (``KPI_XL_TEST_PG_URL``; ``.ci/run``
    starts one), one connection per test module; skipped, saying so, without a server or
    psycopg."""
    url = os.environ.get("KPI_XL_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set KPI_XL_TEST_PG_URL (eval \"$(scripts/"
                    "pg_test_server.sh)\" starts one on 127.0.0.1)")
    pytest.importorskip("psycopg", reason="the PostgreSQL backend needs psycopg "
                                          "(pip install 'kpi-xl[postgres]')")
    from kpi_xl.engine.backends import connect

    backend = connect("postgres", url=url)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (``local[2]``) as the engine's backend, one for the whole run
    (starting Spark costs seconds); skipped, saying so, without pyspark or Java."""
    import shutil

    pytest.importorskip("pyspark", reason="the Spark backend needs pyspark "
                                          "(pip install 'kpi-xl[spark]')")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("a local Spark session needs a Java runtime (apt-get install "
                    "default-jre-headless)")
    from kpi_xl.engine.backends import connect

    backend = connect("spark", url="local[2]")
    backend.spark.sparkContext.setLogLevel("ERROR")
    return backend


# CI explores the same examples every run (a red CI must be reproducible); locally,
# hypothesis explores new ones each time.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=os.environ.get("KPI_XL_TEST_DUCKDB_CSV") == "1")
def _duckdb_reads_every_csv(monkeypatch):
    """KPI_XL_TEST_DUCKDB_CSV=1: every CSV, however small, is read by DuckDB where it can
    be (kpi_xl.data.readers.DUCKDB_FROM_BYTES), so the loading tests check that path too."""
    from kpi_xl.data import readers

    monkeypatch.setattr(readers, "DUCKDB_FROM_BYTES", 0)
