"""The data-health summary in the terminal: ``cvm health``, and the section ``cvm ingest`` and ``cvm score`` print.

The lines come from :func:`cvm.health.data_health` and are written in the workspace's language
(``cvm settings --set language=nl``); ``--json`` carries the same summary under ``health``.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, out
from cvm.cli.workspace import open_workspace

_STYLE = {"warning": "yellow", "ok": "green", "detail": "", "info": ""}
_MARK = {"warning": "!", "ok": "✓", "detail": " ", "info": "·"}
_HINT = {"en": "Hint", "nl": "Tip"}


def print_health(summary: Any, language: str) -> None:
    """The summary as a titled list: warnings in yellow with their hint below (never read as markup)."""
    from rich.text import Text

    out.print(Text(summary.title(language), style="bold"))
    for line in summary.sentences(language):
        indent = "    " if line["level"] == "detail" else "  "
        out.print(Text(f"{indent}{_MARK.get(line['level'], '·')} {line['text']}", style=_STYLE.get(line["level"], "")),
                  soft_wrap=True)
        if line["hint"]:
            out.print(Text(f"{indent}  {_HINT.get(language, 'Hint')}: {line['hint']}", style="dim"), soft_wrap=True)


def health(
    run: Annotated[Optional[str], typer.Option("--run", help="Describe this scoring run (default: the latest as-of date).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Data health: quarantined rows per reason, implausible dates and amounts, returns, one-time buyers, what the model used."""
    from cvm.health import data_health

    ws = open_workspace(workspace)
    language = ws.settings.language
    summary = data_health(ws, run_id=run)
    if as_json:
        emit_json({"health": summary.to_dict(language)})
    else:
        print_health(summary, language)
