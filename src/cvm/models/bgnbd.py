"""The BG/NBD model: Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive a customer buys as a Poisson process with rate ``lambda ~
Gamma(r, alpha)``; after every repeat purchase she drops out with probability
``p ~ Beta(a, b)``. Data per customer: ``x`` repeat purchases (``frequency``),
the time of the last one ``t_x`` (``recency``) and the time since the first
purchase ``T``, all in one time unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, roots_jacobi

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array, compress
from cvm.models.covariates import CovariateSupport
from cvm.models.histories import (
    check_history,
    discount_rate_delta,
    discounted_integral,
    discounted_laplace,
    frame_of_events,
    history,
    horizon_weights,
    order_statistic_times,
    positive_times,
)
from cvm.models.special import log_hyp2f1


def beta_expected_while_alive(tau, m, a, bb) -> np.ndarray:
    """``h = E_p[(1 - (1 + p tau)^-m) / p]`` for ``p ~ Beta(a, bb)``: purchases of an alive customer.

    Given alive, ``lambda ~ Gamma(m, A)`` and ``p ~ Beta(a, bb)``, the expected
    number of purchases in ``tau * A`` time is ``h`` (FHL 2005, derivation of
    eq. 10). With ``z = tau / (1 + tau)`` and Pfaff's transformation,

    ``h = (a + bb - 1) / (a - 1) * [1 - (1 + tau)^-m 2F1(m, bb; a + bb - 1; z)]``.

    The bracket is computed as ``-expm1`` of its logarithm; within ``1e-4`` of
    ``a = 1`` (a removable singularity, where the formula loses its digits) ``h``
    is interpolated linearly between ``a = 1 -/+ 2e-4``, both outside that band
    (``h`` is smooth in ``a``: the error is of order ``1e-8`` relative); where
    ``a + bb - 1 <= 0`` Gauss-Jacobi quadrature over p is used instead.
    """
    tau, m, a, bb = (np.array(v, dtype=float) for v in np.broadcast_arrays(
        np.asarray(tau, float), np.asarray(m, float), np.asarray(a, float), np.asarray(bb, float)))
    near = np.abs(a - 1.0) < 1e-4
    if np.any(near):
        out = np.empty(tau.shape)
        args = (tau[near], m[near])
        low, high = 1.0 - 2e-4, 1.0 + 2e-4
        h_low = beta_expected_while_alive(*args, np.full(args[0].shape, low), bb[near])
        h_high = beta_expected_while_alive(*args, np.full(args[0].shape, high), bb[near])
        out[near] = h_low + (a[near] - low) / (high - low) * (h_high - h_low)
        if np.any(~near):
            out[~near] = beta_expected_while_alive(tau[~near], m[~near], a[~near], bb[~near])
        return out
    out = np.zeros(tau.shape)
    c = a + bb - 1.0
    ok = c > 0.05
    if np.any(ok):
        z = tau[ok] / (1.0 + tau[ok])
        log_bracket = -m[ok] * np.log1p(tau[ok]) + log_hyp2f1(m[ok], bb[ok], c[ok], z)
        out[ok] = c[ok] / (a[ok] - 1.0) * -np.expm1(log_bracket)
    pairs = np.unique(np.column_stack([bb[~ok], a[~ok]]), axis=0) if np.any(~ok) else ()
    for value, a_value in pairs:  # only customers without repeat purchases when a + b <= 1
        rows = (~ok) & (bb == value) & (a == a_value)
        y, w = roots_jacobi(48, value - 1.0, a_value - 1.0)
        p = 0.5 * (y + 1.0)
        w = w / w.sum()
        tp = tau[rows, None] * p[None, :]
        out[rows] = np.sum(w * -np.expm1(-m[rows, None] * np.log1p(tp)) / p, axis=1)
    out[tau == 0] = 0.0
    return out



# ----------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------


class BGNBD(CovariateSupport, LikelihoodModel):
    r"""Beta-geometric/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Log-likelihood of one customer (FHL 2005, eq. 6), with
    :math:`\delta_{x>0}` one when the customer made a repeat purchase:

    .. math::
        \ln L = \ln\frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}
              + \ln\frac{B(a, b+x)}{B(a, b)}
              + \ln\Big[(\alpha+T)^{-(r+x)}
              + \delta_{x>0}\,\frac{a}{b+x-1}\,(\alpha+t_x)^{-(r+x)}\Big]

    evaluated with ``logaddexp``; its gradient is exact (analytic).

    Covariates (time-invariant, Fader & Hardie 2007): customer ``i`` with
    covariates :math:`z_i` has :math:`\alpha_i = \alpha e^{-\gamma_1^\top z_i}`,
    :math:`a_i = a e^{\gamma_2^\top z_i}` and :math:`b_i = b e^{\gamma_3^\top z_i}`
    (two dropout coefficient vectors, as pymc-marketing's BG/NBD); the
    coefficients are named ``purchase[name]``, ``dropout_a[name]`` and
    ``dropout_b[name]``. With ``shared_dropout_coefficients=True`` ``a`` and ``b``
    share one vector, :math:`a_i = a e^{\gamma_2^\top z_i}`,
    :math:`b_i = b e^{\gamma_2^\top z_i}` (CLVTools' BG/NBD with static
    covariates), named ``dropout[name]``. A positive ``purchase[...]`` raises the
    purchase rate; the dropout probability per purchase has mean
    :math:`a_i / (a_i + b_i)` (unchanged by a shared coefficient, which moves
    only its spread).

    Parameters
    ----------
    penalizer, max_iter
        See :class:`~cvm.models.base.LikelihoodModel`.
    purchase_covariates, dropout_covariates
        Names of the covariate columns acting on the purchase rate (through
        ``alpha``) and on the dropout probability (through ``a`` and ``b``).
    shared_dropout_coefficients
        One coefficient vector for ``a`` and ``b`` (CLVTools) instead of two.

    Examples
    --------
    >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(m.expected_purchases_new(78)[0]), 3)
    1.861
    """

    parameter_names = ("r", "alpha", "a", "b")
    data_columns = ("frequency", "recency", "T")
    #: 1 for the MBG/NBD, whose customers may also drop out at time zero
    _extra_drop = 0

    _effects = (("purchase", "purchase"), ("dropout_a", "dropout"), ("dropout_b", "dropout"))

    def __init__(self, penalizer: float = 0.0, max_iter: int = 2000, purchase_covariates=(), dropout_covariates=(),
                 shared_dropout_coefficients: bool = False, max_seconds: float | None = None) -> None:
        super().__init__(penalizer=penalizer, max_iter=max_iter, max_seconds=max_seconds)
        self._init_covariates(purchase_covariates, dropout_covariates)
        self.shared_dropout_coefficients = bool(shared_dropout_coefficients)
        if self.shared_dropout_coefficients:
            self._effects = (("purchase", "purchase"), ("dropout", "dropout"))

    def _settings(self):
        return {**super()._settings(), "shared_dropout_coefficients": self.shared_dropout_coefficients}

    # ---------------------------------------------------------------- fitting
    def fit(self, frequency, recency=None, T=None, weights=None, initial=None, covariates=None):
        """Fit by maximum likelihood on ``(frequency, recency, T)`` arrays or one frame with those columns.

        ``covariates`` (a frame or dict, one row per customer) is needed when the
        model has covariates, unless the fitted frame already holds those columns.
        """
        return self._fit_with_covariates(frequency, recency, T, weights, initial, covariates)

    def _row_params(self, theta, data):
        """``(r, alpha_i, a_i, b_i)``: per-customer arrays when the model has covariates."""
        r, alpha, a, b = theta[:4]
        if not (self.purchase_covariates or self.dropout_covariates):
            return r, alpha, a, b
        if self.shared_dropout_coefficients:
            k_purchase, k_drop = self._scales(theta, data)
            return r, alpha / k_purchase, a * k_drop, b * k_drop
        k_purchase, k_a, k_b = self._scales(theta, data)
        return r, alpha / k_purchase, a * k_a, b * k_b

    def _validate(self, data) -> None:
        check_history(data)

    def _limiting_case(self, theta, data, weights):
        """``"nbd"`` when the expected share of customers who dropped out within the data, ``E[p]`` times the
        mean number of purchases after which one can drop out, is below
        :data:`~cvm.models.limits.NO_DROPOUT_SHARE` (``p ~ Beta(a, b)``, ``E[p] = a / (a + b)``), or below
        :data:`~cvm.models.limits.NEAR_LIMIT_SHARE` while the data cannot tell the fit from the NBD
        (:func:`~cvm.models.limits.no_better_than_limit`)."""
        from cvm.models.limits import NEAR_LIMIT_SHARE, NO_DROPOUT_SHARE, no_better_than_limit

        if self.purchase_covariates or self.dropout_covariates:
            return None
        a, b = theta[2], theta[3]
        share = a / (a + b) * (np.average(data["frequency"], weights=weights) + self._extra_drop)
        if share < NO_DROPOUT_SHARE or (share < NEAR_LIMIT_SHARE and no_better_than_limit(self, theta, data, weights, "nbd")):
            return "nbd"
        return None

    def _initial_values(self, data, weights) -> np.ndarray:
        mean_x = max(np.average(data["frequency"], weights=weights), 0.05)
        mean_T = np.average(data["T"], weights=weights)
        return np.concatenate([[1.0, mean_T / mean_x, 1.0, 3.0], self._initial_coefficients()])

    def _prepare(self, data):
        """Tables of the distinct values of ``x`` (always) and of ``t_x`` and ``T`` (when they repeat a lot:
        day-unit summaries have a few hundred distinct recencies among a million customers), each as its
        levels and every row's index among them."""
        out = dict(data)
        for name in ("frequency", "recency", "T"):
            codes, levels = pd.factorize(data[name], sort=True)
            if name == "frequency" or 8 * len(levels) <= codes.size:
                out[f"{name}:levels"], out[f"{name}:codes"] = np.asarray(levels, dtype=float), codes
        return out

    def _log_likelihood(self, theta, data) -> np.ndarray:
        return self._evaluate(theta, data, grad=False)[0]

    def _log_likelihood_and_gradient(self, theta, data):
        return self._evaluate(theta, data, grad=True)

    def _evaluate(self, theta, data, grad):
        """Per-row log-likelihood (FHL 2005, eq. 6) and, when ``grad``, its exact gradient, in one pass.

        The bracket is written as ``stay + log(1 + e^d)`` with ``stay = -(r+x) log(alpha+T)`` and
        ``d = log a - log(b+x-1) + (r+x) (log(alpha+T) - log(alpha+t_x))`` (``-inf`` without repeat
        purchases), whose logistic ``1 / (1 + e^-d)`` is the weight ``1 - P(alive)`` in the gradient.
        Without covariates everything that depends on ``x`` alone (the gamma and beta function ratios,
        their digammas, ``log(b + x - 1)``) is computed on the distinct purchase counts and gathered,
        and ``log(alpha + T)``, ``log(alpha + t_x)`` likewise when those columns repeat (:meth:`_prepare`);
        with covariates the same formulas run per customer and the gradient is chained to the coefficients.
        """
        r, alpha, a, b = self._row_params(theta, data)
        e = self._extra_drop
        x = data["frequency"]
        per_customer = any(np.ndim(v) for v in (alpha, a, b))

        def distinct(name):
            """(levels, every row's index) of a column, when tabulated and the parameters are shared."""
            if per_customer or f"{name}:levels" not in data:
                return None
            return data[f"{name}:levels"], data[f"{name}:codes"]

        def log_shift(name):
            """log(alpha + column) and 1 / (alpha + column), through the table of distinct values if any."""
            table = distinct(name)
            if table is None:
                values = np.log(alpha + data[name])
                return values, np.exp(-values)
            values = np.log(alpha + table[0])
            return values[table[1]], np.exp(-values)[table[1]]

        counts = distinct("frequency")
        ux, ix = counts if counts is not None else (x, slice(None))
        log_T, inv_T = log_shift("T")
        log_tx, inv_tx = log_shift("recency")
        uxe = ux + e
        can_go = uxe > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_b = np.where(can_go, 1.0 / (b + uxe - 1.0), 0.0)
            gone_x = np.where(can_go, np.log(a) + np.log(inv_b), -np.inf)
        const_x = (gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + uxe) - gammaln(b)
                   - gammaln(a + b + uxe) + r * np.log(alpha))
        m = r + x
        spread = log_T - log_tx
        d = gone_x[ix] + m * spread            # log of the dropout term over the alive term
        tail = np.exp(-np.abs(d))
        with np.errstate(invalid="ignore"):
            ll = const_x[ix] - m * log_T + np.maximum(d, 0.0) + np.log1p(tail)
        if not grad:
            return ll, None
        w_gone = np.where(d > 0, 1.0, tail) / (1.0 + tail)
        common_x = digamma(a + b) - digamma(a + b + uxe)
        g = np.empty((4, x.size))
        g[0] = (digamma(r + ux) - digamma(r) + np.log(alpha))[ix] - log_T + w_gone * spread
        g[1] = r / alpha - m * (inv_T + w_gone * (inv_tx - inv_T))
        g[2] = common_x[ix] + w_gone / a
        g[3] = (common_x + digamma(b + uxe) - digamma(b))[ix] - w_gone * inv_b[ix]
        g = g.T
        if len(theta) == len(self.parameter_names):
            return ll, g
        if not self.shared_dropout_coefficients:
            return ll, self._chain_covariates(g, theta, data, scaled=((1, -1), (2, 1), (3, 1)))
        full = self._chain_covariates(g, theta, data, scaled=((1, -1), (2, 1)))
        _, names, start = self._groups()[1]
        if names:  # b_i = b exp(gamma^T z) too: its share of d/d gamma_j and d/d b
            k = self._scales(theta, data)[1]
            full[:, 3] = g[:, 3] * k
            for j, c in enumerate(names):
                full[:, start + j] += g[:, 3] * theta[3] * k * data[f"z:{c}"]
        return ll, full

    # ------------------------------------------------------------ predictions
    def _p(self, covariates=None, n_rows=None):
        """``(r, alpha_i, a_i, b_i)`` for prediction: scalars, or per-customer arrays with covariates."""
        theta = self._theta_fitted()
        data = self._covariate_columns(covariates, n_rows)
        return tuple(v if np.ndim(v) else float(v) for v in self._row_params(theta, data))

    def _theta_fitted(self) -> np.ndarray:
        self._require_fit()
        return self.params_.to_numpy()

    def probability_alive(self, frequency, recency, T, covariates=None) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + delta_{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) (FHL 2005, eq. 11).

        Computed as the logistic ``1 / (1 + e^d)`` of the log odds of having dropped out,
        ``d = log a - log(b+x-1) + (r+x) (log(alpha+T) - log(alpha+t_x))``.
        """
        x, tx, T = history(frequency, recency, T)
        return self._probability_alive(x, tx, T, covariates)

    def _probability_alive(self, x, tx, T, covariates):
        r, alpha, a, b = self._p(covariates, x.size)
        e = self._extra_drop
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log(a) - np.log(b + x + e - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return expit(-np.where(x + e > 0, d, -np.inf))

    def expected_purchases(self, t, frequency, recency, T, covariates=None) -> np.ndarray:
        r"""E[Y(t) | x, t_x, T], expected repeat purchases in the next ``t`` (FHL 2005, eq. 10).

        .. math::
            \frac{a+b+x-1}{a-1}\Big[1-\Big(\frac{\alpha+T}{\alpha+T+t}\Big)^{r+x}
            {}_2F_1\big(r+x, b+x; a+b+x-1; \tfrac{t}{\alpha+T+t}\big)\Big]\,P(\text{alive})

        The factor after P(alive) is the expectation of an alive customer; it depends on
        ``(t, x, T)`` only and is computed once per distinct combination.
        """
        x, tx, T = history(frequency, recency, T)
        t = positive_times(t)
        if t.size == 1:
            return self._expected_purchases_table(t, x, tx, T, covariates)[:, 0]
        try:
            t, x, tx, T = np.broadcast_arrays(t, x, tx, T)
        except ValueError:
            raise SchemaError(f"t must be one number or one per customer ({t.size} for {x.size})") from None
        r, alpha, a, b = self._p(covariates, x.size)
        keys, inverse = self._distinct_customers({"tau": t / (alpha + T), "x": x}, a, b)
        h = beta_expected_while_alive(keys["tau"], r + keys["x"], keys["a"], keys["b"] + keys["x"] + self._extra_drop)
        return self._probability_alive(x, tx, T, covariates) * h[inverse]

    def expected_purchases_by_horizon(self, horizons, frequency, recency, T, covariates=None,
                                      weights=None) -> np.ndarray:
        """E[Y(t) | x, t_x, T] at several horizons: shape ``(customers, horizons)``.

        The same as calling :meth:`expected_purchases` once per horizon, with P(alive)
        and the distinct ``(x, T)`` found once (eq. 10 of FHL 2005 factors into
        P(alive) and an expectation given alive that depends on ``x`` and ``T`` only).

        With ``weights`` (one per horizon) the result is the weighted sum over the
        horizons, ``sum_j w_j E[Y(t_j) | x, t_x, T]``, shape ``(customers,)``: the sum is
        taken on the distinct ``(x, T)`` before it is spread over the customers (this is
        how a discounted CLV is computed without a customers-by-horizons table).
        """
        x, tx, T = history(frequency, recency, T)
        horizons = positive_times(horizons, "horizons")
        return self._expected_purchases_table(horizons, x, tx, T, covariates, weights)

    @staticmethod
    def _distinct_customers(columns, a, b):
        """Distinct rows of ``columns`` plus the per-customer ``a``, ``b`` (only when they vary, i.e. with
        covariates), and the index of every customer's row."""
        varying = {name: v for name, v in (("a", a), ("b", b)) if np.ndim(v)}
        keys, _, inverse = compress({**columns, **varying})
        keys.update({name: v for name, v in (("a", a), ("b", b)) if not np.ndim(v)})
        return keys, inverse

    def _expected_purchases_table(self, horizons, x, tx, T, covariates, weights=None):
        r, alpha, a, b = self._p(covariates, x.size)
        keys, inverse = self._distinct_customers({"x": x, "A": alpha + T}, a, b)
        m, bb = r + keys["x"], keys["b"] + keys["x"] + self._extra_drop
        table = np.empty((keys["x"].size, horizons.size))
        for j, t in enumerate(horizons):
            table[:, j] = beta_expected_while_alive(t / keys["A"], m, keys["a"], bb)
        alive = self._probability_alive(x, tx, T, covariates)
        if weights is not None:
            return alive * (table @ horizon_weights(weights, horizons.size))[inverse]
        return alive[:, None] * table[inverse]

    def expected_purchases_new(self, t, covariates=None) -> np.ndarray:
        r"""E[X(t)] for a new customer (FHL 2005, eq. 9):
        :math:`\frac{a+b-1}{a-1}\big[1-(\frac{\alpha}{\alpha+t})^r\,{}_2F_1(r, b; a+b-1; \frac{t}{\alpha+t})\big]`."""
        t = positive_times(t)
        return self._new_customer_expectation(t, *self._p(covariates))

    @staticmethod
    def _new_customer_expectation(t, r, alpha, a, b):
        t, alpha, a, b = np.broadcast_arrays(t, alpha, a, b)
        return beta_expected_while_alive(t / alpha, np.full(t.shape, r), a, b)

    def purchase_probability(self, n, t, covariates=None) -> np.ndarray:
        r"""P(X(t) = n) for a new customer (FHL 2005, eq. 8).

        .. math::
            \frac{B(a,b+n)}{B(a,b)} NB(n; r, \tfrac{\alpha}{\alpha+t})
            + \delta_{n>0}\frac{B(a+1,b+n-1)}{B(a,b)}\,P(NB(r, \tfrac{\alpha}{\alpha+t}) \ge n)
        """
        r, alpha, a, b = self._p(covariates)
        n = as_float_array(n, "n")
        t = positive_times(t)
        n, t, alpha, a, b = np.broadcast_arrays(n, t, alpha, a, b)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise SchemaError("n must be a whole number >= 0")
        q = alpha / (alpha + t)
        lbeta = gammaln(a + b) - gammaln(a) - gammaln(b)
        e = self._extra_drop
        from scipy import stats  # here, not at the top: scipy.stats takes a second to import

        alive = np.exp(lbeta + gammaln(a) + gammaln(b + n + e) - gammaln(a + b + n + e)) * stats.nbinom.pmf(n, r, q)
        dead_logw = lbeta + gammaln(a + 1) + gammaln(b + n - 1 + e) - gammaln(a + b + n + e)
        dead = np.exp(np.where(n + e > 0, dead_logw, -np.inf)) * np.where(n > 0, stats.nbinom.sf(n - 1, r, q), 1.0)
        return alive + dead

    def _alive_rate(self, u, m, a, bb):
        """The purchase rate of an alive customer in units of ``A = alpha + T``, at ``u = t / A``:
        ``m E_p[(1 + p u)^-(m+1)]`` with ``p ~ Beta(a, bb)`` (``m = r + x``, ``bb = b + x``), that is
        ``m (1 + u)^-(m+1) 2F1(m + 1, bb; a + bb; u / (1 + u))`` (Euler's integral and Pfaff's transformation).
        Rows of ``u`` go with the entries of ``m``, ``a``, ``bb``."""
        m, a, bb = (np.broadcast_to(np.asarray(v, float)[:, None], u.shape) for v in (m, a, bb))
        return m * np.exp(-(m + 1.0) * np.log1p(u) + log_hyp2f1(m + 1.0, bb, a + bb, u / (1.0 + u)))

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None, covariates=None) -> np.ndarray:
        r"""DERT: discounted expected residual transactions.

        .. math::
            \mathrm{DERT} = \int_0^H e^{-\delta t}\,\frac{d}{dt}E[Y(t)\mid x,t_x,T]\,dt,
            \qquad \delta = \ln(1+d)

        The BG/NBD has no closed form. The conditional purchase rate is
        :math:`P(\text{alive})\,\frac{r+x}{A}\,E_p[(1+p\,t/A)^{-(r+x+1)}]` with :math:`A = \alpha+T` and
        ``p`` following its Beta(a, b+x) posterior (a 2F1); in ``u = t / A`` the rate depends on ``x``
        alone, and the integral is its Laplace transform at ``k = delta A``.
        ``horizon=None`` integrates to infinity (needs ``discount_rate > 0``): the rate is evaluated once
        per purchase count on a grid shared by all customers with that count
        (:func:`~cvm.models.histories.discounted_laplace`). A finite horizon integrates every distinct
        ``(x, T)`` on its own 64-node Gauss-Legendre grid in :math:`\log(1+t/A)`
        (:func:`~cvm.models.histories.discounted_integral`).
        """
        x, tx, T = history(frequency, recency, T)
        r, alpha, a, b = (np.broadcast_to(v, x.shape) for v in self._p(covariates, x.size))
        delta, H = discount_rate_delta(discount_rate, horizon)
        keys, _, inverse = compress({"x": x, "A": alpha + T, "a": a, "b": b})
        m, bb = r[0] + keys["x"], keys["b"] + keys["x"] + self._extra_drop
        if np.isfinite(H):
            def rate(t):
                return self._alive_rate(t / keys["A"][:, None], m, keys["a"], bb) / keys["A"][:, None]

            alive_value = discounted_integral(rate, keys["A"], delta, H)
        else:
            groups, _, group = compress({"m": m, "a": keys["a"], "bb": bb})
            alive_value = discounted_laplace(
                lambda u, owner: self._alive_rate(u, groups["m"][owner], groups["a"][owner], groups["bb"][owner]),
                group, delta * keys["A"])
        return self._probability_alive(x, tx, T, covariates) * alive_value[inverse]

    # ------------------------------------------------------------- simulation
    def _simulated(self, n_customers, T, seed, covariates=None):
        n = int(n_customers)
        r, alpha, a, b = self._p(covariates, n)
        if n <= 0:
            raise SchemaError("n_customers must be positive")
        T = np.broadcast_to(positive_times(T, "T"), (n,)).astype(float)
        rng = np.random.default_rng(seed)
        lam = rng.gamma(r, 1.0 / alpha, n)
        p = rng.beta(a, b, n)
        # repeat purchases made before dropping out: geometric (dropout after the k-th purchase)
        k = rng.geometric(np.clip(p, 1e-300, 1.0)) - self._extra_drop
        arrivals = rng.poisson(lam * T)
        return rng, T, arrivals, np.minimum(arrivals, k)

    def simulate(self, n_customers: int, T, seed=None, covariates=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)`` summaries from the model's generative process
        (per-customer ``alpha_i, a_i, b_i`` when the model has covariates)."""
        rng, T, arrivals, x = self._simulated(n_customers, T, seed, covariates)
        # the x-th of `arrivals` uniform arrival times on (0, T]: T * Beta(x, arrivals - x + 1)
        with np.errstate(invalid="ignore"):
            rec = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x + 1, 1)), 0.0)
        return pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})

    def simulate_events(self, n_customers: int, T, seed=None, covariates=None) -> pd.DataFrame:
        """Draw repeat-purchase times in (0, T_i] per customer: DataFrame[customer, t]."""
        rng, T, arrivals, x = self._simulated(n_customers, T, seed, covariates)
        owner, times = order_statistic_times(rng, arrivals, x, T)
        return frame_of_events(owner, times)

