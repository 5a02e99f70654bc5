"""The backtest's bookkeeping, checked by hand with a model whose predictions are trivial.

A Poisson purchase process with rate lambda (no dropout) has
E[X(t)] = lambda t, E[Y(t) | history] = lambda t, P(alive) = 1 and
P(X(t) = n) = exp(-lambda t) (lambda t)^n / n!; its maximum-likelihood rate is
sum(x) / sum(T). With it every number of the backtest can be worked out on paper.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln

import cvm.models
import cvm.models.registry
from cvm.service import backtest as bt_module
from cvm.evaluation.backtest import BacktestData, BacktestResult, _choose, run_backtest
from cvm.models.base import LikelihoodModel
from cvm.value.explain import explain


class PoissonPurchases(LikelihoodModel):
    parameter_names = ("lam",)
    data_columns = ("frequency", "T")

    def fit(self, frequency, recency, T):
        return self._fit({"frequency": frequency, "T": T})

    def _log_likelihood(self, theta, data):
        lam = theta[0]
        return data["frequency"] * np.log(lam * data["T"]) - lam * data["T"] - gammaln(data["frequency"] + 1)

    def _gradient(self, theta, data):
        return (data["frequency"] / theta[0] - data["T"])[:, None]

    def _initial_values(self, data, weights):
        return np.array([0.5])

    def expected_purchases_new(self, t):
        return self._theta[0] * np.asarray(t, float)

    def expected_purchases(self, t, frequency, recency, T):
        return self._theta[0] * np.asarray(t, float) * np.ones(len(np.atleast_1d(frequency)))

    def probability_alive(self, frequency, recency, T):
        return np.ones(len(np.atleast_1d(frequency)))

    def purchase_probability(self, n, t):
        mu = self._theta[0] * np.asarray(t, float)
        return np.exp(-mu + n * np.log(mu) - gammaln(n + 1))


@pytest.fixture
def poisson_models(monkeypatch):
    # the backtest fits through cvm.fitting.fit_model, which finds a model by its registry entry
    monkeypatch.setitem(cvm.models.registry.MODELS, "bgnbd", cvm.models.registry.ModelSpec(
        "bgnbd", "PoissonPurchases", __name__, "purchase", "Poisson (test)"))


def tiny_data():
    # customer A: first purchase day 0, repeat on day 10 (calibration) and day 20 (holdout)
    # customer B: first purchase day 7, repeat on day 24 (holdout)
    # calibration = days 0..13 (14 days), holdout to day 27 (28 days); time unit week
    customers = pd.DataFrame(
        {
            "frequency": [1.0, 0.0],
            "recency": [10 / 7, 0.0],
            "T": [2.0, 1.0],
            "monetary_value": [0.0, 0.0],
            "frequency_holdout": [1.0, 1.0],
            "spend_holdout": [np.nan, np.nan],
            "duration_holdout": [2.0, 2.0],
            "first_offset": [0.0, 7.0],
        },
        index=pd.Index(["A", "B"], name="customer_id"),
    )
    return BacktestData(
        customers=customers, repeat_offsets=np.array([10.0, 20.0, 24.0]), origin=pd.Timestamp("2024-01-01"),
        calibration_days=14.0, end_days=28.0, time_unit="week",
        calibration_end=pd.Timestamp("2024-01-14"), holdout_end=pd.Timestamp("2024-01-28"),
    )


def test_tracking_and_holdout_totals_by_hand(poisson_models):
    result = run_backtest(tiny_data(), ["bgnbd"], "week")
    lam = 1 / 3  # MLE: sum x / sum T = 1 / (2 + 1)
    m = result.models["bgnbd"]
    assert m["params"]["lam"] == pytest.approx(lam, rel=1e-6)

    actual = result.tracking[result.tracking["series"] == "actual"]
    # period ends at day 7, 14, 21, 28: repeats before them 0, 1 (day 10), 2 (day 20), 3 (day 24)
    assert actual["cumulative"].tolist() == [0, 1, 2, 3]
    assert actual["incremental"].tolist() == [0, 1, 1, 1]
    assert actual["phase"].tolist() == ["calibration", "calibration", "holdout", "holdout"]
    assert actual["end"].iloc[0] == pd.Timestamp("2024-01-08")

    pred = result.tracking[result.tracking["series"] == "bgnbd"]
    # A is 1, 2, 3, 4 weeks old at the period ends, B 0, 1, 2, 3: lambda * (1+0, 2+1, 3+2, 4+3)
    assert pred["cumulative"].to_numpy() == pytest.approx(lam * np.array([1, 3, 5, 7]), rel=1e-6)

    # holdout: 2 actual purchases; each customer is expected to make lambda * 2 weeks
    assert m["holdout_actual"] == 2
    assert m["holdout_predicted"] == pytest.approx(4 * lam, rel=1e-6)
    # per customer errors: 1 - 2/3 for both
    assert m["mae_purchases"] == pytest.approx(1 / 3, rel=1e-6)
    assert m["rmse_purchases"] == pytest.approx(1 / 3, rel=1e-6)
    # holdout tracking from the calibration end: actual 1, 2; predicted 5/3 - 1, 7/3 - 1 -> both 1/3 off in relative terms
    assert m["tracking_error"] == pytest.approx(1 / 3, rel=1e-6)
    assert m["tracking_actual_end"] == 3
    assert m["tracking_predicted_end"] == pytest.approx(7 * lam, rel=1e-6)


def test_histogram_and_chi_square_by_hand(poisson_models):
    result = run_backtest(tiny_data(), ["bgnbd"], "week")
    lam = 1 / 3
    mu = np.array([2 * lam, 1 * lam])  # lambda * T of A and B
    pois = lambda n: np.sum(np.exp(-mu) * mu**n / math.factorial(n))  # noqa: E731
    expected = [pois(n) for n in range(7)]
    expected.append(2 - sum(expected))
    assert result.histogram["observed"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert result.histogram["bgnbd"].to_numpy() == pytest.approx(expected, rel=1e-6)
    observed = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    chi = np.sum((observed - np.array(expected)) ** 2 / np.array(expected))
    assert result.models["bgnbd"]["chi_square"] == pytest.approx(chi, rel=1e-6)
    assert result.models["bgnbd"]["chi_square_dof"] == 8 - 1 - 1


def test_conditional_table_and_json_contract(poisson_models):
    result = run_backtest(tiny_data(), ["bgnbd"], "week")
    cond = result.conditional
    assert cond.loc["0", "actual"] == 1 and cond.loc["1", "actual"] == 1
    assert cond.loc["0", "bgnbd"] == pytest.approx(2 / 3, rel=1e-6)
    d = result.to_dict()
    assert d["best"] == "bgnbd"
    # the reason as a code with its figures, and the English words for scripts
    assert d["reason_code"] in ("best_tracking_error", "tie_broken_by_bic", "lowest_bic_no_holdout")
    assert d["reason_values"]["model"] == "bgnbd"
    assert d["reason"] == explain(d["reason_code"], d["reason_values"], "en")
    assert set(d["models"]["bgnbd"]) >= {"holdout_actual", "holdout_predicted", "mae_purchases", "chi_square"}
    # NaN (empty frequency groups) becomes null, so the dict is valid JSON
    import json

    json.dumps(d, allow_nan=False)
    again = BacktestResult.from_payload(json.loads(json.dumps(result.to_payload())))
    assert again.best == "bgnbd"
    assert (again.reason_code, again.reason_values, again.reason) == (result.reason_code, d["reason_values"], result.reason)
    assert again.tracking["cumulative"].tolist() == result.tracking["cumulative"].tolist()
    # a result stored before reasons had codes gets its code back from the stored metrics
    legacy = {k: v for k, v in json.loads(json.dumps(result.to_payload())).items() if k not in ("reason_code", "reason_values")}
    old = BacktestResult.from_payload(legacy)
    assert (old.reason_code, old.reason_values) == (result.reason_code, d["reason_values"])


def test_choose_lowest_tracking_error_then_bic():
    a = {"tracking_error": 0.050, "bic": 100.0}
    b = {"tracking_error": 0.030, "bic": 120.0}
    c = {"tracking_error": 0.200, "bic": 10.0}
    best, code, values = _choose({"a": a, "b": b, "c": c})
    # a is within 1 percentage point? 0.05 - 0.03 = 0.02 > 0.01, so b wins outright
    assert best == "b" and code == "best_tracking_error"
    assert values == {"model": "b", "tracking_error": 0.03, "others": {"a": 0.05, "c": 0.2}}
    assert explain(code, values, "en") == ("B tracks the holdout's cumulative repeat transactions best "
                                           "(mean absolute error 3.0%; a 5.0%, c 20.0%)")
    # within the tolerance the lower BIC wins
    best, code, values = _choose({"a": {"tracking_error": 0.035, "bic": 100.0}, "b": b})
    assert best == "a" and code == "tie_broken_by_bic"
    assert values == {"models": ["a", "b"], "tolerance": 0.01, "errors": {"a": 0.035, "b": 0.03}, "model": "a", "bic": 100.0}
    assert "laagste BIC (100,0)" in explain(code, values, "nl")
    # no repeat purchases in the holdout: BIC alone
    best, code, values = _choose({"a": {"tracking_error": None, "bic": 100.0}, "b": {"tracking_error": None, "bic": 90.0}})
    assert (best, code, values) == ("b", "lowest_bic_no_holdout", {"model": "b", "bic": 90.0})
