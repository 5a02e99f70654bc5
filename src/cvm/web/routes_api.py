"""The JSON API under ``/api`` (OpenAPI schema at ``/api/openapi.json``).

Authenticate with ``Authorization: Bearer TOKEN`` (``cvm token create --role ROLE``)
or a browser session (then state-changing calls need the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from cvm.errors import CvmError, WorkspaceError
from cvm.jsonsafe import json_safe
from cvm.service.customers import customer_list
from cvm.service import customer_view as view_of_customer
from cvm.service import segments as segments_of
from cvm.web import lookups, tasks
from cvm.web.deps import Analyst, State, Viewer, check_csrf

router = APIRouter(prefix="/api", tags=["api"])

ModelName = Literal["auto", "bgnbd", "mbgnbd", "pnbd"]
FitModelName = Literal["bgnbd", "mbgnbd", "pnbd", "bgbb", "sbg", "gg"]
TimeUnit = Literal["day", "week", "month", "year"]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


class Problem(BaseModel):
    detail: str
    hint: str | None = None


ERRORS = {
    401: {"model": Problem, "description": "no valid session or bearer token"},
    403: {"model": Problem, "description": "the role lacks the right, or a missing CSRF token"},
}


def _latest_run(state) -> dict[str, Any]:
    run = state.latest_run()
    if run is None:
        raise WorkspaceError("no customers have been scored yet", hint="start a score job: POST /api/jobs/score")
    return run


def _run_info(run: dict[str, Any]) -> dict[str, Any]:
    return json_safe({k: run.get(k) for k in ("run_id", "as_of", "created", "model", "time_unit", "horizon", "n_customers")})


# --------------------------------------------------------------------------- who am I


class Me(BaseModel):
    name: str
    role: str
    via: str


@router.get("/me", response_model=Me, responses=ERRORS)
def me(user: Viewer) -> Me:
    """The user or token making the request and its role."""
    return Me(name=user.name, role=user.role, via=user.via)


# --------------------------------------------------------------------------- customers


class CustomerRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    customer_id: str


class CustomerPage(BaseModel):
    run: dict[str, Any]
    total: int
    page: int
    page_size: int
    customers: list[CustomerRow]


@router.get("/kpis", responses={**ERRORS, 409: {"model": Problem, "description": "nothing scored yet"}})
def kpis(user: Viewer, state: State) -> dict[str, Any]:
    """Headline numbers of the latest scoring run: customers, expected active share, historic and predicted value."""
    run = _latest_run(state)
    values = state.cached("kpis:" + run["run_id"], lambda: lookups.kpis(state.cursor(), run["run_id"]))
    return {"run": _run_info(run), "kpis": json_safe(values)}


#: columns a client may sort the customer list by
SORTABLE = (
    "customer_id", "clv", "clv_low", "clv_high", "historic_value", "probability_alive",
    "expected_purchases", "frequency", "recency", "monetary_value", "rank", "percentile",
    "value_tier", "lifecycle_stage", "last_purchase",
)


@router.get("/customers", response_model=CustomerPage,
            responses={**ERRORS, 409: {"model": Problem, "description": "nothing scored yet"}})
def customers(
    user: Viewer, state: State,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Literal[SORTABLE] = "clv",  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc",
    value_tier: Annotated[str | None, Query(max_length=50)] = None,
    lifecycle_stage: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=200, description="start of the customer id")] = None,
) -> dict[str, Any]:
    """Scored customers of the latest run, paged, filtered by tier / stage / id prefix, sorted; every score column
    (the list of ``cvm customers --json``)."""
    run = _latest_run(state)
    listing = customer_list(state.workspace(), run_id=run["run_id"], value_tier=value_tier,
                            lifecycle_stage=lifecycle_stage, id_prefix=q, sort=sort, ascending=order == "asc",
                            limit=page_size, offset=(page - 1) * page_size, columns=None)
    return {"run": _run_info(run), "total": listing.total, "page": page, "page_size": page_size,
            "customers": listing.records()}


@router.get("/customers/{customer_id:path}/view",
            responses={**ERRORS, 404: {"model": Problem, "description": "unknown customer"}})
def customer_view(customer_id: CustomerId, user: Viewer, state: State) -> dict[str, Any]:
    """The 360° view of one customer (:func:`cvm.value.customer_view`)."""
    try:
        result = view_of_customer(state.workspace(), customer_id)
    except CvmError as exc:
        if "unknown" in exc.message.lower() or "not found" in exc.message.lower() or "no customer" in exc.message.lower():
            raise HTTPException(404, exc.message) from None
        raise
    return json_safe(result.to_dict())


# {customer_id:path}: ids may hold '/' (sent as %2F or as they are); declared after ".../view" above
@router.get("/customers/{customer_id:path}",
            responses={**ERRORS, 404: {"model": Problem, "description": "unknown customer"},
                       409: {"model": Problem, "description": "nothing scored yet"}})
async def customer(customer_id: CustomerId, user: Viewer, state: State) -> JSONResponse:
    """One customer's scores in the latest run.

    Served from the in-memory copy of the latest run (see :mod:`cvm.web.latest_scores`)
    once it is loaded, else by a point query on the customer index. Runs on the event
    loop: either way the work is shorter than a hop to the thread pool and back.
    """
    run, row = state.customer_score(customer_id)
    if run is None:
        _latest_run(state)  # raises the "nothing scored yet" error
    if row is None:
        raise HTTPException(404, "unknown customer")
    return JSONResponse({"run_id": run["run_id"], "as_of": str(run["as_of"])[:10], "model": run.get("model"),
                         "customer": row})


@router.get("/segments", responses={**ERRORS, 409: {"model": Problem, "description": "nothing scored yet"}})
def segments(
    user: Viewer, state: State,
    by: Literal["rfm", "value_tier", "lifecycle_stage", "matrix", "channel"] = "value_tier",
) -> dict[str, Any]:
    """Customers and value per segment (:func:`cvm.value.segments`): one object per segment."""
    run = _latest_run(state)
    result = state.cached(f"segments:{by}:{run['run_id']}", lambda: segments_of(state.workspace(), by=by))
    return {"by": by, "segments": json_safe(result)}


@router.get("/scores.csv", responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
def scores_csv(user: Viewer, state: State) -> StreamingResponse:
    """Every customer's scores of the default valuation (latest as-of date) as CSV (streamed).

    Columns ``run_id``, ``as_of``, the scores, ``model``; texts a spreadsheet would read
    as a formula are prefixed with ``'`` (OWASP's advice on CSV injection).
    """
    run = _latest_run(state)
    cursor = state.ws.con.cursor()  # its own connection: the stream outlives this thread's request

    def stream():
        try:
            yield from lookups.export_csv_rows(cursor, run["run_id"], model=run.get("model"))
        finally:
            cursor.close()

    filename = f"cvm-scores-{str(run['as_of'])[:10]}.csv"
    return StreamingResponse(stream(), media_type="text/csv",
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------- the classic formula


class FormulaResult(BaseModel):
    clv: float
    break_even_retention_cost: float | None


@router.get("/formula", response_model=FormulaResult, responses=ERRORS)
def formula(
    user: Viewer,
    gc: Annotated[float, Query(ge=-1e9, le=1e9, description="yearly gross contribution per customer")],
    m: Annotated[float, Query(ge=0, le=1e9, description="yearly retention cost, paid mid-year")],
    n: Annotated[int, Query(ge=1, le=100, description="horizon in years")],
    r: Annotated[float, Query(ge=0, le=1, description="yearly retention rate")],
    d: Annotated[float, Query(ge=0, le=10, description="yearly discount rate")],
) -> FormulaResult:
    """CLV = GC·Σ rⁱ/(1+d)ⁱ − M·Σ r^(i−1)/(1+d)^(i−0.5), i = 1..N (seed 001)."""
    from cvm.models.formula import break_even_retention_cost, classic_clv

    clv = float(classic_clv(gc, m, n, r, d))
    be = float(break_even_retention_cost(gc, n, r, d)) if r > 0 else None
    return FormulaResult(clv=clv, break_even_retention_cost=be)


# --------------------------------------------------------------------------- jobs


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    message: str
    result: Any = None
    error: str | None = None
    hint: str | None = None
    code: str | None = Field(None, description="the error's code in cvm.messages.CATALOGUE, when it has one")
    created: float
    finished: float | None = None


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelName = "auto"
    as_of: dt.date | None = None
    horizon: int | None = Field(None, ge=1, le=10_000)
    discount_rate: float | None = Field(None, ge=0, le=1)  # a yearly rate as a fraction (0.1 = 10 %), as in the settings
    margin: float | None = Field(None, gt=0, le=1)
    time_unit: TimeUnit | None = None


class FitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: FitModelName = "bgnbd"
    as_of: dt.date | None = None
    calibration_end: dt.date | None = None
    time_unit: TimeUnit | None = None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


@router.post("/jobs/score", response_model=JobOut, status_code=202, responses=ERRORS)
def start_score(request: Request, body: ScoreRequest, user: Analyst, state: State) -> dict[str, Any]:
    """Score every customer in the background (a new run in ``scores``); poll ``/api/jobs/{id}``."""
    check_csrf(request, None)
    job = tasks.start_score(state, user, model=body.model, as_of=_iso(body.as_of), horizon=body.horizon,
                            discount_rate=body.discount_rate, margin=body.margin, time_unit=body.time_unit)
    return job.to_dict()


@router.post("/jobs/fit", response_model=JobOut, status_code=202, responses=ERRORS)
def start_fit(request: Request, body: FitRequest, user: Analyst, state: State) -> dict[str, Any]:
    """Fit a model in the background (stored in the ``models`` table); poll ``/api/jobs/{id}``."""
    check_csrf(request, None)
    job = tasks.start_fit(state, user, model=body.model, as_of=_iso(body.as_of),
                          calibration_end=_iso(body.calibration_end), time_unit=body.time_unit)
    return job.to_dict()


@router.get("/jobs", response_model=list[JobOut], responses=ERRORS)
def jobs(user: Viewer, state: State) -> list[dict[str, Any]]:
    """Recent background jobs, newest first."""
    return [j.to_dict() for j in state.jobs.list()]


@router.get("/jobs/{job_id}", response_model=JobOut,
            responses={**ERRORS, 404: {"model": Problem, "description": "unknown job"}})
def job(job_id: Annotated[str, Path(min_length=1, max_length=64)], user: Viewer, state: State) -> dict[str, Any]:
    """Status, progress and (when done) the result of one background job."""
    found = state.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, "unknown job")
    return found.to_dict()


# --------------------------------------------------------------------------- uploads


@router.post("/uploads", response_model=JobOut, status_code=202,
             responses={**ERRORS, 400: {"model": Problem, "description": "wrong file type"},
                        413: {"model": Problem, "description": "file too large"}})
def upload(
    request: Request, user: Analyst, state: State, file: UploadFile,
    kind: Annotated[Literal["transactions", "customers", "referrals", "costs", "invoices"], Form()] = "transactions",
) -> dict[str, Any]:
    """Upload a CSV, TXT, XLSX or Parquet file; it is ingested in the background (rejected rows go to quarantine)."""
    check_csrf(request, None)
    job = tasks.start_upload(state, user, file, kind)
    state.audit("upload", request, target=file.filename, detail=kind)
    return job.to_dict()


@router.get("/quarantine", responses=ERRORS)
def quarantine(user: Viewer, state: State,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> dict[str, Any]:
    """Rows that ingest rejected, with the reason and source line."""
    total, rows = lookups.quarantine_rows(state.cursor(), limit=limit)
    return {"total": total, "rows": json_safe(rows)}
