"""The summary and scoring contract of :mod:`cvm.data` on Apache Spark.

```python
from cvm.data.spark import summarise_spark, compress_spark, score_spark, run_spark_pipeline
summary = summarise_spark("s3://bucket/transactions/", time_unit="week")   # Spark DataFrame
histories = compress_spark(summary).toPandas()                             # small: fit on it
result = run_spark_pipeline("transactions/", "scores.parquet", model="bgnbd", horizon=52)
```

Importing this package does not import pyspark or start Java; the first call
does (see :func:`cvm.data.spark.session.spark_session`).
"""

from __future__ import annotations

from cvm._lazy import lazy_attributes

_LAZY = {
    "spark_session": "cvm.data.spark.session",
    "read_transactions": "cvm.data.spark.summary",
    "summarise_spark": "cvm.data.spark.summary",
    "compress_spark": "cvm.data.spark.summary",
    "compress_spend_spark": "cvm.data.spark.summary",
    "unusable_rows": "cvm.data.spark.summary",
    "score_spark": "cvm.data.spark.scoring",
    "discount_rate_per_unit": "cvm.data.spark.scoring",
    "value_tiers_spark": "cvm.data.spark.scoring",
    "value_by_group_spark": "cvm.data.spark.scoring",
    "concentration_spark": "cvm.data.spark.scoring",
    "rank_spark": "cvm.data.spark.scoring",
    "run_spark_pipeline": "cvm.data.spark.pipeline",
    "SparkRunResult": "cvm.data.spark.pipeline",
    "fit_on_driver": "cvm.data.spark.pipeline",
}


__getattr__ = lazy_attributes("cvm.data.spark", _LAZY)


__all__ = sorted(_LAZY)
