"""The contract every cvm model keeps, checked in one loop over all model classes.

In the spirit of scikit-learn's ``parametrize_with_checks``: each model is fitted on
data simulated from the model itself, and must return ``self`` with finite
parameters and standard errors, predict arrays of the right shape, survive a
save/load round trip with identical predictions, validate ``from_params``,
refuse impossible input with :class:`SchemaError`, and raise
:class:`NotFittedError` before a fit.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

from cvm.errors import NotFittedError, SchemaError
from cvm.models.base import LikelihoodModel, load_model

N_CUSTOMERS = 1500


def _purchase_data(model, seed):
    """Continuous-time purchase models: histories over 39 weeks (some customers joined later)."""
    T = np.random.default_rng(seed).choice([26.0, 32.0, 39.0], N_CUSTOMERS)
    return model.simulate(N_CUSTOMERS, T, seed=seed)


def _purchase_predictions(model, d):
    f, r, T = d["frequency"], d["recency"], d["T"]
    return {
        "probability_alive": (lambda: model.probability_alive(f, r, T), len(d)),
        "expected_purchases": (lambda: model.expected_purchases(10.0, f, r, T), len(d)),
        "expected_purchases_new": (lambda: model.expected_purchases_new(np.array([1.0, 10.0, 52.0])), 3),
        "purchase_probability": (lambda: model.purchase_probability(np.array([0, 1, 2]), 39.0), 3),
        "discounted_expected_purchases": (lambda: model.discounted_expected_purchases(f, r, T, 0.01), len(d)),
    }


def _purchase_impossible(d):
    d = d.copy()
    d.loc[d.index[0], "recency"] = d.loc[d.index[0], "T"] + 1.0  # last purchase after the end of observation
    return d


def _bgbb_data(model, seed):
    return model.simulate(N_CUSTOMERS, 6, seed=seed)


def _bgbb_predictions(model, d):
    f, r, n = d["frequency"], d["recency"], d["n_periods"]
    return {
        "probability_alive": (lambda: model.probability_alive(f, r, n), len(d)),
        "expected_purchases": (lambda: model.expected_purchases(5, f, r, n), len(d)),
        "expected_purchases_new": (lambda: model.expected_purchases_new(np.array([1, 6, 10])), 3),
        "purchase_probability": (lambda: model.purchase_probability(np.array([0, 1, 2]), 6), 3),
        "discounted_expected_purchases": (lambda: model.discounted_expected_purchases(f, r, n, 0.1), len(d)),
    }


def _bgbb_impossible(d):
    d = d.copy()
    d.loc[d.index[0], ["frequency", "recency"]] = [2, 7]  # last purchase after opportunity n = 6
    return d


def _sbg_data(model, seed):
    return model.simulate(N_CUSTOMERS, 8, seed=seed)


def _sbg_predictions(model, d):
    t = np.arange(1, 9)
    return {
        "survival": (lambda: model.survival(t), 8),
        "churn_probability": (lambda: model.churn_probability(t), 8),
        "retention_rate": (lambda: model.retention_rate(t), 8),
        "discounted_expected_residual_lifetime": (lambda: model.discounted_expected_residual_lifetime(t, 0.1), 8),
        "discounted_expected_lifetime": (lambda: np.atleast_1d(model.discounted_expected_lifetime(0.1)), 1),
    }


def _sbg_impossible(d):
    d = d.copy()
    d.loc[d.index[0], "alive"] = 2  # neither active nor churned
    return d


def _gg_data(model, seed):
    frequency = np.random.default_rng(seed).integers(0, 10, N_CUSTOMERS)
    return model.simulate(frequency, seed=seed)


def _gg_predictions(model, d):
    return {
        "expected_spend": (lambda: model.expected_spend(d["frequency"], d["monetary_value"]), len(d)),
        "expected_spend_new": (lambda: np.atleast_1d(model.expected_spend_new()), 1),
    }


def _gg_impossible(d):
    d = d.copy()
    first_repeat = d.index[d["frequency"] > 0][0]
    d.loc[first_repeat, "monetary_value"] = -5.0  # a repeat customer with negative spend
    return d


@dataclass
class Spec:
    module: str
    name: str
    params: dict[str, float]
    columns: tuple[str, ...]
    simulate: Callable[[Any, int], pd.DataFrame]
    predictions: Callable[[Any, pd.DataFrame], dict[str, tuple[Callable[[], np.ndarray], int]]]  # lazy calls
    impossible: Callable[[pd.DataFrame], pd.DataFrame]
    primary: str  # a prediction method that takes the data columns, for NotFittedError and bad input
    extra_bad_params: dict[str, float] = field(default_factory=dict)


# parameter values: published CDNOW (weeks) estimates or the papers' examples
SPECS = [
    Spec("cvm.models.bgnbd", "BGNBD", dict(r=0.243, alpha=4.414, a=0.793, b=2.426),
         ("frequency", "recency", "T"), _purchase_data, _purchase_predictions, _purchase_impossible, "probability_alive"),
    Spec("cvm.models.mbgnbd", "MBGNBD", dict(r=0.525, alpha=6.183, a=0.891, b=1.614),
         ("frequency", "recency", "T"), _purchase_data, _purchase_predictions, _purchase_impossible, "probability_alive"),
    Spec("cvm.models.pnbd", "ParetoNBD", dict(r=0.553, alpha=10.578, s=0.606, beta=11.669),
         ("frequency", "recency", "T"), _purchase_data, _purchase_predictions, _purchase_impossible, "probability_alive"),
    # the purchase models' limits (no dropout; no dropout and one rate): cvm.models.limits
    Spec("cvm.models.limits", "NBD", dict(r=0.8, alpha=6.0),
         ("frequency", "recency", "T"), _purchase_data, _purchase_predictions, _purchase_impossible, "probability_alive"),
    Spec("cvm.models.limits", "Poisson", dict(rate=0.3),
         ("frequency", "recency", "T"), _purchase_data, _purchase_predictions, _purchase_impossible, "probability_alive"),
    Spec("cvm.models.bgbb", "BGBB", dict(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783),
         ("frequency", "recency", "n_periods"), _bgbb_data, _bgbb_predictions, _bgbb_impossible, "probability_alive"),
    Spec("cvm.models.sbg", "ShiftedBetaGeometric", dict(alpha=0.704, beta=1.182),
         ("periods", "alive"), _sbg_data, _sbg_predictions, _sbg_impossible, "survival"),
    Spec("cvm.models.gamma_gamma", "GammaGamma", dict(p=6.25, q=3.74, gamma=15.44),
         ("frequency", "monetary_value"), _gg_data, _gg_predictions, _gg_impossible, "expected_spend"),
]


def _model_class(spec: Spec) -> type[LikelihoodModel]:
    # every model exists: a missing module or class is a failure, not a skip
    return getattr(importlib.import_module(spec.module), spec.name)


@pytest.fixture(params=SPECS, ids=[s.name for s in SPECS], scope="module")
def case(request):
    """(spec, class, simulated data, fitted model) — fitted once per model."""
    spec = request.param
    cls = _model_class(spec)
    truth = cls.from_params(**spec.params)
    data = spec.simulate(truth, 7)
    model = cls()
    returned = model.fit(*[data[c] for c in spec.columns])
    return spec, cls, data, model, returned


def test_fit_returns_self_with_finite_parameters(case):
    spec, cls, data, model, returned = case
    assert returned is model
    assert list(model.params_.index) == list(spec.params)
    assert np.all(np.isfinite(model.params_)) and np.all(model.params_ > 0)
    assert np.all(np.isfinite(model.stderr_)) and np.all(model.stderr_ > 0)
    assert np.isfinite(model.log_likelihood_)
    summary = model.summary()
    assert json.dumps(summary.to_dict()) and spec.name in summary.to_text() and "<table" in summary.to_html()


def test_fit_on_a_frame_equals_fit_on_columns(case):
    spec, cls, data, model, _ = case
    from_frame = cls().fit(data[list(spec.columns)])
    assert np.allclose(from_frame.params_, model.params_, rtol=1e-6)


def test_predictions_have_the_right_shape_and_are_finite(case):
    spec, cls, data, model, _ = case
    for name, (call, length) in spec.predictions(model, data).items():
        values = np.asarray(call())
        assert values.shape == (length,), name
        assert np.all(np.isfinite(values)), name


def test_save_and_load_give_identical_predictions(case, tmp_path):
    spec, cls, data, model, _ = case
    path = model.save(tmp_path / f"{spec.name}.json")
    for loaded in (cls.load(path), load_model(path)):
        assert type(loaded) is cls
        assert loaded.params_.equals(model.params_)
        before, after = spec.predictions(model, data), spec.predictions(loaded, data)
        for name in before:
            assert np.array_equal(np.asarray(before[name][0]()), np.asarray(after[name][0]())), name


def test_from_params_validates(case):
    spec, cls, *_ = case
    model = cls.from_params(**spec.params)
    assert model.params == pytest.approx(spec.params)
    first = next(iter(spec.params))
    with pytest.raises(SchemaError, match="missing"):
        cls.from_params(**{k: v for k, v in spec.params.items() if k != first})
    with pytest.raises(SchemaError, match="unknown"):
        cls.from_params(**spec.params, unheard_of=1.0)
    for bad in (-1.0, 0.0, float("nan")):
        with pytest.raises(SchemaError):
            cls.from_params(**(spec.params | {first: bad}))


def _bad_inputs(spec: Spec, data: pd.DataFrame) -> dict[str, list[Any]]:
    small = data.iloc[:40].reset_index(drop=True)
    cols = [small[c].to_numpy(dtype=float) for c in spec.columns]
    nan = [c.copy() for c in cols]
    nan[0][0] = np.nan
    negative = [c.copy() for c in cols]
    negative[0][0] = -1.0
    mismatched = [cols[0][:-1], *cols[1:]]
    impossible = spec.impossible(small)
    return {
        "nan": nan,
        "negative": negative,
        "mismatched lengths": mismatched,
        "impossible history": [impossible[c].to_numpy(dtype=float) for c in spec.columns],
    }


def test_bad_input_is_refused_with_schema_error(case):
    spec, cls, data, *_ = case
    for label, args in _bad_inputs(spec, data).items():
        with pytest.raises(SchemaError):
            cls().fit(*args)
            pytest.fail(f"{spec.name}.fit accepted {label}")


def test_predictions_refuse_impossible_histories(case):
    spec, cls, data, model, _ = case
    if spec.name == "ShiftedBetaGeometric":
        with pytest.raises(SchemaError):
            model.survival([-1, 2])
        return
    impossible = spec.impossible(data.iloc[:40].reset_index(drop=True))
    with pytest.raises(SchemaError):
        getattr(model, spec.primary)(*[impossible[c] for c in spec.columns])


def test_not_fitted_error_before_fit(case):
    spec, cls, data, *_ = case
    fresh = cls()
    with pytest.raises(NotFittedError):
        fresh.summary()
    with pytest.raises(NotFittedError):
        fresh.save("never-written.json")
    failures = []
    for name, (call, _) in spec.predictions(fresh, data.iloc[:5]).items():
        try:
            call()
        except NotFittedError:
            continue
        except Exception as exc:  # noqa: BLE001 - any other error is the failure being reported
            failures.append(f"{name} raised {type(exc).__name__} instead of NotFittedError")
            continue
        failures.append(f"{name} did not raise NotFittedError")
    assert not failures, f"{spec.name}: " + "; ".join(failures)
