"""Customer value and the management questions, as pure functions over frames and arrays.

```python
from cvm.value import value_customers, concentration, rfm_segments
valuation = value_customers(summary, bgnbd, gg, horizon=52, discount_rate=0.0018)
concentration(valuation.customers).customer_share     # who makes 80 % of value
```
Nothing here reads or writes a workspace: the same questions asked of a workspace
(``score_customers(ws)``, ``segments(ws)``, ``migration(ws, ...)`` ...) are
:mod:`cvm.service`. Several functions share their module's name
(``concentration``, ``explain``); they are imported here so
``cvm.value.concentration`` is always the function. Importing :mod:`cvm` itself
does not import this package.
"""

from __future__ import annotations

from cvm.value.clv import Valuation, value_customers
from cvm.value.concentration import concentration, gini, lorenz_curve
from cvm.value.segments import RFM_RULES, aggregate, rfm_segments
from cvm.value.network import referral_network_value
from cvm.value.investment import retention_allocation
from cvm.value.receivables import payment_adjusted_clv
from cvm.value.actions import choose_actions
from cvm.value.explain import explain

__all__ = [
    "RFM_RULES", "Valuation", "aggregate", "choose_actions", "concentration", "explain", "gini", "lorenz_curve",
    "payment_adjusted_clv", "referral_network_value", "retention_allocation", "rfm_segments", "value_customers",
]
