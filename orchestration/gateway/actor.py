"""The gateway actor: the tree's one door for processes that serve remote clients.

A serving process (the REST/WebSocket server, the MCP server) opens one *link* (`OpenLink`).
Each of its clients then follows the conversations it watches (`Follow`, `Unfollow`). The
gateway subscribes to a conversation's feed once, whoever follows it, and sends every link
that follows it one copy of each upstream message (`LinkItems`): a hundred WebSockets on one
room cost the room's router one subscriber, and the serving process fans out locally.

Backpressure is credit-based. A link acknowledges what it handled (`LinkAck`, once half its
credits are used and at least every heartbeat), and at most `CREDITS` deliveries are in flight
to it: what arrives meanwhile waits
at the gateway and goes as one delivery when a credit frees. A link with more than ``window``
messages waiting, or silent for ``link_timeout`` seconds, is dropped (`LinkDropped` with the
reason) and its feeds are unsubscribed. The credits matter because Thespian caps an actor's
unacknowledged transmits at 20 across *all* targets (``MAX_PENDING_TRANSMITS``) and queues the
rest behind them: sends to a serving process that stopped reading would otherwise hold up the
deliveries to every other one. The root supervises the gateway as one of its services and
starts a new one if it dies or stops answering (``gateway_restarted``); the serving processes
then see their links end and their clients reconnect.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.service import ServiceActor
from orchestration.actors.subscribers import STREAM
from orchestration.conversation_ids import EVENTS_CONVERSATION
from orchestration.messages import (
    Batch,
    Envelope,
    ErrorReply,
    Follow,
    GatewayFeed,
    GatewayReport,
    GatewayState,
    InitGateway,
    LinkAck,
    LinkAlive,
    LinkDropped,
    LinkItems,
    LinkOpened,
    OpenLink,
    Ping,
    Subscribe,
    Subscribed,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    Unfollow,
    Unsubscribe,
    new_id,
)

__all__ = [
    "CREDITS",
    "HEARTBEATS_PER_TIMEOUT",
    "GatewayActor",
    "Link",
    "Upstream",
    "conversation_of",
]

log = logging.getLogger(__name__)

HEARTBEATS_PER_TIMEOUT = 10
"""A link acknowledges this many times within ``link_timeout``."""
CREDITS = 4
"""Deliveries in flight to one link at most: well below Thespian's 20 pending transmits per
actor, so a few stuck serving processes cannot hold up the others."""


@dataclass
class Link:
    """A serving process: where its deliveries go, what its clients follow, how far behind
    it is."""

    address: Any
    heard_at: float
    follows: dict[str | None, list[bool]] = field(default_factory=dict)
    """Per conversation, one entry per client following it: whether it wants the stream."""
    sent: int = 0
    acked: int = 0
    waiting: list[tuple[str | None, list[Any]]] = field(default_factory=list)
    """What waits for a credit, as (conversation, items) parts."""
    waiting_items: int = 0


@dataclass
class Upstream:
    """The gateway's own subscription to one conversation (or the event bus)."""

    source: Any
    stream: bool
    live: bool = False
    waiting: list[Any] = field(default_factory=list)
    """Who asked to follow before the subscription was acknowledged."""


class GatewayActor(ServiceActor):
    """Holds the remote clients' subscriptions inside the tree and fans their feeds out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window = 2000
        self.link_timeout = 10.0
        self.links: dict[str, Link] = {}
        self.feeds: dict[str | None, Upstream] = {}
        self.dropped = 0
        self.handlers = {
            InitGateway: self._init,
            Ping: self.answer_ping,
            OpenLink: self._open,
            Follow: self._follow,
            Unfollow: self._unfollow,
            Subscribed: self._subscribed,
            ErrorReply: self._refused,
            LinkAck: self._ack,
            GatewayState: self._state,
            Envelope: self._upstream,
            TurnStarted: self._upstream,
            TurnDelta: self._upstream,
            TurnFinished: self._upstream,
            TurnFailed: self._upstream,
            Batch: self._upstream,
            WakeupMessage: self._check_links,
            ActorExitRequest: self._on_exit,
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self.answer_error(error, message, sender, "gateway")

    def _init(self, message: InitGateway, sender: Any) -> None:
        self.started(sender, "gateway")
        self.window = message.window
        self.link_timeout = message.link_timeout
        self.wakeupAfter(self.link_timeout / 2)

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        for conversation, feed in self.feeds.items():
            self.send(feed.source, Unsubscribe(conversation=conversation))

    # --- links and follows -------------------------------------------------------------------

    def _open(self, message: OpenLink, sender: Any) -> None:
        link = new_id()
        self.links[link] = Link(sender, heard_at=time.monotonic())
        heartbeat = self.link_timeout / HEARTBEATS_PER_TIMEOUT
        opened = LinkOpened(link=link, window=self.window, credits=CREDITS, heartbeat=heartbeat)
        self.send(sender, opened)

    def _follow(self, message: Follow, sender: Any) -> None:
        link = self.links.get(message.link)
        if link is None:
            self.send(sender, _unknown_link(message.link))
            return
        conversation = message.conversation
        link.follows.setdefault(conversation, []).append(message.stream)
        feed = self.feeds.get(conversation)
        if feed is None:
            feed = self.feeds[conversation] = Upstream(message.source, message.stream)
            self.send(feed.source, Subscribe(conversation=conversation, stream=feed.stream))
        elif message.stream and not feed.stream:
            feed.stream, feed.live = True, False  # the new Subscribe replaces the old one
            self.send(feed.source, Subscribe(conversation=conversation, stream=True))
        if feed.live:
            self.send(sender, Subscribed(conversation=conversation))
        else:
            feed.waiting.append(sender)

    def _subscribed(self, message: Subscribed, sender: Any) -> None:
        feed = self.feeds.get(message.conversation)
        if feed is None:
            return
        feed.live = True
        for asker in feed.waiting:
            self.send(asker, message)
        feed.waiting.clear()

    def _refused(self, message: ErrorReply, sender: Any) -> None:
        """A source refused a subscription (a room deleted meanwhile): the follows waiting
        for one hear why, and the feeds not yet live are given up."""
        for conversation, feed in list(self.feeds.items()):
            if not feed.live:
                for asker in feed.waiting:
                    self.send(asker, message)
                del self.feeds[conversation]
                for link in self.links.values():
                    link.follows.pop(conversation, None)

    def _unfollow(self, message: Unfollow, sender: Any) -> None:
        link = self.links.get(message.link)
        flags = link.follows.get(message.conversation) if link is not None else None
        if link is None or not flags:
            return
        flags.pop()
        if not flags:
            del link.follows[message.conversation]
            self._release(message.conversation)

    def _release(self, conversation: str | None) -> None:
        """Unsubscribe from ``conversation`` when no link follows it any more."""
        if any(conversation in link.follows for link in self.links.values()):
            return
        feed = self.feeds.pop(conversation, None)
        if feed is not None:
            self.send(feed.source, Unsubscribe(conversation=conversation))

    # --- deliveries and backpressure ---------------------------------------------------------

    def _upstream(self, message: Any, sender: Any) -> None:
        items = message.items if isinstance(message, Batch) else [message]
        if not items:
            return
        conversation = conversation_of(items[0])
        journaled = [item for item in items if not isinstance(item, STREAM)]
        for name, link in list(self.links.items()):
            flags = link.follows.get(conversation)
            wanted = (items if any(flags) else journaled) if flags else []
            if not wanted:
                continue
            link.waiting.append((conversation, wanted))
            link.waiting_items += len(wanted)
            if link.waiting_items > self.window:
                self._drop(name, f"too slow: {link.waiting_items} messages waiting for it")
            else:
                self._deliver(link)

    def _deliver(self, link: Link) -> None:
        """Send what waits for ``link`` as one delivery, if it has a credit left."""
        if link.waiting and link.sent - link.acked < CREDITS:
            self.send(link.address, LinkItems(parts=link.waiting))
            link.sent += 1
            link.waiting, link.waiting_items = [], 0

    def _ack(self, message: LinkAck, sender: Any) -> None:
        link = self.links.get(message.link)
        if link is None:
            self.send(sender, _unknown_link(message.link))
            return
        link.acked = max(link.acked, message.received)
        link.heard_at = time.monotonic()
        self.send(sender, LinkAlive())
        self._deliver(link)

    def _check_links(self, message: WakeupMessage, sender: Any) -> None:
        silent_since = time.monotonic() - self.link_timeout
        for name, link in list(self.links.items()):
            if link.heard_at < silent_since:
                self._drop(name, f"silent for more than {self.link_timeout:g} s")
        self.wakeupAfter(self.link_timeout / 2)

    def _drop(self, name: str, reason: str) -> None:
        link = self.links.pop(name)
        self.dropped += 1
        log.warning("gateway dropped link %s: %s", name, reason)
        self.send(link.address, LinkDropped(link=name, reason=reason))
        for conversation in link.follows:
            self._release(conversation)

    def _state(self, message: GatewayState, sender: Any) -> None:
        feeds = [
            GatewayFeed(
                conversation=conversation,
                links=sum(1 for link in self.links.values() if conversation in link.follows),
                follows=sum(
                    len(link.follows.get(conversation, [])) for link in self.links.values()
                ),
                stream=feed.stream,
            )
            for conversation, feed in self.feeds.items()
        ]
        report = GatewayReport(
            pid=os.getpid(), links=len(self.links), feeds=feeds, dropped=self.dropped
        )
        self.send(sender, report)


def conversation_of(item: Any) -> str | None:
    """The feed an upstream item belongs to (``None``: the event bus)."""
    conversation = (
        item.message.conversation if isinstance(item, TurnFinished) else item.conversation
    )
    return None if conversation == EVENTS_CONVERSATION else conversation


def _unknown_link(link: str) -> LinkDropped:
    return LinkDropped(link=link, reason="the gateway does not know this link (it restarted)")
