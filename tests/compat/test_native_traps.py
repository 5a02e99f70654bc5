"""The traps issue 14 found in cvm's native API, one test each (numbers from lifetimes 0.11.3 or by hand)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cvm.errors import CvmError, NotFittedError, SchemaError
from cvm.models import BGBB, BGNBD, GammaGamma

lt = pytest.importorskip("lifetimes")

BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_trap1_scalar_in_scalar_out_series_in_series_out():
    m = BGNBD.from_params(**BG)
    value = m.expected_purchases(39, 2, 30.43, 38.86)
    assert isinstance(value, float) and np.ndim(value) == 0
    oracle = lt.BetaGeoFitter()
    oracle.params_ = pd.Series(BG)
    assert value == pytest.approx(oracle.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86), rel=1e-9)
    assert value[0] == value                                     # older code indexing [0] keeps working
    idx = pd.Index([101, 205, 307], name="customer")
    f, r, T = (pd.Series(v, index=idx) for v in ([2, 0, 5], [30.43, 0.0, 20.0], [38.86, 38.86, 38.86]))
    for out in (m.expected_purchases(39, f, r, T), m.probability_alive(f, r, T)):
        assert isinstance(out, pd.Series) and out.index.equals(idx)
    arrays = m.probability_alive(f.to_numpy(), r.to_numpy(), T.to_numpy())
    assert isinstance(arrays, np.ndarray) and arrays.shape == (3,)   # arrays in, arrays out
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    spend = gg.expected_spend(pd.Series([2, 3], index=[7, 8]), pd.Series([30.0, 20.0], index=[7, 8]))
    assert list(spend.index) == [7, 8] and spend.values.shape == (2,)
    assert isinstance(BGBB.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8).probability_alive(3, 5, 6), float)


def test_trap2_easy_to_swap_arguments():
    m = BGNBD.from_params(**BG)
    oracle = lt.BetaGeoFitter()
    oracle.params_ = pd.Series(BG)
    assert m.purchase_probability(n=0, t=39) == pytest.approx(oracle.probability_of_n_purchases_up_to_time(39, 0), rel=1e-9)
    with pytest.warns(FutureWarning, match="by name"):
        m.purchase_probability(39, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.purchase_probability(n=0, t=39)
    bb = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    with pytest.raises(TypeError):
        bb.probability_alive(3, 5, 6, 2)     # future is keyword-only (lifetimes puts m first)
    assert bb.probability_alive(3, 5, 6, future=2) < bb.probability_alive(3, 5, 6, future=1)


def test_trap3_params_are_set_by_name_or_refused():
    m = BGNBD()
    m.params_ = pd.Series({"alpha": 4.414, "r": 0.243, "b": 2.426, "a": 0.793})   # lifetimes users' order
    oracle = lt.BetaGeoFitter()
    oracle.params_ = pd.Series(BG)
    assert m.probability_alive(2, 30.43, 38.86) == pytest.approx(oracle.conditional_probability_alive(2, 30.43, 38.86)[0], rel=1e-12)
    assert m.probability_alive(2, 30.43, 38.86) == pytest.approx(0.727, abs=1e-3)
    with pytest.raises(SchemaError, match="by name"):
        m.params_ = [0.243, 4.414, 0.793, 2.426]
    with pytest.raises(SchemaError, match="unknown v"):
        GammaGamma().params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
    gg = GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert gg.expected_spend_new() == pytest.approx(6.25 * 15.44 / 2.74)        # p gamma / (q - 1)
    copy = m.params_
    copy["alpha"] = 99.0                 # reading gives a copy: the model is unchanged
    assert m.params_["alpha"] == 4.414


def test_trap4_penalizer_formula_and_the_compat_meaning():
    from cvm.compat.lifetimes import BetaGeoFitter
    from cvm.compat.lifetimes.datasets import load_cdnow_summary

    data = load_cdnow_summary(index_col=[0])
    native = BGNBD(penalizer=0.1).fit(data)
    # native: mean negative log-likelihood + 0.1 * sum(theta**2) on the natural (week) scale is minimal
    x = native.params_.to_numpy()
    def objective(theta):
        return -BGNBD()._log_likelihood(theta, {c: data[c].to_numpy(float) for c in ("frequency", "recency", "T")}).mean() + 0.1 * np.sum(theta**2)
    for j in range(4):
        for step in (1.001, 0.999):
            moved = x.copy()
            moved[j] *= step
            assert objective(moved) > objective(x)
    compat = BetaGeoFitter(penalizer_coef=0.1).fit(data["frequency"], data["recency"], data["T"])
    assert compat.params_["alpha"] == pytest.approx(4.219, abs=1e-3)   # lifetimes' estimate (issue 14)


def test_trap5_lifetimes_fit_keywords_and_value_errors():
    from cvm.compat.lifetimes import BetaGeoFitter, ParetoNBDFitter

    f, r, T = [1, 0, 3, 2] * 10, [2.0, 0.0, 5.0, 4.0] * 10, [6.0, 6.0, 8.0, 7.0] * 10
    BetaGeoFitter().fit(f, r, T, tol=1e-6, verbose=False, index=None)
    ParetoNBDFitter().fit(f, r, T, iterative_fitting=1, verbose=False, tol=1e-4, fit_method="Nelder-Mead", maxiter=100)
    for exc in (SchemaError("x"), NotFittedError("x")):
        assert isinstance(exc, ValueError) and isinstance(exc, CvmError)
    with pytest.raises(ValueError):
        BGNBD().fit([1, 2], [5.0, 1.0], [3.0, 3.0])            # recency > T
    with pytest.raises(ValueError):
        BGNBD().probability_alive(1, 1, 2)                     # not fitted


def test_trap6_integer_yyyymmdd_dates():
    from cvm.data import summary_data_from_transaction_data

    tx = pd.DataFrame({"id": [1, 1, 2], "date": np.array([19970101, 19970115, 19970108], dtype=np.int64)})
    out = summary_data_from_transaction_data(tx, "id", "date", datetime_format="%Y%m%d", observation_period_end="1997-01-29")
    # by hand: customer 1 bought on day 0 and 14, end is day 28; customer 2 first bought on day 7
    assert out.loc[1].tolist() == [1.0, 14.0, 28.0]
    assert out.loc[2].tolist() == [0.0, 0.0, 21.0]
    with pytest.raises(ValueError, match="do not read as dates"):
        summary_data_from_transaction_data(tx, "id", "date")


def test_trap8_clvtools_shared_dropout_coefficient():
    """a and b share one coefficient vector (CLVTools): the likelihood is the plain BG/NBD's with
    a_i = a e^{g z}, b_i = b e^{g z}, and the gradient is exact."""
    rng = np.random.default_rng(5)
    base = BGNBD.from_params(r=0.6, alpha=5.0, a=0.7, b=2.5)
    data = base.simulate(1500, 30.0, seed=2)
    data["urban"] = rng.integers(0, 2, len(data)).astype(float)
    m = BGNBD(dropout_covariates=["urban"], shared_dropout_coefficients=True)
    assert m._all_parameter_names() == ["r", "alpha", "a", "b", "dropout[urban]"]
    theta = np.array([0.6, 5.0, 0.7, 2.5, 0.4])
    cols = {c: data[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    cols["z:urban"] = data["urban"].to_numpy()
    ll = m._log_likelihood(theta, cols)
    plain = BGNBD()
    by_hand = np.concatenate([
        plain._log_likelihood(np.array([0.6, 5.0, 0.7 * kk, 2.5 * kk]), {c: v[rows] for c, v in cols.items() if c[0] != "z"})
        for kk, rows in ((1.0, cols["z:urban"] == 0), (np.exp(0.4), cols["z:urban"] == 1))])
    order = np.concatenate([np.flatnonzero(cols["z:urban"] == 0), np.flatnonzero(cols["z:urban"] == 1)])
    np.testing.assert_allclose(ll[order], by_hand, rtol=1e-12)
    g = m._gradient(theta, cols).sum(axis=0)
    for j in range(5):
        e = np.zeros(5)
        e[j] = 1e-6
        numeric = (m._log_likelihood(theta + e, cols).sum() - m._log_likelihood(theta - e, cols).sum()) / 2e-6
        assert g[j] == pytest.approx(numeric, rel=1e-5, abs=1e-4)
    fitted = m.fit(data, covariates=data[["urban"]])
    assert np.isfinite(fitted.log_likelihood_)
    # the two-vector model with equal coefficients gives the same predictions
    two = BGNBD.from_params(**dict(fitted.params_.iloc[:4]), **{"dropout_a[urban]": fitted.params_.iloc[4],
                                                                "dropout_b[urban]": fitted.params_.iloc[4]},
                            dropout_covariates=["urban"])
    np.testing.assert_allclose(two.probability_alive(data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy(), covariates=data[["urban"]]),
                               fitted.probability_alive(data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy(), covariates=data[["urban"]]), rtol=1e-12)
