"""The management questions as functions of a workspace.

Each reads what it needs through :class:`cvm.data.Workspace` methods (the latest scoring
run by default) and answers with the pure functions of :mod:`cvm.value`; the docstrings
of those modules hold the definitions and formulas.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from cvm.data.warehouse import Workspace
from cvm.errors import SchemaError
from cvm.service.scoring import resolve_as_of, scores_at
from cvm.value.actions import ACTIONS, choose_actions, high_value_at_risk
from cvm.value.cohorts import PERIODS, cohort_table
from cvm.value.concentration import ConcentrationResult
from cvm.value.concentration import concentration as concentration_of
from cvm.value.investment import ACQUISITION_KINDS, InvestmentResult, allocate_costs, clean_costs, investment_tables
from cvm.value.matrix import value_matrix as matrix_of
from cvm.value.migration import MigrationResult, migration_result, state_column, states
from cvm.value.network import clean_referrals, network_table
from cvm.value.profile import customer_attributes
from cvm.value.profile import customer_table as table_of
from cvm.value.receivables import ReceivablesResult, clean_invoices, summarise_receivables
from cvm.value.segments import SEGMENT_COLUMNS, segment_summary
from cvm.data.scores import latest_scores, score_runs


def customer_table(ws: Workspace, scores: pd.DataFrame | None = None, rfm: bool = True) -> pd.DataFrame:
    """Scores of a run (default the latest) with attributes, channel, cohort and RFM segment.

    See :func:`cvm.value.profile.customer_table` for the columns.
    """
    scores = latest_scores(ws) if scores is None else scores
    return table_of(scores, customer_attributes(ws.customers()), ws.first_channels(scores.attrs.get("as_of")), rfm=rfm)


def segments(ws: Workspace, by: str = "rfm", scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customers and value per segment: counts, sums, means and shares.

    Parameters
    ----------
    ws
        The workspace.
    by
        ``rfm`` (the named RFM segments), ``value_tier``, ``lifecycle_stage``,
        ``matrix`` (value-matrix quadrant), ``channel`` (acquisition channel),
        ``cohort`` (month of first purchase) or any attribute of ``customers``
        (for example ``city`` or ``sector``).
    scores
        A scores frame; default the latest stored run.
    """
    table = customer_table(ws, scores)
    if SEGMENT_COLUMNS.get(by, by) == "matrix_segment":
        matrix = value_matrix(ws, scores)
        table = table.merge(matrix[["customer_id", "matrix_segment", "composite_score"]], on="customer_id", how="left")
    return segment_summary(table, by)


def concentration(data: Workspace | pd.DataFrame, column: str = "clv", share: float = 0.8, top_k: int = 10,
                  points: int | None = 101) -> ConcentrationResult:
    """:func:`cvm.value.concentration.concentration` of a scores frame, or of a workspace's latest run."""
    frame = data if isinstance(data, pd.DataFrame) else latest_scores(data)
    return concentration_of(frame, column=column, share=share, top_k=top_k, points=points)


def network_value(ws: Workspace, scores: pd.DataFrame | None = None, column: str = "clv", decay: float | None = None,
                  max_depth: int = 10) -> pd.DataFrame:
    """Referral-network value of every scored customer (:func:`cvm.value.network.network_table`).

    ``decay`` defaults to ``settings.referral_decay``. Returns one row per scored
    customer, sorted by network value.
    """
    scores = latest_scores(ws) if scores is None else scores
    if column not in scores.columns:
        raise SchemaError(f"no column '{column}' in the scores", hint="use clv or historic_value")
    q = ws.settings.referral_decay if decay is None else decay
    return network_table(scores, clean_referrals(ws.referrals()), column=column, decay=q, max_depth=max_depth)


def value_matrix(
    ws: Workspace,
    scores: pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    strategic_weights: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Economic, ambassador and strategic value, composite score and quadrant per customer.

    ``weights`` default to ``settings.matrix_weights``; see :func:`cvm.value.matrix.value_matrix`.
    """
    table = customer_table(ws, scores, rfm=False)
    w = dict(ws.settings.matrix_weights.model_dump()) if weights is None else dict(weights)
    return matrix_of(table, network_value(ws, table), w, strategic_weights, threshold)


def migration(ws: Workspace, from_date: Any, to_date: Any, by: str = "value_tier", **score_options: Any) -> MigrationResult:
    """Transition matrix between two as-of dates.

    Stored runs at exactly those dates are used (the latest one per date); a
    date never scored is scored first with ``score_options`` (and stored).

    ``moved_up`` / ``moved_down`` count customers whose value tier rose or fell
    (tiers only; None for other groupings).
    """
    if pd.Timestamp(from_date) >= pd.Timestamp(to_date):
        raise SchemaError("--from must be before --to", hint=f"got {from_date} and {to_date}")
    resolve_as_of(ws, to_date)  # a --to beyond the data is refused before --from is scored
    first = scores_at(ws, from_date, **score_options)
    second = scores_at(ws, to_date, **score_options)
    before, after = _states(ws, first, by), _states(ws, second, by)
    return migration_result(before, after, by, from_date, to_date, list(ws.settings.tier_cutoffs))


def _states(ws: Workspace, scores: pd.DataFrame, by: str) -> pd.Series:
    """The states of a run; an attribute not in the scores comes from the customer table."""
    if by not in ("rfm", "rfm_segment") and state_column(by) not in scores.columns:
        scores = customer_table(ws, scores, rfm=False)
    return states(scores, by)


def cohorts(ws: Workspace, period: str = "month", as_of: Any = None, margin: float | None = None) -> pd.DataFrame:
    """Cohort table in long form, one row per (cohort, age) (see :mod:`cvm.value.cohorts`).

    Columns: ``cohort`` (start date of the cohort period), ``age``,
    ``customers``, ``active``, ``retention``, ``value``, ``cumulative_value``,
    ``cumulative_value_per_customer``.
    """
    if period not in PERIODS:
        raise SchemaError(f"unknown cohort period '{period}'", hint=f"use one of {', '.join(PERIODS)}")
    stamp = resolve_as_of(ws, as_of)
    m = ws.settings.margin if margin is None else float(margin)
    return cohort_table(ws.cohort_activity(period, stamp, m), period, stamp)


def investment(
    ws: Workspace,
    scores: pd.DataFrame | None = None,
    budget: float | None = None,
    target_ratio: float = 1.0,
    uplift: float = 0.2,
    cost_per_customer: float | None = None,
    segment_column: str | None = None,
) -> InvestmentResult:
    """Are we investing in the right customers? (seed 002's questions, answered per segment and channel)

    Parameters
    ----------
    budget
        Retention budget to allocate (no allocation when None).
    target_ratio
        Multiplier on mean CLV for the maximum acquisition cost per channel.
    uplift, cost_per_customer
        Retention effect and cost per contacted customer (default
        ``settings.retention_cost_per_customer``).
    segment_column
        Attribute to group by; default ``segment`` when customers carry one, else ``value_tier``.
    """
    if target_ratio <= 0:
        raise SchemaError(f"target ratio must be positive, got {target_ratio}")
    table = customer_table(ws, scores, rfm=False)
    cost = ws.settings.retention_cost_per_customer if cost_per_customer is None else cost_per_customer
    return investment_tables(table, clean_costs(ws.costs()), budget, target_ratio, uplift, cost, segment_column)


def receivables(ws: Workspace, as_of: Any = None, segment_column: str | None = None, period_days: int = 365) -> ReceivablesResult:
    """Receivables of the workspace as of a day (default: today's date, or the last invoice event).

    ``segment_column`` defaults to the ``segment`` attribute, else the value tier of the latest scores.
    """
    invoices = clean_invoices(ws.invoices())
    if invoices.empty:
        raise SchemaError("the workspace has no invoices", hint="ingest them: cvm ingest FILE --kind invoices")
    if as_of is None:
        events = pd.concat([pd.to_datetime(invoices[c]) for c in ("issued", "paid")]).dropna()
        as_of = min(events.max(), pd.Timestamp.now()).normalize()
    segments = None
    customers = customer_attributes(ws.customers())
    column = segment_column or ("segment" if "segment" in customers.columns and customers["segment"].notna().any() else None)
    if column is not None:
        if column not in customers.columns:
            raise SchemaError(f"no customer attribute '{column}'")
        segments = customers.set_index("customer_id")[column]
    elif not score_runs(ws).empty:
        s = latest_scores(ws)
        segments = s.set_index(s["customer_id"].astype(str))["value_tier"]
    return summarise_receivables(invoices, as_of, segments, period_days)


def _enriched(ws: Workspace, scores: pd.DataFrame | None) -> pd.DataFrame:
    """The customer table with cost-to-serve and, when there are invoices, what is overdue."""
    table = customer_table(ws, scores, rfm=False)
    as_of = table.attrs.get("as_of")
    costs = clean_costs(ws.costs())
    # cost-to-serve: every cost except acquisition, which is sunk once the customer is won
    table["cost"] = allocate_costs(costs, table, as_of, ACQUISITION_KINDS).reindex(table["customer_id"].astype(str)).to_numpy()
    invoices = clean_invoices(ws.invoices())
    if not invoices.empty:
        rec = summarise_receivables(invoices, as_of).by_customer.set_index("customer_id")
        table["overdue"] = table["customer_id"].map(rec["overdue"]).fillna(0.0)
        table["max_days_overdue"] = table["customer_id"].map(rec["max_days_overdue"]).fillna(0)
    return table


def next_best_actions(ws: Workspace, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Next-best action and its reason for every customer of a run (default the latest).

    Sorted by action priority, then CLV. See :mod:`cvm.value.actions` for the rules.
    """
    table = _enriched(ws, scores)
    top_tier = next(iter(ws.settings.tier_cutoffs))
    out = choose_actions(table, ws.settings.stage_rules, top_tier, ws.settings.currency)
    out["priority"] = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    out = out.sort_values(["priority", "clv"], ascending=[True, False], kind="stable").drop(columns="priority")
    out.attrs.update(table.attrs)
    return out.reset_index(drop=True)


def retention_team(ws: Workspace, scores: pd.DataFrame | None = None, min_percentile: float | None = None) -> pd.DataFrame:
    """High value x high risk: customers for the retention team, most value at risk first.

    ``min_percentile`` defaults to the second-highest tier cut-off (gold).
    """
    scores = latest_scores(ws) if scores is None else scores
    if min_percentile is None:
        ordered = sorted(ws.settings.tier_cutoffs.values(), reverse=True)
        min_percentile = ordered[1] if len(ordered) > 1 else ordered[0]
    return high_value_at_risk(scores, min_percentile, ws.settings.stage_rules.at_risk_below)
