"""Referral-network value: what a customer is worth through the customers they bring in.

Seed 002: ambassadors "bring in customers" and that value "can be expressed in
money". With the referral graph ``referrer -> referred`` and a decay ``q`` per
step (``settings.referral_decay``), a customer's network value is

.. math::

    NV_i = \\sum_{k=1}^{K} q^k \\sum_{j \\in D_k(i)} v_j

where :math:`D_k(i)` are the customers reached from ``i`` in exactly ``k``
referral steps and ``v_j`` their value (CLV by default). A customer referred
directly counts ``q`` times their value, one referred by them ``q**2``, and so
on. Equivalently ``NV = sum_k q^k A^k v`` with ``A`` the adjacency matrix;
``K`` (``max_depth``) bounds the sum so accidental cycles in the data cannot
run forever.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cvm.errors import SchemaError


def read_referrals(ws: Any) -> pd.DataFrame:
    """The ``referrals`` table (empty frame with the columns when absent)."""
    from cvm.value.clv import _has_table

    if not _has_table(ws, "referrals"):
        return pd.DataFrame(columns=["referrer_id", "referred_id", "ts"])
    frame = ws.con.execute("SELECT * FROM referrals").df()
    for col in ("referrer_id", "referred_id"):
        if col not in frame.columns:
            raise SchemaError(f"the referrals table lacks '{col}'", hint="ingest referrals with columns referrer_id, referred_id")
        frame[col] = frame[col].astype(str)
    return frame


def referral_network_value(
    referrals: pd.DataFrame,
    values: pd.Series,
    decay: float = 0.5,
    max_depth: int = 10,
) -> pd.DataFrame:
    """Referral counts and decayed network value per customer (pure function).

    Parameters
    ----------
    referrals
        Rows ``referrer_id, referred_id`` (duplicates and self-referrals are ignored).
    values
        Value per customer (index = customer id); customers missing here count as 0.
    decay
        Weight per referral step ``q`` in [0, 1].
    max_depth
        Longest referral chain followed.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``referred_by``, ``referrals_given``
    (direct), ``referred_value`` (sum of the direct referrals' values),
    ``network_size`` (customers reached in 1..K steps) and ``network_value``.

    Examples
    --------
    A chain a -> b -> c -> d with values 0, 8, 4, 2 and q = 0.5:
    ``NV_a = 0.5*8 + 0.25*4 + 0.125*2 = 5.25``.

    >>> r = pd.DataFrame({"referrer_id": ["a", "b", "c"], "referred_id": ["b", "c", "d"]})
    >>> v = pd.Series({"a": 0.0, "b": 8.0, "c": 4.0, "d": 2.0})
    >>> float(referral_network_value(r, v, decay=0.5).loc["a", "network_value"])
    5.25
    """
    if not 0 <= decay <= 1:
        raise SchemaError(f"referral decay must lie in [0, 1], got {decay}")
    edges = referrals[["referrer_id", "referred_id"]].dropna().astype(str)
    edges = edges[edges["referrer_id"] != edges["referred_id"]].drop_duplicates()
    values = values.copy()
    values.index = values.index.astype(str)
    ids = pd.Index(pd.unique(np.concatenate([values.index.to_numpy(), edges["referrer_id"].to_numpy(), edges["referred_id"].to_numpy()])))
    n = len(ids)
    v = values.reindex(ids).fillna(0.0).to_numpy(dtype=float)
    src = ids.get_indexer(edges["referrer_id"])
    dst = ids.get_indexer(edges["referred_id"])
    adjacency = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    network = np.zeros(n)
    step_value = v.copy()
    frontier = sparse.identity(n, format="csr", dtype=bool)
    seen = sparse.csr_matrix((n, n), dtype=bool)
    for _ in range(max_depth):
        step_value = decay * (adjacency @ step_value)
        network += step_value
        frontier = (frontier @ adjacency).astype(bool)
        if frontier.nnz == 0:
            break
        seen = (seen + frontier).astype(bool)
    seen.setdiag(False)
    seen.eliminate_zeros()
    size = np.asarray(seen.sum(axis=1)).ravel()
    first_referrer = edges.drop_duplicates("referred_id").set_index("referred_id")["referrer_id"]
    out = pd.DataFrame(
        {
            "referred_by": first_referrer.reindex(ids).to_numpy(),
            "referrals_given": np.asarray(adjacency.sum(axis=1)).ravel().astype(int),
            "referred_value": adjacency @ v,
            "network_size": size.astype(int),
            "network_value": network,
        },
        index=ids,
    )
    out.index.name = "customer_id"
    return out


def network_value(ws: Any, scores: pd.DataFrame | None = None, column: str = "clv", decay: float | None = None, max_depth: int = 10) -> pd.DataFrame:
    """:func:`referral_network_value` on the workspace's referrals and latest scores.

    ``decay`` defaults to ``settings.referral_decay``. Returns one row per scored
    customer, sorted by network value.
    """
    from cvm.data.scores import latest_scores

    scores = latest_scores(ws) if scores is None else scores
    if column not in scores.columns:
        raise SchemaError(f"no column '{column}' in the scores", hint="use clv or historic_value")
    q = ws.settings.referral_decay if decay is None else decay
    values = scores.set_index(scores["customer_id"].astype(str))[column]
    out = referral_network_value(read_referrals(ws), values, decay=q, max_depth=max_depth)
    out = out.reindex(values.index)
    out[["referrals_given", "network_size"]] = out[["referrals_given", "network_size"]].fillna(0).astype(int)
    out[["referred_value", "network_value"]] = out[["referred_value", "network_value"]].fillna(0.0)
    return out.reset_index().sort_values("network_value", ascending=False, kind="stable").reset_index(drop=True)
