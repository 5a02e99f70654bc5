"""Stable log 2F1 against mpmath's arbitrary-precision hypergeometric function."""

import mpmath
import numpy as np
import pytest

from cvm.models.special import log1mexp, log_hyp2f1, log_hyp2f1_grad

mpmath.mp.dps = 30


def _reference(a, b, c, z):
    return float(mpmath.log(mpmath.hyp2f1(a, b, c, z)))


# (a, b, c) families the purchase models use: Pareto/NBD tails, BG/NBD eq. 10, the DERT rate
CASES = []
for x in (0, 1, 7, 60, 500):
    for z in (0.0, 0.05, 0.5, 0.89, 0.93, 0.99, 0.9995):
        r, s, a, b = 0.55, 0.61, 0.79, 2.43
        CASES += [
            (r + s + x, s + 1, r + s + x + 1, z),
            (r + s + x, r + x, r + s + x + 1, z),
            (r + x, b + x, a + b + x - 1, z),
            (r + x + 1, b + x, a + b + x, z),
        ]
CASES += [(2.0, 1.0, 3.0, 0.95), (1.5, 2.5, 4.0, 0.97), (0.3, 0.2, 0.5, 0.999)]  # integer and near-integer c - a - b


@pytest.mark.parametrize("a,b,c,z", CASES)
def test_log_hyp2f1_matches_mpmath(a, b, c, z):
    ref = _reference(a, b, c, z)
    assert log_hyp2f1(a, b, c, z) == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_values_beyond_double_range_stay_finite():
    # 2F1(560, 501; 561; 0.999) ~ 1e1500: only its logarithm is representable
    val = log_hyp2f1(560.0, 501.0, 561.0, 0.999)
    assert np.isfinite(val) and val == pytest.approx(_reference(560.0, 501.0, 561.0, 0.999), rel=1e-9)


def test_vectorised_and_closed_form():
    z = np.array([0.0, 0.3, 0.6, 0.95])
    # 2F1(1, 1; 2; z) = -log(1 - z) / z
    expected = np.log(np.where(z > 0, -np.log1p(-z) / np.where(z > 0, z, 1), 1.0))
    assert np.allclose(log_hyp2f1(1.0, 1.0, 2.0, z), expected, rtol=1e-12)


@pytest.mark.parametrize("a,b,c,z", [(2.3, 1.7, 4.1, 0.4), (30.5, 1.6, 31.5, 0.7), (0.4, 12.0, 11.6, 0.2)])
def test_gradient_matches_mpmath_derivatives(a, b, c, z):
    _, g = log_hyp2f1_grad(a, b, c, z)
    f = lambda *p: mpmath.log(mpmath.hyp2f1(*p))  # noqa: E731
    ref = [
        mpmath.diff(lambda v: f(v, b, c, z), a),
        mpmath.diff(lambda v: f(a, v, c, z), b),
        mpmath.diff(lambda v: f(a, b, v, z), c),
        mpmath.diff(lambda v: f(a, b, c, v), z),
    ]
    assert np.allclose(g.ravel(), [float(v) for v in ref], rtol=1e-9, atol=1e-12)


def test_log1mexp_accurate_at_both_ends():
    x = np.array([-1e-12, -0.5, -50.0])
    ref = [float(mpmath.log(1 - mpmath.exp(v))) for v in x]
    assert np.allclose(log1mexp(x), ref, rtol=1e-12)
