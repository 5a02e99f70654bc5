"""Corrected orders and returns (issue 11, items 3 and 4), through ``cvm`` as a process and the Python API.

The files and their expected outcomes (worked out by hand) come from ``make_returns.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.data import Workspace, summary_data_from_transaction_data, workspace_summary

try:
    from .make_returns import make
except ImportError:
    from make_returns import make

ROOT = Path(__file__).resolve().parents[3]
COUNTS = ("rows_read", "accepted", "quarantined", "duplicates", "changed")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return make(tmp_path_factory.mktemp("returns-files"))


def cvm(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)


def counts(report) -> dict:
    data = report if isinstance(report, dict) else report.to_dict()
    return {k: data[k] for k in COUNTS}


def stored(ws) -> list[tuple]:
    rows = ws.con.execute("SELECT customer_id, order_id, strftime(ts, '%Y-%m-%d'), amount, source, line "
                          "FROM transactions ORDER BY customer_id, order_id, line").fetchall()
    return [tuple(r) for r in rows]


def history(ws) -> list[tuple]:
    rows = ws.con.execute("SELECT customer_id, order_id, strftime(ts, '%Y-%m-%d'), amount, source, line, "
                          "replaced_by_source, replaced_by_line FROM transactions_history "
                          "ORDER BY customer_id, order_id, line").fetchall()
    return [tuple(r) for r in rows]


def check_identity(report: dict) -> None:
    assert report["rows_read"] == report["accepted"] + report["quarantined"] + report["duplicates"] + report["changed"]


# ----------------------------------------------------------------------------- corrections
def test_correction_between_files_through_the_cvm_process(cases, tmp_path):
    ws_dir = str(tmp_path / "ws")
    jan, feb = cases["jan"], cases["feb"]
    first = cvm("ingest", str(jan.path), "--workspace", ws_dir, "--json")
    assert first.returncode == 0, first.stderr
    assert counts(json.loads(first.stdout)) == jan.expect["report"]
    second = cvm("ingest", str(feb.path), "--workspace", ws_dir, "--json")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert counts(report) == feb.expect["report"]
    check_identity(report)
    # the printed line names the changed rows too
    again = cvm("ingest", str(jan.path), "--workspace", ws_dir)
    assert again.returncode == 0, again.stderr
    assert "2 duplicates + 0 changed" in " ".join(again.stdout.split())
    with Workspace.open(ws_dir) as ws:
        assert stored(ws) == feb.expect["stored"]
        assert history(ws) == feb.expect["history"]
        assert ws.con.execute("SELECT count(*) FROM transactions_history WHERE replaced IS NULL").fetchone()[0] == 0


def test_correction_between_files_through_the_python_api(cases, tmp_path):
    jan, feb = cases["jan"], cases["feb"]
    with Workspace.open(tmp_path / "ws") as ws:
        assert counts(ws.ingest(jan.path)) == jan.expect["report"]
        report = ws.ingest(feb.path)
        assert counts(report) == feb.expect["report"]
        # re-reading the old export brings nothing back: o2's January version was replaced before
        again = ws.ingest(jan.path)
        assert counts(again) == feb.expect["jan_again"]
        assert stored(ws) == feb.expect["stored"]
        assert history(ws) == feb.expect["history"]
        # the summary uses the corrected order: k2 bought once, 21.50 on 01-22
        s = ws.summary(as_of="2024-02-29", time_unit="day")
        assert s.loc["k2", "total_amount"] == 21.5 and s.loc["k2", "first_purchase"] == pd.Timestamp("2024-01-22")


def test_correction_within_one_file(cases, tmp_path):
    case = cases["corrected_within"]
    with Workspace.open(tmp_path / "ws") as ws:
        report = ws.ingest(case.path)
        assert counts(report) == case.expect["report"]
        check_identity(report.to_dict())
        assert stored(ws) == case.expect["stored"]
        assert history(ws) == case.expect["history"]
        assert counts(ws.ingest(case.path)) == case.expect["again"]
        assert stored(ws) == case.expect["stored"] and history(ws) == case.expect["history"]
    # the same through the process, into a workspace that already holds rows (the staged path, not the first load)
    ws_dir = str(tmp_path / "ws2")
    assert cvm("ingest", str(cases["jan"].path), "--workspace", ws_dir).returncode == 0
    proc = cvm("ingest", str(case.path), "--workspace", ws_dir, "--json")
    assert proc.returncode == 0, proc.stderr
    assert counts(json.loads(proc.stdout)) == case.expect["report"]
    with Workspace.open(ws_dir) as ws:
        assert [r for r in stored(ws) if r[4] == case.path.name] == case.expect["stored"]
        assert history(ws) == case.expect["history"]


def test_a_corrected_order_of_several_lines_is_replaced_whole(cases, tmp_path):
    march, april = cases["lines_march"], cases["lines_april"]
    with Workspace.open(tmp_path / "ws") as ws:
        assert counts(ws.ingest(march.path)) == march.expect["report"]
        report = ws.ingest(april.path)
        assert counts(report) == april.expect["report"]
        check_identity(report.to_dict())
        assert stored(ws) == april.expect["stored"]
        assert history(ws) == april.expect["history"]
        # re-reading March brings the replaced version back nowhere; April again changes nothing
        assert counts(ws.ingest(march.path)) == april.expect["march_again"]
        assert counts(ws.ingest(april.path)) == {"rows_read": 2, "accepted": 0, "quarantined": 0,
                                                 "duplicates": 2, "changed": 0}
        assert stored(ws) == april.expect["stored"] and history(ws) == april.expect["history"]
        # the summary sees one purchase of 30 + 25 on 2024-03-10
        s = ws.summary(as_of="2024-03-31", time_unit="day")
        assert s.loc["k5", "total_amount"] == 55.0


def test_a_correction_rolls_back_with_a_failed_ingest(cases, tmp_path, monkeypatch):
    from cvm.data import warehouse

    jan, feb = cases["jan"], cases["feb"]
    with Workspace.open(tmp_path / "ws") as ws:
        ws.ingest(jan.path)
        before = stored(ws)

        def crash(_ws):
            raise RuntimeError("simulated crash after the insert")

        monkeypatch.setattr(warehouse, "_after_insert", crash)
        with pytest.raises(RuntimeError):
            ws.ingest(feb.path)
        assert stored(ws) == before and history(ws) == []


# ----------------------------------------------------------------------------- returns in the summary
def test_returns_in_the_summary_by_hand(cases, tmp_path):
    case = cases["returns"]
    with Workspace.open(tmp_path / "ws") as ws:
        report = ws.ingest(case.path)
        assert counts(report) == case.expect["report"]
        s = ws.summary(as_of=case.expect["as_of"], time_unit="day")
    for cid, values in case.expect["summary"].items():
        for col, value in values.items():
            assert s.loc[cid, col] == pytest.approx(value, abs=1e-9), (cid, col)
    assert "B" not in s.index
    assert s.attrs["returns_only_customers"] == case.expect["returns_only"]
    # no return made a purchase: frequency, recency and T equal those of the purchases alone
    tx = pd.read_csv(case.path, sep=";", decimal=",", parse_dates=["Datum"])
    tx.columns = ["customer_id", "ts", "amount", "order_id"]
    plain = workspace_summary(tx[tx["amount"] >= 0], as_of=case.expect["as_of"], time_unit="day")
    pd.testing.assert_frame_equal(s[["frequency", "recency", "T"]], plain[["frequency", "recency", "T"]])


def test_returns_in_calibration_and_holdout(cases, tmp_path):
    case = cases["returns"]
    with Workspace.open(tmp_path / "ws") as ws:
        ws.ingest(case.path)
        s = ws.summary(calibration_end="2024-01-31", holdout_end=case.expect["as_of"], time_unit="day")
    for cid, values in case.expect["holdout"].items():
        for col, value in values.items():
            assert s.loc[cid, col] == pytest.approx(value, abs=1e-9), (cid, col)
    assert "B" not in s.index and s["duration_holdout"].iloc[0] == 30.0


def test_lifetimes_compatible_summary_keeps_lifetimes_rule_for_returns(cases):
    """summary_data_from_transaction_data equals lifetimes, where a negative amount is a purchase like any other."""
    from lifetimes.utils import summary_data_from_transaction_data as lifetimes_summary

    tx = pd.read_csv(cases["returns"].path, sep=";", decimal=",", parse_dates=["Datum"])
    ours = summary_data_from_transaction_data(tx, "Klant", "Datum", "Bedrag", observation_period_end="2024-03-01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lifetimes_summary(tx, "Klant", "Datum", "Bedrag", observation_period_end="2024-03-01").sort_index()
    assert list(ours.index) == list(theirs.index) and "B" in ours.index
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-9)
    # lifetimes counts A's two returns as purchase days (5 days, x = 4), cvm's own summary does not (x = 2)
    assert ours.loc["A", "frequency"] == 4.0


# ----------------------------------------------------------------------------- returns in the valuation
def test_cvm_score_values_everyone_and_names_the_net_returners(cases, tmp_path):
    case = cases["returns"]
    ws_dir = str(tmp_path / "ws")
    out = tmp_path / "scores.csv"
    assert cvm("ingest", str(case.path), "--workspace", ws_dir).returncode == 0
    proc = cvm("score", "--workspace", ws_dir, "--as-of", case.expect["as_of"], "--model", "bgnbd",
               "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["spend_excluded"] == 2 and payload["spend_excluded_customers"] == case.expect["spend_excluded"]
    assert payload["returns_only"] == 1
    # named on stderr, in words
    text = " ".join(proc.stderr.split())
    assert "2 customer(s) have a zero or negative repeat spend" in text and ": C, D" in text
    assert "1 customer(s) have only returns" in text and "not valued: B" in text
    scores = pd.read_csv(out).set_index("customer_id")
    # every buyer is valued (B has only returns and is not one); nothing NaN, inf or constant
    assert set(scores.index) == set(pd.read_csv(case.path, sep=";")["Klant"]) - {"B"}
    for col in ("clv", "clv_low", "clv_high", "probability_alive", "expected_purchases", "expected_spend"):
        values = scores[col].to_numpy(float)
        assert np.isfinite(values).all(), col
        assert np.ptp(values) > 0, col
    assert (scores["clv"] > 0).all()
    # C and D get the population mean spend of the Gamma-Gamma fit, E[M] = p gamma / (q - 1)
    with Workspace.open(ws_dir) as ws:
        from cvm.fitting import fit_spend_model

        gg, _ = fit_spend_model(ws.summary(as_of=case.expect["as_of"], time_unit=ws.settings.time_unit))
    p, q, gamma = (gg.params_[k] for k in ("p", "q", "gamma"))
    for cid in ("C", "D"):
        assert scores.loc[cid, "expected_spend"] == pytest.approx(p * gamma / (q - 1), rel=1e-9)
    # A (a repeat customer with positive spend) keeps its own Gamma-Gamma posterior mean, eq. 5 of Fader & Hardie (2013)
    x, m = scores.loc["A", "frequency"], scores.loc["A", "monetary_value"]
    assert scores.loc["A", "expected_spend"] == pytest.approx(p * (gamma + m * x) / (p * x + q - 1), rel=1e-9)


def test_value_customers_with_net_returns_and_no_spend_model():
    """Without a spend model the net returner gets the mean order value of the customers with positive spend."""
    from cvm.models import BGNBD
    from cvm.value.clv import value_customers

    summary = pd.DataFrame({
        "customer_id": ["a", "b", "c"], "frequency": [2.0, 1.0, 1.0], "recency": [10.0, 5.0, 3.0],
        "T": [20.0, 20.0, 20.0], "monetary_value": [30.0, -5.0, 10.0],
        "n_transactions": [3, 2, 2], "total_amount": [90.0, 15.0, 30.0],
    }).set_index("customer_id")
    bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    result = value_customers(summary, bgnbd, None, horizon=10, discount_rate=0.0, margin=1.0)
    spend = result.customers.set_index("customer_id")["expected_spend"]
    # a: 90 / 3 = 30; c: 30 / 2 = 15; b is out: (90 + 30) / (3 + 2) = 24
    assert spend.to_dict() == pytest.approx({"a": 30.0, "b": 24.0, "c": 15.0})
    assert result.spend_excluded == ["b"] and any("b" in note for note in result.notes)


def test_value_customers_refuses_when_nobody_has_a_positive_spend():
    from cvm.errors import SchemaError
    from cvm.models import BGNBD
    from cvm.value.clv import value_customers

    summary = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [1.0, 0.0], "recency": [3.0, 0.0],
                            "T": [9.0, 9.0], "monetary_value": [-5.0, 0.0], "n_transactions": [2, 1],
                            "total_amount": [-1.0, 0.0]})
    bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    with pytest.raises(SchemaError, match="no customer has a positive spend"):
        value_customers(summary, bgnbd, None, horizon=10, discount_rate=0.0)
