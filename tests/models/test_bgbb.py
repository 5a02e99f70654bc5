"""BG/BB: published figures on the donations data, independent references, and bad data.

Published figures: Fader, Hardie & Shang (2010), "Customer-base analysis in a
discrete-time noncontractual setting", Marketing Science 29(6) — 11,104 donors of
the 1995 cohort, 6 yearly opportunities (1996-2001).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import cvm
from cvm.errors import NotFittedError, SchemaError
from cvm.models.base import BoundaryWarning
from cvm.models.bgbb import BGBB

DONATIONS = Path(cvm.__file__).parent / "data" / "datasets" / "donations.csv"
PUBLISHED = dict(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return pd.read_csv(DONATIONS)


@pytest.fixture(scope="module")
def fitted(donations) -> BGBB:
    return BGBB().fit(donations)


@pytest.fixture(scope="module")
def published() -> BGBB:
    return BGBB.from_params(**PUBLISHED)


def test_donations_fit_matches_the_paper(donations, fitted):
    assert donations["weights"].sum() == 11104
    # FHS (2010), section 4: alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4)
    assert fitted.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)  # the paper's one decimal
    assert fitted.converged_ and fitted.n_customers_ == 11104
    assert np.all(np.isfinite(fitted.stderr_)) and np.all(fitted.stderr_ > 0)


def test_frame_with_n_periods_column_and_explicit_weights_agree(donations, fitted):
    frame = donations.rename(columns={"periods": "n_periods"}).drop(columns="weights")
    again = BGBB().fit(frame, weights=donations["weights"])
    assert np.allclose(again.params_, fitted.params_, rtol=1e-6)


def test_probability_alive_matches_the_paper(published):
    # FHS (2010): P(alive in 2002) for the 1995 cohort, eq. (11):
    # 0.11 for x = 0, 0.59 for (x = 2, t_x = 4), 0.93 for (x = 6, t_x = 6), n = 6
    p = published.probability_alive([0, 2, 6], [0, 4, 6], 6)
    assert p == pytest.approx([0.11, 0.59, 0.93], abs=0.005)


def _plain_likelihood_parts(params, x, tx, n, k_max=400, discount=0.10):
    """Independent reference by one-dimensional numerical integration over p and theta.

    Given (p, theta) the probability of a history (x, t_x, n) is
    p^x (1-p)^(n-x) (1-theta)^n                                  (alive through n)
    + sum_{i=0}^{n-t_x-1} p^x (1-p)^(t_x-x+i) theta (1-theta)^(t_x+i)  (died after t_x+i),
    and a purchase at n+k needs p and survival through n+k. Each term factorises in
    p and theta, so every mixing integral is a product of two 1-d quadratures.
    """
    a, b, g, d = params["alpha"], params["beta"], params["gamma"], params["delta"]

    def moment_p(i, j):  # E[p^i (1-p)^j], p ~ Beta(a, b)
        return integrate.quad(lambda p: p**i * (1 - p) ** j * stats.beta.pdf(p, a, b), 0, 1, limit=200)[0]

    def moment_theta(func):  # E[func(theta)], theta ~ Beta(g, d)
        return integrate.quad(lambda t: func(t) * stats.beta.pdf(t, g, d), 0, 1, limit=400, points=[1e-6, 1e-3])[0]

    likelihood = moment_p(x, n - x) * moment_theta(lambda t: (1 - t) ** n)
    for i in range(n - tx):
        likelihood += moment_p(x, tx - x + i) * moment_theta(lambda t, i=i: t * (1 - t) ** (tx + i))
    k = np.arange(1, k_max + 1)
    discounted_alive = moment_theta(lambda t: float(np.sum((1 - t) ** (n + k) / (1 + discount) ** k)))
    dert = moment_p(x + 1, n - x) * discounted_alive / likelihood
    return likelihood, dert


@pytest.mark.parametrize("x, tx", [(0, 0), (3, 4), (6, 6)])
def test_likelihood_and_dert_match_numerical_integration(published, x, tx):
    likelihood, dert = _plain_likelihood_parts(PUBLISHED, x, tx, 6)
    ll = published._log_likelihood(published._theta, {
        "frequency": np.array([x], float), "recency": np.array([tx], float), "n_periods": np.array([6.0])
    })
    assert math.exp(ll[0]) == pytest.approx(likelihood, rel=1e-6)
    assert published.discounted_expected_purchases(x, tx, 6, 0.10)[0] == pytest.approx(dert, rel=1e-5)


def test_dert_equals_the_discounted_sum_of_expected_purchase_increments(published):
    # DERT = sum_k (E[X(n, n+k)] - E[X(n, n+k-1)]) / (1+d)^k, truncated far out
    x, tx, n = np.array([0, 1, 3, 5]), np.array([0, 1, 5, 6]), np.array([6, 6, 6, 6])
    k = np.arange(0, 600)
    cumulative = np.array([published.expected_purchases(float(kk), x, tx, n) for kk in k])
    increments = np.diff(cumulative, axis=0)
    plain = np.sum(increments / 1.1 ** k[1:, None], axis=0)
    assert published.discounted_expected_purchases(x, tx, n, 0.10) == pytest.approx(plain, rel=1e-8)
    # a finite horizon of H opportunities keeps the first H increments
    finite = np.sum(increments[:5] / 1.1 ** k[1:6, None], axis=0)
    assert published.discounted_expected_purchases(x, tx, n, 0.10, horizon=5) == pytest.approx(finite, rel=1e-10)
    # undiscounted, a finite horizon is the conditional expectation itself
    assert published.discounted_expected_purchases(x, tx, n, 0.0, horizon=5) == pytest.approx(
        published.expected_purchases(5, x, tx, n), rel=1e-10
    )


def test_new_customer_expectation_equals_the_mean_of_its_distribution(published):
    # eq. (7) against the mean of eq. (8): two different formulas for the same number
    for t in (1, 6, 11):
        probs = published.purchase_probability(np.arange(t + 1), t)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        assert published.expected_purchases_new(t)[0] == pytest.approx(np.dot(np.arange(t + 1), probs), rel=1e-10)
    assert published.purchase_probability(7, 6)[0] == 0.0


def test_gamma_equal_to_one_uses_the_limit():
    at_one = BGBB.from_params(alpha=1.0, beta=1.0, gamma=1.0, delta=2.0)
    near = BGBB.from_params(alpha=1.0, beta=1.0, gamma=1.0 + 1e-6, delta=2.0)
    assert at_one.expected_purchases_new(10)[0] == pytest.approx(near.expected_purchases_new(10)[0], rel=1e-5)
    assert at_one.expected_purchases(5, 2, 4, 6)[0] == pytest.approx(near.expected_purchases(5, 2, 4, 6)[0], rel=1e-5)


def _lifetimes_bgbb(params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoBetaBinomFitter
    oracle = BetaGeoBetaBinomFitter()
    oracle.params_ = pd.Series(params, index=["alpha", "beta", "gamma", "delta"])
    return oracle


def test_agrees_with_lifetimes_on_random_histories():
    rng = np.random.default_rng(3)
    for _ in range(3):
        params = dict(zip(["alpha", "beta", "gamma", "delta"], rng.uniform(0.3, 4.0, 4)))
        ours, oracle = BGBB.from_params(**params), _lifetimes_bgbb(params)
        n = rng.integers(1, 15, 50)
        tx = rng.integers(0, n + 1)
        x = np.where(tx > 0, rng.integers(1, np.maximum(tx, 1) + 1), 0)
        for future in (1, 5):
            assert ours.expected_purchases(future, x, tx, n) == pytest.approx(
                oracle.conditional_expected_number_of_purchases_up_to_time(future, x, tx, n), rel=1e-6
            )
        assert ours.probability_alive(x, tx, n) == pytest.approx(oracle.conditional_probability_alive(1, x, tx, n), rel=1e-6)
        ll = ours._log_likelihood(ours._theta, {"frequency": x * 1.0, "recency": tx * 1.0, "n_periods": n * 1.0})
        # lifetimes' likelihood is off by up to ~1e-7 (relative) when t_x = n; the exact
        # value (mpmath, 50 digits, eq. 5 term by term) decides, see the next test
        assert ll == pytest.approx(oracle._loglikelihood(oracle.params_.to_numpy(), x, tx, n), rel=1e-6)


def test_likelihood_matches_high_precision_evaluation():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    params = dict(alpha=0.6169, beta=1.1762, gamma=3.2647, delta=2.4540)
    a, b, g, d = (mpmath.mpf(v) for v in params.values())
    B = mpmath.beta
    ours = BGBB.from_params(**params)
    for x, tx, n in [(5, 11, 11), (0, 0, 14), (3, 7, 12), (1, 1, 1)]:
        exact = B(a + x, b + n - x) / B(a, b) * B(g, d + n) / B(g, d) + sum(
            B(a + x, b + tx - x + i) / B(a, b) * B(g + 1, d + tx + i) / B(g, d) for i in range(n - tx)
        )
        row = {"frequency": np.array([x], float), "recency": np.array([tx], float), "n_periods": np.array([n], float)}
        assert ours._log_likelihood(ours._theta, row)[0] == pytest.approx(float(mpmath.log(exact)), rel=1e-12)


def test_exact_gradient_matches_central_differences(donations):
    model = BGBB()
    data = {
        "frequency": donations["frequency"].to_numpy(float),
        "recency": donations["recency"].to_numpy(float),
        "n_periods": donations["periods"].to_numpy(float),
    }
    theta = np.array([0.9, 1.3, 0.5, 3.1])
    exact = model._gradient(theta, data)
    for j in range(4):
        h = np.zeros(4)
        h[j] = 1e-6
        numeric = (model._log_likelihood(theta + h, data) - model._log_likelihood(theta - h, data)) / 2e-6
        assert exact[:, j] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_recovers_parameters_from_simulated_data(published):
    sim = published.simulate(20000, 8, seed=11)
    assert list(sim.columns) == ["frequency", "recency", "n_periods"]
    assert np.all(sim["frequency"] <= sim["recency"]) and np.all(sim["recency"] <= 8)
    back = BGBB().fit(sim)
    for name, value in PUBLISHED.items():
        z = (back.params_[name] - value) / back.stderr_[name]
        assert abs(z) < 4, f"{name}: {back.params_[name]:.3f} vs {value}"


@pytest.mark.parametrize(
    "x, tx, n, message",
    [
        ([1, 2], [3, 7], [6, 6], "recency exceeds n_periods"),
        ([4], [3], [6], "frequency exceeds recency"),
        ([0], [2], [6], "recency 0"),
        ([1.5], [2], [6], "whole numbers"),
        ([-1], [0], [6], "negative"),
        ([0], [0], [0], "at least 1"),
    ],
)
def test_impossible_histories_are_refused(x, tx, n, message):
    with pytest.raises(SchemaError, match=message):
        BGBB().fit(x, tx, n)
    with pytest.raises(SchemaError, match=message):
        BGBB.from_params(**PUBLISHED).probability_alive(x, tx, n)


def test_frame_without_periods_is_refused():
    with pytest.raises(SchemaError, match="n_periods"):
        BGBB().fit(pd.DataFrame({"frequency": [1], "recency": [1]}))


def test_prediction_before_fit_raises():
    with pytest.raises(NotFittedError):
        BGBB().expected_purchases(1, [1], [1], [6])


def _fit_degenerate(*args, **kwargs):
    """Fit and return (model, warnings); the parameters must be finite, never NaN."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BGBB().fit(*args, **kwargs)
    assert np.all(np.isfinite(model.params_)) and np.isfinite(model.log_likelihood_)
    return model, caught


def test_data_without_repeat_buying_or_without_churn_are_refused():
    with pytest.raises(SchemaError, match="nobody made a repeat purchase"):
        BGBB().fit(np.zeros(50), np.zeros(50), np.full(50, 6))
    with pytest.raises(SchemaError, match="every customer bought at every opportunity"):
        BGBB().fit(np.full(50, 6), np.full(50, 6), np.full(50, 6))


@pytest.mark.parametrize(
    "x, tx, n",
    [
        ([2], [4], [6]),  # a single customer
        ([0, 0, 0, 1], [0, 0, 0, 1], [6, 6, 6, 6]),  # almost nobody comes back
    ],
)
def test_degenerate_data_warns_or_refuses_never_nan(x, tx, n):
    # both fit with parameters at the edge of their range: finite, and said so with a BoundaryWarning
    model, caught = _fit_degenerate(x, tx, n)
    assert any(issubclass(w.category, BoundaryWarning) for w in caught)
