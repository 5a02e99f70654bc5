"""The gamma-gamma model of spend per transaction.

References: Colombo, R. & Jiang, W. (1999), "A stochastic RFM model", *Journal
of Interactive Marketing* 13(3), 2-12; Fader, P. S., Hardie, B. G. S. & Lee,
K. L. (2005), "RFM and CLV: using iso-value curves for customer base analysis",
*Journal of Marketing Research* 42(4), 415-430; Fader & Hardie (2013), "The
gamma-gamma model of monetary value" (note 025), equation numbers below.

Each transaction value is ``Gamma(p, nu)`` around the customer's mean ``p/nu``;
``nu ~ Gamma(q, gamma)`` across customers. The model uses the mean spend
``m`` of a customer's ``x`` repeat transactions, whose density is (eq. 3)

.. math:: f(m \\mid p, q, \\gamma, x) = \\frac{\\Gamma(px+q)}{\\Gamma(px)\\Gamma(q)}
          \\frac{\\gamma^q\\, m^{px-1}\\, x^{px}}{(\\gamma + m x)^{px+q}}
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from cvm.errors import SchemaError
from cvm.models.base import CvmWarning, FitSummary, LikelihoodModel, as_float_array, columns_from


class IndependenceWarning(CvmWarning):
    """Frequency and spend are correlated, against the gamma-gamma model's assumption."""


#: absolute Pearson correlation between frequency and mean spend above which fit() warns
CORRELATION_WARNING = 0.3


class GammaGamma(LikelihoodModel):
    """Gamma-gamma model of the mean spend per transaction of repeat customers.

    Parameters ``p``, ``q`` and ``gamma`` as in Fader, Hardie & Lee (2005)
    (lifetimes calls ``gamma`` ``v``).

    Examples
    --------
    >>> m = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> round(m.expected_spend_new(), 2)
    35.22
    """

    parameter_names = ("p", "q", "gamma")
    data_columns = ("frequency", "monetary_value")

    # ------------------------------------------------------------------ fit
    def fit(self, frequency: Any, monetary_value: Any = None, weights: Any = None, initial=None) -> "GammaGamma":
        """Fit on the repeat customers (``frequency > 0``) by maximum likelihood.

        Customers without repeat purchases carry no information on spend and are
        left out (their number is in ``n_excluded_`` and the summary).

        Parameters
        ----------
        frequency
            Number of repeat transactions ``x`` per customer, or a frame with
            columns ``frequency, monetary_value`` (and optionally ``weights``).
        monetary_value
            Mean value of those repeat transactions; must be positive (net
            returns and credit notes out of the amounts first).
        weights
            Number of customers sharing each row.
        """
        cols = columns_from(frequency, [monetary_value], ("frequency", "monetary_value"), optional=("weights",),
                            hint="the gamma-gamma model needs frequency and monetary_value per customer")
        frequency, monetary_value = cols["frequency"], cols["monetary_value"]
        if weights is None:
            weights = cols.get("weights")
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        if len(x) != len(m):
            raise SchemaError(f"frequency has {len(x)} values and monetary_value {len(m)}")
        w = None if weights is None else as_float_array(weights, "weights")
        if w is not None and len(w) != len(x):
            raise SchemaError(f"weights has {len(w)} values for {len(x)} customers")
        if np.any(x < 0):
            raise SchemaError(f"'frequency' must not be negative ({int(np.sum(x < 0))} row(s) are)")
        repeat = x > 0
        if not np.any(repeat):
            raise SchemaError(
                "no repeat customers (frequency > 0): the gamma-gamma model has nothing to learn from",
                hint="spend per transaction is estimated from customers with at least one repeat purchase",
            )
        self._validate({"frequency": x[repeat], "monetary_value": m[repeat]})
        n_repeat = float(np.sum(repeat) if w is None else np.sum(w[repeat]))
        if n_repeat < len(self.parameter_names):
            raise SchemaError(
                f"only {n_repeat:g} repeat customer(s): too few to estimate the three gamma-gamma parameters",
                hint="fit on at least a few dozen repeat customers, or use their mean spend directly",
            )
        if np.ptp(m[repeat]) == 0:
            raise SchemaError(
                "every repeat customer has the same mean spend, so the gamma-gamma model cannot tell how spend "
                "varies between customers",
                hint="fit on more customers; with one spend level use that amount directly",
            )
        self._warn_if_correlated(x[repeat], m[repeat], None if w is None else w[repeat])
        self._fit({"frequency": x[repeat], "monetary_value": m[repeat]}, None if w is None else w[repeat], initial)
        self.n_excluded_ = float(np.sum(~repeat) if w is None else np.sum(w[~repeat]))
        return self

    @staticmethod
    def _warn_if_correlated(x: np.ndarray, m: np.ndarray, w: np.ndarray | None) -> None:
        if len(x) < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
            return
        cov = np.cov(x, m, aweights=w)
        corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
        if abs(corr) >= CORRELATION_WARNING:
            warnings.warn(
                f"GammaGamma: frequency and monetary_value are correlated (r = {corr:.2f}); the model assumes "
                "spend per transaction does not depend on how often a customer buys, so expected spend may be biased.",
                IndependenceWarning,
                stacklevel=3,
            )

    def _validate(self, data: dict[str, np.ndarray]) -> None:
        x, m = data["frequency"], data["monetary_value"]
        if np.any(x < 0):
            raise SchemaError("'frequency' must not be negative")
        bad = (x > 0) & (m <= 0)
        if np.any(bad):
            raise SchemaError(
                f"{int(np.sum(bad))} repeat customer(s) have a zero or negative monetary_value",
                hint="the gamma-gamma model needs positive spend: net returns out of the amounts first "
                "and drop customers whose net spend is not positive",
            )

    def _initial_values(self, data, weights) -> np.ndarray:
        m = data["monetary_value"]
        mean = float(np.dot(weights, m) / weights.sum())
        return np.array([2.0, 3.0, max(mean, 1e-3)])

    def _log_likelihood(self, theta, data) -> np.ndarray:
        """``ln f(m | p, q, gamma, x)``, eq. (3) of Fader & Hardie (2013)."""
        return self._log_likelihood_and_gradient(theta, data)[0]

    def _prepare(self, data):
        """Distinct x with every row's index, ``ln m``, ``m x`` and ``x ln(m x)``: they do not depend on the
        parameters, so they are computed once per fit."""
        x, m = data["frequency"], data["monetary_value"]
        ix, ux = pd.factorize(x, sort=True)
        mx = m * x
        with np.errstate(divide="ignore", invalid="ignore"):
            return {**data, "x:levels": np.asarray(ux, dtype=float), "x:codes": ix, "log_m": np.log(m), "mx": mx,
                    "x_log_mx": x * np.log(mx)}

    def _log_likelihood_and_gradient(self, theta, data):
        """Per-row log-likelihood and gradient ``(n, 3)`` in one pass.

        Eq. (3) rearranged as ``ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln gamma - ln m
        + p x ln(m x) - (px + q) ln(gamma + m x)``: the gamma functions and their digammas
        depend on ``x`` only and are computed on the distinct purchase counts; ``ln m``,
        ``m x`` and ``x ln(m x)`` do not depend on the parameters and are computed once per
        fit (:meth:`_prepare`), which leaves one logarithm per customer and evaluation.
        """
        if "x:levels" not in data:
            data = self._prepare(data)
        ux, ix, log_m, mx, x_log_mx = (data[k] for k in ("x:levels", "x:codes", "log_m", "mx", "x_log_mx"))
        p, q, g = (float(v) for v in theta)
        x = data["frequency"]
        pux = p * ux
        log_total = np.log(g + mx)
        shape = p * x + q
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = ((gammaln(pux + q) - gammaln(pux))[ix] - gammaln(q) + q * np.log(g) - log_m
                  + p * x_log_mx - shape * log_total)
            dig_sum = digamma(pux + q)
            grad = np.empty((3, x.size))
            grad[0] = (ux * (dig_sum - digamma(pux)))[ix] + x_log_mx - x * log_total
            grad[1] = (dig_sum - digamma(q))[ix] + np.log(g) - log_total
            grad[2] = q / g - shape / (g + mx)
        return ll, grad.T

    def summary(self, level: float = 0.95) -> FitSummary:
        s = super().summary(level)
        if hasattr(self, "n_excluded_"):
            s.extra["n_excluded_one_time_buyers"] = self.n_excluded_
        return s

    # ---------------------------------------------------------- predictions
    def expected_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Posterior mean spend per transaction, eq. (5) of Fader & Hardie (2013).

        .. math:: E[M \\mid p, q, \\gamma, m, x] = \\frac{p(\\gamma + m x)}{p x + q - 1}
                  = \\frac{q-1}{px+q-1}\\frac{p\\gamma}{q-1} + \\frac{px}{px+q-1}\\, m

        A weighted average of the population mean and the customer's own mean;
        customers with ``x = 0`` get the population mean.
        """
        self._require_fit()
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        try:
            x, m = np.broadcast_arrays(x, m)
        except ValueError:
            raise SchemaError(f"frequency and monetary_value differ in length ({len(x)}, {len(m)})") from None
        self._validate({"frequency": x, "monetary_value": m})
        p, q, g = self._theta
        self._check_mean_exists()
        m = np.where(x > 0, m, 0.0)
        return p * (g + m * x) / (p * x + q - 1)

    def _check_mean_exists(self) -> None:
        if self._theta[1] <= 1:
            raise SchemaError(
                f"the population mean spend is infinite for q = {self._theta[1]:.3g} <= 1",
                hint="the fitted spend distribution has a very heavy tail; check the amounts for outliers",
            )

    def expected_spend_new(self) -> float:
        """Mean spend per transaction of a new customer, ``p gamma / (q - 1)`` (needs ``q > 1``)."""
        self._require_fit()
        self._check_mean_exists()
        p, q, g = self._theta
        return float(p * g / (q - 1))

    # ------------------------------------------------------------ simulation
    def simulate_amounts(self, n_transactions: Any, seed: int | None = None) -> np.ndarray:
        """Draw transaction amounts for customers in order.

        Each customer draws ``nu ~ Gamma(q, rate gamma)``, then each of their
        ``n_transactions`` amounts ``~ Gamma(p, rate nu)``. Returns one flat array
        of ``sum(n_transactions)`` amounts: the first customer's, then the second's, ...
        """
        self._require_fit()
        n = as_float_array(n_transactions, "n_transactions")
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise SchemaError("n_transactions must be whole, non-negative numbers")
        n = n.astype(int)
        rng = np.random.default_rng(seed)
        p, q, g = self._theta
        nu = rng.gamma(q, 1.0 / g, len(n))
        return rng.gamma(p, 1.0 / np.repeat(nu, n))

    def simulate(self, frequency: Any, seed: int | None = None) -> pd.DataFrame:
        """Draw each customer's mean spend over ``frequency`` repeat transactions.

        Returns a frame ``frequency, monetary_value`` (``monetary_value`` is 0
        when ``frequency`` is 0, as in lifetimes' summaries).
        """
        x = as_float_array(frequency, "frequency")
        amounts = self.simulate_amounts(x, seed)
        n = x.astype(int)
        owner = np.repeat(np.arange(len(n)), n)
        totals = np.bincount(owner, weights=amounts, minlength=len(n))
        mean = np.divide(totals, n, out=np.zeros(len(n)), where=n > 0)
        return pd.DataFrame({"frequency": n, "monetary_value": mean})

    # ------------------------------------------------------------ valuation
    def customer_lifetime_value(
        self,
        purchase_model: Any,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        time: int = 12,
        discount_rate: float = 0.01,
        period_length: float = 1.0,
        margin: float = 1.0,
    ) -> np.ndarray:
        """Discounted value of the purchases expected over the next ``time`` periods.

        .. math:: \\mathrm{CLV} = \\text{margin}\\; E[M \\mid x, m] \\sum_{k=1}^{\\text{time}}
                  \\frac{E[Y(kL) \\mid \\cdot] - E[Y((k-1)L) \\mid \\cdot]}{(1+d)^k}

        with ``L = period_length`` model time units per period and ``E[Y(t)|.]``
        the purchase model's conditional expectation (``expected_purchases``).
        With daily data, ``period_length=30`` and a monthly ``discount_rate``
        reproduces lifetimes' ``customer_lifetime_value(..., freq="D")``.

        Parameters
        ----------
        purchase_model
            A fitted purchase model (BGNBD, ParetoNBD, BGBB, ...); its fourth
            argument (``T`` or ``n_periods``) is passed through.
        time
            Number of periods to sum over.
        discount_rate
            Discount rate per period.
        """
        if int(time) != time or time < 1:
            raise SchemaError(f"time must be a whole number of periods, at least 1; got {time}")
        if not np.isfinite(discount_rate) or discount_rate <= -1:
            raise SchemaError(f"discount_rate must exceed -1, got {discount_rate}")
        if not np.isfinite(period_length) or period_length <= 0:
            raise SchemaError(f"period_length must be positive, got {period_length}")
        spend = np.asarray(self.expected_spend(frequency, monetary_value), dtype=float)
        horizons = np.arange(1, int(time) + 1) * float(period_length)
        # sum_k (E_k - E_{k-1}) v^k = sum_k E_k (v^k - v^(k+1)) + E_K v^K, with v = 1 / (1 + d)
        discount = (1.0 + discount_rate) ** -np.arange(1.0, int(time) + 2)
        weights = discount[:-1] - np.where(np.arange(int(time)) < int(time) - 1, discount[1:], 0.0)
        by_horizon = getattr(purchase_model, "expected_purchases_by_horizon", None)
        if by_horizon is not None:  # P(alive) and the like once for all horizons
            discounted = np.asarray(by_horizon(horizons, frequency, recency, T, weights=weights), float)
        else:
            cumulative = np.column_stack(
                [np.asarray(purchase_model.expected_purchases(h, frequency, recency, T), float) for h in horizons]
            )
            discounted = cumulative @ weights
        return margin * spend * discounted
