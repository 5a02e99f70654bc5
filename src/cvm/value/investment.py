"""Investing in the right customers (seed 002): cost-to-serve, ROI, acquisition and retention budgets.

**Allocating costs.** A row of ``costs`` (``ts, amount, customer_id, segment,
channel, campaign, kind``) dated on or before the as-of day is charged to

1. its ``customer_id`` when it has one; else
2. every customer whose ``segment`` attribute equals its segment, in equal parts; else
3. every customer acquired through its ``channel``, in equal parts; else
4. every scored customer, in equal parts (overhead, campaigns without a target).

Rows dated after the as-of day are *planned* costs (used for the maximum
justified investment in :func:`cvm.service.score_customers`).

**Per group** (segment or channel): ``cost`` = allocated costs,
``cost_to_serve`` = cost per customer, ``roi = (historic_value - cost) / cost``
(realised margin against what was spent), ``clv_to_cost = clv / cost``
(predicted value against what was spent), and the flags

* ``over-investment`` — ``(historic_value + clv) / cost < 1``: the group's past
  and future margin together do not pay back what was spent on it;
* ``under-investment`` — ``clv_share >= 2 x cost_share``: the group holds at
  least twice the share of future value as it receives of the spending;
* otherwise ``balanced``.

A **channel** is flagged ``over-investment`` as well when its acquisition costs more
than its customers bring (the acquisition table's ``headroom`` below 0, see next):
its past margin may cover the costs charged to it so far, but each customer it
wins now costs more than the value expected of them, so it is not "in balance".

**Maximum acquisition cost per channel** = mean CLV of the customers acquired
through that channel times ``target_ratio`` (1 = break even; 1/3 for the common
"CLV at least three times acquisition cost" rule); compared with the actual
acquisition cost per customer (``kind = acquisition`` costs of the channel over
its customers): ``headroom = max_acquisition_cost - acquisition_cost`` and
``acquisition_verdict`` = ``overpaying`` (headroom below 0), ``pays`` (0 or more),
or none when the channel has no acquisition cost.

**Retention budget.** A retention action costs ``c`` per customer and saves a
share ``uplift`` of the value at risk (the chance that a contact succeeds, the
setting ``contact_success``). With ``p`` = P(alive), the value if the
customer is alive is ``clv / p`` (because ``clv = p x value-if-alive`` for these
models), so the value at risk is ``clv (1 - p) / p``, counted at most up to the
margin the customer has brought so far (``historic_value``, when the scores carry
it; :func:`cvm.value.actions.value_at_risk` gives the reasons), and the expected
saving is ``uplift x min(clv (1 - p) / p, historic_value)`` — the worklists'
maximum sensible spend. Customers are ranked by saving per unit of
spend, and selected while the saving exceeds the cost and the budget lasts.

**What a budget buys** (:func:`budget_plan`). Over the selected customers:
customers kept = ``sum(uplift x (1 - p))`` (the expected number who would have
left and stay because of the action), value protected = ``sum(expected saving)``,
``ROI = (value protected - spend) / spend`` (a multiple of the spend, written as a
percentage), with an interval from the CLV interval (``clv_low``, ``clv_high``) at
the same uplift. The next euro buys the saving per euro of the best customer
left out; when every customer worth contacting is funded the rest of the budget
buys nothing (budget too large); when the budget is below the cost of one
contact it buys nothing either (budget too small).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import SchemaError

COST_COLUMNS = ("ts", "amount", "customer_id", "segment", "channel", "campaign", "kind")
#: ``kind`` values that mean acquisition (sunk once the customer is won)
ACQUISITION_KINDS = ("acquisition", "acquisitie", "werving")


def clean_costs(costs: pd.DataFrame) -> pd.DataFrame:
    """The ``costs`` table (as :meth:`cvm.data.Workspace.costs` reads it) with every column of
    :data:`COST_COLUMNS`, ``ts`` as timestamps and ``customer_id`` as text or None.

    Raises
    ------
    SchemaError
        A row has no amount.
    """
    frame = costs.copy()
    for col in COST_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    if frame["amount"].isna().any():
        raise SchemaError("the costs table has rows without an amount", hint="re-ingest costs; amount is required")
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["customer_id"] = frame["customer_id"].astype(object).where(frame["customer_id"].notna(), None)
    frame.loc[frame["customer_id"].notna(), "customer_id"] = frame.loc[frame["customer_id"].notna(), "customer_id"].astype(str)
    return frame


def planned_costs(costs: pd.DataFrame, as_of: Any, customer_ids: pd.Index, per_customer: float) -> pd.Series:
    """Costs planned after the as-of date per customer (``costs`` rows dated later), plus ``per_customer``.

    ``costs`` as :func:`clean_costs` returns them; ``per_customer`` (the setting
    ``retention_cost_per_customer``) is added for every customer.
    """
    out = pd.Series(float(per_customer), index=customer_ids, dtype=float)
    if costs.empty:
        return out
    later = costs[costs["customer_id"].notna() & (costs["ts"] >= pd.Timestamp(as_of) + pd.Timedelta(days=1))]
    sums = later.groupby("customer_id")["amount"].sum()
    return out.add(sums.reindex(customer_ids).fillna(0.0), fill_value=0.0)


def allocate_costs(costs: pd.DataFrame, customers: pd.DataFrame, as_of: Any = None, exclude_kinds=()) -> pd.Series:
    """Costs charged to each customer by the rules in the module docstring (pure function).

    ``customers`` has ``customer_id`` and optionally ``segment`` and ``channel``;
    rows whose ``kind`` is in ``exclude_kinds`` are left out (e.g. acquisition,
    for the cost-to-serve of existing customers).
    """
    ids = customers["customer_id"].astype(str)
    out = pd.Series(0.0, index=pd.Index(ids, name="customer_id"))
    if costs.empty or len(ids) == 0:
        return out
    rows = costs
    if exclude_kinds:
        rows = rows[~rows["kind"].astype(str).str.lower().isin([k.lower() for k in exclude_kinds])]
    if as_of is not None and "ts" in rows.columns:
        rows = rows[pd.to_datetime(rows["ts"]) < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    has_customer = rows["customer_id"].notna()
    direct = rows[has_customer].groupby("customer_id")["amount"].sum()
    out = out.add(direct.reindex(out.index).fillna(0.0), fill_value=0.0)
    rest = rows[~has_customer]
    for key in ("segment", "channel"):
        if key not in customers.columns:
            continue
        part = rest[rest[key].notna()]
        if part.empty:
            continue
        members = customers.assign(customer_id=ids).groupby(customers[key].astype(str).to_numpy())["customer_id"].apply(list)
        for target, amount in part.groupby(part[key].astype(str))["amount"].sum().items():
            group = members.get(target)
            if group:
                out.loc[group] += amount / len(group)
        rest = rest[rest[key].isna() | ~rest[key].astype(str).isin(members.index)]
    overhead = float(rest["amount"].sum())
    if overhead:
        out += overhead / len(out)
    return out


def retention_allocation(scores: pd.DataFrame, budget: float, cost_per_customer: float, uplift: float = 0.2) -> pd.DataFrame:
    """Rank customers by expected saving per unit of retention spend and fill the budget.

    Returns every customer with ``value_at_risk``, ``expected_saving``,
    ``saving_per_cost``, ``cumulative_cost`` and ``selected``, best first.
    """
    if not np.isfinite(budget) or budget < 0:
        raise SchemaError(f"budget must be a number of at least 0, got {budget}", hint="e.g. --budget 5000")
    if cost_per_customer <= 0:
        raise SchemaError(
            "a retention budget needs a cost per retained customer",
            hint="set it with 'cvm settings --set retention_cost_per_customer=25' or pass cost_per_customer",
        )
    if not 0 < uplift <= 1:
        raise SchemaError(f"uplift must lie in (0, 1], got {uplift}")
    from cvm.value.actions import value_at_risk

    frame = scores[scores["probability_alive"].notna()].copy()
    historic = frame["historic_value"].to_numpy(float) if "historic_value" in frame.columns else None
    at_risk = value_at_risk(frame["clv"], frame["probability_alive"], historic)
    frame["value_at_risk"] = at_risk
    frame["expected_saving"] = uplift * at_risk
    for bound in ("clv_low", "clv_high"):  # before sorting: ``historic`` is in the frame's present order
        if bound in frame.columns:
            frame["saving_" + bound[4:]] = uplift * value_at_risk(frame[bound], frame["probability_alive"], historic)
    frame["retention_cost"] = float(cost_per_customer)
    frame["saving_per_cost"] = frame["expected_saving"] / cost_per_customer
    frame = frame.sort_values(["saving_per_cost", "customer_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    worth = frame["expected_saving"] > cost_per_customer
    frame["cumulative_cost"] = np.where(worth, worth.cumsum() * cost_per_customer, np.nan)
    frame["selected"] = worth & (frame["cumulative_cost"] <= budget + 1e-9)
    frame["customer_kept"] = uplift * (1 - frame["probability_alive"])
    keep = ["customer_id", "clv", "probability_alive", "value_at_risk", "expected_saving", "retention_cost",
            "saving_per_cost", "cumulative_cost", "selected", "customer_kept"]
    keep += [c for c in ("saving_low", "saving_high") if c in frame.columns]
    return frame[keep]


@dataclass
class BudgetPlan:
    """What a retention budget buys (see the module docstring for the formulas).

    ``status`` says how the budget fits: ``no_one_worth`` (no customer's expected saving exceeds the
    cost of a contact), ``too_small`` (less than the cost of one contact), ``more_would_pay`` (customers
    worth contacting are left out: the next euro buys ``next_euro``), ``too_large`` (every customer
    worth contacting is funded and ``unused`` is left), ``fits``.
    """

    budget: float
    cost_per_customer: float
    uplift: float
    selected: int
    spend: float
    customers_kept: float
    value_protected: float
    value_protected_low: float | None
    value_protected_high: float | None
    roi: float | None
    roi_low: float | None
    roi_high: float | None
    worth_contacting: int
    budget_needed: float
    next_euro: float | None
    unused: float
    status: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def budget_plan(allocation: pd.DataFrame, budget: float, uplift: float) -> BudgetPlan:
    """What the selection of :func:`retention_allocation` buys for ``budget`` (pure function).

    Examples
    --------
    Two customers, each costing 10 to contact at uplift 0.5: the first (clv 40, p 0.5) has
    40 x 0.5 / 0.5 = 40 at risk and saves 20; the second (clv 9, p 0.5) saves 4.5 < 10, not worth it.

    >>> scores = pd.DataFrame({"customer_id": ["a", "b"], "clv": [40.0, 9.0], "probability_alive": [0.5, 0.5]})
    >>> plan = budget_plan(retention_allocation(scores, 100, 10, 0.5), 100, 0.5)
    >>> plan.selected, plan.value_protected, plan.roi, plan.status, plan.unused
    (1, 20.0, 1.0, 'too_large', 90.0)
    """
    cost = float(allocation["retention_cost"].iloc[0]) if len(allocation) else 0.0
    chosen = allocation[allocation["selected"]]
    worth = allocation[allocation["expected_saving"] > allocation["retention_cost"]]
    spend = float(chosen["retention_cost"].sum())
    value = float(chosen["expected_saving"].sum())

    def ratio(saving: float | None) -> float | None:
        return None if saving is None or spend <= 0 else (saving - spend) / spend

    low = float(chosen["saving_low"].sum()) if "saving_low" in chosen.columns else None
    high = float(chosen["saving_high"].sum()) if "saving_high" in chosen.columns else None
    left = worth[~worth["selected"]]
    next_euro = float(left["saving_per_cost"].iloc[0]) if len(left) else None
    needed = float(len(worth) * cost)
    unused = max(float(budget) - spend, 0.0)
    if worth.empty:
        status = "no_one_worth"
    elif chosen.empty:
        status = "too_small"
    elif len(left):
        status = "more_would_pay"
    elif unused >= cost:
        status = "too_large"
    else:
        status = "fits"
    return BudgetPlan(
        budget=float(budget), cost_per_customer=cost, uplift=float(uplift), selected=int(len(chosen)), spend=spend,
        customers_kept=float(chosen["customer_kept"].sum()), value_protected=value, value_protected_low=low,
        value_protected_high=high, roi=ratio(value), roi_low=ratio(low), roi_high=ratio(high),
        worth_contacting=int(len(worth)), budget_needed=needed, next_euro=next_euro,
        unused=unused if status in ("too_large", "fits", "no_one_worth") else 0.0, status=status,
    )


def _group_table(table: pd.DataFrame, key: str) -> pd.DataFrame:
    data = table.assign(**{key: table[key].astype(object).where(table[key].notna(), "(unknown)")})
    g = data.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "historic_value": g["historic_value"].sum(),
            "clv": g["clv"].sum(),
            "cost": g["cost"].sum(),
        }
    )
    out["cost_to_serve"] = out["cost"] / out["customers"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["roi"] = np.where(out["cost"] > 0, (out["historic_value"] - out["cost"]) / out["cost"], np.nan)
        out["clv_to_cost"] = np.where(out["cost"] > 0, out["clv"] / out["cost"], np.nan)
    total_clv, total_cost = out["clv"].sum(), out["cost"].sum()
    out["clv_share"] = out["clv"] / total_clv if total_clv else 0.0
    out["cost_share"] = out["cost"] / total_cost if total_cost else 0.0
    lifetime = out["historic_value"] + out["clv"]
    over = (out["cost"] > 0) & (lifetime < out["cost"])
    under = (total_cost > 0) & (out["clv_share"] >= 2 * out["cost_share"]) & (out["clv"] > 0)
    out["flag"] = np.select([over, under], ["over-investment", "under-investment"], default="balanced")
    return out.reset_index().rename(columns={key: "group"})


@dataclass
class InvestmentResult:
    """Cost-to-serve and returns per segment and channel, acquisition ceilings, retention plan."""

    customers: pd.DataFrame
    by_segment: pd.DataFrame
    by_channel: pd.DataFrame
    acquisition: pd.DataFrame
    retention: pd.DataFrame | None
    segment_column: str
    plan: BudgetPlan | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "segment_column": self.segment_column,
            "by_segment": self.by_segment.to_dict(orient="records"),
            "by_channel": self.by_channel.to_dict(orient="records"),
            "acquisition": self.acquisition.to_dict(orient="records"),
            "total_cost": float(self.customers["cost"].sum()),
        }
        if self.retention is not None:
            chosen = self.retention[self.retention["selected"]]
            out["retention"] = {
                "selected": int(len(chosen)),
                "spend": float(chosen["retention_cost"].sum()),
                "expected_saving": float(chosen["expected_saving"].sum()),
                "customers": chosen.head(50).to_dict(orient="records"),
            }
            if self.plan is not None:
                out["retention"]["plan"] = self.plan.to_dict()
        return out


def investment_tables(
    table: pd.DataFrame,
    costs: pd.DataFrame,
    budget: float | None = None,
    target_ratio: float = 1.0,
    uplift: float = 0.2,
    cost_per_customer: float = 0.0,
    segment_column: str | None = None,
) -> InvestmentResult:
    """Cost-to-serve and returns per segment and channel, acquisition ceilings and the retention plan (pure function).

    ``table`` is the customer table of a run (:func:`cvm.value.profile.customer_table`), ``costs``
    as :func:`clean_costs` returns them; see :func:`cvm.service.investment` for the parameters.
    """
    if target_ratio <= 0:
        raise SchemaError(f"target ratio must be positive, got {target_ratio}")
    table = table.copy()
    as_of = table.attrs.get("as_of")
    table["cost"] = allocate_costs(costs, table, as_of).reindex(table["customer_id"].astype(str)).to_numpy()
    if segment_column is None:
        segment_column = "segment" if "segment" in table.columns and table["segment"].notna().any() else "value_tier"
    if segment_column not in table.columns:
        raise SchemaError(f"no customer attribute '{segment_column}'", hint="use segment, value_tier, lifecycle_stage or another attribute")
    by_segment = _group_table(table, segment_column)
    by_channel = _group_table(table, "channel")

    acq = costs[costs["kind"].astype(str).str.lower().isin(ACQUISITION_KINDS) & costs["channel"].notna()]
    if as_of is not None and not acq.empty:
        acq = acq[acq["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    acq_cost = acq.groupby(acq["channel"].astype(str))["amount"].sum()
    acquisition = by_channel[["group", "customers", "clv"]].copy()
    acquisition["mean_clv"] = acquisition["clv"] / acquisition["customers"]
    acquisition["max_acquisition_cost"] = acquisition["mean_clv"] * target_ratio
    acquisition["acquisition_cost"] = acquisition["group"].map(acq_cost).fillna(0.0) / acquisition["customers"]
    acquisition["headroom"] = acquisition["max_acquisition_cost"] - acquisition["acquisition_cost"]
    paid = acquisition["acquisition_cost"] > 0
    acquisition["acquisition_verdict"] = np.where(
        paid, np.where(acquisition["headroom"] < 0, "overpaying", "pays"), None).astype(object)
    acquisition = acquisition.rename(columns={"group": "channel"}).drop(columns=["clv"])
    # a channel whose new customers cost more than they bring is no channel "in balance"
    overpaying = set(acquisition.loc[acquisition["acquisition_verdict"] == "overpaying", "channel"].astype(str))
    by_channel["flag"] = np.where(by_channel["group"].astype(str).isin(overpaying), "over-investment",
                                  by_channel["flag"])

    retention = plan = None
    if budget is not None:
        retention = retention_allocation(table, budget, cost_per_customer, uplift)
        plan = budget_plan(retention, budget, uplift)
    keep = [c for c in ("customer_id", segment_column, "channel", "historic_value", "clv", "cost") if c in table.columns]
    return InvestmentResult(table[keep], by_segment, by_channel, acquisition, retention, segment_column, plan)
