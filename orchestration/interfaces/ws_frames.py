"""What a WebSocket client is sent: messages and turns' stream messages as JSON frames, each
message once (by id) and each turn's text once, whichever source brings it first.

A client that speaks in a direct conversation gets its own turn from two sources: the turn's
stream (the shortest path) and the gateway feed that every client of the conversation shares.
Both carry the same deltas in the same order; `Frames` counts each source's position in the
turn's text and sends only what no source has brought yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestration.interfaces.agents_api import SSE_EVENTS
from orchestration.messages import Envelope, TurnDelta, TurnFinished, TurnStarted

__all__ = ["FEED", "OWN", "Frames", "TurnText"]

FEED = "feed"
OWN = "own"
RECENT = 4096
"""Message ids, and ended turn ids, remembered per connection."""

Frame = dict[str, Any]


@dataclass
class TurnText:
    """How much of one turn's text the client has been sent, and each source's position."""

    shown: int = 0
    positions: dict[str, int] = field(default_factory=dict)

    def new_text(self, source: str, text: str) -> str:
        """The part of ``source``'s next delta ``text`` that the client has not seen."""
        start = self.positions.get(source, 0)
        end = self.positions[source] = start + len(text)
        if end <= self.shown:
            return ""
        piece = text[max(0, self.shown - start) :]
        self.shown = end
        return piece


class Frames:
    """Turns items of a conversation's sources into frames, without repeats."""

    def __init__(self, conversation: str, cursor: str | None) -> None:
        self.cursor = cursor
        self._conversation = conversation
        self._sent: dict[str, None] = {}
        self._turns: dict[str, TurnText] = {}
        self._ended: dict[str, None] = {}

    def of(self, item: Any, source: str = FEED) -> list[Frame]:
        if isinstance(item, Envelope):
            return self._message(item)
        if item.turn_id in self._ended:
            return self._message(item.message) if isinstance(item, TurnFinished) else []
        if isinstance(item, TurnStarted):
            if item.turn_id in self._turns:
                return []
            self._turns[item.turn_id] = TurnText()
            return [_frame(item)]
        turn = self._turns.setdefault(item.turn_id, TurnText())  # joined mid-turn
        if isinstance(item, TurnDelta):
            piece = turn.new_text(source, item.text)
            return [_frame(item.model_copy(update={"text": piece}))] if piece else []
        del self._turns[item.turn_id]
        _remember(self._ended, item.turn_id)
        frames = [_frame(item)]
        if isinstance(item, TurnFinished):
            frames.extend(self._message(item.message))
        return frames

    def _message(self, message: Envelope) -> list[Frame]:
        if message.id in self._sent:
            return []
        _remember(self._sent, message.id)
        if message.conversation == self._conversation:
            self.cursor = message.id
        body = message.model_dump(mode="json")
        return [{"type": "message", "id": message.id, "cursor": self.cursor, "message": body}]


def _frame(item: Any) -> Frame:
    return {"type": SSE_EVENTS[type(item)], **item.model_dump(mode="json")}


def _remember(seen: dict[str, None], key: str) -> None:
    seen[key] = None
    if len(seen) > RECENT:
        del seen[next(iter(seen))]
