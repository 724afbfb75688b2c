"""The root supervisor: owns the registry, every conversation router and every agent.

For now each agent is supervised one_for_one with its own restart window: an agent whose
process exits without being asked to stop (a crash, kill -9) is started again under the same
name, and the new incarnation reloads its view from the journal when its recovery is
``resume``. Its router fails the turn the crash cut off, so its caller gets `TurnFailed`, never
silence. More than ``restart_intensity`` restarts within ``restart_period`` seconds (OTP's
``add_restart``) and the agent is given up: it stays listed as ``failed``, its history intact,
until it is shut down and spawned again.

On errors: every bad command gets an `ErrorReply` naming the problem and the fix; nothing here
raises out of `receiveMessage`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from thespian.actors import ChildActorExited, WakeupMessage

from orchestration.actors.agent import AgentActor
from orchestration.actors.dispatch import DispatchActor
from orchestration.actors.router import ConversationRouter
from orchestration.actors.subscribers import Subscribers
from orchestration.journal import Journal, JournalError
from orchestration.messages import (
    DEFAULT_PROVIDER,
    EVENTS_CONVERSATION,
    AgentCrashed,
    AgentInfo,
    AgentList,
    AgentMoved,
    AgentReady,
    AgentSpec,
    AgentState,
    AgentStuck,
    Boot,
    Cancel,
    DaemonStatus,
    Envelope,
    ErrorKind,
    ErrorReply,
    EventName,
    History,
    HistoryPage,
    InitAgent,
    InitRouter,
    ListAgents,
    Ok,
    Ping,
    Pong,
    Resolve,
    Resolved,
    Send,
    Spawn,
    Spawned,
    Status,
    Stop,
    StopAgent,
    StopAll,
    StopRouter,
    Subscribe,
    Unsubscribe,
    new_id,
    utc_now,
)
from orchestration.processes import pid_alive
from orchestration.providers.base import ProviderError
from orchestration.providers.registry import (
    UnknownProviderError,
    create_provider,
    default_model_ref,
    parse_model_ref,
)
from orchestration.settings import Settings, load_settings
from orchestration.supervision.health import Action, HealthMonitor
from orchestration.supervision.intensity import RestartIntensity

log = logging.getLogger(__name__)

ROOT_NAME = "orchestration.root"
LIST_DEADLINE = 1.0
_HEALTH = "health"
KILL_MARGIN = 2.0


@dataclass
class AgentRecord:
    """What the root knows of one agent."""

    spec: AgentSpec
    address: Any
    router: Any
    state: AgentState = "starting"
    pid: int | None = None
    restarts: int = 0
    last_error: str = ""
    waiting_spawn: list[Any] = field(default_factory=list)
    waiting_stop: list[Any] = field(default_factory=list)
    forget: bool = False
    last_pong: Pong | None = None
    window: RestartIntensity | None = None
    failure_kind: ErrorKind = "internal"

    def info(self) -> AgentInfo:
        pong = self.last_pong
        return AgentInfo(
            spec=self.spec,
            state=pong.state if pong and self.state not in ("starting", "stopping") else self.state,
            pid=self.pid,
            turns=pong.turns if pong else 0,
            last_activity=pong.last_activity if pong else None,
            restarts=self.restarts,
        )


@dataclass
class ListQuery:
    requester: Any
    waiting: set[str]


class RootSupervisor(DispatchActor):
    """The top of the tree (global name ``orchestration.root``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings: Settings | None = None
        self.journal: Journal | None = None
        self.started_at: datetime = utc_now()
        self.agents: dict[str, AgentRecord] = {}
        self.queries: dict[str, ListQuery] = {}
        self.subscribers = Subscribers()
        self.stop_all_waiters: list[Any] = []
        self.health: HealthMonitor | None = None
        self.handlers = {
            Boot: self._boot,
            Spawn: self._spawn,
            AgentReady: self._ready,
            AgentCrashed: self._crashed,
            AgentStuck: self._stuck,
            ChildActorExited: self._child_exited,
            Stop: self._stop,
            StopAll: self._stop_all,
            ListAgents: self._list,
            Pong: self._pong,
            WakeupMessage: self._wakeup,
            Resolve: self._resolve,
            Send: self._forward_send,
            Cancel: self._forward_cancel,
            History: self._history,
            Status: self._status,
            Subscribe: lambda message, sender: self.subscribers.handle(self, message, sender),
            Unsubscribe: lambda message, sender: self.subscribers.handle(self, message, sender),
            Ping: lambda message, sender: self.send(sender, Ok(detail="root")),
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        if isinstance(error, JournalError):
            self.send(sender, ErrorReply(code="journal", error=error.message, hint=error.hint))
            return
        log.exception("root failed on %s", type(message).__name__)
        self.send(sender, ErrorReply(code="internal", error=f"root failed: {error!r}"))

    # --- start-up ----------------------------------------------------------------------------

    def _boot(self, message: Boot, sender: Any) -> None:
        if self.journal is None:
            self.settings = load_settings()
            self.journal = Journal(self.settings.journal_path)
            for saved in self.journal.agents():
                spec = self._resolve_provider(saved) if saved.follows_default else saved
                if spec != saved:
                    self.journal.save_agent(spec)
                self._start(spec)
            self.health = HealthMonitor(self.settings.health_interval)
            self.wakeupAfter(self.health.interval, payload=(_HEALTH,))
        self._status(Status(), sender)

    def _status(self, message: Status, sender: Any) -> None:
        self.send(
            sender,
            DaemonStatus(
                pid=os.getppid(),
                started_at=self.started_at,
                agents=len(self.agents),
                data_dir=str(self._settings().home),
                restart_intensity=self._settings().restart_intensity,
                restart_period=self._settings().restart_period,
            ),
        )

    # --- spawning ----------------------------------------------------------------------------

    def _spawn(self, message: Spawn, sender: Any) -> None:
        spec = message.spec
        existing = self.agents.get(spec.name)
        if existing is not None:
            if message.exist_ok:
                self.send(sender, Spawned(agent=existing.info(), created=False))
            else:
                self.send(sender, self._duplicate(spec.name))
            return
        try:
            spec = self._resolve_provider(spec)
        except UnknownProviderError as exc:
            hint = "pick one of those, or install a plug-in in the orchestration.providers group"
            self.send(sender, ErrorReply(code="unknown_provider", error=str(exc), hint=hint))
            return
        except ProviderError as exc:
            self.send(sender, ErrorReply(code="credentials", error=exc.args[0], hint=exc.hint))
            return
        self._journal().save_agent(spec)
        record = self._start(spec)
        record.waiting_spawn.append(sender)

    def _resolve_provider(self, spec: AgentSpec) -> AgentSpec:
        """Fill in the default provider and model, and check the provider can be used."""
        settings = self._settings()
        if spec.provider == DEFAULT_PROVIDER or spec.follows_default:
            provider, model, _ = default_model_ref(settings)
            follows = spec.follows_default or not spec.model
            spec = spec.model_copy(
                update={
                    "provider": provider,
                    "model": model if follows else spec.model,
                    "follows_default": follows,
                }
            )
        else:
            provider, model = parse_model_ref(f"{spec.provider}:{spec.model}")
            spec = spec.model_copy(update={"model": model})
        create_provider(spec.provider, settings).validate()
        return spec

    def _start(self, spec: AgentSpec) -> AgentRecord:
        settings = self._settings()
        router = self.createActor(ConversationRouter)
        self.send(
            router,
            InitRouter(
                conversation=spec.conversation,
                journal_path=str(settings.journal_path),
                agent=spec.name,
                max_message_chars=settings.max_message_chars,
                turn_timeout=spec.turn_timeout,
            ),
        )
        window = RestartIntensity(settings.restart_intensity, settings.restart_period)
        record = AgentRecord(spec=spec, address=None, router=router, window=window)
        self.agents[spec.name] = record
        self._start_agent(record)
        return record

    def _start_agent(self, record: AgentRecord) -> None:
        record.address = self.createActor(AgentActor)
        record.state, record.pid, record.last_pong = "starting", None, None
        self.send(
            record.address,
            InitAgent(
                spec=record.spec,
                journal_path=str(self._settings().journal_path),
                router=record.router,
            ),
        )

    def _ready(self, message: AgentReady, sender: Any) -> None:
        record = self.agents.get(message.name)
        if record is None or record.address != sender:
            return
        record.pid, record.state = message.pid, "idle"
        self.send(record.router, AgentMoved(name=message.name, address=sender, reason="ready"))
        if record.restarts:
            self._event(
                "agent_restarted",
                record.spec.name,
                f"agent {record.spec.name} restarted (pid {message.pid}) after: "
                f"{record.last_error or 'its process exited'}",
                pid=message.pid,
                restarts=record.restarts,
            )
        else:
            self._event(
                "agent_started",
                record.spec.name,
                f"agent {record.spec.name} started on {record.spec.model_ref} (pid {message.pid})",
                pid=message.pid,
            )
        for waiter in record.waiting_spawn:
            self.send(waiter, Spawned(agent=record.info()))
        record.waiting_spawn.clear()
        record.last_error = ""  # reported; the next exit has its own reason

    # --- exits and restarts ------------------------------------------------------------------

    def _crashed(self, message: AgentCrashed, sender: Any) -> None:
        record = self.agents.get(message.name)
        if record is not None:
            record.last_error = f"crash: {message.error}"

    def _child_exited(self, message: ChildActorExited, sender: Any) -> None:
        address = message.childAddress
        record = next((r for r in self.agents.values() if r.address == address), None)
        if record is not None:
            self._agent_exited(record)
            return
        record = next((r for r in self.agents.values() if r.router == address), None)
        if record is not None and record.state != "stopping":
            log.warning("router of %s exited; restarting agent and router", record.spec.name)
            self.agents.pop(record.spec.name)
            self.send(record.address, StopAgent(grace=0))
            self._start(record.spec)

    def _agent_exited(self, record: AgentRecord) -> None:
        name = record.spec.name
        if record.state == "stopping":
            self.agents.pop(name)
            self.send(record.router, StopRouter())
            if record.forget:
                self._journal().remove_agent(name)
            self._event("agent_stopped", name, f"agent {name} stopped")
            for waiter in record.waiting_stop:
                self.send(waiter, Ok(detail=f"agent {name} stopped"))
            self._maybe_all_stopped()
            return
        reason = record.last_error or "its process exited unexpectedly"
        if record.window is not None and not record.window.add_restart():
            self._give_up(record, reason)
            return
        record.restarts += 1
        record.last_error = reason
        self.send(
            record.router,
            AgentMoved(
                name=name,
                address=None,
                reason=f"agent {name} went down during the turn ({reason}); it is being "
                "restarted, send the message again",
                kind=record.failure_kind,
            ),
        )
        record.failure_kind = "internal"
        self._start_agent(record)

    def _stuck(self, message: AgentStuck, sender: Any) -> None:
        """A turn ran past its turn_timeout: kill the agent's process; the exit restarts it."""
        record = self.agents.get(message.name)
        if record is None or record.pid is None or record.state in ("stopping", "failed"):
            return
        record.last_error = f"stuck: its turn ran past its turn_timeout of {message.seconds:g} s"
        record.failure_kind = "timeout"
        log.warning("agent %s is stuck; killing pid %s", message.name, record.pid)
        _kill(record.pid)

    def _give_up(self, record: AgentRecord, reason: str) -> None:
        """The restart limit is exceeded: the agent stays listed as failed, its turns refused."""
        name, window = record.spec.name, record.window
        assert window is not None
        record.state, record.address, record.pid = "failed", None, None
        limit = f"more than {window.intensity} restart(s) within {window.period} s"
        record.last_error = f"{limit}; last: {reason}"
        self.send(
            record.router,
            AgentMoved(name=name, address=None, reason=f"agent {name} failed ({reason})"),
        )
        self._event(
            "restart_limit_exceeded", name, f"agent {name} needed {limit}", restarts=record.restarts
        )
        self._event("agent_failed", name, f"agent {name} failed: {record.last_error}")

    # --- stopping ----------------------------------------------------------------------------

    def _stop(self, message: Stop, sender: Any) -> None:
        record = self.agents.get(message.name)
        if record is None:
            self.send(sender, self._unknown(message.name))
            return
        record.waiting_stop.append(sender)
        record.forget = True
        self._stop_record(record, message.grace)

    def _stop_all(self, message: StopAll, sender: Any) -> None:
        self.stop_all_waiters.append(sender)
        for record in list(self.agents.values()):
            self._stop_record(record, message.grace)
        self._maybe_all_stopped()

    def _stop_record(self, record: AgentRecord, grace: float) -> None:
        if record.state == "stopping":
            return
        if record.state == "failed" or (record.pid and not pid_alive(record.pid)):
            record.state = "stopping"  # no process left to stop
            self._agent_exited(record)
            return
        record.state = "stopping"
        self.send(record.address, StopAgent(grace=grace))
        self.wakeupAfter(grace + KILL_MARGIN, payload=("kill", record.spec.name, record.address))

    def _maybe_all_stopped(self) -> None:
        if self.stop_all_waiters and not self.agents:
            for waiter in self.stop_all_waiters:
                self.send(waiter, Ok(detail="all agents stopped"))
            self.stop_all_waiters.clear()

    # --- queries -----------------------------------------------------------------------------

    def _list(self, message: ListAgents, sender: Any) -> None:
        live = [r for r in self.agents.values() if r.address is not None and r.pid is not None]
        if not live:
            self._answer_list(ListQuery(sender, set()))
            return
        query_id = new_id()
        self.queries[query_id] = ListQuery(sender, {r.spec.name for r in live})
        for record in live:
            self.send(record.address, Ping())
        self.wakeupAfter(LIST_DEADLINE, payload=("list", query_id))

    def _pong(self, message: Pong, sender: Any) -> None:
        record = self.agents.get(message.name)
        if record is not None and record.address == sender:
            record.last_pong = message
            if self.health is not None:
                self.health.answered(message.name)
        for query_id, query in list(self.queries.items()):
            query.waiting.discard(message.name)
            if not query.waiting:
                self._answer_list(self.queries.pop(query_id))

    def _answer_list(self, query: ListQuery) -> None:
        self.send(query.requester, AgentList(agents=[r.info() for r in self.agents.values()]))

    def _wakeup(self, message: WakeupMessage, sender: Any) -> None:
        payload = message.payload
        if not isinstance(payload, tuple):
            return
        if payload[0] == "list" and payload[1] in self.queries:
            self._answer_list(self.queries.pop(payload[1]))
        elif payload[0] == _HEALTH and self.health is not None:
            self._check_health(self.health)
            self.wakeupAfter(self.health.interval, payload=(_HEALTH,))
        elif payload[0] == "kill":
            record = self.agents.get(payload[1])
            if record is not None and record.address == payload[2] and record.pid:
                if not pid_alive(record.pid):  # gone, and its exit notice never came
                    self._agent_exited(record)
                    return
                log.warning("agent %s ignored its stop; killing pid %s", payload[1], record.pid)
                _kill(record.pid)

    def _check_health(self, health: HealthMonitor) -> None:
        """One heartbeat: treat vanished agents as exited, kill unresponsive ones, ping the rest."""
        for record in list(self.agents.values()):
            if record.pid is None or record.state not in ("idle", "processing"):
                continue
            action, reason = health.check(record.spec.name, record.pid)
            if action is Action.PING:
                self.send(record.address, Ping())
                continue
            log.warning("agent %s: %s", record.spec.name, reason)
            record.last_error = reason
            if action is Action.EXITED:
                self._agent_exited(record)
            else:
                _kill(record.pid)

    def _resolve(self, message: Resolve, sender: Any) -> None:
        record = self.agents.get(message.name)
        if record is None:
            self.send(sender, self._unknown(message.name))
            return
        self.send(
            sender,
            Resolved(agent=record.info(), router=record.router, agent_address=record.address),
        )

    def _forward_send(self, message: Send, sender: Any) -> None:
        """Pass a message to its conversation's router; the router answers the sender."""
        conversation = message.message.conversation
        name = conversation.removeprefix("dm:")  # direct conversations are the only kind yet
        record = self.agents.get(name)
        if record is None or record.spec.conversation != conversation:
            self.send(sender, self._unknown(name))
            return
        if record.state == "failed":
            self.send(sender, self._failed(record))
            return
        self.send(
            record.router, message.model_copy(update={"reply_to": message.reply_to or sender})
        )

    def _forward_cancel(self, message: Cancel, sender: Any) -> None:
        record = self.agents.get(message.agent or "")
        if record is not None and record.address is not None:
            self.send(record.address, message)

    def _history(self, message: History, sender: Any) -> None:
        rows = self._journal().history(
            message.conversation,
            after_seq=message.after_seq,
            limit=message.limit,
            newest=message.newest,
        )
        self.send(
            sender,
            HistoryPage(
                messages=[envelope for _, envelope in rows],
                last_seq=rows[-1][0] if rows else message.after_seq,
            ),
        )

    # --- helpers -----------------------------------------------------------------------------

    def _event(self, event: EventName, agent: str, content: str, **data: Any) -> None:
        envelope = Envelope(
            conversation=EVENTS_CONVERSATION,
            sender="root",
            kind="event",
            event=event,
            content=content,
            data={"agent": agent, **data},
        )
        self._journal().append(envelope)
        self.subscribers.publish(self, envelope)

    def _unknown(self, name: str) -> ErrorReply:
        known = ", ".join(sorted(self.agents)) or "none yet"
        return ErrorReply(
            code="unknown_agent",
            error=f"no agent named {name!r} (known agents: {known})",
            hint="create it with: orchestration spawn NAME",
        )

    def _failed(self, record: AgentRecord) -> ErrorReply:
        name = record.spec.name
        return ErrorReply(
            code="agent_failed",
            error=f"agent {name} has failed: {record.last_error}",
            hint=f"its history is kept; to start it again: orchestration shutdown {name}, "
            f"then orchestration spawn {name}",
        )

    def _duplicate(self, name: str) -> ErrorReply:
        return ErrorReply(
            code="duplicate_agent",
            error=f"an agent named {name!r} already exists",
            hint=f"pick another name, or stop it first: orchestration shutdown {name}",
        )

    def _settings(self) -> Settings:
        if self.settings is None:
            self.settings = load_settings()
        return self.settings

    def _journal(self) -> Journal:
        if self.journal is None:
            self.journal = Journal(self._settings().journal_path)
        return self.journal


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
