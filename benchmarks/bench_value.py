"""Valuing customers with intervals: score_customers on a workspace of simulated customers.

Measures the valuation step alone (summary, fits, CLV with interval, tiers, stages,
stored in ``scores``) after the ingest; the target is 1,000,000 customers in <= 10 s.
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
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from cvm.data import Workspace
    from cvm.data.simulate import write_transactions
    from cvm.service import score_customers

    work = Path(tempfile.mkdtemp(prefix="cvm-bench-value-"))
    parquet = work / "tx.parquet"
    write_transactions(parquet, n_customers=args.customers, seed=5, format="parquet")
    ws = Workspace.open(work / "ws")
    ws.ingest(parquet, kind="transactions")
    start = time.perf_counter()
    scores = score_customers(ws, model="bgnbd", horizon=52, time_unit="week")
    seconds = time.perf_counter() - start
    ok = bool(scores["clv_low"].le(scores["clv"]).all() and scores["clv"].le(scores["clv_high"]).all())
    ws.close()
    shutil.rmtree(work, ignore_errors=True)
    report([{
        "benchmark": f"value {len(scores):,} customers with 90% CLV intervals", "cvm_s": seconds,
        "cvm_peak_mb": peak_memory_mb(), "notes": f"intervals ordered: {ok}",
    }])


if __name__ == "__main__":
    main()
