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

_LAZY = {
    "BGNBD": "cvm.models.bgnbd",
    "MBGNBD": "cvm.models.mbgnbd",
    "ParetoNBD": "cvm.models.pnbd",
    "BGBB": "cvm.models.bgbb",
    "ShiftedBetaGeometric": "cvm.models.sbg",
    "GammaGamma": "cvm.models.gamma_gamma",
    "NBD": "cvm.models.limits",
    "Poisson": "cvm.models.limits",
    "classic_clv": "cvm.models.formula",
    "required_retention": "cvm.models.formula",
    "break_even_retention_cost": "cvm.models.formula",
    "clv_table": "cvm.models.formula",
}

from cvm.models.registry import MODELS, names  # noqa: E402 - the one list of models

#: command-line names of the models (``cvm fit --model NAME``) -> class names, read from the registry
MODEL_NAMES = {name: MODELS[name].class_name for name in names()}

#: the purchase models' limiting cases (:mod:`cvm.models.limits`), which a fit turns into at the edge
#: of its parameter space; not offered as a choice, but known by name for stored fits and scores
LIMIT_NAMES = {name: MODELS[name].class_name for name in names("limit")}


__getattr__ = lazy_attributes("cvm.models", _LAZY)


def model_class(name: str) -> type[LikelihoodModel]:
    """The model class for a command-line name such as ``bgnbd`` (or a class name)."""
    from cvm.errors import SchemaError

    key = MODEL_NAMES.get(name.lower()) or LIMIT_NAMES.get(name.lower(), name)
    if key not in _LAZY:
        raise SchemaError(f"unknown model '{name}'", hint=f"choose one of {', '.join(MODEL_NAMES)}")
    return __getattr__(key)


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
