"""``cvm init``: a team workspace whose generations have a PostgreSQL catalog, for a team on several machines.

The embedded default needs no ``init`` (the first ``cvm ingest`` creates ``cvm.duckdb``);
``cvm init --catalog postgresql://… --data-path DIR`` makes the folder a team workspace
(see :mod:`cvm.data.catalog`), after which every command works on it as on any workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, out


def init(
    catalog: Annotated[str, typer.Option("--catalog", help="The catalog database: postgresql://user@host:5432/database.")],
    data_path: Annotated[Path, typer.Option("--data-path", help="Folder of the workspace's generations, the same path on every machine.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Create a team workspace: generations in a shared folder, their catalog, the write lock and the users in PostgreSQL."""
    from cvm.data import Workspace
    from cvm.data.catalog import create, redact
    from cvm.i18n import text

    made = create(workspace, catalog, data_path)
    Workspace.open(workspace).close()  # the first generation: the empty tables, published
    shown = {"path": str(workspace), "catalog": redact(made.url), "data_path": str(made.data_path)}
    if as_json:
        emit_json({"workspace": shown["path"], "kind": "postgres-catalog", "catalog": shown["catalog"],
                   "data_path": shown["data_path"]})
        return
    out.print(text("workspace.catalog_created", "en", shown), markup=False, highlight=False, soft_wrap=True)
