"""Errors a user of cvm can meet, each with a message that says what to do.

Every error a user can cause derives from :class:`CvmError`; errors about the
input (:class:`SchemaError`, :class:`NotFittedError`, :class:`ConvergenceError`)
are also ValueErrors, as lifetimes' and scikit-learn's. The CLI turns
these into a one-line message and exit code 1, never a traceback. Errors a user
of the upload path or the web pages meets carry a code of
:data:`cvm.messages.CATALOGUE`, so the web app can show them in Dutch too.
"""

from __future__ import annotations

from typing import Any, Self


class CvmError(Exception):
    """Base class of every error cvm raises for a user's input or situation.

    Parameters
    ----------
    message
        What went wrong, in the user's words.
    hint
        What to try next (optional); shown on its own line by the faces.
    code
        The error's code in :data:`cvm.messages.CATALOGUE`, when it has one: a face
        shows the words of that code in its reader's language
        (:func:`cvm.messages.localize`).
    values
        The values the code's message is filled in with (names as in the catalogue).

    Examples
    --------
    >>> err = SchemaError.coded("named_file_empty", name="orders.csv")
    >>> err.message, err.hint
    ('the file orders.csv is empty', 'check that you exported the right file')
    >>> err.code, err.values
    ('named_file_empty', {'name': 'orders.csv'})
    """

    def __init__(self, message: str, hint: str | None = None, *, code: str | None = None,
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.values = dict(values or {})

    @classmethod
    def coded(cls, code: str, **values: Any) -> Self:
        """The error ``code`` of :data:`cvm.messages.CATALOGUE`, its English message and hint filled in with ``values``.

        Raises
        ------
        KeyError
            ``code`` is not in the catalogue, or a value its words need is missing
            (a mistake in cvm, found by the tests of :mod:`cvm.messages`).
        """
        from cvm.messages import english

        message, hint = english(code, values)
        return cls(message, hint, code=code, values=values)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class SchemaError(CvmError, ValueError):
    """Input data does not have the columns, types or values a step needs.

    Also a :class:`ValueError`, so code written for lifetimes or scikit-learn
    (``except ValueError``) catches it.
    """


class ConvergenceError(CvmError, ValueError):
    """A model fit did not reach a valid maximum of the likelihood (a :class:`ValueError`, as lifetimes')."""


class NotFittedError(CvmError, ValueError):
    """A prediction was asked of a model that has no parameters yet (a :class:`ValueError`, as in lifetimes
    and scikit-learn)."""


class AuthError(CvmError):
    """Authentication or authorisation failed (web app, API tokens)."""


class WorkspaceError(CvmError):
    """The workspace is missing, locked, or lacks what a command needs."""


class EnvironmentProblem(CvmError):
    """The machine, not the input nor cvm: a full disk, no permission, a read-only folder, a vanished file.

    :meth:`from_exception` recognises these in an ``OSError`` (by its errno) or in a
    DuckDB I/O error (by the system's words in its message) and names the path.
    """

    #: the system's words for each errno, as DuckDB quotes them in its messages
    _WORDS = {"No space left on device": "ENOSPC", "Disk quota exceeded": "EDQUOT", "Permission denied": "EACCES",
              "Read-only file system": "EROFS", "No such file or directory": "ENOENT"}

    @classmethod
    def from_exception(cls, exc: BaseException, path: Any = None) -> "EnvironmentProblem | None":
        """The problem ``exc`` reports about ``path`` (default: the path it names), or None if it is none of these."""
        import errno
        import re

        text = str(exc)
        name = errno.errorcode.get(getattr(exc, "errno", None) or 0)
        if name is None and type(exc).__module__.startswith(("duckdb", "_duckdb")):
            name = next((n for words, n in cls._WORDS.items() if words in text), None)
        quoted = re.search(r'"([^"]+)"', text)
        where = str(path or getattr(exc, "filename", None) or (quoted.group(1) if quoted else "") or "(unknown path)")
        if name in ("ENOSPC", "EDQUOT"):
            return cls.coded("disk_full", path=where)
        if name in ("EACCES", "EPERM"):
            return cls.coded("no_permission", path=where)
        if name == "EROFS":
            return cls.coded("read_only", path=where)
        if name in ("ENOENT", "ESTALE"):
            return cls.coded("file_vanished", path=where)
        if isinstance(exc, OSError) and (path or exc.filename):  # another failure of the disk or the file system
            return cls.coded("os_error", path=where, detail=exc.strerror or text)
        return None
