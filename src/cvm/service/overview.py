"""The overview's question: who makes most of the value, and which of them are slipping away.

The concentration of predicted value (:func:`cvm.value.concentration.concentration`) names the
fewest customers who together make ``share`` (80 %) of it; of those, the ones whose P(alive) is below
the at-risk line of the stage rules (``settings.stage_rules.at_risk_below``) are the retention team's
first calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvm.data.scores import latest_scores
from cvm.data.warehouse import Workspace
from cvm.value.concentration import ConcentrationResult
from cvm.value.concentration import concentration as concentration_of


@dataclass
class ValueAtStake:
    """The concentration of predicted value and the valuable customers at risk among its top customers."""

    concentration: ConcentrationResult
    at_risk: int
    at_risk_value: float
    at_risk_below: float

    def to_dict(self) -> dict:
        return {"concentration": self.concentration.to_dict(), "at_risk": self.at_risk,
                "at_risk_value": self.at_risk_value, "at_risk_below": self.at_risk_below}


def at_stake(scores: pd.DataFrame, at_risk_below: float, share: float = 0.8) -> ValueAtStake:
    """:class:`ValueAtStake` of a scores frame (pure function).

    The top customers are the ``customers_needed`` highest CLVs (ties in the order of the frame, as
    the concentration takes them); a customer without a P(alive) is not counted as at risk.

    Examples
    --------
    Values 50, 30, 10, 10: 80 % of 100 needs the top two (50 + 30); of them the one with P(alive) 0.3
    is below 0.5.

    >>> s = pd.DataFrame({"customer_id": list("abcd"), "clv": [50.0, 30.0, 10.0, 10.0],
    ...                   "probability_alive": [0.9, 0.3, 0.1, 0.8]})
    >>> r = at_stake(s, 0.5)
    >>> r.concentration.customers_needed, r.at_risk, r.at_risk_value
    (2, 1, 30.0)
    """
    conc = concentration_of(scores, column="clv", share=share)
    values = pd.to_numeric(scores["clv"], errors="coerce").fillna(0.0).to_numpy(float)
    order = np.argsort(-values, kind="stable")[: conc.customers_needed]
    alive = pd.to_numeric(scores["probability_alive"], errors="coerce").to_numpy(float)[order]
    risky = alive < at_risk_below
    return ValueAtStake(conc, int(risky.sum()), float(values[order][risky].sum()), float(at_risk_below))


def value_at_stake(ws: Workspace, scores: pd.DataFrame | None = None, share: float = 0.8) -> ValueAtStake:
    """:func:`at_stake` of a run (default the latest) with the workspace's at-risk line."""
    scores = latest_scores(ws) if scores is None else scores
    return at_stake(scores, ws.settings.stage_rules.at_risk_below, share)
