"""Load benchmark of the web app: customer-detail lookups on a million scored customers.

What it does (loopback only, stops by itself):

1. builds a workspace whose ``scores`` table holds one run of N customers
   (default 1,000,000), synthesised directly with DuckDB SQL in the layout of
   :mod:`cvm.data.scores` (scoring a million customers with the models is a
   different benchmark);
2. starts ``cvm.web`` with uvicorn in a subprocess on 127.0.0.1 and a free port;
3. runs C concurrent clients (default 50), each in a closed loop of
   ``GET /api/customers/{id}`` with a bearer token and a random customer id,
   until R requests (default 20,000) are done or T seconds (default 30) pass;
4. prints p50 / p95 / p99 latency, throughput, the error count, the machine's load
   average and the server's memory (JSON with ``--json``).

The server keeps the latest run in memory (:mod:`cvm.web.latest_scores`), loaded
in the background at start; the warm-up requests run while it loads.

The clients are asyncio coroutines speaking HTTP/1.1 keep-alive over raw
sockets, so the load generator costs little CPU next to the server.

Usage: ``python benchmarks/web_load.py [--customers N] [--clients C] [--requests R] [--seconds T]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_CODE = """
import sys, uvicorn
from cvm.web.app import create_app
uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False)
"""


def build_workspace(folder: Path, n_customers: int) -> str:
    """A workspace with ``n_customers`` synthetic scores in one run; returns a viewer token."""
    from cvm.data import Workspace
    from cvm.data.scores import RUN_COLUMNS, SCORE_COLUMNS, _ensure_tables
    from cvm.web.auth import create_token

    ws = Workspace.open(folder)
    con = ws.con
    _ensure_tables(con)
    run_id = "bench-run"
    exprs = {
        "run_id": f"'{run_id}'",
        "as_of": "TIMESTAMP '2024-01-01'",
        "customer_id": "'C' || lpad(CAST(i AS VARCHAR), 7, '0')",
        "frequency": "CAST(hash(i) % 20 AS DOUBLE)",
        "recency": "CAST(hash(i + 1) % 52 AS DOUBLE)",
        "T": "52.0",
        "monetary_value": "10 + (hash(i + 2) % 10000) / 100.0",
        "n_transactions": "CAST(hash(i) % 20 + 1 AS DOUBLE)",
        "first_purchase": "TIMESTAMP '2023-01-01'",
        "last_purchase": "TIMESTAMP '2023-12-01'",
        "historic_value": "(hash(i + 3) % 100000) / 100.0",
        "margin_rate": "0.3",
        "probability_alive": "(hash(i + 4) % 1000) / 1000.0",
        "expected_purchases": "(hash(i + 5) % 500) / 100.0",
        "expected_spend": "10 + (hash(i + 6) % 5000) / 100.0",
        "clv": "(hash(i + 7) % 200000) / 100.0",
        "clv_low": "(hash(i + 7) % 200000) / 200.0",
        "clv_high": "(hash(i + 7) % 200000) / 66.0",
        "residual_value": "(hash(i + 8) % 1000) / 10.0",
        "rank": "i + 1",
        "percentile": f"1 - i / {n_customers}.0",
        "value_tier": "CASE WHEN i % 20 = 0 THEN 'platinum' WHEN i % 5 = 0 THEN 'gold' ELSE 'silver' END",
        "lifecycle_stage": "CASE WHEN i % 3 = 0 THEN 'at_risk' ELSE 'active' END",
        "planned_cost": "0.0",
        "max_investment": "(hash(i + 9) % 10000) / 100.0",
    }
    select = ", ".join(f'{exprs.get(c, "NULL")} AS "{c}"' for c in SCORE_COLUMNS)
    con.execute(f"INSERT INTO scores SELECT {select} FROM range({int(n_customers)}) t(i)")
    run = {"run_id": run_id, "as_of": "2024-01-01", "created": "2024-01-01 00:00:00", "model": "synthetic",
           "model_reason": "benchmark", "model_reason_code": "chosen_by_user",
           "model_reason_values": '{"model": "synthetic"}', "horizon": 52, "time_unit": "week", "discount_rate": 0.1, "margin": 0.3,
           "level": 0.9, "n_customers": n_customers, "total_clv": None}
    cols = ", ".join(f'"{c}"' for c in RUN_COLUMNS)
    con.execute(f"INSERT INTO score_runs ({cols}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})",
                [run.get(c) for c in RUN_COLUMNS])
    ws.close()
    return create_token(folder, "viewer", name="benchmark")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(folder), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stderr.read().decode(errors="replace")[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if b"200 OK" in s.recv(1024):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 120 s")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _client(port: int, token: str, n_customers: int, budget: dict, latencies: list, errors: list,
                  deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget["left"] > 0 and time.perf_counter() < deadline:
            budget["left"] -= 1
            cid = f"C{rng.randrange(n_customers):07d}"
            request = (f"GET /api/customers/{cid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()
            started = time.perf_counter()
            try:
                writer.write(request)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors.append(type(exc).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def run_load(port: int, token: str, n_customers: int, clients: int, requests: int, seconds: float):
    latencies: list[float] = []
    errors: list = []
    budget = {"left": requests}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, token, n_customers, budget, latencies, errors, deadline, seed)
                           for seed in range(clients)))
    return latencies, errors, time.perf_counter() - started


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def _rss_mb(pid: int) -> float | None:
    """Resident memory of the server process in MB (Linux /proc), or None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=500, help="requests before measuring (index and caches warm)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cvm-web-load-") as tmp:
        folder = Path(tmp) / "ws"
        t0 = time.perf_counter()
        token = build_workspace(folder, args.customers)
        build_seconds = time.perf_counter() - t0
        port = free_port()
        t0 = time.perf_counter()
        proc = start_server(folder, port)
        start_seconds = time.perf_counter() - t0
        try:
            if args.warmup:
                asyncio.run(run_load(port, token, args.customers, min(args.clients, 10), args.warmup, 30))
            load_before = os.getloadavg()[0]
            latencies, errors, elapsed = asyncio.run(
                run_load(port, token, args.customers, args.clients, args.requests, args.seconds))
            load_after = os.getloadavg()[0]
            server_rss_mb = _rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "customers": args.customers, "clients": args.clients, "requests": len(ms), "errors": len(errors),
        "seconds": round(elapsed, 2), "throughput_per_s": round(len(ms) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(ms[-1], 2) if ms else None,
        "workspace_build_s": round(build_seconds, 1), "server_start_s": round(start_seconds, 1),
        "cpu_count": os.cpu_count(), "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "server_rss_mb": server_rss_mb,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"web load: {result['requests']:,} customer-detail lookups on {args.customers:,} scored customers, "
              f"{args.clients} concurrent clients, {result['seconds']} s ({result['throughput_per_s']}/s)")
        print(f"latency p50 {result['p50_ms']} ms · p95 {result['p95_ms']} ms · p99 {result['p99_ms']} ms · "
              f"max {result['max_ms']} ms · errors {result['errors']}")
        print(f"(workspace built in {result['workspace_build_s']} s, server up in {result['server_start_s']} s, "
              f"{result['cpu_count']} CPUs shared with everything else on this machine, 1-min load average "
              f"{result['load_average_1min'][0]} before / {result['load_average_1min'][1]} after; "
              f"server memory {result['server_rss_mb']} MB)")
    # one row for benchmarks/run.py's table (p50 in the time column, the rest in the notes)
    print("BENCH " + json.dumps({
        "benchmark": f"web: customer-detail lookups, {args.customers:,} scored customers, {args.clients} clients",
        "cvm_s": result["p50_ms"] / 1000.0,
        "notes": f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, "
                 f"{result['throughput_per_s']}/s, {result['requests']:,} requests, {result['errors']} errors",
    }), flush=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
