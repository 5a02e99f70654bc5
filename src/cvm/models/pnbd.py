"""The Pareto/NBD model: Schmittlein, Morrison & Colombo (1987), "Counting your customers:
who are they and what will they do next?", Management Science 33(1); likelihood and predictions
as in Fader, Hardie & Lee (2005), "A note on deriving the Pareto/NBD model and related
expressions", and the DERT of Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value
curves for customer base analysis", JMR 42(4).

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r,
alpha)``; her lifetime is exponential with rate ``mu ~ Gamma(s, beta)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import digamma, exprel, gammaln, hyperu, roots_legendre

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array, columns_from
from cvm.models.bgnbd import (
    check_history,
    discount_rate_delta,
    discounted_integral,
    frame_of_events,
    history,
    order_statistic_times,
    positive_times,
)
from cvm.models.special import log1mexp, log_hyp2f1, log_hyp2f1_grad

_U_NODES, _U_WEIGHTS = roots_legendre(128)


class ParetoNBD(LikelihoodModel):
    r"""Pareto/NBD model of purchasing while alive with an unobserved exponential lifetime.

    Log-likelihood (FHL 2005 note, eqs. 16-19), written with the tail integral
    :math:`F(y) = \int_y^\infty (\alpha+\tau)^{-(r+x)} (\beta+\tau)^{-(s+1)} d\tau`:

    .. math::
        L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)}
            \Big[\frac{1}{(\alpha+T)^{r+x}(\beta+T)^s} + s\,\big(F(t_x) - F(T)\big)\Big]

    where, for :math:`\alpha \ge \beta`,
    :math:`F(y) = \frac{{}_2F_1(r+s+x, s+1; r+s+x+1; \frac{\alpha-\beta}{\alpha+y})}{(r+s+x)(\alpha+y)^{r+s+x}}`
    and for :math:`\alpha < \beta`
    :math:`F(y) = \frac{{}_2F_1(r+s+x, r+x; r+s+x+1; \frac{\beta-\alpha}{\beta+y})}{(r+s+x)(\beta+y)^{r+s+x}}`
    (the note's :math:`A_0` times :math:`(r+s+x)/s`). The argument then lies in
    ``[0, 1)``; :func:`~cvm.models.special.log_hyp2f1` evaluates the 2F1 in
    log space and ``F(t_x) - F(T)`` is formed as ``F(t_x) (1 - exp(log F(T) -
    log F(t_x)))``, so large ``x`` or ``T`` never overflow.

    Examples
    --------
    >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(m.probability_alive(26, 30.857, 31)[0]), 4)
    0.9979
    """

    parameter_names = ("r", "alpha", "s", "beta")
    data_columns = ("frequency", "recency", "T")

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
        return np.array([1.0, mean_T / mean_x, 1.0, mean_T])

    @staticmethod
    def _log_tail(y, r, alpha, s, beta, x) -> np.ndarray:
        """log F(y), F the tail integral of the class docstring."""
        k = r + s + x
        if alpha >= beta:
            return -k * np.log(alpha + y) - np.log(k) + log_hyp2f1(k, s + 1.0, k + 1.0, (alpha - beta) / (alpha + y))
        return -k * np.log(beta + y) - np.log(k) + log_hyp2f1(k, r + x, k + 1.0, (beta - alpha) / (beta + y))

    @staticmethod
    def _log_tail_grad(y, r, alpha, s, beta, x):
        """log F(y) and its derivatives with respect to (r, alpha, s, beta), shape (4, n)."""
        k = r + s + x
        if alpha >= beta:
            scale, z = alpha + y, (alpha - beta) / (alpha + y)
            g, (ga, gb, gc, gz) = log_hyp2f1_grad(k, s + 1.0, k + 1.0, z)
            dk = -np.log(scale) - 1.0 / k + ga + gc
            grad = [dk, -k / scale + gz * (beta + y) / scale**2, dk + gb, -gz / scale]
        else:
            scale, z = beta + y, (beta - alpha) / (beta + y)
            g, (ga, gb, gc, gz) = log_hyp2f1_grad(k, r + x, k + 1.0, z)
            dk = -np.log(scale) - 1.0 / k + ga + gc
            grad = [dk + gb, -gz / scale, dk, -k / scale + gz * (alpha + y) / scale**2]
        return -k * np.log(scale) - np.log(k) + g, np.stack(grad)

    def _gradient(self, theta, data) -> np.ndarray:
        """Exact per-row gradient: series derivatives of log 2F1 (NaN rows make the engine fall back on differences)."""
        r, alpha, s, beta = theta[:4]
        x, tx, T = data["frequency"], data["recency"], data["T"]
        f_tx, g_tx = self._log_tail_grad(tx, r, alpha, s, beta, x)
        f_T, g_T = self._log_tail_grad(T, r, alpha, s, beta, x)
        q = np.exp(np.minimum(f_T - f_tx, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            g_dead = np.where(q < 1, (g_tx - q * g_T) / (1.0 - q), 0.0)
        g_dead[2] += 1.0 / s
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) + f_tx + log1mexp(np.minimum(f_T - f_tx, 0.0))
        w_dead = np.exp(dead - np.logaddexp(alive, dead))
        g_alive = np.stack([-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)])
        g_const = np.stack([digamma(r + x) - digamma(r) + np.log(alpha), np.full_like(x, r / alpha),
                            np.full_like(x, np.log(beta)), np.full_like(x, s / beta)])
        return (g_const + (1.0 - w_dead) * g_alive + w_dead * g_dead).T

    def _terms(self, theta, data):
        r, alpha, s, beta = theta[:4]
        x, tx, T = data["frequency"], data["recency"], data["T"]
        const = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        f_tx = self._log_tail(tx, r, alpha, s, beta, x)
        f_T = self._log_tail(T, r, alpha, s, beta, x)
        dead = np.log(s) + f_tx + log1mexp(np.minimum(f_T - f_tx, 0.0))
        return const, alive, dead

    def _log_likelihood(self, theta, data) -> np.ndarray:
        const, alive, dead = self._terms(theta, data)
        return const + np.logaddexp(alive, dead)

    # ------------------------------------------------------------ predictions
    def _p(self):
        self._require_fit()
        return (float(v) for v in self.params_.to_numpy()[:4])

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        r"""P(alive | x, t_x, T) = :math:`\frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)(\alpha+T)^{r+x}(\beta+T)^s} / L` (FHL 2005 note, eq. 18)."""
        x, tx, T = history(frequency, recency, T)
        _, alive, dead = self._terms(self.params_.to_numpy(), {"frequency": x, "recency": tx, "T": T})
        return np.exp(alive - np.logaddexp(alive, dead))

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r"""E[Y(t) | x, t_x, T] (FHL 2005 note, eq. 22):
        :math:`\frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}\big[1-(\frac{\beta+T}{\beta+T+t})^{s-1}\big] P(\text{alive})`,
        computed as :math:`\frac{r+x}{\alpha+T}(\beta+T)\,L\,\mathrm{exprel}(-(s-1)L)` with
        :math:`L = \ln(1 + t/(\beta+T))`, so ``s = 1`` needs no special case."""
        r, alpha, s, beta = self._p()
        x, tx, T = history(frequency, recency, T)
        t = positive_times(t)
        L = np.log1p(t / (beta + T))
        return (r + x) / (alpha + T) * (beta + T) * L * exprel(-(s - 1.0) * L) * self.probability_alive(x, tx, T)

    def expected_purchases_new(self, t) -> np.ndarray:
        r"""E[X(t)] = :math:`\frac{r\beta}{\alpha(s-1)}[1-(\frac{\beta}{\beta+t})^{s-1}]` (FHL 2005 note, eq. 17), via ``exprel``."""
        r, alpha, s, beta = self._p()
        t = positive_times(t)
        L = np.log1p(t / beta)
        return r / alpha * beta * L * exprel(-(s - 1.0) * L)

    def purchase_probability(self, n, t) -> np.ndarray:
        r"""P(X(t) = n) for a new customer.

        Alive at ``t`` with ``n`` purchases, or died at ``tau < t`` after ``n``:

        .. math::
            NB(n; r, \tfrac{\alpha}{\alpha+t})\Big(\frac{\beta}{\beta+t}\Big)^s
            + \int_0^t \frac{s\beta^s}{(\beta+\tau)^{s+1}}\,NB(n; r, \tfrac{\alpha}{\alpha+\tau})\,d\tau

        (the mixture behind FHL 2005 note, eq. 20); the integral is evaluated
        by 128-node Gauss-Legendre quadrature in ``w = tau / (alpha + tau)``,
        where the integrand ``w^n (1-w)^(r-2) (beta+tau)^-(s+1)`` is smooth.
        """
        r, alpha, s, beta = self._p()
        n = as_float_array(n, "n")
        t = positive_times(t)
        n, t = np.broadcast_arrays(n, t)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise SchemaError("n must be a whole number >= 0")
        alive = stats.nbinom.pmf(n, r, alpha / (alpha + t)) * np.exp(s * (np.log(beta) - np.log(beta + t)))
        # in w = tau / (alpha + tau): NB(n) = C (1-w)^r w^n and dtau = alpha dw / (1-w)^2,
        # a smooth integrand on [0, t / (alpha + t)] (Gauss-Legendre, 128 nodes)
        w_t = (t / (alpha + t))[:, None]
        w = 0.5 * w_t * (_U_NODES + 1.0)[None, :]
        tau = alpha * w / (1.0 - w)
        log_c = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + np.log(alpha) + np.log(s) + s * np.log(beta)
        with np.errstate(divide="ignore"):
            log_inner = log_c[:, None] + n[:, None] * np.log(w) + (r - 2.0) * np.log1p(-w) - (s + 1.0) * np.log(beta + tau)
        dead = 0.5 * w_t[:, 0] * np.sum(_U_WEIGHTS[None, :] * np.exp(log_inner), axis=1)
        return alive + np.where(t > 0, dead, 0.0)

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None) -> np.ndarray:
        r"""DERT, discounted expected residual transactions, with ``delta = ln(1 + d)``.

        Infinite horizon, closed form (FHL 2005 "RFM and CLV", eq. 2), with
        :math:`\Psi` Tricomi's confluent hypergeometric function of the second kind:

        .. math::
            \mathrm{DERT} = \frac{\alpha^r\beta^s\delta^{s-1}\Gamma(r+x+1)\,
            \Psi(s, s; \delta(\beta+T))}{\Gamma(r)(\alpha+T)^{r+x+1}\,L(r,\alpha,s,\beta\mid x,t_x,T)}

        Finite horizon ``H``: Gauss-Legendre quadrature of
        :math:`\int_0^H e^{-\delta t} P(\text{alive})\frac{r+x}{\alpha+T}(\frac{\beta+T}{\beta+T+t})^s dt`.
        """
        r, alpha, s, beta = self._p()
        x, tx, T = history(frequency, recency, T)
        delta, H = discount_rate_delta(discount_rate, horizon)
        p_alive = self.probability_alive(x, tx, T)
        if np.isfinite(H):
            def rate(t):
                return ((r + x) / (alpha + T))[:, None] * np.exp(-s * np.log1p(t / (beta + T)[:, None]))

            return p_alive * discounted_integral(rate, beta + T, delta, H)
        # P(alive) / L-part: DERT = P(alive) (r+x)/(alpha+T) * (beta+T)^s delta^(s-1) Psi(s, s; delta(beta+T))
        log_u = np.log(hyperu(s, s, delta * (beta + T)))
        return p_alive * (r + x) / (alpha + T) * np.exp(s * np.log(beta + T) + (s - 1.0) * np.log(delta) + log_u)

    # ------------------------------------------------------------- simulation
    def _simulated(self, n_customers, T, seed):
        r, alpha, s, beta = self._p()
        n = int(n_customers)
        if n <= 0:
            raise SchemaError("n_customers must be positive")
        T = np.broadcast_to(positive_times(T, "T"), (n,)).astype(float)
        rng = np.random.default_rng(seed)
        lam = rng.gamma(r, 1.0 / alpha, n)
        mu = rng.gamma(s, 1.0 / beta, n)
        window = np.minimum(rng.exponential(1.0, n) / np.maximum(mu, 1e-300), T)
        return rng, T, window, rng.poisson(lam * window)

    def simulate(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)`` summaries from the generative process."""
        rng, T, window, x = self._simulated(n_customers, T, seed)
        rec = np.where(x > 0, window * rng.beta(np.maximum(x, 1), 1.0), 0.0)
        return pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})

    def simulate_events(self, n_customers: int, T, seed=None) -> pd.DataFrame:
        """Draw repeat-purchase times in (0, T_i] per customer: DataFrame[customer, t]."""
        rng, T, window, x = self._simulated(n_customers, T, seed)
        owner, times = order_statistic_times(rng, x, x, window)
        return frame_of_events(owner, times)
