"""Keeping campaigns with a control group: the ``campaigns`` table, and the purchases made after one.

One row per campaign (:data:`CAMPAIGN_COLUMNS`): which worklist it came from, the
valuation (``run_id``, ``as_of``) and filters it was drawn from, when it was made, the
share held out and the seed of the draw, and the two groups as lists of customer ids
(``contacted``, ``held_out``). Rows are only ever added: a campaign is a record of
what was decided, kept to be measured later (:func:`cvm.service.campaigns.evaluate_campaign`).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Sequence

import pandas as pd

from cvm.errors import SchemaError

#: columns of ``campaigns`` in storage order
CAMPAIGN_COLUMNS: dict[str, str] = {
    "campaign_id": "VARCHAR",
    "worklist": "VARCHAR",
    "created": "TIMESTAMP",
    "as_of": "TIMESTAMP",
    "run_id": "VARCHAR",
    "model": "VARCHAR",
    "holdout_share": "DOUBLE",
    "seed": "BIGINT",
    "filters": "VARCHAR",  # JSON
    "contacted": "VARCHAR[]",
    "held_out": "VARCHAR[]",
}


def _ensure_table(con: Any) -> None:
    cols = ", ".join(f'"{k}" {v}' for k, v in CAMPAIGN_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS campaigns ({cols})")


def new_campaign_id(created: datetime, worklist: str) -> str:
    """A readable, sortable id: ``<list>-YYYYMMDD-HHMMSS-<6 hex>``."""
    return f"{worklist.replace('_', '-')}-{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def save_campaign(ws: Any, *, worklist: str, as_of: Any, run_id: str | None, model: str | None,
                  holdout_share: float, seed: int, filters: dict[str, Any], contacted: Sequence[str],
                  held_out: Sequence[str]) -> dict[str, Any]:
    """Store a new campaign and return its row (as :func:`load_campaign` reads it)."""
    _ensure_table(ws.con)
    created = datetime.now().replace(microsecond=0)
    row = {
        "campaign_id": new_campaign_id(created, worklist), "worklist": worklist, "created": created,
        "as_of": pd.Timestamp(as_of).to_pydatetime(), "run_id": run_id, "model": model,
        "holdout_share": float(holdout_share), "seed": int(seed),
        "filters": json.dumps(filters, sort_keys=True, default=str),
        "contacted": [str(c) for c in contacted], "held_out": [str(c) for c in held_out],
    }
    names = ", ".join(f'"{k}"' for k in CAMPAIGN_COLUMNS)
    ws.con.execute(f"INSERT INTO campaigns ({names}) VALUES ({', '.join('?' for _ in CAMPAIGN_COLUMNS)})",
                   [row[k] for k in CAMPAIGN_COLUMNS])
    return _decoded(row)


def _has_table(ws: Any) -> bool:
    return bool(ws.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'campaigns' AND table_schema = 'main'"
    ).fetchall()[0][0])


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["filters"] = json.loads(out["filters"]) if isinstance(out.get("filters"), str) else (out.get("filters") or {})
    out["contacted"] = list(out.get("contacted") or [])
    out["held_out"] = list(out.get("held_out") or [])
    return out


def campaigns(ws: Any) -> pd.DataFrame:
    """Every campaign, newest first: id, list, created, as-of, share held out and the group sizes."""
    columns = ["campaign_id", "worklist", "created", "as_of", "holdout_share", "contacted", "held_out"]
    if not _has_table(ws):
        return pd.DataFrame(columns=columns)
    return ws.con.execute(
        "SELECT campaign_id, worklist, created, as_of, holdout_share, len(contacted) AS contacted, "
        "len(held_out) AS held_out FROM campaigns ORDER BY created DESC, campaign_id DESC").df()


def load_campaign(ws: Any, campaign_id: str | None = None) -> dict[str, Any]:
    """One stored campaign (default: the newest) with its groups.

    Raises
    ------
    SchemaError
        ``no_campaigns`` when none was made, ``unknown_campaign`` for an id not stored.
    """
    if not _has_table(ws):
        raise SchemaError.coded("no_campaigns")
    if campaign_id is None:
        cur = ws.con.execute("SELECT * FROM campaigns ORDER BY created DESC, campaign_id DESC LIMIT 1")
    else:
        cur = ws.con.execute("SELECT * FROM campaigns WHERE campaign_id = ?", [campaign_id])
    rows = cur.fetchall()
    found = rows[0] if rows else None
    if found is None:
        if campaign_id is None:
            raise SchemaError.coded("no_campaigns")
        raise SchemaError.coded("unknown_campaign", campaign=campaign_id)
    return _decoded(dict(zip([d[0] for d in cur.description], found)))


def purchases_after(ws: Any, customer_ids: Sequence[str], after: Any) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """What ``customer_ids`` bought from the day after ``after`` on, and the last moment of the data.

    Returns ``(frame, last)``: one row per customer in ``customer_ids`` (in that order, zeros for
    those who bought nothing) with ``purchases`` (days with a purchase, i.e. a positive amount,
    as the summaries count purchases at ``period="day"``) and ``amount`` (everything spent,
    returns subtracted); ``last`` is the latest transaction time after ``after`` in the whole
    workspace, None when no transaction came after it.
    """
    start = pd.Timestamp(after).normalize() + pd.Timedelta(days=1)
    ids = pd.DataFrame({"customer_id": [str(c) for c in customer_ids]})
    if not ws.has_table("transactions"):
        return ids.assign(purchases=0, amount=0.0), None
    last = ws.con.execute("SELECT max(ts) FROM transactions WHERE ts >= ?", [start]).fetchall()[0][0]
    view = f"campaign_ids_{uuid.uuid4().hex[:12]}"
    ws.con.register(view, ids)
    try:
        found = ws.con.execute(
            "SELECT i.customer_id, "
            "count(DISTINCT CASE WHEN t.amount > 0 THEN CAST(t.ts AS DATE) END) AS purchases, "
            "coalesce(sum(t.amount), 0.0) AS amount "
            f"FROM {view} i LEFT JOIN transactions t "
            "ON CAST(t.customer_id AS VARCHAR) = i.customer_id AND t.ts >= ? "
            "GROUP BY i.customer_id", [start]).df()
    finally:
        ws.con.unregister(view)
    out = ids.merge(found, on="customer_id", how="left")
    out["purchases"] = out["purchases"].fillna(0).astype(int)
    out["amount"] = out["amount"].fillna(0.0).astype(float)
    return out, (None if last is None else pd.Timestamp(last))
