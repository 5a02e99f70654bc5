"""The shifted-beta-geometric (sBG) model of contract renewals.

References: Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer
retention", *Journal of Interactive Marketing* 21(1), 76-90 (the model and its
fit to cohort survival data); Fader & Hardie (2010), "Customer-base valuation in
a contractual setting: the perils of ignoring heterogeneity", *Marketing
Science* 29(1), 85-93 (discounted expected (residual) lifetime).

Each customer churns at the end of any period with probability ``theta``,
``theta ~ Beta(alpha, beta)`` across customers. ``T`` is the lifetime in
periods (the customer pays for periods ``1..T``):

.. math:: P(T = t) = \\frac{B(\\alpha+1, \\beta+t-1)}{B(\\alpha,\\beta)}, \\qquad
          S(t) = P(T > t) = \\frac{B(\\alpha, \\beta+t)}{B(\\alpha,\\beta)}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, hyp2f1

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array, columns_from


class ShiftedBetaGeometric(LikelihoodModel):
    """sBG model of customer retention in a contractual setting.

    Fit either a cohort's survival series (``survivors``: counts or percentages
    still active at the start of periods 0, 1, 2, ...) or individual records
    (``periods`` observed and whether the customer is still ``alive``).

    Examples
    --------
    >>> m = ShiftedBetaGeometric().fit(survivors=[1000, 631, 468, 382, 326, 289, 262, 241])
    >>> {k: round(v, 3) for k, v in m.params.items()}
    {'alpha': 0.704, 'beta': 1.182}
    """

    parameter_names = ("alpha", "beta")
    data_columns = ("periods", "alive")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        periods: Any = None,
        alive: Any = None,
        weights: Any = None,
        *,
        survivors: Any = None,
        cohort_size: float | None = None,
        initial=None,
    ) -> "ShiftedBetaGeometric":
        """Fit by maximum likelihood (Fader & Hardie 2007, eq. 5).

        Parameters
        ----------
        periods
            Per customer: the number of periods paid for. For a churned customer
            this is the lifetime ``T``; for an active one it is the number of
            periods observed so far (the lifetime is then censored, ``T > periods``).
            A frame with columns ``periods, alive`` (and optionally ``weights``)
            is accepted too.
        alive
            1 (or True) when the customer is still active, 0 when churned.
        weights
            Number of customers sharing each row.
        survivors
            Instead of individual data: the number (or percentage) of the cohort
            still active at the start of periods 0, 1, ..., starting with the
            whole cohort. Churned in period ``t`` are ``survivors[t-1] - survivors[t]``;
            the last value is censored.
        cohort_size
            Rescale ``survivors`` to this many customers (e.g. 1000 when the series
            is in percent). Only the standard errors and the log-likelihood depend on it.
        """
        if survivors is not None:
            if periods is not None or alive is not None:
                raise SchemaError("give either survivors=... or individual periods/alive, not both")
            periods, alive, weights = self._cohort_rows(survivors, cohort_size)
        elif alive is None and hasattr(periods, "columns"):
            cols = columns_from(periods, [alive], ("periods", "alive"), optional=("weights",),
                                hint="the sBG needs per customer 'periods' (paid periods) and 'alive' (1 active, 0 churned)")
            periods, alive = cols["periods"], cols["alive"]
            if weights is None:
                weights = cols.get("weights")
        elif periods is None or alive is None:
            raise SchemaError("the sBG needs survivors=[...] or both periods and alive")
        return self._fit({"periods": periods, "alive": alive}, weights, initial)

    @staticmethod
    def _cohort_rows(survivors: Any, cohort_size: float | None):
        s = as_float_array(survivors, "survivors")
        if len(s) < 2:
            raise SchemaError(
                "survivors needs at least two values: the cohort at the start (period 0) and after one period"
            )
        if s[0] <= 0 or np.any(s < 0):
            raise SchemaError("survivors must be non-negative and start with the (positive) size of the cohort")
        if np.any(np.diff(s) > 0):
            raise SchemaError(
                "survivors must not increase over time",
                hint="give the number still active from the original cohort, not new sign-ups",
            )
        if cohort_size is not None:
            if not np.isfinite(cohort_size) or cohort_size <= 0:
                raise SchemaError(f"cohort_size must be positive, got {cohort_size}")
            s = s * (float(cohort_size) / s[0])
        k = len(s) - 1
        churned = s[:-1] - s[1:]
        periods = np.concatenate([np.arange(1, k + 1), [k]]).astype(float)
        alive = np.concatenate([np.zeros(k), [1.0]])
        weights = np.concatenate([churned, [s[-1]]])
        keep = weights > 0  # empty cells carry no information (and would hide degenerate data)
        return periods[keep], alive[keep], weights[keep]

    def _validate(self, data: dict[str, np.ndarray]) -> None:
        periods, alive = data["periods"], data["alive"]
        if np.any(periods < 0) or np.any(periods != np.round(periods)):
            raise SchemaError("'periods' must be whole numbers of periods, not negative")
        if not np.all(np.isin(alive, (0.0, 1.0))):
            raise SchemaError("'alive' must be 1 (still a customer) or 0 (churned)")
        if np.any((alive == 0) & (periods < 1)):
            raise SchemaError(
                "a churned customer must have paid for at least one period (periods >= 1)",
                hint="periods counts the periods a customer stayed; churn in the first period means periods = 1",
            )
        if not np.any(alive == 0):
            raise SchemaError(
                "nobody churned, so the sBG cannot estimate how churn varies between customers",
                hint="fit once the cohort has seen at least one cancellation",
            )
        if np.max(periods) < 2:
            raise SchemaError(
                "only one period observed: one retention rate cannot separate alpha from beta",
                hint="the sBG needs customers observed over at least two periods",
            )

    def _initial_values(self, data, weights) -> np.ndarray:
        return np.array([1.0, 1.0])

    def _log_likelihood(self, theta, data) -> np.ndarray:
        """``ln P(T = t)`` for churned rows, ``ln S(t)`` for active (censored) rows."""
        a, b = theta
        t, alive = data["periods"], data["alive"]
        churn = betaln(a + 1, b + t - 1) - betaln(a, b)
        survive = betaln(a, b + t) - betaln(a, b)
        return np.where(alive == 1, survive, churn)

    def _gradient(self, theta, data) -> np.ndarray:
        a, b = theta
        t, alive = data["periods"], data["alive"]
        dab = digamma(a + b)
        with np.errstate(invalid="ignore"):
            # d/d(a,b) of ln B(a+1, b+t-1) - ln B(a, b)
            churn_a = digamma(a + 1) - digamma(a + b + t) - digamma(a) + dab
            churn_b = digamma(b + t - 1) - digamma(a + b + t) - digamma(b) + dab
            # d/d(a,b) of ln B(a, b+t) - ln B(a, b)
            surv_a = dab - digamma(a + b + t)
            surv_b = digamma(b + t) - digamma(a + b + t) - digamma(b) + dab
        live = alive == 1
        return np.column_stack([np.where(live, surv_a, churn_a), np.where(live, surv_b, churn_b)])

    # ---------------------------------------------------------- predictions
    def _periods(self, t: Any, name: str = "t") -> np.ndarray:
        self._require_fit()
        t = as_float_array(t, name)
        if np.any(t < 0) or np.any(t != np.round(t)):
            raise SchemaError(f"'{name}' must be whole, non-negative numbers of periods")
        return t

    def survival(self, t: Any) -> np.ndarray:
        """``S(t) = B(alpha, beta+t) / B(alpha, beta)``: share of a new cohort still active after ``t`` periods."""
        t = self._periods(t)
        a, b = self._theta
        return np.exp(betaln(a, b + t) - betaln(a, b))

    def churn_probability(self, t: Any) -> np.ndarray:
        """``P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta)``: a new customer's lifetime is exactly ``t`` periods."""
        t = self._periods(t)
        a, b = self._theta
        out = np.zeros(len(t))
        ok = t >= 1
        out[ok] = np.exp(betaln(a + 1, b + t[ok] - 1) - betaln(a, b))
        return out

    def retention_rate(self, t: Any) -> np.ndarray:
        """``r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1)`` for ``t >= 1`` (eq. 4).

        The retention rate rises with ``t``: the cohort sorts itself, the
        customers most likely to churn leave first.
        """
        t = self._periods(t)
        if np.any(t < 1):
            raise SchemaError("the retention rate is defined from period 1 on")
        a, b = self._theta
        return (b + t - 1) / (a + b + t - 1)

    def _discount_factor(self, discount_rate: float) -> float:
        d = float(discount_rate)
        if not np.isfinite(d) or d <= 0:
            raise SchemaError(f"discount_rate must be positive, got {discount_rate}")
        return 1.0 / (1.0 + d)

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL of a new customer, Fader & Hardie (2010) eq. (3).

        Payments are made at the start of each period the customer is active,
        the first one (now) undiscounted:

        .. math:: \\mathrm{DEL}(d) = \\sum_{t=0}^{\\infty} \\frac{S(t)}{(1+d)^t}
                  = {}_2F_1\\big(1, \\beta; \\alpha+\\beta; \\tfrac{1}{1+d}\\big)

        Multiply by the payment per period to get the expected CLV.
        """
        self._require_fit()
        z = self._discount_factor(discount_rate)
        a, b = self._theta
        return float(hyp2f1(1.0, b, a + b, z))

    def discounted_expected_residual_lifetime(self, renewals: Any, discount_rate: float) -> np.ndarray:
        """DERL of a customer who has renewed ``renewals`` times, Fader & Hardie (2010) eq. (6).

        The customer is at the end of period ``n = renewals + 1`` and about to
        decide on the next renewal; the payment of that renewal is undiscounted:

        .. math:: \\mathrm{DERL}(d \\mid n-1 \\text{ renewals}) = \\sum_{t=n}^{\\infty} \\frac{S(t)/S(n-1)}{(1+d)^{t-n}}
                  = \\frac{\\beta+n-1}{\\alpha+\\beta+n-1}\\,
                  {}_2F_1\\big(1, \\beta+n; \\alpha+\\beta+n; \\tfrac{1}{1+d}\\big)

        Examples
        --------
        >>> m = ShiftedBetaGeometric.from_params(alpha=0.668, beta=3.806)
        >>> round(float(m.discounted_expected_residual_lifetime(7, 0.10)[0]), 3)
        7.53
        """
        renewals = self._periods(renewals, "renewals")
        z = self._discount_factor(discount_rate)
        a, b = self._theta
        n = renewals + 1
        return (b + n - 1) / (a + b + n - 1) * hyp2f1(1.0, b + n, a + b + n, z)

    # ------------------------------------------------------------ simulation
    def simulate(self, n_customers: int, n_periods: int, seed: int | None = None) -> pd.DataFrame:
        """Draw individual records ``(periods, alive)`` observed over ``n_periods`` periods.

        Each customer draws ``theta ~ Beta(alpha, beta)`` and a geometric
        lifetime ``T >= 1``; ``periods = min(T, n_periods)``, ``alive = T > n_periods``.
        """
        self._require_fit()
        if int(n_customers) < 1 or int(n_periods) < 1:
            raise SchemaError("n_customers and n_periods must be at least 1")
        rng = np.random.default_rng(seed)
        a, b = self._theta
        theta = np.clip(rng.beta(a, b, int(n_customers)), 1e-12, 1.0)
        lifetime = rng.geometric(theta)
        return pd.DataFrame(
            {"periods": np.minimum(lifetime, int(n_periods)), "alive": (lifetime > int(n_periods)).astype(int)}
        )
