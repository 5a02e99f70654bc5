"""The demo workspace: every question has data, deterministically."""

import warnings

import pandas as pd
import pytest

from cvm.demo import SCORE_DATES, build_demo_workspace, demo_tables
from cvm.errors import WorkspaceError


def test_demo_tables_are_deterministic_and_complete():
    one, two = demo_tables(seed=3), demo_tables(seed=3)
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name])
    refs = one["referrals"]
    parent = dict(zip(refs["referred_id"], refs["referrer_id"]))
    depth = {c: 0 for c in parent}
    for c in parent:
        k, x = 0, c
        while x in parent and k < 10:
            x, k = parent[x], k + 1
        depth[c] = k
    assert max(depth.values()) >= 3  # a referral chain three steps deep
    inv = one["invoices"]
    end = "1998-06-30"
    assert (inv["paid"].notna()).any()
    assert ((inv["paid"].isna()) & (inv["due"] < end)).any()  # overdue
    assert set(one["costs"]["kind"]) >= {"acquisition", "service", "campaign", "retention"}
    assert one["customers"]["customer_id"].str.startswith("P").sum() == 60  # prospects


def test_demo_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError):
        build_demo_workspace(tmp_path)


@pytest.mark.slow
def test_demo_workspace_answers_every_question(tmp_path):
    import cvm.value as v
    from cvm.data.scores import latest_scores, score_runs

    ws = build_demo_workspace(tmp_path / "demo")
    try:
        runs = score_runs(ws)
        assert [str(pd.Timestamp(a).date()) for a in runs["as_of"]] == list(SCORE_DATES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = v.migration(ws, SCORE_DATES[0], SCORE_DATES[1])
            assert int(m.counts.to_numpy().sum()) == len(latest_scores(ws))
            assert set(v.segments(ws, by="rfm")["segment"]) >= {"Champions", "Lost", "Prospect"}
            assert len(v.segments(ws, by="matrix")) >= 3
            assert v.receivables(ws, as_of="1998-06-30").overdue > 0
            actions = v.next_best_actions(ws)
            assert {"collect payment", "retain", "upsell"} <= set(actions["action"])
            inv = v.investment(ws, budget=200.0)
            assert inv.retention["selected"].any()
            best = latest_scores(ws)["customer_id"].iloc[0]
            assert v.customer_view(ws, best).to_dict()["score"] is not None
    finally:
        ws.close()
