"""The worklists (cvm.value.actions.worklist): who is on which list, in which order, and the maximum sensible spend.

Every expected figure is computed by hand next to the assertion from the six customers below.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.settings import Settings
from cvm.value.actions import WORKLIST_COLUMNS, WORKLISTS, choose_actions, max_spend, value_at_risk, worklist
from cvm.value.explain import explain
from cvm.value.network import network_table

RULES = Settings().stage_rules  # at risk below 0.5


@pytest.fixture(scope="module")
def table():
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "name": ["Anna", "Bram", "Cor", "Dirk", None, "Fien"],
        "clv": [30.0, 2.0, 50.0, 20.0, 8.0, 60.0],
        "historic_value": [100.0, 500.0, 800.0, 5.0, 10.0, 60.0],
        "probability_alive": [0.25, 0.1, 0.1, 0.95, 0.9, 0.9],
        "percentile": [0.9, 0.3, 0.95, 0.5, 0.2, 0.6],
        "value_tier": ["gold", "bronze", "gold", "bronze", "bronze", "silver"],
        "lifecycle_stage": ["at risk", "lapsed", "lapsed", "new", "active", "loyal"],
        "max_investment": [25.0, 0.0, 45.0, 15.0, 3.0, 55.0],
        "overdue": [0.0, 0.0, 0.0, 0.0, 120.0, 0.0],
        "max_days_overdue": [0, 0, 0, 0, 40, 0],
        "segment": ["x", "y", "x", "y", "x", "y"],
    })


def lists(table, referrals=None):
    actions = choose_actions(table, RULES, top_tier="platinum")
    network = None if referrals is None else network_table(table, referrals, decay=0.5)
    return {name: worklist(name, table, actions, network, min_percentile=0.8, at_risk_below=0.5, decay=0.5)
            for name in WORKLISTS}


def test_who_is_on_which_list_and_the_most_they_are_worth_spending(table):
    referrals = pd.DataFrame({"referrer_id": ["f", "f"], "referred_id": ["d", "e"]})
    got = lists(table, referrals)
    for rows in got.values():
        assert list(rows.columns) == list(WORKLIST_COLUMNS)
    # retention: percentile above 0.8 and P(alive) below 0.5: a (0.9, 0.25) and c (0.95, 0.1);
    # value at risk min(clv (1 - p) / p, historic): a min(30 * 0.75 / 0.25 = 90, 100) = 90,
    # c min(50 * 0.9 / 0.1 = 450, 800) = 450; max spend at the default success chance 0.2:
    # a 0.2 * 90 = 18, c 0.2 * 450 = 90; most at risk first
    r = got["retention"]
    assert r["customer_id"].tolist() == ["c", "a"]
    assert r["max_spend"].tolist() == pytest.approx([90.0, 18.0])
    assert set(r["action"]) == {"retain"} and set(r["reason_code"]) == {"retain_high_value_at_risk"}
    # win back: lapsed with historic value above the median (median of 100, 500, 800, 5, 10, 60 = 80):
    # b and c; c is already the retention team's, so b only: 0.2 * min(2 * 0.9 / 0.1 = 18, 500) = 3.6
    w = got["win_back"]
    assert w["customer_id"].tolist() == ["b"] and w["max_spend"].tolist() == pytest.approx([3.6])
    assert w["reason_code"].tolist() == ["win_back_lapsed_spender"]
    # nurture: d (new); max spend its max_investment 15
    n = got["nurture"]
    assert n["customer_id"].tolist() == ["d"] and n["max_spend"].tolist() == [15.0]
    # collect: e owes 120; spend at most what is owed
    c = got["collect"]
    assert c["customer_id"].tolist() == ["e"] and c["max_spend"].tolist() == [120.0]
    assert c["reason_values"].iloc[0] == {"amount": 120.0, "days": 40}
    # referral thanks: f referred d (20) and e (8): referred value 28; q * 28 / 2 = 7
    t = got["referral_thanks"]
    assert t["customer_id"].tolist() == ["f"] and t["max_spend"].tolist() == pytest.approx([7.0])
    assert t["reason_values"].iloc[0] == {"referrals": 2, "value": 28.0}
    assert explain("thank_referrer", t["reason_values"].iloc[0], "nl") == \
        "Bracht klanten aan: 2, samen €\xa028,00 voorspelde waarde"
    # names and segments travel with the rows
    assert r.set_index("customer_id").loc["a", "name"] == "Anna" and r.set_index("customer_id").loc["c", "segment"] == "x"


def test_no_referrals_gives_an_empty_thanks_list_and_unknown_lists_are_refused(table):
    got = lists(table)
    assert got["referral_thanks"].empty and list(got["referral_thanks"].columns) == list(WORKLIST_COLUMNS)
    with pytest.raises(SchemaError, match="unknown worklist"):
        worklist("everyone", table, choose_actions(table, RULES, "platinum"), min_percentile=0.8, at_risk_below=0.5)


def test_value_at_risk_by_hand():
    # p = 0.25: 30 * 0.75 / 0.25 = 90; p = 1: nothing at risk; p = 0 or missing: no figure, 0
    assert value_at_risk([30.0, 10.0, 10.0, 10.0], [0.25, 1.0, 0.0, float("nan")]).tolist() == [90.0, 0.0, 0.0, 0.0]


def test_value_at_risk_is_bounded_by_what_the_customer_brought():
    # a: min(30 * 0.75 / 0.25 = 90, 50) = 50; b: min(90, 200) = 90; c: a negative historic value bounds at 0;
    # d: a missing historic value counts as nothing brought, 0
    got = value_at_risk([30.0, 30.0, 30.0, 30.0], [0.25, 0.25, 0.25, 0.25], [50.0, 200.0, -5.0, float("nan")])
    assert got.tolist() == pytest.approx([50.0, 90.0, 0.0, 0.0])


def test_the_nearly_lost_customer_gets_a_small_bounded_spend():
    # CLV 0.12, P(alive) 0.001, historic margin 40. The old rule clv (1 - p) / p said
    # 0.12 * 0.999 / 0.001 = 119.88. Bounded: min(119.88, 40) = 40, times the chance a contact
    # succeeds 0.2 = 8.00; never more than the value if kept (clv / p = 120) nor the historic 40.
    got = max_spend([0.12], [0.001], [40.0], 0.2)
    assert got.tolist() == pytest.approx([8.0])
    # with a large history the model's own figure binds: 0.2 * 119.88 = 23.976
    assert max_spend([0.12], [0.001], [1000.0], 0.2).tolist() == pytest.approx([23.976])
    # at success 1 it is the value at risk itself, never more
    assert max_spend([0.12], [0.001], [40.0], 1.0).tolist() == pytest.approx([40.0])
    with pytest.raises(SchemaError):
        max_spend([0.12], [0.001], [40.0], 0.0)
    # the demo's customer 02761 (the lead's example): CLV 0.1236477, P(alive) 0.00083515, historic margin 297.08.
    # Old: 0.1236477 * (1 - 0.00083515) / 0.00083515 = 148.0548 - 0.1236 = 147.93. New: 0.2 * min(147.93, 297.08) = 29.59
    old = value_at_risk([0.1236476802610407], [0.0008351481870486566])
    assert old.tolist() == pytest.approx([147.931], abs=0.001)
    new = max_spend([0.1236476802610407], [0.0008351481870486566], [297.084], 0.2)
    assert new.tolist() == pytest.approx([29.586], abs=0.001)


def test_the_success_chance_scales_the_win_back_and_retention_lists(table):
    actions = choose_actions(table, RULES, top_tier="platinum")
    got = worklist("retention", table, actions, min_percentile=0.8, at_risk_below=0.5, success=0.5)
    # c 0.5 * 450 = 225, a 0.5 * 90 = 45
    assert got["max_spend"].tolist() == pytest.approx([225.0, 45.0])
    low = table.assign(historic_value=[20.0, 500.0, 100.0, 5.0, 10.0, 60.0])
    got = worklist("retention", low, choose_actions(low, RULES, top_tier="platinum"), min_percentile=0.8,
                   at_risk_below=0.5, success=0.5)
    # the historic values now bind: c 0.5 * min(450, 100) = 50, a 0.5 * min(90, 20) = 10
    assert got["customer_id"].tolist() == ["c", "a"] and got["max_spend"].tolist() == pytest.approx([50.0, 10.0])
