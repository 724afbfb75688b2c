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
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from orchestration.conversation_ids import EVENTS_CONVERSATION, ConversationId
from orchestration.daemon import launch
from orchestration.daemon.record import DaemonRecord, daemon_running
from orchestration.errors import DaemonError
from orchestration.gateway.link import Deliver, End, Follower
from orchestration.messages import (
    ROOT_SUPERVISOR,
    AgentInfo,
    AgentList,
    AgentSpec,
    ClaudeCodeOptions,
    DaemonStatus,
    DeclareWorkflows,
    Envelope,
    GatewayAddress,
    GatewayReport,
    GatewayState,
    GetTree,
    HistoryPage,
    ListAgents,
    LocateGateway,
    Ok,
    Recovery,
    Resolve,
    Resolved,
    Spawn,
    Spawned,
    Status,
    Stop,
    StopAll,
    SupervisorNode,
    TreeSnapshot,
    Up,
    default_of,
)
from orchestration.runtime.connection import Connection, about_agents
from orchestration.runtime.rooms import RoomCalls
from orchestration.runtime.workflows import WorkflowCalls
from orchestration.settings import Settings, load_settings
from orchestration.streams import (
    ASK_TIMEOUT,
    Feed,
    OrchestrationError,
    RouterCheck,
    Subscription,
    TurnStream,
)
from orchestration.tree_files import TreeFile, load_tree_file

__all__ = ["DaemonError", "OrchestrationError", "Runtime"]

START_SECONDS = 5.0
"""How long ``up`` waits per node of the tree, on top of `ASK_TIMEOUT`."""
STOP_SECONDS = 60.0
"""How long ``shutdown`` waits for a supervisor to stop its children one by one."""


class Runtime(RoomCalls, WorkflowCalls, Connection):
    """A connection to the running actor system."""

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    def connect(cls, settings: Settings | None = None, *, start: bool = True) -> Runtime:
        """Attach to the daemon, starting it first when none runs and ``start`` is true."""
        settings = settings or load_settings()
        started = False
        if daemon_running(settings) is None:
            if not start:
                raise DaemonError(
                    f"no orchestration daemon runs on port {settings.admin_port}",
                    hint="start it with: orchestration up",
                )
            launch.start(settings)
            started = True
        return cls(settings, *launch.attach(settings), started=started)

    # --- agents and trees --------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        *,
        provider: str = default_of(AgentSpec, "provider"),
        model: str = default_of(AgentSpec, "model"),
        system_prompt: str = default_of(AgentSpec, "system"),
        recovery: Recovery = default_of(AgentSpec, "recovery"),
        turn_timeout: float | None = default_of(AgentSpec, "turn_timeout"),
        exist_ok: bool = False,
        under: str = ROOT_SUPERVISOR,
        command: Sequence[str] = default_of(AgentSpec, "command"),
        cwd: str | None = default_of(AgentSpec, "cwd"),
        permission_mode: str = default_of(ClaudeCodeOptions, "permission_mode"),
        allowed_tools: Sequence[str] = default_of(ClaudeCodeOptions, "allowed_tools"),
        max_budget_usd: float | None = default_of(ClaudeCodeOptions, "max_budget_usd"),
        keep_env: Sequence[str] = default_of(ClaudeCodeOptions, "keep_env"),
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
                claude_code=ClaudeCodeOptions(
                    permission_mode=permission_mode,
                    allowed_tools=tuple(allowed_tools),
                    max_budget_usd=max_budget_usd,
                    keep_env=tuple(keep_env),
                ),
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
        message = Envelope(conversation=str(ConversationId.dm(name)), sender=sender, content=text)
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
            str(ConversationId.dm(name)),
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
        conversation = None if name is None else str(ConversationId.dm(name))
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

    def gateway(self) -> GatewayReport:
        """What the gateway feeds remote clients: its links, and per conversation how many
        links and clients follow it."""
        located = self._ask(LocateGateway(), GatewayAddress)
        return self._ask(GatewayState(), GatewayReport, to=located.address)

    def _agent_feeds(self, name: str) -> tuple[list[Feed], Callable[[Any], bool]]:
        """The feeds of agent ``name``'s conversation and a filter for the events about it."""
        self.resolve(name)  # an unknown agent is refused here, with the names there are
        feeds = [(self._root, str(ConversationId.dm(name))), (self._root, None)]
        return feeds, about_agents({name})

    # --- the daemon --------------------------------------------------------------------------

    def stop_daemon(self, *, grace: float = 5.0) -> list[int]:
        """Stop every agent gracefully, then the actor system; make sure no process is left.

        Returns the PIDs that had to be killed because they outlived the shutdown.
        """
        record = DaemonRecord.read(self.settings)
        if launch.stop_through_owner(record, grace):  # `up --foreground` stopped it
            self.close()
            return []
        tree = launch.daemon_tree(record)
        with contextlib.suppress(OrchestrationError, DaemonError):  # then shutdown and kill
            self._ask(StopAll(grace=grace), Ok, timeout=grace + ASK_TIMEOUT)
        self._asys.shutdown()
        self._asys = None
        return launch.reap(self.settings, record, tree)
