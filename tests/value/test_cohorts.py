"""Acquisition cohorts by hand."""

import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.service import cohorts


def test_monthly_cohorts(workspace):
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c", "c"],
        "ts": ["2024-01-05", "2024-02-10", "2024-03-01", "2024-01-20", "2024-02-02", "2024-02-20"],
        "amount": [100.0, 50.0, 20.0, 10.0, 30.0, 40.0],
        "margin": [40.0, None, None, 5.0, None, None],
    })
    workspace.ingest(tx, kind="transactions")
    workspace.save_settings(workspace.settings.set("margin", 0.5))
    out = cohorts(workspace, period="month", as_of="2024-03-31")
    jan = out[out["cohort"] == pd.Timestamp("2024-01-01")].set_index("age")
    feb = out[out["cohort"] == pd.Timestamp("2024-02-01")].set_index("age")
    # January cohort a, b (size 2): age 0 both active; age 1 only a; age 2 only a
    assert list(jan["active"]) == [2, 1, 1]
    assert list(jan["retention"]) == [1.0, 0.5, 0.5]
    # value: age 0 = margin 40 (a) + 5 (b) = 45; age 1 = 50 * 0.5 = 25; age 2 = 20 * 0.5 = 10
    assert list(jan["value"]) == pytest.approx([45.0, 25.0, 10.0])
    assert list(jan["cumulative_value_per_customer"]) == pytest.approx([22.5, 35.0, 40.0])
    # February cohort c alone: both purchases in age 0 (value (30 + 40) * 0.5 = 35), nothing in March
    assert list(feb["active"]) == [1, 0]
    assert feb.loc[0, "value"] == pytest.approx(35.0)
    assert feb.loc[1, "retention"] == 0.0


def test_unknown_period(workspace):
    with pytest.raises(SchemaError):
        cohorts(workspace, period="fortnight")
