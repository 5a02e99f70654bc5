"""What the continuous-time purchase models (BG/NBD, MBG/NBD, Pareto/NBD and their limits) share:
the checks of a purchase history ``(frequency, recency, T)``, the discounting of a purchase rate
over time, and the drawing of purchase times for simulations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import roots_legendre

from cvm.errors import SchemaError
from cvm.models.base import as_float_array, compress

_GL_NODES, _GL_WEIGHTS = roots_legendre(64)
#: the shared grid of :func:`discounted_laplace`: twice the nodes of a row's own grid, because a row's
#: integrand may occupy only half of its group's grid
_SHARED_NODES, _SHARED_WEIGHTS = roots_legendre(128)
#: e^-37 < 1e-16: beyond this many time constants the discount leaves nothing to integrate
_DISCOUNT_CUT = 37.0
#: rows per block of the (rows, nodes) sums in :func:`discounted_laplace`
_BLOCK_ROWS = 8192


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


def discounted_laplace(rate, group, k) -> np.ndarray:
    r"""``int_0^inf exp(-k_i u) rate_g(u) du`` for every row ``i`` of group ``g``, evaluating each
    group's ``rate`` once, on a grid its rows share.

    The discounted residual purchases of the purchase models are Laplace transforms: for a customer
    whose conditional purchase rate is ``rate(t / A) / A`` (``A = alpha + T``),
    :math:`\int_0^\infty e^{-\delta t} \mathrm{rate}(t/A)/A\,dt = \int_0^\infty e^{-k u}\,\mathrm{rate}(u)\,du`
    with ``k = delta A``. The rate depends on the purchase count (the group) only, so it is computed on
    one grid per group and the rows differ only in the elementary ``exp(-k u)``; no special function is
    evaluated per customer.

    Quadrature: Gauss-Legendre in ``v = log(1 + u)`` (the substitution of :func:`discounted_integral`),
    cut at ``u = 37 / k`` where ``exp(-k u) < 1e-16``. Rows are binned by the length of their own cut
    interval in ``v`` (powers of two), so every row's integrand spans at least half of its grid: 128 shared
    nodes give each row at least the 64 nodes of its own grid in :func:`discounted_integral`.

    Parameters
    ----------
    rate
        ``rate(u, owner)``: the rate at the times ``u`` (shape ``(grids, nodes)``) of the groups ``owner``
        (shape ``(grids,)``, the group of every grid).
    group
        The group of every row (integers).
    k
        The discount per unit of ``u`` of every row, positive.
    """
    k = np.asarray(k, dtype=float)
    group = np.asarray(group)
    v_end = np.log1p(_DISCOUNT_CUT / k)
    keys, _, grid = compress({"group": group, "bin": np.floor(np.log2(v_end))})
    length = np.zeros(keys["group"].size)
    np.maximum.at(length, grid, v_end)
    v = 0.5 * length[:, None] * (_SHARED_NODES[None, :] + 1.0)
    u = np.expm1(v)
    # Jacobian du/dv = 1 + u and the half-length of the interval, with the weights
    weighted = _SHARED_WEIGHTS[None, :] * (0.5 * length[:, None]) * np.exp(v) * rate(u, keys["group"].astype(np.int64))
    out = np.empty(k.size)
    for start in range(0, k.size, _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        g = grid[rows]
        out[rows] = np.einsum("ij,ij->i", weighted[g], np.exp(-k[rows, None] * u[g]))
    return out


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

