"""Models: ``cvm fit``, the classic ``cvm formula`` and ``cvm backtest`` (which model predicts best)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, AsOfOpt, JsonOpt, TimeUnitOpt, WorkspaceOpt, parse_date
from cvm.cli.error_output import print_warning
from cvm.cli.output import emit_json, frame_table, out
from cvm.cli.workspace import open_workspace
from cvm.errors import SchemaError


def fit(
    model: Annotated[str, typer.Option("--model", help="bgnbd, mbgnbd, pnbd, bgbb, sbg or gg.")] = "bgnbd",
    summary: Annotated[Optional[Path], typer.Option("--summary", help="Fit a lifetimes-style summary CSV (frequency,recency,T[,monetary_value]) without a workspace.")] = None,
    as_of: AsOfOpt = None,
    calibration_end: Annotated[Optional[str], typer.Option("--calibration-end", help="Fit on transactions up to this date.")] = None,
    time_unit: TimeUnitOpt = None,
    penalizer: Annotated[float, typer.Option(help="L2 penalty on the parameters (0 = plain maximum likelihood).")] = 0.0,
    level: Annotated[float, typer.Option(help="Confidence level of the parameter intervals.")] = 0.95,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Fit a model and print its parameters, standard errors and log-likelihood."""
    from cvm.fitting import fit_summary_file, fit_workspace

    if summary is not None:
        result = _fit_summary(summary, model, penalizer, time_unit, fit_summary_file)
    else:
        ws = open_workspace(workspace, write=True)  # keeps the fit in models
        result = fit_workspace(
            ws, model=model, as_of=parse_date(as_of, "--as-of"), calibration_end=parse_date(calibration_end, "--calibration-end"),
            time_unit=time_unit, penalizer=penalizer,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    for message in dict.fromkeys(result.warnings):  # recorded during the fit (in --json under "warnings")
        print_warning(message)
    out.print(result.model_object.summary(level=level).to_text())


def _fit_summary(summary: Path, model: str, penalizer: float, time_unit: str | None, fit_summary_file) -> Any:
    """``fit --summary``: a file without the summary columns is the user's mistake, said as such."""
    import csv

    if summary.is_dir():
        raise SchemaError(f"{summary} is a folder, not a summary file", hint="pass a CSV with frequency,recency,T")
    needed = "frequency, recency, T (and monetary_value for gg; n_periods for bgbb)"
    try:
        return fit_summary_file(summary, model=model, penalizer=penalizer, time_unit=time_unit)
    except KeyError as exc:
        raise SchemaError(f"{summary.name} has no column {exc}", hint=f"a summary file has one row per customer with columns {needed}") from None
    except csv.Error as exc:
        raise SchemaError(f"cannot read {summary.name} as a summary CSV: {exc}",
                          hint=f"the file needs a header row and one row per customer with columns {needed}") from None


def formula(
    gc: Annotated[float, typer.Option("--gc", help="Yearly gross contribution per customer (GC).")],
    m: Annotated[float, typer.Option("--m", help="Yearly retention cost per customer (M), paid mid-year.")],
    n: Annotated[int, typer.Option("--n", help="Horizon in years (N).")],
    r: Annotated[float, typer.Option("--r", help="Retention rate (r), e.g. 0.8.")],
    d: Annotated[float, typer.Option("--d", help="Yearly discount rate (d), e.g. 0.1.")],
    target: Annotated[Optional[float], typer.Option("--target", help="Also: the retention rate needed for this CLV.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The classic CLV formula of the brief: CLV = GC·Σ rⁱ/(1+d)ⁱ − M·Σ rⁱ⁻¹/(1+d)^(i−½)."""
    from cvm.models.formula import break_even_retention_cost, classic_clv, required_retention

    clv = float(classic_clv(gc, m, n, r, d))
    payload: dict[str, Any] = {
        "clv": clv,
        "inputs": {"gc": gc, "m": m, "n": n, "r": r, "d": d},
        "break_even_m": float(break_even_retention_cost(gc, n, r, d)),
    }
    if target is not None:
        payload["required_retention"] = float(required_retention(target, gc, m, n, d))
    if as_json:
        emit_json(payload)
        return
    out.print(f"CLV = [bold]{clv:,.2f}[/bold] per customer (GC={gc:g}, M={m:g}, N={n}, r={r:g}, d={d:g})")
    out.print(f"largest retention cost M that keeps CLV ≥ 0: {payload['break_even_m']:,.2f}")
    if target is not None:
        out.print(f"retention rate needed for CLV {target:,.2f}: {payload['required_retention']:.4f}")


def backtest(
    calibration_end: Annotated[str, typer.Option("--calibration-end", help="End of the calibration period (YYYY-MM-DD).")],
    holdout_end: Annotated[Optional[str], typer.Option("--holdout-end", help="End of the holdout (default: last transaction).")] = None,
    time_unit: TimeUnitOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Fit every model on the calibration period and compare them on the holdout."""
    from cvm.service import backtest as run_backtest

    ws = open_workspace(workspace, write=True)  # the backtest is kept in the workspace
    result = run_backtest(
        ws, calibration_end=parse_date(calibration_end, "--calibration-end"), holdout_end=parse_date(holdout_end, "--holdout-end"),
        time_unit=time_unit or ws.settings.time_unit,
    )
    payload = result.to_dict()
    if as_json:
        emit_json(payload)
        return
    import pandas as pd

    frame = pd.DataFrame(payload["models"]).T
    out.print(frame_table(frame, title="Backtest on the holdout"))
    out.print(f"best: [bold]{payload['best']}[/bold] — {payload.get('reason', '')}")
