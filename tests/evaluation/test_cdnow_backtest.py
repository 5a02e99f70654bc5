"""The CDNOW backtest reproduces the published figures.

Data: the CDNOW 1/10th sample bundled in cvm (2,357 customers, 1997-01-01 to
1998-06-30), calibration 39 weeks (to 1997-09-30), holdout to week 78.

Published values:
* Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing
  Science 24(2): BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426; the
  week-78 cumulative repeat transactions (Figure 3) actual 4,339 and BG/NBD
  forecast about 4,166 (Pareto/NBD about 4,269); the conditional expectations of
  Figure 5.
* Fader & Hardie's notes on the BG/NBD and Pareto/NBD (and the FHL 2005
  comparison): holdout conditional expectations by calibration frequency x = 0..6, 7+
  and the calibration-histogram chi-square, BG/NBD 4.82 and Pareto/NBD 11.99,
  over the eight groups 0..6, 7+ (8 - 1 - 4 = 3 degrees of freedom).
"""

import json

import numpy as np
import pytest

from cvm.errors import SchemaError
from cvm.service import backtest, choose_model, latest_backtest

pytestmark = pytest.mark.slow

PUBLISHED_CONDITIONAL = {
    "bgnbd": [0.225, 0.523, 1.044, 1.520, 2.164, 2.654, 3.504, 6.157],
    "pnbd": [0.138, 0.600, 1.196, 1.714, 2.399, 2.907, 3.819, 6.403],
}


@pytest.fixture(scope="module")
def cdnow_ws(tmp_path_factory):
    from cvm.data import Workspace, load_cdnow_transactions

    ws = Workspace.open(tmp_path_factory.mktemp("cdnow"))
    ws.ingest(load_cdnow_transactions(), kind="transactions")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def result(cdnow_ws):
    return backtest(cdnow_ws, "1997-09-30", "1998-06-30", time_unit="week")


def test_bgnbd_parameters_match_the_paper(result):
    p = result.models["bgnbd"]["params"]
    # FHL 2005, Table/section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (three decimals)
    assert p["r"] == pytest.approx(0.243, abs=6e-4)
    assert p["alpha"] == pytest.approx(4.414, abs=6e-4)
    assert p["a"] == pytest.approx(0.793, abs=6e-4)
    assert p["b"] == pytest.approx(2.426, abs=6e-4)


def test_week78_cumulative_tracking(result):
    m = result.models
    # actual repeat transactions by the end of week 78: 4,339 (count of the data, FHL 2005 Figure 3)
    assert m["bgnbd"]["tracking_actual_end"] == 4339
    # published forecasts: BG/NBD about 4,166, Pareto/NBD about 4,269 (read from the paper; 0.5 % tolerance
    # covers where within the last day the week-78 line is drawn)
    assert m["bgnbd"]["tracking_predicted_end"] == pytest.approx(4166, rel=0.005)
    assert m["pnbd"]["tracking_predicted_end"] == pytest.approx(4269, rel=0.005)
    # the tracking frame agrees with the calibration summary: 2,457 repeat transactions by the end of week 39
    actual = result.tracking[result.tracking["series"] == "actual"].set_index("period")
    assert actual.loc[39, "cumulative"] == 2457
    assert actual.loc[39, "phase"] == "calibration" and actual.loc[40, "phase"] == "holdout"
    assert len(actual) == 78


def test_holdout_totals_json_contract(result):
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["best"] in {"bgnbd", "mbgnbd", "pnbd"}
    for name in ("bgnbd", "mbgnbd", "pnbd"):
        entry = d["models"][name]
        # 1,882 repeat transactions in weeks 40-78 (4,339 - 2,457)
        assert entry["holdout_actual"] == 1882
        # predicted = sum of each customer's conditional expectation; checked against the table's means
        assert entry["holdout_predicted"] == pytest.approx(
            float(np.sum(result.conditional["n_customers"] * result.conditional[name])), rel=1e-9)


@pytest.mark.parametrize("model", ["bgnbd", "pnbd"])
def test_conditional_expectations_match_published(result, model):
    got = result.conditional[model].to_numpy()
    assert got == pytest.approx(PUBLISHED_CONDITIONAL[model], abs=2e-3)
    # the actual means are data: 1,411 customers made no repeat purchase in calibration
    assert result.conditional.loc["0", "n_customers"] == 1411


def test_chi_square_matches_published(result):
    bg, pn = result.models["bgnbd"], result.models["pnbd"]
    assert bg["chi_square"] == pytest.approx(4.82, abs=0.02)
    # Pareto/NBD: 11.99 published; our optimum differs in the 4th digit of the parameters (1 % tolerance)
    assert pn["chi_square"] == pytest.approx(11.99, rel=0.01)
    assert bg["chi_square_dof"] == 3 and pn["chi_square_dof"] == 3
    assert result.histogram["observed"].tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert result.histogram["bgnbd"].sum() == pytest.approx(2357, rel=1e-9)


def test_best_model_reason_and_ranking_metrics(result):
    best = result.models[result.best]
    others = [m for m in ("bgnbd", "mbgnbd", "pnbd") if m != result.best]
    assert all(best["tracking_error"] <= result.models[m]["tracking_error"] + 0.01 for m in others)
    assert result.reason_values["model"] == result.best
    assert result.reason_code in ("best_tracking_error", "tie_broken_by_bic")
    assert {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD"}[result.best] in result.reason
    for name in ("bgnbd", "pnbd"):
        m = result.models[name]
        assert 0 < m["ranking_gini"] <= 1
        assert 0.1 < m["top_decile_share"] < 1  # better than random (0.1), below everything
        assert m["holdout_spend_actual"] > 0 and m["mae_spend"] > 0
    calib = result.probability_alive_calibration
    assert set(calib["model"]) == {"bgnbd", "mbgnbd", "pnbd"}
    assert ((calib["observed"] >= 0) & (calib["observed"] <= 1)).all()


def test_stored_result_drives_choose_model(cdnow_ws, result):
    stored = latest_backtest(cdnow_ws, current_only=True)
    assert stored is not None and stored.best == result.best
    assert choose_model(cdnow_ws) == result.best


def test_bad_split_is_a_clear_error(cdnow_ws):
    with pytest.raises(SchemaError, match="before the first transaction"):
        backtest(cdnow_ws, "1990-01-01")
    with pytest.raises(SchemaError, match="not after the calibration end"):
        backtest(cdnow_ws, "1998-06-30", "1998-01-01")
    with pytest.raises(SchemaError):
        backtest(cdnow_ws, "1997-09-30", models=["bgbb"])
    with pytest.raises(SchemaError, match="not a date"):
        backtest(cdnow_ws, "next tuesday")


def test_transactions_frame_goes_through_the_data_layer():
    from cvm.data import load_cdnow_transactions

    r = backtest(load_cdnow_transactions(), "1997-09-30", "1998-06-30", models=["bgnbd"])
    assert r.best == "bgnbd"
    assert r.models["bgnbd"]["holdout_actual"] == 1882
    assert r.models["bgnbd"]["chi_square"] == pytest.approx(4.82, abs=0.02)
