"""Storing a scoring run in slices: every row arrives once, in one transaction.

``save_scores`` inserts :data:`cvm.data.scores.STORE_ROWS` rows at a time to keep the
peak memory of a 10 M-customer run down. With the slice set to 3 rows, 10 scores must be
stored exactly as given (hand-made values, compared row by row), and a run whose insert
fails half-way must leave neither scores nor a ``score_runs`` row behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cvm.data.scores as store
from cvm.data.warehouse import Workspace


def _scores(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"C{i:02d}" for i in range(n)],
        "frequency": np.arange(n, dtype=float),
        "clv": np.arange(n, dtype=float) * 1.5,
        "probability_alive": np.linspace(0.1, 1.0, n),
    })


def _run(run_id: str) -> dict:
    return {"run_id": run_id, "as_of": "2024-06-30", "created": pd.Timestamp("2024-07-01"), "model": "bgnbd",
            "n_customers": 10}


def test_ten_scores_in_slices_of_three_arrive_once_and_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "STORE_ROWS", 3)
    ws = Workspace.open(tmp_path / "ws")
    try:
        given = _scores(10)
        store.save_scores(ws, given, _run("r1"))
        back = ws.con.execute("SELECT customer_id, frequency, clv, probability_alive FROM scores "
                              "WHERE run_id = 'r1' ORDER BY customer_id").df()
        pd.testing.assert_frame_equal(back, given, check_dtype=False)
        assert ws.con.execute("SELECT count(*) FROM score_runs WHERE run_id = 'r1'").fetchone()[0] == 1
    finally:
        ws.close()


def test_a_run_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "STORE_ROWS", 3)
    ws = Workspace.open(tmp_path / "ws")
    try:
        bad = _scores(10).astype({"clv": object})
        bad.loc[7, "clv"] = "not a number"  # the third slice cannot be cast to DOUBLE
        with pytest.raises(Exception):
            store.save_scores(ws, bad, _run("r2"))
        assert ws.con.execute("SELECT count(*) FROM scores WHERE run_id = 'r2'").fetchone()[0] == 0
        assert ws.con.execute("SELECT count(*) FROM score_runs WHERE run_id = 'r2'").fetchone()[0] == 0
    finally:
        ws.close()


def test_the_out_file_is_the_stored_run_and_appears_only_once_it_is_stored(tmp_path, monkeypatch):
    # ``score_customers(out_file=...)`` writes the file in a second thread while the run is stored: the
    # file must be what ``export`` writes of the returned run, and a run that could not be stored
    # must leave no file (nor a partial one) behind
    import cvm.service.scoring as scoring
    from cvm.data.export import export
    from cvm.data.simulate import write_transactions

    ws = Workspace.open(tmp_path / "ws")
    try:
        ws.ingest(write_transactions(tmp_path / "tx.csv", n_customers=300, seed=1))
        out = tmp_path / "out" / "scores.parquet"
        frame = scoring.score_customers(ws, model="bgnbd", horizon=4, out_file=out)
        again = export(frame, tmp_path / "again.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(again))
        assert set(pd.read_parquet(out)["run_id"]) == {frame.attrs["run_id"]}
        stored = ws.con.execute("SELECT count(*) FROM scores WHERE run_id = ?", [frame.attrs["run_id"]]).fetchone()[0]
        assert stored == len(frame) == 300

        def refused(*args, **kwargs):
            raise RuntimeError("the store failed")

        monkeypatch.setattr(scoring, "save_scores", refused)
        with pytest.raises(RuntimeError, match="the store failed"):
            scoring.score_customers(ws, model="bgnbd", horizon=4, out_file=tmp_path / "out" / "second.parquet")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scores.parquet"]
    finally:
        ws.close()
