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


def _states(ws: Any, scores: pd.DataFrame, by: str) -> pd.Series:
    if by in ("rfm", "rfm_segment"):
        from cvm.value.segments import rfm_segments

        seg = rfm_segments(scores, as_of=scores.attrs.get("as_of"))
        return seg.set_index(seg["customer_id"].astype(str))["rfm_segment"]
    column = {"tier": "value_tier", "stage": "lifecycle_stage"}.get(by, by)
    if column not in scores.columns:
        from cvm.value.profile import customer_table

        scores = customer_table(ws, scores, rfm=False)
        if column not in scores.columns:
            raise SchemaError(f"cannot follow customers by '{by}'", hint="use value_tier, lifecycle_stage, rfm or a customer attribute")
    return scores.set_index(scores["customer_id"].astype(str))[column].astype(object)


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


def _scores_at(ws: Any, as_of: Any, **score_options: Any) -> pd.DataFrame:
    """Stored scores as of a date, scoring (and storing) that date first if no run exists."""
    from cvm.data.scores import load_scores
    from cvm.errors import WorkspaceError
    from cvm.value.clv import score_customers

    try:
        return load_scores(ws, as_of=as_of)
    except WorkspaceError:
        return score_customers(ws, as_of=as_of, **score_options)


def migration(ws: Any, from_date: Any, to_date: Any, by: str = "value_tier", **score_options: Any) -> MigrationResult:
    """Transition matrix between two as-of dates.

    Stored runs at exactly those dates are used (the latest one per date); a
    date never scored is scored first with ``score_options`` (and stored).

    ``moved_up`` / ``moved_down`` count customers whose value tier rose or fell
    (tiers only; None for other groupings).
    """
    from cvm.value.clv import resolve_as_of

    if pd.Timestamp(from_date) >= pd.Timestamp(to_date):
        raise SchemaError("--from must be before --to", hint=f"got {from_date} and {to_date}")
    resolve_as_of(ws, to_date)  # a --to beyond the data is refused before --from is scored
    first = _scores_at(ws, from_date, **score_options)
    second = _scores_at(ws, to_date, **score_options)
    before, after = _states(ws, first, by), _states(ws, second, by)
    order = None
    if by in ("value_tier", "tier"):
        order = list(ws.settings.tier_cutoffs)
    elif by in ("lifecycle_stage", "stage"):
        from cvm.value.segments import STAGES

        order = STAGES
    elif by in ("rfm", "rfm_segment"):
        from cvm.value.segments import RFM_RULES

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
