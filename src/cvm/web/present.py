"""How the library's results are shown to people: which columns, in what format, with which words.

The value layer speaks in column names (``clv_share``, ``customers_needed``) and
codes (``at risk``, ``Key customers``, ``win back``). The pages show them as
labels from the message catalogs (``col.<name>``), values in the locale
(:meth:`cvm.web.i18n.Formatter.cell`) and codes as words (``term.<code>``).

:data:`COLUMN_KINDS` says how each known column is formatted; :func:`table`
picks and orders the columns a page shows, so internal ones (run ids, the name
of the grouping column) stay out of sight.
"""

from __future__ import annotations

from typing import Any, Iterable

#: format of each column the pages show: money, percent, count, number (2 digits), days, date, datetime, term, text
COLUMN_KINDS: dict[str, str] = {
    # money
    **dict.fromkeys([
        "clv", "clv_low", "clv_high", "historic_value", "residual_value", "expected_spend", "monetary_value",
        "max_investment", "planned_cost", "total_clv", "historic_value_sum", "historic_value_mean", "clv_sum",
        "clv_mean", "cost", "cost_to_serve", "mean_clv", "max_acquisition_cost", "acquisition_cost", "headroom",
        "outstanding", "overdue", "invoiced", "overdue_90_plus", "amount", "value", "cumulative_value",
        "cumulative_value_per_customer", "total", "network_value", "total_cost",
    ], "money"),
    # shares and probabilities
    **dict.fromkeys([
        "probability_alive", "customer_share", "historic_value_share", "clv_share", "expected_purchases_share",
        "probability_alive_mean", "retention", "value_share", "cumulative_share", "cost_share", "percentile",
        "margin_rate", "discount_rate", "level", "collection_risk", "share", "economic_score", "ambassador_score",
        "strategic_score", "relational_score", "composite_score",
    ], "percent"),
    # counts
    **dict.fromkeys([
        "customers", "active", "invoices", "transactions", "referrals_given", "n_transactions", "rank", "age",
        "n_customers", "line", "rows_read", "accepted", "quarantined", "duplicates", "moved_up", "moved_down",
        "stayed", "customers_needed", "frequency", "horizon",
    ], "count"),
    # plain numbers
    **dict.fromkeys([
        "recency", "T", "expected_purchases", "expected_purchases_sum", "expected_purchases_mean", "roi",
        "clv_to_cost", "gini", "log_likelihood",
    ], "number"),
    **dict.fromkeys(["avg_days_late", "max_days_overdue", "dso"], "days"),
    **dict.fromkeys(["as_of", "first_purchase", "last_purchase", "ts", "first", "last", "cohort", "issued", "due",
                     "paid", "calibration_end", "from", "to", "acquired"], "date"),
    "created": "datetime",
    **dict.fromkeys(["value_tier", "lifecycle_stage", "segment", "matrix_segment", "flag", "bucket", "action",
                     "channel", "group", "model", "time_unit", "rfm_segment", "direction", "by"], "term"),
}


def kind_of(column: str) -> str:
    return COLUMN_KINDS.get(column, "text")


def table(rows: Iterable[dict[str, Any]] | Any, columns: Iterable[str], limit: int | None = None,
          labels: dict[str, str] | None = None, kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """A table for the ``ui.grid`` macro: the given columns (those present) of ``rows``.

    ``rows`` may be a list of dicts or a DataFrame; ``limit`` keeps the first rows
    and records how many there were in ``total``. ``labels`` maps a column to the
    catalog key of its heading and ``kinds`` to its format, where they differ
    from the defaults (``col.<name>``, :data:`COLUMN_KINDS`).
    """
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        frame = rows.reset_index() if rows.index.name is not None else rows
        rows = frame.to_dict(orient="records")
    rows = [r for r in (rows or []) if isinstance(r, dict)]
    present = [c for c in columns if any(_shown(r.get(c)) for r in rows)] if rows else list(columns)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    return {"columns": present, "rows": rows, "total": total, "labels": labels or {}, "kinds": kinds or {}}


def _shown(value: Any) -> bool:
    """False for a missing value (None, NaN): a column with only those is left out."""
    if value is None:
        return False
    try:
        return value == value  # NaN is the one value unequal to itself
    except (TypeError, ValueError):
        return True


def matrix(counts: dict[str, dict[str, Any]], shares: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A from × to table of a migration: one row per starting group, one column per end group."""
    start = list(counts)
    end: list[str] = []
    for row in counts.values():
        for key in row:
            if key not in end:
                end.append(key)
    rows = [{"from": a, "cells": [(counts[a].get(b, 0), (shares or {}).get(a, {}).get(b)) for b in end],
             "total": sum(v or 0 for v in counts[a].values())} for a in start]
    return {"to": end, "rows": rows}


#: what a next-best action needs from the customer's row to explain itself
ACTION_REASON_KEYS = {
    "collect payment": "action.reason.collect_payment",
    "retain": "action.reason.retain",
    "win back": "action.reason.win_back",
    "lower cost-to-serve": "action.reason.lower_cost",
    "upsell": "action.reason.upsell",
}


def action_reason(fmt, action: str | None, score: dict[str, Any], library_reason: str | None) -> str | None:
    """The reason for a next-best action in the page's language, from the customer's scores.

    The rules are those of :mod:`cvm.value.actions`; the value layer words its
    reasons in English only, so the page rebuilds them from the same numbers.
    Falls back to the library's text for an action this page does not know.
    """
    if not action:
        return None
    stage = score.get("lifecycle_stage")
    values = {
        "tier": fmt.term(score.get("value_tier")),
        "stage": fmt.term(stage),
        "clv": fmt.money(score.get("clv"), digits=0),
        "historic": fmt.money(score.get("historic_value"), digits=0),
        "p_alive": fmt.percent(score.get("probability_alive"), digits=0),
    }
    key = ACTION_REASON_KEYS.get(action)
    if key is None and action == "nurture":
        key = {"prospect": "action.reason.prospect", "new": "action.reason.new"}.get(stage, "action.reason.nurture")
    if key is None:
        return library_reason
    return fmt(key, **values)
