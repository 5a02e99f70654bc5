"""The management questions as functions of a workspace.

Each reads what it needs through :class:`cvm.data.Workspace` methods (the latest scoring
run by default) and answers with the pure functions of :mod:`cvm.value`; the docstrings
of those modules hold the definitions and formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from cvm.data.warehouse import Workspace
from cvm.errors import SchemaError
from cvm.service.scoring import resolve_as_of, scores_at
from cvm.jsonsafe import json_safe
from cvm.value.actions import ACTIONS, WORKLISTS, choose_actions, high_value_at_risk
from cvm.value.actions import worklist as worklist_rows
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
    uplift: float | None = None,
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
        Chance that a retention contact succeeds and cost per contacted customer (default
        ``settings.contact_success`` and ``settings.retention_cost_per_customer``).
    segment_column
        Attribute to group by; default ``segment`` when customers carry one, else ``value_tier``.
    """
    if target_ratio <= 0:
        raise SchemaError(f"target ratio must be positive, got {target_ratio}")
    table = customer_table(ws, scores, rfm=False)
    cost = ws.settings.retention_cost_per_customer if cost_per_customer is None else cost_per_customer
    uplift = ws.settings.contact_success if uplift is None else uplift
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


def next_best_actions(ws: Workspace, scores: pd.DataFrame | None = None,
                      customers: list[str] | None = None) -> pd.DataFrame:
    """Next-best action and its reason for every customer of a run (default the latest).

    Sorted by action priority, then CLV. See :mod:`cvm.value.actions` for the rules.
    ``customers``: only these customers' rows (their actions as in the whole list).
    """
    table = _enriched(ws, scores)
    top_tier = next(iter(ws.settings.tier_cutoffs))
    only = None if customers is None else table["customer_id"].astype(str).isin([str(c) for c in customers]).to_numpy()
    out = choose_actions(table, ws.settings.stage_rules, top_tier, ws.settings.currency, only=only)
    out["priority"] = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    out = out.sort_values(["priority", "clv"], ascending=[True, False], kind="stable").drop(columns="priority")
    out.attrs.update(table.attrs)
    return out.reset_index(drop=True)


def _retention_cutoff(ws: Workspace) -> float:
    """The retention list's lowest percentile: the second-highest tier cut-off (gold)."""
    ordered = sorted(ws.settings.tier_cutoffs.values(), reverse=True)
    return ordered[1] if len(ordered) > 1 else ordered[0]


def retention_team(ws: Workspace, scores: pd.DataFrame | None = None, min_percentile: float | None = None) -> pd.DataFrame:
    """High value x high risk: customers for the retention team, most value at risk first.

    ``min_percentile`` defaults to the second-highest tier cut-off (gold).
    """
    scores = latest_scores(ws) if scores is None else scores
    if min_percentile is None:
        min_percentile = _retention_cutoff(ws)
    return high_value_at_risk(scores, min_percentile, ws.settings.stage_rules.at_risk_below)


#: columns a worklist can be sorted by (besides its own order, the default)
WORKLIST_SORTS = ("clv", "max_spend", "probability_alive", "name", "customer_id", "value_tier", "segment")


@dataclass(frozen=True)
class Worklist:
    """One page of a worklist (:func:`worklist`), as every face shows it.

    Attributes
    ----------
    worklist
        The list's name (one of :data:`cvm.value.actions.WORKLISTS`).
    run_id, as_of, model
        The valuation the rows come from.
    language
        The language of ``reason``.
    contact_success
        The chance that a contact succeeds the maximum spend assumes (``settings.contact_success``).
    total
        Customers on the list after the filters (all pages).
    max_spend_total, clv_total
        The sums of ``max_spend`` and of ``clv`` over all of them.
    rows
        The page: ``customer_id, name, value_tier, segment, lifecycle_stage, clv,
        probability_alive, max_spend, action, reason`` (in ``language``),
        ``reason_code, reason_values``; its ``attrs`` name the run.
    filters
        The filters applied (JSON-ready).
    segments
        The segments on the list before the segment filter (the choices a filter offers).
    """

    worklist: str
    run_id: str | None
    as_of: str | None
    model: str | None
    language: str
    contact_success: float
    total: int
    max_spend_total: float
    clv_total: float
    rows: pd.DataFrame
    filters: dict[str, Any] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)

    def export_frame(self, campaign_id: str | None = None) -> pd.DataFrame:
        """The rows as a file holds them (``cvm.data.export.export`` adds the run's ``as_of`` and ``model``):
        the reason in words and its code, with the campaign's id when the rows are a campaign's contacted group."""
        out = self.rows.drop(columns=["reason_values"])
        out.insert(0, "worklist", self.worklist)
        if campaign_id is not None:
            out.insert(0, "campaign_id", campaign_id)
        out.attrs.update(self.rows.attrs)
        return out

    def to_dict(self) -> dict[str, Any]:
        """``cvm actions --list NAME --json``: the list, its run and filters, ``total`` and the page's ``rows``."""
        return {"worklist": self.worklist, "run_id": self.run_id, "as_of": self.as_of, "model": self.model,
                "language": self.language, "contact_success": self.contact_success, "filters": self.filters,
                "total": self.total,
                "max_spend_total": self.max_spend_total, "clv_total": self.clv_total, "rows": json_safe(self.rows)}


def worklist(
    ws: Workspace,
    name: str = "retention",
    *,
    value_tier: str | None = None,
    segment: str | None = None,
    min_value: float | None = None,
    sort: str | None = None,
    ascending: bool = False,
    limit: int | None = None,
    offset: int = 0,
    language: str | None = None,
    scores: pd.DataFrame | None = None,
    customer_ids: Sequence[str] | None = None,
) -> Worklist:
    """A worklist of a valuation (default the latest), filtered, sorted and paged; reasons in ``language``.

    ``cvm actions --list NAME`` and the dashboard's Acties page both show what this returns.

    Parameters
    ----------
    name
        ``retention``, ``win_back``, ``nurture``, ``collect`` or ``referral_thanks``
        (rules and maximum spend: :mod:`cvm.value.actions`).
    value_tier
        Only this tier (one of the settings' tiers).
    segment
        Only this segment: the customers' own ``segment`` attribute when the customers
        table has one, else the RFM segment (:mod:`cvm.value.segments`).
    min_value
        Only customers whose predicted value (CLV) is at least this.
    sort, ascending
        A column of :data:`WORKLIST_SORTS`; default the list's own order (most urgent first).
    limit, offset
        The page (None: every row).
    language
        Of the reasons (``en`` or ``nl``); default the workspace's.
    scores
        A stored run's scores (default the latest valuation).
    customer_ids
        Keep only these customers (a campaign's contacted group).

    Raises
    ------
    SchemaError
        For an unknown list, tier or sort column.
    WorkspaceError
        When nothing has been scored.
    """
    from cvm.service.customers import NAME_COLUMNS
    from cvm.value.explain import explain

    if name not in WORKLISTS:
        raise SchemaError.coded("unknown_worklist", name=name, lists=", ".join(WORKLISTS))
    if value_tier and value_tier not in ws.settings.tier_cutoffs:
        raise SchemaError(f"unknown value tier '{value_tier}'",
                          hint=f"the tiers are {', '.join(ws.settings.tier_cutoffs)} (cvm settings)")
    if sort is not None and sort not in WORKLIST_SORTS:
        raise SchemaError(f"cannot sort a worklist by '{sort}'", hint="sort by one of " + ", ".join(WORKLIST_SORTS))
    lang = language or ws.settings.language
    table = _enriched(ws, scores)
    names = next((c for c in table.columns if str(c).lower() in NAME_COLUMNS), None)
    table["name"] = table[names] if names is not None else None
    own = "segment" in table.columns and table["segment"].notna().any()
    table["segment"] = table["segment"] if own else table.get("rfm_segment")
    top_tier = next(iter(ws.settings.tier_cutoffs))
    actions = choose_actions(table, ws.settings.stage_rules, top_tier, ws.settings.currency)
    network = network_value(ws, table) if name == "referral_thanks" and not ws.referrals().empty else None
    rows = worklist_rows(name, table, actions, network, min_percentile=_retention_cutoff(ws),
                         at_risk_below=ws.settings.stage_rules.at_risk_below, decay=ws.settings.referral_decay,
                         success=ws.settings.contact_success)
    segments = sorted({str(v) for v in rows["segment"].dropna()})
    keep = pd.Series(True, index=rows.index)
    if value_tier:
        keep &= rows["value_tier"].astype(str) == value_tier
    if segment:
        keep &= rows["segment"].astype(str) == segment
    if min_value is not None:
        keep &= rows["clv"].astype(float) >= float(min_value)
    if customer_ids is not None:
        keep &= rows["customer_id"].isin([str(c) for c in customer_ids])
    rows = rows[keep]
    if sort is not None:
        rows = rows.sort_values([sort, "customer_id"], ascending=[ascending, True], kind="stable", na_position="last")
    total, spend, value = len(rows), float(rows["max_spend"].sum()), float(rows["clv"].sum())
    end = None if limit is None else offset + int(limit)
    page = rows.iloc[offset:end].copy()
    page.insert(page.columns.get_loc("action") + 1, "reason", [
        explain(code, values, lang, ws.settings.currency) for code, values in zip(page["reason_code"], page["reason_values"])])
    page = page.reset_index(drop=True)
    page.attrs.update({k: table.attrs.get(k) for k in ("run_id", "as_of", "model")})
    filters = {k: v for k, v in (("value_tier", value_tier), ("segment", segment), ("min_value", min_value)) if v}
    return Worklist(name, table.attrs.get("run_id"), table.attrs.get("as_of"), table.attrs.get("model"), lang,
                    ws.settings.contact_success, total, spend, value, page, filters, segments)
