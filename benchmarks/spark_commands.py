"""``cvm run --engine spark`` as a whole process, in local mode and on a standalone cluster.

    python benchmarks/spark_commands.py --customers 10000000               # local[2] and the cluster
    python benchmarks/spark_commands.py --customers 1000000 --only local    # one quick row

The job is :mod:`bench_commands`'s ``cvm run`` (the same seeded Parquet file made by
:func:`cvm.data.simulate.write_transactions`, seed 1; 12 months, 1 % a month) with
``--engine spark --master M --json``:

- ``local[2]``: the driver JVM runs the tasks (``--conf spark.driver.memory`` as given);
- ``cluster``: a standalone master and one worker (``--worker-cores``, ``--worker-memory``),
  started here with ``spark-class`` from the pip pyspark and bound to 127.0.0.1, stopped after;
  the executor runs in the worker's JVM child, the command's Python is the driver (client mode).

Reported per row (one ``BENCH`` JSON line each): wall time of the command (start to exit,
imports and JVM start included); peak resident memory sampled every 0.2 s of the command's
process tree (Python driver + driver JVM) and, on the cluster, of the master, worker and
executor JVMs, with the peak of their sum; the rows that reached the driver (``driver_rows``:
distinct histories + distinct spend pairs) against the customers; the run's own step times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench_commands import HORIZON, YEARLY, data_file
from spark_scale import rss_table, tree_mb

HERE = Path(__file__).resolve().parent


class Peaks:
    """Peak resident MB of named process trees and of their sum, sampled in a background thread."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        self.roots, self.interval = roots, interval
        self.peak = {name: 0.0 for name in roots} | {"sum": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            children, rss = rss_table()
            now = {name: tree_mb(pid, children, rss) for name, pid in self.roots.items()}
            for name, mb in now.items():
                self.peak[name] = max(self.peak[name], mb)
            self.peak["sum"] = max(self.peak["sum"], sum(now.values()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "Peaks":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A standalone master and one worker on 127.0.0.1, from the pip pyspark's ``spark-class``."""

    def __init__(self, cores: int, memory: str, folder: Path) -> None:
        import pyspark

        home = Path(pyspark.__file__).parent
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
        self.port, self.web = _free_port(), _free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        for name, args in (
            ("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(self.port),
                        "--webui-port", str(self.web)]),
            ("worker", ["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{self.port}", "--host", "127.0.0.1",
                        "--port", str(_free_port()), "--webui-port", str(_free_port()), "--cores", str(cores),
                        "--memory", memory, "--work-dir", str(folder / "work")]),
        ):
            log = open(folder / f"{name}.log", "wb")
            self.procs[name] = subprocess.Popen([str(home / "bin" / "spark-class"), *args], env=env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while self.state().get("aliveworkers", 0) < 1:
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the standalone cluster did not start; logs in " + str(folder))
            time.sleep(1)

    def state(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web}/json/", timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            return {}

    def stop(self) -> None:
        for proc in self.procs.values():  # only the processes started here, by their own group
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def cvm_spark_command(path: Path, out: Path, master: str, conf: list[str], name: str) -> list[str]:
    cvm = Path(sys.executable).with_name("cvm")
    head = [str(cvm)] if cvm.exists() else [sys.executable, "-m", "cvm.cli"]
    return head + ["run", str(path), "--out", str(out), "--time-unit", "month", "--horizon", str(HORIZON),
                   "--discount-rate", str(YEARLY), "--engine", "spark", "--master", master, "--name", name,
                   *[w for c in conf for w in ("--conf", c)], "--json"]


def run_one(cmd: list[str], extra_roots: dict[str, int]) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Peaks({"command": proc.pid, **extra_roots}) as peaks:
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return {"wall_s": round(seconds, 1), "peak_mb": {k: round(v) for k, v in peaks.peak.items()},
            "result": json.loads(stdout)}


def shown(cmd: list[str], path: Path, out: Path) -> str:
    words = ["cvm" if w.endswith("/cvm") or w == "cvm.cli" else w for w in cmd]
    if words[:2] == [sys.executable, "-m"]:
        words = words[2:]
    return " ".join(path.name if w == str(path) else out.name if w == str(out) else w for w in words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CVM_BENCH_DATA", HERE.parent / "bench-results" / "data")))
    parser.add_argument("--only", choices=["local", "cluster"], help="one row only")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory (local mode: the tasks run there)")
    parser.add_argument("--worker-cores", type=int, default=2)
    parser.add_argument("--worker-memory", default="6g")
    parser.add_argument("--executor-memory", default="4g")
    args = parser.parse_args()

    path = data_file(args.data, args.customers, ".parquet")
    with tempfile.TemporaryDirectory(prefix="cvm-spark-bench-") as tmp:
        work = Path(tmp)
        rows = []
        if args.only in (None, "local"):
            out = work / "local.parquet"
            cmd = cvm_spark_command(path, out, "local[2]", [f"spark.driver.memory={args.driver_memory}"], "cvm-bench-local")
            row = run_one(cmd, {})
            rows.append({"benchmark": shown(cmd, path, out), "master": "local[2]", **row})
        if args.only in (None, "cluster"):
            (work / "cluster").mkdir()
            cluster = Cluster(args.worker_cores, args.worker_memory, work / "cluster")
            try:
                out = work / "cluster.parquet"
                master = f"spark://127.0.0.1:{cluster.port}"
                cmd = cvm_spark_command(path, out, master, [f"spark.driver.memory={args.driver_memory}",
                                                            f"spark.executor.memory={args.executor_memory}"],
                                        "cvm-bench-cluster")
                roots = {name: proc.pid for name, proc in cluster.procs.items()}
                row = run_one(cmd, roots)
                apps = [a for a in cluster.state().get("completedapps", []) if a["name"] == "cvm-bench-cluster"]
                row["app_state"] = apps[0]["state"] if apps else None
                row["benchmark"] = shown(cmd, path, out).replace(master, "spark://127.0.0.1:PORT")
                rows.append({"master": "standalone (master + 1 worker, "
                                       f"{args.worker_cores} cores, {args.worker_memory})", **row})
            finally:
                cluster.stop()
        for row in rows:
            result = row.pop("result")
            row.update({k: result.get(k) for k in ("n_transactions", "n_customers", "driver_rows", "unique_histories",
                                                   "spend_rows", "shuffle_partitions", "seconds")})
            row["load"] = os.getloadavg()
            print("BENCH " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
