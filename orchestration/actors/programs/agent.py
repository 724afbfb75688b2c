"""The subprocess agent: an agent whose replies come from a long-lived OS program.

It runs the program its provider describes (`providers.program`: a generic ``command`` speaking
``jsonl`` or ``lines``) in a new session, records it in a PID file, writes each turn to its stdin
and turns each stdout line, through the provider's protocol, into the same stream an API agent
produces. stderr lines become ``agent_log`` events, rate-limited and size-capped. Everything
else (turn bookkeeping, coalesced deltas, ping, cancel) is `AgentActor`'s.

Exits: the program ending with code 0 is a normal end (`AgentEnded`: a ``transient`` agent is
not restarted); any other code, or a signal, is a crash (`AgentCrashed`, with the code and the
last stderr line). Either way a turn in flight fails and the actor exits, so its supervisor
decides. Stopping closes stdin, sends SIGTERM to the process group, waits out the grace period
and then sends SIGKILL. If the actor itself is killed, the program's PID file outlives it and
the next start of this agent sweeps the stray.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.agent import AgentActor
from orchestration.actors.programs.session import (
    SESSION,
    ProcessExited,
    ProcessSession,
    StderrLine,
    StdoutLine,
)
from orchestration.actors.pump import EventChannel, TurnWorker
from orchestration.actors.view import render_view
from orchestration.conversation_ids import EVENTS_CONVERSATION
from orchestration.messages import (
    AgentCrashed,
    AgentEnded,
    AgentReady,
    Envelope,
    InitAgent,
    Publish,
    StopAgent,
)
from orchestration.processes.pidfiles import PidFile, sweep
from orchestration.processes.pids import ProcessId
from orchestration.providers.base import ProviderRequest, StreamEnd, TextDelta
from orchestration.providers.program import (
    ProcessFailure,
    ProcessLog,
    ProcessProtocol,
    ProgramProvider,
)
from orchestration.providers.registry import create_program_provider
from orchestration.titles import set_title

__all__ = ["LOG_LINES_PER_SECOND", "LogBudget", "SubprocessAgent", "resume_session"]

LOG_LINES_PER_SECOND = 20
_KILL = "kill"
_IDLE = "idle"


class LogBudget:
    """At most `LOG_LINES_PER_SECOND` stderr lines a second are published; the first line over
    the limit in a second is replaced by a note saying lines are being dropped."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = 0
        self.used = 0
        self._clock = clock

    def take(self, text: str) -> str | None:
        """What to publish for this line, if anything."""
        now = int(self._clock())
        if now != self.window:
            self.window, self.used = now, 0
        self.used += 1
        if self.used <= LOG_LINES_PER_SECOND:
            return text
        if self.used == LOG_LINES_PER_SECOND + 1:
            return f"(more stderr lines this second are dropped: over {LOG_LINES_PER_SECOND}/s)"
        return None


def resume_session(history: list[Envelope]) -> str | None:
    """The provider session the agent's last journaled reply came from (Claude Code's
    ``session_id``), for a new incarnation to resume."""
    for envelope in reversed(history):
        session = envelope.data.get("session_id")
        if isinstance(session, str) and session:
            return session
    return None


class SubprocessAgent(AgentActor):
    """An agent backed by an OS program (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: ProcessSession | None = None
        self.protocol: ProcessProtocol | None = None
        self.program: ProgramProvider | None = None
        self.pidfile: PidFile | None = None
        self.pid_dir: Path | None = None
        self.last_output = 0.0
        self.last_stderr = ""
        self.logs = LogBudget()
        self.resuming: str | None = None
        self.answered = 0
        """Turns the current program has ended (a program that dies before its first answer
        while resuming could not resume)."""
        self.last_request: ProviderRequest | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def _init(self, message: InitAgent, sender: Any) -> None:
        set_title("agent", message.spec.name)
        spec = message.spec
        self.spec, self.router, self.supervisor = spec, message.router, sender
        settings = message.settings.model_copy(update=spec.settings)
        program = create_program_provider(spec.provider, settings)
        self.provider, self.program = program, program
        self.protocol = program.protocol(spec.model)
        self.pid_dir = settings.pid_dir
        sweep(settings.pid_dir, spec.name)  # what an earlier incarnation may have left
        self.channel = EventChannel()
        self.resuming = resume_session(message.history)
        self._start_program()
        self.views = {spec.conversation: render_view(spec.name, message.history)}
        self.state = "idle"
        assert self.session is not None
        self.send(sender, AgentReady(name=spec.name, pid=os.getpid(), process_pid=self.session.pid))

    def _start_program(self) -> None:
        """Start the program (resuming its last session, if any) and record its PID file."""
        assert self.spec is not None and self.channel is not None and self.pid_dir is not None
        assert self.program is not None, "started before InitAgent"
        command = self.program.command(self.spec, self.resuming)
        self.session = ProcessSession(command, self.channel)
        self.answered = 0
        started = ProcessId.of(self.session.pid)
        if started is not None:
            self.pidfile = PidFile(started.pid, started.start_ticks, self._name, list(command.argv))
            self.pidfile.write(self.pid_dir)

    def _stop(self, message: StopAgent, sender: Any) -> None:
        """Close stdin and SIGTERM the program; SIGKILL it once ``grace`` has passed."""
        if self.session is None:
            self._exit()
            return
        self.state = "stopping"
        self.session.terminate()
        self.wakeupAfter(message.grace, payload=(_KILL,))

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        if self.session is not None:
            self.session.kill()
            self._forget_pidfile()
        super()._on_exit(message, sender)

    def _process_exited(self, code: int) -> None:
        self._forget_pidfile()
        pid = self.session.pid if self.session else "?"
        self.session = None
        if code != 0 and self.resuming and not self.answered and self.state != "stopping":
            self._start_afresh(f"program {pid} could not resume session {self.resuming}")
            return
        if self.state in ("stopping", "terminated"):
            if self.turn is not None:
                self._fail("stopped", f"agent {self._name} was stopped", retryable=True)
            self._exit()
            return
        how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        if code == 0:
            if self.turn is not None:
                self._fail("internal", f"{self._name}'s program {how} during the turn")
            self.send(self.supervisor, AgentEnded(name=self._name, reason=f"program {pid} {how}"))
            self._exit()
            return
        error = f"program {pid} {how}" + (
            f"; last stderr: {self.last_stderr}" if self.last_stderr else ""
        )
        if self.turn is not None:
            self._fail("internal", f"agent {self._name}'s {error}", exiting=True)
        self.send(self.supervisor, AgentCrashed(name=self._name, error=error))
        self._exit()

    def _start_afresh(self, why: str) -> None:
        """The last session cannot be resumed: start a new one, and have the next turn carry
        the conversation from the journal (re-sending a turn already written)."""
        assert self.protocol is not None
        self._publish_log(f"{why}; starting a new session with the journal's history", "process")
        self.resuming = None
        self.protocol.replay = True
        self._start_program()
        if self.turn is not None and self.last_request is not None:
            self._begin(self.turn.turn_id, self.last_request)

    def _forget_pidfile(self) -> None:
        if self.pidfile is not None and self.pid_dir is not None:
            self.pidfile.remove(self.pid_dir)
            self.pidfile = None

    # --- turns -------------------------------------------------------------------------------

    def _begin(self, turn_id: str, request: ProviderRequest) -> TurnWorker | None:
        """Write the turn to the program; its stdout lines then arrive as channel events."""
        assert self.session is not None and self.protocol is not None
        self.last_request = request
        self.session.write(self.protocol.encode(request))
        self.last_output = time.monotonic()
        if self.protocol.idle_timeout is not None:
            self.wakeupAfter(self.protocol.idle_timeout, payload=(_IDLE, turn_id))
        return None

    def _on_event(self, turn_id: str, event: Any) -> None:
        if turn_id != SESSION:
            super()._on_event(turn_id, event)
        elif isinstance(event, StdoutLine):
            self._on_stdout(event)
        elif isinstance(event, StderrLine):
            self._on_stderr(event.text)
        elif isinstance(event, ProcessExited):
            self._process_exited(event.code)

    def _on_stdout(self, line: StdoutLine) -> None:
        turn, protocol = self.turn, self.protocol
        if turn is None or protocol is None:
            return  # output between turns, or the rest of a turn already failed
        self.last_output = time.monotonic()
        if line.overlong:
            events: list[Any] = [ProcessFailure(f"a stdout line of {self._name} was too long")]
        else:
            events = protocol.decode(line.data)
        for event in events:
            if isinstance(event, ProcessLog):
                self._publish_log(event.text, "process")
                continue
            if isinstance(event, ProcessFailure):
                self.answered += 1
                error = f"{self._name}'s program: {event.message}"
                self._fail(event.kind, error, retryable=event.retryable)
                self._after_turn()
                return
            if isinstance(event, StreamEnd):
                self.answered += 1
            super()._on_event(turn.turn_id, event)
            if self.turn is None:
                return

    def _on_stderr(self, text: str) -> None:
        self.last_stderr = text
        content = self.logs.take(text)
        if content is not None:
            self._publish_log(content, "stderr")

    def _publish_log(self, content: str, stream: str) -> None:
        """An ``agent_log`` event, through the supervisor to the bus."""
        self.send(
            self.supervisor,
            Publish(
                event=Envelope(
                    conversation=EVENTS_CONVERSATION,
                    sender=self._name,
                    kind="event",
                    event="agent_log",
                    content=content,
                    data={"agent": self._name, "stream": stream},
                )
            ),
        )

    def _on_wakeup(self, message: WakeupMessage, sender: Any) -> None:
        payload = message.payload
        if payload == (_KILL,):
            if self.session is not None:
                self.session.kill()
            return
        if isinstance(payload, tuple) and payload[0] == _IDLE:
            self._check_idle(payload[1])
            return
        super()._on_wakeup(message, sender)

    def _check_idle(self, turn_id: str) -> None:
        """The lines protocol ends a turn after `idle_timeout` seconds of silence."""
        turn, protocol = self.turn, self.protocol
        if turn is None or turn.turn_id != turn_id or protocol is None:
            return
        assert protocol.idle_timeout is not None
        quiet = time.monotonic() - self.last_output
        if quiet < protocol.idle_timeout:
            self.wakeupAfter(protocol.idle_timeout - quiet, payload=(_IDLE, turn_id))
            return
        for event in protocol.idle_end():
            if isinstance(event, TextDelta | StreamEnd):
                super()._on_event(turn_id, event)

    def _process_pid(self) -> int | None:
        return self.session.pid if self.session else None
