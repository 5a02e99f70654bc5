"""Next-best action per customer, with the reason as a code and its figures, and the retention-team list.

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

Each action comes with a ``reason_code`` (see :data:`REASON_CODES`),
``reason_values`` (the figures the reason cites, a JSON-ready dict) and
``reason``, the English sentence :func:`cvm.value.explain.explain` makes of
them; faces render other languages from the code and values.

The **retention team** list (seed 003: "a dedicated retention team") holds
high-value customers at risk: percentile above ``min_percentile`` (default
the gold cut-off) and P(alive) below ``at_risk_below``, ordered by the value at
risk ``clv (1 - p) / p``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from cvm.errors import SchemaError

ACTIONS = ["collect payment", "retain", "win back", "lower cost-to-serve", "upsell", "nurture"]


#: every reason code an action can carry (rendered by :func:`cvm.value.explain.explain`)
REASON_CODES: dict[str, tuple[str, ...]] = {
    "collect payment": ("collect_overdue",),
    "retain": ("retain_high_value_at_risk",),
    "win back": ("win_back_lapsed_spender",),
    "lower cost-to-serve": ("lower_cost_to_serve",),
    "upsell": ("upsell_active_loyal",),
    "nurture": ("nurture_prospect", "nurture_new", "nurture_keep_in_touch"),
}


def _number(row: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = row.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return default if np.isnan(value) else value


def action_reason(action: str, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The reason code of ``action`` for one customer and the figures it cites.

    ``row`` is the customer's row (``clv``, ``historic_value``,
    ``probability_alive``, ``value_tier``, ``lifecycle_stage`` and, where they
    apply, ``overdue``, ``max_days_overdue``, ``cost``). The values are plain
    Python numbers and strings (JSON-ready).
    """
    stage = str(row.get("lifecycle_stage"))
    tier = str(row.get("value_tier"))
    pa = _number(row, "probability_alive", float("nan"))
    p_alive = None if np.isnan(pa) else round(pa, 6)
    if action == "collect payment":
        return "collect_overdue", {"amount": _number(row, "overdue"), "days": int(_number(row, "max_days_overdue"))}
    if action == "retain":
        return "retain_high_value_at_risk", {"tier": tier, "clv": _number(row, "clv"), "probability_alive": p_alive}
    if action == "win back":
        return "win_back_lapsed_spender", {"historic_value": _number(row, "historic_value"), "probability_alive": p_alive}
    if action == "lower cost-to-serve":
        value = _number(row, "historic_value") + _number(row, "clv")
        return "lower_cost_to_serve", {"cost": _number(row, "cost"), "value": value}
    if action == "upsell":
        return "upsell_active_loyal", {"stage": stage, "tier": tier, "probability_alive": p_alive}
    if action != "nurture":
        raise SchemaError(f"unknown next-best action '{action}'", hint="one of: " + ", ".join(ACTIONS))
    if stage == "prospect":
        return "nurture_prospect", {}
    if stage == "new":
        return "nurture_new", {}
    return "nurture_keep_in_touch", {"stage": stage, "tier": tier}


def choose_actions(table: pd.DataFrame, rules: Any, top_tier: str, currency: str = "EUR") -> pd.DataFrame:
    """Action and reason per customer from a customer table (pure function).

    ``table`` needs ``customer_id, clv, historic_value, probability_alive, percentile,
    value_tier, lifecycle_stage``; ``overdue``, ``max_days_overdue`` and ``cost`` are used when present.
    Returns ``customer_id, action, reason, value_tier, lifecycle_stage, clv,
    probability_alive, reason_code, reason_values``; ``reason`` is the English
    sentence (money in ``currency``).
    """
    from cvm.value.explain import explain

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
    codes, values, reasons = [], [], []
    for i in range(n):
        row = {"overdue": overdue[i], "max_days_overdue": days[i], "cost": cost[i], "lifecycle_stage": stage[i],
               "value_tier": tier[i], "probability_alive": pa[i], "clv": clv[i], "historic_value": hist[i]}
        code, cited = action_reason(str(action[i]), row)
        codes.append(code)
        values.append(cited)
        reasons.append(explain(code, cited, "en", currency))
    out = pd.DataFrame({"customer_id": table["customer_id"].to_numpy(), "action": action, "reason": reasons})
    for col in ("value_tier", "lifecycle_stage", "clv", "probability_alive"):
        out[col] = table[col].to_numpy()
    out["reason_code"] = codes
    out["reason_values"] = pd.Series(values, index=out.index, dtype=object)
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
    from cvm.data.scores import latest_scores

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
