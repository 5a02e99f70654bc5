"""The in-memory copy of the latest scoring run answers exactly what the database query answers."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.web.conftest import N_CUSTOMERS, store_runs, transactions_csv


@pytest.fixture()
def state(tmp_path):
    from cvm.data import Workspace
    from cvm.web.deps import WebConfig, WebState

    folder = tmp_path / "ws"
    ws = Workspace.open(folder)
    ws.ingest(transactions_csv(tmp_path / "orders.csv", bad_row=False))
    store_runs(ws)
    ws.close()
    state = WebState(folder, WebConfig())
    yield state
    state.jobs.shutdown()


def _database_row(state, run_id, customer_id):
    from cvm.web import lookups
    from cvm.jsonsafe import json_safe as clean

    row = lookups.customer_score(state.cursor(), run_id, customer_id)
    return None if row is None else clean(row)


def test_every_row_in_memory_equals_the_database_row(state):
    run = state.latest_run()
    state.latest_scores.refresh(run["run_id"], wait=True)
    snapshot = state.latest_scores.snapshot
    assert snapshot is not None and snapshot.run_id == run["run_id"]
    assert len(snapshot) == N_CUSTOMERS
    for i in range(N_CUSTOMERS):
        cid = f"K{i:03d}"
        memory = snapshot.row(cid)
        assert memory == _database_row(state, run["run_id"], cid)
        assert list(memory) == list(_database_row(state, run["run_id"], cid))  # same key order in the JSON
    assert snapshot.row("NOPE") is None


def test_lookup_falls_back_to_the_database_until_the_run_is_loaded(state):
    run = state.latest_run()
    hit, row = state.latest_scores.lookup(run["run_id"], "K005")  # starts the load, answers from nowhere yet
    assert (hit, row) == (False, None)
    assert state.customer_score("K005")[1] == _database_row(state, run["run_id"], "K005")
    state.latest_scores.refresh(run["run_id"], wait=True)
    assert state.latest_scores.lookup(run["run_id"], "K005") == (True, _database_row(state, run["run_id"], "K005"))


def test_a_new_run_replaces_the_snapshot(state):
    from cvm.data.scores import new_run_id, save_scores

    old = state.latest_run()
    state.latest_scores.refresh(old["run_id"], wait=True)
    frame = pd.DataFrame({"customer_id": ["K005", "NEW1"], "clv": [1.5, 2.5], "value_tier": ["gold", None]})
    run = {"run_id": new_run_id(), "as_of": "2024-03-31", "created": pd.Timestamp.now(), "model": "bgnbd",
           "n_customers": 2}
    with state.writing() as ws:  # the server reads; a change goes through the writer (a new generation)
        save_scores(ws, frame, run)
    assert state.latest_run()["run_id"] == run["run_id"]
    hit, _ = state.latest_scores.lookup(run["run_id"], "K005")
    assert not hit and state.latest_scores.snapshot is None  # the old run is never served as the latest
    state.latest_scores.refresh(run["run_id"], wait=True)
    hit, row = state.latest_scores.lookup(run["run_id"], "NEW1")
    assert hit and row["clv"] == 2.5 and row["value_tier"] is None and row["as_of"] == "2024-03-31T00:00:00"
    assert state.latest_scores.lookup(run["run_id"], "K001") == (True, None)  # not in the new run


def test_memory_lookups_can_be_turned_off(tmp_path):
    from cvm.web.latest_scores import LatestScores

    calls = []
    cache = LatestScores(lambda: calls.append(1), enabled=False)
    assert cache.lookup("run", "K001") == (False, None)
    cache.refresh("run", wait=True)
    assert calls == [] and cache.snapshot is None
