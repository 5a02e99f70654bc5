"""From a transaction file to a 12-period CLV for every customer: cvm against lifetimes.

Both pipelines start from the same CSV written by cvm's simulator and end with
one CLV per customer from BG/NBD + Gamma-Gamma (12 periods of one month each,
discount 1 % a month):

* lifetimes: pandas.read_csv -> summary_data_from_transaction_data ->
  BetaGeoFitter -> GammaGammaFitter -> customer_lifetime_value.
* cvm: Workspace.ingest (DuckDB) -> Workspace.summary (SQL) -> BGNBD ->
  GammaGamma.customer_lifetime_value (30-day periods, as lifetimes' freq='D').
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import log_likelihood_at, peak_memory_mb, report


def cvm_pipeline(csv: Path, workdir: Path):
    from cvm.data import Workspace
    from cvm.models import BGNBD, GammaGamma

    ws_path = workdir / "ws"
    shutil.rmtree(ws_path, ignore_errors=True)
    start = time.perf_counter()
    ws = Workspace.open(ws_path)
    ws.ingest(csv, kind="transactions")
    summary = ws.summary(time_unit="day")
    bg = BGNBD().fit(summary["frequency"], summary["recency"], summary["T"])
    rep = summary[summary["frequency"] > 0]
    gg = GammaGamma().fit(rep["frequency"], rep["monetary_value"])
    clv = gg.customer_lifetime_value(
        bg, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=12, discount_rate=0.01, period_length=30,  # lifetimes' freq="D": 30-day months
    )
    seconds = time.perf_counter() - start
    ws.close()
    return seconds, bg.log_likelihood_, len(clv)


def lifetimes_pipeline(csv: Path):
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    tx = pd.read_csv(csv, parse_dates=["ts"])
    summary = summary_data_from_transaction_data(tx, "customer_id", "ts", monetary_value_col="amount", freq="D")
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    clv = gg.customer_lifetime_value(
        bg, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"].clip(lower=0.01),
        time=12, discount_rate=0.01, freq="D",
    )
    seconds = time.perf_counter() - start
    from cvm.models import BGNBD

    ll = log_likelihood_at(BGNBD, bg.params_, summary["frequency"], summary["recency"], summary["T"])
    return seconds, ll, len(clv)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from cvm.data.simulate import write_transactions

    workdir = Path(tempfile.mkdtemp(prefix="cvm-bench-"))
    csv = workdir / "transactions.csv"
    write_transactions(csv, n_customers=args.customers, seed=7)
    n_tx = sum(1 for _ in open(csv)) - 1
    ours = cvm_pipeline(csv, workdir)
    row = {
        "benchmark": f"file → 12-period CLV, {args.customers:,} customers ({n_tx / 1e6:.1f} M transactions)",
        "cvm_s": ours[0], "cvm_ll": ours[1], "customers": ours[2], "cvm_peak_mb": peak_memory_mb(),
    }
    if not args.skip_lifetimes:
        theirs = lifetimes_pipeline(csv)
        row.update({"lifetimes_s": theirs[0], "lifetimes_ll": theirs[1], "ratio": theirs[0] / ours[0]})
    shutil.rmtree(workdir, ignore_errors=True)
    report([row])


if __name__ == "__main__":
    main()
