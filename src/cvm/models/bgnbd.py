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
from scipy import stats
from scipy.special import digamma, gammaln, roots_jacobi, roots_legendre

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array, columns_from
from cvm.models.special import log_hyp2f1

_GL_NODES, _GL_WEIGHTS = roots_legendre(64)


# ----------------------------------------------------------------------------
# helpers shared by the continuous-time purchase models (BG/NBD, MBG/NBD, Pareto/NBD)
# ----------------------------------------------------------------------------


def history(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and broadcast a purchase history ``(x, t_x, T)``; raise SchemaError when impossible."""
    x, tx, T = (as_float_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
    try:
        x, tx, T = np.broadcast_arrays(x, tx, T)
    except ValueError:
        raise SchemaError(f"frequency, recency and T must have the same length ({x.size}, {tx.size}, {T.size})") from None
    check_history({"frequency": x, "recency": tx, "T": T})
    return x.astype(float), tx.astype(float), T.astype(float)


def check_history(data) -> None:
    """The rules every (frequency, recency, T) history obeys."""
    x, tx, T = data["frequency"], data["recency"], data["T"]
    problems = []
    if np.any(x < 0) or np.any(x != np.round(x)):
        problems.append("frequency must be a whole number >= 0")
    if np.any(T <= 0):
        problems.append("T must be positive")
    if np.any(tx < 0) or np.any(tx > T * (1 + 1e-12)):
        problems.append("recency must lie between 0 and T")
    if np.any((x == 0) & (tx != 0)):
        problems.append("recency must be 0 for customers without repeat purchases")
    if problems:
        raise SchemaError(
            "; ".join(problems),
            hint="frequency = repeat purchases, recency = time from first to last purchase, "
            "T = time from first purchase to the end of the period (lifetimes' summary columns)",
        )


def positive_times(t, name="t") -> np.ndarray:
    t = as_float_array(t, name)
    if np.any(t < 0):
        raise SchemaError(f"{name} must not be negative")
    return t


def discount_rate_delta(discount_rate, horizon) -> tuple[float, float]:
    """Continuous discount ``delta = ln(1 + d)`` and the horizon (inf when None), checked."""
    d = float(discount_rate)
    if not np.isfinite(d) or d <= -1:
        raise SchemaError(f"discount_rate must be a number > -1 per time unit, got {discount_rate}")
    H = np.inf if horizon is None else float(horizon)
    if not H > 0:
        raise SchemaError(f"horizon must be positive, got {horizon}")
    delta = np.log1p(d)
    if not np.isfinite(H) and delta <= 0:
        raise SchemaError("an infinite horizon needs a positive discount_rate", hint="pass horizon=... or a discount_rate > 0")
    return delta, H


def discounted_integral(rate, scale, delta, horizon) -> np.ndarray:
    """``int_0^H exp(-delta t) rate(t) dt`` for every row, on a fixed Gauss-Legendre grid.

    The grid lives in ``v = log(1 + t / scale)`` (one natural time scale per
    row), cut where ``exp(-delta t) < 1e-16``; ``rate(t)`` receives a
    ``(rows, nodes)`` array of times.
    """
    scale = np.asarray(scale, float)
    t_end = np.minimum(horizon, 37.0 / delta) if delta > 0 else np.full(scale.shape, horizon)
    v_end = np.log1p(t_end / scale)
    v = 0.5 * v_end[:, None] * (_GL_NODES[None, :] + 1.0)
    t = scale[:, None] * np.expm1(v)
    jac = scale[:, None] * np.exp(v) * 0.5 * v_end[:, None]
    return np.sum(_GL_WEIGHTS[None, :] * jac * np.exp(-delta * t) * rate(t), axis=1)


def frame_of_events(customer: np.ndarray, times: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"customer": customer.astype(np.int64), "t": times})


def order_statistic_times(rng, counts, keep, window) -> tuple[np.ndarray, np.ndarray]:
    """For customer i draw ``counts[i]`` uniform times on (0, window[i]] and keep the first ``keep[i]``."""
    owner = np.repeat(np.arange(len(counts)), counts)
    u = rng.uniform(0.0, 1.0, owner.size) * window[owner]
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(owner.size) - start[owner]
    mask = rank < keep[owner]
    return owner[mask], u[mask]


def beta_expected_while_alive(tau, m, a, bb) -> np.ndarray:
    """``h = E_p[(1 - (1 + p tau)^-m) / p]`` for ``p ~ Beta(a, bb)``: purchases of an alive customer.

    Given alive, ``lambda ~ Gamma(m, A)`` and ``p ~ Beta(a, bb)``, the expected
    number of purchases in ``tau * A`` time is ``h`` (FHL 2005, derivation of
    eq. 10). With ``z = tau / (1 + tau)`` and Pfaff's transformation,

    ``h = (a + bb - 1) / (a - 1) * [1 - (1 + tau)^-m 2F1(m, bb; a + bb - 1; z)]``.

    The bracket is computed as ``-expm1`` of its logarithm; at ``a = 1`` (a
    removable singularity) the formula is averaged at ``a +/- 1e-4``; where
    ``a + bb - 1 <= 0`` Gauss-Jacobi quadrature over p is used instead.
    """
    tau, m, bb = np.broadcast_arrays(np.asarray(tau, float), np.asarray(m, float), np.asarray(bb, float))
    if abs(a - 1.0) < 1e-4:
        return 0.5 * (beta_expected_while_alive(tau, m, 1.0 - 1e-4, bb) + beta_expected_while_alive(tau, m, 1.0 + 1e-4, bb))
    out = np.zeros(tau.shape)
    c = a + bb - 1.0
    ok = c > 0.05
    if np.any(ok):
        z = tau[ok] / (1.0 + tau[ok])
        log_bracket = -m[ok] * np.log1p(tau[ok]) + log_hyp2f1(m[ok], bb[ok], c[ok], z)
        out[ok] = c[ok] / (a - 1.0) * -np.expm1(log_bracket)
    for value in np.unique(bb[~ok]):  # only customers without repeat purchases when a + b <= 1
        rows = (~ok) & (bb == value)
        y, w = roots_jacobi(48, value - 1.0, a - 1.0)
        p = 0.5 * (y + 1.0)
        w = w / w.sum()
        tp = tau[rows, None] * p[None, :]
        out[rows] = np.sum(w * -np.expm1(-m[rows, None] * np.log1p(tp)) / p, axis=1)
    out[tau == 0] = 0.0
    return out


# ----------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------


class BGNBD(LikelihoodModel):
    r"""Beta-geometric/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Log-likelihood of one customer (FHL 2005, eq. 6), with
    :math:`\delta_{x>0}` one when the customer made a repeat purchase:

    .. math::
        \ln L = \ln\frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}
              + \ln\frac{B(a, b+x)}{B(a, b)}
              + \ln\Big[(\alpha+T)^{-(r+x)}
              + \delta_{x>0}\,\frac{a}{b+x-1}\,(\alpha+t_x)^{-(r+x)}\Big]

    evaluated with ``logaddexp``; its gradient is exact (analytic).

    Parameters
    ----------
    penalizer, max_iter
        See :class:`~cvm.models.base.LikelihoodModel`.

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

    # ---------------------------------------------------------------- fitting
    def fit(self, frequency, recency=None, T=None, weights=None, initial=None):
        """Fit by maximum likelihood on ``(frequency, recency, T)`` arrays or one frame with those columns."""
        cols = columns_from(frequency, [recency, T], self.data_columns, optional=("weights",))
        if weights is None and "weights" in cols:
            weights = cols.pop("weights")
        cols.pop("weights", None)
        return self._fit(cols, weights, initial)

    def _validate(self, data) -> None:
        check_history(data)

    def _initial_values(self, data, weights) -> np.ndarray:
        mean_x = max(np.average(data["frequency"], weights=weights), 0.05)
        mean_T = np.average(data["T"], weights=weights)
        return np.array([1.0, mean_T / mean_x, 1.0, 3.0])

    def _parts(self, theta, data):
        """The two log terms of the likelihood bracket and the constant part."""
        r, alpha, a, b = theta[:4]
        x, tx, T = data["frequency"], data["recency"], data["T"]
        e = self._extra_drop
        const = (
            gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            + gammaln(a + b) + gammaln(b + x + e) - gammaln(b) - gammaln(a + b + x + e)
        )
        stay = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            gone = np.log(a) - np.log(b + x + e - 1) - (r + x) * np.log(alpha + tx)
        if not e:
            gone = np.where(x > 0, gone, -np.inf)
        return const, stay, gone

    def _log_likelihood(self, theta, data) -> np.ndarray:
        const, stay, gone = self._parts(theta, data)
        return const + np.logaddexp(stay, gone)

    def _gradient(self, theta, data) -> np.ndarray:
        r, alpha, a, b = theta[:4]
        x, tx, T = data["frequency"], data["recency"], data["T"]
        e = self._extra_drop
        _, stay, gone = self._parts(theta, data)
        w_gone = np.exp(gone - np.logaddexp(stay, gone))  # = 1 - P(alive)
        w_stay = 1.0 - w_gone
        d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w_stay * np.log(alpha + T) - w_gone * np.log(alpha + tx)
        d_alpha = r / alpha - (r + x) * (w_stay / (alpha + T) + w_gone / (alpha + tx))
        common = digamma(a + b) - digamma(a + b + x + e)
        d_a = common + w_gone / a
        with np.errstate(divide="ignore", invalid="ignore"):
            d_b = common + digamma(b + x + e) - digamma(b) - np.where(w_gone > 0, w_gone / (b + x + e - 1), 0.0)
        return np.column_stack([d_r, d_alpha, d_a, d_b])

    # ------------------------------------------------------------ predictions
    def _p(self):
        self._require_fit()
        return (float(v) for v in self.params_.to_numpy()[:4])

    def _theta_fitted(self) -> np.ndarray:
        self._require_fit()
        return self.params_.to_numpy()

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + delta_{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) (FHL 2005, eq. 11)."""
        x, tx, T = history(frequency, recency, T)
        _, stay, gone = self._parts(self._theta_fitted(), {"frequency": x, "recency": tx, "T": T})
        return np.exp(stay - np.logaddexp(stay, gone))

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r"""E[Y(t) | x, t_x, T], expected repeat purchases in the next ``t`` (FHL 2005, eq. 10).

        .. math::
            \frac{a+b+x-1}{a-1}\Big[1-\Big(\frac{\alpha+T}{\alpha+T+t}\Big)^{r+x}
            {}_2F_1\big(r+x, b+x; a+b+x-1; \tfrac{t}{\alpha+T+t}\big)\Big]\,P(\text{alive})
        """
        r, alpha, a, b = self._p()
        x, tx, T = history(frequency, recency, T)
        t = positive_times(t)
        h = beta_expected_while_alive(t / (alpha + T), r + x, a, b + x + self._extra_drop)
        return self.probability_alive(x, tx, T) * h

    def expected_purchases_new(self, t) -> np.ndarray:
        r"""E[X(t)] for a new customer (FHL 2005, eq. 9):
        :math:`\frac{a+b-1}{a-1}\big[1-(\frac{\alpha}{\alpha+t})^r\,{}_2F_1(r, b; a+b-1; \frac{t}{\alpha+t})\big]`."""
        r, alpha, a, b = self._p()
        t = positive_times(t)
        return beta_expected_while_alive(t / alpha, np.full(t.shape, r), a, np.full(t.shape, b))

    def purchase_probability(self, n, t) -> np.ndarray:
        r"""P(X(t) = n) for a new customer (FHL 2005, eq. 8).

        .. math::
            \frac{B(a,b+n)}{B(a,b)} NB(n; r, \tfrac{\alpha}{\alpha+t})
            + \delta_{n>0}\frac{B(a+1,b+n-1)}{B(a,b)}\,P(NB(r, \tfrac{\alpha}{\alpha+t}) \ge n)
        """
        r, alpha, a, b = self._p()
        n = as_float_array(n, "n")
        t = positive_times(t)
        n, t = np.broadcast_arrays(n, t)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise SchemaError("n must be a whole number >= 0")
        q = alpha / (alpha + t)
        lbeta = gammaln(a + b) - gammaln(a) - gammaln(b)
        e = self._extra_drop
        alive = np.exp(lbeta + gammaln(a) + gammaln(b + n + e) - gammaln(a + b + n + e)) * stats.nbinom.pmf(n, r, q)
        dead_logw = lbeta + gammaln(a + 1) + gammaln(b + n - 1 + e) - gammaln(a + b + n + e)
        dead = np.exp(np.where(n + e > 0, dead_logw, -np.inf)) * np.where(n > 0, stats.nbinom.sf(n - 1, r, q), 1.0)
        return alive + dead

    def _alive_rate(self, t, x, T):
        """dE[Y(t)]/dt for an alive customer: (m/A) E_p[(1 + p t/A)^-(m+1)], p ~ Beta(a, b + x)."""
        r, alpha, a, b = self._p()
        A = (alpha + T)[:, None]
        m = (r + x)[:, None]
        bb = (b + x + self._extra_drop)[:, None]
        tau = t / A
        m_, bb_ = np.broadcast_arrays(m + 1.0, bb)
        log_f = -(m + 1.0) * np.log1p(tau) + log_hyp2f1(m_, bb_, a + bb_, tau / (1.0 + tau))
        return m / A * np.exp(log_f)

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None) -> np.ndarray:
        r"""DERT: discounted expected residual transactions.

        .. math::
            \mathrm{DERT} = \int_0^H e^{-\delta t}\,\frac{d}{dt}E[Y(t)\mid x,t_x,T]\,dt,
            \qquad \delta = \ln(1+d)

        The BG/NBD has no closed form: the conditional purchase rate
        :math:`P(\text{alive})\,\frac{r+x}{\alpha+T}\,E_p[(1+p\,t/(\alpha+T))^{-(r+x+1)}]`
        (a 2F1, p following its Beta(a, b+x) posterior) is integrated with 64-node
        Gauss-Legendre quadrature in :math:`\log(1+t/(\alpha+T))`. ``horizon=None``
        integrates to infinity (needs ``discount_rate > 0``).
        """
        r, alpha, a, b = self._p()
        x, tx, T = history(frequency, recency, T)
        delta, H = discount_rate_delta(discount_rate, horizon)
        keys, inverse = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        ux, uT = keys[:, 0], keys[:, 1]
        rate = discounted_integral(lambda t: self._alive_rate(t, ux, uT), alpha + uT, delta, H)
        return self.probability_alive(x, tx, T) * rate[inverse.ravel()]

    # ------------------------------------------------------------- simulation
    def _simulated(self, n_customers, T, seed):
        r, alpha, a, b = self._p()
        n = int(n_customers)
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

    def simulate(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)`` summaries from the model's generative process."""
        rng, T, arrivals, x = self._simulated(n_customers, T, seed)
        # the x-th of `arrivals` uniform arrival times on (0, T]: T * Beta(x, arrivals - x + 1)
        with np.errstate(invalid="ignore"):
            rec = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x + 1, 1)), 0.0)
        return pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})

    def simulate_events(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw repeat-purchase times in (0, T_i] per customer: DataFrame[customer, t]."""
        rng, T, arrivals, x = self._simulated(n_customers, T, seed)
        owner, times = order_statistic_times(rng, arrivals, x, T)
        return frame_of_events(owner, times)

