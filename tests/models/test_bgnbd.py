"""BG/NBD against Fader, Hardie & Lee (2005) on CDNOW, lifetimes, and independent integrals."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import betaln, hyp2f1

from cvm.errors import SchemaError
from cvm.models.base import BoundaryWarning, load_model
from cvm.models.bgnbd import BGNBD

CDNOW = Path(__file__).resolve().parents[2] / "src/cvm/data/datasets/cdnow_customers_summary.csv"
PUBLISHED = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL 2005, section 5


def load_cdnow():
    return pd.read_csv(CDNOW)


@pytest.fixture(scope="module")
def fitted():
    return BGNBD().fit(load_cdnow())


def random_histories(n=60, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, n).astype(float)
    T = rng.uniform(1, 80, n)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    return x, tx, T


def test_cdnow_fit_matches_published_estimates(fitted):
    # FHL 2005: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4 * max(1, value))
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.converged_ and np.all(np.isfinite(fitted.stderr_))


def test_cdnow_predictions_match_paper(fitted):
    # E[X(t)] of a new customer, FHL 2005 eq. 7, written out here with the fitted parameters:
    # (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
    r, alpha, a, b = (fitted.params_[k] for k in ("r", "alpha", "a", "b"))
    t = np.array([1.0, 3.0, 78.0])
    eq7 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    assert fitted.expected_purchases_new(t) == pytest.approx(eq7, rel=1e-10)
    # and the figures the engine issue quotes as public for CDNOW (0.0532, 0.1506, 1.8576), which are
    # rounded: ours are 0.05318, 0.15063, 1.85797 (within 2.3e-4 relative)
    assert fitted.expected_purchases_new(t) == pytest.approx([0.0532, 0.1506, 1.8576], rel=5e-4)
    # x=2, t_x=30.43, T=38.86: E[Y(39)] = 1.226 (FHL 2005, section 5)
    assert fitted.expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=6e-4)
    # customer 1516 in FHL's spreadsheet: x=26, t_x=30.857, T=31: E[Y(52)] = 25.757, P(alive) = 0.9689
    assert fitted.expected_purchases(52, 26, 30.857, 31)[0] == pytest.approx(25.757, abs=2e-3)
    assert fitted.probability_alive(26, 30.857, 31)[0] == pytest.approx(0.9689, abs=1e-4)


def test_agrees_with_lifetimes_on_random_histories():
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.BetaGeoFitter()
    oracle.params_ = pd.Series(PUBLISHED)
    m = BGNBD.from_params(**PUBLISHED)
    x, tx, T = random_histories()
    assert np.allclose(m.probability_alive(x, tx, T), oracle.conditional_probability_alive(x, tx, T), rtol=1e-10)
    for t in (1.0, 10.0, 52.0):
        assert np.allclose(
            m.expected_purchases(t, x, tx, T),
            oracle.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
            rtol=1e-8,
        )
    for n in (0, 1, 4):
        assert m.purchase_probability(n, 20.0)[0] == pytest.approx(oracle.probability_of_n_purchases_up_to_time(20.0, n), rel=1e-9)


def test_purchase_probabilities_sum_to_one():
    m = BGNBD.from_params(**PUBLISHED)
    assert m.purchase_probability(np.arange(400), 30.0).sum() == pytest.approx(1.0, abs=1e-9)


def _dert_reference(p, x, tx, T, delta, horizon=np.inf):
    """Slow independent DERT: quad over t of exp(-delta t) * dE[Y(t)]/dt with the Beta expectation by quad too."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    A = alpha + T
    pa = 1.0 / (1.0 + (x > 0) * a / (b + x - 1) * (A / (alpha + tx)) ** (r + x))

    def rate(t):
        # E_p[(1 + p t / A)^-(r+x+1)] over p ~ Beta(a, b+x); the algebraic weight q^(a-1) (1-q)^(b+x-1)
        # is integrated exactly by QUADPACK's QAWS rule (a < 1 makes it singular at 0)
        g = lambda q: (1 + q * t / A) ** (-(r + x + 1))  # noqa: E731
        expectation = integrate.quad(g, 0, 1, weight="alg", wvar=(a - 1, b + x - 1))[0] * np.exp(-betaln(a, b + x))
        return (r + x) / A * expectation

    return pa * integrate.quad(lambda t: np.exp(-delta * t) * rate(t), 0, horizon, limit=200)[0]


@pytest.mark.parametrize("x,tx,T", [(0, 0.0, 38.0), (2, 30.43, 38.86), (26, 30.857, 31.0), (7, 5.0, 70.0)])
def test_dert_matches_slow_quadrature(x, tx, T):
    m = BGNBD.from_params(**PUBLISHED)
    d = np.expm1(np.log(1.15) / 52)  # 15% a year, weekly, delta = ln(1.15)/52
    got = m.discounted_expected_purchases(x, tx, T, d)[0]
    assert got == pytest.approx(_dert_reference(PUBLISHED, x, tx, T, np.log(1.15) / 52), rel=1e-6)
    got_h = m.discounted_expected_purchases(x, tx, T, d, horizon=52)[0]
    assert got_h == pytest.approx(_dert_reference(PUBLISHED, x, tx, T, np.log(1.15) / 52, 52.0), rel=1e-6)
    # with no discounting, a finite-horizon DERT is the conditional expectation itself
    assert m.discounted_expected_purchases(x, tx, T, 0.0, horizon=52)[0] == pytest.approx(m.expected_purchases(52, x, tx, T)[0], rel=1e-7)


@pytest.mark.slow
def test_recovers_parameters_from_simulation():
    truth = dict(r=0.5, alpha=6.0, a=0.7, b=2.5)
    sim = BGNBD.from_params(**truth).simulate(20_000, T=np.linspace(20, 52, 20_000), seed=11)
    fit = BGNBD().fit(sim)
    for name, value in truth.items():
        assert abs(fit.params_[name] - value) < 3 * fit.stderr_[name], name


def test_simulate_events_agree_with_summary_definition():
    m = BGNBD.from_params(**PUBLISHED)
    ev = m.simulate_events(500, T=40.0, seed=2)
    assert ev["t"].between(0, 40).all()
    sim = m.simulate(20_000, T=40.0, seed=4)
    # mean repeat purchases of simulated customers vs E[X(40)] (sampling error ~ 0.03)
    assert sim["frequency"].mean() == pytest.approx(m.expected_purchases_new(40.0)[0], abs=0.06)
    counts = ev.groupby("customer").size()
    assert counts.mean() * len(counts) / 500 == pytest.approx(m.expected_purchases_new(40.0)[0], abs=0.25)


def test_save_load_roundtrip(tmp_path, fitted):
    back = load_model(fitted.save(tmp_path / "bg.json"))
    assert isinstance(back, BGNBD)
    assert np.allclose(back.params_, fitted.params_)
    assert back.probability_alive(3, 10.0, 20.0) == pytest.approx(fitted.probability_alive(3, 10.0, 20.0))


def test_bad_input_gets_schema_errors():
    m = BGNBD.from_params(**PUBLISHED)
    with pytest.raises(SchemaError, match="recency"):
        BGNBD().fit([1, 2], [5.0, 50.0], [10.0, 20.0])
    with pytest.raises(SchemaError, match="whole number"):
        BGNBD().fit([1.5], [1.0], [3.0])
    with pytest.raises(SchemaError, match="recency must be 0"):
        m.probability_alive(0, 2.0, 5.0)
    with pytest.raises(SchemaError, match="discount_rate"):
        m.discounted_expected_purchases(1, 2.0, 5.0, 0.0)
    with pytest.raises(SchemaError):
        BGNBD().fit(pd.DataFrame({"frequency": [1], "T": [3.0]}))


def test_degenerate_data_never_gives_nan_parameters():
    T = np.full(50, 30.0)
    # nobody repeats: the purchase rate goes to the edge of its range
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = BGNBD().fit(np.zeros(50), np.zeros(50), T)
    assert any(issubclass(w.category, BoundaryWarning) for w in caught)
    assert np.all(np.isfinite(m.params_))
    # everyone buys every week and is seen at the end: no sign of dropout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BGNBD().fit(np.full(50, 29.0), np.full(50, 29.0), T)
    assert np.all(np.isfinite(m.params_)) and np.isfinite(m.log_likelihood_)
    # a single customer, and a very long history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = BGNBD().fit([3], [10.0], [20.0])
    assert np.all(np.isfinite(one.params_))
    big = BGNBD.from_params(**PUBLISHED)
    assert np.all(np.isfinite(big.expected_purchases(100, [5000, 0], [4999.0, 0.0], [5000.0, 5000.0])))


def _reference_log_likelihood(x, tx, T, r, alpha, a, b, extra_drop):
    """FHL 2005 eq. 6 (Batislam et al. 2007 eq. 4 with extra_drop=1), one customer, plain math."""
    from math import lgamma, log

    e = extra_drop
    head = lgamma(r + x) - lgamma(r) + r * log(alpha)
    beta_ratio = lgamma(a + b) + lgamma(b + x + e) - lgamma(b) - lgamma(a + b + x + e)
    bracket = (alpha + T) ** -(r + x)
    if x > 0 or e:
        bracket += a / (b + x + e - 1) * (alpha + tx) ** -(r + x)
    return head + beta_ratio + log(bracket)


@pytest.mark.parametrize("days", [True, False], ids=["day-unit summary (tabulated columns)", "continuous times"])
@pytest.mark.parametrize("cls_name", ["BGNBD", "MBGNBD"])
def test_one_pass_likelihood_and_gradient_match_reference_and_differences(days, cls_name):
    from cvm.models import MBGNBD

    cls = BGNBD if cls_name == "BGNBD" else MBGNBD
    rng = np.random.default_rng(11)
    n = 400
    x = rng.integers(0, 12, n).astype(float)
    T = rng.integers(20, 26, n).astype(float) if days else rng.uniform(20, 26, n)
    tx = np.where(x > 0, np.round(rng.uniform(0, 1, n) * T) if days else rng.uniform(0, 1, n) * T, 0.0)
    tx[x == 0] = 0.0
    model = cls()
    data = model._prepare({"frequency": x, "recency": tx, "T": T})  # as the engine gives it during a fit
    theta = np.array([0.6, 3.5, 0.9, 2.2])
    ll = model._log_likelihood(theta, data)
    expected = [_reference_log_likelihood(*row, *theta, cls._extra_drop) for row in zip(x, tx, T)]
    assert ll == pytest.approx(expected, rel=1e-12, abs=1e-12)
    exact = model._gradient(theta, data)
    for j in range(4):
        h = np.zeros(4)
        h[j] = 1e-6 * theta[j]
        up, down = cls()._log_likelihood(theta + h, data), cls()._log_likelihood(theta - h, data)
        assert exact[:, j] == pytest.approx((up - down) / (2 * h[j]), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("cls_name", ["BGNBD", "MBGNBD"])
def test_expectations_over_many_customers_equal_one_customer_at_a_time(cls_name):
    # expected_purchases shares its work between customers with the same (x, T) and
    # expected_purchases_by_horizon between horizons: both must equal single-customer calls
    from cvm.models import MBGNBD

    cls = BGNBD if cls_name == "BGNBD" else MBGNBD
    m = cls.from_params(**PUBLISHED)
    x, tx, T = random_histories(40)
    x, tx, T = np.concatenate([x, x[:10]]), np.concatenate([tx, tx[:10] / 2]), np.concatenate([T, T[:10]])
    horizons = np.array([1.0, 13.0, 52.0])
    table = m.expected_purchases_by_horizon(horizons, x, tx, T)
    one_by_one = np.array([[m.expected_purchases(h, x[i], tx[i], T[i])[0] for h in horizons] for i in range(x.size)])
    assert table.shape == (x.size, 3)
    assert table == pytest.approx(one_by_one, rel=1e-13)
    assert m.expected_purchases(13.0, x, tx, T) == pytest.approx(one_by_one[:, 1], rel=1e-13)
    per_customer_t = np.where(np.arange(x.size) % 2, 1.0, 52.0)
    assert m.expected_purchases(per_customer_t, x, tx, T) == pytest.approx(
        np.where(np.arange(x.size) % 2, one_by_one[:, 0], one_by_one[:, 2]), rel=1e-13)
    with pytest.raises(SchemaError):
        m.expected_purchases(np.ones(3), x, tx, T)
    # weighted over horizons: the same sum taken customer by customer
    w = np.array([0.5, -1.25, 2.0])
    assert m.expected_purchases_by_horizon(horizons, x, tx, T, weights=w) == pytest.approx(one_by_one @ w, rel=1e-12)
    with pytest.raises(SchemaError):
        m.expected_purchases_by_horizon(horizons, x, tx, T, weights=[1.0, 2.0])


def test_pareto_weighted_horizons_equal_one_call_per_horizon():
    from cvm.models import ParetoNBD

    m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)  # FHL (2005) CDNOW
    x, tx, T = random_histories(30)
    horizons = np.array([4.0, 26.0, 104.0])
    each = np.column_stack([m.expected_purchases(h, x, tx, T) for h in horizons])
    assert m.expected_purchases_by_horizon(horizons, x, tx, T) == pytest.approx(each, rel=1e-12)
    w = np.array([1.0, 0.3, -0.7])
    assert m.expected_purchases_by_horizon(horizons, x, tx, T, weights=w) == pytest.approx(each @ w, rel=1e-12)


@pytest.mark.parametrize("a", [1.0, 1.0 + 5e-5, 1.0 - 9.9e-5, 1.0 + 1e-4 * (1 - 1e-12)])
def test_expectation_while_alive_near_a_equal_one(a):
    # the removable singularity at a = 1 (the formula divides by a - 1): once this recursed without end
    # for a just above 1; reference: E_p[(1 - (1 + p tau)^-m) / p] over p ~ Beta(a, bb) by quadrature
    from cvm.models.bgnbd import beta_expected_while_alive

    tau, m, bb = 1.7, 2.3, 3.1
    g = lambda q: -np.expm1(-m * np.log1p(q * tau)) / q if q > 0 else m * tau  # noqa: E731  (its limit at 0)
    ref = integrate.quad(g, 0, 1, weight="alg", wvar=(a - 1, bb - 1))[0] * np.exp(-betaln(a, bb))
    assert beta_expected_while_alive(tau, m, a, bb) == pytest.approx(ref, rel=1e-7)
