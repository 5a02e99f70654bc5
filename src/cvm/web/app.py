"""The web dashboard and JSON API of cvm (``cvm serve``).

:func:`create_app` builds a FastAPI application over one workspace: server-rendered
pages (Jinja2 + Plotly, Dutch or English) under ``/`` and a JSON API with OpenAPI
under ``/api`` (schema at ``/api/openapi.json``). Every route
needs a login or a bearer token except ``/health``, the login page and the
stylesheet it uses.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cvm.errors import CvmError, SchemaError, WorkspaceError
from cvm.web import lookups
from cvm.web import routes_actions, routes_api, routes_drivers, routes_pages
from cvm.web.deps import (
    LANG_COOKIE,
    CsrfRejected,
    Forbidden,
    NotAuthenticated,
    WebConfig,
    Viewer,
    WebState,
    authenticate,
    formatter,
    route_of,
)
from cvm.web.i18n import LANGUAGES, invalid_input
from cvm.web.render import render_error, render_login

log = logging.getLogger("cvm.web")

STATIC_DIR = Path(__file__).parent / "static"
#: static files the login page needs, served without a session
PUBLIC_STATIC = frozenset({"cvm.css", "favicon.svg"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]


def create_app(
    workspace_path: str | Path,
    *,
    max_upload_mb: float = 200,
    secret_key: str | None = None,
    secure_cookies: bool = False,
    proxy_headers: bool = False,
    trusted_proxies: str | list[str] = "127.0.0.1",
    job_workers: int = 2,
    memory_lookups: bool = True,
) -> FastAPI:
    """Build the web app for the workspace at ``workspace_path``.

    Parameters
    ----------
    workspace_path
        Workspace folder (``cvm.duckdb`` + ``settings.toml``); created when missing.
    max_upload_mb
        Largest upload accepted, in megabytes (bigger requests get HTTP 413).
    secret_key
        Key that signs session cookies; default a random key kept in
        ``web-secret.key`` (mode 0600) inside the workspace.
    secure_cookies
        The site is served over HTTPS: cookies are marked ``Secure`` and every
        response carries ``Strict-Transport-Security`` (HSTS, RFC 6797).
    proxy_headers
        A reverse proxy runs in front: take the scheme and the client address
        from its ``X-Forwarded-Proto`` and ``X-Forwarded-For`` headers (sent by a
        proxy at one of ``trusted_proxies``). Without it those headers are ignored,
        so a client cannot pretend to use HTTPS or another address.
    trusted_proxies
        Addresses whose forwarded headers are believed (comma-separated or a list; ``*`` for any).
    job_workers
        Threads for background fits, scoring and ingest.
    memory_lookups
        Keep the latest scoring run in memory (about 300 MB per million customers)
        so single-customer lookups need no database query.
    """
    if max_upload_mb <= 0:
        raise SchemaError("max_upload_mb must be positive")
    config = WebConfig(
        max_upload_bytes=int(max_upload_mb * 1024 * 1024), secure_cookies=secure_cookies, job_workers=job_workers,
        memory_lookups=memory_lookups, proxy_headers=proxy_headers,
    )
    state = WebState(workspace_path, config, secret_key=secret_key)  # reads; the index is made by the writers

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        run = state.latest_run()
        state.latest_scores.refresh(run["run_id"] if run else None)  # in the background
        yield
        state.jobs.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="cvm",
        summary="Customer value management: scored customers, segments, jobs and uploads.",
        version=_version(),
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = state

    app.include_router(routes_pages.router)
    app.include_router(routes_actions.router)
    app.include_router(routes_api.router)
    app.include_router(routes_drivers.router)
    _add_static(app)
    _add_error_handlers(app)
    app.add_middleware(_Guard, max_body=config.max_upload_bytes + 64 * 1024,  # + multipart framing
                       limit_mb=max_upload_mb, hsts=secure_cookies)
    if proxy_headers:  # outermost: the scheme and client address are the proxy's before anything reads them
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_schema(user: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _version() -> str:
    from cvm import __version__

    return __version__


# --------------------------------------------------------------------------- static files


def _add_static(app: FastAPI) -> None:
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    plotly_js = _plotly_bundle()
    if plotly_js is not None:
        files["plotly.min.js"] = plotly_js

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, request: Request) -> Response:
        path = files.get(name)
        if path is None:
            return Response(status_code=404)
        if name not in PUBLIC_STATIC:
            authenticate(request)
        return FileResponse(path, headers={"cache-control": "private, max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for it even with ``<link rel="icon">``: the same SVG icon, no 404 in the console."""
        return FileResponse(files["favicon.svg"], media_type="image/svg+xml",
                            headers={"cache-control": "public, max-age=86400"})


def _plotly_bundle() -> Path | None:
    """plotly.js as shipped inside the installed ``plotly`` package (no CDN)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    return path if path.exists() else None


# --------------------------------------------------------------------------- errors


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api") or "application/json" in request.headers.get("accept", "")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request) or request.url.path.startswith("/static"):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        return render_login(request, status_code=401, next_path=request.url.path)

    @app.exception_handler(Forbidden)
    @app.exception_handler(CsrfRejected)
    def forbidden(request: Request, exc: CvmError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=403)
        return render_error(request, exc, status_code=403)

    @app.exception_handler(CvmError)
    def user_error(request: Request, exc: CvmError) -> Response:
        status = 409 if isinstance(exc, WorkspaceError) else 400
        if _wants_json(request):
            # the English words, and the code (cvm.messages) a client can translate or branch on
            return JSONResponse({"detail": exc.message, "hint": exc.hint, "code": exc.code}, status_code=status)
        return render_error(request, exc, status_code=status)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return render_error(request, SchemaError(_invalid_message(request, exc.errors()),
                                                hint=formatter(request)("invalid.hint")), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """An unknown address on a page gets the page-style message in the user's language, not JSON."""
        if _wants_json(request) or exc.status_code != 404:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        fmt = formatter(request)
        return render_error(request, SchemaError(fmt("error.not_found"), hint=fmt("error.not_found_hint")),
                            status_code=404)

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, route_of(request.scope), type(exc).__name__,
                  exc_info=exc)
        if _wants_json(request):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        try:
            message = formatter(request)("error.internal")
        except Exception:  # the settings themselves may be what failed
            message = "internal error"
        return render_error(request, CvmError(message), status_code=500)


#: the words a page shows next to an input of a query or form, by the input's name
FIELD_LABELS: dict[str, str] = {
    "gc": "calculator.gc", "m": "calculator.m", "n": "calculator.n", "r": "calculator.r", "d": "calculator.d",
    "budget": "investment.budget", "from": "cohorts.from", "to": "cohorts.to", "period": "cohorts.period",
    "by": "segments.by", "page": "field.page", "q": "customers.search",
}


def _invalid_message(request: Request, errors: list[dict[str, Any]]) -> str:
    """Input errors of a page request in the page's language, each with the input's label (never its code name)."""
    import re

    fmt = formatter(request)
    sentences = []
    for error in errors:
        name = str(list(error.get("loc", ()))[-1]) if error.get("loc") else ""
        key = FIELD_LABELS.get(name)
        if key and key.startswith("calculator."):  # the formula's symbol (GC, M, N, r, d) and its meaning
            field = f"{name.upper() if name in ('gc', 'm', 'n') else name} ({fmt(key)})"
        else:
            field = fmt(key) if key else fmt.label(name)
        ctx = dict(error.get("ctx") or {})
        if "expected" in ctx:  # the allowed codes in words: 'value_tier' -> Value tier
            codes = re.findall(r"'([^']*)'", str(ctx["expected"]))
            ctx["expected"] = ", ".join(_code_word(fmt, c) for c in codes)
        sentences.append(invalid_input(fmt, field, {**error, "ctx": ctx}))
    return " ".join(sentences)


def _code_word(fmt, code: str) -> str:
    """A choice's code (``value_tier``, ``matrix``, ``quarter``) in the words the page shows for it."""
    for key in ("segments.by." + code, "term." + code, "cohorts.period." + code, "col." + code):
        if fmt(key) != key:
            return fmt(key)
    return code


# --------------------------------------------------------------------------- middleware


#: HSTS for a year (RFC 6797), sent on every response when the site is served over HTTPS
HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class _Guard:
    """Pure ASGI middleware: body-size limit, security headers, the language cookie, a data-free access log.

    The log line holds method, route template, status and time: never the query
    string or path parameters, so no customer ids or search terms reach the logs.
    HSTS goes on every response when ``hsts`` is set (``--secure-cookies``) or the
    request came over HTTPS (directly, or through a trusted proxy with ``--proxy-headers``).
    """

    def __init__(self, app, max_body: int, limit_mb: float = 200, hsts: bool = False) -> None:
        self.app = app
        self.max_body = max_body
        self.limit_mb = limit_mb
        self.hsts = hsts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        secure = self.hsts or scope.get("scheme") == "https"
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _too_large(scope, send, self.limit_mb, secure)
            return
        lang = _query_lang(scope.get("query_string", b""))
        status_holder = {"status": 0}
        received = 0
        max_body = self.max_body

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise _BodyTooLarge()
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = list(SECURITY_HEADERS)
                if secure:
                    extra.append(HSTS_HEADER)
                if lang:
                    extra.append((b"set-cookie", f"{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly".encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if status_holder["status"] == 0:
                await _too_large(scope, send, self.limit_mb, secure)
            status_holder["status"] = 413
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %s %.1f ms", scope["method"], route_of(scope), status_holder["status"],
                     (time.perf_counter() - started) * 1000)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope, send, limit_mb: float, secure: bool) -> None:
    """HTTP 413: JSON for the API, else the error page in the page's language; logged and audited."""
    from starlette.requests import Request as StarletteRequest

    request = StarletteRequest(scope)
    limit = f"{limit_mb:g}"
    log.warning("%s %s: request body larger than %s MB: 413", scope.get("method"), route_of(scope), limit)
    state = getattr(getattr(scope.get("app"), "state", None), "web", None)
    error = SchemaError.coded("upload_too_large", limit=limit)
    body, content_type = None, b"application/json"
    if state is not None:
        try:
            principal = state.principal(request)
            state.audit("upload_too_large", request, actor=principal.name if principal else None,
                        target=route_of(scope), detail=f"limit {limit} MB")
            if not _wants_json(request):
                request.state.principal = principal
                body = render_error(request, error, status_code=413).body
                content_type = b"text/html; charset=utf-8"
        except Exception as exc:  # the page could not be made: the plain JSON answer below still says why
            log.error("could not render the 413 page: %s", type(exc).__name__)
            body, content_type = None, b"application/json"
    if body is None:
        import json

        body = json.dumps({"detail": error.message, "hint": error.hint, "code": error.code}).encode()
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close"), *SECURITY_HEADERS]
    if secure:
        headers.append(HSTS_HEADER)
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _query_lang(query: bytes) -> str | None:
    from urllib.parse import parse_qs

    if b"lang=" not in query:
        return None
    values = parse_qs(query.decode("latin-1")).get("lang")
    if values and values[0][:2].lower() in LANGUAGES:
        return values[0][:2].lower()
    return None


def serve(workspace_path: str | Path, host: str = "127.0.0.1", port: int = 8000, *, proxy_headers: bool = False,
          trusted_proxies: str = "127.0.0.1", **options: Any) -> None:
    """Run the app with uvicorn on ``host:port`` (loopback by default) in this process.

    uvicorn's own proxy-header handling is switched off: forwarded headers are
    believed only when ``proxy_headers`` is set (then by the app, from
    ``trusted_proxies``). Audit events and the data-free access lines go to
    standard error through the ``cvm.web`` logger.
    """
    import uvicorn

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    web_log = logging.getLogger("cvm.web")
    if not web_log.handlers:
        web_log.addHandler(handler)
    web_log.setLevel(logging.INFO)
    app = create_app(workspace_path, proxy_headers=proxy_headers, trusted_proxies=trusted_proxies, **options)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", proxy_headers=False)
