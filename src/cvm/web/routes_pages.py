"""The server-rendered pages. Each route parses its input, calls one library function, renders.

Library results are shown as they come (facts and tables, see
:func:`cvm.web.render.split_result`) plus a chart where the page has one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from cvm.errors import AuthError, CvmError, SchemaError
from cvm.web import auth, lookups
from cvm.web.deps import (
    SESSION_COOKIE,
    Admin,
    Analyst,
    Fmt,
    State,
    Viewer,
    check_csrf,
    get_state,
)
from cvm.web.render import figure, frame_records, render, render_login, split_result

router = APIRouter(include_in_schema=False)


def _question(state, name: str, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Call ``cvm.value.<name>(ws, *args, **kwargs)``; return (result, None) or (None, message) for a user error."""
    import cvm.value as value

    try:
        return getattr(value, name)(state.workspace(), *args, **kwargs), None
    except CvmError as exc:
        return None, str(exc)


def _job_context(state, job_id: str | None) -> dict[str, Any]:
    job = state.jobs.get(job_id) if job_id else None
    return {"job": job.to_dict() if job is not None else None}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------- login


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render_login(request, next_path=next)


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    state = get_state(request)
    check_csrf(request, csrf_token)
    try:
        principal = auth.login(state.cursor(), username.strip(), password)
    except AuthError:
        fmt_error = "login.failed"
        return render_login(request, status_code=401, next_path=next, error=fmt_error)
    if not next.startswith("/") or next.startswith("//"):
        next = "/"
    response = _redirect(next)
    response.set_cookie(
        SESSION_COOKIE, state.signer.dumps(principal, auth.new_csrf_token()), httponly=True, samesite="lax",
        secure=state.config.secure_cookies, max_age=auth.SESSION_MAX_AGE, path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, user: Viewer, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- overview


@router.get("/")
def overview(request: Request, user: Viewer, state: State, fmt: Fmt, job: str | None = None) -> Response:
    cur = state.cursor()
    run = state.cached("latest_run", lambda: lookups.latest_run(cur))
    context: dict[str, Any] = {"run": run, **_job_context(state, job)}
    if run is not None:
        context["kpis"] = state.cached("kpis:" + run["run_id"], lambda: lookups.kpis(cur, run["run_id"]))
        trend = state.cached("trend", lambda: lookups.value_trend(cur))
        context["trend_chart"] = figure(
            [
                {"type": "scatter", "mode": "lines+markers", "name": fmt("overview.predicted_value"),
                 "x": [r["as_of"] for r in trend], "y": [r["predicted_value"] for r in trend]},
                {"type": "scatter", "mode": "lines+markers", "name": fmt("overview.historic_value"),
                 "x": [r["as_of"] for r in trend], "y": [r["historic_value"] for r in trend]},
            ],
            title=fmt("overview.trend"), x_title=fmt("common.as_of"), y_title=state.settings().currency,
            separators=fmt.separators,
        )
        conc, error = state.cached("concentration:" + run["run_id"], lambda: _question(state, "concentration", column="clv"))
        context["concentration_error"] = error
        if conc is not None:
            facts, tables = split_result(conc)
            context["concentration"] = facts
            curve = _lorenz(conc)
            if curve is not None:
                context["lorenz_chart"] = figure(
                    [{"type": "scatter", "mode": "lines", "name": fmt("overview.lorenz"), "x": curve[0], "y": curve[1]},
                     {"type": "scatter", "mode": "lines", "name": fmt("overview.equality"), "x": [0, 1], "y": [0, 1],
                      "line": {"dash": "dot"}}],
                    title=fmt("overview.concentration"), x_title=fmt("overview.share_customers"),
                    y_title=fmt("overview.share_value"), separators=fmt.separators,
                )
    return render(request, "overview.html", **context)


def _lorenz(result: Any) -> tuple[list[float], list[float]] | None:
    """The Lorenz curve points of a concentration result, when it has them."""
    payload = result.to_dict() if hasattr(result, "to_dict") and not hasattr(result, "columns") else result
    if not isinstance(payload, dict):
        return None
    curve = payload.get("lorenz") or payload.get("curve")
    if isinstance(curve, dict):
        xs = curve.get("share_of_customers") or curve.get("x")
        ys = curve.get("share_of_value") or curve.get("y")
        if xs is not None and ys is not None:
            return list(xs), list(ys)
    if hasattr(curve, "columns") and {"share_of_customers", "share_of_value"} <= set(curve.columns):
        return curve["share_of_customers"].tolist(), curve["share_of_value"].tolist()
    if isinstance(curve, list) and curve and isinstance(curve[0], dict):
        keys = list(curve[0])
        if len(keys) >= 2:
            return [c[keys[0]] for c in curve], [c[keys[1]] for c in curve]
    return None


# --------------------------------------------------------------------------- segments


SegmentBy = Literal["rfm", "value_tier", "lifecycle_stage", "matrix", "channel"]


@router.get("/segments")
def segments_page(request: Request, user: Viewer, state: State, fmt: Fmt, by: SegmentBy = "value_tier") -> Response:
    result, error = _question(state, "segments", by=by)
    context: dict[str, Any] = {"by": by, "error": error, "choices": SegmentBy.__args__}
    if result is not None:
        facts, tables = split_result(result)
        context.update(facts=facts, tables=tables)
        chart = _bar_chart(result, fmt, fmt("segments.chart_title"))
        if chart:
            context["chart"] = chart
    matrix, matrix_error = _question(state, "value_matrix")
    if matrix is not None:
        context["matrix_facts"], context["matrix_tables"] = split_result(matrix)
    context["matrix_error"] = matrix_error
    return render(request, "segments.html", **context)


def _bar_chart(result: Any, fmt, title: str) -> dict[str, Any] | None:
    """Bar chart of total CLV (or the first numeric column) per segment of a segment frame."""
    if not hasattr(result, "columns") or result.empty:
        return None
    frame = result.reset_index() if result.index.name is not None else result
    label = frame.columns[0]
    value_col = next((c for c in ("clv", "total_clv", "clv_sum", "value") if c in frame.columns), None)
    if value_col is None:
        numeric = [c for c in frame.columns[1:] if str(frame[c].dtype).startswith(("float", "int"))]
        if not numeric:
            return None
        value_col = numeric[0]
    return figure(
        [{"type": "bar", "x": frame[label].astype(str).tolist(), "y": frame[value_col].tolist(), "name": str(value_col)}],
        title=title, x_title=str(label), y_title=str(value_col), separators=fmt.separators,
    )


# --------------------------------------------------------------------------- customers and the 360 view


@router.get("/customers")
def customers_page(
    request: Request, user: Viewer, state: State,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    cur = state.cursor()
    run = state.cached("latest_run", lambda: lookups.latest_run(cur))
    context: dict[str, Any] = {"q": q, "run": run, "page": page}
    if run is not None:
        if q.strip():
            context["rows"] = lookups.find_customers(cur, run["run_id"], q, limit=50)
            context["total"] = len(context["rows"])
        else:
            context["total"], context["rows"] = lookups.customers_page(cur, run["run_id"], page=page, page_size=50)
    return render(request, "customers.html", **context)


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: str, user: Viewer, state: State, fmt: Fmt) -> Response:
    view, error = _question(state, "customer_view", customer_id)
    context: dict[str, Any] = {"customer_id": customer_id, "error": error}
    if view is not None:
        payload = view.to_dict() if hasattr(view, "to_dict") else dict(view)
        context["view"] = payload
        facts, tables = split_result(payload)
        context.update(facts=facts, tables=tables)
        context["timeline_chart"] = _timeline_chart(payload, fmt)
        context["alive_chart"] = _alive_chart(payload, state, customer_id, fmt)
    return render(request, "customer.html", status_code=200 if error is None else 404, **context)


def _records_of(value: Any) -> list[dict[str, Any]]:
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.reset_index().to_dict(orient="records") if value.index.name else value.to_dict(orient="records")
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _timeline_chart(payload: dict[str, Any], fmt) -> dict[str, Any] | None:
    """Transactions over time, one trace per channel."""
    rows = _records_of(payload.get("transactions") or payload.get("timeline"))
    if not rows:
        return None
    time_key = next((k for k in ("ts", "date", "timestamp") if k in rows[0]), None)
    if time_key is None or "amount" not in rows[0]:
        return None
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_channel.setdefault(str(row.get("channel") or fmt("customer.no_channel")), []).append(row)
    traces = [
        {"type": "scatter", "mode": "markers", "name": channel, "x": [r[time_key] for r in items],
         "y": [r["amount"] for r in items], "marker": {"size": 9}}
        for channel, items in by_channel.items()
    ]
    return figure(traces, title=fmt("customer.timeline"), x_title=fmt("common.date"), y_title=fmt("customer.amount"),
                  separators=fmt.separators)


def _alive_chart(payload: dict[str, Any], state, customer_id: str, fmt) -> dict[str, Any] | None:
    """P(alive) at every stored scoring run (from the view, else from the stored scores)."""
    rows = _records_of(payload.get("history") or payload.get("probability_alive_history"))
    if not rows:
        rows = lookups.customer_history(state.cursor(), customer_id)
    rows = [r for r in rows if "probability_alive" in r and "as_of" in r]
    if not rows:
        return None
    return figure(
        [{"type": "scatter", "mode": "lines+markers", "name": "P(alive)", "x": [r["as_of"] for r in rows],
          "y": [r["probability_alive"] for r in rows]}],
        title=fmt("customer.alive_history"), x_title=fmt("common.as_of"), y_title="P(alive)",
        yaxis={"range": [0, 1.05], "title": {"text": "P(alive)"}}, separators=fmt.separators,
    )


# --------------------------------------------------------------------------- investment, cohorts, models


@router.get("/investment")
def investment_page(
    request: Request, user: Viewer, state: State,
    budget: Annotated[float | None, Query(ge=0, le=1e12)] = None,
) -> Response:
    result, error = _question(state, "investment", **({"budget": budget} if budget is not None else {}))
    receivables, receivables_error = _question(state, "receivables")
    context: dict[str, Any] = {"budget": budget, "error": error, "receivables_error": receivables_error}
    if result is not None:
        context["facts"], context["tables"] = split_result(result)
    if receivables is not None:
        context["receivables_facts"], context["receivables_tables"] = split_result(receivables)
    return render(request, "investment.html", **context)


@router.get("/cohorts")
def cohorts_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    period: Literal["month", "quarter", "year"] = "quarter",
    from_date: Annotated[dt.date | None, Query(alias="from")] = None,
    to_date: Annotated[dt.date | None, Query(alias="to")] = None,
    by: Literal["value_tier", "lifecycle_stage", "rfm"] = "value_tier",
) -> Response:
    result, error = _question(state, "cohorts", period=period)
    context: dict[str, Any] = {"period": period, "by": by, "error": error}
    if result is not None:
        context["facts"], context["tables"] = split_result(result)
    dates = [str(r["as_of"])[:10] for r in lookups.value_trend(state.cursor())]
    context["dates"] = dates
    if from_date is None and to_date is None and len(dates) >= 2:
        from_date, to_date = dt.date.fromisoformat(dates[-2]), dt.date.fromisoformat(dates[-1])
    context["from_date"], context["to_date"] = from_date, to_date
    if from_date is not None and to_date is not None:
        migration, migration_error = _question(state, "migration", from_date=str(from_date), to_date=str(to_date), by=by)
        context["migration_error"] = migration_error
        if migration is not None:
            context["migration_facts"], context["migration_tables"] = split_result(migration)
    return render(request, "cohorts.html", **context)


@router.get("/models")
def models_page(request: Request, user: Viewer, state: State, job: str | None = None) -> Response:
    cur = state.cursor()
    runs: list[dict[str, Any]] = []
    if lookups.has_table(cur, "score_runs"):
        c = cur.execute("SELECT * FROM score_runs ORDER BY created DESC LIMIT 20")
        names = [d[0] for d in c.description]
        runs = [dict(zip(names, r)) for r in c.fetchall()]
    fits: list[dict[str, Any]] = []
    if lookups.has_table(cur, "models"):
        cols = [c for c in lookups.table_columns(cur, "models") if c not in ("payload", "json", "model_json", "params_json")]
        c = cur.execute("SELECT " + ", ".join(f'"{x}"' for x in cols) + " FROM models ORDER BY 1 DESC LIMIT 20")
        fits = [dict(zip(cols, r)) for r in c.fetchall()]
    finished = [j.to_dict() for j in state.jobs.list() if j.kind in ("backtest", "fit") and j.status == "done"]
    backtest = next((j for j in finished if j["kind"] == "backtest"), None)
    fit = next((j for j in finished if j["kind"] == "fit"), None)
    context: dict[str, Any] = {"runs": runs, "fits": fits, **_job_context(state, job)}
    if backtest is not None:
        context["backtest_facts"], context["backtest_tables"] = split_result(backtest["result"])
    if fit is not None:
        context["fit_facts"], context["fit_tables"] = split_result(fit["result"])
    return render(request, "models.html", **context)


@router.post("/jobs/{kind}")
def start_job_from_page(
    request: Request, kind: Literal["score", "fit", "backtest"], user: Analyst, state: State,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    model: Annotated[str, Form(max_length=20)] = "auto",
    calibration_end: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    from cvm.web import tasks

    check_csrf(request, csrf_token)
    if kind == "score":
        job = tasks.start_score(state, user, model=model)
        return _redirect(f"/?job={job.id}")
    if kind == "fit":
        job = tasks.start_fit(state, user, model="bgnbd" if model == "auto" else model)
    else:
        if not calibration_end:
            raise SchemaError("a backtest needs a calibration end date", hint="pick a date such as 1997-09-30")
        job = tasks.start_backtest(state, user, calibration_end=_iso_date(calibration_end))
    return _redirect(f"/models?job={job.id}")


def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise SchemaError(f"'{text}' is not a date", hint="use YYYY-MM-DD") from None


# --------------------------------------------------------------------------- data


@router.get("/data")
def data_page(request: Request, user: Viewer, state: State, job: str | None = None) -> Response:
    total, rows = lookups.quarantine_rows(state.cursor())
    context: dict[str, Any] = {"quarantine_total": total, "quarantine": rows, **_job_context(state, job)}
    uploads = [j.to_dict() for j in state.jobs.list() if j.kind == "upload"][:10]
    context["uploads"] = uploads
    current = context["job"] or (uploads[0] if uploads else None)
    if current and current.get("status") == "done" and isinstance(current.get("result"), dict):
        result = dict(current["result"])
        context["report_preview"] = frame_records(result.pop("preview", None), limit=20)
        context["report_detected"] = result.pop("detected", None)
        context["report"] = result
    context["max_upload_mb"] = state.config.max_upload_bytes / (1024 * 1024)
    context["upload_types"] = state.config.upload_types
    return render(request, "data.html", **context)


@router.post("/data/upload")
def data_upload(
    request: Request, user: Analyst, state: State, file: UploadFile,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[Literal["transactions", "customers", "referrals", "costs", "invoices"], Form()] = "transactions",
) -> Response:
    from cvm.web import tasks

    check_csrf(request, csrf_token)
    job = tasks.start_upload(state, user, file, kind)
    return _redirect(f"/data?job={job.id}")


# --------------------------------------------------------------------------- settings


@router.get("/settings")
def settings_page(request: Request, user: Viewer, state: State, saved: int = 0) -> Response:
    return render(request, "settings.html", rows=_settings_rows(state.settings()), saved=bool(saved), error=None)


def _settings_rows(settings) -> list[tuple[str, Any]]:
    data = settings.model_dump()
    rows = []
    for key in settings.keys():
        value: Any = data
        for part in key.split("."):
            value = value[part]
        if key == "tier_cutoffs":
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        rows.append((key, value))
    return rows


@router.post("/settings")
async def settings_save(request: Request, user: Analyst, state: State) -> Response:
    form = await request.form(max_files=0, max_fields=100, max_part_size=10_000)
    check_csrf(request, str(form.get("csrf_token", "")))
    from cvm.settings import Settings

    current = state.settings()
    try:
        updated = current
        for key, old in _settings_rows(current):
            sent = form.get(key)
            if sent is None or str(sent) == str(old):
                continue
            if key == "tier_cutoffs":
                updated = updated.model_validate({**updated.model_dump(), "tier_cutoffs": _parse_tiers(str(sent))})
            else:
                updated = updated.set(key, str(sent))
    except (CvmError, ValueError) as exc:
        message = exc.message if isinstance(exc, CvmError) else str(exc).splitlines()[0]
        return render(request, "settings.html", status_code=400, rows=_settings_rows(current), saved=False, error=message)
    Settings.model_validate(updated.model_dump()).save(state.path / "settings.toml")
    state.settings_changed()
    return _redirect("/settings?saved=1")


def _parse_tiers(text: str) -> dict[str, float]:
    tiers: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        try:
            tiers[name.strip()] = float(value)
        except ValueError:
            raise SchemaError(f"tier cut-off '{part.strip()}' is not name=number",
                              hint="for example platinum=0.95, gold=0.8, silver=0.5, bronze=0") from None
    return tiers


# --------------------------------------------------------------------------- calculator


@router.get("/calculator")
def calculator_page(
    request: Request, user: Viewer, fmt: Fmt,
    gc: Annotated[float, Query(ge=-1e9, le=1e9)] = 100.0,
    m: Annotated[float, Query(ge=0, le=1e9)] = 10.0,
    n: Annotated[int, Query(ge=1, le=100)] = 5,
    r: Annotated[float, Query(ge=0, le=1)] = 0.8,
    d: Annotated[float, Query(gt=-1, le=10)] = 0.1,
) -> Response:
    from cvm.models.formula import break_even_retention_cost, classic_clv

    clv = float(classic_clv(gc, m, n, r, d))
    grid = [i / 100 for i in range(101)]
    curve = [float(v) for v in classic_clv(gc, m, n, grid, d)]
    chart = figure(
        [{"type": "scatter", "mode": "lines", "name": "CLV", "x": grid, "y": curve},
         {"type": "scatter", "mode": "markers", "name": fmt("calculator.your_r"), "x": [r], "y": [clv],
          "marker": {"size": 12}}],
        title=fmt("calculator.chart_title"), x_title=fmt("calculator.r"), y_title="CLV",
        separators=fmt.separators,
    )
    break_even = float(break_even_retention_cost(gc, n, r, d)) if r > 0 else None
    return render(request, "calculator.html", gc=gc, m=m, n=n, r=r, d=d, clv=clv, chart=chart, break_even=break_even)


# --------------------------------------------------------------------------- users (admin)


@router.get("/users")
def users_page(request: Request, user: Admin, state: State) -> Response:
    return render(request, "users.html", users=auth.list_users(state.cursor()), roles=auth.ROLES, new_token=None)


@router.post("/users")
def users_add(
    request: Request, user: Admin, state: State,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=1000)],
    role: Annotated[Literal["viewer", "analyst", "admin"], Form()],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    auth.store_user(state.cursor(), username, password, role)
    state.data_changed()
    return _redirect("/users")


@router.post("/users/{name}/delete")
def users_delete(
    request: Request, name: str, user: Admin, state: State, csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if name == user.name:
        raise SchemaError("you cannot remove yourself", hint="ask another admin")
    auth.remove_user(state.cursor(), name)
    state.data_changed()
    return _redirect("/users")


@router.post("/tokens")
def tokens_create(
    request: Request, user: Admin, state: State,
    role: Annotated[Literal["viewer", "analyst", "admin"], Form()],
    label: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    token = auth.store_token(state.cursor(), role, label or None)
    return render(request, "users.html", users=auth.list_users(state.cursor()), roles=auth.ROLES, new_token=token)
