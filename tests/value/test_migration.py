"""Migration between value tiers on two hand-made scoring runs."""

import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.value.migration import NOT_YET
from cvm.service import migration
from cvm.data.scores import load_scores, save_scores, score_runs


def _store(ws, run_id, as_of, tiers, created):
    frame = pd.DataFrame({"customer_id": list(tiers), "value_tier": list(tiers.values())})
    frame["clv"] = 1.0
    frame["rank"] = range(1, len(frame) + 1)
    save_scores(ws, frame, {"run_id": run_id, "as_of": pd.Timestamp(as_of), "created": pd.Timestamp(created), "model": "bgnbd",
                            "horizon": 52, "time_unit": "week", "n_customers": len(frame)})


def test_transition_counts_and_row_shares(workspace):
    _store(workspace, "r1", "2024-01-31", {"a": "gold", "b": "gold", "c": "silver", "d": "bronze", "e": "bronze"}, "2024-02-01")
    _store(workspace, "r2", "2024-06-30", {"a": "gold", "b": "silver", "c": "gold", "d": "bronze", "e": "silver", "f": "bronze"}, "2024-07-01")
    r = migration(workspace, "2024-01-31", "2024-06-30", by="value_tier")
    c = r.counts
    # gold -> gold: a; gold -> silver: b; silver -> gold: c; bronze -> bronze: d; bronze -> silver: e; new f -> bronze
    assert c.loc["gold", "gold"] == 1 and c.loc["gold", "silver"] == 1
    assert c.loc["silver", "gold"] == 1
    assert c.loc["bronze", "bronze"] == 1 and c.loc["bronze", "silver"] == 1
    assert c.loc[NOT_YET, "bronze"] == 1
    assert int(c.to_numpy().sum()) == 6
    assert r.shares.loc["gold", "silver"] == pytest.approx(0.5)
    # up: c (silver->gold), e (bronze->silver); down: b; stayed: a, d
    assert (r.moved_up, r.moved_down, r.stayed) == (2, 1, 2)
    assert list(c.columns) == ["gold", "silver", "bronze"]  # tier order of the settings
    assert r.to_dict()["counts"]["gold"]["silver"] == 1


def test_stored_runs_are_kept_and_latest_wins(workspace):
    _store(workspace, "r1", "2024-01-31", {"a": "gold"}, "2024-02-01")
    _store(workspace, "r2", "2024-01-31", {"a": "silver"}, "2024-02-02")
    assert len(score_runs(workspace)) == 2
    assert load_scores(workspace, as_of="2024-01-31")["value_tier"].iloc[0] == "silver"
    assert load_scores(workspace, run_id="r1")["value_tier"].iloc[0] == "gold"
    with pytest.raises(SchemaError):
        load_scores(workspace, run_id="nope")


def test_from_must_precede_to(workspace):
    with pytest.raises(SchemaError):
        migration(workspace, "2024-06-30", "2024-01-31")
