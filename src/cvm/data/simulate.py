"""Realistic synthetic transaction logs of any size, drawn from the models' generative stories.

Purchases (time in ``time_unit``, default weeks), customer *i* acquired at a uniform moment
in ``[start, acquisition_end)`` and observed until ``end`` (``T_i`` units):

* ``model="bgnbd"`` (Fader, Hardie and Lee 2005, "Counting your customers the easy way",
  section 3): ``lambda_i ~ Gamma(r, rate alpha)``, ``p_i ~ Beta(a, b)``; repeat purchases
  follow a Poisson process with rate ``lambda_i``; after each repeat purchase the customer
  drops out with probability ``p_i``. So the number of repeat purchases before dropping out
  is ``J_i ~ Geometric(p_i)`` on {1, 2, ...} and the observed repeats are the first
  ``min(N_i, J_i)`` of the ``N_i ~ Poisson(lambda_i T_i)`` event times, which are sorted
  uniforms on ``(0, T_i]``.
* ``model="pnbd"`` (Schmittlein, Morrison and Colombo 1987): ``lambda_i ~ Gamma(r, rate
  alpha)``, ``mu_i ~ Gamma(s, rate beta)``, lifetime ``tau_i ~ Exp(mu_i)``; repeats are a
  Poisson process on ``(0, min(tau_i, T_i)]``.

Spend (Fader, Hardie and Lee 2005, "RFM and CLV", appendix): ``nu_i ~ Gamma(q, rate gamma)``,
each amount ``~ Gamma(p, rate nu_i)``, drawn with :meth:`cvm.models.GammaGamma.simulate_amounts`.

Everything is vectorised in numpy and returned as an Arrow table; a million customers take
seconds. Default parameters are the published CDNOW estimates (weekly time unit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cvm.errors import SchemaError
from cvm.settings import DAYS_PER_UNIT

#: BG/NBD on CDNOW, weeks (Fader, Hardie and Lee 2005, table 1 / section 5)
BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: Pareto/NBD on CDNOW, weeks (Fader, Hardie and Lee 2005, "A note on implementing the Pareto/NBD")
PNBD_CDNOW = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
#: gamma-gamma spend on CDNOW (Fader, Hardie and Lee 2005, "RFM and CLV", appendix)
SPEND_CDNOW = {"p": 6.25, "q": 3.74, "gamma": 15.44}
DEFAULT_CHANNELS = {"web": 0.6, "store": 0.3, "phone": 0.1}


def simulate_events(n_customers: int, T: np.ndarray, model: str = "bgnbd",
                    params: Mapping[str, float] | None = None, rng: np.random.Generator | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-purchase times of each customer in ``(0, T_i]`` (model time units).

    Returns ``(customer, t)``: the customer index of every repeat purchase and its time,
    sorted by customer and then time.
    """
    rng = rng or np.random.default_rng()
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,))
    if model == "bgnbd":
        p = {**BGNBD_CDNOW, **(params or {})}
        lam = rng.gamma(p["r"], 1.0 / p["alpha"], n_customers)
        drop = rng.beta(p["a"], p["b"], n_customers)
        n_events = rng.poisson(lam * T)
        max_repeats = rng.geometric(np.clip(drop, 1e-12, 1.0))
        keep = np.minimum(n_events, max_repeats)
        horizon = T
        draws = n_events
    elif model in ("pnbd", "paretonbd"):
        p = {**PNBD_CDNOW, **(params or {})}
        lam = rng.gamma(p["r"], 1.0 / p["alpha"], n_customers)
        mu = rng.gamma(p["s"], 1.0 / p["beta"], n_customers)
        life = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        horizon = np.minimum(life, T)
        draws = rng.poisson(lam * horizon)
        keep = draws
    else:
        raise SchemaError(f"unknown model '{model}' for simulation", hint="use bgnbd or pnbd")
    owner = np.repeat(np.arange(n_customers), draws)
    # uniforms sorted within each customer: sort by owner + u with u in [0, 1)
    u = rng.random(owner.size)
    order = np.sort(owner + u)
    u = order - owner
    start = np.concatenate(([0], np.cumsum(draws)[:-1]))
    rank = np.arange(owner.size) - np.repeat(start, draws)
    mask = rank < np.repeat(keep, draws)
    times = u * np.repeat(horizon, draws)
    return owner[mask], times[mask]


def simulate_transactions(n_customers: int, model: str = "bgnbd", params: Mapping[str, float] | None = None,
                          start: str = "2024-01-01", end: str | None = None, acquisition_end: str | None = None,
                          spend_params: Mapping[str, float] | None = None, seed: int | None = None,
                          channels: Mapping[str, float] | None = None, time_unit: str = "week",
                          as_pandas: bool = False):
    """A transaction log: ``customer_id, ts, amount, order_id, channel`` (one row per purchase).

    Parameters
    ----------
    n_customers
        Number of customers (each makes a first purchase in ``[start, acquisition_end)``).
    model, params
        ``bgnbd`` or ``pnbd`` and their parameters (per ``time_unit``); CDNOW estimates by default.
    start, end, acquisition_end
        Dates; ``end`` defaults to 78 weeks after ``start`` and ``acquisition_end`` to 12 weeks
        after ``start`` (the CDNOW design).
    spend_params
        Gamma-gamma ``p, q, gamma``; CDNOW estimates by default.
    channels
        Channel name → share; default web 60 %, store 30 %, phone 10 %.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from cvm.models.gamma_gamma import GammaGamma

    if int(n_customers) < 1:
        raise SchemaError("n_customers must be at least 1")
    n = int(n_customers)
    rng = np.random.default_rng(seed)
    unit_days = DAYS_PER_UNIT[time_unit]
    t0 = pd.Timestamp(start)
    t_end = pd.Timestamp(end) if end else t0 + pd.Timedelta(days=78 * 7)
    t_acq = pd.Timestamp(acquisition_end) if acquisition_end else min(t0 + pd.Timedelta(days=12 * 7), t_end)
    if not t0 < t_end or not t0 <= t_acq <= t_end:
        raise SchemaError("need start <= acquisition_end <= end and start < end")
    span_days = (t_end - t0) / pd.Timedelta(days=1)
    acq_days = (t_acq - t0) / pd.Timedelta(days=1)
    first_day = rng.random(n) * acq_days
    T = (span_days - first_day) / unit_days
    owner, t = simulate_events(n, T, model, params, rng)
    # one first purchase per customer, then the repeats
    cust = np.concatenate([np.arange(n), owner])
    when_days = np.concatenate([first_day, first_day[owner] + t * unit_days])
    order = np.lexsort((when_days, cust))
    cust, when_days = cust[order], when_days[order]
    counts = np.bincount(cust, minlength=n)
    sp = {**SPEND_CDNOW, **(spend_params or {})}
    amounts = GammaGamma.from_params(p=sp["p"], q=sp["q"], gamma=sp["gamma"]).simulate_amounts(counts, seed=rng.integers(2**32))
    micros = np.round(when_days * 86_400e6).astype("int64") + np.int64(t0.value // 1000)
    shares = dict(channels or DEFAULT_CHANNELS)
    names = list(shares)
    prob = np.asarray([shares[k] for k in names], dtype=float)
    if prob.sum() <= 0 or np.any(prob < 0):
        raise SchemaError("channel shares must be non-negative and not all zero")
    channel_idx = rng.choice(len(names), size=cust.size, p=prob / prob.sum())
    cust_str = pc.binary_join_element_wise("C", pc.cast(pa.array(cust + 1), pa.string()), "")
    order_str = pc.binary_join_element_wise("O", pc.cast(pa.array(np.arange(1, cust.size + 1)), pa.string()), "")
    table = pa.table({
        "customer_id": cust_str,
        "ts": pa.array(micros, pa.timestamp("us")),
        "amount": pa.array(np.round(amounts, 2)),
        "order_id": order_str,
        "channel": pa.DictionaryArray.from_arrays(pa.array(channel_idx, pa.int32()), pa.array(names)).cast(pa.string()),
    })
    return table.to_pandas() if as_pandas else table


def write_transactions(path: str | Path, table: Any = None, format: str | None = None, **simulate_options: Any) -> Path:
    """Write a transaction log to CSV or Parquet (``format`` from the suffix by default).

    ``table`` is an Arrow table or pandas frame; without it one is simulated with
    ``simulate_options`` (``n_customers=..., seed=...``, see :func:`simulate_transactions`).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "parquet"):
        raise SchemaError(f"unknown format '{fmt}'", hint="use csv or parquet")
    if table is None:
        table = simulate_transactions(**simulate_options)
    elif not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path
