"""cvm.compat.lifetimes against real lifetimes 0.11.3 on the same inputs: values, types, shapes, index.

The oracle is lifetimes itself (a test dependency). Fitted parameters are compared with
lifetimes run to convergence (a tight ``tol``), since lifetimes' default tolerance stops
short of the optimum; predictions are compared at the same parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cvm.compat.lifetimes as clt

lt = pytest.importorskip("lifetimes")

REL = 1e-8
BG_PUBLISHED = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)      # Fader, Hardie & Lee (2005), CDNOW weeks
PNBD_PUBLISHED = dict(r=0.553, alpha=10.578, s=0.606, beta=11.669)
BGBB_PUBLISHED = dict(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)  # Fader, Hardie & Shang (2010)
GG_PUBLISHED = dict(p=6.25, q=3.74, v=15.44)                      # Fader, Hardie & Lee (2005), CDNOW


@pytest.fixture(scope="module")
def cdnow():
    return clt.datasets.load_cdnow_summary(index_col=[0])


@pytest.fixture(scope="module")
def donations():
    return clt.datasets.load_donations()


def _pair(name, params):
    ours, theirs = getattr(clt, name)(), getattr(lt, name)()
    ours.params_ = pd.Series(params)
    theirs.params_ = pd.Series(params)
    return ours, theirs


def same(ours, theirs, rel=REL):
    """Same type, shape, index and values (to ``rel``)."""
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    assert np.shape(ours) == np.shape(theirs)
    if isinstance(theirs, (pd.Series, pd.DataFrame)):
        pd.testing.assert_index_equal(ours.index, theirs.index)
        if isinstance(theirs, pd.Series):
            assert ours.name == theirs.name
        else:
            pd.testing.assert_index_equal(ours.columns, theirs.columns)
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=rel, atol=0)


def _inputs(frame, cols):
    """The same history as scalars, arrays, Series and lists (every input kind a notebook uses)."""
    one = frame.iloc[0]
    return {
        "scalar": tuple(float(one[c]) for c in cols),
        "array": tuple(frame[c].to_numpy() for c in cols),
        "series": tuple(frame[c] for c in cols),
    }


# ------------------------------------------------------------------ predictions at the same parameters
@pytest.mark.parametrize("name,params", [("BetaGeoFitter", BG_PUBLISHED), ("ModifiedBetaGeoFitter", BG_PUBLISHED),
                                         ("ParetoNBDFitter", PNBD_PUBLISHED)])
@pytest.mark.parametrize("kind", ["scalar", "array", "series"])
def test_purchase_model_predictions_equal_lifetimes(cdnow, name, params, kind):
    ours, theirs = _pair(name, params)
    sample = cdnow.iloc[:200]
    f, r, T = _inputs(sample, ["frequency", "recency", "T"])[kind]
    for t in (0.0, 1.0, 39.0, 78.5):
        same(ours.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
             theirs.conditional_expected_number_of_purchases_up_to_time(t, f, r, T))
        same(ours.predict(t, f, r, T), theirs.conditional_expected_number_of_purchases_up_to_time(t, f, r, T))
    same(ours.conditional_probability_alive(f, r, T), theirs.conditional_probability_alive(f, r, T))


@pytest.mark.parametrize("name,params", [("BetaGeoFitter", BG_PUBLISHED), ("ModifiedBetaGeoFitter", BG_PUBLISHED),
                                         ("ParetoNBDFitter", PNBD_PUBLISHED)])
def test_new_customer_expectations_equal_lifetimes(name, params):
    ours, theirs = _pair(name, params)
    for t in (0.5, 39.0, np.array([1.0, 10.0, 78.0]), pd.Series([1.0, 52.0], index=[5, 9]), [1, 10]):
        same(ours.expected_number_of_purchases_up_to_time(t), theirs.expected_number_of_purchases_up_to_time(t))


@pytest.mark.parametrize("name", ["BetaGeoFitter", "ModifiedBetaGeoFitter"])
def test_probability_of_n_purchases_equals_lifetimes(name):
    ours, theirs = _pair(name, BG_PUBLISHED)
    for n in (0, 1, 2, 7):
        for t in (1.0, 39.0):
            same(ours.probability_of_n_purchases_up_to_time(t, n), theirs.probability_of_n_purchases_up_to_time(t, n))
        # an array of t: lifetimes sums its finite series over every t at once for n > 0 (negative
        # "probabilities"); compat gives each t's value, as lifetimes gives it one t at a time
        ts = np.array([2.0, 30.0])
        ours_values = ours.probability_of_n_purchases_up_to_time(ts, n)
        assert isinstance(ours_values, np.ndarray) and ours_values.shape == (2,)
        np.testing.assert_allclose(ours_values, [theirs.probability_of_n_purchases_up_to_time(t, n) for t in ts], rtol=REL)


def test_pareto_conditional_probability_of_n_purchases_equals_lifetimes(cdnow):
    ours, theirs = _pair("ParetoNBDFitter", PNBD_PUBLISHED)
    sample = cdnow.iloc[:100]
    for n in (0, 1, 3):
        for t in (4.0, 39.0):
            same(ours.conditional_probability_of_n_purchases_up_to_time(n, t, sample["frequency"], sample["recency"], sample["T"]),
                 theirs.conditional_probability_of_n_purchases_up_to_time(n, t, sample["frequency"], sample["recency"], sample["T"]),
                 rel=1e-7)
            same(ours.conditional_probability_of_n_purchases_up_to_time(n, t, 2, 30.43, 38.86),
                 theirs.conditional_probability_of_n_purchases_up_to_time(n, t, 2, 30.43, 38.86), rel=1e-7)
    assert ours.conditional_probability_of_n_purchases_up_to_time(2, 0, 2, 30.43, 38.86) == 0
    # the probabilities over n sum to one (a property lifetimes' formula also has)
    total = sum(ours.conditional_probability_of_n_purchases_up_to_time(n, 10.0, 2, 30.43, 38.86) for n in range(60))
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name,params", [("BetaGeoFitter", BG_PUBLISHED), ("ParetoNBDFitter", PNBD_PUBLISHED)])
def test_probability_alive_matrix_equals_lifetimes(cdnow, name, params):
    ours, theirs = _pair(name, params)
    ours_m = ours.conditional_probability_alive_matrix(8, 20)
    theirs_m = theirs.conditional_probability_alive_matrix(8, 20)
    assert ours_m.shape == theirs_m.shape == (21, 9)
    possible = np.ones(ours_m.shape, bool)
    if name == "ParetoNBDFitter":  # impossible histories (x = 0, recency > 0): NaN here (docs/migration.md)
        possible[1:, 0] = False
        assert np.all(np.isnan(ours_m[~possible]))
    np.testing.assert_allclose(ours_m[possible], theirs_m[possible], rtol=REL)


@pytest.mark.parametrize("kind", ["scalar", "array", "series"])
def test_bgbb_predictions_equal_lifetimes(donations, kind):
    ours, theirs = _pair("BetaGeoBetaBinomFitter", BGBB_PUBLISHED)
    f, r, n = _inputs(donations, ["frequency", "recency", "periods"])[kind]
    for m in (1, 5, 10):
        if kind == "scalar":  # lifetimes crashes on scalars ('int' has no attribute 'max'); check by formula below
            continue
        same(ours.conditional_expected_number_of_purchases_up_to_time(m, f, r, n),
             theirs.conditional_expected_number_of_purchases_up_to_time(m, f, r, n), rel=1e-7)
        same(ours.conditional_probability_alive(m, f, r, n), theirs.conditional_probability_alive(m, f, r, n), rel=1e-7)
    if kind == "scalar":
        arrays = _inputs(donations.iloc[:1], ["frequency", "recency", "periods"])["array"]
        value = ours.conditional_probability_alive(5, f, r, n)
        assert type(value) is np.float64
        assert value == pytest.approx(theirs.conditional_probability_alive(5, *arrays)[0], rel=1e-7)


def test_bgbb_expected_transactions_in_first_n_periods_equals_lifetimes(donations):
    ours, theirs = clt.BetaGeoBetaBinomFitter(), lt.BetaGeoBetaBinomFitter()
    for m in (ours, theirs):
        m.fit(donations["frequency"], donations["recency"], donations["periods"], donations["weights"])
        m.params_ = pd.Series(BGBB_PUBLISHED)
    same(ours.expected_number_of_transactions_in_first_n_periods(6),
         theirs.expected_number_of_transactions_in_first_n_periods(6), rel=1e-7)


def test_gamma_gamma_predictions_equal_lifetimes(cdnow):
    ours, theirs = _pair("GammaGammaFitter", GG_PUBLISHED)
    data = clt.datasets.load_cdnow_summary_data_with_monetary_value()
    rep = data[data["frequency"] > 0]
    for args in [(2, 30.0), (rep["frequency"].to_numpy(), rep["monetary_value"].to_numpy()),
                 (rep["frequency"], rep["monetary_value"]), (rep["frequency"], rep["monetary_value"].to_numpy())]:
        same(ours.conditional_expected_average_profit(*args), theirs.conditional_expected_average_profit(*args))


@pytest.mark.parametrize("freq,model", [("W", "BetaGeoFitter"), ("D", "ParetoNBDFitter"), ("W", "ModifiedBetaGeoFitter")])
def test_customer_lifetime_value_equals_lifetimes(freq, model):
    data = clt.datasets.load_cdnow_summary_data_with_monetary_value().iloc[:150]
    rep = data[data["frequency"] > 0]
    params = PNBD_PUBLISHED if model == "ParetoNBDFitter" else BG_PUBLISHED
    ours_m, theirs_m = _pair(model, params)
    theirs_m.predict = theirs_m.conditional_expected_number_of_purchases_up_to_time
    ours_gg, theirs_gg = _pair("GammaGammaFitter", GG_PUBLISHED)
    args = (rep["frequency"], rep["recency"], rep["T"], rep["monetary_value"])
    same(ours_gg.customer_lifetime_value(ours_m, *args, time=12, discount_rate=0.01, freq=freq),
         theirs_gg.customer_lifetime_value(theirs_m, *args, time=12, discount_rate=0.01, freq=freq))


# ------------------------------------------------------------------ fits
def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _lifetimes_fit(fitter, *args, **kwargs):
    """lifetimes' fit as tight as its optimiser gets: tol=1e-9, else its default (at tighter tolerances
    BFGS stops with "precision loss", the gradient then ~1e-9)."""
    try:
        return _quiet(fitter.fit, *args, tol=1e-9, **kwargs)
    except lt.utils.ConvergenceError:
        return _quiet(fitter.fit, *args, **kwargs)


#: how far lifetimes' own optimum is from the exact one (its BFGS stops with a gradient ~1e-9)
FIT_REL = 5e-6


@pytest.mark.parametrize("name", ["BetaGeoFitter", "ModifiedBetaGeoFitter"])
@pytest.mark.parametrize("penalizer", [0.0, 0.1])
def test_bg_family_fit_equals_lifetimes_run_to_convergence(cdnow, name, penalizer):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = _lifetimes_fit(getattr(lt, name)(penalizer_coef=penalizer), f, r, T)
    ours = getattr(clt, name)(penalizer_coef=penalizer).fit(f, r, T, tol=1e-7, verbose=False, index=cdnow.index)
    same(ours.params_, theirs.params_, rel=FIT_REL)
    assert ours._negative_log_likelihood_ <= theirs._negative_log_likelihood_ + 1e-13
    assert ours._negative_log_likelihood_ == pytest.approx(theirs._negative_log_likelihood_, rel=1e-10)
    same(ours.standard_errors_, theirs.standard_errors_, rel=FIT_REL)
    same(ours.variance_matrix_, theirs.variance_matrix_, rel=FIT_REL)
    same(ours.confidence_intervals_, theirs.confidence_intervals_, rel=FIT_REL)
    same(ours.summary, theirs.summary, rel=FIT_REL)
    pd.testing.assert_index_equal(ours.data.index, cdnow.index)
    theirs_data = theirs.data.set_axis(cdnow.index)
    pd.testing.assert_frame_equal(ours.data, theirs_data)
    assert repr(ours) == repr(theirs)


def test_penalizer_means_what_it_means_in_lifetimes(cdnow):
    """Issue 14, trap 4: with 0.1 lifetimes gives alpha 4.219 for the BG/NBD on CDNOW; so does compat."""
    ours = clt.BetaGeoFitter(penalizer_coef=0.1).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert ours.params_["alpha"] == pytest.approx(4.219, abs=1e-3)


def test_pareto_fit_is_at_least_as_good_as_lifetimes(cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    np.random.seed(0)
    theirs = _quiet(lt.ParetoNBDFitter().fit, f, r, T)
    ours = clt.ParetoNBDFitter().fit(f, r, T, iterative_fitting=1)
    # lifetimes' own objective, evaluated at both solutions (rescaled time, natural parameters)
    scale = 1.0 / T.max()
    def objective(p):
        scaled = np.array([p["r"], p["alpha"] * scale, p["s"], p["beta"] * scale])
        return lt.ParetoNBDFitter._negative_log_likelihood(scaled, f.to_numpy(), r.to_numpy() * scale,
                                                         T.to_numpy() * scale, np.ones(len(f)), 0.0)
    assert objective(ours.params_) <= objective(theirs.params_) + 1e-9
    np.testing.assert_allclose(ours.params_, theirs.params_, rtol=5e-3)
    # lifetimes polishing from our optimum with a tight tolerance stays there
    polished = _quiet(lt.ParetoNBDFitter().fit, f, r, T, initial_params=np.array(
        [ours.params_["r"], ours.params_["alpha"] * scale, ours.params_["s"], ours.params_["beta"] * scale]),
        tol=1e-12, maxiter=20000)
    same(ours.params_, polished.params_, rel=1e-5)


def test_bgbb_and_gamma_gamma_fits_equal_lifetimes(donations):
    theirs = _lifetimes_fit(lt.BetaGeoBetaBinomFitter(), donations["frequency"], donations["recency"],
                            donations["periods"], donations["weights"])
    ours = clt.BetaGeoBetaBinomFitter().fit(donations["frequency"], donations["recency"], donations["periods"],
                                            donations["weights"])
    same(ours.params_, theirs.params_, rel=FIT_REL)
    same(ours.standard_errors_, theirs.standard_errors_, rel=FIT_REL)
    pd.testing.assert_frame_equal(ours.data, theirs.data)
    data = clt.datasets.load_cdnow_summary_data_with_monetary_value()
    rep = data[data["frequency"] > 0]
    for q_constraint in (False, True):
        theirs = _lifetimes_fit(lt.GammaGammaFitter(), rep["frequency"], rep["monetary_value"],
                                q_constraint=q_constraint)
        ours = clt.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"], q_constraint=q_constraint)
        same(ours.params_, theirs.params_, rel=FIT_REL)
        same(ours.summary, theirs.summary, rel=FIT_REL)


def test_q_constraint_keeps_q_at_least_one():
    # spends whose fitted q falls below 1 without the constraint (a heavy tail)
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 400).astype(float)
    m = np.exp(rng.normal(3, 2.0, 400))
    free = clt.GammaGammaFitter().fit(x, m)
    theirs = _lifetimes_fit(lt.GammaGammaFitter(), x, m, q_constraint=True)
    bounded = clt.GammaGammaFitter().fit(x, m, q_constraint=True)
    assert free.params_["q"] < 1
    assert bounded.params_["q"] == pytest.approx(1.0, abs=1e-6)
    same(bounded.params_, theirs.params_, rel=FIT_REL)


def test_simulated_data_fit_equals_lifetimes():
    from cvm.models import BGNBD

    sim = BGNBD.from_params(r=0.8, alpha=6.0, a=0.6, b=3.0).simulate(3000, np.linspace(20, 60, 3000), seed=11)
    theirs = _lifetimes_fit(lt.BetaGeoFitter(), sim["frequency"], sim["recency"], sim["T"])
    ours = clt.BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    same(ours.params_, theirs.params_, rel=FIT_REL)
    same(ours.conditional_expected_number_of_purchases_up_to_time(10, sim["frequency"], sim["recency"], sim["T"]),
         theirs.conditional_expected_number_of_purchases_up_to_time(10, sim["frequency"], sim["recency"], sim["T"]),
         rel=1e-5)


# ------------------------------------------------------------------ lifetimes' documented examples
def test_lifetimes_readme_quickstart(cdnow):
    """lifetimes' README: fit the BG/NBD on CDNOW and predict a customer's next 39 weeks."""
    bgf = clt.BetaGeoFitter(penalizer_coef=0.0).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert bgf.params_.round(3).to_dict() == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    t = 1
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(t, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert isinstance(pred, pd.Series) and pred.index.equals(cdnow.index)
    assert round(float(bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)), 4) == 1.2259


# ------------------------------------------------------------------ errors and edge cases
def test_errors_are_lifetimes_value_errors(cdnow):
    with pytest.raises(ValueError, match="Model has not been fit yet"):
        clt.BetaGeoFitter().conditional_probability_alive(1, 1, 2)
    with pytest.raises(ValueError, match="recency vector are larger than T"):
        clt.BetaGeoFitter().fit([1], [5.0], [3.0])
    with pytest.raises(ValueError, match="non-zero recency values when frequency is zero"):
        clt.BetaGeoFitter().fit([0, 1], [2.0, 1.0], [3.0, 3.0])
    with pytest.raises(ValueError, match="non-integer values"):  # lifetimes' BG/NBD truncates first; its GG checks
        clt.GammaGammaFitter().fit([1.5, 1], [10.0, 12.0])
    with pytest.raises(ValueError, match="non-positive"):
        clt.GammaGammaFitter().fit([1, 2], [10.0, 0.0])
    with pytest.raises(ValueError, match="iterative_fitting"):
        clt.ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], iterative_fitting=0)
    ours = clt.ModifiedBetaGeoFitter()
    ours.params_ = pd.Series(BG_PUBLISHED)
    with pytest.raises(ValueError):  # an impossible history is refused (docs/migration.md), as a ValueError
        ours.conditional_probability_alive(0, 3.0, 10.0)


def test_bgnbd_impossible_history_without_repeats_follows_lifetimes():
    """lifetimes' BG/NBD formulas ignore recency when frequency is 0; compat does the same (harmless)."""
    ours, theirs = _pair("BetaGeoFitter", BG_PUBLISHED)
    f, r, T = np.array([0.0, 0.0, 3.0]), np.array([5.0, 0.0, 2.0]), np.array([10.0, 10.0, 10.0])
    same(ours.conditional_probability_alive(f, r, T), theirs.conditional_probability_alive(f, r, T))
    same(ours.conditional_expected_number_of_purchases_up_to_time(5, f, r, T),
         theirs.conditional_expected_number_of_purchases_up_to_time(5, f, r, T))


def test_params_assigned_by_name_in_any_order(cdnow):
    """Issue 14, trap 3 in compat: params_ assigned in another order is read by name."""
    ours, theirs = clt.BetaGeoFitter(), lt.BetaGeoFitter()
    shuffled = pd.Series({"alpha": 4.414, "r": 0.243, "b": 2.426, "a": 0.793})
    ours.params_ = shuffled
    theirs.params_ = shuffled
    same(ours.conditional_probability_alive(2, 30.43, 38.86), theirs.conditional_probability_alive(2, 30.43, 38.86))
    assert ours.conditional_probability_alive(2, 30.43, 38.86)[0] == pytest.approx(0.727, abs=1e-3)
    gg = clt.GammaGammaFitter()
    gg.params_ = pd.Series({"q": 3.74, "v": 15.44, "p": 6.25})
    assert gg.conditional_expected_average_profit(2, 30.0) == pytest.approx(
        lt.GammaGammaFitter.conditional_expected_average_profit(_pair("GammaGammaFitter", GG_PUBLISHED)[1], 2, 30.0),
        rel=REL)


def test_save_and_load_model_round_trip(tmp_path, cdnow):
    ours = clt.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    path = tmp_path / "bgf.json"
    ours.save_model(path)
    loaded = clt.BetaGeoFitter()
    loaded.load_model(path)
    pd.testing.assert_series_equal(loaded.params_, ours.params_)
    pd.testing.assert_frame_equal(loaded.summary, ours.summary)
    pd.testing.assert_frame_equal(loaded.data, ours.data)
    ours.save_model(path, save_data=False)
    lean = clt.BetaGeoFitter()
    lean.load_model(path)
    assert lean.data is None
    assert lean.conditional_probability_alive(2, 30.43, 38.86)[0] == ours.conditional_probability_alive(2, 30.43, 38.86)[0]
    # a lifetimes (dill) file is refused with a ValueError that says why
    theirs = lt.BetaGeoFitter()
    theirs.params_ = pd.Series(BG_PUBLISHED)
    theirs.save_model(str(tmp_path / "lifetimes.pkl"))
    with pytest.raises(ValueError, match="pickle"):
        clt.BetaGeoFitter().load_model(tmp_path / "lifetimes.pkl")
    with pytest.raises(ValueError, match="not a BetaGeoFitter|holds a"):
        clt.ParetoNBDFitter().load_model(path)


def test_generate_new_data_has_the_fitted_ages(cdnow):
    ours = clt.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    sim = ours.generate_new_data(seed=1)
    assert len(sim) == len(cdnow)
    np.testing.assert_array_equal(sim["T"].to_numpy(), cdnow["T"].to_numpy())
    assert {"frequency", "recency", "T"} <= set(sim.columns)


# ------------------------------------------------------------------ published values lifetimes documents
def test_lifetimes_documented_values_from_the_papers(cdnow, donations):
    """Values lifetimes' documentation and tests cite: Hardie's BG/NBD spreadsheet (E[X(t)] and the
    conditional expectation), BTYDplus' MBG/NBD fit, the Pareto/NBD, gamma-gamma and BG/BB papers."""
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    bgf = clt.BetaGeoFitter().fit(f, r, T)
    np.testing.assert_allclose(bgf.params_, [0.243, 4.414, 0.793, 2.426], atol=5e-4)
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    np.testing.assert_allclose(bgf.expected_number_of_purchases_up_to_time(times),
                               [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576], atol=5e-4)
    assert abs(bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86) - 1.226) < 1e-3
    assert bgf.conditional_probability_alive(0, 1, 1) == 1.0
    mbgf = clt.ModifiedBetaGeoFitter().fit(f, r, T)
    np.testing.assert_allclose(mbgf.params_, [0.525, 6.183, 0.891, 1.614], atol=5e-4)
    assert mbgf.conditional_probability_alive(0, 0, 1)[0] < 1.0
    pnbd = clt.ParetoNBDFitter().fit(f, r, T)
    # published to 3 decimals; lifetimes checks them with decimal=3 (|error| < 1.5e-3): the exact optimum has beta 11.668
    np.testing.assert_allclose(pnbd.params_, [0.553, 10.578, 0.606, 11.669], atol=1.5e-3)
    money = clt.datasets.load_cdnow_summary_data_with_monetary_value()
    rep = money[money["frequency"] > 0]
    ggf = clt.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    np.testing.assert_allclose(ggf.params_, [6.25, 3.74, 15.44], atol=1.5e-2)  # 2 decimals (lifetimes: decimal=2)
    bb = clt.BetaGeoBetaBinomFitter().fit(donations["frequency"], donations["recency"], donations["periods"],
                                         donations["weights"])
    np.testing.assert_allclose(bb.params_, [1.204, 0.750, 0.657, 2.783], atol=5e-4)
    # the penalizer shrinks every BG/NBD parameter, more with a larger one (lifetimes' own check)
    p1 = clt.BetaGeoFitter(penalizer_coef=0.1).fit(f, r, T).params_.to_numpy()
    p2 = clt.BetaGeoFitter(penalizer_coef=10).fit(f, r, T).params_.to_numpy()
    assert np.all(p1 < bgf.params_.to_numpy()) and np.all(p2 < p1)
    # fitting in other time units gives the same P(alive) (lifetimes' scaling check)
    big = clt.BetaGeoFitter().fit(f, 10 * r, 10 * T)
    assert big._scale < 1
    assert abs(big.conditional_probability_alive(1, 10, 20)[0] - bgf.conditional_probability_alive(1, 1, 2)[0]) < 1e-7


@pytest.mark.parametrize("penalizer", [0.05, 1.0])
def test_pareto_penalizer_means_what_it_means_in_lifetimes(cdnow, penalizer):
    """lifetimes' Pareto/NBD objective: summed negative log-likelihood of the rescaled data plus
    penalizer * sum(params**2); compat's estimate is its minimum (every parameter moved 0.1% costs)."""
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = clt.ParetoNBDFitter(penalizer_coef=penalizer).fit(f, r, T)
    scale = 1.0 / T.max()
    scaled = np.array([ours.params_["r"], ours.params_["alpha"] * scale, ours.params_["s"], ours.params_["beta"] * scale])
    args = (f.to_numpy(), r.to_numpy() * scale, T.to_numpy() * scale, np.ones(len(f)), penalizer)
    best = lt.ParetoNBDFitter._negative_log_likelihood(scaled, *args)
    assert best == pytest.approx(ours._negative_log_likelihood_, rel=1e-10)
    for j in range(4):
        for step in (1.001, 0.999):
            moved = scaled.copy()
            moved[j] *= step
            assert lt.ParetoNBDFitter._negative_log_likelihood(moved, *args) > best


def test_penalised_bgbb_and_gamma_gamma_equal_lifetimes(donations):
    theirs = _lifetimes_fit(lt.BetaGeoBetaBinomFitter(penalizer_coef=0.1), donations["frequency"],
                            donations["recency"], donations["periods"], donations["weights"])
    ours = clt.BetaGeoBetaBinomFitter(penalizer_coef=0.1).fit(donations["frequency"], donations["recency"],
                                                              donations["periods"], donations["weights"])
    same(ours.params_, theirs.params_, rel=FIT_REL)
    money = clt.datasets.load_cdnow_summary_data_with_monetary_value()
    rep = money[money["frequency"] > 0]
    theirs = _lifetimes_fit(lt.GammaGammaFitter(penalizer_coef=0.01), rep["frequency"], rep["monetary_value"])
    ours = clt.GammaGammaFitter(penalizer_coef=0.01).fit(rep["frequency"], rep["monetary_value"])
    same(ours.params_, theirs.params_, rel=FIT_REL)
    same(ours.standard_errors_, theirs.standard_errors_, rel=FIT_REL)


def test_unfitted_repr_and_errors_equal_lifetimes():
    for name in ("BetaGeoFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter", "BetaGeoBetaBinomFitter", "GammaGammaFitter"):
        assert repr(getattr(clt, name)()) == repr(getattr(lt, name)())
        assert getattr(clt, name)(penalizer_coef=0.3).penalizer_coef == 0.3
