"""One shot on Spark: read, summarise, compress, fit on the driver, value, score on the cluster, write.

The same steps as the DuckDB engine's run, with the same pieces where the work is small: the
model names of :mod:`cvm.models.registry`, the fit of :mod:`cvm.fitting` (purchase models through
:func:`cvm.models.limits.fit_for_prediction` on the weighted distinct histories, Gamma-Gamma through
:func:`cvm.fitting.fit_spend_model`), and the valuation of :func:`cvm.value.clv.value_customers`
for each distinct history. The work that grows with the customers runs on the cluster as Spark SQL
(:mod:`cvm.data.spark`): the summary, the spend part of CLV, ranks, tiers, the output.

Only the compressed tables (distinct ``(frequency, recency, T)`` histories and distinct
``(frequency, monetary_value)`` pairs of repeat buyers) and a few aggregates reach the driver;
:class:`SparkRunResult` reports how many rows did.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtri

from cvm.data.spark.output import output_format, quarantine_target, read_scores, write_scores
from cvm.data.spark.scoring import (
    HISTORY_KEY, OUTPUT_COLUMNS, check_summary, concentration_spark, customer_scores, rank_spark, tier_column,
    value_by_group_spark, value_columns,
)
from cvm.data.spark.session import (
    active_session, auto_shuffle_partitions, session_for_cli, session_settings, spark_session,
)
from cvm.data.spark.summary import (
    as_date, check_transactions, compress_spark, compress_spend_spark, exact_spend_rows, historic_values,
    read_source, summarise_spark,
)
from cvm.data.summary import unit_days
from cvm.errors import SchemaError
from cvm.fitting import check_enough_to_value, fit_model, fit_spend_model, model_name
from cvm.models.registry import PURCHASE_MODELS, spec
from cvm.settings import Settings
from cvm.value.clv import value_customers

#: the accepted transactions' columns the run uses after the checks (the summary's and the historic values')
_KEPT = ("customer_id", "ts", "amount", "order_id")

#: level at which the purchase part's interval is read back into a standard deviation
_HISTORY_LEVEL = 0.95


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
    #: the ingest report, as the DuckDB engine's: ``rows_read, accepted, quarantined, duplicates``,
    #: ``reasons`` (reason code -> rows) and ``detected`` (mapping, delimiter, decimal mark, date formats)
    ingest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- fit and value on the driver
def purchase_model_name(model: str) -> str:
    """The registry name of a purchase model that can value customers (a :class:`SchemaError` otherwise)."""
    entry = spec(model)
    if entry.kind != "purchase":
        raise SchemaError(f"'{model}' cannot value customers on Spark", hint=f"use one of {', '.join(PURCHASE_MODELS)}")
    return entry.name


def fit_histories(histories: pd.DataFrame, model: str, as_of: Any = None, **settings: Any) -> Any:
    """Fit a purchase model for predictions on compressed histories (``frequency, recency, T, weight``).

    The rules of :func:`cvm.fitting.fit_model`, with each distinct history counted ``weight``
    times: customers first seen on the as-of day (T = 0, likelihood 1) are left out, the fit goes
    through :func:`cvm.models.limits.fit_for_prediction` (a fit at a known edge comes back as its
    limit, NBD or Poisson; broken predictions are refused), and few customers are warned about.
    ``as_of`` names the day in the refusal when every customer was first seen on it.
    """
    frame = histories.rename(columns={"weight": "weights"})
    if as_of is not None:
        frame.attrs["as_of"] = as_of
    check_enough_to_value(frame)
    return fit_model(frame, model, **settings)


def fit_spend_rows(spend_rows: pd.DataFrame) -> tuple[Any, str | None]:
    """Gamma-Gamma by :func:`cvm.fitting.fit_spend_model` on compressed ``(frequency, monetary_value, weight)``.

    Each pair stands for ``weight`` repeat customers (the ``weights`` of the fit). Returns ``(model or None, note or None)``.
    """
    return fit_spend_model(spend_rows.rename(columns={"weight": "weights"}))


def value_histories(histories: Any, purchase_model: Any, *, horizon: int, discount_rate: float,
                    residual: bool = True) -> pd.DataFrame:
    """The purchase part of CLV for each distinct history, on the driver.

    Calls :func:`cvm.value.clv.value_customers` (the DuckDB engine's valuation) with unit spend
    and unit margin, so its ``clv`` is the discounted expected purchases ``DE`` and its interval
    ``DE * exp(+/- z sd)`` gives ``sd``, the delta-method standard deviation of ``log DE`` from the
    purchase model alone: ``sd = log(high / DE) / z``.

    Parameters
    ----------
    histories
        pandas frame with ``frequency, recency, T`` (other columns ignored).

    Returns
    -------
    pandas.DataFrame
        ``frequency, recency, T`` (as given) and ``probability_alive, expected_purchases,
        discounted_purchases, log_variance`` (of ``log DE``) and, with ``residual``,
        ``residual_purchases`` (DERT, no horizon): the table
        :func:`cvm.data.spark.scoring.customer_scores` joins back.
    """
    frame = pd.DataFrame({c: np.asarray(histories[c], dtype=float) for c in HISTORY_KEY})
    frame["monetary_value"] = 1.0
    valued = value_customers(
        frame, purchase_model, None, horizon=int(horizon), discount_rate=float(discount_rate),
        margin=1.0, level=_HISTORY_LEVEL, residual=residual,
    ).customers
    de = valued["clv"].to_numpy(float)
    high = valued["clv_high"].to_numpy(float)
    z = float(ndtri(0.5 + _HISTORY_LEVEL / 2))  # the standard normal quantile
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(de > 0, np.log(high / np.where(de > 0, de, 1.0)) / z, 0.0)
    out = frame[list(HISTORY_KEY)].copy()
    out["probability_alive"] = valued["probability_alive"].to_numpy(float)
    out["expected_purchases"] = valued["expected_purchases"].to_numpy(float)
    out["discounted_purchases"] = de
    out["log_variance"] = np.clip(np.nan_to_num(sd, nan=0.0, posinf=0.0), 0.0, None) ** 2
    if residual:
        out["residual_purchases"] = valued["residual_value"].to_numpy(float)
    return out


def score_spark(
    summary_df: Any,
    purchase_model: Any,
    spend_model: Any = None,
    *,
    horizon: int = 52,
    discount_rate: float = 0.0,
    margin: float = 0.3,
    level: float = 0.9,
    residual: bool = True,
    histories: Any = None,
) -> Any:
    """Value every customer of a Spark summary: purchase part per distinct history, spend part in SQL.

    Parameters
    ----------
    summary_df
        Spark DataFrame with ``customer_id, frequency, recency, T,
        monetary_value`` (other columns are carried along). Persist it when it is
        expensive: it is read once here (unless ``histories`` is given) and once
        by every action on the result.
    purchase_model, spend_model
        Fitted cvm models (``BGNBD``, ``ParetoNBD``, ``MBGNBD``; ``GammaGamma`` or
        None for each customer's observed mean spend).
    horizon
        Number of model time units summed over.
    discount_rate
        Discount rate **per model time unit** (:meth:`cvm.settings.Settings.discount_rate_per_unit`).
    margin, level
        Margin rate on spend; level of the CLV interval.
    residual
        Also compute ``residual_value`` (discounted expected residual value, no horizon).
    histories
        The distinct ``(frequency, recency, T)`` of ``summary_df`` as pandas (e.g.
        ``compress_spark(summary_df).toPandas()``); collected here when None.

    Returns
    -------
    pyspark.sql.DataFrame
        The input columns plus :data:`cvm.data.spark.scoring.SCORE_COLUMNS` (``residual_value``
        only with ``residual=True``). Lazy: nothing more runs until it is written or collected.
    """
    check_summary(summary_df)
    purchase_model._require_fit()
    if histories is None:
        histories = summary_df.select(*HISTORY_KEY).distinct().toPandas()
    valued = value_histories(histories, purchase_model, horizon=horizon, discount_rate=discount_rate, residual=residual)
    return customer_scores(summary_df, valued, spend_model, margin=margin, level=level)


# ----------------------------------------------------------------------------- the run
def _columns(mapping: Mapping[str, str] | None, customer_col: str | None, datetime_col: str | None,
             amount_col: str | None) -> dict[str, str]:
    """``--map`` with the columns named by keyword (``customer_col=`` ...) added; the rest is recognised by name."""
    given = {"customer_id": customer_col, "ts": datetime_col, "amount": amount_col}
    return {**{k: v for k, v in given.items() if v}, **dict(mapping or {})}


def _source_name(path_or_df: Any) -> str:
    if isinstance(path_or_df, (str, bytes)) or hasattr(path_or_df, "__fspath__"):
        return str(path_or_df).rstrip("/").rsplit("/", 1)[-1]
    return "the input"


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
    locale: str | None = None,
    customer_col: str | None = None,
    datetime_col: str | None = None,
    amount_col: str | None = None,
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
        Where the scores go (Parquet folder by default; see :func:`cvm.data.spark.output.write_scores`).
    model
        Purchase model (registry name: ``bgnbd``, ``pnbd`` or ``mbgnbd``); spend by Gamma-Gamma.
    horizon, time_unit
        CLV horizon in periods of ``time_unit`` (``day``, ``week``, ``month``, ``year``).
    discount_rate
        **Yearly** discount rate, converted per time unit as
        ``(1 + d) ** (days / 365.25) - 1`` (:meth:`cvm.settings.Settings.discount_rate_per_unit`).
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
        Target column -> source column (the CLI's ``--map``); the other columns are recognised by
        their names as in the DuckDB ingest (:func:`cvm.data.validate.recognise_columns`).
    locale
        The CLI's ``--locale``: how amounts and dates are written when the values do not prove it.
    customer_col, datetime_col, amount_col
        Source columns named by keyword, the same as ``mapping`` entries.
    penalizer
        Penalizer of the purchase model's fit.
    aggregates
        Also rank the customers exactly (``rank``, ``percentile``, ``value_tier``
        by rank with ties broken by customer id, as the DuckDB engine), and compute
        the CLV per tier and the concentration (share of customers making 80 % of
        value, Gini); the last two are read back from the written scores.
    shuffle_partitions
        ``spark.sql.shuffle.partitions`` for this run; default
        :func:`cvm.data.spark.session.auto_shuffle_partitions` (from the number of transactions).
    spend_digits
        None (default): the Gamma-Gamma fit sees every repeat customer's mean spend
        exactly (:func:`cvm.data.spark.summary.exact_spend_rows`), so CLV equals the DuckDB engine's. A
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

    unit_days(time_unit), unit_days(period)  # an unknown unit is refused before Spark reads anything
    output_format(out, out_format)
    name = purchase_model_name(model)
    settings = Settings().set("discount_rate", discount_rate)
    clock: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    spark = spark or spark_session(app_name=app_name)
    # days counted in UTC, as DuckDB; pandas -> Spark through Arrow, so executors never start Python
    with session_settings(spark, {"spark.sql.session.timeZone": "UTC", "spark.sql.execution.arrow.pyspark.enabled": "true"}):
        raw, detected = read_source(path_or_df, spark)
        checked = check_transactions(raw, _columns(mapping, customer_col, datetime_col, amount_col), locale=locale,
                                     delimiter=detected.get("delimiter"),
                                     instants_to_zone=detected.get("format") == "parquet")
        # the rules run once per row: the typed columns and the verdict are kept (narrow), and the
        # counts, the last day, the summary and the historic values read them from there
        rows = checked.typed(_KEPT).persist(StorageLevel.MEMORY_AND_DISK)
        counts, last_ts = checked.tally(rows)
        report = {**{k: counts[k] for k in ("rows_read", "accepted", "quarantined", "duplicates")},
                  "reasons": counts["reasons"], "detected": {**detected, **checked.formats}}
        if counts["rows_read"] == 0:
            rows.unpersist()
            raise SchemaError.coded("header_only", name=_source_name(path_or_df))
        quarantined = None
        if counts["quarantined"]:  # kept with their reason, next to the scores (nothing dropped without a trace)
            target, fmt = quarantine_target(out, out_format)
            quarantined = write_scores(checked.quarantined(), target, fmt)
            notes.append(f"{counts['quarantined']:,} unusable row(s) kept with their reason in {quarantined}")
        if counts["accepted"] == 0:
            rows.unpersist()
            reasons = "; ".join(f"{n:,} × {code}" for code, n in counts["reasons"].items())
            raise SchemaError(
                f"{_source_name(path_or_df)} gave no usable transactions: {counts['rows_read']:,} rows read, "
                f"none accepted ({reasons})",
                hint=f"check the column mapping and the formats; the rows and why are in {quarantined}")
        accepted = checked.accepted(rows)
        last_day = last_ts.date()
        n_tx, unusable = counts["rows_read"], counts["quarantined"]
        as_of_used = as_date(as_of, "as_of") or last_day
        clock["read"] = time.perf_counter() - start

        partitions = shuffle_partitions
        if partitions is None:
            partitions = auto_shuffle_partitions(spark, n_tx)
        summary = sorted_scores = None
        with session_settings(spark, {"spark.sql.shuffle.partitions": str(int(partitions))}):
            try:
                step = time.perf_counter()
                summary = summarise_spark(accepted, as_of=as_of_used, time_unit=time_unit, period=period, checked=True)
                summary = summary.persist(StorageLevel.MEMORY_AND_DISK)
                histories = compress_spark(summary).toPandas()
                spend_rows = (exact_spend_rows(summary) if spend_digits is None
                              else compress_spend_spark(summary, spend_digits)).toPandas()
                net_returns = int(summary.where((F.col("frequency") > 0) & (F.col("monetary_value") <= 0)).count())
                clock["summarise_compress"] = time.perf_counter() - step
                if histories.empty:
                    raise SchemaError("no customer has a usable transaction", hint="check the as-of date and the column mapping")

                step = time.perf_counter()
                purchase_model = fit_histories(histories, name, as_of_used, penalizer=penalizer)
                spend_model, note = fit_spend_rows(spend_rows)
                if note:
                    notes.append(note)
                if net_returns and spend_model is not None:
                    notes.append(f"{net_returns} repeat customer(s) with a mean spend that is not positive (net returns) "
                                 "are valued at the population's expected spend")
                clock["fit"] = time.perf_counter() - step

                step = time.perf_counter()
                scores = score_spark(
                    summary, purchase_model, spend_model, horizon=horizon,
                    discount_rate=settings.discount_rate_per_unit(time_unit), margin=margin, level=level,
                    histories=histories,
                )
                history = historic_values(accepted, as_of_used, margin)
                scores = value_columns(scores, history, as_of_used, margin, model_name(name, purchase_model), settings)
                if aggregates:
                    scores, sorted_scores = rank_spark(scores)
                    scores = scores.withColumn("value_tier", tier_column(settings.tier_cutoffs))
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
                rows.unpersist()
    clock["total"] = time.perf_counter() - start
    return SparkRunResult(
        out=str(out), model=model_name(name, purchase_model), time_unit=time_unit, as_of=str(as_of_used),
        n_transactions=n_tx, rows_unusable=unusable,
        n_customers=int(histories["weight"].sum()),
        unique_histories=int(len(histories)), spend_rows=int(len(spend_rows)),
        driver_rows=int(len(histories) + len(spend_rows)),
        params=purchase_model.params, spend_params=None if spend_model is None else spend_model.params,
        total_clv=total_clv, tiers=result_tiers, concentration=result_conc, seconds=clock,
        notes=notes, period=period, shuffle_partitions=int(partitions),
        quarantine=quarantined, ingest=report,
    )


def run_from_cli(source: str, out: str, master: str | None, conf: list[str] | None, app_name: str,
                 **options: Any) -> SparkRunResult:
    """``cvm run --engine spark``: check ``--out``, start (or reuse) the session, run, stop what was started.

    An output Spark cannot write (``--out x.xlsx``) is refused before Java starts.
    Stopping the session this call started ends the application on the cluster
    (the standalone master lists it as FINISHED).
    """
    output_format(out, None)
    started = active_session() is None
    spark, partitions = session_for_cli(master, conf, app_name)
    try:
        return run_spark_pipeline(source, out, spark=spark, shuffle_partitions=partitions, app_name=app_name, **options)
    finally:
        if started:
            spark.stop()
