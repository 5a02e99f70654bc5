"""Inputs and outputs shaped as lifetimes 0.11.3 shapes them (shared by the compat fitters)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_column(values: Any) -> np.ndarray:
    """A 1-d float array of a scalar, list, array or Series (no validation: the native model does that)."""
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    return np.atleast_1d(np.asarray(values, dtype=float))


def like_lifetimes(values: Any, *inputs: Any, always_array: bool = False) -> Any:
    """A result typed as lifetimes types it for these inputs.

    * ``always_array`` (BG/NBD and MBG/NBD ``conditional_probability_alive``, which end in
      ``np.atleast_1d``): a 1-d ndarray whatever the input;
    * a Series among the inputs: a Series with the first Series' index, named as the
      Series inputs when they share one name (pandas arithmetic keeps a common name);
    * only scalars: a ``numpy.float64``;
    * otherwise: an ndarray.
    """
    arr = np.asarray(values, dtype=float)
    if always_array:
        return np.atleast_1d(arr)
    series = [v for v in inputs if isinstance(v, pd.Series)]
    if series:
        names = {s.name for s in series}
        return pd.Series(np.atleast_1d(arr), index=series[0].index, name=names.pop() if len(names) == 1 else None)
    if all(np.ndim(v) == 0 for v in inputs) and arr.size == 1:
        return np.float64(arr.reshape(-1)[0])
    return arr


def check_inputs(frequency, recency=None, T=None, monetary_value=None) -> None:
    """lifetimes' input checks, with its ValueError messages (in its order)."""
    frequency = np.asarray(frequency, dtype=float)
    if recency is not None:
        recency = np.asarray(recency, dtype=float)
        if T is not None and np.any(recency > np.asarray(T, dtype=float)):
            raise ValueError("Some values in recency vector are larger than T vector.")
        if np.any(recency[frequency == 0] != 0):
            raise ValueError("There exist non-zero recency values when frequency is zero.")
        if np.any(recency < 0):
            raise ValueError("There exist negative recency (ex: last order set before first order)")
        if any(np.asarray(v).shape[0] == 0 for v in (recency, frequency, T) if v is not None):
            raise ValueError("There exists a zero length vector in one of frequency, recency or T.")
    if np.sum((frequency - frequency.astype(int)) ** 2) != 0:
        raise ValueError("There exist non-integer values in the frequency vector.")
    if monetary_value is not None and np.any(np.asarray(monetary_value, dtype=float) <= 0):
        raise ValueError("There exist non-positive (<= 0) values in the monetary_value vector.")
