"""The 80/20 question (seed 002): how concentrated is customer value?

For values sorted from high to low, the share of customers that makes a share
``s`` of the value is ``k / n`` with ``k`` the smallest number of customers
whose values add up to at least ``s`` times the total — exact, no interpolation.

The Lorenz curve sorts from low to high: ``L(i/n) = sum_{j<=i} x_(j) / sum x``.
The Gini coefficient is ``G = 2 sum_i i x_(i) / (n sum x) - (n + 1) / n``
(ascending order, ``i = 1..n``), which equals one minus twice the area under
the piecewise-linear Lorenz curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import SchemaError


def _scores_frame(data: Any) -> pd.DataFrame:
    """A scores frame from a frame or a workspace (latest stored run)."""
    if isinstance(data, pd.DataFrame):
        return data
    from cvm.data.scores import latest_scores

    return latest_scores(data)


def customers_for_share(values: Any, share: float = 0.8) -> int:
    """Smallest number of customers (highest values first) whose values reach ``share`` of the total."""
    if not 0 < share <= 1:
        raise SchemaError(f"share must lie in (0, 1], got {share}")
    x = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))[::-1]
    total = x.sum()
    if total <= 0:
        return 0
    cum = np.cumsum(x)
    return int(np.searchsorted(cum, share * total * (1 - 1e-12), side="left") + 1)


def gini(values: Any) -> float:
    """Gini coefficient of non-negative values (0 = all equal, (n-1)/n = one customer has all)."""
    x = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(2 * np.dot(i, x) / (n * x.sum()) - (n + 1) / n)


def lorenz_curve(values: Any, points: int | None = 101) -> pd.DataFrame:
    """Lorenz curve points ``customer_share`` -> ``value_share`` from (0, 0) to (1, 1).

    With ``points=None`` every customer is a point; otherwise the exact curve is
    read at ``points`` evenly spaced customer shares (linear between customers).
    """
    x = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
    n = len(x)
    total = x.sum()
    cx = np.arange(0, n + 1) / max(n, 1)
    cy = np.concatenate([[0.0], np.cumsum(x) / total]) if total > 0 else cx.copy()
    if points is None or n + 1 <= points:
        return pd.DataFrame({"customer_share": cx, "value_share": cy})
    grid = np.linspace(0, 1, points)
    return pd.DataFrame({"customer_share": grid, "value_share": np.interp(grid, cx, cy)})


@dataclass
class ConcentrationResult:
    """How value is spread over customers, for one value column (plus the others in ``by_column``)."""

    column: str
    n_customers: int
    total: float
    share: float
    customers_needed: int
    customer_share: float
    gini: float
    lorenz: pd.DataFrame
    top: pd.DataFrame
    by_column: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "n_customers": self.n_customers,
            "total": self.total,
            "share": self.share,
            "customers_needed": self.customers_needed,
            "customer_share": self.customer_share,
            f"share_of_customers_for_{round(self.share * 100):d}pct": self.customer_share,
            "gini": self.gini,
            "by_column": self.by_column,
            "lorenz": self.lorenz.to_dict(orient="records"),
            "top": self.top.to_dict(orient="records"),
        }


def concentration(
    data: Any, column: str = "clv", share: float = 0.8, top_k: int = 10, points: int | None = 101
) -> ConcentrationResult:
    """Share of customers that makes ``share`` of the value, Lorenz curve, Gini and the top-k list.

    Parameters
    ----------
    data
        A scores frame (from :func:`cvm.value.score_customers`) or a workspace
        (its latest scoring run is used).
    column
        ``clv`` (predicted) or ``historic_value``, or any numeric column.
    share
        The value share of the question, 0.8 for "who makes 80 % of value".

    Negative values (for example net returns) count as zero.

    Examples
    --------
    >>> r = concentration(pd.DataFrame({"customer_id": list("abcde"), "clv": [50, 30, 10, 5, 5]}))
    >>> r.customers_needed, r.customer_share
    (2, 0.4)
    """
    frame = _scores_frame(data)
    if column not in frame.columns:
        raise SchemaError(f"no column '{column}' to measure concentration on", hint="use clv or historic_value")
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        raise SchemaError(f"column '{column}' has {int(values.isna().sum())} missing value(s)")
    n = len(values)
    needed = customers_for_share(values, share)
    by_column: dict[str, dict[str, float]] = {}
    for col in dict.fromkeys([column, "historic_value", "clv"]):
        if col in frame.columns:
            v = pd.to_numeric(frame[col], errors="coerce").fillna(0.0)
            k = customers_for_share(v, share)
            by_column[col] = {
                "total": float(v.clip(lower=0).sum()),
                "customers_needed": k,
                "customer_share": k / n if n else 0.0,
                "gini": gini(v),
            }
    ids = frame["customer_id"] if "customer_id" in frame.columns else pd.Series(frame.index, index=frame.index)
    order = np.argsort(-values.to_numpy(), kind="stable")[:top_k]
    total = float(values.clip(lower=0).sum())
    top = pd.DataFrame({"customer_id": ids.to_numpy()[order], column: values.to_numpy()[order]})
    top["value_share"] = top[column].clip(lower=0) / total if total > 0 else 0.0
    top["cumulative_share"] = top["value_share"].cumsum()
    return ConcentrationResult(
        column=column,
        n_customers=n,
        total=total,
        share=share,
        customers_needed=needed,
        customer_share=needed / n if n else 0.0,
        gini=gini(values),
        lorenz=lorenz_curve(values, points),
        top=top,
        by_column=by_column,
    )
