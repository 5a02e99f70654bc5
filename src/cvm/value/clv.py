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

import inspect
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from cvm.errors import ConvergenceError, CvmError, SchemaError, WorkspaceError
from cvm.fitting import fit_model, fit_spend_model, model_name
from cvm.models.registry import PURCHASE_MODELS
from cvm.value.explain import explain

_STEP = 1e-4  # forward-difference step on the log-parameters
MIN_T = 1e-6  # smallest observation time (model units) used for prediction
GRADIENT_BLOCKS = 13  # the interval's gradient reads the horizon path at most at 13 block ends


# ----------------------------------------------------------------------------- numerics
#: models whose conditional expectation factorises as P(alive | x, t_x, T) * E[Y(t) | alive at T, x, T]
#: (BG/NBD: FHL 2005 eq. 10; MBG/NBD: Batislam, Denizel & Filiztekin 2007; Pareto/NBD: SMC 1987)
FACTORISED_MODELS = {"BGNBD", "MBGNBD", "ParetoNBD"}


def _unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and the inverse index mapping every row to its unique row."""
    from cvm.models.base import compress

    keys, _, inverse = compress({str(j): np.asarray(c, dtype=float) for j, c in enumerate(columns)})
    return [keys[str(j)] for j in range(len(columns))], np.asarray(inverse, dtype=np.int64)


def discounted_purchases(model: Any, frequency, recency, T, horizon: int, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Discounted and undiscounted expected purchases over ``horizon`` whole periods (direct evaluation).

    Returns ``(DE, E[X(H)])`` with
    ``DE = sum_{k=1..H} (E[X(k)] - E[X(k-1)]) / (1 + d)**k`` (``E[X(0)] = 0``).
    """
    f, r, t = (np.asarray(a, dtype=float) for a in (frequency, recency, T))
    previous = np.zeros_like(f)
    total = np.zeros_like(f)
    for k in range(1, int(horizon) + 1):
        current = np.asarray(model.expected_purchases(float(k), f, r, t), dtype=float)
        total += (current - previous) / (1.0 + discount_rate) ** k
        previous = current
    return total, previous


class _PurchasePaths:
    """Expected purchases of every customer over the horizon, computed on as few histories as possible.

    For the factorised models the costly part, ``E[Y(t) | alive, x, T]``, depends on
    ``(x, T)`` only; it is read from the model's own functions at the reference
    recency ``t_x = T`` (``0`` when ``x = 0``) as
    ``expected_purchases(t, x, t_ref, T) / probability_alive(x, t_ref, T)``, and
    each customer's value is ``P(alive | x, t_x, T)`` times it. Other models are
    evaluated directly on unique ``(x, t_x, T)``.
    """

    def __init__(self, model: Any, f: np.ndarray, r: np.ndarray, t: np.ndarray) -> None:
        self.factorised = type(model).__name__ in FACTORISED_MODELS
        (self.pf, self.pr, self.pt), self.inv_p = _unique_rows(f, r, t)
        if self.factorised:
            (self.af, self.at), self.inv_a = _unique_rows(f, t)
            self.ar = np.where(self.af > 0, self.at, 0.0)
        else:
            self.af, self.ar, self.at, self.inv_a = self.pf, self.pr, self.pt, self.inv_p
        #: the (x, T) row of each unique (x, t_x, T) row
        self.a_of_p = np.empty(len(self.pf), dtype=np.int64)
        self.a_of_p[self.inv_p] = self.inv_a

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
        previous = np.zeros_like(self.af)
        for k, current in zip(times, columns):
            if self.factorised:
                current = current * scale
            yield k, current - previous
            previous = current

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
        de = np.zeros_like(self.af)
        ex = np.zeros_like(self.af)
        periods = np.zeros(int(horizon)) if weights is not None else None
        counts = np.zeros(int(horizon)) if weights is not None else None
        for k, step in self.increments(model, times):
            de += step / (1.0 + discount_rate) ** k
            ex += step
            if weights is not None:
                periods[k - 1] = step @ weights[0]
                counts[k - 1] = step @ weights[1]
        return de, ex, (periods, counts)

    def log_de(self, model: Any, horizon: int, discount_rate: float, blocks: int | None = None) -> np.ndarray:
        """log DE per customer-level unique row (x, t_x, T)."""
        de, _, _ = self.discounted(model, horizon, discount_rate, blocks=blocks)
        with np.errstate(divide="ignore"):
            if self.factorised:
                return np.log(self.alive(model)) + np.log(de)[self.a_of_p]
            return np.log(de)


def period_increments(model: Any, frequency, recency, T, horizon: int) -> np.ndarray:
    """Expected purchases in each period ``k = 1..H``: ``E[X(k)] - E[X(k-1)]``, shape ``(H, n)``."""
    f, r, t = (np.asarray(a, dtype=float) for a in (frequency, recency, T))
    out = np.empty((int(horizon), len(f)))
    previous = np.zeros_like(f)
    for k in range(1, int(horizon) + 1):
        current = np.asarray(model.expected_purchases(float(k), f, r, t), dtype=float)
        out[k - 1] = current - previous
        previous = current
    return out


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
    if not 0 < level < 1:
        raise SchemaError(f"level must lie strictly between 0 and 1, got {level}")
    if int(horizon) < 1:
        raise SchemaError(f"horizon must be at least one time unit, got {horizon}")
    if discount_rate < 0:
        raise SchemaError(f"discount rate must not be negative, got {discount_rate}")
    frame = summary.reset_index() if "customer_id" not in summary.columns else summary.reset_index(drop=True)
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in frame.columns]
    if missing:
        raise SchemaError(f"the summary lacks column(s) {', '.join(missing)}", hint="use ws.summary(...) or lifetimes' column names")
    notes: list[str] = []
    f = frame["frequency"].to_numpy(dtype=float)
    r = frame["recency"].to_numpy(dtype=float)
    # a customer whose first purchase is on the as-of day has T = 0; the models need T > 0,
    # and at T -> 0 the predictions converge, so such customers are valued at T = 1e-6 units
    t = np.maximum(frame["T"].to_numpy(dtype=float), MIN_T)
    mv = frame["monetary_value"].to_numpy(dtype=float)
    n = len(frame)
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
    else:
        if {"total_amount", "n_transactions"} <= set(frame.columns):
            spent = frame["total_amount"].to_numpy(dtype=float)
            orders = np.maximum(frame["n_transactions"].to_numpy(dtype=float), 1.0)
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
    spend_excluded = [str(c) for c in frame.loc[excluded, "customer_id"]] if excluded.any() else []
    if spend_excluded:
        notes.append(_naming(spend_excluded, SPEND_EXCLUDED))

    # --- purchase process: P(alive) on unique (x, t_x, T), the horizon path on unique (x, T)
    paths = _PurchasePaths(purchase_model, f, r, t)
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
    de = scale * de_red[paths.inv_a]
    expected = scale * ex_red[paths.inv_a]

    cov_p = _covariance(purchase_model)
    if cov_p is None:
        notes.append("the purchase model has no parameter covariance: its uncertainty is not in the interval")
        var_p = np.zeros(n)
    else:
        grad_p = log_gradient(purchase_model, lambda m: paths.log_de(m, horizon, discount_rate, GRADIENT_BLOCKS))
        var_p = _quadratic(grad_p, cov_p)[paths.inv_p]

    clv = money * de
    q = float(ndtri(0.5 + level / 2))  # the standard normal quantile (scipy.stats.norm.ppf)
    sd = np.sqrt(var_p + var_s)
    out = frame.copy()
    out["probability_alive"] = p_alive
    out["expected_purchases"] = expected
    out["expected_spend"] = spend
    out["margin_rate"] = margin_arr
    out["clv"] = clv
    out["clv_low"] = clv * np.exp(-q * sd)
    out["clv_high"] = clv * np.exp(q * sd)
    if residual:
        out["residual_value"] = money * _residual_purchases(purchase_model, paths.pf, paths.pr, paths.pt, discount_rate, horizon)[paths.inv_p]

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
        if not np.all(np.isfinite(out[name])):
            raise ConvergenceError(
                f"{name} is not finite for {int((~np.isfinite(out[name])).sum())} customer(s)",
                hint="the fitted parameters may be extreme; try another model or a penalizer",
            )
    return Valuation(out, by_period, notes, spend_excluded)


#: what the note about customers left out of the spend model says of them
SPEND_EXCLUDED = ("have a zero or negative repeat spend (their returns outweigh their purchases): left out of the "
                  "spend model and valued with the population mean spend per purchase")


def _naming(ids: list[str], what: str, shown: int = 20) -> str:
    """``"N customer(s) <what>: a, b, … and M more"``: a note that names the customers it is about."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return f"{len(ids)} customer(s) {what}: {', '.join(ids[:shown])}{more}"


def _residual_purchases(model: Any, f, r, t, discount_rate: float, horizon: int) -> np.ndarray:
    """DERT with no horizon (continuous discounting at delta = ln(1 + d)); long finite sum when unavailable."""
    method = getattr(model, "discounted_expected_purchases", None)
    if method is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                values = np.asarray(method(f, r, t, discount_rate, horizon=None), dtype=float)
            if np.all(np.isfinite(values)):
                return values
        except (CvmError, ValueError, TypeError, ArithmeticError):
            pass
    # geometric tail: sum until the discount factor falls below 1e-3 (capped for speed)
    long = int(min(max(horizon * 4, np.ceil(np.log(1e3) / np.log1p(max(discount_rate, 1e-6)))), 5000))
    return discounted_purchases(model, f, r, t, long, discount_rate)[0]


# ----------------------------------------------------------------------------- model choice
def choose_purchase_model(ws: Any, summary: pd.DataFrame, as_of: Any,
                          time_unit: str) -> tuple[str, Any, str, dict[str, Any]]:
    """``model="auto"``: ask :func:`cvm.evaluation.choose_model`, else best BIC of BG/NBD and Pareto/NBD.

    Returns ``(name, fitted model, reason code, reason values)``; the reason is
    rendered by :func:`cvm.value.explain.explain`. A choice by backtest carries
    the backtest's own reason (``best_tracking_error``, ``tie_broken_by_bic``,
    ...) when the stored backtest chose the same model, else
    ``chosen_by_backtest``; without a backtest the reason is ``bic_fallback``
    with the BIC of each model and, in ``detail``, why the backtest was unavailable.

    Every candidate fit has the budget :data:`cvm.models.limits.CANDIDATE_BUDGET` (time and
    iterations); a candidate that exceeds it or is refused is left out, and ``left_out`` in the
    reason values maps it to the reason (the backtest's left-out models included).
    """
    from cvm.models.limits import CANDIDATE_BUDGET

    try:
        from cvm.evaluation import choose_model, latest_backtest  # written by the evaluation engineer
    except ImportError:
        choose_model = latest_backtest = None
    why = ""
    left_out: dict[str, str] = {}
    if choose_model is not None and ws is not None:
        params = inspect.signature(choose_model).parameters
        options = {k: v for k, v in {"as_of": as_of, "time_unit": time_unit}.items() if k in params}
        try:
            chosen = choose_model(ws, **options)
        except (CvmError, ImportError) as exc:
            chosen, why = None, str(exc).splitlines()[0]
        if chosen is not None:
            name = chosen if isinstance(chosen, str) else getattr(chosen, "best", str(chosen))
            left_out.update(_backtest_left_out(ws, latest_backtest))
            if name.lower() in PURCHASE_MODELS:
                code, values = _backtest_reason(ws, name.lower(), chosen, latest_backtest)
                try:
                    fitted = fit_model(summary, name, **CANDIDATE_BUDGET)
                except ConvergenceError as exc:
                    left_out[name.lower()] = str(exc).splitlines()[0]
                else:
                    return name.lower(), fitted, code, {**values, **({"left_out": left_out} if left_out else {})}
            else:
                why = f"choose_model proposed '{name}', which is not a purchase model"
    fits: dict[str, Any] = {}
    refusals: list[CvmError] = []
    for name in ("bgnbd", "pnbd"):
        if name in left_out:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[name] = fit_model(summary, name, **CANDIDATE_BUDGET)
        except (CvmError, ImportError) as exc:
            left_out[name] = str(exc).splitlines()[0]
            if isinstance(exc, CvmError):
                refusals.append(exc)
    if not fits:
        if refusals and refusals[0].code and all(e.code == refusals[0].code for e in refusals):
            raise refusals[0]  # the same reason for every model (e.g. nobody bought twice): say it once, in its words
        raise ConvergenceError("neither BG/NBD nor Pareto/NBD could be fitted: " + "; ".join(f"{k}: {v}" for k, v in left_out.items()))
    bic = {k: float(m.summary().bic) for k, m in fits.items()}
    best = min(bic, key=bic.get)
    values = {"model": best, "bic_by_model": bic, "detail": why or None}
    return best, fits[best], "bic_fallback", {**values, **({"left_out": left_out} if left_out else {})}


def _backtest_left_out(ws: Any, latest_backtest: Any) -> dict[str, str]:
    """Models the stored backtest could not fit (over budget, refused), with the reason."""
    if latest_backtest is None:
        return {}
    try:
        result = latest_backtest(ws, current_only=True)
    except CvmError:
        return {}
    models = getattr(result, "models", None) or {}
    return {m: str(r["error"]).splitlines()[0] for m, r in models.items() if m in PURCHASE_MODELS and "error" in r}


def _backtest_reason(ws: Any, name: str, chosen: Any, latest_backtest: Any) -> tuple[str, dict[str, Any]]:
    """The reason a backtest chose ``name``: its own code and figures when known, else ``chosen_by_backtest``."""
    result = chosen if getattr(chosen, "reason_code", "") else None
    if result is None and latest_backtest is not None:
        try:
            result = latest_backtest(ws, current_only=True)
        except CvmError:
            result = None
    if result is not None and getattr(result, "best", None) == name and getattr(result, "reason_code", ""):
        return result.reason_code, dict(result.reason_values)
    return "chosen_by_backtest", {"model": name}


# ----------------------------------------------------------------------------- workspace glue
def resolve_options(ws: Any, horizon=None, discount_rate=None, margin=None, time_unit=None, level=None) -> dict[str, Any]:
    """Fill unset options from the workspace settings and convert the yearly discount rate per time unit."""
    from cvm.settings import DAYS_PER_UNIT

    settings = ws.settings
    tu = time_unit or settings.time_unit
    if tu not in DAYS_PER_UNIT:
        raise SchemaError(f"unknown time unit '{tu}'", hint="use day, week, month or year")
    yearly = settings.discount_rate if discount_rate is None else float(discount_rate)
    if not 0 <= yearly <= 1:
        raise SchemaError(f"discount rate {yearly:g} is out of range: it is a yearly share between 0 and 1",
                          hint=f"0.1 means 10 % a year{f'; for {yearly:g} % use {yearly / 100:g}' if 1 < yearly < 100 else ''}")
    m = settings.margin if margin is None else float(margin)
    if not 0 < m <= 1:
        raise SchemaError(f"margin {m} must lie in (0, 1]", hint="a share of revenue, e.g. 0.3")
    h = settings.horizon if horizon is None else int(horizon)
    if h < 1:
        raise SchemaError(f"horizon must be at least 1, got {h}")
    lv = settings.interval_level if level is None else float(level)
    return {
        "time_unit": tu,
        "horizon": h,
        "discount_rate": yearly,
        "discount_per_unit": (1.0 + yearly) ** (DAYS_PER_UNIT[tu] / 365.25) - 1.0,
        "margin": m,
        "level": lv,
        "days_per_unit": DAYS_PER_UNIT[tu],
    }


#: how far past the last transaction an as-of date may lie: further on the data stop
#: being evidence (a year of silence from every customer means newer data are missing)
MAX_DAYS_AFTER_DATA = 366


def resolve_as_of(ws: Any, as_of: Any) -> pd.Timestamp:
    """The as-of date: the given date, or the day of the last transaction.

    Raises
    ------
    SchemaError
        ``as_of`` is not a date, or lies more than :data:`MAX_DAYS_AFTER_DATA` days after
        the last transaction.
    """
    if as_of is not None:
        try:
            stamp = pd.Timestamp(as_of)
        except (ValueError, TypeError):
            raise SchemaError(f"as-of date '{as_of}' is not a date", hint="use YYYY-MM-DD") from None
        if stamp is pd.NaT:
            raise SchemaError(f"as-of date '{as_of}' is not a date", hint="use YYYY-MM-DD")
        last = ws.con.execute("SELECT max(ts) FROM transactions").fetchone()[0] if _has_table(ws, "transactions") else None
        if last is not None and stamp > pd.Timestamp(last).normalize() + pd.Timedelta(days=MAX_DAYS_AFTER_DATA):
            raise SchemaError(
                f"as-of date {stamp.date()} is more than a year after the last transaction ({pd.Timestamp(last).date()}): "
                "every customer would look long gone",
                hint="value customers as of a date inside the data (leave --as-of out to use the last "
                     "transaction day), or ingest the newer transactions first")
        return stamp
    if not _has_table(ws, "transactions"):
        raise WorkspaceError.coded("no_transactions")
    last = ws.con.execute("SELECT max(ts) FROM transactions").fetchone()[0]
    if last is None:
        raise WorkspaceError.coded("no_transactions")
    return pd.Timestamp(last).normalize()


def _has_table(ws: Any, name: str) -> bool:
    if hasattr(ws, "has_table"):
        return bool(ws.has_table(name))
    row = ws.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
    return bool(row and row[0])


def customer_margins(ws: Any, as_of: pd.Timestamp, default: float) -> pd.DataFrame:
    """Historic margin per customer from ``transactions`` up to and including the as-of day.

    The ``margin`` column of a transaction is its contribution in money; rows
    without it contribute ``amount * default``. Returns ``historic_value`` and
    ``margin_rate`` (historic value over revenue; the default when revenue is 0).
    """
    end = as_of + pd.Timedelta(days=1)
    cols = {r[0] for r in ws.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'").fetchall()}
    from cvm.data.summary import MICROS, micros_sql

    margin_expr = "coalesce(margin, amount * ?)" if "margin" in cols else "amount * ?"
    # whole millionths, as the summaries add money: the same sums in any row order (cvm.data.summary.MICROS)
    frame = ws.con.execute(
        f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, sum({micros_sql('amount')}) / {MICROS!r} AS revenue, "
        f"sum({micros_sql(margin_expr)}) / {MICROS!r} AS historic_value "
        "FROM transactions WHERE ts < ? GROUP BY 1 ORDER BY 1",
        [default, end],
    ).df()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = frame["historic_value"] / frame["revenue"]
    frame["margin_rate"] = rate.where(np.isfinite(rate) & (frame["revenue"] > 0), default)
    return frame.set_index("customer_id")


def planned_costs(ws: Any, as_of: pd.Timestamp, customer_ids: pd.Index, per_customer: float) -> pd.Series:
    """Costs planned after the as-of date per customer (``costs`` rows dated later), plus the setting.

    ``settings.retention_cost_per_customer`` is added for every customer.
    """
    out = pd.Series(float(per_customer), index=customer_ids, dtype=float)
    if not _has_table(ws, "costs"):
        return out
    from cvm.value.investment import read_costs

    costs = read_costs(ws)
    if costs.empty or "customer_id" not in costs.columns:
        return out
    later = costs[costs["customer_id"].notna() & (costs["ts"] >= as_of + pd.Timedelta(days=1))]
    sums = later.groupby("customer_id")["amount"].sum()
    return out.add(sums.reindex(customer_ids).fillna(0.0), fill_value=0.0)


def score_customers(
    ws: Any,
    as_of: Any = None,
    model: str = "auto",
    horizon: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
    level: float | None = None,
    store: bool = True,
) -> pd.DataFrame:
    """Value every customer as of a date and (by default) store the run in ``scores``.

    Parameters
    ----------
    ws
        The workspace (:class:`cvm.data.Workspace`).
    as_of
        Valuation date (inclusive); default the day of the last transaction. The
        models are fitted on everything up to this date (the calibration period).
    model
        ``auto`` (:func:`cvm.evaluation.choose_model`, else lowest BIC of BG/NBD
        and Pareto/NBD), ``bgnbd``, ``pnbd`` or ``mbgnbd``.
    horizon, time_unit, discount_rate, margin, level
        Default from ``ws.settings``; ``discount_rate`` is **yearly** and converted
        per time unit; ``margin`` replaces the settings margin for transactions
        without a ``margin`` column value.
    store
        Append the run to ``scores`` and ``score_runs``.

    Returns
    -------
    DataFrame, one row per customer (customers in ``customers`` without purchases
    appear as prospects with zero value), columns of
    :data:`cvm.data.scores.SCORE_COLUMNS`. ``attrs`` carries ``run_id``, ``as_of``,
    ``model``, ``model_reason`` (in English), ``model_reason_code`` and
    ``model_reason_values`` (render them with :func:`cvm.value.explain.explain`)
    and ``notes``.
    """
    from cvm.value.segments import assign_tiers, lifecycle_stages, rank_and_percentile
    from cvm.data.scores import new_run_id, save_scores

    opts = resolve_options(ws, horizon, discount_rate, margin, time_unit, level)
    stamp = resolve_as_of(ws, as_of)
    summary = ws.summary(as_of=stamp.date().isoformat(), time_unit=opts["time_unit"])
    if summary is None or len(summary) == 0:
        first = ws.con.execute("SELECT min(ts) FROM transactions").fetchone()[0]
        raise WorkspaceError.coded("no_purchase_by", date=str(stamp.date()), first=str(pd.Timestamp(first).date()))
    summary = summary.copy()
    summary.index = summary.index.astype(str)
    summary.index.name = "customer_id"

    name = model.lower()
    if name == "auto":
        name, purchase, reason_code, reason_values = choose_purchase_model(ws, summary, stamp, opts["time_unit"])
    else:
        purchase, reason_code, reason_values = fit_model(summary, name), "chosen_by_user", {"model": name}
    name = model_name(name, purchase)
    reason = explain(reason_code, reason_values, "en")
    from cvm.models.base import CvmWarning

    left_out = [str(CvmWarning.coded("model_left_out", model=m, reason=why)) for m, why in
                (reason_values.get("left_out") or {}).items()]
    spend, spend_note = fit_spend_model(summary)

    margins = customer_margins(ws, stamp, opts["margin"])
    if not (len(margins) == len(summary) and np.array_equal(margins.index.to_numpy(), summary.index.to_numpy())):
        margins = margins.reindex(summary.index)  # (both come ordered by id; this is for the rare mismatch)
    margin_rate = margins["margin_rate"].fillna(opts["margin"]).to_numpy()
    valuation = value_customers(
        summary, purchase, spend, horizon=opts["horizon"], discount_rate=opts["discount_per_unit"],
        margin=margin_rate, level=opts["level"],
    )
    frame = valuation.customers
    if "total_amount" in frame.columns:
        fallback = frame["total_amount"].to_numpy(float) * opts["margin"]
    else:
        fallback = np.zeros(len(frame))
    frame["historic_value"] = np.where(margins["historic_value"].notna().to_numpy(), margins["historic_value"].to_numpy(), fallback)

    # customers known in `customers` but without a purchase yet: prospects with zero value
    if _has_table(ws, "customers"):
        known = ws.con.execute("SELECT DISTINCT CAST(customer_id AS VARCHAR) FROM customers").fetchall()
        prospects = sorted({k[0] for k in known if k[0] is not None} - set(frame["customer_id"]))
        if prospects:
            zero_cols = ["frequency", "recency", "T", "monetary_value", "n_transactions", "historic_value",
                         "expected_purchases", "expected_spend", "clv", "clv_low", "clv_high", "residual_value"]
            extra = pd.DataFrame({"customer_id": prospects})
            for c in zero_cols:
                extra[c] = 0.0
            extra["probability_alive"] = np.nan
            extra["margin_rate"] = opts["margin"]
            frame = pd.concat([frame, extra], ignore_index=True)

    purchased = frame["n_transactions"].fillna(0).to_numpy() > 0 if "n_transactions" in frame else frame["probability_alive"].notna().to_numpy()
    frame["rank"], frame["percentile"] = rank_and_percentile(frame["clv"], frame["customer_id"])
    frame["value_tier"] = assign_tiers(frame["percentile"], ws.settings.tier_cutoffs)
    if "first_purchase" in frame.columns:
        since_first = (stamp - pd.to_datetime(frame["first_purchase"])).dt.total_seconds().to_numpy() / 86400.0
    else:
        since_first = frame["T"].to_numpy(float) * opts["days_per_unit"]
    frame["lifecycle_stage"] = lifecycle_stages(
        frame["frequency"], frame["probability_alive"].fillna(0.0), np.nan_to_num(since_first, nan=np.inf),
        ws.settings.stage_rules, purchased=purchased,
    )
    costs = planned_costs(ws, stamp, pd.Index(frame["customer_id"]), ws.settings.retention_cost_per_customer)
    frame["planned_cost"] = costs.to_numpy()
    frame["max_investment"] = np.clip(frame["clv"].to_numpy() - frame["planned_cost"].to_numpy(), 0.0, None)

    notes = left_out + list(valuation.notes) + ([spend_note] if spend_note else [])
    # customers the valuation could not treat like the others are named, as warnings too (the CLI shows them)
    named = [_naming(valuation.spend_excluded, SPEND_EXCLUDED)] if valuation.spend_excluded else []
    returns_only = list(summary.attrs.get("returns_only_customers") or [])
    if returns_only:
        named.append(_naming(returns_only, f"have only returns up to {stamp.date()}: not buyers, so not valued"))
        notes.append(named[-1])
    for message in named:
        warnings.warn(message, stacklevel=2)
    run_id = new_run_id()
    frame = frame.sort_values(["rank"]).reset_index(drop=True)
    frame.attrs.update(
        run_id=run_id if store else None, as_of=stamp.date().isoformat(), model=name, model_reason=reason,
        model_reason_code=reason_code, model_reason_values=reason_values,
        notes=notes, time_unit=opts["time_unit"], horizon=opts["horizon"],
        spend_excluded=list(valuation.spend_excluded), returns_only_customers=returns_only,
    )
    if store:
        save_scores(
            ws, frame,
            {
                "run_id": run_id, "as_of": stamp, "created": pd.Timestamp.now(), "model": name, "model_reason": reason,
                "model_reason_code": reason_code, "model_reason_values": json.dumps(reason_values, default=str),
                "horizon": opts["horizon"], "time_unit": opts["time_unit"], "discount_rate": opts["discount_rate"],
                "margin": opts["margin"], "level": opts["level"], "n_customers": len(frame),
                "total_clv": float(frame["clv"].sum()),
            },
        )
    return frame


def value_by_period(
    ws: Any,
    as_of: Any = None,
    model: str = "auto",
    horizon: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
) -> pd.DataFrame:
    """Expected value of the whole customer base period by period over the horizon.

    Columns: ``period`` (1..H in the time unit), ``expected_purchases``,
    ``expected_value`` (margin x spend x purchases in that period),
    ``discounted_value`` (divided by ``(1 + d)**period``) and
    ``cumulative_discounted_value``; the last equals the sum of ``clv`` over
    customers from :func:`score_customers` with the same options.
    """
    opts = resolve_options(ws, horizon, discount_rate, margin, time_unit)
    stamp = resolve_as_of(ws, as_of)
    summary = ws.summary(as_of=stamp.date().isoformat(), time_unit=opts["time_unit"]).copy()
    summary.index = summary.index.astype(str)
    name = model.lower()
    if name == "auto":
        name, purchase, _, _ = choose_purchase_model(ws, summary, stamp, opts["time_unit"])
    else:
        purchase = fit_model(summary, name)
    name = model_name(name, purchase)
    spend, _ = fit_spend_model(summary)
    margins = customer_margins(ws, stamp, opts["margin"])
    if not (len(margins) == len(summary) and np.array_equal(margins.index.to_numpy(), summary.index.to_numpy())):
        margins = margins.reindex(summary.index)  # (both come ordered by id; this is for the rare mismatch)
    valuation = value_customers(
        summary, purchase, spend, horizon=opts["horizon"], discount_rate=opts["discount_per_unit"],
        margin=margins["margin_rate"].fillna(opts["margin"]).to_numpy(), residual=False,
    )
    out = valuation.by_period
    out.insert(1, "time_unit", opts["time_unit"])
    out.attrs.update(as_of=stamp.date().isoformat(), model=name)
    return out
