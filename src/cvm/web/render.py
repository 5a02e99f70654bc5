"""Rendering helpers: Jinja2 pages in the request's language, tables and Plotly charts.

Charts travel as JSON in ``<script type="application/json">`` blocks and are drawn
by ``static/cvm.js`` with the plotly.js bundled in the ``plotly`` package, so the
pages need no inline script and no CDN.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from cvm.errors import CvmError
from cvm.jsonsafe import json_safe
from cvm.web.deps import ANON_CSRF_COOKIE, formatter, get_state, is_secure, language_of
from cvm.web.i18n import LANGUAGES

#: the navigation: (path, message key, least role)
NAV = (
    ("/", "nav.overview", "viewer"),
    ("/segments", "nav.segments", "viewer"),
    ("/customers", "nav.customers", "viewer"),
    ("/actions", "nav.actions", "viewer"),
    ("/investment", "nav.investment", "viewer"),
    ("/drivers", "nav.drivers", "viewer"),
    ("/cohorts", "nav.cohorts", "viewer"),
    ("/models", "nav.models", "viewer"),
    ("/data", "nav.data", "viewer"),
    ("/calculator", "nav.calculator", "viewer"),
    ("/settings", "nav.settings", "viewer"),
    ("/users", "nav.users", "admin"),
)


@lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(
        loader=PackageLoader("cvm.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_safe"] = lambda value: Markup(to_json(value))  # to_json escapes "</"
    return env


def to_json(value: Any) -> str:
    """JSON for embedding in a ``<script type="application/json">`` block (``</`` escaped)."""
    text = json.dumps(json_safe(value), default=str, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the language, formatter, user, CSRF token and navigation."""
    import secrets

    state = get_state(request)
    fmt = formatter(request)
    principal = getattr(request.state, "principal", None)
    csrf = state.csrf_token(request)
    new_anon = None
    if csrf is None:
        csrf = secrets.token_urlsafe(24)
        new_anon = state.signer.sign_anonymous_csrf(csrf)
    lang = language_of(request)
    nav = [(p, k) for p, k, role in NAV if principal is not None and principal.can(role)]
    html = environment().get_template(template).render(
        _=fmt, fmt=fmt, lang=lang, languages=list(LANGUAGES), user=principal, csrf_token=csrf, nav=nav,
        path=request.url.path, lang_links=language_links(request), **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if new_anon is not None:
        response.set_cookie(ANON_CSRF_COOKIE, new_anon, httponly=True, samesite="lax",
                            secure=is_secure(request), path="/")
    response.headers["cache-control"] = "no-store"
    return response


def language_links(request: Request) -> dict[str, str]:
    """The page itself in each language: the same address and query (a search, a chosen segment), other ``lang``."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "job", "saved")]
    return {code: "?" + urlencode(kept + [("lang", code)]) for code in LANGUAGES}


def render_login(request: Request, status_code: int = 200, next_path: str = "/", error: str | None = None,
                 error_hint: str | None = None) -> HTMLResponse:
    if not next_path.startswith("/") or next_path.startswith("//"):
        next_path = "/"
    return render(request, "login.html", status_code=status_code, next_path=next_path, error=error,
                  error_hint=error_hint)


def render_error(request: Request, exc: CvmError, status_code: int) -> HTMLResponse:
    """The error page: the error's words in the page's language (:func:`cvm.messages.localize`)."""
    from cvm.messages import localize

    message, hint = localize(exc, language_of(request))
    return render(request, "error.html", status_code=status_code, message=message, hint=hint, status=status_code)


# --------------------------------------------------------------------------- tables and charts


def frame_records(rows: list[dict[str, Any]] | None, limit: int = 500) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (in the order they first appear) and the first ``limit`` rows of a list of records."""
    rows = (rows or [])[:limit]
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns, rows


def figure(traces: list[dict[str, Any]], title: str = "", x_title: str = "", y_title: str = "", **layout: Any) -> dict[str, Any]:
    """A Plotly figure as a plain dict (drawn in the browser by plotly.js).

    Every text in it (trace names, categories, hover texts, titles) is made plain
    text for plotly.js with :func:`cvm.report.plots.plain_text_figure`: a channel
    or segment named ``<a href=...>`` is shown as those characters, not as a link.
    """
    from cvm.report.plots import plain_text_figure

    base = {
        "title": {"text": title},
        "margin": {"l": 60, "r": 20, "t": 50 if title else 20, "b": 90},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "height": 380,
        "legend": {"orientation": "h", "x": 0, "y": -0.28, "yanchor": "top"},  # below the x-axis title
    }
    base.update(layout)
    return plain_text_figure({"data": traces, "layout": base})


def money_axis(fmt, title: str, **extra: Any) -> dict[str, Any]:
    """A Plotly axis of amounts: the currency sign before every tick and thousands written out in the
    locale (``€ 70.000`` on a Dutch page), instead of a bare ``70k`` under an "EUR" title."""
    from babel.numbers import get_currency_symbol

    symbol = get_currency_symbol(fmt.currency, locale=fmt.locale)
    prefix = symbol + ("\u00a0" if fmt.money(1).startswith(symbol + "\u00a0") else "")
    return {"title": {"text": title}, "tickprefix": prefix, "tickformat": ",.2~f", "hoverformat": ",.2f", "automargin": True,
            **extra}
