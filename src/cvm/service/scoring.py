"""Valuing the customers of a workspace: options, the as-of date, the model choice, the run.

Each function reads through :class:`cvm.data.Workspace` methods, computes with the pure
functions of :mod:`cvm.value` and stores through the workspace's score store. The
valuation itself (formulas, interval, residual value) is :mod:`cvm.value.clv`.
"""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cvm.data.warehouse import Workspace
from cvm.errors import ConvergenceError, CvmError, SchemaError, WorkspaceError
from cvm.fitting import check_enough_to_value, fit_model, fit_spend_model, model_name
from cvm.models.base import CvmWarning
from cvm.models.limits import CANDIDATE_BUDGET
from cvm.models.registry import PURCHASE_MODELS
from cvm.service.backtests import choose_model, latest_backtest
from cvm.settings import DAYS_PER_UNIT, discount_rate_per_unit
from cvm.value.clv import (SPEND_EXCLUDED, distinct_histories, margin_rates, name_customers, summary_columns,
                           valuation_columns)
from cvm.value.explain import explain
from cvm.value.investment import clean_costs, planned_costs
from cvm.value.segments import STAGE_RULE_ORDER, rank_and_percentile, stage_codes, tier_codes
from cvm.data.export import export, stage_export
from cvm.data.scores import load_scores, new_run_id, save_scores

#: how far past the last transaction an as-of date may lie: further on the data stop
#: being evidence (a year of silence from every customer means newer data are missing)
MAX_DAYS_AFTER_DATA = 366
#: the models ``--model auto`` compares by BIC when no backtest can choose
BIC_CANDIDATES = ("bgnbd", "pnbd")
#: what a prospect (a known customer without a purchase) holds in the value columns
PROSPECT_ZEROS = ("frequency", "recency", "T", "monetary_value", "n_transactions", "historic_value",
                  "expected_purchases", "expected_spend", "clv", "clv_low", "clv_high", "residual_value")


# ----------------------------------------------------------------------------- options and dates
def resolve_options(ws: Workspace, horizon=None, discount_rate=None, margin=None, time_unit=None, level=None) -> dict[str, Any]:
    """Fill unset options from the workspace settings and convert the yearly discount rate per time unit."""
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
        "discount_per_unit": discount_rate_per_unit(yearly, tu),
        "margin": m,
        "level": lv,
        "days_per_unit": DAYS_PER_UNIT[tu],
    }


def resolve_as_of(ws: Workspace, as_of: Any) -> pd.Timestamp:
    """The as-of date: the given date, or the day of the last transaction.

    Raises
    ------
    SchemaError
        ``as_of`` is not a date, or lies more than :data:`MAX_DAYS_AFTER_DATA` days after
        the last transaction.
    """
    _, last, _ = ws.transaction_span()
    if as_of is not None:
        try:
            stamp = pd.Timestamp(as_of)
        except (ValueError, TypeError):
            raise SchemaError(f"as-of date '{as_of}' is not a date", hint="use YYYY-MM-DD") from None
        if stamp is pd.NaT:
            raise SchemaError(f"as-of date '{as_of}' is not a date", hint="use YYYY-MM-DD")
        if last is not None and stamp > last.normalize() + pd.Timedelta(days=MAX_DAYS_AFTER_DATA):
            raise SchemaError(
                f"as-of date {stamp.date()} is more than a year after the last transaction ({last.date()}): "
                "every customer would look long gone",
                hint="value customers as of a date inside the data (leave --as-of out to use the last "
                     "transaction day), or ingest the newer transactions first")
        return stamp
    if last is None:
        raise WorkspaceError.coded("no_transactions")
    return last.normalize()


# ----------------------------------------------------------------------------- model choice
def choose_purchase_model(ws: Workspace | None, summary: pd.DataFrame, as_of: Any,
                          time_unit: str) -> tuple[str, Any, str, dict[str, Any]]:
    """``model="auto"``: the model of a backtest (:func:`cvm.service.choose_model`), else the best BIC.

    Returns ``(name, fitted model, reason code, reason values)``; the reason is
    rendered by :func:`cvm.value.explain.explain`. A choice by backtest carries
    the backtest's own reason (``best_tracking_error``, ``tie_broken_by_bic``,
    ...) when the stored backtest chose the same model, else
    ``chosen_by_backtest``; without a backtest the reason is ``bic_fallback``
    with the BIC of each of :data:`BIC_CANDIDATES` and, in ``detail``, why the
    backtest was unavailable.

    Every candidate fit has the budget :data:`cvm.models.limits.CANDIDATE_BUDGET` (time and
    iterations); a candidate that exceeds it or is refused is left out, and ``left_out`` in the
    reason values maps it to the reason (the backtest's left-out models included).
    """
    why = ""
    left_out: dict[str, str] = {}
    chosen = None
    if ws is not None:  # without a workspace (a summary alone) no backtest can choose
        try:
            chosen = choose_model(ws, as_of=as_of, time_unit=time_unit)
        except CvmError as exc:
            why = str(exc).splitlines()[0]
    if chosen is not None:
        stored = _stored_backtest(ws)
        if stored is not None:
            left_out.update({m: str(r["error"]).splitlines()[0] for m, r in stored.models.items()
                             if m in PURCHASE_MODELS and "error" in r})
        name = chosen.lower()
        if name in PURCHASE_MODELS:
            if stored is not None and stored.best == name and stored.reason_code:
                code, values = stored.reason_code, dict(stored.reason_values)
            else:
                code, values = "chosen_by_backtest", {"model": name}
            try:
                fitted = fit_model(summary, name, **CANDIDATE_BUDGET)
            except ConvergenceError as exc:
                left_out[name] = str(exc).splitlines()[0]
            else:
                return name, fitted, code, {**values, **({"left_out": left_out} if left_out else {})}
        else:
            why = f"choose_model proposed '{chosen}', which is not a purchase model"
    fits: dict[str, Any] = {}
    refusals: list[CvmError] = []
    for name in BIC_CANDIDATES:
        if name in left_out:
            continue
        try:
            fits[name] = fit_model(summary, name, **CANDIDATE_BUDGET)
        except CvmError as exc:
            left_out[name] = str(exc).splitlines()[0]
            refusals.append(exc)
    if not fits:
        if refusals and refusals[0].code and all(e.code == refusals[0].code for e in refusals):
            raise refusals[0]  # the same reason for every model (e.g. nobody bought twice): say it once, in its words
        raise ConvergenceError("neither BG/NBD nor Pareto/NBD could be fitted: " + "; ".join(f"{k}: {v}" for k, v in left_out.items()))
    bic = {k: float(m.summary().bic) for k, m in fits.items()}
    best = min(bic, key=bic.get)
    values = {"model": best, "bic_by_model": bic, "detail": why or None}
    return best, fits[best], "bic_fallback", {**values, **({"left_out": left_out} if left_out else {})}


def _stored_backtest(ws: Workspace):
    """The stored backtest on the current data, or None (also when it cannot be read)."""
    try:
        return latest_backtest(ws, current_only=True)
    except CvmError:
        return None


# ----------------------------------------------------------------------------- one valuation
@dataclass
class _Inputs:
    """What a valuation of a workspace starts from: options, date, summary, fitted models, margins."""

    opts: dict[str, Any]
    stamp: pd.Timestamp
    summary: pd.DataFrame
    columns: dict[str, Any]
    name: str
    purchase: Any
    reason_code: str
    reason_values: dict[str, Any]
    spend: Any
    spend_note: str | None
    margin_rate: np.ndarray
    historic_value: np.ndarray  # NaN where the transactions gave no margin
    #: the distinct (frequency, recency, T) rows and each customer's row in them (fit and valuation share them)
    distinct: tuple[dict[str, np.ndarray], np.ndarray] | None = None


def _inputs(ws: Workspace, as_of, model, horizon, discount_rate, margin, time_unit, level) -> _Inputs:
    opts = resolve_options(ws, horizon, discount_rate, margin, time_unit, level)
    stamp = resolve_as_of(ws, as_of)
    # the customers' revenue and margin come from the summary's own scan of the transactions
    summary, found = ws.summary_with_margins(opts["margin"], as_of=stamp.date().isoformat(), time_unit=opts["time_unit"])
    if summary is None or len(summary) == 0:
        first, _, _ = ws.transaction_span()
        raise WorkspaceError.coded("no_purchase_by", date=str(stamp.date()), first=str(pd.Timestamp(first).date()))
    if summary.index.inferred_type != "string":
        summary = summary.set_axis(summary.index.astype(str), axis=0)
    summary.index.name = "customer_id"
    columns = summary_columns(summary)
    # the fits read four numeric columns: a frame of just those (no per-row ids to copy when they filter)
    histories = pd.DataFrame({c: columns[c] for c in ("frequency", "recency", "T", "monetary_value")}, copy=False)
    histories.attrs.update(summary.attrs)

    check_enough_to_value(histories)
    # the purchase model reads each distinct history once, weighted by its customers (what its fit
    # compresses the customers to anyway: the same fit); the valuation reads the same rows
    rows, counts, inverse = distinct_histories(columns["frequency"], columns["recency"], columns["T"])
    purchases = pd.DataFrame({**rows, "weights": counts}, copy=False)
    purchases.attrs.update(summary.attrs)
    name = model.lower()
    if name == "auto":
        name, purchase, reason_code, reason_values = choose_purchase_model(ws, purchases, stamp, opts["time_unit"])
    else:
        purchase, reason_code, reason_values = fit_model(purchases, name), "chosen_by_user", {"model": name}
    del purchases, counts
    spend, spend_note = fit_spend_model(histories)

    ids = pa.array(columns["customer_id"]).cast(pa.large_string())
    rate, historic = margin_rates(found["revenue"], found["historic_value"], opts["margin"]), found["historic_value"]
    found_ids = found["customer_id"]
    if isinstance(found_ids, pa.ChunkedArray):  # a large workspace answers in several chunks
        found_ids = found_ids.combine_chunks()
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if not found_ids.equals(ids):
        # (both come ordered by id; this is for the rare mismatch)
        where = pd.Index(found["customer_id"].to_pylist()).get_indexer(ids.to_pylist())
        rate = np.where(where >= 0, rate[where], np.nan)
        historic = np.where(where >= 0, historic[where], np.nan)
    return _Inputs(opts, stamp, summary, columns, model_name(name, purchase), purchase, reason_code, reason_values,
                   spend, spend_note, np.where(np.isnan(rate), opts["margin"], rate), historic, (rows, inverse))


def score_customers(
    ws: Workspace,
    as_of: Any = None,
    model: str = "auto",
    horizon: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
    level: float | None = None,
    store: bool = True,
    out_file: str | Path | None = None,
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
        ``auto`` (:func:`choose_purchase_model`: the backtest's choice, else the lowest
        BIC of BG/NBD and Pareto/NBD), ``bgnbd``, ``pnbd`` or ``mbgnbd``.
    horizon, time_unit, discount_rate, margin, level
        Default from ``ws.settings``; ``discount_rate`` is **yearly** and converted
        per time unit; ``margin`` replaces the settings margin for transactions
        without a ``margin`` column value.
    store
        Append the run to ``scores`` and ``score_runs``.
    out_file
        Also write the run to this file (:func:`cvm.data.export.export`: ``.csv``, ``.parquet``
        or ``.xlsx``). It is written in a second thread while the run is stored (DuckDB and
        the Parquet writer work outside Python's lock, so the two use both cores) and put in
        place only once the run is stored: a run that could not be stored leaves no file. A
        file that cannot be written after the run was stored raises its error with a hint
        naming the stored run.

    Returns
    -------
    DataFrame, one row per customer (customers in ``customers`` without purchases
    appear as prospects with zero value), columns of
    :data:`cvm.data.scores.SCORE_COLUMNS`. ``attrs`` carries ``run_id``, ``as_of``,
    ``model``, ``model_reason`` (in English), ``model_reason_code`` and
    ``model_reason_values`` (render them with :func:`cvm.value.explain.explain`)
    and ``notes``.
    """
    inputs = _inputs(ws, as_of, model, horizon, discount_rate, margin, time_unit, level)
    opts, stamp, columns = inputs.opts, inputs.stamp, inputs.columns
    reason = explain(inputs.reason_code, inputs.reason_values, "en")
    left_out = [str(CvmWarning.coded("model_left_out", model=m, reason=why)) for m, why in
                (inputs.reason_values.get("left_out") or {}).items()]
    values, _, valuation_notes, spend_excluded = valuation_columns(
        columns, inputs.purchase, inputs.spend, horizon=opts["horizon"], discount_rate=opts["discount_per_unit"],
        margin=inputs.margin_rate, level=opts["level"], distinct=inputs.distinct,
    )
    out: dict[str, Any] = {**columns, **values}
    fallback = (np.asarray(columns["total_amount"], dtype=float) * opts["margin"] if "total_amount" in columns
                else np.zeros(len(values["clv"])))
    out["historic_value"] = np.where(np.isnan(inputs.historic_value), fallback, inputs.historic_value)

    # customers known in `customers` but without a purchase yet: prospects with zero value
    known = ws.customer_ids()
    if known:
        known = pa.array(known, type=pa.large_string())
        bought = pa.array(out["customer_id"]).cast(pa.large_string())
        prospects = sorted(set(known.filter(pc.invert(pc.is_in(known, value_set=bought))).to_pylist()))
        if prospects:
            out = _with_prospects(out, prospects, opts["margin"])
    ids = out["customer_id"]
    n_tx = out.get("n_transactions")
    purchased = (np.nan_to_num(np.asarray(n_tx, dtype=float)) > 0) if n_tx is not None else ~np.isnan(out["probability_alive"])
    rank, percentile = rank_and_percentile(out["clv"], ids)
    out["rank"], out["percentile"] = rank, percentile
    out["value_tier"] = _Words(*tier_codes(percentile, ws.settings.tier_cutoffs))
    if "first_purchase" in out:
        since_first = (stamp - pd.DatetimeIndex(out["first_purchase"])).total_seconds().to_numpy() / 86400.0
    else:
        since_first = np.asarray(out["T"], dtype=float) * opts["days_per_unit"]
    out["lifecycle_stage"] = _Words(stage_codes(
        out["frequency"], np.nan_to_num(out["probability_alive"], nan=0.0), np.nan_to_num(since_first, nan=np.inf),
        ws.settings.stage_rules, purchased=purchased,
    ), STAGE_RULE_ORDER)
    costs = planned_costs(clean_costs(ws.costs()), stamp, pd.Index(ids, copy=False), ws.settings.retention_cost_per_customer)
    out["planned_cost"] = costs.to_numpy()
    out["max_investment"] = np.clip(out["clv"] - out["planned_cost"], 0.0, None)

    notes = left_out + list(valuation_notes) + ([inputs.spend_note] if inputs.spend_note else [])
    # customers the valuation could not treat like the others are named, as warnings too (the CLI shows them)
    named = [name_customers(spend_excluded, SPEND_EXCLUDED)] if spend_excluded else []
    returns_only = list(inputs.summary.attrs.get("returns_only_customers") or [])
    if returns_only:
        named.append(name_customers(returns_only, f"have only returns up to {stamp.date()}: not buyers, so not valued"))
        notes.append(named[-1])
    for message in named:
        warnings.warn(message, stacklevel=2)
    # the rows in rank order: ``rank`` is a permutation of 1..n, so its inverse is the stable argsort
    order = np.empty(len(rank), dtype=np.int64)
    order[np.asarray(rank, dtype=np.int64) - 1] = np.arange(len(rank), dtype=np.int64)
    # each column is dropped (with the summary it came from) as soon as its ordered copy exists:
    # the run is held once, not twice (10 M customers: about 2 GB less at the peak)
    inputs.summary = inputs.columns = inputs.margin_rate = inputs.historic_value = inputs.distinct = None
    del columns, values, rank, percentile, fallback, ids, n_tx, purchased, since_first, costs
    # two columns at a time, one per core (NumPy and Arrow take rows outside Python's lock); each pair
    # is let go before the next, so at most two columns are held twice
    keys = list(out)
    ordered = {key: None for key in keys}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cvm-order") as pool:
        for start in range(0, len(keys), 2):
            pair = keys[start:start + 2]
            for key, taken in zip(pair, pool.map(_in_order, [out.pop(key) for key in pair], [order] * len(pair))):
                ordered[key] = taken
    frame = pd.DataFrame(ordered, copy=False)
    del ordered, order
    run_id = new_run_id()
    frame.attrs.update(
        run_id=run_id if store else None, as_of=stamp.date().isoformat(), model=inputs.name, model_reason=reason,
        model_reason_code=inputs.reason_code, model_reason_values=inputs.reason_values,
        notes=notes, time_unit=opts["time_unit"], horizon=opts["horizon"],
        spend_excluded=list(spend_excluded), returns_only_customers=returns_only,
    )
    if not store:
        if out_file is not None:
            export(frame, out_file)
        return frame
    run = {
        "run_id": run_id, "as_of": stamp, "created": pd.Timestamp.now(), "model": inputs.name,
        "model_reason": reason, "model_reason_code": inputs.reason_code,
        "model_reason_values": json.dumps(inputs.reason_values, default=str),
        "horizon": opts["horizon"], "time_unit": opts["time_unit"], "discount_rate": opts["discount_rate"],
        "margin": opts["margin"], "level": opts["level"], "n_customers": len(frame),
        "total_clv": float(frame["clv"].sum()),
    }
    if out_file is None:
        save_scores(ws, frame, run)
        return frame
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvm-out") as pool:
        staged = pool.submit(stage_export, frame, out_file)
        try:
            save_scores(ws, frame, run)
        except BaseException:
            if staged.exception() is None:  # waits for the file; a run not stored leaves none behind
                staged.result().discard()
            raise
        try:
            staged.result().publish()
        except CvmError as exc:
            again = f"the valuation itself is stored (run {run_id}): write it again with `cvm customers --out FILE`"
            exc.hint = f"{exc.hint}; {again}" if exc.hint else again
            raise
    return frame


@dataclass
class _Words:
    """A column of a few words (tier, stage): a code per customer into ``names``."""

    codes: np.ndarray
    names: list[str]


def _in_order(values: Any, order: np.ndarray) -> Any:
    """``values`` taken in ``order``; text comes back as Arrow-backed pandas text.

    Text is reordered by Arrow, and a column of a few words repeated (tier, stage) is
    made from its codes: no per-row Python objects, and pandas has no text type to
    infer row by row.
    """
    if isinstance(values, _Words):
        words = pa.array(values.names, type=pa.large_string())
        return pd.array(words.take(pa.array(values.codes[order])), dtype="str")
    if isinstance(values, pd.api.extensions.ExtensionArray) and pd.api.types.is_string_dtype(values.dtype):
        return pd.array(pa.array(values).take(pa.array(order)), dtype=values.dtype)
    array = np.asarray(values)
    if array.dtype != object:
        return array[order]
    codes, words = pd.factorize(array[order])
    if not all(isinstance(w, str) for w in words):
        return array[order]
    mask = codes < 0
    taken = pa.array(np.asarray(words, dtype=object), type=pa.large_string()).take(pa.array(codes, mask=mask))
    return pd.array(taken, dtype="str")


def _with_prospects(columns: dict[str, Any], prospects: list[str], default_margin: float) -> dict[str, Any]:
    """The columns with one row added per prospect: zero value, unknown P(alive), the default margin."""
    n = len(prospects)
    out: dict[str, Any] = {}
    for key, values in columns.items():
        if isinstance(values, pd.api.extensions.ExtensionArray) and pd.api.types.is_string_dtype(values.dtype):
            extra = pa.array(prospects, type=pa.large_string())
            out[key] = pd.array(pa.concat_arrays([pa.array(values).cast(pa.large_string()), extra]), dtype=values.dtype)
            continue
        values = np.asarray(values)
        if key == "customer_id":
            extra = np.asarray(prospects, dtype=object)
        elif key in PROSPECT_ZEROS:
            extra = np.zeros(n)
        elif key == "margin_rate":
            extra = np.full(n, default_margin)
        elif values.dtype.kind in "mM":
            extra = np.full(n, np.datetime64("NaT"), dtype=values.dtype)
        else:
            extra = np.full(n, np.nan)
        out[key] = np.concatenate([values, extra])
    return out


def value_by_period(
    ws: Workspace,
    as_of: Any = None,
    model: str = "auto",
    horizon: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
) -> pd.DataFrame:
    """Expected value of the whole customer base period by period over the horizon.

    Columns: ``period`` (1..H in the time unit), ``time_unit``, ``expected_purchases``,
    ``expected_value`` (margin x spend x purchases in that period),
    ``discounted_value`` (divided by ``(1 + d)**period``) and
    ``cumulative_discounted_value``; the last equals the sum of ``clv`` over
    customers from :func:`score_customers` with the same options (and the same model choice).
    """
    inputs = _inputs(ws, as_of, model, horizon, discount_rate, margin, time_unit, None)
    _, out, _, _ = valuation_columns(
        inputs.columns, inputs.purchase, inputs.spend, horizon=inputs.opts["horizon"],
        discount_rate=inputs.opts["discount_per_unit"], margin=inputs.margin_rate, residual=False,
        distinct=inputs.distinct,
    )
    out.insert(1, "time_unit", inputs.opts["time_unit"])
    out.attrs.update(as_of=inputs.stamp.date().isoformat(), model=inputs.name)
    return out


def scores_at(ws: Workspace, as_of: Any, **score_options: Any) -> pd.DataFrame:
    """The latest stored run valued at exactly ``as_of``, else a new run at that date (stored)."""
    try:
        return load_scores(ws, as_of=as_of)
    except WorkspaceError:
        return score_customers(ws, as_of=as_of, **score_options)
