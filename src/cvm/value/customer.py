"""The 360-degree view of one customer (seed 003: "a central customer view").

Everything known about one customer in one object: attributes, the
transactions timeline across channels, the latest score with its interval, the
P(alive) and CLV history over every stored scoring run, RFM segment and
journey stage, referrals given and received, invoices, and the next-best
action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd



@dataclass
class CustomerView:
    """One customer, every angle; ``to_dict()`` for JSON."""

    customer_id: str
    attributes: dict[str, Any]
    score: dict[str, Any] | None
    history: pd.DataFrame
    transactions: pd.DataFrame
    channels: pd.DataFrame
    segment: str | None
    stage: str | None
    referred_by: str | None
    referrals: pd.DataFrame
    network_value: float
    invoices: pd.DataFrame
    action: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "attributes": self.attributes,
            "score": self.score,
            "rfm_segment": self.segment,
            "lifecycle_stage": self.stage,
            "next_best_action": self.action,
            "history": self.history.to_dict(orient="records"),
            "channels": self.channels.to_dict(orient="records"),
            "transactions": self.transactions.to_dict(orient="records"),
            "referred_by": self.referred_by,
            "referrals": self.referrals.to_dict(orient="records"),
            "network_value": self.network_value,
            "invoices": self.invoices.to_dict(orient="records"),
            "notes": self.notes,
        }
