"""How each known column is shown, by every face: money, percent, count, number, days, date, datetime, term, text.

The dashboard (:mod:`cvm.web.present`), the command line's tables and the report read this one table, so a column
reads the same everywhere.
"""

from __future__ import annotations

#: format of each column the pages show: money, percent, count, number (2 digits), days, date, datetime, term, text
COLUMN_KINDS: dict[str, str] = {
    # money
    **dict.fromkeys([
        "clv", "clv_low", "clv_high", "historic_value", "residual_value", "expected_spend", "monetary_value",
        "max_investment", "planned_cost", "total_clv", "historic_value_sum", "historic_value_mean", "clv_sum",
        "clv_mean", "cost", "cost_to_serve", "mean_clv", "max_acquisition_cost", "acquisition_cost", "headroom",
        "outstanding", "overdue", "invoiced", "overdue_90_plus", "amount", "value", "cumulative_value",
        "cumulative_value_per_customer", "total", "network_value", "total_cost", "max_spend",
    ], "money"),
    # shares and probabilities
    **dict.fromkeys([
        "probability_alive", "customer_share", "historic_value_share", "clv_share", "expected_purchases_share",
        "probability_alive_mean", "retention", "value_share", "cumulative_share", "cost_share", "percentile",
        "margin_rate", "discount_rate", "level", "collection_risk", "share", "economic_score", "ambassador_score",
        "strategic_score", "relational_score", "composite_score", "roi", "customer_kept",
    ], "percent"),
    # counts
    **dict.fromkeys([
        "customers", "active", "invoices", "transactions", "referrals_given", "n_transactions", "rank", "age",
        "n_customers", "line", "rows_read", "accepted", "quarantined", "duplicates", "moved_up", "moved_down",
        "stayed", "customers_needed", "frequency", "horizon",
    ], "count"),
    # plain numbers
    **dict.fromkeys([
        "recency", "T", "expected_purchases", "expected_purchases_sum", "expected_purchases_mean",
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
    """The kind of ``column`` (``text`` for one this table does not know)."""
    return COLUMN_KINDS.get(column, "text")
