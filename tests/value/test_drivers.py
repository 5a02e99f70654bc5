"""The drivers question: known group effects recovered within their intervals, no driver where there is none,
the spend interval's delta method, the profit per group and the refusals (cvm.value.drivers, cvm.service.drivers).

The truth of the simulated groups is in tests/value/drivers_data.py (each group simulated from its own
Pareto/NBD and Gamma-Gamma parameters, CLVTools' covariate parameterisation written out); the
expected figures below are that truth or hand computations written next to them, never the code's output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.service.drivers import driver_attributes, drivers
from cvm.value.drivers import (
    MIN_CUSTOMERS_PER_VALUE, DriversResult, attribute_effects, design, group_profit, group_sentences, mean_spend,
    spend_effects,
)
from tests.value.drivers_data import COST_PER_CUSTOMER, KNOWN_EFFECTS, build_workspace, truth


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """3,000 simulated customers in three channels with known effects, a region without effect, valued once."""
    ws = build_workspace(tmp_path_factory.mktemp("drivers") / "ws", n_customers=3000, seed=11)
    result = drivers(ws, ["channel", "regio"])
    yield ws, result
    ws.close()


def _attribute(result, name):
    return next(a for a in result.attributes if a.attribute == name)


def test_known_effects_are_recovered_within_their_intervals(known):
    _, result = known
    channel = _attribute(result, "channel")
    assert channel.baseline == "web"  # the largest group (1,500 of 3,000)
    assert [g.value for g in channel.groups] == ["web", "partner", "winkel"]
    recovered = {}
    for group in channel.groups[1:]:
        for kind, expected in truth(group.value).items():
            effect = group.effect(kind)
            recovered[(group.value, kind)] = (expected, effect.factor, effect.lower, effect.upper)
            assert effect.lower <= expected <= effect.upper, (group.value, kind, expected, effect)
            # a true effect is a driver; a true factor of 1 is not
            assert effect.clear == (expected != 1.0), (group.value, kind, effect)
    # printed with -s: the recovered factors next to the truth, for the report
    for (value, kind), (expected, factor, lo, hi) in recovered.items():
        print(f"{value:8s} {kind:8s} truth {expected:.3f}  estimate {factor:.3f}  95% {lo:.3f}-{hi:.3f}")


def test_an_attribute_without_effect_claims_no_driver(known):
    _, result = known
    region = _attribute(result, "regio")
    for group in region.groups[1:]:
        for kind in ("purchase", "dropout", "spend"):
            effect = group.effect(kind)
            assert not effect.clear
            assert effect.lower <= 1.0 <= effect.upper, (group.value, kind, effect)
    answer = result.answer("en")
    assert "By regio: no clear difference in how often customers buy, how long they stay or how much they spend." in answer
    assert "Per regio: geen duidelijk verschil in hoe vaak klanten kopen" in " ".join(result.answer("nl"))


def test_a_simulation_without_any_effect_claims_no_driver(tmp_path):
    alike = {name: (share, 0.0, 0.0, 1.0) for name, (share, *_rest) in KNOWN_EFFECTS.items()}
    ws = build_workspace(tmp_path / "ws", n_customers=2000, seed=5, effects=alike, score=False)
    try:
        result = drivers(ws, ["channel"])
    finally:
        ws.close()
    channel = _attribute(result, "channel")
    assert len(channel.groups) == 3
    for group in channel.groups[1:]:
        for kind in ("purchase", "dropout", "spend"):
            effect = group.effect(kind)
            assert not effect.clear and effect.lower <= 1.0 <= effect.upper, (group.value, kind, effect)
            assert group.profit is None
    words = result.answer("en")
    assert words[0] == "By channel: no clear difference in how often customers buy, how long they stay or how much they spend."
    assert result.profit_note == "no_scores"
    assert any("value the customers first" in w for w in words)
    payload = result.to_dict("en")
    assert payload["attributes"][0]["groups"][1]["purchase"]["clear"] is False


def test_profit_after_costs_per_group_by_hand(known):
    ws, result = known
    # by hand from the stored valuation: margin so far + predicted margin - the group's cost per customer
    scores = ws.frame("SELECT s.customer_id, s.historic_value, s.clv, c.channel FROM scores s "
                      "JOIN customers c ON CAST(c.customer_id AS VARCHAR) = s.customer_id")
    for group in _attribute(result, "channel").groups:
        rows = scores[scores["channel"] == group.value]
        profit = rows["historic_value"] + rows["clv"] - COST_PER_CUSTOMER[group.value]
        half = 1.959963984540054 * profit.std(ddof=1) / math.sqrt(len(profit))
        assert group.profit.customers == len(rows)
        assert group.profit.per_customer == pytest.approx(profit.mean(), rel=1e-9)
        assert group.profit.lower == pytest.approx(profit.mean() - half, rel=1e-9)
        assert group.profit.upper == pytest.approx(profit.mean() + half, rel=1e-9)
    partner = _attribute(result, "channel").groups[1]
    assert partner.profit.verdict == "loss"  # 250 a customer is more than a partner customer brings in
    said = group_sentences(result, _attribute(result, "channel"), partner, "nl")
    assert any(s.startswith("Klanten met kanaal partner zijn niet winstgevend na hun kosten: €\xa0-") for s in said), said


def test_words_in_dutch_carry_the_factor_and_its_interval(known):
    _, result = known
    channel = _attribute(result, "channel")
    partner = channel.groups[1]
    e = partner.purchase
    # the figures written by hand with a decimal comma, two decimals
    shown = f"{e.factor:.2f}× zo vaak als klanten met kanaal web (95%: {e.lower:.2f}–{e.upper:.2f}×)".replace(".", ",")
    assert f"Klanten met kanaal partner kopen {shown}." in group_sentences(result, channel, partner, "nl")
    winkel = channel.groups[2]
    assert any(s.startswith("Klanten met kanaal winkel kopen minder vaak: ") for s in group_sentences(result, channel, winkel, "nl"))
    assert any(s.startswith("Klanten met kanaal winkel: geen duidelijk verschil in hoe lang ze klant blijven")
               for s in group_sentences(result, channel, winkel, "nl"))


def test_the_attributes_that_can_be_compared(known):
    ws, _ = known
    assert driver_attributes(ws) == {"channel": 3, "regio": 3}


# ----------------------------------------------------------------------------- pure pieces
def _groups(**columns):
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=[f"C{i}" for i in range(n)], dtype=object)


def test_dummy_coding_leaves_out_the_largest_group_and_small_values():
    groups = _groups(channel=["web"] * 120 + ["partner"] * 60 + ["fax"] * 3 + [None] * 2)
    d = design(groups, ["channel"])
    part = d.attributes[0]
    assert part.baseline == "web" and part.values == ["web", "partner"]
    assert part.left_out == {"fax": 3} and part.without_value == 2
    assert list(d.covariates.columns) == ["z0"] and d.columns["z0"] == ("channel", "partner")
    assert len(d.covariates) == 180 and d.covariates["z0"].sum() == 60


@pytest.mark.parametrize("values, code, words", [
    (["web"] * 200, "drivers_one_value", "every customer with a purchase history has channel web (200 customers)"),
    (["web"] * 200 + ["partner"] * 49, "drivers_too_few", f"need {MIN_CUSTOMERS_PER_VALUE} customers"),
])
def test_an_attribute_that_cannot_be_compared_is_refused_in_words(values, code, words):
    with pytest.raises(SchemaError) as caught:
        design(_groups(channel=values), ["channel"])
    assert caught.value.code == code and words in caught.value.message


def test_unknown_and_same_information_attributes_are_refused():
    groups = _groups(channel=["web"] * 100 + ["partner"] * 100, label=["a"] * 100 + ["b"] * 100)
    with pytest.raises(SchemaError) as caught:
        design(groups, ["region"])
    assert caught.value.code == "drivers_unknown_attribute" and "channel, label" in caught.value.message
    with pytest.raises(SchemaError) as caught:
        design(groups, ["channel", "label"])
    assert caught.value.code == "drivers_same_information"
    with pytest.raises(SchemaError) as caught:
        design(groups, [])
    assert caught.value.code == "drivers_no_attribute"


def test_mean_spend_interval_is_the_delta_method_on_the_log_scale():
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    names = ["p", "q", "gamma"]
    cov = pd.DataFrame([[0.04, 0.01, -0.02], [0.01, 0.09, 0.03], [-0.02, 0.03, 0.05]], index=names, columns=names)
    mean, var = mean_spend(params, cov)
    assert mean == pytest.approx(6.25 * 15.44 / 2.74)  # p gamma / (q - 1)
    # the gradient of log(p gamma / (q - 1)) in (log p, log q, log gamma) by central differences
    z = np.log([6.25, 3.74, 15.44])
    f = lambda v: np.log(np.exp(v[0]) * np.exp(v[2]) / (np.exp(v[1]) - 1))  # noqa: E731
    grad = np.array([(f(z + h) - f(z - h)) / 2e-6 for h in np.eye(3) * 1e-6])
    assert var == pytest.approx(grad @ cov.to_numpy() @ grad, rel=1e-6)
    assert mean_spend({"p": 1.0, "q": 0.9, "gamma": 1.0}, cov) is None  # q <= 1: no finite mean


def test_spend_factor_interval_and_cochran_q_by_hand():
    means = {"web": (40.0, 0.01), "partner": (52.0, 0.02), "shop": None}
    effects, shown, test = spend_effects(means, "web", 0.95, reasons={"shop": "too_few_repeat_buyers"})
    se = math.sqrt(0.01 + 0.02)
    z = 1.959963984540054
    assert effects["partner"].factor == pytest.approx(1.3)
    assert effects["partner"].lower == pytest.approx(1.3 * math.exp(-z * se))
    assert effects["partner"].upper == pytest.approx(1.3 * math.exp(z * se))
    # Q around the inverse-variance mean of the two logs; df 1: the same as (difference / se)^2
    assert test["statistic"] == pytest.approx((math.log(52 / 40) / se) ** 2)
    assert effects["partner"].clear == (test["p_value"] < 0.05 and effects["partner"].lower > 1)
    assert effects["shop"].reason == "too_few_repeat_buyers" and effects["shop"].lower is None
    assert shown["web"][1] == pytest.approx(40 * math.exp(-z * 0.1))


def test_group_profit_by_hand():
    table = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 3, "historic_value": [10.0, 20, 30, 40, 1, 1, 1],
                          "clv": [5.0, 5, 5, 5, 0, 0, 0], "cost": [1.0, 1, 1, 1, 10, 11, 12]})
    out = group_profit(table, "g")
    # a: profits 14, 24, 34, 44: mean 29, sd sqrt(((-15)^2 + (-5)^2 + 5^2 + 15^2) / 3) = sqrt(500/3)
    half = 1.959963984540054 * math.sqrt(500 / 3) / 2
    assert out["a"].per_customer == pytest.approx(29.0)
    assert (out["a"].lower, out["a"].upper) == pytest.approx((29 - half, 29 + half))
    assert out["a"].verdict == "profitable" and out["a"].profit == pytest.approx(116.0)
    # b: profits -9, -10, -11: mean -10, sd 1, half-width 1.96 / sqrt(3)
    assert out["b"].verdict == "loss" and out["b"].upper == pytest.approx(-10 + 1.959963984540054 / math.sqrt(3))


def _three_groups():
    groups = _groups(channel=["web"] * 100 + ["partner"] * 60 + ["shop"] * 60)
    return design(groups, ["channel"])


def test_joint_wald_test_by_hand_and_a_lone_interval_is_not_a_driver():
    from cvm.value.drivers import covariate_effects

    d = _three_groups()  # z0 = partner, z1 = shop
    names = ["r", "alpha", "s", "beta", "purchase[z0]", "purchase[z1]", "dropout[z0]", "dropout[z1]"]
    # partner's purchase coefficient alone is 2.1 standard errors from 0; shop's is 0
    params = pd.Series([0.5, 10.0, 0.6, 12.0, 0.21, 0.0, 0.0, 0.0], index=names)
    cov = pd.DataFrame(np.diag([1e-3] * 4 + [0.01, 0.01, 0.04, 0.04]), index=names, columns=names)
    effects, tests = covariate_effects(params, cov, d, 0.95)
    # W = 0.21^2 / 0.01 + 0 = 4.41 on 2 degrees of freedom: p = exp(-4.41 / 2) = 0.110
    assert tests["channel"]["purchase"]["statistic"] == pytest.approx(4.41)
    assert tests["channel"]["purchase"]["p_value"] == pytest.approx(math.exp(-4.41 / 2))
    partner = effects[("channel", "partner")]["purchase"]
    assert partner.lower == pytest.approx(math.exp(0.21 - 1.959963984540054 * 0.1)) and partner.lower > 1
    assert not partner.clear  # its interval excludes 1, the channel as a whole does not differ clearly
    result = DriversResult(attribute_effects(
        d, effects, tests, {"channel": spend_effects({"web": None, "partner": None, "shop": None}, "web")},
        {"channel": {}}, None), n_customers=220, as_of="2024-12-31", time_unit="week", level=0.95)
    channel = result.attributes[0]
    said = group_sentences(result, channel, channel.groups[1], "en")
    assert said[0].startswith("Customers with channel partner: 1.23× as often as customers with channel web (95%: 1.01–1.50×), "
                              "but the groups of this attribute together do not differ clearly")
    # a dropout coefficient of +0.3: the dropout rate x exp(0.3), the lifetime x exp(-0.3)
    params["dropout[z1]"] = 0.3
    effects, _ = covariate_effects(params, cov, d, 0.95)
    shop = effects[("channel", "shop")]["dropout"]
    assert shop.factor == pytest.approx(math.exp(-0.3))
    assert (shop.lower, shop.upper) == pytest.approx((math.exp(-0.3 - 1.959963984540054 * 0.2),
                                                      math.exp(-0.3 + 1.959963984540054 * 0.2)))
    # with three joint questions per attribute a test must reject at 0.05 / 3: p = 0.03 is not enough
    params["purchase[z0]"], params["dropout[z1]"] = 0.0, 0.0
    params["purchase[z1]"] = math.sqrt(-2 * math.log(0.03) * 0.01)  # W = -2 ln p on 2 df: p = 0.03
    effects, tests = covariate_effects(params, cov, d, 0.95, family=1)
    assert tests["channel"]["purchase"]["p_value"] == pytest.approx(0.03) and effects[("channel", "shop")]["purchase"].clear
    effects, _ = covariate_effects(params, cov, d, 0.95, family=3)
    assert not effects[("channel", "shop")]["purchase"].clear


def test_attribute_values_are_named_as_people_write_them():
    from cvm.value.drivers import customer_groups, value_texts

    assert value_texts(pd.Series([7.0, 7.5, np.nan, 10.0])).tolist() == ["7", "7.5", None, "10"]
    assert value_texts(pd.Series([" web ", "", None])).tolist() == ["web", None, None]
    attributes = pd.DataFrame({"customer_id": [1, 2, 3], "segment": ["a", "b", None], "source": ["f.csv"] * 3,
                               "line": [1, 2, 3]})
    first = pd.Series(["web", "shop", "web"], index=["1", "2", "3"])
    groups = customer_groups(attributes, first)
    # the ingest's bookkeeping is no attribute; without an own channel attribute, the first purchase's channel
    assert list(groups.columns) == ["segment", "channel"]
    assert groups.loc["2"].tolist() == ["b", "shop"] and groups.loc["3", "segment"] is None
    assert list(customer_groups(attributes.assign(kanaal=["x", "y", "z"]), first).columns) == ["segment", "kanaal"]
