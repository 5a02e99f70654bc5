"""Backtests of a workspace: read the split, run it (:mod:`cvm.evaluation.backtest`), store it, choose a model.

The procedure and the choice rule are in :mod:`cvm.evaluation.backtest`; this module
reads its inputs through :class:`cvm.data.Workspace` methods and keeps results in the
workspace's ``backtests`` table (the report shows the latest; ``--model auto`` uses it).
"""

from __future__ import annotations

import json
import tempfile
from typing import Any, Sequence

import pandas as pd

from cvm.data.warehouse import Workspace
from cvm.errors import SchemaError
from cvm.evaluation.backtest import BacktestData, BacktestResult, backtest_data, model_names, run_backtest
from cvm.settings import DAYS_PER_UNIT

NO_TRANSACTIONS = ("the workspace has no transactions", "ingest transactions first (cvm ingest FILE)")


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise SchemaError(f"{name} '{value}' is not a date", hint="write dates as YYYY-MM-DD") from None
    if ts is pd.NaT:
        raise SchemaError(f"{name} is missing")
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _span(ws: Workspace) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last transaction time; a clear error when there are none."""
    first, last, n = ws.transaction_span()
    if n == 0 or first is None:
        raise SchemaError(NO_TRANSACTIONS[0], hint=NO_TRANSACTIONS[1])
    return _timestamp(first, "first transaction"), _timestamp(last, "last transaction")


def load_backtest_data(ws: Workspace, calibration_end: Any, holdout_end: Any = None, time_unit: str = "week") -> BacktestData:
    """Read the calibration/holdout summary and the repeat-purchase days from a workspace."""
    if time_unit not in DAYS_PER_UNIT:
        raise SchemaError(f"unknown time unit '{time_unit}'", hint="use day, week, month or year")
    first_ts, last_ts = _span(ws)
    cal_end = _timestamp(calibration_end, "calibration_end")
    hold_end = _timestamp(holdout_end, "holdout_end") if holdout_end is not None else last_ts.normalize()
    if cal_end < first_ts:
        raise SchemaError(f"the calibration end {cal_end.date()} is before the first transaction ({first_ts.date()})",
                          hint="choose a calibration end inside the data")
    if hold_end <= cal_end:
        raise SchemaError(f"the holdout end {hold_end.date()} is not after the calibration end {cal_end.date()}",
                          hint=f"the data run to {last_ts.date()}; choose an earlier calibration end")
    summary = ws.summary(time_unit=time_unit, calibration_end=cal_end.date().isoformat(),
                         holdout_end=hold_end.date().isoformat())
    return backtest_data(summary, ws.purchase_days(hold_end), first_ts, cal_end, hold_end, time_unit)


def backtest(
    ws_or_transactions: Any,
    calibration_end: Any,
    holdout_end: Any = None,
    models: Sequence[str] | None = None,
    time_unit: str = "week",
    tracking_unit: str | None = None,
    store: bool = True,
) -> BacktestResult:
    """Fit the purchase models on a calibration period and compare them on the holdout.

    Parameters
    ----------
    ws_or_transactions
        A :class:`cvm.data.Workspace`, or a transactions frame with columns
        ``customer_id``, ``ts`` and optionally ``amount`` (loaded into a
        temporary workspace through the data layer).
    calibration_end
        Last day of the calibration period (inclusive).
    holdout_end
        Last day of the holdout (inclusive); default the last transaction.
    models
        Purchase models to compare (default every purchase model of the registry).
        The Gamma-Gamma spend model is added when the data hold amounts.
    time_unit
        Unit of the fitted parameters and of the reported times.
    tracking_unit
        Length of a tracking period (default ``time_unit``).
    store
        Keep the result in the workspace's ``backtests`` table (for the report
        and :func:`choose_model`).

    Returns
    -------
    BacktestResult

    Examples
    --------
    >>> result = backtest(ws, "1997-09-30", "1998-06-30")        # doctest: +SKIP
    >>> result.best, result.models["bgnbd"]["holdout_actual"]       # doctest: +SKIP
    ('pnbd', 1882.0)
    """
    tracking_unit = tracking_unit or time_unit
    if tracking_unit not in DAYS_PER_UNIT:
        raise SchemaError(f"unknown tracking unit '{tracking_unit}'", hint="use day, week, month or year")
    names = model_names(models)
    if isinstance(ws_or_transactions, pd.DataFrame) or hasattr(ws_or_transactions, "to_pandas"):
        frame = ws_or_transactions.to_pandas() if hasattr(ws_or_transactions, "to_pandas") else ws_or_transactions
        with tempfile.TemporaryDirectory(prefix="cvm-backtest-") as tmp:
            with Workspace.open(tmp) as ws:
                ws.ingest(frame, kind="transactions")
                data = load_backtest_data(ws, calibration_end, holdout_end, time_unit)
        return run_backtest(data, names, tracking_unit)
    ws = ws_or_transactions
    data = load_backtest_data(ws, calibration_end, holdout_end, time_unit)
    result = run_backtest(data, names, tracking_unit)
    if store:
        save_backtest(ws, result)
    return result


def save_backtest(ws: Workspace, result: BacktestResult) -> None:
    """Append a result to the workspace's ``backtests`` table (the report shows the latest)."""
    ws.save_backtest_payload(calibration_end=result.calibration_end, holdout_end=result.holdout_end,
                             time_unit=result.time_unit, best=result.best, reason=result.reason,
                             payload=json.dumps(result.to_payload()))


def latest_backtest(ws: Workspace, current_only: bool = False) -> BacktestResult | None:
    """The most recent stored backtest, or None; ``current_only`` ignores results on older data."""
    payload = ws.latest_backtest_payload(current_only=current_only)
    return None if payload is None else BacktestResult.from_payload(json.loads(payload))


def default_calibration_end(ws: Workspace, as_of: Any = None) -> pd.Timestamp:
    """Two thirds of the way from the first transaction to ``as_of`` (default the last): the holdout is the last third."""
    first, last = _span(ws)
    if as_of is not None:
        last = _timestamp(as_of, "as_of")
    if (last - first).days < 3:
        raise SchemaError("the transactions span fewer than three days; a holdout comparison is impossible",
                          hint="choose a model yourself (bgnbd, pnbd) or add more history")
    return (first + (last - first) * (2 / 3)).normalize()


def choose_model(ws: Workspace, calibration_end: Any = None, holdout_end: Any = None, time_unit: str | None = None,
                 models: Sequence[str] | None = None, as_of: Any = None) -> str:
    """The model ``--model auto`` uses: the best of a backtest (see :mod:`cvm.evaluation.backtest`).

    Parameters
    ----------
    calibration_end, holdout_end
        The split; by default the holdout is the last third of the data up to
        ``as_of`` (or the last transaction).
    as_of
        Choose with the data known at this date only (the holdout ends there).

    Without an explicit split, the latest stored backtest on the current data
    (and the same time unit and end) decides; otherwise a backtest is run and
    stored.
    """
    hold = holdout_end if holdout_end is not None else as_of
    if calibration_end is None and models is None:
        stored = latest_backtest(ws, current_only=True)
        if (stored is not None and (time_unit is None or stored.time_unit == time_unit)
                and (hold is None or stored.holdout_end == _timestamp(hold, "as_of").date().isoformat())):
            return stored.best
    unit = time_unit or ws.settings.time_unit
    cal = calibration_end if calibration_end is not None else default_calibration_end(ws, hold)
    return backtest(ws, cal, hold, models=models, time_unit=unit).best
