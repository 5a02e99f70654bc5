"""The default valuation is the run with the latest as-of date, not the run made last.

A workspace is scored as of 2024-12-31 first and as of 2024-06-30 afterwards (the
"wrong" creation order that ``cvm migration``, the report's migration section and
``cvm score --as-of`` produce). Customer ``NEW1`` bought for the first time in
November 2024, so a list taken from the June valuation would silently lack them.
Every face is asked as a whole ``cvm`` process or over HTTP from a real server:
``customers``, ``customer``, ``actions``, their exports, and the web API must all
answer from 2024-12-31 and say so (``as_of`` and ``model``).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

LATE, EARLY = "2024-12-31", "2024-06-30"
N_OLD = 300


def cvm(*args: str) -> subprocess.CompletedProcess:
    """The ``cvm`` command as its own process (the worktree's code: PYTHONPATH is inherited)."""
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=600)


def cvm_json(*args: str) -> dict:
    proc = cvm(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def orders_csv(path: Path) -> Path:
    """300 simulated BG/NBD customers (acquired in the first half of 2023, seen until the end of 2024)
    and NEW1, whose first purchase is on 2024-11-20."""
    from cvm.data.simulate import simulate_transactions

    frame = simulate_transactions(N_OLD, start="2023-01-01", end="2024-12-31", acquisition_end="2023-06-30", seed=11,
                                  as_pandas=True)
    new = pd.DataFrame({"customer_id": ["NEW1", "NEW1"], "ts": pd.to_datetime(["2024-11-20", "2024-12-10"]),
                        "amount": [80.0, 95.0], "order_id": ["N1", "N2"], "channel": ["web", "web"]})
    pd.concat([frame, new], ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("latest")
    ws = root / "ws"
    assert cvm("ingest", str(orders_csv(root / "orders.csv")), "--workspace", str(ws)).returncode == 0
    late = cvm_json("score", "--model", "bgnbd", "--as-of", LATE, "--workspace", str(ws))
    assert late["as_of"] == LATE and late["default_valuation"] is True
    time.sleep(0.01)
    early = cvm_json("score", "--model", "bgnbd", "--as-of", EARLY, "--out", str(root / "early.csv"),
                     "--workspace", str(ws))
    # made last, at an earlier date: history, and the command says so
    assert early["as_of"] == EARLY and early["default_valuation"] is False
    return ws


def test_the_historical_run_was_made_last(workspace):
    import duckdb

    with duckdb.connect(str(workspace / "cvm.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT CAST(as_of AS DATE)::VARCHAR FROM score_runs ORDER BY created").fetchall()
    assert [r[0] for r in rows] == [LATE, EARLY]


def test_customers_list_and_its_json_use_the_latest_date(workspace):
    payload = cvm_json("customers", "--limit", "1000", "--workspace", str(workspace))
    assert payload["as_of"] == LATE and payload["model"] == "bgnbd" and payload["run_id"]
    ids = {str(row["customer_id"]) for row in payload["customers"]}
    assert "NEW1" in ids and len(ids) == N_OLD + 1
    assert {str(row["as_of"])[:10] for row in payload["customers"]} == {LATE}


def test_one_customer_uses_the_latest_date(workspace):
    view = cvm_json("customer", "NEW1", "--workspace", str(workspace))
    assert view["score"]["as_of"] == LATE and view["score"]["model"] == "bgnbd"
    assert not any("not in the latest scoring run" in note for note in view.get("notes") or [])
    # the history shows both runs in date order
    assert [str(h["as_of"])[:10] for h in cvm_json("customer", "C5", "--workspace", str(workspace))["history"]] == [
        EARLY, LATE]


def test_actions_use_the_latest_date(workspace):
    payload = cvm_json("actions", "--limit", "1000", "--workspace", str(workspace))
    assert payload["as_of"] == LATE and payload["model"] == "bgnbd"
    assert "NEW1" in {row["customer_id"] for row in payload["rows"]} and payload["n_customers"] == N_OLD + 1


@pytest.mark.parametrize("name", ["customers.csv", "customers.xlsx", "customers.parquet", "actions.csv",
                                  "actions.xlsx"])
def test_exports_carry_the_latest_date_and_the_model(workspace, tmp_path, name):
    out = tmp_path / name
    command = name.split(".")[0]
    proc = cvm(command, "--out", str(out), "--workspace", str(workspace))
    assert proc.returncode == 0, proc.stderr
    frame = {"csv": lambda p: pd.read_csv(p, dtype=str), "xlsx": pd.read_excel, "parquet": pd.read_parquet}[
        name.split(".")[1]](out)
    assert len(frame) == N_OLD + 1 and "NEW1" in set(frame["customer_id"])
    assert {str(v)[:10] for v in frame["as_of"]} == {LATE}
    assert set(frame["model"]) == {"bgnbd"}
    if command == "customers":
        assert list(frame.columns[:3]) == ["run_id", "as_of", "customer_id"] and frame.columns[-1] == "model"


def test_the_export_of_a_historical_run_says_its_own_date(workspace):
    frame = pd.read_csv(workspace.parent / "early.csv", dtype=str)
    assert set(frame["as_of"]) == {EARLY} and set(frame["model"]) == {"bgnbd"}
    assert "NEW1" not in set(frame["customer_id"])  # not a customer yet in June
    assert list(frame.columns[:3]) == ["run_id", "as_of", "customer_id"]


def test_the_report_stores_history_without_replacing_the_valuation(tmp_path):
    """``cvm report`` scores an earlier date for its migration section: that run is history."""
    import duckdb

    ws = tmp_path / "ws"
    assert cvm("ingest", str(orders_csv(tmp_path / "orders.csv")), "--workspace", str(ws)).returncode == 0
    cvm_json("score", "--model", "bgnbd", "--as-of", LATE, "--workspace", str(ws))
    before = cvm_json("customers", "--limit", "0", "--workspace", str(ws))
    proc = cvm("report", "--out", str(tmp_path / "report.html"), "--workspace", str(ws))
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        made_last = con.execute("SELECT CAST(as_of AS DATE)::VARCHAR FROM score_runs ORDER BY created DESC").fetchone()
    assert made_last[0] < LATE  # the report did store an earlier run, after the latest one
    after = cvm_json("customers", "--limit", "0", "--workspace", str(ws))
    assert after["as_of"] == before["as_of"] == LATE and after["run_id"] == before["run_id"]
    assert after["n_customers"] == N_OLD + 1


def test_a_rerun_at_the_latest_date_replaces_it(tmp_path):
    """Two runs at one date: the one made last is the default (a rerun after corrected data)."""
    from cvm.data import Workspace
    from cvm.data.scores import latest_run_id, latest_scores, new_run_id, save_scores
    from cvm.web import lookups

    ws = Workspace.open(tmp_path / "ws")
    runs = []
    for as_of, created, clv in (("2024-12-31", "2025-01-02", 1.0), ("2024-06-30", "2025-01-03", 2.0),
                                ("2024-12-31", "2025-01-04", 3.0), ("2023-12-31", "2025-01-05", 4.0)):
        run = {"run_id": new_run_id(), "as_of": as_of, "created": pd.Timestamp(created), "model": "bgnbd"}
        save_scores(ws, pd.DataFrame({"customer_id": ["A"], "clv": [clv], "rank": [1]}), run)
        runs.append(run["run_id"])
    assert latest_run_id(ws) == runs[2]
    frame = latest_scores(ws)
    assert frame.attrs["run_id"] == runs[2] and frame.attrs["as_of"] == "2024-12-31" and frame["clv"].tolist() == [3.0]
    assert lookups.latest_run(ws.con)["run_id"] == runs[2]
    ws.close()


def test_migration_stores_history_without_replacing_the_valuation(tmp_path):
    """``migration`` scores two earlier dates after the latest one: the default stays the latest date."""
    from cvm.data import Workspace
    from cvm.service import migration, score_customers
    from cvm.data.scores import latest_scores, score_runs

    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(orders_csv(tmp_path / "orders.csv"))
    latest = score_customers(ws, as_of=LATE, model="bgnbd")
    migration(ws, "2024-03-31", EARLY, by="value_tier", model="bgnbd")
    assert len(score_runs(ws)) == 3
    again = latest_scores(ws)
    assert again.attrs["run_id"] == latest.attrs["run_id"] and again.attrs["as_of"] == LATE
    assert "NEW1" in set(again["customer_id"])
    ws.close()


# ----------------------------------------------------------------------------- the web app


@pytest.fixture(scope="module")
def server(workspace, tmp_path_factory):
    import shutil

    from cvm.web.app import create_app
    from cvm.web.auth import create_token
    from tests.web.conftest import LiveServer

    copy = tmp_path_factory.mktemp("latest-web") / "ws"  # the server holds the workspace's one writer
    shutil.copytree(workspace, copy)
    token = create_token(copy, "viewer", name="viewer token")
    app = create_app(copy)
    live = LiveServer(app).start()
    yield live, {"Authorization": f"Bearer {token}"}, app
    live.stop()


def test_web_api_answers_from_the_latest_date(server):
    live, headers, app = server
    page = httpx.get(live.url + "/api/customers", params={"page_size": 500}, headers=headers).json()
    assert str(page["run"]["as_of"])[:10] == LATE and page["run"]["model"] == "bgnbd"
    assert page["total"] == N_OLD + 1 and "NEW1" in {c["customer_id"] for c in page["customers"]}
    kpis = httpx.get(live.url + "/api/kpis", headers=headers).json()
    assert str(kpis["run"]["as_of"])[:10] == LATE and kpis["kpis"]["customers"] == N_OLD + 1
    one = httpx.get(live.url + "/api/customers/NEW1", headers=headers)
    assert one.status_code == 200 and one.json()["as_of"] == LATE and one.json()["model"] == "bgnbd"
    # the in-memory copy holds the same run
    state = app.state.web
    state.latest_scores.refresh(state.latest_run()["run_id"], wait=True)
    assert state.latest_scores.snapshot.run_id == page["run"]["run_id"]
    assert httpx.get(live.url + "/api/customers/NEW1", headers=headers).json()["customer"]["customer_id"] == "NEW1"


def test_web_csv_export_carries_the_latest_date_and_the_model(server):
    live, headers, _ = server
    response = httpx.get(live.url + "/api/scores.csv", headers=headers)
    assert response.status_code == 200
    assert f"cvm-scores-{LATE}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == N_OLD + 1 and "NEW1" in {r["customer_id"] for r in rows}
    assert {r["as_of"] for r in rows} == {LATE} and {r["model"] for r in rows} == {"bgnbd"}
