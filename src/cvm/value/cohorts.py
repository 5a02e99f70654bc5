"""Acquisition cohorts: retention and cumulative value per cohort.

A customer's cohort is the period (month, quarter, ...) of their first
purchase. For cohort ``c`` and age ``k`` (periods since the cohort period):

* ``active`` — customers of the cohort with a purchase in period ``c + k``;
* ``retention`` — ``active / customers`` (``customers`` = cohort size, so age 0 is 1);
* ``value`` — margin in period ``c + k`` (the ``margin`` column of a transaction,
  else ``amount x settings.margin``);
* ``cumulative_value`` and ``cumulative_value_per_customer`` — summed over ages ``0..k``.

Every age from 0 up to the last period before the as-of date appears, with
zeros where nobody bought.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PERIODS = ("week", "month", "quarter", "year")


COLUMNS = ["cohort", "age", "customers", "active", "retention", "value", "cumulative_value", "cumulative_value_per_customer"]


def cohort_table(activity: pd.DataFrame, period: str, as_of: Any) -> pd.DataFrame:
    """Cohort table in long form, one row per (cohort, age) (pure function).

    ``activity`` holds per cohort and age ``active`` customers and ``value``, and ``last_age``
    (the age of the as-of period), as :meth:`cvm.data.Workspace.cohort_activity` reads them.
    Columns: ``cohort`` (start date of the cohort period), ``age``, ``customers``, ``active``,
    ``retention``, ``value``, ``cumulative_value``, ``cumulative_value_per_customer``.
    """
    if activity.empty:
        return pd.DataFrame(columns=COLUMNS)
    frames = []
    for cohort, group in activity.groupby("cohort", sort=True):
        ages = np.arange(0, int(group["last_age"].iloc[0]) + 1)
        g = group.set_index("age").reindex(ages).fillna({"active": 0, "value": 0.0})
        size = float(g.loc[0, "active"])
        out = pd.DataFrame({"cohort": pd.Timestamp(cohort), "age": ages, "customers": int(size)})
        out["active"] = g["active"].to_numpy().astype(int)
        out["retention"] = out["active"] / size
        out["value"] = g["value"].to_numpy(dtype=float)
        out["cumulative_value"] = out["value"].cumsum()
        out["cumulative_value_per_customer"] = out["cumulative_value"] / size
        frames.append(out)
    result = pd.concat(frames, ignore_index=True)
    result.attrs.update(period=period, as_of=str(pd.Timestamp(as_of).date()))
    return result
