"""The audit log: who did what to the access and the data of a workspace, and when.

One table in the workspace's access store (``access.sqlite``, :mod:`cvm.web.access_store`),
written by the web app and by the CLI, also while the other runs::

    audit(ts TIMESTAMP, event VARCHAR, actor VARCHAR, target VARCHAR, address VARCHAR, detail VARCHAR)

``event`` is one of :data:`EVENTS`; ``actor`` the user or token name (``cli:<os
user>`` for a command line, empty for someone not logged in); ``target`` what the
event is about (a user, a token id, an uploaded file name, a setting);
``address`` the client's address (web only); ``detail`` a short English note.
Nothing secret is written: no passwords, tokens, cookies or query strings.

Read it with ``cvm audit [--json]`` or on the admin's users page.
"""

from __future__ import annotations

import getpass
import logging
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("cvm.web.audit")

#: the events the log knows, in the words of the issue that asked for them
EVENTS: tuple[str, ...] = (
    "login_ok", "login_failed", "login_throttled", "logout", "session_expired", "role_refused", "csrf_refused",
    "upload", "upload_too_large", "settings_changed", "token_created", "token_revoked", "user_added",
    "user_removed", "password_changed", "campaign_started", "actions_exported",
)

COLUMNS = ("ts", "event", "actor", "target", "address", "detail")


def ensure_audit_table(con: Any) -> None:
    """Create the ``audit`` table of the access store when it does not exist yet."""
    from cvm.web.access_store import ensure_schema

    ensure_schema(con)


def cli_actor() -> str:
    """The actor of a command-line change: ``cli:`` and the operating-system user."""
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "cli"


def record(con: Any, event: str, actor: str | None = None, target: str | None = None,
           address: str | None = None, detail: str | None = None) -> None:
    """Append one event to the audit log (and to the ``cvm.web.audit`` logger).

    A failure to write (a full disk, a read-only workspace) is logged and does not
    stop the action that is being audited.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    values = [now, event, actor, _short(target), _short(address), _short(detail)]
    try:
        ensure_audit_table(con)
        con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)", values)
    except Exception as exc:  # the audited action has happened; say that its record is missing
        log.error("could not write the audit event %s: %s", event, type(exc).__name__)
    log.info("audit %s actor=%s target=%s address=%s", event, actor or "-", _short(target) or "-", address or "-")


def read(con: Any, limit: int = 200, event: str | None = None, actor: str | None = None) -> list[dict[str, Any]]:
    """The latest ``limit`` events, newest first (optionally of one event kind or one actor)."""
    ensure_audit_table(con)
    where, params = [], []
    if event:
        where.append("event = ?")
        params.append(event)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    sql = ("SELECT ts, event, actor, target, address, detail FROM audit"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts DESC LIMIT ?")
    rows = con.execute(sql, params + [int(limit)]).fetchall()
    return [dict(zip(COLUMNS, row)) for row in rows]


def _short(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
