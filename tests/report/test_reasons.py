"""Reasons in the report speak the reader's language: codes rendered by cvm.value.explain, no English in Dutch."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cvm.value.explain import REASONS, explain

ACTION_CODES = ["collect_overdue", "retain_high_value_at_risk", "win_back_lapsed_spender", "lower_cost_to_serve",
                "upsell_active_loyal", "nurture_prospect", "nurture_new", "nurture_keep_in_touch"]


def english_fragments() -> list[str]:
    """The literal words of every English reason template (between the values), long enough to be telling."""
    out = []
    for templates in REASONS.values():
        for part in re.split(r"\{\w+\}|[\[\]()]", templates["en"]):
            part = part.strip(" ;:,")
            if len(part) >= 10:
                out.append(part)
    return out


@pytest.fixture(scope="module")
def action_ws(tmp_path_factory):
    """Eight customers, one per action reason, with fixed scores, an overdue invoice and a high service cost."""
    from cvm.data import Workspace
    from cvm.data.scores import new_run_id, save_scores

    ws = Workspace.open(tmp_path_factory.mktemp("reasons") / "ws")
    ids = ["pay", "keep", "back", "cost", "up", "top", "new", "prospect"]
    tx = pd.DataFrame({
        "customer_id": [c for c in ids[:-1] for _ in range(2)],
        "ts": ["2023-01-10", "2023-03-01"] * 7,
        "amount": [40.0, 60.0] * 7,
    })
    ws.ingest(tx, kind="transactions")
    ws.ingest(pd.DataFrame({"customer_id": ids}), kind="customers")
    ws.ingest(pd.DataFrame({"invoice_id": ["F1"], "customer_id": ["pay"], "issued": ["2023-04-01"],
                            "due": ["2023-05-01"], "amount": [1234.5], "paid": [None]}), kind="invoices")
    ws.ingest(pd.DataFrame({"ts": ["2023-03-15"], "amount": [900.0], "customer_id": ["cost"], "kind": ["service"]}),
              kind="costs")
    scores = pd.DataFrame({
        "customer_id": ids,
        "clv": [50.0, 400.0, 5.0, 10.0, 80.0, 900.0, 20.0, 0.0],
        "historic_value": [10.0, 300.0, 500.0, 5.0, 60.0, 800.0, 1.0, 0.0],
        "probability_alive": [0.9, 0.3, 0.1, 0.9, 0.8, 0.9, 0.95, None],
        "percentile": [0.4, 0.9, 0.3, 0.2, 0.6, 1.0, 0.1, 0.05],
        "rank": [5, 2, 7, 6, 3, 1, 4, 8],
        "value_tier": ["bronze", "gold", "bronze", "bronze", "silver", "platinum", "bronze", "bronze"],
        "lifecycle_stage": ["active", "at risk", "lapsed", "active", "loyal", "loyal", "new", "prospect"],
    })
    save_scores(ws, scores, {"run_id": new_run_id(), "as_of": "2023-06-30", "created": pd.Timestamp.now(),
                             "model": "bgnbd", "model_reason": "test", "horizon": 52, "time_unit": "week",
                             "n_customers": len(scores), "total_clv": float(scores["clv"].sum())})
    yield ws
    ws.close()


def actions_html(ws, language: str) -> str:
    from cvm.report.build import ReportBuilder, _actions, render

    builder = ReportBuilder(ws, language)
    builder.add("actions", lambda s: _actions(builder, s), "actions_intro")
    assert builder.errors == []
    return render(builder)


def test_every_action_reason_in_both_languages(action_ws):
    from cvm.service import next_best_actions

    actions = next_best_actions(action_ws).set_index("customer_id")
    assert sorted(actions["reason_code"]) == sorted(ACTION_CODES)
    # the overdue invoice: 1,234.50 open since 2023-05-01, 60 days by 2023-06-30
    assert actions.loc["pay", "reason_values"] == {"amount": 1234.5, "days": 60}
    pages = {lang: actions_html(action_ws, lang) for lang in ("en", "nl")}
    for customer, row in actions.iterrows():
        for lang, page in pages.items():
            text = explain(row["reason_code"], row["reason_values"], lang)
            assert text.replace("'", "&#39;") in page, (customer, lang, text)
    assert "€1,234.50 overdue; the oldest invoice is 60 days past due" in pages["en"]
    assert "€\xa01.234,50 achterstallig; de oudste factuur is 60 dagen over de vervaldatum" in pages["nl"]
    assert "betaling innen" in pages["nl"] and "terugwinnen" in pages["nl"]
    body = pages["nl"][pages["nl"].index('<section id="actions">'):]
    for fragment in english_fragments():
        assert fragment not in body, fragment


@pytest.mark.slow
def test_dutch_report_has_no_english_reasons(report_files, report_ws):
    from cvm.service import latest_backtest

    files, errors = report_files
    assert errors == {"en": [], "nl": []}
    nl = files["nl"].read_text(encoding="utf-8")
    en = files["en"].read_text(encoding="utf-8")
    body = nl[nl.index("</script>"):]  # after the embedded plotly.js
    for fragment in english_fragments():
        assert fragment not in body, fragment
    bt = latest_backtest(report_ws)
    assert bt.reason_code
    assert explain(bt.reason_code, bt.reason_values, "nl") in body
    assert explain(bt.reason_code, bt.reason_values, "en").replace("'", "&#39;") in en
