"""Users, API tokens, sessions and CSRF tokens of the web app.

Everything is stored in the workspace DuckDB:

* ``users(name, password_hash, role, created)`` — passwords hashed with Argon2id
  (argon2-cffi's defaults, RFC 9106);
* ``api_tokens(token_hash, role, name, created)`` — a token is 32 random bytes,
  shown once; only its SHA-256 is kept (the token has full entropy, so a slow
  hash adds nothing).

Roles are ordered: a ``viewer`` reads, an ``analyst`` also uploads data and runs
fits and scoring, an ``admin`` also manages users.

Sessions are cookies signed with :mod:`itsdangerous` (HMAC-SHA1 over the
payload, with a timestamp so they expire); they hold the user name, the role and
the session's CSRF token. Forms and browser JavaScript send the CSRF token back
(hidden field or ``X-CSRF-Token`` header) and it must equal the one in the
signed cookie (the signed double-submit pattern, OWASP CSRF cheat sheet).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cvm.errors import AuthError, SchemaError

#: roles from least to most rights
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
TOKEN_PREFIX = "cvm_"
SESSION_MAX_AGE = 12 * 3600

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users(name VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, "
    "role VARCHAR NOT NULL, created TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS api_tokens(token_hash VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, "
    "name VARCHAR, created TIMESTAMP NOT NULL)",
)


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
    """Create the ``users`` and ``api_tokens`` tables when they do not exist yet."""
    for sql in _SCHEMA:
        con.execute(sql)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def store_user(con: Any, name: str, password: str, role: str) -> None:
    """Insert or replace the user ``name`` with a new password and role."""
    name = name.strip()
    if not name:
        raise SchemaError("a user needs a name")
    check_role(role)
    ensure_auth_tables(con)
    con.execute("DELETE FROM users WHERE name = ?", [name])
    con.execute("INSERT INTO users VALUES (?, ?, ?, ?)", [name, hash_password(password), role, _now()])


def remove_user(con: Any, name: str) -> bool:
    """Delete the user ``name``; return whether it existed."""
    ensure_auth_tables(con)
    found = con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchone()[0]
    con.execute("DELETE FROM users WHERE name = ?", [name])
    return bool(found)


def list_users(con: Any) -> list[dict[str, Any]]:
    """Every user with role and creation time (never the hash)."""
    ensure_auth_tables(con)
    rows = con.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
    return [{"name": n, "role": r, "created": c} for n, r, c in rows]


def store_token(con: Any, role: str, name: str | None = None) -> str:
    """Create a new API token with ``role``; return it (it is not stored in clear)."""
    check_role(role)
    ensure_auth_tables(con)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    con.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?)", [token_hash(token), role, name, _now()])
    return token


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
    """The principal of a bearer token, or ``None`` when the token is unknown."""
    row = con.execute("SELECT role, name FROM api_tokens WHERE token_hash = ?", [token_hash(token)]).fetchone()
    if row is None:
        return None
    return Principal(name=row[1] or "token", role=row[0], via="token")


def user_role(con: Any, name: str) -> str | None:
    """Current role of user ``name`` (None when the user was removed)."""
    row = con.execute("SELECT role FROM users WHERE name = ?", [name]).fetchone()
    return None if row is None else row[0]


# --------------------------------------------------------------------------- workspace-level helpers (CLI)


def _open_connection(ws_path: str | Path):
    import duckdb

    folder = Path(ws_path)
    folder.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(folder / "cvm.duckdb"))


def add_user(ws_path: str | Path, name: str, password: str, role: str) -> None:
    """Add (or replace) a web user in the workspace at ``ws_path`` (``cvm users add``).

    Parameters
    ----------
    ws_path
        Workspace folder holding ``cvm.duckdb``.
    name, password
        Login name and password (at least 8 characters); the password is stored as an Argon2id hash.
    role
        ``viewer``, ``analyst`` or ``admin``.
    """
    check_role(role)
    con = _open_connection(ws_path)
    try:
        store_user(con, name, password, role)
    finally:
        con.close()


def create_token(ws_path: str | Path, role: str, name: str | None = None) -> str:
    """Create an API bearer token for the workspace at ``ws_path`` (``cvm token create``).

    Returns the token; only its SHA-256 is stored, so it cannot be shown again.
    """
    check_role(role)
    con = _open_connection(ws_path)
    try:
        return store_token(con, role, name)
    finally:
        con.close()


# --------------------------------------------------------------------------- session secret and CSRF


def load_secret(ws_path: str | Path) -> str:
    """The key that signs session cookies, kept in ``web-secret.key`` (mode 0600) in the workspace."""
    path = Path(ws_path) / "web-secret.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret)
    return secret


class SessionSigner:
    """Signs and reads the session cookie payload ``{"u": name, "r": role, "c": csrf}``."""

    def __init__(self, secret: str, max_age: int = SESSION_MAX_AGE) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self._serializer = URLSafeTimedSerializer(secret, salt="cvm-session")
        self._anon = URLSafeTimedSerializer(secret, salt="cvm-anonymous-csrf")
        self.max_age = max_age

    def dumps(self, principal: Principal, csrf: str) -> str:
        return self._serializer.dumps({"u": principal.name, "r": principal.role, "c": csrf})

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
