"""From a transaction file to a 12-period CLV for every customer: cvm against lifetimes.

Both pipelines start from the same CSV written by cvm's simulator and end with
one CLV per customer from BG/NBD + Gamma-Gamma (12 periods of one month each,
discount 1 % a month):

* lifetimes: pandas.read_csv -> summary_data_from_transaction_data ->
  BetaGeoFitter -> GammaGammaFitter -> customer_lifetime_value.
* cvm, direct: cvm.data.summary_data_from_transaction_data on the file path
  (DuckDB streams the CSV) -> BGNBD -> GammaGamma.customer_lifetime_value
  (30-day periods, as lifetimes' freq='D'). The same steps as lifetimes.
* cvm, workspace: Workspace.ingest (validated, durable, deduplicated, with a
  quarantine) -> Workspace.summary (SQL) -> the same fits and CLV. More work
  than lifetimes does, reported separately.
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


def cvm_direct_pipeline(csv: Path):
    from cvm.data.summary import summary_data_from_transaction_data
    from cvm.models import BGNBD, GammaGamma

    start = time.perf_counter()
    summary = summary_data_from_transaction_data(csv, "customer_id", "ts", monetary_value_col="amount", freq="D")
    f, r, t, m = (summary[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    bg = BGNBD().fit(f, r, t)
    repeat = (f > 0) & (m > 0)
    gg = GammaGamma().fit(f[repeat], m[repeat])
    clv = gg.customer_lifetime_value(bg, f, r, t, np.clip(m, 0.01, None), time=12, discount_rate=0.01,
                                     period_length=30)  # lifetimes' freq="D": 30-day months
    seconds = time.perf_counter() - start
    return seconds, bg.log_likelihood_, len(clv), clv


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
    return seconds, ll, len(clv), clv.to_numpy()


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
    size = f"{args.customers:,} customers ({n_tx / 1e6:.1f} M transactions)"
    direct = cvm_direct_pipeline(csv)
    ingest = cvm_pipeline(csv, workdir)
    rows = [
        {"benchmark": f"CSV → 12-period CLV (BG/NBD + Gamma-Gamma), {size}", "cvm_s": direct[0], "cvm_ll": direct[1],
         "customers": direct[2]},
        {"benchmark": f"same, through a validated workspace ingest, {size}", "cvm_s": ingest[0], "cvm_ll": ingest[1],
         "customers": ingest[2], "cvm_peak_mb": peak_memory_mb()},
    ]
    if not args.skip_lifetimes:
        theirs = lifetimes_pipeline(csv)
        # both CLV vectors are in customer-id order (lifetimes sorts its groupby, cvm's summary orders by id)
        gap = float(np.max(np.abs(direct[3] - theirs[3]) / np.maximum(np.abs(theirs[3]), 1.0)))
        for row in rows:
            row.update({"lifetimes_s": theirs[0], "lifetimes_ll": theirs[1], "ratio": theirs[0] / row["cvm_s"]})
        rows[0]["notes"] = f"largest CLV difference vs lifetimes {gap:.1e} (relative)"
    shutil.rmtree(workdir, ignore_errors=True)
    report(rows)


if __name__ == "__main__":
    main()
