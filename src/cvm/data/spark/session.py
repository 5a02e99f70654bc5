"""Starting (or reusing) a SparkSession, only when a Spark function is called.

Nothing here runs at import time: :mod:`pyspark` is imported inside
:func:`spark_session`, and Java is looked for before the JVM is started, so a
machine without Spark gets a :class:`~cvm.errors.CvmError` that says what to
install instead of a Py4J traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from cvm.errors import CvmError

#: settings for a small local session (tests, laptops); a cluster's own settings win
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
    "spark.ui.showConsoleProgress": "false",
}


def require_pyspark() -> Any:
    """Import and return :mod:`pyspark`, or raise a clear :class:`CvmError`."""
    # pyspark warns on every Arrow conversion that it is not yet tested with pandas 3; cvm's tests run
    # the Spark engine against the DuckDB engine's numbers under pandas 3, so the user is spared the noise
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=UserWarning)
    try:
        import pyspark
    except ImportError:
        raise CvmError(
            "the Spark engine needs pyspark, which is not installed",
            hint="install it with: pip install 'cvm[spark]'  (and a Java 17 runtime)",
        ) from None
    return pyspark


def java_available() -> bool:
    """True when a ``java`` executable is on the PATH or under ``JAVA_HOME``."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def active_session() -> Any | None:
    """The SparkSession already running in this process, if any (never starts one)."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def spark_session(
    master: str | None = None, app_name: str = "cvm", config: Mapping[str, str] | None = None
) -> Any:
    """Return the active SparkSession, or start one.

    Parameters
    ----------
    master
        Spark master URL. ``None`` reuses the active session when there is one
        (a notebook, Databricks), takes the master given to ``spark-submit``, and
        otherwise starts ``local[*]`` (or ``$MASTER``).
    app_name
        Name shown in the Spark UI and the cluster manager.
    config
        Extra ``spark.*`` settings; for a local master they are laid over
        :data:`LOCAL_DEFAULTS` (UI off, 4 shuffle partitions, UTC, Arrow on).

    Raises
    ------
    CvmError
        When pyspark is not installed or no Java runtime is found.
    """
    require_pyspark()
    if master is None:
        running = active_session()
        if running is not None:
            return running
    from pyspark.sql import SparkSession

    if master is None and "PYSPARK_GATEWAY_PORT" in os.environ:
        # launched by spark-submit: the master and settings come from the command line
        return SparkSession.builder.appName(app_name).getOrCreate()
    if master is None:
        master = os.environ.get("MASTER") or "local[*]"
    local = master.startswith("local")
    if local and not java_available() and "PYSPARK_GATEWAY_PORT" not in os.environ:
        raise CvmError(
            "the Spark engine needs a Java runtime (Java 17), and none was found",
            hint="install OpenJDK 17 and put java on the PATH or set JAVA_HOME; or use --engine duckdb",
        )
    if local:
        # local workers must run this same Python, which has numpy, pandas, pyarrow and cvm
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = dict(LOCAL_DEFAULTS) if local else {}
    settings.update(config or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start: say so in one line
        raise CvmError(
            f"could not start Spark ({master}): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            hint="check JAVA_HOME points to Java 17 and that the driver memory fits this machine",
        ) from None
    if local:
        session.sparkContext.setLogLevel("ERROR")
    return session
