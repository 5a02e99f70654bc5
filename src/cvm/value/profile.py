"""One row per customer with everything the questions group by.

:func:`customer_table` joins the scores of a run with the ``customers``
attributes, the acquisition channel (the ``acquisition_channel`` attribute, or
the channel of the first transaction), the acquisition cohort (month of the
first purchase) and the RFM segment.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from cvm.errors import SchemaError
from cvm.value.segments import rfm_segments

#: attribute names understood as the acquisition channel, in order of preference
CHANNEL_ATTRIBUTES = ("acquisition_channel", "channel", "kanaal")


def customer_attributes(customers: pd.DataFrame) -> pd.DataFrame:
    """The ``customers`` table (as :meth:`cvm.data.Workspace.customers` reads it) with ``customer_id``
    as text, the JSON ``attributes`` spread into columns and one row per customer (the last)."""
    if "customer_id" not in customers.columns:
        raise SchemaError("the customers table lacks customer_id", hint="re-ingest customers with --map customer_id=YourColumn")
    frame = customers.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    if "attributes" in frame.columns:
        frame = _expand_attributes(frame)
    return frame.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def _expand_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """Spread the JSON ``attributes`` column (extra columns kept by ingest) into columns.

    Text that reads as a number (``"8"``, ``"7,5"``) becomes a number.
    """
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


def customer_table(scores: pd.DataFrame, attrs: pd.DataFrame, first: pd.Series, rfm: bool = True) -> pd.DataFrame:
    """Scores of a run with attributes, channel, cohort and RFM segment (pure function).

    ``attrs`` is :func:`customer_attributes` of the ``customers`` table, ``first`` the channel
    of each customer's first transaction (by id). Added columns: every ``customers``
    attribute not already in the scores, ``channel`` (acquisition channel), ``cohort``
    (``YYYY-MM`` of the first purchase) and, with ``rfm=True``, ``R, F, M, rfm, rfm_segment``.
    """
    frame = scores.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    extra = [c for c in attrs.columns if c != "customer_id" and c not in frame.columns]
    if extra:
        frame = frame.merge(attrs[["customer_id", *extra]], on="customer_id", how="left")
    channel = None
    for name in CHANNEL_ATTRIBUTES:
        if name in frame.columns and frame[name].notna().any():
            channel = frame[name].astype(object)
            break
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
