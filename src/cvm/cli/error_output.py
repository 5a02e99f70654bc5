"""How failures and warnings reach the user: one ``error:`` line with a hint, one ``warning:`` line.

Under ``--json`` a failure is also one JSON object on stdout (:func:`error_payload`).
"""

from __future__ import annotations

from typing import Any

from cvm.cli.output import err


def error_payload(message: str, hint: str | None, kind: str, exit_code: int, code: str | None = None) -> dict[str, Any]:
    """The one JSON object a script gets on stdout when a command fails under ``--json``.

    ``error`` and ``hint`` are the words the reader was shown (in the workspace's language);
    ``kind`` and ``code`` (the catalogue code, when the error has one) do not depend on the language.
    """
    return {"error": message, "hint": hint, "kind": kind, "exit_code": exit_code, "code": code}


def reader_language(args: list[str]) -> str:
    """The language a command's reader gets its error in: ``--language``, else the workspace's setting, else English.

    The workspace is the one the command names (``--workspace``/``-w``, else ``$CVM_WORKSPACE``, else
    ``cvm-workspace``); its ``settings.toml`` is only read, and an unreadable one means English.
    """
    import os
    from pathlib import Path

    from cvm.cli.options import DEFAULT_WORKSPACE
    from cvm.i18n import language

    given = {"--language": None, "--workspace": None, "-w": None}
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in given:
            given[name] = value if value else (args[i + 1] if i + 1 < len(args) else None)
    if given["--language"]:
        return language(given["--language"])
    folder = Path(given["--workspace"] or given["-w"] or os.environ.get("CVM_WORKSPACE") or DEFAULT_WORKSPACE)
    try:
        from cvm.settings import Settings

        return language(Settings.load(folder / "settings.toml").language)
    except Exception:  # no workspace yet, or settings the command itself reports as broken
        return language(None)


def print_localized(exc: BaseException, args: list[str]) -> tuple[str, str | None]:
    """Print a user's error in their language (:func:`reader_language`); returns the (message, hint) shown."""
    from cvm.messages import localize

    message, hint = localize(exc, reader_language(args))
    print_error(message, hint)
    return message, hint


def print_error(message: str, hint: str | None) -> None:
    """One red ``error:`` line and an optional ``hint:`` line on stderr (the text is never read as markup)."""
    from rich.text import Text

    # soft_wrap: the terminal wraps long lines; paths in the message are never broken by a newline
    err.print(Text("error: ", style="bold red") + Text(message), highlight=False, soft_wrap=True)
    if hint:
        err.print(Text(f"hint: {hint}"), highlight=False, soft_wrap=True)


def report_unexpected(exc: BaseException, as_json: bool, args: list[str] | None = None) -> int:
    """Report an exception that is no :class:`~cvm.errors.CvmError`; returns the exit code (1).

    A full disk, a missing permission, a read-only folder or a file that vanished is the
    machine's, not cvm's: :class:`~cvm.errors.EnvironmentProblem` names the path and
    what to do. Anything else is a fault in cvm, said in one line.
    """
    from cvm.cli.output import emit_json
    from cvm.errors import EnvironmentProblem

    problem = EnvironmentProblem.from_exception(exc)
    if problem is not None:
        from cvm.messages import localize

        message, hint = localize(problem, reader_language(args or []))
        kind, code = type(problem).__name__, problem.code
    else:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        message = f"cvm failed unexpectedly ({type(exc).__name__}{': ' + detail if detail else ''})"
        hint = "this is a fault in cvm, not in your input; run again with CVM_DEBUG=1 to see the traceback and report it"
        kind, code = "InternalError", None
    print_error(message, hint)
    if as_json:
        emit_json(error_payload(message, hint, kind, 1, code))
    return 1


#: library notices that are not about the user's data (pyspark's note on pandas 3: the Spark engine's
#: tests check its numbers against the DuckDB engine under pandas 3)
QUIET_WARNINGS = ("PySpark does not yet fully support pandas",)


def warning_printer(args: list[str]):
    """A ``warnings.showwarning``: one ``warning:`` line on stderr, without the source file and code line, in the
    reader's language (:func:`reader_language`, looked up at the first warning).

    A warning that carries a catalogue code (``code`` and ``values``, as the engine's
    :class:`~cvm.models.base.CvmWarning`) is shown in the reader's words; any other in its own.
    """
    language: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message)
        if text.startswith(QUIET_WARNINGS):
            return
        code = getattr(message, "code", None)
        if code:
            from cvm.messages import localize_parts

            if not language:
                language.append(reader_language(args))
            said, hint = localize_parts(code, getattr(message, "values", None), (text, None), language[0])
            text = said if not hint or said == text else f"{said.rstrip('.')}. {hint}"
        print_warning(text)

    return show


def print_warning(message: str) -> None:
    """One ``warning:`` line on stderr (also for warnings a library call recorded rather than raised)."""
    from rich.text import Text

    err.print(Text("warning: ", style="yellow") + Text(message), highlight=False, soft_wrap=True)
