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
from cvm.models.registry import MODELS, names, spec

#: every model class (from the registry) and the classic formulas, imported on first use
_LAZY = {
    **{entry.class_name: entry.module for entry in MODELS.values()},
    **dict.fromkeys(("classic_clv", "required_retention", "break_even_retention_cost", "clv_table"), "cvm.models.formula"),
}

__getattr__ = lazy_attributes("cvm.models", _LAZY)

# Views of cvm.models.registry for the callers that still read them (the backtest, the workspace's
# load_model and the Spark driver, outside this package); the registry is the one list.
#: command-line names of the choosable models → class names
MODEL_NAMES = {name: spec(name).class_name for name in names()}
#: the purchase models' limiting cases (:mod:`cvm.models.limits`) → class names
LIMIT_NAMES = {name: spec(name).class_name for name in names("limit")}


def model_class(name: str) -> type[LikelihoodModel]:
    """The model class for a command-line name such as ``bgnbd`` (or a class name): ``spec(name).cls``."""
    return spec(name).cls


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
    "LIMIT_NAMES",
    "MODEL_NAMES",
    "NBD",
    "ParetoNBD",
    "Poisson",
    "ShiftedBetaGeometric",
    "break_even_retention_cost",
    "classic_clv",
    "clv_table",
    "load_model",
    "model_class",
    "required_retention",
]
