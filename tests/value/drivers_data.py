"""Simulated customers whose groups differ by known factors, for the drivers tests (value, CLI, web).

Each group's purchases are drawn by :func:`cvm.data.simulate.simulate_transactions` from the
Pareto/NBD with the group's own parameters, CLVTools' covariate parameterisation written out:
``alpha_g = alpha * exp(-g1)`` (purchase rate × exp(g1)), ``beta_g = beta * exp(-g2)`` (dropout
rate × exp(g2), lifetime × exp(-g2)); spend from the Gamma-Gamma with ``gamma_g = gamma * k``, so
the mean spend per purchase ``p gamma / (q - 1)`` is × k. The truth of each group is therefore
known: purchase factor exp(g1), lifetime factor exp(-g2), spend factor k.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cvm.data.simulate import PNBD_CDNOW, SPEND_CDNOW, simulate_transactions

#: group -> (share of customers, g1 purchase, g2 dropout, spend factor); the first is the largest (the baseline)
KNOWN_EFFECTS = {
    "web": (0.5, 0.0, 0.0, 1.0),
    "partner": (0.3, 0.5, -0.9, 1.3),   # buys 1.65x as often, stays 2.46x as long, spends 1.3x as much
    "winkel": (0.2, -0.4, 0.0, 1.0),    # buys 0.67x as often; stays and spends alike
}
#: a second attribute with no effect at all (assigned at random)
REGIONS = ("Noord", "Midden", "Zuid")
#: Pareto/NBD of the baseline: CDNOW's r and s (weeks), with a dropout rate high enough for the
#: dropout effect to show within 78 weeks (E[mu] = s / beta = 0.03 a week)
BASE = {**PNBD_CDNOW, "beta": PNBD_CDNOW["s"] / 0.03}
#: acquisition cost per customer of each group (a costs row per customer), for the profitability
COST_PER_CUSTOMER = {"web": 5.0, "partner": 250.0, "winkel": 5.0}


def truth(group: str) -> dict[str, float]:
    """The factors of ``group`` relative to the baseline ``web``: purchase, lifetime (dropout), spend."""
    _, g1, g2, k = KNOWN_EFFECTS[group]
    return {"purchase": math.exp(g1), "dropout": math.exp(-g2), "spend": k}


def simulate_groups(n_customers: int, seed: int, effects: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(transactions, customers) of ``n_customers`` split over the groups of ``effects`` (default
    :data:`KNOWN_EFFECTS`); customers carry ``kanaal`` (the group) and ``regio`` (random, no effect)."""
    effects = KNOWN_EFFECTS if effects is None else effects
    rng = np.random.default_rng(seed)
    frames, customers = [], []
    for i, (group, (share, g1, g2, k)) in enumerate(effects.items()):
        n = int(round(n_customers * share))
        params = {**BASE, "alpha": BASE["alpha"] * math.exp(-g1), "beta": BASE["beta"] * math.exp(-g2)}
        spend = {**SPEND_CDNOW, "gamma": SPEND_CDNOW["gamma"] * k}
        tx = simulate_transactions(n, model="pnbd", params=params, spend_params=spend, seed=seed * 10 + i,
                                   start="2024-01-01", as_pandas=True)
        tx["customer_id"] = f"G{i}" + tx["customer_id"].astype(str)
        tx["order_id"] = f"G{i}" + tx["order_id"].astype(str)
        frames.append(tx)
        ids = tx["customer_id"].drop_duplicates()
        customers.append(pd.DataFrame({"customer_id": ids.to_numpy(), "kanaal": group,
                                       "regio": rng.choice(REGIONS, size=len(ids))}))
    return pd.concat(frames, ignore_index=True), pd.concat(customers, ignore_index=True)


def build_workspace(path: Path, n_customers: int = 3000, seed: int = 11, effects: dict | None = None,
                    score: bool = True):
    """A workspace with the simulated transactions, customers and one cost row per customer, valued once."""
    from cvm.data import Workspace
    from cvm.service import score_customers

    tx, customers = simulate_groups(n_customers, seed, effects)
    ws = Workspace.open(path)
    ws.ingest(tx, kind="transactions")
    ws.ingest(customers, kind="customers")
    first = tx.groupby("customer_id")["ts"].min()
    costs = customers.assign(ts=customers["customer_id"].map(first).dt.strftime("%Y-%m-%d"),
                             amount=customers["kanaal"].map(COST_PER_CUSTOMER).fillna(5.0), kind="acquisition")
    ws.ingest(costs[["ts", "amount", "customer_id", "kind"]], kind="costs")
    if score:
        score_customers(ws, model="pnbd")
    return ws
