"""The control group's mathematics (cvm.value.campaign): the draw, Welch's interval, the ratio, the verdict.

References: Welch's interval is checked against scipy.stats.ttest_ind(equal_var=False), an
independent implementation; the ratio's and the difference's coverage against simulations
with a known lift (tests/value/campaign_simulation.py gives the true values).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cvm.errors import SchemaError
from cvm.value.campaign import MIN_GROUP, campaign_effect, ratio_of_means, split_holdout, welch_difference
from tests.value.campaign_simulation import simulate_outcomes

DAYS, RATE, AMOUNT = 90, 0.02, 40.0


def test_holdout_draw_is_a_random_share_repeatable_and_independent_of_order():
    ids = [f"K{i:04d}" for i in range(1000)]
    contacted, held_out = split_holdout(ids, 0.1, seed=7)
    assert len(held_out) == 100 and len(contacted) == 900
    assert set(contacted).isdisjoint(held_out) and set(contacted) | set(held_out) == set(ids)
    assert contacted == [c for c in ids if c in set(contacted)]  # the list's order is kept
    assert split_holdout(ids, 0.1, seed=7) == (contacted, held_out)
    again = split_holdout(list(reversed(ids)), 0.1, seed=7)
    assert set(again[1]) == set(held_out)
    assert set(split_holdout(ids, 0.1, seed=8)[1]) != set(held_out)
    # chance decides: over many seeds each customer is held out about 10 % of the time
    counts = np.zeros(len(ids))
    index = {c: i for i, c in enumerate(ids)}
    for seed in range(200):
        for c in split_holdout(ids, 0.1, seed)[1]:
            counts[index[c]] += 1
    assert abs(counts.mean() / 200 - 0.1) < 1e-12
    assert counts.max() < 45  # Binomial(200, 0.1): mean 20, sd 4.2; 45 is 6 sd out
    for share in (0, 1, -0.1, 1.5):
        with pytest.raises(SchemaError, match="between 0 and 1"):
            split_holdout(ids, share, 1)


def test_welch_interval_equals_scipys_welch_test():
    rng = np.random.default_rng(3)
    a = rng.poisson(2.0, 300).astype(float)
    b = rng.poisson(1.6, 40).astype(float)
    mine = welch_difference(a, b, 0.95)
    reference = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert mine.difference == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    assert (mine.low, mine.high) == pytest.approx((reference.low, reference.high), rel=1e-10)
    narrow = welch_difference(a, b, 0.80)
    assert narrow.low > mine.low and narrow.high < mine.high


def test_welch_docstring_example_by_hand():
    # a = 1,2,3,4: mean 2.5, s^2 = 5/3; b = 1,1,2,2: mean 1.5, s^2 = 1/3; n = 4 each
    # se^2 = 5/12 + 1/12 = 1/2; df = (1/2)^2 / ((5/12)^2/3 + (1/12)^2/3) = 0.25 / (26/432) = 4.1538...
    d = welch_difference([1, 2, 3, 4], [1, 1, 2, 2])
    assert d.degrees_of_freedom == pytest.approx(0.25 / (26 / 432))
    half = stats.t.ppf(0.975, 0.25 / (26 / 432)) * np.sqrt(0.5)
    assert (d.low, d.high) == pytest.approx((1 - half, 1 + half))


def test_ratio_of_means_and_its_missing_cases():
    r = ratio_of_means([2, 4, 6, 8], [1, 2, 3, 4])
    assert r.ratio == pytest.approx(2.0) and r.low < 2.0 < r.high and r.lift == pytest.approx(1.0)
    assert ratio_of_means([1, 2], [0, 0]) is None  # nobody held out bought: no ratio exists


@pytest.mark.parametrize("lift", [0.0, 0.3])
def test_intervals_cover_the_true_effect_in_about_95_percent_of_campaigns(lift):
    """Coverage over 400 simulated campaigns (1,000 contacted, 250 held out): the true ratio is 1 + lift, the
    true spend difference lift * days * rate * amount (simulate_outcomes' docstring)."""
    rng = np.random.default_rng(11)
    true_ratio, true_value = 1 + lift, lift * DAYS * RATE * AMOUNT
    hits_ratio = hits_value = 0
    reps = 400
    for _ in range(reps):
        counts, spend = simulate_outcomes(1000, 250, DAYS, lift, rng, mean_rate=RATE, mean_amount=AMOUNT)
        effect = campaign_effect(counts[:1000], counts[1000:], spend[:1000], spend[1000:], 0.3, 5.0)
        hits_ratio += effect.purchase_ratio.low <= true_ratio <= effect.purchase_ratio.high
        hits_value += effect.value.low <= true_value <= effect.value.high
    # Binomial(400, 0.95): sd 1.1 %; 0.91 and 0.99 are about 3.5 sd either side
    assert 0.91 <= hits_ratio / reps <= 0.99
    assert 0.91 <= hits_value / reps <= 0.99


def test_a_known_lift_is_recovered_and_no_lift_covers_zero():
    rng = np.random.default_rng(5)
    counts, spend = simulate_outcomes(2000, 500, DAYS, 0.5, rng, mean_rate=RATE, mean_amount=AMOUNT)
    effect = campaign_effect(counts[:2000], counts[2000:], spend[:2000], spend[2000:], margin=0.3, cost_per_contact=2.0)
    assert effect.purchase_ratio.low <= 1.5 <= effect.purchase_ratio.high
    assert effect.purchase_ratio.low > 1.0  # the lift is found, not only allowed
    assert effect.value.low <= 0.5 * DAYS * RATE * AMOUNT <= effect.value.high
    # extra margin per contact 0.3 * 36 = 10.8 on average, well above a cost of 2
    assert effect.verdict == "paid" and effect.contribution.low > 2.0
    counts, spend = simulate_outcomes(2000, 500, DAYS, 0.0, rng, mean_rate=RATE, mean_amount=AMOUNT)
    none = campaign_effect(counts[:2000], counts[2000:], spend[:2000], spend[2000:], margin=0.3, cost_per_contact=5.0)
    assert none.purchases.low <= 0 <= none.purchases.high and none.value.low <= 0 <= none.value.high
    assert none.purchase_ratio.low <= 1 <= none.purchase_ratio.high
    # no extra margin: the interval's top (0.3 x about 2 standard errors of about 3.5) stays below 5 a contact
    assert none.verdict == "did_not_pay" and none.contribution.high < 5.0


def test_verdict_unclear_when_the_interval_straddles_the_cost_and_small_groups_refused():
    rng = np.random.default_rng(2)
    counts, spend = simulate_outcomes(60, 60, DAYS, 0.2, rng)
    effect = campaign_effect(counts[:60], counts[60:], spend[:60], spend[60:], 0.3,
                             cost_per_contact=0.3 * (0.2 * DAYS * RATE * AMOUNT))
    assert effect.contribution.low < effect.cost_per_contact < effect.contribution.high
    assert effect.verdict == "unclear"
    with pytest.raises(SchemaError, match="too few customers") as caught:
        campaign_effect(counts[:60], counts[60:60 + MIN_GROUP - 1], spend[:60], spend[60:60 + MIN_GROUP - 1], 0.3, 1)
    assert caught.value.code == "campaign_groups_too_small"
