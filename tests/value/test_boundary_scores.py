"""``cvm score`` as a whole process on boundary data: a limit with its reason, or a refusal in words.

The two files of the issue: steady buyers who never drop out (before: BG/NBD ran to r = 1.7e35,
every customer CLV 0, tier platinum, exit 0, a raw numpy "divide by zero"), and a file where nobody
bought twice (before: every CLV about 7e-10, P(alive) 1, no warning).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cvm.data.simulate import write_transactions

CVM = [sys.executable, "-m", "cvm.cli"]


def _run(*args):
    return subprocess.run([*CVM, *map(str, args)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def steady_workspace(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("steady")
    # every customer buys about every other week (gamma shape 1e6: one rate) and (almost) never drops out
    path = write_transactions(tmp / "steady.csv", n_customers=300, seed=7, model="pnbd",
                              params={"r": 1e6, "alpha": 2e6, "s": 1e-9, "beta": 1e9})
    ws = tmp / "ws"
    assert _run("ingest", path, "--workspace", ws, "--json").returncode == 0
    return ws


def test_steady_buyers_are_scored_with_the_limit_and_say_so(steady_workspace, tmp_path):
    out = tmp_path / "scores.csv"
    proc = _run("score", "--workspace", steady_workspace, "--json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["model"] in ("nbd", "poisson")
    assert "nobody in these data seems to drop out" in proc.stderr
    assert "RuntimeWarning" not in proc.stderr and "divide by zero" not in proc.stderr
    scores = pd.read_csv(out)
    assert np.all(np.isfinite(scores["clv"])) and (scores["clv"] > 0).all()
    assert scores["expected_purchases"].min() > 0
    # about 0.5 purchases a week each: over the default horizon everyone is expected to buy
    assert scores["probability_alive"].eq(1.0).all()
    assert scores["clv"].nunique() > 1  # spend differs between customers: not one constant value


def test_nobody_buying_twice_is_refused_in_words(tmp_path):
    rng = np.random.default_rng(4)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, 200), unit="D")
    path = tmp_path / "once.csv"
    pd.DataFrame({"customer_id": [f"C{i}" for i in range(200)], "ts": days.strftime("%Y-%m-%d"),
                  "amount": np.round(rng.gamma(2, 20, 200), 2)}).to_csv(path, index=False)
    ws = tmp_path / "ws"
    assert _run("ingest", path, "--workspace", ws, "--json").returncode == 0
    proc = _run("score", "--workspace", ws, "--json")
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert "bought a second time" in error["error"] and error["hint"] and error["kind"] == "ConvergenceError"
    assert "Traceback" not in proc.stderr


def test_a_candidate_over_its_budget_is_left_out_with_the_reason(tmp_path, monkeypatch):
    import time

    from cvm.data import Workspace
    from cvm.models import ParetoNBD
    from cvm.models import limits
    from cvm.service import score_customers

    path = write_transactions(tmp_path / "tx.csv", n_customers=300, seed=11)
    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(path, kind="transactions")
    # a Pareto/NBD whose every likelihood evaluation takes 50 ms, against a budget of half a second
    slow = ParetoNBD._evaluate

    def crawling(self, theta, data, grad):
        time.sleep(0.05)
        return slow(self, theta, data, grad)

    monkeypatch.setattr(ParetoNBD, "_evaluate", crawling)
    monkeypatch.setitem(limits.CANDIDATE_BUDGET, "max_seconds", 0.5)
    scores = score_customers(ws, store=False)
    assert scores.attrs["model"] != "pnbd"
    notes = " ".join(scores.attrs["notes"])
    assert "pnbd was left out of the model choice: ParetoNBD did not finish its fit within 0.5 s" in notes
    assert (scores["clv"] > 0).any() and np.all(np.isfinite(scores["clv"]))
    ws.close()
