"""Gamma-gamma spend model: the CDNOW figures, lifetimes as oracle, and bad spend data.

Published figures: Fader & Hardie (2013), "The gamma-gamma model of monetary value"
(note 025) on the 946 repeat customers of the CDNOW 1/10th sample (weeks 1-39):
p = 6.25, q = 3.74, gamma = 15.44, LL = -4055.92.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.errors import NotFittedError, SchemaError
from cvm.models.gamma_gamma import GammaGamma, IndependenceWarning

PUBLISHED = dict(p=6.25, q=3.74, gamma=15.44)


def _lifetimes_dir() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None:
        pytest.skip("lifetimes (test-only oracle) is not installed")
    return Path(spec.submodule_search_locations[0])


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    # test-only: the monetary values ship in the lifetimes wheel (columns ID, x, t_x, T, zbar)
    raw = pd.read_csv(_lifetimes_dir() / "datasets" / "cdnow_customers_summary_with_transactions.csv")
    return pd.DataFrame({"frequency": raw["x"], "recency": raw["t_x"], "T": raw["T"], "monetary_value": raw["zbar"]})


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return lifetimes


def test_cdnow_fit_matches_fader_hardie(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndependenceWarning)  # r = 0.11 on CDNOW: no warning
        m = GammaGamma().fit(cdnow)
    assert m.params_["p"] == pytest.approx(6.25, abs=0.005)
    assert m.params_["q"] == pytest.approx(3.74, abs=0.005)
    assert m.params_["gamma"] == pytest.approx(15.44, abs=0.01)
    # the optimum to more digits, and its log-likelihood, from the oracle: lifetimes' own fit and its
    # (mean, negative) log-likelihood at our estimates
    repeat = cdnow[cdnow["frequency"] > 0]
    x, spend = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)
    oracle = _lifetimes().GammaGammaFitter().fit(x, spend)
    assert m.params_.to_numpy() == pytest.approx(oracle.params_.to_numpy(), rel=1e-5)
    theirs = -x.size * _lifetimes().GammaGammaFitter._negative_log_likelihood(np.log(m.params_.to_numpy()), x, spend, np.ones_like(x), 0.0)
    assert m.log_likelihood_ == pytest.approx(theirs, rel=1e-10)
    # the figure the engine issue quotes (log-likelihood on the density of the mean spend): -4055.92
    assert m.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
    assert m.n_customers_ == 946 and m.n_excluded_ == 2357 - 946
    assert m.summary().to_dict()["n_excluded_one_time_buyers"] == 1411
    assert np.all(np.isfinite(m.stderr_)) and np.all(m.stderr_ > 0)


def test_expected_spend_matches_lifetimes_on_random_customers():
    GammaGammaFitter = _lifetimes().GammaGammaFitter
    rng = np.random.default_rng(8)
    for _ in range(3):
        p, q, g = rng.uniform(0.5, 8), rng.uniform(1.2, 6), rng.uniform(1, 40)
        oracle = GammaGammaFitter()
        oracle.params_ = pd.Series([p, q, g], index=["p", "q", "v"])
        x = rng.integers(1, 30, 40)
        m = rng.gamma(2.0, 20.0, 40)
        ours = GammaGamma.from_params(p=p, q=q, gamma=g)
        assert ours.expected_spend(x, m) == pytest.approx(oracle.conditional_expected_average_profit(x, m), rel=1e-12)
        assert ours.expected_spend(0, 0.0)[0] == pytest.approx(ours.expected_spend_new(), rel=1e-12)
        assert ours.expected_spend_new() == pytest.approx(p * g / (q - 1))


def test_log_likelihood_matches_lifetimes(cdnow):
    GammaGammaFitter = _lifetimes().GammaGammaFitter
    repeat = cdnow[cdnow["frequency"] > 0]
    x, m = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)
    theta = np.array([5.0, 3.0, 12.0])
    ours = GammaGamma()._log_likelihood(theta, {"frequency": x, "monetary_value": m}).mean()
    # lifetimes returns the mean negative log-likelihood of log-parameters (no penalty at 0)
    theirs = -GammaGammaFitter._negative_log_likelihood(np.log(theta), x, m, np.ones_like(x), 0.0)
    assert ours == pytest.approx(theirs, rel=1e-10)


class _LifetimesPurchases:
    """Our purchase-model interface (expected_purchases) over a lifetimes BG/NBD oracle."""

    def __init__(self, oracle):
        self.oracle = oracle

    def expected_purchases(self, t, frequency, recency, T):
        return np.asarray(self.oracle.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T))


def test_customer_lifetime_value_matches_lifetimes(cdnow):
    lt = _lifetimes()
    bg = lt.BetaGeoFitter()
    bg.params_ = pd.Series([0.243, 4.414, 0.793, 2.426], index=["r", "alpha", "a", "b"])  # F, H & L (2005) BG/NBD, weeks
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time
    gg = lt.GammaGammaFitter()
    gg.params_ = pd.Series([6.25, 3.74, 15.44], index=["p", "q", "v"])
    sample = cdnow.iloc[:60]
    theirs = gg.customer_lifetime_value(
        bg, sample["frequency"], sample["recency"], sample["T"], sample["monetary_value"], time=6, discount_rate=0.01, freq="W"
    )
    ours = GammaGamma.from_params(**PUBLISHED).customer_lifetime_value(
        _LifetimesPurchases(bg), sample["frequency"], sample["recency"], sample["T"], sample["monetary_value"],
        time=6, discount_rate=0.01, period_length=4.345,
    )
    assert ours == pytest.approx(theirs.to_numpy(), rel=1e-10)


@pytest.mark.parametrize("purchase_model", ["BGNBD", "ParetoNBD"])
def test_customer_lifetime_value_with_cvm_purchase_models_matches_lifetimes(cdnow, purchase_model):
    # cvm's models answer all horizons at once (expected_purchases_by_horizon); lifetimes loops one
    # horizon at a time with its own conditional expectation at the same parameters (oracle)
    from cvm.models import BGNBD, ParetoNBD

    lt = _lifetimes()
    if purchase_model == "BGNBD":
        params = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)  # F, H & L (2005) BG/NBD, weeks
        oracle, ours_model = lt.BetaGeoFitter(), BGNBD.from_params(**params)
    else:
        params = dict(r=0.553, alpha=10.578, s=0.606, beta=11.669)  # F, H & L (2005) Pareto/NBD on CDNOW
        oracle, ours_model = lt.ParetoNBDFitter(), ParetoNBD.from_params(**params)
    oracle.params_ = pd.Series(params)
    oracle.predict = oracle.conditional_expected_number_of_purchases_up_to_time
    gg = lt.GammaGammaFitter()
    gg.params_ = pd.Series([6.25, 3.74, 15.44], index=["p", "q", "v"])
    sample = pd.concat([cdnow.iloc[:80], cdnow.iloc[:20]])  # repeated histories share their table rows
    theirs = gg.customer_lifetime_value(
        oracle, sample["frequency"], sample["recency"], sample["T"], sample["monetary_value"], time=6, discount_rate=0.01, freq="W"
    )
    ours = GammaGamma.from_params(**PUBLISHED).customer_lifetime_value(
        ours_model, sample["frequency"], sample["recency"], sample["T"], sample["monetary_value"],
        time=6, discount_rate=0.01, period_length=4.345,
    )
    assert ours == pytest.approx(theirs.to_numpy(), rel=1e-8)


def test_exact_gradient_matches_central_differences(cdnow):
    repeat = cdnow[cdnow["frequency"] > 0]
    data = {"frequency": repeat["frequency"].to_numpy(float), "monetary_value": repeat["monetary_value"].to_numpy(float)}
    m = GammaGamma()
    theta = np.array([4.0, 2.5, 20.0])
    exact = m._gradient(theta, data)
    for j in range(3):
        h = np.zeros(3)
        h[j] = 1e-6
        numeric = (m._log_likelihood(theta + h, data) - m._log_likelihood(theta - h, data)) / 2e-6
        assert exact[:, j] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_simulated_amounts_come_in_customer_order_and_recover_the_parameters():
    truth = GammaGamma.from_params(**PUBLISHED)
    counts = np.array([3, 0, 2])
    amounts = truth.simulate_amounts(counts, seed=1)
    assert amounts.shape == (5,) and np.all(amounts > 0)
    assert np.array_equal(amounts, truth.simulate_amounts(counts, seed=1))
    rng = np.random.default_rng(2)
    sim = truth.simulate(rng.integers(0, 12, 6000), seed=3)
    assert np.all(sim.loc[sim["frequency"] == 0, "monetary_value"] == 0)
    back = GammaGamma().fit(sim)
    for name, value in PUBLISHED.items():
        assert abs(back.params_[name] - value) < 4 * back.stderr_[name], name


@pytest.mark.filterwarnings("ignore::cvm.models.base.CvmWarning")  # eight rows identify little
def test_zero_or_negative_spend_of_repeat_customers_is_refused_with_a_hint():
    with pytest.raises(SchemaError, match="zero or negative monetary_value") as err:
        GammaGamma().fit([1, 2, 3], [10.0, -4.0, 12.0])
    assert "returns" in str(err.value)
    with pytest.raises(SchemaError, match="zero or negative"):
        GammaGamma().fit([1, 2, 3], [10.0, 0.0, 12.0])
    # one-time buyers carry monetary_value 0 in lifetimes' summaries: that is fine
    m = GammaGamma().fit([0, 0, 1, 2, 3, 4, 2, 1], [0.0, 0.0, 10.0, 22.0, 12.0, 30.0, 8.0, 15.0])
    assert m.n_excluded_ == 2


def test_only_one_time_buyers_is_refused():
    with pytest.raises(SchemaError, match="no repeat customers"):
        GammaGamma().fit([0, 0, 0], [0.0, 0.0, 0.0])


@pytest.mark.filterwarnings("ignore::cvm.models.base.BoundaryWarning")
def test_correlated_frequency_and_spend_warns():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 20, 500)
    m = 5.0 * x * rng.gamma(20.0, 1 / 20.0, 500)  # spend grows with frequency
    with pytest.warns(IndependenceWarning, match="correlated"):
        GammaGamma().fit(x, m)


@pytest.mark.parametrize(
    "x, m, message",
    [
        ([1, np.nan], [10.0, 12.0], "missing"),
        ([-1, 2], [10.0, 12.0], "negative"),
        ([1, 2], [10.0], "2 values and monetary_value 1"),
    ],
)
def test_bad_input_is_refused(x, m, message):
    with pytest.raises(SchemaError, match=message):
        GammaGamma().fit(x, m)


def test_infinite_population_mean_and_not_fitted():
    with pytest.raises(SchemaError, match="infinite"):
        GammaGamma.from_params(p=2.0, q=0.9, gamma=10.0).expected_spend_new()
    with pytest.raises(NotFittedError):
        GammaGamma().expected_spend([1], [10.0])


def test_spend_without_spread_or_too_few_customers_is_refused():
    with pytest.raises(SchemaError, match="too few"):
        GammaGamma().fit([3, 0], [25.0, 0.0])  # a single repeat customer
    with pytest.raises(SchemaError, match="too few"):
        GammaGamma().fit([2, 3], [20.0, 30.0])
    with pytest.raises(SchemaError, match="same mean spend"):
        GammaGamma().fit(np.full(40, 2), np.full(40, 25.0))  # no spread between customers
