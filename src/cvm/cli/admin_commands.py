"""Looking after a workspace: ``cvm settings``, ``cvm users add``, ``cvm token create`` and ``cvm version``."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, out
from cvm.cli.workspace import open_workspace, writing_workspace
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


def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    password: Annotated[Optional[str], typer.Option("--password", envvar="CVM_PASSWORD", help="Password (prompted when omitted).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Add a web-app user."""
    from cvm.web.auth import add_user

    if password is None:
        if not sys.stdin.isatty():
            raise SchemaError("no password given", hint="pass --password or set CVM_PASSWORD")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    open_workspace(workspace, create=True)
    add_user(workspace, name, password, role)
    if as_json:
        emit_json({"user": name, "role": role})
    else:
        out.print(f"user {name} added with role {role}")


def token_create(
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    name: Annotated[Optional[str], typer.Option("--name", help="A label for the token.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Create an API bearer token (shown once)."""
    from cvm.web.auth import create_token

    open_workspace(workspace, create=True)
    token = create_token(workspace, role, name=name)
    if as_json:
        emit_json({"token": token, "role": role})
    else:
        out.print(token)


def version() -> None:
    """Print the cvm version."""
    from cvm import __version__

    typer.echo(__version__)
