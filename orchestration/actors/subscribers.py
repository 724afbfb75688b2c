"""The feed an actor keeps for its observers: `Subscribe`, `Unsubscribe`, publish."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import Actor

from orchestration.messages import (
    Batch,
    Subscribe,
    Subscribed,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    Unsubscribe,
)

__all__ = ["FLUSH", "STREAM", "Subscriber", "Subscribers"]

STREAM = (TurnStarted, TurnDelta, TurnFinished, TurnFailed)
COALESCE_SECONDS = 0.02
FLUSH = "subscribers-flush"
"""The wakeup payload an actor passes to `Subscribers.flush`."""


@dataclass
class Subscriber:
    """Who asked, and whether it wants the turns' stream too or only the journaled messages."""

    address: Any
    stream: bool = True
    pending: list[Any] = field(default_factory=list)


class Subscribers:
    """Who asked for an actor's messages, in order (`ActorAddress` is not hashable).

    With ``coalesce``, messages published within `COALESCE_SECONDS` of the last send wait and
    go together as one `Batch` when the actor's wakeup (payload `FLUSH`) calls `flush`: a busy
    room then costs its subscribers a few sends per round, not one per message.
    """

    def __init__(self, *, coalesce: bool = False) -> None:
        self._subscribers: list[Subscriber] = []
        self._coalesce = coalesce
        self._last_send = 0.0
        self._flush_due = False

    def handle(self, actor: Actor, message: Subscribe | Unsubscribe, sender: Any) -> None:
        """Add or remove the subscriber (``message.subscriber``, or else ``sender``); a
        subscription is acknowledged with `Subscribed`."""
        address = message.subscriber or sender
        self._subscribers = [s for s in self._subscribers if s.address != address]
        if isinstance(message, Subscribe):
            self._subscribers.append(Subscriber(address, message.stream))
            actor.send(address, Subscribed(conversation=message.conversation))

    def add(self, subscriber: Subscriber) -> None:
        """Add a subscriber without acknowledging it (one carried over from a restart)."""
        if all(s.address != subscriber.address for s in self._subscribers):
            self._subscribers.append(subscriber)

    def count(self, *, skip: Any = None, stream: bool = False) -> int:
        """How many subscribers there are, not counting ``skip`` (with ``stream``: how many
        want the turns' stream)."""
        return sum(1 for s in self._subscribers if s.address != skip and (s.stream or not stream))

    def publish(self, actor: Actor, message: Any, *, skip: Any = None) -> None:
        """Send ``message`` to every subscriber but ``skip`` (a stream message only to those
        who want the stream)."""
        streamed = isinstance(message, STREAM)
        wanting = [s for s in self._subscribers if s.address != skip and (s.stream or not streamed)]
        if not wanting:
            return
        wait = self._last_send + COALESCE_SECONDS - time.monotonic()
        if not self._coalesce or (wait <= 0 and not self._flush_due):
            self._last_send = time.monotonic()
            for subscriber in wanting:
                actor.send(subscriber.address, message)
            return
        for subscriber in wanting:
            subscriber.pending.append(message)
        if not self._flush_due:
            self._flush_due = True
            actor.wakeupAfter(max(wait, 0.0), payload=FLUSH)

    def flush(self, actor: Actor) -> None:
        """Send each subscriber what waits for it, as one `Batch`."""
        self._flush_due = False
        self._last_send = time.monotonic()
        for subscriber in self._subscribers:
            if subscriber.pending:
                items, subscriber.pending = subscriber.pending, []
                actor.send(subscriber.address, items[0] if len(items) == 1 else Batch(items=items))
