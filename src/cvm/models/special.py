"""Stable special functions for the purchase models, in log space and vectorised.

The BG/NBD, MBG/NBD and Pareto/NBD formulas need the Gauss hypergeometric
function ``2F1(a, b; c; z)`` at real ``0 <= z < 1``, often with large
parameters (``a = r + x`` for a customer with ``x`` purchases) where the value
itself overflows a double. :func:`log_hyp2f1` returns its logarithm:

* ``z <= 0.9``: the power series ``sum_n (a)_n (b)_n / ((c)_n n!) z^n``
  summed in blocks in log space with a running scale, in the original form or
  after Euler's transformation ``2F1(a, b; c; z) = (1 - z)^(c-a-b)
  2F1(c-a, c-b; c; z)`` (DLMF 15.8.1), whichever has the smaller coefficients;
* ``z > 0.9`` and moderate ``a b (1 - z)``: the connection formula to
  ``1 - z`` (DLMF 15.8.4), whose two series converge fast; where that
  formula degenerates (``c - a - b`` near an integer) or would cancel, the
  series again (more terms, same accuracy).

``scipy.special.hyp2f1`` is not used: it overflows or returns ``inf`` for
moderate values when the parameters are large and ``z`` is near one.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, gammasgn

_SWITCH = 0.9


def _broadcast(*args):
    return [np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(*args)]


def _series(a, b, c, z, tol=1e-16, max_terms=200_000, grad=False):
    """Log of |sum_n t_n| and its sign (and the weighted derivative sums) for the 2F1 series.

    Returns ``(log_abs, sign, d)`` where ``d`` holds d/da, d/db, d/dc, d/dz of
    ``log |sum|`` when ``grad`` is true (else None).
    """
    n_rows = a.size
    scale = np.zeros(n_rows)            # M: running log scale
    total = np.zeros(n_rows)            # sum of t_n * exp(-M)
    gsum = np.zeros((4, n_rows)) if grad else None
    log_t = np.zeros(n_rows)            # log |t_n0| at the start of the block
    sign_t = np.ones(n_rows)
    cum = np.zeros((3, n_rows)) if grad else None   # sum_{i<n0} 1/(a+i), 1/(b+i), 1/(c+i)
    active = np.arange(n_rows)
    logz = np.log(np.where(z > 0, z, 1.0))
    zero_z = z <= 0
    positive = bool(np.all(a > 0) and np.all(b > 0) and np.all(c > 0))
    n0, block = 0, 8
    while active.size and n0 < max_terms:
        A, B, C = a[active, None], b[active, None], c[active, None]
        k = n0 + np.arange(block, dtype=float)[None, :]
        ratio = (A + k) * (B + k) / ((C + k) * (k + 1.0))
        step = np.log(np.abs(ratio)) + logz[active, None]
        step[zero_z[active]] = -np.inf
        # log|t_n| for the block's terms n0 .. n0+K-1: the first is carried in, the others add steps
        cs = np.cumsum(step, axis=1)
        lt = np.empty_like(cs)
        lt[:, 0] = 0.0
        lt[:, 1:] = cs[:, :-1]
        lt += log_t[active, None]
        if positive:
            sg = 1.0
        else:
            sr = np.cumprod(np.sign(ratio), axis=1)
            sg = np.empty_like(sr)
            sg[:, 0] = 1.0
            sg[:, 1:] = sr[:, :-1]
            sg *= sign_t[active, None]
        with np.errstate(invalid="ignore"):
            new_scale = np.maximum(scale[active], lt.max(axis=1))
        shrink = np.exp(scale[active] - new_scale)
        w = sg * np.exp(lt - new_scale[:, None])
        total[active] = total[active] * shrink + w.sum(axis=1)
        if grad:
            inv = np.stack([1.0 / (A + k), 1.0 / (B + k), 1.0 / (C + k)])
            ci = np.cumsum(inv, axis=2)
            cumd = np.empty_like(ci)
            cumd[:, :, 0] = 0.0
            cumd[:, :, 1:] = ci[:, :, :-1]
            cumd += cum[:, active, None]
            gsum[:3, active] = gsum[:3, active] * shrink + np.einsum("jk,ijk->ij", w, cumd) * np.array([[1.0], [1.0], [-1.0]])
            gsum[3, active] = gsum[3, active] * shrink + (w * k).sum(axis=1)
            cum[:, active] += ci[:, :, -1]
        scale[active] = new_scale
        log_t[active] = lt[:, -1] + step[:, -1]
        if not positive:
            sign_t[active] = sg[:, -1] * np.sign(ratio[:, -1])
        # converged when the next term and a geometric bound on the tail are negligible
        rho = np.maximum(np.abs(ratio[:, -1]) * z[active], z[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = log_t[active] - np.log1p(-np.minimum(rho, 1 - 1e-16))
            size = scale[active] + np.log(np.abs(total[active]))
        done = (~np.isfinite(log_t[active])) | ((rho < 1) & (tail < size + np.log(tol)))
        active = active[~done]
        n0 += block
        block = min(2 * block, 64)
    with np.errstate(divide="ignore"):
        log_abs = scale + np.log(np.abs(total))
    sign = np.sign(total)
    d = None
    if grad:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = gsum / total
            d[3] = np.where(zero_z, a * b / c, d[3] / np.where(zero_z, 1.0, z))
    return log_abs, sign, d


def _log_gamma_ratio(num, den):
    """log|prod Gamma(num)/prod Gamma(den)| and its sign (zero when a denominator is a pole)."""
    log_val = sum(gammaln(v) for v in num) - sum(gammaln(v) for v in den)
    sign = np.prod([gammasgn(v) for v in num], axis=0) * np.prod([gammasgn(v) for v in den], axis=0)
    pole = np.zeros_like(log_val, dtype=bool)
    for v in den:
        pole |= (v <= 0) & (v == np.round(v))
    return np.where(pole, -np.inf, log_val), np.where(pole, 0.0, sign)


def _connection(a, b, c, z):
    """log 2F1 by the connection formula to 1 - z (DLMF 15.8.4); NaN where it is not positive."""
    d = c - a - b
    w = 1.0 - z
    l1, s1 = _log_gamma_ratio([c, d], [c - a, c - b])
    f1, t1 = _series(a, b, 1.0 - d, w)[:2]
    l2, s2 = _log_gamma_ratio([c, -d], [a, b])
    f2, t2 = _series(c - a, c - b, 1.0 + d, w)[:2]
    x1 = l1 + f1
    x2 = l2 + f2 + d * np.log(w)
    sg1, sg2 = s1 * t1, s2 * t2
    top = np.maximum(np.where(sg1 != 0, x1, -np.inf), np.where(sg2 != 0, x2, -np.inf))
    with np.errstate(invalid="ignore", over="ignore"):
        val = sg1 * np.exp(x1 - top) + sg2 * np.exp(x2 - top)
        return np.where(val > 0, top + np.log(np.where(val > 0, val, 1.0)), np.nan)


def log_hyp2f1(a, b, c, z):
    """Natural logarithm of the Gauss hypergeometric function 2F1(a, b; c; z) for real 0 <= z < 1.

    The value must be positive (it is whenever ``a, b, c > 0``). Arguments
    broadcast; the result has their broadcast shape.

    Parameters
    ----------
    a, b, c
        Real parameters; ``c`` must not be zero or a negative integer.
    z
        Real argument in ``[0, 1)``.

    Examples
    --------
    >>> float(np.exp(log_hyp2f1(1.0, 1.0, 2.0, 0.5)))  # -log(1 - z) / z
    1.3862943611198906
    """
    shape = np.broadcast(a, b, c, z).shape
    a, b, c, z = _broadcast(a, b, c, z)
    out = np.full(a.size, np.nan)
    # the connection formula cancels badly when a*b*(1-z) is large: keep the series there
    size = np.maximum(np.abs(a * b), np.abs((c - a) * (c - b))) * (1.0 - z)
    near = (z > _SWITCH) & (size < 2.0)
    if np.any(~near):
        i = ~near
        out[i] = _series_form(a[i], b[i], c[i], z[i])[0]
    if np.any(near):
        i = np.flatnonzero(near)
        d = c[i] - a[i] - b[i]
        ok = np.abs(d - np.round(d)) > 1e-4  # (near-)integer c-a-b: the formula degenerates; use the series
        val = np.full(i.size, np.nan)
        if np.any(ok):
            val[ok] = _connection(a[i][ok], b[i][ok], c[i][ok], z[i][ok])
        bad = ~np.isfinite(val)
        if np.any(bad):  # fall back on the (slow but positive) series
            val[bad] = _series_form(a[i][bad], b[i][bad], c[i][bad], z[i][bad])[0]
        out[i] = val
    return out.reshape(shape)


def _series_form(a, b, c, z, grad=False):
    """The power series in the original or the Euler-transformed form (smaller coefficients)."""
    euler = np.abs((c - a) * (c - b)) < np.abs(a * b)
    aa = np.where(euler, c - a, a)
    bb = np.where(euler, c - b, b)
    log1mz = np.log1p(-z)
    val, sign, d = _series(aa, bb, c, z, grad=grad)
    val = np.where(sign > 0, val, np.nan) + np.where(euler, (c - a - b) * log1mz, 0.0)
    if not grad:
        return val, None
    # chain rule through the Euler transformation
    da = np.where(euler, -log1mz - d[0], d[0])
    db = np.where(euler, -log1mz - d[1], d[1])
    dc = np.where(euler, log1mz + d[0] + d[1] + d[2], d[2])
    dz = np.where(euler, -(c - a - b) / (1 - z) + d[3], d[3])
    return val, np.stack([da, db, dc, dz])


def log_hyp2f1_grad(a, b, c, z):
    """``log 2F1(a, b; c; z)`` and its partial derivatives with respect to a, b, c and z.

    Returns ``(value, gradient)`` with ``gradient`` of shape ``(4, n)``. The
    derivatives come from differentiating the series term by term
    (``d log t_n / da = sum_{k<n} 1 / (a + k)``, ...), so they are exact up to
    rounding; where the connection formula is used (``z > 0.9``) they are NaN (callers fall back on numerical
    derivatives there).
    """
    a, b, c, z = _broadcast(a, b, c, z)
    grad = np.full((4, a.size), np.nan)
    size = np.maximum(np.abs(a * b), np.abs((c - a) * (c - b))) * (1.0 - z)
    low = (z <= _SWITCH) | (size >= 2.0)
    if np.all(low):
        return _series_form(a, b, c, z, grad=True)
    value = log_hyp2f1(a, b, c, z)
    if np.any(low):
        grad[:, low] = _series_form(a[low], b[low], c[low], z[low], grad=True)[1]
    return value, grad


def log1mexp(x):
    """``log(1 - exp(x))`` for ``x < 0``, accurate for x near 0 and very negative x (Maechler 2012)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))
