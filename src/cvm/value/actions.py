"""Next-best action per customer, with the reason in words, and the retention-team list.

Rules, first match wins (``settings.stage_rules`` supply the P(alive) limits):

==========================  =====================================================================
action                      when
==========================  =====================================================================
collect payment             money is overdue (``overdue > 0`` in :mod:`cvm.value.receivables`)
retain                      stage "at risk" and in the top half by value (``percentile > 0.5``)
win back                    stage "lapsed" and historic value in the top half of all customers
lower cost-to-serve         cost-to-serve (allocated costs except acquisition) exceeds historic plus predicted value
upsell                      stage "active" or "loyal", P(alive) >= at_risk_below, below the top tier
nurture                     everyone else (new customers, low value, prospects)
==========================  =====================================================================

The **retention team** list (seed 003: "a dedicated retention team") holds
high-value customers at risk: percentile above ``min_percentile`` (default
the gold cut-off) and P(alive) below ``at_risk_below``, ordered by the value at
risk ``clv (1 - p) / p``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import SchemaError

ACTIONS = ["collect payment", "retain", "win back", "lower cost-to-serve", "upsell", "nurture"]


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def choose_actions(table: pd.DataFrame, rules: Any, top_tier: str, currency: str = "EUR") -> pd.DataFrame:
    """Action and reason per customer from a customer table (pure function).

    ``table`` needs ``customer_id, clv, historic_value, probability_alive, percentile,
    value_tier, lifecycle_stage``; ``overdue``, ``max_days_overdue`` and ``cost`` are used when present.
    """
    need = ["customer_id", "clv", "historic_value", "probability_alive", "percentile", "value_tier", "lifecycle_stage"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise SchemaError(f"next-best actions need column(s) {', '.join(missing)}", hint="score customers first")
    n = len(table)
    overdue = table["overdue"].fillna(0.0).to_numpy(float) if "overdue" in table else np.zeros(n)
    days = table["max_days_overdue"].fillna(0).to_numpy(float) if "max_days_overdue" in table else np.zeros(n)
    cost = table["cost"].fillna(0.0).to_numpy(float) if "cost" in table else np.zeros(n)
    stage = table["lifecycle_stage"].astype(str).to_numpy()
    pct = table["percentile"].to_numpy(float)
    pa = table["probability_alive"].to_numpy(float)
    clv = table["clv"].to_numpy(float)
    hist = table["historic_value"].to_numpy(float)
    hist_median = float(np.median(hist)) if n else 0.0
    tier = table["value_tier"].astype(str).to_numpy()
    conditions = [
        overdue > 0,
        (stage == "at risk") & (pct > 0.5),
        (stage == "lapsed") & (hist > hist_median),
        (cost > 0) & (cost > hist + clv),
        np.isin(stage, ["active", "loyal"]) & (np.nan_to_num(pa) >= rules.at_risk_below) & (tier != top_tier),
    ]
    action = np.select(conditions, ACTIONS[:5], default="nurture")
    reasons = []
    for i in range(n):
        a = action[i]
        if a == "collect payment":
            r = f"{_money(overdue[i], currency)} overdue, oldest {int(days[i])} days past due"
        elif a == "retain":
            r = f"{tier[i]} customer (CLV {_money(clv[i], currency)}) whose P(alive) fell to {pa[i]:.2f}"
        elif a == "win back":
            r = f"spent well ({_money(hist[i], currency)} margin so far) but probably gone: P(alive) {pa[i]:.2f}"
        elif a == "lower cost-to-serve":
            r = f"costs {_money(cost[i], currency)} exceed past and predicted value {_money(hist[i] + clv[i], currency)}"
        elif a == "upsell":
            r = f"{stage[i]} and likely to stay (P(alive) {pa[i]:.2f}); room to grow from the {tier[i]} tier"
        elif stage[i] == "prospect":
            r = "has not bought yet: welcome and explain the offer"
        elif stage[i] == "new":
            r = "new customer: start the relationship personally"
        else:
            r = f"{stage[i]}, {tier[i]} tier: keep in touch at low cost"
        reasons.append(r)
    out = pd.DataFrame({"customer_id": table["customer_id"].to_numpy(), "action": action, "reason": reasons})
    for col in ("value_tier", "lifecycle_stage", "clv", "probability_alive"):
        out[col] = table[col].to_numpy()
    return out


def _enriched(ws: Any, scores: pd.DataFrame | None) -> pd.DataFrame:
    from cvm.value.investment import ACQUISITION_KINDS, allocate_costs, read_costs
    from cvm.value.profile import customer_table
    from cvm.value.receivables import read_invoices, summarise_receivables

    table = customer_table(ws, scores, rfm=False)
    as_of = table.attrs.get("as_of")
    costs = read_costs(ws)
    # cost-to-serve: every cost except acquisition, which is sunk once the customer is won
    table["cost"] = allocate_costs(costs, table, as_of, ACQUISITION_KINDS).reindex(table["customer_id"].astype(str)).to_numpy()
    invoices = read_invoices(ws)
    if not invoices.empty:
        rec = summarise_receivables(invoices, as_of).by_customer.set_index("customer_id")
        table["overdue"] = table["customer_id"].map(rec["overdue"]).fillna(0.0)
        table["max_days_overdue"] = table["customer_id"].map(rec["max_days_overdue"]).fillna(0)
    return table


def next_best_actions(ws: Any, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Next-best action and its reason for every customer of a run (default the latest).

    Sorted by action priority, then CLV. See the module docstring for the rules.
    """
    table = _enriched(ws, scores)
    top_tier = next(iter(ws.settings.tier_cutoffs))
    out = choose_actions(table, ws.settings.stage_rules, top_tier, ws.settings.currency)
    out["priority"] = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    out = out.sort_values(["priority", "clv"], ascending=[True, False], kind="stable").drop(columns="priority")
    out.attrs.update(table.attrs)
    return out.reset_index(drop=True)


def retention_team(ws: Any, scores: pd.DataFrame | None = None, min_percentile: float | None = None) -> pd.DataFrame:
    """High value x high risk: customers for the retention team, most value at risk first."""
    from cvm.value.store import latest_scores

    scores = latest_scores(ws) if scores is None else scores
    cut = ws.settings.tier_cutoffs
    if min_percentile is None:
        ordered = sorted(cut.values(), reverse=True)
        min_percentile = ordered[1] if len(ordered) > 1 else ordered[0]
    p = scores["probability_alive"]
    team = scores[(scores["percentile"] > min_percentile) & p.notna() & (p < ws.settings.stage_rules.at_risk_below)].copy()
    pa = team["probability_alive"].to_numpy(float)
    team["value_at_risk"] = np.where(pa > 1e-12, team["clv"] * (1 - pa) / np.maximum(pa, 1e-12), 0.0)
    cols = ["customer_id", "value_tier", "lifecycle_stage", "clv", "probability_alive", "value_at_risk", "historic_value"]
    return team.sort_values("value_at_risk", ascending=False, kind="stable")[cols].reset_index(drop=True)
