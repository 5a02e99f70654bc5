"""Shifted-beta-geometric model: the published retention examples and their checks.

Published figures: Fader & Hardie (2007), "How to project customer retention",
J. Interactive Marketing 21(1) — survival of two cohorts of 1000 customers, years 0-7;
Fader & Hardie (2010), "Customer-base valuation in a contractual setting: the perils
of ignoring heterogeneity", Marketing Science 29(1) — DERL.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from cvm.errors import NotFittedError, SchemaError
from cvm.models.base import BoundaryWarning
from cvm.models.sbg import ShiftedBetaGeometric

# per cent of the cohort still active at the start of years 0..7 (F&H 2007, Table 1)
REGULAR = [100, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1]
HIGH_END = [100, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1]


@pytest.mark.parametrize("series, alpha, beta", [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)])
def test_cohort_fit_matches_fader_hardie_2007(series, alpha, beta):
    # F&H (2007): regular alpha = 0.704, beta = 1.182; high end alpha = 0.668, beta = 3.806
    m = ShiftedBetaGeometric().fit(survivors=series, cohort_size=1000)
    assert m.params_["alpha"] == pytest.approx(alpha, abs=6e-4)
    assert m.params_["beta"] == pytest.approx(beta, abs=6e-4)
    assert m.n_customers_ == pytest.approx(1000)
    assert np.all(np.isfinite(m.stderr_)) and np.all(m.stderr_ > 0)


def test_percentages_and_counts_give_the_same_estimates():
    counts = ShiftedBetaGeometric().fit(survivors=[10 * s for s in REGULAR])
    shares = ShiftedBetaGeometric().fit(survivors=[s / 100 for s in REGULAR])
    assert np.allclose(counts.params_, shares.params_, rtol=1e-6)
    # the log-likelihood scales with the cohort size; the standard errors with its square root
    assert counts.stderr_["alpha"] == pytest.approx(shares.stderr_["alpha"] / np.sqrt(1000), rel=1e-3)


def test_high_end_derl_after_seven_renewals_is_7_530():
    # F&H (2010): a high-end customer who has made 7 renewals (end of year 8, about to
    # decide on the 8th renewal), d = 10 %: DERL = 7.530 (payment of that renewal undiscounted)
    m = ShiftedBetaGeometric.from_params(alpha=0.668, beta=3.806)
    assert m.discounted_expected_residual_lifetime(7, 0.10)[0] == pytest.approx(7.530, abs=5e-4)


def test_derl_and_del_equal_plain_discounted_sums():
    # reference: DERL = sum_{t>=n} [S(t)/S(n-1)] / (1+d)^(t-n), n = renewals + 1,
    # DEL = sum_{t>=0} S(t) / (1+d)^t, truncated at 3000 terms, S from the Beta functions directly
    a, b, d = 0.704, 1.182, 0.10
    m = ShiftedBetaGeometric.from_params(alpha=a, beta=b)

    def S(t):
        return np.exp(betaln(a, b + t) - betaln(a, b))

    t = np.arange(0, 3000)
    assert m.discounted_expected_lifetime(d) == pytest.approx(np.sum(S(t) / (1 + d) ** t), rel=1e-9)
    for renewals in (0, 3, 7):
        n = renewals + 1
        tt = np.arange(n, n + 3000)
        plain = np.sum(S(tt) / S(n - 1) / (1 + d) ** (tt - n))
        assert m.discounted_expected_residual_lifetime(renewals, d)[0] == pytest.approx(plain, rel=1e-9)


def test_survival_churn_and_retention_are_consistent():
    m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    t = np.arange(1, 12)
    S = m.survival(np.arange(0, 12))
    assert S[0] == 1.0
    # P(T = t) = S(t-1) - S(t); r(t) = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1)  (F&H 2007, eq. 4)
    assert m.churn_probability(t) == pytest.approx(S[:-1] - S[1:], rel=1e-12)
    assert m.retention_rate(t) == pytest.approx(S[1:] / S[:-1], rel=1e-12)
    assert m.retention_rate(1)[0] == pytest.approx(1.182 / (0.704 + 1.182))
    assert np.all(np.diff(m.retention_rate(t)) > 0)  # retention rises as the cohort sorts itself
    assert m.churn_probability(0)[0] == 0.0


def test_projection_of_the_regular_cohort_matches_the_data():
    # F&H (2007), Figure 3: the fitted curve tracks years 1-7 closely (within 1 percentage point)
    m = ShiftedBetaGeometric().fit(survivors=REGULAR)
    assert 100 * m.survival(np.arange(8)) == pytest.approx(REGULAR, abs=1.0)


def test_individual_data_fit_equals_the_cohort_fit():
    counts = np.array([10 * s for s in HIGH_END])
    churned = -np.diff(counts)
    periods = np.concatenate([np.repeat(np.arange(1, 8), churned.astype(int)), np.full(int(counts[-1]), 7)])
    alive = np.concatenate([np.zeros(int(churned.sum())), np.ones(int(counts[-1]))])
    individual = ShiftedBetaGeometric().fit(periods, alive)
    cohort = ShiftedBetaGeometric().fit(survivors=counts)
    assert individual.n_customers_ == 1000
    assert np.allclose(individual.params_, cohort.params_, rtol=1e-6)
    assert individual.log_likelihood_ == pytest.approx(cohort.log_likelihood_, rel=1e-10)
    frame = ShiftedBetaGeometric().fit(pd.DataFrame({"periods": periods, "alive": alive}))
    assert np.allclose(frame.params_, cohort.params_, rtol=1e-6)


def test_exact_gradient_matches_central_differences():
    m = ShiftedBetaGeometric()
    data = {"periods": np.array([1, 2, 5, 7, 3, 0.0]), "alive": np.array([0, 0, 0, 1, 1, 1.0])}
    theta = np.array([0.8, 2.5])
    exact = m._gradient(theta, data)
    for j in range(2):
        h = np.zeros(2)
        h[j] = 1e-6
        numeric = (m._log_likelihood(theta + h, data) - m._log_likelihood(theta - h, data)) / 2e-6
        assert exact[:, j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_recovers_parameters_from_simulated_customers():
    truth = ShiftedBetaGeometric.from_params(alpha=0.9, beta=2.5)
    sim = truth.simulate(20000, 10, seed=5)
    assert set(sim["alive"]) <= {0, 1} and sim["periods"].between(1, 10).all()
    back = ShiftedBetaGeometric().fit(sim)
    for name, value in (("alpha", 0.9), ("beta", 2.5)):
        assert abs(back.params_[name] - value) < 4 * back.stderr_[name]


@pytest.mark.parametrize(
    "survivors, message",
    [
        ([100], "at least two values"),
        ([100, 80, 85], "must not increase"),
        ([0, 0], "start with"),
        ([100, -5], "non-negative"),
        ([100, np.nan], "missing"),
    ],
)
def test_bad_survival_series_is_refused(survivors, message):
    with pytest.raises(SchemaError, match=message):
        ShiftedBetaGeometric().fit(survivors=survivors)


@pytest.mark.parametrize(
    "periods, alive, message",
    [
        ([1, 2], [0, 2], "'alive' must be 1"),
        ([0, 2], [0, 1], "at least one period"),
        ([1.5, 2], [0, 1], "whole numbers"),
        ([-1, 2], [1, 1], "whole numbers"),
        ([1, 2], [0], "same length"),
    ],
)
def test_bad_individual_records_are_refused(periods, alive, message):
    with pytest.raises(SchemaError, match=message):
        ShiftedBetaGeometric().fit(periods, alive)


def test_misuse_and_not_fitted():
    with pytest.raises(SchemaError, match="either survivors"):
        ShiftedBetaGeometric().fit([1, 2], [0, 1], survivors=[10, 5])
    with pytest.raises(NotFittedError):
        ShiftedBetaGeometric().survival(3)
    m = ShiftedBetaGeometric.from_params(alpha=1.0, beta=2.0)
    with pytest.raises(SchemaError, match="discount_rate"):
        m.discounted_expected_lifetime(0)
    with pytest.raises(SchemaError, match="from period 1"):
        m.retention_rate(0)


@pytest.mark.parametrize(
    "survivors, message",
    [
        ([100, 100, 100, 100], "nobody churned"),
        ([1, 1], "nobody churned"),
        ([100, 0], "only one period"),
        ([100, 0, 0], "only one period"),
        ([2, 1], "only one period"),
    ],
)
def test_cohorts_without_churn_or_without_retention_are_refused(survivors, message):
    with pytest.raises(SchemaError, match=message):
        ShiftedBetaGeometric().fit(survivors=survivors)


@pytest.mark.parametrize(
    "survivors, first_period_churn",
    [
        # one churn, then nothing: the best sBG is a mix of "churn at once" (share 1/100) and "never churn"
        # (alpha, beta -> 0 with alpha/(alpha+beta) = 1/100); likelihood 0.01 * 0.99^99
        ([100, 99, 99, 99, 99], 1 / 100),
        # two customers, one churns at once, one survives both periods: the same mix with share w,
        # likelihood w (1 - w), largest at w = 1/2
        ([2, 1, 1], 1 / 2),
        # 99 churn in period 1, the last one in period 2: no heterogeneity (alpha, beta -> infinity),
        # one churn probability p with likelihood p^100 (1 - p), largest at p = 100/101
        ([100, 1, 0], 100 / 101),
    ],
)
def test_degenerate_cohorts_warn_and_reach_the_limit_by_hand(survivors, first_period_churn):
    # P(T = 1) = alpha / (alpha + beta) (F&H 2007, eq. 3); parameters at the edge of their range must
    # come with a BoundaryWarning and stay finite, never NaN
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ShiftedBetaGeometric().fit(survivors=survivors)
    assert np.all(np.isfinite(m.params_)) and np.isfinite(m.log_likelihood_)
    assert any(issubclass(w.category, BoundaryWarning) for w in caught)
    assert m.churn_probability(1)[0] == pytest.approx(first_period_churn, abs=1e-4)
