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

from cvm.errors import SchemaError


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


def customer_view(ws: Any, customer_id: Any, max_transactions: int = 200) -> CustomerView:
    """Collect the 360-degree view of ``customer_id``.

    Raises
    ------
    SchemaError
        When the id is in neither ``transactions`` nor ``customers`` (the hint
        lists similar ids).
    """
    from cvm.value.clv import _has_table
    from cvm.value.profile import read_customers

    cid = str(customer_id).strip()
    con = ws.con
    attrs = read_customers(ws)
    row = attrs[attrs["customer_id"] == cid]
    in_tx = _has_table(ws, "transactions") and con.execute(
        "SELECT count(*) FROM transactions WHERE CAST(customer_id AS VARCHAR) = ?", [cid]
    ).fetchone()[0] > 0
    if row.empty and not in_tx:
        like = []
        if _has_table(ws, "transactions"):
            like = [r[0] for r in con.execute(
                "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS c FROM transactions "
                "ORDER BY jaro_winkler_similarity(c, ?) DESC LIMIT 5", [cid]).fetchall()]
        raise SchemaError(
            f"unknown customer '{cid}'",
            hint=("similar ids: " + ", ".join(like)) if like else "list customers with 'cvm customers'",
        )
    notes: list[str] = []
    attributes = {k: v for k, v in row.iloc[0].items() if k not in ("customer_id", "source", "line") and pd.notna(v)} if not row.empty else {}

    tx = pd.DataFrame()
    channels = pd.DataFrame()
    if in_tx:
        cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'").fetchall()}
        pick = ["ts", "amount"] + [c for c in ("order_id", "channel", "margin") if c in cols]
        tx = con.execute(
            f"SELECT {', '.join(pick)} FROM transactions WHERE CAST(customer_id AS VARCHAR) = ? ORDER BY ts DESC LIMIT ?",
            [cid, max_transactions],
        ).df()
        group = "coalesce(channel, '(none)')" if "channel" in cols else "'(all)'"
        channels = con.execute(
            f"SELECT {group} AS channel, count(*) AS transactions, sum(amount) AS amount, min(ts) AS first, max(ts) AS last "
            "FROM transactions WHERE CAST(customer_id AS VARCHAR) = ? GROUP BY 1 ORDER BY amount DESC",
            [cid],
        ).df()

    score = None
    history = pd.DataFrame(columns=["as_of", "run_id", "probability_alive", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage"])
    segment = stage = None
    action = None
    if _has_table(ws, "scores"):
        history = con.execute(
            "SELECT s.as_of, s.run_id, s.probability_alive, s.clv, s.clv_low, s.clv_high, s.value_tier, s.lifecycle_stage "
            "FROM scores s JOIN score_runs r USING (run_id) WHERE s.customer_id = ? ORDER BY s.as_of, r.created",
            [cid],
        ).df()
        from cvm.data.scores import latest_scores

        latest = latest_scores(ws)
        mine = latest[latest["customer_id"].astype(str) == cid]
        if mine.empty:
            notes.append("not in the latest scoring run: score again to include this customer")
        else:
            score = {k: v for k, v in mine.iloc[0].items() if k not in ("customer_id",) and not (isinstance(v, float) and pd.isna(v))}
            score["as_of"] = latest.attrs.get("as_of")
            score["model"] = latest.attrs.get("model")
            stage = str(mine.iloc[0]["lifecycle_stage"])
            from cvm.value.actions import next_best_actions
            from cvm.value.segments import rfm_segments

            rfm = rfm_segments(latest, as_of=latest.attrs.get("as_of"))
            hit = rfm[rfm["customer_id"].astype(str) == cid]
            segment = str(hit.iloc[0]["rfm_segment"]) if not hit.empty else "Prospect"
            actions = next_best_actions(ws, latest)
            a = actions[actions["customer_id"].astype(str) == cid]
            if not a.empty:
                action = {k: a.iloc[0][k] for k in ("action", "reason", "reason_code", "reason_values") if k in a.columns}
    else:
        notes.append("no scoring run yet: run 'cvm score' for value, P(alive) and actions")

    from cvm.value.network import read_referrals, referral_network_value

    refs = read_referrals(ws)
    given = refs[refs["referrer_id"] == cid]
    received = refs[refs["referred_id"] == cid]
    referrals = pd.concat([given.assign(direction="given"), received.assign(direction="received")], ignore_index=True)
    referrals = referrals[[c for c in ("direction", "referrer_id", "referred_id", "ts") if c in referrals.columns]]
    network = 0.0
    if not given.empty and score is not None:
        values = latest.set_index(latest["customer_id"].astype(str))["clv"]
        nv = referral_network_value(refs, values, decay=ws.settings.referral_decay)
        network = float(nv.loc[cid, "network_value"]) if cid in nv.index else 0.0

    from cvm.value.receivables import invoice_status, read_invoices

    invoices = read_invoices(ws)
    invoices = invoices[invoices["customer_id"] == cid]
    if not invoices.empty:
        as_of = score["as_of"] if score else pd.Timestamp.now().normalize()
        invoices = invoice_status(invoices, as_of)[["invoice_id", "issued", "due", "paid", "amount", "outstanding", "days_overdue", "bucket"]]

    return CustomerView(
        customer_id=cid, attributes=attributes, score=score, history=history, transactions=tx, channels=channels,
        segment=segment, stage=stage, referred_by=received["referrer_id"].iloc[0] if not received.empty else None,
        referrals=referrals, network_value=network, invoices=invoices.reset_index(drop=True), action=action, notes=notes,
    )
