"""The Acties page: worklists a team works through, their export, and campaigns with a control group.

``GET /actions`` shows :func:`cvm.service.questions.worklist` for the chosen list and
filters, the rows ``cvm actions --list NAME --json`` gives for the same list and
filters (50 a page); ``GET /actions/export.xlsx`` and ``.csv`` write every row of it
through :func:`cvm.data.export.export` (safe cells, the valuation's as-of date and
model in the file). ``POST /actions/campaign`` holds out a control group
(:func:`cvm.service.campaigns.start_campaign`), and the page's campaign section
measures a campaign (:func:`cvm.service.campaigns.evaluate_campaign`) or says in
words why it cannot yet.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from cvm.data.campaigns import campaigns, load_campaign
from cvm.data.export import export
from cvm.errors import CvmError
from cvm.service.campaigns import campaign_list, evaluate_campaign, start_campaign
from cvm.service.questions import WORKLIST_SORTS, worklist
from cvm.value.actions import WORKLISTS
from cvm.web.deps import Analyst, Fmt, State, Viewer, check_csrf
from cvm.web.render import render
from cvm.web.routes_pages import _asked, _said

router = APIRouter(include_in_schema=False)

#: rows a page shows
PAGE_SIZE = 50
#: the columns of the worklist table, in this order, with the catalogue id of their heading
COLUMNS = [("customer_id", "col.customer_id"), ("name", "actions.col.name"), ("value_tier", "col.value_tier"),
           ("segment", "col.segment"), ("clv", "actions.col.clv"),
           ("probability_alive", "actions.col.probability_alive"), ("max_spend", "actions.col.max_spend"),
           ("action", "actions.col.action"), ("reason", "actions.col.reason")]
#: the headings of the sort choices that differ from the column labels (``col.<name>``)
SORT_LABELS = {"name": "actions.col.name", "clv": "actions.col.clv", "probability_alive": "actions.col.probability_alive",
               "max_spend": "actions.col.max_spend"}

ListName = Literal["retention", "win_back", "nurture", "collect", "referral_thanks"]
SortName = Literal["", "clv", "max_spend", "probability_alive", "name", "customer_id", "value_tier", "segment"]
assert set(ListName.__args__) == set(WORKLISTS) and set(SortName.__args__) - {""} == set(WORKLIST_SORTS)

_AMOUNT = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?$|^-?\d+([.,]\d+)?$")


def parse_amount(text: str, language: str) -> float | None:
    """A typed amount (``1.250,50`` or ``1250.5``, the Dutch way when the page is Dutch); None when it is not one."""
    text = (text or "").replace("€", "").replace("\u00a0", "").replace(" ", "").strip()
    if not text or not _AMOUNT.match(text):
        return None
    if language == "nl" or ("," in text and "." in text):
        text = text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".")
    return float(text)


def _filters(tier: str, segment: str, min_value: str, fmt) -> tuple[dict[str, Any], str | None]:
    """The service's filters from the form, and a message when the minimum value is no amount."""
    value = parse_amount(min_value, fmt.language) if min_value.strip() else None
    problem = fmt("actions.bad_number", value=min_value) if min_value.strip() and value is None else None
    return {"value_tier": tier or None, "segment": segment or None, "min_value": value}, problem


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "", 0) or k == "list"})


@router.get("/actions")
def actions_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    list_name: Annotated[ListName, Query(alias="list")] = "retention",
    tier: Annotated[str, Query(max_length=100)] = "",
    segment: Annotated[str, Query(max_length=200)] = "",
    min_value: Annotated[str, Query(max_length=50)] = "",
    sort: SortName = "",
    order: Literal["desc", "asc"] = "desc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    campaign: Annotated[str, Query(max_length=100)] = "",
    evaluate: Annotated[str, Query(max_length=100)] = "",
    holdout_error: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """One worklist, filtered, sorted and paged; its export links; the control-group form; the campaigns."""
    context = _page_context(state, fmt, list_name, tier, segment, min_value, sort, order, page, campaign, evaluate)
    if holdout_error:
        context["holdout_failed"] = fmt("actions.holdout_bad")
    return render(request, "actions.html", **context)


def _page_context(state, fmt, list_name: str, tier: str, segment: str, min_value: str, sort: str, order: str,
                  page: int, campaign: str, evaluate: str) -> dict[str, Any]:
    run = state.latest_run()
    filters, problem = _filters(tier, segment, min_value, fmt)
    limit = fmt.percent(state.settings().stage_rules.at_risk_below, 0)
    context: dict[str, Any] = {
        "run": run, "lists": [(name, fmt(f"worklist.{name}")) for name in WORKLISTS], "list_name": list_name,
        "tier": tier, "segment": segment, "min_value": min_value, "sort": sort, "order": order, "page": page,
        "sorts": [(name, fmt(SORT_LABELS[name]) if name in SORT_LABELS else fmt.label(name)) for name in WORKLIST_SORTS],
        "tiers": list(state.settings().tier_cutoffs), "columns": COLUMNS, "problem": problem, "campaign": None,
        "list_link": lambda name: "/actions?" + _query(list=name), "list_label": fmt(f"worklist.{list_name}"),
        "list_who": fmt(f"worklist.{list_name}.who", limit=limit), "list_todo": fmt(f"worklist.{list_name}.todo"),
    }
    if run is None:
        return context
    ws = state.workspace()
    shown_campaign = None
    if campaign:
        shown_campaign, error = _asked(lambda: load_campaign(ws, campaign))
        context["campaign_error"] = _said(fmt, error)
    key = f"actions:{run['run_id']}:{list_name}:{filters}:{sort}:{order}:{page}:{fmt.language}:{campaign}"

    def ask():
        options = dict(sort=sort or None, ascending=order == "asc", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                       language=fmt.language)
        if shown_campaign is not None:
            return campaign_list(ws, shown_campaign, **options)
        return worklist(ws, list_name, **filters, **options)

    result, error = state.cached(key, lambda: _asked(ask), ttl=300.0)
    context["error"] = _said(fmt, error)
    if result is not None:
        context.update(result=result, rows=result.rows.to_dict(orient="records"),
                       pages=max(1, (result.total + PAGE_SIZE - 1) // PAGE_SIZE))
    if shown_campaign is not None:
        context["campaign"] = shown_campaign
        context["list_name"] = list_name = shown_campaign["worklist"]
        context.update(list_label=fmt(f"worklist.{list_name}"), list_todo=fmt(f"worklist.{list_name}.todo"),
                       list_who=fmt(f"worklist.{list_name}.who", limit=limit))
    base = dict(list=list_name, tier=tier, segment=segment, min_value=min_value, sort=sort,
                order="" if order == "desc" else order, campaign=campaign)
    context["page_link"] = lambda n: "/actions?" + _query(**base, page=n)
    context["export_link"] = lambda kind: f"/actions/export.{kind}?" + _query(**base)
    context.update(_campaigns_context(ws, fmt, evaluate))
    return context


def _campaigns_context(ws, fmt, evaluate: str) -> dict[str, Any]:
    """The campaign section: every campaign, and the measurement of one (default the newest) or why not yet."""
    table = campaigns(ws)
    if table.empty:
        return {"campaigns": []}
    chosen = evaluate or str(table["campaign_id"].iloc[0])
    measured, error = _asked(lambda: evaluate_campaign(ws, chosen))
    table["worklist_label"] = [fmt(f"worklist.{name}") for name in table["worklist"]]
    return {"campaigns": table.to_dict(orient="records"), "evaluated": chosen,
            "evaluation": None if measured is None else measured.sentences(fmt.language),
            "evaluation_error": _said(fmt, error)}


@router.get("/actions/export.{kind}")
def actions_export(
    request: Request, user: Viewer, state: State, fmt: Fmt, kind: Literal["xlsx", "csv"],
    list_name: Annotated[ListName, Query(alias="list")] = "retention",
    tier: Annotated[str, Query(max_length=100)] = "",
    segment: Annotated[str, Query(max_length=200)] = "",
    min_value: Annotated[str, Query(max_length=50)] = "",
    sort: SortName = "",
    order: Literal["desc", "asc"] = "desc",
    campaign: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Every row of the list (all pages) as Excel or CSV, written by :func:`cvm.data.export.export`."""
    ws = state.workspace()
    filters, _ = _filters(tier, segment, min_value, fmt)
    options = dict(sort=sort or None, ascending=order == "asc", language=fmt.language)
    if campaign:
        stored = load_campaign(ws, campaign)
        result = campaign_list(ws, stored, **options)
        frame = result.export_frame(stored["campaign_id"])
    else:
        result = worklist(ws, list_name, **filters, **options)
        frame = result.export_frame()
    folder = Path(tempfile.mkdtemp(prefix="cvm-actions-"))
    name = f"cvm-{result.worklist.replace('_', '-')}-{result.as_of}.{kind}"
    try:
        path = export(frame, folder / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    state.audit("actions_exported", request, target=f"{result.worklist} ({result.total})")
    media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if kind == "xlsx"
             else "text/csv; charset=utf-8")
    return FileResponse(path, media_type=media, filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.post("/actions/campaign")
def actions_campaign(
    request: Request, user: Analyst, state: State, fmt: Fmt,
    list_name: Annotated[ListName, Form(alias="list")] = "retention",
    tier: Annotated[str, Form(max_length=100)] = "",
    segment: Annotated[str, Form(max_length=200)] = "",
    min_value: Annotated[str, Form(max_length=50)] = "",
    share: Annotated[str, Form(max_length=20)] = "0,1",
    seed: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Hold out a random share of the list as a control group, store the campaign, show its contacted customers."""
    check_csrf(request, csrf_token)
    filters, _ = _filters(tier, segment, min_value, fmt)
    holdout = parse_amount(share.replace("%", ""), fmt.language)
    if holdout is not None and "%" in share:
        holdout /= 100
    seed_text = seed.strip()
    if holdout is None or (seed_text and not seed_text.isdigit()):
        query = _query(list=list_name, tier=tier, segment=segment, min_value=min_value, holdout_error=1)
        return RedirectResponse("/actions?" + query + "#holdout", status_code=303)
    try:
        with state.writing() as ws:  # the campaign is stored: a change of the workspace
            started = start_campaign(ws, list_name, holdout, int(seed_text) if seed_text else None,
                                     **filters, limit=0, language=fmt.language)
    except CvmError as exc:
        context = _page_context(state, fmt, list_name, tier, segment, min_value, "", "desc", 1, "", "")
        context["holdout_failed"] = _said(fmt, exc)
        return render(request, "actions.html", status_code=400, **context)
    stored = started.campaign
    state.audit("campaign_started", request, target=stored["campaign_id"],
                detail=f"{len(stored['contacted'])} contacted, {len(stored['held_out'])} held out")
    return RedirectResponse("/actions?" + _query(list=list_name, campaign=stored["campaign_id"]), status_code=303)
