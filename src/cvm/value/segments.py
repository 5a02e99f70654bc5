"""Segments: value tiers, journey stages, RFM segments and group aggregates.

* **Value tier** — rank customers by predicted CLV; the top share above each
  cut-off of ``settings.tier_cutoffs`` gets that tier (default: top 5 %
  platinum, next 15 % gold, next 30 % silver, the rest bronze).
* **Journey stage** (seed 001: becoming, being and staying a customer) — rules
  of ``settings.stage_rules`` evaluated in order: prospect (no purchase yet),
  new (first purchase at most ``new_days`` before the as-of date), lapsed
  (P(alive) < ``lapsed_below``), at risk (P(alive) < ``at_risk_below``), loyal
  (at least ``loyal_min_purchases`` repeat purchases), otherwise active.
* **RFM** — quintile scores 1..5 (``ceil(5 * rank / n)``, ties share their mean rank) for recency (days since the last purchase,
  fewer is better), frequency (number of transactions) and monetary value
  (historic revenue); ``FM`` is the rounded-half-up mean of F and M. The
  segment is the first matching row of :data:`RFM_RULES`.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cvm.errors import SchemaError

#: RFM rule table: (segment, recency scores, FM scores); first match wins.
#: Every one of the 25 (R, FM) cells is covered exactly once by the first match.
RFM_RULES: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
    ("Champions", (4, 5), (4, 5)),
    ("Loyal customers", (3,), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New customers", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("Can't lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (2,), (1, 2)),
    ("Lost", (1,), (1, 2)),
]

STAGES = ["prospect", "new", "active", "loyal", "at risk", "lapsed"]


def rank_and_percentile(values: pd.Series, ids: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank 1 = highest value; percentile = 1 - (rank - 1) / n (top customer 1.0, last 1/n).

    Ties are broken by customer id (then position) so the ranking is reproducible.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    v = np.asarray(values, dtype=float)
    if ids is None or _in_text_order(ids):
        # ids already in text order (a summary comes sorted by id): their order is their position,
        # and one stable sort by value gives the same ranks as the sort by (value, id)
        order = np.argsort(-np.nan_to_num(v, nan=-np.inf), kind="stable")
    else:
        order = np.lexsort((text_order(ids), -np.nan_to_num(v, nan=-np.inf)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    return rank, 1.0 - (rank - 1) / n


def _in_text_order(values: Any) -> bool:
    """True when the texts ``values`` never decrease (UTF-8 bytes, as :func:`text_order` sorts them)."""
    text = _arrow_text(values)
    if text is None or text.null_count:
        return False
    if len(text) < 2:
        return True
    return not pc.any(pc.less(text.slice(1), text.slice(0, len(text) - 1))).as_py()


def _arrow_text(values: Any) -> pa.Array | None:
    """``values`` as one Arrow text array when they are held as Arrow-backed text already, else None."""
    array = getattr(values, "array", values)
    if not (isinstance(array, pd.api.extensions.ExtensionArray) and pd.api.types.is_string_dtype(array.dtype)):
        return None
    try:
        text = pa.array(array)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text if pa.types.is_string(text.type) or pa.types.is_large_string(text.type) else None


def text_order(values: Any) -> np.ndarray:
    """Each value's place (1..n) when the values are sorted as text, equal texts by position.

    Arrow sorts UTF-8 bytes, which is the order of Python's ``str`` comparison (code points).
    """
    text = pd.Series(values, copy=False)
    if not pd.api.types.is_string_dtype(text.dtype) or text.dtype == object:
        text = text.astype(str)
    return np.asarray(pc.rank(pa.array(text.array), sort_keys="ascending", tiebreaker="first"), dtype=np.int64)


def tier_codes(percentile: Iterable[float], cutoffs: dict[str, float]) -> tuple[np.ndarray, list[str]]:
    """:func:`assign_tiers` as codes into the tier names (highest cut-off first): ``(codes, names)``."""
    p = np.asarray(list(percentile) if not isinstance(percentile, (np.ndarray, pd.Series)) else percentile, dtype=float)
    ordered = sorted(cutoffs.items(), key=lambda kv: -kv[1])
    codes = np.full(len(p), len(ordered) - 1, dtype=np.int64)
    done = np.zeros(len(p), dtype=bool)
    for j, (_, cut) in enumerate(ordered):
        hit = ~done & (p > cut)
        codes[hit] = j
        done |= hit
    return codes, [name for name, _ in ordered]


def assign_tiers(percentile: Iterable[float], cutoffs: dict[str, float]) -> np.ndarray:
    """The highest tier whose cut-off the percentile exceeds (cut-offs as in ``settings.tier_cutoffs``).

    With the default cut-offs and 20 customers, rank 1 is platinum (percentile
    1.0 > 0.95), ranks 2-4 gold (0.95, 0.90, 0.85 > 0.80), ranks 5-10 silver,
    ranks 11-20 bronze.
    """
    codes, names = tier_codes(percentile, cutoffs)
    return np.asarray(names, dtype=object)[codes]


#: the journey stages in the order of their rules (first match wins), the default last
STAGE_RULE_ORDER = ["prospect", "new", "lapsed", "at risk", "loyal", "active"]


def stage_codes(
    frequency: Any,
    probability_alive: Any,
    days_since_first: Any,
    rules: Any,
    purchased: Any = None,
) -> np.ndarray:
    """:func:`lifecycle_stages` as codes into :data:`STAGE_RULE_ORDER`."""
    f = np.asarray(frequency, dtype=float)
    pa_ = np.asarray(probability_alive, dtype=float)
    age = np.asarray(days_since_first, dtype=float)
    bought = np.ones(len(f), dtype=bool) if purchased is None else np.asarray(purchased, dtype=bool)
    conditions = [
        ~bought,
        age <= rules.new_days,
        pa_ < rules.lapsed_below,
        pa_ < rules.at_risk_below,
        f >= rules.loyal_min_purchases,
    ]
    return np.select(conditions, list(range(5)), default=5)


def lifecycle_stages(
    frequency: Any,
    probability_alive: Any,
    days_since_first: Any,
    rules: Any,
    purchased: Any = None,
) -> np.ndarray:
    """Journey stage per customer from ``settings.stage_rules`` (see module docstring).

    ``purchased`` (bool) marks customers with at least one purchase; others are prospects.
    """
    codes = stage_codes(frequency, probability_alive, days_since_first, rules, purchased)
    return np.asarray(STAGE_RULE_ORDER, dtype=object)[codes]


def _quintile(values: pd.Series, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5 by rank: score = ceil(5 * rank / n) with rank 1 = worst; tied values share their mean rank."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=int)
    ranks = values.rank(method="average", ascending=higher_is_better).to_numpy()
    return np.ceil(5 * ranks / n).astype(int).clip(1, 5)


def rfm_segments(frame: pd.DataFrame, as_of: Any = None) -> pd.DataFrame:
    """RFM scores and the named segment of :data:`RFM_RULES` per customer.

    Parameters
    ----------
    frame
        One row per customer with ``last_purchase`` (timestamp) or ``recency`` and ``T``,
        a count (``n_transactions`` or ``frequency``), and a money column
        (``historic_value``, ``total_amount`` or ``monetary_value``).
    as_of
        The date recency is measured from (default: the latest ``last_purchase``).

    Returns
    -------
    DataFrame with ``customer_id``, ``R``, ``F``, ``M``, ``FM``, ``rfm`` (e.g. "545") and ``rfm_segment``.
    """
    frame = frame.reset_index() if "customer_id" not in frame.columns else frame
    if "customer_id" not in frame.columns:
        raise SchemaError("RFM needs a customer_id column")
    if "last_purchase" in frame.columns and frame["last_purchase"].notna().any():
        last = pd.to_datetime(frame["last_purchase"])
        ref = pd.Timestamp(as_of) if as_of is not None else last.max()
        since = (ref - last).dt.total_seconds() / 86400.0
    elif {"recency", "T"} <= set(frame.columns):
        since = frame["T"] - frame["recency"]
    else:
        raise SchemaError("RFM needs last_purchase or recency and T", hint="pass a scores or summary frame")
    count_col = next((c for c in ("n_transactions", "frequency") if c in frame.columns), None)
    money_col = next((c for c in ("historic_value", "total_amount", "monetary_value") if c in frame.columns), None)
    if count_col is None or money_col is None:
        raise SchemaError("RFM needs a purchase count and a money column", hint="pass a scores or summary frame")
    if count_col == "n_transactions":
        bought = (frame[count_col].fillna(0) > 0).to_numpy()
    else:
        bought = np.ones(len(frame), dtype=bool)
    data = frame.loc[bought]
    r = _quintile(pd.Series(np.asarray(since, dtype=float)[bought]), higher_is_better=False)
    f = _quintile(pd.Series(data[count_col].to_numpy(dtype=float)))
    m = _quintile(pd.Series(data[money_col].to_numpy(dtype=float)))
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    segment = np.full(len(r), "", dtype=object)
    for name, rs, fms in RFM_RULES:
        hit = (segment == "") & np.isin(r, rs) & np.isin(fm, fms)
        segment[hit] = name
    out = pd.DataFrame(
        {
            "customer_id": data["customer_id"].to_numpy(),
            "R": r,
            "F": f,
            "M": m,
            "FM": fm,
            "rfm": [f"{a}{b}{c}" for a, b, c in zip(r, f, m)],
            "rfm_segment": segment,
        }
    )
    return out


def aggregate(frame: pd.DataFrame, by: str | list[str], value_columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Counts, sums, means and shares of value columns per group.

    For each value column ``v`` the result holds ``v_sum``, ``v_mean`` and
    ``v_share`` (the group's sum over the grand total). ``customers`` counts
    rows and ``customer_share`` is the group's share of all rows.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise SchemaError(f"cannot group by {', '.join(missing)}", hint=f"columns: {', '.join(map(str, frame.columns))}")
    if value_columns is None:
        value_columns = [c for c in ("historic_value", "clv", "expected_purchases", "probability_alive") if c in frame.columns]
    value_columns = list(value_columns)
    data = frame.copy()
    for k in keys:
        data[k] = data[k].astype(object).where(data[k].notna(), "(unknown)")
    grouped = data.groupby(keys, sort=True, dropna=False)
    out = grouped.size().rename("customers").to_frame()
    out["customer_share"] = out["customers"] / max(len(data), 1)
    for col in value_columns:
        total = float(data[col].sum())
        out[f"{col}_sum"] = grouped[col].sum()
        out[f"{col}_mean"] = grouped[col].mean()
        if col != "probability_alive":
            out[f"{col}_share"] = out[f"{col}_sum"] / total if total else 0.0
    if "probability_alive" in value_columns:
        out = out.drop(columns=["probability_alive_sum"])
    return out.reset_index()


#: ``segments(by=...)`` names that map to a column of the customer table
SEGMENT_COLUMNS = {
    "rfm": "rfm_segment",
    "tier": "value_tier",
    "value_tier": "value_tier",
    "stage": "lifecycle_stage",
    "lifecycle_stage": "lifecycle_stage",
    "matrix": "matrix_segment",
    "channel": "channel",
    "cohort": "cohort",
}


def segment_summary(table: pd.DataFrame, by: str = "rfm") -> pd.DataFrame:
    """Customers and value per segment of a customer table: counts, sums, means and shares (pure function).

    ``by`` is a name of :data:`SEGMENT_COLUMNS` or any column of ``table`` (see
    :func:`cvm.service.segments`).
    """
    column = SEGMENT_COLUMNS.get(by, by)
    if column not in table.columns:
        raise SchemaError(
            f"cannot group customers by '{by}'",
            hint="use rfm, value_tier, lifecycle_stage, matrix, channel, cohort or a customer attribute: "
            + ", ".join(c for c in table.columns if table[c].dtype == object and c not in ("customer_id", "run_id"))[:300],
        )
    out = aggregate(table, column)
    out = out.rename(columns={column: "segment"})
    out.insert(0, "by", by)
    return out.sort_values("clv_sum" if "clv_sum" in out.columns else "customers", ascending=False).reset_index(drop=True)
