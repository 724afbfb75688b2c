"""The conversation router: one actor per conversation, the conversation's only writer.

Every message said in the conversation reaches the router first. It checks it, appends it to the
journal, and only then delivers it. It grants the agent one turn at a time and queues the rest
(the journal already holds them, so nothing is dropped). It forwards the agent's deltas to the
conversation's subscribers, and journals each turn's end before it tells the caller and the
subscribers.

On errors: a bad message or an unwritable journal gets an `ErrorReply` to its sender and
nothing is delivered. An agent that dies mid-turn (`AgentMoved`) fails that turn with a clear
`TurnFailed`, so no caller waits forever; one that ended its session normally has sent its
reply first, and the turn waits `FINAL_GRACE` for it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.dispatch import DispatchActor, error_reply
from orchestration.actors.subscribers import Subscribers
from orchestration.journal import Journal, JournalError
from orchestration.messages import (
    AgentMoved,
    AgentStuck,
    Deliver,
    Envelope,
    ErrorReply,
    InitRouter,
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
from orchestration.processes import die_with_parent

log = logging.getLogger(__name__)

SYSTEM_SENDER = "system"
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


class ConversationRouter(DispatchActor):
    """Journals, then delivers, the messages of one conversation."""

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
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        log.exception("router %s failed on %s", self.conversation, type(message).__name__)
        if isinstance(message, Send):
            caller = message.reply_to or sender
            self.send(caller, ErrorReply(code="internal", error=f"the router failed: {error!r}"))

    def _init(self, message: InitRouter, sender: Any) -> None:
        die_with_parent()
        self.conversation = message.conversation
        self.agent = message.agent
        self.max_chars = message.max_message_chars
        self.turn_timeout = message.turn_timeout
        self.journal = Journal(message.journal_path)

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
            self._journal().append(envelope)
        except JournalError as exc:
            self.send(caller, error_reply(exc, "router"))
            return
        self.subscribers.publish(self, envelope)
        self.waiting.append(Turn(new_id(), envelope, caller))
        self._next()

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
        if turn is not None and turn.turn_id == message.payload and self.turn_timeout:
            self.send(
                self.supervisor,
                AgentStuck(name=self.agent, turn_id=turn.turn_id, seconds=self.turn_timeout),
            )

    # --- the agent's stream ------------------------------------------------------------------

    def _delta(self, message: TurnStarted | TurnDelta, sender: Any) -> None:
        current = self.current
        ours = current is not None and current.turn_id == message.turn_id
        if isinstance(message, TurnStarted) and ours and self.turn_timeout is not None:
            # timed from its start: before, it may have waited in the agent's backlog
            self.wakeupAfter(self.turn_timeout, payload=message.turn_id)
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
            self._journal().append(
                Envelope(
                    conversation=self.conversation,
                    sender=SYSTEM_SENDER,
                    kind="event",
                    event="turn_failed",
                    content=f"{message.agent}'s turn failed ({message.kind}): {message.error}",
                    in_reply_to=turn.message.id,
                    data=message.model_dump(mode="json", exclude={"v"}),
                )
            )
        self.send(turn.reply_to, message)
        self.subscribers.publish(self, message, skip=turn.reply_to)

    # --- observers ---------------------------------------------------------------------------

    def _feed(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        self.subscribers.handle(self, message, sender)

    def _journal(self) -> Journal:
        assert self.journal is not None, "router used before InitRouter"
        return self.journal
