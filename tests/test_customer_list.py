"""cvm.service.customers.customer_list on a real workspace: filters, order, pages, names and clear refusals.

The stored runs are the web fixtures' fixed numbers (:func:`tests.web.conftest.store_runs`); every
expected list is computed here from those rows with plain Python.
"""

from __future__ import annotations

import pytest

from cvm.errors import SchemaError, WorkspaceError
from cvm.service.customers import CUSTOMER_COLUMNS, customer_list
from tests.web.conftest import store_runs, transactions_csv


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from cvm.data import Workspace

    folder = tmp_path_factory.mktemp("customer-list")
    ws = Workspace.open(folder / "ws")
    ws.ingest(transactions_csv(folder / "orders.csv", bad_row=False))
    store_runs(ws)
    ws.con.execute("CREATE TABLE customers AS SELECT customer_id, CASE WHEN customer_id IN ('K003', 'K017') "
                   "THEN 'Jan de Vries' ELSE 'Customer ' || customer_id END AS naam "
                   "FROM (SELECT DISTINCT customer_id FROM transactions)")
    yield ws
    ws.close()


def _latest(ws) -> list[tuple]:
    run = ws.con.execute("SELECT run_id FROM score_runs ORDER BY as_of DESC LIMIT 1").fetchone()[0]
    return ws.con.execute("SELECT customer_id, clv, value_tier, lifecycle_stage FROM scores WHERE run_id = ?",
                          [run]).fetchall()


def test_the_latest_valuation_best_first_in_the_listed_columns(ws):
    listing = customer_list(ws)
    rows = _latest(ws)
    assert listing.total == len(rows) == 30 and listing.as_of == "2023-12-31"
    expected = [c for _, c in sorted(((-clv, c) for c, clv, _, _ in rows))]
    assert listing.rows["customer_id"].tolist() == expected
    assert list(listing.rows.columns) == list(CUSTOMER_COLUMNS)


def test_filters_and_pages(ws):
    rows = _latest(ws)
    gold_at_risk = sorted(c for c, _, tier, stage in rows if tier == "gold" and stage == "at_risk")
    listing = customer_list(ws, value_tier="gold", lifecycle_stage="at_risk", sort="customer_id", ascending=True)
    assert listing.rows["customer_id"].tolist() == gold_at_risk and listing.total == len(gold_at_risk)
    everyone = sorted(c for c, *_ in rows)
    pages = [customer_list(ws, sort="customer_id", ascending=True, limit=7, offset=o).rows["customer_id"].tolist()
             for o in range(0, 30, 7)]
    assert sum(pages, []) == everyone and [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert customer_list(ws, id_prefix="k01", columns=["customer_id"]).rows["customer_id"].tolist() == \
        sorted((f"K01{i}" for i in range(10)), key=lambda c: -dict((r[0], r[1]) for r in rows)[c])


def test_a_name_search_shows_the_name_next_to_the_id(ws):
    listing = customer_list(ws, id_prefix="jan", name_contains="jan", sort="customer_id", ascending=True)
    assert listing.rows["customer_id"].tolist() == ["K003", "K017"]
    assert list(listing.rows.columns[:2]) == ["customer_id", "name"]
    assert set(listing.rows["name"]) == {"Jan de Vries"}
    # a wildcard typed by a person is a character, not a pattern
    assert customer_list(ws, id_prefix="%", name_contains="%").total == 0


def test_every_column_for_scripts_and_json_safe_records(ws):
    listing = customer_list(ws, columns=None, limit=1)
    assert {"run_id", "as_of", "residual_value", "percentile"} <= set(listing.rows.columns)
    assert listing.rows.attrs == {"run_id": listing.run_id, "as_of": "2023-12-31", "model": "bgnbd"}  # for an export
    record = listing.records()[0]
    assert record["as_of"].startswith("2023-12-31") and record["residual_value"] is None  # not stored: null


def test_clear_refusals(ws, tmp_path):
    from cvm.data import Workspace

    with pytest.raises(SchemaError, match="cannot sort by 'nope'"):
        customer_list(ws, sort="nope")
    with pytest.raises(SchemaError, match="unknown value tier 'diamond'") as caught:
        customer_list(ws, value_tier="diamond")
    assert "platinum, gold, silver, bronze" in caught.value.hint
    with pytest.raises(SchemaError, match="unknown scoring run"):
        customer_list(ws, run_id="no-such-run")
    empty = Workspace.open(tmp_path / "empty")
    try:
        with pytest.raises(WorkspaceError):
            customer_list(empty)
    finally:
        empty.close()
