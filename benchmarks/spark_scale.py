"""The Spark engine at scale: 25 M transactions in local mode, end to end.

    python benchmarks/spark_scale.py                        # 25 M transactions (about 10 M customers)
    python benchmarks/spark_scale.py --transactions 1000000 # a quick run

Transactions are simulated with :mod:`cvm.data.simulate` (BG/NBD purchases and
Gamma-Gamma spend at the CDNOW estimates) in chunks of ``--chunk-customers``
customers, each written as one Parquet file, so generating never holds the whole
log in memory. Then :func:`cvm.service.spark.run_spark_pipeline` reads the folder,
summarises, compresses, fits BG/NBD and Gamma-Gamma on the driver, values each distinct
history there, scores every customer in Spark SQL (the valued histories broadcast into a
join) and writes Parquet, with ranks, tiers and concentration.

Reported (one ``BENCH`` JSON line for benchmarks/run.py): wall time of the
pipeline, peak resident memory of the whole process tree (Python driver, JVM and
Python workers, sampled every 0.2 s), and the number of rows that reached the
driver (distinct histories + distinct spend pairs) against the number of customers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Every process's children and resident bytes, from /proc (one read for many trees)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    return children, rss


def tree_mb(root: int, children: dict[int, list[int]], rss: dict[int, int]) -> float:
    """Resident memory (MB) of ``root`` and its descendants in a :func:`rss_table`."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 2**20


def tree_rss_mb(root: int) -> float:
    """Resident memory (MB) of process ``root`` and all its descendants, from /proc."""
    return tree_mb(root, *rss_table())


class PeakMemory:
    """Samples the process tree's resident memory in a background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak, self._stop = interval, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_mb(os.getpid()))


def generate(folder: Path, transactions: int, chunk_customers: int, seed: int) -> tuple[int, int]:
    """Write simulated transactions as Parquet files until at least ``transactions`` rows exist."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cvm.data.simulate import simulate_transactions

    folder.mkdir(parents=True, exist_ok=True)
    written, customers, part = 0, 0, 0
    per_customer = 2.5  # first guess; corrected after each chunk
    while written < transactions:
        need = max(1, int((transactions - written) / per_customer) + 1)
        n = min(chunk_customers, need)
        table = simulate_transactions(n, seed=seed + part)
        ids = pc.binary_join_element_wise(f"P{part}-", table["customer_id"], "")
        table = table.set_column(table.schema.get_field_index("customer_id"), "customer_id", ids)
        if written + table.num_rows > transactions:
            table = table.slice(0, transactions - written)
        pq.write_table(table, folder / f"part-{part:04d}.parquet")
        written += table.num_rows
        customers += pa.compute.count_distinct(table["customer_id"]).as_py()
        per_customer = max(1.0, table.num_rows / n)
        part += 1
    return written, customers


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=25_000_000)
    parser.add_argument("--chunk-customers", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=None,
                        help="default: one per 2 M transactions, at least one per core (run_spark_pipeline's choice)")
    parser.add_argument("--period", default="day,week",
                        help="comma-separated periods to run on the same data: day (the default engine setting) and/or week")
    parser.add_argument("--horizon", type=int, default=52)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--keep", action="store_true", help="keep the generated data and the scores")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    from cvm.data.spark import spark_session
    from cvm.service.spark import run_spark_pipeline

    work = Path(tempfile.mkdtemp(prefix="cvm-spark-scale-"))
    try:
        start = time.perf_counter()
        n_tx, n_customers = generate(work / "tx", args.transactions, args.chunk_customers, args.seed)
        t_generate = time.perf_counter() - start
        start = time.perf_counter()
        spark = spark_session(args.master, app_name="cvm-spark-scale", config={"spark.driver.memory": args.driver_memory})
        t_start = time.perf_counter() - start
        rows = []
        for period in [p.strip() for p in args.period.split(",") if p.strip()]:
            with PeakMemory() as memory:
                start = time.perf_counter()
                result = run_spark_pipeline(str(work / "tx"), str(work / f"scores-{period}.parquet"), model="bgnbd",
                                            horizon=args.horizon, time_unit="week", period=period,
                                            shuffle_partitions=args.shuffle_partitions, spark=spark)
                t_pipeline = time.perf_counter() - start
            row = {
                "benchmark": (f"Spark local pipeline, period={period}, {n_tx / 1e6:.2f} M transactions / "
                              f"{result.n_customers / 1e6:.2f} M customers"),
                "cvm_s": t_pipeline,
                "cvm_peak_mb": memory.peak,
                "notes": (
                    f"{result.driver_rows:,} rows reached the driver ({result.unique_histories:,} histories + "
                    f"{result.spend_rows:,} spend pairs) for {result.n_customers:,} customers; "
                    f"steps {', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())}; "
                    f"{result.shuffle_partitions} shuffle partitions; JVM start {t_start:.1f} s; "
                    f"data generation {t_generate:.1f} s; load average {os.getloadavg()[0]:.1f}"
                ),
                "period": period,
                "transactions": n_tx,
                "customers": result.n_customers,
                "driver_rows": result.driver_rows,
                "unique_histories": result.unique_histories,
                "spend_rows": result.spend_rows,
                "seconds": result.seconds,
                "total_clv": result.total_clv,
                "params": result.params,
                "spend_params": result.spend_params,
                "concentration": result.concentration,
            }
            print("BENCH " + json.dumps(row), flush=True)
            rows.append(row)
            if not args.keep:
                shutil.rmtree(work / f"scores-{period}.parquet", ignore_errors=True)
        spark.stop()
        return rows
    finally:
        if args.keep:
            print(f"data and scores kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
