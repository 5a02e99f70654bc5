"""Discounted expected residual purchases (DERT) of the BG/NBD family on a shared grid per purchase count.

The infinite-horizon DERT evaluates the alive purchase rate (a 2F1) once per purchase count, on a grid
shared by the customers with that count (:func:`cvm.models.histories.discounted_laplace`), instead of
once per customer and node. Two independent references:

* ``MPMATH``: computed with mpmath at 30 digits by the script below (run once; the numbers pasted here),
  the full DERT including P(alive), from the formulas of FHL 2005 (eq. 11 for P(alive)) and
  Batislam et al. 2007 for the MBG/NBD, the rate written as Euler's integral ``2F1(m+1, a; a+bb; -t/A)``
  (not the code's Pfaff form), integrated by mpmath's tanh-sinh quadrature::

      import mpmath as mp
      mp.mp.dps = 30
      def dert(params, extra, x, tx, T, d):
          r, alpha, a, b = (mp.mpf(v) for v in params)
          x, tx, T, d = mp.mpf(x), mp.mpf(tx), mp.mpf(T), mp.mpf(d)
          m, A, bb = r + x, alpha + T, b + x + extra
          delta = mp.log1p(d)
          odds = (a / (b + x + extra - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x) if x + extra > 0 else 0
          f = lambda t: mp.exp(-delta * t) * m / A * mp.hyp2f1(m + 1, a, a + bb, -t / A)
          return mp.quad(f, [0, A, 10 * A, 100 * A, 1000 * A, mp.inf]) / (1 + odds)

* the per-customer quadrature the code used before (64-node Gauss-Legendre on each customer's own grid,
  cut where the discount falls below 1e-16): still the finite-horizon path, and a horizon beyond that
  cut integrates over exactly the same interval. The two agree to 1e-9 relative on every history.
"""

from __future__ import annotations

import numpy as np
import pytest

from cvm.models import BGNBD, MBGNBD

BG = {"r": 0.2461, "alpha": 4.6214, "a": 0.7878, "b": 2.4065}
MBG = {"r": 0.4673, "alpha": 6.3348, "a": 1.0013, "b": 2.3711}

# (x, t_x, T, discount rate per unit, DERT by mpmath)
MPMATH = {
    "BGNBD": [
        (0, 0, 70, 0.0018282846, 0.9279862174394719),
        (1, 30, 75, 0.0018282846, 1.973243783395814),
        (5, 60, 77, 0.0018282846, 9.1651455517911128),
        (40, 76, 78, 0.0018282846, 84.132245725486012),
        (2, 0.3, 0.5, 0.0018282846, 18.11023071377764),
        (3, 50, 400, 0.02, 0.0031792337083575659),
        (0, 0, 5, 0.0001, 10.344960812285222),
        (12, 10, 11, 0.5, 1.556544679162004),
    ],
    "MBGNBD": [
        (0, 0, 70, 0.0018282846, 0.67642971508991075),
        (1, 30, 75, 0.0018282846, 2.0305570936439661),
        (5, 60, 77, 0.0018282846, 7.7880544413644685),
        (40, 76, 78, 0.0018282846, 66.462931328725406),
        (2, 0.3, 0.5, 0.0018282846, 13.075969166139662),
        (3, 50, 400, 0.02, 0.0022734159637318261),
        (0, 0, 5, 0.0001, 7.2959036189360334),
        (12, 10, 11, 0.5, 1.3985708805371729),
    ],
}


@pytest.mark.parametrize("cls, params", [(BGNBD, BG), (MBGNBD, MBG)], ids=["BGNBD", "MBGNBD"])
def test_infinite_horizon_dert_matches_mpmath(cls, params):
    m = cls.from_params(**params)
    for x, tx, T, d, expected in MPMATH[cls.__name__]:
        assert m.discounted_expected_purchases(x, tx, T, d)[0] == pytest.approx(expected, rel=1e-9), (x, tx, T, d)
    # the same customers in one call (they share grids per purchase count)
    rows = np.array([c[:3] for c in MPMATH[cls.__name__] if c[3] == 0.0018282846], dtype=float)
    together = m.discounted_expected_purchases(rows[:, 0], rows[:, 1], rows[:, 2], 0.0018282846)
    expected = [c[4] for c in MPMATH[cls.__name__] if c[3] == 0.0018282846]
    assert together == pytest.approx(expected, rel=1e-9)


def _histories(n, seed, T_low=0.2, T_high=600.0):
    rng = np.random.default_rng(seed)
    T = np.exp(rng.uniform(np.log(T_low), np.log(T_high), n))      # ages over three orders of magnitude
    x = np.minimum(rng.negative_binomial(0.7, 0.2, n), 300).astype(float)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    return x, tx, T


@pytest.mark.parametrize("cls, params", [(BGNBD, BG), (MBGNBD, MBG), (BGNBD, {"r": 3.0, "alpha": 0.5, "a": 0.2, "b": 0.9}),
                                         (MBGNBD, {"r": 0.05, "alpha": 60.0, "a": 4.0, "b": 30.0})])
@pytest.mark.parametrize("d", [1e-4, 0.0018282846, 0.05, 0.8])
def test_shared_grid_agrees_with_the_per_customer_quadrature(cls, params, d):
    m = cls.from_params(**params)
    x, tx, T = _histories(1500, seed=7)
    shared = m.discounted_expected_purchases(x, tx, T, d)
    own_grid = m.discounted_expected_purchases(x, tx, T, d, horizon=1e15)  # cut at 37/delta: the same interval
    assert np.all(np.isfinite(shared)) and np.all(shared > 0)
    np.testing.assert_allclose(shared, own_grid, rtol=1e-9, atol=0)


def test_shared_grid_with_covariates_agrees_with_the_per_customer_quadrature():
    m = BGNBD(purchase_covariates=["z"], dropout_covariates=["z"])
    m.params_ = {**BG, "purchase[z]": 0.3, "dropout_a[z]": -0.2, "dropout_b[z]": 0.4}
    x, tx, T = _histories(500, seed=3)
    z = {"z": np.random.default_rng(4).normal(size=x.size)}
    shared = m.discounted_expected_purchases(x, tx, T, 0.01, covariates=z)
    own_grid = m.discounted_expected_purchases(x, tx, T, 0.01, horizon=1e15, covariates=z)
    np.testing.assert_allclose(shared, own_grid, rtol=1e-9, atol=0)
