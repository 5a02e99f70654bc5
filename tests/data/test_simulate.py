"""The simulator: its log has the promised shape and its counts follow the model's mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from cvm.data import simulate_transactions, workspace_summary, write_transactions
from cvm.data.simulate import BGNBD_CDNOW, PNBD_CDNOW, simulate_events
from cvm.errors import SchemaError


def bgnbd_expected_purchases(t, r, alpha, a, b):
    """E[X(t)] of the BG/NBD (Fader, Hardie & Lee 2005, equation 9)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def pnbd_expected_purchases(t, r, alpha, s, beta):
    """E[X(t)] of the Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie note, eq. 17)."""
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


@pytest.mark.parametrize("model, params, expected", [
    ("bgnbd", BGNBD_CDNOW, bgnbd_expected_purchases(52.0, **BGNBD_CDNOW)),
    ("pnbd", PNBD_CDNOW, pnbd_expected_purchases(52.0, **PNBD_CDNOW)),
])
def test_mean_repeat_purchases_match_the_model(model, params, expected):
    n = 200_000
    owner, t = simulate_events(n, np.full(n, 52.0), model, params, np.random.default_rng(5))
    counts = np.bincount(owner, minlength=n)
    assert np.all((t > 0) & (t <= 52.0))
    se = counts.std() / np.sqrt(n)
    assert abs(counts.mean() - expected) < 4 * se, (counts.mean(), expected, se)


def test_transaction_log_shape_and_summary():
    table = simulate_transactions(2_000, seed=3, start="2024-01-01", end="2024-12-31")
    frame = table.to_pandas()
    assert list(frame.columns) == ["customer_id", "ts", "amount", "order_id", "channel"]
    assert frame["customer_id"].nunique() == 2_000 and frame["order_id"].is_unique
    assert frame["ts"].min() >= pd.Timestamp("2024-01-01") and frame["ts"].max() <= pd.Timestamp("2024-12-31")
    assert (frame["amount"] > 0).all() and set(frame["channel"]) <= {"web", "store", "phone"}
    # first purchases fall in the first 12 weeks (the CDNOW design)
    first = frame.groupby("customer_id")["ts"].min()
    assert first.max() < pd.Timestamp("2024-03-25")
    s = workspace_summary(frame, time_unit="week")
    assert len(s) == 2_000 and (s["recency"] <= s["T"]).all()
    again = simulate_transactions(2_000, seed=3, start="2024-01-01", end="2024-12-31")
    assert again.equals(table)


def test_write_and_ingest_roundtrip(tmp_path, ws):
    csv = write_transactions(tmp_path / "tx.csv", n_customers=300, seed=1)
    parquet = write_transactions(tmp_path / "tx.parquet", n_customers=300, seed=1)
    a = ws.ingest(csv)
    b = ws.ingest(parquet)
    assert a.rows_read == a.accepted and a.quarantined == 0
    assert (b.accepted, b.duplicates) == (0, a.accepted)  # same orders: all duplicates


def test_bad_simulation_arguments():
    with pytest.raises(SchemaError):
        simulate_transactions(0)
    with pytest.raises(SchemaError):
        simulate_transactions(10, model="nope")
    with pytest.raises(SchemaError):
        write_transactions("x.json", n_customers=1)
