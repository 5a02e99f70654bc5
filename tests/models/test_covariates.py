"""Time-invariant covariates for the Pareto/NBD and the BG/NBD (Fader & Hardie 2007 note;
CLVTools' parameterisation alpha_i = alpha exp(-g1'z), beta_i = beta exp(-g2'z); BG/NBD
a_i = a exp(g2'z), b_i = b exp(g3'z))."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.models.base import load_model
from cvm.models.bgnbd import BGNBD
from cvm.models.mbgnbd import MBGNBD
from cvm.models.pnbd import ParetoNBD

CDNOW = Path(__file__).resolve().parents[2] / "src/cvm/data/datasets/cdnow_customers_summary.csv"


def customers(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(0.0, 1.0, n), "web": rng.binomial(1, 0.5, n).astype(float)})


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ------------------------------------------------------------------ recovery


def test_pareto_nbd_recovers_covariate_effects():
    truth = {"r": 0.8, "alpha": 8.0, "s": 0.7, "beta": 10.0, "purchase[age]": 0.5, "purchase[web]": -0.4, "dropout[age]": 0.6}
    settings = dict(purchase_covariates=["age", "web"], dropout_covariates=["age"])
    z = customers(6000, 1)
    # the generative process with per-customer alpha_i = alpha exp(-g1'z_i), beta_i = beta exp(-g2'z_i)
    sim = ParetoNBD.from_params(**truth, **settings).simulate(6000, T=np.linspace(30, 60, 6000), seed=3, covariates=z)
    fit = ParetoNBD(**settings).fit(sim, covariates=z)
    for name, value in truth.items():
        assert abs(fit.params_[name] - value) < 3 * fit.stderr_[name], (name, fit.params_[name], fit.stderr_[name])
    assert fit.converged_


def test_bgnbd_recovers_covariate_effects():
    truth = {"r": 0.7, "alpha": 5.0, "a": 0.8, "b": 2.5, "purchase[age]": 0.4, "dropout_a[web]": 0.6, "dropout_b[web]": -0.3}
    settings = dict(purchase_covariates=["age"], dropout_covariates=["web"])
    z = customers(10_000, 2)
    sim = BGNBD.from_params(**truth, **settings).simulate(10_000, T=np.linspace(30, 60, 10_000), seed=5, covariates=z)
    fit = BGNBD(**settings).fit(sim.assign(age=z["age"], web=z["web"]))  # covariates read from the frame itself
    for name, value in truth.items():
        assert abs(fit.params_[name] - value) < 3 * fit.stderr_[name], (name, fit.params_[name], fit.stderr_[name])


# ------------------------------------------- zero covariates = no covariates


@pytest.mark.parametrize("cls", [ParetoNBD, BGNBD, MBGNBD])
def test_all_zero_covariates_give_the_plain_model(cls):
    data = pd.read_csv(CDNOW)
    plain = cls().fit(data)
    zeros = pd.DataFrame({"age": np.zeros(len(data))})
    with_cov = quiet(lambda: cls(purchase_covariates=["age"], dropout_covariates=["age"]).fit(data, covariates=zeros))
    assert with_cov.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    for name in cls.parameter_names:
        assert with_cov.params_[name] == pytest.approx(plain.params_[name], rel=1e-4)
    effects = [n for n in with_cov.params_.index if "[" in n]
    assert len(effects) == (2 if cls is ParetoNBD else 3)
    assert np.allclose(with_cov.params_[effects], 0.0)
    x, tx, T = data["frequency"][:50], data["recency"][:50], data["T"][:50]
    assert np.allclose(with_cov.probability_alive(x, tx, T, covariates={"age": np.zeros(50)}), plain.probability_alive(x, tx, T), rtol=1e-4)


# ------------------------------------------- predictions against a hand-made reference


@pytest.mark.parametrize(
    "cls,base,effects,moved",
    [
        (ParetoNBD, dict(r=0.55, alpha=10.6, s=0.61, beta=11.7), {"purchase[age]": 0.3, "dropout[age]": -0.2},
         lambda p, z: dict(p, alpha=p["alpha"] * np.exp(-0.3 * z), beta=p["beta"] * np.exp(0.2 * z))),
        (BGNBD, dict(r=0.24, alpha=4.4, a=0.79, b=2.4), {"purchase[age]": 0.3, "dropout_a[age]": -0.2, "dropout_b[age]": 0.1},
         lambda p, z: dict(p, alpha=p["alpha"] * np.exp(-0.3 * z), a=p["a"] * np.exp(-0.2 * z), b=p["b"] * np.exp(0.1 * z))),
    ],
)
def test_predictions_equal_the_plain_model_with_moved_parameters(cls, base, effects, moved):
    m = cls.from_params(**base, **effects, purchase_covariates=["age"], dropout_covariates=["age"])
    x, tx, T = np.array([0.0, 2, 7, 15]), np.array([0.0, 10.0, 30.0, 35.0]), np.array([20.0, 30.0, 40.0, 36.0])
    age = np.array([-1.0, 0.0, 0.5, 2.0])
    for i in range(4):
        # customer i alone, by the model without covariates at alpha_i, beta_i (a_i, b_i)
        ref = cls.from_params(**moved(base, age[i]))
        cov = {"age": age[i : i + 1]}
        args = (x[i], tx[i], T[i])
        assert m.probability_alive(*args, covariates=cov)[0] == pytest.approx(ref.probability_alive(*args)[0], rel=1e-10)
        assert m.expected_purchases(10.0, *args, covariates=cov)[0] == pytest.approx(ref.expected_purchases(10.0, *args)[0], rel=1e-10)
        assert m.expected_purchases_new(10.0, covariates=cov)[0] == pytest.approx(ref.expected_purchases_new(10.0)[0], rel=1e-10)
        assert m.purchase_probability(2, 10.0, covariates=cov)[0] == pytest.approx(ref.purchase_probability(2, 10.0)[0], rel=1e-10)
        d = m.discounted_expected_purchases(*args, 0.01, horizon=26, covariates=cov)[0]
        assert d == pytest.approx(ref.discounted_expected_purchases(*args, 0.01, horizon=26)[0], rel=1e-9)
    # all customers at once give the same as one by one
    together = m.probability_alive(x, tx, T, covariates={"age": age})
    assert np.allclose(together, [m.probability_alive(x[i], tx[i], T[i], covariates={"age": age[i : i + 1]})[0] for i in range(4)])


@pytest.mark.parametrize("cls", [ParetoNBD, BGNBD])
def test_gradient_with_covariates_matches_differences(cls):
    z = customers(200, 7)
    model = cls(purchase_covariates=["age", "web"], dropout_covariates=["web"])
    base = [0.6, 9.0, 0.7, 11.0] if cls is ParetoNBD else [0.4, 5.0, 0.8, 2.5]
    n_eff = len(model._all_parameter_names()) - 4
    theta = np.array(base + list(np.linspace(-0.3, 0.4, n_eff)))
    sim = cls.from_params(**dict(zip(model._all_parameter_names(), theta)), purchase_covariates=["age", "web"],
                          dropout_covariates=["web"]).simulate(200, T=40.0, seed=1, covariates=z)
    data = {k: sim[k].to_numpy() for k in ("frequency", "recency", "T")} | {"z:age": z["age"].to_numpy(), "z:web": z["web"].to_numpy()}
    g = model._gradient(theta, data).sum(axis=0)
    for j in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        num = (model._log_likelihood(up, data).sum() - model._log_likelihood(down, data).sum()) / (2 * h)
        assert g[j] == pytest.approx(num, rel=1e-5, abs=1e-5), model._all_parameter_names()[j]


# ------------------------------------------- persistence, summary, errors


def test_save_load_roundtrip_and_summary_names_effects(tmp_path):
    z = customers(800, 3)
    settings = dict(purchase_covariates=["age"], dropout_covariates=["web"])
    truth = ParetoNBD.from_params(r=0.8, alpha=8.0, s=0.7, beta=10.0, **{"purchase[age]": 0.5, "dropout[web]": 0.4}, **settings)
    sim = truth.simulate(800, T=40.0, seed=4, covariates=z)
    fit = quiet(lambda: ParetoNBD(**settings).fit(sim, covariates=z))
    back = load_model(fit.save(tmp_path / "pnbd.json"))
    assert isinstance(back, ParetoNBD)
    assert back.purchase_covariates == ("age",) and back.dropout_covariates == ("web",)
    assert np.allclose(back.params_, fit.params_) and list(back.params_.index) == list(fit.params_.index)
    cov = z.iloc[:5]
    assert np.allclose(back.expected_purchases(10, sim["frequency"][:5], sim["recency"][:5], sim["T"][:5], covariates=cov),
                       fit.expected_purchases(10, sim["frequency"][:5], sim["recency"][:5], sim["T"][:5], covariates=cov))
    table = fit.summary().to_frame()
    assert {"purchase[age]", "dropout[web]"} <= set(table.index)
    assert "purchase[age]" in fit.summary().to_text()
    assert np.isfinite(table.loc["purchase[age]", "std_error"])


def test_bad_covariates_get_schema_errors():
    m = ParetoNBD.from_params(r=0.5, alpha=10.0, s=0.6, beta=12.0, purchase_covariates=["age"], **{"purchase[age]": 0.2})
    with pytest.raises(SchemaError, match="covariates"):
        m.probability_alive(1, 5.0, 10.0)
    with pytest.raises(SchemaError, match="age"):
        m.probability_alive(1, 5.0, 10.0, covariates={"income": [1.0]})
    with pytest.raises(SchemaError, match="3 values"):
        m.probability_alive([1, 2], [5.0, 6.0], [10.0, 10.0], covariates={"age": [1.0, 2.0, 3.0]})
    with pytest.raises(SchemaError):
        m.probability_alive(1, 5.0, 10.0, covariates={"age": [np.nan]})
    with pytest.raises(SchemaError, match="missing purchase\\[age\\]"):
        ParetoNBD.from_params(r=0.5, alpha=10.0, s=0.6, beta=12.0, purchase_covariates=["age"])
    with pytest.raises(SchemaError, match="twice"):
        BGNBD(purchase_covariates=["age", "age"])
    with pytest.raises(SchemaError, match="covariates"):
        BGNBD(dropout_covariates=["web"]).fit([1, 2], [3.0, 4.0], [10.0, 10.0])
