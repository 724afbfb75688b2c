"""The handler table every actor of ours uses, and the one place a handler's error is caught.

Thespian redelivers a message whose handler raised (and then sends `PoisonMessage`), which
could run a provider call twice. So no handler's exception leaves `receiveMessage`: each actor
says in `on_handler_error` what an error means for it (reply, or crash and let its supervisor
decide).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from thespian.actors import Actor, ThespianWatch

from orchestration.journal import JournalError
from orchestration.messages import ErrorReply

__all__ = ["DispatchActor", "error_reply"]

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], None]


class DispatchActor(Actor):
    """Dispatches each message to ``handlers[type(message)]``; ignores what has no handler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handlers: dict[type, Handler] = {}

    def receiveMessage(self, message: Any, sender: Any) -> ThespianWatch | None:
        handler = self.handlers.get(type(message))
        if handler is not None:
            try:
                handler(message, sender)
            except Exception as exc:
                self.on_handler_error(exc, message, sender)
        return self.watch()

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        """What a handler's exception means for this actor."""
        raise NotImplementedError

    def answer_error(self, error: Exception, message: Any, sender: Any, actor: str) -> None:
        """Log an unexpected ``error`` (a journal problem is the user's to fix, not a bug) and
        answer whoever waits for ``message``: its ``reply_to``, or else its sender."""
        if not isinstance(error, JournalError):
            log.exception("%s failed on %s", actor, type(message).__name__)
        caller = getattr(message, "reply_to", None) or sender
        self.send(caller, error_reply(error, actor))

    def watch(self) -> ThespianWatch | None:
        """The descriptors to keep watching after every message (none by default)."""
        return None


def error_reply(error: Exception, actor: str) -> ErrorReply:
    """What to answer a command whose handler raised ``error``: the journal's problem and fix,
    or an internal failure of ``actor``."""
    if isinstance(error, JournalError):
        return ErrorReply(code="journal", error=error.message, hint=error.hint)
    return ErrorReply(code="internal", error=f"{actor} failed: {error!r}")
