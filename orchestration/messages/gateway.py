"""The gateway: remote callers' door.

A process that serves remote clients (the REST/WebSocket server, the MCP server) opens one link
to the gateway actor; each of its clients follows conversations through that link. The gateway
subscribes to a conversation once, whoever follows it, and sends each link one copy.
"""

from __future__ import annotations

from typing import Any

from orchestration.messages.base import Message

__all__ = [
    "Follow",
    "GatewayAddress",
    "GatewayFeed",
    "GatewayReport",
    "GatewayState",
    "InitGateway",
    "LinkAck",
    "LinkAlive",
    "LinkDropped",
    "LinkItems",
    "LinkOpened",
    "LocateGateway",
    "OpenLink",
    "Unfollow",
]


class LocateGateway(Message):
    """Ask the root where the gateway is. Replies `GatewayAddress`."""


class GatewayAddress(Message):
    address: Any


class InitGateway(Message):
    """Root to a new gateway: how many messages may wait for a link, and how long it may stay
    silent, before it is dropped."""

    window: int
    link_timeout: float


class OpenLink(Message):
    """A serving process opens its link (the sender's address). Replies `LinkOpened`."""


class LinkOpened(Message):
    link: str
    window: int
    """Messages that may wait for the link at the gateway before it is dropped."""
    credits: int
    """Deliveries that may be in flight to the link, unacknowledged."""
    heartbeat: float
    """How often the link must acknowledge (and the gateway answers `LinkAlive`)."""


class Follow(Message):
    """One client of ``link`` follows ``conversation`` (``None``: the event bus), fed by
    ``source`` (a router, or the root). Replies `Subscribed` once the feed is live."""

    link: str
    conversation: str | None
    source: Any
    stream: bool = True
    """Also the turns' stream messages."""


class Unfollow(Message):
    """One client of ``link`` stopped following ``conversation``."""

    link: str
    conversation: str | None


class LinkItems(Message):
    """Gateway to a link: what the feeds it follows sent since the last delivery, in order, as
    (conversation, items) parts (``None``: the event bus)."""

    parts: list[tuple[str | None, list[Any]]]


class LinkAck(Message):
    """A link has handled ``received`` deliveries in all; sent once half its credits are used
    and at least every heartbeat. Replies `LinkAlive` (or `LinkDropped` when the gateway no longer
    knows the link)."""

    link: str
    received: int


class LinkAlive(Message):
    pass


class LinkDropped(Message):
    """The gateway dropped the link and its follows; ``reason`` says why."""

    link: str
    reason: str


class GatewayState(Message):
    """Ask the gateway what it feeds. Replies `GatewayReport`."""


class GatewayFeed(Message):
    conversation: str | None
    links: int
    follows: int
    stream: bool


class GatewayReport(Message):
    pid: int
    links: int
    feeds: list[GatewayFeed]
    dropped: int
    """Links dropped since the gateway started (too slow, or silent)."""
