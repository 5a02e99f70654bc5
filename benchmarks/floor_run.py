"""The floor under ``cvm run``: the least work its job needs, written plainly, without cvm.

    python benchmarks/floor_run.py FILE OUT.parquet [--store WS.duckdb] [--horizon 12]

Issue 15 puts the floor of ``cvm run`` at "DuckDB's read + summary plus a sub-second fit".
This script measures that floor as one process, with the libraries cvm's run needs (DuckDB,
NumPy, SciPy, Arrow) and none of cvm's own code:

1. import duckdb, numpy, scipy.special, scipy.optimize, pyarrow.parquet (what the run needs
   to read, fit, value and write; pandas is left out);
2. one DuckDB query reads FILE and makes the lifetimes-style summary (day periods: the
   customer's distinct purchase days, first and last day, spend per day), fetched as Arrow;
3. no fit: the parameters are fixed (:data:`FIXED`, cvm's BG/NBD and Gamma-Gamma fit of the
   1 M-customer bench file); cvm's own fits take 0.3-0.6 s on top of this floor;
4. P(alive) and the expected purchases over the horizon (Fader, Hardie & Lee 2005, eq. 10:
   one ``hyp2f1`` per customer) times the Gamma-Gamma expected spend: an undiscounted CLV,
   less work than the monthly discounted sum lifetimes and cvm compute;
5. one row per customer written to OUT.parquet.

With ``--store WS.duckdb`` it also keeps the rows ``cvm run`` keeps in its workspace: every
transaction (with its source and line) and the one row per customer, in a DuckDB file.

Not done here, and done by ``cvm run``: validating every cell (dates, numbers, ids, totals
rows) and quarantining rejected rows with their reasons, returns and order corrections, the
fits, the discounted CLV and its delta-method interval (clv_low, clv_high), ranks, tiers and
stages, the run's history, the lock that lets a second process wait, the CLI. So the floor is
a lower bound: :mod:`bench_commands` times it beside ``cvm run`` and lifetimes' script, as
whole processes, to show how much of a ratio target the machine leaves room for.
"""

from __future__ import annotations

import argparse

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.optimize  # noqa: F401  (the run's fits need it: imported for its cost)
from scipy.special import hyp2f1

DAYS_PER_MONTH = 30.4375  # cvm's month (365.25 / 12 days)
#: r, alpha, a, b (BG/NBD) and p, q, v (Gamma-Gamma): the order of magnitude of the bench file's fit
FIXED = (0.25, 1.06, 0.79, 2.41, 6.0, 4.0, 15.0)


def summary(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, np.ndarray]:
    """Per customer: frequency (repeat purchase days), recency and T in months, mean repeat spend."""
    return con.sql(f"""
        WITH days AS (SELECT customer_id, CAST(ts AS DATE) AS d, sum(amount) AS spend FROM {source} GROUP BY ALL),
        c AS (SELECT customer_id, count(*) - 1 AS x, min(d) AS first_d, max(d) AS last_d, sum(spend) AS total,
                     arg_min(spend, d) AS first_spend FROM days GROUP BY customer_id),
        e AS (SELECT max(d) AS end_d FROM days)
        SELECT customer_id, CAST(x AS DOUBLE) AS x,
               date_diff('day', first_d, last_d) / {DAYS_PER_MONTH} AS t_x,
               date_diff('day', first_d, end_d) / {DAYS_PER_MONTH} AS T,
               CASE WHEN x > 0 THEN (total - first_spend) / x ELSE 0 END AS m
        FROM c, e""").to_arrow_table()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("out")
    parser.add_argument("--store", help="a DuckDB file to keep the transactions and the customer rows in")
    parser.add_argument("--horizon", type=float, default=12.0, help="months")
    args = parser.parse_args()
    reader = "read_parquet" if args.path.endswith(".parquet") else "read_csv"
    con = duckdb.connect(args.store or ":memory:")
    source = f"{reader}('{args.path}')"
    if args.store:
        # the cheapest way measured: ids compressed with ZSTD (as cvm stores them), the line from the
        # Parquet reader's own row number (row_number() OVER () would insert on one thread)
        con.execute("CREATE TABLE transactions (customer_id VARCHAR USING COMPRESSION zstd, ts TIMESTAMP, "
                    "amount DOUBLE, order_id VARCHAR USING COMPRESSION zstd, channel VARCHAR, margin DOUBLE, "
                    "source VARCHAR, line BIGINT)")
        if reader == "read_parquet":
            rows, line = f"read_parquet('{args.path}', file_row_number = true)", "file_row_number + 1"
        else:
            rows, line = source, "row_number() OVER ()"
        con.execute(f"INSERT INTO transactions SELECT customer_id, ts, amount, order_id, channel, NULL, "
                    f"'{args.path}', {line} FROM {rows}")
        source = "transactions"
    table = summary(con, source)
    x, t_x, T, m = (table.column(c).to_numpy() for c in ("x", "t_x", "T", "m"))
    r, alpha, a, b, p, q, v = FIXED  # no fit: see the module docstring
    repeat = (x > 0) & (m > 0)
    odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    p_alive = 1.0 / (1.0 + odds)
    h = args.horizon
    expected = ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + h)) ** (r + x)
                                            * hyp2f1(r + x, b + x, a + b + x - 1, h / (alpha + T + h))) * p_alive)
    spend = np.where(repeat, (p * (v + m * x)) / (p * x + q - 1), p * v / (q - 1))
    scores = table.append_column("probability_alive", pa.array(p_alive)) \
        .append_column("expected_purchases", pa.array(expected)).append_column("clv", pa.array(expected * spend))
    if args.store:
        con.register("scores_frame", scores)
        con.execute("CREATE TABLE scores AS SELECT * FROM scores_frame")
        con.close()
    pq.write_table(scores, args.out)


if __name__ == "__main__":
    main()
