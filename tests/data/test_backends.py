"""One contract, one suite, two engines: DuckDB (cvm.data) and Spark (cvm.data.spark).

Every engine must give the same per-customer summary as

* a plain-Python reference written here, loop by loop, from the definitions in
  docs/architecture.md (days since 1970-01-01; period = floor((day - first day) / u)
  with u = 1, 7, 365.25/12, 365.25 days; purchases in one period collapse to one;
  frequency = repeat periods, recency = last period, T = floor((as_of - first day) / u);
  monetary value = mean spend of the repeat periods, first period excluded), and
* lifetimes 0.11.3 ``summary_data_from_transaction_data(..., freq="D")`` and
  ``calibration_and_holdout_data(..., freq="D")`` for the day unit, where both
  definitions coincide.

Scoring on Spark must equal scoring the same summary locally with the models
(``cvm.value.clv.value_customers``).
"""

from __future__ import annotations

import math
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

UNITS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
EPOCH = date(1970, 1, 1)


# ----------------------------------------------------------------------------- data and reference
def make_transactions(seed: int = 7, customers: int = 60) -> pd.DataFrame:
    """Small transaction log with same-day and same-week repeats, hours within days, spend in cents."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2022-01-03")
    for c in range(customers):
        first = start + pd.Timedelta(days=int(rng.integers(0, 720)))
        n = 1 + int(rng.poisson(3))
        gaps = np.cumsum(np.concatenate([[0], rng.exponential(25, n - 1)]))
        for g in gaps:
            ts = first + pd.Timedelta(days=int(g)) + pd.Timedelta(minutes=int(rng.integers(0, 24 * 60)))
            rows.append((f"C{c:03d}", ts, round(float(rng.gamma(2.0, 15.0)) + 0.01, 2)))
            if rng.random() < 0.15:  # a second order the same day
                rows.append((f"C{c:03d}", ts.normalize() + pd.Timedelta(hours=23), 9.99))
    tx = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    return tx[tx["ts"] < pd.Timestamp("2024-03-01")].reset_index(drop=True)


def reference_summary(tx: pd.DataFrame, as_of: date, unit: float, period: float = 1.0) -> pd.DataFrame:
    """Plain-Python summary, one customer at a time (see the module docstring)."""
    out = {}
    as_of_day = (as_of - EPOCH).days
    for cust, group in tx.groupby("customer_id"):
        events = [((ts.date() - EPOCH).days, float(a)) for ts, a in zip(group["ts"], group["amount"])]
        events = [(d, a) for d, a in events if d <= as_of_day]
        if not events:
            continue
        first = min(d for d, _ in events)
        spend: dict[int, float] = {}
        for d, a in events:
            k = math.floor((d - first) / period)
            spend[k] = spend.get(k, 0.0) + a
        repeat = [v for k, v in spend.items() if k != 0]
        if period == 1:  # day periods: exact day differences in the time unit
            recency, age = max(spend) / unit, (as_of_day - first) / unit
        else:  # whole periods of P days, expressed in the time unit
            recency, age = max(spend) * period / unit, math.floor((as_of_day - first) / period) * period / unit
        out[cust] = {
            "frequency": float(len(spend) - 1),
            "recency": recency,
            "T": age,
            "monetary_value": sum(repeat) / len(repeat) if repeat else 0.0,
            "n_transactions": float(len(events)),
            "total_amount": sum(a for _, a in events),
        }
    return pd.DataFrame.from_dict(out, orient="index").sort_index()


def reference_holdout(tx: pd.DataFrame, cal_end: date, end: date, unit: float, period: float = 1.0) -> pd.DataFrame:
    """Calibration summary plus holdout columns: repeat periods in (cal_end, end], mean spend per such period."""
    cal = reference_summary(tx, cal_end, unit, period)
    cal_day, end_day = (cal_end - EPOCH).days, (end - EPOCH).days
    freq, mean = {}, {}
    for cust, group in tx.groupby("customer_id"):
        if cust not in cal.index:
            continue
        days = [(ts.date() - EPOCH).days for ts in group["ts"]]
        first = min(days)
        spend: dict[int, float] = {}
        for d, a in zip(days, group["amount"]):
            if cal_day < d <= end_day:
                k = math.floor((d - first) / period)
                spend[k] = spend.get(k, 0.0) + a
        freq[cust] = float(len(spend))
        mean[cust] = sum(spend.values()) / len(spend) if spend else 0.0
    cal["frequency_holdout"] = pd.Series(freq)
    cal["monetary_value_holdout"] = pd.Series(mean)
    cal["duration_holdout"] = (end_day - cal_day) / unit
    return cal


# ----------------------------------------------------------------------------- engines
class SparkEngine:
    name = "spark"

    def __init__(self, spark) -> None:
        self.spark = spark  # the test session's one (tests/data/conftest.py)
        self.frame = None

    def load(self, tx: pd.DataFrame) -> None:
        self.frame = self.spark.createDataFrame(tx).cache()

    def summary(self, **options) -> pd.DataFrame:
        from cvm.data.spark import summarise_spark

        return summarise_spark(self.frame, **options).toPandas().set_index("customer_id").sort_index()


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, tmp_path) -> None:
        from cvm.data import Workspace

        self.ws = Workspace.open(tmp_path / "ws")

    def load(self, tx: pd.DataFrame) -> None:
        self.ws.ingest(tx, kind="transactions")

    def summary(self, **options) -> pd.DataFrame:
        frame = self.ws.summary(**options)
        if "customer_id" in frame.columns:
            frame = frame.set_index("customer_id")
        frame.index = frame.index.astype(str)
        return frame.sort_index()


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return make_transactions()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request, transactions, tmp_path_factory):
    if request.param == "spark":
        eng = SparkEngine(request.getfixturevalue("spark"))
    else:
        eng = DuckDBEngine(tmp_path_factory.mktemp("duck"))
    eng.load(transactions)
    return eng


COLUMNS = ["frequency", "recency", "T", "monetary_value", "n_transactions", "total_amount"]


def assert_same(ours: pd.DataFrame, ref: pd.DataFrame, columns) -> None:
    assert list(ours.index) == list(ref.index)
    for col in columns:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=col)


# ----------------------------------------------------------------------------- the contract
@pytest.mark.parametrize(
    ("as_of", "time_unit", "period"),
    [
        ("2024-02-29", "day", "day"), ("2024-02-29", "week", "day"), ("2024-02-29", "month", "day"),
        ("2024-02-29", "year", "day"), ("2024-02-29", "week", "week"), ("2024-02-29", "week", "month"),
        ("2022-12-31", "week", "day"),
    ],
)
def test_summary_matches_reference(engine, transactions, as_of, time_unit, period):
    ours = engine.summary(as_of=as_of, time_unit=time_unit, period=period)
    ref = reference_summary(transactions, date.fromisoformat(as_of), UNITS[time_unit], UNITS[period])
    if as_of < "2023":
        assert len(ref) < transactions["customer_id"].nunique()  # later customers really are left out
    assert_same(ours, ref, COLUMNS)


@pytest.mark.parametrize(("time_unit", "multiplier"), [("day", 1), ("week", 7)])
def test_day_periods_equal_lifetimes(engine, transactions, time_unit, multiplier):
    from lifetimes.utils import summary_data_from_transaction_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = summary_data_from_transaction_data(
            transactions, "customer_id", "ts", monetary_value_col="amount",
            observation_period_end="2023-09-30", freq="D", freq_multiplier=multiplier,
        ).sort_index()
    ours = engine.summary(as_of="2023-09-30", time_unit=time_unit)
    assert_same(ours, ref, ["frequency", "recency", "T", "monetary_value"])


@pytest.mark.parametrize(
    ("cal_end", "end", "time_unit", "period"),
    [("2023-06-30", "2024-02-29", "week", "day"), ("2023-10-31", "2024-02-29", "month", "month")],
)
def test_calibration_holdout_matches_reference(engine, transactions, cal_end, end, time_unit, period):
    ours = engine.summary(calibration_end=cal_end, holdout_end=end, time_unit=time_unit, period=period)
    ref = reference_holdout(
        transactions, date.fromisoformat(cal_end), date.fromisoformat(end), UNITS[time_unit], UNITS[period]
    )
    assert ref["frequency_holdout"].sum() > 0
    assert_same(ours, ref, COLUMNS[:4] + ["frequency_holdout", "monetary_value_holdout", "duration_holdout"])


def test_day_calibration_holdout_equals_lifetimes(engine, transactions):
    from lifetimes.utils import calibration_and_holdout_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = calibration_and_holdout_data(
            transactions, "customer_id", "ts", calibration_period_end="2023-08-31",
            observation_period_end="2024-01-31", freq="D", monetary_value_col="amount",
        ).sort_index()
    ours = engine.summary(calibration_end="2023-08-31", holdout_end="2024-01-31", time_unit="day")
    pairs = {
        "frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T", "monetary_value_cal": "monetary_value",
        "frequency_holdout": "frequency_holdout", "duration_holdout": "duration_holdout",
    }
    # monetary_value_holdout is left out on purpose: cvm takes the mean spend per holdout *period*
    # (like monetary_value), lifetimes the mean per transaction line; the reference test above checks it
    assert list(ours.index) == list(ref.index)
    for theirs, mine in pairs.items():
        np.testing.assert_allclose(ours[mine].to_numpy(float), ref[theirs].to_numpy(float), rtol=1e-9, err_msg=mine)


# ----------------------------------------------------------------------------- scoring
@pytest.mark.spark
@pytest.mark.slow
def test_spark_scoring_equals_local_scoring(spark, transactions):
    """Spark's split valuation (purchase part per history, spend part in SQL) equals value_customers."""
    from scipy import stats

    from cvm.data.spark import summarise_spark
    from cvm.service.spark import score_spark
    from cvm.models import GammaGamma, bgnbd
    from cvm.value.clv import value_customers

    eng = SparkEngine(spark)
    summary = summarise_spark(eng.spark.createDataFrame(transactions), as_of="2024-02-29", time_unit="week")
    local = summary.toPandas().set_index("customer_id").sort_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bgnbd.BGNBD().fit(local["frequency"], local["recency"], local["T"])
        repeat = local[(local["frequency"] > 0) & (local["monetary_value"] > 0)]
        spend = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    options = dict(horizon=26, discount_rate=0.002, margin=0.25, level=0.9)
    ours = score_spark(summary.repartition(3), model, spend, **options).toPandas().set_index("customer_id").sort_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = value_customers(local, model, spend, **options).customers.set_index("customer_id").sort_index()
    assert list(ours.index) == list(ref.index)
    for col in ("probability_alive", "expected_purchases", "expected_spend", "clv", "residual_value"):
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-9, err_msg=col)
    assert ours["clv"].gt(0).all()
    # the interval: value_customers differentiates log E[M] by forward differences (step 1e-4 on the
    # log-parameters, truncation error of relative order 1e-4 in the gradient); Spark uses the closed
    # form, so the bounds agree to 1e-4 relative, not to rounding
    for col in ("clv_low", "clv_high"):
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-4, err_msg=col)
    assert (ours["clv_low"] < ours["clv"]).all() and (ours["clv"] < ours["clv_high"]).all()

    # independently of value_customers, straight from the models' predictive functions:
    # CLV = margin * E[M] * sum_k (E[X(k)] - E[X(k-1)]) / (1 + d)^k  (docs/architecture.md, cvm.value.clv)
    f, r, t = (ours[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    m = ours["monetary_value"].to_numpy(float)
    np.testing.assert_allclose(ours["probability_alive"], model.probability_alive(f, r, t), rtol=1e-9)
    np.testing.assert_allclose(ours["expected_purchases"], model.expected_purchases(26.0, f, r, t), rtol=1e-9)
    increments = np.diff([np.zeros_like(f)] + [model.expected_purchases(float(k), f, r, t) for k in range(1, 27)], axis=0)
    discounted = sum(increments[k - 1] / 1.002**k for k in range(1, 27))
    np.testing.assert_allclose(ours["clv"], 0.25 * spend.expected_spend(f, m) * discounted, rtol=1e-9)
    # and the spend part of the interval against central differences of the model's own expected_spend
    # (step 1e-5 on each log-parameter: truncation error ~1e-10), variances added on the log scale:
    # var(log CLV) = var(log DE) + g' C g; var(log DE) read back from value_customers with unit spend
    z = np.log(spend.params_.to_numpy())
    grad = np.empty((len(f), 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-5
        up = spend.with_params(np.exp(z + step)).expected_spend(f, m)
        down = spend.with_params(np.exp(z - step)).expected_spend(f, m)
        grad[:, j] = (np.log(up) - np.log(down)) / 2e-5
    var_spend = np.einsum("ij,jk,ik->i", grad, spend.covariance_.to_numpy(), grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unit = value_customers(local.assign(monetary_value=1.0).drop(columns=["total_amount", "n_transactions"]),
                               model, None, horizon=26, discount_rate=0.002, margin=1.0, level=0.9).customers
    q = stats.norm.ppf(0.95)
    var_purchase = (np.log(unit["clv_high"].to_numpy() / unit["clv"].to_numpy()) / q) ** 2
    np.testing.assert_allclose(unit["clv"].to_numpy(), discounted, rtol=1e-9)
    expected_low = ours["clv"].to_numpy() * np.exp(-q * np.sqrt(var_purchase + var_spend))
    np.testing.assert_allclose(ours["clv_low"].to_numpy(), expected_low, rtol=1e-8)
