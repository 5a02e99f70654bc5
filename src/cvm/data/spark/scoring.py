"""Distributed scoring and the value aggregates, as Spark jobs.

The models are fitted on the driver (on the compressed histories); their
parameters travel to the executors as a few hundred bytes of JSON and every
partition is valued with Arrow batches (``mapInPandas``) by the same function
the local engine uses, :func:`cvm.value.clv.value_customers`:

.. math::

    \\mathrm{CLV}_i = m \\, E[M_i] \\sum_{k=1}^{H} \\frac{E[X_i(k)] - E[X_i(k-1)]}{(1+d)^k}

(expected purchases of the purchase model, Fader, Hardie & Lee 2005, eq. 10;
expected spend of the Gamma-Gamma model, Fader, Hardie & Lee 2005b, eq. 5), so a
customer gets the same value on Spark as on one machine.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from cvm.errors import SchemaError

#: columns :func:`score_spark` adds to the summary
SCORE_COLUMNS = (
    "probability_alive", "expected_purchases", "expected_spend", "margin_rate",
    "clv", "clv_low", "clv_high", "residual_value",
)
_SUMMARY_INPUT = ("customer_id", "frequency", "recency", "T", "monetary_value")


def discount_rate_per_unit(yearly_rate: float, time_unit: str) -> float:
    """A yearly discount rate expressed per time unit: ``(1 + d) ** (days / 365.25) - 1``."""
    from cvm.data.spark.summary import days_per_unit

    if yearly_rate < 0:
        raise SchemaError(f"discount rate must not be negative, got {yearly_rate}")
    return (1.0 + yearly_rate) ** (days_per_unit(time_unit) / 365.25) - 1.0


def _model_payload(model: Any) -> dict[str, Any] | None:
    return None if model is None else model.to_dict()


def _score_batches(
    batches: Iterator[Any],
    purchase: Mapping[str, Any],
    spend: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    out_columns: list[str],
) -> Iterator[Any]:
    """The function every partition runs: rebuild the models, value each Arrow batch."""
    import warnings

    from cvm.models import model_class
    from cvm.value.clv import value_customers

    # model_class imports the model's module, which registers it for from_dict on this worker
    purchase_model = model_class(purchase["model"]).from_dict(purchase)
    spend_model = None if spend is None else model_class(spend["model"]).from_dict(spend)
    for batch in batches:
        if batch.empty:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            valued = value_customers(
                batch, purchase_model, spend_model,
                horizon=options["horizon"], discount_rate=options["discount_rate"],
                margin=options["margin"], level=options["level"], residual=options["residual"],
            ).customers
        yield valued[out_columns]


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
    colocate_histories: bool = True,
) -> Any:
    """Value every customer of a Spark summary, partition by partition.

    Parameters
    ----------
    summary_df
        Spark DataFrame with ``customer_id, frequency, recency, T,
        monetary_value`` (other columns are carried along).
    purchase_model, spend_model
        Fitted cvm models (``BGNBD``, ``ParetoNBD``, ``MBGNBD``; ``GammaGamma`` or
        None for each customer's observed mean spend).
    horizon
        Number of model time units summed over.
    discount_rate
        Discount rate **per model time unit** (see :func:`discount_rate_per_unit`).
    margin, level
        Margin rate on spend; level of the CLV interval.
    residual
        Also compute ``residual_value`` (discounted expected residual value, no horizon).
    colocate_histories
        Hash-partition by ``(frequency, recency, T)`` first (one shuffle of the
        summary), so the model is evaluated once per distinct history rather
        than once per history and partition.

    Returns
    -------
    pyspark.sql.DataFrame
        The input columns plus :data:`SCORE_COLUMNS` (``residual_value`` only with
        ``residual=True``). Lazy: nothing runs until it is written or collected.
    """
    from pyspark.sql import types as T_

    missing = [c for c in _SUMMARY_INPUT if c not in summary_df.columns]
    if missing:
        raise SchemaError(
            f"the summary lacks column(s) {', '.join(missing)}",
            hint="score the frame summarise_spark returns (with amount_col set)",
        )
    if int(horizon) < 1:
        raise SchemaError(f"horizon must be at least one time unit, got {horizon}")
    if not 0 < margin <= 1:
        raise SchemaError(f"margin must lie in (0, 1], got {margin}")
    purchase_model._require_fit()
    added = [c for c in SCORE_COLUMNS if residual or c != "residual_value"]
    fields = [f for f in summary_df.schema.fields if f.name not in added]
    schema = T_.StructType(fields + [T_.StructField(c, T_.DoubleType(), False) for c in added])
    out_columns = [f.name for f in schema.fields]
    purchase = _model_payload(purchase_model)
    spend = _model_payload(spend_model)
    options = {
        "horizon": int(horizon), "discount_rate": float(discount_rate), "margin": float(margin),
        "level": float(level), "residual": bool(residual),
    }

    def score_partition(batches: Iterator[Any]) -> Iterator[Any]:
        return _score_batches(batches, purchase, spend, options, out_columns)

    # identical histories go to the same partition, so value_customers (which evaluates each
    # distinct (frequency, recency, T) once per batch) does the costly model work once per history
    colocated = summary_df.repartition("frequency", "recency", "T") if colocate_histories else summary_df
    return colocated.mapInPandas(score_partition, schema)


# ----------------------------------------------------------------------------- value aggregates
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

    from cvm.settings import Settings

    cutoffs = dict(Settings(tier_cutoffs=dict(cutoffs)).tier_cutoffs if cutoffs else Settings().tier_cutoffs)
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
    """How concentrated value is: share of customers making ``share_of_value`` of it, and the Gini.

    Exact and distributed: the values are sorted on the cluster (range
    partitioning), each partition reports its count and sum (a few numbers per
    partition reach the driver), and a second pass adds the offsets to find
    the smallest ``k`` with ``sum_{j<=k} x_(j) >= share * sum x`` (customers
    sorted by value, highest first) and the Gini coefficient

    .. math:: G = \\frac{\\sum_{j=1}^{n} (n + 1 - 2j)\\, x_{(j)}}{n \\sum_j x_{(j)}}

    (the mean-difference form, e.g. Damgaard & Weiner 2000), here over the
    descending order.

    Returns
    -------
    dict
        ``customers``, ``total_value``, ``customer_share`` (k / n), ``top_customers`` (k),
        ``value_share`` (the target), ``gini``.
    """
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql import types as T_

    if not 0 < share_of_value <= 1:
        raise SchemaError(f"share_of_value must lie in (0, 1], got {share_of_value}")
    values = scores_df.select(F.col(value_col).cast("double").alias("x"))
    # cached so both passes see the same range partitions
    sorted_values = values.sort(F.desc("x")).cache()

    def partition_totals(batches: Iterator[Any]) -> Iterator[Any]:
        from pyspark import TaskContext

        count, total = 0, 0.0
        for b in batches:
            count += len(b)
            total += float(b["x"].sum())
        yield pd.DataFrame({"part": [TaskContext.get().partitionId()], "n": [count], "s": [total]})

    schema = T_.StructType([
        T_.StructField("part", T_.LongType()), T_.StructField("n", T_.LongType()), T_.StructField("s", T_.DoubleType())
    ])
    try:
        return _concentration(sorted_values, partition_totals, schema, share_of_value)
    finally:
        sorted_values.unpersist()


def _concentration(sorted_values: Any, partition_totals: Any, schema: Any, share_of_value: float) -> dict[str, float]:
    import pandas as pd
    from pyspark.sql import types as T_

    totals = sorted_values.mapInPandas(partition_totals, schema).toPandas().sort_values("part")
    n = int(totals["n"].sum())
    total = float(totals["s"].sum())
    if n == 0:
        raise SchemaError("there are no customers to measure concentration on")
    if total <= 0:
        raise SchemaError("the total value is zero or negative; concentration is undefined")
    offsets = dict(zip(totals["part"], totals["n"].cumsum() - totals["n"]))
    value_before = dict(zip(totals["part"], totals["s"].cumsum() - totals["s"]))
    target = share_of_value * total

    def partition_ranks(batches: Iterator[Any]) -> Iterator[Any]:
        import numpy as np
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        start, before = int(offsets.get(part, 0)), float(value_before.get(part, 0.0))
        weighted, first_k = 0.0, -1
        for b in batches:
            x = b["x"].to_numpy(float)
            ranks = start + np.arange(1, len(x) + 1)
            weighted += float(np.dot(ranks, x))
            cum = before + np.cumsum(x)
            hit = np.nonzero(cum >= target * (1 - 1e-12))[0]
            if first_k < 0 and len(hit):
                first_k = int(ranks[hit[0]])
            start += len(x)
            before = float(cum[-1]) if len(x) else before
        yield pd.DataFrame({"weighted": [weighted], "first_k": [first_k]})

    schema2 = T_.StructType([T_.StructField("weighted", T_.DoubleType()), T_.StructField("first_k", T_.LongType())])
    parts = sorted_values.mapInPandas(partition_ranks, schema2).toPandas()
    sum_jx = float(parts["weighted"].sum())
    hits = parts.loc[parts["first_k"] > 0, "first_k"]
    k = int(hits.min()) if len(hits) else n
    gini = ((n + 1) * total - 2 * sum_jx) / (n * total)
    return {
        "customers": n,
        "total_value": total,
        "top_customers": k,
        "customer_share": k / n,
        "value_share": share_of_value,
        "gini": gini,
    }
