"""The base of the protocol: the `Message` model and the helpers every message module uses.

Every message is a frozen Pydantic model defined at module level, so it pickles cleanly between
actor processes (a pickle names the class by its module path: both ends run the same code).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Message", "new_id", "utc_now"]


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
    """Base of every protocol message: frozen and strict about fields. The protocol's version
    is not stamped on each message: `orchestration.frames` carries it once per frame."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_version(cls, data: Any) -> Any:
        """Journals written before the version left the messages hold ``"v": 1`` in each
        saved spec and event; read them as if it were not there."""
        if isinstance(data, dict) and "v" in data:
            return {name: value for name, value in data.items() if name != "v"}
        return data

    def __str__(self) -> str:
        """The type's name only. Thespian formats every message it sends with ``str()`` for
        its debug log, whatever the log level, and a full rendering of a large message (a room
        of 200 members) costs more than sending it; ``repr()`` still shows every field."""
        return type(self).__name__
