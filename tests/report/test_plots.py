"""Figures built from frames: right traces, right numbers, clear errors on empty input."""

import shutil

import numpy as np
import pandas as pd
import pytest

from cvm.errors import CvmError, SchemaError
from cvm.report import plots


class Recorder:
    """A stand-in model that returns simple functions of its inputs, to check the grid bookkeeping."""

    def probability_alive(self, frequency, recency, T):
        return np.asarray(recency, float) / np.asarray(T, float)

    def expected_purchases(self, t, frequency, recency, T):
        return t * np.asarray(frequency, float)


def tracking_frame():
    rows = []
    for series, scale in (("actual", 1.0), ("bgnbd", 0.9)):
        inc = scale * np.array([1.0, 2.0, 3.0, 4.0])
        rows.append(pd.DataFrame({"period": [1, 2, 3, 4], "end": pd.date_range("2024-01-08", periods=4, freq="7D"),
                                  "phase": ["calibration", "calibration", "holdout", "holdout"], "series": series,
                                  "incremental": inc, "cumulative": inc.cumsum()}))
    return pd.concat(rows, ignore_index=True)


def test_tracking_figure_cumulative_and_incremental():
    t = tracking_frame()
    fig = plots.tracking_figure(t, cumulative=True, names={"actual": "werkelijk"})
    assert [tr.name for tr in fig.data] == ["werkelijk", "bgnbd"]
    assert list(fig.data[0].y) == [1, 3, 6, 10]
    # the calibration end marker sits at the last calibration period
    assert fig.layout.shapes[0].x0 == 2
    inc = plots.tracking_figure(t, cumulative=False)
    assert list(inc.data[1].y) == pytest.approx([0.9, 1.8, 2.7, 3.6])
    with pytest.raises(SchemaError):
        plots.tracking_figure(t.drop(columns="phase"))


def test_conditional_histogram_and_calibration_figures():
    cond = pd.DataFrame({"n_customers": [5, 3], "actual": [0.2, 1.0], "bgnbd": [0.25, 0.9], "pnbd": [0.1, 1.1]},
                        index=pd.Index(["0", "1"], name="frequency"))
    fig = plots.conditional_figure(cond)
    assert [tr.name for tr in fig.data] == ["actual", "bgnbd", "pnbd"]
    hist = pd.DataFrame({"observed": [10, 5], "bgnbd": [9.5, 5.5]}, index=["0", "1"])
    assert len(plots.histogram_figure(hist).data) == 2
    cal = pd.DataFrame({"model": ["bgnbd", "bgnbd"], "predicted": [0.1, 0.9], "observed": [0.05, 0.7]})
    fig = plots.probability_alive_calibration_figure(cal)
    assert [tr.name for tr in fig.data] == ["y = x", "bgnbd"]


def test_frequency_recency_matrix_grid():
    m = plots.frequency_recency_matrix(Recorder(), T=10.0, quantity="probability_alive", max_frequency=3, n_recency=6)
    assert m.shape == (4, 6)
    # recency grid 0, 2, 4, 6, 8, 10; P = recency / T, except frequency 0 where recency is 0 by definition
    assert m.loc[2].to_numpy() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert m.loc[0].to_numpy() == pytest.approx(np.zeros(6))
    e = plots.frequency_recency_matrix(Recorder(), T=10.0, quantity="expected_purchases", t=2.0, max_frequency=3, n_recency=6)
    assert e.loc[3].to_numpy() == pytest.approx(np.full(6, 6.0))
    fig = plots.heatmap_figure(m, "P(alive)")
    assert fig.data[0].type == "heatmap"
    with pytest.raises(SchemaError):
        plots.frequency_recency_matrix(Recorder(), T=10.0, quantity="clv")


def test_probability_alive_path_history_by_hand():
    # purchases at 0, 2 and 5: at tau = 3 the history is x = 1, t_x = 2; at tau = 6, x = 2, t_x = 5
    path = plots.probability_alive_path(Recorder(), [0.0, 2.0, 5.0], until=6.0, points=7)
    at = path.set_index("t")
    assert at.loc[3.0, "frequency"] == 1 and at.loc[3.0, "recency"] == 2.0
    assert at.loc[6.0, "frequency"] == 2 and at.loc[6.0, "recency"] == 5.0
    assert at.loc[1.0, "frequency"] == 0 and at.loc[1.0, "recency"] == 0.0
    # Recorder's P(alive) = t_x / T, so at tau = 5 (a purchase) it is 1
    assert at.loc[5.0, "probability_alive"] == pytest.approx(1.0)
    fig = plots.probability_alive_history_figure(path, [0.0, 2.0, 5.0])
    assert len(fig.data) == 2 and list(fig.data[1].x) == [0.0, 2.0, 5.0]
    with pytest.raises(SchemaError):
        plots.probability_alive_path(Recorder(), [], until=3.0)


def test_value_figures():
    values = np.array([50.0, 30.0, 10.0, 5.0, 5.0])
    fig = plots.lorenz_figure(values)
    # highest first: the top 20 % (one customer) hold 50 % of the value
    x, y = np.array(fig.data[0].x), np.array(fig.data[0].y)
    assert y[np.isclose(x, 0.2)][0] == pytest.approx(0.5)
    assert plots.clv_histogram_figure(values).data[0].type == "histogram"
    mig = pd.DataFrame([[5, 1], [2, 7]], index=["gold", "bronze"], columns=["gold", "bronze"])
    sankey = plots.migration_sankey_figure(mig)
    assert list(sankey.data[0].link.value) == [5, 1, 2, 7]
    coh = pd.DataFrame({"cohort": ["a", "a", "b"], "period": [0, 1, 0], "value": [1.0, 0.5, 1.0]})
    assert len(plots.cohort_figure(coh).data) == 2
    bars = plots.bar_figure(pd.DataFrame({"tier": ["gold", "bronze"], "clv": [10, 2]}), "tier", "clv", "tiers")
    assert list(bars.data[0].y) == [10, 2]
    with pytest.raises(SchemaError):
        plots.heatmap_figure(pd.DataFrame(), "empty")
    with pytest.raises(SchemaError):
        plots.clv_histogram_figure([])


@pytest.mark.browser
@pytest.mark.slow
def test_png_export_or_clear_message(tmp_path):
    fig = plots.tracking_figure(tracking_frame())
    try:
        path = plots.save_png(fig, tmp_path / "tracking.png", width=400, height=300)
    except CvmError as exc:
        # no engine here: the message says what to install
        assert "kaleido" in str(exc) or "Chromium" in str(exc)
        pytest.skip(f"PNG export unavailable: {exc}")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
