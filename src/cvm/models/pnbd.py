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
from scipy.special import digamma, exprel, gammaln, hyperu, roots_legendre

from cvm.errors import SchemaError
from cvm.models.base import LikelihoodModel, as_float_array
from cvm.models.covariates import CovariateSupport
from cvm.models.histories import (
    check_history,
    discount_rate_delta,
    discounted_integral,
    frame_of_events,
    history,
    horizon_weights,
    order_statistic_times,
    positive_times,
)
from cvm.models.special import log1mexp, log_hyp2f1, log_hyp2f1_grad

_U_NODES, _U_WEIGHTS = roots_legendre(128)


#: a row takes the fast series when it needs at most this many terms (else the 2F1 tails)
_MAX_SERIES_TERMS = 400
#: longest series summed as a polynomial with one coefficient table (longer: row by row)
_MAX_POLYNOMIAL_TERMS = 200
#: rows per block of the series (a block's working arrays stay in cache)
_CHUNK = 4096
#: above this many distinct histories, start from the fit of a subsample of half as many
_WARM_START_ROWS = 8000
#: customers with the same purchase count summed as polynomials when at least this many (else row by row)
_GROUP_ROWS = 512
#: with more rows without repeat purchases than this, they share one tail F(0) (below it, call overhead wins)
_SHARED_TAIL_ROWS = 2048


def _series_cost(b, zeta):
    """Rough number of terms the interval series needs for 1e-17, inf where it diverges or cancels badly."""
    az = np.abs(zeta)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.maximum(b - 1.0, 0.0) * az / (1.0 - az) + 39.0 / -np.log(np.maximum(az, 1e-300))
        # an alternating series loses about b * log((1+|z|)/(1-|z|)) nats to cancellation: allow ~4 digits
        cancel = (zeta < 0) & (b * np.log((1.0 + az) / (1.0 - az)) > 9.0)
    return np.where((az < 1.0) & ~cancel, cost, np.inf)


def series_plan(r, alpha, s, beta, x, tx) -> np.ndarray:
    """Per row: 0 = series around (alpha + tau), 1 = around (beta + tau), -1 = neither converges fast.

    The first form has one ``b = s + 1`` for every row (cheaper per term) and
    needs few terms when ``|alpha - beta|`` is small against ``alpha + t_x``;
    only the other rows are costed both ways.
    """
    r, alpha, s, beta = (np.broadcast_to(v, x.shape) for v in (r, alpha, s, beta))
    zeta0 = (alpha - beta) / (alpha + tx)
    plan = np.zeros(x.shape, dtype=np.int8)
    hard = np.flatnonzero(np.abs(zeta0) > 0.3)
    if hard.size:
        cost0 = _series_cost(s[hard] + 1.0, zeta0[hard])
        cost1 = _series_cost(r[hard] + x[hard], (beta[hard] - alpha[hard]) / (beta[hard] + tx[hard]))
        choice = np.where(cost1 + 4.0 < cost0, 1, 0)
        plan[hard] = np.where(np.minimum(cost0, cost1) <= _MAX_SERIES_TERMS, choice, -1)
    return plan


def interval_series(m, b, zeta, v, grad=False, tol=1e-15):
    r"""``log S`` and derivatives for :math:`S = \int_v^1 u^{m-1}(1-\zeta u)^{-b}\,du`.

    With :math:`A = \alpha + t_x` and :math:`u = A / (\alpha + \tau)` the Pareto/NBD dropout
    integral is :math:`\int_{t_x}^{T} (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)} d\tau
    = A^{-m} S` with ``m = r + s + x``, ``b = s + 1``, ``zeta = (alpha - beta) / A`` and
    ``v = A / (alpha + T)`` (or the same with the roles of (alpha, r + x) and (beta, s + 1)
    exchanged). Expanding :math:`(1-\zeta u)^{-b}` by the binomial series (``|zeta| < 1``):

    .. math::
        S = \sum_{n\ge 0} \frac{(b)_n}{n!}\,\zeta^n\,\frac{1 - v^{m+n}}{m+n}

    (term by term the incomplete form of FHL 2005 note, eq. 19's 2F1). Every term is a
    few multiplications (``(b)_n zeta^n / n!`` and ``v^(m+n)`` by recurrence), the sum
    stops per row once a geometric bound on the tail is below ``tol`` of the sum, and
    the derivatives are summed alongside: ``d/dm`` of ``(1-v^(m+n))/(m+n)``,
    ``d (b)_n / db = (b)_n sum_{k<n} 1/(b+k)``, ``d zeta^n / d zeta``, and
    ``dS/dv = -v^(m-1) (1 - zeta v)^-b`` in closed form.

    Returns ``(log S, dlogS/dm, dlogS/db, dlogS/dzeta, dlogS/dv)`` (the last four None
    unless ``grad``).
    """
    out = [np.empty(m.size) for _ in range(5 if grad else 1)]
    for lo in range(0, m.size, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        part = _interval_series_rows(m[sl], b if np.ndim(b) == 0 else b[sl], zeta[sl], v[sl], grad, tol)
        for o, p in zip(out, part):
            o[sl] = p
    return tuple(out) if grad else (out[0], None, None, None, None)


def _interval_series_rows(m, b, zeta, v, grad, tol):
    """:func:`interval_series` on one cache-sized block of rows."""
    n_rows = m.size
    scalar_b = np.ndim(b) == 0
    out = np.zeros((4 if grad else 1, n_rows))   # S, then sum n t q, d/dm, d/db sums
    idx = np.arange(n_rows)
    mm, zz, vv, bb = m, zeta, v, b
    log_v = np.log(vv)
    t = np.ones(n_rows)                 # t_n = (b)_n zeta^n / n!
    dn = 0.0 if scalar_b else np.zeros(n_rows)   # sum_{k<n} 1 / (b + k) = d log (b)_n / db
    pw = np.exp(mm * log_v)             # v^(m+n)
    acc = np.zeros((4 if grad else 1, n_rows))
    n = 0
    while idx.size:
        for _ in range(4):
            inv = 1.0 / (mm + n)
            q = (1.0 - pw) * inv
            tq = t * q
            acc[0] += tq
            if grad:
                acc[1] += n * tq
                acc[2] -= (t * pw * log_v + tq) * inv
                acc[3] += tq * dn
            step = bb + n
            if grad:
                dn = dn + 1.0 / step
            t = t * (zz * (step / (n + 1.0)))
            pw = pw * vv
            n += 1
        # tail bound: |t_n| n / (m+n) / (1 - rho), rho >= every later term ratio
        rho = np.abs(zz) * np.maximum((bb + n) / n, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.abs(t) * n / (mm + n) / (1.0 - rho)
        done = (rho < 1.0) & (tail <= tol * np.abs(acc[0]))
        if n >= 4 * _MAX_SERIES_TERMS:
            done[:] = True
        if np.all(done):
            out[:, idx] = acc
            break
        # converged rows may run on (their extra terms are below tol); compact only when it pays
        if np.count_nonzero(done) * 4 > done.size:
            out[:, idx[done]] = acc[:, done]
            keep = ~done
            idx = idx[keep]
            mm, zz, vv, log_v, t, pw = (a[keep] for a in (mm, zz, vv, log_v, t, pw))
            acc = acc[:, keep]
            if not scalar_b:
                bb, dn = bb[keep], dn[keep]
    total = out[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(total)
        if not grad:
            return (log_s,)
        # d S / d zeta = sum n t_n q_n / zeta; at zeta = 0 only n = 1 counts: b (1 - v^(m+1)) / (m+1)
        tiny = np.abs(zeta) < 1e-150
        first = b * -np.expm1((m + 1.0) * np.log(v)) / (m + 1.0)
        d_z = np.where(tiny, first, out[1] / np.where(tiny, 1.0, zeta))
        d_v = -np.exp((m - 1.0) * np.log(v) - b * np.log1p(-zeta * v))
        return log_s, out[2] / total, out[3] / total, d_z / total, d_v / total


def _coefficient_table(m, b, zeta, grad, tol):
    r"""Coefficients of the binomial series shared by :func:`tail_polynomial` and
    :func:`interval_polynomial`, shape ``(4, N)`` (``(1, N)`` without ``grad``), or None.

    Rows: :math:`c_n = (b)_n / (n!\,(m+n))`, :math:`\partial c_n/\partial m = -c_n/(m+n)`,
    :math:`\partial c_n/\partial b = c_n \sum_{k<n} 1/(b+k)` and :math:`(n+1) c_{n+1}` (the
    coefficient of :math:`\zeta^n` in :math:`dS/d\zeta`). ``N`` is chosen for the largest
    ``|zeta|``. With :math:`a_n = (b)_n/n!`, after ``N`` terms the tail of either sum is at most
    :math:`\frac{1 - v^m}{m}\sum_{n\ge N} a_n|\zeta|^n` (because :math:`(1 - v^{k})/k`
    falls with ``k``) and the sum of the series is at least :math:`\frac{1 - v^m}{m}(1+|\zeta|)^{-b}`
    (``zeta < 0``; without the last factor for ``zeta >= 0``), so ``N`` is the first term with
    :math:`a_N |\zeta|^N / (1 - \rho) \le` ``tol`` :math:`(1+|\zeta|)^{-b}`, ``rho`` bounding every
    later term ratio; four more terms keep the derivatives as accurate. None when that needs over
    ``_MAX_POLYNOMIAL_TERMS`` terms or an alternating series would cancel (more than ~4 digits lost).
    """
    top = float(np.max(np.abs(zeta))) if zeta.size else 0.0
    negative = bool(zeta.size) and float(np.min(zeta)) < 0
    if top >= 1.0 or (negative and b * np.log((1.0 + top) / (1.0 - top)) > 9.0):
        return None
    floor = np.exp(-b * np.log1p(top)) if negative else 1.0
    a = [1.0]                           # a_n = (b)_n / n!
    n = 0
    while True:
        a.append(a[-1] * (b + n) / (n + 1.0))
        n += 1
        rho = top * max((b + n) / (n + 1.0), 1.0)
        if rho < 1.0 and abs(a[-1]) * top**n / (1.0 - rho) <= tol * floor:
            break
        if n >= _MAX_POLYNOMIAL_TERMS:
            return None
    terms = n + 4
    while len(a) <= terms:
        a.append(a[-1] * (b + n) / (n + 1.0))
        n += 1
    k = np.arange(terms + 1, dtype=float)
    c = np.array(a) / (m + k)
    k = k[:terms]
    if not grad:
        return c[None, :terms]
    psi = np.concatenate([[0.0], np.cumsum(1.0 / (b + k[:-1]))])  # sum_{j<n} 1/(b+j)
    return np.array([c[:terms], -c[:terms] / (m + k), c[:terms] * psi, (k + 1.0) * c[1:]])


def _power_sums(table, y):
    """``table @ [y^0, y^1, ...]``: the coefficient rows of ``table`` summed against powers of ``y``
    (in blocks of rows, so the table of powers stays in cache)."""
    terms = table.shape[1]
    out = np.empty((table.shape[0], y.size))
    powers = np.empty((terms, min(y.size, _CHUNK)))
    for lo in range(0, y.size, _CHUNK):
        part = y[lo:lo + _CHUNK]
        block = powers[:, :part.size]
        block[0] = 1.0
        for j in range(1, terms):
            np.multiply(block[j - 1], part, out=block[j])
        out[:, lo:lo + part.size] = table @ block
    return out


def tail_polynomial(m, b, zeta, grad=False, tol=1e-15):
    r"""``log S`` and derivatives for :math:`S(\zeta) = \int_0^1 u^{m-1}(1-\zeta u)^{-b}\,du`
    with one (scalar) ``m`` and ``b`` and many ``zeta``; None when the series is too long.

    This is :func:`interval_series` at ``v = 0`` (the tail integral
    :math:`F(y) = A^{-m} S` of :class:`ParetoNBD`, ``A = alpha + y``), which is
    :math:`{}_2F_1(m, b; m+1; \zeta) / m` (FHL 2005 note, eq. 19):

    .. math::
        S = \sum_{n\ge 0} c_n \zeta^n, \qquad c_n = \frac{(b)_n}{n!\,(m+n)}

    With ``m`` and ``b`` shared by every row (customers without repeat
    purchases: ``m = r + s``), the coefficients and their derivatives are computed
    once (:func:`_coefficient_table`), and the four sums ``S, dS/dm, dS/db,
    dS/dzeta`` of every row are one product of a ``(4, N)`` coefficient matrix
    with the powers ``zeta^n``. Returns None when the series would need too many
    terms or cancel (callers then use :func:`interval_series`).

    Returns ``(log S, dlogS/dm, dlogS/db, dlogS/dzeta)`` (the last three None unless ``grad``).
    """
    table = _coefficient_table(m, b, zeta, grad, tol)
    if table is None:
        return None
    sums = _power_sums(table, zeta)
    log_s = np.log(sums[0])
    if not grad:
        return log_s, None, None, None
    return log_s, sums[1] / sums[0], sums[2] / sums[0], sums[3] / sums[0]


def interval_polynomial(m, b, zeta, v, grad=False, tol=1e-15):
    r""":func:`interval_series` for rows sharing one (scalar) ``m`` and ``b`` (customers with
    the same number of purchases), as two polynomials; None when the series is too long.

    With :math:`P(y) = \sum_n c_n y^n`, :math:`c_n = (b)_n / (n!\,(m+n))` (the series of
    :func:`tail_polynomial`), the interval series is

    .. math::
        S = \sum_n \frac{(b)_n}{n!}\zeta^n \frac{1 - v^{m+n}}{m+n} = P(\zeta) - v^m P(\zeta v)

    and its derivatives follow term by term: :math:`\partial S/\partial m = P_m(\zeta) -
    v^m(\ln v\,P(\zeta v) + P_m(\zeta v))`, :math:`\partial S/\partial b = P_b(\zeta) - v^m
    P_b(\zeta v)`, :math:`\partial S/\partial\zeta = P'(\zeta) - v^{m+1} P'(\zeta v)` (``P_m``,
    ``P_b``: the series with the coefficients differentiated) and, in closed form,
    :math:`\partial S/\partial v = -v^{m-1}(1-\zeta v)^{-b}`. Each polynomial is one product of
    the shared coefficient table (:func:`_coefficient_table`) with powers of ``zeta`` or
    ``zeta v``.

    Returns ``(log S, dlogS/dm, dlogS/db, dlogS/dzeta, dlogS/dv)`` (the last four None unless ``grad``).
    """
    table = _coefficient_table(m, b, zeta, grad, tol)
    if table is None:
        return None
    log_v = np.log(v)
    power = np.exp(m * log_v)           # v^m
    at_zeta = _power_sums(table, zeta)
    at_zv = _power_sums(table, zeta * v)
    total = at_zeta[0] - power * at_zv[0]
    log_s = np.log(total)
    if not grad:
        return log_s, None, None, None, None
    d_m = at_zeta[1] - power * (log_v * at_zv[0] + at_zv[1])
    d_b = at_zeta[2] - power * at_zv[2]
    d_z = at_zeta[3] - power * v * at_zv[3]
    d_v = -np.exp((m - 1.0) * log_v - b * np.log1p(-zeta * v))
    return log_s, d_m / total, d_b / total, d_z / total, d_v / total


#: Gauss-Legendre nodes of :func:`dropout_quadrature` (on each monotone piece of the integrand)
_Q_NODES, _Q_WEIGHTS = roots_legendre(32)
#: a piece is cut where its log-integrand has fallen this far below its top (e^-42 < 1e-18)
_Q_DROP = 42.0
_LOG_HALF = -np.log(2.0)


def _log_piece(y, c1, c2):
    """``c1 y + c2 log(1 - e^y)``: the log-integrand of :func:`dropout_quadrature` up to a constant."""
    return c1 * y + c2 * np.log1p(-np.exp(y))


def _cut_piece(a, b, c1, c2):
    """The part of ``[a, b]`` (where :func:`_log_piece` is monotone) within ``_Q_DROP`` of its top, by bisection."""
    fa, fb = _log_piece(a, c1, c2), _log_piece(b, c1, c2)
    left = fa >= fb
    start, end = np.where(left, a, b), np.where(left, b, a)
    target = np.maximum(fa, fb) - _Q_DROP
    need = _log_piece(end, c1, c2) < target
    if np.any(need):
        u, v, cc1, cc2, tg = start[need], end[need], c1[need], c2[need], target[need]
        for _ in range(64):  # phi(u) >= target > phi(v) throughout
            mid = 0.5 * (u + v)
            above = _log_piece(mid, cc1, cc2) >= tg
            u = np.where(above, mid, u)
            v = np.where(above, v, mid)
        end = end.copy()
        end[need] = v
    return np.minimum(start, end), np.maximum(start, end)


def _log_p(other, own, y, q):
    """``log p = log((other + y) / (own + y))``, accurate for p near 1 (from ``q = 1 - p``) and near 0
    (kept above e^-700: other + y = 0 happens only when ``other`` underflowed and ``y = 0``)."""
    with np.errstate(divide="ignore"):
        small = np.log(np.maximum(other + y, 1e-300)) - np.log(own + y)
        return np.where(q < 0.5, np.log1p(-np.minimum(q, 0.5)), np.maximum(small, -700.0))


def dropout_quadrature(r, alpha, s, beta, x, tx, T, grad=False):
    r"""``log I`` and its gradient over ``(r, alpha, s, beta)``, shape ``(4, n)``, by Gauss-Legendre quadrature:
    the Pareto/NBD dropout integral at any parameters, also where the series and the 2F1 tails need
    thousands of terms (extreme fits: ``alpha`` or ``beta`` near 0 or beyond 1e6).

    .. math::
        I = \int_{t_x}^{T} (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)}\,d\tau

    With ``own`` the larger and ``other`` the smaller of ``alpha, beta`` (exponents ``k_own``,
    ``k_other``) and :math:`D = own - other`, substitute :math:`p = (other+\tau)/(own+\tau)`,
    :math:`q = 1 - p = D/(own+\tau)` (both monotone in :math:`\tau`). Then
    :math:`I = D^{-m}\int p^{-k_{other}}(1-p)^{m-1}\,dp` with ``m = r + s + x``: an incomplete beta
    integral with a negative parameter. It is integrated in ``y = log p`` where ``p <= 1/2`` and in
    ``y = log q`` where ``q <= 1/2``; in either variable the log-integrand is
    :math:`c_1 y + c_2 \log(1 - e^y)` (``c1 = 1 - k_other, c2 = m - 1``, or ``c1 = m, c2 = -k_other``),
    which has at most one stationary point, :math:`e^y = c_1/(c_1+c_2)`. Each monotone piece is cut
    where the integrand has fallen by ``e^-42`` (bisection) and integrated with 32 Gauss-Legendre nodes;
    sums are formed in log space. The gradient differentiates under the integral:
    :math:`\partial \log I/\partial r = -E_w[\log(\alpha+\tau)]`,
    :math:`\partial \log I/\partial\alpha = -(r+x) E_w[1/(\alpha+\tau)]` (and likewise for ``s, beta``),
    with ``E_w`` the average over the nodes weighted by the integrand. Agrees with mpmath to about 1e-11
    (relative, on ``log I``) over parameters from 1e-5 to 1e9 (``tests/models/test_boundary.py``).
    """
    shape = np.shape(x)
    r, alpha, s, beta, x, tx, T = (np.array(np.broadcast_to(v, shape), dtype=float).ravel()
                                   for v in (r, alpha, s, beta, x, tx, T))
    high = alpha >= beta
    own, other = np.where(high, alpha, beta), np.where(high, beta, alpha)
    k_own, k_other = np.where(high, r + x, s + 1.0), np.where(high, s + 1.0, r + x)
    D = own - other
    m = r + s + x
    q_a, q_b = D / (own + tx), D / (own + T)   # q falls from q_a (tau = t_x) to q_b (tau = T)
    rows = np.arange(x.size)
    parts = []
    halves = ((_log_p(other, own, tx, q_a), np.minimum(_log_p(other, own, T, q_b), _LOG_HALF), 1.0 - k_other, m - 1.0),
              # y = log p above, y = log q below
              (np.log(q_b), np.minimum(np.log(q_a), _LOG_HALF), m, -k_other))                  # y = log q
    for half, (lo, hi, c1, c2) in enumerate(halves):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = c1 / (c1 + c2)
            inner = (ratio > 0) & (ratio < 1)
            turn = np.where(inner, np.log(np.where(inner, ratio, 0.5)), -np.inf)
        turn = np.where((turn > lo) & (turn < hi), turn, hi)
        for a, b in ((lo, turn), (turn, hi)):
            use = b > a
            if np.any(use):
                start, end = _cut_piece(a[use], b[use], c1[use], c2[use])
                parts.append((rows[use], start, end, half))
    top = np.full(x.size, -np.inf)
    evaluated = []
    for rows_p, lo, hi, half in parts:
        half_width = 0.5 * (hi - lo)
        y = (lo + half_width)[:, None] + half_width[:, None] * _Q_NODES[None, :]
        other_log = np.log1p(-np.exp(y))
        log_p, log_q = (y, other_log) if half == 0 else (other_log, y)
        log_d = np.log(D[rows_p])[:, None]
        log_own = log_d - log_q                 # log(own + tau)
        log_other = log_d + log_p - log_q       # log(other + tau)
        log_jac = log_d + log_p - 2.0 * log_q if half == 0 else log_d - log_q   # |d tau / d y|
        log_w = (np.log(half_width)[:, None] + np.log(_Q_WEIGHTS)[None, :] + log_jac
                 - k_own[rows_p][:, None] * log_own - k_other[rows_p][:, None] * log_other)
        top[rows_p] = np.maximum(top[rows_p], log_w.max(axis=1))  # rows are distinct within a piece
        evaluated.append((rows_p, log_w, log_own, log_other))
    total = np.zeros(x.size)
    g = np.zeros((4, x.size)) if grad else None
    for rows_p, log_w, log_own, log_other in evaluated:
        w = np.exp(log_w - top[rows_p][:, None])
        total[rows_p] += w.sum(axis=1)
        if grad:
            hi_r = high[rows_p]
            sum_own, sum_other = (w * log_own).sum(axis=1), (w * log_other).sum(axis=1)
            inv_own, inv_other = (w * np.exp(-log_own)).sum(axis=1), (w * np.exp(-log_other)).sum(axis=1)
            g[0, rows_p] -= np.where(hi_r, sum_own, sum_other)
            g[1, rows_p] -= (r + x)[rows_p] * np.where(hi_r, inv_own, inv_other)
            g[2, rows_p] -= np.where(hi_r, sum_other, sum_own)
            g[3, rows_p] -= (s + 1.0)[rows_p] * np.where(hi_r, inv_other, inv_own)
    with np.errstate(divide="ignore"):
        log_i = top + np.log(total)
    if grad:
        g = g / total
    return log_i, g


class ParetoNBD(CovariateSupport, LikelihoodModel):
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
    ``[0, 1)``. The difference ``F(t_x) - F(T)``, the dropout integral
    :math:`I = \int_{t_x}^T (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)} d\tau`, is summed
    directly by :func:`interval_series` (a short binomial series with exact
    derivatives, vectorised over histories) wherever it converges in a few hundred
    terms; customers who share a purchase count share its coefficients, so large
    groups of them are summed as polynomials with one coefficient table
    (:func:`interval_polynomial`, and :func:`tail_polynomial` for ``F(T)`` of
    customers without repeat purchases); elsewhere :func:`~cvm.models.special.log_hyp2f1` evaluates the two tails
    in log space and ``F(t_x) - F(T)`` is formed as ``F(t_x) (1 - exp(log F(T) -
    log F(t_x)))``, so large ``x`` or ``T`` never overflow.

    Covariates (time-invariant, Fader & Hardie 2007; CLVTools' parameterisation):
    customer ``i`` with covariate vector :math:`z_i` has
    :math:`\alpha_i = \alpha e^{-\gamma_1^\top z_i}` and
    :math:`\beta_i = \beta e^{-\gamma_2^\top z_i}`, so a positive ``purchase[age]``
    means older customers buy more often and a positive ``dropout[age]`` that they
    drop out sooner. Every prediction then takes ``covariates=``.

    Parameters
    ----------
    penalizer, max_iter
        See :class:`~cvm.models.base.LikelihoodModel`.
    purchase_covariates, dropout_covariates
        Names of covariate columns acting on the purchase rate (through
        ``alpha``) and on the dropout rate (through ``beta``); coefficients are
        named ``purchase[name]`` and ``dropout[name]``.

    Examples
    --------
    >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(m.probability_alive(26, 30.857, 31)[0]), 4)
    0.9979
    """

    parameter_names = ("r", "alpha", "s", "beta")
    data_columns = ("frequency", "recency", "T")
    # stop near the engine's stationarity threshold instead of chasing rounding noise
    optimizer_options = {"ftol": 1e-13, "gtol": 1e-7}
    warm_start_rows = _WARM_START_ROWS

    _effects = (("purchase", "purchase"), ("dropout", "dropout"))

    def __init__(self, penalizer: float = 0.0, max_iter: int = 2000, purchase_covariates=(), dropout_covariates=(),
                 max_seconds: float | None = None) -> None:
        super().__init__(penalizer=penalizer, max_iter=max_iter, max_seconds=max_seconds)
        self._init_covariates(purchase_covariates, dropout_covariates)

    def fit(self, frequency, recency=None, T=None, weights=None, initial=None, covariates=None):
        """Fit by maximum likelihood on ``(frequency, recency, T)`` arrays or one frame with those columns.

        ``covariates`` (a frame or dict with one row per customer) is needed when
        the model has covariates; when fitting on a frame that already holds
        the covariate columns it may be left out.
        """
        return self._fit_with_covariates(frequency, recency, T, weights, initial, covariates)

    def _row_params(self, theta, data):
        """``(r, alpha_i, s, beta_i)``: per-customer arrays when the model has covariates."""
        r, alpha, s, beta = theta[:4]
        if not (self.purchase_covariates or self.dropout_covariates):
            return r, alpha, s, beta
        k_purchase, k_dropout = self._scales(theta, data)
        return r, alpha / k_purchase, s, beta / k_dropout

    def _validate(self, data) -> None:
        check_history(data)

    def _limiting_case(self, theta, data, weights):
        """``"nbd"`` when the expected share of customers who dropped out within the data, about
        ``E[mu] T = s T / beta`` at the mean ``T``, is below :data:`~cvm.models.limits.NO_DROPOUT_SHARE`,
        or below :data:`~cvm.models.limits.NEAR_LIMIT_SHARE` while the data cannot tell the fit from the NBD
        (:func:`~cvm.models.limits.no_better_than_limit`)."""
        from cvm.models.limits import NEAR_LIMIT_SHARE, NO_DROPOUT_SHARE, no_better_than_limit

        if self.purchase_covariates or self.dropout_covariates:
            return None
        s, beta = theta[2], theta[3]
        share = s / beta * np.average(data["T"], weights=weights)
        if share < NO_DROPOUT_SHARE or (share < NEAR_LIMIT_SHARE and no_better_than_limit(self, theta, data, weights, "nbd")):
            return "nbd"
        return None

    def _initial_values(self, data, weights) -> np.ndarray:
        """A rough start: ``alpha = beta`` makes the dropout series a single term, and ``r = s = 1/2`` sits
        mid-range of published fits (CDNOW 0.55 / 0.61). Measured on CDNOW and three simulated sets, the
        fewest expensive iterations; on many distinct histories the engine refines it on a subsample
        (``warm_start_rows``)."""
        mean_x = max(np.average(data["frequency"], weights=weights), 0.05)
        mean_T = np.average(data["T"], weights=weights)
        rough = np.array([0.5, 0.5 * mean_T / mean_x, 0.5, 0.5 * mean_T / mean_x])
        return np.concatenate([rough, self._initial_coefficients()])

    @staticmethod
    def _log_tail(y, r, alpha, s, beta, x) -> np.ndarray:
        """log F(y), F the tail integral of the class docstring."""
        k = r + s + x
        if np.all(alpha >= beta):
            return -k * np.log(alpha + y) - np.log(k) + log_hyp2f1(k, s + 1.0, k + 1.0, (alpha - beta) / (alpha + y))
        return -k * np.log(beta + y) - np.log(k) + log_hyp2f1(k, r + x, k + 1.0, (beta - alpha) / (beta + y))

    @staticmethod
    def _log_tail_grad(y, r, alpha, s, beta, x):
        """log F(y) and its derivatives with respect to (r, alpha, s, beta), shape (4, n)."""
        k = r + s + x
        if np.all(alpha >= beta):
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

    def _slow_dead(self, params, data, rows, grad):
        """log I (and its gradient, shape (4, n)) from the two 2F1 tails: the exact but slow general path."""
        r, alpha, s, beta = (np.broadcast_to(v, data["frequency"].shape)[rows] for v in params)
        x, tx, T = data["frequency"][rows], data["recency"][rows], data["T"][rows]
        out = np.empty(rows.size)
        g = np.empty((4, rows.size)) if grad else None
        high = alpha >= beta
        for part in (high, ~high):
            if not np.any(part):
                continue
            args = [v[part] for v in (r, alpha, s, beta, x)]
            if not grad:
                f_tx = self._log_tail(tx[part], *args)
                f_T = self._log_tail(T[part], *args)
                out[part] = f_tx + log1mexp(np.minimum(f_T - f_tx, 0.0))
                continue
            f_tx, g_tx = self._log_tail_grad(tx[part], *args)
            f_T, g_T = self._log_tail_grad(T[part], *args)
            q = np.exp(np.minimum(f_T - f_tx, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                g[:, part] = np.where(q < 1, (g_tx - q * g_T) / (1.0 - q), 0.0)
            out[part] = f_tx + log1mexp(np.minimum(f_T - f_tx, 0.0))
        if grad:
            # where the connection formula gave no derivatives, central differences on those rows only
            # (otherwise one such row would send the engine to numerical gradients of every row)
            bad = ~np.all(np.isfinite(g), axis=0)
            if np.any(bad):
                full = [np.array(np.broadcast_to(v, data["frequency"].shape), dtype=float) for v in params]
                sub = rows[bad]
                for j in range(4):
                    h = 1e-6 * full[j][sub]
                    shifted = [v.copy() for v in full]
                    shifted[j][sub] += h
                    up = self._slow_dead(shifted, data, sub, False)[0]
                    shifted[j][sub] -= 2 * h
                    down = self._slow_dead(shifted, data, sub, False)[0]
                    g[j, bad] = (up - down) / (2 * h)
        return out, g

    def _log_dead(self, params, data, grad=False):
        """``log I``, I the dropout integral of the class docstring, and optionally its gradient (4, n).

        ``params`` are ``(r, alpha, s, beta)``, scalars or per-row arrays. Fast
        path where a short series converges: customers without repeat purchases
        as ``F(0) - F(T)`` with one coefficient table (:func:`tail_polynomial`),
        large groups with the same purchase count as two polynomials
        (:func:`interval_polynomial`), the others row by row
        (:func:`interval_series`); the 2F1 tails (:meth:`_log_tail`) elsewhere.
        """
        x, tx, T = data["frequency"], data["recency"], data["T"]
        shared = np.ndim(params[1]) == 0 and np.ndim(params[3]) == 0  # no covariates: one alpha, one beta
        m = (params[0] + params[2]) + x
        r, alpha, s, beta = (np.broadcast_to(v, x.shape) for v in params)
        plan = series_plan(r, alpha, s, beta, x, tx)
        out = np.empty(x.size)
        g = np.empty((4, x.size)) if grad else None
        # last purchase at T: no time to die unseen, I = 0 (its weight in the likelihood is zero)
        empty = T <= tx
        if np.any(empty):
            plan[empty] = 2
            out[empty] = -np.inf
            if grad:
                g[:, empty] = 0.0
        for form in (0, 1):
            mask = plan == form
            count = np.count_nonzero(mask)
            if not count:
                continue
            if shared:  # rows without repeat purchases share one tail F(0)
                first = mask & (tx == 0) & (x == 0)
                if np.count_nonzero(first) > _SHARED_TAIL_ROWS:
                    done = self._first_purchase_rows(params, form, np.flatnonzero(first), data, out, g)
                    mask = mask & ~done
                    count = np.count_nonzero(mask)
                    if not count:
                        continue
            rows = slice(None) if count == x.size else np.flatnonzero(mask)  # a view when every row agrees
            # form 0 factors out (alpha + tau), expands (beta + tau)^-(s+1); form 1 the other way round
            own, other = (params[1], params[3]) if form == 0 else (params[3], params[1])
            if not shared:
                own, other = np.broadcast_to(own, x.shape)[rows], np.broadcast_to(other, x.shape)[rows]
            b = (float(params[2]) + 1.0 if np.ndim(params[2]) == 0 else s[rows] + 1.0) if form == 0 else r[rows] + x[rows]
            m_rows, tx_rows = m[rows], tx[rows]
            A = own + tx_rows
            D = T[rows] - tx_rows
            end = A + D
            zeta = (own - other) / A
            v = A / end
            same_rs = np.ndim(params[0]) == 0 and np.ndim(params[2]) == 0
            val, d_m, d_b, d_z, d_v = self._dropout_sums(m_rows, b, zeta, v, grad, data, rows if same_rs else None)
            log_a = np.log(A)
            out[rows] = val - m_rows * log_a
            if grad:
                dm = d_m - log_a
                d_own = d_v * D / end**2 + (d_z * (other + tx_rows) / A - m_rows) / A
                d_other = -d_z / A
                i_own, i_other, i_b = (1, 3, 2) if form == 0 else (3, 1, 0)
                g[i_own, rows] = d_own
                g[i_other, rows] = d_other
                g[i_b, rows] = dm + d_b
                g[2 - i_b, rows] = dm
        slow = np.flatnonzero(plan < 0)
        if slow.size:  # extreme parameters: quadrature (the 2F1 tails of _slow_dead need up to 1e5 terms there)
            val, g_slow = dropout_quadrature(*(np.broadcast_to(v, x.shape)[slow] for v in params),
                                             x[slow], tx[slow], T[slow], grad)
            out[slow] = val
            if grad:
                g[:, slow] = g_slow
        return out, g

    def _dropout_sums(self, m, b, zeta, v, grad, data, rows):
        """The interval series of :func:`interval_series` on ``rows`` of the data (``m``, ``b``,
        ``zeta``, ``v`` given for those rows); customers with the same number of purchases
        (the rows' purchase counts in ``data``) share ``m = r + s + x`` and ``b``, and every such group of at least
        ``_GROUP_ROWS`` rows is summed as two polynomials (:func:`interval_polynomial`).
        ``rows=None`` (``r`` or ``s`` differ between rows): the row-by-row series only."""
        n = m.size
        if rows is None or n < _GROUP_ROWS:
            return interval_series(m, b, zeta, v, grad)
        ux, inverse = self._distinct_counts(data)
        codes = inverse[rows]
        counts = np.bincount(codes, minlength=ux.size)
        big = np.flatnonzero(counts >= _GROUP_ROWS)
        if not big.size:
            return interval_series(m, b, zeta, v, grad)
        order = np.argsort(codes, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        out = [np.empty(n) for _ in range(5 if grad else 1)]
        done = np.zeros(n, dtype=bool)
        for code in big:
            idx = order[starts[code]:starts[code + 1]]
            first = idx[0]
            part = interval_polynomial(m[first], b if np.ndim(b) == 0 else b[first], zeta[idx], v[idx], grad)
            if part is None:
                continue
            for o, p in zip(out, part):
                o[idx] = p
            done[idx] = True
        rest = np.flatnonzero(~done)
        if rest.size:
            part = interval_series(m[rest], b if np.ndim(b) == 0 else b[rest], zeta[rest], v[rest], grad)
            for o, p in zip(out, part):
                o[rest] = p
        return tuple(out) if grad else (out[0], None, None, None, None)

    @staticmethod
    def _log_tail_series(own, other, b, m, y, grad):
        """log F(y) = log of the integral from y to infinity (the interval series at v = 0) and its
        gradient (d own, d other, d m, d b); ``own, other, b, m`` scalars, ``y`` an array.

        One coefficient table for every row (:func:`tail_polynomial`) when it needs few terms,
        else the row-by-row :func:`interval_series`."""
        A = own + y
        zeta = (own - other) / A
        fast = tail_polynomial(m, b, zeta, grad)
        if fast is not None:
            val, d_m, d_b, d_z = fast
        else:
            v = np.full(A.shape, 1e-300)  # v^(m+n) underflows to 0: the upper limit is infinity
            val, d_m, d_b, d_z, _ = interval_series(np.full(A.shape, m), b, zeta, v, grad)
        log_a = np.log(A)
        if not grad:
            return val - m * log_a, None
        return val - m * log_a, ((d_z * (other + y) / A - m) / A, -d_z / A, d_m - log_a, d_b)

    def _first_purchase_rows(self, params, form, rows, data, out, g):
        """Rows with x = 0 (so t_x = 0): I = F(0) - F(T), F(0) computed once; the series for F(T)
        converges at |alpha - beta| / (alpha + T) instead of |alpha - beta| / alpha. Rows where F(T)
        is close to F(0) (cancellation) are left to the interval series; returns the rows done here."""
        r, alpha, s, beta = (float(v) for v in params)
        own, other = (alpha, beta) if form == 0 else (beta, alpha)
        b = s + 1.0 if form == 0 else r
        m = r + s
        grad = g is not None
        T = data["T"][rows]
        f0, g0 = self._log_tail_series(own, other, b, m, np.zeros(1), grad)
        f_t, g_t = self._log_tail_series(own, other, b, m, T, grad)
        ratio = f_t - f0[0]
        ok = ratio < np.log(0.5)
        use = rows[ok]
        out[use] = f0[0] + log1mexp(ratio[ok])
        if grad:
            q = np.exp(ratio[ok])
            parts = [(g0[j][0] - q * g_t[j][ok]) / (1.0 - q) for j in range(4)]
            d_own, d_other, dm, d_b = parts
            i_own, i_other, i_b = (1, 3, 2) if form == 0 else (3, 1, 0)
            g[i_own, use] = d_own
            g[i_other, use] = d_other
            g[i_b, use] = dm + d_b
            g[2 - i_b, use] = dm
        done = np.zeros(data["T"].size, dtype=bool)
        done[use] = True
        return done

    def _prepare(self, data):
        """The distinct purchase counts of the fitted data and every row's index among them."""
        ux, inverse = np.unique(data["frequency"], return_inverse=True)
        return {**data, "x_levels": ux, "x_codes": inverse.ravel()}

    @staticmethod
    def _distinct_counts(data):
        """``(distinct x, every row's index among them)``: from :meth:`_prepare` during a fit, else computed."""
        if "x_levels" in data:
            return data["x_levels"], data["x_codes"]
        ux, inverse = np.unique(data["frequency"], return_inverse=True)
        return ux, inverse.ravel()

    def _evaluate(self, theta, data, grad):
        """Per-row log-likelihood and (when ``grad``) its gradient, in one pass."""
        params = self._row_params(theta, data)
        r, alpha, s, beta = params
        x, T = data["frequency"], data["T"]
        # gammaln / digamma of r + x on the distinct purchase counts only
        ux, inverse = self._distinct_counts(data)
        shared = np.ndim(alpha) == 0 and np.ndim(beta) == 0  # no covariates: fold the scalars into the tables
        alpha_t, beta_t = alpha + T, beta + T
        log_alpha_t, log_beta_t = np.log(alpha_t), np.log(beta_t)
        log_alpha, log_beta = np.log(alpha), np.log(beta)
        r_x = r + x
        table = gammaln(r + ux) - gammaln(r)
        if shared:
            const = (table + (r * log_alpha + s * log_beta))[inverse]
        else:
            const = table[inverse] + r * log_alpha + s * log_beta
        alive = r_x * log_alpha_t
        alive += s * log_beta_t
        np.negative(alive, out=alive)
        log_i, g_dead = self._log_dead(params, data, grad)
        dead = log_i
        dead += np.log(s)
        total = np.logaddexp(alive, dead)
        ll = const
        ll += total
        g_rows = None
        if grad:
            w_dead = dead
            w_dead -= total
            np.exp(w_dead, out=w_dead)
            w_alive = 1.0 - w_dead
            g = g_dead  # reused in place, one row per parameter (contiguous rows, returned transposed)
            g *= w_dead
            psi = digamma(r + ux) - digamma(r)
            if shared:
                g[0] += (psi + log_alpha)[inverse]
            else:
                g[0] += psi[inverse] + log_alpha
            g[0] -= w_alive * log_alpha_t
            g[1] += r / alpha
            g[1] -= w_alive * r_x / alpha_t
            g[2] += w_dead / s + log_beta
            g[2] -= w_alive * log_beta_t
            g[3] += s / beta
            g[3] -= w_alive * s / beta_t
            g_rows = g.T
            if len(theta) > 4:
                g_rows = self._chain_covariates(g_rows, theta, data, scaled=((1, -1), (3, -1)))
        return ll, g_rows

    def _log_likelihood_and_gradient(self, theta, data):
        """Exact per-row gradient (series derivatives; NaN rows make the engine fall back on differences)."""
        return self._evaluate(theta, data, True)

    def _terms(self, params, data):
        r, alpha, s, beta = params
        x, tx, T = data["frequency"], data["recency"], data["T"]
        const = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) + self._log_dead(params, data)[0]
        return const, alive, dead

    def _log_likelihood(self, theta, data) -> np.ndarray:
        return self._evaluate(theta, data, False)[0]

    # ------------------------------------------------------------ predictions
    def _p(self, covariates=None, n_rows=None):
        """``(r, alpha_i, s, beta_i)`` for prediction: scalars, or per-customer arrays with covariates."""
        theta = self._theta_fitted()
        data = self._covariate_columns(covariates, n_rows)
        return tuple(v if np.ndim(v) else float(v) for v in self._row_params(theta, data))

    def _theta_fitted(self) -> np.ndarray:
        self._require_fit()
        return self.params_.to_numpy()

    def probability_alive(self, frequency, recency, T, covariates=None) -> np.ndarray:
        r"""P(alive | x, t_x, T) = :math:`\frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)(\alpha+T)^{r+x}(\beta+T)^s} / L` (FHL 2005 note, eq. 18)."""
        x, tx, T = history(frequency, recency, T)
        params = [np.broadcast_to(v, x.shape) for v in self._p(covariates, x.size)]
        _, alive, dead = self._terms(params, {"frequency": x, "recency": tx, "T": T})
        return np.exp(alive - np.logaddexp(alive, dead))

    def expected_purchases(self, t, frequency, recency, T, covariates=None) -> np.ndarray:
        r"""E[Y(t) | x, t_x, T] (FHL 2005 note, eq. 22):
        :math:`\frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}\big[1-(\frac{\beta+T}{\beta+T+t})^{s-1}\big] P(\text{alive})`,
        computed as :math:`\frac{r+x}{\alpha+T}(\beta+T)\,L\,\mathrm{exprel}(-(s-1)L)` with
        :math:`L = \ln(1 + t/(\beta+T))`, so ``s = 1`` needs no special case."""
        x, tx, T = history(frequency, recency, T)
        r, alpha, s, beta = self._p(covariates, x.size)
        t = positive_times(t)
        L = np.log1p(t / (beta + T))
        p_alive = self.probability_alive(x, tx, T, covariates)
        return (r + x) / (alpha + T) * (beta + T) * L * exprel(-(s - 1.0) * L) * p_alive

    def expected_purchases_by_horizon(self, horizons, frequency, recency, T, covariates=None,
                                      weights=None) -> np.ndarray:
        """E[Y(t) | x, t_x, T] at several horizons, shape ``(customers, horizons)``: the same as one
        :meth:`expected_purchases` call per horizon, with P(alive) (the costly part) computed once.
        With ``weights`` (one per horizon): ``sum_j w_j E[Y(t_j) | x, t_x, T]``, shape ``(customers,)``."""
        x, tx, T = history(frequency, recency, T)
        r, alpha, s, beta = self._p(covariates, x.size)
        horizons = positive_times(horizons, "horizons")
        rate = (r + x) / (alpha + T) * (beta + T) * self.probability_alive(x, tx, T, covariates)
        L = np.log1p(horizons[None, :] / (beta + T)[:, None])
        table = L * exprel(-(s - 1.0) * L)
        if weights is not None:
            return rate * (table @ horizon_weights(weights, horizons.size))
        return rate[:, None] * table

    def expected_purchases_new(self, t, covariates=None) -> np.ndarray:
        r"""E[X(t)] = :math:`\frac{r\beta}{\alpha(s-1)}[1-(\frac{\beta}{\beta+t})^{s-1}]` (FHL 2005 note, eq. 17), via ``exprel``."""
        t = positive_times(t)
        r, alpha, s, beta = self._p(covariates)
        L = np.log1p(t / beta)
        return r / alpha * beta * L * exprel(-(s - 1.0) * L)

    def purchase_probability(self, n, t, covariates=None) -> np.ndarray:
        r"""P(X(t) = n) for a new customer.

        Alive at ``t`` with ``n`` purchases, or died at ``tau < t`` after ``n``:

        .. math::
            NB(n; r, \tfrac{\alpha}{\alpha+t})\Big(\frac{\beta}{\beta+t}\Big)^s
            + \int_0^t \frac{s\beta^s}{(\beta+\tau)^{s+1}}\,NB(n; r, \tfrac{\alpha}{\alpha+\tau})\,d\tau

        (the mixture behind FHL 2005 note, eq. 20); the integral is evaluated
        by 128-node Gauss-Legendre quadrature in ``w = tau / (alpha + tau)``,
        where the integrand ``w^n (1-w)^(r-2) (beta+tau)^-(s+1)`` is smooth.
        """
        r, alpha, s, beta = self._p(covariates)
        n = as_float_array(n, "n")
        t = positive_times(t)
        n, t, alpha, beta = np.broadcast_arrays(n, t, alpha, beta)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise SchemaError("n must be a whole number >= 0")
        from scipy import stats  # here, not at the top: scipy.stats takes a second to import

        alive = stats.nbinom.pmf(n, r, alpha / (alpha + t)) * np.exp(s * (np.log(beta) - np.log(beta + t)))
        # in w = tau / (alpha + tau): NB(n) = C (1-w)^r w^n and dtau = alpha dw / (1-w)^2,
        # a smooth integrand on [0, t / (alpha + t)] (Gauss-Legendre, 128 nodes)
        w_t = (t / (alpha + t))[:, None]
        w = 0.5 * w_t * (_U_NODES + 1.0)[None, :]
        tau = alpha[:, None] * w / (1.0 - w)
        log_c = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + np.log(alpha) + np.log(s) + s * np.log(beta)
        with np.errstate(divide="ignore"):
            log_inner = log_c[:, None] + n[:, None] * np.log(w) + (r - 2.0) * np.log1p(-w) - (s + 1.0) * np.log(beta[:, None] + tau)
        dead = 0.5 * w_t[:, 0] * np.sum(_U_WEIGHTS[None, :] * np.exp(log_inner), axis=1)
        return alive + np.where(t > 0, dead, 0.0)

    def discounted_expected_purchases(self, frequency, recency, T, discount_rate, horizon=None, covariates=None) -> np.ndarray:
        r"""DERT, discounted expected residual transactions, with ``delta = ln(1 + d)``.

        Infinite horizon, closed form (FHL 2005 "RFM and CLV", eq. 2), with
        :math:`\Psi` Tricomi's confluent hypergeometric function of the second kind:

        .. math::
            \mathrm{DERT} = \frac{\alpha^r\beta^s\delta^{s-1}\Gamma(r+x+1)\,
            \Psi(s, s; \delta(\beta+T))}{\Gamma(r)(\alpha+T)^{r+x+1}\,L(r,\alpha,s,\beta\mid x,t_x,T)}

        Finite horizon ``H``: Gauss-Legendre quadrature of
        :math:`\int_0^H e^{-\delta t} P(\text{alive})\frac{r+x}{\alpha+T}(\frac{\beta+T}{\beta+T+t})^s dt`.
        """
        x, tx, T = history(frequency, recency, T)
        r, alpha, s, beta = self._p(covariates, x.size)
        delta, H = discount_rate_delta(discount_rate, horizon)
        p_alive = self.probability_alive(x, tx, T, covariates)
        if np.isfinite(H):
            def rate(t):
                return ((r + x) / (alpha + T))[:, None] * np.exp(-s * np.log1p(t / (beta + T)[:, None]))

            return p_alive * discounted_integral(rate, beta + T, delta, H)
        # P(alive) / L-part: DERT = P(alive) (r+x)/(alpha+T) * (beta+T)^s delta^(s-1) Psi(s, s; delta(beta+T)),
        # Psi evaluated once per distinct beta + T (a few hundred among a million customers)
        scaled, where = np.unique(delta * (beta + T), return_inverse=True)
        log_u = np.log(hyperu(s, s, scaled))[where.ravel()]
        return p_alive * (r + x) / (alpha + T) * np.exp(s * np.log(beta + T) + (s - 1.0) * np.log(delta) + log_u)

    # ------------------------------------------------------------- simulation
    def _simulated(self, n_customers, T, seed, covariates=None):
        n = int(n_customers)
        r, alpha, s, beta = self._p(covariates, n)
        if n <= 0:
            raise SchemaError("n_customers must be positive")
        T = np.broadcast_to(positive_times(T, "T"), (n,)).astype(float)
        rng = np.random.default_rng(seed)
        lam = rng.gamma(r, 1.0 / alpha, n)
        mu = rng.gamma(s, 1.0 / beta, n)
        window = np.minimum(rng.exponential(1.0, n) / np.maximum(mu, 1e-300), T)
        return rng, T, window, rng.poisson(lam * window)

    def simulate(self, n_customers: int, T, seed=None, covariates=None) -> pd.DataFrame:
        """Draw ``(frequency, recency, T)`` summaries from the generative process (per-customer
        ``alpha_i``, ``beta_i`` when the model has covariates)."""
        rng, T, window, x = self._simulated(n_customers, T, seed, covariates)
        rec = np.where(x > 0, window * rng.beta(np.maximum(x, 1), 1.0), 0.0)
        return pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})

    def simulate_events(self, n_customers: int, T, seed=None, covariates=None) -> pd.DataFrame:
        """Draw repeat-purchase times in (0, T_i] per customer: DataFrame[customer, t]."""
        rng, T, window, x = self._simulated(n_customers, T, seed, covariates)
        owner, times = order_statistic_times(rng, x, x, window)
        return frame_of_events(owner, times)
