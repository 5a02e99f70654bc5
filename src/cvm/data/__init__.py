"""The data layer: readers, validation, the DuckDB workspace, summaries, datasets, a simulator.

```python
from cvm.data import Workspace, summary_data_from_transaction_data, load_cdnow_transactions
```
Names are imported on first use, so ``import cvm.data`` stays cheap.
"""

from __future__ import annotations

from cvm._lazy import lazy_attributes

_LAZY = {
    "Workspace": "cvm.data.warehouse",
    "IngestReport": "cvm.data.warehouse",
    "summary_data_from_transaction_data": "cvm.data.summary",
    "calibration_and_holdout_data": "cvm.data.summary",
    "workspace_summary": "cvm.data.summary",
    "compress_summary": "cvm.data.summary",
    "discrete_summary": "cvm.data.summary",
    "cohort_survival": "cvm.data.summary",
    "load_cdnow_summary": "cvm.data.datasets",
    "load_cdnow_transactions": "cvm.data.datasets",
    "load_donations": "cvm.data.datasets",
    "cdnow_path": "cvm.data.datasets",
    "simulate_transactions": "cvm.data.simulate",
    "write_transactions": "cvm.data.simulate",
}


__getattr__ = lazy_attributes("cvm.data", _LAZY)


__all__ = sorted(_LAZY)
