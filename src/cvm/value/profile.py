"""One row per customer with everything the questions group by.

:func:`customer_table` joins the scores of a run with the ``customers``
attributes, the acquisition channel (the ``acquisition_channel`` attribute, or
the channel of the first transaction), the acquisition cohort (month of the
first purchase) and the RFM segment.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cvm.errors import SchemaError

#: attribute names understood as the acquisition channel, in order of preference
CHANNEL_ATTRIBUTES = ("acquisition_channel", "channel", "kanaal")


def read_customers(ws: Any) -> pd.DataFrame:
    """The ``customers`` table with ``customer_id`` as text (empty frame when absent)."""
    from cvm.value.clv import _has_table

    if not _has_table(ws, "customers"):
        return pd.DataFrame(columns=["customer_id"])
    frame = ws.con.execute("SELECT * FROM customers").df()
    if "customer_id" not in frame.columns:
        raise SchemaError("the customers table lacks customer_id", hint="re-ingest customers with --map customer_id=YourColumn")
    frame["customer_id"] = frame["customer_id"].astype(str)
    if "attributes" in frame.columns:
        frame = _expand_attributes(frame)
    return frame.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def _expand_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """Spread the JSON ``attributes`` column (extra columns kept by ingest) into columns.

    Text that reads as a number (``"8"``, ``"7,5"``) becomes a number.
    """
    import json

    def parse(text: Any) -> dict[str, Any]:
        if isinstance(text, dict):
            return text
        if not isinstance(text, str) or not text.strip():
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    extra = pd.DataFrame([parse(t) for t in frame["attributes"]], index=frame.index)
    extra = extra[[c for c in extra.columns if c not in frame.columns]]
    for col in extra.columns:
        as_text = extra[col].astype(str).str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(as_text.where(extra[col].notna()), errors="coerce")
        if numbers.notna().sum() == extra[col].notna().sum() and extra[col].notna().any():
            extra[col] = numbers
    return pd.concat([frame.drop(columns=["attributes"]), extra], axis=1)


def first_channels(ws: Any, as_of: Any = None) -> pd.Series:
    """Channel of each customer's first transaction (up to the as-of day), when transactions carry one."""
    from cvm.value.clv import _has_table

    if not _has_table(ws, "transactions"):
        return pd.Series(dtype=object)
    cols = {r[0] for r in ws.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'").fetchall()}
    if "channel" not in cols:
        return pd.Series(dtype=object)
    where, params = "", []
    if as_of is not None:
        where, params = "WHERE ts < ?", [pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    frame = ws.con.execute(
        f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, arg_min(channel, ts) AS channel FROM transactions {where} GROUP BY 1",
        params,
    ).df()
    return frame.set_index("customer_id")["channel"]


def customer_table(ws: Any, scores: pd.DataFrame | None = None, rfm: bool = True) -> pd.DataFrame:
    """Scores of a run (default the latest) with attributes, channel, cohort and RFM segment.

    Added columns: every ``customers`` attribute not already in the scores,
    ``channel`` (acquisition channel), ``cohort`` (``YYYY-MM`` of the first
    purchase) and, with ``rfm=True``, ``R, F, M, rfm, rfm_segment``.
    """
    from cvm.value.segments import rfm_segments
    from cvm.data.scores import latest_scores

    scores = latest_scores(ws) if scores is None else scores
    frame = scores.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    attrs = read_customers(ws)
    extra = [c for c in attrs.columns if c != "customer_id" and c not in frame.columns]
    if extra:
        frame = frame.merge(attrs[["customer_id", *extra]], on="customer_id", how="left")
    channel = None
    for name in CHANNEL_ATTRIBUTES:
        if name in frame.columns and frame[name].notna().any():
            channel = frame[name].astype(object)
            break
    first = first_channels(ws, scores.attrs.get("as_of"))
    from_tx = frame["customer_id"].map(first) if len(first) else pd.Series(None, index=frame.index, dtype=object)
    frame["channel"] = from_tx if channel is None else channel.where(channel.notna(), from_tx)
    if "first_purchase" in frame.columns:
        fp = pd.to_datetime(frame["first_purchase"])
        frame["cohort"] = fp.dt.strftime("%Y-%m").where(fp.notna(), "prospect")
    if rfm and len(frame):
        seg = rfm_segments(frame, as_of=scores.attrs.get("as_of"))
        frame = frame.merge(seg, on="customer_id", how="left")
        frame["rfm_segment"] = frame["rfm_segment"].fillna("Prospect")
    frame.attrs.update(scores.attrs)
    return frame
