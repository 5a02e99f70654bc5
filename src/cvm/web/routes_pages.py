"""The server-rendered pages. Each route parses its input, calls one library function, renders.

Library results are turned into labelled facts and tables with
:mod:`cvm.web.present` (chosen columns, headings from the catalogs, values in the
locale), plus a chart where the page has one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Callable, Literal, TypeVar
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BeforeValidator

from cvm.errors import AuthError, CvmError, SchemaError
from cvm.service.customers import customer_list
from cvm import answers
from cvm.service import cohorts, customer_view, investment, migration, receivables, segments, value_at_stake, value_matrix
from cvm.value.concentration import ConcentrationResult
from cvm.value.customer import CustomerView
from cvm.web import auth, lookups, present, tasks
from cvm.web.deps import (
    SESSION_COOKIE,
    Admin,
    Analyst,
    Fmt,
    Forbidden,
    State,
    Viewer,
    check_csrf,
    client_address,
    get_state,
    is_secure,
    language_of,
)
from cvm.web.deps import formatter as get_formatter
from cvm.web.render import figure, frame_records, money_axis, render, render_login

router = APIRouter(include_in_schema=False)


def _typed_number(value: Any) -> Any:
    """A number as a person types it, for pydantic to read: ``0,8`` and ``0.8``, ``5.000`` and ``5.000,50``
    (Dutch thousands), ``80%`` (0.8), ``€ 5000``. Text that is no number is passed on unchanged, so the
    page says "“abc” is not a number" with what was typed."""
    import re

    if not isinstance(value, str):
        return value
    t = value.strip().replace("\xa0", "").replace(" ", "").replace("€", "")
    share = t.endswith("%")
    t = t[:-1] if share else t
    if "," in t and "." in t:  # both marks: the last one is the decimal mark
        t = t.replace(".", "").replace(",", ".") if t.rfind(",") > t.rfind(".") else t.replace(",", "")
    elif "," in t:
        t = t.replace(",", ".") if t.count(",") == 1 else t.replace(",", "")
    elif re.fullmatch(r"-?[1-9]\d{0,2}(\.\d{3})+", t):  # 5.000 / 1.250.000: Dutch thousands
        t = t.replace(".", "")
    try:
        number = float(t)
    except ValueError:
        return value
    return str(number / 100 if share else number)


Typed = BeforeValidator(_typed_number)

T = TypeVar("T")


def _asked(question: Callable[[], T]) -> tuple[T | None, CvmError | None]:
    """``question()``: (its result, None), or (None, the error) for a user error.

    The page puts the error in its reader's language with :func:`_said`.
    """
    try:
        return question(), None
    except CvmError as exc:
        exc.__traceback__, exc.__context__ = None, None  # may be cached: hold no frames of the failed call
        return None, exc


def _said(fmt, error: CvmError | None) -> str | None:
    """A library error as a page shows it: its message and hint in the page's language (:func:`cvm.messages.describe`)."""
    from cvm.messages import describe

    return None if error is None else describe(error, fmt.language)


def _cached_question(state, key: str, question: Callable[[], T]) -> tuple[T | None, CvmError | None]:
    """:func:`_asked` remembered for a while under ``key`` (forgotten when data or settings change): the segment
    and investment pages ask several whole-workspace questions, which need not be recomputed at every visit."""
    return state.cached("question:" + key, lambda: _asked(question), ttl=300.0)


def _job_context(state, job_id: str | None, fmt) -> dict[str, Any]:
    """The job a page follows, its failure (if any) in the page's language."""
    job = state.jobs.get(job_id) if job_id else None
    if job is None:
        return {"job": None}
    shown = job.to_dict()
    shown["error"], shown["hint"] = job.failure_in(fmt.language)
    return {"job": shown}


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
    name = username.strip()
    keys = ("user:" + name, "addr:" + (client_address(request) or "?"))
    wait = state.throttle.retry_after(*keys)
    if wait:  # too early after failures, or locked: not even checked (the right password waits too)
        return _throttled(request, next, wait)
    try:
        principal = auth.login(state.access(), name, password)
    except AuthError:
        state.throttle.failed(*keys)
        state.audit("login_failed", request, target=name[:100])
        if any(state.throttle.locked(k) for k in keys):
            state.audit("login_throttled", request, target=name[:100], detail="locked after repeated failures")
        return render_login(request, status_code=401, next_path=next, error="login.failed")
    state.throttle.succeeded(keys[0])
    if not next.startswith("/") or next.startswith("//"):
        next = "/"
    key = state.start_session(principal, request)
    request.state.principal = principal
    state.audit("login_ok", request, target=principal.name)
    response = _redirect(next)
    response.set_cookie(
        SESSION_COOKIE, state.signer.dumps(principal, auth.new_csrf_token(), session=key), httponly=True,
        samesite="lax", secure=is_secure(request), max_age=int(state.settings().server.session_max_hours * 3600),
        path="/",
    )
    return response


def _throttled(request: Request, next_path: str, seconds: int) -> Response:
    """HTTP 429 on the login page: how long to wait, in the page's language, and ``Retry-After``."""
    from cvm.messages import localize

    message, hint = localize(AuthError.coded("login_throttled", seconds=seconds), language_of(request))
    response = render_login(request, status_code=429, next_path=next_path, error=message, error_hint=hint)
    response.headers["retry-after"] = str(seconds)
    return response


@router.post("/logout")
def logout(request: Request, user: Viewer, state: State, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    data = state.session_data(request)
    if data is not None and "s" in data:
        state.end_session(data["s"])
    state.audit("logout", request)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account_page(request: Request, user: Viewer, changed: int = 0) -> Response:
    return render(request, "account.html", changed=bool(changed), error=None)


@router.post("/account/password")
def account_password(
    request: Request, user: Viewer, state: State,
    current_password: Annotated[str, Form(max_length=1000)],
    new_password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A logged-in user changes their own password; their other sessions end, this one stays."""
    from cvm.messages import describe

    check_csrf(request, csrf_token)
    if user.via != "session":
        raise Forbidden("an API token has no password")
    keys = ("user:" + user.name, "addr:" + (client_address(request) or "?"))
    wait = state.throttle.retry_after(*keys)
    if wait:  # guessing the current password from a borrowed session is throttled like a login
        response = render(request, "account.html", status_code=429, changed=False,
                          error=describe(AuthError.coded("login_throttled", seconds=wait), get_formatter(request).language))
        response.headers["retry-after"] = str(wait)
        return response
    try:
        try:
            auth.login(state.access(), user.name, current_password)
        except AuthError:
            state.throttle.failed(*keys)
            raise
        keep = (state.session_data(request) or {}).get("s")
        auth.change_password(state.access(), user.name, new_password, keep_session=keep)
    except AuthError:
        error = describe(SchemaError.coded("password_wrong"), get_formatter(request).language)
        return render(request, "account.html", status_code=400, changed=False, error=error)
    except SchemaError as exc:
        return render(request, "account.html", status_code=400, changed=False,
                      error=describe(exc, get_formatter(request).language))
    state.access_changed(user.name, keep=keep)
    state.audit("password_changed", request, target=user.name, detail="by the user; other sessions ended")
    return _redirect("/account?changed=1")


# --------------------------------------------------------------------------- overview


@router.get("/")
def overview(request: Request, user: Viewer, state: State, fmt: Fmt, job: str | None = None) -> Response:
    cur = state.cursor()
    run = state.cached("latest_run", lambda: lookups.latest_run(cur))
    context: dict[str, Any] = {"run": run, **_job_context(state, job, fmt)}
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
            title=fmt("overview.trend"), x_title=fmt("common.as_of"), separators=fmt.separators,
            yaxis=money_axis(fmt, fmt("overview.value_axis")), xaxis=_dates_axis(trend, fmt),
        )
        stake, error = state.cached("value_at_stake:" + run["run_id"],
                                    lambda: _asked(lambda: value_at_stake(state.workspace())))
        context["concentration_error"] = _said(fmt, error)
        conc = stake.concentration if stake is not None else None
        if stake is not None:
            context["answer"] = answers.overview(stake, fmt.formats)
        if conc is not None:
            context["concentration"] = _concentration_facts(conc, fmt)
            context["top_customers"] = present.table(conc.top, ["customer_id", "clv", "value_share", "cumulative_share"])
            if not conc.lorenz.empty:
                context["lorenz_chart"] = figure(
                    [{"type": "scatter", "mode": "lines", "name": fmt("overview.lorenz"),
                      "x": conc.lorenz["customer_share"].tolist(), "y": conc.lorenz["value_share"].tolist()},
                     {"type": "scatter", "mode": "lines", "name": fmt("overview.equality"), "x": [0, 1], "y": [0, 1],
                      "line": {"dash": "dot"}}],
                    title=fmt("overview.concentration"), x_title=fmt("overview.share_customers"),
                    y_title=fmt("overview.share_value"), separators=fmt.separators,
                    xaxis={"tickformat": ".0%", "title": {"text": fmt("overview.share_customers")}},
                    yaxis={"tickformat": ".0%", "title": {"text": fmt("overview.share_value")}},
                )
    return render(request, "overview.html", **context)


def _dates_axis(rows: list[dict[str, Any]], fmt) -> dict[str, Any]:
    """An axis of scoring dates with a tick at each date, written as the page writes dates (30-06-1998)."""
    dates = [r["as_of"] for r in rows]
    return {"title": {"text": fmt("common.as_of")}, "tickvals": dates, "ticktext": [fmt.date(d) for d in dates]}


def _concentration_facts(conc: ConcentrationResult, fmt) -> list[tuple[str, str]]:
    """The concentration result in sentences: how few customers make most of the value, and the Gini."""
    facts = [(fmt("overview.conc_needed", share=fmt.percent(conc.share, 0)),
              fmt("overview.conc_customers", n=fmt.number(conc.customers_needed), pct=fmt.percent(conc.customer_share)))]
    historic = conc.by_column.get("historic_value")
    if historic is not None:
        facts.append((fmt("overview.conc_needed_historic", share=fmt.percent(conc.share, 0)),
                      fmt("overview.conc_customers", n=fmt.number(historic["customers_needed"]),
                          pct=fmt.percent(historic["customer_share"]))))
    facts.append((fmt("overview.gini"), fmt.number(conc.gini, 2)))
    if historic is not None:
        facts.append((fmt("overview.gini_historic"), fmt.number(historic["gini"], 2)))
    return facts


# --------------------------------------------------------------------------- segments


SegmentBy = Literal["rfm", "value_tier", "lifecycle_stage", "matrix", "channel"]


SEGMENT_COLUMNS = ["segment", "customers", "customer_share", "historic_value_sum", "clv_sum", "clv_share", "clv_mean",
                   "probability_alive_mean", "expected_purchases_sum"]
MATRIX_COLUMNS = ["customer_id", "matrix_segment", "clv", "network_value", "referrals_given", "economic_score",
                  "relational_score", "composite_score"]
#: the value matrix quadrants: (economic value high?, relational value high?) -> segment code
MATRIX_QUADRANTS = [("Ambassadors & partners", "Key customers"), ("Basic customers", "Revenue customers")]


@router.get("/segments")
def segments_page(request: Request, user: Viewer, state: State, fmt: Fmt, by: SegmentBy = "value_tier") -> Response:
    ws = state.workspace()
    result, error = _cached_question(state, "segments:" + by, lambda: segments(ws, by=by))
    context: dict[str, Any] = {"by": by, "error": _said(fmt, error), "choices": SegmentBy.__args__}
    if result is not None:
        context["answer"] = answers.segments(result, fmt.formats, ws.settings.stage_rules.at_risk_below)
        context["segments"] = present.table(result, SEGMENT_COLUMNS, labels={"segment": "segments.by." + by})
        if not result.empty:
            context["chart"] = _bar_chart(result, fmt, fmt("segments.chart_title"))
    quadrants, matrix_error = _cached_question(state, "segments:matrix", lambda: segments(ws, by="matrix"))
    if quadrants is not None:
        cells = {r["segment"]: r for r in quadrants.to_dict(orient="records")}
        empty = {"customers": 0, "customer_share": 0.0, "clv_sum": 0.0, "clv_share": 0.0}
        context["quadrants"] = [[cells.get(code, {"segment": code, **empty}) for code in row] for row in MATRIX_QUADRANTS]
    matrix, matrix_error2 = _cached_question(state, "value_matrix", lambda: value_matrix(ws))
    if matrix is not None:
        context["matrix"] = present.table(matrix, MATRIX_COLUMNS, limit=20)  # best composite score first
    context["matrix_error"] = _said(fmt, matrix_error or matrix_error2)
    return render(request, "segments.html", **context)


def _bar_chart(result: pd.DataFrame, fmt, title: str) -> dict[str, Any]:
    """Bar chart of predicted value (CLV) per segment (:func:`cvm.value.segments`), with the segments in words."""
    return figure(
        [{"type": "bar", "x": [fmt.term(v) for v in result["segment"]], "y": result["clv_sum"].tolist(),
          "name": fmt.label("clv_sum")}],
        title=title, separators=fmt.separators, yaxis=money_axis(fmt, fmt.label("clv_sum")),
    )


# --------------------------------------------------------------------------- customers and the 360 view


@router.get("/customers")
def customers_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The scored customers of the latest valuation, best first, 50 a page; a search by id prefix or name.

    The columns are those of ``cvm customers`` (:func:`cvm.service.customers.customer_list`), with the name
    next to the id when names were searched.
    """
    run = state.latest_run()
    context: dict[str, Any] = {"q": q, "run": run, "page": page}
    if run is not None:
        search = q.strip() or None
        listing = customer_list(state.workspace(), run_id=run["run_id"], id_prefix=search, name_contains=search,
                                limit=50, offset=0 if search else (page - 1) * 50)
        if search and listing.total == 1:  # one match (an exact number or a unique name): straight to the customer
            return _redirect("/customers/" + quote(str(listing.rows["customer_id"].iloc[0]), safe=""))
        context["total"] = listing.total
        context["answer"] = answers.customers(listing.total, run["as_of"], fmt.formats) if not search else None
        context["customers"] = present.table(listing.records(), list(listing.rows.columns))
    return render(request, "customers.html", **context)


# {customer_id:path}: an id may hold '/' (sent as %2F, which the server decodes before routing)
@router.get("/customers/{customer_id:path}")
def customer_page(request: Request, customer_id: str, user: Viewer, state: State, fmt: Fmt) -> Response:
    if not customer_id:  # "/customers/": the list
        return _redirect("/customers")
    view, error = _asked(lambda: customer_view(state.workspace(), customer_id))
    context: dict[str, Any] = {"customer_id": customer_id, "error": _said(fmt, error)}
    if view is None:
        run, row = state.customer_score(customer_id)
        if row is None:  # not a customer of the workspace: say so in the page's language, with look-alikes
            context["error"] = fmt("customer.not_found", id=customer_id)
            context["similar"] = lookups.similar_customers(state.cursor(), run["run_id"], customer_id) if run else []
    else:
        run = state.latest_run()
        unit = run.get("time_unit") if run and run.get("run_id") == (view.score or {}).get("run_id") else None
        context.update(_customer_context(view, fmt, unit))
        context["timeline_chart"] = _timeline_chart(view.transactions, fmt)
        context["alive_chart"] = _alive_chart(view.history, fmt)
    return render(request, "customer.html", status_code=200 if error is None else 404, **context)


#: the score columns shown in the customer's "details" fold, in this order
SCORE_DETAILS = ["historic_value", "expected_purchases", "expected_spend", "residual_value", "max_investment",
                 "frequency", "recency", "T", "monetary_value", "n_transactions", "first_purchase", "last_purchase",
                 "rank", "percentile", "margin_rate", "planned_cost", "as_of"]


def _customer_context(view: CustomerView, fmt, unit: str | None = None) -> dict[str, Any]:
    """What the 360 page shows: the headline first, then history, referrals, invoices, and details in a fold."""
    score = view.score or {}
    attributes = view.attributes
    action = view.action or {}
    out: dict[str, Any] = {"score": score, "name": attributes.get("name") or attributes.get("customer_name")}
    out["action"] = action.get("action")
    out["action_reason"] = present.action_reason(fmt, action, score)
    out["rfm_segment"] = view.segment
    out["stage"] = view.stage or score.get("lifecycle_stage")
    out["history"] = present.table(view.history, ["as_of", "probability_alive", "clv", "clv_low", "clv_high",
                                                  "value_tier", "lifecycle_stage"])
    out["channels"] = present.table(view.channels, ["channel", "transactions", "amount", "first", "last"])
    out["transactions"] = present.table(view.transactions, ["ts", "amount", "channel", "order_id", "margin"],
                                        limit=25, labels={"ts": "common.date", "margin": "col.transaction_margin"},
                                        kinds={"margin": "money"})
    out["referrals"] = present.table(view.referrals, ["direction", "referrer_id", "referred_id", "ts"],
                                     labels={"ts": "common.date"})
    out["referred_by"] = view.referred_by
    out["network_value"] = view.network_value
    invoice_cols = ["invoice_id", "issued", "due", "amount", "paid", "outstanding", "days_late", "days_overdue", "bucket"]
    out["invoices"] = present.table(view.invoices, invoice_cols, limit=25,
                                    kinds={"days_overdue": "days", "days_late": "days"})
    out["details"] = [(fmt.label(k), _in_units(fmt, score.get(k), unit) if k in ("recency", "T") else fmt.cell(k, score.get(k)))
                      for k in SCORE_DETAILS if k in score]
    out["attributes"] = [(fmt.attribute_label(k), fmt.cell(k, v)) for k, v in attributes.items()
                         if k not in ("name", "customer_name")]
    out["run_id"] = score.get("run_id")
    out["notes"] = view.notes
    return out


def _in_units(fmt, value: Any, unit: str | None) -> str:
    """A length of time in the model's time unit, with the unit (``69,71 weken``); without a known unit the number."""
    number = fmt.number(value, 1)
    return fmt("answer.in_units", n=number, unit=fmt(f"report.unit.{unit}")) if unit else number


def _timeline_chart(transactions: pd.DataFrame, fmt) -> dict[str, Any] | None:
    """The customer's transactions over time (:attr:`cvm.value.customer.CustomerView.transactions`), one trace
    per channel."""
    if transactions.empty:
        return None
    channels = (transactions["channel"] if "channel" in transactions.columns
                else pd.Series(None, index=transactions.index, dtype=object))
    named = channels.map(lambda c: fmt.term(c) if isinstance(c, str) and c else fmt("customer.no_channel"))
    traces = [
        {"type": "scatter", "mode": "markers", "name": channel, "x": rows["ts"].tolist(), "y": rows["amount"].tolist(),
         "marker": {"size": 9}}
        for channel, rows in transactions.groupby(named, sort=False)
    ]
    return figure(traces, title=fmt("customer.timeline"), x_title=fmt("common.date"),
                  yaxis=money_axis(fmt, fmt("customer.amount")), separators=fmt.separators)


def _alive_chart(history: pd.DataFrame, fmt) -> dict[str, Any] | None:
    """P(alive) at every stored scoring run (:attr:`cvm.value.customer.CustomerView.history`)."""
    if history.empty:
        return None
    label = fmt.label("probability_alive")
    rows = history[["as_of", "probability_alive"]].to_dict(orient="records")
    return figure(
        [{"type": "scatter", "mode": "lines+markers", "name": label, "x": [r["as_of"] for r in rows],
          "y": [r["probability_alive"] for r in rows]}],
        title=fmt("customer.alive_history"), y_title=label, xaxis=_dates_axis(rows, fmt),
        yaxis={"range": [0, 1.05], "tickformat": ".0%", "title": {"text": label}}, separators=fmt.separators,
    )


# --------------------------------------------------------------------------- investment, cohorts, models


INVESTMENT_COLUMNS = ["group", "customers", "historic_value", "clv", "cost", "cost_to_serve", "roi", "clv_share",
                      "cost_share", "flag"]
ACQUISITION_COLUMNS = ["channel", "customers", "mean_clv", "acquisition_cost", "max_acquisition_cost", "headroom",
                       "acquisition_verdict"]
PLAN_COLUMNS = ["customer_id", "clv", "probability_alive", "value_at_risk", "expected_saving", "retention_cost",
                "saving_per_cost"]


@router.get("/investment")
def investment_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    budget: Annotated[float | None, Typed, Query(ge=0, le=1e12)] = None,
) -> Response:
    ws = state.workspace()
    result, error = _cached_question(state, f"investment:{budget}", lambda: investment(ws, budget=budget))
    owed, receivables_error = _cached_question(state, "receivables", lambda: receivables(ws))
    if receivables_error and not lookups.has_table(state.cursor(), "invoices"):
        # not a fault but a missing file: say where a manager adds it (the library's hint names a CLI command)
        receivables_said = fmt("investment.no_invoices")
    else:
        receivables_said = _said(fmt, receivables_error)
    context: dict[str, Any] = {"budget": budget, "error": _said(fmt, error), "receivables_error": receivables_said,
                               "budget_text": "" if budget is None else fmt.formats.number(budget, 2, optional=True)}
    if result is not None:
        context["answer"] = answers.investment(result, fmt.formats)
        context["plan_answer"] = answers.budget(result.plan, fmt.formats)
        if result.retention is not None:
            chosen = result.retention[result.retention["selected"]]
            context["plan"] = present.table(chosen, PLAN_COLUMNS, limit=25,
                                            kinds={"saving_per_cost": "money", "value_at_risk": "money",
                                                   "expected_saving": "money", "retention_cost": "money"})
        context["facts"] = [(fmt.label("total_cost"), fmt.money(float(result.customers["cost"].sum()), digits=0))]
        context["by_segment"] = present.table(result.by_segment, INVESTMENT_COLUMNS, labels={"group": "col.segment"})
        context["by_channel"] = present.table(result.by_channel, INVESTMENT_COLUMNS, labels={"group": "col.channel"})
        context["acquisition"] = present.table(result.acquisition, ACQUISITION_COLUMNS,
                                               kinds={"acquisition_verdict": "term"})
    if owed is not None:
        context["receivables_facts"] = [
            (fmt.label("as_of"), fmt.date(owed.as_of)),
            (fmt.label("outstanding"), fmt.money(owed.outstanding, digits=0)),
            (fmt.label("overdue"), fmt.money(owed.overdue, digits=0)),
            (fmt.label("dso"), fmt.cell("dso", owed.dso)),
        ]
        context["ageing"] = present.table(owed.ageing, ["bucket", "invoices", "amount"])
        context["receivables_by_segment"] = present.table(
            owed.by_segment, ["segment", "customers", "invoiced", "outstanding", "overdue", "avg_days_late"])
        context["receivables_by_customer"] = present.table(
            owed.owing.head(50), ["customer_id", "invoices", "invoiced", "outstanding", "overdue", "overdue_90_plus",
                                      "max_days_overdue", "avg_days_late", "collection_risk"], limit=20)
    return render(request, "investment.html", **context)


COHORT_COLUMNS = ["cohort", "age", "customers", "active", "retention", "value", "cumulative_value",
                  "cumulative_value_per_customer"]


@router.get("/cohorts")
def cohorts_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    period: Literal["month", "quarter", "year"] = "quarter",
    from_date: Annotated[dt.date | None, Query(alias="from")] = None,
    to_date: Annotated[dt.date | None, Query(alias="to")] = None,
    by: Literal["value_tier", "lifecycle_stage", "rfm"] = "value_tier",
) -> Response:
    ws = state.workspace()
    result, error = _asked(lambda: cohorts(ws, period=period))
    context: dict[str, Any] = {"period": period, "by": by, "error": _said(fmt, error)}
    if result is not None:
        context["answer"] = answers.cohorts(result, fmt.formats, period)
        context["cohorts"] = present.table(result, COHORT_COLUMNS, labels={"age": "cohorts.age." + period})
        context["retention_chart"] = _retention_chart(result, fmt, period)
    dates = [str(r["as_of"])[:10] for r in lookups.value_trend(state.cursor())]
    context["dates"] = dates
    if from_date is None and to_date is None and len(dates) >= 2:
        from_date, to_date = dt.date.fromisoformat(dates[-2]), dt.date.fromisoformat(dates[-1])
    context["from_date"], context["to_date"] = from_date, to_date
    if from_date is not None and to_date is not None:
        if {str(from_date), str(to_date)} <= set(dates):  # both dates valued before: read the stored runs
            moves, migration_error = _asked(lambda: migration(ws, from_date=str(from_date), to_date=str(to_date),
                                                              by=by))
        else:  # a date never valued is scored and stored first: that is a change of the workspace
            with state.writing() as writer:
                moves, migration_error = _asked(lambda: migration(writer, from_date=str(from_date),
                                                                  to_date=str(to_date), by=by))
        context["migration_error"] = _said(fmt, migration_error)
        if moves is not None:
            data = moves.to_dict()
            context["migration"] = present.matrix(data["counts"], data["shares"])
            context["migration_facts"] = [
                (fmt("cohorts.moved_up"), fmt.number(moves.moved_up)),
                (fmt("cohorts.stayed"), fmt.number(moves.stayed)),
                (fmt("cohorts.moved_down"), fmt.number(moves.moved_down)),
            ]
    return render(request, "cohorts.html", **context)


def _retention_chart(result: pd.DataFrame, fmt, period: str) -> dict[str, Any] | None:
    """Share of each cohort still buying, by periods since the cohort started (:func:`cvm.value.cohorts`)."""
    if result.empty:
        return None
    traces = []
    for cohort, rows in result.groupby("cohort", sort=True):
        traces.append({"type": "scatter", "mode": "lines+markers", "name": fmt.cell("cohort", cohort),
                       "x": rows["age"].tolist(), "y": rows["retention"].tolist()})
    return figure(traces[-12:], title=fmt("cohorts.retention_chart"), x_title=fmt("cohorts.age." + period),
                  y_title=fmt.label("retention"), separators=fmt.separators,
                  yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": {"text": fmt.label("retention")}})


RUN_COLUMNS = ["as_of", "model", "n_customers", "total_clv", "horizon", "time_unit", "discount_rate", "margin", "level",
               "created"]
FIT_COLUMNS = ["created", "model", "as_of", "calibration_end", "time_unit", "n_customers", "log_likelihood"]
BACKTEST_COLUMNS = ["model", "holdout_actual", "holdout_predicted", "holdout_error_pct", "tracking_error",
                    "mae_purchases", "chi_square_p_value", "ranking_gini", "top_decile_share", "aic"]


@router.get("/models")
def models_page(request: Request, user: Viewer, state: State, fmt: Fmt, job: str | None = None) -> Response:
    runs = lookups.recent_runs(state.cursor())
    fits = lookups.recent_fits(state.cursor())
    finished = [j.to_dict() for j in state.jobs.list() if j.kind in ("backtest", "fit") and j.status == "done"]
    backtest = next((j for j in finished if j["kind"] == "backtest"), None)
    fit = next((j for j in finished if j["kind"] == "fit"), None)
    rate_kinds = {"margin": "percent", "discount_rate": "percent", "level": "percent"}
    context: dict[str, Any] = {
        "runs": present.table(runs, RUN_COLUMNS, kinds=rate_kinds),
        # each valuation named as people know it (its date and model), not by its run id
        "run_details": [(f"{fmt.date(r.get('as_of'))} · {fmt.term(r.get('model'))}", present.run_reason(fmt, r))
                        for r in runs],
        "fits": present.table(fits, FIT_COLUMNS),
        **_job_context(state, job, fmt),
    }
    if backtest is not None:
        context.update(_backtest_context(backtest["result"], fmt))
    else:  # the latest backtest stored in the workspace (cvm backtest, cvm demo), not only one run from this page
        stored, _ = state.cached("stored_backtest", lambda: _asked(lambda: _stored_backtest(state.workspace())))
        if stored is not None:
            context.update(_backtest_context(stored, fmt))
    context["answer"] = answers.models(runs[0] if runs else None, fmt.formats)
    if fit is not None:
        context.update(_fit_context(fit["result"], fmt))
    return render(request, "models.html", **context)


def _stored_backtest(ws) -> dict[str, Any] | None:
    """The workspace's latest stored backtest as the backtest job returns it (JSON-safe dict), or None."""
    from cvm.jsonsafe import json_safe
    from cvm.service import latest_backtest

    found = latest_backtest(ws)
    return None if found is None else json_safe(found.to_dict())


def _backtest_context(result: dict[str, Any], fmt) -> dict[str, Any]:
    models = result.get("models") or {}
    rows = [{"model": name, **metrics} for name, metrics in models.items()
            if isinstance(metrics, dict) and "holdout_actual" in metrics]
    return {
        "backtest_facts": [
            (fmt("models.best"), fmt.term(result.get("best"))),
            (fmt.label("calibration_end"), fmt.date(result.get("calibration_end"))),
            (fmt.label("holdout_end"), fmt.date(result.get("holdout_end"))),
            (fmt.label("n_customers"), fmt.number(result.get("n_customers"))),
        ],
        "backtest_reason": present.backtest_reason(fmt, result),
        "backtest_models": present.table(rows, BACKTEST_COLUMNS,
                                         kinds={"holdout_actual": "count", "holdout_predicted": "count",
                                                "holdout_error_pct": "percent", "tracking_error": "percent",
                                                "aic": "count", "top_decile_share": "percent"}),
    }


def _fit_context(result: dict[str, Any], fmt) -> dict[str, Any]:
    params = result.get("params") or {}
    stderr = result.get("stderr") or {}
    return {
        "fit_facts": [
            (fmt.label("model"), fmt.term(result.get("model"))),
            (fmt.label("n_customers"), fmt.number(result.get("n_customers"))),
            (fmt.label("log_likelihood"), fmt.number(result.get("log_likelihood"), 2)),
            (fmt("models.converged"), fmt("common.yes") if result.get("converged") else fmt("common.no")),
        ],
        "fit_params": [{"parameter": k, "estimate": v, "stderr": stderr.get(k)} for k, v in params.items()],
    }


@router.post("/jobs/{kind}")
def start_job_from_page(
    request: Request, kind: Literal["score", "fit", "backtest"], user: Analyst, state: State,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    model: Annotated[str, Form(max_length=20)] = "auto",
    calibration_end: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if kind == "score":
        job = tasks.start_score(state, user, model=model)
        return _redirect(f"/?job={job.id}")
    if kind == "fit":
        job = tasks.start_fit(state, user, model="bgnbd" if model == "auto" else model)
    else:
        if not calibration_end:
            raise SchemaError.coded("backtest_needs_calibration_end")
        job = tasks.start_backtest(state, user, calibration_end=_iso_date(calibration_end))
    return _redirect(f"/models?job={job.id}")


def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise SchemaError.coded("not_a_date", text=text) from None


# --------------------------------------------------------------------------- data


@router.get("/data")
def data_page(request: Request, user: Viewer, state: State, fmt: Fmt, job: str | None = None) -> Response:
    total, rows = lookups.quarantine_rows(state.cursor())
    rows = [{**row, "reason": present.quarantine_reason(fmt, row.get("reason"), row.get("reason_code"),
                                                        row.get("reason_values"))} for row in rows]
    context: dict[str, Any] = {"quarantine_total": total, "quarantine": rows, **_job_context(state, job, fmt)}
    uploads = [j.to_dict() for j in state.jobs.list() if j.kind == "upload"][:10]
    context["uploads"] = uploads
    current = context["job"] or (uploads[0] if uploads else None)
    if current and current.get("status") == "done" and isinstance(current.get("result"), dict):
        result = dict(current["result"])
        # the preview's reasons in the page's language (from their codes), the code columns left out
        preview = [{**{k: v for k, v in row.items() if k not in ("reason_code", "reason_values")},
                    "reason": present.quarantine_reason(fmt, row.get("reason"), row.get("reason_code"),
                                                        row.get("reason_values"))}
                   for row in result.pop("preview", None) or []]
        context["report_preview"] = frame_records(preview, limit=20)
        context["report_detected"] = _detected_facts(result.pop("detected", None), fmt)
        context["report"] = [(fmt.label(k), fmt.term(v) if k == "table" else fmt.cell(k, v))
                             for k, v in result.items() if k in ("source", "table", "rows_read", "accepted",
                                                                 "quarantined", "duplicates")]
    context["max_upload_mb"] = state.config.max_upload_bytes / (1024 * 1024)
    context["upload_types"] = state.config.upload_types
    context["health"] = _health_lines(state, fmt)
    context["answer"] = answers.data(total, context["health"], fmt.formats)
    return render(request, "data.html", **context)


def _health_lines(state, fmt) -> list[dict[str, Any]]:
    """The data-health summary (:mod:`cvm.health`) of the data and the dashboard's latest valuation, in the page's
    language; computed once until the data change (it reads the whole workspace)."""
    from cvm.health import data_health

    def compute():
        run = lookups.latest_run(state.cursor())
        return data_health(state.workspace(), run_id=run["run_id"] if run else None, scored=run is not None)

    return state.cached("health", compute, ttl=600.0).sentences(fmt.language)


def _date_pattern(pattern: str, fmt) -> str:
    """A date format as the reader found it (``%d-%m-%Y``) in the letters people use (dd-mm-jjjj / dd-mm-yyyy)."""
    letters = {"%d": "dd", "%m": "mm", "%Y": fmt("data.pattern.year"), "%y": fmt("data.pattern.year")[:2],
               "%H": fmt("data.pattern.hour"), "%M": fmt("data.pattern.minute"), "%S": "ss", "%b": "mmm", "%B": "mmmm",
               "%f": "", "%z": "", "%%": "%"}
    for code, word in letters.items():
        pattern = pattern.replace(code, word)
    return pattern.replace("T", " ").strip(" .:")


def _detected_facts(detected: Any, fmt) -> list[tuple[str, str]]:
    """What the reader found out about an uploaded file, in words; the column mapping as "label ← file column"."""
    if not isinstance(detected, dict):
        return []
    facts: list[tuple[str, str]] = []
    for key in ("format", "encoding", "delimiter", "decimal", "date_format", "header_line", "sheet"):
        value = detected.get(key)
        if value not in (None, ""):
            shown = fmt("data.tab") if value == "\t" else _date_pattern(str(value), fmt) if key == "date_format" else str(value)
            facts.append((fmt("data.detected." + key), shown))
    mapping = detected.get("mapping")
    if isinstance(mapping, dict):
        from markupsafe import Markup

        template = Markup.escape(fmt("data.from_column", column="{column}"))
        for target, source in mapping.items():
            # the file's own column name is the user's data: shown as it is, marked as such
            facts.append((fmt.label(target), template.replace("{column}", Markup('<code class="data">%s</code>') % source)))
    return facts


@router.post("/data/upload")
def data_upload(
    request: Request, user: Analyst, state: State, file: UploadFile,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[Literal["transactions", "customers", "referrals", "costs", "invoices"], Form()] = "transactions",
) -> Response:
    check_csrf(request, csrf_token)
    job = tasks.start_upload(state, user, file, kind)
    state.audit("upload", request, target=file.filename, detail=kind)
    return _redirect(f"/data?job={job.id}")


# --------------------------------------------------------------------------- settings


@router.get("/settings")
def settings_page(request: Request, user: Viewer, state: State, fmt: Fmt, saved: int = 0) -> Response:
    return render(request, "settings.html", rows=_settings_rows(state.settings(), fmt), saved=bool(saved), error=None)


def _settings_rows(settings, fmt=None) -> list[tuple[str, Any]]:
    """The settings as the form shows them: a single number with the page's decimal mark (0,3 on
    Dutch pages, read back by :func:`_setting_text`); tier cut-offs as ``name=share`` with a point,
    since their list is comma-separated. Without ``fmt``: the values themselves."""
    data = settings.model_dump()
    rows = []
    for key in settings.keys():
        if key.startswith("server."):  # how the server runs: the admin's, in settings.toml or cvm serve's options
            continue
        value: Any = data
        for part in key.split("."):
            value = value[part]
        if key == "tier_cutoffs":  # as percentages, the tiers in the page's words (platina=95%)
            value = ", ".join(f"{fmt.term(k) if fmt is not None else k}={round(v * 100, 4):g}%" for k, v in value.items())
        elif isinstance(value, float) and fmt is not None and fmt.language == "nl":
            value = repr(value).replace(".", ",")
        rows.append((key, value))
    return rows


@router.post("/settings")
async def settings_save(request: Request, user: Analyst, state: State, fmt: Fmt) -> Response:
    form = await request.form(max_files=0, max_fields=100, max_part_size=10_000)
    check_csrf(request, str(form.get("csrf_token", "")))
    from cvm.settings import Settings

    current = state.settings()
    try:
        updated = current
        for (key, old), (_, shown) in zip(_settings_rows(current), _settings_rows(current, fmt)):
            sent = form.get(key)
            if sent is None or str(sent) in (str(old), str(shown)):
                continue
            try:
                if key == "tier_cutoffs":
                    named = {fmt.term(code): code for code in current.tier_cutoffs}
                    updated = updated.model_validate({**updated.model_dump(),
                                                      "tier_cutoffs": _parse_tiers(str(sent), named)})
                else:
                    updated = updated.set(key, _setting_text(str(sent), old))
            except (CvmError, ValueError) as exc:
                raise _SettingRejected(_setting_error(fmt, key, exc)) from None
    except _SettingRejected as rejected:
        return render(request, "settings.html", status_code=400, rows=_settings_rows(current, fmt), saved=False,
                      error=str(rejected))
    Settings.model_validate(updated.model_dump()).save(state.path / "settings.toml")
    state.settings_changed()
    changed = [key for (key, old), (_, new) in zip(_settings_rows(current), _settings_rows(updated)) if old != new]
    state.audit("settings_changed", request, target=", ".join(changed) or None)
    return _redirect("/settings?saved=1")


class _SettingRejected(Exception):
    """A setting the form sent was not accepted; the message is in the page's language."""


def _setting_text(sent: str, old: Any) -> str:
    """The form's text of a setting, with a decimal comma read as the decimal point (0,3 -> 0.3) for numbers."""
    import re

    if isinstance(old, (int, float)) and not isinstance(old, bool) and re.fullmatch(r"\s*-?\d*,\d+\s*", sent):
        return sent.replace(",", ".")
    return sent


def _setting_error(fmt, key: str, exc: Exception) -> str:
    """Why a setting was refused, in the page's language, naming the setting by its label.

    The settings model's own check (pydantic) says what was wrong (not a number,
    above the maximum); that error is put in words here. Other refusals (a tier
    cut-off that is not name=number) keep the library's message.
    """
    from pydantic import ValidationError

    from cvm.web.i18n import invalid_input

    if key in ("currency", "tier_cutoffs"):  # checks of the library's own: their rule in words
        return fmt("invalid." + key, field=fmt.label(key))
    cause = exc if isinstance(exc, ValidationError) else exc.__context__
    if isinstance(cause, ValidationError) and cause.errors():
        return invalid_input(fmt, fmt.label(key), cause.errors()[0])
    if isinstance(exc, CvmError):
        from cvm.messages import localize

        return f"{fmt.label(key)}: {localize(exc, fmt.language)[0]}"
    return f"{fmt.label(key)}: {str(exc).splitlines()[0]}"


def _parse_tiers(text: str, named: dict[str, str] | None = None) -> dict[str, float]:
    """Tier cut-offs as typed: ``platinum=0.95`` or ``platina=95%``; ``named`` maps a tier's words on the page
    back to its code."""
    tiers: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        value = value.strip()
        try:
            number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
            tiers[(named or {}).get(name.strip(), name.strip())] = number
        except ValueError:
            raise SchemaError(f"tier cut-off '{part.strip()}' is not name=number",
                              hint="for example platinum=0.95, gold=0.8, silver=0.5, bronze=0") from None
    return tiers


# --------------------------------------------------------------------------- calculator


@router.get("/calculator")
def calculator_page(
    request: Request, user: Viewer, fmt: Fmt,
    gc: Annotated[float, Typed, Query(ge=-1e9, le=1e9)] = 100.0,
    m: Annotated[float, Typed, Query(ge=0, le=1e9)] = 10.0,
    n: Annotated[int, Query(ge=1, le=100)] = 5,
    r: Annotated[float, Typed, Query(ge=0, le=1)] = 0.8,
    d: Annotated[float, Typed, Query(gt=-1, le=10)] = 0.1,
) -> Response:
    from cvm.models.formula import break_even_retention_cost, classic_clv

    clv = float(classic_clv(gc, m, n, r, d))
    grid = [i / 100 for i in range(101)]
    curve = [float(v) for v in classic_clv(gc, m, n, grid, d)]
    chart = figure(
        [{"type": "scatter", "mode": "lines", "name": "CLV", "x": grid, "y": curve},
         {"type": "scatter", "mode": "markers", "name": fmt("calculator.your_r"), "x": [r], "y": [clv],
          "marker": {"size": 12}}],
        title=fmt("calculator.chart_title"), separators=fmt.separators,
        xaxis={"title": {"text": f"r ({fmt('calculator.r')})"}, "tickformat": ".0%"},
        yaxis=money_axis(fmt, "CLV"),
    )
    break_even = float(break_even_retention_cost(gc, n, r, d)) if r > 0 else None
    shown = {k: fmt.formats.number(v, 4, optional=True) for k, v in {"gc": gc, "m": m, "r": r, "d": d}.items()}
    return render(request, "calculator.html", gc=gc, m=m, n=n, r=r, d=d, clv=clv, chart=chart, break_even=break_even,
                  shown=shown, answer=answers.calculator(clv, break_even, m, n, fmt.formats))


# --------------------------------------------------------------------------- users (admin)


def _users_page(request: Request, state, status_code: int = 200, new_token: str | None = None,
                error: str | None = None) -> Response:
    """The admin's page: users, API tokens and the latest audit events."""
    from cvm.web import audit

    cur = state.access()
    return render(request, "users.html", status_code=status_code, users=auth.list_users(cur), roles=auth.ROLES,
                  tokens=auth.list_tokens(cur), events=audit.read(cur, limit=100), new_token=new_token, error=error)


def _users_error(request: Request, state, exc: CvmError) -> Response:
    from cvm.messages import describe

    return _users_page(request, state, status_code=400, error=describe(exc, get_formatter(request).language))


@router.get("/users")
def users_page(request: Request, user: Admin, state: State) -> Response:
    return _users_page(request, state)


@router.post("/users")
def users_add(
    request: Request, user: Admin, state: State,
    username: Annotated[str, Form(min_length=1, max_length=200)],
    password: Annotated[str, Form(min_length=1, max_length=1000)],
    role: Annotated[Literal["viewer", "analyst", "admin"], Form()],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        name = auth.store_user(state.access(), username, password, role)
    except SchemaError as exc:  # a name with '/', a short password: said on the page, nothing stored
        return _users_error(request, state, exc)
    state.access_changed(name)
    state.audit("user_added", request, target=name, detail=f"role {role}")
    return _redirect("/users")


# {name:path}: a user made before names were checked may hold a '/' and must still be removable
@router.post("/users/{name:path}/delete")
def users_delete(
    request: Request, name: str, user: Admin, state: State, csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if name == user.name:
        raise SchemaError.coded("cannot_remove_self")
    if auth.remove_user(state.access(), name):
        state.audit("user_removed", request, target=name)
    state.access_changed(name)
    return _redirect("/users")


@router.post("/users/{name:path}/password")
def users_password(
    request: Request, name: str, user: Admin, state: State,
    password: Annotated[str, Form(min_length=1, max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """An admin sets a user's password; every session of that user ends (the admin's own current one stays)."""
    check_csrf(request, csrf_token)
    keep = (state.session_data(request) or {}).get("s") if name == user.name else None
    try:
        auth.change_password(state.access(), name, password, keep_session=keep)
    except SchemaError as exc:
        return _users_error(request, state, exc)
    state.access_changed(name, keep=keep)
    state.audit("password_changed", request, target=name, detail="set by an admin; sessions ended")
    return _redirect("/users")


@router.post("/tokens")
def tokens_create(
    request: Request, user: Admin, state: State,
    role: Annotated[Literal["viewer", "analyst", "admin"], Form()],
    label: Annotated[str, Form(max_length=100)] = "",
    expires: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        until = auth.parse_expiry(expires.strip() + "d" if expires.strip().isdigit() else expires)
    except SchemaError as exc:
        return _users_error(request, state, exc)
    token = auth.store_token(state.access(), role, label or None, until)
    state.audit("token_created", request, target=auth.token_id(token),
                detail=f"role {role}" + (f", name {label}" if label else "") + (f", expires {until:%Y-%m-%d %H:%M} UTC" if until else ""))
    return _users_page(request, state, new_token=token)


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request, token_id: str, user: Admin, state: State, csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        token = auth.revoke_token(state.access(), token_id)
    except SchemaError as exc:
        return _users_error(request, state, exc)
    state.access_changed()
    state.audit("token_revoked", request, target=token["id"], detail=f"name {token['name']}" if token["name"] else None)
    return _redirect("/users")
