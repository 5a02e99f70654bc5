"""The Spark engine on a real standalone cluster, and the output rules of ``cvm run --engine spark``.

The fixture starts a Spark master and one worker with ``spark-class`` from the pip
pyspark (bound to 127.0.0.1 on free ports) and stops them after the module. The
test runs ``cvm run FILE --engine spark --master spark://…`` as a separate process
and compares its output with ``cvm run FILE`` on DuckDB (the reference engine,
whose value functions are tested against papers and lifetimes elsewhere).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError

from tests.cli_helpers import finish

try:  # the shared transaction generator of the backend suite (same folder)
    from .test_backends import make_transactions
except ImportError:
    from test_backends import make_transactions

CVM = [sys.executable, "-m", "cvm.cli"]

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _master_json(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as resp:
        return json.loads(resp.read())


def _duckdb_run(src: Path, tmp_path: Path, env: dict) -> subprocess.Popen:
    """``cvm run SRC`` on DuckDB (the reference) started as its own process, to duck.parquet."""
    return subprocess.Popen([*CVM, "run", str(src), "--out", str(tmp_path / "duck.parquet"), "--model", "bgnbd",
                             "--workspace", str(tmp_path / "ws.duckdb")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone master and one worker (1 core, 1 GB) on 127.0.0.1; yields the ports."""
    pyspark = pytest.importorskip("pyspark")
    from cvm.data.spark.session import java_available

    if not java_available():
        pytest.skip("no Java runtime for Spark")
    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    logs = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    port, web, worker_port, worker_web = (_free_port() for _ in range(4))
    procs = []

    def start(name: str, args: list[str]) -> None:
        out = open(logs / f"{name}.log", "wb")
        procs.append(subprocess.Popen([str(spark_class), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True))

    try:
        start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                         "--webui-port", str(web)])
        start("worker", ["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
                         "--port", str(worker_port), "--webui-port", str(worker_web), "--cores", "1", "--memory", "1g",
                         "--work-dir", str(logs / "work")])
        deadline = time.monotonic() + 120
        while True:
            try:
                if _master_json(web).get("aliveworkers", 0) >= 1:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the standalone cluster did not start: " + (logs / "master.log").read_text()[-2000:]
                            + (logs / "worker.log").read_text()[-2000:])
            time.sleep(1)
        yield {"port": port, "web": web, "logs": logs}
    finally:
        for p in reversed(procs):  # only the processes this fixture started, by their own group
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.mark.spark
def test_cli_on_standalone_cluster_equals_duckdb(cluster, tmp_path):
    """`cvm run --engine spark --master spark://…` as a process: the app FINISHED on the master, every DuckDB
    column present, CLV within 1e-9 relative, the same ranks and tiers, and no Spark start-up lines."""
    tx = make_transactions(seed=3, customers=300)
    src = tmp_path / "tx.csv"
    tx.to_csv(src, index=False)
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYSPARK_PYTHON", None)  # the executors must not need Python (Arrow, no Python UDFs)
    duck = _duckdb_run(src, tmp_path, env)  # runs while Spark starts
    out = tmp_path / "spark.parquet"
    spark = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--master", f"spark://127.0.0.1:{cluster['port']}",
                            "--name", "cvm-cluster-test", "--conf", "spark.executor.memory=512m",
                            "--conf", "spark.cores.max=1", "--model", "bgnbd", "--out", str(out)],
                           env=env, capture_output=True, text=True, timeout=600)
    duck = finish(duck)
    assert duck.returncode == 0, duck.stderr
    assert spark.returncode == 0, spark.stderr
    assert "Setting default log level" not in spark.stderr and "WARN " not in spark.stderr, spark.stderr
    assert "300 customers valued" in spark.stdout

    state = _master_json(cluster["web"])
    apps = [a for a in state.get("completedapps", []) if a["name"] == "cvm-cluster-test"]
    assert apps and apps[0]["state"] == "FINISHED", state
    assert apps[0]["cores"] == 1  # it ran on the worker's core, not in local mode

    d = pd.read_parquet(tmp_path / "duck.parquet").set_index("customer_id").sort_index()
    s = pd.read_parquet(out).set_index("customer_id").sort_index()
    assert [c for c in d.columns if c not in s.columns] == []
    assert list(s.index) == list(d.index)
    for col in d.columns:
        if col == "run_id":
            continue
        if d[col].dtype.kind == "f":
            np.testing.assert_allclose(s[col].to_numpy(float), d[col].to_numpy(float), rtol=1e-9, atol=0, err_msg=col)
        else:
            assert list(s[col].astype(str)) == list(d[col].astype(str)), col
    assert (s["value_tier"] == d["value_tier"]).all() and (s["rank"] == d["rank"]).all()


def test_out_formats_tables_and_uris():
    """--out: Excel refused by name, .csv is CSV, a qualified name is a table, a URI stays a Parquet path."""
    from cvm.data.spark.output import is_table_source as _is_table_source
    from cvm.data.spark.output import output_format as _output_format

    with pytest.raises(SchemaError, match="cannot write .xlsx"):
        _output_format("scores.xlsx", None)
    assert _output_format("scores.csv", None) == "csv"
    assert _output_format("main.sales.scores", None) == "table"
    assert _output_format("sales.scores", None) == "table"
    assert _output_format("s3a://bucket/x", None) == "parquet"
    assert _output_format("dbfs:/mnt/x.csv", None) == "csv"
    assert _output_format("scores", None) == "parquet"
    assert _output_format("out/scores.parquet", None) == "parquet"
    assert _is_table_source("main.sales.transactions") and not _is_table_source("tx.parquet")
    assert not _is_table_source("abfss://c@a.dfs.core.windows.net/tx")


def test_cli_refuses_excel_before_spark_starts(tmp_path):
    src = tmp_path / "tx.csv"
    make_transactions(seed=1, customers=5).to_csv(src, index=False)
    started = time.monotonic()
    done = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--out", str(tmp_path / "x.xlsx")],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode != 0 and "cannot write .xlsx" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.xlsx").exists() and time.monotonic() - started < 30


def test_replace_output_swaps_only_after_a_good_write(tmp_path):
    """The new output is written aside and swapped in; a failed write leaves the old output as it was."""
    from cvm.data.spark.output import replace_output

    out = tmp_path / "scores.parquet"

    def write(marker: str):
        def go(target: str) -> None:
            Path(target).mkdir()
            (Path(target) / "part-0").write_text(marker)
        return go

    replace_output(write("one"), str(out), "parquet")
    replace_output(write("two"), str(out), "parquet")  # the same command twice
    assert (out / "part-0").read_text() == "two"

    def fails(target: str) -> None:
        Path(target).mkdir()
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError):
        replace_output(fails, str(out), "parquet")
    assert (out / "part-0").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # nothing left aside


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A local Spark Connect server (spark-submit of SparkConnectServer, local[2]) on a free port."""
    pyspark = pytest.importorskip("pyspark")
    pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect] (pip install 'cvm[spark-connect]')")
    from cvm.data.spark.session import java_available

    if not java_available():
        pytest.skip("no Java runtime for Spark")
    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("spark-connect")
    port = _free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    log = open(logs / "server.log", "wb")
    proc = subprocess.Popen(
        [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--name", "cvm-connect-test", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.ui.enabled=false"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"Spark Connect server started" not in (logs / "server.log").read_bytes():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the Spark Connect server did not start: " + (logs / "server.log").read_text()[-2000:])
            time.sleep(1)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.spark
def test_cli_over_spark_connect_equals_duckdb(connect_server, tmp_path):
    """`cvm run --master sc://…`: the whole path runs without sparkContext (Connect refuses it), same output as DuckDB."""
    tx = make_transactions(seed=4, customers=120)
    src = tmp_path / "tx.parquet"
    tx.to_parquet(src)
    env = {**os.environ, "NO_COLOR": "1"}
    duck = _duckdb_run(src, tmp_path, env)  # runs while Spark works
    env = {**env}
    env["CVM_SPARK_MASTER"] = f"sc://127.0.0.1:{connect_server}"  # the environment route to the master
    out = tmp_path / "spark.parquet"
    spark = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--model", "bgnbd", "--out", str(out)],
                           env=env, capture_output=True, text=True, timeout=600)
    duck = finish(duck)
    assert duck.returncode == 0, duck.stderr
    assert spark.returncode == 0, spark.stderr
    assert "WARN" not in spark.stderr, spark.stderr
    d = pd.read_parquet(tmp_path / "duck.parquet").set_index("customer_id").sort_index()
    s = pd.read_parquet(out).set_index("customer_id").sort_index()
    assert [c for c in d.columns if c not in s.columns] == [] and list(s.index) == list(d.index)
    np.testing.assert_allclose(s["clv"].to_numpy(float), d["clv"].to_numpy(float), rtol=1e-9, atol=0)
    assert (s["value_tier"] == d["value_tier"]).all() and (s["rank"] == d["rank"]).all()
    assert (s["lifecycle_stage"] == d["lifecycle_stage"]).all()


@pytest.mark.spark
def test_qualified_table_name_is_read_as_a_table(spark, tmp_path):
    """`global_temp.cvm_tx` (a qualified name) is read with spark.table, not as a path; same scores as the file."""
    from cvm.service.spark import run_spark_pipeline

    tx = make_transactions(seed=8, customers=60)
    src = tmp_path / "tx.parquet"
    tx.to_parquet(src)
    spark.read.parquet(str(src)).createOrReplaceGlobalTempView("cvm_tx")
    by_table = run_spark_pipeline("global_temp.cvm_tx", str(tmp_path / "t.parquet"), spark=spark, aggregates=False)
    by_path = run_spark_pipeline(str(src), str(tmp_path / "p.parquet"), spark=spark, aggregates=False)
    assert by_table.n_transactions == by_path.n_transactions == len(tx)
    a = pd.read_parquet(tmp_path / "t.parquet").set_index("customer_id").sort_index()
    b = pd.read_parquet(tmp_path / "p.parquet").set_index("customer_id").sort_index()
    assert list(a.index) == list(b.index)
    np.testing.assert_array_equal(a["clv"].to_numpy(float), b["clv"].to_numpy(float))


def test_cli_refuses_a_conf_that_is_not_key_value(tmp_path):
    src = tmp_path / "tx.csv"
    make_transactions(seed=1, customers=5).to_csv(src, index=False)
    done = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--out", str(tmp_path / "s.parquet"),
                           "--conf", "spark.executor.memory"], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode != 0 and "is not key=value" in done.stderr and "Traceback" not in done.stderr


class _Conf:
    """Spark settings as a session exposes them (``conf.get(key, default)``): the input of the sizing rules."""

    def __init__(self, settings: dict) -> None:
        self.conf = self
        self.settings = settings

    def get(self, key, default=None):
        return self.settings.get(key, default)


def test_shuffle_partitions_come_from_the_data_and_the_cores():
    """One partition per 2 M transactions, at least the cores: ceil(25e6 / 2e6) = 13; 1,000 rows on 2 cores -> 2."""
    from cvm.data.spark.session import auto_shuffle_partitions, default_parallelism

    two = _Conf({"spark.master": "local[2]"})
    assert default_parallelism(two) == 2
    assert auto_shuffle_partitions(two, 1_000) == 2 and auto_shuffle_partitions(two, 25_000_000) == 13
    assert auto_shuffle_partitions(two, 4_000_000) == 2 and auto_shuffle_partitions(two, 4_000_001) == 3
    cluster = _Conf({"spark.master": "spark://h:7077", "spark.cores.max": "32"})
    assert default_parallelism(cluster) == 32 and auto_shuffle_partitions(cluster, 25_000_000) == 32
    yarn = _Conf({"spark.master": "yarn", "spark.executor.instances": "4", "spark.executor.cores": "5"})
    assert default_parallelism(yarn) == 20
    assert default_parallelism(_Conf({"spark.master": "k8s://x"})) == 8  # nothing said: 8
    assert default_parallelism(_Conf({"spark.master": "local[*]", "spark.default.parallelism": "6"})) == 6


def test_the_master_comes_from_the_option_then_the_environment(monkeypatch):
    from cvm.data.spark.session import default_master

    monkeypatch.delenv("CVM_SPARK_MASTER", raising=False)
    monkeypatch.delenv("MASTER", raising=False)
    assert default_master() == "local[*]"
    monkeypatch.setenv("MASTER", "spark://m:7077")
    assert default_master() == "spark://m:7077"
    monkeypatch.setenv("CVM_SPARK_MASTER", "yarn")
    assert default_master() == "yarn"  # cvm's own variable wins over $MASTER


@pytest.mark.spark
def test_a_run_sets_utc_and_arrow_and_gives_the_session_its_settings_back(spark, tmp_path):
    """A notebook's session in another zone with Arrow off: the run counts days in UTC (the same scores as
    under UTC) with Arrow on, and the session has its own settings again afterwards."""
    from cvm.service.spark import run_spark_pipeline

    tx = make_transactions(seed=9, customers=40)
    src = tmp_path / "tx.parquet"
    tx.assign(ts=tx["ts"].dt.tz_localize("UTC")).to_parquet(src)  # instants: the session's zone could move their days
    keys = ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled", "spark.sql.shuffle.partitions")
    before = {k: spark.conf.get(k) for k in keys}
    try:
        spark.conf.set("spark.sql.session.timeZone", "Pacific/Kiritimati")  # UTC+14: a day shift would show
        spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "false")
        spark.conf.set("spark.sql.shuffle.partitions", "7")
        shifted = run_spark_pipeline(str(src), str(tmp_path / "k.parquet"), spark=spark, aggregates=False,
                                     time_unit="day")
        assert {k: spark.conf.get(k) for k in keys} == {"spark.sql.session.timeZone": "Pacific/Kiritimati",
                                                        "spark.sql.execution.arrow.pyspark.enabled": "false",
                                                        "spark.sql.shuffle.partitions": "7"}
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    plain = run_spark_pipeline(str(src), str(tmp_path / "u.parquet"), spark=spark, aggregates=False, time_unit="day")
    assert shifted.shuffle_partitions == plain.shuffle_partitions == 2  # from the data and the 2 cores, not 7
    assert shifted.as_of == plain.as_of
    a = pd.read_parquet(tmp_path / "k.parquet").set_index("customer_id").sort_index()
    b = pd.read_parquet(tmp_path / "u.parquet").set_index("customer_id").sort_index()
    for col in ("frequency", "recency", "T", "clv"):
        np.testing.assert_array_equal(a[col].to_numpy(float), b[col].to_numpy(float), err_msg=col)
