"""Looking after a workspace: ``cvm settings``, ``cvm users …``, ``cvm token …``, ``cvm audit`` and ``cvm version``.

Every change of access (a user added, removed or given a new password; a token
created or revoked) and every settings change is written to the workspace's
audit log (:mod:`cvm.web.audit`) with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, err, out
from cvm.cli.workspace import open_workspace, workspace_access, writing_workspace
from cvm.errors import SchemaError


def settings(
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="key=value, e.g. --set margin=0.25 (repeatable).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Show or change the workspace settings (margin, horizon, discount rate, tiers, weights, stages, language)."""
    from cvm.settings import Settings

    if set_:
        with writing_workspace(workspace) as ws:
            current = ws.settings
            for item in set_:
                if "=" not in item:
                    raise SchemaError(f"--set takes key=value, got '{item}'", hint="e.g. --set margin=0.25")
                key, value = item.split("=", 1)
                current = current.set(key.strip(), value.strip())
            ws.save_settings(current)  # only when every --set was valid: all or nothing
            from cvm.web import audit
            from cvm.web.access_store import connect

            access = connect(ws.path)
            try:
                audit.record(access, "settings_changed", actor=audit.cli_actor(),
                             target=", ".join(item.split("=", 1)[0].strip() for item in set_))
            finally:
                access.close()
    else:  # showing the settings creates nothing (a new workspace would get these)
        if workspace.exists() and not workspace.is_dir():
            open_workspace(workspace)  # says the path is a file
        current = Settings.load(workspace / "settings.toml")
    if as_json:
        emit_json(current.model_dump())
        return
    for key in current.keys():
        obj: Any = current
        for part in key.split("."):
            obj = getattr(obj, part)
        out.print(f"{key} = {obj}")


def _password(password: str | None, prompt: str = "Password") -> str:
    if password is None:
        if not sys.stdin.isatty():
            raise SchemaError("no password given", hint="pass --password or set CVM_PASSWORD")
        password = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password


def users_add(
    name: Annotated[str, typer.Argument(help="User name (no '/', no control characters).")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    password: Annotated[Optional[str], typer.Option("--password", envvar="CVM_PASSWORD", help="Password (prompted when omitted).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Add a web-app user (an existing user of that name gets the new password and role; its sessions end)."""
    from cvm.web import audit, auth

    auth.check_user_name(name)
    auth.check_role(role)
    password = _password(password)
    with workspace_access(workspace, create=True) as access:
        name = auth.store_user(access, name, password, role)
        audit.record(access, "user_added", actor=audit.cli_actor(), target=name, detail=f"role {role}")
    if as_json:
        emit_json({"user": name, "role": role})
    else:
        out.print(f"user {name} added with role {role}")


def users_list(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """List the web-app users with role, creation time and open sessions."""
    from cvm.web import auth

    with workspace_access(workspace) as access:
        users = auth.list_users(access)
    if as_json:
        emit_json({"users": users})
        return
    _print_rows(users, ["name", "role", "created", "sessions"], "no users yet: cvm users add NAME --role admin")


def users_remove(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Remove a web-app user; its sessions end at once."""
    from cvm.web import audit, auth

    with workspace_access(workspace) as access:
        if not auth.remove_user(access, name):
            raise SchemaError.coded("user_not_found", name=name)
        audit.record(access, "user_removed", actor=audit.cli_actor(), target=name)
    if as_json:
        emit_json({"user": name, "removed": True})
    else:
        out.print(f"user {name} removed")


def users_passwd(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[Optional[str], typer.Option("--password", envvar="CVM_PASSWORD", help="New password (prompted when omitted).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Give a user a new password; every session of that user ends."""
    from cvm.web import audit, auth

    with workspace_access(workspace) as access:
        if auth.user_role(access, name) is None:
            raise SchemaError.coded("user_not_found", name=name)
        auth.change_password(access, name, _password(password, "New password"))
        audit.record(access, "password_changed", actor=audit.cli_actor(), target=name, detail="every session ended")
    if as_json:
        emit_json({"user": name, "password_changed": True})
    else:
        out.print(f"password of {name} changed; its sessions have ended")


def token_create(
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    name: Annotated[Optional[str], typer.Option("--name", help="A label for the token (to list and revoke it by).")] = None,
    expires: Annotated[Optional[str], typer.Option("--expires", help="When it stops working: 30d, 12h, 8w or a date (2027-01-31, 00:00 UTC). Default: never.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Create an API bearer token (shown once)."""
    from cvm.web import audit, auth

    auth.check_role(role)
    until = auth.parse_expiry(expires)
    with workspace_access(workspace, create=True) as access:
        token = auth.store_token(access, role, name, until)
        audit.record(access, "token_created", actor=audit.cli_actor(), target=auth.token_id(token),
                     detail=f"role {role}" + (f", name {name}" if name else "") + (f", expires {until:%Y-%m-%d %H:%M} UTC" if until else ""))
    if as_json:
        emit_json({"token": token, "role": role, "id": auth.token_id(token), "name": name, "expires": until})
    else:
        out.print(token)
        if until is not None:
            err.print(f"expires {until:%Y-%m-%d %H:%M} UTC")


def token_list(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """List the API tokens (id, name, role, created, expires, status); the tokens themselves are never shown."""
    from cvm.web import auth

    with workspace_access(workspace) as access:
        tokens = auth.list_tokens(access)
    if as_json:
        emit_json({"tokens": tokens})
        return
    _print_rows(tokens, ["id", "name", "role", "created", "expires", "status"],
                "no tokens yet: cvm token create --role viewer --name LABEL")


def token_revoke(
    name_or_id: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="The token's --name label, or its id from cvm token list.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API token: requests with it get 401 from then on."""
    from cvm.web import audit, auth

    with workspace_access(workspace) as access:
        token = auth.revoke_token(access, name_or_id)
        audit.record(access, "token_revoked", actor=audit.cli_actor(), target=token["id"],
                     detail=f"name {token['name']}" if token["name"] else None)
    if as_json:
        emit_json({"token": token})
    else:
        out.print(f"token {token['id']}{' (' + token['name'] + ')' if token['name'] else ''} revoked")


def audit_log(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000, help="How many events, newest first.")] = 200,
    event: Annotated[Optional[str], typer.Option("--event", help="Only this event (login_failed, token_revoked, …).")] = None,
    actor: Annotated[Optional[str], typer.Option("--actor", help="Only events of this user or token name.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit log: logins, refusals, uploads, settings changes, users and tokens."""
    from cvm.web import audit

    if event is not None and event not in audit.EVENTS:
        raise SchemaError(f"unknown event '{event}'", hint="choose one of: " + ", ".join(audit.EVENTS))
    with workspace_access(workspace) as access:
        events = audit.read(access, limit=limit, event=event, actor=actor)
    if as_json:
        emit_json({"events": events})
        return
    _print_rows(events, list(audit.COLUMNS), "the audit log is empty")


def _print_rows(rows: list[dict[str, Any]], columns: list[str], empty: str) -> None:
    """Rows as a Rich table (control characters of stored names shown escaped, never interpreted)."""
    from rich.markup import escape
    from rich.table import Table

    from cvm.cli.output import format_value

    if not rows:
        out.print(empty)
        return
    from datetime import datetime

    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, datetime):  # to the second: the microseconds are noise here
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, str) and not value.isprintable():
            return escape(repr(value)[1:-1])
        return escape(format_value(value))

    table = Table(header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[cell(row.get(c)) for c in columns])
    out.print(table)


def version() -> None:
    """Print the cvm version."""
    from cvm import __version__

    typer.echo(__version__)
