"""Expected values lifetimes documents for its utilities (its test suite and the R BTYD walkthrough),
run through cvm.compat.lifetimes. lifetimes 0.11.3 itself fails on pandas 3 in calibration_and_holdout_data,
so these published numbers are the oracle there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cvm.compat.lifetimes as clt
from cvm.data.datasets import cdnow_path

ROWS = [(1, "2015-01-01", 1), (1, "2015-02-06", 2), (2, "2015-01-01", 2), (3, "2015-01-01", 3), (3, "2015-01-02", 1),
        (3, "2015-01-05", 5), (4, "2015-01-16", 6), (4, "2015-02-02", 3), (4, "2015-02-05", 3), (5, "2015-01-16", 3),
        (5, "2015-01-17", 1), (5, "2015-01-18", 8), (6, "2015-02-02", 5)]


@pytest.fixture()
def log():
    return pd.DataFrame(ROWS, columns=["id", "date", "monetary_value"])


@pytest.fixture(scope="module")
def cdnow_log():
    frame = pd.read_csv(cdnow_path(), sep=r"\s+", header=None, names=["id_total", "id_sample", "date", "cds", "value"])
    return frame[["id_sample", "date"]]


def test_calibration_and_holdout_weekly(log):
    out = clt.utils.calibration_and_holdout_data(log[["id", "date"]], "id", "date", "2015-02-01",
                                                 observation_period_end="2015-02-07", freq="W")
    expected = pd.DataFrame([[1, 0.0, 0.0, 4.0, 1, 1], [2, 0.0, 0.0, 4.0, 0, 1], [3, 1.0, 1.0, 4.0, 0, 1],
                             [4, 0.0, 0.0, 2.0, 1, 1], [5, 0.0, 0.0, 2.0, 0, 1]],
                            columns=["id", "frequency_cal", "recency_cal", "T_cal", "frequency_holdout",
                                     "duration_holdout"]).set_index("id")
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)


def test_calibration_and_holdout_daily_boundaries_and_money(log):
    out = clt.utils.calibration_and_holdout_data(log[["id", "date"]], "id", "date", "2015-02-01",
                                                 observation_period_end="2015-02-07")
    assert out.loc[1, "frequency_holdout"] == 1 and out.loc[2, "frequency_holdout"] == 0
    assert 6 not in out.index                        # first seen in the holdout
    short = clt.utils.calibration_and_holdout_data(log[["id", "date"]], "id", "date", calibration_period_end="2015-02-01",
                                                   observation_period_end="2015-02-04")
    assert short.loc[1, "frequency_holdout"] == 0 and short.loc[4, "frequency_holdout"] == 1
    money = clt.utils.calibration_and_holdout_data(log, "id", "date", "2015-02-01", observation_period_end="2015-02-07",
                                                   monetary_value_col="monetary_value")
    assert money["monetary_value_cal"].tolist() == [0, 0, 3, 0, 4.5]
    assert money["monetary_value_holdout"].tolist() == [2, 0, 0, 3, 0]


def test_summaries_of_the_small_logs(log):
    out = clt.utils.summary_data_from_transaction_data(log, "id", "date", monetary_value_col="monetary_value",
                                                       observation_period_end="20150207")
    expected = pd.DataFrame([[1, 1.0, 36.0, 37.0, 2], [2, 0.0, 0.0, 37.0, 0], [3, 2.0, 4.0, 37.0, 3],
                             [4, 2.0, 20.0, 22.0, 3], [5, 2.0, 2.0, 22.0, 4.5], [6, 0.0, 0.0, 5.0, 0]],
                            columns=["id", "frequency", "recency", "T", "monetary_value"]).set_index("id")
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    weekly = clt.utils.summary_data_from_transaction_data(log, "id", "date", observation_period_end="20150207", freq="W")
    assert weekly["T"].tolist() == [5.0, 5.0, 5.0, 3.0, 3.0, 0.0]
    assert weekly["recency"].tolist() == [5.0, 0.0, 1.0, 3.0, 0.0, 0.0]


def test_expected_cumulative_transactions_equal_the_btyd_walkthrough(cdnow_log):
    """R BTYD walkthrough, cum.tracking[, 20:25] (Pareto/NBD on CDNOW, weeks)."""
    summary = clt.utils.summary_data_from_transaction_data(cdnow_log, "id_sample", "date", datetime_format="%Y%m%d",
                                                           freq="D", freq_multiplier=7,
                                                           observation_period_end="19970930")
    model = clt.ParetoNBDFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    cum = clt.utils.expected_cumulative_transactions(model, cdnow_log, "date", "id_sample", 25 * 7, "%Y%m%d", "D",
                                                     set_index_date=False, freq_multiplier=7)
    np.testing.assert_array_equal(cum["actual"].iloc[19:25], [1359, 1414, 1484, 1517, 1573, 1672])
    np.testing.assert_allclose(cum["predicted"].iloc[19:25], [1309, 1385, 1460, 1533, 1604, 1674], atol=0.5)
    incremental = cum.apply(lambda column: column - column.shift(1))
    np.testing.assert_array_equal(incremental["actual"].iloc[19:25], [73, 55, 70, 33, 56, 99])
    np.testing.assert_allclose(incremental["predicted"].iloc[19:25], [78.31, 76.42, 74.65, 72.98, 71.41, 69.93],
                               atol=0.01)


def test_expected_cumulative_transactions_by_date(cdnow_log):
    summary = clt.utils.summary_data_from_transaction_data(cdnow_log, "id_sample", "date", datetime_format="%Y%m%d",
                                                           observation_period_end="19970930")
    model = clt.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    cum = clt.utils.expected_cumulative_transactions(model, cdnow_log, "date", "id_sample", 14, "%Y%m%d", "D",
                                                     set_index_date=True)
    assert list(cum.index[-4:].to_timestamp().astype(str)) == ["1997-01-11", "1997-01-12", "1997-01-13", "1997-01-14"]
    np.testing.assert_array_equal(cum["actual"].iloc[-4:], [11, 12, 15, 19])
    np.testing.assert_allclose(cum["predicted"].iloc[-4:], [10.67, 12.67, 14.87, 17.24], atol=0.01)


def test_monetary_summary_equals_hardies_paper():
    """Fader, Hardie & Lee (2005), "RFM and CLV": repeat spend on CDNOW's calibration period."""
    frame = pd.read_csv(cdnow_path(), sep=r"\s+", header=None, names=["_id", "id", "date", "cds", "spent"])
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    summary = clt.utils.summary_data_from_transaction_data(frame[frame["date"] < "1997-10-01"], "id", "date", "spent")
    spend = summary.loc[summary["frequency"] > 0, "monetary_value"].describe()
    assert [round(spend[k]) for k in ("mean", "std", "min", "50%", "max", "count")] == [35, 30, 3, 27, 300, 946]


def test_alive_path_of_a_customer(cdnow_log):
    tx = clt.datasets.load_transaction_data()
    summary = clt.utils.summary_data_from_transaction_data(tx, "id", "date", observation_period_end=tx["date"].max())
    model = clt.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    path = clt.utils.calculate_alive_path(model, tx[tx["id"] == 33], "date", 205)
    frequency, recency, T = summary.loc[33]
    assert path[0] == 1
    assert path[int(T)] == pytest.approx(model.conditional_probability_alive(frequency, recency, T)[0], rel=1e-12)
