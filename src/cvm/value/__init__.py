"""Customer value and the management questions built on it.

```python
from cvm.value import score_customers, concentration, segments, migration, cohorts
scores = score_customers(ws, as_of="1997-12-31")      # stored in the `scores` table
concentration(scores).customer_share                  # who makes 80 % of value
```
Several functions share their module's name (``concentration``, ``segments``,
``migration``, ``cohorts``, ``investment``, ``receivables``, ``explain``); the
functions are imported here so ``cvm.value.concentration`` is always the
function. Stored runs are read and results written by the data layer
(:mod:`cvm.data.scores`, :mod:`cvm.data.export`). Importing :mod:`cvm` itself does not import this package.
"""

from __future__ import annotations

from cvm.value.clv import Valuation, score_customers, value_by_period, value_customers
from cvm.value.concentration import concentration, gini, lorenz_curve
from cvm.value.segments import RFM_RULES, aggregate, rfm_segments, segments
from cvm.value.profile import customer_table
from cvm.value.network import network_value, referral_network_value
from cvm.value.matrix import value_matrix
from cvm.value.migration import migration
from cvm.value.cohorts import cohorts
from cvm.value.investment import investment, retention_allocation
from cvm.value.receivables import payment_adjusted_clv, receivables
from cvm.value.actions import next_best_actions, retention_team
from cvm.value.customer import customer_view
from cvm.value.explain import explain

__all__ = [
    "RFM_RULES", "Valuation", "aggregate", "cohorts", "concentration", "customer_table", "customer_view",
    "explain", "gini", "investment", "lorenz_curve", "migration", "network_value", "next_best_actions",
    "payment_adjusted_clv", "receivables", "referral_network_value", "retention_allocation", "retention_team",
    "rfm_segments", "score_customers", "segments", "value_by_period", "value_customers", "value_matrix",
]
