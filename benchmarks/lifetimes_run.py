"""lifetimes doing the job of ``cvm run``: a transaction file in, one CLV row per customer out.

    python benchmarks/lifetimes_run.py FILE OUT.parquet [--horizon 12] [--discount 0.01]

The steps a lifetimes user writes for this job: read the file with pandas (``read_parquet``,
or ``read_csv`` with the timestamp parsed), ``summary_data_from_transaction_data`` (day
periods, recency and T in days), ``BetaGeoFitter``, ``GammaGammaFitter`` on the repeat
buyers with a positive spend, ``customer_lifetime_value`` over ``--horizon`` months of 30
days discounted by ``--discount`` a month (``freq="D"``), and one row per customer written
to Parquet. :mod:`bench_commands` runs it as a whole process beside ``cvm run``.
"""

from __future__ import annotations

import argparse

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("out")
    parser.add_argument("--horizon", type=int, default=12, help="months")
    parser.add_argument("--discount", type=float, default=0.01, help="per month")
    args = parser.parse_args()
    if args.path.endswith(".parquet"):
        tx = pd.read_parquet(args.path, columns=["customer_id", "ts", "amount"])
    else:
        tx = pd.read_csv(args.path, usecols=["customer_id", "ts", "amount"], parse_dates=["ts"])
    summary = summary_data_from_transaction_data(tx, "customer_id", "ts", monetary_value_col="amount", freq="D")
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    summary["probability_alive"] = bg.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    summary["clv"] = gg.customer_lifetime_value(
        bg, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"].clip(lower=0.01),
        time=args.horizon, discount_rate=args.discount, freq="D",
    )
    summary.reset_index().to_parquet(args.out, index=False)


if __name__ == "__main__":
    main()
