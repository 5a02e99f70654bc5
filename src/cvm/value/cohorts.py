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

from cvm.errors import SchemaError

PERIODS = ("week", "month", "quarter", "year")


def cohorts(ws: Any, period: str = "month", as_of: Any = None, margin: float | None = None) -> pd.DataFrame:
    """Cohort table in long form, one row per (cohort, age).

    Columns: ``cohort`` (start date of the cohort period), ``age``,
    ``customers``, ``active``, ``retention``, ``value``, ``cumulative_value``,
    ``cumulative_value_per_customer``.
    """
    from cvm.value.clv import resolve_as_of

    if period not in PERIODS:
        raise SchemaError(f"unknown cohort period '{period}'", hint=f"use one of {', '.join(PERIODS)}")
    stamp = resolve_as_of(ws, as_of)
    m = ws.settings.margin if margin is None else float(margin)
    cols = {r[0] for r in ws.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'").fetchall()}
    value_expr = "coalesce(margin, amount * ?)" if "margin" in cols else "amount * ?"
    raw = ws.con.execute(
        f"""
        WITH tx AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id, ts, {value_expr} AS value
            FROM transactions WHERE ts < ?
        ), first AS (
            SELECT customer_id, date_trunc('{period}', min(ts)) AS cohort FROM tx GROUP BY 1
        )
        SELECT f.cohort AS cohort,
               date_diff('{period}', f.cohort, date_trunc('{period}', t.ts)) AS age,
               count(DISTINCT t.customer_id) AS active,
               sum(t.value) AS value
        FROM tx t JOIN first f USING (customer_id)
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        [m, stamp + pd.Timedelta(days=1)],
    ).df()
    if raw.empty:
        return pd.DataFrame(columns=["cohort", "age", "customers", "active", "retention", "value", "cumulative_value", "cumulative_value_per_customer"])
    last = ws.con.execute(f"SELECT date_trunc('{period}', CAST(? AS TIMESTAMP))", [stamp]).fetchone()[0]
    frames = []
    for cohort, group in raw.groupby("cohort", sort=True):
        span = ws.con.execute(f"SELECT date_diff('{period}', CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))", [cohort, last]).fetchone()[0]
        ages = np.arange(0, int(span) + 1)
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
    result.attrs.update(period=period, as_of=str(stamp.date()))
    return result


def retention_matrix(table: pd.DataFrame, column: str = "retention") -> pd.DataFrame:
    """Pivot of a :func:`cohorts` table: cohorts as rows, ages as columns."""
    return table.pivot(index="cohort", columns="age", values=column)
