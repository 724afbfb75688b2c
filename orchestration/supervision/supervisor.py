"""The supervisor actor: OTP's ``supervisor`` for agents and nested supervisors.

A supervisor starts its children one at a time, in start order, each once the one before it is
ready. It learns that a child went down from `ChildActorExited` (a crash, kill -9), from the
child's own report (`AgentCrashed`, `AgentEnded`, `SupervisorEscalated`), from a stuck turn
(`AgentStuck`: it kills the process) or from its heartbeat (the process is gone, or it stopped
answering pings). Then it applies OTP's rules, kept pure in `strategy`: ``temporary``
children are never restarted, ``transient`` ones only after an abnormal exit (`after_exit`),
and the strategy (`restart_plan`) says which siblings are stopped, in reverse start order, and
started again, in start order.
More restarts than ``intensity`` within ``period`` seconds and it stops every child in reverse
order and exits: its parent sees a crash (escalation).

A supervisor of agents keeps one spare agent process started ahead of need (`Standby`), so a
restart hands the next incarnation a process that has never run anything instead of waiting
for a new one to start; a new spare is made once the restart is done.

Work that waits on a child (a start, a stop) runs as a queue of steps, one at a time; exits
that happen meanwhile queue as failures and are handled when the queue is empty, unless the
restart under way already replaced that child.

Every change of a child's state goes up to the root as `NodeReport` (the registry behind
``list`` and ``tree``) and every lifecycle event as `Publish`, passed from parent to parent: so
the root learns what happened below a supervisor before it hears that the supervisor is up.
Agents' routers hear `AgentMoved` when an agent is up or down, so a turn cut off by a crash
fails, and new turns wait for the restart.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from thespian.actors import ActorExitRequest, ChildActorExited, WakeupMessage

from orchestration.actors.agent import AgentActor
from orchestration.actors.dispatch import DispatchActor
from orchestration.actors.programs.agent import SubprocessAgent
from orchestration.conversation_ids import EVENTS_CONVERSATION
from orchestration.journal import Journal, within_bytes
from orchestration.messages import (
    AddChild,
    AgentCrashed,
    AgentEnded,
    AgentInfo,
    AgentMoved,
    AgentNode,
    AgentReady,
    AgentStuck,
    ChildNode,
    Envelope,
    ErrorReply,
    EventName,
    InitAgent,
    InitSupervisor,
    NodeRemoved,
    NodeReport,
    Ok,
    Ping,
    Pong,
    Publish,
    RouterMoved,
    Spawned,
    Standby,
    StopAgent,
    StopChild,
    StopSupervisor,
    SupervisorEscalated,
    SupervisorNode,
    SupervisorReady,
    TreeChanged,
)
from orchestration.processes.pids import kill_pid, pid_alive
from orchestration.providers.registry import runs_a_program
from orchestration.settings import Settings
from orchestration.supervision.child import Child
from orchestration.supervision.health import Action, HealthMonitor
from orchestration.supervision.intensity import RestartIntensity
from orchestration.supervision.strategy import after_exit, restart_plan, shutdown_order, stop_plan
from orchestration.titles import set_title

__all__ = ["KILL_MARGIN", "UNEXPECTED_EXIT", "Failure", "Step", "Supervisor"]

log = logging.getLogger(__name__)

KILL_MARGIN = 2.0
"""Seconds past a child's grace before its process is killed."""
_HEALTH = "health"
_KILL = "kill"
_KILLED = "killed"
"""A killed child's exit is checked for after `KILL_MARGIN` (its notice may never come)."""
UNEXPECTED_EXIT = "its process exited unexpectedly (killed, or out of memory)"


@dataclass(frozen=True)
class Step:
    """One thing to do to a child, or a call to make once the steps before it are done."""

    kind: Literal["start", "stop", "drop", "call"]
    name: str = ""
    grace: float | None = None
    call: Callable[[], None] | None = None


@dataclass(frozen=True)
class Failure:
    """A child that went down unasked, waiting for the supervisor to apply its strategy."""

    name: str
    incarnation: int
    abnormal: bool


class Supervisor(DispatchActor):
    """A nestable OTP supervisor; `RootSupervisor` is one too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node: SupervisorNode | None = None
        self.name = ""
        self.parent: Any = None
        self.settings: Settings | None = None
        self.journal: Journal | None = None
        self.children: list[Child] = []
        self.plan: deque[Step] = deque()
        self.step: Step | None = None
        self.failures: deque[Failure] = deque()
        self.window: RestartIntensity | None = None
        self.health: HealthMonitor | None = None
        self.exiting = False
        self.spare: Any = None
        self.forgotten: set[str] = set()
        self.handlers = {
            InitSupervisor: self._init,
            AgentReady: lambda message, sender: self._ready(
                sender, message.pid, message.process_pid
            ),
            SupervisorReady: lambda message, sender: self._ready(sender, message.pid),
            AgentCrashed: self._crashed,
            AgentEnded: self._ended,
            SupervisorEscalated: self._escalated,
            AgentStuck: self._stuck,
            ChildActorExited: self._exited,
            Pong: self._pong,
            Ping: self._ping,
            WakeupMessage: self._wakeup,
            AddChild: self._add_child,
            StopChild: self._stop_child,
            StopSupervisor: self._stop_supervisor,
            TreeChanged: self._tree_changed,
            RouterMoved: self._router_moved,
            NodeReport: self._pass_up,
            NodeRemoved: self._pass_up,
            Publish: self._pass_up,
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        log.exception("supervisor %s failed on %s", self.name, type(message).__name__)
        self.send(sender, ErrorReply(code="internal", error=f"supervisor {self.name}: {error!r}"))

    # --- start-up ----------------------------------------------------------------------------

    def _init(self, message: InitSupervisor, sender: Any) -> None:
        set_title("supervisor", message.node.name)
        node = message.node
        self.node, self.name, self.parent = node, node.name, sender
        self.settings = message.settings
        self.window = RestartIntensity(node.intensity, node.period)
        for child_node in node.children:
            names = {agent.name for agent in child_node.agents()}
            routers = {name: message.routers[name] for name in names}
            self.children.append(Child(child_node, routers))
            self.plan.append(Step("start", child_node.name))
        self.plan.append(Step("call", call=self._announce_ready))
        self._start_heartbeat(message.settings.health_interval)
        self._advance()

    def _announce_ready(self) -> None:
        self.send(self.parent, SupervisorReady(name=self.name, pid=os.getpid()))

    def _start_heartbeat(self, interval: float) -> None:
        self.health = HealthMonitor(interval)
        self.wakeupAfter(interval, payload=(_HEALTH,))

    # --- the step queue ----------------------------------------------------------------------

    def _advance(self) -> None:
        """Run steps until one has to wait for a child; then handle queued failures."""
        while self.step is None:
            if self.plan:
                self._run(self.plan.popleft())
            elif self.failures and not self.exiting:
                self._handle(self.failures.popleft())
            else:
                return

    def _run(self, step: Step) -> None:
        if step.kind == "call":
            assert step.call is not None
            step.call()
            return
        child = self._child(step.name)
        if child is None:
            return
        if step.kind == "drop":
            self._remove(child, f"{child.name} is temporary: not restarted with its group")
        elif step.kind == "start" and not child.running:
            self._start(child)
            self.step = step
        elif step.kind == "stop" and child.running:
            if child.state != "stopping":
                self._stop(child, step.grace)
            self.step = step

    def _start(self, child: Child) -> None:
        child.incarnation += 1
        child.state, child.reason, child.kind, child.ended_normally = (
            "starting",
            "",
            "internal",
            False,
        )
        node = child.node
        if isinstance(node, AgentNode):
            spec = node.spec
            if runs_a_program(spec.provider):  # its own kind of actor, driving the program
                child.address = self.createActor(SubprocessAgent)
            else:
                child.address, self.spare = self.spare or self.createActor(AgentActor), None
            history = (
                within_bytes(  # the newest of it, if it is more than one frame can carry
                    self._journal().view(spec.name, spec.conversation),
                    self._settings().max_payload_bytes,
                    newest=True,
                )
                if spec.recovery == "resume"
                else []
            )
            init: Any = InitAgent(
                spec=spec,
                router=child.routers[node.name],
                settings=self._settings(),
                history=history,
            )
        else:
            child.address = self.createActor(Supervisor)
            init = InitSupervisor(node=node, routers=child.routers, settings=self._settings())
        self.send(child.address, init)
        self._report(child)

    def _stop(self, child: Child, grace: float | None) -> None:
        """Ask ``child`` to stop; kill it once its shutdown grace (plus a margin) has passed."""
        child.state = "stopping"
        self._report(child)
        plan = stop_plan(child.node.shutdown, grace, KILL_MARGIN)
        if plan.kill_now:
            self._kill(child)
            return
        if isinstance(child.node, AgentNode):
            self.send(child.address, StopAgent(grace=plan.grace))
        else:
            self.send(child.address, StopSupervisor())
        if plan.kill_after is not None:
            self.wakeupAfter(plan.kill_after, payload=(_KILL, child.name, child.incarnation))

    def _kill(self, child: Child) -> None:
        """Kill ``child``, and check again after `KILL_MARGIN`: Thespian sometimes never sends
        the exit notice of a killed child (kquick/Thespian#85), and a stop waits for it."""
        if child.pid is not None:
            kill_pid(child.pid)
        else:  # not started far enough to know its process: ask Thespian to end it
            self.send(child.address, ActorExitRequest())
        self.wakeupAfter(KILL_MARGIN, payload=(_KILLED, child.name, child.incarnation))

    # --- children up and down ----------------------------------------------------------------

    def _ready(self, sender: Any, pid: int, process_pid: int | None = None) -> None:
        child = self._by_address(sender)
        if child is None or child.state != "starting":
            return
        child.pid, child.process_pid = pid, process_pid
        child.state = "idle" if isinstance(child.node, AgentNode) else "running"
        self._report(child)
        if isinstance(child.node, AgentNode):
            router = child.routers[child.name]
            self.send(router, AgentMoved(name=child.name, address=sender, reason="up"))
        self._announce_start(child)
        if self.step is not None and self.step.name == child.name:
            self.step = None
        self._advance()
        if self.step is None and not self.plan:
            self._keep_a_spare()

    def _keep_a_spare(self) -> None:
        """Have a spare agent process ready, once nothing else waits (see the module doc)."""
        wanted = not self.exiting and any(
            isinstance(c.node, AgentNode) and not runs_a_program(c.node.spec.provider)
            for c in self.children
        )
        if wanted and self.spare is None:
            self.spare = self.createActor(AgentActor)
            self.send(self.spare, Standby())

    def _announce_start(self, child: Child) -> None:
        what = "agent" if isinstance(child.node, AgentNode) else "supervisor"
        if child.restart_reason:
            self._event(
                "agent_restarted",
                child.name,
                f"{what} {child.name} restarted (pid {child.pid}) after: {child.restart_reason}",
                pid=child.pid,
                restarts=child.restarts,
                reason=child.restart_reason,
                node=what,
            )
        else:
            model = f" on {child.node.spec.model_ref}" if isinstance(child.node, AgentNode) else ""
            self._event(
                "agent_started",
                child.name,
                f"{what} {child.name} started{model} (pid {child.pid})",
                pid=child.pid,
                node=what,
            )
        child.restart_reason = ""
        info = child.info(self.name)
        for waiter in child.waiting_start:
            up = f"{what} {child.name} is up (pid {child.pid})"
            reply = Spawned(agent=info) if isinstance(info, AgentInfo) else Ok(detail=up)
            self.send(waiter, reply)
        child.waiting_start.clear()

    def _crashed(self, message: AgentCrashed, sender: Any) -> None:
        self._note(sender, f"crash: {message.error}")

    def _ended(self, message: AgentEnded, sender: Any) -> None:
        child = self._note(sender, f"ended normally: {message.reason}")
        if child is not None:
            child.ended_normally = True

    def _escalated(self, message: SupervisorEscalated, sender: Any) -> None:
        self._note(sender, f"escalated: {message.reason}")

    def _note(self, sender: Any, reason: str) -> Child | None:
        child = self._by_address(sender)
        if child is not None:
            child.reason = reason
        return child

    def _stuck(self, message: AgentStuck, sender: Any) -> None:
        """A turn ran past its turn_timeout: kill the agent's process; its exit restarts it."""
        child = self._child(message.name)
        if child is None or child.pid is None or child.state in ("stopping", "starting"):
            return
        child.reason = f"stuck: its turn ran past its turn_timeout of {message.seconds:g} s"
        child.kind = "timeout"
        log.warning("agent %s is stuck; killing pid %s", child.name, child.pid)
        kill_pid(child.pid)

    def _exited(self, message: ChildActorExited, sender: Any) -> None:
        if self.spare is not None and message.childAddress == self.spare:
            self.spare = None
            if self.step is None and not self.plan:
                self._keep_a_spare()  # a spare that died is replaced like any child
            return
        child = self._by_address(message.childAddress)
        if child is not None:
            self._gone(child)

    def _gone(self, child: Child, reason: str = UNEXPECTED_EXIT) -> None:
        """``child``'s process is gone: finish its stop, or queue its failure."""
        asked = child.state == "stopping"
        if not asked and not child.reason:
            child.reason = reason
        why = child.reason or "it was stopped"
        child.went_down()
        for agent, router in child.routers.items():
            self.send(
                router,
                AgentMoved(
                    name=agent,
                    address=None,
                    reason=f"agent {agent} went down during the turn ({why})",
                    kind="stopped" if asked else child.kind,
                    ended_normally=child.ended_normally and not asked,
                ),
            )
        if self.step is not None and self.step.name == child.name:
            self.step = None
        if asked:
            self._stopped(child)
        else:
            abnormal = not child.ended_normally
            will_restart = after_exit(child.node.restart, abnormal) == "restart"
            child.state = "restarting" if will_restart and not self.exiting else "terminated"
            self._report(child)
            self.failures.append(Failure(child.name, child.incarnation, abnormal))
        self._advance()

    def _stopped(self, child: Child) -> None:
        """``child`` stopped as asked: for good, or to be started again with its group."""
        if child.remove_when_stopped:
            self._remove(child, f"{child.name} stopped")
            return
        if child.restart_reason:
            child.state = "restarting"
        else:
            child.state = "terminated"
            self._event("agent_stopped", child.name, f"{child.name} stopped by {self.name}")
        self._report(child)

    def _remove(self, child: Child, content: str) -> None:
        """``child`` leaves the tree (OTP's delete_child). Removed by a command, it leaves
        this supervisor's spec too; a temporary child stays in the spec, as in OTP, where the
        supervisor's init lists it again when the supervisor restarts."""
        self.children.remove(child)
        if child.name in self.forgotten and self.node is not None:
            self.forgotten.discard(child.name)
            self._spec_changed(tuple(c for c in self.node.children if c.name != child.name))
        self._removed(child.name)
        self._event("agent_stopped", child.name, content, reason=child.last_error)
        for waiter in child.waiting_stop:
            self.send(waiter, Ok(detail=content))

    # --- OTP's restart rules -----------------------------------------------------------------

    def _handle(self, failure: Failure) -> None:
        child = self._child(failure.name)
        if child is None or child.incarnation != failure.incarnation or child.running:
            return  # already replaced by a group restart, or removed
        fate = after_exit(child.node.restart, failure.abnormal)
        if fate == "remove":
            self._remove(
                child, f"{child.name} went down ({child.last_error}); temporary: not restarted"
            )
            return
        if fate == "keep":
            self._event(
                "agent_stopped",
                child.name,
                f"{child.name} {child.last_error}; transient: not restarted",
                reason=child.last_error,
            )
            return
        if not self._may_restart(child):
            return
        assert self.node is not None
        strategy = self.node.strategy
        plan = restart_plan(
            strategy,
            [c.name for c in self.children],
            child.name,
            {c.name: c.node.restart for c in self.children},
            {c.name for c in self.children if c.running},
        )
        child.restart_reason = child.last_error
        by_name = {c.name: c for c in self.children}
        for name in plan.stop:
            sibling = by_name[name]
            sibling.restart_reason = f"{child.name} went down ({strategy}): {child.last_error}"
            self.plan.append(Step("stop", name))
        for name in plan.drop:
            self.plan.append(Step("drop", name))
        for name in plan.start:
            sibling = by_name[name]
            sibling.restarts += 1
            if not sibling.restart_reason:
                sibling.restart_reason = f"{child.name} went down ({strategy}): {child.last_error}"
            self.plan.append(Step("start", name))

    def _may_restart(self, child: Child) -> bool:
        """OTP's add_restart: True to go ahead; False when the limit is exceeded, which makes
        this supervisor stop its children and exit (escalate)."""
        assert self.window is not None
        if self.window.add_restart():
            return True
        window = self.window
        reason = (
            f"more than {window.intensity} restart(s) in {window.period} s "
            f"(last: {child.name}: {child.last_error})"
        )
        self._shut_down(then=lambda: self._escalate(reason))
        return False

    def _escalate(self, reason: str) -> None:
        self._event("supervisor_escalated", self.name, f"supervisor {self.name}: {reason}")
        self.send(self.parent, SupervisorEscalated(name=self.name, reason=reason))
        self.send(self.myAddress, ActorExitRequest())

    def _shut_down(self, then: Callable[[], None]) -> None:
        """Stop every running child in reverse start order, then call ``then``."""
        self.exiting = True
        self.plan.clear()
        self.failures.clear()
        if self.spare is not None:
            self.send(self.spare, ActorExitRequest())
            self.spare = None
        by_name = {c.name: c for c in self.children}
        for name in shutdown_order(list(by_name)):
            by_name[name].restart_reason = ""
            self.plan.append(Step("stop", name))
        self.plan.append(Step("call", call=then))
        self._advance()

    # --- commands from the root and the parent -----------------------------------------------

    def _add_child(self, message: AddChild, sender: Any) -> None:
        child = Child(message.node, dict(message.routers))
        if message.reply_to is not None:
            child.waiting_start.append(message.reply_to)
        self.children.append(child)
        assert self.node is not None
        self._spec_changed((*self.node.children, message.node))
        self.plan.append(Step("start", child.name))
        self._advance()

    def _spec_changed(self, children: tuple[ChildNode, ...]) -> None:
        """A child was added or removed at run time: keep the change in this supervisor's spec
        and pass it up, so a restart of this supervisor (or of the daemon) keeps it."""
        assert self.node is not None
        self.node = self.node.model_copy(update={"children": children})
        self._tell_parent_spec()

    def _tell_parent_spec(self) -> None:
        assert self.node is not None
        routers = {name: r for child in self.children for name, r in child.routers.items()}
        self.send(self.parent, TreeChanged(node=self.node, routers=routers))

    def _tree_changed(self, message: TreeChanged, sender: Any) -> None:
        """A child supervisor's spec changed at run time: adopt it (and pass it up)."""
        child = self._by_address(sender)
        if child is None:
            return
        child.node, child.routers = message.node, dict(message.routers)
        if self.node is not None:
            children = tuple(
                message.node if c.name == child.name else c for c in self.node.children
            )
            self._spec_changed(children)

    def _router_moved(self, message: RouterMoved, sender: Any) -> None:
        """An agent's router restarted: keep its new address for the children whose agents
        it serves, and pass it on to those that are supervisors."""
        for child in self.children:
            if message.name in child.routers:
                child.routers[message.name] = message.address
                if isinstance(child.node, SupervisorNode) and child.address is not None:
                    self.send(child.address, message)

    def _stop_child(self, message: StopChild, sender: Any) -> None:
        child = self._child(message.name)
        reply_to = message.reply_to or sender
        if child is None:
            self.send(reply_to, Ok(detail=f"{message.name} was not running"))
            return
        child.remove_when_stopped = True
        child.waiting_stop.append(reply_to)
        self.forgotten.add(child.name)
        if child.running:
            self.plan.append(Step("stop", child.name, grace=message.grace))
            self._advance()
        else:
            self._remove(child, f"{child.name} stopped")

    def _stop_supervisor(self, message: StopSupervisor, sender: Any) -> None:
        self._shut_down(then=lambda: self.send(self.myAddress, ActorExitRequest()))

    # --- health --------------------------------------------------------------------------------

    def _ping(self, message: Ping, sender: Any) -> None:
        state = "stopping" if self.exiting else "running"
        self.send(sender, Pong(name=self.name, state=state, pid=os.getpid(), turns=0))

    def _pong(self, message: Pong, sender: Any) -> None:
        child = self._by_address(sender)
        if child is not None:
            child.last_pong = message
            if self.health is not None:
                self.health.answered(child.name)

    def _wakeup(self, message: WakeupMessage, sender: Any) -> None:
        payload = message.payload
        if not isinstance(payload, tuple):
            return
        if payload[0] == _HEALTH and self.health is not None:
            self._check_health(self.health)
            self.wakeupAfter(self.health.interval, payload=(_HEALTH,))
        elif payload[0] in (_KILL, _KILLED):
            child = self._child(payload[1])
            if child is None or child.incarnation != payload[2] or child.state != "stopping":
                return
            if child.pid is not None and not pid_alive(child.pid):
                self._gone(child)  # gone, and its exit notice never came
                return
            if payload[0] == _KILL:
                log.warning("%s ignored its stop; killing it", child.name)
            self._kill(child)

    def _check_health(self, health: HealthMonitor) -> None:
        """One heartbeat: treat vanished children as exited, kill unresponsive ones, ping the
        rest."""
        for child in list(self.children):
            if child.pid is None or child.state not in ("idle", "processing", "running"):
                continue
            action, reason = health.check(child.name, child.pid)
            if action is Action.PING:
                self.send(child.address, Ping())
                continue
            log.warning("%s: %s", child.name, reason)
            child.reason = reason
            if action is Action.EXITED:
                self._gone(child, reason)
            else:
                kill_pid(child.pid)

    # --- reporting ---------------------------------------------------------------------------

    def _pass_up(self, message: NodeReport | NodeRemoved | Publish, sender: Any) -> None:
        """A report from below, on its way to the root."""
        self.send(self.parent, message)

    def _report(self, child: Child) -> None:
        """Tell the registry (in the root) how ``child`` is now."""
        self.send(self.parent, NodeReport(node=child.info(self.name), address=child.address))

    def _removed(self, name: str) -> None:
        self.send(self.parent, NodeRemoved(name=name))

    def _event(self, event: EventName, name: str, content: str, **data: Any) -> None:
        self._publish(
            Envelope(
                conversation=EVENTS_CONVERSATION,
                sender=self.name,
                kind="event",
                event=event,
                content=content,
                data={"agent": name, "supervisor": self.name, **data},
            )
        )

    def _publish(self, event: Envelope) -> None:
        self.send(self.parent, Publish(event=event))

    def _settings(self) -> Settings:
        assert self.settings is not None, "supervisor used before it was initialised"
        return self.settings

    def _journal(self) -> Journal:
        """The journal, opened on first use (to read a resuming agent's conversation)."""
        if self.journal is None:
            self.journal = Journal(self._settings().journal_path)
        return self.journal

    def _child(self, name: str) -> Child | None:
        return next((c for c in self.children if c.name == name), None)

    def _by_address(self, address: Any) -> Child | None:
        return next(
            (c for c in self.children if c.address is not None and c.address == address), None
        )
