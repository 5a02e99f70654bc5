"""The BG/NBD model: Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive a customer buys as a Poisson process with rate ``lambda ~
Gamma(r, alpha)``; after every repeat purchase she drops out with probability
``p ~ Beta(a, b)``. Data per customer: ``x`` repeat purchases (``frequency``),
the time of the last one ``t_x`` (``recency``) and the time since the first
purchase ``T``, all in one time unit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, roots_jacobi, roots_legendre

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array, columns_from, compress
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



def horizon_weights(weights, n_horizons: int) -> np.ndarray:
    """One finite weight per horizon, as floats (for the weighted sums over horizons)."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n_horizons or not np.all(np.isfinite(w)):
        raise SchemaError(f"weights must be {n_horizons} finite numbers, one per horizon (got {w.size})")
    return w

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
# time-invariant covariates, shared by the BG/NBD family and the Pareto/NBD
# ----------------------------------------------------------------------------


def _covariate_list(names, what) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    out = tuple(str(n) for n in names)
    if len(set(out)) != len(out):
        raise SchemaError(f"{what} lists a covariate twice: {', '.join(out)}")
    return out


class CovariateSupport:
    r"""Time-invariant customer covariates that scale a model's heterogeneity parameters.

    A covariate vector :math:`z_i` (age, channel dummy, ...) moves customer
    ``i``'s scale parameters, e.g. :math:`\alpha_i = \alpha\,e^{-\gamma_1^\top z_i}`
    (Fader & Hardie 2007, "Incorporating time-invariant covariates into the
    Pareto/NBD and BG/NBD models"; CLVTools' Pareto/NBD parameterisation, and its BG/NBD with
    ``shared_dropout_coefficients``, see :class:`BGNBD`). The
    coefficients are free real parameters named ``purchase[age]`` etc.; all
    zeros give the model without covariates. Subclasses set ``_effects``: for
    each coefficient group its name prefix and whether it reads the purchase or
    the dropout covariates.
    """

    def _calibration_totals(self, data, weights):
        """``sum_i E[X(T_i)]`` (a new customer's expectation over her own period) and ``sum_i x_i``:
        the engine's calibration check for the purchase models without covariates."""
        if self.purchase_covariates or self.dropout_covariates:
            return None
        ages, inverse = np.unique(data["T"], return_inverse=True)
        expected = np.asarray(self.expected_purchases_new(ages), dtype=float)[inverse.ravel()]
        return float(weights @ expected), float(weights @ data["frequency"])

    #: (prefix, 'purchase' | 'dropout') for each coefficient group, in parameter order
    _effects: tuple[tuple[str, str], ...] = ()

    def _init_covariates(self, purchase_covariates, dropout_covariates) -> None:
        self.purchase_covariates = _covariate_list(purchase_covariates, "purchase_covariates")
        self.dropout_covariates = _covariate_list(dropout_covariates, "dropout_covariates")

    def _covariate_names(self) -> list[str]:
        """Every covariate the model reads, each once, in order."""
        return list(dict.fromkeys(self.purchase_covariates + self.dropout_covariates))

    def _groups(self):
        """(prefix, covariate names, first index in theta) for each coefficient group."""
        start = len(self.parameter_names)
        out = []
        for prefix, kind in self._effects:
            names = self.purchase_covariates if kind == "purchase" else self.dropout_covariates
            out.append((prefix, names, start))
            start += len(names)
        return out

    def _all_parameter_names(self) -> list[str]:
        return list(self.parameter_names) + [f"{prefix}[{c}]" for prefix, names, _ in self._groups() for c in names]

    def _settings(self):
        return {**super()._settings(), "purchase_covariates": list(self.purchase_covariates),
                "dropout_covariates": list(self.dropout_covariates)}

    def _covariate_columns(self, covariates, n_rows=None, frame=None) -> dict[str, np.ndarray]:
        """The model's covariates as data columns ``z:name`` (from ``covariates`` or, failing that, ``frame``)."""
        names = self._covariate_names()
        if not names:
            return {}
        source = covariates if covariates is not None else frame
        if source is None:
            raise SchemaError(
                f"this {type(self).__name__} uses covariates {', '.join(names)}; pass covariates=...",
                hint="a frame or a dict holding one value per customer for each covariate, in the customers' order",
            )
        if isinstance(source, Mapping):
            available = list(source)
        elif hasattr(source, "columns"):
            available = list(source.column_names) if hasattr(source, "column_names") else list(source.columns)
        else:
            raise SchemaError("covariates must be a data frame or a dict of columns", hint=f"columns needed: {', '.join(names)}")
        missing = [c for c in names if c not in available]
        if missing:
            raise SchemaError(
                f"covariates lack column(s) {', '.join(missing)}",
                hint=f"this model was set up with covariates {', '.join(names)}",
            )
        out = {f"z:{c}": as_float_array(source[c], f"covariate '{c}'") for c in names}
        if n_rows is not None:
            for c, v in out.items():
                if v.size not in (1, n_rows):
                    raise SchemaError(f"covariate '{c[2:]}' has {v.size} values for {n_rows} customers")
        return out

    def _scales(self, theta, data) -> list[np.ndarray | float]:
        """Per coefficient group: ``exp(gamma^T z_i)`` (an array), or 1.0 without covariates."""
        out = []
        for _, names, start in self._groups():
            if not names:
                out.append(1.0)
                continue
            lin = sum(theta[start + j] * data[f"z:{c}"] for j, c in enumerate(names))
            out.append(np.exp(lin))
        return out

    def _chain_covariates(self, g_base, theta, data, scaled) -> np.ndarray:
        """Full per-row gradient from the gradient in the per-customer parameters.

        ``g_base`` is ``(n, k)`` with respect to the per-customer values of the
        base parameters; ``scaled`` maps each coefficient group to
        ``(base column, sign)`` where the customer's value is
        ``theta_base * exp(sign * gamma^T z)``.
        """
        names = self._all_parameter_names()
        n = g_base.shape[0]
        g = np.zeros((n, len(names)))
        g[:, : g_base.shape[1]] = g_base
        for (prefix, cov, start), (col, sign), scale in zip(self._groups(), scaled, self._scales(theta, data)):
            if not cov:
                continue
            factor = scale if sign > 0 else 1.0 / scale
            value = theta[col] * factor  # the customer's parameter
            # d value / d base = factor; d value / d gamma_j = sign * value * z_j
            g[:, col] = g_base[:, col] * factor
            for j, c in enumerate(cov):
                g[:, start + j] = g_base[:, col] * sign * value * data[f"z:{c}"]
        return g

    def _fit_with_covariates(self, frequency, recency, T, weights, initial, covariates):
        cols = columns_from(frequency, [recency, T], self.data_columns, optional=("weights",))
        if weights is None and "weights" in cols:
            weights = cols.pop("weights")
        cols.pop("weights", None)
        frame = frequency if recency is None and T is None and hasattr(frequency, "columns") else None
        n = len(np.atleast_1d(as_float_array(cols["frequency"], "frequency")))
        cols.update(self._covariate_columns(covariates, n, frame))
        return self._fit(cols, weights, initial)

    def _initial_coefficients(self) -> np.ndarray:
        return np.zeros(len(self._all_parameter_names()) - len(self.parameter_names))


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
        try:
            return self._fit_with_covariates(frequency, recency, T, weights, initial, covariates)
        finally:
            self._last_eval = self._tables = None

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

    def _parts(self, theta, data):
        """The two log terms of the likelihood bracket and the constant part."""
        r, alpha, a, b = self._row_params(theta, data)
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
        if len(theta) == len(self.parameter_names):
            return self._evaluate(theta, data)[0]
        const, stay, gone = self._parts(theta, data)
        return const + np.logaddexp(stay, gone)

    def _gradient(self, theta, data) -> np.ndarray:
        if len(theta) == len(self.parameter_names):
            return self._evaluate(theta, data)[1]
        r, alpha, a, b = self._row_params(theta, data)
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
        g = np.column_stack(np.broadcast_arrays(d_r, d_alpha, d_a, d_b))
        if len(theta) > 4 and self.shared_dropout_coefficients:
            full = self._chain_covariates(g, theta, data, scaled=((1, -1), (2, 1)))
            _, names, start = self._groups()[1]
            if names:  # b_i = b exp(gamma^T z) too: its share of d/d gamma_j and d/d b
                k = self._scales(theta, data)[1]
                full[:, 3] = g[:, 3] * k
                for j, c in enumerate(names):
                    full[:, start + j] += g[:, 3] * theta[3] * k * data[f"z:{c}"]
            return full
        if len(theta) > 4:
            g = self._chain_covariates(g, theta, data, scaled=((1, -1), (2, 1), (3, 1)))
        return g

    def _distinct_tables(self, data):
        """Distinct values of x, t_x and T with the index of every row, kept for the data being fitted.

        A column is tabulated only when it repeats a lot (day-unit summaries have a few
        hundred distinct recencies among a million customers); otherwise it is None.
        """
        cached = getattr(self, "_tables", None)
        if cached is not None and cached[0] is data["frequency"]:
            return cached[1]
        tables = []
        for name in ("frequency", "recency", "T"):
            codes, levels = pd.factorize(data[name], sort=True)
            tables.append((levels, codes) if name == "frequency" or 8 * len(levels) <= codes.size else None)
        self._tables = (data["frequency"], tables)
        return tables

    def _evaluate(self, theta, data):
        """Per-row log-likelihood and gradient (n, 4) in one pass, without covariates.

        Everything that depends on ``x`` alone (the gamma and beta function ratios,
        their digammas, ``log(b + x - 1)``) is computed on the distinct purchase
        counts and gathered; ``log(alpha + T)`` and ``log(alpha + t_x)`` likewise when
        those columns repeat. The bracket of FHL 2005 eq. 6 is written as
        ``stay + log(1 + e^d)`` with ``d = gone - stay``, whose logistic ``1 / (1 + e^-d)``
        is the weight ``1 - P(alive)`` in the gradient. The last result is kept for the
        engine's value-then-gradient calls at the same parameters.
        """
        cached = getattr(self, "_last_eval", None)
        if (cached is not None and cached[0] is data["frequency"]
                and np.all(np.abs(cached[1] - theta) <= 4e-16 * np.abs(theta))):
            return cached[2], cached[3]
        r, alpha, a, b = (float(v) for v in theta)
        e = self._extra_drop
        x = data["frequency"]
        (ux, ix), tab_tx, tab_T = self._distinct_tables(data)

        def log_shift(column, table):
            """log(alpha + column) and 1 / (alpha + column), through the table of distinct values if any."""
            if table is None:
                values = np.log(alpha + data[column])
                return values, np.exp(-values)
            values = np.log(alpha + table[0])
            return values[table[1]], np.exp(-values)[table[1]]

        log_T, inv_T = log_shift("T", tab_T)
        log_tx, inv_tx = log_shift("recency", tab_tx)
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
        w_gone = np.where(d > 0, 1.0, tail) / (1.0 + tail)
        common_x = digamma(a + b) - digamma(a + b + uxe)
        g = np.empty((4, x.size))
        g[0] = (digamma(r + ux) - digamma(r) + np.log(alpha))[ix] - log_T + w_gone * spread
        g[1] = r / alpha - m * (inv_T + w_gone * (inv_tx - inv_T))
        g[2] = common_x[ix] + w_gone / a
        g[3] = (common_x + digamma(b + uxe) - digamma(b))[ix] - w_gone * inv_b[ix]
        self._last_eval = (data["frequency"], np.array(theta, dtype=float), ll, g.T)
        return ll, g.T

    # ------------------------------------------------------------ predictions
    def _p(self, covariates=None, n_rows=None):
        """``(r, alpha_i, a_i, b_i)`` for prediction: scalars, or per-customer arrays with covariates."""
        theta = self._theta_fitted()
        data = self._covariate_columns(covariates, n_rows)
        return tuple(v if np.ndim(v) else float(v) for v in self._row_params(theta, data))

    def _history_data(self, x, tx, T, covariates):
        return {"frequency": x, "recency": tx, "T": T, **self._covariate_columns(covariates, x.size)}

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
        from scipy import stats  # here, not at the top: scipy.stats takes a second to import

        q = alpha / (alpha + t)
        lbeta = gammaln(a + b) - gammaln(a) - gammaln(b)
        e = self._extra_drop
        alive = np.exp(lbeta + gammaln(a) + gammaln(b + n + e) - gammaln(a + b + n + e)) * stats.nbinom.pmf(n, r, q)
        dead_logw = lbeta + gammaln(a + 1) + gammaln(b + n - 1 + e) - gammaln(a + b + n + e)
        dead = np.exp(np.where(n + e > 0, dead_logw, -np.inf)) * np.where(n > 0, stats.nbinom.sf(n - 1, r, q), 1.0)
        return alive + dead

    def _alive_rate(self, t, x, T, r, alpha, a, b):
        """dE[Y(t)]/dt for an alive customer: (m/A) E_p[(1 + p t/A)^-(m+1)], p ~ Beta(a, b + x)."""
        A = (alpha + T)[:, None]
        m = (r + x)[:, None]
        bb = (b + x + self._extra_drop)[:, None]
        a = np.asarray(a)[:, None] if np.ndim(a) else a
        tau = t / A
        m_, bb_ = np.broadcast_arrays(m + 1.0, bb)
        log_f = -(m + 1.0) * np.log1p(tau) + log_hyp2f1(m_, bb_, a + bb_, tau / (1.0 + tau))
        return m / A * np.exp(log_f)

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None, covariates=None) -> np.ndarray:
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
        x, tx, T = history(frequency, recency, T)
        r, alpha, a, b = (np.broadcast_to(v, x.shape) for v in self._p(covariates, x.size))
        delta, H = discount_rate_delta(discount_rate, horizon)
        keys, _, inverse = compress({"x": x, "T": T, "alpha": alpha, "a": a, "b": b})
        ux, uT, u_alpha, u_a, u_b = (keys[k] for k in ("x", "T", "alpha", "a", "b"))
        rate = discounted_integral(lambda t: self._alive_rate(t, ux, uT, r[0], u_alpha, u_a, u_b), u_alpha + uT, delta, H)
        return self._probability_alive(x, tx, T, covariates) * rate[inverse]

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

