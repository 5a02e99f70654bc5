"""The 360-degree view of one customer, collected from a workspace (:class:`cvm.value.customer.CustomerView`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cvm.data.warehouse import Workspace
from cvm.errors import SchemaError
from cvm.service.questions import next_best_actions
from cvm.value.customer import CustomerView
from cvm.value.network import clean_referrals, referral_network_value
from cvm.value.profile import customer_attributes
from cvm.value.receivables import clean_invoices, invoice_status
from cvm.value.segments import rfm_segments
from cvm.data.scores import latest_scores


def customer_view(ws: Workspace, customer_id: Any, max_transactions: int = 200) -> CustomerView:
    """Collect the 360-degree view of ``customer_id``.

    Raises
    ------
    SchemaError
        When the id is in neither ``transactions`` nor ``customers`` (the hint
        lists similar ids).
    """
    cid = str(customer_id).strip()
    attrs = customer_attributes(ws.customers())
    row = attrs[attrs["customer_id"] == cid]
    in_tx = ws.has_purchases(cid)
    if row.empty and not in_tx:
        like = ws.similar_customer_ids(cid)
        if like:
            raise SchemaError.coded("unknown_customer", customer=cid, similar=like)
        raise SchemaError.coded("unknown_customer_none_similar", customer=cid)
    notes: list[str] = []
    attributes = {k: v for k, v in row.iloc[0].items() if k not in ("customer_id", "source", "line") and pd.notna(v)} if not row.empty else {}

    tx = pd.DataFrame()
    channels = pd.DataFrame()
    if in_tx:
        tx, channels = ws.customer_purchases(cid, max_transactions)

    score = None
    history = ws.score_history(cid)
    segment = stage = None
    action = None
    if ws.has_table("scores"):
        latest = latest_scores(ws)
        mine = latest[latest["customer_id"].astype(str) == cid]
        if mine.empty:
            notes.append("not in the latest scoring run: score again to include this customer")
        else:
            score = {k: v for k, v in mine.iloc[0].items() if k not in ("customer_id",) and not (isinstance(v, float) and pd.isna(v))}
            score["as_of"] = latest.attrs.get("as_of")
            score["model"] = latest.attrs.get("model")
            stage = str(mine.iloc[0]["lifecycle_stage"])
            rfm = rfm_segments(latest, as_of=latest.attrs.get("as_of"))
            hit = rfm[rfm["customer_id"].astype(str) == cid]
            segment = str(hit.iloc[0]["rfm_segment"]) if not hit.empty else "Prospect"
            actions = next_best_actions(ws, latest, customers=[cid])
            a = actions[actions["customer_id"].astype(str) == cid]
            if not a.empty:
                action = {k: a.iloc[0][k] for k in ("action", "reason", "reason_code", "reason_values") if k in a.columns}
    else:
        notes.append("no scoring run yet: run 'cvm score' for value, P(alive) and actions")

    refs = clean_referrals(ws.referrals())
    given = refs[refs["referrer_id"] == cid]
    received = refs[refs["referred_id"] == cid]
    referrals = pd.concat([given.assign(direction="given"), received.assign(direction="received")], ignore_index=True)
    referrals = referrals[[c for c in ("direction", "referrer_id", "referred_id", "ts") if c in referrals.columns]]
    network = 0.0
    if not given.empty and score is not None:
        values = latest.set_index(latest["customer_id"].astype(str))["clv"]
        nv = referral_network_value(refs, values, decay=ws.settings.referral_decay)
        network = float(nv.loc[cid, "network_value"]) if cid in nv.index else 0.0

    invoices = clean_invoices(ws.invoices())
    invoices = invoices[invoices["customer_id"] == cid]
    if not invoices.empty:
        as_of = score["as_of"] if score else pd.Timestamp.now().normalize()
        invoices = invoice_status(invoices, as_of)[["invoice_id", "issued", "due", "paid", "amount", "outstanding", "days_late", "days_overdue", "bucket"]].sort_values("issued", kind="stable")
        # "days overdue" is a property of money still owed: a paid invoice has none (blank), not 0 days
        invoices["days_overdue"] = invoices["days_overdue"].where(invoices["bucket"] != "paid")

    return CustomerView(
        customer_id=cid, attributes=attributes, score=score, history=history, transactions=tx, channels=channels,
        segment=segment, stage=stage, referred_by=received["referrer_id"].iloc[0] if not received.empty else None,
        referrals=referrals, network_value=network, invoices=invoices.reset_index(drop=True), action=action, notes=notes,
    )
