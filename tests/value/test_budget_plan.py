"""What a retention budget buys (cvm.value.investment.budget_plan) and who is at stake on the overview
(cvm.service.overview.at_stake), against hand computation."""

from __future__ import annotations

import pandas as pd
import pytest

from cvm.service.overview import at_stake
from cvm.value.investment import budget_plan, retention_allocation

# Four customers, a contact costs 10, uplift 0.5. Value at risk = clv (1 - p) / p; saving = 0.5 x that:
#   a: clv 60, p 0.5  -> at risk 60,  saving 30 (3.0 per euro), kept 0.5 x 0.5 = 0.25
#   b: clv 20, p 0.25 -> at risk 60,  saving 30 (3.0 per euro), kept 0.5 x 0.75 = 0.375
#   c: clv 30, p 0.6  -> at risk 20,  saving 10 (1.0 per euro: not more than the cost, not worth it)
#   d: clv 90, p 0.75 -> at risk 30,  saving 15 (1.5 per euro), kept 0.5 x 0.25 = 0.125
SCORES = pd.DataFrame({"customer_id": list("abcd"), "clv": [60.0, 20.0, 30.0, 90.0],
                       "probability_alive": [0.5, 0.25, 0.6, 0.75],
                       "clv_low": [30.0, 10.0, 15.0, 45.0], "clv_high": [120.0, 40.0, 60.0, 180.0]})


def plan(budget):
    return budget_plan(retention_allocation(SCORES, budget, 10.0, 0.5), budget, 0.5)


def test_a_budget_for_two_contacts_buys_the_two_best_and_says_more_would_pay():
    p = plan(20)
    assert (p.selected, p.spend) == (2, 20.0)
    assert p.value_protected == pytest.approx(60.0)  # 30 + 30
    assert p.customers_kept == pytest.approx(0.625)  # 0.25 + 0.375
    assert p.roi == pytest.approx(2.0)  # (60 - 20) / 20
    # interval from clv_low / clv_high: half and double the savings -> (30 - 20) / 20 and (120 - 20) / 20
    assert (p.roi_low, p.roi_high) == (pytest.approx(0.5), pytest.approx(5.0))
    assert p.status == "more_would_pay" and p.next_euro == pytest.approx(1.5)  # d is next: 15 per 10
    assert (p.worth_contacting, p.budget_needed) == (3, 30.0)


def test_a_budget_larger_than_pays_leaves_money_unused():
    p = plan(100)
    assert (p.selected, p.spend, p.status, p.unused) == (3, 30.0, "too_large", 70.0)
    assert p.next_euro is None


def test_a_budget_below_one_contact_is_too_small():
    p = plan(5)
    assert (p.selected, p.spend, p.status) == (0, 0.0, "too_small")
    assert p.roi is None


def test_no_customer_worth_a_contact():
    p = budget_plan(retention_allocation(SCORES, 100, 1000.0, 0.5), 100, 0.5)
    assert (p.selected, p.status, p.worth_contacting) == (0, "no_one_worth", 0)


def test_the_overview_names_the_top_customers_at_risk():
    # clv 90, 60, 30, 20 of 200: 80% = 160 needs 90 + 60 + 30 = 180 -> three customers (d, a, c);
    # of them P(alive) below 0.55: a (0.5) -> one customer, 60 of value
    stake = at_stake(SCORES, 0.55)
    assert stake.concentration.customers_needed == 3
    assert (stake.at_risk, stake.at_risk_value) == (1, 60.0)


def test_the_interval_caps_each_customer_by_their_own_margin():
    """The bounds use each customer's own margin so far, whatever order the plan sorts them in.

    By hand, uplift 0.5, a contact costs 1: x (clv 1, p 0.5, margin 100) has value at risk 1 (low 0.5,
    high 2): saving 0.5 (0.25, 1); y (clv 10, p 0.01, margin 5): 10 x 0.99 / 0.01 = 990, capped at its
    margin 5: saving 2.5, and so are its bounds (low 495 and high 1,980 are capped at 5 too).
    y sorts first (2.5 per euro), which used to pair y's bounds with x's margin of 100
    (low 0.5 x 100 = 50 > the point 2.5) and x's with y's margin.
    """
    scores = pd.DataFrame({"customer_id": ["x", "y"], "clv": [1.0, 10.0], "probability_alive": [0.5, 0.01],
                           "clv_low": [0.5, 5.0], "clv_high": [2.0, 20.0], "historic_value": [100.0, 5.0]})
    allocation = retention_allocation(scores, 10.0, 0.1, 0.5).set_index("customer_id")
    assert allocation.loc["y", ["expected_saving", "saving_low", "saving_high"]].tolist() == pytest.approx([2.5, 2.5, 2.5])
    assert allocation.loc["x", ["expected_saving", "saving_low", "saving_high"]].tolist() == pytest.approx([0.5, 0.25, 1.0])
    p = budget_plan(retention_allocation(scores, 10.0, 0.1, 0.5), 10.0, 0.5)
    assert p.value_protected_low <= p.value_protected <= p.value_protected_high
    assert (p.value_protected_low, p.value_protected, p.value_protected_high) == (
        pytest.approx(2.75), pytest.approx(3.0), pytest.approx(3.5))
