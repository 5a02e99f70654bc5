"""Errors a user of cvm can meet, each with a message that says what to do.

Every error a user can cause derives from :class:`CvmError`; the CLI turns
these into a one-line message and exit code 1, never a traceback.
"""

from __future__ import annotations


class CvmError(Exception):
    """Base class of every error cvm raises for a user's input or situation.

    Parameters
    ----------
    message
        What went wrong, in the user's words.
    hint
        What to try next (optional); shown on its own line by the faces.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class SchemaError(CvmError):
    """Input data does not have the columns, types or values a step needs."""


class ConvergenceError(CvmError):
    """A model fit did not reach a valid maximum of the likelihood."""


class NotFittedError(CvmError):
    """A prediction was asked of a model that has no parameters yet."""


class AuthError(CvmError):
    """Authentication or authorisation failed (web app, API tokens)."""


class WorkspaceError(CvmError):
    """The workspace is missing, locked, or lacks what a command needs."""
