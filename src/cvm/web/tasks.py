"""The long work the web app starts in the background: scoring, fitting, backtests, ingesting uploads.

Each ``start_*`` function checks its input in the request (so mistakes are
answered at once), then queues the work on the app's
:class:`~cvm.web.jobs.JobRegistry` and returns the job. The work itself is one
library call. Work that only reads runs with a workspace view that has the worker
thread's own cursor; work that changes the workspace (scoring, fitting, ingesting)
opens it for writing (:meth:`~cvm.web.deps.WebState.writing`): it waits while another
process changes the workspace, and the dashboard keeps answering from the previous
generation until the change is published.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from cvm.errors import SchemaError
from cvm.jsonsafe import json_safe
from cvm.web import lookups
from cvm.web.auth import Principal
from cvm.web.jobs import Job

#: first bytes of the binary formats we accept (Excel .xlsx is a zip file)
MAGIC = {"xlsx": b"PK\x03\x04", "parquet": b"PAR1"}


def _finish(ws) -> None:
    """Before a change is published: the index that customer lookups use when the run is not in memory."""
    lookups.ensure_customer_index(ws.con)


def start_score(state, user: Principal, model: str = "auto", as_of: str | None = None,
                horizon: int | None = None, discount_rate: float | None = None,
                margin: float | None = None, time_unit: str | None = None) -> Job:
    """Queue :func:`cvm.service.score_customers` (stores a new run in ``scores``)."""
    options = {k: v for k, v in {"as_of": as_of, "horizon": horizon, "discount_rate": discount_rate,
                                  "margin": margin, "time_unit": time_unit}.items() if v is not None}

    def work(progress) -> dict[str, Any]:
        from cvm.service import score_customers

        progress(0.05, "scoring")
        with state.writing() as ws:
            frame = score_customers(ws, model=model, **options)
            progress(0.95, "storing")
            _finish(ws)
        return {"n_customers": int(len(frame)), "total_clv": float(frame["clv"].sum()),
                "run_id": frame.attrs.get("run_id"), "model": frame.attrs.get("model", model)}

    return state.jobs.submit("score", user.name, work)


def start_fit(state, user: Principal, model: str = "bgnbd", as_of: str | None = None,
              calibration_end: str | None = None, time_unit: str | None = None) -> Job:
    """Queue :func:`cvm.fitting.fit_workspace` (the fit is stored in the ``models`` table)."""

    def work(progress) -> dict[str, Any]:
        from cvm.fitting import fit_workspace

        progress(0.05, "fitting")
        with state.writing() as ws:  # the fit is kept in the models table
            result = fit_workspace(ws, model=model, as_of=as_of, calibration_end=calibration_end,
                                   time_unit=time_unit)
        return json_safe(result.to_dict())

    return state.jobs.submit("fit", user.name, work)


def start_backtest(state, user: Principal, calibration_end: str, holdout_end: str | None = None) -> Job:
    """Queue :func:`cvm.evaluation.backtest` on a calibration / holdout split."""

    def work(progress) -> dict[str, Any]:
        from cvm.service import backtest

        progress(0.05, "backtesting")
        with state.writing() as ws:  # the result is kept in the workspace
            result = backtest(ws, calibration_end=calibration_end, holdout_end=holdout_end)
        return json_safe(result.to_dict())

    return state.jobs.submit("backtest", user.name, work)


def safe_filename(name: str | None, default: str = "upload") -> str:
    """A file name without folders or unusual characters (keeps the extension)."""
    base = Path(name or default).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or default
    return base[-120:]


def check_upload_type(filename: str, head: bytes, allowed: tuple[str, ...]) -> str:
    """The file's type from its extension, checked against ``allowed`` and its first bytes."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in allowed:
        raise SchemaError.coded("upload_type_not_allowed", ext=ext or "?", allowed=", ".join("." + a for a in allowed))
    magic = MAGIC.get(ext)
    if magic is not None and not head.startswith(magic):
        raise SchemaError.coded("upload_wrong_format", ext=ext)
    if magic is None and b"\x00" in head[:4096]:
        raise SchemaError.coded("upload_binary")
    return ext


def start_upload(state, user: Principal, upload, kind: str) -> Job:
    """Store an uploaded file in the workspace's ``uploads`` folder and queue its ingest.

    ``upload`` is a Starlette ``UploadFile`` (already received; the size limit is
    enforced while the body streams in).
    """
    filename = safe_filename(upload.filename)
    head = upload.file.read(8192)
    upload.file.seek(0)
    if not head:
        raise SchemaError.coded("upload_empty")
    check_upload_type(filename, head, state.config.upload_types)
    folder = state.path / "uploads" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1024 * 1024)

    def work(progress) -> dict[str, Any]:
        progress(0.05, "reading")
        with state.writing() as ws:
            report = ws.ingest(target, kind=kind)
            progress(0.95, "loaded")
            _finish(ws)
        return json_safe({**report.to_dict(), "file": filename})

    return state.jobs.submit("upload", user.name, work)
