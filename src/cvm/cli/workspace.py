"""The workspace folder a command reads or writes; a failed command leaves no half-made workspace."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def open_workspace(path: Path, create: bool = False):
    """The workspace at ``path``; without ``create`` a missing workspace is a clear error."""
    from cvm.data import Workspace
    from cvm.errors import WorkspaceError

    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder",
                             hint="give the folder that holds cvm.duckdb (--workspace DIR)")
    if not create and not (path / "cvm.duckdb").exists():
        raise WorkspaceError(
            f"no workspace at {path}",
            hint="ingest data first (cvm ingest FILE --workspace DIR) or run 'cvm demo'",
        )
    return Workspace.open(path)


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
