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

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from cvm.data.spark.output import is_table_source
from cvm.data.spark.rules import CORRUPT_RECORD
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
    """A Spark DataFrame from a DataFrame, a table name, or Parquet/CSV path(s) (see :func:`read_source`)."""
    return read_source(source, spark, file_format)[0]


def read_source(source: Any, spark: Any = None, file_format: str | None = None) -> tuple[Any, dict[str, Any]]:
    """``(frame, detected)``: the source as Spark reads it, and what was detected about a text file.

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

    A CSV file is read as the DuckDB ingest reads it: the encoding, the delimiter and the header
    line sniffed from the first 256 kB by :mod:`cvm.data.readers` (of a local file; a URI is read
    as UTF-8 with the delimiter sniffed from its first lines), every column as text (amounts and
    dates are read by :mod:`cvm.data.spark.rules`), quoted fields may hold line breaks (RFC 4180),
    a doubled quote is a quote. When that read shows the file is not regular, :func:`check_transactions`
    reads a local file again with the DuckDB ingest's reader (:mod:`cvm.data.spark.staged`). A local
    Excel workbook is read by that reader at once; a workbook at a URI is refused by name.
    """
    if _is_spark_frame(source):
        return source, {}
    spark = spark or spark_session()
    if hasattr(source, "columns") and hasattr(source, "iloc"):
        return spark.createDataFrame(_zone_free(source)), {"format": "frame"}
    paths = [str(p) for p in source] if isinstance(source, (list, tuple)) else [str(source)]
    fmt = file_format or _guess_format(paths[0])
    if fmt == "table":
        return spark.table(paths[0]), {"format": "table"}
    if fmt == "excel":
        if len(paths) == 1 and Path(paths[0]).is_file():
            from cvm.data.spark.staged import staged_frame

            return staged_frame(spark, paths[0])
        raise SchemaError.coded("spark_excel", name=Path(paths[0]).name)
    try:
        if fmt == "csv":
            return _read_csv(spark, paths)
        return spark.read.parquet(*paths), {"format": "parquet"}
    except SchemaError:
        raise
    except Exception as exc:  # AnalysisException: path missing, not Parquet, ...
        raise SchemaError(
            f"Spark cannot read {', '.join(paths)} as {fmt}: {_first_line(exc)}",
            hint="give Parquet files or folders, CSV files with a header, or a Spark table name",
        ) from None


def _zone_free(frame: Any) -> Any:
    """A pandas frame whose zone-aware times are on the workspace's clock without a zone (as DuckDB stores them)."""
    from cvm.settings import Settings

    aware = [c for c in frame.columns if getattr(frame[c].dtype, "tz", None) is not None]
    if not aware:
        return frame
    frame = frame.copy()
    for c in aware:
        frame[c] = frame[c].dt.tz_convert(Settings().time_zone).dt.tz_localize(None)
    return frame


#: the sniffed encodings Spark's own CSV reader reads, by its names for them (others go to the DuckDB ingest's reader)
_SPARK_ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}


def _read_csv(spark: Any, paths: list[str]) -> tuple[Any, dict[str, Any]]:
    """CSV file(s) with the DuckDB ingest's sniffing (:mod:`cvm.data.readers`), every column as text."""
    from pyspark.sql.types import StringType, StructField, StructType

    from cvm.data import readers

    local = Path(paths[0])
    if local.is_file():
        if local.stat().st_size == 0:
            raise SchemaError.coded("named_file_empty", name=local.name)
        with open(local, "rb") as fh:
            sample = fh.read(readers.SAMPLE_BYTES)
        encoding = readers.sniff_encoding(sample, truncated=len(sample) == readers.SAMPLE_BYTES)
        lines = sample.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()
        if len(sample) == readers.SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]
    else:  # a URI or a folder: its first lines, read by Spark, as UTF-8
        encoding = "utf-8"
        lines = [r[0] for r in spark.read.text(paths).limit(500).collect()]
    if not any(line.strip() for line in lines):
        raise SchemaError.coded("named_file_empty", name=local.name)
    delimiter = readers.sniff_delimiter(lines[:500])
    header_index, n_fields = readers.sniff_header(lines[:500], delimiter)
    if header_index is not None:
        names = [c.strip() for c in readers._split(lines[header_index], delimiter)]
        columns = readers._unique_names([c or f"column{i + 1}" for i, c in enumerate(names)])
    else:
        columns = [f"column{i + 1}" for i in range(n_fields)]
    one_local = local.is_file() and len(paths) == 1
    # title lines above the header (Spark's reader would take the first line as the header), or an
    # encoding Spark's CSV reader does not offer (cp1252: Spark 4 reads only UTF-8/16/32, ASCII and
    # Latin-1, and Latin-1 would misread €, ‘ ’ …): the DuckDB ingest's reader reads the file
    if one_local and ((header_index and any(lines[:header_index])) or encoding not in _SPARK_ENCODINGS):
        from cvm.data.spark.staged import staged_frame

        return staged_frame(spark, local)
    if encoding not in _SPARK_ENCODINGS:
        raise SchemaError(f"Spark cannot read {', '.join(Path(p).name for p in paths)}: the text is {encoding}, "
                          "not UTF-8", hint="save the files as UTF-8 (or Parquet), or give one local file at a time")
    # a record with more or fewer fields than the header lands here (Spark drops extra fields otherwise)
    schema = StructType([StructField(c, StringType()) for c in columns] + [StructField(CORRUPT_RECORD, StringType())])
    frame = (spark.read.schema(schema)
             .option("header", header_index is not None).option("sep", delimiter)
             .option("encoding", _SPARK_ENCODINGS.get(encoding, encoding))
             .option("multiLine", True).option("quote", '"').option("escape", '"')
             .option("mode", "PERMISSIVE").option("enforceSchema", True)
             .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
             .csv(paths))
    detected = {"format": "csv", "encoding": "utf-8" if encoding == "utf-8-sig" else encoding,
                "delimiter": delimiter, "columns": columns}
    # what check_transactions needs to read the file again should it prove irregular: kept on this very
    # frame object (a frame derived from it is another object, without it), not in ``detected`` (the report's)
    frame.__dict__[_CSV_READ] = SparkCsvRead(paths=list(paths), local=str(local) if local.is_file() and
                                             len(paths) == 1 else None)
    return frame, detected


#: the attribute of a frame made by :func:`_read_csv` that holds its :class:`SparkCsvRead`
_CSV_READ = "_cvm_csv_read"


@dataclass(frozen=True)
class SparkCsvRead:
    """What Spark's CSV reader read for a frame: the paths, and the one local file among them (else None)."""

    paths: list[str]
    local: str | None


def _guess_format(path: str) -> str:
    """``csv``, ``parquet``, ``excel`` or ``table`` (a plain or qualified catalog name, ``catalog.schema.table``)."""
    lower = path.lower()
    if lower.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    if lower.endswith((".parquet", ".pq")) or Path(path).is_dir() or "://" in path or "*" in path:
        return "parquet"
    if Path(path).is_file():
        with open(path, "rb") as fh:
            head = fh.read(4)
        return "excel" if head == b"PK\x03\x04" else "parquet" if head == b"PAR1" else "csv"
    if is_table_source(path) or ("/" not in path and "." not in path[1:]):
        return "table"
    return "parquet"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_spark_frame(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.")


def check_transactions(raw: Any, mapping: Mapping[str, str] | None = None, *, locale: str | None = None,
                       delimiter: str | None = None, instants_to_zone: bool = False) -> Any:
    """Every row of ``raw`` typed and checked by the DuckDB ingest's rules (:func:`cvm.data.spark.rules.check_rows`).

    Returns a :class:`cvm.data.spark.rules.CheckedRows`: ``accepted()`` the usable transactions
    (``customer_id, ts, amount, order_id, channel, margin``), ``quarantined()`` the others with
    ``reason, reason_code, reason_values``, ``counts()`` the ingest report's counts.

    A frame read by Spark's CSV reader (:func:`read_source`) whose rows show the file is not regular
    (:func:`cvm.data.spark.rules.read_signals`, counted in the rules' first pass over the rows):

    * a local file is read again by the DuckDB ingest's reader (:func:`cvm.data.spark.staged.staged_frame`)
      and the rules run on its rows: the same rows, reasons and counts as the DuckDB ingest;
    * otherwise (a URI, several files, or a frame derived from the read), a cell holding U+FFFD (a
      line that is not UTF-8) is refused in words (``spark_not_utf8``): never read as an id or a
      value; other irregular rows keep Spark's reading (a record with the wrong field count is
      quarantined as ``field_count``).
    """
    from cvm.data.spark.rules import check_rows

    checked = check_rows(raw, "transactions", mapping, locale=locale, delimiter=delimiter,
                         instants_to_zone=instants_to_zone)
    if not checked.signals.get("irregular"):
        return checked
    read = raw.__dict__.get(_CSV_READ) if hasattr(raw, "__dict__") else None
    if read is not None and read.local is not None:
        from cvm.data.spark.staged import staged_frame

        staged, detected = staged_frame(raw.sparkSession, read.local)
        again = check_rows(staged, "transactions", mapping, locale=locale, delimiter=detected.get("delimiter"))
        again.formats.update({k: detected[k] for k in ("encoding", "reader", "invalid_utf8_lines", "multiline_records")
                              if k in detected})
        again.formats["read_again"] = f"{checked.signals['irregular']:,} irregular row(s) in Spark's CSV read"
        return again
    if checked.signals.get("replaced"):
        name = Path(read.paths[0]).name if read is not None else "the source"
        raise SchemaError.coded("spark_not_utf8", name=name, rows=checked.signals["replaced"])
    return checked


def clean_transactions(df: Any, customer_col: str = "customer_id", datetime_col: str = "ts",
                       amount_col: str | None = "amount", order_col: str | None = None) -> Any:
    """The usable transactions of ``df`` as ``customer_id, ts, amount, order_id`` (the ingest rules applied).

    The named columns are mapped (``--map``) and read as the DuckDB ingest reads them; a
    missing column is the same :class:`SchemaError`. With ``amount_col=None`` every purchase
    counts 1. Unusable rows are removed here; :func:`unusable_rows` keeps them with their reason.
    """
    from pyspark.sql import functions as F

    frame = df if amount_col else df.withColumn("_cvm_one", F.lit(1.0))
    checked = check_transactions(frame, _mapping(frame, customer_col, datetime_col, amount_col or "_cvm_one", order_col))
    return checked.accepted().select("customer_id", "ts", "amount", "order_id")


def unusable_rows(df: Any, customer_col: str = "customer_id", datetime_col: str = "ts",
                  amount_col: str | None = "amount") -> Any:
    """The rows :func:`clean_transactions` removes, as they came (every column as text), with their reason.

    The Spark counterpart of the workspace's ``quarantine`` table, with the same reasons:
    ``reason`` (the English sentence), ``reason_code`` and ``reason_values`` (JSON), worded in the
    :mod:`cvm.i18n` catalogue as ``quarantine.<code>``.
    """
    checked = check_transactions(df, _mapping(df, customer_col, datetime_col, amount_col, None))
    return checked.quarantined()


def _mapping(df: Any, customer_col: str, datetime_col: str, amount_col: str | None,
             order_col: str | None) -> dict[str, str]:
    """``--map`` for explicitly named columns (those the source holds; a missing one is refused by name)."""
    defaults = {"customer_id": "customer_id", "ts": "ts", "amount": "amount", "order_id": "order_id"}
    given = {"customer_id": customer_col, "ts": datetime_col, "amount": amount_col, "order_id": order_col}
    # a default name the source lacks is left to the recognition of column names (Klant, Datum, Bedrag ...)
    return {target: column for target, column in given.items()
            if column and (column in df.columns or column != defaults[target])}


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
    checked: bool = False,
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
    checked
        ``df_or_path`` is already the accepted transactions of :func:`check_transactions`
        (``customer_id, ts, amount, order_id``): the ingest rules are not applied again.

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
    if checked:
        tx = raw.select("customer_id", "ts", "amount", "order_id")
    else:
        tx = clean_transactions(raw, customer_col, datetime_col, amount_col,
                                order_col if order_col and order_col in raw.columns else None)
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


def historic_values(tx: Any, as_of: date, margin: float) -> Any:
    """Per customer ``historic_value`` and ``_margin_rate`` as the DuckDB engine's customer margins.

    ``tx``: the accepted transactions (:func:`check_transactions`), up to and including the as-of day; ``historic_value`` is
    the sum of ``amount * margin`` and revenue the sum of ``amount``, each in whole
    millionths as the DuckDB engine adds them; the margin rate is historic value
    over revenue (``margin`` when revenue is not positive).
    """
    from pyspark.sql import functions as F

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
