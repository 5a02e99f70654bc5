"""lifetimes.utils with lifetimes' signatures and results, working on pandas 2 and 3.

The summaries are cvm's DuckDB summaries (:mod:`cvm.data.summary`), which equal
lifetimes' row for row; ``calculate_alive_path``, ``expected_cumulative_transactions``
and ``_customer_lifetime_value`` follow lifetimes' definitions with pandas calls that
pandas 3 still has.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cvm.compat.lifetimes._shape import check_inputs as _check_inputs  # noqa: F401 - as lifetimes.utils has it
from cvm.errors import ConvergenceError  # noqa: F401 - lifetimes.utils.ConvergenceError (a ValueError)

__all__ = [
    "calibration_and_holdout_data",
    "summary_data_from_transaction_data",
    "calculate_alive_path",
    "expected_cumulative_transactions",
]

#: model time units per month, per lifetimes' ``freq`` letter (lifetimes' own table)
_MONTH = {"W": 4.345, "M": 1.0, "D": 30, "H": 30 * 24}


def _date(value: Any, datetime_format: str | None) -> pd.Timestamp | None:
    """A period end as lifetimes reads it: ``pd.to_datetime(value, format=datetime_format)``
    (numbers such as 19970930 are read as their digits when a format is given)."""
    if value is None:
        return None
    if datetime_format and isinstance(value, (int, np.integer)):
        value = str(value)
    return pd.to_datetime(value, format=datetime_format)


def summary_data_from_transaction_data(transactions, customer_id_col, datetime_col, monetary_value_col=None,
                                       datetime_format=None, observation_period_end=None, freq="D",
                                       freq_multiplier=1, include_first_transaction=False) -> pd.DataFrame:
    """``frequency, recency, T[, monetary_value]`` per customer: :func:`cvm.data.summary.summary_data_from_transaction_data`.

    Integer dates such as 19970101 with ``datetime_format="%Y%m%d"`` are read as lifetimes reads them.
    """
    from cvm.data.summary import summary_data_from_transaction_data as summary

    return summary(transactions, customer_id_col, datetime_col, monetary_value_col=monetary_value_col,
                   datetime_format=datetime_format, observation_period_end=_date(observation_period_end, datetime_format),
                   freq=freq, freq_multiplier=freq_multiplier, include_first_transaction=include_first_transaction)


def calibration_and_holdout_data(transactions, customer_id_col, datetime_col, calibration_period_end,
                                 observation_period_end=None, freq="D", freq_multiplier=1, datetime_format=None,
                                 monetary_value_col=None, include_first_transaction=False) -> pd.DataFrame:
    """Calibration summary (``*_cal``) and holdout counts: :func:`cvm.data.summary.calibration_and_holdout_data`.

    lifetimes 0.11.3 fails here on pandas 3 ("No objects to concatenate"); the columns and
    values are those lifetimes gives on pandas 2.
    """
    from cvm.data.summary import calibration_and_holdout_data as split

    return split(transactions, customer_id_col, datetime_col, _date(calibration_period_end, datetime_format),
                 observation_period_end=_date(observation_period_end, datetime_format), freq=freq,
                 freq_multiplier=freq_multiplier, datetime_format=datetime_format,
                 monetary_value_col=monetary_value_col, include_first_transaction=include_first_transaction)


def calculate_alive_path(model, transactions, datetime_col, t, freq="D") -> pd.Series:
    """P(alive) of one customer at every age ``0..t`` (in ``freq`` periods since the first purchase).

    The customer's purchases are counted per period from the first one; at age ``T`` the
    history is ``frequency`` = purchase periods so far minus one, ``recency`` = age at the
    last purchase period, and the value is ``model.conditional_probability_alive(frequency,
    recency, T)``. lifetimes 0.11.3 fails on pandas 3 (``fillna(method=...)``); this gives
    the same numbers, as a float Series indexed ``0..t``.
    """
    stamps = pd.to_datetime(transactions[datetime_col])
    per_period = pd.Series(1, index=pd.DatetimeIndex(stamps)).resample(freq).sum().to_numpy()
    bought = np.append(per_period, np.zeros(max(t + 1 - len(per_period), 0))) > 0
    age = np.arange(bought.size, dtype=float)
    frequency = np.cumsum(bought) - 1.0
    last = np.maximum.accumulate(np.where(bought, np.arange(bought.size), 0))
    recency = age[last]
    values = [np.asarray(model.conditional_probability_alive(f, r, a), dtype=float).reshape(-1)[0]
              for f, r, a in zip(frequency, recency, age)]
    return pd.Series(values, index=pd.RangeIndex(bought.size), dtype=float)


def _first_and_repeat_periods(transactions, customer_id_col, datetime_col, datetime_format, end_period, freq):
    """Distinct (customer, period) purchases up to ``end_period``, and which is each customer's first."""
    periods = pd.to_datetime(transactions[datetime_col], format=datetime_format).dt.to_period(freq)
    frame = pd.DataFrame({"customer": transactions[customer_id_col].to_numpy(), "period": periods.to_numpy()})
    frame = frame[frame["period"] <= end_period].drop_duplicates().sort_values(["customer", "period"])
    first = ~frame["customer"].duplicated()
    return frame[first], frame[~first]


def expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t, datetime_format=None,
                                     freq="D", freq_multiplier=1, set_index_date=False) -> pd.DataFrame:
    """Actual and expected cumulative repeat transactions of the whole base, period by period.

    For period ``k`` (every ``freq_multiplier``-th of ``1..t``) the prediction sums, over the
    customers whose first purchase fell in an earlier period ``j``, the new-customer
    expectation ``model.expected_number_of_purchases_up_to_time((k - j) / freq_multiplier)``
    (Fader, Hardie & Lee 2005, "A note on implementing the Pareto/NBD model in MATLAB", p. 8);
    the actual count sums the repeat purchase periods before period ``k``. Columns
    ``actual, predicted``; the index counts periods from 0, or is the period when
    ``set_index_date``.
    """
    start_date = pd.to_datetime(transactions[datetime_col], format=datetime_format).min()
    start_period = start_date.to_period(freq)
    firsts, repeats = _first_and_repeat_periods(transactions, customer_id_col, datetime_col, datetime_format,
                                                start_period + t, freq)
    new_per_period = firsts.groupby("period").size().sort_index()
    date_periods = pd.date_range(start_date, periods=t + 1, freq=freq).to_period(freq)
    predicted = []
    for i, period in enumerate(date_periods):
        if i % freq_multiplier == 0 and i > 0:
            earlier = new_per_period[new_per_period.index < period]
            ages = np.array([(period - p).n for p in earlier.index], dtype=float) / freq_multiplier
            expected = np.asarray(model.expected_number_of_purchases_up_to_time(ages), dtype=float)
            predicted.append(float(np.sum(expected * earlier.to_numpy())))
    actual_per_period = repeats.groupby("period").size().reindex(date_periods, fill_value=0).to_numpy()
    actual = [int(actual_per_period[: j * freq_multiplier].sum()) for j in range(1, t // freq_multiplier + 1)]
    index = date_periods[freq_multiplier - 1: -1: freq_multiplier] if set_index_date else range(0, t // freq_multiplier)
    return pd.DataFrame({"actual": actual, "predicted": predicted}, index=index)


def _customer_lifetime_value(transaction_prediction_model, frequency, recency, T, monetary_value, time=12,
                             discount_rate=0.01, freq="D") -> pd.Series:
    r"""Discounted value of the next ``time`` months per customer, lifetimes' definition.

    .. math:: \mathrm{CLV} = \sum_{k=1}^{\text{time}} \frac{m\,[E(kf) - E((k-1)f)]}{(1+d)^k}

    with ``f`` model time units per month (``freq``: D 30, W 4.345, M 1, H 720), ``E(t)`` the
    model's ``predict(t, frequency, recency, T)`` (a cvm model's ``expected_purchases``) and
    ``d`` the monthly ``discount_rate``. A Series named ``clv`` on ``frequency``'s index.
    """
    predict = getattr(transaction_prediction_model, "predict", None) or transaction_prediction_model.expected_purchases
    index = frequency.index if isinstance(frequency, pd.Series) else pd.RangeIndex(len(np.atleast_1d(frequency)))
    factor = _MONTH[freq]
    clv = pd.Series(0.0, index=index, name="clv")
    spend = monetary_value.to_numpy(dtype=float) if isinstance(monetary_value, pd.Series) else np.asarray(monetary_value, float)
    for step in np.arange(1, time + 1) * factor:
        now = np.asarray(predict(step, frequency, recency, T), dtype=float)
        before = np.asarray(predict(step - factor, frequency, recency, T), dtype=float)
        clv = clv + spend * (now - before) / (1 + discount_rate) ** (step / factor)
    return clv.rename("clv")


#: lifetimes' name in cvm's words
customer_lifetime_value = _customer_lifetime_value


def _scale_time(age) -> float:
    """lifetimes' time scale: ``1 / max(T)`` (the fits divide every time by the largest age)."""
    return 1.0 / np.asarray(age).max()

