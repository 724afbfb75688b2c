"""The feed an actor keeps for its observers: `Subscribe`, `Unsubscribe`, publish."""

from __future__ import annotations

from typing import Any

from thespian.actors import Actor

from orchestration.messages import Ok, Subscribe, Unsubscribe


class Subscribers:
    """Addresses that asked for an actor's messages (a list: `ActorAddress` is not hashable)."""

    def __init__(self) -> None:
        self._addresses: list[Any] = []

    def handle(self, actor: Actor, message: Subscribe | Unsubscribe, sender: Any) -> None:
        """Add or remove the subscriber (``message.subscriber``, or else ``sender``); a
        subscription is acknowledged with `Ok`."""
        subscriber = message.subscriber or sender
        if isinstance(message, Subscribe):
            self.add(subscriber)
            actor.send(subscriber, Ok(detail="subscribed"))
        elif subscriber in self._addresses:
            self._addresses.remove(subscriber)

    def add(self, address: Any) -> None:
        """Add a subscriber without acknowledging it (one carried over from a restart)."""
        if address not in self._addresses:
            self._addresses.append(address)

    def count(self, *, skip: Any = None) -> int:
        """How many subscribers there are, not counting ``skip``."""
        return sum(1 for address in self._addresses if address != skip)

    def publish(self, actor: Actor, message: Any, *, skip: Any = None) -> None:
        """Send ``message`` to every subscriber but ``skip``."""
        for address in self._addresses:
            if address != skip:
                actor.send(address, message)
