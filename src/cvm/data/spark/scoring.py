"""Distributed scoring and the value aggregates, as Spark jobs.

The models are fitted on the driver on the compressed histories. Scoring then
splits the customer lifetime value

.. math::

    \\mathrm{CLV}_i = m \\; E[M_i] \\; \\underbrace{\\sum_{k=1}^{H}
        \\frac{E[X_i(k)] - E[X_i(k-1)]}{(1+d)^k}}_{DE(x_i, t_{x,i}, T_i)}

(expected purchases of the purchase model, Fader, Hardie & Lee 2005, eq. 10;
expected spend of the Gamma-Gamma model, Fader & Hardie 2013, eq. 5) into its
two factors:

* the **purchase part** -- P(alive), expected purchases over the horizon,
  ``DE`` and the residual purchases (DERT) -- depends on a customer only
  through the history ``(x, t_x, T)``. The service layer computes it on the
  driver for the distinct histories (the table the model was fitted on) with the
  same function the DuckDB engine uses, :func:`cvm.value.clv.value_customers`
  (:func:`cvm.service.spark.value_histories`); :func:`customer_scores` sends it
  back to the cluster as a small broadcast table joined on the history;
* the **spend part** is a closed form, evaluated as a Spark SQL column
  expression with the fitted ``p, q, gamma`` as literals:

  .. math:: E[M \\mid x, \\bar m] = \\frac{p(\\gamma + x \\bar m)}{p x + q - 1}.

No Python runs on the executors, and each distinct history is valued once.

**Interval.** Both models are fitted independently, so on the log scale the
delta-method variances add (as in :mod:`cvm.value.clv`):
``Var(log CLV) = Var(log DE) + Var(log E[M])``. ``Var(log DE)`` per history comes
with the valued histories; for the spend part the gradient over the log-parameters
``(log p, log q, log gamma)`` is closed-form,

.. math::

    \\frac{\\partial \\log E[M]}{\\partial \\log p} = \\frac{q-1}{px+q-1},\\quad
    \\frac{\\partial \\log E[M]}{\\partial \\log q} = \\frac{-q}{px+q-1},\\quad
    \\frac{\\partial \\log E[M]}{\\partial \\log \\gamma} = \\frac{\\gamma}{\\gamma + x\\bar m},

and ``Var(log E[M]) = g' C g`` with ``C`` the Gamma-Gamma covariance on the log
scale. The interval is ``CLV * exp(-/+ z_{(1+L)/2} * sd)``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

import numpy as np
from scipy.special import ndtri

from cvm.data.scores import new_run_id
from cvm.errors import SchemaError
from cvm.settings import Settings

#: columns :func:`customer_scores` adds to the summary
SCORE_COLUMNS = (
    "probability_alive", "expected_purchases", "expected_spend", "margin_rate",
    "clv", "clv_low", "clv_high", "residual_value",
)
#: what a customer's purchase part depends on: the key of the valued histories
HISTORY_KEY = ("frequency", "recency", "T")
#: columns of the valued histories :func:`customer_scores` joins back (``residual_purchases`` optional)
HISTORY_VALUES = ("probability_alive", "expected_purchases", "discounted_purchases", "log_variance")
SUMMARY_INPUT = ("customer_id", "frequency", "recency", "T", "monetary_value")


def check_summary(summary_df: Any) -> None:
    """A :class:`SchemaError` when a Spark summary lacks a column scoring needs."""
    missing = [c for c in SUMMARY_INPUT if c not in summary_df.columns]
    if missing:
        raise SchemaError(
            f"the summary lacks column(s) {', '.join(missing)}",
            hint="score the frame summarise_spark returns (with amount_col set)",
        )


def spend_columns(spend_model: Any, columns: list[str]) -> tuple[Any, Any]:
    """Spark column expressions ``(expected spend, Var(log expected spend))`` for a fitted Gamma-Gamma model.

    ``E[M | x, m] = p (gamma + x m) / (p x + q - 1)`` (Fader & Hardie 2013, eq. 5),
    for repeat customers; customers with ``x = 0`` get the population mean
    ``p gamma / (q - 1)``, and so do repeat customers whose mean spend is not
    positive (net returns carry no usable spend information; the local
    ``value_customers`` refuses them). The variance is ``g' C g`` with the closed-form gradient of the
    module docstring; 0 when the model has no finite covariance. With
    ``spend_model=None`` the spend is each customer's observed mean order value
    (``total_amount / n_transactions`` when those columns exist, else
    ``monetary_value``), as in :func:`cvm.value.clv.value_customers`, and the
    variance 0.
    """
    from pyspark.sql import functions as F

    x = F.col("frequency")
    if spend_model is None:
        if "total_amount" in columns and "n_transactions" in columns:
            spend = F.col("total_amount") / F.greatest(F.col("n_transactions").cast("double"), F.lit(1.0))
        else:
            spend = F.col("monetary_value")
        return spend.cast("double"), F.lit(0.0)
    spend_model._require_fit()
    spend_model.expected_spend(np.array([0.0]), np.array([0.0]))  # raises on the driver when q <= 1 (no mean)
    p, q, g = (float(spend_model.params[k]) for k in ("p", "q", "gamma"))
    # customers without usable spend information (no repeat, or net returns) count as x = 0
    usable = (x > 0) & (F.col("monetary_value") > 0)
    x = F.when(usable, x.cast("double")).otherwise(F.lit(0.0))
    m = F.when(usable, F.col("monetary_value")).otherwise(F.lit(0.0))
    denominator = F.lit(p) * x + F.lit(q - 1.0)
    spend = F.lit(p) * (F.lit(g) + m * x) / denominator
    cov = getattr(spend_model, "covariance_", None)
    cov = None if cov is None else np.asarray(cov, dtype=float)
    if cov is None or cov.shape != (3, 3) or not np.all(np.isfinite(cov)):
        return spend, F.lit(0.0)
    grad = [F.lit(q - 1.0) / denominator, F.lit(-q) / denominator, F.lit(g) / (F.lit(g) + m * x)]
    variance = None
    for i in range(3):
        for j in range(i, 3):
            term = F.lit(float(cov[i, j]) * (1.0 if i == j else 2.0)) * grad[i] * grad[j]
            variance = term if variance is None else variance + term
    return spend, F.greatest(variance, F.lit(0.0))


def customer_scores(summary_df: Any, valued: Any, spend_model: Any = None, *, margin: float = 0.3,
                    level: float = 0.9) -> Any:
    """Every customer's scores on the cluster: the valued histories joined back, the spend part in SQL.

    Parameters
    ----------
    summary_df
        Spark DataFrame with ``customer_id, frequency, recency, T,
        monetary_value`` (other columns are carried along).
    valued
        pandas frame, one row per distinct history: :data:`HISTORY_KEY` and
        :data:`HISTORY_VALUES` (``discounted_purchases`` is ``DE``, ``log_variance``
        the variance of ``log DE``), and ``residual_purchases`` (DERT) when the
        residual value is wanted. Sent to the executors as a broadcast table.
    spend_model
        A fitted Gamma-Gamma model, or None for each customer's observed mean spend
        (:func:`spend_columns`).
    margin, level
        Margin rate on spend; level of the CLV interval.

    Returns
    -------
    pyspark.sql.DataFrame
        The input columns plus :data:`SCORE_COLUMNS` (``residual_value`` only when
        ``valued`` has ``residual_purchases``): ``clv = margin E[M] DE`` and the
        interval ``clv * exp(-/+ z sqrt(Var(log DE) + Var(log E[M])))``. Lazy.
    """
    from pyspark.sql import functions as F

    check_summary(summary_df)
    if not 0 < margin <= 1:
        raise SchemaError(f"margin must lie in (0, 1], got {margin}")
    if not 0 < level < 1:
        raise SchemaError(f"level must lie strictly between 0 and 1, got {level}")
    spend, var_spend = spend_columns(spend_model, list(summary_df.columns))
    residual = "residual_purchases" in valued.columns
    history_df = F.broadcast(summary_df.sparkSession.createDataFrame(
        valued[[*HISTORY_KEY, *HISTORY_VALUES, *(["residual_purchases"] if residual else [])]]))

    added = [c for c in SCORE_COLUMNS if residual or c != "residual_value"]
    carried = [c for c in summary_df.columns if c not in added]
    z = float(ndtri(0.5 + level / 2))  # the standard normal quantile
    money = F.lit(float(margin)) * F.col("expected_spend")
    sd = F.sqrt(F.col("log_variance") + F.col("_var_spend"))
    joined = summary_df.select(*carried).join(history_df, list(HISTORY_KEY), "left")
    joined = joined.withColumn("expected_spend", spend).withColumn("_var_spend", var_spend)
    columns = {
        "probability_alive": F.col("probability_alive"),
        "expected_purchases": F.col("expected_purchases"),
        "expected_spend": F.col("expected_spend"),
        "margin_rate": F.lit(float(margin)),
        "clv": money * F.col("discounted_purchases"),
        "clv_low": money * F.col("discounted_purchases") * F.exp(-F.lit(z) * sd),
        "clv_high": money * F.col("discounted_purchases") * F.exp(F.lit(z) * sd),
        "residual_value": money * F.col("residual_purchases") if residual else None,
    }
    return joined.select(*carried, *[columns[c].cast("double").alias(c) for c in added])


# ----------------------------------------------------------------------------- value aggregates
def _tier_cutoffs(cutoffs: Mapping[str, float] | None) -> dict[str, float]:
    """Tier cut-offs, validated and highest first (default :class:`cvm.settings.Settings` ``tier_cutoffs``)."""
    return dict(Settings(tier_cutoffs=dict(cutoffs)).tier_cutoffs if cutoffs else Settings().tier_cutoffs)


def value_tiers_spark(
    scores_df: Any,
    cutoffs: Mapping[str, float] | None = None,
    value_col: str = "clv",
    relative_error: float = 1e-4,
) -> tuple[Any, dict[str, float]]:
    """Add ``value_tier``: the top 5 % by CLV are "platinum", the next 15 % "gold", ...

    Tier thresholds are the CLV quantiles at the cut-offs (default
    :class:`cvm.settings.Settings` ``tier_cutoffs``), computed on the cluster with
    Greenwald-Khanna (``approxQuantile``; ``relative_error=0`` is exact). A
    customer whose value is at or above the ``c``-quantile belongs to the tier
    with cut-off ``c`` (the highest such tier).

    Returns ``(frame with value_tier, {tier: threshold})``.
    """
    from pyspark.sql import functions as F

    cutoffs = _tier_cutoffs(cutoffs)
    names = list(cutoffs)  # highest cut-off first
    probs = [cutoffs[n] for n in names]
    thresholds = scores_df.approxQuantile(value_col, probs, relative_error)
    if len(thresholds) != len(probs):
        raise SchemaError("there are no customers to put in tiers")
    limits = {n: (float("-inf") if p == 0 else float(t)) for n, p, t in zip(names, probs, thresholds)}
    tier = None
    for name in names:
        cond = F.col(value_col) >= F.lit(limits[name])
        tier = F.when(cond, F.lit(name)) if tier is None else tier.when(cond, F.lit(name))
    return scores_df.withColumn("value_tier", tier.otherwise(F.lit(names[-1]))), limits


def value_by_group_spark(scores_df: Any, group_col: str = "value_tier", value_col: str = "clv") -> Any:
    """Customers, total and mean CLV per group (tier, channel, ...), one Spark aggregation."""
    from pyspark.sql import functions as F

    if group_col not in scores_df.columns:
        raise SchemaError(f"there is no column '{group_col}' to group by", hint=f"columns: {', '.join(scores_df.columns)}")
    return scores_df.groupBy(group_col).agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum(value_col).alias("total_clv"),
        F.avg(value_col).alias("mean_clv"),
    ).orderBy(F.desc("total_clv"))


def concentration_spark(scores_df: Any, value_col: str = "clv", share_of_value: float = 0.8) -> dict[str, float]:
    r"""How concentrated value is: share of customers making ``share_of_value`` of it, and the Gini.

    Exact, distributed and in Spark SQL only (no Python on the executors). The
    values are sorted on the cluster (range partitioning, highest first) and
    each row gets its partition and its position in it
    (``monotonically_increasing_id``: partition id in the upper 31 bits, the
    row's place in the partition in the lower 33). One aggregation returns, per
    partition, the count ``n_p``, the sum ``s_p`` and ``w_p = sum_i i x_i`` over
    the positions ``i = 0, 1, ...``; with ``o_p`` the customers in earlier
    partitions, the global rank of a row is ``o_p + i + 1``, so

    .. math:: \sum_j j\, x_{(j)} = \sum_p \left[(o_p + 1)\, s_p + w_p\right],\qquad
              G = \frac{\sum_{j=1}^{n} (n + 1 - 2j)\, x_{(j)}}{n \sum_j x_{(j)}}

    (the mean-difference form of the Gini coefficient, e.g. Damgaard & Weiner
    2000, over the descending order). The smallest ``k`` with
    ``sum_{j<=k} x_(j) >= share * sum x`` lies in the first partition whose
    running total reaches the target; a running sum over that partition alone
    finds it. A few numbers per partition reach the driver.

    Returns
    -------
    dict
        ``customers``, ``total_value``, ``customer_share`` (k / n), ``top_customers`` (k),
        ``value_share`` (the target), ``gini``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not 0 < share_of_value <= 1:
        raise SchemaError(f"share_of_value must lie in (0, 1], got {share_of_value}")
    part = F.spark_partition_id()
    ranked = (
        scores_df.select(F.col(value_col).cast("double").alias("x"))
        .sort(F.desc("x"))
        .select("x", part.alias("part"), F.monotonically_increasing_id().alias("pos"))
        .withColumn("i", F.col("pos") - F.shiftleft(F.col("part").cast("long"), 33))
        .cache()
    )
    try:
        totals = ranked.groupBy("part").agg(
            F.count(F.lit(1)).alias("n"), F.sum("x").alias("s"), F.sum(F.col("i") * F.col("x")).alias("w"),
        ).toPandas().sort_values("part")
        n = int(totals["n"].sum())
        total = float(totals["s"].sum())
        if n == 0:
            raise SchemaError("there are no customers to measure concentration on")
        if total <= 0:
            raise SchemaError("the total value is zero or negative; concentration is undefined")
        counts, sums = totals["n"].to_numpy(np.int64), totals["s"].to_numpy(float)
        offsets = np.cumsum(counts) - counts
        before = np.cumsum(sums) - sums
        sum_jx = float(np.sum((offsets + 1) * sums + totals["w"].to_numpy(float)))
        gini = ((n + 1) * total - 2 * sum_jx) / (n * total)
        target = share_of_value * total * (1 - 1e-12)
        reached = np.nonzero(before + sums >= target)[0]
        k = n
        if len(reached):
            p = int(reached[0])
            running = Window.partitionBy("part").orderBy("i").rowsBetween(Window.unboundedPreceding, Window.currentRow)
            first = (
                ranked.where(F.col("part") == int(totals["part"].iloc[p]))
                .withColumn("cum", F.sum("x").over(running))
                .where(F.lit(float(before[p])) + F.col("cum") >= F.lit(target))
                .agg(F.min("i")).collect()[0][0]
            )
            k = int(offsets[p]) + int(first) + 1 if first is not None else n
    finally:
        ranked.unpersist()
    return {
        "customers": n,
        "total_value": total,
        "top_customers": k,
        "customer_share": k / n,
        "value_share": share_of_value,
        "gini": gini,
    }


# ----------------------------------------------------------------------------- DuckDB's value columns
def rank_spark(scores_df: Any, value_col: str = "clv", id_col: str = "customer_id") -> tuple[Any, Any]:
    """Add ``rank`` (1 = highest value, ties broken by customer id) and ``percentile``, exactly and distributed.

    The same order as :func:`cvm.value.segments.rank_and_percentile` (the DuckDB
    engine): value descending with a missing value (null or NaN) last, then the
    customer id as text ascending (UTF-8 byte order equals code-point order).
    ``percentile = 1 - (rank - 1) / n``. The frame is range-sorted on the cluster and
    persisted; each row's place in its partition comes from
    ``monotonically_increasing_id`` (partition id in the upper 31 bits), one small
    aggregation gives the rows per partition, and ``rank = (rows in earlier
    partitions) + place + 1`` -- no single-partition window, no RDD (Spark Connect).

    Returns ``(frame with rank and percentile, persisted sorted frame)``; unpersist
    the second when the first is written.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    value = F.col(value_col).cast("double")
    key = F.when(F.isnan(value) | value.isNull(), F.lit(float("-inf"))).otherwise(value)
    ordered = (
        scores_df.withColumn("_key", key).withColumn("_id", F.col(id_col).cast("string"))
        .sort(F.desc("_key"), F.asc("_id"))
        .withColumn("_part", F.spark_partition_id())
        .withColumn("_pos", F.monotonically_increasing_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = ordered.groupBy("_part").agg(F.count(F.lit(1)).alias("n")).toPandas().sort_values("_part")
    n = int(counts["n"].sum())
    if n == 0:
        ordered.unpersist()
        raise SchemaError("there are no customers to rank")
    offsets = np.cumsum(counts["n"].to_numpy(np.int64)) - counts["n"].to_numpy(np.int64)
    offset = F.lit(0).cast("long")
    for part, off in zip(counts["_part"].to_numpy(int), offsets):
        offset = F.when(F.col("_part") == int(part), F.lit(int(off)).cast("long")).otherwise(offset)
    place = F.col("_pos") - F.shiftleft(F.col("_part").cast("long"), 33)
    ranked = ordered.withColumn("rank", (offset + place + F.lit(1)).cast("long"))
    ranked = ranked.withColumn("percentile", F.lit(1.0) - (F.col("rank") - F.lit(1)).cast("double") / F.lit(float(n)))
    return ranked.drop("_key", "_id", "_part", "_pos"), ordered


def tier_column(cutoffs: Mapping[str, float] | None = None) -> Any:
    """``value_tier`` from ``percentile``: the highest tier whose cut-off the percentile exceeds.

    The rule of :func:`cvm.value.segments.assign_tiers` (default cut-offs
    :class:`cvm.settings.Settings` ``tier_cutoffs``), as a Spark column.
    """
    from pyspark.sql import functions as F

    cuts = _tier_cutoffs(cutoffs)
    ordered = sorted(cuts.items(), key=lambda kv: -kv[1])
    tier = None
    for name, cut in ordered:
        cond = F.col("percentile") > F.lit(float(cut))
        tier = F.when(cond, F.lit(name)) if tier is None else tier.when(cond, F.lit(name))
    return tier.otherwise(F.lit(ordered[-1][0]))


def lifecycle_column(as_of: Any, rules: Any = None) -> Any:
    """``lifecycle_stage`` as :func:`cvm.value.segments.lifecycle_stages` (``settings.stage_rules``).

    Days since the first purchase are counted from the as-of date (midnight) to
    ``first_purchase``; a customer without a purchase would be a prospect, but
    every customer of a Spark summary has bought. Order: new (within
    ``new_days``), lapsed, at risk (P(alive) below the thresholds), loyal
    (``frequency >= loyal_min_purchases``), otherwise active.
    """
    from pyspark.sql import functions as F

    rules = rules or Settings().stage_rules
    stamp = F.lit(f"{as_of} 00:00:00").cast("timestamp")
    age = (F.unix_micros(stamp) - F.unix_micros(F.col("first_purchase").cast("timestamp"))).cast("double") / F.lit(86_400e6)
    alive = F.coalesce(F.col("probability_alive"), F.lit(0.0))
    return (
        F.when(age <= F.lit(float(rules.new_days)), F.lit("new"))
        .when(alive < F.lit(float(rules.lapsed_below)), F.lit("lapsed"))
        .when(alive < F.lit(float(rules.at_risk_below)), F.lit("at risk"))
        .when(F.col("frequency") >= F.lit(float(rules.loyal_min_purchases)), F.lit("loyal"))
        .otherwise(F.lit("active"))
    )


#: the columns of the DuckDB engine's ``cvm run`` output, in its order (the Spark output has the same)
OUTPUT_COLUMNS = (
    "run_id", "as_of", "customer_id", "frequency", "recency", "T", "monetary_value", "first_purchase",
    "last_purchase", "n_transactions", "total_amount", "probability_alive", "expected_purchases", "expected_spend",
    "margin_rate", "clv", "clv_low", "clv_high", "residual_value", "historic_value", "rank", "percentile",
    "value_tier", "lifecycle_stage", "planned_cost", "max_investment", "model",
)


def value_columns(scores: Any, history: Any, as_of: date, margin: float, model: str, settings: Settings) -> Any:
    """The DuckDB engine's value columns on Spark scores (as :func:`cvm.value.clv.score_customers` adds them).

    ``historic_value`` and the per-customer ``margin_rate`` of ``history``
    (:func:`cvm.data.spark.summary.historic_values`; CLV, its interval and the
    residual value scaled from the flat ``margin`` to that rate, as the DuckDB
    engine values with it), ``lifecycle_stage`` (:func:`lifecycle_column`,
    ``settings.stage_rules``), ``planned_cost`` (``settings.retention_cost_per_customer``:
    a file run has no ``costs`` table), ``max_investment = max(clv - planned_cost, 0)``,
    and the run's ``run_id``, ``as_of`` and ``model``.
    """
    from pyspark.sql import functions as F

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
