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
risk (below).

**Worklists** (:func:`worklist`, :data:`WORKLISTS`) are the lists a team works
through, one row per customer with the value, the reason, the suggested action
and the **maximum sensible spend**: what a contact is expected to bring back, so
that spending more on the customer does not pay on average.

================  =====================================  ==========================================
list              who (first rule that applies)           maximum sensible spend
================  =====================================  ==========================================
retention         the retention team's list above         ``s x value at risk`` (:func:`max_spend`)
win_back          next-best action "win back", not on     ``s x value at risk`` (:func:`max_spend`)
                  the retention list
nurture           next-best action "nurture"              ``max_investment`` (CLV less planned cost)
collect           money overdue (``overdue > 0``)         the overdue amount
referral_thanks   referred at least one customer          ``q * referred_value / referrals_given``
================  =====================================  ==========================================

**Value at risk** (:func:`value_at_risk`). For the purchase models of cvm the CLV
is ``P(alive)`` times the value of a customer who is still active (Fader, Hardie &
Lee 2005, "Counting your customers" the easy way, eq. 10: the conditional
expectation carries the factor P(alive)), so a customer kept or won back brings
``clv / p`` where the model expects ``clv`` without a contact: the difference
``clv / p - clv = clv (1 - p) / p`` is what keeping the customer is worth. As
``p`` falls towards 0 this grows without bound (a customer with CLV 0.12 and
P(alive) 0.001 would be worth 119.88 "if kept"), an extrapolation of the model
far beyond what the customer ever did. So it is counted **at most up to the margin
the customer has actually brought so far** (``historic_value``): a customer won
back is expected to bring no more than their own past, and a plan that needs
more is a hope, not a plan::

    value at risk = min(clv (1 - p) / p, historic_value)      (0 where p is 0 or missing)

**Maximum sensible spend** (:func:`max_spend`) on a retention or win-back contact
is that value times ``s``, the chance that a contact succeeds (the workspace
setting ``contact_success``, default 0.2: one contact in five keeps or wins back
the customer, the uplift the budget plan of :mod:`cvm.value.investment` assumes
as well)::

    max spend = s x min(clv (1 - p) / p, historic_value)

It is the expected return of one contact: more than that does not pay back on
average. It is never more than the value the customer would bring if kept
(``clv / p``) nor more than what the customer has brought so far. Worked example
(the nearly-lost customer): clv 0.12, p 0.001, historic value 40, s 0.2 →
``min(0.12 x 0.999 / 0.001, 40) = min(119.88, 40) = 40`` → spend at most 8.00
(the unbounded rule ``clv (1 - p) / p`` said 119.88).

A referral thank-you aims at the next referral; by the network value's own
weighting (:mod:`cvm.value.network`, decay ``q`` per step) a further referral like
the earlier ones is worth ``q`` times their mean value.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from cvm.errors import SchemaError
from cvm.value.explain import explain

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


def choose_actions(table: pd.DataFrame, rules: Any, top_tier: str, currency: str = "EUR",
                   only: np.ndarray | None = None) -> pd.DataFrame:
    """Action and reason per customer from a customer table (pure function).

    ``table`` needs ``customer_id, clv, historic_value, probability_alive, percentile,
    value_tier, lifecycle_stage``; ``overdue``, ``max_days_overdue`` and ``cost`` are used when present.
    Returns ``customer_id, action, reason, value_tier, lifecycle_stage, clv,
    probability_alive, reason_code, reason_values``; ``reason`` is the English
    sentence (money in ``currency``).

    ``only`` (a boolean mask over ``table``'s rows): return those rows alone. The rules still
    look at the whole table (the lapsed rule compares with the median historic value), but
    only those rows' reasons are written: one customer's action out of a million in
    milliseconds instead of the 20 s of a million reasons.
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
    picked = np.arange(n) if only is None else np.flatnonzero(np.asarray(only, dtype=bool))
    codes, values, reasons = [], [], []
    for i in picked:
        row = {"overdue": overdue[i], "max_days_overdue": days[i], "cost": cost[i], "lifecycle_stage": stage[i],
               "value_tier": tier[i], "probability_alive": pa[i], "clv": clv[i], "historic_value": hist[i]}
        code, cited = action_reason(str(action[i]), row)
        codes.append(code)
        values.append(cited)
        reasons.append(explain(code, cited, "en", currency))
    out = pd.DataFrame({"customer_id": table["customer_id"].to_numpy()[picked], "action": action[picked],
                        "reason": reasons})
    for col in ("value_tier", "lifecycle_stage", "clv", "probability_alive"):
        out[col] = table[col].to_numpy()[picked]
    out["reason_code"] = codes
    out["reason_values"] = pd.Series(values, index=out.index, dtype=object)
    return out


def high_value_at_risk(scores: pd.DataFrame, min_percentile: float, at_risk_below: float) -> pd.DataFrame:
    """The retention team's list (pure function): percentile above ``min_percentile`` and
    P(alive) below ``at_risk_below``, most value at risk (:func:`value_at_risk`) first."""
    p = scores["probability_alive"]
    team = scores[(scores["percentile"] > min_percentile) & p.notna() & (p < at_risk_below)].copy()
    team["value_at_risk"] = value_at_risk(team["clv"], team["probability_alive"], team.get("historic_value"))
    cols = ["customer_id", "value_tier", "lifecycle_stage", "clv", "probability_alive", "value_at_risk", "historic_value"]
    return team.sort_values("value_at_risk", ascending=False, kind="stable")[cols].reset_index(drop=True)


#: the worklists, in the order the faces offer them
WORKLISTS = ("retention", "win_back", "nurture", "collect", "referral_thanks")
#: the suggested action of each worklist (an action code; its words are ``term.<code>`` in the catalogue)
WORKLIST_ACTIONS = {"retention": "retain", "win_back": "win back", "nurture": "nurture",
                    "collect": "collect payment", "referral_thanks": "thank referrer"}
#: the columns of a worklist's rows, in this order
WORKLIST_COLUMNS = ("customer_id", "name", "value_tier", "segment", "lifecycle_stage", "clv", "probability_alive",
                    "max_spend", "action", "reason_code", "reason_values")


def value_at_risk(clv: Any, probability_alive: Any, historic_value: Any = None) -> np.ndarray:
    """What keeping or winning back a customer is worth: ``min(clv (1 - p) / p, historic_value)``.

    ``clv (1 - p) / p`` is the value a kept customer brings beyond what the model expects
    without a contact (``clv / p - clv``, see the module docstring); it is bounded by the
    margin the customer has brought so far (``historic_value``; no bound when it is None).
    0 where ``p`` is 0 or missing, where ``clv`` is missing, and never below 0.

    >>> value_at_risk([30.0, 10.0], [0.25, 0.0]).tolist()
    [90.0, 0.0]
    >>> value_at_risk([30.0, 0.12], [0.25, 0.001], [50.0, 40.0]).round(2).tolist()
    [50.0, 40.0]
    """
    clv = np.asarray(clv, dtype=float)
    p = np.asarray(probability_alive, dtype=float)
    ok = np.isfinite(p) & (p > 0) & np.isfinite(clv)
    raw = np.where(ok, np.nan_to_num(clv) * (1 - np.nan_to_num(p)) / np.where(ok, p, 1.0), 0.0)
    if historic_value is not None:
        cap = np.clip(np.nan_to_num(np.asarray(historic_value, dtype=float), nan=0.0), 0.0, None)
        raw = np.minimum(raw, cap)
    return np.clip(raw, 0.0, None)


def max_spend(clv: Any, probability_alive: Any, historic_value: Any, success: float) -> np.ndarray:
    """The maximum sensible spend on a retention or win-back contact: ``success x`` :func:`value_at_risk`.

    ``success`` is the chance that a contact keeps or wins back the customer (the setting
    ``contact_success``); the result is the contact's expected return (module docstring).

    >>> max_spend([0.12], [0.001], [40.0], 0.2).round(2).tolist()
    [8.0]
    """
    if not 0 < success <= 1:
        raise SchemaError(f"the chance that a contact succeeds must lie in (0, 1], got {success}",
                          hint="e.g. cvm settings --set contact_success=0.2")
    return float(success) * value_at_risk(clv, probability_alive, historic_value)


def worklist(
    name: str,
    table: pd.DataFrame,
    actions: pd.DataFrame,
    network: pd.DataFrame | None = None,
    *,
    min_percentile: float,
    at_risk_below: float,
    decay: float = 0.5,
    success: float = 0.2,
) -> pd.DataFrame:
    """The rows of worklist ``name`` in its own order (pure function; the rules are in the module docstring).

    Parameters
    ----------
    name
        One of :data:`WORKLISTS`.
    table
        The customer table of a valuation (``customer_id, clv, historic_value,
        probability_alive, percentile, value_tier, lifecycle_stage`` and, when
        known, ``name``, ``segment``, ``max_investment``, ``overdue``).
    actions
        :func:`choose_actions` of ``table`` (``customer_id, action, reason_code, reason_values``).
    network
        :func:`cvm.value.network.network_table` (``customer_id, referrals_given,
        referred_value, network_value``); needed for ``referral_thanks`` only.
    min_percentile, at_risk_below
        The retention list's rule (:func:`high_value_at_risk`).
    decay
        The network value's weight per referral step ``q``.
    success
        The chance that a retention or win-back contact succeeds (:func:`max_spend`).

    Returns
    -------
    DataFrame with :data:`WORKLIST_COLUMNS`: ``max_spend`` in money, ``action`` the
    list's code, ``reason_code``/``reason_values`` for :func:`cvm.value.explain.explain`.
    Ordered by the list's priority: value at risk (retention), historic value (win
    back), CLV (nurture), overdue amount (collect), network value (referral thanks),
    then the customer id.
    """
    if name not in WORKLISTS:
        raise SchemaError(f"unknown worklist '{name}'", hint="one of: " + ", ".join(WORKLISTS))
    frame = table.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    chosen = actions.assign(customer_id=actions["customer_id"].astype(str)).set_index("customer_id")
    team = set(high_value_at_risk(frame, min_percentile, at_risk_below)["customer_id"].astype(str))
    if name == "retention":
        rows = frame[frame["customer_id"].isin(team)].copy()
        rows["max_spend"] = max_spend(rows["clv"], rows["probability_alive"], rows.get("historic_value"), success)
        order = rows["max_spend"]
        codes = [action_reason("retain", r) for r in rows.to_dict(orient="records")]
    elif name in ("win_back", "nurture", "collect"):
        wanted = {"win_back": "win back", "nurture": "nurture", "collect": "collect payment"}[name]
        picked = chosen.index[chosen["action"] == wanted]
        keep = frame["customer_id"].isin(picked)
        if name == "win_back":
            keep &= ~frame["customer_id"].isin(team)
        rows = frame[keep].copy()
        if name == "win_back":
            rows["max_spend"] = max_spend(rows["clv"], rows["probability_alive"], rows["historic_value"], success)
            order = rows["historic_value"]
        elif name == "nurture":
            spend = rows["max_investment"] if "max_investment" in rows else rows["clv"]
            rows["max_spend"] = spend.astype(float).clip(lower=0.0)
            order = rows["clv"]
        else:
            rows["max_spend"] = rows["overdue"].astype(float) if "overdue" in rows else 0.0
            order = rows["max_spend"]
        codes = [(chosen.at[c, "reason_code"], chosen.at[c, "reason_values"]) for c in rows["customer_id"]]
    else:
        if network is None or network.empty:
            rows = frame.iloc[0:0].copy()
            rows["max_spend"] = pd.Series(dtype=float)
            order, codes = rows["max_spend"], []
        else:
            net = network.assign(customer_id=network["customer_id"].astype(str)).set_index("customer_id")
            given = frame["customer_id"].map(net["referrals_given"]).fillna(0).astype(int)
            rows = frame[given > 0].copy()
            n = given[given > 0].to_numpy(int)
            referred = rows["customer_id"].map(net["referred_value"]).astype(float).to_numpy()
            rows["max_spend"] = np.clip(decay * referred / n, 0.0, None)
            order = rows["customer_id"].map(net["network_value"]).astype(float)
            codes = [("thank_referrer", {"referrals": int(k), "value": float(v)}) for k, v in zip(n, referred)]
    rows["action"] = WORKLIST_ACTIONS[name]
    rows["reason_code"] = [c for c, _ in codes]
    rows["reason_values"] = pd.Series([v for _, v in codes], index=rows.index, dtype=object)
    rows["_order"] = np.asarray(order, dtype=float)
    rows = rows.sort_values(["_order", "customer_id"], ascending=[False, True], kind="stable", na_position="last")
    for col in ("name", "segment"):
        if col not in rows:
            rows[col] = None
    out = rows[list(WORKLIST_COLUMNS)].reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out
