"""Fit a model on the data it needs: :func:`fit_model` is the one fit service.

Which data a model reads follows from its kind in :mod:`cvm.models.registry`:

============  ===============================================  ==================================
kind          data                                             from a workspace
============  ===============================================  ==================================
purchase      frequency, recency, T (customers with T > 0)     ``Workspace.summary``
spend         frequency, monetary_value (repeat buyers, > 0)   ``Workspace.summary``
discrete      frequency, recency, n_periods                    ``cvm.data.summary.discrete_summary``
contractual   cohort survival counts                           ``cvm.data.summary.cohort_survival``
============  ===============================================  ==================================

:func:`fit_summary_file` (``cvm fit --summary``) and :func:`fit_workspace` (``cvm fit``, the web
app) fit through it and add what ``cvm fit`` shows; every fit on a workspace is stored in its
``models`` table, so earlier fits can be reloaded and compared.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cvm.errors import ConvergenceError, CvmError, SchemaError
from cvm.jsonsafe import json_safe
from cvm.models.base import LikelihoodModel, warn_if_few_customers
from cvm.models.limits import fit_for_prediction
from cvm.models.registry import short_name, spec


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
        return json_safe({
            "model": self.model,
            "params": dict(m.params_),
            "stderr": dict(m.stderr_),
            "log_likelihood": m.log_likelihood_,
            "n_customers": float(self.n_customers),
            "converged": bool(getattr(m, "converged_", True)),
            "time_unit": self.time_unit,
            "model_id": self.model_id,
            "warnings": self.warnings,
            "calibration_check": getattr(m, "calibration_check_", None),
            **self.meta,
        })



# ----------------------------------------------------------------------------- the fit service
def fit_model(summary: pd.DataFrame, name: str, covariates: pd.DataFrame | None = None, **settings: Any) -> LikelihoodModel:
    """Fit the model ``name`` (a registry name: ``bgnbd``, ``pnbd``, ``mbgnbd``, ``gg``, ``bgbb``, ``sbg``) for
    predictions: the one way every face, the backtest and the Spark driver fit a model.

    ``summary`` is the data the model's kind reads (:mod:`cvm.models.registry`): a per-customer summary
    (``frequency``, ``recency``, ``T``, ``monetary_value``; an optional ``weights`` column counts
    identical customers) for the purchase and spend models, the discrete summary (``frequency``,
    ``recency``, ``n_periods``) for the BG/BB, cohort survival counts (``cohort``, ``period``, ``alive``)
    for the sBG. ``settings`` go to the model (``penalizer``, ``max_seconds`` ...).

    Purchase models go through :func:`cvm.models.limits.fit_for_prediction`: customers first seen on
    the as-of day (T = 0) are left out (their likelihood is 1), a fit at a known edge of its
    parameter space comes back as its limit (``NBD`` or ``Poisson``: its ``limit_`` names it, with a
    warning), and data no purchase model can read or a fit whose predictions are no numbers are
    refused with a coded :class:`~cvm.errors.ConvergenceError`. Gamma-Gamma is fitted on the repeat
    customers with positive spend.

    ``covariates`` (a frame with one row per row of ``summary``, in its order) fits a purchase model
    with time-invariant covariates (``purchase_covariates=[...]``, ``dropout_covariates=[...]`` in
    ``settings`` name its columns; see :class:`~cvm.models.pnbd.ParetoNBD`): the model asked for is
    returned as fitted, its coefficients being the point (no limit is followed: the limits have no
    covariates), after the same refusal of data without a repeat buyer.
    """
    if covariates is not None:
        return _fit_with_covariates(summary, name, covariates, **settings)
    return _fit(summary, name, **settings)[1]


def _fit_with_covariates(summary: pd.DataFrame, name: str, covariates: pd.DataFrame, **settings: Any) -> LikelihoodModel:
    """A purchase model with covariates on the customers seen before the as-of day (``T > 0``)."""
    entry = spec(name)
    if entry.kind != "purchase":
        raise SchemaError(f"only the purchase models take covariates, not {entry.name}")
    if len(covariates) != len(summary):
        raise SchemaError(f"covariates have {len(covariates)} rows for {len(summary)} customers")
    seen = _seen_before_as_of(summary, entry)
    data = summary[seen]
    weights = data["weights"].to_numpy(float) if "weights" in data.columns else np.ones(len(data))
    if not np.any((data["frequency"].to_numpy(float) > 0) & (weights > 0)):
        raise ConvergenceError.coded("no_repeat_buyers", n=f"{weights.sum():,.0f}")
    fitted = entry.cls(**settings).fit(data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                                       data["T"].to_numpy(float), weights=weights,
                                       covariates=covariates.iloc[np.flatnonzero(seen)].reset_index(drop=True))
    warn_if_few_customers(fitted)
    return fitted


def _fit(summary: pd.DataFrame, name: str, **settings: Any) -> tuple[LikelihoodModel, LikelihoodModel]:
    """``(fitted, used)``: the model asked for and the one that predicts (the same, or the limit the fit
    ran to); what :func:`fit_model` returns is ``used``, what ``cvm fit`` shows is both."""
    entry = spec(name)
    weights = summary["weights"].to_numpy(float) if "weights" in summary.columns else None
    if entry.kind == "contractual":
        _require_columns(summary, ("cohort", "period", "alive"), "cohort survival counts (cohort, period, alive)")
        periods, alive, counts = cohort_lifetimes(summary)
        fitted = entry.cls(**settings).fit(periods, alive, weights=counts)
        warn_if_few_customers(fitted)
        return fitted, fitted
    if entry.kind == "discrete":
        periods = "periods" if "n_periods" not in summary.columns and "periods" in summary.columns else "n_periods"
        _require_columns(summary, tuple(periods if c == "n_periods" else c for c in entry.data_columns),
                         "a discrete summary (frequency, recency, n_periods)")
        fitted = entry.cls(**settings).fit(summary["frequency"], summary["recency"], summary[periods], weights=weights)
        warn_if_few_customers(fitted)
        return fitted, fitted
    if entry.kind == "spend":
        _require_columns(summary, entry.data_columns, "a summary with spend (frequency, monetary_value)")
        repeat = ((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).to_numpy()
        fitted = entry.cls(**settings).fit(summary["frequency"].to_numpy(float)[repeat],
                                           summary["monetary_value"].to_numpy(float)[repeat],
                                           weights=None if weights is None else weights[repeat])
        warn_if_few_customers(fitted)
        return fitted, fitted
    seen = _seen_before_as_of(summary, entry)
    data = summary[seen]
    fitted, used = fit_for_prediction(entry.cls, data["frequency"].to_numpy(float), data["recency"].to_numpy(float),
                                      data["T"].to_numpy(float), weights=None if weights is None else weights[seen],
                                      **settings)
    warn_if_few_customers(fitted)
    return fitted, used


def _seen_before_as_of(summary: pd.DataFrame, entry: Any) -> np.ndarray:
    """The rows a purchase model is fitted on: customers first seen before the as-of day (``T > 0``).

    Checks the summary has the model's columns and refuses data where every customer was first
    seen on the as-of day (``all_on_one_day``): their likelihood is 1 whatever the parameters.
    """
    _require_columns(summary, entry.data_columns,
                     "a summary has one row per customer with frequency, recency and T (lifetimes' names)")
    seen = (summary["T"] > 0).to_numpy()
    if not seen.any():
        raise SchemaError.coded("all_on_one_day", date=_as_of_text(summary))
    return seen


def _require_columns(summary: pd.DataFrame, columns: tuple[str, ...], hint: str) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise SchemaError(f"the summary has no column(s) {', '.join(missing)}; it has {', '.join(map(str, summary.columns))}",
                          hint=hint)


#: fewest customers with a history (first purchase before the as-of day) a valuation is made from:
#: below it the purchase models' four parameters run to the edges of their range and the CLVs
#: they give are artefacts of the optimiser, not estimates (see :func:`warn_if_few_customers`)
MIN_CUSTOMERS_TO_VALUE = 10


def check_enough_to_value(summary: pd.DataFrame) -> None:
    """Refuse a valuation from fewer than :data:`MIN_CUSTOMERS_TO_VALUE` customers with a history.

    Counts the customers with ``T > 0`` (a ``weights`` column counts identical rows). A
    :class:`~cvm.errors.ConvergenceError` with code ``too_few_to_value`` says how many there are.
    ``cvm fit`` still fits such data (with a warning) for a person to look at; a CLV per customer
    from it is refused, as a wrong number is worse than none.
    """
    seen = (summary["T"] > 0).to_numpy()
    n = float(summary["weights"].to_numpy(float)[seen].sum()) if "weights" in summary.columns else float(seen.sum())
    if 0 < n < MIN_CUSTOMERS_TO_VALUE:
        raise ConvergenceError.coded("too_few_to_value", n=f"{n:,.0f}", date=_as_of_text(summary),
                                     minimum=MIN_CUSTOMERS_TO_VALUE)


def fit_spend_model(summary: pd.DataFrame) -> tuple[Any, str | None]:
    """Gamma-Gamma for a valuation, on repeat customers with positive spend (a ``weights`` column counts
    identical rows); None and a note if impossible."""
    # counted, not taken out of the frame (a copy of every column of half the customers): the fit selects them
    repeat = ((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).to_numpy()
    n_repeat = (int(summary["weights"].to_numpy(float)[repeat].sum()) if "weights" in summary.columns
                else int(np.count_nonzero(repeat)))
    if n_repeat < 10:
        return None, f"only {n_repeat} repeat customers with spend: Gamma-Gamma not fitted, observed mean spend used"
    try:
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


# ----------------------------------------------------------------------------- what `cvm fit` shows
def _fit_result(summary: pd.DataFrame, key: str, penalizer: float, time_unit: str | None,
                meta: dict[str, Any]) -> tuple[FitResult, LikelihoodModel]:
    """Fit through :func:`_fit` with the warnings recorded; the limit a purchase model ran to in ``meta``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted, used = _fit(summary, key, penalizer=penalizer)
    if used is not fitted:
        meta = {**meta, "limit": {"model": short_name(used), "params": {k: float(v) for k, v in used.params_.items()}}}
    result = FitResult(model=key, model_object=fitted, time_unit=time_unit, n_customers=fitted.n_customers_,
                       meta=meta, warnings=[str(w.message) for w in caught])
    return result, fitted


def fit_summary_file(path: Path | str, model: str = "bgnbd", penalizer: float = 0.0, time_unit: str | None = None) -> FitResult:
    """Fit a lifetimes-style summary CSV (``frequency,recency,T[,monetary_value]``) without a workspace."""
    key = spec(model).name
    path = Path(path)
    if not path.exists():
        raise SchemaError.coded("file_not_found", path=str(path))
    try:
        frame = pd.read_csv(path, sep=None, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"cannot read {path} as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return _fit_result(frame, key, penalizer, time_unit, {})[0]


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
    entry = spec(model)
    unit = time_unit or ws.settings.time_unit
    end = calibration_end or as_of
    if entry.kind == "discrete":
        from cvm.data.summary import discrete_summary

        frame = discrete_summary(ws, as_of=end, time_unit=unit)
    elif entry.kind == "contractual":
        from cvm.data.summary import cohort_survival

        frame = cohort_survival(ws, as_of=end, time_unit=unit)
    else:
        frame = ws.summary(as_of=end, time_unit=unit)
    if end:
        frame.attrs["as_of"] = end
    result, fitted = _fit_result(frame, entry.name, penalizer, unit, {"as_of": end})
    if store and hasattr(ws, "save_model"):
        result.model_id = ws.save_model(fitted, {"model": entry.name, "time_unit": unit, "as_of": end,
                                                 "calibration_end": calibration_end})
    return result


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
