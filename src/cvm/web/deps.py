"""Shared state of the web app and the FastAPI dependencies every route uses.

* :class:`WebState` holds the workspace, the session signer, the live sessions,
  the login throttle, the job registry, per-thread DuckDB cursors (``con.cursor()``: one connection per thread
  on the same database, so requests run in parallel safely) and per-thread connections to the access store.
  The server only reads the workspace's data: it opens the latest published generation read-only
  and, at the first request after another process (or one of its own jobs) published a new one,
  moves to it (:mod:`cvm.data.generations`). Its own writes (sessions, audit, users, tokens) go to
  the access store (:mod:`cvm.web.access_store`); background jobs write the data as any other
  writer, through :meth:`WebState.writing`.
* ``CurrentUser``, ``Viewer``, ``Analyst``, ``Admin`` are typed dependencies:
  a route that declares ``user: Analyst`` can only be reached by an analyst or
  admin; without credentials the answer is 401, with too few rights 403.
* ``Fmt`` is the :class:`~cvm.web.i18n.Formatter` for the request's language.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator

from fastapi import Depends, Request

from cvm.errors import AuthError
from cvm.jsonsafe import json_safe
from cvm.web import audit, auth, lookups
from cvm.web.i18n import Formatter, pick_language
from cvm.web.jobs import JobRegistry
from cvm.web.latest_scores import LatestScores
from cvm.web.shared_throttle import SharedLoginThrottle
from cvm.web.throttle import LoginThrottle

log = logging.getLogger("cvm.web")

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
    secure_cookies: bool = False  # set True behind HTTPS: cookies get Secure, responses HSTS
    proxy_headers: bool = False  # trust X-Forwarded-Proto / X-Forwarded-For from the proxy in front
    job_workers: int = 2
    memory_lookups: bool = True  # keep the latest scoring run in memory for customer lookups


class WebState:
    """Everything the routes share, created once per app."""

    #: how long a generation the server moved away from stays open for requests still reading it
    RETIRE_SECONDS = 600.0

    def __init__(self, workspace_path: str | Path, config: WebConfig, secret_key: str | None = None) -> None:
        from cvm.data import Workspace

        from cvm.data.generations import exists

        self.path = Path(workspace_path)
        if not exists(self.path):
            Workspace.open(self.path).close()  # a new workspace: made and published once
        self._reader_lock = threading.Lock()
        self._retired: list[tuple[float, Any]] = []
        self._seen: tuple | None = None
        self._reader = self._open_reader()
        self.config = config
        server = self.ws.settings.server
        self.signer = auth.SessionSigner(secret_key or auth.load_secret(self.path),
                                         max_age=int(max(auth.SESSION_MAX_AGE, server.session_max_hours * 3600)))
        self.jobs = JobRegistry(workers=config.job_workers)
        self._local = threading.local()
        self._generation = 0
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self._sessions: dict[str, list[Any]] = {}  # session key -> [user, role, created, last_seen, checked]
        self._sessions_lock = threading.Lock()
        limits = dict(delay_after=server.login_delay_after, lockout_after=server.login_lockout_after,
                      lockout_seconds=server.login_lockout_minutes * 60)
        from cvm.data.catalog import of as catalog_of

        # a team workspace's dashboards count failed logins together, in the access store (cvm.web.shared_throttle)
        self.throttle = SharedLoginThrottle(self.access, **limits) if catalog_of(self.path) else LoginThrottle(**limits)
        self.access()  # creates the access store (and copies the access tables of an older workspace)
        self.latest_scores = LatestScores(lambda: self.ws.con.cursor(), enabled=config.memory_lookups)

    # ------------------------------------------------------------------ database access
    def _files(self) -> tuple:
        """What identifies the published data and settings: a new generation or settings file changes it."""
        from cvm.data.generations import generation

        try:
            settings = os.stat(self.path / "settings.toml").st_mtime_ns
        except FileNotFoundError:
            settings = None
        return generation(self.path), settings

    def _open_reader(self):
        from cvm.data import Workspace

        seen = self._files()
        reader = Workspace.open(self.path, read_only=True)
        self._seen = seen
        return reader

    @property
    def ws(self):
        """The workspace as last published (read-only); moves to a newer generation when one appeared."""
        if self._files() != self._seen:
            self._move_to_latest()
        return self._reader

    def _move_to_latest(self) -> None:
        with self._reader_lock:
            if self._files() == self._seen:
                return  # another thread moved already
            old = self._reader
            self._reader = self._open_reader()
            now = time.monotonic()
            self._retired.append((now, old))
            keep = []
            for since, reader in self._retired:  # requests that started on an old generation have finished by now
                if now - since > self.RETIRE_SECONDS:
                    try:
                        reader.close()
                    except Exception:  # closed already
                        pass
                else:
                    keep.append((since, reader))
            self._retired = keep
        log.info("serving the workspace's new generation")
        self.data_changed()

    def cursor(self):
        """This thread's DuckDB cursor (a connection of its own to the workspace database's latest generation)."""
        reader = self.ws
        cur = getattr(self._local, "cursor", None)
        if cur is None or getattr(self._local, "cursor_of", None) is not reader:
            cur = reader.con.cursor()
            self._local.cursor = cur
            self._local.cursor_of = reader
        return cur

    def access(self):
        """This thread's connection to the access store (users, tokens, sessions, audit; ``access.sqlite``)."""
        con = getattr(self._local, "access", None)
        if con is None:
            from cvm.web.access_store import connect

            con = connect(self.path)
            self._local.access = con
        return con

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """The workspace opened to change it (a background job): the write lock, a copy, published at the end.

        Waits while another process changes the workspace (said in the server's log);
        after the change the server moves to the new generation at once.
        """
        from cvm.data import Workspace

        def waiting(holder: dict[str, Any]) -> None:
            log.info("waiting for %s (pid %s) to finish changing the workspace", holder["command"], holder["pid"])

        ws = Workspace.open(self.path, on_wait=waiting)
        try:
            yield ws
        finally:
            ws.close()
            self.ws  # noqa: B018 - move to the generation just published

    def workspace(self):
        """A view of the workspace for this thread: same folder and settings, this thread's cursor.

        Library functions take a workspace and use its ``con``; giving each request
        thread its own cursor keeps concurrent requests and background jobs apart.
        """
        reader = self.ws
        view = getattr(self._local, "ws", None)
        if view is None or getattr(self._local, "generation", -1) != self._generation \
                or getattr(self._local, "view_of", None) is not reader:
            view = copy.copy(reader)
            try:
                view.con = reader.con.cursor()
            except AttributeError:  # a workspace whose connection cannot be swapped: share it
                view = reader
            self._local.ws = view
            self._local.view_of = reader
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
        self._seen = self._files()
        self.data_changed()

    def data_changed(self) -> None:
        """Forget cached values and per-thread views (after ingest, scoring or a settings change)."""
        with self._cache_lock:
            self._cache.clear()
            self._generation += 1

    def cached(self, key: str, compute, ttl: float = 30.0):
        """``compute()`` once per ``ttl`` seconds (and per data change) for ``key``.

        A generation published since the last call (by any process) is a data change: one
        ``stat`` of ``cvm.duckdb`` and ``settings.toml`` tells.
        """
        if self._files() != self._seen:
            self._move_to_latest()
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
        return self.cached("latest_run", lambda: lookups.latest_run(self.cursor()))

    def customer_score(self, customer_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """``(run, row)`` of the latest run for one customer: from memory when loaded, else the database."""
        run = self.latest_run()
        if run is None:
            return None, None
        hit, row = self.latest_scores.lookup(run["run_id"], customer_id)
        if not hit:
            row = lookups.customer_score(self.cursor(), run["run_id"], customer_id)
            row = json_safe(row) if row is not None else None
        return run, row

    # ------------------------------------------------------------------ who is asking
    #: how long a looked-up session or token is trusted before the database is asked again; a change made
    #: by this server (logout, revoke, password) takes effect at once, one made by another process within this
    RECHECK_SECONDS = 10.0

    def principal(self, request: Request) -> auth.Principal | None:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
            row = self.cached("token:" + auth.token_hash(token), lambda: auth.token_record(self.access(), token),
                              ttl=self.RECHECK_SECONDS)
            return None if row is None else auth.token_record_principal(row)
        data = self.session_data(request)
        if data is None or "s" not in data:  # a cookie from before server-side sessions opens nothing
            return None
        return self._session_principal(data["s"], request)

    def session_data(self, request: Request) -> dict[str, str] | None:
        """The signed payload of the request's session cookie (signature checked, session not yet)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        # the signature check is cached for a few seconds per cookie; whether the session lives is asked below
        return self.cached("session:" + cookie, lambda: self.signer.loads(cookie), ttl=self.RECHECK_SECONDS)

    def _session_principal(self, key: str, request: Request) -> auth.Principal | None:
        server = self.settings().server
        idle, longest = server.session_idle_minutes * 60, server.session_max_hours * 3600
        clock = time.monotonic()
        with self._sessions_lock:
            entry = self._sessions.get(key)
        if entry is None or clock - entry[4] > self.RECHECK_SECONDS:
            row = auth.session_record(self.access(), key)
            if row is None:
                self._forget_session(key)
                return None
            entry = [row[0], row[1], row[2], row[3], clock]
            with self._sessions_lock:
                if len(self._sessions) > 10_000:
                    self._sessions.clear()
                self._sessions[key] = entry
        now = auth._now()
        if auth.session_expired(entry[2], entry[3], idle, longest, now):
            self.end_session(key)
            self.audit("session_expired", request, actor=entry[0])
            return None
        if (now - entry[3]).total_seconds() > min(60.0, idle / 10):
            entry[3] = now  # the idle clock restarts; written now and then, not at every request
            try:
                auth.touch_session(self.access(), key, now)
            except Exception:  # another thread touched it at the same moment (a write conflict): that is enough
                pass
        return auth.Principal(name=entry[0], role=entry[1], via="session")

    def _forget_session(self, key: str) -> None:
        with self._sessions_lock:
            self._sessions.pop(key, None)

    def start_session(self, principal: auth.Principal, request: Request) -> str:
        """Store a new session for ``principal`` (after a good login); return its key for the cookie."""
        server = self.settings().server
        cur = self.access()
        auth.purge_sessions(cur, server.session_idle_minutes * 60, server.session_max_hours * 3600)
        return auth.start_session(cur, principal.name, client_address(request))

    def end_session(self, key: str) -> None:
        """End one session (logout, timeout): its row is deleted, so its cookie opens nothing any more."""
        self._forget_session(key)
        try:
            auth.end_session(self.access(), key)
        except Exception:  # ended at the same moment by another request
            pass

    def access_changed(self, user_name: str | None = None, keep: str | None = None) -> None:
        """Forget remembered sessions (of ``user_name``, except the key ``keep``) and tokens at once."""
        with self._sessions_lock:
            for key in [k for k, e in self._sessions.items() if (user_name is None or e[0] == user_name) and k != keep]:
                del self._sessions[key]
        with self._cache_lock:
            for key in [k for k in self._cache if k.startswith(("token:", "user:"))]:
                del self._cache[key]

    def audit(self, event: str, request: Request | None = None, actor: str | None = None,
              target: str | None = None, detail: str | None = None) -> None:
        """Write one audit event, with the client's address when there is a request."""
        if actor is None and request is not None:
            principal = getattr(request.state, "principal", None)
            actor = principal.name if principal is not None else None
        audit.record(self.access(), event, actor=actor, target=target,
                     address=client_address(request) if request is not None else None, detail=detail)

    def csrf_token(self, request: Request) -> str | None:
        """The CSRF token this browser must send back: the session's, else the anonymous cookie's."""
        data = self.signer.loads(request.cookies.get(SESSION_COOKIE))
        if data is not None:
            return data["c"]
        return self.signer.anonymous_csrf(request.cookies.get(ANON_CSRF_COOKIE))


def is_secure(request: Request) -> bool:
    """True when the browser talks HTTPS to us: ``--secure-cookies`` says so, or the request's scheme is https
    (behind a proxy only with ``--proxy-headers``, which makes ``X-Forwarded-Proto`` the scheme)."""
    return get_state(request).config.secure_cookies or request.url.scheme == "https"


def client_address(request: Request | None) -> str | None:
    """The client's address (the proxy's view of it with ``--proxy-headers``, else the peer's)."""
    client = getattr(request, "client", None)
    return client.host if client is not None else None


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
            get_state(request).audit("role_refused", request, target=_route_name(request),
                                     detail=f"needs {role}, has {principal.role}")
            raise Forbidden.coded("role_needed", role=role, current=principal.role)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


def _route_name(request: Request) -> str:
    """Method and route template of a request (``POST /users``), never its parameters or query."""
    return f"{request.method} {route_of(request.scope)}"


def route_of(scope: dict[str, Any]) -> str:
    """The request path with path parameters (customer ids, job ids) replaced by their names."""
    import re

    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {customer_id:path} -> {customer_id}
    path = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        if value:
            path = path.replace(str(value), "{" + name + "}")
    return path


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
        get_state(request).audit("csrf_refused", request, target=_route_name(request))
        raise CsrfRejected.coded("form_expired")


def language_of(request: Request) -> str:
    """The page's language: ``?lang=``, else the language cookie, else the first language of the browser's
    ``Accept-Language`` that cvm speaks (a Dutch browser gets Dutch pages, the login page too), else the
    workspace's setting."""
    state = get_state(request)
    browser = next((part.split(";")[0].strip() for part in request.headers.get("accept-language", "").split(",")
                    if part.split(";")[0].strip()[:2].lower() in ("en", "nl")), None)
    return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), browser,
                         state.settings().language)


def formatter(request: Request) -> Formatter:
    state = get_state(request)
    return Formatter(language_of(request), currency=state.settings().currency)


async def _formatter(request: Request) -> Formatter:
    return formatter(request)


Fmt = Annotated[Formatter, Depends(_formatter)]
