"""One shot on Spark: read, summarise, compress, fit on the driver, score on the cluster, write.

Only the compressed tables (distinct ``(frequency, recency, T)`` histories and
distinct ``(frequency, monetary_value)`` pairs of repeat buyers) and a few
aggregates reach the driver; :class:`SparkRunResult` reports how many rows did.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from cvm.data.spark.summary import as_date
from cvm.errors import CvmError, SchemaError

#: purchase models the pipeline can fit (command-line names)
PURCHASE_MODELS = ("bgnbd", "pnbd", "mbgnbd")
#: fewer repeat buyers than this: no Gamma-Gamma fit, observed mean spend is used
MIN_REPEAT_BUYERS = 10


@dataclass
class SparkRunResult:
    """What :func:`run_spark_pipeline` did, in numbers (``to_dict`` for ``--json``)."""

    out: str
    model: str
    time_unit: str
    as_of: str | None
    n_transactions: int
    rows_unusable: int
    n_customers: int
    unique_histories: int
    spend_rows: int
    driver_rows: int
    params: dict[str, float]
    spend_params: dict[str, float] | None
    total_clv: float
    tiers: dict[str, dict[str, float]] = field(default_factory=dict)
    concentration: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    period: str = "day"
    shuffle_partitions: int | None = None
    #: where the unusable rows were written with their reason (None when there were none)
    quarantine: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_on_driver(model: str, histories: Any, penalizer: float = 0.0) -> Any:
    """Fit a purchase model on compressed histories (pandas: ``frequency, recency, T, weight``)."""
    from cvm.models import model_class

    key = model.lower()
    if key not in PURCHASE_MODELS:
        raise SchemaError(f"'{model}' cannot value customers on Spark", hint=f"use one of {', '.join(PURCHASE_MODELS)}")
    return model_class(key)(penalizer=penalizer).fit(
        histories["frequency"].to_numpy(float), histories["recency"].to_numpy(float),
        histories["T"].to_numpy(float), weights=histories["weight"].to_numpy(float),
    )


def fit_spend_on_driver(spend_rows: Any) -> tuple[Any, str | None]:
    """Fit Gamma-Gamma on compressed ``(frequency, monetary_value, weight)``; None and a note when impossible."""
    from cvm.models import GammaGamma

    buyers = float(spend_rows["weight"].sum()) if len(spend_rows) else 0.0
    if buyers < MIN_REPEAT_BUYERS:
        return None, f"only {buyers:.0f} repeat customers with spend: Gamma-Gamma not fitted, observed mean spend used"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GammaGamma().fit(
                spend_rows["frequency"].to_numpy(float), spend_rows["monetary_value"].to_numpy(float),
                weights=spend_rows["weight"].to_numpy(float),
            )
        return model, None
    except CvmError as exc:
        return None, f"Gamma-Gamma fit failed ({str(exc).splitlines()[0]}): observed mean spend used"


def _columns(mapping: Mapping[str, str] | None, customer_col: str, datetime_col: str, amount_col: str) -> tuple[str, str, str]:
    mapping = dict(mapping or {})
    unknown = [k for k in mapping if k not in ("customer_id", "ts", "amount")]
    if unknown:
        raise SchemaError(
            f"the Spark engine maps only customer_id, ts and amount, not {', '.join(unknown)}",
            hint="e.g. --map customer_id=Klantnummer --map ts=Datum --map amount=Bedrag",
        )
    return (mapping.get("customer_id", customer_col), mapping.get("ts", datetime_col), mapping.get("amount", amount_col))


def write_scores(scores_df: Any, out: str, out_format: str | None = None, mode: str = "overwrite") -> str:
    """Write scores as Parquet (default), CSV (a folder of part files with a header) or a Spark table.

    ``out_format``: ``parquet``, ``csv`` or ``table`` (``out`` is then the table
    name); guessed from ``out`` when ``None`` (``.csv`` -> CSV, else Parquet). In CSV,
    texts that begin with ``= + - @``, a tab or a CR get a ``'`` in front (safe to open).
    """
    fmt = _output_format(out, out_format)
    if fmt == "csv":  # texts a spreadsheet would read as a formula get a quote in front (cvm.value.export)
        from pyspark.sql import functions as F

        from cvm.value.export import csv_safe_sql

        scores_df = scores_df.select(*[
            F.expr(csv_safe_sql(f"`{f.name}`")).alias(f.name) if f.dataType.typeName() == "string" else F.col(f"`{f.name}`")
            for f in scores_df.schema.fields])
    writer = scores_df.write.mode(mode)
    if fmt == "table":
        writer.saveAsTable(out)
    elif fmt == "csv":
        writer.option("header", True).option("escape", '"').csv(str(out))  # a quote in a text doubled (RFC 4180)
    else:
        writer.parquet(str(out))
    return str(out)


def quarantine_target(out: str, out_format: str | None) -> tuple[str, str]:
    """Where a run's unusable rows go, next to the scores: ``(target, format)``.

    A table ``scores`` gets ``scores_quarantine``; a path ``…/scores.parquet`` (or
    ``.csv``) gets ``…/scores.quarantine.parquet`` (``.csv``) in the same format.
    """
    fmt = _output_format(out, out_format)
    if fmt == "table":
        return f"{out}_quarantine", fmt
    text = str(out).rstrip("/")
    stem, dot, ext = text.rpartition(".")
    if dot and "/" not in ext and ext.lower() in ("parquet", "pq", "csv"):
        return f"{stem}.quarantine.{ext}", fmt
    return f"{text}.quarantine", fmt


def _output_format(out: str, out_format: str | None) -> str:
    fmt = out_format or ("csv" if str(out).lower().endswith(".csv") else "parquet")
    if fmt not in ("parquet", "csv", "table"):
        raise SchemaError(f"unknown output format '{fmt}'", hint="use parquet, csv or table")
    return fmt


def read_scores(spark: Any, out: str, schema: Any, out_format: str | None = None) -> Any:
    """The scores :func:`write_scores` wrote, read back lazily (columnar for Parquet and tables)."""
    fmt = _output_format(out, out_format)
    if fmt == "table":
        return spark.table(out)
    if fmt == "csv":
        return spark.read.schema(schema).option("header", True).option("escape", '"').csv(str(out))
    return spark.read.parquet(str(out))


def input_counts(raw: Any, customer_col: str, datetime_col: str, amount_col: str) -> tuple[int, int, Any]:
    """One pass over the input: ``(rows, unusable rows, day of the last usable transaction or None)``.

    Unusable as in :func:`cvm.data.spark.summary.clean_transactions`: an empty
    customer id, a timestamp that does not parse, or a missing amount. The
    columns are checked first, so a missing one is a :class:`SchemaError`.
    """
    from pyspark.sql import functions as F

    from cvm.data.spark.summary import clean_transactions

    clean_transactions(raw, customer_col, datetime_col, amount_col)  # raises SchemaError on missing columns
    # try_cast: under ANSI mode (Spark 4's default) a plain cast of a malformed value fails the job
    ts = F.col(datetime_col).try_cast("timestamp")
    amount = F.col(amount_col).try_cast("double")
    bad = (
        F.col(customer_col).isNull() | (F.length(F.trim(F.col(customer_col).cast("string"))) == 0)
        | ts.isNull() | amount.isNull() | F.isnan(amount)
    )
    row = raw.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(bad, 1).otherwise(0)).alias("bad"),
        F.max(F.when(~bad, ts)).alias("last"),
    ).collect()[0]
    last = None if row["last"] is None else row["last"].date()
    return int(row["n"]), int(row["bad"] or 0), last


def auto_shuffle_partitions(spark: Any, n_transactions: int, per_partition: int = 2_000_000) -> int:
    """Shuffle partitions for a local run: one per ``per_partition`` transactions, at least the core count.

    The summary shuffles the transactions once (by customer); partitions of about
    two million transactions keep each task's hash tables small on a laptop-sized
    driver, and tiny inputs get one partition per core instead of Spark's 200.
    """
    cores = int(spark.sparkContext.defaultParallelism)
    return max(cores, -(-int(n_transactions) // per_partition))


def run_spark_pipeline(
    path_or_df: Any,
    out: str,
    model: str = "bgnbd",
    horizon: int = 52,
    time_unit: str = "week",
    discount_rate: float = 0.10,
    margin: float = 0.3,
    as_of: Any = None,
    *,
    period: str = "day",
    mapping: Mapping[str, str] | None = None,
    customer_col: str = "customer_id",
    datetime_col: str = "ts",
    amount_col: str = "amount",
    level: float = 0.9,
    penalizer: float = 0.0,
    out_format: str | None = None,
    aggregates: bool = True,
    shuffle_partitions: int | None = None,
    spend_digits: int = 4,
    spark: Any = None,
) -> SparkRunResult:
    """Read, summarise, compress, fit, score and write on Spark; return the counts.

    Parameters
    ----------
    path_or_df
        Parquet/CSV path(s), a Spark table name, or a Spark (or pandas) DataFrame
        of transactions.
    out
        Where the scores go (Parquet folder by default; see :func:`write_scores`).
    model
        Purchase model: ``bgnbd``, ``pnbd`` or ``mbgnbd``; spend by Gamma-Gamma.
    horizon, time_unit
        CLV horizon in periods of ``time_unit`` (``day``, ``week``, ``month``, ``year``).
    discount_rate
        **Yearly** discount rate, converted per time unit as
        ``(1 + d) ** (days_per_unit / 365.25) - 1`` (as in :class:`cvm.settings.Settings`).
    margin
        Margin rate applied to expected spend.
    as_of
        Observation date; default the day of the last usable transaction.
    period
        How finely purchases merge before counting: ``day`` (default, as the
        DuckDB engine and lifetimes' ``freq="D"``) or a time unit. With
        ``period=time_unit`` recency and T are whole numbers of units, so far
        fewer distinct histories reach the driver (docs/spark.md has figures);
        the price is that purchases in one week (month) count once.
    mapping
        ``{"customer_id": source, "ts": source, "amount": source}`` (the CLI's ``--map``).
    aggregates
        Also compute value tiers (written with the scores), the CLV per tier and
        the concentration (share of customers making 80 % of value, Gini); the
        last two are read back from the written scores.
    shuffle_partitions
        ``spark.sql.shuffle.partitions`` for this run; default: on a local master
        :func:`auto_shuffle_partitions`, on a cluster the session's own setting.
    spend_digits
        Significant digits mean spend is rounded to before the Gamma-Gamma
        compression (:func:`cvm.data.spark.summary.compress_spend_spark`).

    Returns
    -------
    SparkRunResult
        Counts (transactions read, unusable rows, customers, rows that reached
        the driver), fitted parameters, total CLV, tiers, concentration, timings.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from cvm.data.spark.scoring import (
        concentration_spark, discount_rate_per_unit, score_spark, value_by_group_spark, value_tiers_spark,
    )
    from cvm.data.spark.session import spark_session
    from cvm.data.spark.summary import (
        compress_spark, compress_spend_spark, days_per_unit, read_transactions, summarise_spark, unusable_rows,
    )

    days_per_unit(time_unit)
    days_per_unit(period)
    _output_format(out, out_format)
    if model.lower() not in PURCHASE_MODELS:
        raise SchemaError(f"'{model}' cannot value customers on Spark", hint=f"use one of {', '.join(PURCHASE_MODELS)}")
    clock: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    spark = spark or spark_session()
    cust, ts, amount = _columns(mapping, customer_col, datetime_col, amount_col)
    raw = read_transactions(path_or_df, spark)
    n_tx, unusable, last_day = input_counts(raw, cust, ts, amount)
    if n_tx == 0:
        raise SchemaError("the input holds no transactions")
    quarantined = None
    if unusable:  # kept with their reason, next to the scores (nothing dropped without a trace)
        target, fmt = quarantine_target(out, out_format)
        quarantined = write_scores(unusable_rows(raw, cust, ts, amount), target, fmt)
        notes.append(f"{unusable:,} unusable row(s) kept with their reason in {quarantined}")
    if last_day is None:
        raise SchemaError("no transaction has a usable customer id, timestamp and amount",
                          hint=f"check the column mapping and the timestamp format; the rows and why are in {quarantined}")
    as_of_used = as_date(as_of, "as_of") or last_day
    clock["read"] = time.perf_counter() - start

    previous_partitions = spark.conf.get("spark.sql.shuffle.partitions")
    partitions = shuffle_partitions
    if partitions is None and str(spark.sparkContext.master).startswith("local"):
        partitions = auto_shuffle_partitions(spark, n_tx)
    if partitions is not None:
        spark.conf.set("spark.sql.shuffle.partitions", str(int(partitions)))
    summary = None
    try:
        step = time.perf_counter()
        summary = summarise_spark(raw, cust, ts, amount, as_of=as_of_used, time_unit=time_unit, period=period)
        summary = summary.persist(StorageLevel.MEMORY_AND_DISK)
        histories = compress_spark(summary).toPandas()
        spend_rows = compress_spend_spark(summary, spend_digits).toPandas()
        net_returns = int(summary.where((F.col("frequency") > 0) & (F.col("monetary_value") <= 0)).count())
        clock["summarise_compress"] = time.perf_counter() - step
        if histories.empty:
            raise SchemaError("no customer has a usable transaction", hint="check the as-of date and the column mapping")

        step = time.perf_counter()
        purchase_model = fit_on_driver(model, histories, penalizer)
        spend_model, note = fit_spend_on_driver(spend_rows)
        if note:
            notes.append(note)
        if net_returns and spend_model is not None:
            notes.append(f"{net_returns} repeat customer(s) with a mean spend that is not positive (net returns) "
                         "are valued at the population's expected spend")
        clock["fit"] = time.perf_counter() - step

        step = time.perf_counter()
        scores = score_spark(
            summary, purchase_model, spend_model, horizon=horizon,
            discount_rate=discount_rate_per_unit(discount_rate, time_unit), margin=margin, level=level,
            histories=histories,
        )
        limits: dict[str, float] = {}
        if aggregates:
            scores, limits = value_tiers_spark(scores)
        write_scores(scores, out, out_format)
        clock["score_write"] = time.perf_counter() - step

        step = time.perf_counter()
        written = read_scores(spark, out, scores.schema, out_format)
        result_tiers: dict[str, dict[str, float]] = {}
        result_conc: dict[str, float] = {}
        if aggregates:
            for row in value_by_group_spark(written).collect():
                result_tiers[row["value_tier"]] = {
                    "threshold": limits[row["value_tier"]], "customers": int(row["customers"]),
                    "total_clv": float(row["total_clv"]), "mean_clv": float(row["mean_clv"]),
                }
            total_clv = float(sum(t["total_clv"] for t in result_tiers.values()))
            result_conc = concentration_spark(written)
        else:
            total_clv = float(written.agg(F.sum("clv")).collect()[0][0] or 0.0)
        clock["aggregates"] = time.perf_counter() - step
    finally:
        if summary is not None:
            summary.unpersist()
        spark.conf.set("spark.sql.shuffle.partitions", previous_partitions)
    clock["total"] = time.perf_counter() - start
    return SparkRunResult(
        out=str(out), model=model.lower(), time_unit=time_unit, as_of=str(as_of_used),
        n_transactions=n_tx, rows_unusable=unusable,
        n_customers=int(histories["weight"].sum()),
        unique_histories=int(len(histories)), spend_rows=int(len(spend_rows)),
        driver_rows=int(len(histories) + len(spend_rows)),
        params=purchase_model.params, spend_params=None if spend_model is None else spend_model.params,
        total_clv=total_clv, tiers=result_tiers, concentration=result_conc, seconds=clock,
        notes=notes, period=period, shuffle_partitions=None if partitions is None else int(partitions),
        quarantine=quarantined,
    )
