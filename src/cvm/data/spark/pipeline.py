"""One shot on Spark: read, summarise, compress, fit on the driver, score on the cluster, write.

Only the compressed tables (distinct ``(frequency, recency, T)`` histories and
distinct ``(frequency, monetary_value)`` pairs of repeat buyers) and a few
aggregates reach the driver; :class:`SparkRunResult` reports how many rows did.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Mapping

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
    if fmt == "csv":  # texts a spreadsheet would read as a formula get a quote in front (cvm.data.export)
        from pyspark.sql import functions as F

        from cvm.data.export import csv_safe_sql

        scores_df = scores_df.select(*[
            F.expr(csv_safe_sql(f"`{f.name}`")).alias(f.name) if f.dataType.typeName() == "string" else F.col(f"`{f.name}`")
            for f in scores_df.schema.fields])

    def write(target: str) -> None:
        writer = scores_df.write.mode(mode)
        if fmt == "table":
            writer.saveAsTable(target)
        elif fmt == "csv":
            writer.option("header", True).option("escape", '"').csv(target)  # a quote in a text doubled (RFC 4180)
        else:
            writer.parquet(target)

    if mode == "overwrite":
        replace_output(write, str(out), fmt)
    else:
        write(str(out))
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


#: file kinds the Spark engine cannot write: refused by name instead of written as a Parquet folder
_NOT_WRITABLE = ("xlsx", "xlsm", "xls", "json", "jsonl", "ndjson", "txt", "tsv", "orc", "avro", "feather",
                 "arrow", "html", "pdf", "duckdb", "sqlite", "db", "zip", "gz")


def _output_format(out: str, out_format: str | None) -> str:
    """``parquet``, ``csv`` or ``table`` for ``--out``; a file kind Spark cannot write is refused.

    A name without ``/`` or ``:`` whose dotted parts are not a file extension
    (``main.sales.scores``) is a table; ``scores.csv`` (``.csv``) is CSV; any
    other path or URI (``s3a://bucket/scores``, ``scores.parquet``) a Parquet folder.
    """
    text = str(out).rstrip("/")
    ext = text.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in text.rsplit("/", 1)[-1] else ""
    if out_format is None:
        if ext in _NOT_WRITABLE:
            raise SchemaError(
                f"the Spark engine cannot write .{ext} files ({out})",
                hint="give --out a .parquet or .csv path (a folder of part files), a URI, or a table name "
                     "such as catalog.schema.scores; or use --engine duckdb for Excel")
        if ext == "csv":
            return "csv"
        if ext in ("parquet", "pq", "") or "/" in text or ":" in text:
            return "parquet"
        return "table" if _is_table_name(text) else "parquet"
    if out_format not in ("parquet", "csv", "table"):
        raise SchemaError(f"unknown output format '{out_format}'", hint="use parquet, csv or table")
    return out_format


def _is_table_name(text: str) -> bool:
    """``schema.table`` or ``catalog.schema.table`` (backticks allowed): no path, no file extension."""
    import re

    if "/" in text or ":" in text or "\\" in text:
        return False
    parts = text.split(".")
    ident = re.compile(r"^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)$")
    return 1 < len(parts) <= 3 and all(ident.match(p) for p in parts) and parts[-1].lower() not in _NOT_WRITABLE + (
        "csv", "parquet", "pq")


def _local_path(out: str) -> Any:
    """The local :class:`~pathlib.Path` of ``out``, or None for a URI (``s3a://``, ``abfss://``, ``dbfs:/``)."""
    from pathlib import Path

    text = str(out)
    if text.startswith("file:"):
        text = text[5:].lstrip("/")
        return Path("/" + text)
    return None if ":" in text.split("/", 1)[0] else Path(text)


def replace_output(write: Any, out: str, fmt: str) -> None:
    """Run ``write(target)`` so that an existing local ``out`` is replaced only after the write succeeded.

    On a local file system the new output is written next to ``out`` (a hidden
    ``.name.cvm-new-…`` folder), the old one moved aside, the new one renamed into
    place and the old one removed: a failed run leaves the previous output intact
    and the same command runs twice. A table or a URI is written with Spark's own
    ``overwrite`` (object stores have no rename of folders).
    """
    import shutil
    import uuid

    local = None if fmt == "table" else _local_path(out)
    if local is None:
        write(out)
        return
    local = local.absolute()
    token = uuid.uuid4().hex[:8]
    fresh = local.with_name(f".{local.name}.cvm-new-{token}")
    old = local.with_name(f".{local.name}.cvm-old-{token}")
    try:
        write(str(fresh))
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if local.exists():
        local.rename(old)
    fresh.rename(local)  # an old file of the same name (a DuckDB run's scores.parquet) is replaced too
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists():
        old.unlink()


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


@contextmanager
def session_settings(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """Set SQL settings for the run and put the session's own values back afterwards (a notebook's session)."""
    before = {key: _conf(spark, key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _conf(spark: Any, key: str) -> str | None:
    """A session setting, or None (also where Spark Connect refuses to say)."""
    try:
        value = spark.conf.get(key, None)
    except Exception:  # a setting the server does not expose
        return None
    return None if value in (None, "") else str(value)


def default_parallelism(spark: Any) -> int:
    """Cores the session can use, from its settings only (no ``sparkContext``: Spark Connect refuses it).

    ``spark.default.parallelism`` when set; ``local[N]`` gives N (``local[*]`` the
    machine's cores); on a cluster ``spark.cores.max``, else executors times cores
    per executor; else 8.
    """
    import os
    import re

    given = _conf(spark, "spark.default.parallelism")
    if given and given.isdigit():
        return max(1, int(given))
    master = _conf(spark, "spark.master") or ""
    local = re.match(r"^local(?:\[(\d+|\*)(?:,\d+)?\])?$", master)
    if local:
        n = local.group(1)
        return (os.cpu_count() or 1) if n in (None, "*") and master != "local" else (1 if n is None else int(n))
    cores_max = _conf(spark, "spark.cores.max")
    if cores_max and cores_max.isdigit():
        return max(1, int(cores_max))
    instances, cores = _conf(spark, "spark.executor.instances"), _conf(spark, "spark.executor.cores")
    if instances and cores and instances.isdigit() and cores.isdigit():
        return max(1, int(instances) * int(cores))
    return 8


def auto_shuffle_partitions(spark: Any, n_transactions: int, per_partition: int = 2_000_000) -> int:
    """Shuffle partitions from the data: one per ``per_partition`` transactions, at least the core count.

    The summary shuffles the transactions once (by customer); partitions of about
    two million transactions keep each task's hash tables small, and small inputs
    get one partition per core instead of Spark's 200 (a 100,000-customer job on a
    two-worker cluster ran 1,845 tasks with 200).
    """
    return max(default_parallelism(spark), -(-int(n_transactions) // per_partition))


def _is_table_source(source: Any) -> bool:
    """A text naming a catalog table (``schema.table``, ``catalog.schema.table``) rather than a file."""
    from pathlib import Path

    return isinstance(source, str) and _is_table_name(source) and not Path(source).exists()


def exact_spend_rows(summary: Any) -> Any:
    """Repeat customers' distinct ``(frequency, monetary_value)`` with counts, mean spend as it is.

    Identical pairs are merged (the Gamma-Gamma likelihood of a pair counts
    ``weight`` times), nothing is rounded, so the fit equals the DuckDB engine's,
    which fits on every customer; the table grows with the distinct spends.
    """
    from pyspark.sql import functions as F

    return (
        summary.where((F.col("frequency") > 0) & (F.col("monetary_value") > 0))
        .groupBy("frequency", "monetary_value").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    )


def historic_values(raw: Any, customer_col: str, datetime_col: str, amount_col: str, as_of: Any, margin: float) -> Any:
    """Per customer ``historic_value`` and ``margin_rate`` as :func:`cvm.value.clv.customer_margins`.

    Transactions up to and including the as-of day; ``historic_value`` is the sum
    of ``amount * margin`` and revenue the sum of ``amount``, each in whole
    millionths as the DuckDB engine adds them; ``margin_rate`` is historic value
    over revenue (``margin`` when revenue is not positive).
    """
    from datetime import timedelta

    from pyspark.sql import functions as F

    from cvm.data.spark.summary import MICROS, _micros, clean_transactions

    tx = clean_transactions(raw, customer_col, datetime_col, amount_col)
    usable = (
        F.col("customer_id").isNotNull() & (F.length(F.trim(F.col("customer_id"))) > 0)
        & F.col("ts").isNotNull() & F.col("amount").isNotNull() & ~F.isnan(F.col("amount"))
        & (F.col("ts") < F.lit(f"{as_of + timedelta(days=1)} 00:00:00").cast("timestamp"))
    )
    sums = tx.where(usable).groupBy("customer_id").agg(
        (F.sum(_micros(F.col("amount"))) / F.lit(MICROS)).alias("_revenue"),
        (F.sum(_micros(F.col("amount") * F.lit(float(margin)))) / F.lit(MICROS)).alias("historic_value"),
    )
    rate = F.col("historic_value") / F.col("_revenue")
    return sums.select(
        "customer_id", "historic_value",
        F.when((F.col("_revenue") > 0) & ~F.isnan(rate), rate).otherwise(F.lit(float(margin))).alias("_margin_rate"),
    )


#: the columns of the DuckDB engine's ``cvm run`` output, in its order (the Spark output has the same)
OUTPUT_COLUMNS = (
    "run_id", "as_of", "customer_id", "frequency", "recency", "T", "monetary_value", "first_purchase",
    "last_purchase", "n_transactions", "total_amount", "probability_alive", "expected_purchases", "expected_spend",
    "margin_rate", "clv", "clv_low", "clv_high", "residual_value", "historic_value", "rank", "percentile",
    "value_tier", "lifecycle_stage", "planned_cost", "max_investment", "model",
)


def value_columns(scores: Any, raw: Any, columns: tuple[str, str, str], as_of: Any, margin: float, model: str) -> Any:
    """The DuckDB engine's value columns on Spark scores (:func:`cvm.value.clv.score_customers`).

    ``historic_value`` and the per-customer ``margin_rate`` of
    :func:`historic_values` (CLV, its interval and the residual value scaled from
    the flat ``margin`` to that rate, as the DuckDB engine values with it),
    ``lifecycle_stage`` (:func:`cvm.data.spark.scoring.lifecycle_column`),
    ``planned_cost`` (``settings.retention_cost_per_customer``: a file run has no
    ``costs`` table), ``max_investment = max(clv - planned_cost, 0)``, and the
    run's ``run_id``, ``as_of`` and ``model``.
    """
    from pyspark.sql import functions as F

    from cvm.data.spark.scoring import lifecycle_column
    from cvm.settings import Settings
    from cvm.data.scores import new_run_id

    settings = Settings()
    history = historic_values(raw, *columns, as_of, margin)
    scores = scores.join(history, "customer_id", "left")
    scale = F.coalesce(F.col("_margin_rate"), F.lit(float(margin))) / F.lit(float(margin))
    for col in ("clv", "clv_low", "clv_high", "residual_value"):
        if col in scores.columns:
            scores = scores.withColumn(col, F.col(col) * scale)
    scores = scores.withColumn("margin_rate", F.coalesce(F.col("_margin_rate"), F.lit(float(margin)))).drop("_margin_rate")
    cost = float(settings.retention_cost_per_customer)
    return (
        scores.withColumn("historic_value", F.coalesce(F.col("historic_value"), F.col("total_amount") * F.lit(float(margin))))
        .withColumn("lifecycle_stage", lifecycle_column(as_of, settings.stage_rules))
        .withColumn("planned_cost", F.lit(cost))
        .withColumn("max_investment", F.greatest(F.col("clv") - F.lit(cost), F.lit(0.0)))
        .withColumn("run_id", F.lit(new_run_id()))
        .withColumn("as_of", F.lit(str(as_of)))
        .withColumn("model", F.lit(model))
    )


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
    spend_digits: int | None = None,
    spark: Any = None,
    app_name: str = "cvm",
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
        Also rank the customers exactly (``rank``, ``percentile``, ``value_tier``
        by rank with ties broken by customer id, as the DuckDB engine), and compute
        the CLV per tier and the concentration (share of customers making 80 % of
        value, Gini); the last two are read back from the written scores.
    shuffle_partitions
        ``spark.sql.shuffle.partitions`` for this run; default
        :func:`auto_shuffle_partitions` (from the number of transactions).
    spend_digits
        None (default): the Gamma-Gamma fit sees every repeat customer's mean spend
        exactly (:func:`exact_spend_rows`), so CLV equals the DuckDB engine's. A
        number rounds mean spend to that many significant digits first
        (:func:`cvm.data.spark.summary.compress_spend_spark`): fewer rows reach
        the driver, CLV moves by up to about ``10**-spend_digits`` relative.
    app_name
        Name of the Spark application when this call starts the session.

    Returns
    -------
    SparkRunResult
        Counts (transactions read, unusable rows, customers, rows that reached
        the driver), fitted parameters, total CLV, tiers, concentration, timings.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from cvm.data.spark.scoring import (
        concentration_spark, discount_rate_per_unit, rank_spark, score_spark, tier_column, value_by_group_spark,
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
    spark = spark or spark_session(app_name=app_name)
    # days counted in UTC, as DuckDB; pandas -> Spark through Arrow, so executors never start Python
    with session_settings(spark, {"spark.sql.session.timeZone": "UTC", "spark.sql.execution.arrow.pyspark.enabled": "true"}):
        cust, ts, amount = _columns(mapping, customer_col, datetime_col, amount_col)
        raw = read_transactions(path_or_df, spark, "table" if _is_table_source(path_or_df) else None)
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

        partitions = shuffle_partitions
        if partitions is None:
            partitions = auto_shuffle_partitions(spark, n_tx)
        summary = sorted_scores = None
        with session_settings(spark, {"spark.sql.shuffle.partitions": str(int(partitions))}):
            try:
                step = time.perf_counter()
                summary = summarise_spark(raw, cust, ts, amount, as_of=as_of_used, time_unit=time_unit, period=period)
                summary = summary.persist(StorageLevel.MEMORY_AND_DISK)
                histories = compress_spark(summary).toPandas()
                spend_rows = (exact_spend_rows(summary) if spend_digits is None
                              else compress_spend_spark(summary, spend_digits)).toPandas()
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
                scores = value_columns(scores, raw, (cust, ts, amount), as_of_used, margin, model.lower())
                if aggregates:
                    scores, sorted_scores = rank_spark(scores)
                    scores = scores.withColumn("value_tier", tier_column())
                scores = scores.select(*[c for c in OUTPUT_COLUMNS if c in scores.columns])
                try:
                    write_scores(scores, out, out_format)
                finally:
                    if sorted_scores is not None:
                        sorted_scores.unpersist()
                clock["score_write"] = time.perf_counter() - step

                step = time.perf_counter()
                written = read_scores(spark, out, scores.schema, out_format)
                result_tiers: dict[str, dict[str, float]] = {}
                result_conc: dict[str, float] = {}
                if aggregates:
                    lowest = {r["value_tier"]: float(r["low"]) for r in
                              written.groupBy("value_tier").agg(F.min("clv").alias("low")).collect()}
                    for row in value_by_group_spark(written).collect():
                        result_tiers[row["value_tier"]] = {
                            "threshold": lowest[row["value_tier"]], "customers": int(row["customers"]),
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
    clock["total"] = time.perf_counter() - start
    return SparkRunResult(
        out=str(out), model=model.lower(), time_unit=time_unit, as_of=str(as_of_used),
        n_transactions=n_tx, rows_unusable=unusable,
        n_customers=int(histories["weight"].sum()),
        unique_histories=int(len(histories)), spend_rows=int(len(spend_rows)),
        driver_rows=int(len(histories) + len(spend_rows)),
        params=purchase_model.params, spend_params=None if spend_model is None else spend_model.params,
        total_clv=total_clv, tiers=result_tiers, concentration=result_conc, seconds=clock,
        notes=notes, period=period, shuffle_partitions=int(partitions),
        quarantine=quarantined,
    )


def run_from_cli(source: str, out: str, master: str | None, conf: list[str] | None, app_name: str,
                 **options: Any) -> SparkRunResult:
    """``cvm run --engine spark``: start (or reuse) the session, run the pipeline, stop what was started.

    Stopping the session this call started ends the application on the cluster
    (the standalone master lists it as FINISHED).
    """
    from cvm.data.spark.session import active_session

    started = active_session() is None
    spark, partitions = spark_for_cli(master, conf, app_name, out)
    try:
        return run_spark_pipeline(source, out, spark=spark, shuffle_partitions=partitions, app_name=app_name, **options)
    finally:
        if started:
            spark.stop()


def spark_for_cli(master: str | None, conf: list[str] | None, app_name: str, out: str) -> tuple[Any, int | None]:
    """The session for ``cvm run --engine spark``: ``--out`` checked first, then ``--conf`` parsed, then Spark started.

    Returns ``(session, shuffle partitions)``: the partitions given as
    ``--conf spark.sql.shuffle.partitions=N``, else None (sized from the data).
    """
    import os

    from cvm.data.spark.session import spark_session

    _output_format(out, None)  # an Excel --out is refused before Java starts
    settings: dict[str, str] = {}
    for item in conf or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SchemaError(f"--conf '{item}' is not key=value", hint="e.g. --conf spark.executor.memory=4g")
        settings[key.strip()] = value.strip()
    partitions = settings.get("spark.sql.shuffle.partitions")
    if partitions is not None and not partitions.isdigit():
        raise SchemaError(f"spark.sql.shuffle.partitions must be a whole number, got '{partitions}'")
    import tempfile
    from pathlib import Path

    from cvm.data.spark.session import jvm_output_to

    # the JVM's start-up lines go to a log file, not the terminal (errors still come back through Py4J)
    log_file = Path(tempfile.gettempdir()) / f"cvm-spark-driver-{os.getuid() if hasattr(os, 'getuid') else 'user'}.log"
    try:
        with jvm_output_to(log_file):
            spark = spark_session(master, app_name=app_name, config=settings)
    except CvmError as exc:
        exc.hint = f"{exc.hint}; the driver's own output is in {log_file}" if exc.hint else f"see {log_file}"
        raise
    return spark, None if partitions is None else int(partitions)
