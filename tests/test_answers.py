"""The answer sentences (cvm.answers): their numbers come from the result they are given."""

from __future__ import annotations

import pandas as pd

from cvm import answers
from cvm.i18n.formats import Formats
from cvm.value.investment import budget_plan, retention_allocation


def test_segments_name_the_top_and_the_least_valued_buying_group_and_flag_a_misnamed_one():
    result = pd.DataFrame({"segment": ["Champions", "Loyal customers", "Prospect"], "customers": [10, 5, 3],
                           "customer_share": [10 / 18, 5 / 18, 3 / 18], "clv_sum": [90.0, 10.0, 0.0],
                           "clv_share": [0.9, 0.1, 0.0], "probability_alive_mean": [0.8, 0.13, None]})
    said = answers.segments(result, Formats("nl"), at_risk_below=0.5)
    # 10 of 18 customers = 55,6 %; 5 of 18 = 27,8 % (by hand); prospects (no value) are not the group to serve cheaply
    assert said[0] == "Kampioenen (10 klanten, 55,6% van alle klanten) heeft 90,0% van de voorspelde waarde."
    assert said[1].startswith("Trouwe klanten (5 klanten, 27,8% van alle klanten) heeft maar 10,0%")
    assert "Trouwe klanten heeft gemiddeld maar 13,0% kans" in said[2]


def test_the_budget_sentence_carries_the_plan_figures():
    scores = pd.DataFrame({"customer_id": list("ab"), "clv": [60.0, 20.0], "probability_alive": [0.5, 0.25]})
    # each saves 0.5 x 60 = 30 for a contact of 10: budget 10 buys one (ROI (30 - 10) / 10 = 200 %), the next
    # euro still buys 3.0 of value
    plan = budget_plan(retention_allocation(scores, 10, 10.0, 0.5), 10, 0.5)
    said = " ".join(answers.budget(plan, Formats("en")))
    assert "contacting 1 customers (€10.00" in said and "€30.00 of value protected" in said
    assert "200% of the spend" in said
    assert "the next euro would still protect €3.00 of value; 1 more customers" in said
