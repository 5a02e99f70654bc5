"""Fit a model on the data it needs: a workspace or a lifetimes-style summary file.

This is the one place that knows which summary each model reads:

========  =========================================  =========================
model     data                                       source
========  =========================================  =========================
bgnbd     frequency, recency, T                      ``Workspace.summary``
mbgnbd    frequency, recency, T                      ``Workspace.summary``
pnbd      frequency, recency, T                      ``Workspace.summary``
gg        frequency, monetary_value (repeat buyers)  ``Workspace.summary``
bgbb      frequency, recency, n_periods              ``discrete_summary``
sbg       cohort survival counts                     ``cohort_survival``
========  =========================================  =========================

Every fit on a workspace is stored in its ``models`` table, so earlier fits can
be reloaded and compared.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import ConvergenceError, CvmError, SchemaError
from cvm.models import MODEL_NAMES, model_class
from cvm.models.base import LikelihoodModel, warn_if_few_customers
from cvm.models.registry import PURCHASE_MODELS, short_name, spec


@dataclass
class FitResult:
    """A fitted model with what the CLI and the web app show of it."""

    model: str
    model_object: LikelihoodModel
    time_unit: str | None
    n_customers: float
    model_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        m = self.model_object
        stderr = {k: (float(v) if np.isfinite(v) else None) for k, v in m.stderr_.items()}
        return {
            "model": self.model,
            "params": {k: float(v) for k, v in m.params_.items()},
            "stderr": stderr,
            "log_likelihood": float(m.log_likelihood_),
            "n_customers": float(self.n_customers),
            "converged": bool(getattr(m, "converged_", True)),
            "time_unit": self.time_unit,
            "model_id": self.model_id,
            "warnings": self.warnings,
            "calibration_check": getattr(m, "calibration_check_", None),
            **self.meta,
        }



# ----------------------------------------------------------------------------- the fit service
def fit_model(summary: pd.DataFrame, name: str, **settings: Any) -> LikelihoodModel:
    """Fit the model ``name`` (registry name: ``bgnbd``, ``pnbd``, ``mbgnbd``, ``gg``) for predictions.

    The one way every face, the backtest and the Spark driver fit a model on a per-customer summary
    (columns ``frequency``, ``recency``, ``T``, ``monetary_value``).

    Purchase models go through :func:`cvm.models.limits.fit_for_prediction`: customers first seen on
    the as-of day (T = 0) are left out (their likelihood is 1), a fit at a known edge of its
    parameter space comes back as its limit (``NBD`` or ``Poisson``: its ``limit_`` names it, with a
    warning), and data no purchase model can read or a fit whose predictions are no numbers are
    refused with a coded :class:`~cvm.errors.ConvergenceError`. Gamma-Gamma is fitted on the repeat
    customers with positive spend. ``settings`` go to the model (e.g. ``max_seconds``).
    """
    entry = spec(name)
    if entry.kind == "spend":
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        return entry.cls(**settings).fit(repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float))
    if entry.kind != "purchase":
        raise SchemaError(f"'{name}' is not a purchase model for valuation",
                          hint=f"use auto, {', '.join(PURCHASE_MODELS)}")
    data = summary[summary["T"] > 0]
    if data.empty:
        raise SchemaError.coded("all_on_one_day", date=_as_of_text(summary))
    from cvm.models.limits import fit_for_prediction

    fitted, used = fit_for_prediction(entry.cls, data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                                      data["T"].to_numpy(float), **settings)
    warn_if_few_customers(fitted)
    return used


def fit_spend_model(summary: pd.DataFrame) -> tuple[Any, str | None]:
    """Gamma-Gamma for a valuation, on repeat customers with positive spend; None and a note if impossible."""
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < 10:
        return None, f"only {len(repeat)} repeat customers with spend: Gamma-Gamma not fitted, observed mean spend used"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fit_model(summary, "gg"), None
    except CvmError as exc:
        return None, f"Gamma-Gamma fit failed ({str(exc).splitlines()[0]}): observed mean spend used"


def _as_of_text(summary: pd.DataFrame) -> str:
    """The as-of day of a summary, as text (its ``attrs``, else the last first purchase), for messages."""
    stamp = summary.attrs.get("as_of")
    if stamp is None and "first_purchase" in summary.columns and len(summary):
        stamp = pd.to_datetime(summary["first_purchase"]).max()
    return str(pd.Timestamp(stamp).date()) if stamp is not None else "the as-of day"


def model_name(name: str, purchase: Any) -> str:
    """The short name of the model that values the customers: ``name``, or its limit when the fit became one."""
    own = short_name(purchase)
    return own if spec(own).kind == "limit" else name


def _short_name(model: str) -> str:
    key = model.lower()
    if key not in MODEL_NAMES:
        raise SchemaError(f"unknown model '{model}'", hint=f"choose one of {', '.join(MODEL_NAMES)}")
    return key


def fit_frame(model: str, frame: pd.DataFrame, penalizer: float = 0.0) -> LikelihoodModel:
    """Fit a model on a per-customer summary frame with lifetimes' column names."""
    key = _short_name(model)
    cls = model_class(key)
    if key == "gg":
        if "monetary_value" not in frame.columns:
            raise SchemaError("Gamma-Gamma needs a monetary_value column", hint="use a summary with spend, or another model")
        repeat = frame[frame["frequency"] > 0]
        return cls(penalizer=penalizer).fit(repeat["frequency"], repeat["monetary_value"])
    if key == "bgbb":
        periods = "n_periods" if "n_periods" in frame.columns else "periods"
        weights = frame["weights"] if "weights" in frame.columns else None
        return cls(penalizer=penalizer).fit(frame["frequency"], frame["recency"], frame[periods], weights=weights)
    if key == "sbg":
        raise SchemaError("the shifted-beta-geometric model is fitted on cohort survival, not a purchase summary",
                          hint="fit it from a workspace (cvm fit --model sbg) or with ShiftedBetaGeometric().fit(survivors=...)")
    missing = [c for c in ("frequency", "recency", "T") if c not in frame.columns]
    if missing:
        raise SchemaError(f"the summary has no column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}",
                          hint="a summary has one row per customer with frequency, recency and T (lifetimes' names)")
    weights = frame["weights"] if "weights" in frame.columns else None
    repeat = frame["frequency"].to_numpy(float) > 0
    if weights is not None:
        repeat &= weights.to_numpy(float) > 0
    if len(frame) and not repeat.any():
        raise ConvergenceError.coded("no_repeat_buyers", n=f"{len(frame):,}")
    return cls(penalizer=penalizer).fit(frame["frequency"], frame["recency"], frame["T"], weights=weights)


def limit_meta(fitted: LikelihoodModel, frame: pd.DataFrame) -> dict[str, Any]:
    """``{"limit": {"model", "params"}}`` when a purchase model's fit ran to a known limit (its ``limit_``,
    :mod:`cvm.models.limits`): that limit fitted on the same data, and its own limit in turn; else ``{}``."""
    from cvm.models import LIMIT_NAMES
    from cvm.models.limits import LIMITS

    used = fitted
    while getattr(used, "limit_", None) in LIMITS:
        weights = frame["weights"] if "weights" in frame.columns else None
        used = LIMITS[used.limit_](penalizer=fitted.penalizer).fit(
            frame["frequency"], frame["recency"], frame["T"], weights=weights)
    if used is fitted:
        return {}
    short = next(k for k, v in LIMIT_NAMES.items() if v == type(used).__name__)
    return {"limit": {"model": short, "params": {k: float(v) for k, v in used.params_.items()}}}


def fit_summary_file(path: Path | str, model: str = "bgnbd", penalizer: float = 0.0, time_unit: str | None = None) -> FitResult:
    """Fit a lifetimes-style summary CSV (``frequency,recency,T[,monetary_value]``) without a workspace."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"file not found: {path}")
    try:
        frame = pd.read_csv(path, sep=None, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"cannot read {path} as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = fit_frame(model, frame, penalizer=penalizer)
        warn_if_few_customers(fitted)
        meta = limit_meta(fitted, frame) if _short_name(model) in PURCHASE_MODELS else {}
    return FitResult(
        model=_short_name(model), model_object=fitted, time_unit=time_unit, n_customers=fitted.n_customers_,
        meta=meta, warnings=[str(w.message) for w in caught],
    )


def fit_workspace(
    ws,
    model: str = "bgnbd",
    as_of: str | None = None,
    calibration_end: str | None = None,
    time_unit: str | None = None,
    penalizer: float = 0.0,
    store: bool = True,
) -> FitResult:
    """Summarise the workspace's transactions as of a date and fit ``model`` on them.

    ``calibration_end`` fits on the transactions up to that date only (for a
    later comparison with what happened after); otherwise ``as_of`` (default:
    the last transaction) ends the observation.
    """
    key = _short_name(model)
    unit = time_unit or ws.settings.time_unit
    end = calibration_end or as_of
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if key == "bgbb":
            from cvm.data.summary import discrete_summary

            frame = discrete_summary(ws, as_of=end, time_unit=unit)
            fitted = fit_frame(key, frame, penalizer)
        elif key == "sbg":
            from cvm.data.summary import cohort_survival

            survival = cohort_survival(ws, as_of=end, time_unit=unit)
            periods, alive, weights = cohort_lifetimes(survival)
            fitted = model_class(key)(penalizer=penalizer).fit(periods, alive, weights=weights)
        else:
            frame = ws.summary(as_of=end, time_unit=unit)
            if key != "gg":
                # customers first seen on the as-of day (T = 0) add nothing to the likelihood (it equals 1)
                frame = frame[frame["T"] > 0]
                if frame.empty:
                    raise SchemaError.coded("all_on_one_day", date=end or "the last day")
            fitted = fit_frame(key, frame, penalizer)
        warn_if_few_customers(fitted)
        meta = {"as_of": end, **(limit_meta(fitted, frame) if key in PURCHASE_MODELS else {})}
    model_id = None
    if store and hasattr(ws, "save_model"):
        model_id = ws.save_model(fitted, {"model": key, "time_unit": unit, "as_of": end, "calibration_end": calibration_end})
    return FitResult(
        model=key, model_object=fitted, time_unit=unit, n_customers=fitted.n_customers_, model_id=model_id, meta=meta,
        warnings=[str(w.message) for w in caught],
    )


def cohort_lifetimes(survival: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn per-cohort survival counts into individual lifetimes for the sBG likelihood.

    Cohorts are observed for different numbers of periods, so their counts cannot simply be
    added per period (later periods would be seen by fewer cohorts and survival would look
    lower than it is). Instead, within each cohort, ``alive[t-1] - alive[t]`` customers churned
    with a lifetime of ``t`` periods, and the ``alive`` of the last observed period are
    censored there (Fader & Hardie 2007, eq. 5 for several cohorts). Returns
    ``(periods, alive, weights)``.
    """
    if survival.empty:
        raise SchemaError("no cohorts to fit on", hint="ingest transactions first")
    periods, alive, weights = [], [], []
    for _, cohort in survival.sort_values(["cohort", "period"]).groupby("cohort", sort=True):
        counts = cohort["alive"].to_numpy(dtype=float)
        if len(counts) < 2:
            continue  # acquired in the current period: nothing observed yet
        churned = counts[:-1] - counts[1:]
        for t, n in enumerate(churned, start=1):
            if n > 0:
                periods.append(t), alive.append(0), weights.append(n)
        if counts[-1] > 0:
            periods.append(len(counts) - 1), alive.append(1), weights.append(counts[-1])
    if not periods:
        raise SchemaError("no cohort has been observed for a whole period yet",
                          hint="use a shorter --time-unit or a later --as-of")
    return np.array(periods, float), np.array(alive, float), np.array(weights, float)
