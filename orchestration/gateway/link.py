"""A serving process's link to the gateway actor, and the clients that follow through it.

The other end of `orchestration.gateway.actor`. The REST/WebSocket server opens one
`GatewayLink` (through `Runtime.link`). Every client that watches a conversation is a
`Follower` of it: the gateway subscribes to the conversation once and sends the link one copy
of each message, which the link's thread hands to each follower's callback. The link
acknowledges what it handled; if the gateway drops it (too slow, silent) or stops answering (it
died, and the root started a new one), every follower ends with a `LinkLost` error and the next
`Runtime.link()` opens a new link.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from thespian.actors import ActorSystem

from orchestration.errors import DaemonError
from orchestration.messages import (
    ErrorReply,
    Follow,
    LinkAck,
    LinkAlive,
    LinkDropped,
    LinkItems,
    LinkOpened,
    OpenLink,
    StreamMessage,
    Subscribed,
    Unfollow,
)
from orchestration.streams import ASK_TIMEOUT, DeltaLedger, Feed, OrchestrationError

__all__ = ["MISSED_HEARTBEATS", "Deliver", "End", "Follower", "GatewayLink", "LinkLost"]

log = logging.getLogger(__name__)

MISSED_HEARTBEATS = 3
"""Heartbeats without an answer after which the gateway counts as gone."""


class LinkLost(DaemonError):
    """The gateway dropped this process's link, or stopped answering it."""


Deliver = Callable[[Any], None]
End = Callable[[Exception], None]


class Follower:
    """One client's view of some feeds through the link: ``deliver`` gets each message (its
    turns' deltas adding up to each final text), ``end`` gets the error that ended the feed.
    Both run on the link's thread, so they must only hand over (to a queue, an event loop)."""

    def __init__(
        self,
        link: GatewayLink,
        feeds: list[Feed],
        deliver: Deliver,
        end: End,
        keep: Callable[[Any], bool] | None,
        stream: bool,
    ) -> None:
        self.feeds = feeds
        self.stream = stream
        self._link = link
        self._deliver = deliver
        self._end = end
        self._keep = keep
        self._ledger = DeltaLedger()
        self.closed = False

    def take(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, StreamMessage) and not self.stream:
                continue
            if self._keep is None or self._keep(item):
                for shown in self._ledger.accept(item):
                    self._deliver(shown)

    def end(self, error: Exception) -> None:
        if not self.closed:
            self.closed = True
            self._end(error)

    def close(self) -> None:
        """Stop following (idempotent; blocks for one tell)."""
        if not self.closed:
            self.closed = True
            self._link.release(self, [conversation for _, conversation in self.feeds])


class GatewayLink:
    """One endpoint and one thread that receive this process's deliveries from the gateway."""

    def __init__(self, asys: ActorSystem, gateway: Any) -> None:
        self._asys = asys
        self.gateway = gateway
        self.id = ""
        self.heartbeat = 1.0
        self.lost: LinkLost | None = None
        self._followers: dict[str | None, list[Follower]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-link", daemon=True)
        self._thread.start()
        if not self._opened.wait(ASK_TIMEOUT + 1) or not self.id:
            self.close()
            raise self.lost or DaemonError("the gateway did not open a link")

    @property
    def alive(self) -> bool:
        return self.lost is None and not self._stopping.is_set()

    # --- followers (any thread) --------------------------------------------------------------

    def follow(
        self,
        feeds: list[Feed],
        deliver: Deliver,
        end: End,
        *,
        keep: Callable[[Any], bool] | None = None,
        stream: bool = True,
    ) -> Follower:
        """Follow ``feeds`` (source actor, conversation; ``None``: the event bus); returns once
        every feed is live, so nothing said afterwards is missed."""
        follower = Follower(self, feeds, deliver, end, keep, stream)
        with self._lock:
            if self.lost is not None:
                raise self.lost
            for _, conversation in feeds:
                self._followers.setdefault(conversation, []).append(follower)
        registered: list[str | None] = []  # what the gateway may count for this follower
        try:
            with self._asys.private() as endpoint:
                for source, conversation in feeds:
                    registered.append(conversation)
                    request = Follow(
                        link=self.id, conversation=conversation, source=source, stream=stream
                    )
                    reply = endpoint.ask(self.gateway, request, ASK_TIMEOUT)
                    if isinstance(reply, ErrorReply | LinkDropped):
                        registered.pop()  # refused: the gateway counted nothing
                    if not isinstance(reply, Subscribed):
                        raise _refusal(reply, conversation)
        except BaseException:
            follower.closed = True
            self.release(follower, registered)
            raise
        return follower

    def release(self, follower: Follower, conversations: list[str | None]) -> None:
        """Forget ``follower``, and tell the gateway it no longer follows ``conversations``
        (the gateway unsubscribes from what nobody follows)."""
        with self._lock:
            for _, conversation in follower.feeds:
                followers = self._followers.get(conversation, [])
                if follower in followers:
                    followers.remove(follower)
        if self.alive and conversations:
            with self._asys.private() as endpoint:
                for conversation in conversations:
                    endpoint.tell(self.gateway, Unfollow(link=self.id, conversation=conversation))

    def close(self) -> None:
        """Stop the thread; the gateway forgets the link when it falls silent."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.heartbeat + 1)

    # --- the link's thread -------------------------------------------------------------------

    def _run(self) -> None:
        with self._asys.private() as endpoint:
            opened = endpoint.ask(self.gateway, OpenLink(), ASK_TIMEOUT)
            if not isinstance(opened, LinkOpened):
                self.lost = LinkLost(f"the gateway did not open a link: {opened!r}")
                self._opened.set()
                return
            self.id, self.heartbeat = opened.link, opened.heartbeat
            self._opened.set()
            received = acked = 0
            ack_every = max(1, opened.credits // 2)  # the gateway never waits on a credit
            answered = next_ack = time.monotonic()
            while not self._stopping.is_set():
                now = time.monotonic()
                if now >= next_ack or received - acked >= ack_every:
                    endpoint.tell(self.gateway, LinkAck(link=self.id, received=received))
                    acked, next_ack = received, now + self.heartbeat
                if now - answered > MISSED_HEARTBEATS * self.heartbeat:
                    self._lose(f"the gateway stopped answering for {now - answered:.1f} s")
                    return
                message = endpoint.listen(max(0.0, min(self.heartbeat, next_ack - now)))
                if isinstance(message, LinkItems):
                    received += 1
                    self._hand_out(message)
                elif isinstance(message, LinkAlive):
                    answered = time.monotonic()
                elif isinstance(message, LinkDropped):
                    self._lose(f"the gateway dropped this server's feed: {message.reason}")
                    return

    def _hand_out(self, message: LinkItems) -> None:
        for conversation, items in message.parts:
            with self._lock:
                followers = list(self._followers.get(conversation, []))
            for follower in followers:
                try:
                    follower.take(items)
                except Exception:  # one client's callback must not starve the others
                    log.exception("a follower of %s failed", conversation)

    def _lose(self, reason: str) -> None:
        log.warning("gateway link %s lost: %s", self.id, reason)
        with self._lock:
            self.lost = LinkLost(reason, hint="reconnect, resuming from the last message")
            followers = {id(f): f for group in self._followers.values() for f in group}
            self._followers.clear()
        for follower in followers.values():
            follower.end(self.lost)


def _refusal(reply: Any, conversation: str | None) -> Exception:
    if isinstance(reply, ErrorReply):
        return OrchestrationError.from_reply(reply)
    if isinstance(reply, LinkDropped):
        return LinkLost(reply.reason, hint="reconnect")
    what = conversation or "the event bus"
    return DaemonError(f"following {what} through the gateway failed: {reply!r}")
