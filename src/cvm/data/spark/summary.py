"""The per-customer summary and its compression, as Spark jobs.

Same contract and the same numbers as the DuckDB engine
(:func:`cvm.data.summary.workspace_summary`) and, for day periods, as lifetimes'
``summary_data_from_transaction_data(..., freq="D", freq_multiplier=u)``
(Fader, Hardie & Lee 2005, "Counting your customers the easy way", section 2):

* a transaction belongs to the calendar day of its timestamp (UTC); the time unit
  has ``u`` days (day 1, week 7, month 365.25/12, year 365.25);
* purchases collapse into **periods**, by default calendar days (several
  purchases in one period count as one, their amounts summed);
* ``frequency`` = periods with a purchase - 1 (repeat periods);
* with day periods: ``recency = days(first, last) / u`` and
  ``T = days(first, as_of) / u``;
* with ``period`` of ``P`` days (week, month, year): ``k = floor(days(first, d) / P)``,
  ``recency = k_last * P / u``, ``T = floor(days(first, as_of) / P) * P / u``;
* ``monetary_value`` = mean spend of the repeat periods, the first period
  excluded, 0 without a repeat;
* a negative amount is a **return**, never a purchase: with an order id that a
  purchase of the same customer carries it reduces the spend of that purchase's
  period, otherwise it is taken off the customer's repeat spend
  (``monetary_value = (repeat spend + returns) / frequency``) and total; a
  customer with only returns has no row (as in the DuckDB engine);
* holdout ``(calibration_end, holdout_end]``: ``frequency_holdout`` = periods
  with a purchase, ``monetary_value_holdout`` = mean spend per holdout period,
  ``duration_holdout = days(calibration_end, holdout_end) / u``; only customers
  seen in the calibration.

Only Spark column expressions are used: the work stays on the executors and
nothing is collected except what a caller asks for.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cvm.data.spark.output import is_table_source
from cvm.data.spark.session import spark_session
from cvm.data.summary import MICROS, unit_days
from cvm.errors import SchemaError

SUMMARY_COLUMNS = (
    "customer_id", "frequency", "recency", "T", "monetary_value",
    "first_purchase", "last_purchase", "n_transactions", "total_amount",
)
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")


def as_date(value: Any, name: str) -> date | None:
    """A date from a string, date, datetime or pandas Timestamp (the time of day is ignored)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise SchemaError(f"{name} must be a date like 2024-12-31, got '{value}'") from None


def read_transactions(source: Any, spark: Any = None, file_format: str | None = None) -> Any:
    """A Spark DataFrame from a DataFrame, a table name, or Parquet/CSV path(s).

    Parameters
    ----------
    source
        A Spark DataFrame (returned as is); a pandas DataFrame (sent to Spark);
        a path or list of paths to Parquet files/folders or CSV files; or the
        name of a table in the Spark catalog.
    spark
        The session to use (default: the active one, or a new local one).
    file_format
        ``parquet``, ``csv`` or ``table``; guessed from the text when ``None``
        (a qualified name such as ``catalog.schema.table`` that is no local path is a table).
    """
    if _is_spark_frame(source):
        return source
    spark = spark or spark_session()
    if hasattr(source, "columns") and hasattr(source, "iloc"):
        return spark.createDataFrame(source)
    paths = [str(p) for p in source] if isinstance(source, (list, tuple)) else [str(source)]
    fmt = file_format or _guess_format(paths[0])
    if fmt == "table":
        return spark.table(paths[0])
    try:
        if fmt == "csv":
            return spark.read.csv(paths, header=True, inferSchema=True)
        return spark.read.parquet(*paths)
    except Exception as exc:  # AnalysisException: path missing, not Parquet, ...
        raise SchemaError(
            f"Spark cannot read {', '.join(paths)} as {fmt}: {_first_line(exc)}",
            hint="give Parquet files or folders, CSV files with a header, or a Spark table name",
        ) from None


def _guess_format(path: str) -> str:
    """``csv``, ``parquet`` or ``table`` (a plain or qualified catalog name, ``catalog.schema.table``)."""
    lower = path.lower()
    if lower.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    if lower.endswith((".parquet", ".pq")) or Path(path).is_dir() or "://" in path or "*" in path:
        return "parquet"
    if Path(path).exists():
        return "parquet"
    if is_table_source(path) or ("/" not in path and "." not in path[1:]):
        return "table"
    return "parquet"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_spark_frame(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.")


def _problems(customer_col: str, datetime_col: str, amount_col: str | None) -> list[tuple[Any, str]]:
    """``(condition, reason code)`` for each way a raw row can be unusable, in the order they are named.

    ``try_cast``: under ANSI mode (Spark 4's default) a plain cast of a malformed value fails the
    job; here it becomes NULL, an unusable row.
    """
    from pyspark.sql import functions as F

    customer = F.col(customer_col)
    problems = [
        (customer.isNull() | (F.length(F.trim(customer.cast("string"))) == 0), "empty_customer_id"),
        (F.col(datetime_col).try_cast("timestamp").isNull(), "timestamp_unparseable"),
    ]
    if amount_col:
        amount = F.col(amount_col).try_cast("double")
        problems.append((amount.isNull() | F.isnan(amount), "amount_not_a_number"))
    return problems


def _unusable(customer_col: str, datetime_col: str, amount_col: str | None) -> Any:
    """True for a raw row :func:`clean_transactions` removes (any of :func:`_problems`)."""
    bad = None
    for condition, _ in _problems(customer_col, datetime_col, amount_col):
        bad = condition if bad is None else bad | condition
    return bad


def _check_columns(df: Any, *columns: str | None) -> None:
    """A :class:`SchemaError` naming the missing columns and those present."""
    missing = [c for c in columns if c and c not in df.columns]
    if missing:
        raise SchemaError(
            f"the transactions lack column(s) {', '.join(missing)}; they have {', '.join(df.columns)}",
            hint="name the columns with customer_col=, datetime_col=, amount_col= (CLI: --map customer_id=Klant)",
        )


def clean_transactions(df: Any, customer_col: str, datetime_col: str, amount_col: str | None,
                       order_col: str | None = None) -> Any:
    """Select and type the columns: ``customer_id`` (string), ``ts`` (timestamp), ``amount`` (double)
    and, with ``order_col``, ``order_id`` (string).

    Raises :class:`SchemaError` naming the missing columns and those present.
    Unusable rows (an empty customer, a timestamp that does not parse, a missing
    amount) are removed here; :func:`unusable_rows` keeps them with their reason and
    :func:`input_counts` counts them.
    """
    from pyspark.sql import functions as F

    _check_columns(df, customer_col, datetime_col, amount_col)
    cols = [
        F.col(customer_col).cast("string").alias("customer_id"),
        F.col(datetime_col).try_cast("timestamp").alias("ts"),
    ]
    if amount_col:
        cols.append(F.col(amount_col).try_cast("double").alias("amount"))
    if order_col:
        cols.append(F.col(order_col).cast("string").alias("order_id"))
    return df.where(~_unusable(customer_col, datetime_col, amount_col)).select(*cols)


def unusable_rows(df: Any, customer_col: str, datetime_col: str, amount_col: str | None) -> Any:
    """The rows :func:`clean_transactions` removes, as they came (every column as text), with a ``reason``.

    The Spark counterpart of the workspace's ``quarantine`` table: nothing is
    dropped without a trace. Reasons, first that applies, as ``reason`` (English) and
    ``reason_code`` (words in the :mod:`cvm.i18n` catalogue, ``quarantine.<code>``):
    ``empty customer id`` (``empty_customer_id``), ``timestamp does not parse``
    (``timestamp_unparseable``), ``amount missing or not a number`` (``amount_not_a_number``).
    """
    from pyspark.sql import functions as F

    from cvm.i18n import text

    code = reason = None
    for condition, name in _problems(customer_col, datetime_col, amount_col):
        words = F.lit(text(f"quarantine.{name}", "en"))
        code = F.when(condition, F.lit(name)) if code is None else code.when(condition, F.lit(name))
        reason = F.when(condition, words) if reason is None else reason.when(condition, words)
    as_text = [F.col(c).cast("string").alias(c) for c in df.columns]
    return (df.select(*as_text, reason.alias("reason"), code.alias("reason_code"))
            .where(F.col("reason_code").isNotNull()))


def input_counts(raw: Any, customer_col: str, datetime_col: str, amount_col: str) -> tuple[int, int, date | None]:
    """One pass over the input: ``(rows, unusable rows, day of the last usable transaction or None)``.

    Unusable as in :func:`clean_transactions`; a missing column is a :class:`SchemaError`.
    """
    from pyspark.sql import functions as F

    _check_columns(raw, customer_col, datetime_col, amount_col)
    bad = _unusable(customer_col, datetime_col, amount_col)
    row = raw.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(bad, 1).otherwise(0)).alias("bad"),
        F.max(F.when(~bad, F.col(datetime_col).try_cast("timestamp"))).alias("last"),
    ).collect()[0]
    last = None if row["last"] is None else row["last"].date()
    return int(row["n"]), int(row["bad"] or 0), last


def summarise_spark(
    df_or_path: Any,
    customer_col: str = "customer_id",
    datetime_col: str = "ts",
    amount_col: str | None = "amount",
    as_of: Any = None,
    time_unit: str = "week",
    calibration_end: Any = None,
    holdout_end: Any = None,
    period: str = "day",
    spark: Any = None,
    order_col: str | None = "order_id",
) -> Any:
    """Per-customer ``frequency, recency, T, monetary_value`` as a Spark DataFrame.

    Parameters
    ----------
    df_or_path
        A Spark or pandas DataFrame, Parquet/CSV path(s), or a Spark table name.
    customer_col, datetime_col, amount_col
        Column names in the input; with ``amount_col=None`` every purchase counts 1.
    as_of
        Observation date (inclusive); default the day of the last transaction.
        Transactions after it are ignored.
    time_unit
        ``day``, ``week`` (7 days), ``month`` (365.25/12 days) or ``year`` (365.25 days).
    calibration_end, holdout_end
        With ``calibration_end`` the summary is taken as of that date and the
        holdout columns count the purchases in ``(calibration_end, holdout_end]``;
        ``holdout_end`` defaults to ``as_of``, then to the last transaction.
    period
        Granularity at which purchases collapse: ``day`` (default, lifetimes'
        ``freq="D"``) or a time unit (floor-divided from the first purchase).
    order_col
        The order id column, used (when the input has it) to attach a return
        (negative amount) to the purchase of the same order.

    Returns
    -------
    pyspark.sql.DataFrame
        One row per customer: ``customer_id, frequency, recency, T,
        monetary_value, first_purchase, last_purchase`` (days, as timestamps),
        ``n_transactions, total_amount`` (+ ``frequency_holdout,
        monetary_value_holdout, duration_holdout``). ``recency, T`` are in
        units of ``time_unit``; the module docstring gives the exact conventions.

    Examples
    --------
    >>> summary = summarise_spark("tx.parquet", time_unit="week")   # doctest: +SKIP
    >>> compress_spark(summary).toPandas()                          # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    unit = unit_days(time_unit)
    period_days = unit_days(period)
    raw = read_transactions(df_or_path, spark)
    order_col = order_col if order_col and order_col in raw.columns else None
    tx = clean_transactions(raw, customer_col, datetime_col, amount_col, order_col)
    if amount_col is None:
        tx = tx.withColumn("amount", F.lit(1.0))
    if order_col is None:
        tx = tx.withColumn("order_id", F.lit(None).cast("string"))
    tx = tx.withColumn("day", F.datediff(F.to_date("ts"), F.lit("1970-01-01").cast("date")))
    # a return is a negative amount as read (before rounding to millionths, as in the DuckDB engine)
    tx = tx.withColumn("is_return", F.coalesce(F.col("amount") < F.lit(0.0), F.lit(False)))
    tx = tx.withColumn("amount", _micros(F.col("amount")))
    as_of_d = as_date(as_of, "as_of")
    cal_d = as_date(calibration_end, "calibration_end")
    hold_d = as_date(holdout_end, "holdout_end")
    if cal_d is not None:
        end_d = hold_d or as_of_d or _last_day(tx)
        if end_d <= cal_d:
            raise SchemaError(
                f"the holdout end {end_d} must come after the calibration end {cal_d}",
                hint="choose a calibration end before the last transaction",
            )
        cal_day = _epoch_day(cal_d)
        cal = _summary(tx.where(F.col("day") <= cal_day), cal_day, unit, period_days)
        return _holdout(tx, cal, cal_day, _epoch_day(end_d), unit, period_days)
    if as_of_d is None:
        as_of_d = _last_day(tx)
    day = _epoch_day(as_of_d)
    return _summary(tx.where(F.col("day") <= day), day, unit, period_days)


def _micros(amount: Any) -> Any:
    """An amount in whole millionths of the currency unit, as the DuckDB summary adds them up.

    Whole numbers add up to the same double in any order (below 2**53), so Spark's
    partitioning cannot change a sum (see :data:`cvm.data.summary.MICROS`). Rounded half
    away from zero like DuckDB's ``round``, in doubles throughout (Spark's ``floor``
    returns a 64-bit integer and its ``round`` works in BigDecimal):
    ``sign(a) * (|a|·10⁶ − frac + [frac ≥ ½])`` with ``frac = |a|·10⁶ mod 1``.
    """
    from pyspark.sql import functions as F

    scaled = F.abs(amount) * F.lit(MICROS)
    frac = F.pmod(scaled, F.lit(1.0))
    return F.signum(amount) * (scaled - frac + F.when(frac >= F.lit(0.5), F.lit(1.0)).otherwise(F.lit(0.0)))


def _epoch_day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _last_day(tx: Any) -> date:
    from pyspark.sql import functions as F

    row = tx.agg(F.max("ts").alias("last")).collect()[0]
    if row["last"] is None:
        raise SchemaError("there are no usable transactions", hint="check the column names and the timestamps")
    return row["last"].date()


def _summary(tx: Any, obs_day: int, unit: float, period: float) -> Any:
    """The summary of ``tx`` (already cut at ``obs_day``): one row per customer.

    One shuffle: the transactions are hash-partitioned by customer once, and every
    later step (per day, per period, per customer) groups within those partitions.
    With day periods the first period's spend is ``min_by(spend, day)``, so no
    window is needed; longer periods count from each customer's first day, taken
    with a window over the (already co-located) customer.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows, loose = _purchase_rows(tx)
    by_customer = rows.repartition("customer_id")
    daily = by_customer.groupBy("customer_id", "day").agg(F.sum("amount").alias("spend"), F.sum("n").alias("n"))
    if period == 1:
        agg = daily.groupBy("customer_id").agg(
            F.count(F.lit(1)).alias("n_periods"),
            F.min("day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.sum("n").alias("n_transactions"),
            F.sum("spend").alias("total_amount"),
            F.min_by("spend", "day").alias("first_spend"),
        )
    else:
        daily = daily.withColumn("first_day", F.min("day").over(Window.partitionBy("customer_id")))
        periods = (
            daily.withColumn("key", F.floor((F.col("day") - F.col("first_day")) / F.lit(period)).cast("long"))
            .groupBy("customer_id", "key")
            .agg(F.min("first_day").alias("first_day"), F.max("day").alias("day"),
                 F.sum("spend").alias("spend"), F.sum("n").alias("n"))
        )
        agg = periods.groupBy("customer_id").agg(
            F.count(F.lit(1)).alias("n_periods"),
            F.min("first_day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.max("key").alias("last_key"),
            F.sum("n").alias("n_transactions"),
            F.sum("spend").alias("total_amount"),
            F.sum(F.when(F.col("key") == 0, F.col("spend")).otherwise(0.0)).alias("first_spend"),
        )
    frequency = (F.col("n_periods") - 1).cast("double")
    if period == 1:
        recency = (F.col("last_day") - F.col("first_day")) / F.lit(unit)
        age = (F.lit(obs_day) - F.col("first_day")) / F.lit(unit)
    else:
        recency = F.col("last_key") * F.lit(period / unit)
        age = F.floor((F.lit(obs_day) - F.col("first_day")) / F.lit(period)) * F.lit(period / unit)
    agg = agg.join(loose, "customer_id", "left").fillna(0.0, subset=["returned"])
    repeat_spend = F.col("total_amount") - F.col("first_spend") + F.col("returned")
    monetary = F.when(F.col("n_periods") > 1, repeat_spend / (frequency * F.lit(MICROS)))
    return agg.select(
        "customer_id",
        frequency.alias("frequency"),
        recency.cast("double").alias("recency"),
        age.cast("double").alias("T"),
        monetary.otherwise(F.lit(0.0)).alias("monetary_value"),
        _day_to_timestamp("first_day").alias("first_purchase"),
        _day_to_timestamp("last_day").alias("last_purchase"),
        F.col("n_transactions").cast("long").alias("n_transactions"),
        ((F.col("total_amount").cast("double") + F.col("returned")) / F.lit(MICROS)).alias("total_amount"),
    )


def _purchase_rows(tx: Any) -> tuple[Any, Any]:
    """``(rows, loose)``: purchase rows ``customer_id, day, amount, n`` with the returns that belong to a
    purchase moved to its (first) day with ``n = 0``, and per customer the other returns (``returned``).

    A return (``is_return``) attaches to the purchase of the same customer and order id among ``tx``;
    the join only touches the purchases whose order has a return.
    """
    from pyspark.sql import functions as F

    purchases = tx.where(~F.col("is_return"))
    returns = tx.where(F.col("is_return")).select("customer_id", "order_id", "amount")
    orders = (
        purchases.where(F.col("order_id").isNotNull())
        .join(returns.select("customer_id", "order_id").distinct(), ["customer_id", "order_id"], "left_semi")
        .groupBy("customer_id", "order_id").agg(F.min("day").alias("day"))
    )
    placed = returns.join(orders, ["customer_id", "order_id"], "left")
    rows = purchases.select("customer_id", "day", "amount", F.lit(1).cast("long").alias("n")).unionByName(
        placed.where(F.col("day").isNotNull()).select("customer_id", "day", "amount", F.lit(0).cast("long").alias("n")))
    loose = placed.where(F.col("day").isNull()).groupBy("customer_id").agg(F.sum("amount").alias("returned"))
    return rows, loose


def _day_to_timestamp(col: str) -> Any:
    from pyspark.sql import functions as F

    return F.date_add(F.lit("1970-01-01").cast("date"), F.col(col).cast("int")).cast("timestamp")


def _holdout(tx: Any, cal: Any, cal_day: int, end_day: int, unit: float, period: float) -> Any:
    """Join the holdout columns to the calibration summary ``cal`` (calibration customers only)."""
    from pyspark.sql import functions as F

    first = cal.select("customer_id", F.datediff(F.to_date("first_purchase"), F.lit("1970-01-01").cast("date")).alias("first_day"))
    rows, loose = _purchase_rows(tx.where((F.col("day") > cal_day) & (F.col("day") <= end_day)))
    later = rows.join(first, "customer_id", "inner")
    key = F.col("day") if period == 1 else F.floor((F.col("day") - F.col("first_day")) / F.lit(period))
    per_period = later.groupBy("customer_id", key.alias("key")).agg(F.sum("amount").alias("spend"))
    hold = (per_period.groupBy("customer_id").agg(F.count(F.lit(1)).alias("periods"), F.sum("spend").alias("spend"))
            .join(loose, "customer_id", "left").fillna(0.0, subset=["returned"]))
    hold = hold.select(
        "customer_id",
        F.col("periods").cast("double").alias("frequency_holdout"),
        ((F.col("spend") + F.col("returned")) / (F.col("periods") * F.lit(MICROS))).alias("monetary_value_holdout"),
    )
    out = cal.join(hold, "customer_id", "left").fillna(0.0, subset=["frequency_holdout", "monetary_value_holdout"])
    return out.withColumn("duration_holdout", F.lit(float(end_day - cal_day) / unit))


def compress_spark(summary_df: Any, columns: tuple[str, ...] = ("frequency", "recency", "T")) -> Any:
    """Unique histories with their counts: the small table a model is fitted on.

    The likelihood of the purchase models depends on a customer only through
    ``(frequency, recency, T)``, so ``sum_i ll(x_i, t_i, T_i)`` equals
    ``sum_k w_k ll(x_k, t_k, T_k)`` over the distinct histories ``k`` with
    ``w_k`` customers each. The group-by runs on the cluster; only this result
    reaches the driver.

    Returns
    -------
    pyspark.sql.DataFrame
        ``columns`` + ``weight`` (double), one row per distinct history.
    """
    from pyspark.sql import functions as F

    missing = [c for c in columns if c not in summary_df.columns]
    if missing:
        raise SchemaError(
            f"the summary lacks column(s) {', '.join(missing)}",
            hint="pass the frame summarise_spark returns",
        )
    return summary_df.groupBy(*columns).agg(F.count(F.lit(1)).cast("double").alias("weight"))


def compress_spend_spark(summary_df: Any, significant_digits: int = 4) -> Any:
    """Repeat customers' ``(frequency, monetary_value)`` with counts, for the Gamma-Gamma fit.

    Mean spend is continuous, so identical pairs are rare; it is rounded to
    ``significant_digits`` significant digits first, so the table that reaches
    the driver stays small (with 4 digits at most 9,000 spend levels per
    frequency, whatever the number of customers). The relative change per
    customer is below ``5 * 10**-significant_digits`` and has no sign, so it
    moves the Gamma-Gamma estimates by a tiny fraction of their standard
    errors (``tests/data/test_spark.py`` checks the bound). Customers with ``frequency == 0`` carry no
    spend information and are left out (Fader, Hardie & Lee 2005, "RFM and
    CLV", section on monetary value), as are repeat customers whose mean spend
    is not positive (net returns).
    """
    from pyspark.sql import functions as F

    if "monetary_value" not in summary_df.columns:
        raise SchemaError("the summary has no monetary_value column", hint="summarise with amount_col set")
    m = F.col("monetary_value")
    scale = F.pow(F.lit(10.0), F.lit(significant_digits - 1) - F.floor(F.log10(m)))
    rounded = F.when(m > 0, F.round(m * scale) / scale).otherwise(m)
    return (
        summary_df.where((F.col("frequency") > 0) & (F.col("monetary_value") > 0))
        .select("frequency", rounded.alias("monetary_value"))
        .groupBy("frequency", "monetary_value")
        .agg(F.count(F.lit(1)).cast("double").alias("weight"))
    )


def exact_spend_rows(summary_df: Any) -> Any:
    """Repeat customers' distinct ``(frequency, monetary_value)`` with counts, mean spend as it is.

    Identical pairs are merged (the Gamma-Gamma likelihood of a pair counts
    ``weight`` times), nothing is rounded, so the fit equals the DuckDB engine's,
    which fits on every customer; the table grows with the distinct spends.
    :func:`compress_spend_spark` rounds first, for a smaller table.
    """
    from pyspark.sql import functions as F

    return (
        summary_df.where((F.col("frequency") > 0) & (F.col("monetary_value") > 0))
        .groupBy("frequency", "monetary_value").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    )


def historic_values(raw: Any, customer_col: str, datetime_col: str, amount_col: str, as_of: date,
                    margin: float) -> Any:
    """Per customer ``historic_value`` and ``_margin_rate`` as the DuckDB engine's customer margins.

    Usable transactions up to and including the as-of day; ``historic_value`` is
    the sum of ``amount * margin`` and revenue the sum of ``amount``, each in whole
    millionths as the DuckDB engine adds them; the margin rate is historic value
    over revenue (``margin`` when revenue is not positive).
    """
    from pyspark.sql import functions as F

    tx = clean_transactions(raw, customer_col, datetime_col, amount_col)
    before = F.col("ts") < F.lit(f"{as_of + timedelta(days=1)} 00:00:00").cast("timestamp")
    sums = tx.where(before).groupBy("customer_id").agg(
        (F.sum(_micros(F.col("amount"))) / F.lit(MICROS)).alias("_revenue"),
        (F.sum(_micros(F.col("amount") * F.lit(float(margin)))) / F.lit(MICROS)).alias("historic_value"),
    )
    rate = F.col("historic_value") / F.col("_revenue")
    return sums.select(
        "customer_id", "historic_value",
        F.when((F.col("_revenue") > 0) & ~F.isnan(rate), rate).otherwise(F.lit(float(margin))).alias("_margin_rate"),
    )
