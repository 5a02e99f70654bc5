"""Showing the results to people: ``cvm report`` (HTML), ``cvm serve`` (the dashboard) and ``cvm demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import check_out, emit_json, err, out
from cvm.cli.workspace import open_workspace


def report(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path("cvm-report.html"),
    language: Annotated[Optional[str], typer.Option("--language", help="en or nl (default: settings).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report (works offline)."""
    from cvm.report import build_report

    check_out(out_file, (".html", ".htm"))
    ws = open_workspace(workspace)
    path = build_report(ws, out_file, language=language or ws.settings.language)
    if as_json:
        emit_json({"report": str(path)})
    else:
        out.print(f"report written to {path}")


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Start the web dashboard (login required; /health is public)."""
    import uvicorn

    from cvm.web.app import create_app

    open_workspace(workspace)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning: binding {host} exposes the dashboard beyond this machine[/yellow]")
    uvicorn.run(create_app(workspace), host=host, port=port, log_level="info", access_log=False)


def demo(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Where to write the report (default: inside the workspace).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo workspace from the bundled CDNOW data, fit, score and write the report."""
    from cvm.pipeline import run_demo

    result = run_demo(workspace, report_path=report_path, console=None if as_json else out)
    if as_json:
        emit_json(result)
