"""Fits that leave the model's space: each ends with the model's limiting case or a refusal that says why.

Expected values come from mpmath (the Pareto/NBD dropout integral at extreme parameters), from the
closed-form maximum-likelihood estimate of the Poisson limit, from scipy's negative binomial (the
NBD likelihood) and from the BG/NBD and Pareto/NBD formulas themselves evaluated just inside their
limits. Time is not asserted here: benchmarks/bench_boundary.py measures it.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from scipy import stats

from cvm.errors import ConvergenceError, SchemaError
from cvm.models import BGNBD, MBGNBD, NBD, ParetoNBD, Poisson
from cvm.models.base import BoundaryWarning, CalibrationWarning
from cvm.models.limits import fit_for_prediction
from cvm.models.pnbd import dropout_quadrature


def _poisson_buyers(n, rate_shape=None, seed=0, rate=0.5):
    """Customers who buy as a Poisson process and never drop out, observed 60-78 weeks.

    ``rate_shape=None``: every customer has the same rate; else rates ~ Gamma(rate_shape, mean ``rate``).
    The last purchase of ``x`` uniform times in (0, T] is ``T * Beta(x, 1)``.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(60, 78, n)
    lam = np.full(n, rate) if rate_shape is None else rng.gamma(rate_shape, rate / rate_shape, n)
    x = rng.poisson(lam * T).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    return x, tx, T


def _codes(caught):
    return [getattr(w.message, "code", None) for w in caught]


# --------------------------------------------------------------------------- the Pareto/NBD at extreme parameters

EXTREME = [
    # (r, alpha, s, beta, x, t_x, T): fits running to no dropout, to no heterogeneity, and tiny scales
    (1e6, 2e6, 1e-9, 1e9, 30, 60.0, 70.0),
    (1e6, 2e6, 1e-9, 1e9, 0, 0.0, 70.0),
    (7e6, 1.5e7, 0.5, 1e8, 35, 69.0, 70.0),
    (0.3, 0.01, 0.4, 50.0, 5, 3.0, 70.0),
    (50.0, 100.0, 2.0, 1e7, 40, 60.0, 75.0),
    (1e-3, 1e-4, 1e-3, 1e4, 0, 0.0, 50.0),
    (0.2, 500.0, 3.0, 0.01, 2, 10.0, 60.0),
    (1e4, 1e6, 0.3, 1e3, 100, 50.0, 77.0),
    (0.9, 1e-5, 0.05, 1e-7, 12, 29.0, 30.0),
    (3.6e9, 7.1e9, 8e-13, 1.3e3, 37, 70.0, 74.0),
]


def _mp_log_dropout(r, alpha, s, beta, x, tx, T, exact=False):
    """log of int_tx^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau, by mpmath at 40 digits.

    The integrand falls by up to e^-(10^8) over the interval: it is integrated on [tx, tx + h] with
    h where it has fallen by e^-60 (found from its log), split geometrically so tanh-sinh sees it smooth.
    """
    mpmath.mp.dps = 40
    r, alpha, s, beta, x, tx, T = (mpmath.mpf(v) for v in (r, alpha, s, beta, x, tx, T))

    def log_f(t):
        return -(r + x) * mpmath.log(alpha + t) - (s + 1) * mpmath.log(beta + t)

    top = log_f(tx)
    end = T if log_f(T) > top - 60 else mpmath.findroot(lambda t: log_f(t) - (top - 60), (tx, T), solver="bisect")
    points = [tx + (end - tx) * mpmath.mpf(10) ** -k for k in range(12, 0, -1)] + [end]
    value = mpmath.quad(lambda t: mpmath.exp(log_f(t) - top), [tx, *points])
    return top + mpmath.log(value) if exact else float(top + mpmath.log(value))


@pytest.mark.parametrize("case", EXTREME)
def test_dropout_quadrature_matches_mpmath_at_extreme_parameters(case):
    value, _ = dropout_quadrature(*[np.array([float(v)]) for v in case])
    reference = _mp_log_dropout(*case)
    assert value[0] == pytest.approx(reference, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("case", EXTREME[:4] + EXTREME[-2:])
def test_dropout_quadrature_gradient_matches_differences_of_mpmath(case):
    _, grad = dropout_quadrature(*[np.array([float(v)]) for v in case], grad=True)
    r, alpha, s, beta, x, tx, T = case
    for j, name in enumerate(("r", "alpha", "s", "beta")):
        params = [r, alpha, s, beta]
        h = mpmath.mpf(params[j]) * mpmath.mpf("1e-8")
        up, down = [mpmath.mpf(v) for v in params], [mpmath.mpf(v) for v in params]
        up[j] += h
        down[j] -= h
        numeric = float((_mp_log_dropout(*up, x, tx, T, exact=True) - _mp_log_dropout(*down, x, tx, T, exact=True)) / (2 * h))
        assert grad[j, 0] == pytest.approx(numeric, rel=1e-5, abs=1e-9 * max(1.0, abs(numeric))), name


def test_pareto_nbd_likelihood_at_extreme_parameters_matches_mpmath():
    # FHL 2005 note, eq. 16-19, summed by mpmath: L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [alive + s * I]
    theta = np.array([1e6, 2e6, 1e-9, 1e9])
    x, tx, T = np.array([30.0, 0.0, 12.0]), np.array([60.0, 0.0, 50.0]), np.array([70.0, 70.0, 66.0])
    ll = ParetoNBD.from_params(r=1e6, alpha=2e6, s=1e-9, beta=1e9)._log_likelihood(
        theta, {"frequency": x, "recency": tx, "T": T})
    for i in range(3):
        r, alpha, s, beta = (mpmath.mpf(v) for v in theta)
        xi, Ti = mpmath.mpf(x[i]), mpmath.mpf(T[i])
        const = mpmath.loggamma(r + xi) - mpmath.loggamma(r) + r * mpmath.log(alpha) + s * mpmath.log(beta)
        alive = -(r + xi) * mpmath.log(alpha + Ti) - s * mpmath.log(beta + Ti)
        dead = mpmath.log(s) + _mp_log_dropout(*theta, x[i], tx[i], T[i])
        top = max(alive, dead)
        reference = const + top + mpmath.log(mpmath.exp(alive - top) + mpmath.exp(dead - top))
        assert ll[i] == pytest.approx(float(reference), rel=1e-10)


# --------------------------------------------------------------------------- the limits' own mathematics


def test_nbd_likelihood_is_the_negative_binomial_count_times_the_timing_density():
    # L(r, alpha | x, T) = NB(x; r, alpha / (alpha + T)) * x! / T^x (the event times given x are uniform on (0, T])
    r, alpha = 1.7, 3.2
    x, T = np.array([0.0, 1.0, 4.0, 9.0]), np.array([5.0, 12.0, 30.0, 40.0])
    ll = NBD.from_params(r=r, alpha=alpha)._log_likelihood(np.array([r, alpha]), {"frequency": x, "T": T})
    reference = stats.nbinom.logpmf(x, r, alpha / (alpha + T)) + np.array([0.0, 0.0, np.log(24.0), np.log(362880.0)]) - x * np.log(T)
    assert np.allclose(ll, reference, rtol=1e-13)


def test_nbd_predictions_are_the_limits_of_bgnbd_and_pareto_nbd():
    r, alpha = 0.8, 6.0
    x, tx, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 10.0, 30.0]), np.array([20.0, 25.0, 35.0])
    nbd = NBD.from_params(r=r, alpha=alpha)
    # BG/NBD with a vanishing dropout probability (E[p] = 1e-12) and Pareto/NBD with a vanishing dropout rate
    bg = BGNBD.from_params(r=r, alpha=alpha, a=1e-12, b=1.0)
    pareto = ParetoNBD.from_params(r=r, alpha=alpha, s=1e-9, beta=1.0)
    for other in (bg, pareto):
        assert np.allclose(nbd.expected_purchases(10.0, x, tx, T), other.expected_purchases(10.0, x, tx, T), rtol=1e-7)
        assert np.allclose(nbd.expected_purchases_new([1.0, 52.0]), other.expected_purchases_new([1.0, 52.0]), rtol=1e-7)
        assert np.allclose(nbd.probability_alive(x, tx, T), other.probability_alive(x, tx, T), rtol=1e-7)
    # the NBD's purchase probability is the negative binomial
    assert nbd.purchase_probability([0, 3], 10.0) == pytest.approx(stats.nbinom.pmf([0, 3], r, alpha / (alpha + 10.0)))


def test_poisson_limit_is_the_pooled_rate():
    x, tx, T = _poisson_buyers(400, seed=3)
    m = Poisson().fit(x, tx, T)
    assert m.params_["rate"] == pytest.approx(x.sum() / T.sum(), rel=1e-8)  # the MLE, by hand
    assert m.expected_purchases(4.0, x[:3], tx[:3], T[:3]) == pytest.approx(np.full(3, 4.0 * x.sum() / T.sum()), rel=1e-8)
    assert m.calibration_check_["agrees"]


# --------------------------------------------------------------------------- boundary data: a limit or a refusal


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_no_dropout_ends_in_the_nbd_limit(cls):
    # heterogeneous Poisson buyers (rates ~ Gamma(2, mean 0.5)), nobody drops out
    x, tx, T = _poisson_buyers(3000, rate_shape=2.0, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted, used = fit_for_prediction(cls, x, tx, T)
    if fitted.limit_ is None:
        pytest.fail(f"{cls.__name__} did not reach its no-dropout limit: {fitted.params}")
    assert fitted.limit_ == "nbd" and "fit_limit_nbd" in _codes(caught)
    assert isinstance(used, NBD)
    # the NBD recovers the simulated gamma: shape 2, rate 4 (mean 0.5), within sampling error
    assert used.params_["r"] == pytest.approx(2.0, rel=0.15)
    assert used.params_["alpha"] == pytest.approx(4.0, rel=0.15)
    assert used.calibration_check_["agrees"]
    assert np.all(used.probability_alive(x, tx, T) == 1.0)
    assert np.all(used.expected_purchases(10.0, x, tx, T) > 0)


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD])
def test_steady_poisson_buyers_are_valued_at_their_common_rate(cls):
    # the case seen on real data: steady buyers, BG/NBD ran to r = 1.7e35, a = 1e-22 and predicted 0 for everyone.
    # Every customer buys at rate 0.5: the fit ends in the NBD (r in the hundreds: the sample's own noise) or,
    # once r passes 1e4, in the Poisson limit; either way everyone's expectation is about the pooled rate.
    x, tx, T = _poisson_buyers(3000, seed=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, used = fit_for_prediction(cls, x, tx, T)
    assert isinstance(used, (NBD, Poisson)) and "fit_limit_nbd" in _codes(caught)
    pooled = x.sum() / T.sum()
    assert pooled == pytest.approx(0.5, rel=0.02)
    assert used.expected_purchases(10.0, x, tx, T) == pytest.approx(np.full(x.size, 10.0 * pooled), rel=0.05)
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)  # no raw numpy warning


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD])
def test_clockwork_buyers_end_in_the_poisson_limit(cls):
    # every customer buys every second week exactly (less spread than any Poisson process): the NBD's r runs
    # off to infinity, and the fit ends in one Poisson rate, the pooled MLE sum x / sum T
    T = np.random.default_rng(7).uniform(60, 78, 2000)
    x = np.floor(T / 2.0)
    tx = 2.0 * x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, used = fit_for_prediction(cls, x, tx, T)
    assert isinstance(used, Poisson)
    assert "fit_limit_nbd" in _codes(caught) and "fit_limit_poisson" in _codes(caught)
    assert used.params_["rate"] == pytest.approx(x.sum() / T.sum(), rel=1e-8)
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_all_one_time_buyers_are_refused_with_the_reason(cls):
    T = np.random.default_rng(0).uniform(1, 50, 300)
    with pytest.raises(ConvergenceError) as info:
        fit_for_prediction(cls, np.zeros(300), np.zeros(300), T)
    assert info.value.code == "no_repeat_buyers" and "bought a second time" in info.value.message


def test_everything_on_one_day_is_refused_with_the_reason(tmp_path):
    from cvm.data import Workspace
    from cvm.service import score_customers

    path = tmp_path / "one_day.csv"
    path.write_text("customer_id,ts,amount\n" + "".join(f"C{i},2024-03-01,{10 + i}\n" for i in range(40)))
    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(path, kind="transactions")
    with pytest.raises(SchemaError) as info:
        score_customers(ws, model="bgnbd", store=False)
    assert info.value.code == "all_on_one_day" and "2024-03-01" in info.value.message
    ws.close()


def test_a_fit_that_predicts_nothing_is_refused_not_scored_as_zero():
    from cvm.models.limits import check_predictions

    x, tx, T = _poisson_buyers(50, seed=4)
    # a purchase rate of r / alpha = 1e-15 a week for customers who buy every other week: E[X(t)] is about
    # 1e-14 for everyone, the "CLV 0, expected purchases 0 for every customer" seen on real data
    nothing = BGNBD.from_params(r=1e-3, alpha=1e12, a=1.0, b=1.0)
    with pytest.raises(ConvergenceError) as info:
        check_predictions(nothing, x, tx, T)
    assert info.value.code == "predictions_broken" and "no usable number" in info.value.message
    # a handful of customers: the same words as a warning (the few-customers warning covers the rest)
    with pytest.warns(CalibrationWarning, match="no usable number"):
        check_predictions(nothing, x[:5], tx[:5], T[:5])
    # and a sound fit passes
    check_predictions(NBD.from_params(r=2.0, alpha=4.0), x, tx, T)


# --------------------------------------------------------------------------- budget and calibration check


def test_a_fit_over_its_time_budget_stops_with_the_reason():
    x, tx, T = _poisson_buyers(500, rate_shape=2.0, seed=5)
    with pytest.raises(ConvergenceError) as info:
        ParetoNBD(max_seconds=1e-9).fit(x, tx, T)
    assert info.value.code == "fit_over_budget" and "ParetoNBD" in info.value.message
    with pytest.raises(SchemaError):
        BGNBD(max_seconds=0)


def test_the_calibration_check_agrees_on_cdnow_and_warns_when_the_fit_is_off():
    from cvm.data.datasets import load_cdnow_summary

    d = load_cdnow_summary()
    args = (d["frequency"], d["recency"], d["T"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = BGNBD().fit(*args)
    check = m.calibration_check_
    assert check["actual"] == float(d["frequency"].sum())
    assert check["agrees"] and abs(check["expected"] - check["actual"]) < 0.05 * check["actual"]
    assert not any(issubclass(w.category, CalibrationWarning) for w in caught)
    # a heavy penalty pulls the parameters far from the data's optimum: the totals disagree, said in words
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        penalised = BGNBD(penalizer=5.0).fit(*args)
    assert not penalised.calibration_check_["agrees"]
    assert "fit_disagrees_with_data" in _codes(caught)
    text = next(str(w.message) for w in caught if getattr(w.message, "code", None) == "fit_disagrees_with_data")
    assert f"{check['actual']:,.0f}" in text


def test_boundary_warnings_render_in_dutch():
    from cvm.messages import render

    x, tx, T = _poisson_buyers(2000, rate_shape=2.0, seed=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BGNBD().fit(x, tx, T)
    warning = next(w.message for w in caught if getattr(w.message, "code", None) == "fit_limit_nbd")
    message, hint = render(warning.code, warning.values, "nl")
    assert "NBD" in message and "afhaken" in message and hint
