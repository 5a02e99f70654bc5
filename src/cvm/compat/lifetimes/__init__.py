"""lifetimes 0.11.3 as a drop-in: ``import cvm.compat.lifetimes as lifetimes``.

The five fitters keep lifetimes' names, signatures, argument orders, return types and
attributes (``params_``, ``summary``, ``data``, ``standard_errors_``,
``confidence_intervals_``, ``variance_matrix_``), and lifetimes' penalizer meaning; the
numbers come from cvm's models (:mod:`cvm.models`). ``utils``, ``plotting`` (matplotlib,
an optional extra) and ``datasets`` are imported on first use. Deliberate differences
from lifetimes are listed in docs/migration.md.

Examples
--------
>>> from cvm.compat.lifetimes import BetaGeoFitter
>>> from cvm.compat.lifetimes.datasets import load_cdnow_summary
>>> data = load_cdnow_summary(index_col=[0])
>>> bgf = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
>>> bgf.params_.round(3).to_dict()
{'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
>>> round(bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86), 4)
np.float64(1.2259)
"""

from __future__ import annotations

import importlib

from cvm.compat.lifetimes.fitters import (
    BaseFitter,
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)

__version__ = "0.11.3"
_SUBMODULES = ("utils", "plotting", "datasets", "fitters")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"cvm.compat.lifetimes.{name}")
    raise AttributeError(f"module 'cvm.compat.lifetimes' has no attribute {name!r}")


__all__ = (
    "__version__",
    "BaseFitter",
    "BetaGeoFitter",
    "ParetoNBDFitter",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "BetaGeoBetaBinomFitter",
)
