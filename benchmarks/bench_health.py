"""The data-health summary (cvm.health) on a big simulated workspace.

``--customers`` customers (default 10 M, about 28 M transactions) are written to Parquet by a separate
process and ingested; a scoring run for every customer is then stored from the summary with fixed values
(the model is not what is measured). Timed, each in a fresh process: the ingest alone, the summary of the
data only (what ``cvm ingest`` prints), and the summary with the scoring run (what ``cvm score`` prints).

    PYTHONPATH=src python benchmarks/bench_health.py --customers 10000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peak_memory_mb, report


def case_write(path: str, customers: int) -> dict:
    from cvm.data.simulate import write_transactions

    write_transactions(path, n_customers=int(customers), seed=7, format="parquet")
    return {}


def case_ingest(path: str, work: str) -> dict:
    from cvm.data import Workspace

    start = time.perf_counter()
    with Workspace.open(Path(work) / "ws") as ws:
        report = ws.ingest(Path(path))
        seconds = time.perf_counter() - start
        # a stored run for every customer, with fixed values (one SQL statement; not timed)
        ws.con.execute("CREATE TABLE score_runs AS SELECT 'bench' AS run_id, max(ts) AS as_of, now()::TIMESTAMP AS created, "
                       "'bgnbd' AS model, 'benchmark' AS model_reason, NULL::VARCHAR AS model_reason_code, "
                       "NULL::VARCHAR AS model_reason_values FROM transactions")
        ws.con.execute("CREATE TABLE scores AS SELECT 'bench' AS run_id, customer_id, count(*)::DOUBLE AS n_transactions, "
                       "(count(DISTINCT CAST(ts AS DATE)) - 1)::DOUBLE AS frequency, 10.0 AS T, avg(amount) AS monetary_value, "
                       "sum(amount) * 0.3 AS clv FROM transactions GROUP BY customer_id")
    return {"rows": report.accepted, "ingest_seconds": seconds, "peak_mb": peak_memory_mb()}


def case_health(work: str, scored: str) -> dict:
    from cvm.data import Workspace
    from cvm.health import data_health

    with Workspace.open(Path(work) / "ws") as ws:
        start = time.perf_counter()
        summary = data_health(ws, scored=scored == "1")
        seconds = time.perf_counter() - start
        text = summary.to_text("nl")
    return {"seconds": seconds, "peak_mb": peak_memory_mb(), "lines": len(summary.lines), "text": text}


def _run(name: str, *args) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", name, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, *rest = args.case
        result = {"write": case_write, "ingest": case_ingest, "health": case_health}[name](*rest)
        print(json.dumps(result))
        return
    work = Path(tempfile.mkdtemp(prefix="cvm-bench-health-"))
    try:
        path = work / "tx.parquet"
        _run("write", path, args.customers)
        ingest = _run("ingest", path, work)
        data = _run("health", work, 0)
        scored = _run("health", work, 1)
        print(scored.pop("text"), file=sys.stderr)
        data.pop("text")
        report([{"bench": "health", "customers": args.customers, "transactions": ingest["rows"],
                 "ingest_seconds": round(ingest["ingest_seconds"], 1),
                 "health_data_seconds": round(data["seconds"], 2), "health_data_peak_mb": round(data["peak_mb"]),
                 "health_with_run_seconds": round(scored["seconds"], 2),
                 "health_with_run_peak_mb": round(scored["peak_mb"])}])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
