"""A simulated campaign response with a known lift, for the campaign tests.

After the campaign's date every customer buys as a Poisson process with their own rate
``lambda_i`` (gamma distributed across customers: shape ``rate_shape``, mean
``mean_rate`` purchases per day); a contacted customer's rate is multiplied by
``1 + lift``, a held-out customer's is not. Each purchase falls on a uniformly drawn day
of the window and spends a gamma-distributed amount with mean ``mean_amount``.

Expected values, for checking a measurement against the truth:
the ratio of the groups' mean purchases tends to ``1 + lift`` (the rates of both groups
come from the same distribution, as the draw of the groups is random), and the
difference of mean spend per customer to ``lift * days * mean_rate * mean_amount``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def simulate_outcomes(n_contacted: int, n_held_out: int, days: int, lift: float, rng: np.random.Generator,
                      mean_rate: float = 0.02, rate_shape: float = 2.0, mean_amount: float = 40.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Purchases and spend per customer (contacted first), drawn as :func:`simulate_response` draws them,
    without writing transactions: the count is Poisson(rate * days), the spend of ``k`` purchases a sum of
    ``k`` gamma(4, mean_amount / 4) amounts, i.e. gamma(4k, mean_amount / 4)."""
    rates = rng.gamma(rate_shape, mean_rate / rate_shape, size=n_contacted + n_held_out)
    rates[:n_contacted] *= 1.0 + lift
    counts = rng.poisson(rates * days)
    spend = np.where(counts > 0, rng.gamma(np.maximum(4.0 * counts, 1e-9), mean_amount / 4.0), 0.0)
    return counts.astype(float), spend


def simulate_response(contacted: list[str], held_out: list[str], start: str, days: int, lift: float, seed: int,
                      mean_rate: float = 0.02, rate_shape: float = 2.0, mean_amount: float = 40.0,
                      one_purchase_per_day: bool = True) -> pd.DataFrame:
    """Transactions ``customer_id, date, amount`` in ``[start, start + days)`` (see the module docstring).

    With ``one_purchase_per_day`` a customer's purchases fall on distinct days (as cvm counts
    purchases per day), drawn without replacement from the window.
    """
    rng = np.random.default_rng(seed)
    ids = list(contacted) + list(held_out)
    rates = rng.gamma(rate_shape, mean_rate / rate_shape, size=len(ids))
    rates[: len(contacted)] *= 1.0 + lift
    counts = rng.poisson(rates * days)
    if one_purchase_per_day:
        counts = np.minimum(counts, days)
    first = pd.Timestamp(start)
    rows_id, rows_day = [], []
    for cid, k in zip(ids, counts):
        if k:
            chosen = rng.choice(days, size=k, replace=not one_purchase_per_day)
            rows_id += [cid] * k
            rows_day += list(chosen)
    amounts = rng.gamma(4.0, mean_amount / 4.0, size=len(rows_id)).round(2)
    return pd.DataFrame({"customer_id": rows_id, "date": first + pd.to_timedelta(rows_day, unit="D"),
                         "amount": np.maximum(amounts, 0.01)})


def write_response(frame: pd.DataFrame, path: Path) -> Path:
    """The simulated transactions as a CSV that ``cvm ingest`` reads (ISO dates)."""
    out = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
    out.to_csv(path, index=False)
    return path
