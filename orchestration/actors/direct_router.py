"""A direct conversation's router (``dm:AGENT``): one actor per agent, its DM's only writer.

Every message said in the conversation reaches the router first. It checks it, appends it to the
journal, and only then delivers it. It grants the agent one turn at a time and queues the rest
(the journal already holds them, so nothing is dropped). It forwards the agent's deltas to the
conversation's subscribers, and journals each turn's end before it tells the caller and the
subscribers.

It is a supervised child of the root. Every incarnation (after a crash of the router, of the
root or of the daemon) starts by queueing every message of its conversation that the journal
holds unanswered, and keeps the conversation's subscribers, which the root hands it.

On errors: a bad message or an unwritable journal gets an `ErrorReply` to its sender and
nothing is delivered. An agent that dies mid-turn (`AgentMoved`) fails that turn with a clear
`TurnFailed`, so no caller waits forever; one that ended its session normally has sent its
reply first, and the turn waits `FINAL_GRACE` for it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.dispatch import error_reply
from orchestration.actors.service import ServiceActor
from orchestration.actors.subscribers import Subscriber, Subscribers
from orchestration.actors.turn_core import TurnWatchdog, failure_record, unanswered
from orchestration.journal import Journal, JournalError
from orchestration.messages import (
    AgentMoved,
    Deliver,
    Envelope,
    ErrorReply,
    InitRouter,
    Ping,
    Send,
    StopRouter,
    Subscribe,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    Unsubscribe,
    content_problem,
    new_id,
)

__all__ = ["FINAL_GRACE", "RECOVER_WINDOW", "DirectRouter", "Turn"]

log = logging.getLogger(__name__)

RECOVER_WINDOW = 500
"""How many of its newest messages a router reads for unanswered ones."""
_LEAVE = ("leave",)
_SETTLE = "settle"
FINAL_GRACE = 1.0
"""Seconds an open turn waits for the reply of an agent that ended its session normally: the
reply reached this router before the agent exited, but two senders' messages that arrive
together are handled in either order."""


@dataclass(frozen=True)
class Turn:
    """A turn granted or waiting: the message to answer and who streams the reply."""

    turn_id: str
    message: Envelope
    reply_to: Any


class DirectRouter(ServiceActor):
    """Journals, then delivers, the messages of one agent's direct conversation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = ""
        self.journal: Journal | None = None
        self.agent = ""
        self.agent_address: Any = None
        self.max_chars = 0
        self.turn_timeout: float | None = None
        self.stopping = False
        self.supervisor: Any = None
        self.current: Turn | None = None
        self.settling: AgentMoved | None = None
        self.waiting: deque[Turn] = deque()
        self.subscribers = Subscribers()
        self.watchdog = TurnWatchdog()
        self.handlers = {
            InitRouter: self._init,
            Send: self._send,
            TurnStarted: self._delta,
            TurnDelta: self._delta,
            TurnFinished: self._finished,
            TurnFailed: self._failed,
            AgentMoved: self._agent_moved,
            WakeupMessage: self._on_wakeup,
            StopRouter: self._stop,
            Subscribe: self._feed,
            Unsubscribe: self._feed,
            ActorExitRequest: self._on_exit,
            Ping: self.answer_ping,
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        log.exception("router %s failed on %s", self.conversation, type(message).__name__)
        if isinstance(message, Send):
            caller = message.reply_to or sender
            self.send(caller, ErrorReply(code="internal", error=f"the router failed: {error!r}"))

    def _init(self, message: InitRouter, sender: Any) -> None:
        self.started(sender, "router", message.conversation)
        self.conversation = message.conversation
        self.agent = message.agent
        self.max_chars = message.max_message_chars
        self.turn_timeout = message.turn_timeout
        self.journal = Journal(message.journal_path)
        for subscription in message.subscribers:
            self.subscribers.add(Subscriber(subscription.subscriber, subscription.stream))
        rows = self.journal.history(self.conversation, limit=RECOVER_WINDOW, newest=True)
        for envelope in unanswered((e for _, e in rows), self.agent):
            self.waiting.append(Turn(new_id(), envelope, None))
        if self.waiting:
            log.warning(
                "router %s: %d unanswered message(s) in the journal queued again",
                self.conversation,
                len(self.waiting),
            )

    def service_state(self) -> str:
        return "processing" if self.current is not None else "idle"

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        for turn in [self.current, *self.waiting]:
            if turn is not None:
                self._end(self._failure(turn, "stopped", "the conversation stopped"), turn)
        self.current = None
        self.waiting.clear()
        if self.journal is not None:
            self.journal.close()

    # --- messages in -------------------------------------------------------------------------

    def _send(self, message: Send, sender: Any) -> None:
        envelope = message.message
        caller = message.reply_to or sender
        problem = self._check(envelope)
        if problem is not None:
            self.send(caller, problem)
            return
        try:
            if self._journal().seq_of(envelope.id, self.conversation) is not None:
                self._rejoin(envelope, caller)
                return
            self._journal().append(envelope)
        except JournalError as exc:
            self.send(caller, error_reply(exc, "router"))
            return
        self.subscribers.publish(self, envelope)
        self.waiting.append(Turn(new_id(), envelope, caller))
        self._next()

    def _rejoin(self, envelope: Envelope, caller: Any) -> None:
        """A message sent again (its caller lost the router it first went to): the journal
        has it once; ``caller`` now waits for its turn, or hears that it was answered."""
        if self.current is not None and self.current.message.id == envelope.id:
            self.current = replace(self.current, reply_to=caller)
            return
        for index, turn in enumerate(self.waiting):
            if turn.message.id == envelope.id:
                self.waiting[index] = replace(turn, reply_to=caller)
                return
        rows = self._journal().history(self.conversation, limit=RECOVER_WINDOW, newest=True)
        if any(m.id == envelope.id for m in unanswered((e for _, e in rows), self.agent)):
            self.waiting.append(Turn(new_id(), envelope, caller))  # journaled, never queued
            self._next()
            return
        self.send(
            caller,
            ErrorReply(
                code="already_answered",
                error=f"message {envelope.id} was already answered",
                hint=f"see the reply: orchestration history {self.agent}",
            ),
        )

    def _check(self, envelope: Envelope) -> ErrorReply | None:
        if envelope.conversation != self.conversation:
            return ErrorReply(
                code="invalid_message",
                error=f"message for {envelope.conversation!r} sent to {self.conversation!r}",
            )
        problem = content_problem(envelope.content, self.max_chars)
        if problem is not None:
            return ErrorReply(code="invalid_message", error=problem[0], hint=problem[1])
        return None

    def _next(self) -> None:
        """Grant the agent the next waiting turn, if it is up and free; when stopping, leave
        once the turn in flight has ended."""
        if self.stopping:
            if self.current is None:
                self._leave()
            return
        if self.current is not None or not self.waiting or self.agent_address is None:
            return
        self.current = self.waiting.popleft()
        observers = self.subscribers.count(skip=self.current.reply_to)
        self.send(
            self.agent_address,
            Deliver(
                message=self.current.message,
                turn_id=self.current.turn_id,
                reply_to=self.current.reply_to,
                router=self.myAddress,
                observed=observers > 0,
            ),
        )

    def _stop(self, message: StopRouter, sender: Any) -> None:
        self.stopping = True
        if self.current is None:
            self._leave()
        else:
            self.wakeupAfter(message.grace, payload=_LEAVE)

    def _leave(self) -> None:
        self.send(self.myAddress, ActorExitRequest())

    def _on_wakeup(self, message: WakeupMessage, sender: Any) -> None:
        """A stop's grace ran out, a turn's ``turn_timeout`` passed (is the agent stuck?), or the
        reply of an agent that ended normally never came."""
        if message.payload == _LEAVE:
            self._leave()
            return
        turn = self.current
        if isinstance(message.payload, tuple) and message.payload[0] == _SETTLE:
            if turn is not None and turn.turn_id == message.payload[1] and self.settling:
                self._fail_current(self.settling)
            return
        expired = self.watchdog.expired(message.payload)
        if expired is not None and turn is not None and turn.turn_id == expired[1]:
            self.watchdog.report(self, self.supervisor, *expired)

    # --- the agent's stream ------------------------------------------------------------------

    def _delta(self, message: TurnStarted | TurnDelta, sender: Any) -> None:
        current = self.current
        ours = current is not None and current.turn_id == message.turn_id
        if isinstance(message, TurnStarted) and ours:
            # timed from its start: before, it may have waited in the agent's backlog
            self.watchdog.arm(self, self.agent, message.turn_id, self.turn_timeout)
        self.subscribers.publish(self, message, skip=current.reply_to if current else None)

    def _finished(self, message: TurnFinished, sender: Any) -> None:
        turn = self._take(message.turn_id)
        if turn is None:
            return
        self._journal().append(message.message)
        self._end(message, turn)
        self._next()

    def _failed(self, message: TurnFailed, sender: Any) -> None:
        if message.agent_exiting:  # hold new turns: anything sent to it now would be lost
            self.agent_address = None
        turn = self._take(message.turn_id)
        if turn is not None:
            self._end(message, turn)
            self._next()

    def _agent_moved(self, message: AgentMoved, sender: Any) -> None:
        """The agent's supervisor says where the agent is now (None: down)."""
        self.agent_address, self.supervisor = message.address, sender
        turn = self.current
        if turn is not None and message.address is None and message.ended_normally:
            self.settling = message  # its reply is here already, or the turn fails at the grace
            self.wakeupAfter(FINAL_GRACE, payload=(_SETTLE, turn.turn_id))
            return
        self._fail_current(message)

    def _fail_current(self, moved: AgentMoved) -> None:
        """The agent is gone: its open turn, if any, fails with why."""
        turn, self.current, self.settling = self.current, None, None
        if turn is not None:
            self._end(self._failure(turn, moved.kind, moved.reason, retryable=True), turn)
        self._next()

    def _take(self, turn_id: str) -> Turn | None:
        """The current turn, if ``turn_id`` is it, which then ends."""
        turn = self.current
        if turn is None or turn.turn_id != turn_id:
            return None
        self.current, self.settling = None, None
        return turn

    def _failure(self, turn: Turn, kind: Any, error: str, *, retryable: bool = False) -> TurnFailed:
        return TurnFailed(
            turn_id=turn.turn_id,
            agent=self.agent,
            conversation=self.conversation,
            kind=kind,
            error=error,
            retryable=retryable,
        )

    def _end(self, message: TurnFinished | TurnFailed, turn: Turn) -> None:
        """Journal a failure as an event, then tell the caller and the subscribers."""
        if isinstance(message, TurnFailed):
            self._journal().append(failure_record(self.conversation, message, turn.message.id))
        if turn.reply_to is not None:
            self.send(turn.reply_to, message)
        self.subscribers.publish(self, message, skip=turn.reply_to)

    # --- observers ---------------------------------------------------------------------------

    def _feed(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        self.subscribers.handle(self, message, sender)

    def _journal(self) -> Journal:
        assert self.journal is not None, "router used before InitRouter"
        return self.journal
