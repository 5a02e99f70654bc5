"""Probabilistic customer-base models over one shared maximum-likelihood engine.

```python
from cvm.models import BGNBD, MBGNBD, ParetoNBD, BGBB, ShiftedBetaGeometric, GammaGamma
```
Classes are imported on first use, so importing :mod:`cvm.models` stays cheap.
"""

from __future__ import annotations

from cvm._lazy import lazy_attributes
from cvm.models.base import (
    BoundaryWarning,
    CalibrationWarning,
    CvmWarning,
    FitSummary,
    HessianWarning,
    LikelihoodModel,
    load_model,
)
from cvm.models.registry import MODELS

#: every model class (from the registry) and the classic formulas, imported on first use
_LAZY = {
    **{entry.class_name: entry.module for entry in MODELS.values()},
    **dict.fromkeys(("classic_clv", "required_retention", "break_even_retention_cost", "clv_table"), "cvm.models.formula"),
}

__getattr__ = lazy_attributes("cvm.models", _LAZY)

__all__ = [
    "BGBB",
    "BGNBD",
    "MBGNBD",
    "BoundaryWarning",
    "CalibrationWarning",
    "CvmWarning",
    "FitSummary",
    "GammaGamma",
    "HessianWarning",
    "LikelihoodModel",
    "NBD",
    "ParetoNBD",
    "Poisson",
    "ShiftedBetaGeometric",
    "break_even_retention_cost",
    "classic_clv",
    "clv_table",
    "load_model",
    "required_retention",
]
