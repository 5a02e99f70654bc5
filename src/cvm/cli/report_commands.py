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
    ws = open_workspace(workspace, write=True)  # the migration section stores an earlier run (history)
    path = build_report(ws, out_file, language=language or ws.settings.language)
    if as_json:
        emit_json({"report": str(path)})
    else:
        out.print(f"report written to {path}")


def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine (default: settings server.host).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: settings server.port, 8000).")] = None,
    proxy_headers: Annotated[Optional[bool], typer.Option("--proxy-headers/--no-proxy-headers", help="Behind a reverse proxy: believe its X-Forwarded-Proto and X-Forwarded-For (from --trusted-proxies only).")] = None,
    trusted_proxies: Annotated[str, typer.Option("--trusted-proxies", help="Addresses of the proxy, comma-separated ('*' for any).")] = "127.0.0.1",
    secure_cookies: Annotated[Optional[bool], typer.Option("--secure-cookies/--no-secure-cookies", help="Served over HTTPS: Secure cookies and HSTS.")] = None,
    max_upload_mb: Annotated[Optional[float], typer.Option("--max-upload-mb", min=0.001, help="Largest upload in MB (default: settings server.max_upload_mb, 200).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, max=64, help="Threads for background jobs (fits, scoring, uploads); the server is one process, since one process writes the workspace.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Start the web dashboard (login required; /health is public). Options default to the settings' server section."""
    from cvm.web.app import serve as run_server

    ws = open_workspace(workspace)
    server = ws.settings.server
    ws.close()
    host = host if host is not None else server.host
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning: binding {host} exposes the dashboard beyond this machine[/yellow]")
    run_server(
        workspace, host=host, port=port if port is not None else server.port,
        proxy_headers=server.proxy_headers if proxy_headers is None else proxy_headers,
        trusted_proxies=trusted_proxies,
        secure_cookies=server.secure_cookies if secure_cookies is None else secure_cookies,
        max_upload_mb=max_upload_mb if max_upload_mb is not None else server.max_upload_mb,
        job_workers=workers if workers is not None else server.workers,
    )


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
