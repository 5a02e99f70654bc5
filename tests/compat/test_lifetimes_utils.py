"""cvm.compat.lifetimes.utils, .datasets and .plotting against lifetimes 0.11.3 (or, where lifetimes fails
on pandas 3, against hand-built expectations from lifetimes' definitions)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cvm.compat.lifetimes as clt
from cvm.data.datasets import cdnow_path

lt = pytest.importorskip("lifetimes")
from lifetimes import datasets as lt_datasets  # noqa: E402
from lifetimes import utils as lt_utils  # noqa: E402

BG_PUBLISHED = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def cdnow_log():
    """CDNOW sample as lifetimes' own tests load it: int64 yyyymmdd dates."""
    return pd.read_csv(cdnow_path(), sep=r"\s+", header=None, names=["customer_id", "sample", "date", "cds", "amount"])


def test_datasets_equal_lifetimes():
    for name in ("load_cdnow_summary", "load_donations", "load_transaction_data",
                 "load_cdnow_summary_data_with_monetary_value"):
        pd.testing.assert_frame_equal(getattr(clt.datasets, name)(), getattr(lt_datasets, name)())
    pd.testing.assert_frame_equal(clt.datasets.load_cdnow_summary(index_col=[0]),
                                  lt_datasets.load_cdnow_summary(index_col=[0]))
    with pytest.raises(ValueError, match="no data set"):
        clt.datasets.load_dataset("larynx.csv")


def test_summary_reads_integer_yyyymmdd_dates_as_lifetimes(cdnow_log):
    """Issue 14, trap 6: lifetimes' CDNOW fixture (int64 dates, datetime_format='%Y%m%d')."""
    kwargs = dict(datetime_format="%Y%m%d", observation_period_end="19970930", freq="W", monetary_value_col="amount")
    ours = clt.utils.summary_data_from_transaction_data(cdnow_log, "customer_id", "date", **kwargs)
    theirs = lt_utils.summary_data_from_transaction_data(cdnow_log, "customer_id", "date", **kwargs)
    pd.testing.assert_frame_equal(ours, theirs, check_index_type=False, rtol=1e-12)
    # the native function too (the compat function is the native one)
    from cvm.data import summary_data_from_transaction_data

    native = summary_data_from_transaction_data(cdnow_log, "customer_id", "date", **kwargs)
    pd.testing.assert_frame_equal(native, theirs, check_index_type=False, rtol=1e-12)
    with pytest.raises(ValueError, match="do not read as dates"):
        summary_data_from_transaction_data(cdnow_log, "customer_id", "date")


def test_summary_of_the_example_transactions_equals_lifetimes():
    tx = clt.datasets.load_transaction_data()
    ours = clt.utils.summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2014-12-31")
    theirs = lt_utils.summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2014-12-31")
    pd.testing.assert_frame_equal(ours, theirs, check_index_type=False)


def test_calibration_and_holdout_gives_lifetimes_definition(cdnow_log):
    """lifetimes fails here on pandas 3; the calibration part equals lifetimes' summary of the calibration
    transactions, and the holdout counts distinct purchase weeks per customer (lifetimes' definition)."""
    with pytest.raises(Exception):
        lt_utils.calibration_and_holdout_data(cdnow_log, "customer_id", "date", calibration_period_end="19970930",
                                              observation_period_end="19980630", datetime_format="%Y%m%d", freq="W")
    ours = clt.utils.calibration_and_holdout_data(cdnow_log, "customer_id", "date", calibration_period_end=19970930,
                                                  observation_period_end=19980630, datetime_format="%Y%m%d", freq="W")
    assert list(ours.columns) == ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    dates = pd.to_datetime(cdnow_log["date"].astype(str), format="%Y%m%d")
    cal = lt_utils.summary_data_from_transaction_data(cdnow_log[dates <= "1997-09-30"], "customer_id", "date",
                                                      datetime_format="%Y%m%d", observation_period_end="19970930",
                                                      freq="W")
    np.testing.assert_allclose(ours[["frequency_cal", "recency_cal", "T_cal"]].to_numpy(), cal.to_numpy(), rtol=1e-12)
    holdout = cdnow_log[(dates > "1997-09-30") & (dates <= "1998-06-30")].assign(week=dates.dt.to_period("W"))
    weeks = holdout.groupby("customer_id")["week"].nunique().reindex(cal.index, fill_value=0)
    np.testing.assert_array_equal(ours["frequency_holdout"].to_numpy(), weeks.to_numpy(dtype=float))
    # weeks between the two period ends, as lifetimes' (to_period(end) - to_period(cal)).n
    expected_weeks = (pd.Timestamp("1998-06-30").to_period("W") - pd.Timestamp("1997-09-30").to_period("W")).n
    assert (ours["duration_holdout"] == expected_weeks).all()


def test_calculate_alive_path_by_hand():
    """lifetimes fails on pandas 3 (fillna(method=)); the path by lifetimes' definition, by hand:
    purchases on days 0, 2 and 5 of a customer, t = 7."""
    bgf = clt.BetaGeoFitter()
    bgf.params_ = pd.Series(BG_PUBLISHED)
    oracle = lt.BetaGeoFitter()
    oracle.params_ = pd.Series(BG_PUBLISHED)
    tx = pd.DataFrame({"date": ["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-06"]})
    path = clt.utils.calculate_alive_path(bgf, tx, "date", 7, freq="D")
    #          age T: 0  1  2  3  4  5  6  7
    frequency = [0, 0, 1, 1, 1, 2, 2, 2]
    recency = [0, 0, 2, 2, 2, 5, 5, 5]
    expected = [oracle.conditional_probability_alive(f, r, T)[0] for T, (f, r) in enumerate(zip(frequency, recency))]
    assert list(path.index) == list(range(8))
    np.testing.assert_allclose(path.to_numpy(), expected, rtol=1e-12)


def test_expected_cumulative_transactions_equals_lifetimes():
    tx = clt.datasets.load_transaction_data()
    summary = clt.utils.summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2014-12-31")
    ours_m, theirs_m = clt.BetaGeoFitter(), lt.BetaGeoFitter()
    ours_m.fit(summary["frequency"], summary["recency"], summary["T"])
    theirs_m.params_ = ours_m.params_.copy()
    for kwargs in ({}, {"freq_multiplier": 7}, {"set_index_date": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = lt_utils.expected_cumulative_transactions(theirs_m, tx, "date", "id", 200, **kwargs)
        ours = clt.utils.expected_cumulative_transactions(ours_m, tx, "date", "id", 200, **kwargs)
        pd.testing.assert_index_equal(ours.index, theirs.index, exact=False)
        np.testing.assert_array_equal(ours["actual"].to_numpy(), theirs["actual"].to_numpy())
        np.testing.assert_allclose(ours["predicted"].to_numpy(), theirs["predicted"].to_numpy(), rtol=1e-8)


def test_customer_lifetime_value_helper_takes_native_models():
    from cvm.models import BGNBD

    data = clt.datasets.load_cdnow_summary_data_with_monetary_value().iloc[:50]
    compat = clt.BetaGeoFitter()
    compat.params_ = pd.Series(BG_PUBLISHED)
    args = (data["frequency"], data["recency"], data["T"], data["monetary_value"])
    via_compat = clt.utils.customer_lifetime_value(compat, *args, freq="W")
    via_native = clt.utils.customer_lifetime_value(BGNBD.from_params(**BG_PUBLISHED), *args, freq="W")
    assert via_compat.name == "clv" and via_compat.index.equals(data.index)
    np.testing.assert_allclose(via_native.to_numpy(), via_compat.to_numpy(), rtol=1e-10)


def test_plots_draw_on_matplotlib_axes(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from cvm.compat.lifetimes import plotting

    summary = clt.datasets.load_cdnow_summary(index_col=[0])
    bgf = clt.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    calls = [
        lambda ax: plotting.plot_period_transactions(bgf, ax=ax),
        lambda ax: plotting.plot_frequency_recency_matrix(bgf, ax=ax),
        lambda ax: plotting.plot_probability_alive_matrix(bgf, ax=ax),
        lambda ax: plotting.plot_expected_repeat_purchases(bgf, ax=ax),
        lambda ax: plotting.plot_transaction_rate_heterogeneity(bgf, ax=ax),
        lambda ax: plotting.plot_dropout_rate_heterogeneity(bgf, ax=ax),
        lambda ax: plotting.plot_history_alive(bgf, 60, pd.DataFrame({"date": ["2024-01-01", "2024-01-20"]}), "date",
                                               ax=ax),
    ]
    for draw in calls:
        fig, ax = plt.subplots()
        out = draw(ax)
        assert out is ax
        assert ax.lines or ax.images or ax.patches
        fig.savefig(tmp_path / "figure.png")
        plt.close("all")
    # the expected repeat purchases line is the model's E[X(t)]
    fig, ax = plt.subplots()
    plotting.plot_expected_repeat_purchases(bgf, ax=ax)
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, bgf.expected_number_of_purchases_up_to_time(x), rtol=1e-12)
    plt.close("all")
    tx = clt.datasets.load_transaction_data()
    tsum = clt.utils.summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2014-12-31")
    model = clt.BetaGeoFitter().fit(tsum["frequency"], tsum["recency"], tsum["T"])
    for fn in (plotting.plot_cumulative_transactions, plotting.plot_incremental_transactions):
        fig, ax = plt.subplots()
        assert fn(model, tx, "date", "id", 100, 60, ax=ax) is ax
        plt.close("all")
    cal = clt.utils.calibration_and_holdout_data(tx, "id", "date", calibration_period_end="2014-09-01",
                                                 observation_period_end="2014-12-31")
    model.fit(cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
    ax = plotting.plot_calibration_purchases_vs_holdout_purchases(model, cal)
    assert len(ax.lines) == 2
    plt.close("all")
