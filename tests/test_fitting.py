"""The one fit service, cvm.fitting.fit_model, and the `cvm fit` paths that go through it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.fitting import fit_model, fit_summary_file
from cvm.models import BGNBD, GammaGamma


def _summary(n=400, seed=5):
    sim = BGNBD.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5).simulate(n, T=np.random.default_rng(seed).uniform(20, 40, n), seed=seed)
    sim["monetary_value"] = np.where(sim["frequency"] > 0, np.random.default_rng(seed).gamma(3.0, 10.0, n), 0.0)
    return sim


def test_customers_first_seen_on_the_as_of_day_are_left_out():
    data = _summary()
    with_new = pd.concat([data, pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [0.0, 0.0],
                                              "monetary_value": [0.0, 0.0]})], ignore_index=True)
    direct = BGNBD().fit(data["frequency"], data["recency"], data["T"])
    assert fit_model(with_new, "bgnbd").params_.to_dict() == pytest.approx(direct.params_.to_dict(), rel=1e-9)
    with pytest.raises(SchemaError, match="every customer bought for the first time on 2024-03-01"):
        fit_model(with_new.assign(T=0.0, recency=0.0, frequency=0.0).assign(first_purchase=pd.Timestamp("2024-03-01")), "bgnbd")


def test_spend_model_reads_repeat_customers_with_positive_spend():
    data = _summary()
    data.loc[data.index[data["frequency"] > 0][:3], "monetary_value"] = -5.0  # net returns
    keep = (data["frequency"] > 0) & (data["monetary_value"] > 0)
    direct = GammaGamma().fit(data.loc[keep, "frequency"], data.loc[keep, "monetary_value"])
    assert fit_model(data, "gg").params_.to_dict() == pytest.approx(direct.params_.to_dict(), rel=1e-9)


def test_a_summary_file_with_weights_is_the_same_fit_as_its_rows(tmp_path):
    rows = pd.DataFrame({"frequency": [0, 1, 2, 0, 5, 1, 3], "recency": [0, 4.0, 9.0, 0, 20.0, 2.0, 12.0],
                         "T": [30.0, 25.0, 28.0, 10.0, 31.0, 6.0, 20.0]})
    counts = np.array([40, 12, 7, 30, 3, 9, 5])
    rows.assign(weights=counts).to_csv(tmp_path / "weighted.csv", index=False)
    rows.loc[rows.index.repeat(counts)].to_csv(tmp_path / "rows.csv", index=False)
    weighted, expanded = fit_summary_file(tmp_path / "weighted.csv"), fit_summary_file(tmp_path / "rows.csv")
    assert weighted.n_customers == expanded.n_customers == counts.sum()
    assert weighted.to_dict()["params"] == pytest.approx(expanded.to_dict()["params"], rel=1e-5)


def test_unknown_models_and_missing_columns_are_refused_in_words():
    with pytest.raises(SchemaError, match="unknown model 'nonsense'"):
        fit_model(_summary(), "nonsense")
    with pytest.raises(SchemaError, match=r"no column\(s\) n_periods"):
        fit_model(_summary(), "bgbb")


def test_a_purchase_model_with_covariates_is_fitted_as_asked_on_the_customers_seen():
    from cvm.models import ParetoNBD

    rng = np.random.default_rng(3)
    z = pd.DataFrame({"web": rng.binomial(1, 0.5, 1500).astype(float)})
    truth = ParetoNBD.from_params(r=0.8, alpha=8.0, s=0.7, beta=10.0, **{"purchase[web]": 0.5, "dropout[web]": -0.4},
                                  purchase_covariates=["web"], dropout_covariates=["web"])
    sim = truth.simulate(1500, T=40.0, seed=2, covariates=z)
    # two customers first seen on the as-of day: left out with their covariate rows
    summary = pd.concat([sim, pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [0.0, 0.0]})],
                        ignore_index=True)
    covariates = pd.concat([z, pd.DataFrame({"web": [1.0, 0.0]})], ignore_index=True)
    fitted = fit_model(summary, "pnbd", covariates=covariates, purchase_covariates=["web"], dropout_covariates=["web"])
    direct = ParetoNBD(purchase_covariates=["web"], dropout_covariates=["web"]).fit(sim, covariates=z)
    assert fitted.n_customers_ == 1500
    assert np.allclose(fitted.params_.to_numpy(), direct.params_.to_numpy(), rtol=1e-6)
    with pytest.raises(SchemaError, match="rows"):
        fit_model(summary, "pnbd", covariates=z, purchase_covariates=["web"])
    with pytest.raises(SchemaError, match="purchase models"):
        fit_model(summary.assign(monetary_value=1.0), "gg", covariates=covariates)


def test_spend_model_counts_the_repeat_customers_with_spend_weights_included():
    # 9 repeat customers with positive spend (and customers without a repeat or with spend <= 0, who do not
    # count) are too few for Gamma-Gamma; the same 9 rows counting 2 customers each (weights) are enough
    from cvm.fitting import fit_spend_model

    rng = np.random.default_rng(7)
    repeat = pd.DataFrame({"frequency": rng.integers(1, 6, 9).astype(float), "recency": 10.0, "T": 20.0,
                           "monetary_value": rng.gamma(4.0, 5.0, 9)})
    others = pd.DataFrame({"frequency": [0.0, 0.0, 3.0], "recency": [0.0, 0.0, 8.0], "T": [20.0, 20.0, 20.0],
                           "monetary_value": [0.0, 0.0, -4.0]})
    summary = pd.concat([repeat, others], ignore_index=True)
    model, note = fit_spend_model(summary)
    assert model is None and note.startswith("only 9 repeat customers with spend")
    weighted = summary.assign(weights=[2.0] * 9 + [50.0] * 3)
    model, note = fit_spend_model(weighted)
    assert note is None or not note.startswith("only")
