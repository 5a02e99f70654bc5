"""What every customer is still worth, as of any date.

The predicted customer lifetime value over a horizon of ``H`` periods is

.. math::

    \\mathrm{CLV}_i = m_i \\; E[M_i] \\sum_{k=1}^{H}
        \\frac{E[X_i(k)] - E[X_i(k-1)]}{(1 + d)^k},

with :math:`E[X_i(t)]` the expected number of purchases in ``(T_i, T_i + t]``
given the customer's history (``expected_purchases`` of the purchase model:
BG/NBD, Fader, Hardie & Lee 2005, eq. 10; Pareto/NBD, Schmittlein, Morrison &
Colombo 1987), :math:`E[M_i]` the expected spend per purchase (Gamma-Gamma,
Fader, Hardie & Lee 2005b, eq. 5), :math:`m_i` the margin rate and :math:`d`
the discount rate per model time unit, converted from the yearly rate as
``(1 + d_year) ** (days_per_unit / 365.25) - 1``. Purchases made during period
``k`` are discounted to the end of that period.

**Interval.** Parameter uncertainty is carried by the delta method on the log
scale: ``log CLV = log m + log E[M] + log DE`` where ``DE`` is the discounted
sum above. The gradient of ``log DE`` over the purchase model's log-parameters
and of ``log E[M]`` over the Gamma-Gamma log-parameters are taken by forward
differences (the horizon path is read at the ends of at most 13 equal blocks
of periods for this gradient only); with the models' covariance matrices (``covariance_``, on the log
scale) and independent fits,
``Var(log CLV) = g_p' C_p g_p + g_s' C_s g_s`` and the interval at level ``L``
is ``CLV * exp(-/+ z_{(1+L)/2} * sd)``. All of this is evaluated on the unique
histories only and broadcast back to customers.

**Residual value** is the discounted expected residual lifetime value with no
horizon cut-off (DERT of Fader, Hardie & Lee 2005, "RFM and CLV", times spend
and margin) — what the whole remaining relationship is worth today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from cvm.errors import ConvergenceError, CvmError, SchemaError
from cvm.models.base import compress
from cvm.models.registry import PURCHASE_MODELS, spec

_STEP = 1e-4  # forward-difference step on the log-parameters
MIN_T = 1e-6  # smallest observation time (model units) used for prediction
GRADIENT_BLOCKS = 13  # the interval's gradient reads the horizon path at most at 13 block ends


# ----------------------------------------------------------------------------- numerics
#: models whose conditional expectation factorises as P(alive | x, t_x, T) * E[Y(t) | alive at T, x, T]
#: (BG/NBD: FHL 2005 eq. 10; MBG/NBD: Batislam, Denizel & Filiztekin 2007; Pareto/NBD: SMC 1987)
#: (every purchase model of the registry)
FACTORISED_MODELS = frozenset(spec(name).class_name for name in PURCHASE_MODELS)


def _unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and the inverse index mapping every row to its unique row."""
    keys, _, inverse = compress({str(j): np.asarray(c, dtype=float) for j, c in enumerate(columns)})
    return [keys[str(j)] for j in range(len(columns))], np.asarray(inverse, dtype=np.int64)


def distinct_histories(frequency, recency, T) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``(rows, counts, inverse)``: each distinct ``(frequency, recency, T)`` once (sorted), its number of
    customers, and each customer's row in them (:func:`cvm.models.base.compress`).

    Found once for a valuation: the purchase model is fitted on the rows weighted by their counts (the
    data every fit compresses its input to, so the same fit) and the valuation reads ``(rows, inverse)``
    (``distinct`` of :func:`valuation_columns`).
    """
    rows, counts, inverse = compress({"frequency": np.asarray(frequency, dtype=float),
                                      "recency": np.asarray(recency, dtype=float), "T": np.asarray(T, dtype=float)})
    return rows, counts, np.asarray(inverse, dtype=np.int64)


def discounted_purchases(model: Any, frequency, recency, T, horizon: int, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Discounted and undiscounted expected purchases over ``horizon`` whole periods (direct evaluation).

    Returns ``(DE, E[X(H)])`` with
    ``DE = sum_{k=1..H} (E[X(k)] - E[X(k-1)]) / (1 + d)**k`` (``E[X(0)] = 0``), evaluated
    customer by customer, period by period (no shared work, no table over the horizon).
    """
    f, r, t = (np.asarray(a, dtype=float) for a in (frequency, recency, T))
    times = range(1, int(horizon) + 1)
    columns = (np.asarray(model.expected_purchases(float(k), f, r, t), dtype=float) for k in times)
    de, ex, _ = _discounted_sum(_increments(times, columns, np.zeros_like(f)), horizon, discount_rate)
    return de, ex


def _increments(times, columns, start: np.ndarray, scale: np.ndarray | float = 1.0):
    """Yield ``k, E[X(k)] - E[X(k_prev)]`` from the cumulative expectations ``columns`` at ``times``."""
    previous = start
    for k, current in zip(times, columns):
        current = current * scale
        yield k, current - previous
        previous = current


def _discounted_sum(steps, horizon: int, discount_rate: float, weights=None):
    """``(DE, E[X(H)], (period values, period counts))`` of the increments ``steps``: the one discounted sum.

    ``DE = sum_k step_k / (1 + d)**k``; with ``weights`` (two vectors) the period totals
    ``step_k @ weights`` are kept too (None otherwise).
    """
    de = ex = 0.0
    periods = np.zeros(int(horizon)) if weights is not None else None
    counts = np.zeros(int(horizon)) if weights is not None else None
    for k, step in steps:
        de = de + step / (1.0 + discount_rate) ** k
        ex = ex + step
        if weights is not None:
            periods[k - 1] = step @ weights[0]
            counts[k - 1] = step @ weights[1]
    return de, ex, (periods, counts)


class _PurchasePaths:
    """Expected purchases of every customer over the horizon, computed on as few histories as possible.

    For the factorised models the costly part, ``E[Y(t) | alive, x, T]``, depends on
    ``(x, T)`` only; it is read from the model's own functions at the reference
    recency ``t_x = T`` (``0`` when ``x = 0``) as
    ``expected_purchases(t, x, t_ref, T) / probability_alive(x, t_ref, T)``, and
    each customer's value is ``P(alive | x, t_x, T)`` times it. Other models are
    evaluated directly on unique ``(x, t_x, T)``.
    """

    def __init__(self, model: Any, f: np.ndarray, r: np.ndarray, t: np.ndarray, distinct=None) -> None:
        self.factorised = type(model).__name__ in FACTORISED_MODELS
        if distinct is None:
            (self.pf, self.pr, self.pt), self.inv_p = _unique_rows(f, r, t)
        else:
            # the customers' distinct (x, t_x, T) rows were found before (for the fit): the rows of
            # (x, t_x, max(T, MIN_T)) are found on those (fewer) rows and mapped to every customer; the
            # unique rows come out sorted either way, so they and the mapping are the same
            rows, inverse = distinct
            (self.pf, self.pr, self.pt), of_row = _unique_rows(
                rows["frequency"], rows["recency"], np.maximum(np.asarray(rows["T"], dtype=float), MIN_T))
            self.inv_p = of_row[inverse]
        if self.factorised:
            # the unique (x, T) rows are those of the unique (x, t_x, T) rows: found on these (fewer)
            # rows, in the same sorted order, then mapped to every customer through ``inv_p``
            (self.af, self.at), self.a_of_p = _unique_rows(self.pf, self.pt)
            self.ar = np.where(self.af > 0, self.at, 0.0)
            self.inv_a = self.a_of_p[self.inv_p]
        else:
            self.af, self.ar, self.at, self.inv_a = self.pf, self.pr, self.pt, self.inv_p
            #: the (x, T) row of each unique (x, t_x, T) row
            self.a_of_p = np.arange(len(self.pf), dtype=np.int64)

    def alive(self, model: Any) -> np.ndarray:
        """P(alive) on the unique (x, t_x, T)."""
        return np.asarray(model.probability_alive(self.pf, self.pr, self.pt), dtype=float)

    def increments(self, model: Any, times):
        """Yield ``t_j, E[Y(t_j)] - E[Y(t_{j-1})]`` on the reduced histories (per alive customer when factorised)."""
        if self.factorised:
            with np.errstate(divide="ignore", invalid="ignore"):
                ref = np.asarray(model.probability_alive(self.af, self.ar, self.at), dtype=float)
            usable = ref > 1e-250
            scale = np.where(usable, 1.0 / np.where(usable, ref, 1.0), 0.0)
        times = list(times)
        by_horizon = getattr(model, "expected_purchases_by_horizon", None)
        if by_horizon is not None:  # every horizon in one call (the model shares work between them)
            table = np.asarray(by_horizon(np.asarray(times, dtype=float), self.af, self.ar, self.at), dtype=float)
            columns = (table[:, j] for j in range(len(times)))
        else:
            columns = (np.asarray(model.expected_purchases(float(k), self.af, self.ar, self.at), dtype=float)
                       for k in times)
        yield from _increments(times, columns, np.zeros_like(self.af), scale if self.factorised else 1.0)

    def discounted(self, model: Any, horizon: int, discount_rate: float, weights=None, blocks: int | None = None):
        """``(log DE per unique (x, t_x, T) row, E[X(H)] likewise, per-period totals or None)``.

        ``weights`` (per reduced history) turns on the period totals
        ``sum_u weights_u * increment_u(k)`` (the caller folds P(alive) into them).
        ``blocks`` evaluates the path only at the ends of that many equal blocks of
        periods, each block discounted at its end (used for the interval's gradient).
        """
        times = range(1, int(horizon) + 1)
        if blocks is not None and blocks < horizon:
            times = sorted({int(np.ceil(j * horizon / blocks)) for j in range(1, blocks + 1)})
        return _discounted_sum(self.increments(model, times), horizon, discount_rate, weights)

    def log_de(self, model: Any, horizon: int, discount_rate: float, blocks: int | None = None) -> np.ndarray:
        """log DE per customer-level unique row (x, t_x, T)."""
        de, _, _ = self.discounted(model, horizon, discount_rate, blocks=blocks)
        with np.errstate(divide="ignore"):
            if self.factorised:
                return np.log(self.alive(model)) + np.log(de)[self.a_of_p]
            return np.log(de)


def _covariance(model: Any) -> np.ndarray | None:
    cov = getattr(model, "covariance_", None)
    if cov is None:
        return None
    cov = np.asarray(cov, dtype=float)
    return cov if np.all(np.isfinite(cov)) else None


def log_gradient(model: Any, log_evaluate) -> np.ndarray | None:
    """Forward-difference gradient of ``log_evaluate(model)`` (already on the log scale) over the log-parameters.

    One extra evaluation per parameter (step ``1e-4`` on the log scale; the
    truncation error, of relative order 1e-4, is far below the interval's own
    precision). Returns an array ``(n, k)`` or None when the model has no usable covariance.
    """
    if _covariance(model) is None:
        return None
    z = model._to_z(model.params_.to_numpy())
    base = np.asarray(log_evaluate(model), dtype=float)
    columns = []
    for j in range(len(z)):
        step = np.zeros_like(z)
        step[j] = _STEP
        up = np.asarray(log_evaluate(model.with_params(model._to_theta(z + step))), dtype=float)
        columns.append((up - base) / _STEP)
    return np.nan_to_num(np.column_stack(columns), nan=0.0, posinf=0.0, neginf=0.0)


def _quadratic(grad: np.ndarray | None, cov: np.ndarray | None) -> np.ndarray | float:
    if grad is None or cov is None:
        return 0.0
    return np.clip(np.einsum("ij,jk,ik->i", grad, cov, grad), 0.0, None)


# ----------------------------------------------------------------------------- pure valuation
@dataclass
class Valuation:
    """Per-customer values plus the period-by-period totals behind them."""

    customers: pd.DataFrame
    by_period: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: repeat customers whose repeat spend is zero or negative (returns): valued at the population mean spend
    spend_excluded: list[str] = field(default_factory=list)


def value_customers(
    summary: pd.DataFrame,
    purchase_model: Any,
    spend_model: Any = None,
    *,
    horizon: int,
    discount_rate: float,
    margin: float | np.ndarray = 0.3,
    level: float = 0.9,
    residual: bool = True,
) -> Valuation:
    """Value customers from a summary frame with fitted models (no workspace needed).

    Parameters
    ----------
    summary
        One row per customer: ``frequency``, ``recency``, ``T`` (model time units) and
        ``monetary_value``; ``customer_id`` as index or column.
    purchase_model
        A fitted BG/NBD, Pareto/NBD or MBG/NBD model.
    spend_model
        A fitted Gamma-Gamma model; None uses the observed mean spend
        (``total_amount / n_transactions`` when present, else ``monetary_value``).
        Repeat customers whose repeat spend is zero or negative (``frequency > 0`` and
        ``monetary_value <= 0``: their returns outweigh their repeat purchases) are left
        out of the spend model, which cannot say anything about them (Gamma-Gamma needs
        positive spend, Fader & Hardie 2013): they get the **population mean spend** —
        the spend model's expectation for a customer without repeat purchases,
        ``E[M] = p * gamma / (q - 1)`` (eq. 5 at x = 0), or without a spend model the
        mean order value of the customers with positive spend — times their own expected
        purchases. They are named in ``Valuation.spend_excluded`` and in a note; every
        other customer is valued as usual. A customer whose observed mean order value is
        not positive is treated the same way when no spend model is given.
    horizon
        Number of model time units to sum over.
    discount_rate
        Discount rate **per model time unit** (already converted from the yearly rate).
    margin
        Margin rate applied to predicted spend, one number or one per customer.
    level
        Level of the CLV interval, e.g. 0.9.

    Returns
    -------
    Valuation
        ``customers`` adds ``probability_alive, expected_purchases, expected_spend,
        margin_rate, clv, clv_low, clv_high[, residual_value]`` to the summary;
        ``by_period`` holds ``period, expected_purchases, expected_value,
        discounted_value, cumulative_discounted_value`` summed over customers.
    """
    columns = summary_columns(summary)
    values, by_period, notes, spend_excluded = valuation_columns(
        columns, purchase_model, spend_model, horizon=horizon, discount_rate=discount_rate, margin=margin,
        level=level, residual=residual)
    return Valuation(pd.DataFrame({**columns, **values}, copy=False), by_period, notes, spend_excluded)


def summary_columns(summary: pd.DataFrame) -> dict[str, Any]:
    """The columns of a summary frame as arrays, ``customer_id`` first (from the index or a column).

    Raises
    ------
    SchemaError
        A column the valuation needs (``frequency, recency, T, monetary_value``) is missing.
    """
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in summary.columns]
    if missing:
        raise SchemaError(f"the summary lacks column(s) {', '.join(missing)}", hint="use ws.summary(...) or lifetimes' column names")
    if "customer_id" in summary.columns:
        columns = {"customer_id": summary["customer_id"].array}
    else:
        columns = {summary.index.name if summary.index.name is not None else "index": summary.index.array}
    columns.update({c: summary[c].array for c in summary.columns if c not in columns})
    return columns


def valuation_columns(
    columns: dict[str, Any],
    purchase_model: Any,
    spend_model: Any = None,
    *,
    horizon: int,
    discount_rate: float,
    margin: float | np.ndarray = 0.3,
    level: float = 0.9,
    residual: bool = True,
    distinct: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, list[str], list[str]]:
    """The arithmetic of :func:`value_customers` on arrays (see it for the parameters).

    ``columns`` holds the customer ids first, then ``frequency, recency, T, monetary_value``
    (and ``total_amount, n_transactions`` when known) as arrays (:func:`summary_columns`).
    ``distinct``, when the caller has them already (:func:`distinct_histories`), are the
    distinct ``frequency, recency, T`` rows of these customers and each customer's row in them:
    the valuation then does not look for them again (the values are the same).
    Returns ``(values, by_period, notes, spend_excluded)``: ``values`` maps ``probability_alive,
    expected_purchases, expected_spend, margin_rate, clv, clv_low, clv_high[, residual_value]``
    to arrays; ``spend_excluded`` names the customers valued at the population mean spend.
    """
    if not 0 < level < 1:
        raise SchemaError(f"level must lie strictly between 0 and 1, got {level}")
    if int(horizon) < 1:
        raise SchemaError(f"horizon must be at least one time unit, got {horizon}")
    if discount_rate < 0:
        raise SchemaError(f"discount rate must not be negative, got {discount_rate}")
    notes: list[str] = []
    f = np.asarray(columns["frequency"], dtype=float)
    r = np.asarray(columns["recency"], dtype=float)
    # a customer whose first purchase is on the as-of day has T = 0; the models need T > 0,
    # and at T -> 0 the predictions converge, so such customers are valued at T = 1e-6 units
    t = np.maximum(np.asarray(columns["T"], dtype=float), MIN_T)
    mv = np.asarray(columns["monetary_value"], dtype=float)
    n = len(f)
    margin_arr = np.broadcast_to(np.asarray(margin, dtype=float), (n,)).copy()
    if np.any(~np.isfinite(margin_arr)) or np.any(margin_arr < 0):
        raise SchemaError("margin rates must be finite and not negative")

    # --- spend per purchase on unique (frequency, monetary_value)
    # repeat customers with zero or negative repeat spend (net returns) are outside the spend model
    excluded = (f > 0) & ~(mv > 0)
    if spend_model is not None:
        # ... and get its population mean, E[M] at x = 0 (the model's prior mean spend)
        (sf, sm), inv_s = _unique_rows(np.where(excluded, 0.0, f), np.where(excluded, 0.0, mv))
        spend_u = np.asarray(spend_model.expected_spend(sf, sm), dtype=float)
        grad_s = log_gradient(spend_model, lambda m: np.log(m.expected_spend(sf, sm)))
        var_s_u = _quadratic(grad_s, _covariance(spend_model))
        spend = spend_u[inv_s]
        var_s = var_s_u[inv_s] if np.ndim(var_s_u) else np.zeros(n)
        del inv_s
    else:
        if "total_amount" in columns and "n_transactions" in columns:
            spent = np.asarray(columns["total_amount"], dtype=float)
            orders = np.maximum(np.asarray(columns["n_transactions"], dtype=float), 1.0)
            spend = spent / orders
        else:
            spent, orders = mv.copy(), np.ones(n)
            spend = mv.copy()
        excluded |= ~(spend > 0)
        usable = ~excluded
        population = float(spent[usable].sum() / orders[usable].sum()) if usable.any() else float("nan")
        if excluded.any() and not population > 0:
            raise SchemaError.coded("no_positive_spend")
        spend = np.where(excluded, population, spend)
        var_s = np.zeros(n)
        notes.append("no spend model: expected spend is each customer's observed mean order value")
    spend_excluded = [str(c) for c in np.asarray(next(iter(columns.values())))[excluded]] if excluded.any() else []
    if spend_excluded:
        notes.append(name_customers(spend_excluded, SPEND_EXCLUDED))

    # --- purchase process: P(alive) on unique (x, t_x, T), the horizon path on unique (x, T)
    paths = _PurchasePaths(purchase_model, f, r, t, distinct)
    del t  # the paths keep the unique rows; per-customer arrays are let go as soon as they are used
    p_alive_u = paths.alive(purchase_model)
    p_alive = p_alive_u[paths.inv_p]
    money = margin_arr * spend
    n_red = len(paths.af)
    if paths.factorised:
        weights = (np.bincount(paths.inv_a, weights=p_alive * money, minlength=n_red),
                   np.bincount(paths.inv_a, weights=p_alive, minlength=n_red))
    else:
        weights = (np.bincount(paths.inv_a, weights=money, minlength=n_red),
                   np.bincount(paths.inv_a, minlength=n_red).astype(float))
    de_red, ex_red, (period_value, period_count) = paths.discounted(purchase_model, horizon, discount_rate, weights)
    scale = p_alive if paths.factorised else 1.0
    # clv = money * (scale * DE): each product taken in place, in the same order (the same bits)
    clv = de_red[paths.inv_a]
    clv *= scale
    clv *= money
    expected = ex_red[paths.inv_a]
    expected *= scale
    paths.inv_a = None

    cov_p = _covariance(purchase_model)
    if cov_p is None:
        notes.append("the purchase model has no parameter covariance: its uncertainty is not in the interval")
        var_p = np.zeros(n)
    else:
        grad_p = log_gradient(purchase_model, lambda m: paths.log_de(m, horizon, discount_rate, GRADIENT_BLOCKS))
        var_p = _quadratic(grad_p, cov_p)[paths.inv_p]

    q = float(ndtri(0.5 + level / 2))  # the standard normal quantile (scipy.stats.norm.ppf)
    sd = var_p
    sd += var_s
    del var_p, var_s
    np.sqrt(sd, out=sd)
    values = {
        "probability_alive": p_alive,
        "expected_purchases": expected,
        "expected_spend": spend,
        "margin_rate": margin_arr,
        "clv": clv,
        "clv_low": _times_exp(clv, -q, sd),
        "clv_high": _times_exp(clv, q, sd),
    }
    del sd
    if residual:
        values["residual_value"] = money * _residual_purchases(purchase_model, paths.pf, paths.pr, paths.pt, discount_rate, horizon)[paths.inv_p]

    periods = np.arange(1, int(horizon) + 1)
    discounted = period_value / (1.0 + discount_rate) ** periods
    by_period = pd.DataFrame(
        {
            "period": periods,
            "expected_purchases": period_count,
            "expected_value": period_value,
            "discounted_value": discounted,
            "cumulative_discounted_value": np.cumsum(discounted),
        }
    )
    for name in ("clv", "probability_alive"):
        if not np.all(np.isfinite(values[name])):
            raise ConvergenceError(
                f"{name} is not finite for {int((~np.isfinite(values[name])).sum())} customer(s)",
                hint="the fitted parameters may be extreme; try another model or a penalizer",
            )
    return values, by_period, notes, spend_excluded


def _times_exp(clv: np.ndarray, factor: float, sd: np.ndarray) -> np.ndarray:
    """``clv * exp(factor * sd)`` with one new array (the same numbers as the plain expression)."""
    out = np.multiply(factor, sd)
    np.exp(out, out=out)
    out *= clv
    return out


def margin_rates(revenue: Any, historic_value: Any, default: float) -> np.ndarray:
    """Each customer's margin rate: historic value (margin in money) over revenue; ``default`` when revenue is 0."""
    revenue = np.asarray(revenue, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.asarray(historic_value, dtype=float) / revenue
    return np.where(np.isfinite(rate) & (revenue > 0), rate, default)


#: what the note about customers left out of the spend model says of them
SPEND_EXCLUDED = ("have a zero or negative repeat spend (their returns outweigh their purchases): left out of the "
                  "spend model and valued with the population mean spend per purchase")


def name_customers(ids: list[str], what: str, shown: int = 20) -> str:
    """``"N customer(s) <what>: a, b, … and M more"``: a note that names the customers it is about."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return f"{len(ids)} customer(s) {what}: {', '.join(ids[:shown])}{more}"


def _residual_purchases(model: Any, f, r, t, discount_rate: float, horizon: int) -> np.ndarray:
    """DERT with no horizon (continuous discounting at delta = ln(1 + d)); long finite sum when unavailable."""
    method = getattr(model, "discounted_expected_purchases", None)
    if method is not None:
        try:
            with np.errstate(all="ignore"):  # overflow on the way to a non-finite value: the fallback below takes over
                values = np.asarray(method(f, r, t, discount_rate, horizon=None), dtype=float)
            if np.all(np.isfinite(values)):
                return values
        except (CvmError, ValueError, TypeError, ArithmeticError):
            pass
    # geometric tail: sum until the discount factor falls below 1e-3 (capped for speed)
    long = int(min(max(horizon * 4, np.ceil(np.log(1e3) / np.log1p(max(discount_rate, 1e-6)))), 5000))
    return discounted_purchases(model, f, r, t, long, discount_rate)[0]


