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
