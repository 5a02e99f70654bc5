"""Model validation: backtests on a calibration/holdout split, accuracy metrics, model choice.

```python
from cvm.evaluation import backtest, choose_model
result = backtest(ws, calibration_end="1997-09-30", holdout_end="1998-06-30")
result.best, result.reason, result.to_dict()["models"]["bgnbd"]["holdout_predicted"]
```
"""

from __future__ import annotations

from cvm.evaluation.backtest import (
    BacktestData,
    BacktestResult,
    backtest,
    choose_model,
    default_calibration_end,
    latest_backtest,
    load_backtest_data,
    run_backtest,
    save_backtest,
)
from cvm.evaluation import metrics

__all__ = [
    "BacktestData",
    "BacktestResult",
    "backtest",
    "choose_model",
    "default_calibration_end",
    "latest_backtest",
    "load_backtest_data",
    "metrics",
    "run_backtest",
    "save_backtest",
]
