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
    assert "contacting 1 customer (€10.00" in said and "€30.00 of value protected" in said
    assert "200% of the spend" in said
    assert "the next euro would still protect €3.00 of value; 1 more customer is worth" in said


def test_the_cohort_answer_pools_the_cohorts_and_names_where_customers_drop_out():
    # two cohorts: A (100 customers) active 100, 30, 20, 15 at ages 0-3; B (50) active 50, 20, 10 at ages 0-2.
    # pooled at age 1: (30 + 20) / 150 = 33.3%; age 2: (20 + 10) / 150 = 20.0%; age 3: 15 / 100 = 15% (only A)
    # the oldest age reached by at least half the customers (75): age 3 (100 customers); the biggest drop is at
    # age 1 (100% -> 33.3%)
    table = pd.DataFrame({"cohort": ["A"] * 4 + ["B"] * 3, "age": [0, 1, 2, 3, 0, 1, 2],
                          "customers": [100] * 4 + [50] * 3, "active": [100, 30, 20, 15, 50, 20, 10]})
    nl = answers.cohorts(table, Formats("nl"), "quarter")
    assert nl[0] == ("Van de klanten die voor het eerst kochten, kocht 33,3% opnieuw in het kwartaal erna "
                     "(50 van 150, alle cohorten samen).")
    assert nl[1] == "3 kwartalen na de eerste aankoop koopt nog 15,0% van hen."
    assert "tweede aankoop binnen het eerste kwartaal" in nl[2]
    en = answers.cohorts(table, Formats("en"), "month")
    assert en[1] == "3 months after their first purchase, 15.0% of them are still buying."
    # a later drop is named with its span, singular or plural: A loses most between ages 1 and 2 here
    later = table.assign(active=[100, 90, 20, 15, 50, 45, 10])
    assert answers.cohorts(later, Formats("nl"), "year")[-1] == \
        "De meeste klanten haken 2 jaar na hun eerste aankoop af: benader ze daarvoor."
    assert answers.cohorts(later, Formats("en"), "year")[-1] == \
        "Most customers are lost 2 years after their first purchase: contact them before then."
    assert answers.cohorts(table[table["age"] == 0], Formats("nl"), "year") == []  # nobody could come back yet
