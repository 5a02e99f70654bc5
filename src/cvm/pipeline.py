"""The main job end to end: the demo a new user runs first (``cvm demo``, ``make demo``).

Steps, each a call into one layer:

1. build a workspace from the bundled CDNOW transactions plus simulated customer
   attributes, referrals, costs and invoices (:func:`cvm.demo.build_demo_workspace`);
2. backtest the models on a 39-week calibration period (:func:`cvm.service.backtest`);
3. fit the chosen model and value every customer (:func:`cvm.service.score_customers`);
4. write the self-contained HTML report (:func:`cvm.report.build_report`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

#: CDNOW calibration ends 39 weeks after 1997-01-01 (Fader, Hardie & Lee 2005)
CDNOW_CALIBRATION_END = "1997-09-30"


def run_demo(workspace: Path | str, report_path: Path | str | None = None, console: Console | None = None) -> dict[str, Any]:
    """Build, validate, value and report on the demo workspace; return where everything is."""
    from cvm.demo import build_demo_workspace
    from cvm.service import backtest
    from cvm.report import build_report
    from cvm.service import concentration, score_customers

    workspace = Path(workspace)
    report_path = Path(report_path) if report_path else workspace / "report.html"
    timings: dict[str, float] = {}
    steps = ["workspace", "backtest", "score", "report"]
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console or Console(quiet=True), transient=False,
    ) as progress:
        task = progress.add_task("building the demo workspace", total=len(steps))

        start = time.perf_counter()
        ws = build_demo_workspace(workspace)
        timings["workspace"] = time.perf_counter() - start
        progress.update(task, advance=1, description="backtesting the models (39-week calibration)")

        start = time.perf_counter()
        bt = backtest(ws, calibration_end=CDNOW_CALIBRATION_END, time_unit="week")
        timings["backtest"] = time.perf_counter() - start
        progress.update(task, advance=1, description=f"valuing every customer with {bt.best}")

        start = time.perf_counter()
        scores = score_customers(ws, model=bt.best)
        timings["score"] = time.perf_counter() - start
        progress.update(task, advance=1, description="writing the report")

        start = time.perf_counter()
        build_report(ws, report_path, language=ws.settings.language)
        timings["report"] = time.perf_counter() - start
        progress.update(task, advance=1, description="done")

    conc_dict = concentration(ws, column="clv").to_dict()
    result = {
        "workspace": str(workspace.resolve()),
        "report": str(report_path.resolve()),
        "best_model": bt.best,
        "reason": bt.reason,
        "n_customers": int(len(scores)),
        "total_clv": float(scores["clv"].sum()),
        "share_of_customers_for_80pct": conc_dict.get("share_of_customers_for_80pct"),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    if console is not None:
        console.print()
        console.print(f"[bold]Workspace[/bold]  {result['workspace']}")
        console.print(f"[bold]Report[/bold]     {result['report']}")
        console.print(f"[bold]Model[/bold]      {bt.best} — {bt.reason}")
        console.print(f"[bold]Customers[/bold]  {result['n_customers']:,}, predicted CLV {result['total_clv']:,.2f}")
        console.print()
        console.print("Next: cvm customers / cvm customer ID / cvm segments / cvm actions / cvm serve "
                      f"--workspace {workspace}")
    return result
