"""The shared maximum-likelihood engine, checked on a model whose answers are known by hand.

The test model is a Poisson purchase rate: x purchases in an exposure of T,
log L = x log(lambda T) - lambda T - log x!.  Its MLE is lambda_hat = sum(x) / sum(T)
and the Fisher information gives se(lambda_hat) = sqrt(lambda_hat / sum(T)).
"""

import json
import warnings

import numpy as np
import pytest
from scipy.special import gammaln

from cvm.errors import NotFittedError, SchemaError
from cvm.models.base import BoundaryWarning, LikelihoodModel, compress, load_model


class PoissonRate(LikelihoodModel):
    parameter_names = ("lam",)
    data_columns = ("frequency", "T")

    def _log_likelihood(self, theta, data):
        lam = theta[0]
        x, T = data["frequency"], data["T"]
        return x * np.log(lam * T) - lam * T - gammaln(x + 1)

    def _gradient(self, theta, data):
        lam = theta[0]
        return (data["frequency"] / lam - data["T"])[:, None]

    def _initial_values(self, data, weights):
        return np.array([1.0])

    def fit(self, frequency, T=None, weights=None):
        return self._fit({"frequency": frequency, "T": T}, weights)


X = np.array([0, 1, 3, 2, 0, 5, 1, 1])
T = np.array([4.0, 2.0, 6.0, 5.0, 1.0, 8.0, 2.0, 2.0])


def test_mle_and_standard_error_match_hand_computation():
    m = PoissonRate().fit(X, T)
    lam_hat = X.sum() / T.sum()  # 13 / 30
    assert m.params_["lam"] == pytest.approx(lam_hat, rel=1e-7)
    assert m.stderr_["lam"] == pytest.approx(np.sqrt(lam_hat / T.sum()), rel=1e-4)
    expected_ll = np.sum(X * np.log(lam_hat * T) - lam_hat * T - gammaln(X + 1))
    assert m.log_likelihood_ == pytest.approx(expected_ll, rel=1e-10)
    assert m.converged_ and m.n_customers_ == 8


def test_weights_equal_repeated_rows_and_compression_counts_histories():
    # rows (1, 2.0) occur three times: compression must find 6 distinct histories
    cols, w, inverse = compress({"frequency": X, "T": T})
    assert len(w) == 6 and w.sum() == 8
    assert np.array_equal(cols["frequency"][inverse], X)
    expanded = PoissonRate().fit(np.repeat(X, 3), np.repeat(T, 3))
    weighted = PoissonRate().fit(X, T, weights=np.full(len(X), 3))
    assert weighted.params_["lam"] == pytest.approx(expanded.params_["lam"], rel=1e-8)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-10)


def test_interval_level_is_an_argument_and_intervals_are_on_log_scale():
    m = PoissonRate().fit(X, T)
    ci90, ci99 = m.confidence_intervals(0.90), m.confidence_intervals(0.99)
    lam = m.params_["lam"]
    se_z = m.stderr_["lam"] / lam  # delta method back to the log scale
    assert ci90.loc["lam", "lower"] == pytest.approx(lam * np.exp(-1.6448536 * se_z), rel=1e-6)
    assert ci99.loc["lam", "upper"] > ci90.loc["lam", "upper"] > lam > ci90.loc["lam", "lower"] > 0
    with pytest.raises(SchemaError):
        m.confidence_intervals(1.5)


def test_summary_renders_three_ways():
    s = PoissonRate().fit(X, T).summary(level=0.9)
    assert list(s.to_frame().columns) == ["estimate", "std_error", "lower_90", "upper_90"]
    assert "PoissonRate" in s.to_text() and "<table" in s.to_html()
    assert json.dumps(s.to_dict())


def test_save_load_roundtrip(tmp_path):
    m = PoissonRate(penalizer=0.0).fit(X, T)
    path = m.save(tmp_path / "m.json")
    payload = json.loads(path.read_text())
    assert payload["format"] == "cvm-model" and payload["version"] == 1
    back = load_model(path)
    assert isinstance(back, PoissonRate)
    assert back.params_["lam"] == m.params_["lam"]
    assert back.stderr_["lam"] == pytest.approx(m.stderr_["lam"])


def test_not_fitted_and_bad_input_give_clear_errors():
    with pytest.raises(NotFittedError):
        PoissonRate().summary()
    with pytest.raises(SchemaError, match="missing or infinite"):
        PoissonRate().fit([1, np.nan], [1, 2])
    with pytest.raises(SchemaError, match="same length"):
        PoissonRate().fit([1, 2], [1.0])
    with pytest.raises(SchemaError, match="no customers"):
        PoissonRate().fit([], [])
    with pytest.raises(SchemaError, match="penalizer"):
        PoissonRate(penalizer=-1)


def test_degenerate_data_warns_and_never_returns_nan():
    # nobody buys: the MLE of lambda is 0, at the edge of the parameter space
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = PoissonRate().fit(np.zeros(5), np.ones(5))
    assert any(issubclass(w.category, BoundaryWarning) for w in caught)
    assert np.all(np.isfinite(m.params_)) and np.isfinite(m.log_likelihood_)


def test_sampled_parameters_centre_on_the_estimate():
    m = PoissonRate().fit(np.repeat(X, 50), np.repeat(T, 50))
    draws = m.sample_parameters(4000, seed=1)
    assert draws.shape == (4000, 1)
    assert np.median(draws[:, 0]) == pytest.approx(m.params_["lam"], rel=0.01)
    assert np.std(np.log(draws[:, 0])) == pytest.approx(m.stderr_["lam"] / m.params_["lam"], rel=0.05)


def test_standard_errors_are_computed_on_first_use_only():
    # the Hessian costs 2k extra gradient passes: a fit used only for predictions skips it
    calls = []

    class Counting(PoissonRate):
        def _covariance(self, z, data, weights, total):
            calls.append(1)
            return super()._covariance(z, data, weights, total)

    m = Counting().fit(X, T)
    assert calls == []
    lam_hat = X.sum() / T.sum()
    assert m.stderr_["lam"] == pytest.approx(np.sqrt(lam_hat / T.sum()), rel=1e-4)
    m.summary()
    m.confidence_intervals(0.9)
    assert calls == [1]  # computed once, then kept
    assert PoissonRate.from_params(lam=0.5).stderr_.isna().all()
