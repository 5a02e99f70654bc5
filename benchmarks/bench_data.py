"""Data layer at scale.

1. Parquet: ``--customers`` customers with about 2.5 transactions each (default
   10 M customers, 25 M transactions) -> ingest + summary in DuckDB; wall time,
   rows per second and peak memory (the target is <= 60 s and <= 4 GB on 2 cores).
2. CSV: ``--csv-transactions`` transactions (default 2.5 M) -> the per-customer
   summary, cvm's SQL against lifetimes' summary_data_from_transaction_data.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from common import peak_memory_mb, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--csv-transactions", type=int, default=2_500_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import duckdb
    import pandas as pd

    from cvm.data import Workspace
    from cvm.data.simulate import write_transactions

    work = Path(tempfile.mkdtemp(prefix="cvm-bench-data-"))
    rows = []

    parquet = work / "tx.parquet"
    write_transactions(parquet, n_customers=args.customers, seed=11, format="parquet")
    n_tx = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall()[0][0]
    start = time.perf_counter()
    ws = Workspace.open(work / "ws")
    ws.ingest(parquet, kind="transactions")
    t_ingest = time.perf_counter() - start
    summary = ws.summary(time_unit="week")
    total = time.perf_counter() - start
    ws.close()
    rows.append({
        "benchmark": f"Parquet ingest + summary, {n_tx / 1e6:.1f} M transactions / {args.customers / 1e6:.1f} M customers",
        "cvm_s": total, "cvm_peak_mb": peak_memory_mb(),
        "notes": f"ingest {t_ingest:.1f} s; {n_tx / total / 1e6:.2f} M rows/s; {len(summary):,} customers",
    })

    # CSV summary: same file for both libraries, a customer count giving about N transactions
    csv = work / "tx.csv"
    write_transactions(csv, n_customers=max(1, args.csv_transactions * 2 // 5), seed=12)
    n_csv = sum(1 for _ in open(csv)) - 1
    start = time.perf_counter()
    ws2 = Workspace.open(work / "ws2")
    ws2.ingest(csv, kind="transactions")
    summary2 = ws2.summary(time_unit="day")
    ours = time.perf_counter() - start
    ws2.close()
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    tx = pd.read_csv(csv, parse_dates=["ts"])
    theirs_summary = summary_data_from_transaction_data(tx, "customer_id", "ts", monetary_value_col="amount", freq="D")
    theirs = time.perf_counter() - start
    rows.append({
        "benchmark": f"CSV → customer summary, {n_csv / 1e6:.1f} M transactions", "cvm_s": ours, "lifetimes_s": theirs,
        "ratio": theirs / ours, "notes": f"{len(summary2):,} vs {len(theirs_summary):,} customers; cvm includes the full ingest",
    })
    shutil.rmtree(work, ignore_errors=True)
    report(rows)


if __name__ == "__main__":
    main()
