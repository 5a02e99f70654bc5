"""Shared state of the web app and the FastAPI dependencies every route uses.

* :class:`WebState` holds the workspace, the session signer, the job registry
  and per-thread DuckDB cursors (``con.cursor()``: one connection per thread
  on the same database, so requests run in parallel safely).
* ``CurrentUser``, ``Viewer``, ``Analyst``, ``Admin`` are typed dependencies:
  a route that declares ``user: Analyst`` can only be reached by an analyst or
  admin; without credentials the answer is 401, with too few rights 403.
* ``Fmt`` is the :class:`~cvm.web.i18n.Formatter` for the request's language.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from cvm.errors import AuthError
from cvm.web import auth
from cvm.web.i18n import Formatter, pick_language
from cvm.web.jobs import JobRegistry

SESSION_COOKIE = "cvm_session"
ANON_CSRF_COOKIE = "cvm_csrf"
LANG_COOKIE = "cvm_lang"


class NotAuthenticated(AuthError):
    """No valid session or token (HTTP 401)."""


class Forbidden(AuthError):
    """Authenticated, but the role lacks the right (HTTP 403)."""


class CsrfRejected(AuthError):
    """A state-changing browser request without the right CSRF token (HTTP 403)."""


@dataclass
class WebConfig:
    """What ``cvm serve`` can change about the app."""

    max_upload_bytes: int = 200 * 1024 * 1024
    upload_types: tuple[str, ...] = ("csv", "txt", "xlsx", "parquet")
    secure_cookies: bool = False  # set True behind HTTPS
    job_workers: int = 2
    memory_lookups: bool = True  # keep the latest scoring run in memory for customer lookups


class WebState:
    """Everything the routes share, created once per app."""

    def __init__(self, workspace_path: str | Path, config: WebConfig, secret_key: str | None = None) -> None:
        from cvm.data import Workspace

        self.path = Path(workspace_path)
        self.ws = Workspace.open(self.path)
        self.config = config
        self.signer = auth.SessionSigner(secret_key or auth.load_secret(self.path))
        self.jobs = JobRegistry(workers=config.job_workers)
        self._local = threading.local()
        self._generation = 0
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        auth.ensure_auth_tables(self.ws.con)
        from cvm.web.latest_scores import LatestScores

        self.latest_scores = LatestScores(self.ws.con.cursor, enabled=config.memory_lookups)

    # ------------------------------------------------------------------ database access
    def cursor(self):
        """This thread's DuckDB cursor (a connection of its own to the workspace database)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self.ws.con.cursor()
            self._local.cursor = cur
        return cur

    def workspace(self):
        """A view of the workspace for this thread: same folder and settings, this thread's cursor.

        Library functions take a workspace and use its ``con``; giving each request
        thread its own cursor keeps concurrent requests and background jobs apart.
        """
        view = getattr(self._local, "ws", None)
        if view is None or getattr(self._local, "generation", -1) != self._generation:
            view = copy.copy(self.ws)
            try:
                view.con = self.ws.con.cursor()
            except AttributeError:  # a workspace whose connection cannot be swapped: share it
                view = self.ws
            self._local.ws = view
            self._local.generation = self._generation
        return view

    def settings(self):
        return self.ws.settings

    def settings_changed(self) -> None:
        """Reload settings everywhere after ``settings.toml`` was written."""
        from cvm.settings import Settings

        fresh = Settings.load(self.path / "settings.toml")
        try:
            self.ws.settings = fresh
        except AttributeError:
            pass
        self.data_changed()

    def data_changed(self) -> None:
        """Forget cached values and per-thread views (after ingest, scoring or a settings change)."""
        with self._cache_lock:
            self._cache.clear()
            self._generation += 1

    def cached(self, key: str, compute, ttl: float = 30.0):
        """``compute()`` once per ``ttl`` seconds (and per data change) for ``key``."""
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        value = compute()
        with self._cache_lock:
            if len(self._cache) > 10_000:  # bounded: unknown tokens must not grow it forever
                self._cache.clear()
            self._cache[key] = (now, value)
        return value

    def latest_run(self) -> dict[str, Any] | None:
        """The latest scoring run (cached; forgotten when data change), or None."""
        from cvm.web import lookups

        return self.cached("latest_run", lambda: lookups.latest_run(self.cursor()))

    def customer_score(self, customer_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """``(run, row)`` of the latest run for one customer: from memory when loaded, else the database."""
        from cvm.web import lookups
        from cvm.web.render import clean

        run = self.latest_run()
        if run is None:
            return None, None
        hit, row = self.latest_scores.lookup(run["run_id"], customer_id)
        if not hit:
            row = lookups.customer_score(self.cursor(), run["run_id"], customer_id)
            row = clean(row) if row is not None else None
        return run, row

    # ------------------------------------------------------------------ who is asking
    def principal(self, request: Request) -> auth.Principal | None:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
            return self.cached("token:" + auth.token_hash(token), lambda: auth.token_principal(self.cursor(), token), ttl=10.0)
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        # the signature check is cached for 10 s per cookie (a cookie may outlive its 12 h by at most that)
        data = self.cached("session:" + cookie, lambda: self.signer.loads(cookie), ttl=10.0)
        if data is None:
            return None
        role = self.cached("user:" + data["u"], lambda: auth.user_role(self.cursor(), data["u"]), ttl=10.0)
        if role is None:
            return None
        return auth.Principal(name=data["u"], role=role, via="session")

    def csrf_token(self, request: Request) -> str | None:
        """The CSRF token this browser must send back: the session's, else the anonymous cookie's."""
        data = self.signer.loads(request.cookies.get(SESSION_COOKIE))
        if data is not None:
            return data["c"]
        return self.signer.anonymous_csrf(request.cookies.get(ANON_CSRF_COOKIE))


def get_state(request: Request) -> WebState:
    return request.app.state.web


# Dependencies are ``async def`` although they do not await: FastAPI runs sync
# dependencies in its thread pool, and a hop per dependency costs more than the
# work (a cached token or session check).
async def _state(request: Request) -> WebState:
    return request.app.state.web


State = Annotated[WebState, Depends(_state)]


def authenticate(request: Request) -> auth.Principal:
    """The principal of the request, or :class:`NotAuthenticated` (HTTP 401)."""
    principal = get_state(request).principal(request)
    if principal is None:
        raise NotAuthenticated("please log in", hint="send a session cookie or 'Authorization: Bearer TOKEN'")
    request.state.principal = principal
    return principal


async def current_user(request: Request) -> auth.Principal:
    return authenticate(request)


def _requiring(role: str):
    async def dependency(request: Request) -> auth.Principal:
        principal = authenticate(request)
        if not principal.can(role):
            raise Forbidden(f"this needs the role '{role}' (you are '{principal.role}')")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


CurrentUser = Annotated[auth.Principal, Depends(current_user)]
Viewer = CurrentUser
Analyst = Annotated[auth.Principal, Depends(_requiring("analyst"))]
Admin = Annotated[auth.Principal, Depends(_requiring("admin"))]


def check_csrf(request: Request, sent: str | None) -> None:
    """Reject a cookie-authenticated state change whose CSRF token does not match.

    Requests with a bearer token carry no ambient credentials, so they need none.
    """
    if request.headers.get("authorization", "")[:7].lower() == "bearer ":
        return
    sent = sent or request.headers.get("x-csrf-token")
    if not auth.csrf_matches(get_state(request).csrf_token(request), sent):
        raise CsrfRejected("the form has expired or did not come from this site", hint="reload the page and try again")


def language_of(request: Request) -> str:
    state = get_state(request)
    return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), state.settings().language)


def formatter(request: Request) -> Formatter:
    state = get_state(request)
    return Formatter(language_of(request), currency=state.settings().currency)


async def _formatter(request: Request) -> Formatter:
    return formatter(request)


Fmt = Annotated[Formatter, Depends(_formatter)]
