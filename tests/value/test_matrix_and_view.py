"""Value matrix and the customer 360 view on a hand-made workspace with two stored scoring runs."""

import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.service import customer_view
from cvm.service import value_matrix
from cvm.data.scores import save_scores


def _scores(as_of, p_alive_a):
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "clv": [100.0, 50.0, 10.0, 0.0],
        "clv_low": [80.0, 40.0, 8.0, 0.0],
        "clv_high": [120.0, 60.0, 12.0, 0.0],
        "historic_value": [300.0, 40.0, 20.0, 5.0],
        "probability_alive": [p_alive_a, 0.9, 0.5, 0.1],
        "rank": [1, 2, 3, 4],
        "percentile": [1.0, 0.75, 0.5, 0.25],
        "value_tier": ["platinum", "gold", "silver", "bronze"],
        "lifecycle_stage": ["at risk", "active", "active", "lapsed"],
        "n_transactions": [6, 3, 2, 1],
        "last_purchase": pd.to_datetime([as_of] * 4),
    })


@pytest.fixture
def shop(workspace):
    ws = workspace
    ws.ingest(pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c", "d"],
        "ts": ["2024-01-05", "2024-03-01", "2024-05-20", "2024-02-02", "2024-02-03", "2024-01-09"],
        "amount": [100.0, 200.0, 150.0, 80.0, 40.0, 10.0],
        "channel": ["web", "shop", "web", "web", "shop", "web"],
    }), kind="transactions")
    ws.ingest(pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"], "name": ["Anna", "Bram", "Cas", "Dirk"],
        "nps": [9, 10, 2, 10], "company_size": [10, 100, 55, 10],
    }), kind="customers")
    ws.ingest(pd.DataFrame({"referrer_id": ["d"], "referred_id": ["a"]}), kind="referrals")
    ws.ingest(pd.DataFrame({
        "invoice_id": ["1", "2"], "customer_id": ["a", "a"], "issued": ["2024-03-01", "2024-05-20"],
        "amount": [200.0, 150.0], "due": ["2024-03-31", "2024-06-19"], "paid": ["2024-04-02", None],
    }), kind="invoices")
    save_scores(ws, _scores("2024-03-31", 0.8), {"run_id": "r1", "as_of": pd.Timestamp("2024-03-31"), "created": pd.Timestamp("2024-04-01"), "model": "bgnbd"})
    save_scores(ws, _scores("2024-06-30", 0.4), {"run_id": "r2", "as_of": pd.Timestamp("2024-06-30"), "created": pd.Timestamp("2024-07-01"), "model": "bgnbd"})
    return ws


def test_value_matrix_by_hand(shop):
    out = value_matrix(shop).set_index("customer_id")
    # economic = percentile rank of CLV: a 1, b .75, c .5, d .25
    assert out.loc["b", "economic_score"] == pytest.approx(0.75)
    # network value of d = decay 0.5 x CLV of a (100) = 50; only d has one -> its rank score 1, others 0
    assert out.loc["d", "network_value"] == pytest.approx(50.0)
    # ambassador = mean(network score, nps / 10): a (0 + .9)/2 = .45; b (0 + 1)/2 = .5; d (1 + 1)/2 = 1
    assert out.loc["a", "ambassador_score"] == pytest.approx(0.45)
    assert out.loc["d", "ambassador_score"] == pytest.approx(1.0)
    # strategic = company_size min-max: a 0, b 1, c (55 - 10)/90 = .5, d 0
    assert out.loc["c", "strategic_score"] == pytest.approx(0.5)
    # composite b = .6 x .75 + .25 x .5 + .15 x 1 = .725; relational b = (.25 x .5 + .15 x 1)/.4 = .6875
    assert out.loc["b", "composite_score"] == pytest.approx(0.725)
    assert out.loc["b", "matrix_segment"] == "Key customers"
    # a: relational (.25 x .45)/.4 = .28 -> Revenue customers; d: economic .25, relational .625 -> Ambassadors
    assert out.loc["a", "matrix_segment"] == "Revenue customers"
    assert out.loc["d", "matrix_segment"] == "Ambassadors & partners"


def test_customer_360(shop):
    view = customer_view(shop, "a")
    d = view.to_dict()
    assert d["attributes"]["name"] == "Anna"
    assert d["score"]["clv"] == 100.0 and d["score"]["clv_low"] == 80.0 and d["score"]["as_of"] == "2024-06-30"
    # P(alive) history over the two stored runs, oldest first
    assert [h["probability_alive"] for h in d["history"]] == [0.8, 0.4]
    assert {c["channel"]: c["transactions"] for c in d["channels"]} == {"web": 2, "shop": 1}
    assert len(d["transactions"]) == 3
    assert d["referred_by"] == "d" and d["referrals"][0]["direction"] == "received"
    # invoice 1 paid (2 days late), invoice 2 open and 11 days overdue on 2024-06-30
    inv = view.invoices.set_index("invoice_id")
    assert inv.loc["1", "bucket"] == "paid" and inv.loc["2", "days_overdue"] == 11
    assert d["next_best_action"]["action"] == "collect payment"
    assert d["lifecycle_stage"] == "at risk"


def test_unknown_customer_has_a_hint(shop):
    with pytest.raises(SchemaError) as err:
        customer_view(shop, "zzz")
    assert err.value.hint
