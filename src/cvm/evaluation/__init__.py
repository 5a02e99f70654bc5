"""Model validation on prepared data: backtests on a calibration/holdout split and accuracy metrics.

```python
from cvm.evaluation import run_backtest, metrics
result = run_backtest(data)           # data: cvm.evaluation.BacktestData
result.best, result.reason, result.to_dict()["models"]["bgnbd"]["holdout_predicted"]
```
Running a backtest on a workspace, storing it and the model choice are
:func:`cvm.service.backtest` and :func:`cvm.service.choose_model`.
"""

from __future__ import annotations

import cvm.evaluation.metrics as metrics
from cvm.evaluation.backtest import BacktestData, BacktestResult, backtest_data, model_names, run_backtest

__all__ = ["BacktestData", "BacktestResult", "backtest_data", "metrics", "model_names", "run_backtest"]
