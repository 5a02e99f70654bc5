"""How customers move between tiers, stages or segments from one date to another.

The transition matrix counts customers by their state at ``from_date`` (rows)
and at ``to_date`` (columns); row shares divide each row by its total, so a
row reads "of the gold customers in January, x % were still gold in June".
Customers who had not bought yet at the first date start in the row
``(not yet a customer)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cvm.errors import SchemaError
from cvm.value.segments import RFM_RULES, STAGES, rfm_segments

NOT_YET = "(not yet a customer)"
GONE = "(not scored)"


@dataclass
class MigrationResult:
    """Transition counts and row shares between two as-of dates."""

    by: str
    from_date: str
    to_date: str
    counts: pd.DataFrame
    shares: pd.DataFrame
    moved_up: int | None
    moved_down: int | None
    stayed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "from": self.from_date,
            "to": self.to_date,
            "counts": {str(k): {str(c): int(v) for c, v in row.items()} for k, row in self.counts.iterrows()},
            "shares": {str(k): {str(c): float(v) for c, v in row.items()} for k, row in self.shares.iterrows()},
            "moved_up": self.moved_up,
            "moved_down": self.moved_down,
            "stayed": self.stayed,
        }


def states(scores: pd.DataFrame, by: str) -> pd.Series:
    """Each customer's state by ``by`` (``rfm``, a tier, a stage or a column of ``scores``), indexed by id.

    Raises
    ------
    SchemaError
        ``scores`` has no such column.
    """
    if by in ("rfm", "rfm_segment"):
        seg = rfm_segments(scores, as_of=scores.attrs.get("as_of"))
        return seg.set_index(seg["customer_id"].astype(str))["rfm_segment"]
    column = state_column(by)
    if column not in scores.columns:
        raise SchemaError(f"cannot follow customers by '{by}'", hint="use value_tier, lifecycle_stage, rfm or a customer attribute")
    return scores.set_index(scores["customer_id"].astype(str))[column].astype(object)


def state_column(by: str) -> str:
    """The scores column ``by`` names (``tier`` → ``value_tier``, ``stage`` → ``lifecycle_stage``)."""
    return {"tier": "value_tier", "stage": "lifecycle_stage"}.get(by, by)


def transition_matrix(before: pd.Series, after: pd.Series, order: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row shares of states ``before`` -> ``after`` (two Series indexed by customer id)."""
    ids = before.index.union(after.index)
    b = before.reindex(ids).fillna(NOT_YET)
    a = after.reindex(ids).fillna(GONE)
    counts = pd.crosstab(b.rename("from"), a.rename("to"))
    if order:
        rows = [s for s in [NOT_YET, *order] if s in counts.index] + [s for s in counts.index if s not in order and s != NOT_YET]
        cols = [s for s in order if s in counts.columns] + [s for s in counts.columns if s not in order]
        counts = counts.loc[rows, cols]
    shares = counts.div(counts.sum(axis=1), axis=0)
    return counts, shares


def migration_result(before: pd.Series, after: pd.Series, by: str, from_date: Any, to_date: Any,
                     tiers: list[str]) -> MigrationResult:
    """Transition matrix between two sets of states (pure function; see :func:`cvm.service.migration`).

    ``tiers`` are the value tiers best first (``settings.tier_cutoffs``); ``moved_up`` /
    ``moved_down`` count customers whose tier rose or fell (tiers only; None otherwise).
    """
    order = None
    if by in ("value_tier", "tier"):
        order = list(tiers)
    elif by in ("lifecycle_stage", "stage"):
        order = STAGES
    elif by in ("rfm", "rfm_segment"):
        order = [r[0] for r in RFM_RULES]
    counts, shares = transition_matrix(before, after, order)
    common = before.index.intersection(after.index)
    stayed = int((before.reindex(common) == after.reindex(common)).sum())
    up = down = None
    if by in ("value_tier", "tier"):
        level = {name: i for i, name in enumerate(reversed(order))}  # bronze 0 ... platinum 3
        lb = before.reindex(common).map(level)
        la = after.reindex(common).map(level)
        up, down = int((la > lb).sum()), int((la < lb).sum())
    return MigrationResult(by, str(pd.Timestamp(from_date).date()), str(pd.Timestamp(to_date).date()), counts, shares, up, down, stayed)
