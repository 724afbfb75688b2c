"""The errors a caller of orchestration sees, each with a ``hint`` that says what to do.

They live here, apart from the code that raises them, so that the CLI can catch them without
importing that code first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["DaemonError", "OrchestrationError", "SettingsError", "TurnFailedError"]

if TYPE_CHECKING:
    from orchestration.messages import ErrorReply


class OrchestrationError(Exception):
    """The tree refused a command. ``code`` classifies it and ``hint`` says what to do."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint

    @classmethod
    def from_reply(cls, reply: ErrorReply) -> OrchestrationError:
        return cls(reply.code, reply.error, reply.hint)


class TurnFailedError(OrchestrationError):
    """A turn ended in `TurnFailed`: ``code`` is its kind; ``retryable`` says whether sending it
    again may work."""

    def __init__(self, kind: str, error: str, *, retryable: bool) -> None:
        super().__init__(kind, error)
        self.retryable = retryable


class DaemonError(Exception):
    """The daemon cannot be reached or started. ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class SettingsError(Exception):
    """The environment or the settings file holds a value that cannot be used."""
