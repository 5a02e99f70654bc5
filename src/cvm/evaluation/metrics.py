"""Accuracy measures for customer-base models, computed from plain arrays.

Everything here is model-free: it takes what a model predicted and what
happened, and says how close the two were. The backtest
(:mod:`cvm.evaluation.backtest`) feeds these functions; they are public so an
analyst can score any prediction the same way.

The tables follow Fader, Hardie & Lee (2005), "Counting your customers the
easy way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2):
the conditional-expectation table by calibration frequency (their Figure 5),
and the calibration-period frequency histogram with a chi-square statistic
(their Figure 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import SchemaError
from cvm.jsonsafe import json_safe
from cvm.value.concentration import gini_of_sorted, lorenz_points

__all__ = [
    "ChiSquare",
    "brier_score",
    "calibration_table",
    "chi_square",
    "conditional_expectations",
    "expected_calibration_error",
    "frequency_group",
    "frequency_labels",
    "gini_coefficient",
    "lorenz_curve",
    "mean_absolute_error",
    "ranking_gini",
    "root_mean_squared_error",
    "top_share",
    "tracking_error",
]


def _pair(actual: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    a = _vector(actual, "actual")
    p = _vector(predicted, "predicted")
    if len(a) != len(p):
        raise SchemaError(f"actual has {len(a)} values but predicted has {len(p)}")
    if len(a) == 0:
        raise SchemaError("no customers to evaluate", hint="check that the holdout period holds customers")
    return a, p


def _vector(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise SchemaError(f"'{name}' must hold numbers") from None
    if arr.ndim != 1:
        raise SchemaError(f"'{name}' must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SchemaError(f"'{name}' has missing or infinite values", hint="fill or drop those customers first")
    return arr


# ----------------------------------------------------------------------------
# per-customer errors
# ----------------------------------------------------------------------------


def mean_absolute_error(actual: Any, predicted: Any) -> float:
    """Mean absolute error, ``MAE = (1/n) * sum_i |y_i - yhat_i|``.

    Examples
    --------
    >>> mean_absolute_error([0, 2, 4], [1, 2, 1])
    1.3333333333333333
    """
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def root_mean_squared_error(actual: Any, predicted: Any) -> float:
    """Root mean squared error, ``RMSE = sqrt((1/n) * sum_i (y_i - yhat_i)^2)``.

    Examples
    --------
    >>> root_mean_squared_error([0, 2, 4], [1, 2, 1])
    1.8257418583505538
    """
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def tracking_error(actual: Any, predicted: Any) -> float:
    """Mean absolute percentage error of a tracking curve.

    ``(1/P) * sum_p |A_p - F_p| / A_p`` over the periods ``p`` where the actual
    value ``A_p`` is positive (periods with ``A_p = 0`` carry no percentage).
    Applied to cumulative repeat transactions over the holdout, this is the
    number :func:`cvm.evaluation.choose_model` ranks models by.

    Examples
    --------
    >>> round(tracking_error([100, 200], [110, 190]), 6)
    0.075
    """
    a, p = _pair(actual, predicted)
    keep = a > 0
    if not np.any(keep):
        raise SchemaError("the actual tracking curve is zero everywhere; there is nothing to compare with")
    return float(np.mean(np.abs(a[keep] - p[keep]) / a[keep]))


# ----------------------------------------------------------------------------
# tables by calibration frequency (Fader, Hardie & Lee 2005)
# ----------------------------------------------------------------------------


def frequency_group(frequency: Any, top: int = 7) -> np.ndarray:
    """Calibration frequency clipped into groups ``0, 1, ..., top-1, top+``."""
    x = _vector(frequency, "frequency")
    if np.any(x < 0):
        raise SchemaError("frequency must not be negative")
    return np.minimum(np.floor(x).astype(int), top)


def frequency_labels(top: int = 7) -> list[str]:
    """Group labels ``["0", ..., "6", "7+"]`` for ``top = 7``."""
    return [str(k) for k in range(top)] + [f"{top}+"]


def conditional_expectations(frequency: Any, actual: Any, predicted: Any, top: int = 7) -> pd.DataFrame:
    """Mean holdout purchases, actual and predicted, by calibration frequency.

    For every group ``g`` of calibration frequency (``0 .. top-1`` and
    ``top+``) the table holds the number of customers, the mean actual number
    of holdout purchases and the mean conditional expectation
    ``E[Y(t*) | x, t_x, T]`` — the comparison of Fader, Hardie & Lee (2005),
    Figure 5. Empty groups are kept with ``NaN`` means and ``n_customers = 0``.

    Returns
    -------
    DataFrame indexed by the group label with columns ``n_customers``,
    ``actual`` and ``predicted``.
    """
    a, p = _pair(actual, predicted)
    g = frequency_group(frequency, top)
    if len(g) != len(a):
        raise SchemaError(f"frequency has {len(g)} values but actual has {len(a)}")
    n = np.bincount(g, minlength=top + 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a = np.bincount(g, weights=a, minlength=top + 1) / n
        mean_p = np.bincount(g, weights=p, minlength=top + 1) / n
    return pd.DataFrame(
        {"n_customers": n.astype(int), "actual": mean_a, "predicted": mean_p},
        index=pd.Index(frequency_labels(top), name="frequency"),
    )


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square goodness of fit of a histogram."""

    statistic: float
    dof: int
    p_value: float

    def to_dict(self) -> dict[str, float | int | None]:
        """The three figures for JSON; a statistic or p-value that is not finite becomes ``None``."""
        return json_safe(
            {
                "chi_square": self.statistic,
                "chi_square_dof": self.dof,
                "chi_square_p_value": self.p_value,
            }
        )


def chi_square(observed: Any, expected: Any, n_params: int = 0) -> ChiSquare:
    """Pearson's statistic ``sum_g (O_g - E_g)^2 / E_g`` with its degrees of freedom.

    Degrees of freedom are ``G - 1 - n_params`` for ``G`` groups: one is lost
    because the expected counts sum to the observed total, one per estimated
    parameter. For the calibration histogram of Fader, Hardie & Lee (2005),
    eight groups (``x = 0..6, 7+``) and a four-parameter model give 3 degrees
    of freedom. The p-value is ``NaN`` when no degrees of freedom remain.

    Examples
    --------
    >>> c = chi_square([10, 20, 30], [12, 18, 30])
    >>> round(c.statistic, 6), c.dof
    (0.555556, 2)
    """
    o, e = _pair(observed, expected)
    if np.any(e <= 0):
        raise SchemaError("expected counts must be positive in every group", hint="merge sparse groups")
    stat = float(np.sum((o - e) ** 2 / e))
    dof = len(o) - 1 - int(n_params)
    from scipy import stats  # here, not at the top: scipy.stats takes a second to import

    p = float(stats.chi2.sf(stat, dof)) if dof > 0 else float("nan")
    return ChiSquare(stat, dof, p)


# ----------------------------------------------------------------------------
# ranking quality and concentration
# ----------------------------------------------------------------------------


def lorenz_curve(values: Any) -> pd.DataFrame:
    """The Lorenz curve: share of customers (poorest first) against share of value.

    Starts at ``(0, 0)`` and ends at ``(1, 1)``; the 80/20 reading is
    ``1 - value_share`` at ``customer_share = 0.8``. The points are
    :func:`cvm.value.concentration.lorenz_points`; here the values must be
    numbers with a positive total.
    """
    v = np.sort(_vector(values, "values"))
    if len(v) == 0:
        raise SchemaError("no values for a Lorenz curve")
    if v.sum() <= 0:
        raise SchemaError("the values sum to zero or less; a Lorenz curve needs a positive total")
    customer_share, value_share = lorenz_points(v)
    return pd.DataFrame({"customer_share": customer_share, "value_share": value_share})


def gini_coefficient(values: Any) -> float:
    """Gini coefficient of concentration of non-negative values.

    ``G = sum_i (2 i - n - 1) v_(i) / (n * sum_i v_i)`` with ``v_(1) <= ... <=
    v_(n)`` (the mean-difference form of the Gini,
    :func:`cvm.value.concentration.gini_of_sorted`). Zero when everyone has the
    same value, ``(n - 1) / n`` when one customer holds all of it.

    Examples
    --------
    >>> gini_coefficient([0, 0, 0, 10])
    0.75
    >>> gini_coefficient([1, 2, 3])
    0.2222222222222222
    """
    v = np.sort(_vector(values, "values"))
    if len(v) == 0 or v.sum() <= 0:
        raise SchemaError("a Gini coefficient needs values with a positive total")
    return gini_of_sorted(v)


def ranking_gini(predicted: Any, actual: Any) -> float:
    """Normalised Gini of a ranking: how well ``predicted`` orders ``actual``.

    The concentration index of ``actual`` with customers ordered by
    ``predicted`` (ascending; ties share the mean of their ranks),
    ``C = sum_i (2 r_i - n - 1) a_i / (n * sum_i a_i)``, divided by the Gini
    of ``actual`` itself (the best possible ordering). One means the
    prediction ranks customers exactly as their realised value, zero means no
    better than random, negative means reversed.

    Examples
    --------
    >>> ranking_gini([3, 2, 1], [30, 20, 10])
    1.0
    >>> ranking_gini([1, 2, 3], [30, 20, 10])
    -1.0
    """
    p, a = _pair(predicted, actual)
    best = gini_coefficient(a)
    if best == 0:
        raise SchemaError("every customer has the same actual value; a ranking cannot be judged")
    n = len(a)
    from scipy import stats  # here, not at the top: scipy.stats takes a second to import

    ranks = stats.rankdata(p, method="average")
    concentration = float(np.sum((2 * ranks - n - 1) * a) / (n * a.sum()))
    return concentration / best


def top_share(predicted: Any, actual: Any, share: float = 0.1) -> float:
    """Share of the total actual value held by the top ``share`` of customers by prediction.

    The top group is the ``ceil(share * n)`` customers with the highest
    prediction (ties broken by order of appearance). With ``share = 0.1`` this
    is "the top decile captures X % of holdout value".

    Examples
    --------
    >>> top_share([5, 1, 4, 2, 3, 0, 0, 0, 0, 0], [50, 1, 0, 0, 0, 0, 0, 0, 0, 49])
    0.5
    """
    p, a = _pair(predicted, actual)
    if not 0 < share <= 1:
        raise SchemaError(f"share must lie in (0, 1], got {share}")
    total = a.sum()
    if total <= 0:
        raise SchemaError("the actual values sum to zero; there is no value to capture")
    k = int(np.ceil(share * len(a) - 1e-9))
    order = np.argsort(-p, kind="stable")
    return float(a[order[:k]].sum() / total)


# ----------------------------------------------------------------------------
# calibration of probabilities
# ----------------------------------------------------------------------------


def calibration_table(probability: Any, outcome: Any, bins: int = 10) -> pd.DataFrame:
    """Predicted probability against observed share, in equal-width bins.

    Customers are binned by ``probability`` into ``bins`` intervals of width
    ``1 / bins`` (the last one closed). Each row holds the bin edges, the
    number of customers, their mean predicted probability and the share whose
    ``outcome`` is true. For P(alive) the outcome is "bought at least once in
    the holdout". Empty bins are left out.
    """
    p = _vector(probability, "probability")
    y = _vector(outcome, "outcome")
    if len(p) != len(y):
        raise SchemaError(f"probability has {len(p)} values but outcome has {len(y)}")
    if np.any((p < 0) | (p > 1)):
        raise SchemaError("probabilities must lie between 0 and 1")
    if bins < 1:
        raise SchemaError("bins must be at least 1")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins)
    keep = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=bins) / n
        share = np.bincount(idx, weights=(y > 0).astype(float), minlength=bins) / n
    edges = np.arange(bins + 1) / bins
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1][keep],
            "bin_upper": edges[1:][keep],
            "n_customers": n[keep],
            "predicted": mean_p[keep],
            "observed": share[keep],
        }
    ).reset_index(drop=True)


def expected_calibration_error(probability: Any, outcome: Any, bins: int = 10) -> float:
    """Customer-weighted mean gap ``sum_b (n_b / n) |mean p_b - share_b|`` over the bins of :func:`calibration_table`.

    Examples
    --------
    >>> expected_calibration_error([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1])
    0.25
    """
    t = calibration_table(probability, outcome, bins)
    return float(np.sum(t["n_customers"] * np.abs(t["predicted"] - t["observed"])) / t["n_customers"].sum())


def brier_score(probability: Any, outcome: Any) -> float:
    """Brier score ``(1/n) * sum_i (p_i - 1[y_i > 0])^2`` (lower is better).

    Examples
    --------
    >>> brier_score([0.0, 1.0, 0.5], [0, 1, 1])
    0.08333333333333333
    """
    p, y = _pair(probability, outcome)
    return float(np.mean((p - (y > 0)) ** 2))
