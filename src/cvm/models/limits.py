"""The limiting cases of the purchase models, each with its own likelihood, and the one way to fit a
purchase model for predictions (:func:`fit_for_prediction`).

When nobody in the data drops out, the BG/NBD's dropout probability ``p ~ Beta(a, b)`` goes to zero
(``a -> 0`` or ``b / (a + b) -> 1``) and the Pareto/NBD's dropout rate ``mu ~ Gamma(s, beta)`` too
(``s / beta -> 0``). Both models then *are* the NBD model: a Poisson purchase process with rate
``lambda ~ Gamma(r, alpha)`` that never ends (Ehrenberg 1959; Morrison & Schmittlein 1988). When on
top of that every customer buys at the same rate, the NBD's ``r`` and ``alpha`` go to infinity with
``r / alpha`` fixed, and its limit is one Poisson rate for everyone. A fit that runs to such an edge
has parameters of 1e35 and 1e-22 at which its formulas lose every digit; its limit states the same
thing with two parameters (or one) that are estimated well, so predictions come from the limit.

Fitting for prediction (:func:`fit_for_prediction`) therefore

1. refuses data that no purchase model can read: nobody bought a second time (code
   ``no_repeat_buyers``);
2. fits the model asked for; at a known limit (the engine's ``limit_``), fits the limit on the same
   data, and that one's limit in turn;
3. refuses a fit whose predictions are no numbers, or zero for every customer while customers did
   buy again (code ``predictions_broken``).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from cvm.errors import ConvergenceError
from cvm.models.base import FEW_CUSTOMERS, CalibrationWarning, LikelihoodModel, as_float_array, compress
from cvm.models.histories import check_history, discount_rate_delta, history, positive_times
from cvm.models.registry import spec

#: a fit's dropout is "gone" when fewer than this share of customers is expected to have dropped out
#: within the data (the BG/NBD's E[p] times the mean number of repeat purchases; the Pareto/NBD's E[mu] T)
NO_DROPOUT_SHARE = 1e-4
#: the NBD's heterogeneity is "gone" when r (the shape of the purchase rates' gamma) passes this: the
#: rates then vary by less than 1 / sqrt(r) = 1 % around their mean, and each customer's posterior
#: rate (r + x) / (alpha + T) is within about x / r of the pooled one
NO_HETEROGENEITY_SHAPE = 1e4


#: below this share the data may not tell the fit from its limit: a likelihood-ratio test decides
NEAR_LIMIT_SHARE = 0.01
#: ... and below this shape of the NBD's gamma likewise
NEAR_LIMIT_SHAPE = 100.0
#: the likelihood-ratio test's level: the limit is kept unless the data reject it at 5 %
LIMIT_TEST_LEVEL = 0.05


def no_better_than_limit(model: LikelihoodModel, theta: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray,
                         limit: str) -> bool:
    """True when the data cannot tell ``model`` at ``theta`` from its ``limit`` (``"nbd"``, ``"poisson"``).

    Likelihood-ratio test: the limit is fitted on the same data and kept unless
    ``2 (ll_model - ll_limit)`` exceeds the chi-square quantile at :data:`LIMIT_TEST_LEVEL` with as many
    degrees of freedom as the model has parameters more. The limit lies on the boundary of the model's
    space, where the statistic's null distribution is a mixture of chi-squares with fewer degrees of
    freedom (Self & Liang 1987), so the plain chi-square quantile keeps the limit a little more often
    than the level says: the simpler model is preferred when in doubt.
    """
    limit_model = spec(limit).cls()
    # this fit only answers the test: its own warnings (e.g. the NBD at its Poisson edge) are about a model
    # the user did not ask for; when the limit is kept, fit_for_prediction fits it again and those warnings
    # reach the user from there
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            limit_model.fit(data["frequency"], data["recency"], data["T"], weights=weights)
        except (ConvergenceError, ValueError):
            return False
        ll_model = float(weights @ model._log_likelihood(theta, data))
    from scipy import stats  # here, not at the top: scipy.stats takes a second to import

    extra = len(model.parameter_names) - len(limit_model.parameter_names)
    statistic = 2.0 * (ll_model - float(limit_model.log_likelihood_))
    return bool(np.isfinite(statistic) and statistic < stats.chi2.ppf(1.0 - LIMIT_TEST_LEVEL, extra))


def _continuous_discount(rate, discount_rate, horizon):
    """``rate * int_0^H e^(-delta t) dt`` with ``delta = ln(1 + d)``: a constant purchase rate, discounted."""
    delta, H = discount_rate_delta(discount_rate, horizon)
    if np.isfinite(H):
        return rate * -np.expm1(-delta * H) / delta
    return rate / delta


class _PurchaseHistoryLimit(LikelihoodModel):
    """What the two limiting models share: they are fitted on purchase histories ``(frequency, recency, T)``."""

    data_columns = ("frequency", "recency", "T")

    def fit(self, frequency, recency=None, T=None, weights=None, initial=None):
        """Fit by maximum likelihood on ``(frequency, recency, T)`` arrays or one frame with those columns."""
        from cvm.models.base import columns_from

        cols = columns_from(frequency, [recency, T], self.data_columns)
        return self._fit(cols, weights, initial)

    def _validate(self, data) -> None:
        check_history(data)


class NBD(_PurchaseHistoryLimit):
    r"""The NBD purchase model: Poisson purchases at rate ``lambda ~ Gamma(r, alpha)``, no dropout.

    The limit of the BG/NBD as the dropout probability vanishes, and of the Pareto/NBD as the dropout
    rate does. Given ``x`` repeat purchases in ``(0, T]`` (their times carry no further information
    about ``lambda``), the likelihood is

    .. math::
        L(r, \alpha \mid x, T) = \frac{\Gamma(r+x)}{\Gamma(r)}\,\frac{\alpha^r}{(\alpha+T)^{r+x}}

    (the BG/NBD likelihood of FHL 2005, eq. 6, at ``p = 0``), the posterior rate is
    ``Gamma(r + x, alpha + T)``, so ``E[X(t) | x, T] = (r + x) t / (alpha + T)`` and every customer
    is alive. ``recency`` is accepted (and checked) for the common API but unused.

    Examples
    --------
    >>> m = NBD.from_params(r=2.0, alpha=4.0)
    >>> float(m.expected_purchases(10.0, 3, 20.0, 24.0)[0])  # (2 + 3) * 10 / (4 + 24)
    1.7857142857142858
    """

    parameter_names = ("r", "alpha")
    def _initial_values(self, data, weights) -> np.ndarray:
        # method of moments on the rates x / T: mean r / alpha, variance of the gamma r / alpha^2
        rate = data["frequency"] / data["T"]
        mean = max(np.average(rate, weights=weights), 1e-6)
        var = np.average((rate - mean) ** 2, weights=weights) - np.average(1.0 / data["T"], weights=weights) * mean
        r = mean**2 / var if var > 0 else 10.0
        r = float(np.clip(r, 0.05, 1e4))
        return np.array([r, r / mean])

    def _log_likelihood(self, theta, data) -> np.ndarray:
        r, alpha = theta[:2]
        x, T = data["frequency"], data["T"]
        return gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)

    def _gradient(self, theta, data) -> np.ndarray:
        r, alpha = theta[:2]
        x, T = data["frequency"], data["T"]
        d_r = digamma(r + x) - digamma(r) + np.log(alpha) - np.log(alpha + T)
        d_alpha = r / alpha - (r + x) / (alpha + T)
        return np.column_stack([d_r, d_alpha])

    def _limiting_case(self, theta, data, weights) -> str | None:
        """``"poisson"`` when ``r`` passes :data:`NO_HETEROGENEITY_SHAPE`, or passes :data:`NEAR_LIMIT_SHAPE`
        and the data cannot tell the NBD from one rate for all (:func:`no_better_than_limit`)."""
        r = theta[0]
        if r > NO_HETEROGENEITY_SHAPE or (r > NEAR_LIMIT_SHAPE and no_better_than_limit(self, theta, data, weights, "poisson")):
            return "poisson"
        return None

    def _calibration_totals(self, data, weights):
        r, alpha = self.params_.to_numpy()[:2]
        return float(weights @ (r / alpha * data["T"])), float(weights @ data["frequency"])

    # ------------------------------------------------------------ predictions
    def _fitted(self) -> np.ndarray:
        """``(r, alpha)`` (NotFittedError before a fit)."""
        self._require_fit()
        return self.params_.to_numpy()[:2]

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """1 for every customer: nobody drops out in this model."""
        x, _, _ = history(frequency, recency, T)
        self._require_fit()
        return np.ones(x.shape)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r"""E[X(t) | x, T] = :math:`(r + x)\,t / (\alpha + T)` (the posterior mean rate times ``t``)."""
        x, _, T = history(frequency, recency, T)
        r, alpha = self._fitted()
        return (r + x) / (alpha + T) * positive_times(t)

    def expected_purchases_new(self, t) -> np.ndarray:
        r"""E[X(t)] = :math:`r t / \alpha` for a new customer."""
        r, alpha = self._fitted()
        return r / alpha * positive_times(t)

    def purchase_probability(self, n, t) -> np.ndarray:
        r"""P(X(t) = n): the negative binomial :math:`\frac{\Gamma(r+n)}{\Gamma(r)\,n!}
        (\frac{\alpha}{\alpha+t})^r (\frac{t}{\alpha+t})^n`."""
        from scipy import stats  # here, not at the top: scipy.stats takes a second to import

        r, alpha = self._fitted()
        n, t = np.broadcast_arrays(as_float_array(n, "n"), positive_times(t))
        return stats.nbinom.pmf(n, r, alpha / (alpha + t))

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None) -> np.ndarray:
        r"""DERT: :math:`\frac{r+x}{\alpha+T}\int_0^H e^{-\delta t}dt` with ``delta = ln(1 + d)``."""
        x, _, T = history(frequency, recency, T)
        r, alpha = self._fitted()
        return _continuous_discount((r + x) / (alpha + T), discount_rate, horizon)

    def simulate(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)``: ``lambda ~ Gamma(r, alpha)``, ``x ~ Poisson(lambda T)``, the last
        of ``x`` uniform times in ``(0, T]`` at ``T * Beta(x, 1)``."""
        r, alpha = self._fitted()
        rng = np.random.default_rng(seed)
        return _simulated_counts(rng, rng.gamma(r, 1.0 / alpha, int(n_customers)), T)


def _simulated_counts(rng, rates, T) -> pd.DataFrame:
    """Poisson purchase counts at ``rates`` over ``(0, T]`` and the time of each customer's last purchase."""
    T = np.broadcast_to(positive_times(T, "T"), rates.shape).astype(float)
    x = rng.poisson(rates * T).astype(float)
    recency = np.where(x > 0, T * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": T})


class Poisson(_PurchaseHistoryLimit):
    r"""One Poisson purchase rate for every customer, no dropout: the NBD's limit as ``r, alpha -> inf``.

    Likelihood :math:`L(\lambda \mid x, T) = \lambda^x e^{-\lambda T}` (up to a constant), maximised at
    :math:`\hat\lambda = \sum x / \sum T`; predictions :math:`E[X(t) \mid x, T] = \lambda t` for every
    history. The parameter is called ``rate`` (``lambda`` is a Python keyword).

    Examples
    --------
    >>> m = Poisson().fit([2, 4], [5.0, 9.0], [10.0, 10.0])
    >>> round(float(m.params_["rate"]), 6)
    0.3
    """

    parameter_names = ("rate",)
    def _initial_values(self, data, weights) -> np.ndarray:
        # the maximum-likelihood estimate itself (the optimiser only confirms it)
        return np.array([max(float(weights @ data["frequency"]) / float(weights @ data["T"]), 1e-12)])

    def _log_likelihood(self, theta, data) -> np.ndarray:
        rate = theta[0]
        return data["frequency"] * np.log(rate) - rate * data["T"]

    def _gradient(self, theta, data) -> np.ndarray:
        rate = theta[0]
        return (data["frequency"] / rate - data["T"])[:, None]

    def _calibration_totals(self, data, weights):
        return float(weights @ (self.params_.iloc[0] * data["T"])), float(weights @ data["frequency"])

    def _rate(self) -> float:
        """The fitted rate (NotFittedError before a fit)."""
        self._require_fit()
        return float(self.params_.iloc[0])

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """1 for every customer: nobody drops out in this model."""
        x, _, _ = history(frequency, recency, T)
        self._require_fit()
        return np.ones(x.shape)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r"""E[X(t) | history] = :math:`\lambda t`, whatever the history."""
        x, _, _ = history(frequency, recency, T)
        return np.full(x.shape, 1.0) * self._rate() * positive_times(t)

    def expected_purchases_new(self, t) -> np.ndarray:
        r"""E[X(t)] = :math:`\lambda t`."""
        return self._rate() * positive_times(t)

    def purchase_probability(self, n, t) -> np.ndarray:
        r"""P(X(t) = n) = :math:`e^{-\lambda t}(\lambda t)^n / n!`."""
        from scipy import stats  # here, not at the top: scipy.stats takes a second to import

        n, t = np.broadcast_arrays(as_float_array(n, "n"), positive_times(t))
        return stats.poisson.pmf(n, self._rate() * t)

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None) -> np.ndarray:
        r"""DERT: :math:`\lambda\int_0^H e^{-\delta t}dt` with ``delta = ln(1 + d)``."""
        x, _, _ = history(frequency, recency, T)
        return np.full(x.shape, 1.0) * _continuous_discount(self._rate(), discount_rate, horizon)

    def simulate(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)``: ``x ~ Poisson(rate T)``, the last purchase at ``T * Beta(x, 1)``."""
        rate = self._rate()
        rng = np.random.default_rng(seed)
        return _simulated_counts(rng, np.full(int(n_customers), rate), T)


#: the budget of each candidate fit when models are compared (``--model auto``, backtests): a fit that
#: needs more is dropped with its reason (code ``fit_over_budget``). Normal fits need a few dozen
#: iterations and well under a second per thousand distinct histories.
CANDIDATE_BUDGET: dict[str, Any] = {"max_seconds": 20.0, "max_iter": 1000}

def fit_for_prediction(cls: type[LikelihoodModel], frequency, recency, T, weights=None,
                       **settings: Any) -> tuple[LikelihoodModel, LikelihoodModel]:
    """Fit ``cls`` on purchase histories and return ``(fitted, used)``: the model asked for and the one
    whose predictions can be stood behind (the same, or its limit, see the module docstring).

    Raises
    ------
    ConvergenceError
        ``no_repeat_buyers`` when nobody bought a second time; ``predictions_broken`` when the
        fitted model (after its limits) predicts no number, or nothing for everyone;
        ``fit_over_budget`` (from the engine) when ``max_seconds`` ran out.
    """
    x = as_float_array(frequency, "frequency")
    w = np.ones(x.size) if weights is None else as_float_array(weights, "weights")
    if x.size and not np.any((x > 0) & (w > 0)):
        raise ConvergenceError.coded("no_repeat_buyers", n=f"{w.sum():,.0f}")
    data, given = (frequency, recency, T), ({} if weights is None else {"weights": weights})
    tx, t = as_float_array(recency, "recency"), as_float_array(T, "T")
    if x.size and x.ndim == tx.ndim == t.ndim == 1 and x.size == tx.size == t.size and np.all(w >= 0):
        # each distinct history once, weighted by its customers: the unique rows and weights every fit
        # compresses its data to anyway (the same fits, bit for bit), found once instead of once per
        # fit and once more for the check of the predictions (a model without weights gets the rows)
        rows, counts, _ = compress({"frequency": x, "recency": tx, "T": t}, w)
        distinct = (rows["frequency"], rows["recency"], rows["T"])
    else:
        distinct, counts = None, None

    def fit(klass: type[LikelihoodModel], **options: Any) -> LikelihoodModel:
        if distinct is not None and "weights" in inspect.signature(klass.fit).parameters:
            return klass(**options).fit(*distinct, weights=counts)
        return klass(**options).fit(*data, **given)

    fitted = fit(cls, **settings)
    used = fitted
    while getattr(used, "limit_", None) is not None:  # a registry name of kind "limit"
        limit_settings = {k: v for k, v in settings.items() if k in ("penalizer", "max_iter", "max_seconds")}
        used = fit(spec(used.limit_).cls, **limit_settings)
    if distinct is not None:
        check_predictions(used, *distinct, counts)
    else:
        check_predictions(used, *data, weights)
    return fitted, used


def check_predictions(model: LikelihoodModel, frequency, recency, T, weights=None) -> None:
    """Refuse (``predictions_broken``) a fit whose conditional predictions over the mean observation
    period are no numbers, or nothing for every customer (below a millionth of the customers' own
    average rate) while customers did buy again. Fewer than :data:`~cvm.models.base.FEW_CUSTOMERS`
    customers predicted to buy nothing: a :class:`~cvm.models.base.CalibrationWarning` with the same
    words instead (with a handful of customers "all are gone" can be what the data say)."""
    x, tx, T = history(frequency, recency, T)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    if not np.any(keep):
        return
    distinct, _, _ = compress({"x": x[keep], "tx": tx[keep], "T": T[keep]})  # each history once
    horizon = float(np.average(T[keep], weights=w[keep]))
    with np.errstate(all="ignore"):
        expected = np.asarray(model.expected_purchases(horizon, distinct["x"], distinct["tx"], distinct["T"]), dtype=float)
    shown = ", ".join(f"{k}={v:.3g}" for k, v in model.params_.items())
    rate = float(w[keep] @ x[keep]) / float(w[keep] @ T[keep])
    broken = ConvergenceError.coded("predictions_broken", model=type(model).__name__, params=shown)
    if not np.all(np.isfinite(expected)):
        raise broken
    # "nothing" is a millionth of what the customers' own average purchase rate gives over the period
    if rate > 0 and float(np.max(expected)) < 1e-6 * rate * horizon:
        if float(w.sum()) >= FEW_CUSTOMERS:
            raise broken
        # a handful of customers (the few-customers warning already says predictions can be extreme):
        # the model's verdict that all of them are gone is kept, said in words
        warnings.warn(CalibrationWarning.coded("predictions_broken", model=type(model).__name__, params=shown),
                      stacklevel=3)
