"""Accuracy measures checked against hand computation on tiny inputs.

Every expected number below is worked out by hand in the comment next to it.
"""

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.evaluation import metrics


def test_mae_rmse_by_hand():
    actual = [0, 1, 3, 2]
    predicted = [0.5, 1, 1, 3]
    # errors: -0.5, 0, 2, -1 -> |.| sum 3.5 / 4 = 0.875; squares 0.25 + 0 + 4 + 1 = 5.25 / 4 = 1.3125
    assert metrics.mean_absolute_error(actual, predicted) == pytest.approx(0.875)
    assert metrics.root_mean_squared_error(actual, predicted) == pytest.approx(np.sqrt(1.3125))


def test_length_mismatch_and_nan_are_schema_errors():
    with pytest.raises(SchemaError):
        metrics.mean_absolute_error([1, 2], [1])
    with pytest.raises(SchemaError):
        metrics.root_mean_squared_error([1, np.nan], [1, 2])
    with pytest.raises(SchemaError):
        metrics.mean_absolute_error([], [])


def test_tracking_error_skips_zero_periods():
    # periods with actual 0 carry no percentage: |12-10|/10 = 0.2, |27-30|/30 = 0.1 -> mean 0.15
    assert metrics.tracking_error([0, 10, 30], [1, 12, 27]) == pytest.approx(0.15)
    with pytest.raises(SchemaError):
        metrics.tracking_error([0, 0], [1, 1])


def test_conditional_expectations_table():
    x = [0, 0, 1, 2, 9, 7]
    actual = [0, 1, 2, 2, 5, 3]
    predicted = [0.2, 0.4, 1.0, 2.5, 6.0, 4.0]
    t = metrics.conditional_expectations(x, actual, predicted, top=7)
    assert list(t.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert t.loc["0", "n_customers"] == 2
    assert t.loc["0", "actual"] == pytest.approx(0.5)  # (0 + 1) / 2
    assert t.loc["0", "predicted"] == pytest.approx(0.3)  # (0.2 + 0.4) / 2
    assert t.loc["7+", "n_customers"] == 2  # x = 9 and x = 7
    assert t.loc["7+", "actual"] == pytest.approx(4.0)  # (5 + 3) / 2
    assert t.loc["7+", "predicted"] == pytest.approx(5.0)  # (6 + 4) / 2
    assert t.loc["3", "n_customers"] == 0 and np.isnan(t.loc["3", "actual"])


def test_chi_square_by_hand():
    # (10-12)^2/12 + (20-18)^2/18 + (30-30)^2/30 = 1/3 + 2/9 = 5/9; 3 groups - 1 = 2 dof
    c = metrics.chi_square([10, 20, 30], [12, 18, 30])
    assert c.statistic == pytest.approx(5 / 9)
    assert c.dof == 2
    # chi2 survival with 2 dof is exp(-s/2)
    assert c.p_value == pytest.approx(np.exp(-5 / 18))
    # with one estimated parameter: 1 dof left
    assert metrics.chi_square([10, 20, 30], [12, 18, 30], n_params=1).dof == 1
    # no dof left: p-value is undefined, not a fake number
    assert np.isnan(metrics.chi_square([10, 20, 30], [12, 18, 30], n_params=2).p_value)
    with pytest.raises(SchemaError):
        metrics.chi_square([1, 2], [0, 3])


def test_gini_by_hand():
    # sorted v = 1, 2, 3, n = 3: sum (2i - 4) v_i = -2*1 + 0*2 + 2*3 = 4; / (3 * 6) = 2/9
    assert metrics.gini_coefficient([3, 1, 2]) == pytest.approx(2 / 9)
    assert metrics.gini_coefficient([5, 5, 5, 5]) == pytest.approx(0.0)
    # one customer holds everything: (n-1)/n
    assert metrics.gini_coefficient([0, 0, 0, 0, 7]) == pytest.approx(4 / 5)
    with pytest.raises(SchemaError):
        metrics.gini_coefficient([0, 0])


def test_gini_equals_one_minus_twice_lorenz_area():
    # independent route: trapezoid area under the Lorenz curve, G = 1 - 2 * area
    # (the discrete Lorenz curve with steps 1/n gives exactly the mean-difference Gini)
    v = np.array([1.0, 4.0, 2.0, 8.0, 0.5])
    curve = metrics.lorenz_curve(v)
    xs, ys = curve["customer_share"].to_numpy(), curve["value_share"].to_numpy()
    area = np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2)
    assert metrics.gini_coefficient(v) == pytest.approx(1 - 2 * area)
    assert curve.iloc[0].tolist() == [0.0, 0.0] and curve.iloc[-1].tolist() == [1.0, 1.0]


def test_ranking_gini_perfect_reversed_and_partial():
    actual = [10, 0, 30, 20]
    assert metrics.ranking_gini([1, 0, 3, 2], actual) == pytest.approx(1.0)
    assert metrics.ranking_gini([3, 4, 1, 2], actual) == pytest.approx(-1.0)
    # order by prediction [0.1, 0.2, 0.4, 0.3] -> ranks 1, 2, 4, 3 for actual 10, 0, 30, 20
    # concentration = (-3*10 + -1*0 + 3*30 + 1*20) / (4 * 60) = 80 / 240 = 1/3
    # Gini of actual (sorted 0, 10, 20, 30): (-3*0 - 1*10 + 1*20 + 3*30) / 240 = 100/240 = 5/12
    # normalised: (1/3) / (5/12) = 0.8
    assert metrics.ranking_gini([0.1, 0.2, 0.4, 0.3], actual) == pytest.approx(0.8)


def test_top_share_by_hand():
    predicted = np.arange(20)[::-1]  # customer 0 predicted highest
    actual = np.zeros(20)
    actual[[0, 1, 5]] = [30, 10, 60]
    # top 10 % = ceil(0.1 * 20) = 2 customers: 0 and 1 -> (30 + 10) / 100
    assert metrics.top_share(predicted, actual, 0.1) == pytest.approx(0.4)
    # top 30 % = 6 customers: 0..5 -> everything
    assert metrics.top_share(predicted, actual, 0.3) == pytest.approx(1.0)
    with pytest.raises(SchemaError):
        metrics.top_share(predicted, actual, 0.0)


def test_calibration_table_and_scores_by_hand():
    p = [0.05, 0.15, 0.12, 0.95, 1.0]
    y = [0, 1, 0, 1, 1]
    t = metrics.calibration_table(p, y, bins=10)
    # bins used: [0, 0.1) one customer, [0.1, 0.2) two, [0.9, 1] two (1.0 falls in the last, closed bin)
    assert t["n_customers"].tolist() == [1, 2, 2]
    assert t["predicted"].tolist() == pytest.approx([0.05, 0.135, 0.975])
    assert t["observed"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    # ECE = (1*0.05 + 2*0.365 + 2*0.025) / 5 = 0.83 / 5
    assert metrics.expected_calibration_error(p, y) == pytest.approx(0.83 / 5)
    # Brier = (0.0025 + 0.7225 + 0.0144 + 0.0025 + 0) / 5
    assert metrics.brier_score(p, y) == pytest.approx(0.7419 / 5)
    with pytest.raises(SchemaError):
        metrics.calibration_table([1.2], [1])


def test_frequency_group_rejects_negative():
    assert metrics.frequency_group(pd.Series([0, 3, 12]), top=7).tolist() == [0, 3, 7]
    with pytest.raises(SchemaError):
        metrics.frequency_group([-1])
