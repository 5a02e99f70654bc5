"""Which factors drive value: the drivers question on a workspace (``cvm drivers``, the ``/drivers`` page).

Reads the purchase summary, the customers' attributes, the latest valuation and the costs through
:class:`cvm.data.Workspace` methods, fits through :func:`cvm.fitting.fit_model` (one Pareto/NBD with
the attributes as purchase and dropout covariates; a Gamma-Gamma per group for spend) and answers
with :mod:`cvm.value.drivers`, whose docstring holds the formulas.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cvm.data.scores import latest_run, load_scores
from cvm.data.warehouse import Workspace
from cvm.errors import CvmError, SchemaError
from cvm.fitting import fit_model
from cvm.models.base import HessianWarning
from cvm.service.questions import customer_table
from cvm.service.scoring import resolve_as_of
from cvm.value.drivers import (
    KINDS, MIN_CUSTOMERS_PER_VALUE, MIN_REPEAT_BUYERS, DriversResult, attribute_effects, covariate_effects, customer_groups,
    design, group_profit, mean_spend, spend_effects, usable_attributes,
)
from cvm.value.investment import allocate_costs, clean_costs
from cvm.value.profile import customer_attributes


def _groups(ws: Workspace, as_of: Any) -> pd.DataFrame:
    return customer_groups(customer_attributes(ws.customers()), ws.first_channels(as_of))


def driver_attributes(ws: Workspace) -> dict[str, int]:
    """The attributes ``cvm drivers --by`` can compare on this workspace: name → number of values with at least
    :data:`~cvm.value.drivers.MIN_CUSTOMERS_PER_VALUE` customers (the choices of the ``/drivers`` page)."""
    run = latest_run(ws)
    as_of = run["as_of"] if run is not None else None
    if not ws.has_table("transactions"):
        return {}
    return usable_attributes(_groups(ws, as_of))


def drivers(ws: Workspace, by: Sequence[str], level: float = 0.95, min_customers: int = MIN_CUSTOMERS_PER_VALUE,
            max_seconds: float | None = 120.0) -> DriversResult:
    """How much more or less often each group buys, how much longer it stays, how much more it spends, and
    whether it is profitable after its costs; every effect relative to the attribute's largest group.

    Parameters
    ----------
    ws
        The workspace (transactions and a ``customers`` table with the attributes).
    by
        Attributes to compare: columns of ``customers`` or ``channel`` (the acquisition channel).
        Several are fitted in one model, so each effect is adjusted for the others.
    level
        Level of every interval (0.95).
    min_customers
        Fewest customers a value needs to be compared.
    max_seconds
        Wall-time budget of the purchase model's fit.

    The as-of date and time unit are those of the latest valuation (whose CLVs the profitability
    uses), else the last transaction day and the workspace's time unit.
    """
    run = latest_run(ws)
    as_of = pd.Timestamp(run["as_of"]) if run is not None else resolve_as_of(ws, None)
    time_unit = (run or {}).get("time_unit") or ws.settings.time_unit
    summary = ws.summary(as_of=as_of, time_unit=time_unit)
    summary.index = summary.index.astype(str)
    summary = summary[summary["T"] > 0]
    groups = _groups(ws, as_of).reindex(summary.index)
    if not list(by):
        raise SchemaError.coded("drivers_no_attribute", available=sorted(usable_attributes(groups)) or ["–"])
    coded = design(groups, by, min_customers=min_customers)
    fitted = summary.loc[coded.covariates.index]
    names = list(coded.columns)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit_model(fitted.reset_index(drop=True), "pnbd", covariates=coded.covariates.reset_index(drop=True),
                          purchase_covariates=names, dropout_covariates=names, max_seconds=max_seconds)
        covariance = model.covariance_
    if any(issubclass(w.category, HessianWarning) for w in caught):
        covariance = None  # standard errors unreliable: no interval, so no driver is claimed
        notes.append("not_identified")
    family = len(KINDS) * len(coded.attributes)  # the joint questions of this run (Bonferroni)
    effects, tests = covariate_effects(model.params_, covariance, coded, level, family)

    spend, repeat_buyers = {}, {}
    for part in coded.attributes:
        rows = fitted.assign(_group=groups.loc[fitted.index, part.attribute])
        repeat = rows[(rows["frequency"] > 0) & (rows["monetary_value"] > 0)]
        counts = repeat["_group"].value_counts()
        repeat_buyers[part.attribute] = {v: int(counts.get(v, 0)) for v in part.values}
        means, reasons = {}, {}
        for value in part.values:
            if repeat_buyers[part.attribute][value] < MIN_REPEAT_BUYERS:
                means[value], reasons[value] = None, "too_few_repeat_buyers"
                continue
            try:
                with warnings.catch_warnings(record=True) as spend_caught:
                    warnings.simplefilter("always")
                    gg = fit_model(repeat[repeat["_group"] == value], "gg")
                    gg_cov = gg.covariance_
                unreliable = any(issubclass(w.category, HessianWarning) for w in spend_caught)
                means[value] = None if unreliable else mean_spend(gg.params_, gg_cov)
            except CvmError:
                means[value] = None
        spend[part.attribute] = spend_effects(means, part.baseline, level, reasons, family)

    profits, profit_note = _profits(ws, run, coded, level)
    return DriversResult(
        attributes=attribute_effects(coded, effects, tests, spend, repeat_buyers, profits),
        n_customers=int(len(fitted)), as_of=str(as_of.date()), time_unit=time_unit, level=level,
        currency=ws.settings.currency, profit_note=profit_note, notes=notes,
    )


def _profits(ws: Workspace, run: dict[str, Any] | None, coded, level: float):
    """Profit after costs per group of each attribute, from the latest valuation; None and why when there is none."""
    if run is None:
        return None, "no_scores"
    table = customer_table(ws, load_scores(ws, run["run_id"]), rfm=False)
    costs = clean_costs(ws.costs())
    table["cost"] = allocate_costs(costs, table, table.attrs.get("as_of")).reindex(
        table["customer_id"].astype(str)).to_numpy()
    groups = _groups(ws, run["as_of"]).reindex(table["customer_id"].astype(str))
    out = {}
    for part in coded.attributes:
        frame = table[["historic_value", "clv", "cost"]].copy()
        frame["_group"] = groups[part.attribute].to_numpy()
        frame = frame[frame["_group"].isin(part.values)]
        out[part.attribute] = group_profit(frame, "_group", level)
    return out, ("no_costs" if costs.empty else None)
