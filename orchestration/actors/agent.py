"""The agent actor: one LLM agent in its own OS process.

It holds its view of its conversation, runs each turn's provider stream in a `TurnWorker`, and
streams the reply: every coalesced delta goes to the caller and to the router as it arrives,
and the turn's end (`TurnFinished` or `TurnFailed`) goes to the router, which journals it and
then tells the caller. While a turn streams the actor keeps answering `Ping` and `Cancel`.

On errors: a provider error (auth, rate limit...) fails the turn and the agent stays up. Any
other exception is a bug: the agent fails the open turn, reports `AgentCrashed` to its
supervisor and exits, so the supervisor decides what happens next. A stream that ends with
`END_SESSION` finishes its turn, reports `AgentEnded` and exits normally. It never raises
out of `receiveMessage`, so Thespian never redelivers a message and no provider call runs
twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import ActorExitRequest, ThespianWatch, WakeupMessage, WatchMessage

from orchestration.actors.dispatch import DispatchActor
from orchestration.actors.pump import EventChannel, PumpFailure, TurnWorker
from orchestration.actors.view import heard_turn, render_view, to_turn
from orchestration.messages import (
    AgentCrashed,
    AgentEnded,
    AgentReady,
    AgentSpec,
    AgentState,
    Cancel,
    Deliver,
    Envelope,
    ErrorKind,
    InitAgent,
    Ping,
    Pong,
    Standby,
    StopAgent,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    utc_now,
)
from orchestration.providers.base import (
    END_SESSION,
    ChatTurn,
    LLMProvider,
    ProviderError,
    ProviderRequest,
    StreamEnd,
    TextDelta,
)
from orchestration.providers.registry import create_provider
from orchestration.titles import set_title

__all__ = ["ActiveTurn", "AgentActor"]

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02
_FLUSH = "flush"
_STOP = "stop"


@dataclass
class ActiveTurn:
    """The turn being produced: who asked, the pump, and what is not yet sent."""

    turn_id: str
    message: Envelope
    reply_to: Any
    worker: TurnWorker | None
    observed: bool
    router: Any
    view: list[ChatTurn]
    pending: str = ""
    last_flush: float = 0.0
    flush_scheduled: bool = False
    text: list[str] = field(default_factory=list)


class AgentActor(DispatchActor):
    """An LLM agent: answers `Deliver`ed messages through its provider, one turn at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec: AgentSpec | None = None
        self.provider: LLMProvider | None = None
        self.router: Any = None
        self.supervisor: Any = None
        self.views: dict[str, list[ChatTurn]] = {}
        """The agent's view of each conversation it is in (its direct one, and rooms)."""
        self.state: AgentState = "starting"
        self.turns = 0
        self.last_activity = None
        self.turn: ActiveTurn | None = None
        self.backlog: deque[Deliver] = deque()
        """Turns its routers granted while another ran (one per conversation at most: each
        router grants the agent one turn at a time)."""
        self.channel: EventChannel | None = None
        self.handlers = {
            InitAgent: self._init,
            Standby: lambda message, sender: None,  # built now: a restart skips that too
            Deliver: self._deliver,
            WatchMessage: self._on_watch,
            WakeupMessage: self._on_wakeup,
            Ping: self._ping,
            Cancel: self._cancel,
            StopAgent: self._stop,
            ActorExitRequest: self._on_exit,
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self._crash(error)

    def watch(self) -> ThespianWatch | None:
        """The worker channel, watched after every message so deltas arrive as events."""
        return ThespianWatch([self.channel.fileno()]) if self.channel else None

    # --- lifecycle ---------------------------------------------------------------------------

    def _init(self, message: InitAgent, sender: Any) -> None:
        set_title("agent", message.spec.name)
        self.spec, self.router, self.supervisor = message.spec, message.router, sender
        settings = message.settings.model_copy(update=message.spec.settings)
        self.provider = create_provider(message.spec.provider, settings)
        self.channel = EventChannel()
        self.views = {message.spec.conversation: render_view(message.spec.name, message.history)}
        self.state = "idle"
        self.send(sender, AgentReady(name=message.spec.name, pid=os.getpid()))

    def _stop(self, message: StopAgent, sender: Any) -> None:
        if self.turn is None:
            self._exit()
            return
        self.state = "stopping"
        self.wakeupAfter(message.grace, payload=_STOP)

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        if self.turn is not None:
            stopped = f"agent {self._name} stopped during the turn"
            self._fail("stopped", stopped, retryable=True, exiting=True)
        self.state = "terminated"
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def _exit(self) -> None:
        self.state = "terminated"
        self.send(self.myAddress, ActorExitRequest())

    def _crash(self, exc: Exception) -> None:
        log.exception("agent %s crashed", self._name)
        if self.turn is not None:
            self._fail("internal", f"agent {self._name} crashed: {exc!r}", exiting=True)
        if self.supervisor is not None:
            self.send(self.supervisor, AgentCrashed(name=self._name, error=repr(exc)))
        self._exit()

    # --- turns -------------------------------------------------------------------------------

    def _deliver(self, message: Deliver, sender: Any) -> None:
        assert self.spec is not None and self.provider is not None, "Deliver before InitAgent"
        if self._superseded(message):
            self._end_turn()  # its router restarted and asks again: nobody waits for the old one
            self.state = "idle"
        if self.turn is not None and self.state == "processing":
            # another conversation's turn: after this one, replacing what an earlier router
            # of the same conversation asked (that router is gone, nobody waits for it)
            stale = [
                d
                for d in self.backlog
                if d.message.conversation == message.message.conversation
                and d.router is not None
                and d.router != message.router
            ]
            for old in stale:
                self.backlog.remove(old)
            self.backlog.append(message)
            return
        if self.state != "idle":
            error = f"agent {self._name} is {self.state}, not idle"
            self.send(message.router or self.router, self._failed(message, "internal", error))
            return
        view = self._view_for(message)
        system = "\n\n".join(part for part in (self.spec.system, message.instructions) if part)
        request = ProviderRequest(
            model=self.spec.model,
            system=system,
            messages=tuple(view),
            new_turns=_new_turns(view) if message.fresh else len(message.context) + 1,
        )
        worker = self._begin(message.turn_id, request)
        self.turn = ActiveTurn(
            message.turn_id,
            message.message,
            message.reply_to,
            worker,
            message.observed,
            message.router or self.router,
            view,
        )
        self.state = "processing"
        self.last_activity = utc_now()
        started = TurnStarted(
            turn_id=message.turn_id,
            agent=self._name,
            conversation=message.message.conversation,
            in_reply_to=message.message.id,
            pid=os.getpid(),
        )
        if message.reply_to is not None:
            self.send(message.reply_to, started)
        router = message.router or self.router
        if router != message.reply_to:  # it times the turn from here, and tells its observers
            self.send(router, started)

    def _superseded(self, message: Deliver) -> bool:
        """Whether the current turn belongs to a room router that has since been replaced
        (the new one sends ``message`` for the same conversation)."""
        turn = self.turn
        return (
            turn is not None
            and message.router is not None
            and turn.message.conversation == message.message.conversation
            and turn.router != message.router
        )

    def _view_for(self, message: Deliver) -> list[ChatTurn]:
        """The conversation's view with what the agent heard since its last turn and the
        message to answer (all of it, when the router sends the whole view afresh)."""
        conversation = message.message.conversation
        view = self.views.setdefault(conversation, [])
        if message.fresh:
            view.clear()
        view.extend(heard_turn(self._name, sender, content) for sender, content in message.context)
        view.append(to_turn(self._name, message.message))
        return view

    def _begin(self, turn_id: str, request: ProviderRequest) -> TurnWorker | None:
        """Start producing the turn's reply: a worker thread streams the provider's answer."""
        provider, channel = self.provider, self.channel
        assert provider is not None and channel is not None
        return channel.start(turn_id, lambda: provider.stream(request))

    def _on_watch(self, message: WatchMessage, sender: Any) -> None:
        assert self.channel is not None
        for tag, event in self.channel.drain():
            self._on_event(tag, event)
        if self.turn is not None:
            self._flush_soon(self.turn)

    def _on_event(self, turn_id: str, event: Any) -> None:
        """One event from the channel: a piece of the current turn, its end or its failure."""
        turn = self.turn
        if turn is None or turn_id != turn.turn_id:
            return  # from an abandoned (cancelled) turn
        if isinstance(event, TextDelta):
            turn.pending += event.text
            turn.text.append(event.text)
        elif isinstance(event, StreamEnd):
            self._finish(event)
        elif isinstance(event, PumpFailure):
            self._on_failure(event.error)

    def _flush_soon(self, turn: ActiveTurn) -> None:
        """Send pending text now, or once `COALESCE_SECONDS` have passed since the last send."""
        if not turn.pending or turn.flush_scheduled:
            return
        wait = turn.last_flush + COALESCE_SECONDS - time.monotonic()
        if wait <= 0:
            self._flush(turn)
        else:
            turn.flush_scheduled = True
            self.wakeupAfter(wait, payload=(_FLUSH, turn.turn_id))

    def _flush(self, turn: ActiveTurn) -> None:
        delta = TurnDelta(
            turn_id=turn.turn_id,
            agent=self._name,
            conversation=turn.message.conversation,
            text=turn.pending,
        )
        turn.pending = ""
        turn.last_flush = time.monotonic()
        if turn.reply_to is not None:
            self.send(turn.reply_to, delta)
        if turn.observed:
            self.send(turn.router, delta)

    def _on_wakeup(self, message: WakeupMessage, sender: Any) -> None:
        turn = self.turn
        if message.payload == _STOP:
            if turn is not None:
                self._fail(
                    "stopped",
                    f"agent {self._name} was stopped before the turn ended",
                    retryable=True,
                    exiting=True,
                )
            self._exit()
        elif turn is not None and message.payload == (_FLUSH, turn.turn_id):
            turn.flush_scheduled = False
            if turn.pending:
                self._flush(turn)

    def _finish(self, end: StreamEnd) -> None:
        turn = self._end_turn()
        text = end.text or "".join(turn.text)
        turn.view.append(ChatTurn(role="assistant", content=text))
        self.turns += 1
        reply = Envelope(
            conversation=turn.message.conversation,
            sender=self._name,
            content=text,
            in_reply_to=turn.message.id,
            data={
                "turn_id": turn.turn_id,
                "model": self.spec.model_ref if self.spec else "",
                "usage": end.usage.model_dump(),
                "stop_reason": end.stop_reason,
                **end.metadata,
            },
        )
        self.send(
            turn.router,
            TurnFinished(
                turn_id=turn.turn_id,
                agent=self._name,
                message=reply,
                usage=end.usage,
                stop_reason=end.stop_reason,
            ),
        )
        if end.stop_reason == END_SESSION:
            self.send(self.supervisor, AgentEnded(name=self._name, reason="its session ended"))
            self._exit()
            return
        self._after_turn()

    def _on_failure(self, error: BaseException) -> None:
        if not isinstance(error, ProviderError):
            raise error
        self._fail(error.kind, str(error), retryable=error.retryable)
        self._after_turn()

    def _fail(
        self, kind: ErrorKind, error: str, *, retryable: bool = False, exiting: bool = False
    ) -> None:
        turn = self._end_turn()
        self.send(
            turn.router,
            TurnFailed(
                turn_id=turn.turn_id,
                agent=self._name,
                conversation=turn.message.conversation,
                kind=kind,
                error=error,
                retryable=retryable,
                agent_exiting=exiting,
            ),
        )

    def _end_turn(self) -> ActiveTurn:
        turn = self.turn
        assert turn is not None
        if turn.worker is not None:
            turn.worker.cancel()
        self.turn = None
        self.last_activity = utc_now()
        return turn

    def _after_turn(self) -> None:
        if self.state == "stopping":
            self._exit()
            return
        self.state = "idle"
        if self.backlog:
            self._deliver(self.backlog.popleft(), None)

    # --- queries -----------------------------------------------------------------------------

    def _ping(self, message: Ping, sender: Any) -> None:
        self.send(
            sender,
            Pong(
                name=self._name,
                state=self.state,
                pid=os.getpid(),
                process_pid=self._process_pid(),
                turns=self.turns,
                last_activity=self.last_activity,
                current_turn=self.turn.turn_id if self.turn else None,
            ),
        )

    def _cancel(self, message: Cancel, sender: Any) -> None:
        waiting = [d for d in self.backlog if d.turn_id == message.turn_id]
        if waiting:  # not started yet: it never will, and its router hears so
            self.backlog.remove(waiting[0])
            self.send(
                waiting[0].router or self.router,
                self._failed(waiting[0], "cancelled", "turn cancelled before it started"),
            )
            return
        turn = self.turn
        if turn is None or message.turn_id not in (None, turn.turn_id):
            return
        self._fail("cancelled", "turn cancelled by the caller")
        self._after_turn()

    def _failed(self, message: Deliver, kind: ErrorKind, error: str) -> TurnFailed:
        """The `TurnFailed` of a turn that never started."""
        return TurnFailed(
            turn_id=message.turn_id,
            agent=self._name,
            conversation=message.message.conversation,
            kind=kind,
            error=error,
            retryable=True,
        )

    def _process_pid(self) -> int | None:
        """The PID of the OS process the agent drives, if it drives one."""
        return None

    @property
    def _name(self) -> str:
        return self.spec.name if self.spec else "?"


def _new_turns(view: list[ChatTurn]) -> int:
    """The turns after the agent's last reply in ``view`` (a view sent afresh: what it said
    before is in a program's own transcript already)."""
    count = 0
    for turn in reversed(view):
        if turn.role != "user":
            break
        count += 1
    return count
