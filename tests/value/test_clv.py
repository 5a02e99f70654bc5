"""Valuation: CLV recomputed from the models' own predictive functions, intervals, scoring runs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm.errors import SchemaError
from cvm.models import BGNBD, GammaGamma
from cvm.value.clv import discounted_purchases, value_customers
from cvm.service import score_customers, value_by_period
from cvm.value.explain import explain

# published CDNOW estimates: BG/NBD (Fader, Hardie & Lee 2005, p. 281) and Gamma-Gamma (FHL 2005b: p, q, gamma)
BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, gamma=15.44)

SUMMARY = pd.DataFrame(
    {"frequency": [2.0, 0.0, 7.0, 2.0], "recency": [30.43, 0.0, 35.0, 30.43], "T": [38.86, 38.86, 38.0, 38.86],
     "monetary_value": [22.35, 0.0, 40.0, 22.35]},
    index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"),
)


def _models():
    return BGNBD.from_params(**BG), GammaGamma.from_params(**GG)


def test_clv_recomputed_from_the_models_own_functions():
    bg, gg = _models()
    d = 0.01  # per week
    out = value_customers(SUMMARY, bg, gg, horizon=10, discount_rate=d, margin=0.3).customers.set_index("customer_id")
    # reference, customer c1, written out: sum over k = 1..10 of (E[X(k)] - E[X(k-1)]) / 1.01**k
    f, r, T = 2.0, 30.43, 38.86
    e = [0.0] + [float(bg.expected_purchases(k, np.array([f]), np.array([r]), np.array([T]))[0]) for k in range(1, 11)]
    de = sum((e[k] - e[k - 1]) / 1.01 ** k for k in range(1, 11))
    spend = float(gg.expected_spend(np.array([f]), np.array([22.35]))[0])
    assert out.loc["c1", "clv"] == pytest.approx(0.3 * spend * de, rel=1e-12)
    assert out.loc["c1", "expected_purchases"] == pytest.approx(e[10], rel=1e-12)
    assert out.loc["c1", "probability_alive"] == pytest.approx(float(bg.probability_alive(np.array([f]), np.array([r]), np.array([T]))[0]))
    # identical histories get identical values (valued once, broadcast back)
    assert out.loc["c1", "clv"] == out.loc["c4", "clv"]
    # without parameter covariance (from_params) the interval collapses onto the estimate
    assert out.loc["c1", "clv_low"] == pytest.approx(out.loc["c1", "clv"])


def test_zero_discount_equals_undiscounted_expectation():
    bg, gg = _models()
    de, ex = discounted_purchases(bg, SUMMARY["frequency"], SUMMARY["recency"], SUMMARY["T"], 26, 0.0)
    assert np.allclose(de, ex)
    assert np.allclose(ex, bg.expected_purchases(26.0, SUMMARY["frequency"].to_numpy(), SUMMARY["recency"].to_numpy(), SUMMARY["T"].to_numpy()))


@pytest.mark.parametrize("horizon, tol", [(8, 1e-3), (52, 2e-2)])
def test_delta_method_interval_against_an_independent_gradient(horizon, tol):
    # horizon 8: exact; horizon 52: the value layer reads the path at 13 block ends for the gradient only
    bg, gg = _models()
    names = list(bg.params_.index)
    cov = np.diag([0.04, 0.02, 0.03, 0.05])  # a made-up covariance of the log-parameters
    bg.covariance_ = pd.DataFrame(cov, index=names, columns=names)
    level = 0.9
    out = value_customers(SUMMARY, bg, gg, horizon=horizon, discount_rate=0.002, margin=1.0, level=level).customers
    # reference: forward differences with a different step on log DE for customer c3
    z = np.log(bg.params_.to_numpy())
    row = SUMMARY.loc[["c3"]]

    def log_de(zz):
        m = bg.with_params(np.exp(zz))
        return np.log(discounted_purchases(m, row["frequency"], row["recency"], row["T"], horizon, 0.002)[0][0])

    g = np.array([(log_de(z + h) - log_de(z)) / 1e-6 for h in np.eye(4) * 1e-6])
    sd = np.sqrt(g @ cov @ g)
    q = stats.norm.ppf(0.95)
    clv = out.loc[2, "clv"]
    assert np.log(out.loc[2, "clv_high"] / clv) == pytest.approx(q * sd, rel=tol)
    assert np.log(clv / out.loc[2, "clv_low"]) == pytest.approx(q * sd, rel=tol)
    assert out.loc[2, "clv_low"] < clv < out.loc[2, "clv_high"]


def test_bad_options_are_schema_errors():
    bg, gg = _models()
    with pytest.raises(SchemaError):
        value_customers(SUMMARY, bg, gg, horizon=0, discount_rate=0.0)
    with pytest.raises(SchemaError):
        value_customers(SUMMARY.drop(columns="T"), bg, gg, horizon=4, discount_rate=0.0)


def _small_shop(ws, n=60, seed=3):
    """Simulated BG/NBD-like purchases of n customers over 2023 (weekly grid), one channel per customer."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = pd.Timestamp("2023-01-02") + pd.Timedelta(days=int(rng.integers(0, 120)))
        rate = rng.gamma(1.0, 0.15)
        life = rng.exponential(200)
        t = 0.0
        rows.append((f"k{i:03d}", start, float(rng.gamma(4, 10)), "web" if i % 2 else "shop"))
        while True:
            t += rng.exponential(7 / max(rate, 1e-3))
            when = start + pd.Timedelta(days=int(t))
            if t > life or when > pd.Timestamp("2023-12-31"):
                break
            rows.append((f"k{i:03d}", when, float(rng.gamma(4, 10)), "web" if i % 2 else "shop"))
    tx = pd.DataFrame(rows, columns=["customer_id", "ts", "amount", "channel"])
    tx["ts"] = tx["ts"].dt.strftime("%Y-%m-%d")
    ws.ingest(tx, kind="transactions")
    return tx


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_score_customers_stores_every_run(workspace):
    tx = _small_shop(workspace)
    workspace.ingest(pd.DataFrame({"customer_id": ["k000", "prospect1"], "segment": ["a", "b"]}), kind="customers")
    first = score_customers(workspace, as_of="2023-09-30", model="bgnbd", horizon=12, level=0.8)
    second = score_customers(workspace, model="bgnbd", horizon=12)
    assert first.attrs["as_of"] == "2023-09-30" and second.attrs["as_of"] == tx["ts"].max()  # default: day of the last purchase
    runs = workspace.con.execute("SELECT run_id, as_of, model, horizon, n_customers FROM score_runs ORDER BY created").df()
    assert len(runs) == 2 and list(runs["model"]) == ["bgnbd", "bgnbd"]
    stored = workspace.con.execute("SELECT run_id, count(*) AS n FROM scores GROUP BY 1").df().set_index("run_id")["n"]
    assert stored[first.attrs["run_id"]] == len(first)
    # the prospect (in customers, never bought) is a zero-value "prospect"
    p = second.set_index("customer_id").loc["prospect1"]
    assert p["lifecycle_stage"] == "prospect" and p["clv"] == 0.0
    # historic value = revenue x margin (no margin column): check one customer by hand from the transactions
    rev = workspace.con.execute("SELECT sum(amount) FROM transactions WHERE customer_id = 'k001'").fetchone()[0]
    assert second.set_index("customer_id").loc["k001", "historic_value"] == pytest.approx(0.3 * rev)
    # ranks are 1..n and the interval brackets the estimate
    assert sorted(second["rank"]) == list(range(1, len(second) + 1))
    buyers = second[second["lifecycle_stage"] != "prospect"]
    assert (buyers["clv_low"] <= buyers["clv"] + 1e-12).all() and (buyers["clv"] <= buyers["clv_high"] + 1e-12).all()
    # the most worth spending on a customer: CLV less the planned cost, never below zero
    expected = np.maximum(second["clv"] - second["planned_cost"], 0.0)
    assert second["max_investment"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12, abs=1e-12)
    assert (second["max_investment"] > 0).any()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_auto_model_says_why(workspace):
    _small_shop(workspace, n=40, seed=5)
    out = score_customers(workspace, model="auto", horizon=4, store=False)
    assert out.attrs["model"] in ("bgnbd", "pnbd", "mbgnbd")
    assert out.attrs["model_reason"]
    # the reason is a code with its figures; the English text is what the shared renderer makes of them
    code, values = out.attrs["model_reason_code"], out.attrs["model_reason_values"]
    assert code in ("best_tracking_error", "tie_broken_by_bic", "lowest_bic_no_holdout", "chosen_by_backtest", "bic_fallback")
    assert values["model"] == out.attrs["model"]
    assert out.attrs["model_reason"] == explain(code, values, "en")
    assert explain(code, values, "nl") != out.attrs["model_reason"]
    assert not workspace.has_table("score_runs")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bic_fallback_reason_cites_each_models_bic():
    # no workspace: no backtest can choose, so the lower BIC of BG/NBD and Pareto/NBD decides
    from cvm.models import BGNBD
    from cvm.service import choose_purchase_model

    sim = BGNBD.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5).simulate(300, T=30.0, seed=11)
    name, model, code, values = choose_purchase_model(None, sim, None, "week")
    assert code == "bic_fallback" and values["model"] == name
    assert set(values["bic_by_model"]) == {"bgnbd", "pnbd"}
    assert values["bic_by_model"][name] == pytest.approx(model.summary().bic)
    assert values["bic_by_model"][name] == min(values["bic_by_model"].values())
    assert "lowest BIC" in explain(code, values, "en") and "laagste BIC" in explain(code, values, "nl")


def test_user_chosen_model_reason(workspace):
    _small_shop(workspace, n=40, seed=6)
    out = score_customers(workspace, model="bgnbd", horizon=4, store=False)
    assert out.attrs["model_reason_code"] == "chosen_by_user"
    assert out.attrs["model_reason"] == "BG/NBD chosen by the user"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_value_by_period_adds_up_to_total_clv(workspace):
    _small_shop(workspace, n=40, seed=8)
    scores = score_customers(workspace, model="bgnbd", horizon=10, store=False)
    periods = value_by_period(workspace, model="bgnbd", horizon=10)
    assert list(periods["period"]) == list(range(1, 11))
    # the per-period totals, discounted and summed, equal the sum of the customers' CLV
    assert periods["cumulative_discounted_value"].iloc[-1] == pytest.approx(scores["clv"].sum(), rel=1e-9)
    assert periods["expected_purchases"].sum() == pytest.approx(scores["expected_purchases"].sum(), rel=1e-9)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_same_transactions_in_another_order_give_the_same_scores_to_the_last_bit(tmp_path):
    # Money is added up in whole millionths (cvm.data.summary.MICROS), so neither the order of the rows
    # in the file nor DuckDB's threads can change a sum, a fit or a CLV. Amounts in thirds of a euro and
    # several orders a day make a sum of doubles depend on the order (checked: it does for these data).
    from cvm.data import Workspace

    rng = np.random.default_rng(21)
    rows = []
    for i in range(60):
        days = np.sort(rng.integers(0, 300, 1 + rng.poisson(6)))
        for d in days:
            for _ in range(1 + rng.poisson(1.0)):
                rows.append((f"k{i:03d}", (pd.Timestamp("2023-01-02") + pd.Timedelta(days=int(d))).strftime("%Y-%m-%d"),
                             float(rng.integers(1, 900)) / 3.0))
    tx = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    results = []
    for k, order in enumerate([tx, tx.iloc[::-1], tx.sample(frac=1.0, random_state=4)]):
        ws = Workspace.open(tmp_path / f"ws{k}")
        ws.ingest(order.reset_index(drop=True), kind="transactions")
        results.append(score_customers(ws, model="bgnbd", horizon=12, store=False).set_index("customer_id").sort_index())
        ws.close()
    for other in results[1:]:
        for col in ("historic_value", "probability_alive", "expected_purchases", "expected_spend", "clv", "clv_low"):
            assert np.array_equal(results[0][col].to_numpy(float), other[col].to_numpy(float)), col
    # the data do make plain double sums order-dependent, so the test can fail
    plain = [order.groupby("customer_id", sort=True)["amount"].agg(lambda a: float(np.add.accumulate(a.to_numpy())[-1]))
             for order in (tx, tx.iloc[::-1])]
    assert not np.array_equal(plain[0].to_numpy(), plain[1].to_numpy())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_value_by_period_with_the_automatic_model_choice(workspace):
    # model="auto" takes the model of the stored backtest; the expected totals are computed here from
    # the models' own predictions, period by period, without the value layer:
    #   value(k) = sum_i margin * E[M_i] * (E[X_i(k)] - E[X_i(k-1)]),  discounted by (1 + d)^-k
    from cvm.models import GammaGamma
    from cvm.models.registry import spec
    from cvm.service import backtest

    _small_shop(workspace, n=60, seed=5)
    best = backtest(workspace, "2023-09-30").best
    periods = value_by_period(workspace, model="auto", horizon=6)
    assert periods.attrs["model"] == best

    s = workspace.summary()
    f, r, t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    assert (t > 0).all()  # nobody first bought on the as-of day: every customer is valued as fitted
    purchase = spec(best).cls().fit(f, r, t)
    repeat = (f > 0) & (s["monetary_value"].to_numpy(float) > 0)
    spend = GammaGamma().fit(f[repeat], s["monetary_value"].to_numpy(float)[repeat]).expected_spend(
        f, np.where(f > 0, s["monetary_value"].to_numpy(float), 0.0))
    settings = workspace.settings
    d = (1 + settings.discount_rate) ** (7 / 365.25) - 1  # yearly rate per week
    previous = np.zeros(len(f))
    cumulative = 0.0
    for k in range(1, 7):
        current = purchase.expected_purchases(float(k), f, r, t)
        value = float(np.sum(settings.margin * spend * (current - previous)))
        cumulative += value / (1 + d) ** k
        row = periods.iloc[k - 1]
        assert row["expected_purchases"] == pytest.approx(np.sum(current - previous), rel=1e-5)
        assert row["expected_value"] == pytest.approx(value, rel=1e-5)
        assert row["cumulative_discounted_value"] == pytest.approx(cumulative, rel=1e-5)
        previous = current


def test_distinct_histories_found_before_give_the_same_values_to_the_last_bit():
    # score_customers finds the distinct (frequency, recency, T) rows once, for the fit and the valuation;
    # the valuation given them must equal the one that finds them itself, every column bit for bit.
    # Customers c5, c6 were first seen on the as-of day (T = 0, valued at T = MIN_T) and T of c7 lies
    # below MIN_T: after max(T, MIN_T) the three share one row, which the rows found before split in two
    from cvm.value.clv import MIN_T, distinct_histories, summary_columns, valuation_columns

    bg, gg = _models()
    names = list(bg.params_.index)
    bg.covariance_ = pd.DataFrame(np.diag([0.04, 0.02, 0.03, 0.05]), index=names, columns=names)
    extra = pd.DataFrame({"frequency": [0.0, 0.0, 0.0], "recency": [0.0, 0.0, 0.0], "T": [0.0, 0.0, MIN_T / 2],
                          "monetary_value": [0.0, 0.0, 0.0]}, index=pd.Index(["c5", "c6", "c7"], name="customer_id"))
    summary = pd.concat([SUMMARY, extra])
    columns = summary_columns(summary)
    rows, counts, inverse = distinct_histories(columns["frequency"], columns["recency"], columns["T"])
    assert len(counts) == 5 and counts.sum() == 7  # c1 = c4 and c5 = c6 are one row each
    options = dict(horizon=12, discount_rate=0.01, margin=0.3, level=0.9)
    found, _, _, _ = valuation_columns(columns, bg, gg, **options)
    given, _, _, _ = valuation_columns(columns, bg, gg, **options, distinct=(rows, inverse))
    assert found.keys() == given.keys()
    for key in found:
        assert np.array_equal(found[key], given[key]), key
        assert found[key].tobytes() == given[key].tobytes(), key
