"""Pareto/NBD against Fader, Hardie & Lee (2005) on CDNOW, lifetimes, mpmath and independent integrals."""

import warnings
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from cvm.models import pnbd
from cvm.models.pnbd import ParetoNBD

CDNOW = Path(__file__).resolve().parents[2] / "src/cvm/data/datasets/cdnow_customers_summary.csv"
PUBLISHED = dict(r=0.553, alpha=10.578, s=0.606, beta=11.669)  # FHL 2005 note / "RFM and CLV"


@pytest.fixture(scope="module")
def fitted():
    return ParetoNBD().fit(pd.read_csv(CDNOW))


def test_cdnow_fit_matches_published_estimates(fitted):
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=2e-3 * max(1, value))
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)  # published LL = -9595.0


def test_cdnow_customer_predictions(fitted):
    # x=26, t_x=30.857, T=31: E[Y(52)] = 25.456, P(alive) = 0.99787 (FHL 2005 note, worked example)
    m = ParetoNBD.from_params(**PUBLISHED)
    assert m.expected_purchases(52, 26, 30.857, 31)[0] == pytest.approx(25.456, abs=2e-3)
    assert m.probability_alive(26, 30.857, 31)[0] == pytest.approx(0.99787, abs=1e-5)
    assert fitted.expected_purchases(52, 26, 30.857, 31)[0] == pytest.approx(25.456, abs=5e-3)


def _mp_loglik(r, alpha, s, beta, x, tx, T):
    """High-precision reference: the FHL note's A0 expression evaluated by mpmath with 50 digits."""
    mpmath.mp.dps = 50
    r, alpha, s, beta, x, tx, T = map(mpmath.mpf, (r, alpha, s, beta, x, tx, T))
    if alpha >= beta:
        f = lambda y: mpmath.hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + y)) / (alpha + y) ** (r + s + x)  # noqa: E731
    else:
        f = lambda y: mpmath.hyp2f1(r + s + x, r + x, r + s + x + 1, (beta - alpha) / (beta + y)) / (beta + y) ** (r + s + x)  # noqa: E731
    a0 = f(tx) - f(T)
    L = mpmath.gamma(r + x) * alpha**r * beta**s / mpmath.gamma(r) * (1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / (r + s + x) * a0)
    return float(mpmath.log(L))


@pytest.mark.parametrize(
    "params,x,tx,T",
    [
        (PUBLISHED, 500, 4000.0, 5000.0),
        (PUBLISHED, 3000, 4999.0, 5000.0),
        (dict(r=2.1, alpha=0.5, s=0.3, beta=40.0), 800, 100.0, 5000.0),
        (dict(r=0.4, alpha=300.0, s=1.7, beta=2.0), 0, 0.0, 5000.0),
        (PUBLISHED, 2, 30.43, 38.86),
    ],
)
def test_likelihood_is_finite_and_exact_for_extreme_histories(params, x, tx, T, monkeypatch):
    # lifetimes issues 332 and 445: large x or T overflowed the hypergeometric terms
    m = ParetoNBD.from_params(**params)
    theta = m.params_.to_numpy()
    expected = _mp_loglik(*theta, x, tx, T)
    data = {"frequency": np.array([x], float), "recency": np.array([tx]), "T": np.array([T])}
    for rows in (10**9, 0):  # the row-by-row series, then the shared-coefficient polynomials
        monkeypatch.setattr(pnbd, "_GROUP_ROWS", max(rows, 1))
        monkeypatch.setattr(pnbd, "_SHARED_TAIL_ROWS", rows)
        m._last_eval = m._counts = None
        ll, g = m._evaluate(theta, data, True)
        assert np.isfinite(ll[0]) and np.all(np.isfinite(g))
        assert ll[0] == pytest.approx(expected, rel=1e-9)


def test_agrees_with_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.ParetoNBDFitter()
    oracle.params_ = pd.Series(PUBLISHED)
    m = ParetoNBD.from_params(**PUBLISHED)
    rng = np.random.default_rng(9)
    x = rng.integers(0, 30, 60).astype(float)
    T = rng.uniform(1, 80, 60)
    tx = np.where(x > 0, rng.uniform(0, 1, 60) * T, 0.0)
    assert np.allclose(m.probability_alive(x, tx, T), oracle.conditional_probability_alive(x, tx, T), rtol=1e-9)
    assert np.allclose(m.expected_purchases(20.0, x, tx, T), oracle.conditional_expected_number_of_purchases_up_to_time(20.0, x, tx, T), rtol=1e-9)
    t = np.array([1.0, 10.0, 78.0])
    assert np.allclose(m.expected_purchases_new(t), oracle.expected_number_of_purchases_up_to_time(t), rtol=1e-10)


def test_purchase_probability_against_direct_integration():
    p = PUBLISHED
    m = ParetoNBD.from_params(**p)
    t = 30.0
    for n in (0, 1, 5, 20):
        # P(X(t)=n) = NB(n; alpha/(alpha+t)) (beta/(beta+t))^s + int_0^t s beta^s (beta+tau)^-(s+1) NB(n; alpha/(alpha+tau)) dtau
        nb = lambda tau: stats.nbinom.pmf(n, p["r"], p["alpha"] / (p["alpha"] + tau))  # noqa: E731
        dead = integrate.quad(lambda tau: p["s"] * p["beta"] ** p["s"] * (p["beta"] + tau) ** (-p["s"] - 1) * nb(tau), 0, t, epsabs=1e-14)[0]
        ref = nb(t) * (p["beta"] / (p["beta"] + t)) ** p["s"] + dead
        assert m.purchase_probability(n, t)[0] == pytest.approx(ref, rel=1e-8)
    assert m.purchase_probability(np.arange(500), t).sum() == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("x,tx,T", [(0, 0.0, 38.0), (2, 30.43, 38.86), (26, 30.857, 31.0), (10, 3.0, 70.0)])
def test_dert_closed_form_matches_integral_of_conditional_rate(x, tx, T):
    p = PUBLISHED
    m = ParetoNBD.from_params(**p)
    delta = np.log(1.15) / 52  # 15% a year, weekly
    d = np.expm1(delta)
    closed = m.discounted_expected_purchases(x, tx, T, d)[0]
    pa = m.probability_alive(x, tx, T)[0]
    # rate of purchasing at t: P(alive) (r+x)/(alpha+T) ((beta+T)/(beta+T+t))^s
    rate = lambda t: pa * (p["r"] + x) / (p["alpha"] + T) * ((p["beta"] + T) / (p["beta"] + T + t)) ** p["s"]  # noqa: E731
    ref = integrate.quad(lambda t: np.exp(-delta * t) * rate(t), 0, np.inf, limit=400, epsabs=0, epsrel=1e-11)[0]
    assert closed == pytest.approx(ref, rel=1e-7)
    ref52 = integrate.quad(lambda t: np.exp(-delta * t) * rate(t), 0, 52, epsabs=0, epsrel=1e-12)[0]
    assert m.discounted_expected_purchases(x, tx, T, d, horizon=52)[0] == pytest.approx(ref52, rel=1e-9)


@pytest.mark.slow
def test_recovers_parameters_from_simulation():
    truth = dict(r=0.6, alpha=8.0, s=0.8, beta=12.0)
    sim = ParetoNBD.from_params(**truth).simulate(6_000, T=np.linspace(26, 52, 6_000), seed=21)
    fit = ParetoNBD().fit(sim)
    for name, value in truth.items():
        assert abs(fit.params_[name] - value) < 3 * fit.stderr_[name], name
    events = ParetoNBD.from_params(**truth).simulate_events(300, T=30.0, seed=1)
    assert events["t"].between(0, 30).all()


def test_degenerate_data_never_gives_nan_parameters():
    T = np.full(40, 30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x, tx in ((np.zeros(40), np.zeros(40)), (np.full(40, 29.0), np.full(40, 29.5))):
            m = ParetoNBD().fit(x, tx, T)
            assert np.all(np.isfinite(m.params_)) and np.isfinite(m.log_likelihood_)


def _mixed_histories(seed, n, zero_every, max_x, max_T):
    """Random (x, t_x, T): every ``zero_every``-th customer without repeat purchases."""
    rng = np.random.default_rng(seed)
    x = np.where(np.arange(n) % zero_every == 0, 0, rng.integers(1, max_x, n)).astype(float)
    T = rng.uniform(1, max_T, n)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    return x, tx, T


def _central_differences(m, theta, data, rel_step=1e-6):
    """Per-row gradient of the log-likelihood by central differences, shape (rows, 4)."""
    columns = []
    for j in range(theta.size):
        h = rel_step * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        columns.append((m._evaluate(up, data, False)[0] - m._evaluate(down, data, False)[0]) / (2 * h))
    return np.column_stack(columns)


@pytest.mark.parametrize(
    "params",
    [PUBLISHED, dict(r=2.1, alpha=0.5, s=0.3, beta=40.0), dict(r=0.4, alpha=300.0, s=1.7, beta=2.0),
     dict(r=0.24, alpha=4.0, s=3.0, beta=0.7), dict(r=1.5, alpha=30.0, s=0.2, beta=29.0)],
)
def test_fast_series_agrees_with_hypergeometric_tails(params, monkeypatch):
    # the fast interval series (both expansions) against the 2F1-tail path it replaces, row by row,
    # and its exact gradient against central differences of the log-likelihood
    from cvm.models.pnbd import series_plan

    n = 240  # a third without repeat purchases, with the shared-F(0) path switched on for them too
    x, tx, T = _mixed_histories(4, n, zero_every=3, max_x=80, max_T=300)
    data = {"frequency": x, "recency": tx, "T": T}
    m = ParetoNBD.from_params(**params)
    theta = m.params_.to_numpy()
    monkeypatch.setattr(pnbd, "_SHARED_TAIL_ROWS", 64)
    plan = series_plan(*theta, x, tx)
    slow = m._slow_dead(theta, data, np.arange(n), False)[0]
    for group_rows in (10**9, 1):  # row by row, then every purchase count as one polynomial group
        monkeypatch.setattr(pnbd, "_GROUP_ROWS", group_rows)
        fast = m._log_dead(theta, data)[0]
        assert np.allclose(fast, slow, rtol=1e-12, atol=1e-10)
    assert np.any(plan >= 0)
    _, g = m._evaluate(theta, data, True)
    ok = np.all(np.isfinite(g), axis=1)
    num = _central_differences(m, theta, data)
    assert np.allclose(g[ok], num[ok], rtol=1e-5, atol=1e-6)


def test_last_purchase_at_the_end_has_no_dropout_term():
    # x > 0 with t_x = T: the customer cannot have died unseen, L is the alive term alone (FHL note, eq. 18 with P(alive)=1)
    m = ParetoNBD.from_params(**PUBLISHED)
    r, alpha, s, beta = PUBLISHED.values()
    x, T = 4.0, 30.0
    ll = m._log_likelihood(m.params_.to_numpy(), {"frequency": np.array([x]), "recency": np.array([T]), "T": np.array([T])})[0]
    ref = float(mpmath.log(mpmath.gamma(r + x) * alpha**r * beta**s / mpmath.gamma(r) / ((alpha + T) ** (r + x) * (beta + T) ** s)))
    assert ll == pytest.approx(ref, rel=1e-12)
    assert m.probability_alive(x, T, T)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("m,b", [(1.16, 1.61), (0.9, 0.55), (3.7, 4.0), (0.25, 12.0)])
def test_tail_polynomial_against_mpmath(m, b):
    # S(zeta) = int_0^1 u^(m-1) (1 - zeta u)^-b du = 2F1(m, b; m+1; zeta) / m (Euler's integral, DLMF 15.6.1)
    from cvm.models.pnbd import tail_polynomial

    zeta = np.array([-0.2, -0.05, 0.0, 0.03, 0.15, 0.3])
    out = tail_polynomial(m, b, zeta, grad=True)
    assert out is not None
    log_s, d_m, d_b, d_z = out
    mpmath.mp.dps = 30

    def log_ref(mm, bb, z):
        return mpmath.log(mpmath.hyp2f1(mm, bb, mm + 1, z) / mm)

    for i, z in enumerate(zeta):
        assert log_s[i] == pytest.approx(float(log_ref(m, b, z)), rel=1e-13, abs=1e-14)
        assert d_m[i] == pytest.approx(float(mpmath.diff(lambda t: log_ref(t, b, z), m)), rel=1e-10, abs=1e-12)
        assert d_b[i] == pytest.approx(float(mpmath.diff(lambda t: log_ref(m, t, z), b)), rel=1e-10, abs=1e-12)
        assert d_z[i] == pytest.approx(float(mpmath.diff(lambda t: log_ref(m, b, t), z)), rel=1e-10, abs=1e-12)


def test_tail_polynomial_declines_slow_or_cancelling_series():
    from cvm.models.pnbd import tail_polynomial

    assert tail_polynomial(2.0, 1.5, np.array([0.97]), grad=False) is None  # over 200 terms
    assert tail_polynomial(2.0, 40.0, np.array([-0.2]), grad=False) is None  # alternating, cancels


def _quad_reference(r, alpha, s, beta, x, tx, T):
    """Plain-math Pareto/NBD log-likelihood of one customer and its gradient in (r, alpha, s, beta).

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) [ (alpha+T)^-(r+x) (beta+T)^-s + s I ],
    I = int_tx^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau (Schmittlein et al. 1987; FHL 2005 note,
    eqs. 16-17 before the 2F1 closed form), with I and its parameter derivatives (differentiation
    under the integral sign) by adaptive quadrature instead of hypergeometric functions.
    """
    from scipy.special import digamma, gammaln

    def integral(extra):
        f = lambda tau: extra(tau) * (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1)  # noqa: E731
        return integrate.quad(f, tx, T, epsabs=0, epsrel=1e-12, limit=200)[0] if T > tx else 0.0

    I = integral(lambda tau: 1.0)
    dI = [integral(lambda tau: -np.log(alpha + tau)), integral(lambda tau: -(r + x) / (alpha + tau)),
          integral(lambda tau: -np.log(beta + tau)), integral(lambda tau: -(s + 1) / (beta + tau))]
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    d_alive = [-np.log(alpha + T) * alive, -(r + x) / (alpha + T) * alive, -np.log(beta + T) * alive, -s / (beta + T) * alive]
    bracket = alive + s * I
    d_bracket = [d_alive[0] + s * dI[0], d_alive[1] + s * dI[1], d_alive[2] + I + s * dI[2], d_alive[3] + s * dI[3]]
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.log(bracket)
    const = [digamma(r + x) - digamma(r) + np.log(alpha), r / alpha, np.log(beta), s / beta]
    return ll, np.array([c + d / bracket for c, d in zip(const, d_bracket)])


@pytest.mark.parametrize(
    "params",
    [PUBLISHED, dict(r=2.1, alpha=0.5, s=0.3, beta=40.0), dict(r=0.4, alpha=30.0, s=1.7, beta=2.0),
     dict(r=0.24, alpha=4.0, s=3.0, beta=0.7), dict(r=1.5, alpha=30.0, s=0.2, beta=29.0)],
)
def test_one_pass_value_and_gradient_against_plain_math(params, monkeypatch):
    # the per-row log-likelihood and exact gradient of one evaluation (the pair the optimiser uses)
    # against quadrature of the defining integral, and the gradient against central differences;
    # half the customers have no repeat purchases, with the shared-tail path switched on for them
    n = 40
    x, tx, T = _mixed_histories(11, n, zero_every=2, max_x=25, max_T=90)
    tx[1] = T[1] if x[1] > 0 else tx[1]  # a last purchase at T: no dropout term
    data = {"frequency": x, "recency": tx, "T": T}
    monkeypatch.setattr(pnbd, "_SHARED_TAIL_ROWS", 4)
    monkeypatch.setattr(pnbd, "_GROUP_ROWS", 1)  # customers with the same purchase count as polynomial groups
    m = ParetoNBD.from_params(**params)
    theta = m.params_.to_numpy()
    ll, g = m._evaluate(theta, data, True)
    for i in range(n):
        ref_ll, ref_g = _quad_reference(*theta, x[i], tx[i], T[i])
        assert ll[i] == pytest.approx(ref_ll, rel=1e-10, abs=1e-10), i
        assert np.allclose(g[i], ref_g, rtol=1e-7, atol=1e-9), i
    assert np.allclose(g, _central_differences(m, theta, data), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "m,b,zeta",
    [(1.17, 1.63, [-0.2, -0.04, 0.0, 0.1, 0.18]), (5.2, 1.63, [-0.2, -0.04, 0.0, 0.1, 0.18]),
     (0.7, 8.0, [-0.2, -0.04, 0.0, 0.1, 0.18]), (0.8, 0.3, [0.76, 0.5, 0.0, 0.7, 0.6])],  # the last: ~150 terms
)
def test_interval_polynomial_against_quadrature(m, b, zeta):
    # S = int_v^1 u^(m-1) (1 - zeta u)^-b du (the dropout integral after u = (alpha+t_x)/(alpha+tau)),
    # its log and log-derivatives by mpmath quadrature and numerical differentiation
    from cvm.models.pnbd import interval_polynomial

    zeta = np.array(zeta)
    v = np.array([0.02, 0.5, 0.9, 0.3, 0.99])
    log_s, *derivs = interval_polynomial(m, b, zeta, v, grad=True)
    mpmath.mp.dps = 30

    def log_ref(mm, bb, z, vv):
        return mpmath.log(mpmath.quad(lambda u: u ** (mm - 1) * (1 - z * u) ** (-bb), [vv, 1]))

    for i in range(zeta.size):
        args = [m, b, zeta[i], v[i]]
        assert log_s[i] == pytest.approx(float(log_ref(*args)), rel=1e-12, abs=1e-13)
        for j, d in enumerate(derivs):  # d/dm, d/db, d/dzeta, d/dv
            shifted = lambda t: log_ref(*(args[:j] + [t] + args[j + 1:]))  # noqa: E731
            assert d[i] == pytest.approx(float(mpmath.diff(shifted, args[j])), rel=1e-9, abs=1e-11)
