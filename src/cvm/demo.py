"""A demo workspace in which every question of cvm has data to answer.

The purchases are the real CDNOW sample (2,357 customers, Fader & Hardie's
bundled data, January 1997 to June 1998). Everything else is simulated,
deterministically from ``seed``: customer attributes (name, city, sector,
company size, acquisition channel, NPS, reviews), a channel per purchase,
referrals (including chains three steps deep), costs (acquisition per channel,
service costs, campaigns, planned retention costs) and invoices for business
customers (paid, open and overdue). Finally the customers are scored at two
as-of dates so migration and value history have something to show.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cvm.data.warehouse import Workspace
from cvm.errors import WorkspaceError
from cvm.service import score_customers

MARKER = ".cvm-demo"
CHANNELS = ["web", "shop", "phone", "partner"]
SECTORS = ["retail", "hospitality", "education", "healthcare", "professional services", "consumer"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg", "Almere", "Breda", "Nijmegen"]
FIRST = ["Anna", "Bram", "Daan", "Emma", "Fleur", "Julia", "Lars", "Lotte", "Milan", "Noah", "Sanne", "Sem", "Tess", "Thijs", "Zoë"]
LAST = ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Bos", "Vos"]
#: the demo's two stored scoring dates (end of the 39-week calibration, end of 1997)
SCORE_DATES = ("1997-09-30", "1997-12-31")


def _prepare_folder(path: Path) -> None:
    """Start from an empty folder; only ever delete a folder this module made."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise WorkspaceError(
                f"{path} already holds files that are not a cvm demo",
                hint="choose an empty or new folder for the demo (cvm demo --workspace NEW_DIR)",
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by cvm.demo.build_demo_workspace; safe to delete\n", encoding="utf-8")


def demo_tables(n_extra: int = 60, seed: int = 7) -> dict[str, pd.DataFrame]:
    """The demo's five input tables as frames (transactions, customers, referrals, costs, invoices)."""
    from cvm.data import load_cdnow_transactions

    rng = np.random.default_rng(seed)
    tx = load_cdnow_transactions(master=False)[["customer_id", "ts", "amount"]].copy()
    ids = np.array(sorted(tx["customer_id"].unique()))
    n = len(ids)
    first = tx.groupby("customer_id")["ts"].min().reindex(ids)

    # ---- customers: CDNOW buyers plus prospects who never bought
    acquisition = rng.choice(CHANNELS, size=n, p=[0.45, 0.3, 0.1, 0.15])
    business = rng.random(n) < 0.3
    prospects = np.array([f"P{i:04d}" for i in range(1, n_extra + 1)])
    all_ids = np.concatenate([ids, prospects])
    m = len(all_ids)
    channel_all = np.concatenate([acquisition, rng.choice(CHANNELS, size=n_extra)])
    nps = rng.integers(0, 11, size=m).astype(float)
    nps[rng.random(m) < 0.4] = np.nan
    customers = pd.DataFrame(
        {
            "customer_id": all_ids,
            "name": [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(m)],
            "city": rng.choice(CITIES, size=m),
            "segment": np.where(np.concatenate([business, rng.random(n_extra) < 0.3]), "business", "consumer"),
            "sector": rng.choice(SECTORS, size=m),
            "company_size": np.round(rng.lognormal(2.5, 1.2, size=m)).astype(int),
            "channel": channel_all,
            "acquired": np.concatenate([first.dt.strftime("%Y-%m-%d").to_numpy(), np.repeat("1998-06-01", n_extra)]),
            "nps": nps,
            "reviews": rng.poisson(0.6, size=m),
        }
    )
    customers.loc[customers["segment"] == "consumer", "company_size"] = 1

    # ---- a channel per purchase: mostly the customer's own channel
    own = pd.Series(acquisition, index=ids)
    tx["channel"] = tx["customer_id"].map(own).to_numpy()
    switch = rng.random(len(tx)) < 0.2
    tx.loc[switch, "channel"] = rng.choice(CHANNELS, size=int(switch.sum()))
    tx["order_id"] = [f"O{i:06d}" for i in range(1, len(tx) + 1)]

    # ---- referrals: each later customer may have been brought in by an earlier one, plus explicit chains
    order = first.sort_values(kind="stable").index.to_numpy()
    pairs = []
    for pos in range(50, len(order)):
        if rng.random() < 0.06:
            pairs.append((order[rng.integers(0, pos)], order[pos]))
    referred = {b for _, b in pairs}
    free = [c for c in order[200:] if c not in referred]
    for start in range(0, 40, 4):  # ten chains a -> b -> c -> d (three steps deep)
        chain = free[start * 5 : start * 5 + 4]
        pairs += list(zip(chain[:-1], chain[1:]))
    referrals = pd.DataFrame(pairs, columns=["referrer_id", "referred_id"]).drop_duplicates("referred_id")
    referrals["ts"] = referrals["referred_id"].map(first).dt.strftime("%Y-%m-%d")
    customers.loc[customers["customer_id"].isin(referrals["referred_id"]), "channel"] = "referral"

    # ---- costs: acquisition per channel and month, service per customer, campaigns, planned retention
    months = pd.date_range("1997-01-01", "1998-06-01", freq="MS")
    costs = []
    per_customer = {"web": 4.0, "shop": 6.0, "phone": 9.0, "partner": 12.0, "referral": 2.5}
    new_by = customers.iloc[:n].assign(month=first.dt.to_period("M").to_numpy()).groupby(["channel", "month"]).size()
    for (ch, month), count in new_by.items():
        costs.append({"ts": str(month.start_time.date()), "amount": round(count * per_customer[ch], 2), "channel": ch, "kind": "acquisition"})
    served = rng.choice(ids, size=300, replace=False)
    for cid in served:
        costs.append({"ts": str(months[3:][rng.integers(0, len(months) - 3)].date()), "amount": round(float(rng.gamma(2.0, 6.0)), 2), "customer_id": cid, "kind": "service"})
    for i, month in enumerate(months[::3]):
        target = ("segment", "business") if i % 2 else ("channel", "web")
        costs.append({"ts": str(month.date()), "amount": 250.0, target[0]: target[1], "campaign": f"campaign {i + 1}", "kind": "campaign"})
    costs.append({"ts": "1998-03-01", "amount": 600.0, "kind": "overhead"})
    for cid in rng.choice(ids, size=80, replace=False):
        costs.append({"ts": "1998-09-01", "amount": 10.0, "customer_id": cid, "kind": "retention"})
    costs = pd.DataFrame(costs).reindex(columns=["ts", "amount", "customer_id", "segment", "channel", "campaign", "kind"])

    # ---- invoices for business customers: paid (on time or late), open, overdue
    biz = set(customers.loc[customers["segment"] == "business", "customer_id"])
    inv = tx[tx["customer_id"].isin(biz)].copy()
    inv["issued"] = inv["ts"]
    inv["due"] = inv["ts"] + pd.Timedelta(days=30)
    delay = rng.gamma(2.0, 12.0, size=len(inv))
    paid = inv["ts"] + pd.to_timedelta(np.round(delay), unit="D")
    never = rng.random(len(inv)) < 0.04
    end = pd.Timestamp("1998-06-30")
    inv["paid"] = paid.where(~never & (paid <= end))
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"F{i:06d}" for i in range(1, len(inv) + 1)],
            "customer_id": inv["customer_id"].to_numpy(),
            "issued": inv["issued"].dt.strftime("%Y-%m-%d").to_numpy(),
            "amount": inv["amount"].round(2).to_numpy(),
            "due": inv["due"].dt.strftime("%Y-%m-%d").to_numpy(),
            "paid": inv["paid"].dt.strftime("%Y-%m-%d").to_numpy(),
        }
    )
    tx["ts"] = tx["ts"].dt.strftime("%Y-%m-%d")
    return {"transactions": tx, "customers": customers, "referrals": referrals, "costs": costs, "invoices": invoices}


def build_demo_workspace(path: str | Path, n_extra: int = 60, seed: int = 7, score: bool = True) -> Any:
    """Create the demo workspace at ``path`` and return it (open).

    Parameters
    ----------
    path
        A new or empty folder, or a folder made by an earlier demo (it is rebuilt).
    n_extra
        Simulated prospects: customers with attributes but no purchase yet.
    seed
        Seed of every simulated table (same seed, same workspace).
    score
        Score with BG/NBD at :data:`SCORE_DATES` (stored runs for migration and history).
    """
    path = Path(path)
    _prepare_folder(path)
    ws = Workspace.open(path)
    ws.save_settings(ws.settings.set("retention_cost_per_customer", 5.0))
    for kind, frame in demo_tables(n_extra, seed).items():
        ws.ingest(frame, kind=kind)
    if score:
        for day in SCORE_DATES:
            score_customers(ws, as_of=day, model="bgnbd")
    return ws
