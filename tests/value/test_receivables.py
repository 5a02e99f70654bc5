"""Receivables with paid, open and overdue invoices, by hand."""

import pandas as pd
import pytest

from cvm.value.receivables import payment_adjusted_clv, summarise_receivables
from cvm.service import receivables

AS_OF = "2024-06-30"
INVOICES = pd.DataFrame({
    "invoice_id": ["1", "2", "3", "4", "5", "6", "7"],
    "customer_id": ["a", "a", "b", "b", "c", "c", "d"],
    "issued": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-02-01", "2024-05-01", "2024-03-01", "2024-06-20", "2024-07-05"]),
    "amount": [100.0, 200.0, 300.0, 50.0, 80.0, 40.0, 999.0],
    "due": pd.to_datetime(["2024-01-31", "2024-07-01", "2024-03-01", "2024-05-31", "2024-03-31", "2024-07-20", "2024-08-01"]),
    "paid": pd.to_datetime(["2024-02-10", None, None, "2024-07-15", "2024-03-31", None, None]),
})


def test_outstanding_overdue_ageing_dso():
    r = summarise_receivables(INVOICES, AS_OF, period_days=365)
    # 1 paid 10 days late; 2 open, due tomorrow (not due); 3 open, 121 days overdue (Mar 1 -> Jun 30) -> 90+
    # 4 paid after the as-of day -> open on Jun 30, 30 days overdue -> 0-30; 5 paid on time; 6 open, not due
    # 7 issued after the as-of day -> ignored
    assert r.outstanding == pytest.approx(200 + 300 + 50 + 40)
    assert r.overdue == pytest.approx(300 + 50)
    ageing = r.ageing.set_index("bucket")
    assert ageing.loc["not due", "amount"] == pytest.approx(240.0)
    assert ageing.loc["0-30", "amount"] == pytest.approx(50.0)
    assert ageing.loc["90+", "amount"] == pytest.approx(300.0)
    assert ageing.loc["31-60", "invoices"] == 0
    # DSO = outstanding 590 / sales in the last 365 days (100+200+300+50+80+40 = 770) * 365
    assert r.dso == pytest.approx(590 / 770 * 365)
    cust = r.by_customer.set_index("customer_id")
    # a: days late 10 (paid) and 0 (open, not due) -> mean 5; b: 121 and 30 -> 75.5
    assert cust.loc["a", "avg_days_late"] == pytest.approx(5.0)
    assert cust.loc["b", "avg_days_late"] == pytest.approx(75.5)
    assert cust.loc["b", "max_days_overdue"] == 121
    # collection risk of b = 90+ amount / invoiced = 300 / 350
    assert cust.loc["b", "collection_risk"] == pytest.approx(300 / 350)
    assert "d" not in cust.index


def test_the_list_of_who_owes_leaves_out_customers_who_paid_everything():
    # e paid both invoices before the as-of day: nothing outstanding, so e is not a late payer to chase
    paid_up = pd.DataFrame({
        "invoice_id": ["8", "9"], "customer_id": ["e", "e"],
        "issued": pd.to_datetime(["2024-01-01", "2024-03-01"]), "amount": [70.0, 30.0],
        "due": pd.to_datetime(["2024-01-31", "2024-03-31"]),
        "paid": pd.to_datetime(["2024-02-19", "2024-03-20"]),
    })
    r = summarise_receivables(pd.concat([INVOICES, paid_up], ignore_index=True), AS_OF)
    assert "e" in set(r.by_customer["customer_id"])            # still counted in the per-customer figures
    # a owes 200, b 350 (invoice 3: 300, invoice 4 open on the as-of day: 50), c owes 40; most overdue first
    assert list(r.owing["customer_id"]) == ["b", "a", "c"]
    assert r.owing["outstanding"].tolist() == pytest.approx([350.0, 200.0, 40.0])


def test_payment_adjusted_clv():
    r = summarise_receivables(INVOICES, AS_OF)
    scores = pd.DataFrame({"customer_id": ["a", "b", "z"], "clv": [1000.0, 1000.0, 500.0]})
    out = payment_adjusted_clv(scores, r.by_customer, yearly_discount_rate=0.1).set_index("customer_id")
    # a: 1000 * 1.1 ** (-5 / 365.25) * (1 - 0);  b: 1000 * 1.1 ** (-75.5 / 365.25) * (1 - 300/350); z: no invoices
    assert out.loc["a", "clv_payment_adjusted"] == pytest.approx(1000 * 1.1 ** (-5 / 365.25))
    assert out.loc["b", "clv_payment_adjusted"] == pytest.approx(1000 * 1.1 ** (-75.5 / 365.25) * (50 / 350))
    assert out.loc["z", "clv_payment_adjusted"] == 500.0


def test_receivables_from_workspace_by_segment(workspace):
    workspace.ingest(INVOICES.assign(issued=INVOICES["issued"].dt.strftime("%Y-%m-%d"),
                                     due=INVOICES["due"].dt.strftime("%Y-%m-%d"),
                                     paid=INVOICES["paid"].dt.strftime("%Y-%m-%d")), kind="invoices")
    workspace.ingest(pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["retail", "b2b", "retail"]}), kind="customers")
    r = receivables(workspace, as_of=AS_OF)
    seg = r.by_segment.set_index("segment")
    assert seg.loc["b2b", "overdue"] == pytest.approx(350.0)
    assert seg.loc["retail", "outstanding"] == pytest.approx(240.0)
    assert r.to_dict()["overdue"] == pytest.approx(350.0)
