"""MBG/NBD (Batislam, Denizel & Filiztekin 2007) on CDNOW and against lifetimes' ModifiedBetaGeoFitter."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.models.mbgnbd import MBGNBD

CDNOW = Path(__file__).resolve().parents[2] / "src/cvm/data/datasets/cdnow_customers_summary.csv"
PARAMS = dict(r=0.525, alpha=6.183, a=0.891, b=1.614)


def _plain_log_likelihood(x, tx, T, r, alpha, a, b):
    """Batislam, Denizel & Filiztekin (2007) eq. 4, one customer at a time in plain math."""
    from math import lgamma, log

    head = lgamma(r + x) - lgamma(r) + r * log(alpha)
    beta_ratio = lgamma(a + b) + lgamma(b + x + 1) - lgamma(b) - lgamma(a + b + x + 1)
    bracket = (alpha + T) ** -(r + x) + a / (b + x) * (alpha + tx) ** -(r + x)
    return head + beta_ratio + log(bracket)


def test_cdnow_refit_agrees_with_lifetimes_and_plain_likelihood():
    # no paper publishes an MBG/NBD fit on CDNOW: the oracle is lifetimes' ModifiedBetaGeoFitter
    # on the same data, and the log-likelihood is recomputed customer by customer (eq. 4 above)
    lifetimes = pytest.importorskip("lifetimes")
    data = pd.read_csv(CDNOW)
    m = MBGNBD().fit(data)
    assert m.converged_
    oracle = lifetimes.ModifiedBetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    for name in ("r", "alpha", "a", "b"):
        assert m.params_[name] == pytest.approx(oracle.params_[name], rel=1e-4), name
    rows = zip(data["frequency"], data["recency"], data["T"])
    plain = sum(_plain_log_likelihood(x, tx, T, *m.params_[["r", "alpha", "a", "b"]]) for x, tx, T in rows)
    assert m.log_likelihood_ == pytest.approx(plain, rel=1e-10)
    # the refit log-likelihood the engine issue quotes for CDNOW: about -9582.13
    assert m.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)
    # PARAMS above are lifetimes' estimates rounded to three decimals
    assert m.params_[list(PARAMS)].to_numpy() == pytest.approx(list(PARAMS.values()), abs=6e-4)


def test_agrees_with_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.ModifiedBetaGeoFitter()
    oracle.params_ = pd.Series(PARAMS)
    m = MBGNBD.from_params(**PARAMS)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 25, 60).astype(float)
    T = rng.uniform(1, 80, 60)
    tx = np.where(x > 0, rng.uniform(0, 1, 60) * T, 0.0)
    assert np.allclose(m.probability_alive(x, tx, T), oracle.conditional_probability_alive(x, tx, T), rtol=1e-10)
    assert np.allclose(
        m.expected_purchases(26.0, x, tx, T), oracle.conditional_expected_number_of_purchases_up_to_time(26.0, x, tx, T), rtol=1e-8
    )
    t = np.array([1.0, 10.0, 78.0])
    assert np.allclose(m.expected_purchases_new(t), oracle.expected_number_of_purchases_up_to_time(t), rtol=1e-9)
    for n in (0, 1, 3):
        assert m.purchase_probability(n, 10.0)[0] == pytest.approx(oracle.probability_of_n_purchases_up_to_time(10.0, n), rel=1e-9)


def test_customers_without_repeats_may_be_gone_and_probabilities_sum_to_one():
    m = MBGNBD.from_params(**PARAMS)
    assert m.probability_alive(0, 0.0, 30.0)[0] < 1.0
    assert m.purchase_probability(np.arange(300), 30.0).sum() == pytest.approx(1.0, abs=1e-9)


def test_dert_without_discount_equals_expectation_and_simulation_mean():
    m = MBGNBD.from_params(**PARAMS)
    assert m.discounted_expected_purchases(3, 20.0, 30.0, 0.0, horizon=26)[0] == pytest.approx(m.expected_purchases(26, 3, 20.0, 30.0)[0], rel=1e-7)
    sim = m.simulate(20_000, T=30.0, seed=8)
    assert sim["frequency"].mean() == pytest.approx(m.expected_purchases_new(30.0)[0], abs=0.06)
