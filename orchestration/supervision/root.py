"""The root supervisor (global name ``orchestration.root``): the top of the tree.

A one_for_one `Supervisor` of the agents spawned on their own and the trees started with
``up``. With no one above to escalate to, it keeps a restart window per child, like an OTP
application controller: a child past its window is given up and, with every agent under it,
stays listed as ``failed`` until shut down or started again. It saves its children's specs and
rebuilds the same tree whenever a root starts (at daemon start, or when the admin starts a new
root after the last one died: `orchestration.admin_hooks`).

Its other jobs are layers below this class: `RootServices` keeps the runtime's own actors and
the feeds, `RootRequests` answers queries and passes commands on, `provider_choice` resolves
providers. Every bad command gets an `ErrorReply` naming the problem and the fix; nothing here
raises out of `receiveMessage`.
"""

from __future__ import annotations

from typing import Any

from thespian.actors import ActorExitRequest

from orchestration.conversation_ids import ConversationId, kind_of
from orchestration.gateway.actor import GatewayActor
from orchestration.journal import Journal
from orchestration.messages import (
    ROOT_SUPERVISOR,
    AddChild,
    AgentInfo,
    AgentNode,
    Boot,
    ChildNode,
    InitGateway,
    NodeRemoved,
    NodeReport,
    Ok,
    Spawn,
    Spawned,
    Status,
    Stop,
    StopAll,
    StopChild,
    StopRouter,
    SupervisorInfo,
    SupervisorNode,
    TreeChanged,
    Up,
)
from orchestration.processes.pidfiles import sweep
from orchestration.providers.base import ProviderError
from orchestration.providers.registry import UnknownProviderError
from orchestration.settings import load_settings
from orchestration.supervision import refusals
from orchestration.supervision.child import Child
from orchestration.supervision.intensity import RestartIntensity
from orchestration.supervision.provider_choice import resolve_provider, resolve_tree
from orchestration.supervision.rooms import RoomsSupervisor
from orchestration.supervision.root_requests import RootRequests
from orchestration.supervision.root_services import GATEWAY, ROOMS
from orchestration.supervision.services import Services
from orchestration.supervision.supervisor import Step
from orchestration.titles import set_title

__all__ = ["RootSupervisor"]


class RootSupervisor(RootRequests):
    """The top of the tree (global name ``orchestration.root``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = ROOT_SUPERVISOR
        self.windows: dict[str, RestartIntensity] = {}
        self.stop_all_waiters: list[Any] = []
        self.handlers.update(
            {
                Boot: self._boot,
                Spawn: self._spawn,
                Up: self._up,
                Stop: self._stop_command,
                StopAll: self._stop_all,
                NodeReport: lambda message, sender: self._record(message.node, message.address),
                NodeRemoved: lambda message, sender: self._forget(message.name),
            }
        )

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self.answer_error(error, message, sender, "root")

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        if self.journal is None and not isinstance(message, Boot | ActorExitRequest):
            self._start_up()  # created by a client's call, not by the daemon or the admin
        return super().receiveMessage(message, sender)

    def _boot(self, message: Boot, sender: Any) -> None:
        self._start_up()
        if not message.revived:
            self._status(Status(), sender)

    def _start_up(self) -> None:
        """Open the journal and build the tree it describes (once)."""
        if self.journal is not None:
            return
        set_title("root")
        settings = self.settings = load_settings()
        sweep(settings.pid_dir)  # programs a crashed daemon's agents left running
        self.journal = Journal(settings.journal_path)
        self.handleDeadLetters()  # Thespian has one handler per system: see `_dead_letter`
        self.services = Services(self, settings.restart_intensity, settings.restart_period)
        self.services.start(ROOMS, RoomsSupervisor, self._init_rooms)
        init_gateway = InitGateway(
            window=settings.gateway_window, link_timeout=settings.gateway_link_timeout
        )
        self.services.start(GATEWAY, GatewayActor, lambda restart: init_gateway)
        self.node = SupervisorNode(
            name=ROOT_SUPERVISOR,
            intensity=settings.restart_intensity,
            period=settings.restart_period,
        )
        for saved in self.journal.agents():
            spec = resolve_provider(saved, settings) if saved.follows_default else saved
            if spec != saved:
                self.journal.save_agent(spec)
            self._adopt(AgentNode(spec=spec))
        for tree in self.journal.trees():
            self._adopt(resolve_tree(tree, settings, only_defaults=True))
        self._start_heartbeat(settings.health_interval)
        self._advance()

    def _spawn(self, message: Spawn, sender: Any) -> None:
        spec = message.spec
        existing = self.registry.agents.get(spec.name)
        if existing is not None and message.exist_ok:
            self.send(sender, Spawned(agent=existing.info, created=False))
            return
        if spec.name in self.registry:
            self.send(sender, refusals.duplicate(self.registry, [spec.name]))
            return
        under = message.under
        parent = self.registry.supervisors.get(under)
        if under != ROOT_SUPERVISOR and (parent is None or parent.address is None):
            self.send(sender, refusals.unknown_supervisor(self.registry, under, parent is not None))
            return
        try:
            spec = resolve_provider(spec, self._settings())
        except (UnknownProviderError, ProviderError) as exc:
            self.send(sender, refusals.provider_problem(exc))
            return
        node = AgentNode(spec=spec)
        if parent is None:
            self._journal().save_agent(spec)
            self._adopt(node, waiter=sender)
            self._advance()
            return
        self._provisional(node, under)
        routers = {spec.name: self._router_for(spec)}
        self.send(parent.address, AddChild(node=node, routers=routers, reply_to=sender))

    def _up(self, message: Up, sender: Any) -> None:
        tree = message.tree
        running = self._child(tree.name)
        if running is not None and isinstance(running.node, SupervisorNode):
            if running.state == "failed":
                self.windows[tree.name] = self._window()
                running.waiting_start.append(sender)
                self.plan.append(Step("start", tree.name))
                self._advance()
            else:
                self.send(sender, Ok(detail=f"tree {tree.name} is already up"))
            return
        clashes = [node.name for node in tree.nodes() if node.name in self.registry]
        if clashes:
            self.send(sender, refusals.duplicate(self.registry, clashes))
            return
        try:
            tree = resolve_tree(tree, self._settings())
        except (UnknownProviderError, ProviderError) as exc:
            self.send(sender, refusals.provider_problem(exc))
            return
        self._journal().save_tree(tree)
        self._adopt(tree, waiter=sender)
        self._advance()

    def _adopt(self, node: ChildNode, waiter: Any = None) -> None:
        """Make ``node`` the root's last child (routers, registry rows, restart window) and
        plan its start."""
        routers = {
            a.name: self._service_address(a.spec.conversation) or self._router_for(a.spec)
            for a in node.agents()
        }
        child = Child(node, routers)
        if waiter is not None:
            child.waiting_start.append(waiter)
        self.children.append(child)
        self.windows[node.name] = self._window()
        self._provisional(node, ROOT_SUPERVISOR)
        self.plan.append(Step("start", node.name))

    def _window(self) -> RestartIntensity:
        """A fresh restart window for one of the root's children."""
        settings = self._settings()
        return RestartIntensity(settings.restart_intensity, settings.restart_period)

    def _provisional(self, node: ChildNode, parent: str) -> None:
        """Registry rows for ``node`` and what is below it before they report, so their names
        are taken at once."""
        self.registry.update(Child(node, {}).info(parent), None)
        if isinstance(node, SupervisorNode):
            for child in node.children:
                self._provisional(child, node.name)

    def _may_restart(self, child: Child) -> bool:
        window = self.windows[child.name]
        if window.add_restart():
            return True
        limit = f"more than {window.intensity} restart(s) within {window.period} s"
        reason = f"{limit}; last: {child.last_error}"
        child.state, child.last_error = "failed", reason
        self._report(child)
        self._event(
            "restart_limit_exceeded",
            child.name,
            f"{child.name} needed {limit}; given up",
            restarts=child.restarts,
        )
        for agent in self.registry.fail(child.name, reason):
            self._event("agent_failed", agent, f"agent {agent} failed: {reason}")
        return False

    def _stop_command(self, message: Stop, sender: Any) -> None:
        entry = self.registry.get(message.name)
        if entry is None:
            self.send(sender, refusals.unknown_agent(self.registry, message.name))
            return
        stop = StopChild(name=message.name, grace=message.grace, reply_to=sender)
        if entry.parent == ROOT_SUPERVISOR:
            self._stop_child(stop, sender)
            return
        parent = self.registry.supervisors.get(entry.parent)
        if parent is None or parent.address is None:
            self.send(
                sender, refusals.unknown_supervisor(self.registry, entry.parent, parent is not None)
            )
            return
        self.send(parent.address, stop)

    def _stop_all(self, message: StopAll, sender: Any) -> None:
        self.stop_all_waiters.append(sender)
        self._shut_down(then=self._all_stopped)

    def _all_stopped(self) -> None:
        for service in self._services():
            if kind_of(service.name) == "dm" and service.address is not None:
                self._services().remove(service.name)
                self.send(service.address, StopRouter())
        for waiter in self.stop_all_waiters:
            self.send(waiter, Ok(detail="all agents stopped"))
        self.stop_all_waiters.clear()

    def _forget(self, name: str) -> None:
        """``name`` left the tree: drop it and what was below it, and stop their routers."""
        for agent in self.registry.remove(name):
            self._agent_moved(agent, None, "it was shut down")
            conversation = str(ConversationId.dm(agent))
            self.feeds.pop(conversation, None)
            router = self._services().remove(conversation)
            if router is not None and router.address is not None:
                self.send(router.address, StopRouter())

    def _report(self, child: Child) -> None:
        self._record(child.info(ROOT_SUPERVISOR), child.address)

    def _record(self, info: AgentInfo | SupervisorInfo, address: Any) -> None:
        """Keep a node's new state; tell the rooms when an agent moved (up, down, elsewhere)."""
        before = self.registry.agents.get(info.spec.name) if isinstance(info, AgentInfo) else None
        self.registry.update(info, address)
        if isinstance(info, AgentInfo) and (before is None or before.address != address):
            self._agent_moved(info.spec.name, address, info.last_error or info.state)

    def _removed(self, name: str) -> None:
        self._journal().remove_agent(name)
        self._journal().remove_tree(name)
        self._forget(name)

    def _spec_changed(self, children: tuple[ChildNode, ...]) -> None:
        """The root's children are saved one by one (``agents`` and ``trees``), not as a spec."""

    def _tree_changed(self, message: TreeChanged, sender: Any) -> None:
        child = self._by_address(sender)
        if child is not None:
            child.node, child.routers = message.node, dict(message.routers)
            self._journal().save_tree(message.node)
