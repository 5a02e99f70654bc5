"""Users, API tokens, sessions and CSRF tokens of the web app.

Everything is stored in the workspace's access store, ``access.sqlite``
(:mod:`cvm.web.access_store`: SQLite in WAL mode, so the server and the command line
can write it at the same time):

* ``users(name, password_hash, role, created)`` — passwords hashed with Argon2id
  (argon2-cffi's defaults, RFC 9106);
* ``api_tokens(token_hash, role, name, created, expires, revoked)`` — a token is
  32 random bytes, shown once; only its SHA-256 is kept (the token has full
  entropy, so a slow hash adds nothing). Its public id is the first 12 hex digits
  of that hash. A token stops working when it is revoked or its expiry passes;
* ``sessions(id, user_name, created, last_seen, address)`` — one row per browser
  login; ``id`` is the SHA-256 of the random session key the cookie carries, so
  the table alone opens nothing. Logging out, changing the password and removing
  the user delete the rows; a session also ends when it was idle longer than the
  idle timeout or is older than the absolute timeout (settings ``server.*``).

Roles are ordered: a ``viewer`` reads, an ``analyst`` also uploads data and runs
fits and scoring, an ``admin`` also manages users.

The session cookie is signed with :mod:`itsdangerous` (HMAC-SHA1 over the
payload, with a timestamp); it holds the user name, the role, the session key and
the session's CSRF token. The signature keeps it from being forged; the
``sessions`` row is what makes it valid, so it can be withdrawn. Forms and browser
JavaScript send the CSRF token back (hidden field or ``X-CSRF-Token`` header) and
it must equal the one in the signed cookie (the signed double-submit pattern,
OWASP CSRF cheat sheet).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cvm.errors import AuthError, SchemaError
from cvm.web.access_store import transaction

#: roles from least to most rights
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
TOKEN_PREFIX = "cvm_"
#: the longest a signed cookie is read at all (the session's absolute timeout is usually shorter)
SESSION_MAX_AGE = 12 * 3600
#: the public id of a token: this many hex digits of its SHA-256
TOKEN_ID_LENGTH = 12
MAX_USER_NAME = 100

@dataclass(frozen=True)
class Principal:
    """Who is making a request: a logged-in user or the holder of an API token."""

    name: str
    role: str
    via: str  # "session" or "token"

    def can(self, role: str) -> bool:
        """True when this principal has at least the rights of ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_role(role: str) -> str:
    """Return ``role`` if it is known, else raise :class:`SchemaError` with the choices."""
    if role not in ROLES:
        raise SchemaError(f"unknown role '{role}'", hint=f"choose one of: {', '.join(ROLES)}")
    return role


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (with a random salt, encoded as a PHC string)."""
    if len(password) < 8:
        raise SchemaError("the password is too short", hint="use at least 8 characters")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the Argon2 ``password_hash``."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """SHA-256 (hex) of an API token, the only form in which tokens are stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- storage


def ensure_auth_tables(con: Any) -> None:
    """Create the ``users``, ``api_tokens`` and ``sessions`` tables of the access store when missing."""
    from cvm.web.access_store import ensure_schema

    ensure_schema(con)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_user_name(name: str) -> str:
    """The user name without surrounding spaces, or a clear :class:`SchemaError`.

    A name may hold any printable character except ``/`` (it is part of addresses
    such as ``/users/NAME/delete``) and ``\\``; control characters (tabs, new
    lines, escape sequences) are refused because they would disguise one name as
    another in lists and logs.
    """
    shown = _CONTROL.sub("?", name.strip())[:MAX_USER_NAME]
    cleaned = name.strip()
    reason = None
    if not cleaned:
        reason = "it is empty"
    elif "/" in cleaned or "\\" in cleaned:
        reason = "it contains a slash"
    elif _CONTROL.search(cleaned):
        reason = "it contains a control character (tab, new line or similar)"
    elif len(cleaned) > MAX_USER_NAME:
        reason = f"it is longer than {MAX_USER_NAME} characters"
    if reason is not None:
        raise SchemaError.coded("user_name_invalid", name=shown, reason=reason)
    return cleaned


def store_user(con: Any, name: str, password: str, role: str) -> str:
    """Insert or replace the user ``name`` with a new password and role; return the name as stored.

    Replacing an existing user (a new password) ends that user's sessions.
    """
    name = check_user_name(name)
    check_role(role)
    ensure_auth_tables(con)
    hashed = hash_password(password)
    with transaction(con):
        con.execute("DELETE FROM users WHERE name = ?", [name])
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?)", [name, hashed, role, _now()])
        con.execute("DELETE FROM sessions WHERE user_name = ?", [name])
    return name


def change_password(con: Any, name: str, password: str, keep_session: str | None = None) -> None:
    """Give user ``name`` a new password and end its sessions (all but ``keep_session``, a session key).

    Raises :class:`SchemaError` when the user does not exist or the password is too short.
    """
    ensure_auth_tables(con)
    hashed = hash_password(password)
    if con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchone()[0] == 0:
        raise SchemaError.coded("user_not_found", name=name)
    with transaction(con):
        con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [hashed, name])
        con.execute("DELETE FROM sessions WHERE user_name = ? AND id <> ?",
                    [name, session_id(keep_session) if keep_session else ""])


def remove_user(con: Any, name: str) -> bool:
    """Delete the user ``name`` and its sessions; return whether it existed."""
    ensure_auth_tables(con)
    with transaction(con):
        found = con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchone()[0]
        con.execute("DELETE FROM users WHERE name = ?", [name])
        con.execute("DELETE FROM sessions WHERE user_name = ?", [name])
    return bool(found)


def list_users(con: Any) -> list[dict[str, Any]]:
    """Every user with role, creation time and number of open sessions (never the hash)."""
    ensure_auth_tables(con)
    rows = con.execute(
        "SELECT u.name, u.role, u.created, count(s.id) FROM users u LEFT JOIN sessions s ON s.user_name = u.name "
        "GROUP BY u.name, u.role, u.created ORDER BY u.name").fetchall()
    return [{"name": n, "role": r, "created": c, "sessions": int(k)} for n, r, c, k in rows]


def parse_expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """When a token made now with ``--expires TEXT`` stops working (UTC, naive), or None for never.

    ``TEXT`` is a period (``30d`` days, ``12h`` hours, ``8w`` weeks) or a date
    (``2027-01-31``: the token works until that day begins, 00:00 UTC) or a date
    and time. ``never`` or an empty text: no expiry.

    Examples
    --------
    >>> parse_expiry("30d", datetime(2026, 1, 1))
    datetime.datetime(2026, 1, 31, 0, 0)
    >>> parse_expiry("2027-01-31", datetime(2026, 1, 1))
    datetime.datetime(2027, 1, 31, 0, 0)
    """
    if text is None or not text.strip() or text.strip().lower() == "never":
        return None
    now = now or _now()
    value = text.strip().lower()
    match = re.fullmatch(r"(\d{1,6})\s*([hdw])", value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
        if amount > 0:
            return now + delta
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
            if moment > now:
                return moment
    raise SchemaError.coded("token_expiry_invalid", text=text)


def store_token(con: Any, role: str, name: str | None = None, expires: datetime | None = None) -> str:
    """Create a new API token with ``role`` (and an optional expiry); return it (it is not stored in clear)."""
    check_role(role)
    ensure_auth_tables(con)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    con.execute("INSERT INTO api_tokens (token_hash, role, name, created, expires) VALUES (?, ?, ?, ?, ?)",
                [token_hash(token), role, name, _now(), expires])
    return token


def token_id(token: str) -> str:
    """The public id of a token (shown by ``cvm token list``): the start of its SHA-256."""
    return token_hash(token)[:TOKEN_ID_LENGTH]


def list_tokens(con: Any) -> list[dict[str, Any]]:
    """Every token: id, name, role, created, expires, revoked and its status (active, expired, revoked)."""
    ensure_auth_tables(con)
    rows = con.execute("SELECT token_hash, name, role, created, expires, revoked FROM api_tokens "
                       "ORDER BY created, token_hash").fetchall()
    now = _now()
    out = []
    for hashed, name, role, created, expires, revoked in rows:
        status = "revoked" if revoked is not None else "expired" if expires is not None and expires <= now else "active"
        out.append({"id": hashed[:TOKEN_ID_LENGTH], "name": name, "role": role, "created": created,
                    "expires": expires, "revoked": revoked, "status": status})
    return out


def revoke_token(con: Any, name_or_id: str) -> dict[str, Any]:
    """Revoke the token with this id (or id prefix of at least 6 digits) or this name; return it.

    A name that several live tokens share is refused with their ids, so the
    wrong token is never revoked. Revoking a revoked token again is no error.
    """
    ensure_auth_tables(con)
    wanted = name_or_id.strip()
    tokens = list_tokens(con)
    by_id = [t for t in tokens if len(wanted) >= 6 and t["id"].startswith(wanted.lower())] if re.fullmatch(
        r"[0-9a-fA-F]+", wanted) else []
    matches = by_id or [t for t in tokens if t["name"] == wanted]
    if len(matches) > 1:
        live = [t for t in matches if t["status"] != "revoked"]
        matches = live if live else matches[:1]
    if not matches:
        raise SchemaError.coded("token_not_found", token=wanted)
    if len(matches) > 1:
        raise SchemaError.coded("token_name_ambiguous", token=wanted, count=len(matches),
                                ids=", ".join(t["id"] for t in matches))
    found = matches[0]
    if found["revoked"] is None:
        found["revoked"] = _now()
        con.execute("UPDATE api_tokens SET revoked = ? WHERE substr(token_hash, 1, ?) = ?",
                    [found["revoked"], len(found["id"]), found["id"]])
        found["status"] = "revoked"
    return found


def login(con: Any, name: str, password: str) -> Principal:
    """Check a user name and password; raise :class:`AuthError` when they do not match."""
    row = con.execute("SELECT password_hash, role FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        _hasher().hash("timing-equaliser")  # same work whether or not the user exists
        raise AuthError("unknown user or wrong password")
    if not verify_password(row[0], password):
        raise AuthError("unknown user or wrong password")
    return Principal(name=name, role=row[1], via="session")


def token_principal(con: Any, token: str) -> Principal | None:
    """The principal of a bearer token, or ``None`` when the token is unknown, revoked or expired."""
    row = token_record(con, token)
    return None if row is None else token_record_principal(row)


def token_record(con: Any, token: str) -> tuple | None:
    """``(role, name, expires, revoked)`` of a token, or None when unknown (for callers that cache the row)."""
    return con.execute("SELECT role, name, expires, revoked FROM api_tokens WHERE token_hash = ?",
                       [token_hash(token)]).fetchone()


def token_record_principal(row: tuple, now: datetime | None = None) -> Principal | None:
    """The principal a stored token row stands for right now (None when revoked or expired)."""
    role, name, expires, revoked = row
    if revoked is not None or (expires is not None and expires <= (now or _now())):
        return None
    return Principal(name=name or "token", role=role, via="token")


def user_role(con: Any, name: str) -> str | None:
    """Current role of user ``name`` (None when the user was removed)."""
    row = con.execute("SELECT role FROM users WHERE name = ?", [name]).fetchone()
    return None if row is None else row[0]


# --------------------------------------------------------------------------- sessions


def session_id(key: str) -> str:
    """The ``sessions.id`` of a session key: its SHA-256 (the key itself lives only in the cookie)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def start_session(con: Any, name: str, address: str | None = None) -> str:
    """Store a new session of user ``name``; return its key (for the cookie)."""
    key = secrets.token_urlsafe(32)
    now = _now()
    con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", [session_id(key), name, now, now, address])
    return key


def session_record(con: Any, key: str) -> tuple | None:
    """``(user_name, role, created, last_seen)`` of a live session key (None when ended or the user is gone)."""
    return con.execute("SELECT s.user_name, u.role, s.created, s.last_seen FROM sessions s JOIN users u "
                       "ON u.name = s.user_name WHERE s.id = ?", [session_id(key)]).fetchone()


def session_expired(created: datetime, last_seen: datetime, idle_seconds: float, max_seconds: float,
                    now: datetime | None = None) -> bool:
    """True when a session was idle for longer than ``idle_seconds`` or began more than ``max_seconds`` ago."""
    now = now or _now()
    return (now - last_seen).total_seconds() > idle_seconds or (now - created).total_seconds() > max_seconds


def touch_session(con: Any, key: str, when: datetime | None = None) -> None:
    """Note that the session was used now (its idle time starts again)."""
    con.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", [when or _now(), session_id(key)])


def end_session(con: Any, key: str) -> None:
    """End one session (logout)."""
    con.execute("DELETE FROM sessions WHERE id = ?", [session_id(key)])


def end_sessions(con: Any, name: str, keep: str | None = None) -> int:
    """End every session of user ``name`` except the session key ``keep``; return how many ended."""
    kept = session_id(keep) if keep else ""
    return int(con.execute("DELETE FROM sessions WHERE user_name = ? AND id <> ?", [name, kept]).rowcount)


def purge_sessions(con: Any, idle_seconds: float, max_seconds: float) -> None:
    """Delete the sessions that have timed out (run at each login, so the table stays small)."""
    now = _now()
    con.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                [now - timedelta(seconds=idle_seconds), now - timedelta(seconds=max_seconds)])


# --------------------------------------------------------------------------- workspace-level helpers (CLI)


def _open_connection(ws_path: str | Path):
    from cvm.data import Workspace
    from cvm.web.access_store import connect

    from cvm.data.generations import exists

    if not exists(Path(ws_path)):
        Workspace.open(ws_path).close()  # a workspace to log in to is made, as the command line makes one
    return connect(ws_path)


class workspace_connection:
    """``with workspace_connection(path) as con:`` — the workspace's access store (users, tokens, sessions,
    audit), closed after."""

    def __init__(self, ws_path: str | Path) -> None:
        self.path = ws_path

    def __enter__(self):
        self.con = _open_connection(self.path)
        return self.con

    def __exit__(self, *exc: Any) -> None:
        self.con.close()


def add_user(ws_path: str | Path, name: str, password: str, role: str) -> str:
    """Add (or replace) a web user in the workspace at ``ws_path`` (``cvm users add``); return the stored name.

    Parameters
    ----------
    ws_path
        Workspace folder holding ``cvm.duckdb``.
    name, password
        Login name (no ``/``, no control characters) and password (at least 8
        characters); the password is stored as an Argon2id hash.
    role
        ``viewer``, ``analyst`` or ``admin``.
    """
    check_role(role)
    with workspace_connection(ws_path) as con:
        return store_user(con, name, password, role)


def create_token(ws_path: str | Path, role: str, name: str | None = None, expires: datetime | None = None) -> str:
    """Create an API bearer token for the workspace at ``ws_path`` (``cvm token create``).

    Returns the token; only its SHA-256 is stored, so it cannot be shown again.
    """
    check_role(role)
    with workspace_connection(ws_path) as con:
        return store_token(con, role, name, expires)


# --------------------------------------------------------------------------- session secret and CSRF


def load_secret(ws_path: str | Path) -> str:
    """The key that signs session cookies, kept in ``web-secret.key`` (mode 0600) in the workspace
    (in the catalog of a team workspace: :func:`cvm.web.access_store.team_secret`)."""
    from cvm.web.access_store import team_secret

    shared = team_secret(ws_path)
    if shared is not None:
        return shared
    path = Path(ws_path) / "web-secret.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret)
    return secret


class SessionSigner:
    """Signs and reads the session cookie payload ``{"u": name, "r": role, "c": csrf, "s": session key}``."""

    def __init__(self, secret: str, max_age: int = SESSION_MAX_AGE) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self._serializer = URLSafeTimedSerializer(secret, salt="cvm-session")
        self._anon = URLSafeTimedSerializer(secret, salt="cvm-anonymous-csrf")
        self.max_age = max_age

    def dumps(self, principal: Principal, csrf: str, session: str | None = None) -> str:
        """The cookie of ``principal``; ``session`` is the key of its row in ``sessions`` (without one
        the cookie opens nothing in the app: only a stored session does)."""
        payload = {"u": principal.name, "r": principal.role, "c": csrf}
        if session is not None:
            payload["s"] = session
        return self._serializer.dumps(payload)

    def loads(self, cookie: str | None) -> dict[str, str] | None:
        from itsdangerous import BadSignature

        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and {"u", "r", "c"} <= data.keys() else None

    def anonymous_csrf(self, cookie: str | None) -> str | None:
        """CSRF token of a visitor who is not logged in (login form), from its signed cookie."""
        from itsdangerous import BadSignature

        if not cookie:
            return None
        try:
            value = self._anon.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def sign_anonymous_csrf(self, csrf: str) -> str:
        return self._anon.dumps(csrf)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str | None, sent: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a form or header sent."""
    if not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())
