"""Backtests: fit on a calibration period, compare with what happened in the holdout.

The procedure is the validation of Fader, Hardie & Lee (2005), "Counting your
customers the easy way", *Marketing Science* 24(2), 275-284:

1. Split the transactions at the calibration end. Customers acquired up to
   that date form the cohort; their history up to it is summarised
   (frequency ``x``, recency ``t_x``, age ``T``) by the data layer
   (``Workspace.summary(calibration_end=..., holdout_end=...)``).
2. Fit every applicable purchase model (BG/NBD, MBG/NBD, Pareto/NBD) and the
   Gamma-Gamma spend model on the calibration summary.
3. Compare on the holdout:

   * **tracking** of repeat transactions by the whole cohort per period and
     cumulatively. A customer acquired at time ``s_i`` is expected to make
     ``E[X(t - s_i)]`` repeat purchases by time ``t`` (the unconditional
     expectation of a new customer), so the cohort's curve is
     ``sum_i E[X(t - s_i)]`` (FHL 2005, Figures 3 and 4);
   * **conditional expectations** ``E[Y(t*) | x, t_x, T]`` of each customer's
     holdout purchases, in total (``holdout_predicted``), per customer
     (MAE, RMSE) and averaged by calibration frequency ``x = 0..6, 7+``
     (FHL 2005, Figure 5);
   * the **calibration histogram**: expected number of customers with ``x``
     repeat purchases in calibration, ``sum_i P(X(T_i) = x)``, against the
     observed number, with Pearson's chi-square over the eight groups
     ``0..6, 7+`` and ``8 - 1 - k`` degrees of freedom for a ``k``-parameter
     model (3 for BG/NBD and Pareto/NBD);
   * **calibration of P(alive)**: binned P(alive) at the calibration end
     against the share of customers who bought in the holdout;
   * **ranking quality**: the holdout spend predicted by each model (expected
     purchases times the Gamma-Gamma expected spend) against the realised
     holdout spend, as a normalised Gini and the share of holdout value held
     by the predicted top decile.

Time is measured in days and expressed in ``time_unit`` (so a customer's age
is 38.86 weeks, not 38): purchases on the same day count once, as in the
paper — the data layer's summary rule.

The best model (what ``--model auto`` uses) has the smallest holdout tracking
error: the mean absolute percentage error of the cumulative number of repeat
transactions counted from the calibration end, over the holdout periods.
Models within one percentage point of the best are treated as tied and the
tie goes to the lowest BIC of the calibration fit.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

import cvm.evaluation.metrics as metrics
from cvm.errors import ConvergenceError, CvmError, SchemaError
from cvm.jsonsafe import json_safe
from cvm.fitting import fit_model
from cvm.models.limits import CANDIDATE_BUDGET
from cvm.models.registry import PURCHASE_MODELS
from cvm.settings import DAYS_PER_UNIT
from cvm.value.explain import explain
#: models within this absolute difference of tracking error are tied (then BIC decides)
TIE_TOLERANCE = 0.01
#: the calibration histogram groups x = 0 .. TOP_GROUP - 1 and TOP_GROUP+
TOP_GROUP = 7


# ----------------------------------------------------------------------------
# the result
# ----------------------------------------------------------------------------


@dataclass
class BacktestResult:
    """Everything a backtest found, as frames and one JSON-ready dict.

    Attributes
    ----------
    best
        Command-line name of the chosen model (``bgnbd``, ``mbgnbd``, ``pnbd``).
    reason
        Why, in English words (what :func:`cvm.value.explain.explain` makes of
        ``reason_code`` and ``reason_values``).
    models
        Model name to its metrics (``holdout_actual``, ``holdout_predicted``,
        ``tracking_error``, ``mae_purchases``, ``rmse_purchases``, ``chi_square``,
        ...). A model that could not be fitted holds only ``error``.
    tracking
        Long frame: ``period``, ``end`` (date the period ends, exclusive),
        ``phase``, ``series`` (``actual`` or a model), ``incremental``, ``cumulative``.
    conditional
        Indexed by calibration frequency group; ``n_customers``, ``actual`` and one column per model.
    histogram
        Indexed by calibration frequency group; ``observed`` and one column per model.
    probability_alive_calibration
        Long frame: ``model``, bin edges, ``n_customers``, ``predicted``, ``observed``.
    customers
        Per customer: calibration summary, holdout outcome and each model's predictions.
    fitted
        Model name to the fitted model object (the Gamma-Gamma fit under ``gg``).
    reason_code
        Why this model, as a stable code: ``best_tracking_error``,
        ``tie_broken_by_bic`` or ``lowest_bic_no_holdout``.
    reason_values
        The figures the reason cites (model names, tracking errors, BIC); render
        them in any language with :func:`cvm.value.explain.explain`.
    """

    best: str
    reason: str
    models: dict[str, dict[str, Any]]
    tracking: pd.DataFrame
    conditional: pd.DataFrame
    histogram: pd.DataFrame
    probability_alive_calibration: pd.DataFrame
    customers: pd.DataFrame
    calibration_end: str
    holdout_end: str
    time_unit: str
    tracking_unit: str
    n_customers: int
    fitted: dict[str, Any] = field(default_factory=dict)
    summaries_html: dict[str, str] = field(default_factory=dict)
    reason_code: str = ""
    reason_values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``cvm backtest --json``): ``best``, ``reason``, ``reason_code``,
        ``reason_values`` and ``models`` → name → metrics."""
        return json_safe({
            "best": self.best,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "reason_values": self.reason_values,
            "calibration_end": self.calibration_end,
            "holdout_end": self.holdout_end,
            "time_unit": self.time_unit,
            "tracking_unit": self.tracking_unit,
            "n_customers": self.n_customers,
            "models": self.models,
            "conditional": _frame_records(self.conditional, index_name="frequency"),
            "histogram": _frame_records(self.histogram, index_name="frequency"),
        })

    def to_payload(self) -> dict[str, Any]:
        """Everything the report needs, JSON-ready (stored in the workspace's ``backtests`` table)."""
        out = self.to_dict()
        out["tracking"] = _frame_records(self.tracking.assign(end=self.tracking["end"].astype(str)))
        out["probability_alive_calibration"] = _frame_records(self.probability_alive_calibration)
        out["summaries_html"] = dict(self.summaries_html)
        return json_safe(out)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "BacktestResult":
        """Rebuild a result (without fitted models and per-customer rows) from :meth:`to_payload`."""
        def frame(key: str, index: str | None = None) -> pd.DataFrame:
            rows = payload.get(key) or []
            f = pd.DataFrame(rows)
            if index and index in f.columns:
                f = f.set_index(index)
            return f

        models = dict(payload.get("models", {}))
        code, values = payload.get("reason_code") or "", dict(payload.get("reason_values") or {})
        if not code:  # stored before reasons had codes: the choice follows from the stored metrics
            candidates = {m: r for m, r in models.items()
                          if m != "gg" and isinstance(r, dict) and "error" not in r and "bic" in r}
            if candidates and _choose(candidates)[0] == payload["best"]:
                _, code, values = _choose(candidates)
        return cls(
            best=payload["best"], reason=payload.get("reason", ""), models=models,
            tracking=frame("tracking"), conditional=frame("conditional", "frequency"),
            histogram=frame("histogram", "frequency"),
            probability_alive_calibration=frame("probability_alive_calibration"),
            customers=pd.DataFrame(), calibration_end=payload.get("calibration_end", ""),
            holdout_end=payload.get("holdout_end", ""), time_unit=payload.get("time_unit", "week"),
            tracking_unit=payload.get("tracking_unit", payload.get("time_unit", "week")),
            n_customers=int(payload.get("n_customers", 0)),
            summaries_html=dict(payload.get("summaries_html", {})),
            reason_code=code, reason_values=values,
        )


def _frame_records(frame: pd.DataFrame, index_name: str | None = None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    f = frame.reset_index() if index_name else frame
    if index_name and f.columns[0] != index_name:
        f = f.rename(columns={f.columns[0]: index_name})
    return f.to_dict(orient="records")


# ----------------------------------------------------------------------------
# data: calibration summary from the data layer, repeat-purchase times for tracking
# ----------------------------------------------------------------------------


@dataclass
class BacktestData:
    """The inputs of a backtest, in days since ``origin`` (the first day of the data).

    ``customers`` is indexed by customer and holds ``frequency``, ``recency``,
    ``T`` (in ``time_unit``), ``monetary_value``, ``frequency_holdout``,
    ``spend_holdout``, ``duration_holdout`` (in ``time_unit``) and
    ``first_offset`` (days from ``origin`` to the first purchase).
    ``repeat_offsets`` are the days from ``origin`` of every repeat purchase
    of those customers up to the holdout end (one per customer and day).
    """

    customers: pd.DataFrame
    repeat_offsets: np.ndarray
    origin: pd.Timestamp
    calibration_days: float
    end_days: float
    time_unit: str
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp


def _normalise_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Accept the workspace's names (frequency, ...) and lifetimes' (frequency_cal, ...)."""
    rename = {f"{c}_cal": c for c in ("frequency", "recency", "T", "monetary_value")}
    out = summary.rename(columns={k: v for k, v in rename.items() if k in summary.columns})
    if "customer_id" in out.columns:
        out = out.set_index("customer_id")
    needed = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]
    missing = [c for c in needed if c not in out.columns]
    if missing:
        raise SchemaError(f"the calibration/holdout summary lacks {', '.join(missing)}")
    out.index = out.index.astype(str)
    return out


def backtest_data(summary: pd.DataFrame, days: pd.DataFrame, first_ts: pd.Timestamp, cal_end: pd.Timestamp,
                  hold_end: pd.Timestamp, time_unit: str) -> BacktestData:
    """The inputs of a backtest from the calibration/holdout summary and the purchase days.

    ``summary`` is the data layer's calibration/holdout summary (already in ``time_unit``;
    lifetimes' ``*_cal`` names are accepted), ``days`` one row per customer and calendar
    day with a purchase (``customer_id, day``): purchases collapse to one per customer
    and day, the data layer's rule.
    """
    summary = _normalise_summary(summary)
    if summary.empty:
        raise SchemaError("no customers were acquired by the calibration end", hint="choose a later calibration end")
    origin = first_ts.normalize()
    days = days[days["customer_id"].isin(summary.index)]
    offset = (pd.to_datetime(days["day"]) - origin).dt.days.to_numpy().astype(float)
    first_offset_each = pd.Series(offset).groupby(days["customer_id"].to_numpy()).transform("min").to_numpy()
    repeat_offsets = np.sort(offset[offset > first_offset_each])
    first_offset = pd.Series(offset).groupby(days["customer_id"].to_numpy()).min()

    c = pd.DataFrame(index=summary.index)
    for col in ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"):
        c[col] = summary[col].astype(float)
    c["monetary_value"] = summary["monetary_value"].astype(float).fillna(0.0) if "monetary_value" in summary else 0.0
    if "monetary_value_holdout" in summary:
        c["spend_holdout"] = c["frequency_holdout"] * summary["monetary_value_holdout"].astype(float).fillna(0.0)
    else:
        c["spend_holdout"] = np.nan
    c["first_offset"] = first_offset.reindex(c.index).to_numpy()
    if c["first_offset"].isna().any():
        raise SchemaError("the summary and the transactions disagree about who the customers are")
    cal_days = float((cal_end.normalize() - origin).days + 1)
    end_days = float((hold_end.normalize() - origin).days + 1)
    return BacktestData(c, repeat_offsets, origin, cal_days, end_days, time_unit, cal_end, hold_end)


# ----------------------------------------------------------------------------
# fitting and predictions
# ----------------------------------------------------------------------------


def _fit_quietly(fit) -> tuple[Any, list[str]]:
    """The fit and the words of every warning it gave (kept with the model's result, shown by the faces)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit()
    return model, sorted({str(w.message) for w in caught})


def _unconditional_tracking(model: Any, first_offset: np.ndarray, period_ends: np.ndarray, per_unit: float) -> np.ndarray:
    """Expected cumulative repeat purchases of the cohort at each period end: ``sum_i E[X(t - s_i)]``.

    Customers acquired on the same day share one evaluation (``np.unique``).
    """
    starts, counts = np.unique(first_offset, return_counts=True)
    ages = (period_ends[:, None] - starts[None, :]) / per_unit  # (periods, cohorts)
    positive = ages > 0
    values = np.zeros_like(ages)
    if np.any(positive):
        values[positive] = np.asarray(model.expected_purchases_new(ages[positive]), dtype=float)
    return values @ counts


def _histogram_expected(model: Any, T: np.ndarray, top: int = TOP_GROUP) -> np.ndarray:
    """``sum_i P(X(T_i) = x)`` for ``x = 0..top-1`` and the rest for ``top+``."""
    ages, counts = np.unique(T, return_counts=True)
    probs = np.zeros((top + 1, len(ages)))
    for n in range(top):
        probs[n] = np.asarray(model.purchase_probability(n=n, t=ages), dtype=float)
    probs[top] = np.clip(1.0 - probs[:top].sum(axis=0), 0.0, None)
    return probs @ counts


def _expected_spend(gg: Any, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """Gamma-Gamma expected spend per transaction (customers without repeat purchases get the population mean)."""
    return np.asarray(gg.expected_spend(frequency, np.where(frequency > 0, monetary, 0.0)), dtype=float)


def model_names(models: Iterable[str] | None) -> list[str]:
    if models is None:
        return list(PURCHASE_MODELS)
    names = [str(m).lower() for m in models]
    unknown = [m for m in names if m not in PURCHASE_MODELS and m != "gg"]
    if unknown:
        raise SchemaError(f"cannot backtest model(s) {', '.join(unknown)}",
                          hint=f"the backtest compares {', '.join(PURCHASE_MODELS)} (and gg for spend)")
    names = [m for m in names if m != "gg"]
    if not names:
        raise SchemaError("name at least one purchase model to backtest", hint=", ".join(PURCHASE_MODELS))
    return names


def run_backtest(data: BacktestData, models: Sequence[str] = PURCHASE_MODELS, tracking_unit: str | None = None) -> BacktestResult:
    """The backtest on prepared :class:`BacktestData` (no data access; see :func:`backtest`).

    Every model is fitted within :data:`cvm.models.limits.CANDIDATE_BUDGET`; one that exceeds it, or
    whose fit is refused, is left out with ``error`` (its reason) in ``models``."""
    tracking_unit = tracking_unit or data.time_unit
    per_unit = DAYS_PER_UNIT[data.time_unit]
    period_days = DAYS_PER_UNIT[tracking_unit]
    c = data.customers
    x = c["frequency"].to_numpy()
    t_x = c["recency"].to_numpy()
    T = c["T"].to_numpy()
    y_hold = c["frequency_holdout"].to_numpy()
    duration = c["duration_holdout"].to_numpy()
    first_offset = c["first_offset"].to_numpy()
    n = len(c)

    # tracking grid: period p ends (exclusive) p * period_days after the origin; the last period may be partial
    n_periods = int(math.ceil(data.end_days / period_days - 1e-9))
    ends = np.minimum(np.arange(1, n_periods + 1) * period_days, data.end_days)
    phase = np.where(ends <= data.calibration_days + 1e-9, "calibration", "holdout")
    actual_cum = np.searchsorted(data.repeat_offsets, ends, side="left").astype(float)
    end_dates = [data.origin + pd.Timedelta(days=float(e)) for e in ends]
    cal_cum_actual = float(np.searchsorted(data.repeat_offsets, data.calibration_days, side="left"))
    holdout_mask = phase == "holdout"

    tracking_rows = [_tracking_part("actual", ends, end_dates, phase, actual_cum)]
    conditional = metrics.conditional_expectations(x, y_hold, np.zeros(n), TOP_GROUP)[["n_customers", "actual"]]
    observed_hist = np.bincount(metrics.frequency_group(x, TOP_GROUP), minlength=TOP_GROUP + 1).astype(float)
    histogram = pd.DataFrame({"observed": observed_hist}, index=pd.Index(metrics.frequency_labels(TOP_GROUP), name="frequency"))
    calib_rows: list[pd.DataFrame] = []
    customers = c.copy()
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Any] = {}
    summaries: dict[str, str] = {}

    gg = None
    spend_known = bool(np.isfinite(c["spend_holdout"]).all()) and float(c["monetary_value"].sum()) > 0
    if spend_known:
        try:
            gg, gg_warnings = _fit_quietly(lambda: fit_model(c, "gg"))
            fitted["gg"] = gg
            summaries["gg"] = gg.summary().to_html()
            results["gg"] = {"log_likelihood": float(gg.log_likelihood_), "warnings": gg_warnings,
                             "params": {k: float(v) for k, v in gg.params_.items()}}
        except CvmError as exc:
            results["gg"] = {"error": str(exc)}
            gg = None
    spend_per_tx = _expected_spend(gg, x, c["monetary_value"].to_numpy()) if gg is not None else None
    spend_actual = c["spend_holdout"].to_numpy()

    for name in models:
        try:
            # within the candidates' budget; a fit at a known limit comes back as that limit (cvm.models.limits)
            model, fit_warnings = _fit_quietly(lambda: fit_model(c, name, **CANDIDATE_BUDGET))
        except CvmError as exc:
            results[name] = {"error": str(exc)}
            continue
        fitted[name] = model
        summary = model.summary()
        summaries[name] = summary.to_html()
        k = len(model.params_)

        expected_cum = _unconditional_tracking(model, first_offset, ends, per_unit)
        tracking_rows.append(_tracking_part(name, ends, end_dates, phase, expected_cum))
        conditional_pred = np.asarray(model.expected_purchases(duration, x, t_x, T), dtype=float)
        palive = np.clip(np.asarray(model.probability_alive(x, t_x, T), dtype=float), 0.0, 1.0)
        expected_hist = _histogram_expected(model, T, TOP_GROUP)
        chi = metrics.chi_square(observed_hist, expected_hist, n_params=k)
        by_x = metrics.conditional_expectations(x, y_hold, conditional_pred, TOP_GROUP)
        conditional[name] = by_x["predicted"]
        histogram[name] = expected_hist
        calib = metrics.calibration_table(palive, y_hold > 0, bins=10)
        calib_rows.append(calib.assign(model=name))
        customers[f"expected_{name}"] = conditional_pred
        customers[f"probability_alive_{name}"] = palive

        # holdout-only cumulative: counted from the calibration end
        cal_expected = float(_unconditional_tracking(model, first_offset, np.array([data.calibration_days]), per_unit)[0])
        hold_actual_curve = actual_cum[holdout_mask] - cal_cum_actual
        hold_pred_curve = expected_cum[holdout_mask] - cal_expected
        entry: dict[str, Any] = {
            "holdout_actual": float(y_hold.sum()),
            "holdout_predicted": float(conditional_pred.sum()),
            "holdout_error_pct": _pct(conditional_pred.sum(), y_hold.sum()),
            "tracking_actual_end": float(actual_cum[-1]),
            "tracking_predicted_end": float(expected_cum[-1]),
            "tracking_error": metrics.tracking_error(hold_actual_curve, hold_pred_curve) if hold_actual_curve.size and hold_actual_curve.max() > 0 else None,
            "tracking_error_full": metrics.tracking_error(actual_cum, expected_cum) if actual_cum.max() > 0 else None,
            "mae_purchases": metrics.mean_absolute_error(y_hold, conditional_pred),
            "rmse_purchases": metrics.root_mean_squared_error(y_hold, conditional_pred),
            **chi.to_dict(),
            "probability_alive_ece": metrics.expected_calibration_error(palive, y_hold > 0),
            "probability_alive_brier": metrics.brier_score(palive, y_hold > 0),
            "log_likelihood": float(model.log_likelihood_),
            "aic": float(summary.aic),
            "bic": float(summary.bic),
            "n_params": k,
            "params": {kk: float(v) for kk, v in model.params_.items()},
            "converged": bool(getattr(model, "converged_", True)),
            "warnings": fit_warnings,
            "model_used": type(model).__name__,
        }
        if spend_per_tx is not None:
            spend_pred = conditional_pred * spend_per_tx
            customers[f"spend_{name}"] = spend_pred
            entry.update({
                "holdout_spend_actual": float(spend_actual.sum()),
                "holdout_spend_predicted": float(spend_pred.sum()),
                "mae_spend": metrics.mean_absolute_error(spend_actual, spend_pred),
                "rmse_spend": metrics.root_mean_squared_error(spend_actual, spend_pred),
            })
            value_pred, value_actual = spend_pred, spend_actual
        else:
            value_pred, value_actual = conditional_pred, y_hold
        if value_actual.sum() > 0 and np.ptp(value_actual) > 0:
            entry["ranking_gini"] = metrics.ranking_gini(value_pred, value_actual)
            entry["top_decile_share"] = metrics.top_share(value_pred, value_actual, 0.1)
        results[name] = entry

    candidates = {m: r for m, r in results.items() if m != "gg" and "error" not in r}
    if not candidates:
        reasons = "; ".join(f"{m}: {r['error']}" for m, r in results.items() if "error" in r)
        raise ConvergenceError(f"no model could be fitted on the calibration period ({reasons})",
                               hint="check the calibration end leaves enough repeat purchases, or try a later date")
    best, reason_code, reason_values = _choose(candidates)
    tracking = pd.concat(tracking_rows, ignore_index=True)
    calibration_frame = pd.concat(calib_rows, ignore_index=True) if calib_rows else pd.DataFrame()
    if not calibration_frame.empty:
        calibration_frame = calibration_frame[["model", *[col for col in calibration_frame.columns if col != "model"]]]
    return BacktestResult(
        best=best, reason=_english(reason_code, reason_values), reason_code=reason_code, reason_values=reason_values,
        models=results, tracking=tracking, conditional=conditional, histogram=histogram,
        probability_alive_calibration=calibration_frame, customers=customers,
        calibration_end=data.calibration_end.date().isoformat(), holdout_end=data.holdout_end.date().isoformat(),
        time_unit=data.time_unit, tracking_unit=tracking_unit, n_customers=n, fitted=fitted, summaries_html=summaries,
    )


def _pct(predicted: float, actual: float) -> float | None:
    return float((predicted - actual) / actual) if actual else None


def _tracking_part(series: str, ends: np.ndarray, end_dates: list, phase: np.ndarray, cumulative: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "period": np.arange(1, len(ends) + 1),
        "end": end_dates,
        "phase": phase,
        "series": series,
        "incremental": np.diff(np.concatenate([[0.0], cumulative])),
        "cumulative": cumulative,
    })


def _choose(candidates: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """Lowest holdout tracking error; models within :data:`TIE_TOLERANCE` of it are tied, then lowest BIC.

    Returns the best model, the reason code and the figures the reason cites
    (see :mod:`cvm.value.explain`).
    """
    scored = {m: float(r["tracking_error"]) for m, r in candidates.items() if r.get("tracking_error") is not None}
    if not scored:
        best = min(candidates, key=lambda m: candidates[m]["bic"])
        return best, "lowest_bic_no_holdout", {"model": best, "bic": float(candidates[best]["bic"])}
    lowest = min(scored.values())
    tied = [m for m, e in scored.items() if e <= lowest + TIE_TOLERANCE]
    best = min(tied, key=lambda m: (candidates[m]["bic"], m))
    if len(tied) == 1:
        others = {m: scored[m] for m in sorted(scored, key=scored.get) if m != best}
        return best, "best_tracking_error", {"model": best, "tracking_error": scored[best], "others": others}
    return best, "tie_broken_by_bic", {
        "models": sorted(tied), "tolerance": TIE_TOLERANCE, "errors": {m: scored[m] for m in sorted(tied)},
        "model": best, "bic": float(candidates[best]["bic"]),
    }


def _english(reason_code: str, reason_values: Mapping[str, Any]) -> str:
    """The reason in English words (the ``reason`` field kept for scripts and the CLI)."""
    return explain(reason_code, reason_values, "en")
