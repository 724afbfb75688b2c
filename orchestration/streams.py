"""What a Runtime call hands back while it runs: a turn's stream and a live subscription.

Both read from their own ``private()`` endpoint of the actor system, so several can run at
once in one process (threads included), and both stop at a deadline rather than hang.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from thespian.actors import ActorSystem

from orchestration.daemon.actor_system import find_root
from orchestration.errors import DaemonError, OrchestrationError, TurnFailedError
from orchestration.interrupts import private
from orchestration.messages import (
    Batch,
    Cancel,
    Envelope,
    ErrorReply,
    Ok,
    Ping,
    Send,
    StreamMessage,
    Subscribe,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    Unsubscribe,
    utc_now,
)

__all__ = [
    "ASK_TIMEOUT",
    "DeltaLedger",
    "EndpointPool",
    "Feed",
    "Lease",
    "RouterCheck",
    "Subscription",
    "TurnStream",
    "turn_outcome",
]

ASK_TIMEOUT = 10.0
"""The default of the ``request_timeout`` setting."""


class DeltaLedger:
    """Makes the deltas a reader sees add up to each turn's final text.

    An agent may send a turn's last piece of text only inside `TurnFinished` (whose message
    holds the whole reply), and a delta may arrive after it; the ledger turns the missing text
    into one last `TurnDelta` before the `TurnFinished`, and drops late deltas.
    """

    def __init__(self) -> None:
        self._shown: dict[str, int] = {}
        self._ended: set[str] = set()

    def accept(self, message: Any) -> list[Any]:
        """What to hand the reader for one received message, in order."""
        if isinstance(message, TurnDelta):
            if message.turn_id in self._ended:
                return []
            self._shown[message.turn_id] = self._shown.get(message.turn_id, 0) + len(message.text)
        elif isinstance(message, TurnFinished | TurnFailed):
            self._ended.add(message.turn_id)
            rest = ""
            if isinstance(message, TurnFinished):
                rest = message.message.content[self._shown.pop(message.turn_id, 0) :]
            if rest:
                tail = TurnDelta(
                    turn_id=message.turn_id,
                    agent=message.agent,
                    conversation=message.message.conversation,
                    text=rest,
                )
                return [tail, message]
        return [message]


@dataclass
class Lease:
    """A private endpoint of the actor system, and the turns that already ended on it (whose
    late deltas a later turn on it must ignore)."""

    context: Any
    endpoint: Any
    ended: deque[str] = field(default_factory=lambda: deque(maxlen=64))

    def close(self) -> None:
        self.context.__exit__(None, None, None)


class EndpointPool:
    """Private endpoints for turn streams, reused once a turn ended cleanly: a fresh endpoint
    costs its first connections to and from the tree (about 0.3-0.5 ms per turn). An endpoint
    whose turn was abandoned (a timeout, a reader that left) is closed, never reused, so no
    stale reply can reach a later turn; late deltas of ended turns are ignored by turn id."""

    LIMIT = 8

    def __init__(self, asys: ActorSystem) -> None:
        self._asys = asys
        self._idle: list[Lease] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> Lease:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        context = private(self._asys)
        return Lease(context, context.__enter__())

    def give_back(self, lease: Lease) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.LIMIT:
                self._idle.append(lease)
                return
        lease.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for lease in idle:
            lease.close()


RouterCheck = Callable[[datetime], Any]
"""Asks the root whether the router of a turn sent at the given time is still the one it was
sent to: None if so, else the root to send the message to again (raises if the agent is gone
or the root does not answer)."""


class TurnStream:
    """The stream of one turn: `TurnStarted`, `TurnDelta`s, then `TurnFinished` or `TurnFailed`.

    Its deadline, ``timeout``, is on the gap between two messages, not on the whole turn. After
    ``check_every`` seconds of silence it asks the root about the turn's router (``check``): a
    router (or root) that died or stopped answering is replaced, and the message is sent again
    to the replacement. The journal holds it once whatever happens: a router that already has
    it makes this stream the turn's caller again.

    The deltas it yields always add up to the final text: if the turn's end arrives before a
    delta does, the missing text is yielded as one last `TurnDelta`. An exception raised while
    waiting (a KeyboardInterrupt, say) leaves the stream usable: call `cancel()` and keep
    iterating, and it ends with ``TurnFailed(cancelled)``.
    """

    def __init__(
        self,
        asys: ActorSystem,
        pool: EndpointPool,
        root: Any,
        agent: str,
        message: Envelope,
        timeout: float,
        check: RouterCheck | None = None,
        check_every: float = 2.0,
    ):
        self.agent = agent
        self.message = message
        self._asys = asys
        self._pool = pool
        self._root = root
        self._timeout = timeout
        self._check, self._check_every = check, check_every
        self._turn_id: str | None = None
        self._lease: Lease | None = pool.take()
        self._endpoint = self._lease.endpoint
        self._sent_at = utc_now()
        self._endpoint.tell(root, Send(message=message))
        self._ready: deque[StreamMessage] = deque()
        self._ledger = DeltaLedger()
        self._done = False
        self._clean = False

    def __iter__(self) -> TurnStream:
        return self

    def __next__(self) -> StreamMessage:
        while not self._ready:
            if self._done:
                self.close()
                raise StopIteration
            self._ready.extend(self._handle(self._listen()))
        return self._ready.popleft()

    def _listen(self) -> Any:
        """The next message, or None once the gap deadline passed; checks the router on every
        ``check_every`` seconds of silence."""
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            wait = left if self._check is None else min(left, self._check_every)
            reply = self._endpoint.listen(wait)
            if reply is not None or self._check is None:
                return reply
            try:
                root = self._check(self._sent_at)
            except Exception:
                self._done = True
                raise
            if root is not None:
                self._sent_at = utc_now()
                self._endpoint.tell(root, Send(message=self.message))

    def __enter__(self) -> TurnStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, reply: Any) -> list[StreamMessage]:
        if reply is None:
            self._done = True
            raise OrchestrationError(
                "timeout",
                f"no answer from agent {self.agent} within {self._timeout:g} s",
                hint="the turn may still be running; see `orchestration list`",
            )
        if isinstance(reply, ErrorReply):
            self._done = self._clean = True
            raise OrchestrationError.from_reply(reply)
        if not self._ours(reply):
            return []
        if isinstance(reply, TurnStarted):
            self._turn_id = reply.turn_id
        elif isinstance(reply, TurnFinished | TurnFailed):
            self._done = self._clean = True
            assert self._lease is not None
            self._lease.ended.append(reply.turn_id)
        return self._ledger.accept(reply)

    def _ours(self, reply: Any) -> bool:
        """Whether ``reply`` belongs to this turn, not to one that ended earlier on a reused
        endpoint (a delta may trail its turn's end)."""
        if not isinstance(reply, TurnStarted | TurnDelta | TurnFinished | TurnFailed):
            return True
        if isinstance(reply, TurnStarted):
            return reply.in_reply_to == self.message.id
        if self._turn_id is not None:
            return reply.turn_id == self._turn_id
        assert self._lease is not None
        return reply.turn_id not in self._lease.ended

    def cancel(self) -> None:
        """Ask the agent to cancel this turn (its current one if it has not started yet)."""
        with private(self._asys) as endpoint:
            endpoint.tell(self._root, Cancel(agent=self.agent, turn_id=self._turn_id))

    def close(self) -> None:
        """Release the stream's endpoint (idempotent): back to the pool if the turn ended."""
        lease, self._lease = self._lease, None
        if lease is not None:
            if self._clean:
                self._pool.give_back(lease)
            else:
                lease.close()

    def result(self) -> TurnFinished:
        """Run the turn to its end; raise `TurnFailedError` if it failed."""
        for event in self:
            if (finished := turn_outcome(event)) is not None:
                return finished
        raise OrchestrationError("internal", NO_RESULT)


NO_RESULT = "the turn ended without a result"


def turn_outcome(event: Any) -> TurnFinished | None:
    """How a turn's stream ends, for every reader that runs a turn to its end: the
    `TurnFinished` if ``event`` is one, `TurnFailedError` raised for a `TurnFailed`, else None."""
    if isinstance(event, TurnFinished):
        return event
    if isinstance(event, TurnFailed):
        raise TurnFailedError(event.kind, event.error, retryable=event.retryable)
    return None


Feed = tuple[Any, str | None]
"""An actor to subscribe to, and the conversation (None: every supervision event)."""


class Subscription:
    """A live feed from one or more routers or the root, on one endpoint; subscribed (and
    acknowledged) on creation. ``keep`` drops what the reader does not want; without
    ``stream`` the turns' stream messages are not even sent.

    The root keeps the subscriptions over a restart of any router. If the root itself dies,
    the feed falls silent: after `CHECK_EVERY` seconds of silence the subscription pings what it
    follows, and subscribes again to the new root if the old one is gone (what was said in
    between is in the journal)."""

    POLL = 0.25
    CHECK_EVERY = 2.0
    PING_TIMEOUT = 1.0
    """A followed actor silent this long counts as gone (if it still runs, the root's address
    is unchanged and the feed goes on)."""

    def __init__(
        self,
        asys: ActorSystem,
        feeds: list[Feed],
        timeout: float | None,
        keep: Callable[[Any], bool] | None = None,
        *,
        stream: bool = True,
    ):
        self._feeds: list[Feed] = []
        self._keep = keep
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._ready: deque[Any] = deque()
        self._stopped = threading.Event()
        self._ledger = DeltaLedger()
        self._asys, self._stream = asys, stream
        self._heard = time.monotonic()
        self._context: Any = private(asys)
        self._endpoint = self._context.__enter__()
        for target, conversation in feeds:
            self._subscribe(target, conversation)
            self._feeds.append((target, conversation))

    def _subscribe(self, target: Any, conversation: str | None) -> None:
        request = Subscribe(conversation=conversation, stream=self._stream)
        reply = self._endpoint.ask(target, request, ASK_TIMEOUT)
        if not isinstance(reply, Ok):
            self.close()
            if isinstance(reply, ErrorReply):
                raise OrchestrationError.from_reply(reply)
            raise DaemonError(f"subscribing to {conversation or 'events'} failed: {reply!r}")

    def _check_feeds(self) -> None:
        """After a silence: subscribe again, to the new root, if the one followed is gone."""
        self._heard = time.monotonic()
        targets: list[Any] = []
        for target, _ in self._feeds:
            if target not in targets:
                targets.append(target)
        with private(self._asys) as probe:
            if all(probe.ask(target, Ping(), self.PING_TIMEOUT) for target in targets):
                return
            root = find_root(probe)
        if root in targets:
            return  # the admin has not yet replaced it: at the next silence
        feeds, self._feeds = self._feeds, [(root, conversation) for _, conversation in self._feeds]
        for _, conversation in feeds:
            self._subscribe(root, conversation)

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Any:
        while not self._ready and self._context is not None and not self._stopped.is_set():
            wait = self.POLL
            if self._deadline is not None:
                wait = min(wait, self._deadline - time.monotonic())
                if wait <= 0:
                    break
            message = self._endpoint.listen(wait)
            if message is not None:
                self._heard = time.monotonic()
            elif time.monotonic() - self._heard > self.CHECK_EVERY:
                self._check_feeds()
            for item in message.items if isinstance(message, Batch) else [message]:
                if item is not None and (self._keep is None or self._keep(item)):
                    self._ready.extend(self._ledger.accept(item))
        if self._ready:
            return self._ready.popleft()
        self.close()
        raise StopIteration

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Make the iteration end within `POLL` seconds; callable from any thread (the
        iterating thread then unsubscribes and closes, as it must)."""
        self._stopped.set()

    def close(self) -> None:
        """Unsubscribe and release the endpoint (idempotent)."""
        if self._context is not None:
            for target, conversation in self._feeds:
                self._endpoint.tell(target, Unsubscribe(conversation=conversation))
            self._context.__exit__(None, None, None)
            self._context = None
