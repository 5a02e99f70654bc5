"""The beta-geometric/beta-binomial (BG/BB) model for discrete transaction opportunities.

Reference: Fader, P. S., Hardie, B. G. S. & Shang, J. (2010), "Customer-base
analysis in a discrete-time noncontractual setting", *Marketing Science* 29(6),
1086-1108. Equation numbers below refer to that paper.

At each transaction opportunity a living customer buys with probability ``p``
and, at the start of each opportunity, dies with probability ``theta``;
``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)`` across customers.
A history is ``(x, t_x, n)``: ``x`` purchases in ``n`` opportunities after the
first, the last one at opportunity ``t_x`` (``t_x = 0`` when ``x = 0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, comb, digamma, gammaln, hyp2f1, logsumexp

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array


def _integers(values: np.ndarray, name: str) -> None:
    if np.any(values != np.round(values)):
        raise SchemaError(
            f"'{name}' must hold whole numbers of transaction opportunities",
            hint="BG/BB counts discrete opportunities (e.g. years); summarise the data per period first",
        )


def check_discrete_history(frequency: np.ndarray, recency: np.ndarray, n_periods: np.ndarray) -> None:
    """Raise :class:`SchemaError` unless every ``(x, t_x, n)`` is a possible BG/BB history."""
    for name, col in (("frequency", frequency), ("recency", recency), ("n_periods", n_periods)):
        if np.any(col < 0):
            raise SchemaError(f"'{name}' must not be negative ({int(np.sum(col < 0))} row(s) are)")
        _integers(col, name)
    if np.any(n_periods < 1):
        raise SchemaError("'n_periods' must be at least 1 (the number of opportunities after the first purchase)")
    if np.any(recency > n_periods):
        raise SchemaError(
            f"recency exceeds n_periods in {int(np.sum(recency > n_periods))} row(s)",
            hint="recency is the opportunity of the last purchase, at most the number of opportunities n_periods",
        )
    if np.any(frequency > recency):
        raise SchemaError(
            f"frequency exceeds recency in {int(np.sum(frequency > recency))} row(s)",
            hint="x purchases need at least x opportunities up to the last one (x <= t_x)",
        )
    if np.any((frequency == 0) & (recency != 0)):
        raise SchemaError("customers without repeat purchases (frequency 0) must have recency 0")


def _log_terms(theta: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray):
    """The log of each term of the likelihood (eq. 5), one row per customer.

    Column 0 is the "alive through n" term; column ``1 + i`` is the term of
    dying right after opportunity ``t_x + i`` (``i < n - t_x``); unused cells are
    ``-inf``. Returns ``(terms, i, x, tx, n)`` with the 2-d broadcast shapes.
    """
    a, b, g, d = theta
    base = betaln(a, b) + betaln(g, d)
    width = int(np.max(n - tx)) if len(n) else 0
    i = np.arange(width, dtype=float)[None, :]
    xc, txc, nc = x[:, None], tx[:, None], n[:, None]
    alive = betaln(a + x, b + n - x) + betaln(g, d + n) - base
    with np.errstate(invalid="ignore"):
        dead = betaln(a + xc, b + txc - xc + i) + betaln(g + 1, d + txc + i) - base
    dead = np.where(i < (nc - txc), dead, -np.inf)
    return np.column_stack([alive, dead]), i, xc, txc, nc


class BGBB(LikelihoodModel):
    """BG/BB model of repeat purchasing over discrete transaction opportunities.

    Parameters ``alpha, beta`` (purchase probability) and ``gamma, delta``
    (dropout probability) as in Fader, Hardie & Shang (2010).

    Examples
    --------
    >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> round(float(m.probability_alive(6, 6, 6)[0]), 2)
    0.93
    """

    parameter_names = ("alpha", "beta", "gamma", "delta")
    data_columns = ("frequency", "recency", "n_periods")

    # ------------------------------------------------------------------ fit
    def fit(self, frequency: Any, recency: Any = None, n_periods: Any = None, weights: Any = None, initial=None) -> "BGBB":
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency
            Repeat purchases ``x`` per customer, or a frame with columns
            ``frequency, recency, n_periods`` (``periods`` is accepted for
            ``n_periods``) and optionally ``weights``.
        recency
            Opportunity ``t_x`` of the last purchase (0 when ``x = 0``).
        n_periods
            Number of opportunities ``n`` observed after the first purchase.
        weights
            Number of customers sharing each history (e.g. the donations file).
        """
        if hasattr(frequency, "columns") and recency is None and n_periods is None:
            frame = frequency
            cols = [str(c) for c in frame.columns]
            periods_col = "n_periods" if "n_periods" in cols else "periods" if "periods" in cols else None
            missing = [c for c in ("frequency", "recency") if c not in cols] + ([] if periods_col else ["n_periods"])
            if missing:
                raise SchemaError(
                    f"the frame lacks column(s) {', '.join(missing)}; it has {', '.join(cols)}",
                    hint="BG/BB needs frequency, recency and n_periods (or periods) per customer",
                )
            frequency, recency, n_periods = frame["frequency"], frame["recency"], frame[periods_col]
            if weights is None and "weights" in cols:
                weights = frame["weights"]
        return self._fit({"frequency": frequency, "recency": recency, "n_periods": n_periods}, weights, initial)

    def _validate(self, data: dict[str, np.ndarray]) -> None:
        x, n = data["frequency"], data["n_periods"]
        check_discrete_history(x, data["recency"], n)
        if np.all(x == 0):
            raise SchemaError(
                "nobody made a repeat purchase, so the BG/BB cannot tell dropping out from not buying",
                hint="fit on a period in which some customers came back, or use a longer history",
            )
        if np.all(x == n):
            raise SchemaError(
                "every customer bought at every opportunity, so the BG/BB cannot estimate dropout",
                hint="the data show no churn at all; check the period definition or fit on more customers",
            )

    def _initial_values(self, data, weights) -> np.ndarray:
        x, n = data["frequency"], data["n_periods"]
        share = float(np.clip(np.dot(weights, x / n) / weights.sum(), 0.05, 0.95))
        return np.array([share * 2, (1 - share) * 2, 1.0, 2.0])

    def _log_likelihood(self, theta, data) -> np.ndarray:
        """Eq. (5), summed in log space with logsumexp."""
        terms, *_ = _log_terms(theta, data["frequency"], data["recency"], data["n_periods"])
        return logsumexp(terms, axis=1)

    def _gradient(self, theta, data) -> np.ndarray:
        """Exact gradient: softmax-weighted digamma derivatives of every log term."""
        a, b, g, d = theta
        x, tx, n = data["frequency"], data["recency"], data["n_periods"]
        terms, i, xc, txc, nc = _log_terms(theta, x, tx, n)
        w = np.exp(terms - logsumexp(terms, axis=1)[:, None])
        w_alive, w_dead = w[:, 0], w[:, 1:]
        da0, db0, dg0, dd0 = digamma(a), digamma(b), digamma(g), digamma(d)
        dab, dgd = digamma(a + b), digamma(g + d)
        with np.errstate(invalid="ignore"):
            # alive term: B(a+x, b+n-x) B(g, d+n) / (B(a,b) B(g,d))
            ga = digamma(a + x) - digamma(a + b + n) - da0 + dab
            gb = digamma(b + n - x) - digamma(a + b + n) - db0 + dab
            gg = dgd - digamma(g + d + n)
            gd = digamma(d + n) - digamma(g + d + n) - dd0 + dgd
            # dying terms: B(a+x, b+tx-x+i) B(g+1, d+tx+i) / (B(a,b) B(g,d))
            s = a + b + txc + i
            ha = digamma(a + xc) - digamma(s) - da0 + dab
            hb = digamma(b + txc - xc + i) - digamma(s) - db0 + dab
            u = g + d + txc + i + 1
            hg = digamma(g + 1) - digamma(u) - dg0 + dgd
            hd = digamma(d + txc + i) - digamma(u) - dd0 + dgd

        def combine(alive_part, dead_part):
            return w_alive * alive_part + np.sum(np.where(w_dead > 0, w_dead * dead_part, 0.0), axis=1)

        return np.column_stack([combine(ga, ha), combine(gb, hb), combine(gg, hg), combine(gd, hd)])

    # ---------------------------------------------------------- predictions
    def _histories(self, frequency, recency, n_periods):
        self._require_fit()
        x = as_float_array(frequency, "frequency")
        tx = as_float_array(recency, "recency")
        n = as_float_array(n_periods, "n_periods")
        try:
            x, tx, n = np.broadcast_arrays(x, tx, n)
        except ValueError:
            raise SchemaError(f"frequency, recency and n_periods differ in length ({len(x)}, {len(tx)}, {len(n)})") from None
        check_discrete_history(x, tx, n)
        return x.astype(float), tx.astype(float), n.astype(float)

    def _log_likelihood_of(self, x, tx, n) -> np.ndarray:
        terms, *_ = _log_terms(self._theta, x, tx, n)
        return logsumexp(terms, axis=1)

    def probability_alive(self, frequency: Any, recency: Any, n_periods: Any, *, future: int = 1) -> np.ndarray:
        """P(alive at opportunity ``n + future`` | x, t_x, n), eq. (11) (``future=1``).

        ``future`` is keyword-only: lifetimes' ``conditional_probability_alive(m_periods_in_future,
        frequency, recency, n_periods)`` puts it first.

        .. math:: \\frac{B(\\alpha+x, \\beta+n-x)}{B(\\alpha,\\beta)}
                  \\frac{B(\\gamma, \\delta+n+m)}{B(\\gamma,\\delta)} \\big/ L(\\alpha,\\beta,\\gamma,\\delta \\mid x, t_x, n)
        """
        x, tx, n = self._histories(frequency, recency, n_periods)
        a, b, g, d = self._theta
        log_num = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + future) - betaln(g, d)
        return np.exp(log_num - self._log_likelihood_of(x, tx, n))

    def _survival_ratio(self, n: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``delta/(gamma-1) * Gamma(g+d)/Gamma(1+d) * [Gamma(1+d+n)/Gamma(g+d+n) - Gamma(1+d+n+t)/Gamma(g+d+n+t)]``.

        Equals ``sum_{k=n+1}^{n+t} B(gamma, delta+k)/B(gamma, delta)``, the expected
        number of the opportunities ``n+1..n+t`` at which a new customer is alive.
        At ``gamma = 1`` the limit ``delta * [psi(1+d+n+t) - psi(1+d+n)]`` is used.
        """
        _, _, g, d = self._theta
        lead = np.log(d) + gammaln(g + d) - gammaln(1 + d)
        first = gammaln(1 + d + n) - gammaln(g + d + n)
        second = gammaln(1 + d + n + t) - gammaln(g + d + n + t)
        if abs(g - 1.0) < 1e-8:
            return d * (digamma(1 + d + n + t) - digamma(1 + d + n))
        # (e^first - e^second)/(g-1), computed with expm1 to keep precision near g = 1
        return np.exp(lead + first) * -np.expm1(second - first) / (g - 1)

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, n_periods: Any) -> np.ndarray:
        """Expected purchases in the next ``t`` opportunities, eq. (13).

        .. math:: E[X(n, n+t) \\mid x, t_x, n] = \\frac{1}{L}\\frac{B(\\alpha+x+1, \\beta+n-x)}{B(\\alpha,\\beta)}
                  \\frac{\\delta}{\\gamma-1}\\frac{\\Gamma(\\gamma+\\delta)}{\\Gamma(1+\\delta)}
                  \\Big[\\frac{\\Gamma(1+\\delta+n)}{\\Gamma(\\gamma+\\delta+n)} -
                  \\frac{\\Gamma(1+\\delta+n+t)}{\\Gamma(\\gamma+\\delta+n+t)}\\Big]
        """
        x, tx, n = self._histories(frequency, recency, n_periods)
        t = self._horizon(t)
        a, b, _, _ = self._theta
        log_p = betaln(a + x + 1, b + n - x) - betaln(a, b) - self._log_likelihood_of(x, tx, n)
        return np.exp(log_p) * self._survival_ratio(n, t)

    @staticmethod
    def _horizon(t: Any) -> np.ndarray:
        t = as_float_array(t, "t")
        if np.any(t < 0):
            raise SchemaError("the number of future opportunities t must not be negative")
        return t

    def expected_purchases_new(self, t: Any) -> np.ndarray:
        """E[X(n)] for a new customer over ``n = t`` opportunities, eq. (7).

        .. math:: \\frac{\\alpha}{\\alpha+\\beta}\\frac{\\delta}{\\gamma-1}
                  \\Big[1 - \\frac{\\Gamma(\\gamma+\\delta)\\Gamma(1+\\delta+n)}{\\Gamma(\\gamma+\\delta+n)\\Gamma(1+\\delta)}\\Big]
        """
        self._require_fit()
        t = self._horizon(t)
        a, b, _, _ = self._theta
        return a / (a + b) * self._survival_ratio(np.zeros_like(t), t)

    def purchase_probability(self, n: Any, t: Any) -> np.ndarray:
        """P(X(t) = n) for a new customer over ``t`` opportunities, eq. (8).

        .. math:: \\binom{t}{n}\\frac{B(\\alpha+n,\\beta+t-n)}{B(\\alpha,\\beta)}\\frac{B(\\gamma,\\delta+t)}{B(\\gamma,\\delta)}
                  + \\sum_{i=n}^{t-1}\\binom{i}{n}\\frac{B(\\alpha+n,\\beta+i-n)}{B(\\alpha,\\beta)}
                  \\frac{B(\\gamma+1,\\delta+i)}{B(\\gamma,\\delta)}
        """
        self._require_fit()
        k = as_float_array(n, "n")
        t = as_float_array(t, "t")
        try:
            k, t = np.broadcast_arrays(k, t)
        except ValueError:
            raise SchemaError(f"n and t differ in length ({len(k)}, {len(t)})") from None
        _integers(k, "n")
        _integers(t, "t")
        if np.any(k < 0) or np.any(t < 0):
            raise SchemaError("n and t must not be negative")
        a, b, g, d = self._theta
        base = betaln(a, b) + betaln(g, d)
        out = np.zeros(len(k))
        ok = k <= t
        kk, tt = k[ok], t[ok]
        log_alive = np.log(comb(tt, kk)) + betaln(a + kk, b + tt - kk) + betaln(g, d + tt) - base
        width = int(np.max(tt)) if len(tt) else 0
        i = np.arange(width, dtype=float)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_dead = (
                np.log(comb(i, kk[:, None])) + betaln(a + kk[:, None], b + i - kk[:, None])
                + betaln(g + 1, d + i) - base
            )
        log_dead = np.where((i >= kk[:, None]) & (i < tt[:, None]), log_dead, -np.inf)
        out[ok] = np.exp(logsumexp(np.column_stack([log_alive, log_dead]), axis=1))
        return out

    def discounted_expected_purchases(
        self, frequency: Any, recency: Any, n_periods: Any, discount_rate: float, horizon: int | None = None
    ) -> np.ndarray:
        """Discounted expected residual transactions (DERT), the closed form of Fader, Hardie & Shang (2010).

        A purchase at opportunity ``n + k`` is discounted by ``(1 + d)**-k``:

        .. math:: \\mathrm{DERT}(d \\mid x, t_x, n) = \\frac{B(\\alpha+x+1, \\beta+n-x)}{B(\\alpha,\\beta)}
                  \\frac{B(\\gamma, \\delta+n+1)}{B(\\gamma,\\delta)(1+d)}
                  \\frac{{}_2F_1(1, \\delta+n+1; \\gamma+\\delta+n+1; \\tfrac{1}{1+d})}{L(\\alpha,\\beta,\\gamma,\\delta \\mid x,t_x,n)}

        Parameters
        ----------
        discount_rate
            Discount rate ``d`` per transaction opportunity (positive when ``horizon`` is None).
        horizon
            None for the infinite horizon (the closed form); otherwise the number
            of future opportunities ``H``, summed exactly:
            ``sum_{k=1..H} P(purchase at n+k | x, t_x, n) / (1+d)**k`` with
            ``P(purchase at n+k | .) = B(a+x+1, b+n-x)/B(a,b) * B(g, d+n+k)/B(g,d) / L``.
        """
        x, tx, n = self._histories(frequency, recency, n_periods)
        d_rate = float(discount_rate)
        a, b, g, d = self._theta
        if horizon is not None:
            if int(horizon) != horizon or horizon < 1:
                raise SchemaError(f"horizon must be a whole number of opportunities, at least 1; got {horizon}")
            if not np.isfinite(d_rate) or d_rate <= -1:
                raise SchemaError(f"discount_rate must exceed -1, got {discount_rate}")
            k = np.arange(1, int(horizon) + 1, dtype=float)[None, :]
            log_buy = (
                betaln(a + x + 1, b + n - x) - betaln(a, b) - betaln(g, d) - self._log_likelihood_of(x, tx, n)
            )[:, None] + betaln(g, d + n[:, None] + k)
            return np.sum(np.exp(log_buy - k * np.log1p(d_rate)), axis=1)
        if not np.isfinite(d_rate) or d_rate <= 0:
            raise SchemaError(f"discount_rate must be positive for the infinite-horizon DERT, got {discount_rate}")
        log_lead = (
            betaln(a + x + 1, b + n - x) - betaln(a, b) + betaln(g, d + n + 1) - betaln(g, d)
            - np.log1p(d_rate) - self._log_likelihood_of(x, tx, n)
        )
        return np.exp(log_lead) * hyp2f1(1.0, d + n + 1, g + d + n + 1, 1.0 / (1.0 + d_rate))

    # ------------------------------------------------------------ simulation
    def simulate(self, n_customers: int, n_periods: Any, seed: int | None = None) -> pd.DataFrame:
        """Draw histories ``(frequency, recency, n_periods)`` from the model.

        Each customer draws ``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)``,
        stays alive through opportunity ``t`` with probability ``(1 - theta)**t`` and,
        while alive, buys at each opportunity with probability ``p``.
        ``n_periods`` is one number or one per customer.
        """
        self._require_fit()
        if int(n_customers) < 1:
            raise SchemaError("n_customers must be at least 1")
        n_customers = int(n_customers)
        n_float = as_float_array(n_periods, "n_periods")
        if len(n_float) not in (1, n_customers):
            raise SchemaError(f"n_periods needs one value or one per customer ({n_customers}), got {len(n_float)}")
        _integers(n_float, "n_periods")
        n = np.broadcast_to(n_float, (n_customers,)).astype(int)
        if np.any(n < 1):
            raise SchemaError("n_periods must be at least 1")
        rng = np.random.default_rng(seed)
        a, b, g, d = self._theta
        p = rng.beta(a, b, n_customers)
        theta = rng.beta(g, d, n_customers)
        alive_through = rng.geometric(np.clip(theta, 1e-12, 1.0)) - 1  # P(alive_through >= t) = (1-theta)^t
        opportunity = np.arange(1, int(n.max()) + 1)[None, :]
        bought = (
            (rng.random((n_customers, opportunity.shape[1])) < p[:, None])
            & (opportunity <= alive_through[:, None])
            & (opportunity <= n[:, None])
        )
        frequency = bought.sum(axis=1)
        recency = np.where(frequency > 0, np.max(np.where(bought, opportunity, 0), axis=1), 0)
        return pd.DataFrame({"frequency": frequency, "recency": recency, "n_periods": n})
