"""The ``cvm`` command line (Typer + Rich).

Each command parses its options and calls one library function; rendering is
either a Rich table for people or, with ``--json``, exactly one JSON object
for scripts. Exit codes: 0 ok, 1 a user error (one clear message, no
traceback), 2 a usage error.

Layout: ``commands`` (the command table), one module per group of commands
(``data_commands``, ``model_commands``, ``value_commands``, ``question_commands``,
``report_commands``, ``admin_commands``), ``options`` (shared options), ``output``
(JSON, tables, --out files), ``workspace`` and ``error_output`` (errors and warnings).
"""

from __future__ import annotations

import os
import sys

import typer

from cvm.cli.commands import app, token_app, users_app
from cvm.cli.error_output import QUIET_WARNINGS, error_payload, print_error, print_localized, report_unexpected, warning_printer
from cvm.cli.options import (
    DEFAULT_WORKSPACE, AsOfOpt, DiscountOpt, HorizonOpt, JsonOpt, KindOpt, MapOpt, MarginOpt, ModelOpt, OutOpt,
    TimeUnitOpt, WorkspaceOpt, parse_date, parse_mapping,
)
from cvm.cli.output import check_out, emit_json, err, format_value, frame_table, out, write_frame
from cvm.cli.workspace import open_workspace, writing_workspace
from cvm.errors import CvmError

__all__ = [
    "app", "users_app", "token_app", "main", "entry", "out", "err", "emit_json", "frame_table", "format_value",
    "check_out", "write_frame", "open_workspace", "writing_workspace", "parse_date", "parse_mapping",
    "QUIET_WARNINGS", "error_payload", "print_error", "warning_printer", "DEFAULT_WORKSPACE", "AsOfOpt", "DiscountOpt",
    "HorizonOpt", "JsonOpt", "KindOpt", "MapOpt", "MarginOpt", "ModelOpt", "OutOpt", "TimeUnitOpt", "WorkspaceOpt",
]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    0 ok; 1 a mistake in the input or situation (a :class:`~cvm.errors.CvmError`: one
    message and a hint on stderr, never a traceback); 2 a usage error (unknown option,
    a value of the wrong type). With ``--json`` a failure also prints one JSON object
    ``{"error", "hint", "kind", "exit_code"}`` on stdout, so a script always gets JSON.
    A full disk, a missing permission, a read-only folder or a file that vanished is
    the machine's: one message naming the path and what to do (exit 1,
    :class:`~cvm.errors.EnvironmentProblem`). Anything else is a fault in cvm: one line
    naming it (exit 1); ``CVM_DEBUG=1`` shows the traceback.
    """
    from typer._click.exceptions import ClickException

    import warnings

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        with warnings.catch_warnings():
            warnings.showwarning = warning_printer(args)
            app(args=args, prog_name="cvm", standalone_mode=False)
    except CvmError as exc:  # in the reader's language: --language, else the workspace's
        message, hint = print_localized(exc, args)
        if as_json:
            emit_json(error_payload(message, hint, type(exc).__name__, 1, exc.code))
        return 1
    except ClickException as exc:  # usage: unknown option, missing argument, a value of the wrong type
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        if as_json:
            command = " ".join(a for a in args[:1] if not a.startswith("-"))
            emit_json(error_payload(exc.format_message(), f"see: cvm {command} --help".replace("  ", " "),
                                    "UsageError", exc.exit_code))
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # the machine (a full disk, no permission), else a fault in cvm: one message
        if os.environ.get("CVM_DEBUG"):
            raise
        return report_unexpected(exc, as_json, args)
    return 0


def entry() -> None:  # console_scripts target
    sys.exit(main())
