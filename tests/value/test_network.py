"""Referral-network value on a chain three steps deep."""

import pandas as pd
import pytest

from cvm.value.network import referral_network_value


def test_chain_three_steps_deep():
    # a -> b -> c -> d, plus a -> e; values b 100, c 40, d 20, e 10; decay q = 0.5
    refs = pd.DataFrame({"referrer_id": ["a", "b", "c", "a"], "referred_id": ["b", "c", "d", "e"]})
    values = pd.Series({"a": 5.0, "b": 100.0, "c": 40.0, "d": 20.0, "e": 10.0})
    out = referral_network_value(refs, values, decay=0.5)
    # a: depth 1 b, e -> 0.5 * (100 + 10) = 55; depth 2 c -> 0.25 * 40 = 10; depth 3 d -> 0.125 * 20 = 2.5; total 67.5
    assert out.loc["a", "network_value"] == pytest.approx(67.5)
    # b: 0.5 * 40 + 0.25 * 20 = 25;  c: 0.5 * 20 = 10;  d and e refer nobody
    assert out.loc["b", "network_value"] == pytest.approx(25.0)
    assert out.loc["c", "network_value"] == pytest.approx(10.0)
    assert out.loc["d", "network_value"] == 0.0
    assert out.loc["a", "referrals_given"] == 2
    assert out.loc["a", "referred_value"] == pytest.approx(110.0)
    assert out.loc["a", "network_size"] == 4
    assert out.loc["d", "referred_by"] == "c"


def test_max_depth_cuts_the_chain_and_cycles_terminate():
    refs = pd.DataFrame({"referrer_id": ["a", "b", "c"], "referred_id": ["b", "c", "a"]})  # a cycle
    values = pd.Series({"a": 8.0, "b": 8.0, "c": 8.0})
    out = referral_network_value(refs, values, decay=0.5, max_depth=2)
    # a: 0.5 * 8 (b) + 0.25 * 8 (c) = 6; depth 3 (back to a) is cut off
    assert out.loc["a", "network_value"] == pytest.approx(6.0)
    assert out.loc["a", "network_size"] == 2
