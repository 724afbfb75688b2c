"""The root supervisor (global name ``orchestration.root``): the top of the tree.

It is a `Supervisor` (one_for_one) whose children are the agents spawned on their own and the
trees started with ``up``. Above it there is no one to escalate to, so it keeps a restart
window per child, like an OTP application controller with one application per child: a child
needing more than ``restart_intensity`` restarts within ``restart_period`` seconds is given up.
It and every agent under it become ``failed`` (``restart_limit_exceeded``, ``agent_failed``):
they stay listed and inspectable, their history intact, until shut down or started again.

It also owns what the tree shares: the registry (from supervisors' reports), the event bus
(journal first, then subscribers), who follows each conversation, and the saved specs from which
it rebuilds the same tree whenever a root starts: at daemon start, and when the admin starts a
new root after the last one died (`orchestration.admin_hooks`). A root created by a client's
call boots itself before it answers, so an empty root never answers for a populated journal.

The runtime's own actors are its children too, in its `Services` table: one router per agent,
the rooms supervisor and the gateway. Each is restarted when it exits or stops answering its
health pings, with its own restart window; a restarted router learns where its agent is, the
supervisors above the agent learn where the router is (`RouterMoved`), and the conversation's
subscribers carry over.

On errors: every bad command gets an `ErrorReply` naming the problem and the fix; nothing here
raises out of `receiveMessage`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, DeadEnvelope, WakeupMessage

from orchestration.actors.direct_router import DirectRouter
from orchestration.actors.subscribers import Subscribers
from orchestration.conversation_ids import ConversationId, kind_of
from orchestration.gateway.actor import GatewayActor
from orchestration.journal import Journal, within_bytes
from orchestration.messages import (
    DEFAULT_PROVIDER,
    ROOT_SUPERVISOR,
    AddChild,
    AgentInfo,
    AgentList,
    AgentMoved,
    AgentNode,
    AgentSpec,
    AgentStuck,
    Approve,
    Boot,
    Cancel,
    ChildNode,
    CreateRoom,
    DaemonStatus,
    DeclareWorkflows,
    Envelope,
    GatewayAddress,
    GetTree,
    History,
    HistoryPage,
    InitConversations,
    InitGateway,
    InitRouter,
    JoinRoom,
    ListAgents,
    ListRooms,
    ListRuns,
    ListWorkflows,
    LocateGateway,
    MemberMoved,
    NodeRemoved,
    NodeReport,
    Ok,
    Ping,
    Pong,
    Publish,
    Record,
    Resolve,
    Resolved,
    RoomCommand,
    RouterMoved,
    RunList,
    Send,
    ServiceReady,
    SetMode,
    SetTopology,
    Spawn,
    Spawned,
    Status,
    Stop,
    StopAll,
    StopChild,
    StopRouter,
    Subscribe,
    SupervisorInfo,
    SupervisorNode,
    TreeChanged,
    Unsubscribe,
    Up,
    WorkflowList,
    new_id,
    utc_now,
)
from orchestration.processes.pidfiles import sweep
from orchestration.providers.base import BadRequestError, ProviderError
from orchestration.providers.registry import (
    UnknownProviderError,
    create_provider,
    default_model_ref,
    parse_model_ref,
)
from orchestration.settings import Settings, load_settings
from orchestration.supervision import refusals
from orchestration.supervision.child import Child
from orchestration.supervision.intensity import RestartIntensity
from orchestration.supervision.registry import Registry
from orchestration.supervision.rooms import RoomsSupervisor
from orchestration.supervision.services import Service, Services
from orchestration.supervision.supervisor import UNEXPECTED_EXIT, Step, Supervisor
from orchestration.titles import set_title

log = logging.getLogger(__name__)

LIST_DEADLINE = 1.0
GATEWAY = "gateway"
"""The gateway's name in the events about it, and in the root's services."""
ROOMS = "rooms"
_LIST = "list"


@dataclass
class ListQuery:
    requester: Any
    waiting: set[str]


class RootSupervisor(Supervisor):
    """The top of the tree (global name ``orchestration.root``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = ROOT_SUPERVISOR
        self.started_at: datetime = utc_now()
        self.registry = Registry()
        self.services: Services | None = None
        self.feeds: dict[str, list[Subscribe]] = {}
        """Who follows each conversation (DMs and rooms), handed to a restarted router."""
        self.windows: dict[str, RestartIntensity] = {}
        self.queries: dict[str, ListQuery] = {}
        self.subscribers = Subscribers()
        self.stop_all_waiters: list[Any] = []
        self.handlers.update(
            {
                Boot: self._boot,
                Spawn: self._spawn,
                Up: self._up,
                Stop: self._stop_command,
                StopAll: self._stop_all,
                ListAgents: self._list,
                GetTree: self._tree,
                DeclareWorkflows: self._declare_workflows,
                Record: self._record_run,
                ListRuns: lambda message, sender: self.send(
                    sender,
                    RunList(runs=self._journal().conversations(ConversationId.prefix("workflow"))),
                ),
                ListWorkflows: lambda message, sender: self.send(
                    sender, WorkflowList(workflows=self._journal().workflows())
                ),
                Resolve: self._resolve,
                Send: self._forward_send,
                Cancel: self._forward_cancel,
                History: self._history,
                Status: self._status,
                LocateGateway: self._locate_gateway,
                ChildActorExited: self._child_exited,
                ServiceReady: lambda message, sender: self._services().ready(
                    message.name, sender, message.pid
                ),
                AgentStuck: self._stuck_below,
                ActorExitRequest: self._on_exit,
                DeadEnvelope: self._dead_letter,
                NodeReport: lambda message, sender: self._record(message.node, message.address),
                NodeRemoved: lambda message, sender: self._forget(message.name),
                Publish: lambda message, sender: self._publish(message.event),
                Subscribe: self._subscribe,
                Unsubscribe: self._subscribe,
                CreateRoom: self._create_room,
                ListRooms: self._to_rooms,
                RoomCommand: self._to_rooms,
                SetTopology: self._to_rooms,
                SetMode: self._to_rooms,
                JoinRoom: self._to_rooms,
                Approve: self._to_rooms,
            }
        )

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self.answer_error(error, message, sender, "root")

    # --- start-up ----------------------------------------------------------------------------

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
            spec = self._resolve_provider(saved) if saved.follows_default else saved
            if spec != saved:
                self.journal.save_agent(spec)
            self._adopt(AgentNode(spec=spec))
        for tree in self.journal.trees():
            self._adopt(self._resolve_tree(tree, only_defaults=True))
        self._start_heartbeat(settings.health_interval)
        self._advance()

    def _init_rooms(self, restart: bool) -> InitConversations:
        """The rooms supervisor's init: where the agents are now, who follows which room."""
        settings = self._settings()
        return InitConversations(
            journal_path=str(settings.journal_path),
            max_message_chars=settings.max_message_chars,
            max_payload_bytes=settings.max_payload_bytes,
            health_interval=settings.health_interval,
            agents=[self._member(n, e.address, "up") for n, e in self.registry.agents.items()],
            subscribers=[s for c, subs in self.feeds.items() if kind_of(c) == "room" for s in subs],
        )

    def _services(self) -> Services:
        assert self.services is not None, "started up before any handler (receiveMessage)"
        return self.services

    def _service_address(self, name: str) -> Any:
        service = self._services().get(name)
        return service.address if service is not None else None

    def _locate_gateway(self, message: LocateGateway, sender: Any) -> None:
        gateway = self._services().get(GATEWAY)
        assert gateway is not None
        if gateway.given_up:  # else it runs: a restart replaces it at once
            self.send(sender, refusals.gateway_failed(gateway.window))
        else:
            self.send(sender, GatewayAddress(address=gateway.address))

    # --- the runtime's own actors: restarted like any child ----------------------------------

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        self.exiting = True  # the system shuts down: its services are not restarted

    def _child_exited(self, message: ChildActorExited, sender: Any) -> None:
        service = self._services().find(message.childAddress)
        if service is None:
            self._exited(message, sender)
        elif not self.exiting:
            self._service_gone(service, UNEXPECTED_EXIT)

    def _service_gone(self, service: Service, why: str) -> None:
        """A service exited (or stopped answering and was killed): start its next incarnation
        and tell whoever needs its new address; or give it up."""
        old = service.address
        self._drop_subscriber(old)
        self._services().exited(old, why)
        kind = service.name.split(":")[0]  # dm, room, rooms, gateway
        if service.given_up:
            log.error("%s given up: %s", service.name, service.given_up)
            self._event("restart_limit_exceeded", service.name, service.given_up, service=kind)
            return
        log.warning("%s exited (%s); started a new one", service.name, why)
        if service.name == GATEWAY:
            self._event(
                "gateway_restarted",
                GATEWAY,
                "the gateway exited and was restarted; remote clients reconnect",
            )
            return
        self._event(
            "service_restarted",
            service.name,
            f"{service.name} exited ({why}) and was restarted from the journal",
            service=kind,
            restarts=service.restarts,
        )
        served = ConversationId.try_parse(service.name)
        if served is not None and served.kind == "dm":
            self._router_restarted(served.name, service.address)

    def _router_restarted(self, agent: str, router: Any) -> None:
        """Agent ``agent``'s new router: the supervisors above the agent keep its address, and
        it hears where the agent is."""
        self.send(self.myAddress, RouterMoved(name=agent, address=router))
        entry = self.registry.agents.get(agent)
        if entry is not None and entry.address is not None:
            self.send(router, AgentMoved(name=agent, address=entry.address, reason="up"))

    def _drop_subscriber(self, address: Any) -> None:
        """A service that followed conversations (the gateway) is gone: from every feed."""
        if address is None:
            return
        gone = Unsubscribe(subscriber=address)
        self.subscribers.handle(self, gone, address)
        for conversation, subscriptions in list(self.feeds.items()):
            if any(s.subscriber == address for s in subscriptions):
                self._follow(gone.model_copy(update={"conversation": conversation}), address)

    def _dead_letter(self, message: DeadEnvelope, sender: Any) -> None:
        """A message reached a service in the few ms between its death and its exit notice:
        it goes to the incarnation that replaces it, so no caller waits in vain (the rooms
        supervisor does the same for its rooms' routers). The dead letters of agents and
        others are dropped: their callers hear of the exit from the routers. A workflow run's
        follower that is gone is forgotten (the root feeds runs itself)."""
        service = self._services().owner_of(message.deadAddress)
        lost = message.deadMessage
        if isinstance(lost, Envelope) and kind_of(lost.conversation) == "workflow":
            self._follow(Unsubscribe(conversation=lost.conversation), message.deadAddress)
            return
        if service is None:
            rooms = self._service_address(ROOMS)
            if rooms is not None:
                self.send(rooms, message)
            return
        if service.name != GATEWAY and not self._services().hold_or_pass(
            service, lost, message.deadAddress
        ):
            caller = getattr(lost, "reply_to", None)
            if caller is not None:
                self.send(caller, refusals.service_failed(service))

    def _check_health(self, health: Any) -> None:
        super()._check_health(health)
        for service, reason in self._services().check(health):
            self._service_gone(service, reason)

    def _stuck_below(self, message: AgentStuck, sender: Any) -> None:
        """A router says an agent's turn ran past its turn_timeout: its supervisor decides."""
        entry = self.registry.agents.get(message.name)
        if entry is None or entry.parent == ROOT_SUPERVISOR:
            self._stuck(message, sender)
            return
        parent = self.registry.supervisors.get(entry.parent)
        if parent is not None and parent.address is not None:
            self.send(parent.address, message)

    def _status(self, message: Status, sender: Any) -> None:
        self.send(
            sender,
            DaemonStatus(
                pid=os.getppid(),
                started_at=self.started_at,
                agents=len(self.registry.agents),
                data_dir=str(self._settings().home),
                restart_intensity=self._settings().restart_intensity,
                restart_period=self._settings().restart_period,
            ),
        )

    # --- adding children ---------------------------------------------------------------------

    def _spawn(self, message: Spawn, sender: Any) -> None:
        spec = message.spec
        existing = self.registry.agents.get(spec.name)
        if existing is not None and message.exist_ok:
            self.send(sender, Spawned(agent=existing.info, created=False))  # type: ignore[arg-type]
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
            spec = self._resolve_provider(spec)
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
            tree = self._resolve_tree(tree)
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

    def _router_for(self, spec: AgentSpec) -> Any:
        """Start agent ``spec``'s router, a service of the root; its address."""
        settings = self._settings()
        chars = int(spec.settings.get("max_message_chars", settings.max_message_chars))

        def init(restart: bool) -> InitRouter:
            return InitRouter(
                conversation=spec.conversation,
                journal_path=str(settings.journal_path),
                agent=spec.name,
                max_message_chars=chars,
                turn_timeout=spec.turn_timeout,
                subscribers=list(self.feeds.get(spec.conversation, [])),
            )

        return self._services().start(spec.conversation, DirectRouter, init).address

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
        provider: Any = create_provider(spec.provider, settings.model_copy(update=spec.settings))
        provider.validate()
        if getattr(provider, "process", False):
            provider.protocol(spec.model)  # a bad protocol is refused now, not at start
            provider.check(spec)
        elif spec.command:
            raise BadRequestError(
                f"--command runs only with a process provider, not {spec.provider!r}",
                hint="use --provider command (or just --command with --protocol)",
            )
        return spec

    def _resolve_tree(self, node: SupervisorNode, *, only_defaults: bool = False) -> SupervisorNode:
        """``node`` with every agent's provider resolved (only those following the default,
        when rebuilding a saved tree)."""
        children: list[ChildNode] = []
        for child in node.children:
            if isinstance(child, SupervisorNode):
                children.append(self._resolve_tree(child, only_defaults=only_defaults))
            elif only_defaults and not child.spec.follows_default:
                children.append(child)
            else:
                children.append(
                    child.model_copy(update={"spec": self._resolve_provider(child.spec)})
                )
        return node.model_copy(update={"children": tuple(children)})

    # --- the root's own restart rule ---------------------------------------------------------

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

    # --- stopping ----------------------------------------------------------------------------

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

    # --- supervisor hooks: the root reports to itself and keeps the bus ----------------------

    def _report(self, child: Child) -> None:
        self._record(child.info(ROOT_SUPERVISOR), child.address)

    def _record(self, info: AgentInfo | SupervisorInfo, address: Any) -> None:
        """Keep a node's new state; tell the rooms when an agent moved (up, down, elsewhere)."""
        before = self.registry.agents.get(info.spec.name) if isinstance(info, AgentInfo) else None
        self.registry.update(info, address)
        if isinstance(info, AgentInfo) and (before is None or before.address != address):
            self._agent_moved(info.spec.name, address, info.last_error or info.state)

    def _agent_moved(self, name: str, address: Any, reason: str) -> None:
        rooms = self._service_address(ROOMS)
        if rooms is not None:
            self.send(rooms, self._member(name, address, reason))

    def _member(self, name: str, address: Any, reason: str) -> MemberMoved:
        entry = self.registry.agents.get(name)
        timeout = entry.info.spec.turn_timeout if entry is not None else None  # type: ignore[union-attr]
        return MemberMoved(name=name, address=address, reason=reason, turn_timeout=timeout)

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

    def _publish(self, event: Envelope) -> None:
        self._journal().append(event)
        self.subscribers.publish(self, event)

    # --- queries -----------------------------------------------------------------------------

    def _list(self, message: ListAgents, sender: Any) -> None:
        live = {n: e for n, e in self.registry.agents.items() if e.address and e.info.pid}
        if not live:
            self._answer_list(ListQuery(sender, set()))
            return
        query_id = new_id()
        self.queries[query_id] = ListQuery(sender, set(live))
        for entry in live.values():
            self.send(entry.address, Ping())
        self.wakeupAfter(LIST_DEADLINE, payload=(_LIST, query_id))

    def _pong(self, message: Pong, sender: Any) -> None:
        if self._services().answered(self.health, message, sender):
            return
        super()._pong(message, sender)
        entry = self.registry.agents.get(message.name)
        if entry is not None and entry.address == sender and isinstance(entry.info, AgentInfo):
            live = entry.info.state in ("idle", "processing")
            update = {"turns": message.turns, "last_activity": message.last_activity}
            entry.info = entry.info.model_copy(
                update={**update, "state": message.state} if live else update
            )
        for query_id, query in list(self.queries.items()):
            query.waiting.discard(message.name)
            if not query.waiting:
                self._answer_list(self.queries.pop(query_id))

    def _answer_list(self, query: ListQuery) -> None:
        agents = [e.info for e in self.registry.agents.values()]
        self.send(query.requester, AgentList(agents=agents))  # type: ignore[arg-type]

    def _wakeup(self, message: WakeupMessage, sender: Any) -> None:
        payload = message.payload
        if isinstance(payload, tuple) and payload[0] == _LIST:
            if payload[1] in self.queries:
                self._answer_list(self.queries.pop(payload[1]))
            return
        super()._wakeup(message, sender)

    def _record_run(self, message: Record, sender: Any) -> None:
        said = message.message
        if kind_of(said.conversation) != "workflow":
            self.send(sender, refusals.not_a_run(said.conversation))
            return
        self._journal().append(said)
        for follower in self.feeds.get(said.conversation, []):
            self.send(follower.subscriber, said)
        self.send(sender, Ok())

    def _declare_workflows(self, message: DeclareWorkflows, sender: Any) -> None:
        self._journal().save_workflows(message.tree, message.workflows)
        self.send(sender, Ok(detail=f"{len(message.workflows)} workflow(s) of {message.tree}"))

    def _tree(self, message: GetTree, sender: Any) -> None:
        assert self.node is not None
        root = SupervisorInfo(
            name=ROOT_SUPERVISOR,
            parent=None,
            strategy="one_for_one",
            intensity=self.node.intensity,
            period=self.node.period,
            state="stopping" if self.exiting else "running",
            pid=os.getpid(),
        )
        self.send(sender, self.registry.snapshot(root))

    def _resolve(self, message: Resolve, sender: Any) -> None:
        entry = self.registry.agents.get(message.name)
        if entry is None:
            self.send(sender, refusals.unknown_agent(self.registry, message.name))
            return
        router = self._services().get(str(ConversationId.dm(message.name)))
        self.send(
            sender,
            Resolved(
                agent=entry.info,
                router=router.address if router else None,
                agent_address=entry.address,
                router_started_at=router.started_at if router else None,
            ),
        )

    def _forward_send(self, message: Send, sender: Any) -> None:
        """Pass a message to its conversation's router; the router answers the sender."""
        conversation = message.message.conversation
        said = ConversationId.try_parse(conversation)
        kind = said.kind if said is not None else None
        if kind == "room":
            self._to_rooms(message, sender)
            return
        name = said.name if said is not None and kind == "dm" else conversation
        entry = self.registry.agents.get(name)
        router = self._services().get(conversation)
        if entry is None or router is None or kind != "dm":
            self.send(sender, refusals.unknown_agent(self.registry, name))
            return
        if entry.info.state in ("failed", "terminated"):
            self.send(sender, refusals.agent_down(entry.info))  # type: ignore[arg-type]
            return
        if router.given_up:
            self.send(sender, refusals.service_failed(router))
            return
        self.send(
            router.address, message.model_copy(update={"reply_to": message.reply_to or sender})
        )

    # --- rooms: the rooms supervisor answers the caller --------------------------------------

    def _create_room(self, message: CreateRoom, sender: Any) -> None:
        missing = [name for name in message.spec.agents if name not in self.registry.agents]
        if missing:
            self.send(
                sender, refusals.unknown_room_agents(self.registry, message.spec.name, missing)
            )
            return
        self._to_rooms(message, sender)

    def _to_rooms(self, message: Any, sender: Any) -> None:
        rooms = self._services().get(ROOMS)
        assert rooms is not None
        caller = getattr(message, "reply_to", None) or sender
        if rooms.given_up:
            self.send(caller, refusals.service_failed(rooms))
        else:
            self.send(rooms.address, message.model_copy(update={"reply_to": caller}))

    def _subscribe(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        """The event bus, or a conversation's feed (kept here, and passed to its router)."""
        if message.conversation is None:
            self.subscribers.handle(self, message, sender)
        else:
            self._follow(message, message.subscriber or sender)

    def _follow(self, message: Subscribe | Unsubscribe, subscriber: Any) -> None:
        """Keep ``subscriber``'s (un)subscription to a conversation, and pass it on to the
        conversation's router (a room's: through the rooms supervisor)."""
        conversation = message.conversation or ""
        addressed = message.model_copy(update={"subscriber": subscriber})
        kept = [s for s in self.feeds.get(conversation, []) if s.subscriber != subscriber]
        if isinstance(addressed, Subscribe):
            kept.append(addressed)
        if kept:
            self.feeds[conversation] = kept
        else:
            self.feeds.pop(conversation, None)
        followed = ConversationId.try_parse(conversation)
        kind = followed.kind if followed is not None else None
        if kind == "workflow":  # no router: the root itself feeds it
            if isinstance(addressed, Subscribe):
                self.send(subscriber, Ok())
            return
        if kind == "room":
            target = self._service_address(ROOMS)
        else:
            target = self._service_address(conversation)
            if target is None and isinstance(addressed, Subscribe):
                self.feeds.pop(conversation, None)
                name = followed.name if followed is not None and kind == "dm" else conversation
                self.send(subscriber, refusals.unknown_agent(self.registry, name))
                return
        if target is not None:
            self.send(target, addressed)

    def _forward_cancel(self, message: Cancel, sender: Any) -> None:
        entry = self.registry.agents.get(message.agent or "")
        if entry is not None and entry.address is not None:
            self.send(entry.address, message)

    def _history(self, message: History, sender: Any) -> None:
        after_seq = message.after_seq
        if message.after_id is not None:
            found = self._journal().seq_of(message.after_id, message.conversation)
            if found is None:
                self.send(sender, refusals.unknown_message(message.after_id, message.conversation))
                return
            after_seq = found
        rows = self._journal().history(
            message.conversation, after_seq=after_seq, limit=message.limit, newest=message.newest
        )
        kept = within_bytes(
            [envelope for _, envelope in rows],
            self._settings().max_payload_bytes,
            newest=message.newest,
        )
        last = -1 if message.newest else len(kept) - 1  # kept is rows' tail, or head
        self.send(
            sender,
            HistoryPage(
                messages=kept,
                last_seq=rows[last][0] if rows else after_seq,
                more=len(kept) < len(rows),
            ),
        )

    def _settings(self) -> Settings:
        if self.settings is None:  # a command before Boot
            self.settings = load_settings()
        return self.settings
