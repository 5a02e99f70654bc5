"""Shared fixtures of the data-layer tests: a fresh workspace per test, of each kind.

``ws`` runs every test that uses it twice: on the embedded default (``cvm.duckdb``) and on a
team workspace whose generations have a real PostgreSQL server, started by the tests, as
their catalog (``workspace_dir`` in tests/conftest.py).
"""

from __future__ import annotations

import pytest

from cvm.data import Workspace


@pytest.fixture
def ws(workspace_dir):
    workspace = Workspace.open(workspace_dir)
    yield workspace
    workspace.close()


#: settings of the one local Spark session the tests share: two cores, tiny shuffles (the test
#: data are a few thousand rows), no UI; the engine's own defaults are tested by the processes
TEST_SPARK_SETTINGS = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
}


@pytest.fixture(scope="session")
def spark():
    """The local[2] SparkSession of the whole test session (one JVM, started on first use)."""
    pytest.importorskip("pyspark")
    from cvm.data.spark.session import java_available, spark_session

    if not java_available():
        pytest.skip("no Java runtime for Spark")
    return spark_session("local[2]", app_name="cvm-tests", config=TEST_SPARK_SETTINGS)
