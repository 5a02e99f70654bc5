"""Data layer at scale; each case runs in a fresh process so memory and caches don't carry over.

1. ``parquet``: ``--customers`` customers with about 2.8 transactions each (default 10 M
   customers, ~28 M transactions) -> validated ingest into the workspace + summary in DuckDB;
   wall time, rows per second and peak memory (the target is <= 60 s and <= 4 GB on 2 cores).
   The file is written by a separate process first, so the generator's memory is not counted.
2. ``csv``: ``--csv-transactions`` transactions (default 2.5 M) from one CSV file:
   * lifetimes' ``summary_data_from_transaction_data`` (pandas.read_csv + summary) against
     cvm's function of the same name and signature, which DuckDB streams from the file;
   * cvm's validated ingest (quarantine, line numbers, dedup) + summary, for reference.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import peak_memory_mb, report


def case_write(path: str, customers: int, seed: int) -> dict:
    from cvm.data.simulate import write_transactions

    fmt = "parquet" if path.endswith(".parquet") else "csv"
    write_transactions(path, n_customers=customers, seed=seed, format=fmt)
    return {}


def case_parquet(path: str, work: str) -> dict:
    import duckdb

    from cvm.data import Workspace

    n_tx = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    start = time.perf_counter()
    ws = Workspace.open(Path(work) / "ws")
    ws.ingest(Path(path), kind="transactions")
    t_ingest = time.perf_counter() - start
    summary = ws.summary(time_unit="week")
    total = time.perf_counter() - start
    ws.close()
    return {"n_tx": n_tx, "seconds": total, "ingest": t_ingest, "customers": len(summary), "peak_mb": peak_memory_mb()}


def case_csv_summary(path: str) -> dict:
    import duckdb  # noqa: F401  (imported before the clock, as pandas is for lifetimes)

    from cvm.data.summary import summary_data_from_transaction_data

    start = time.perf_counter()
    s = summary_data_from_transaction_data(path, "customer_id", "ts", monetary_value_col="amount", freq="D")
    return {"seconds": time.perf_counter() - start, "customers": len(s), "peak_mb": peak_memory_mb()}


def case_csv_lifetimes(path: str) -> dict:
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    tx = pd.read_csv(path, parse_dates=["ts"])
    s = summary_data_from_transaction_data(tx, "customer_id", "ts", monetary_value_col="amount", freq="D")
    return {"seconds": time.perf_counter() - start, "customers": len(s), "peak_mb": peak_memory_mb()}


def case_csv_ingest(path: str, work: str) -> dict:
    from cvm.data import Workspace

    start = time.perf_counter()
    ws = Workspace.open(Path(work) / "ws-csv")
    ws.ingest(Path(path), kind="transactions")
    summary = ws.summary(time_unit="day")
    seconds = time.perf_counter() - start
    ws.close()
    return {"seconds": seconds, "customers": len(summary), "peak_mb": peak_memory_mb()}


CASES = {"write": case_write, "parquet": case_parquet, "csv_summary": case_csv_summary,
         "csv_lifetimes": case_csv_lifetimes, "csv_ingest": case_csv_ingest}


def run_case(name: str, *args) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", name, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"case {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--csv-transactions", type=int, default=2_500_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CSV summary (medians)")
    parser.add_argument("--skip-parquet", action="store_true")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.case:
        name, *rest = args.case
        if name == "write":
            rest = [rest[0], int(rest[1]), int(rest[2])]
        print(json.dumps(CASES[name](*rest)))
        return

    work = Path(tempfile.mkdtemp(prefix="cvm-bench-data-"))
    rows = []
    if not args.skip_parquet:
        parquet = work / "tx.parquet"
        run_case("write", parquet, args.customers, 11)
        p = run_case("parquet", parquet, work)
        rows.append({
            "benchmark": f"Parquet ingest + summary, {p['n_tx'] / 1e6:.1f} M transactions / "
                         f"{args.customers / 1e6:.1f} M customers",
            "cvm_s": p["seconds"], "cvm_peak_mb": p["peak_mb"],
            "notes": f"validated ingest {p['ingest']:.1f} s; {p['n_tx'] / p['seconds'] / 1e6:.2f} M rows/s; "
                     f"{p['customers']:,} customers",
        })
        parquet.unlink()

    csv = work / "tx.csv"
    run_case("write", csv, max(1, args.csv_transactions * 10 // 28), 12)  # ~2.8 transactions per customer
    n_csv = sum(1 for _ in open(csv)) - 1
    runs = {"csv_summary": [], "csv_lifetimes": []}
    for _ in range(args.repeat):  # alternated, each in a fresh process; medians reported
        for name in runs:
            runs[name].append(run_case(name, csv))
    ours, theirs = (sorted(runs[n], key=lambda r: r["seconds"])[len(runs[n]) // 2] for n in runs)
    ingest = run_case("csv_ingest", csv, work)
    rows.append({
        "benchmark": f"CSV → summary_data_from_transaction_data, {n_csv / 1e6:.1f} M transactions",
        "cvm_s": ours["seconds"], "lifetimes_s": theirs["seconds"], "ratio": theirs["seconds"] / ours["seconds"],
        "notes": f"median of {args.repeat} runs each; {ours['customers']:,} customers both; "
                 f"cvm peak {ours['peak_mb']:,.0f} MB, lifetimes {theirs['peak_mb']:,.0f} MB",
    })
    rows.append({
        "benchmark": f"CSV validated ingest + summary, {n_csv / 1e6:.1f} M transactions",
        "cvm_s": ingest["seconds"], "lifetimes_s": theirs["seconds"], "ratio": theirs["seconds"] / ingest["seconds"],
        "cvm_peak_mb": ingest["peak_mb"],
        "notes": "cvm also keeps every row with its line number, quarantines bad rows and deduplicates",
    })
    shutil.rmtree(work, ignore_errors=True)
    report(rows)


if __name__ == "__main__":
    main()
