"""cvm.jsonsafe: what JSON cannot hold becomes what a script reading cvm's JSON expects (written out by hand)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from cvm.jsonsafe import json_safe


def test_missing_numbers_become_null():
    values = [float("nan"), float("inf"), -float("inf"), np.float64("nan"), pd.NA, pd.NaT, np.datetime64("NaT"), None]
    assert json_safe(values) == [None] * 8


def test_numpy_scalars_and_arrays_become_python_values():
    out = json_safe({"n": np.int64(3), "x": np.float32(0.5), "ok": np.bool_(True), "a": np.array([1, 2]),
                     "d": Decimal("2.5")})
    assert out == {"n": 3, "x": 0.5, "ok": True, "a": [1, 2], "d": 2.5}
    assert [type(v) for v in out.values()] == [int, float, bool, list, float]


def test_dates_become_iso_text():
    out = json_safe([pd.Timestamp("2024-03-01 12:30"), datetime(2024, 3, 1), date(2024, 3, 1),
                     np.datetime64("2024-03-01T00:00:00")])
    assert out == ["2024-03-01T12:30:00", "2024-03-01T00:00:00", "2024-03-01", "2024-03-01T00:00:00"]


def test_frames_become_rows_and_a_named_index_a_column():
    frame = pd.DataFrame({"customer_id": ["a", "b"], "clv": [1.5, float("nan")]})
    assert json_safe(frame) == [{"customer_id": "a", "clv": 1.5}, {"customer_id": "b", "clv": None}]
    # a filtered, re-sorted frame: its row numbers are no data
    assert json_safe(frame.iloc[::-1]) == [{"customer_id": "b", "clv": None}, {"customer_id": "a", "clv": 1.5}]
    named = frame.set_index("customer_id")
    assert json_safe(named) == [{"customer_id": "a", "clv": 1.5}, {"customer_id": "b", "clv": None}]
    assert json_safe(pd.Series({"gold": np.int64(2)})) == {"gold": 2}


def test_the_result_is_strict_json():
    payload = {1: [np.float64("inf"), pd.Timestamp("2024-01-01")], "t": (np.int8(1), "x")}
    text = json.dumps(json_safe(payload), allow_nan=False)
    assert json.loads(text) == {"1": [None, "2024-01-01T00:00:00"], "t": [1, "x"]}
