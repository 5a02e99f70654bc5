"""The service layer: cvm's work on a workspace, one function per job.

Every function here takes a :class:`cvm.data.Workspace`, reads through its methods,
computes with the pure functions of :mod:`cvm.value` and :mod:`cvm.evaluation`, and
stores through the workspace. The CLI, the web app and the report call these.

```python
from cvm.service import score_customers, concentration, segments, backtest
scores = score_customers(ws, as_of="1997-12-31")      # stored in the `scores` table
concentration(ws).customer_share                      # who makes 80 % of value
```
"""

from __future__ import annotations

from cvm.service.backtests import (
    backtest,
    choose_model,
    default_calibration_end,
    latest_backtest,
    load_backtest_data,
    save_backtest,
)
from cvm.service.scoring import (
    choose_purchase_model,
    resolve_as_of,
    resolve_options,
    score_customers,
    scores_at,
    value_by_period,
)
from cvm.service.questions import (
    cohorts,
    concentration,
    customer_table,
    investment,
    migration,
    network_value,
    next_best_actions,
    receivables,
    retention_team,
    segments,
    value_matrix,
)
from cvm.service.customer import customer_view
from cvm.service.overview import value_at_stake  # noqa: F401  (the overview's question)
from cvm.data.scores import latest_scores, load_scores, score_runs

__all__ = [
    "backtest", "choose_model", "choose_purchase_model", "cohorts", "concentration", "customer_table",
    "customer_view", "default_calibration_end", "investment", "latest_backtest", "latest_scores", "load_backtest_data", "load_scores",
    "migration", "network_value", "next_best_actions", "receivables", "resolve_as_of", "resolve_options",
    "retention_team", "save_backtest", "score_customers", "score_runs", "scores_at", "segments", "value_by_period",
    "value_matrix",
]
