"""Value tiers, journey stages, RFM segments and group aggregates, by hand."""

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.settings import Settings
from cvm.value.segments import RFM_RULES, aggregate, assign_tiers, lifecycle_stages, rank_and_percentile, rfm_segments


def test_tiers_on_twenty_customers():
    # CLV 20, 19, ..., 1: rank 1..20, percentile 1 - (rank - 1)/20 = 1.00, 0.95, ..., 0.05
    clv = pd.Series(np.arange(20, 0, -1, dtype=float))
    rank, pct = rank_and_percentile(clv)
    assert list(rank[:3]) == [1, 2, 3]
    assert pct[1] == pytest.approx(0.95)
    tiers = assign_tiers(pct, Settings().tier_cutoffs)
    # default cut-offs platinum > .95, gold > .80, silver > .50: ranks 1 | 2-4 | 5-10 | 11-20
    assert list(tiers[:1]) == ["platinum"]
    assert list(tiers[1:4]) == ["gold"] * 3
    assert list(tiers[4:10]) == ["silver"] * 6
    assert list(tiers[10:]) == ["bronze"] * 10


def test_ties_are_broken_by_customer_id():
    rank, _ = rank_and_percentile(pd.Series([5.0, 5.0, 9.0]), pd.Series(["z", "a", "m"]))
    assert list(rank) == [3, 2, 1]


def test_stage_rules_in_order():
    rules = Settings().stage_rules  # new_days 90, at_risk_below 0.5, lapsed_below 0.2, loyal_min_purchases 4
    stages = lifecycle_stages(
        frequency=[0, 5, 5, 5, 5, 2, 0],
        probability_alive=[0, 0.9, 0.1, 0.3, 0.9, 0.9, 0.05],
        days_since_first=[0, 30, 400, 400, 400, 400, 400],
        rules=rules,
        purchased=[False, True, True, True, True, True, True],
    )
    assert list(stages) == ["prospect", "new", "lapsed", "at risk", "loyal", "active", "lapsed"]


def test_rfm_rule_table_covers_every_cell_once_by_first_match():
    seen = {}
    for r in range(1, 6):
        for fm in range(1, 6):
            names = [name for name, rs, fms in RFM_RULES if r in rs and fm in fms]
            assert names, f"cell R={r} FM={fm} has no segment"
            seen[(r, fm)] = names[0]
    assert seen[(5, 5)] == "Champions" and seen[(1, 1)] == "Lost" and seen[(1, 5)] == "Can't lose them"
    assert seen[(5, 1)] == "New customers" and seen[(3, 3)] == "Need attention"
    assert len(set(seen.values())) == 11


def test_rfm_scores_on_five_customers():
    # five customers -> quintile score = rank among 5 (1 worst .. 5 best)
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "last_purchase": pd.to_datetime(["2024-06-29", "2024-06-01", "2024-05-01", "2024-01-01", "2023-06-01"]),
        "n_transactions": [10, 8, 1, 6, 1],
        "historic_value": [500.0, 400.0, 10.0, 300.0, 5.0],
    })
    out = rfm_segments(frame, as_of="2024-06-30").set_index("customer_id")
    # a: R5 F5 M5 -> FM 5 -> Champions;  b: R4 F4 M4 -> Champions
    assert out.loc["a", "rfm_segment"] == "Champions" and out.loc["a", "rfm"] == "555"
    assert out.loc["b", "rfm_segment"] == "Champions"
    # c: R3; F: c and e tie (1 transaction) at mean rank 1.5 -> ceil(5 * 1.5 / 5) = 2; M2 -> FM 2 -> About to sleep
    assert (out.loc["c", "R"], out.loc["c", "F"], out.loc["c", "M"]) == (3, 2, 2)
    assert out.loc["c", "rfm_segment"] == "About to sleep"
    # d: R2, F3, M3 -> FM 3 -> At risk;  e: R1 F2 (tie) M1 -> FM round(1.5 half up) = 2 -> Lost
    assert out.loc["d", "rfm_segment"] == "At risk"
    assert out.loc["e", "rfm_segment"] == "Lost"


def test_aggregate_counts_sums_means_shares():
    frame = pd.DataFrame({"customer_id": list("abcd"), "city": ["Delft", "Delft", "Gouda", None], "clv": [10.0, 30.0, 60.0, 0.0]})
    out = aggregate(frame, "city", ["clv"]).set_index("city")
    assert out.loc["Delft", "customers"] == 2
    assert out.loc["Delft", "clv_sum"] == 40.0 and out.loc["Delft", "clv_mean"] == 20.0
    assert out.loc["Delft", "clv_share"] == pytest.approx(0.4)
    assert out.loc["(unknown)", "customer_share"] == pytest.approx(0.25)
    with pytest.raises(SchemaError):
        aggregate(frame, "nope")
