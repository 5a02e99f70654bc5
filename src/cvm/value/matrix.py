"""The value matrix of seed 002: economic, ambassador and strategic value.

"Customers can be worth something to your organisation in several ways": the
plain revenue they bring (economic value), the customers and reputation they
bring (ambassadors), and strategic value (knowledge, a large network, a
reference name). Each dimension is scored on [0, 1]:

* **economic** — percentile rank of predicted CLV (``rank(pct=True)``, the top
  customer scores 1);
* **ambassador** — mean of the available components: percentile rank of the
  referral-network value (:mod:`cvm.value.network`, when anyone referred
  anyone), ``nps / 10`` (an ``nps`` attribute on the 0..10 scale) and the
  percentile rank of a ``reviews`` attribute;
* **strategic** — weighted mean of attribute scores: numeric attributes
  min-max scaled to [0, 1], categorical attributes scored by the min-max scaled
  mean CLV of their category. Default attributes: whichever of
  :data:`STRATEGIC_DEFAULTS` exist, equally weighted.

The composite is ``(w_e E + w_a A + w_s S) / (w_e + w_a + w_s)`` with the
weights of ``settings.matrix_weights``. Quadrants put economic value
(``E >= 0.5``) against relational value (the weighted mean of A and S ``>= 0.5``):

==================  ==================  ===========================
economic            relational          segment
==================  ==================  ===========================
high                high                Key customers
high                low                 Revenue customers
low                 high                Ambassadors & partners
low                 low                 Basic customers
==================  ==================  ===========================
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from cvm.errors import SchemaError

STRATEGIC_DEFAULTS = ("company_size", "size", "employees", "annual_revenue", "revenue", "sector", "industry")
QUADRANTS = {
    (True, True): "Key customers",
    (True, False): "Revenue customers",
    (False, True): "Ambassadors & partners",
    (False, False): "Basic customers",
}


def _minmax(values: pd.Series) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    lo, hi = v.min(), v.max()
    if not np.isfinite(lo) or hi == lo:
        return pd.Series(np.where(v.notna(), 0.5, np.nan), index=values.index)
    return (v - lo) / (hi - lo)


def strategic_scores(frame: pd.DataFrame, weights: Mapping[str, float] | None = None, value_column: str = "clv") -> pd.Series:
    """Strategic value in [0, 1] per customer from attribute weights (see module docstring)."""
    if weights is None:
        weights = {c: 1.0 for c in STRATEGIC_DEFAULTS if c in frame.columns and frame[c].notna().any()}
    unknown = [c for c in weights if c not in frame.columns]
    if unknown:
        raise SchemaError(f"no customer attribute(s) {', '.join(unknown)} for strategic value", hint="ingest them with --kind customers")
    if not weights:
        return pd.Series(0.0, index=frame.index)
    total = pd.Series(0.0, index=frame.index)
    weight_sum = pd.Series(0.0, index=frame.index)
    for col, w in weights.items():
        col_values = frame[col]
        numeric = pd.to_numeric(col_values, errors="coerce")
        if numeric.notna().sum() >= max(1, col_values.notna().sum()) * 0.9:
            score = _minmax(numeric)
        else:
            means = frame.groupby(col_values.astype(object))[value_column].mean()
            score = col_values.map(_minmax(means)).astype(float)
        has = score.notna()
        total += np.where(has, w * score.fillna(0.0), 0.0)
        weight_sum += np.where(has, w, 0.0)
    return (total / weight_sum.replace(0.0, np.nan)).fillna(0.0)


def value_matrix(
    table: pd.DataFrame,
    network: pd.DataFrame,
    weights: Mapping[str, float],
    strategic_weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Economic, ambassador and strategic value, composite score and quadrant per customer (pure function).

    Parameters
    ----------
    table
        The customer table of a run (:func:`cvm.value.profile.customer_table`).
    network
        :func:`cvm.value.network.network_table` of the same customers (``customer_id,
        network_value, referrals_given``).
    weights
        ``{"economic": .., "ambassador": .., "strategic": ..}`` (``settings.matrix_weights``).
    strategic_weights
        Attribute weights for the strategic score (default: see :data:`STRATEGIC_DEFAULTS`).
    threshold
        Where "high" starts on both axes.

    Returns
    -------
    DataFrame with ``customer_id, clv, network_value, economic_score,
    ambassador_score, strategic_score, relational_score, composite_score,
    matrix_segment`` sorted by composite score.
    """
    table = table.copy()
    w = dict(weights)
    for key in ("economic", "ambassador", "strategic"):
        w.setdefault(key, 0.0)
        if w[key] < 0:
            raise SchemaError(f"matrix weight '{key}' must not be negative")
    if sum(w[k] for k in ("economic", "ambassador", "strategic")) <= 0:
        raise SchemaError("at least one value-matrix weight must be positive")
    economic = table["clv"].rank(pct=True, method="average")
    net = network.set_index("customer_id")
    table["network_value"] = table["customer_id"].map(net["network_value"]).fillna(0.0)
    table["referrals_given"] = table["customer_id"].map(net["referrals_given"]).fillna(0).astype(int)
    components = []
    if (table["network_value"] > 0).any():
        components.append(table["network_value"].rank(pct=True, method="average").where(table["network_value"] > 0, 0.0))
    if "nps" in table.columns:
        nps = pd.to_numeric(table["nps"], errors="coerce")
        if nps.notna().any():
            if (nps.dropna() < 0).any() or (nps.dropna() > 10).any():
                raise SchemaError("nps must be on the 0..10 scale", hint="check the nps column of customers")
            components.append(nps / 10.0)
    if "reviews" in table.columns:
        reviews = pd.to_numeric(table["reviews"], errors="coerce")
        if reviews.notna().any():
            components.append(reviews.rank(pct=True, method="average"))
    ambassador = pd.concat(components, axis=1).mean(axis=1, skipna=True).fillna(0.0) if components else pd.Series(0.0, index=table.index)
    strategic = strategic_scores(table, strategic_weights)
    we, wa, wst = w["economic"], w["ambassador"], w["strategic"]
    composite = (we * economic + wa * ambassador + wst * strategic) / (we + wa + wst)
    relational = (wa * ambassador + wst * strategic) / (wa + wst) if wa + wst > 0 else pd.Series(0.0, index=table.index)
    segment = [QUADRANTS[(bool(e >= threshold), bool(r >= threshold))] for e, r in zip(economic, relational)]
    out = pd.DataFrame(
        {
            "customer_id": table["customer_id"],
            "clv": table["clv"],
            "network_value": table["network_value"],
            "referrals_given": table["referrals_given"],
            "economic_score": economic,
            "ambassador_score": ambassador,
            "strategic_score": strategic,
            "relational_score": relational,
            "composite_score": composite,
            "matrix_segment": segment,
        }
    )
    return out.sort_values("composite_score", ascending=False, kind="stable").reset_index(drop=True)
