"""The classic customer lifetime value formula with a fixed retention rate.

Source: the brief (seed 001, "Klantwaardemanagement", after Wikipedia's
*Customer lifetime value*):

.. math:: \\mathrm{CLV} = GC \\sum_{i=1}^{N} \\frac{r^i}{(1+d)^i}
          - M \\sum_{i=1}^{N} \\frac{r^{i-1}}{(1+d)^{i-0.5}}

* ``GC`` — yearly gross contribution per customer;
* ``M`` — yearly retention cost per customer, paid mid-year and only for
  customers retained the year before (hence ``r^{i-1}`` and ``i - 0.5``);
* ``N`` — horizon in years; ``r`` — yearly retention rate; ``d`` — yearly
  discount rate.

A fixed ``r`` ignores that retention rises as a cohort ages (see
:class:`cvm.models.ShiftedBetaGeometric`); the formula is kept for the quick
what-if questions managers ask of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from cvm.errors import SchemaError


def _number(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SchemaError(f"{name} must be a number, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise SchemaError(f"{name} must be a finite number, got {value!r}")
    return arr


def _check(gc=None, m=None, n=None, r=None, d=None) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if gc is not None:
        out["gc"] = _number(gc, "GC (gross contribution per year)")
    if m is not None:
        out["m"] = _number(m, "M (retention cost per year)")
        if np.any(out["m"] < 0):
            raise SchemaError("M (retention cost per year) must not be negative")
    if n is not None:
        out["n"] = _number(n, "N (horizon in years)")
        if np.any(out["n"] < 1) or np.any(out["n"] != np.round(out["n"])):
            raise SchemaError(f"N (horizon in years) must be a positive whole number, got {n!r}")
    if r is not None:
        out["r"] = _number(r, "r (retention rate)")
        if np.any(out["r"] < 0) or np.any(out["r"] > 1):
            raise SchemaError(
                f"r (retention rate) must lie between 0 and 1, got {r!r}",
                hint="give the retention rate as a fraction: 80 % is 0.8",
            )
    if d is not None:
        out["d"] = _number(d, "d (discount rate)")
        if np.any(out["d"] <= -1):
            raise SchemaError(
                f"d (discount rate) must be greater than -1, got {d!r}",
                hint="give the discount rate as a fraction: 10 % is 0.1",
            )
    return out


def _sums(n: np.ndarray, r: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum_i r^i/(1+d)^i`` and ``sum_i r^(i-1)/(1+d)^(i-0.5)`` for ``i = 1..N`` (broadcast)."""
    n, r, d = np.broadcast_arrays(n, r, d)
    contribution = np.zeros(n.shape)
    cost = np.zeros(n.shape)
    for i in range(1, int(np.max(n)) + 1 if n.size else 1):
        inside = i <= n
        contribution += np.where(inside, r**i / (1 + d) ** i, 0.0)
        cost += np.where(inside, r ** (i - 1) / (1 + d) ** (i - 0.5), 0.0)
    return contribution, cost


def _scalar_or_array(value: np.ndarray):
    return float(value) if np.ndim(value) == 0 else value


def classic_clv(gc: Any, m: Any, n: Any, r: Any, d: Any):
    """Customer lifetime value by the classic formula (see the module docstring).

    Every argument may be a number or an array; arrays broadcast like numpy.

    Examples
    --------
    >>> round(classic_clv(gc=100, m=10, n=3, r=0.8, d=0.1), 2)
    142.58
    """
    v = _check(gc=gc, m=m, n=n, r=r, d=d)
    contribution, cost = _sums(v["n"], v["r"], v["d"])
    return _scalar_or_array(v["gc"] * contribution - v["m"] * cost)


def break_even_retention_cost(gc: Any, n: Any, r: Any, d: Any):
    """The largest yearly retention cost ``M`` that keeps CLV at or above zero.

    .. math:: M^* = GC \\, \\frac{\\sum_{i=1}^N r^i/(1+d)^i}{\\sum_{i=1}^N r^{i-1}/(1+d)^{i-0.5}}

    Negative when the gross contribution is negative (no retention spend pays off).
    """
    v = _check(gc=gc, n=n, r=r, d=d)
    contribution, cost = _sums(v["n"], v["r"], v["d"])
    return _scalar_or_array(v["gc"] * contribution / cost)


def required_retention(target_clv: float, gc: float, m: float, n: int, d: float) -> float:
    """The lowest retention rate ``r`` in [0, 1] at which the CLV reaches ``target_clv``.

    CLV is not monotone in ``r`` everywhere (a retained customer also costs
    ``M``), so the first crossing is bracketed on a grid and refined with Brent's
    method.

    Raises
    ------
    SchemaError
        When no retention rate in [0, 1] reaches the target.

    Examples
    --------
    >>> r = required_retention(142.575, gc=100, m=10, n=3, d=0.1)
    >>> round(r, 3)
    0.8
    """
    target = float(_number(target_clv, "target CLV"))
    v = _check(gc=gc, m=m, n=n, r=0.5, d=d)
    if any(np.ndim(x) for x in v.values()):
        raise SchemaError("required_retention takes single numbers; loop over scenarios for several")

    def gap(rate: float) -> float:
        return float(classic_clv(gc, m, n, rate, d)) - target

    grid = np.linspace(0.0, 1.0, 1001)
    values = np.array([gap(x) for x in grid])
    if values[0] >= 0:
        return 0.0
    reached = np.nonzero(values >= 0)[0]
    if len(reached) == 0:
        best = float(np.max(values) + target)
        raise SchemaError(
            f"no retention rate reaches a CLV of {target:g}: the most it can be is {best:.4g} "
            f"(at r = {grid[int(np.argmax(values))]:.3g})",
            hint="raise the gross contribution, lower the retention cost, or lengthen the horizon",
        )
    k = int(reached[0])
    if values[k] == 0:
        return float(grid[k])
    return float(optimize.brentq(gap, grid[k - 1], grid[k], xtol=1e-12))


def clv_table(gc: float, m: float, n: int, r_values: Any, d_values: Any) -> pd.DataFrame:
    """CLV for every combination of retention rate (rows) and discount rate (columns).

    Examples
    --------
    >>> clv_table(100, 10, 3, [0.7, 0.8], [0.05, 0.1]).shape
    (2, 2)
    """
    v = _check(gc=gc, m=m, n=n, r=r_values, d=d_values)
    r = np.atleast_1d(v["r"])
    d = np.atleast_1d(v["d"])
    values = classic_clv(gc, m, n, r[:, None], d[None, :])
    return pd.DataFrame(
        np.asarray(values), index=pd.Index(r, name="retention_rate"), columns=pd.Index(d, name="discount_rate")
    )
