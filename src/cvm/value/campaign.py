"""Did the campaign pay? A control group drawn at random, and the measured difference with its interval.

A worklist becomes a **campaign** when a random share of it is held out
(:func:`split_holdout`): those customers are not contacted. Because chance alone
decided who was held out, any difference in what the two groups buy afterwards is
the campaign's effect, up to sampling noise, which the interval measures. This is
the measured answer to "does our retention spend pay?", not a model's guess.

Per customer the outcome is counted over the same window for both groups
(purchases: days with a purchase; value: the amount spent). For each outcome
:func:`welch_difference` gives the difference of the group means with
**Welch's t interval** (Welch 1947; degrees of freedom of Satterthwaite 1946):

.. math::

    \\Delta = \\bar x_c - \\bar x_h, \\qquad
    se = \\sqrt{s_c^2/n_c + s_h^2/n_h}, \\qquad
    \\nu = \\frac{(s_c^2/n_c + s_h^2/n_h)^2}{\\frac{(s_c^2/n_c)^2}{n_c - 1} + \\frac{(s_h^2/n_h)^2}{n_h - 1}},

    \\Delta \\pm t_{(1+\\text{level})/2,\\,\\nu}\\; se.

Welch's interval does not assume equal variances in the two groups; for the
skewed counts and amounts of customers it relies on the central limit theorem,
hence the minimum group size :data:`MIN_GROUP`.

The **purchase lift** (:func:`ratio_of_means`) is the ratio of the mean purchases,
``r = x̄_c / x̄_h`` (a multiplicative lift ``1 + l`` on every contacted customer's
purchase rate gives ``r → 1 + l``), with the delta-method interval on the log
scale (e.g. Casella & Berger 2002, *Statistical Inference*, §5.5.4):

.. math::

    \\operatorname{se}(\\log r) \\approx \\sqrt{\\frac{s_c^2}{n_c \\bar x_c^2} + \\frac{s_h^2}{n_h \\bar x_h^2}},
    \\qquad r \\exp(\\pm t_{(1+\\text{level})/2,\\,\\nu'}\\, \\operatorname{se}(\\log r)),

with ``ν'`` Satterthwaite's degrees of freedom of the two terms under the root.

**Paid or not** (:func:`campaign_effect`): each contacted customer brought in, on
average, ``margin × Δvalue`` of extra margin; the campaign paid when the lower end
of that interval exceeds the cost per contact, did not pay when the upper end is
below it, and is not yet clear otherwise.

References
----------
Welch, B. L. (1947). The generalization of 'Student's' problem when several different
population variances are involved. *Biometrika* 34, 28-35.
Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
components. *Biometrics Bulletin* 2, 110-114.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from cvm.errors import SchemaError

#: fewest customers in each group before a difference is measured (Welch's interval leans on the
#: central limit theorem; below about 20 customers per group its coverage of skewed outcomes is poor)
MIN_GROUP = 20
#: the verdicts of :func:`campaign_effect` (words: ``campaign.verdict.<code>`` in the catalogue)
VERDICTS = ("paid", "did_not_pay", "unclear")


def split_holdout(customer_ids: Sequence[Any], share: float, seed: int) -> tuple[list[str], list[str]]:
    """Hold out a random ``share`` of ``customer_ids``: ``(contacted, held_out)``, each in the given order.

    ``round(share * n)`` customers are held out, drawn without replacement by NumPy's
    ``default_rng(seed)``: the same ids, share and seed give the same groups (the draw
    depends on the ids as a set, not on their order).

    Raises
    ------
    SchemaError
        When ``share`` is not strictly between 0 and 1.

    Examples
    --------
    >>> contacted, held_out = split_holdout([f"c{i}" for i in range(10)], 0.3, seed=1)
    >>> len(contacted), len(held_out)
    (7, 3)
    """
    if not 0 < share < 1:
        raise SchemaError.coded("holdout_share", share=share)
    ids = [str(c) for c in customer_ids]
    n_out = int(round(share * len(ids)))
    ranked = sorted(set(ids))
    draw = np.random.default_rng(seed).permutation(len(ranked))[:n_out]
    out = {ranked[i] for i in draw}
    return [c for c in ids if c not in out], [c for c in ids if c in out]


@dataclass(frozen=True)
class Difference:
    """Difference of the mean of an outcome between contacted and held-out customers, with Welch's interval."""

    contacted_mean: float
    held_out_mean: float
    difference: float
    low: float
    high: float
    degrees_of_freedom: float | None
    level: float


def _t_quantile(level: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df))


def _satterthwaite(a: float, b: float, n_a: int, n_b: int) -> float | None:
    """Satterthwaite's degrees of freedom of ``a + b`` (variance terms of groups of sizes n_a, n_b)."""
    den = a * a / (n_a - 1) + b * b / (n_b - 1)
    return None if den <= 0 else (a + b) ** 2 / den


def _checked(contacted: Any, held_out: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(contacted, dtype=float)
    b = np.asarray(held_out, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise SchemaError.coded("campaign_groups_too_small", contacted=len(a), held_out=len(b), minimum=2)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise SchemaError("campaign outcomes must be finite numbers")
    return a, b


def welch_difference(contacted: Any, held_out: Any, level: float = 0.95) -> Difference:
    """Mean of ``contacted`` minus mean of ``held_out`` with Welch's ``level`` interval (formula in the module docstring).

    Examples
    --------
    >>> d = welch_difference([1, 2, 3, 4], [1, 1, 2, 2])
    >>> round(d.difference, 3), round(d.low, 3), round(d.high, 3)
    (1.0, -0.935, 2.935)
    """
    a, b = _checked(contacted, held_out)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    df = _satterthwaite(va, vb, len(a), len(b))
    half = 0.0 if df is None else _t_quantile(level, df) * float(np.sqrt(va + vb))
    return Difference(float(a.mean()), float(b.mean()), diff, diff - half, diff + half, df, level)


@dataclass(frozen=True)
class Ratio:
    """Ratio of the group means (``1 + lift``) with the delta-method interval on the log scale."""

    ratio: float
    low: float
    high: float
    level: float

    @property
    def lift(self) -> float:
        return self.ratio - 1.0


def ratio_of_means(contacted: Any, held_out: Any, level: float = 0.95) -> Ratio | None:
    """``mean(contacted) / mean(held_out)`` with its interval; None when either mean is zero (no ratio exists)."""
    a, b = _checked(contacted, held_out)
    ma, mb = float(a.mean()), float(b.mean())
    if ma <= 0 or mb <= 0:
        return None
    wa, wb = a.var(ddof=1) / (len(a) * ma * ma), b.var(ddof=1) / (len(b) * mb * mb)
    df = _satterthwaite(wa, wb, len(a), len(b))
    half = 0.0 if df is None else _t_quantile(level, df) * float(np.sqrt(wa + wb))
    r = ma / mb
    return Ratio(r, r * float(np.exp(-half)), r * float(np.exp(half)), level)


@dataclass(frozen=True)
class CampaignEffect:
    """What a campaign did, measured on its control group (:func:`campaign_effect`).

    ``contribution`` is the extra margin per contacted customer (``margin × Δvalue``) with
    its interval; ``verdict`` one of :data:`VERDICTS`.
    """

    n_contacted: int
    n_held_out: int
    purchases: Difference
    value: Difference
    purchase_ratio: Ratio | None
    margin: float
    cost_per_contact: float
    contribution: Difference
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["purchase_lift"] = None if self.purchase_ratio is None else {
            "lift": self.purchase_ratio.lift, "low": self.purchase_ratio.low - 1, "high": self.purchase_ratio.high - 1}
        return out


def campaign_effect(
    purchases_contacted: Any, purchases_held_out: Any, value_contacted: Any, value_held_out: Any,
    margin: float, cost_per_contact: float, level: float = 0.95, min_group: int = MIN_GROUP,
) -> CampaignEffect:
    """Compare contacted and held-out customers (one value per customer, same window for both).

    Parameters
    ----------
    purchases_contacted, purchases_held_out
        Purchases per customer in the window, zeros included.
    value_contacted, value_held_out
        Amount spent per customer in the window, zeros included.
    margin
        Share of an amount that is margin (the valuation's margin).
    cost_per_contact
        What contacting one customer cost.
    level
        Of the intervals.
    min_group
        Fewest customers per group; fewer is refused.

    Raises
    ------
    SchemaError
        ``campaign_groups_too_small`` when a group has fewer than ``min_group`` customers.
    """
    n_c, n_h = len(purchases_contacted), len(purchases_held_out)
    if min(n_c, n_h) < max(min_group, 2):
        raise SchemaError.coded("campaign_groups_too_small", contacted=n_c, held_out=n_h, minimum=max(min_group, 2))
    purchases = welch_difference(purchases_contacted, purchases_held_out, level)
    value = welch_difference(value_contacted, value_held_out, level)
    contribution = Difference(margin * value.contacted_mean, margin * value.held_out_mean, margin * value.difference,
                              margin * value.low, margin * value.high, value.degrees_of_freedom, level)
    if contribution.low > cost_per_contact:
        verdict = "paid"
    elif contribution.high < cost_per_contact:
        verdict = "did_not_pay"
    else:
        verdict = "unclear"
    return CampaignEffect(n_c, n_h, purchases, value, ratio_of_means(purchases_contacted, purchases_held_out, level),
                          float(margin), float(cost_per_contact), contribution, verdict)
