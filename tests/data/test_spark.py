"""The Spark engine on its own: inputs, hand-computed summaries, compression, aggregates, pipeline, errors."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.errors import CvmError, SchemaError

try:  # the shared transaction generator of the backend suite (same folder)
    from .test_backends import make_transactions
except ImportError:
    from test_backends import make_transactions

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


# the session is the test session's one (tests/data/conftest.py: spark)


# One customer worked by hand (as_of 2024-01-29):
#   2024-01-01 10.00 and 5.00 (same day), 2024-01-03 20.00, 2024-01-15 30.00
#   day periods: days 0, 0, 2, 14 -> {0, 2, 14}: frequency 2, monetary (20 + 30) / 2 = 25;
#     in days recency 14, T 28; in weeks recency 14/7 = 2, T 28/7 = 4
#   week periods: floor(0/7)=0, floor(2/7)=0, floor(14/7)=2 -> {0, 2}: frequency 1, recency 2 weeks,
#     T floor(28/7) = 4 weeks, monetary = spend of period 2 = 30
#   customer B, one purchase on 2024-01-20: frequency 0, recency 0, T 9 days = 9/7 weeks (day periods)
#     or floor(9/7) = 1 week (week periods), monetary 0
HAND = pd.DataFrame(
    {
        "Klant": ["A", "A", "A", "A", "B"],
        "Datum": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:30", "2024-01-03 12:00", "2024-01-15 08:00", "2024-01-20 10:00"]),
        "Bedrag": [10.0, 5.0, 20.0, 30.0, 12.5],
    }
)
HAND_EXPECTED = {
    ("day", "day"): {"A": (2, 14, 28, 25.0), "B": (0, 0, 9, 0.0)},
    ("week", "day"): {"A": (2, 2, 4, 25.0), "B": (0, 0, 9 / 7, 0.0)},
    ("week", "week"): {"A": (1, 2, 4, 30.0), "B": (0, 0, 1, 0.0)},
}


@pytest.mark.parametrize(("time_unit", "period"), list(HAND_EXPECTED))
def test_hand_computed_summary(spark, time_unit, period):
    from cvm.data.spark import summarise_spark

    out = summarise_spark(
        spark.createDataFrame(HAND), customer_col="Klant", datetime_col="Datum", amount_col="Bedrag",
        as_of="2024-01-29", time_unit=time_unit, period=period,
    ).toPandas().set_index("customer_id")
    for cust, expected in HAND_EXPECTED[(time_unit, period)].items():
        got = tuple(out.loc[cust, ["frequency", "recency", "T", "monetary_value"]])
        assert got == pytest.approx(expected, rel=1e-12)
    assert out.loc["A", "n_transactions"] == 4 and out.loc["A", "total_amount"] == 65.0
    assert out.loc["A", "first_purchase"] == pd.Timestamp("2024-01-01")


def test_inputs_parquet_path_pandas_and_table_agree(spark, tmp_path):
    from cvm.data.spark import summarise_spark

    path = tmp_path / "tx.parquet"
    HAND.to_parquet(path)
    spark.createDataFrame(HAND).createOrReplaceTempView("cvm_hand_tx")
    opts = dict(customer_col="Klant", datetime_col="Datum", amount_col="Bedrag", as_of="2024-01-29", time_unit="day")
    frames = [summarise_spark(src, spark=spark, **opts).toPandas().set_index("customer_id").sort_index()
              for src in (str(path), HAND, "cvm_hand_tx")]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert frames[0].loc["A", "frequency"] == 2.0


def test_as_of_defaults_to_last_transaction_day(spark):
    from cvm.data.spark import summarise_spark

    out = summarise_spark(spark.createDataFrame(HAND), "Klant", "Datum", "Bedrag", time_unit="day").toPandas()
    # last purchase 2024-01-20: A's T = 19 days, B's T = 0
    assert dict(zip(out["customer_id"], out["T"])) == {"A": 19.0, "B": 0.0}


def test_compression_counts_every_customer_once(spark):
    from cvm.data.spark import compress_spark, compress_spend_spark, summarise_spark

    tx = make_transactions(seed=3, customers=80)
    summary = summarise_spark(spark.createDataFrame(tx), as_of="2024-02-29", time_unit="week")
    local = summary.toPandas()
    histories = compress_spark(summary).toPandas()
    # reference: pandas value_counts of the (frequency, recency, T) triples
    expected = local.groupby(["frequency", "recency", "T"]).size()
    got = histories.set_index(["frequency", "recency", "T"])["weight"].sort_index()
    assert got.sum() == len(local) == tx["customer_id"].nunique()
    np.testing.assert_array_equal(got.to_numpy(), expected.sort_index().to_numpy(float))
    spend = compress_spend_spark(summary).toPandas()
    repeat = local[(local["frequency"] > 0) & (local["monetary_value"] > 0)]
    assert spend["weight"].sum() == len(repeat)
    # rounding to 4 significant digits (the default) moves each mean spend by at most 5e-4 relative
    means = np.repeat(spend["monetary_value"].to_numpy(), spend["weight"].astype(int))
    np.testing.assert_allclose(np.sort(means), np.sort(repeat["monetary_value"].to_numpy()), rtol=5e-4)
    assert not np.allclose(np.sort(means), np.sort(repeat["monetary_value"].to_numpy()), rtol=1e-9)  # it did round
    # and with 6 digits by at most 5e-6
    six = compress_spend_spark(summary, 6).toPandas()
    means6 = np.repeat(six["monetary_value"].to_numpy(), six["weight"].astype(int))
    np.testing.assert_allclose(np.sort(means6), np.sort(repeat["monetary_value"].to_numpy()), rtol=5e-6)


@pytest.mark.slow
def test_tiers_groups_and_concentration_match_numpy(spark):
    from cvm.data.spark import concentration_spark, value_by_group_spark, value_tiers_spark

    rng = np.random.default_rng(5)
    clv = np.round(rng.lognormal(3, 1.2, 997), 2)
    frame = spark.createDataFrame(pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(clv))], "clv": clv})).repartition(4)
    conc = concentration_spark(frame)
    # reference: sort descending, smallest k whose cumulative value reaches 80 %, and the Gini
    # G = sum_i (2i - n - 1) x_(i) / (n sum x) over ascending x (mean-difference form)
    desc = np.sort(clv)[::-1]
    k = int(np.searchsorted(np.cumsum(desc), 0.8 * desc.sum()) + 1)
    asc = np.sort(clv)
    n = len(asc)
    gini = np.sum((2 * np.arange(1, n + 1) - n - 1) * asc) / (n * asc.sum())
    assert conc["top_customers"] == k and conc["customers"] == n
    assert conc["customer_share"] == pytest.approx(k / n)
    assert conc["gini"] == pytest.approx(gini, rel=1e-12)
    # equal values: Gini 0, and 80 % of value needs 80 % of customers
    flat = concentration_spark(spark.createDataFrame(pd.DataFrame({"clv": [5.0] * 10})))
    assert flat["gini"] == pytest.approx(0.0, abs=1e-12) and flat["top_customers"] == 8
    # many range partitions and heavy ties (values 1..6): the same reference
    ties = rng.integers(1, 7, 503).astype(float)
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        conc7 = concentration_spark(spark.createDataFrame(pd.DataFrame({"clv": ties})).repartition(5))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    desc = np.sort(ties)[::-1]
    asc = desc[::-1]
    n7 = len(ties)
    assert conc7["top_customers"] == int(np.searchsorted(np.cumsum(desc), 0.8 * desc.sum()) + 1)
    assert conc7["gini"] == pytest.approx(np.sum((2 * np.arange(1, n7 + 1) - n7 - 1) * asc) / (n7 * asc.sum()), rel=1e-12)

    tiered, limits = value_tiers_spark(frame, relative_error=0.0)
    local = tiered.toPandas()
    assert local["value_tier"].value_counts().to_dict() == pytest.approx(
        {"platinum": 50, "gold": 150, "silver": 299, "bronze": 498}, abs=1)
    assert local.loc[local["value_tier"] == "platinum", "clv"].min() >= limits["platinum"]
    groups = value_by_group_spark(tiered).toPandas().set_index("value_tier")
    ref = local.groupby("value_tier")["clv"].agg(["size", "sum", "mean"])
    np.testing.assert_allclose(groups.loc[ref.index, "total_clv"], ref["sum"], rtol=1e-12)
    np.testing.assert_allclose(groups.loc[ref.index, "mean_clv"], ref["mean"], rtol=1e-12)
    assert groups["customers"].sum() == n


def test_scoring_without_covariance_net_returns_and_observed_spend(spark):
    """Edge cases of the split valuation, against value_customers and the Gamma-Gamma formula by hand."""
    from cvm.data.spark import summarise_spark
    from cvm.service.spark import score_spark
    from cvm.models import BGNBD, GammaGamma
    from cvm.value.clv import value_customers

    # CDNOW estimates: BG/NBD from Fader, Hardie & Lee (2005), Gamma-Gamma from Fader & Hardie (2013)
    bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    # customer C returns more than he bought on his repeat day: mean repeat spend -20 (net return)
    tx = pd.concat([HAND, pd.DataFrame({"Klant": ["C", "C"], "Datum": pd.to_datetime(["2024-01-02", "2024-01-09"]),
                                        "Bedrag": [40.0, -20.0]})], ignore_index=True)
    summary = summarise_spark(spark.createDataFrame(tx), "Klant", "Datum", "Bedrag", as_of="2024-01-29", time_unit="week")
    opts = dict(horizon=10, discount_rate=0.01, margin=0.5, level=0.8)
    ours = score_spark(summary, bgnbd, gg, **opts).toPandas().set_index("customer_id").sort_index()
    # hand: E[M | x, m] = p (gamma + x m) / (p x + q - 1); A: x = 2, m = 25; B and C: population mean p gamma / (q - 1)
    assert ours.loc["A", "expected_spend"] == pytest.approx(6.25 * (15.44 + 2 * 25.0) / (6.25 * 2 + 2.74), rel=1e-12)
    assert ours.loc["B", "expected_spend"] == pytest.approx(6.25 * 15.44 / 2.74, rel=1e-12)
    assert ours.loc["C", "expected_spend"] == pytest.approx(6.25 * 15.44 / 2.74, rel=1e-12)
    assert np.isfinite(ours[["clv", "clv_low", "clv_high", "residual_value"]].to_numpy()).all()
    # models made by from_params carry no covariance: the interval has zero width (as in value_customers)
    np.testing.assert_array_equal(ours["clv_low"], ours["clv"])
    np.testing.assert_array_equal(ours["clv_high"], ours["clv"])
    local = summary.toPandas().set_index("customer_id").sort_index()
    ref = value_customers(local.loc[["A", "B"]], bgnbd, gg, **opts).customers.set_index("customer_id")
    np.testing.assert_allclose(ours.loc[["A", "B"], "clv"], ref["clv"], rtol=1e-9)
    # C's purchase part is the model's; only the spend differs from what value_customers would refuse
    # (unit spend and margin make value_customers' clv the discounted expected purchases)
    unit = local.loc[["C"], ["frequency", "recency", "T"]].assign(monetary_value=1.0)
    de = float(value_customers(unit, bgnbd, None, **{**opts, "margin": 1.0}).customers["clv"].iloc[0])
    assert ours.loc["C", "clv"] == pytest.approx(0.5 * 6.25 * 15.44 / 2.74 * de, rel=1e-9)

    # no spend model: each customer's observed mean order value, total_amount / n_transactions
    plain = score_spark(summary, bgnbd, None, **opts).toPandas().set_index("customer_id").sort_index()
    assert plain.loc["A", "expected_spend"] == pytest.approx(65.0 / 4, rel=1e-12)
    ref_plain = value_customers(local, bgnbd, None, **opts).customers.set_index("customer_id").sort_index()
    for col in ("expected_spend", "probability_alive", "expected_purchases", "clv", "residual_value"):
        np.testing.assert_allclose(plain[col], ref_plain[col], rtol=1e-9, err_msg=col)


def test_missing_column_and_bad_unit_are_schema_errors(spark):
    from cvm.data.spark import summarise_spark

    # the DuckDB ingest's own error for a --map to a column the source lacks
    with pytest.raises(SchemaError, match="--map customer_id=customer: the file has no column 'customer'") as raised:
        summarise_spark(spark.createDataFrame(HAND), customer_col="customer", datetime_col="Datum", amount_col="Bedrag")
    assert raised.value.code == "map_missing_column"
    with pytest.raises(SchemaError, match="unknown time unit"):
        summarise_spark(spark.createDataFrame(HAND), "Klant", "Datum", "Bedrag", time_unit="fortnight")
    with pytest.raises(SchemaError, match="holdout end"):
        summarise_spark(spark.createDataFrame(HAND), "Klant", "Datum", "Bedrag", calibration_end="2024-02-01")
    with pytest.raises(SchemaError, match="as_of must be a date"):
        summarise_spark(spark.createDataFrame(HAND), "Klant", "Datum", "Bedrag", as_of="yesterday")


def test_missing_java_is_a_clear_error(monkeypatch):
    from cvm.data.spark import session

    monkeypatch.setattr(session, "active_session", lambda: None)
    monkeypatch.setattr(session, "java_available", lambda: False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    with pytest.raises(CvmError, match="Java runtime"):
        session.spark_session("local[1]")


def test_missing_pyspark_is_a_clear_error(monkeypatch):
    from cvm.data.spark import session

    monkeypatch.setitem(sys.modules, "pyspark", None)  # makes `import pyspark` raise ImportError
    with pytest.raises(CvmError, match="pip install 'cvm\\[spark\\]'"):
        session.require_pyspark()


def test_importing_the_package_does_not_import_pyspark():
    import subprocess

    code = "import sys, cvm.data.spark; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_pipeline_end_to_end(spark, tmp_path):
    pytest.importorskip("cvm.models.bgnbd")
    from cvm.service.spark import run_spark_pipeline
    from cvm.data.spark.summary import summarise_spark

    tx = make_transactions(seed=11, customers=150)
    good = tx.copy()
    tx = tx.astype({"ts": str, "amount": str})
    # unusable rows: counted, and kept with their reason next to the scores
    tx.loc[len(tx)] = ["", "2023-01-01 00:00:00", "3.0"]               # no customer
    tx.loc[len(tx)] = ["BADTS", "31-31-2023", "5.0"]                   # a timestamp that does not parse
    tx.loc[len(tx)] = ["BADAMOUNT", "2023-02-01 10:00:00", "n/a"]      # an amount that is not a number
    src = tmp_path / "tx.csv"
    tx.rename(columns={"customer_id": "Klant"}).to_csv(src, index=False)
    out = tmp_path / "scores.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_spark_pipeline(str(src), str(out), model="bgnbd", horizon=12, time_unit="week",
                                    discount_rate=0.1, margin=0.3, mapping={"customer_id": "Klant"}, spark=spark)
    scores = pd.read_parquet(out)
    n_customers = good["customer_id"].nunique()
    assert result.n_transactions == len(tx) and result.rows_unusable == 3
    assert result.n_customers == len(scores) == n_customers
    assert result.quarantine == str(tmp_path / "scores.quarantine.parquet")
    kept = pd.read_parquet(result.quarantine).sort_values("Klant", na_position="first")
    # the DuckDB ingest's reasons (cvm.data.spark.rules renders its rules), in the same words and codes
    assert list(kept["reason"]) == ["missing customer_id: column Klant is empty", "non-numeric amount in column amount: n/a",
                                    "unparseable date in column ts: 31-31-2023"]
    assert list(kept["reason_code"]) == ["missing", "non_numeric", "unparseable_date"]
    assert result.ingest["rows_read"] == result.ingest["accepted"] + result.ingest["quarantined"] == len(tx)
    assert list(kept["ts"].iloc[1:]) == ["2023-02-01 10:00:00", "31-31-2023"]  # as they came, for the user to fix
    # only the distinct histories and spend pairs reach the driver, never one row per customer
    local = summarise_spark(spark.createDataFrame(good), time_unit="week").toPandas()
    assert result.unique_histories == len(local.drop_duplicates(["frequency", "recency", "T"]))
    assert result.driver_rows == result.unique_histories + result.spend_rows
    for col in ("customer_id", "frequency", "recency", "T", "monetary_value", "probability_alive",
                "expected_purchases", "clv", "clv_low", "clv_high", "value_tier"):
        assert col in scores.columns
    assert np.isfinite(scores["clv"]).all() and (scores["clv_low"] <= scores["clv"]).all()
    assert result.total_clv == pytest.approx(scores["clv"].sum())
    assert sum(t["customers"] for t in result.tiers.values()) == n_customers
    assert 0 < result.concentration["customer_share"] < 0.8
    assert result.to_dict()["n_customers"] == n_customers


@pytest.mark.slow
def test_pipeline_week_periods_compress_and_score_like_value_customers(spark, tmp_path):
    """period="week": integer histories, fewer rows on the driver, the same CLV as value_customers."""
    from cvm.service.spark import run_spark_pipeline
    from cvm.data.spark.summary import summarise_spark
    from cvm.models import BGNBD, GammaGamma
    from cvm.value.clv import value_customers

    tx = make_transactions(seed=5, customers=200)
    src = tmp_path / "tx.parquet"
    tx.to_parquet(src)
    out = tmp_path / "scores.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_spark_pipeline(str(src), str(out), horizon=8, time_unit="week", period="week",
                                    discount_rate=0.1, margin=0.4, aggregates=False, spark=spark)
    day = summarise_spark(spark.createDataFrame(tx), time_unit="week").toPandas()
    week = summarise_spark(spark.createDataFrame(tx), time_unit="week", period="week").toPandas()
    assert result.period == "week" and result.tiers == {} and result.concentration == {}
    assert result.unique_histories == len(week.drop_duplicates(["frequency", "recency", "T"]))
    assert result.unique_histories < len(day.drop_duplicates(["frequency", "recency", "T"]))
    assert np.all(week["recency"] == np.round(week["recency"])) and np.all(week["T"] == np.round(week["T"]))
    scores = pd.read_parquet(out).set_index("customer_id").sort_index()
    assert result.total_clv == pytest.approx(scores["clv"].sum(), rel=1e-12)
    # the same parameters on one machine give the same values (discount 10 % a year, per week)
    weekly = 1.1 ** (7 / 365.25) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = value_customers(week.set_index("customer_id").sort_index(), BGNBD.from_params(**result.params),
                              GammaGamma.from_params(**result.spend_params), horizon=8, discount_rate=weekly,
                              margin=0.4).customers.set_index("customer_id")
    for col in ("probability_alive", "expected_purchases", "expected_spend", "clv", "residual_value"):
        np.testing.assert_allclose(scores[col], ref.loc[scores.index, col], rtol=1e-9, err_msg=col)


def test_spark_and_duckdb_summaries_agree_bit_for_bit(spark):
    """Both engines add money in whole millionths (cvm.data.summary.MICROS), so partitioning cannot
    change a sum: Spark over 7 partitions gives DuckDB's monetary values and totals to the last bit,
    with amounts that are not exact in binary (thirds) and halves of a millionth (rounded away from 0)."""
    from cvm.data.spark.summary import summarise_spark
    from cvm.data.summary import workspace_summary

    tx = make_transactions(seed=9, customers=120)
    rng = np.random.default_rng(9)
    tx["amount"] = np.where(rng.random(len(tx)) < 0.5, tx["amount"], rng.integers(1, 500, len(tx)) / 3.0)
    tx.loc[tx.index[:4], "amount"] = [0.0000025, -0.0000025, 12.0000005, -3.0]  # halves of a millionth; a return
    for kw in ({"time_unit": "week"}, {"time_unit": "week", "period": "week"},
               {"time_unit": "day", "calibration_end": "2023-06-30", "holdout_end": "2024-02-29"}):
        local = workspace_summary(tx, **kw).sort_index()
        theirs = (summarise_spark(spark.createDataFrame(tx).repartition(7), **kw).toPandas()
                  .set_index("customer_id").sort_index())
        assert list(theirs.index) == list(local.index)
        for col in ("monetary_value", "total_amount") + (("monetary_value_holdout",) if "holdout_end" in kw else ()):
            assert np.array_equal(theirs[col].to_numpy(float), local[col].to_numpy(float)), (kw, col)
    # and the half-millionths were rounded away from zero by both: 0.0000025 -> 3 millionths
    first = tx.iloc[0]
    one = workspace_summary(tx[tx["customer_id"] == first["customer_id"]].iloc[:1], time_unit="day")
    assert one["total_amount"].iloc[0] == 3e-6


def test_spark_and_duckdb_summaries_agree_bit_for_bit_with_returns(spark):
    """Returns (issue 11) by the same rules on both engines, to the last bit: a return with the order id of a
    purchase of the same customer joins that purchase's period; one without (or with an unknown order) is
    taken off the repeat spend; a customer with only returns has no row; no return makes a purchase."""
    from cvm.data.spark.summary import summarise_spark
    from cvm.data.summary import workspace_summary

    tx = make_transactions(seed=11, customers=150)
    rng = np.random.default_rng(11)
    tx["amount"] = np.where(rng.random(len(tx)) < 0.5, tx["amount"], rng.integers(1, 500, len(tx)) / 3.0)
    tx["order_id"] = [f"o{i}" for i in range(len(tx))]
    picked = tx.sample(frac=0.2, random_state=3)
    returns = picked.assign(ts=picked["ts"] + pd.Timedelta(days=5), amount=-picked["amount"] * rng.random(len(picked)))
    # a third without order id, a tenth with an order id nobody bought under
    returns.loc[returns.index[: len(returns) // 3], "order_id"] = None
    returns.loc[returns.index[len(returns) // 3: len(returns) // 3 + len(returns) // 10], "order_id"] = "unknown"
    only = pd.DataFrame({"customer_id": ["ZZ-returns-only"] * 2, "ts": pd.to_datetime(["2023-03-01", "2023-04-01"]),
                         "amount": [-10.0, -1.0 / 3.0], "order_id": [None, "o1"]})
    tx = pd.concat([tx, returns, only], ignore_index=True)
    tx = tx[tx["ts"] < pd.Timestamp("2024-03-01")].reset_index(drop=True)
    for kw in ({"time_unit": "week"}, {"time_unit": "week", "period": "week"},
               {"time_unit": "day", "calibration_end": "2023-06-30", "holdout_end": "2024-02-29"}):
        local = workspace_summary(tx, **kw).sort_index()
        assert local.attrs["returns_only_customers"] == ["ZZ-returns-only"]
        theirs = (summarise_spark(spark.createDataFrame(tx).repartition(7), **kw).toPandas()
                  .set_index("customer_id").sort_index())
        assert list(theirs.index) == list(local.index) and "ZZ-returns-only" not in local.index
        for col in ("frequency", "recency", "T", "n_transactions", "monetary_value", "total_amount") + (
                ("frequency_holdout", "monetary_value_holdout") if "holdout_end" in kw else ()):
            assert np.array_equal(theirs[col].to_numpy(float), local[col].to_numpy(float)), (kw, col)
    # the returns moved no purchase: the summary equals that of the purchases alone, bar the money
    plain = workspace_summary(tx[tx["amount"] >= 0], as_of="2024-02-29", time_unit="week").sort_index()
    local = workspace_summary(tx, as_of="2024-02-29", time_unit="week").sort_index()
    for col in ("frequency", "recency", "T", "n_transactions"):
        assert np.array_equal(plain[col].to_numpy(float), local[col].to_numpy(float)), col
    assert (local["total_amount"] < plain["total_amount"]).any()


# ----------------------------------------------------------------------------- the guards of the ingest rules
# The cheap guards in front of the totals and id expressions must never change a verdict. The
# reference is the rule written plainly in Python: a totals cell is one whose text, trimmed of
# spaces and lowered, starts with one of the words followed by a word boundary; an id holds a
# control character when one of U+0000-U+001F or U+007F-U+009F is in it.
TOTALS_CELLS = ["Totaal", "  totaal", "TOTAL:", "Totals 2024", "Subtotaal", "sUm", "Som van", "Eindtotaal",
                "grand total", "Grand Totalen", "totally", "store", "shipping", "email", "Sumatra", "som",
                "\tTotaal", " ", "", "s", "t", "C000123", "O17", "web", "phone", "Ééntotaal", "Ttotal",
                "sOm", "GRAND TOTAL", "eind", "Total\u00a0", "ﬁnal"]
ID_CELLS = ["C000123", "12\x013", "abc\x7f", "x\x9fy", "K\u00a07", "\u200b123", "plain id", "~!", "ß", ""]


def test_totals_guard_keeps_every_verdict(spark):
    import re

    from pyspark.sql import functions as F

    from cvm.data.spark.rules import is_totals_text
    from cvm.data.validate import TOTAL_WORDS

    words = "|".join(re.escape(w) for w in TOTAL_WORDS)
    expected = [bool(re.match(f"^({words})\\b", c.strip(" ").lower(), re.ASCII)) for c in TOTALS_CELLS]
    frame = spark.createDataFrame(pd.DataFrame({"i": range(len(TOTALS_CELLS)), "cell": TOTALS_CELLS}))
    got = {r["i"]: bool(r["t"]) for r in frame.select("i", F.coalesce(is_totals_text(F.col("cell")), F.lit(False))
                                                     .alias("t")).collect()}
    assert [got[i] for i in range(len(TOTALS_CELLS))] == expected
    # counted by hand: Totaal, totaal, TOTAL:, Totals 2024, Subtotaal, sUm, Som van, Eindtotaal, grand total,
    # som, sOm, GRAND TOTAL and "Total" + no-break space are totals lines
    assert sum(expected) == 13


def test_id_guard_keeps_every_control_character_verdict(spark):
    from pyspark.sql import functions as F

    from cvm.data.spark.rules import id_checks, id_guard

    expected = [any(0 <= ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F for ch in c) for c in ID_CELLS]
    frame = spark.createDataFrame(pd.DataFrame({"i": range(len(ID_CELLS)), "cell": ID_CELLS}))
    (guarded, _), = id_checks(F.col("cell"), "customer_id", "klant", id_guard(F.col("cell")))
    (plain, _), = id_checks(F.col("cell"), "customer_id", "klant")
    rows = frame.select("i", guarded.alias("g"), plain.alias("p")).collect()
    got = {r["i"]: (bool(r["g"]), bool(r["p"])) for r in rows}
    assert [got[i][0] for i in range(len(ID_CELLS))] == expected
    assert [got[i][1] for i in range(len(ID_CELLS))] == expected
    assert sum(expected) == 3


# ----------------------------------------------------------------------------- files Spark's CSV reader reads otherwise
def _utf8_file_with_a_cp1252_line(path: Path) -> Path:
    """A UTF-8 export (an é proves it) with one line Excel wrote in cp1252: ``Zoë`` as the bytes 5A 6F EB."""
    lines = ["klant,datum,bedrag".encode(), "Renée,2024-01-02,10.00".encode(), b"K1,2024-01-03,5.00",
             "Zoë,2024-01-04,7.50".encode("cp1252"), b"K2,2024-01-05,2.25"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_spark_never_accepts_an_id_read_with_a_replacement_character(spark, tmp_path):
    """Spark's CSV reader decodes the cp1252 line as ``Zo\\ufffd``; the engine reads the local file again with
    the DuckDB ingest's reader, which sets that line aside as the ingest does (by hand: ``Zo`` is two bytes,
    so the first byte that is not UTF-8 is 0xEB at byte 3), and accepts the other three rows."""
    from pyspark.sql import functions as F

    from cvm.data.spark import summarise_spark
    from cvm.data.spark.summary import check_transactions, read_source

    path = _utf8_file_with_a_cp1252_line(tmp_path / "export.csv")
    raw, detected = read_source(str(path), spark)
    assert raw.where(F.col("klant").contains("\ufffd")).count() == 1  # what Spark's reader made of the line
    checked = check_transactions(raw, delimiter=detected["delimiter"])
    accepted = sorted(r["customer_id"] for r in checked.accepted().collect())
    assert accepted == ["K1", "K2", "Renée"]
    assert not any("\ufffd" in c for c in accepted)
    (row,) = checked.quarantined().collect()
    assert (row["reason_code"], row["reason_values"]) == ("invalid_utf8", '{"byte":"0xEB","position":"3"}')
    assert row["reason"] == "invalid UTF-8: 0xEB at byte 3"
    assert checked.counts() == {"rows_read": 4, "accepted": 3, "quarantined": 1, "duplicates": 0,
                                "reasons": {"invalid_utf8": 1}}
    assert checked.formats["reader"].startswith("cvm.data.readers")
    # the path given to the summary directly: the same three customers
    summary = summarise_spark(str(path), "klant", "datum", "bedrag", time_unit="day", spark=spark)
    assert sorted(r["customer_id"] for r in summary.collect()) == ["K1", "K2", "Renée"]


def test_spark_refuses_replacement_characters_it_cannot_read_again(spark, tmp_path):
    """A file at a URI (here ``file://``) or a frame derived from the read cannot be read again by the
    line reader: a row holding U+FFFD is refused in words, never accepted."""
    from pyspark.sql import functions as F

    from cvm.data.spark.summary import check_transactions, read_source

    path = _utf8_file_with_a_cp1252_line(tmp_path / "export.csv")
    raw, detected = read_source(path.as_uri(), spark)
    with pytest.raises(SchemaError, match="export.csv holds 1 row") as raised:
        check_transactions(raw, delimiter=detected["delimiter"])
    assert raised.value.code == "spark_not_utf8" and "local copy" in raised.value.hint
    raw, detected = read_source(str(path), spark)
    with pytest.raises(SchemaError) as raised:
        check_transactions(raw.where(F.lit(True)), delimiter=detected["delimiter"])
    assert raised.value.code == "spark_not_utf8"


def test_a_regular_csv_is_not_read_on_the_driver(spark, tmp_path, monkeypatch):
    """A regular file (quoted delimiters, an empty cell, a ragged-free body) stays with Spark's reader."""
    from cvm.data.spark import staged
    from cvm.data.spark.summary import check_transactions, read_source

    def refuse(*args, **kwargs):
        raise AssertionError("a regular file was read on the driver")

    monkeypatch.setattr(staged, "staged_rows", refuse)
    path = tmp_path / "regular.csv"
    path.write_text('klant,datum,bedrag,kanaal\nK1,2024-01-02,"1,234.50",web\nK2,2024-01-03,5.00,\n'
                    'K3,2024-01-04,7.50,"shop, city"\n', encoding="utf-8")
    raw, detected = read_source(str(path), spark)
    checked = check_transactions(raw, delimiter=detected["delimiter"])
    assert checked.signals == {"irregular": 0, "replaced": 0}
    assert checked.counts()["accepted"] == 3


def test_a_local_workbook_is_read_by_the_ingest_reader(spark, tmp_path):
    """An .xlsx file: its cells as the DuckDB ingest's Excel staging gives them (dates as ISO text)."""
    import datetime as dt

    from openpyxl import Workbook

    from cvm.data.spark.summary import check_transactions, read_source

    book = Workbook()
    sheet = book.active
    sheet.append(["Klant", "Datum", "Bedrag"])
    sheet.append(["K1", dt.datetime(2024, 1, 2), 10.5])
    sheet.append(["K2", dt.datetime(2024, 1, 3), "tien"])
    sheet.append(["  ", None, None])  # a cell of spaces: a row to the DuckDB ingest (missing customer_id), not blank
    book.save(tmp_path / "book.xlsx")
    raw, detected = read_source(str(tmp_path / "book.xlsx"), spark)
    assert detected["format"] == "xlsx"
    checked = check_transactions(raw)
    assert [(r["customer_id"], r["amount"]) for r in checked.accepted().collect()] == [("K1", 10.5)]
    assert sorted(r["reason_code"] for r in checked.quarantined().collect()) == ["missing", "non_numeric"]
    assert checked.counts()["rows_read"] == 3


def test_title_lines_above_the_header_of_a_local_file_are_skipped(spark, tmp_path):
    """Spark's reader would take the title as the header and the header as a row; the ingest's reader skips it."""
    from cvm.data.spark.summary import check_transactions, read_source

    path = tmp_path / "rapport.csv"
    path.write_text("Omzetrapport 2024\n\nKlant;Datum;Bedrag\nK1;02-01-2024;10,50\nK2;03-01-2024;4,00\n", encoding="utf-8")
    raw, detected = read_source(str(path), spark)
    assert detected["header_line"] == 3
    checked = check_transactions(raw, delimiter=detected["delimiter"])
    assert checked.counts()["quarantined"] == 0
    assert sorted((r["customer_id"], r["amount"]) for r in checked.accepted().collect()) == [("K1", 10.5), ("K2", 4.0)]


def test_a_file_wholly_in_cp1252_is_read_as_the_duckdb_ingest_reads_it(spark, tmp_path):
    """Excel's 'CSV (puntkomma gescheiden)' on Dutch Windows: cp1252 from the first line on (€ is byte 0x80,
    ë is 0xEB). Spark 4's CSV reader offers no cp1252 (it failed with INVALID_PARAMETER_VALUE.CHARSET), so
    the file is read by the DuckDB ingest's reader: the ids and amounts as written, by hand below."""
    from cvm.data.spark.summary import check_transactions, read_source

    path = tmp_path / "export.csv"
    path.write_bytes("Klant;Datum;Bedrag\r\nZoë;02-01-2024;€ 10,50\r\nK2;03-01-2024;€ 1.234,00\r\n".encode("cp1252"))
    raw, detected = read_source(str(path), spark)
    assert detected["encoding"] == "cp1252"
    checked = check_transactions(raw, delimiter=detected["delimiter"])
    assert checked.counts()["quarantined"] == 0
    assert sorted((r["customer_id"], r["amount"]) for r in checked.accepted().collect()) == [
        ("K2", 1234.0), ("Zoë", 10.5)]
