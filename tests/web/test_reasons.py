"""Reasons on the pages come from the shared renderer (cvm.value.explain), in the page's language."""

from __future__ import annotations

import html

import httpx
import pandas as pd
import pytest

from cvm.value.explain import explain
from cvm.web import present
from cvm.web.i18n import Formatter
from tests.web.conftest import PASSWORD, LiveServer, login, store_runs, transactions_csv

COLLECT = {"action": "collect payment", "reason": "€1,234.50 overdue; the oldest invoice is 91 days past due",
           "reason_code": "collect_overdue", "reason_values": {"amount": 1234.5, "days": 91}}


def test_collect_payment_reason_in_dutch_with_the_amount():
    nl, en = Formatter("nl", "EUR"), Formatter("en", "EUR")
    assert present.action_reason(nl, COLLECT) == ("€\xa01.234,50 achterstallig; de oudste factuur is 91 dagen "
                                                  "over de vervaldatum.")
    assert present.action_reason(en, COLLECT) == "€1,234.50 overdue; the oldest invoice is 91 days past due."


def test_tiers_and_stages_take_the_pages_words():
    nl = Formatter("nl", "EUR")
    # an action name and its score row: figures taken from the score row by the library's rule
    score = {"value_tier": "gold", "lifecycle_stage": "at risk", "clv": 400.0, "historic_value": 300.0,
             "probability_alive": 0.3}
    text = present.action_reason(nl, "retain", score)
    assert text == "Klant in klasse goud (CLV €\xa0400,00) van wie de kans nog actief te zijn daalde tot 30%."
    # a stage code only the page's catalog knows (at_risk) is shown in its words, never as the code
    text = present.action_reason(nl, "nurture", {"value_tier": "bronze", "lifecycle_stage": "at_risk"})
    assert text == "Risico, klasse brons: houd tegen lage kosten contact."


def test_no_sentence_rather_than_a_wrong_amount():
    nl = Formatter("nl", "EUR")
    score = {"value_tier": "bronze", "lifecycle_stage": "active", "clv": 5.0, "historic_value": 1.0, "probability_alive": 0.9}
    # the scores hold neither the overdue amount nor the cost-to-serve: say nothing instead of "€ 0,00"
    assert present.action_reason(nl, "collect payment", score) is None
    assert present.action_reason(nl, "lower cost-to-serve", score) is None
    assert present.action_reason(nl, None, score) is None


def test_backtest_reason_in_the_pages_language():
    result = {"best": "pnbd", "reason": "Pareto/NBD tracks ...", "reason_code": "best_tracking_error",
              "reason_values": {"model": "pnbd", "tracking_error": 0.0812, "others": {"bgnbd": 0.0934}}}
    assert present.backtest_reason(Formatter("nl", "EUR"), result) == (
        "Pareto/NBD volgt de cumulatieve herhaalaankopen in de controleperiode het best "
        "(gemiddelde absolute fout 8,1%; BG/NBD 9,3%).")
    assert present.backtest_reason(Formatter("nl", "EUR"), {"reason": "old words"}) == "old words"


@pytest.fixture(scope="module")
def invoice_server(tmp_path_factory):
    """The web tests' workspace plus one overdue invoice of K003 (due 2023-10-01, unpaid at 2023-12-31: 91 days)."""
    from cvm.data import Workspace
    from cvm.web.app import create_app
    from cvm.web.auth import add_user

    folder = tmp_path_factory.mktemp("web-reasons") / "ws"
    ws = Workspace.open(folder)
    ws.ingest(transactions_csv(folder.parent / "orders.csv", bad_row=False))
    store_runs(ws)
    ws.ingest(pd.DataFrame({"invoice_id": ["F1"], "customer_id": ["K003"], "issued": ["2023-09-01"],
                            "due": ["2023-10-01"], "amount": [1234.5], "paid": [None]}), kind="invoices")
    ws.close()
    add_user(folder, "viewer", PASSWORD, "viewer")
    server = LiveServer(create_app(folder)).start()
    yield server
    server.stop()


def _page(server, path: str) -> str:
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as client:
        login(client, "viewer")
        response = client.get(path)
        assert response.status_code == 200
        return html.unescape(response.text)


def test_360_page_in_dutch_explains_a_score_based_action(invoice_server):
    page = _page(invoice_server, "/customers/K005?lang=nl")
    action = page.split('id="next-best-action"')[1].split("</div>")[0]
    assert "<p>" in action
    reason = action.split("<p>")[1].split("</p>")[0]
    # a Dutch sentence with no English reason words
    assert "klasse" in reason and "tier" not in reason and "customer" not in reason


def test_360_page_in_dutch_shows_the_overdue_amount(invoice_server):
    page = _page(invoice_server, "/customers/K003?lang=nl")
    action = page.split('id="next-best-action"')[1].split("</div>")[0]
    assert "betaling innen" in action
    assert explain("collect_overdue", {"amount": 1234.5, "days": 91}, "nl") in action
