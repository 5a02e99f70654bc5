"""The data side of the Spark engine: reading, the summary, compression, the value columns in Spark SQL, output.

```python
from cvm.data.spark import summarise_spark, compress_spark
summary = summarise_spark("s3://bucket/transactions/", time_unit="week")   # Spark DataFrame
histories = compress_spark(summary).toPandas()                             # small: fit on it
```

Fitting on the driver, valuing the distinct histories and the whole run
(``score_spark``, ``run_spark_pipeline``) are the service layer's:
:mod:`cvm.service.spark`, which uses the same fit and valuation as the DuckDB engine.

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
    "exact_spend_rows": "cvm.data.spark.summary",
    "unusable_rows": "cvm.data.spark.summary",
    "customer_scores": "cvm.data.spark.scoring",
    "value_tiers_spark": "cvm.data.spark.scoring",
    "value_by_group_spark": "cvm.data.spark.scoring",
    "concentration_spark": "cvm.data.spark.scoring",
    "rank_spark": "cvm.data.spark.scoring",
    "write_scores": "cvm.data.spark.output",
}


__getattr__ = lazy_attributes("cvm.data.spark", _LAZY)


__all__ = sorted(_LAZY)
