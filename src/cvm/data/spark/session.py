"""Starting (or reusing) a SparkSession, only when a Spark function is called.

Nothing here runs at import time: :mod:`pyspark` is imported inside
:func:`spark_session`, and Java is looked for before the JVM is started, so a
machine without Spark gets a :class:`~cvm.errors.CvmError` that says what to
install instead of a Py4J traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from cvm.errors import CvmError, SchemaError

#: settings for a small local session (tests, laptops); a cluster's own settings win
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
}


#: settings for every session cvm starts, on any master: the summary counts days in UTC as the
#: DuckDB engine does, and pandas <-> Spark goes through Arrow (no Python workers on the executors)
SESSION_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

#: log4j 2 settings for the driver cvm starts: warnings and start-up lines stay off the terminal
_QUIET_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def quiet_log_options(existing: str | None = None) -> str:
    """``spark.driver.extraJavaOptions`` that point log4j 2 at :data:`_QUIET_LOG4J` (errors only).

    Spark's default profile prints its name and warnings such as the
    native-Hadoop one on every start (the shell banner "Setting default log
    level" bypasses log4j: :func:`jvm_output_to` handles it); the file is
    written once per user in the temporary folder. Options already given are kept.
    """
    path = Path(tempfile.gettempdir()) / f"cvm-spark-log4j2-{os.getuid() if hasattr(os, 'getuid') else 'user'}.properties"
    if not path.exists() or path.read_text() != _QUIET_LOG4J:
        path.write_text(_QUIET_LOG4J)
    option = f"-Dlog4j2.configurationFile=file:{path}"
    return f"{existing} {option}" if existing else option


@contextmanager
def jvm_output_to(log_file: Path) -> Iterator[None]:
    """Start Spark inside this block to send the driver JVM's own terminal output to ``log_file``.

    The JVM inherits the process's standard error when it starts; the Java
    launcher's notes ("Using incubator modules") and Spark's shell banner
    bypass log4j. Standard error (file descriptor 2) points at ``log_file``
    while the JVM starts and is put back afterwards, so the JVM keeps writing
    to the file for its whole life and Python's own messages reach the
    terminal. Errors still reach the user: Py4J raises them in Python.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_file, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def default_master() -> str:
    """The master when none is given: ``$CVM_SPARK_MASTER``, else ``$MASTER``, else ``local[*]``."""
    return os.environ.get("CVM_SPARK_MASTER") or os.environ.get("MASTER") or "local[*]"


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
        Spark master URL (``spark://host:7077``, ``yarn``, ``k8s://…``, ``local[4]``)
        or a Spark Connect address (``sc://host:15002``). ``None`` reuses the
        active session when there is one (a notebook, Databricks), takes the
        master given to ``spark-submit``, and otherwise starts
        :func:`default_master` (``$CVM_SPARK_MASTER``, ``$MASTER`` or ``local[*]``).
    app_name
        Name shown in the Spark UI and the cluster manager.
    config
        Extra ``spark.*`` settings (the CLI's ``--conf``), laid over
        :data:`SESSION_DEFAULTS` (UTC, Arrow on) and, for a local master,
        :data:`LOCAL_DEFAULTS` (UI off, 1 GB driver). The driver's log4j is set to
        errors only (:func:`quiet_log_options`).

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
    if master is None and os.environ.get("SPARK_REMOTE"):
        master = os.environ["SPARK_REMOTE"]
    if master is None:
        master = default_master()
    if master.startswith("sc://"):
        return _connect_session(master, app_name, config)
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
    settings = dict(SESSION_DEFAULTS)
    if local:
        settings.update(LOCAL_DEFAULTS)
    settings.update(config or {})
    settings["spark.driver.extraJavaOptions"] = quiet_log_options(settings.get("spark.driver.extraJavaOptions"))
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start: say so in one line
        raise CvmError(
            f"could not start Spark ({master}): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            hint="check JAVA_HOME points to Java 17 and that the driver memory fits this machine" if local
            else f"check that the master {master} is reachable from this machine and that --conf settings are valid",
        ) from None
    return session


def _connect_session(url: str, app_name: str, config: Mapping[str, str] | None) -> Any:
    """A Spark Connect session (``sc://host:port``): needs ``pyspark[connect]``, no local Java."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(url).appName(app_name)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # missing grpc packages, server not reachable
        text = str(exc).strip()
        raise CvmError(
            f"could not connect to Spark Connect at {url}: {text.splitlines()[0] if text else type(exc).__name__}",
            hint="install the client with: pip install 'pyspark[connect]'; check the server address",
        ) from None
    for key, value in {**SESSION_DEFAULTS, **dict(config or {})}.items():
        if key == "spark.ui.showConsoleProgress":
            continue
        try:
            session.conf.set(key, value)
        except Exception:  # a static setting: it had to be given when the server started
            pass
    return session


@contextmanager
def session_settings(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """Set SQL settings for the run and put the session's own values back afterwards (a notebook's session)."""
    before = {key: _conf(spark, key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _conf(spark: Any, key: str) -> str | None:
    """A session setting, or None (also where Spark Connect refuses to say)."""
    try:
        value = spark.conf.get(key, None)
    except Exception:  # a setting the server does not expose
        return None
    return None if value in (None, "") else str(value)


def default_parallelism(spark: Any) -> int:
    """Cores the session can use, from its settings only (no ``sparkContext``: Spark Connect refuses it).

    ``spark.default.parallelism`` when set; ``local[N]`` gives N (``local[*]`` the
    machine's cores); on a cluster ``spark.cores.max``, else executors times cores
    per executor; else 8.
    """
    given = _conf(spark, "spark.default.parallelism")
    if given and given.isdigit():
        return max(1, int(given))
    master = _conf(spark, "spark.master") or ""
    local = re.match(r"^local(?:\[(\d+|\*)(?:,\d+)?\])?$", master)
    if local:
        n = local.group(1)
        return (os.cpu_count() or 1) if n in (None, "*") and master != "local" else (1 if n is None else int(n))
    cores_max = _conf(spark, "spark.cores.max")
    if cores_max and cores_max.isdigit():
        return max(1, int(cores_max))
    instances, cores = _conf(spark, "spark.executor.instances"), _conf(spark, "spark.executor.cores")
    if instances and cores and instances.isdigit() and cores.isdigit():
        return max(1, int(instances) * int(cores))
    return 8


def auto_shuffle_partitions(spark: Any, n_transactions: int, per_partition: int = 2_000_000) -> int:
    """Shuffle partitions from the data: one per ``per_partition`` transactions, at least the core count.

    The summary shuffles the transactions once (by customer); partitions of about
    two million transactions keep each task's hash tables small, and small inputs
    get one partition per core instead of Spark's 200 (a 100,000-customer job on a
    two-worker cluster ran 1,845 tasks with 200).
    """
    return max(default_parallelism(spark), -(-int(n_transactions) // per_partition))


def session_for_cli(master: str | None, conf: list[str] | None, app_name: str) -> tuple[Any, int | None]:
    """The session for ``cvm run --engine spark``: ``--conf`` parsed, then Spark started quietly.

    Returns ``(session, shuffle partitions)``: the partitions given as
    ``--conf spark.sql.shuffle.partitions=N``, else None (sized from the data).
    The JVM's start-up lines go to a log file, not the terminal (errors still
    come back through Py4J and name that file).
    """
    settings: dict[str, str] = {}
    for item in conf or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SchemaError(f"--conf '{item}' is not key=value", hint="e.g. --conf spark.executor.memory=4g")
        settings[key.strip()] = value.strip()
    partitions = settings.get("spark.sql.shuffle.partitions")
    if partitions is not None and not partitions.isdigit():
        raise SchemaError(f"spark.sql.shuffle.partitions must be a whole number, got '{partitions}'")
    log_file = Path(tempfile.gettempdir()) / f"cvm-spark-driver-{os.getuid() if hasattr(os, 'getuid') else 'user'}.log"
    try:
        with jvm_output_to(log_file):
            spark = spark_session(master, app_name=app_name, config=settings)
    except CvmError as exc:
        exc.hint = f"{exc.hint}; the driver's own output is in {log_file}" if exc.hint else f"see {log_file}"
        raise
    return spark, None if partitions is None else int(partitions)
