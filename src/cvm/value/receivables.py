"""Money customers still owe (seed 002: "money outstanding at customers cannot be used for growth").

From ``invoices(invoice_id, customer_id, issued, amount, due, paid)`` as of a day ``t``
(invoices issued after ``t`` are ignored, a payment after ``t`` counts as unpaid):

* **outstanding** — invoices not paid by ``t``; **overdue** — outstanding with ``due < t``,
  ``days_overdue = t - due`` (an invoice without a due date is due on issue);
* **ageing buckets** of the outstanding amount: ``not due``, ``0-30``, ``31-60``,
  ``61-90``, ``90+`` days overdue (``0-30`` holds 1..30 days);
* **days late** of an invoice: ``max(0, paid - due)`` when paid, ``t - due`` when
  overdue and open, 0 when open and not yet due; ``avg_days_late`` per customer is
  the mean over their invoices;
* **DSO** (days sales outstanding) = outstanding / amount invoiced in the last
  ``period_days`` days x ``period_days``.

**Payment behaviour in the valuation** (:func:`payment_adjusted_clv`): cash
that arrives ``L`` days late is worth ``(1 + d)^(-L / 365.25)`` at the yearly
discount rate ``d``, and the share of a customer's invoiced amount that is more
than 90 days overdue is taken as the collection-risk loss rate ``s``:
``clv_payment_adjusted = clv x (1 + d)^(-avg_days_late / 365.25) x (1 - s)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import SchemaError

BUCKETS = ["not due", "0-30", "31-60", "61-90", "90+"]
INVOICE_COLUMNS = ("invoice_id", "customer_id", "issued", "amount", "due", "paid")


def clean_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    """The ``invoices`` table (as :meth:`cvm.data.Workspace.invoices` reads it) with ``customer_id`` as text.

    Raises
    ------
    SchemaError
        A column other than ``due`` and ``paid`` is missing.
    """
    frame = invoices.copy()
    for col in INVOICE_COLUMNS:
        if col not in frame.columns:
            if col in ("due", "paid"):
                frame[col] = pd.NaT
            else:
                raise SchemaError(f"the invoices table lacks '{col}'", hint="re-ingest invoices with invoice_id, customer_id, issued, amount")
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


def invoice_status(invoices: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Per invoice: ``outstanding``, ``overdue``, ``days_overdue``, ``bucket``, ``days_late`` (pure function)."""
    t = pd.Timestamp(as_of)
    inv = invoices.copy()
    for col in ("issued", "due", "paid"):
        inv[col] = pd.to_datetime(inv[col])
    inv = inv[inv["issued"] <= t + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)].copy()
    if inv["amount"].isna().any():
        raise SchemaError("some invoices have no amount", hint="check the invoices file")
    due = inv["due"].fillna(inv["issued"])
    paid_by_t = inv["paid"].notna() & (inv["paid"] <= t)
    inv["outstanding"] = np.where(paid_by_t, 0.0, inv["amount"].astype(float))
    overdue_days = (t - due).dt.days.to_numpy()
    is_open = ~paid_by_t.to_numpy()
    inv["days_overdue"] = np.where(is_open & (overdue_days > 0), overdue_days, 0)
    inv["overdue"] = np.where(inv["days_overdue"] > 0, inv["outstanding"], 0.0)
    d = inv["days_overdue"].to_numpy()
    inv["bucket"] = np.where(
        ~is_open, "paid",
        np.select([d <= 0, d <= 30, d <= 60, d <= 90], BUCKETS[:4], default="90+"),
    )
    late_paid = np.maximum((inv["paid"] - due).dt.days.to_numpy(dtype=float), 0.0)
    inv["days_late"] = np.where(paid_by_t.to_numpy(), late_paid, inv["days_overdue"].to_numpy(dtype=float))
    return inv


@dataclass
class ReceivablesResult:
    """Outstanding and overdue money per customer and segment, ageing and DSO."""

    as_of: str
    invoices: pd.DataFrame
    by_customer: pd.DataFrame
    by_segment: pd.DataFrame
    ageing: pd.DataFrame
    outstanding: float
    overdue: float
    dso: float | None

    @property
    def owing(self) -> pd.DataFrame:
        """The customers who still owe money (outstanding > 0), most overdue first: the list every face shows."""
        return self.by_customer[self.by_customer["outstanding"] > 0].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "outstanding": self.outstanding,
            "overdue": self.overdue,
            "dso": self.dso,
            "ageing": self.ageing.to_dict(orient="records"),
            "by_segment": self.by_segment.to_dict(orient="records"),
            "by_customer": self.by_customer.head(50).to_dict(orient="records"),
        }


def summarise_receivables(invoices: pd.DataFrame, as_of: Any, segments: pd.Series | None = None, period_days: int = 365) -> ReceivablesResult:
    """All receivables figures from an invoice frame (pure function; see module docstring)."""
    t = pd.Timestamp(as_of)
    inv = invoice_status(invoices, t)
    g = inv.groupby("customer_id")
    by_customer = pd.DataFrame(
        {
            "invoices": g.size(),
            "invoiced": g["amount"].sum(),
            "outstanding": g["outstanding"].sum(),
            "overdue": g["overdue"].sum(),
            "overdue_90_plus": inv[inv["bucket"] == "90+"].groupby("customer_id")["outstanding"].sum(),
            "max_days_overdue": g["days_overdue"].max(),
            "avg_days_late": g["days_late"].mean(),
        }
    ).fillna({"overdue_90_plus": 0.0})
    by_customer["collection_risk"] = np.where(by_customer["invoiced"] > 0, by_customer["overdue_90_plus"] / by_customer["invoiced"], 0.0)
    by_customer = by_customer.reset_index().sort_values(["overdue", "outstanding"], ascending=False, kind="stable").reset_index(drop=True)
    open_inv = inv[inv["bucket"] != "paid"]
    ageing = open_inv.groupby("bucket")["outstanding"].agg(["size", "sum"]).reindex(BUCKETS).fillna(0)
    ageing = ageing.rename(columns={"size": "invoices", "sum": "amount"}).reset_index()
    ageing["invoices"] = ageing["invoices"].astype(int)
    outstanding = float(inv["outstanding"].sum())
    recent = inv[inv["issued"] > t - pd.Timedelta(days=period_days)]
    sales = float(recent["amount"].sum())
    dso = outstanding / sales * period_days if sales > 0 else None
    if segments is not None:
        seg = by_customer["customer_id"].map(segments).fillna("(unknown)")
    else:
        seg = pd.Series("(all)", index=by_customer.index)
    by_segment = (
        by_customer.assign(segment=seg)
        .groupby("segment")
        .agg(customers=("customer_id", "size"), invoiced=("invoiced", "sum"), outstanding=("outstanding", "sum"),
             overdue=("overdue", "sum"), avg_days_late=("avg_days_late", "mean"))
        .reset_index()
        .sort_values("overdue", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return ReceivablesResult(str(t.date()), inv, by_customer, by_segment, ageing, outstanding, float(inv["overdue"].sum()), dso)


def payment_adjusted_clv(scores: pd.DataFrame, by_customer: pd.DataFrame, yearly_discount_rate: float) -> pd.DataFrame:
    """CLV corrected for paying late and collection risk (see module docstring).

    Returns the scores with ``avg_days_late``, ``collection_risk`` and ``clv_payment_adjusted``.
    """
    merged = scores.merge(by_customer[["customer_id", "avg_days_late", "collection_risk"]], on="customer_id", how="left")
    merged[["avg_days_late", "collection_risk"]] = merged[["avg_days_late", "collection_risk"]].fillna(0.0)
    factor = (1.0 + yearly_discount_rate) ** (-merged["avg_days_late"] / 365.25) * (1.0 - merged["collection_risk"])
    merged["clv_payment_adjusted"] = merged["clv"] * factor
    return merged
