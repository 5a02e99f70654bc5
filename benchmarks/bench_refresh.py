"""A nightly refresh of a served workspace: lookup latency while ``cvm ingest`` + ``cvm score`` run beside ``cvm serve``.

What it does (loopback only, stops by itself):

1. makes (once, kept in ``--data``) the simulated transactions of ``--customers`` customers
   (default 1,000,000, :func:`cvm.data.simulate.write_transactions`, seed 1) and a nightly
   file of ``--new`` new customers (two purchases each, after the last date of the log);
2. builds the workspace: ``cvm ingest`` + ``cvm score`` (timed), then starts ``cvm serve``
   on a free port and makes a viewer token with ``cvm token create`` while it runs;
3. ``--clients`` threads look customers up (``GET /api/customers/{id}``, keep-alive) the
   whole time; latency p50/p99 and errors are kept per phase:

   * ``idle``: nothing else runs;
   * ``refresh (generations)``: the chosen design, ``cvm ingest NIGHTLY`` and ``cvm score``
     as their own processes beside the server: each writer copies ``cvm.duckdb``, works on the
     copy and publishes it; the server moves to the new generation at its next request;
   * ``refresh in the server``: the same work run inside the server process (upload + score
     job through the API), which is what the other design (the server owns the workspace,
     the command line sends it its commands) costs the lookups;

4. times the small writes: ``cvm token create`` as a whole process while the server runs,
   one token written to the access store (SQLite, WAL) in this process, and an empty
   change published as a new DuckDB generation (what a small write would cost if it went
   through the generations: the copy of the whole file).

Usage: ``python benchmarks/bench_refresh.py [--customers N] [--new M] [--clients C] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import report  # noqa: E402


def cvm(*args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    """``cvm ARGS`` as its own process; (wall seconds, the finished process)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True)
    took = time.perf_counter() - start
    if check and done.returncode != 0:
        raise RuntimeError(f"cvm {' '.join(args)} failed: {done.stderr[-2000:]}")
    return took, done


def data_files(folder: Path, customers: int, new: int) -> tuple[Path, Path, str]:
    """The transaction log (Parquet), the nightly file (CSV) and the date after both, as text."""
    import duckdb

    log = folder / f"tx-{customers}-seed1.parquet"
    if not log.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = log.with_name(log.name + ".partial")
        code = ("import sys; from cvm.data.simulate import write_transactions; "
                "write_transactions(sys.argv[1], n_customers=int(sys.argv[2]), seed=1, format='parquet')")
        print(f"making {log} …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", code, str(partial), str(customers)], check=True)
        os.replace(partial, log)
    con = duckdb.connect()
    last = con.execute(f"SELECT max(ts)::DATE FROM read_parquet('{log}')").fetchall()[0][0]
    nightly = folder / f"nightly-{customers}-{new}.csv"
    if not nightly.exists():
        con.execute(f"""COPY (SELECT 'NEW' || lpad(CAST(i AS VARCHAR), 7, '0') AS customer_id,
                              DATE '{last}' + INTERVAL (1 + (i * 7 + k) % 20) DAY AS ts,
                              round(5 + (hash(i, k) % 9000) / 100.0, 2) AS amount, 'web' AS channel
                       FROM range({new}) a(i), range(2) b(k)) TO '{nightly}' (HEADER, DELIMITER ',')""")
    return log, nightly, str(last)


class Lookups:
    """``clients`` threads looking customers up; latencies and errors are kept per phase."""

    def __init__(self, url: str, token: str, ids: list[str], clients: int) -> None:
        self.url, self.token, self.ids = url, token, ids
        self.phase = "warm-up"
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(clients)]

    def start(self) -> "Lookups":
        for t in self.threads:
            t.start()
        return self

    def _run(self, k: int) -> None:
        import random

        rng = random.Random(k)
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as client:
            while not self.stop.is_set():
                cid = self.ids[rng.randrange(len(self.ids))]
                phase = self.phase
                start = time.perf_counter()
                try:
                    answer = client.get(f"/api/customers/{cid}")
                    ok = answer.status_code == 200
                    why = f"{answer.status_code} {answer.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{type(exc).__name__}"
                took = time.perf_counter() - start
                self.latency.setdefault(phase, []).append(took)
                if not ok:
                    self.errors.setdefault(phase, []).append(why)

    def summary(self, phase: str) -> dict[str, float]:
        values = sorted(self.latency.get(phase, []))
        if not values:
            return {"lookups": 0}
        pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000  # noqa: E731
        return {"lookups": len(values), "p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2),
                "max_ms": round(values[-1] * 1000, 1), "errors": len(self.errors.get(phase, [])),
                "first_error": (self.errors.get(phase) or [None])[0]}

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def wait_served(url: str, token: str, customer_id: str, timeout: float = 1800) -> float:
    """Seconds until ``customer_id`` is served (a new valuation reached the server)."""
    start = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while time.perf_counter() - start < timeout:
            if client.get(f"/api/customers/{customer_id}").status_code == 200:
                return time.perf_counter() - start
            time.sleep(0.1)
    raise RuntimeError(f"{customer_id} was not served within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000, help="new customers in the nightly file")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CVM_BENCH_DATA", "bench-results/data")))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    log, nightly, last = data_files(args.data, args.customers, args.new)
    import datetime as dt

    after = dt.date.fromisoformat(last)
    as_of = [str(after + dt.timedelta(days=d)) for d in (0, 30, 60)]
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="cvm-bench-refresh-"))
    ws = work / "ws"
    lookups = None
    t_ingest, _ = cvm("ingest", str(log), "--workspace", str(ws), "--json")
    t_score, _ = cvm("score", "--as-of", as_of[0], "--workspace", str(ws), "--json")
    size_mb = (ws / "cvm.duckdb").stat().st_size / 2**20
    rows.append({"name": "build", "customers": args.customers, "ingest_s": round(t_ingest, 1),
                 "score_s": round(t_score, 1), "cvm_duckdb_mb": round(size_mb)})
    _, admin = cvm("token", "create", "--role", "admin", "--name", "bench admin", "--workspace", str(ws), "--json")
    admin_token = json.loads(admin.stdout)["token"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "cvm.cli", "serve", "--port", str(port), "--workspace", str(ws)],
                              stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("w"), start_new_session=True)
    try:
        _wait_health(url, server, work)
        # a small write while the server runs: a whole cvm process, and one token in the access store
        token_runs = [cvm("token", "create", "--role", "viewer", "--name", f"bench {i}", "--workspace", str(ws),
                          "--json") for i in range(3)]
        viewer = json.loads(token_runs[-1][1].stdout)["token"]
        from cvm.web import access_store, auth

        con = access_store.connect(ws)
        store = []
        for i in range(200):
            start = time.perf_counter()
            auth.store_token(con, "viewer", f"in-process {i}")
            store.append(time.perf_counter() - start)
        con.close()
        from cvm.data import Workspace

        start = time.perf_counter()
        Workspace.open(ws).close()  # an empty change published as a generation: the copy of the whole file
        t_generation = time.perf_counter() - start
        rows.append({"name": "small writes", "cvm_token_create_s": round(statistics.median(t for t, _ in token_runs), 2),
                     "access_store_write_ms": round(statistics.median(store) * 1000, 2),
                     "empty_generation_s": round(t_generation, 2), "cvm_duckdb_mb": round(size_mb)})

        ids = _existing_ids(ws, 5000)
        wait_served(url, viewer, ids[0])
        lookups = Lookups(url, viewer, ids, args.clients).start()
        time.sleep(10)  # the latest run loads into the server's memory
        lookups.phase = "idle"
        time.sleep(args.idle_seconds)

        # design (b), chosen: the refresh in its own processes, the server reads the published generations
        lookups.phase = "refresh (generations)"
        start = time.perf_counter()
        t_nightly, _ = cvm("ingest", str(nightly), "--workspace", str(ws), "--json")
        t_rescore, _ = cvm("score", "--as-of", as_of[1], "--workspace", str(ws), "--json")
        t_refresh = time.perf_counter() - start
        t_seen = wait_served(url, viewer, "NEW0000001")
        time.sleep(5)
        rows.append({"name": "refresh (generations)", "customers": args.customers, "new_customers": args.new,
                     "ingest_s": round(t_nightly, 1), "score_s": round(t_rescore, 1), "refresh_s": round(t_refresh, 1),
                     "served_after_s": round(t_seen, 2), **lookups.summary("refresh (generations)")})
        lookups.phase = "idle after"
        time.sleep(5)

        # design (a), measured: the same work inside the server process (what a server that owns the workspace does)
        second = nightly.with_name("nightly-b.csv")
        second.write_text(nightly.read_text().replace("NEW", "NEB"))
        lookups.phase = "refresh in the server"
        start = time.perf_counter()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=600) as client:
            with second.open("rb") as fh:
                job = client.post("/api/uploads", files={"file": (second.name, fh, "text/csv")}).json()
            _wait_job(client, job["id"])
            job = client.post("/api/jobs/score", json={"as_of": as_of[2]}).json()
            _wait_job(client, job["id"])
        t_inside = time.perf_counter() - start
        t_seen = wait_served(url, viewer, "NEB0000001")
        time.sleep(5)
        rows.append({"name": "refresh in the server", "customers": args.customers, "new_customers": args.new,
                     "refresh_s": round(t_inside, 1), "served_after_s": round(t_seen, 2),
                     **lookups.summary("refresh in the server")})
        lookups.finish()
        rows.insert(1, {"name": "lookups idle", "clients": args.clients, **lookups.summary("idle")})
        rows.append({"name": "load", "loadavg_1min": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()})
    finally:
        if lookups is not None:
            lookups.finish()
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        report(rows)
    else:
        for row in rows:
            print(json.dumps(row))


def _existing_ids(ws: Path, n: int) -> list[str]:
    from cvm.data import Workspace

    with Workspace.open(ws, read_only=True) as reader:
        return reader.frame(f"SELECT customer_id FROM scores USING SAMPLE {int(n)} ROWS")["customer_id"].tolist()


def _wait_job(client: httpx.Client, job_id: str) -> None:
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            if job["status"] == "failed":
                raise RuntimeError(f"job failed: {job['error']}")
            return
        time.sleep(0.2)


def _wait_health(url: str, server: subprocess.Popen, work: Path) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError("cvm serve exited: " + (work / "serve.log").read_text()[-2000:])
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("cvm serve did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
