"""Runtime: the one facade over the actor system, for the CLI, REST, MCP and Python users.

``Runtime.connect()`` attaches to the daemon on the configured admin port, starting it when none
runs. Every call talks to the tree only through `orchestration.messages`, each in its own
private Thespian context, so one Runtime can be shared by threads. `AsyncRuntime` offers the
same calls to asyncio code.

Failures raise `OrchestrationError` (a command the tree refused: unknown agent, bad message...)
or `DaemonError` (the daemon cannot be reached or started); both carry a ``hint``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from thespian.actors import ActorSystem, InvalidActorAddress

from orchestration import system
from orchestration.gateway.link import Deliver, End, Follower, GatewayLink
from orchestration.interrupts import private
from orchestration.messages import (
    DEFAULT_HUMAN,
    DEFAULT_PROVIDER,
    EVENTS_CONVERSATION,
    ROOT_SUPERVISOR,
    AgentInfo,
    AgentList,
    AgentSpec,
    Approve,
    CreateRoom,
    DaemonStatus,
    DeclareWorkflows,
    Envelope,
    ErrorReply,
    GatewayAddress,
    GatewayReport,
    GatewayState,
    GetTree,
    History,
    HistoryPage,
    HumanMode,
    JoinRoom,
    ListAgents,
    ListRooms,
    ListRuns,
    ListWorkflows,
    LocateGateway,
    Member,
    Ok,
    Record,
    Recovery,
    Resolve,
    Resolved,
    RespondPolicy,
    Role,
    RoomAction,
    RoomCommand,
    RoomInfo,
    RoomList,
    RoomSpec,
    RunList,
    Send,
    SetMode,
    SetTopology,
    Spawn,
    Spawned,
    Status,
    Stop,
    StopAll,
    SupervisorNode,
    TreeSnapshot,
    Up,
    WorkflowList,
    WorkflowSpec,
    content_problem,
    direct_conversation,
    room_conversation,
)
from orchestration.private_files import append_private, open_private, private_dir
from orchestration.processes.pidfiles import sweep
from orchestration.processes.pids import ProcessId, descendants, pid_alive, wait_gone
from orchestration.settings import Settings, load_settings
from orchestration.streams import (
    ASK_TIMEOUT,
    EndpointPool,
    Feed,
    OrchestrationError,
    RouterCheck,
    Subscription,
    TurnStream,
)
from orchestration.system import DaemonError, DaemonRecord

ROOT_RETRY = 0.05
"""Seconds between two attempts to reach a root that was just replaced."""
START_SECONDS = 5.0
"""How long ``up`` waits per node of the tree, on top of `ASK_TIMEOUT`."""
STOP_SECONDS = 60.0
"""How long ``shutdown`` waits for a supervisor to stop its children one by one."""
START_TIMEOUT = 60.0
FOREGROUND_STOP_MARGIN = 30.0
"""Seconds beyond the agents' grace that an `up --foreground` process gets to stop."""


class Runtime:
    """A connection to the running actor system."""

    def __init__(self, settings: Settings, asys: ActorSystem, root: Any, started: bool) -> None:
        self.settings = settings
        self.started = started
        self._asys = asys
        self._root = root
        self._link: GatewayLink | None = None
        self._link_lock = threading.Lock()
        self._endpoints = EndpointPool(asys)

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    def connect(cls, settings: Settings | None = None, *, start: bool = True) -> Runtime:
        """Attach to the daemon, starting it first when none runs and ``start`` is true."""
        settings = settings or load_settings()
        started = False
        if system.daemon_running(settings) is None:
            if not start:
                raise DaemonError(
                    f"no orchestration daemon runs on port {settings.admin_port}",
                    hint="start it with: orchestration up",
                )
            start_daemon(settings)
            started = True
        return cls(settings, *_attach(settings), started=started)

    def close(self) -> None:
        """Detach from the actor system; the daemon keeps running.

        (``ActorSystem.shutdown()`` would stop the whole system, so this closes only this
        process's endpoint.)
        """
        if self._link is not None:
            self._link.close()
            self._link = None
        self._endpoints.close()
        if self._asys is not None:
            self._asys._systemBase.transport.close()
            self._asys = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands ----------------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        *,
        provider: str = DEFAULT_PROVIDER,
        model: str = "",
        system_prompt: str = "",
        recovery: Recovery = "resume",
        turn_timeout: float | None = None,
        exist_ok: bool = False,
        under: str = ROOT_SUPERVISOR,
        command: Sequence[str] = (),
        cwd: str | None = None,
        permission_mode: str = "plan",
        allowed_tools: Sequence[str] = (),
        max_budget_usd: float | None = None,
        keep_env: Sequence[str] = (),
    ) -> Spawned:
        """Create an agent under supervisor ``under`` (default: the root); ``provider="default"``
        picks the daemon's default provider. An agent added to a tree's supervisor is saved in
        that tree, so it comes back when the supervisor or the daemon restarts.

        With ``provider="command"`` the agent runs ``command`` (an argument list, run in
        ``cwd``) as a long-lived program; ``model`` names its wire protocol (``jsonl``, or
        ``lines``, see `orchestration.providers.command`). With ``provider="claude-code"`` it
        runs the Claude Code CLI in ``cwd`` with ``permission_mode``, ``allowed_tools`` and
        ``max_budget_usd``; ``keep_env`` names credential variables to pass on to it.

        A turn that runs past ``turn_timeout`` seconds counts as stuck: the agent's process is
        killed and restarted, and the caller gets ``TurnFailed(kind="timeout")``.

        ``provider`` may also name the model: ``provider="anthropic:claude-sonnet-4-5"``.
        """
        provider, _, inline_model = provider.partition(":")
        model = model or inline_model
        try:
            spec = AgentSpec(
                name=name,
                provider=provider,
                model=model,
                system=system_prompt,
                recovery=recovery,
                turn_timeout=turn_timeout,
                command=tuple(command),
                cwd=cwd,
                permission_mode=permission_mode,
                allowed_tools=tuple(allowed_tools),
                max_budget_usd=max_budget_usd,
                keep_env=tuple(keep_env),
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise OrchestrationError(
                "invalid_spec",
                str(problem["msg"]).removeprefix("Value error, "),
                "e.g. orchestration spawn coder --provider scripted",
            ) from None
        return self._ask(Spawn(spec=spec, exist_ok=exist_ok, under=under), Spawned)

    def up(self, tree: str | os.PathLike[str] | TreeFile | SupervisorNode) -> str:
        """Start a tree (a tree file, one `load_tree_file` read, or a `SupervisorNode`) under
        the root and wait until every child runs, then create the file's conversations; a tree
        or a room of that name already up is left as it is. Returns the root's answer and a
        line per room. Raises `OrchestrationError` (code ``invalid_tree``) for a bad file."""
        if isinstance(tree, SupervisorNode):
            tree = TreeFile(tree)
        elif not isinstance(tree, TreeFile):
            loaded, problems = load_tree_file(tree)
            if loaded is None:
                where = "\n".join(
                    f"{path}: {message}" if path else message for path, message in problems
                )
                raise OrchestrationError(
                    "invalid_tree",
                    f"{os.fspath(tree)}:\n{where}",
                    "orchestration tree validate FILE",
                )
            tree = loaded
        timeout = ASK_TIMEOUT + START_SECONDS * len(tree.supervisor.nodes())
        lines = [self._ask(Up(tree=tree.supervisor), Ok, timeout=timeout).detail]
        for spec in tree.rooms:
            room = self.create_room_from(spec, exist_ok=True)
            lines.append(
                f"room {room.spec.name} is {room.state}: {', '.join(room.spec.agents)}"
                f" ({room.spec.respond}, at most {room.spec.max_turns} turns)"
            )
        if tree.workflows is not None:
            declare = DeclareWorkflows(tree=tree.supervisor.name, workflows=tree.workflows)
            self._ask(declare, Ok)
            lines += [f"workflow {w.name}: {', '.join(w.agents())}" for w in tree.workflows]
        return "\n".join(lines)

    def record(self, message: Envelope) -> None:
        """Journal ``message`` in its workflow run's conversation (``workflow:NAME:RUN``) and
        send it to whoever follows that run (`observe_run`)."""
        self._check_text(message.content)
        self._ask(Record(message=message), Ok)

    def runs(self) -> list[str]:
        """The workflow runs in the journal, oldest first, as their conversations."""
        return self._ask(ListRuns(), RunList).runs

    def run_history(
        self, conversation: str, *, limit: int = 1000, newest: bool = False
    ) -> list[Envelope]:
        """The journaled messages of a workflow run (the first ``limit``, or the last)."""
        return self.conversation_page(conversation, limit=limit, newest=newest).messages

    def conversation_page(self, conversation: str, **request: Any) -> HistoryPage:
        """A page of any conversation's journal, by its id (``dm:NAME``, ``room:NAME``,
        ``workflow:NAME:RUN``); ``request`` takes `History`'s fields (``limit``,
        ``after_seq``, ``after_id``, ``newest``)."""
        return self._ask(History(conversation=conversation, **request), HistoryPage)

    def observe_run(self, conversation: str, *, timeout: float | None = None) -> Subscription:
        """What a workflow run records from now on (`Envelope`s)."""
        return Subscription(self._asys, [(self._root, conversation)], timeout)

    def workflows(self) -> list[WorkflowSpec]:
        """The workflows the trees' files declare (run them with `orchestration.interfaces.adk`)."""
        return self._ask(ListWorkflows(), WorkflowList).workflows

    def workflow(self, name: str) -> WorkflowSpec:
        """The declared workflow ``name``; raises `OrchestrationError` (``unknown_workflow``)."""
        declared = self.workflows()
        for workflow in declared:
            if workflow.name == name:
                return workflow
        known = ", ".join(w.name for w in declared) or "none yet"
        raise OrchestrationError(
            "unknown_workflow",
            f"no workflow named {name!r} (declared: {known})",
            hint="declare it under workflows: in a tree file, then orchestration up FILE",
        )

    def tree(self) -> TreeSnapshot:
        """The live tree: every supervisor (the root first) and every agent, with states."""
        return self._ask(GetTree(), TreeSnapshot)

    def list(self) -> list[AgentInfo]:
        """Every agent with its live state."""
        return self._ask(ListAgents(), AgentList).agents

    def resolve(self, name: str) -> Resolved:
        return self._ask(Resolve(name=name), Resolved)

    def send(
        self, name: str, text: str, *, sender: str = "user", timeout: float | None = None
    ) -> TurnStream:
        """Say ``text`` to agent ``name``; iterate the result for the streamed reply.

        The message goes through the root, which knows where the agent's router is now, so a
        send costs no lookup round trip and never reaches a stale address.
        """
        self._check_text(text)
        message = Envelope(conversation=direct_conversation(name), sender=sender, content=text)
        timeout = timeout or self.settings.turn_timeout
        check = self._router_check(name)
        every = self.settings.stream_check_interval
        return TurnStream(
            self._asys, self._endpoints, self._root, name, message, timeout, check, every
        )

    def _router_check(self, name: str) -> RouterCheck:
        """What a silent turn stream of agent ``name`` asks (see `TurnStream`)."""

        def check(sent_at: datetime) -> Any:
            root = self._root
            started = self.resolve(name).router_started_at  # finds a new root, if need be
            if self._root != root or (started is not None and started > sent_at):
                return self._root
            return None

        return check

    def history(self, name: str, *, limit: int = 1000, after_seq: int = 0) -> list[Envelope]:
        """The journaled messages of the agent's conversation, oldest first."""
        return self.history_page(name, limit=limit, after_seq=after_seq).messages

    def history_page(
        self,
        name: str,
        *,
        limit: int = 1000,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """A page of `history` (after message ``after_id``, if given); its ``last_seq`` is the
        ``after_seq`` of the next page. With ``newest``: the last ``limit`` messages."""
        page = self.conversation_page(
            direct_conversation(name),
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )
        if not page.messages and after_seq == 0 and after_id is None:
            self.resolve(name)  # raises for an agent that never existed
        return page

    def events(self, *, limit: int = 100) -> list[Envelope]:
        """The last ``limit`` journaled supervision events (agent_started, agent_restarted...),
        oldest first."""
        return self.conversation_page(EVENTS_CONVERSATION, limit=limit, newest=True).messages

    def shutdown(self, name: str, *, grace: float | None = None) -> None:
        """Stop an agent, or a supervisor with its subtree, for good and remove it from the
        tree (the history stays in the journal). ``grace`` overrides the agent's ``shutdown``
        seconds; a supervisor stops its children one by one, each with its own."""
        timeout = (grace or 0) + STOP_SECONDS + ASK_TIMEOUT
        self._ask(Stop(name=name, grace=grace), Ok, timeout=timeout)

    def shutdown_all(self, *, grace: float | None = None) -> list[str]:
        """Shut down every child of the root (agents and trees); their names."""
        names = [
            *(s.name for s in self.tree().supervisors if s.parent == ROOT_SUPERVISOR),
            *(a.spec.name for a in self.list() if a.supervisor == ROOT_SUPERVISOR),
        ]
        for name in names:
            self.shutdown(name, grace=grace)
        return names

    def status(self) -> DaemonStatus:
        return self._ask(Status(), DaemonStatus)

    def watch(self, name: str | None = None, *, timeout: float | None = None) -> Subscription:
        """Messages and stream messages of agent ``name``'s conversation, or (with no name)
        every supervision event, from now on. Iterate it; it ends after ``timeout`` seconds if
        given, or when closed."""
        if name is not None:
            self.resolve(name)  # an unknown agent is refused here, with the names there are
        conversation = None if name is None else direct_conversation(name)
        return Subscription(self._asys, [(self._root, conversation)], timeout)

    def observe(self, name: str, *, timeout: float | None = None) -> Subscription:
        """Everything that happens in agent ``name``'s conversation from now on: its messages,
        the streamed replies (`TurnDelta`, then `TurnFinished` or `TurnFailed`), and the
        supervision events about the agent (a restart mid-conversation, say)."""
        feeds, keep = self._agent_feeds(name)
        return Subscription(self._asys, feeds, timeout, keep=keep)

    def follow(self, name: str, deliver: Deliver, end: End) -> Follower:
        """`observe` for a server with many clients: through this process's gateway link, so
        the agent's router sends each message once, whoever follows it. ``deliver`` and
        ``end`` run on the link's thread (see `Follower`)."""
        feeds, keep = self._agent_feeds(name)
        return self.link().follow(feeds, deliver, end, keep=keep)

    def link(self) -> GatewayLink:
        """This process's link to the gateway actor (opened on first use, and again after
        the gateway dropped it)."""
        with self._link_lock:
            if self._link is None or not self._link.alive:
                gateway = self._ask(LocateGateway(), GatewayAddress).address
                self._link = GatewayLink(self._asys, gateway)
            return self._link

    def gateway(self) -> GatewayReport:
        """What the gateway feeds remote clients: its links, and per conversation how many
        links and clients follow it."""
        located = self._ask(LocateGateway(), GatewayAddress)
        return self._ask(GatewayState(), GatewayReport, to=located.address)

    def _agent_feeds(self, name: str) -> tuple[list[Feed], Callable[[Any], bool]]:
        """The feeds of agent ``name``'s conversation and a filter for the events about it."""
        self.resolve(name)  # an unknown agent is refused here, with the names there are
        feeds = [(self._root, direct_conversation(name)), (self._root, None)]
        return feeds, _about_agents({name})

    # --- rooms -------------------------------------------------------------------------------

    def create_room(
        self,
        name: str,
        *,
        agents: Sequence[str],
        humans: Sequence[str] = (DEFAULT_HUMAN,),
        topology: str = "broadcast",
        respond: RespondPolicy = "always",
        mode: HumanMode = "free",
        max_turns: int = 20,
        cooldown: float = 0.0,
        stop_phrase: str | None = None,
        idle_timeout: float | None = None,
        roles: dict[str, Role] | None = None,
        groups: dict[str, Sequence[str]] | None = None,
        exist_ok: bool = False,
    ) -> RoomInfo:
        """Create a room where ``agents`` (which must exist) and ``humans`` talk; see
        `RoomSpec` for the policy and the limits. ``roles`` and ``groups`` place members in a
        ``hierarchical`` topology."""
        roles, groups = roles or {}, groups or {}
        try:
            members = [
                Member(
                    name=n, kind=kind, role=roles.get(n, "member"), groups=tuple(groups.get(n, ()))
                )
                for names, kind in ((agents, "agent"), (humans, "human"))
                for n in names
            ]
            spec = RoomSpec(
                name=name,
                members=tuple(members),
                topology=topology,
                respond=respond,
                mode=mode,
                max_turns=max_turns,
                cooldown=cooldown,
                stop_phrase=stop_phrase,
                idle_timeout=idle_timeout,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise OrchestrationError(
                "invalid_room",
                f"{where}: {str(problem['msg']).removeprefix('Value error, ')}",
                "e.g. orchestration room create standup --agents planner,critic",
            ) from None
        return self.create_room_from(spec, exist_ok=exist_ok)

    def create_room_from(self, spec: RoomSpec, *, exist_ok: bool = False) -> RoomInfo:
        """Create the room ``spec`` describes (``exist_ok``: keep a running one of that name)."""
        return self._ask(CreateRoom(spec=spec, exist_ok=exist_ok), RoomInfo)

    def rooms(self) -> list[RoomInfo]:
        """Every room with its live state."""
        return self._ask(ListRooms(), RoomList).rooms

    def room(self, name: str, action: RoomAction = "show") -> RoomInfo:
        """Show room ``name``, or act on it: ``pause``, ``resume``, ``stop``, ``delete`` (its
        history stays) or ``purge`` (its history goes too). Returns its state after."""
        return self._ask(RoomCommand(room=name, action=action), RoomInfo)

    def say(
        self, room: str, text: str, *, sender: str = DEFAULT_HUMAN, to: Sequence[str] = ()
    ) -> Envelope:
        """Say ``text`` in ``room`` as member ``sender`` (addressed ``to`` some members, or to
        all); returns the journaled message, whose ``delivered_to`` says who got it. The agents
        answer by the room's policy: follow them with `observe_room`."""
        self._check_text(text)
        message = Envelope(
            conversation=room_conversation(room), sender=sender, content=text, recipients=tuple(to)
        )
        return self._ask(Send(message=message), Envelope)

    def set_topology(self, room: str, topology: str) -> RoomInfo:
        """Switch ``room`` to ``topology`` now, keeping its history and agents."""
        return self._ask(SetTopology(room=room, topology=topology), RoomInfo)

    def set_mode(self, room: str, mode: HumanMode) -> RoomInfo:
        """Set how the humans of ``room`` take part: ``free``, ``moderated`` or ``prompted``."""
        return self._ask(SetMode(room=room, mode=mode), RoomInfo)

    def join_room(self, room: str, human: str = DEFAULT_HUMAN) -> RoomInfo:
        """Make ``human`` a member of ``room`` (already one: nothing changes)."""
        return self._ask(JoinRoom(room=room, human=human), RoomInfo)

    def approve(
        self,
        room: str,
        action: str = "approve",
        *,
        content: str = "",
        pending: str | None = None,
        by: str = DEFAULT_HUMAN,
    ) -> RoomInfo:
        """Answer ``room``'s oldest pending approval (or ``pending``): ``approve`` the agent's
        reply, ``edit`` it to ``content``, or ``skip`` it."""
        if action == "edit":
            self._check_text(content)
        request = Approve(room=room, action=action, content=content, pending=pending, by=by)  # type: ignore[arg-type]
        return self._ask(request, RoomInfo)

    def room_history(self, room: str, *, limit: int = 1000, after_seq: int = 0) -> list[Envelope]:
        """The journaled messages and events of ``room``, oldest first (also after it was
        deleted, until it is purged)."""
        return self.room_history_page(room, limit=limit, after_seq=after_seq).messages

    def room_history_page(
        self,
        room: str,
        *,
        limit: int = 1000,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """A page of `room_history` (after message ``after_id``, if given); its ``last_seq``
        is the ``after_seq`` of the next page. With ``newest``: the last ``limit`` messages."""
        return self.conversation_page(
            room_conversation(room),
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )

    def observe_room(
        self, room: str, *, timeout: float | None = None, stream: bool = True
    ) -> Subscription:
        """Everything that happens in ``room`` from now on: its messages and events
        (`Envelope`), the agents' streamed replies (`TurnDelta`, then `TurnFinished` or
        `TurnFailed`; an agent's reply is then journaled and arrives as an `Envelope` too, with
        ``data["turn_id"]``), and the supervision events about its agents. Without
        ``stream``, only the messages and events: much cheaper for a busy room."""
        feeds, keep = self._room_feeds(room)
        return Subscription(self._asys, feeds, timeout, keep=keep, stream=stream)

    def follow_room(
        self, room: str, deliver: Deliver, end: End, *, stream: bool = True
    ) -> Follower:
        """`observe_room` through this process's gateway link (see `follow`)."""
        feeds, keep = self._room_feeds(room)
        return self.link().follow(feeds, deliver, end, keep=keep, stream=stream)

    def _room_feeds(self, room: str) -> tuple[list[Feed], Callable[[Any], bool]]:
        """The feeds of ``room`` and a filter for the events about its agents."""
        agents = set(self.room(room).spec.agents)
        return [(self._root, room_conversation(room)), (self._root, None)], _about_agents(agents)

    def stop_daemon(self, *, grace: float = 5.0) -> list[int]:
        """Stop every agent gracefully, then the actor system; make sure no process is left.

        Returns the PIDs that had to be killed because they outlived the shutdown.
        """
        record = DaemonRecord.read(self.settings)
        owner = record.owner() if record else None
        if owner is not None and owner.pid != os.getpid() and owner.alive():
            # `up --foreground` owns it: ask that process to stop it, as systemd would
            os.kill(owner.pid, signal.SIGTERM)
            if not wait_gone([owner], timeout=grace + FOREGROUND_STOP_MARGIN):
                self.close()
                return []
            owner.kill()  # it did not stop in time: stop the daemon from here
        tree = descendants(record.pid) if record else []
        with contextlib.suppress(OrchestrationError, DaemonError):  # then shutdown and kill
            self._ask(StopAll(grace=grace), Ok, timeout=grace + ASK_TIMEOUT)
        self._asys.shutdown()
        self._asys = None
        admin = [p for p in [_process(record.pid if record else None)] if p]
        stragglers = wait_gone(admin + tree, timeout=10.0)
        for process in stragglers:
            process.kill()
        wait_gone(stragglers, timeout=5.0)
        DaemonRecord.remove(self.settings)
        programs = sweep(self.settings.pid_dir)  # agents' programs that outlived their actors
        return [p.pid for p in stragglers] + programs

    # --- plumbing ----------------------------------------------------------------------------

    def _check_text(self, text: str) -> None:
        problem = content_problem(text, self.settings.max_message_chars)
        if problem is not None:
            raise OrchestrationError("invalid_message", *problem)

    def _ask(
        self, message: Any, expected: type, *, timeout: float | None = None, to: Any = None
    ) -> Any:
        """Ask the root (or ``to``) and return its reply of type ``expected``; a refusal or
        no answer within ``timeout`` (default: the ``request_timeout`` setting) raises."""
        timeout = timeout or self.settings.request_timeout
        if self._asys is None:
            raise DaemonError("this Runtime is closed", hint="call Runtime.connect() again")
        deadline = time.monotonic() + timeout
        with private(self._asys) as endpoint:
            reply = endpoint.ask(to or self._root, message, timeout)
            while reply is None and to is None and time.monotonic() < deadline - ROOT_RETRY:
                # A send to a dead root fails at once: the admin is starting a new one (see
                # `orchestration.admin_hooks`); ask that one, once the admin has it.
                time.sleep(ROOT_RETRY)
                self._root = system.find_root(self._asys)
                reply = endpoint.ask(self._root, message, deadline - time.monotonic())
        if isinstance(reply, ErrorReply):
            raise OrchestrationError.from_reply(reply)
        if reply is None:
            who = "the gateway" if to is not None else _ANSWERED_BY.get(type(message), "the root")
            raise DaemonError(
                f"the daemon did not answer {type(message).__name__} within {timeout:g} s "
                f"(asked of {who})",
                hint=f"check `orchestration status` and {self.settings.log_dir / 'daemon.log'}",
            )
        if not isinstance(reply, expected):
            raise DaemonError(
                f"unexpected reply {type(reply).__name__} to {type(message).__name__}"
            )
        return reply


_ROOMS = "the rooms supervisor, or the room's router"
_ANSWERED_BY: dict[type, str] = {
    CreateRoom: _ROOMS,
    ListRooms: "the rooms supervisor",
    RoomCommand: _ROOMS,
    SetTopology: _ROOMS,
    SetMode: _ROOMS,
    JoinRoom: _ROOMS,
    Approve: _ROOMS,
    Send: _ROOMS,  # (a direct turn streams, and never asks)
}
"""Who answers each command that the root passes on (the root answers the rest)."""


def _about_agents(agents: set[str]) -> Callable[[Any], bool]:
    """Keeps a conversation's own messages, and of the supervision events those about
    ``agents``."""

    def keep(message: Any) -> bool:
        if isinstance(message, Envelope) and message.conversation == EVENTS_CONVERSATION:
            return message.data.get("agent") in agents
        return True

    return keep


def _process(pid: int | None) -> ProcessId | None:
    return ProcessId.of(pid) if pid else None


def _attach(settings: Settings) -> tuple[ActorSystem, Any]:
    system.join_environment(settings)
    try:
        asys = ActorSystem(system.SYSTEM_BASE, system.capabilities(settings), transientUnique=True)
    except InvalidActorAddress:  # it did not answer, or refused our frames
        raise system.unreachable(settings) from None
    return asys, system.find_root(asys)


def start_daemon(settings: Settings, *, foreground: bool = False) -> DaemonRecord:
    """Start the daemon in its own session and wait until it has booted.

    A lock file in the data dir makes concurrent starters (two terminals, say) start one daemon.
    With ``foreground``, this process owns the daemon (`orchestration.foreground`): the
    daemon's output and its actors' log go to this process's stderr as well as the log files.
    """
    private_dir(settings.home)
    with os.fdopen(open_private(settings.home / "daemon.lock", os.O_WRONLY), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = system.daemon_running(settings)
        if running is not None:
            return running
        system.failure_path(settings).unlink(missing_ok=True)
        out = settings.log_dir / "daemon.out"
        owner = ["--foreground", str(os.getpid())] if foreground else []
        with append_private(out) as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.daemon", *owner],
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr if foreground else log,
                stderr=sys.stderr if foreground else log,
                start_new_session=True,
                env={
                    **os.environ,
                    "ORCH_HOME": str(settings.home),
                    "ORCH_ADMIN_PORT": str(settings.admin_port),
                },
            )
        try:
            code = process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            raise DaemonError(
                f"the daemon did not start within {START_TIMEOUT:g} s", hint=f"see {out}"
            ) from None
        record = DaemonRecord.read(settings)
        if code != 0 or record is None or not pid_alive(record.pid):
            failure = system.read_failure(settings)
            if failure is not None:
                raise failure
            tail = out.read_text(errors="replace").strip().splitlines()[-3:]
            raise DaemonError(
                "the daemon failed to start: " + (" / ".join(tail) or f"exit code {code}"),
                hint=f"see {out}",
            )
        return record


def __getattr__(name: str) -> Any:
    """`AsyncRuntime` lives in `orchestration.aio`, so the CLI never imports asyncio."""
    if name == "AsyncRuntime":
        from orchestration.aio import AsyncRuntime

        return AsyncRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class TreeFile:
    """A tree file as `Runtime.up` starts it: its tree, then the rooms of its
    ``conversations:``, in file order."""

    supervisor: SupervisorNode
    rooms: tuple[RoomSpec, ...] = ()
    workflows: tuple[WorkflowSpec, ...] | None = None
    """The file's ``workflows:`` (None: not from a file, so leave the declared ones alone)."""


def load_tree_file(
    path: str | os.PathLike[str],
) -> tuple[TreeFile | None, list[tuple[str, str]]]:
    """Read a tree file offline: ``(tree file, [])``, or ``(None, problems)`` where each
    problem is ``(path in the file, message)``, with an empty path for the whole file."""
    from orchestration.supervision.tree import TreeConfigError, load_tree

    try:
        config = load_tree(path)
    except TreeConfigError as exc:
        return None, list(exc.problems)
    node = config.to_node(Path(path).resolve().parent)
    return TreeFile(node, config.to_rooms(), config.to_workflows()), []


def validate_tree_file(path: str | os.PathLike[str]) -> tuple[str, list[tuple[str, str]]]:
    """Check a tree config file offline (no daemon): ``(summary, problems)``.

    The summary counts the tree and its conversations (``2 supervisors, 5 agents, 1
    conversation``) and is empty when there are problems; each problem is ``(path in the
    file, message)``, with an empty path for the file.
    """
    from orchestration.supervision.tree import TreeConfigError, load_tree

    try:
        return load_tree(path).summary(), []
    except TreeConfigError as exc:
        return "", list(exc.problems)
