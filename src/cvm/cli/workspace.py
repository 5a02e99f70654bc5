"""The workspace folder a command reads or writes; a failed command leaves no half-made workspace.

Commands that only read open the latest published generation and never wait; commands
that change the workspace take its write lock, waiting (with a line on standard error
saying for whom) while another change runs (see :mod:`cvm.data.generations`).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def open_workspace(path: Path, create: bool = False, write: bool = False):
    """The workspace at ``path``; without ``create`` a missing workspace is a clear error.

    ``write`` (or ``create``) opens it for a change: the write lock is taken and the
    change is published when the command ends; otherwise it is opened to read.
    """
    from cvm.data import Workspace
    from cvm.errors import WorkspaceError

    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder",
                             hint="give the folder that holds cvm.duckdb (--workspace DIR)")
    from cvm.data.generations import exists

    if not create and not exists(path):
        raise WorkspaceError(
            f"no workspace at {path}",
            hint="ingest data first (cvm ingest FILE --workspace DIR) or run 'cvm demo'",
        )
    writing = write or create
    return Workspace.open(path, read_only=not writing, on_wait=_waiting_line(path) if writing else None)


def _waiting_line(path: Path):
    """Says once, in the workspace's language, whom a change waits for."""

    def say(holder: dict[str, Any]) -> None:
        from cvm.cli.output import err
        from cvm.i18n import text
        from cvm.settings import Settings

        try:
            language = Settings.load(path / "settings.toml").language
        except Exception:  # unreadable settings are reported by the command itself
            language = "en"
        err.print(text("workspace.waiting", language, holder), markup=False, highlight=False, soft_wrap=True)

    return say


@contextmanager
def writing_workspace(path: Path, keep: bool = True) -> Iterator[Any]:
    """Open (or create) the workspace for a command that writes to it.

    A workspace this command created is removed again when the command fails (or when
    ``keep`` is false, as for a dry run), so a mistake leaves no half-made workspace behind.
    """
    created = not path.exists()
    ws = open_workspace(path, create=True)
    try:
        yield ws
    except BaseException:
        if created:
            _remove_new_workspace(ws)
        raise
    if created and not keep:
        _remove_new_workspace(ws)


def _remove_new_workspace(ws: Any) -> None:
    try:
        ws.close()
    finally:
        shutil.rmtree(ws.path, ignore_errors=True)


@contextmanager
def workspace_access(path: Path, create: bool = False) -> Iterator[Any]:
    """The access store of the workspace at ``path`` (users, tokens, sessions, audit: ``access.sqlite``).

    It is written by several processes at once (a running ``cvm serve`` too), so an
    admin command never waits for a refresh of the data. ``create`` makes the
    workspace when it does not exist yet; otherwise a missing workspace is an error.
    """
    from cvm.data.generations import exists
    from cvm.web.access_store import connect

    if create and not exists(path):
        with writing_workspace(path) as ws:
            ws.close()  # the new, empty workspace is published
            con = connect(path)
            try:
                yield con
            finally:
                con.close()
        return
    open_workspace(path).close()  # says what is wrong with the folder, if anything
    con = connect(path)
    try:
        yield con
    finally:
        con.close()
