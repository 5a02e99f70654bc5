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
    duck = subprocess.run([*CVM, "run", str(src), "--out", str(tmp_path / "duck.parquet"), "--model", "bgnbd",
                           "--workspace", str(tmp_path / "ws.duckdb")], env=env, capture_output=True, text=True)
    assert duck.returncode == 0, duck.stderr
    out = tmp_path / "spark.parquet"
    spark = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--master", f"spark://127.0.0.1:{cluster['port']}",
                            "--name", "cvm-cluster-test", "--conf", "spark.executor.memory=512m",
                            "--conf", "spark.cores.max=1", "--model", "bgnbd", "--out", str(out)],
                           env=env, capture_output=True, text=True, timeout=600)
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
    duck = subprocess.run([*CVM, "run", str(src), "--out", str(tmp_path / "duck.parquet"), "--model", "bgnbd",
                           "--workspace", str(tmp_path / "ws.duckdb")], env=env, capture_output=True, text=True)
    assert duck.returncode == 0, duck.stderr
    env["CVM_SPARK_MASTER"] = f"sc://127.0.0.1:{connect_server}"  # the environment route to the master
    out = tmp_path / "spark.parquet"
    spark = subprocess.run([*CVM, "run", str(src), "--engine", "spark", "--model", "bgnbd", "--out", str(out)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert spark.returncode == 0, spark.stderr
    assert "WARN" not in spark.stderr, spark.stderr
    d = pd.read_parquet(tmp_path / "duck.parquet").set_index("customer_id").sort_index()
    s = pd.read_parquet(out).set_index("customer_id").sort_index()
    assert [c for c in d.columns if c not in s.columns] == [] and list(s.index) == list(d.index)
    np.testing.assert_allclose(s["clv"].to_numpy(float), d["clv"].to_numpy(float), rtol=1e-9, atol=0)
    assert (s["value_tier"] == d["value_tier"]).all() and (s["rank"] == d["rank"]).all()
    assert (s["lifecycle_stage"] == d["lifecycle_stage"]).all()


@pytest.mark.spark
def test_qualified_table_name_is_read_as_a_table(tmp_path):
    """`global_temp.cvm_tx` (a qualified name) is read with spark.table, not as a path; same scores as the file."""
    pytest.importorskip("pyspark")
    from cvm.service.spark import run_spark_pipeline
    from cvm.data.spark.session import java_available, spark_session

    if not java_available():
        pytest.skip("no Java runtime for Spark")
    spark = spark_session("local[2]")
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
