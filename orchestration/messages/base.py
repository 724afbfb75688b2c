"""The base of the protocol: the `Message` model and the helpers every message module uses.

Every message is a frozen Pydantic model defined at module level, so it pickles cleanly between
actor processes (a pickle names the class by its module path: both ends run the same code).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["PROTOCOL_VERSION", "Message", "new_id", "utc_now"]

PROTOCOL_VERSION = 1


def new_id() -> str:
    """A fresh message or turn id: 32 hex digits, time-ordered like a UUIDv7.

    The first 12 digits are the Unix time in milliseconds, so ids sort by creation and the
    journal's id index grows at its end instead of at random pages.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every protocol message: frozen, strict about fields, versioned."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    v: int = PROTOCOL_VERSION

    def __str__(self) -> str:
        """The type's name only. Thespian formats every message it sends with ``str()`` for
        its debug log, whatever the log level, and a full rendering of a large message (a room
        of 200 members) costs more than sending it; ``repr()`` still shows every field."""
        return type(self).__name__
