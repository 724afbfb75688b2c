"""The protocol: every message that crosses an actor boundary.

All messages are frozen Pydantic models defined at module level, so they pickle cleanly between
actor processes. Each carries ``v``, the protocol version it was written with.

Groups:
- the conversation envelope (`Envelope`) and what describes agents (`AgentSpec`, `AgentInfo`);
- commands, sent by the Runtime or by actors (`Spawn`, `Stop`, `ListAgents`, `Send`, ...);
- stream messages for one turn (`TurnStarted`, `TurnDelta`, `TurnFinished`, `TurnFailed`);
- replies and errors (`Ok`, `ErrorReply`).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestration.settings import Settings

PROTOCOL_VERSION = 1
AGENT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
EVENTS_CONVERSATION = "system"
DEFAULT_PROVIDER = "default"
"""The provider an agent names when it takes the daemon's default (resolved by the root)."""


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid name for an agent, member or room; else a `ValueError` that
    says what a name may be."""
    if not AGENT_NAME_PATTERN.match(value):
        raise ValueError(
            f"{kind} name {value!r} is not valid: use 1-63 lowercase letters, digits, '-', '_'"
            " or '.', starting with a letter or digit"
        )
    return value


def content_problem(text: str, limit: int) -> tuple[str, str] | None:
    """What is wrong with a message's text, and the fix: empty, or over ``limit`` characters."""
    if not text.strip():
        return "the message is empty", "type some text"
    if len(text) > limit:
        return (
            f"the message has {len(text):,} characters; the limit is {limit:,}",
            "shorten it, or raise ORCH_MAX_MESSAGE_CHARS",
        )
    return None


def new_id() -> str:
    """A fresh message or turn id: 32 hex digits, time-ordered like a UUIDv7.

    The first 12 digits are the Unix time in milliseconds, so ids sort by creation and the
    journal's id index grows at its end instead of at random pages.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every protocol message: frozen, strict about fields, versioned."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    v: int = PROTOCOL_VERSION

    def __str__(self) -> str:
        """The type's name only. Thespian formats every message it sends with ``str()`` for
        its debug log, whatever the log level, and a full rendering of a large message (a room
        of 200 members) costs more than sending it; ``repr()`` still shows every field."""
        return type(self).__name__


# --- conversation envelope -------------------------------------------------------------------

Kind = Literal["chat", "event", "control"]
EventName = Literal[
    "agent_spawned",
    "agent_started",
    "agent_restarted",
    "agent_failed",
    "agent_stopped",
    "restart_limit_exceeded",
    "supervisor_escalated",
    "turn_failed",
    "agent_log",
    "room_created",
    "room_paused",
    "room_resumed",
    "room_restarted",
    "room_failed",
    "topology_changed",
    "mode_changed",
    "member_joined",
    "turn_passed",
    "approval_needed",
    "approval_given",
    "input_needed",
    "conversation_ended",
    "topology_error",
    "gateway_restarted",
    "service_restarted",
    "workflow_finished",
    "workflow_failed",
]


SYSTEM_SENDER = "system"
"""The sender of what the runtime itself journals: failed turns, a run's ending."""


class Envelope(Message):
    """One message of a conversation, as it is journaled and delivered.

    ``recipients`` empty means broadcast. ``kind`` is ``chat`` for what members say, ``event`` for
    what the system reports (then ``event`` names it and ``data`` holds its fields) and
    ``control`` for runtime records.
    """

    id: str = Field(default_factory=new_id)
    conversation: str
    sender: str
    recipients: tuple[str, ...] = ()
    kind: Kind = "chat"
    content: str
    created_at: datetime = Field(default_factory=utc_now)
    topology: dict[str, str] = Field(default_factory=dict)
    in_reply_to: str | None = None
    event: EventName | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    delivered_to: tuple[str, ...] = ()
    """The members the conversation's topology delivered it to (set by a room's router before
    it journals the message; empty in direct conversations, where the one agent gets all)."""


class Usage(Message):
    """Token counts reported by a provider for one turn."""

    input_tokens: int = 0
    output_tokens: int = 0


# --- agents ------------------------------------------------------------------------------------

AgentState = Literal[
    "starting", "idle", "processing", "restarting", "stopping", "terminated", "failed"
]
SupervisorState = Literal["starting", "running", "restarting", "stopping", "terminated", "failed"]
Recovery = Literal["clean", "resume"]
Restart = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
ROOT_SUPERVISOR = "root"
"""The name the root supervisor has in the tree (reserved: no agent or supervisor may take it)."""


class AgentSpec(Message):
    """What an agent is: its name, its model and its instructions."""

    name: str
    provider: str
    model: str
    system: str = ""
    recovery: Recovery = "resume"
    turn_timeout: float | None = Field(None, gt=0)
    """Seconds a turn may run before the agent counts as stuck and is killed and restarted."""
    command: tuple[str, ...] = ()
    """A subprocess agent's program and its arguments (provider ``command``)."""
    cwd: str | None = None
    """The directory a subprocess agent's program runs in (default: the daemon's)."""
    permission_mode: str = "plan"
    """Claude Code: what it may do unasked (``plan`` never edits)."""
    allowed_tools: tuple[str, ...] = ()
    """Claude Code: tools it may use without asking (``Read``, ``Grep``...)."""
    max_budget_usd: float | None = Field(None, gt=0)
    """Claude Code: stop a turn that would cost more than this."""
    keep_env: tuple[str, ...] = ()
    """Credential variables to pass to this agent's program; Claude Code agents otherwise run
    without ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_AUTH_TOKEN``, so the subscription is used.
    Names only: the values come from the daemon's environment and are never stored."""
    settings: dict[str, float | int] = Field(default_factory=dict)
    """Settings this agent overrides (from its tree file's ``system:`` section):
    ``max_message_chars``, ``provider_timeout``, ``provider_max_retries``."""
    follows_default: bool = False
    """The provider was picked by default resolution, which runs again when the daemon starts
    (so an agent created offline moves to Claude once a key is configured)."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name("agent", value)

    @property
    def model_ref(self) -> str:
        """The "provider:model" string."""
        return f"{self.provider}:{self.model}"

    @property
    def conversation(self) -> str:
        """The agent's direct conversation with its users."""
        return direct_conversation(self.name)


def direct_conversation(agent: str) -> str:
    """The id of the conversation between users and one agent."""
    return f"dm:{agent}"


class AgentInfo(Message):
    """A row of `list`: an agent's spec and its live state."""

    spec: AgentSpec
    state: AgentState
    pid: int | None = None
    turns: int = 0
    last_activity: datetime | None = None
    restarts: int = 0
    process_pid: int | None = None
    """A subprocess agent's program (``pid`` is its actor's process)."""
    supervisor: str = ROOT_SUPERVISOR
    restart: Restart = "permanent"
    last_error: str = ""
    """Why it last went down (a crash, a kill, a stuck turn), or why it failed."""


class SupervisorInfo(Message):
    """A supervisor of the live tree: its flags and its state."""

    name: str
    parent: str | None
    strategy: Strategy
    intensity: int
    period: int
    restart: Restart = "permanent"
    state: SupervisorState = "starting"
    pid: int | None = None
    restarts: int = 0
    last_error: str = ""


class AgentNode(Message):
    """An agent as its supervisor runs it: its spec, restart type and shutdown grace."""

    type: Literal["agent"] = "agent"
    spec: AgentSpec
    restart: Restart = "permanent"
    shutdown: float | Literal["brutal_kill"] = 5.0

    @property
    def name(self) -> str:
        return self.spec.name

    def agents(self) -> list[AgentNode]:
        return [self]


class SupervisorNode(Message):
    """A supervisor as its parent runs it: OTP's flags and its children in start order.

    Built from a checked `orchestration.supervision.spec.SupervisorSpec`; saved in the journal
    so the daemon rebuilds the same tree after a restart."""

    type: Literal["supervisor"] = "supervisor"
    name: str
    strategy: Strategy = "one_for_one"
    intensity: int = 1
    period: int = 5
    restart: Restart = "permanent"
    shutdown: float | Literal["brutal_kill", "infinity"] = "infinity"
    children: tuple[Annotated[AgentNode | SupervisorNode, Field(discriminator="type")], ...] = ()

    def agents(self) -> list[AgentNode]:
        """Every agent below, in start order."""
        return [agent for child in self.children for agent in child.agents()]

    def nodes(self) -> list[AgentNode | SupervisorNode]:
        """This supervisor and every node below it, depth first in start order."""
        found: list[AgentNode | SupervisorNode] = [self]
        for child in self.children:
            found.extend(child.nodes() if isinstance(child, SupervisorNode) else [child])
        return found


ChildNode = AgentNode | SupervisorNode


# --- commands ----------------------------------------------------------------------------------


class Spawn(Message):
    """Create an agent under supervisor ``under``. Replies `Spawned` once it runs, or
    `ErrorReply` (duplicate name, unknown provider, unknown supervisor)."""

    spec: AgentSpec
    exist_ok: bool = False
    under: str = ROOT_SUPERVISOR


class Up(Message):
    """Start a whole tree under the root (``tree`` from a tree file). Replies `Ok` once every
    child runs; a tree of that name already running with the same spec is left as it is."""

    tree: SupervisorNode


class GetTree(Message):
    """Ask the root for the live tree. Replies `TreeSnapshot`."""


class TreeSnapshot(Message):
    """Every supervisor (the root first) and every agent, each naming its parent."""

    supervisors: list[SupervisorInfo]
    agents: list[AgentInfo]


class Spawned(Message):
    """Reply to `Spawn`: the agent runs (``created`` is False when it already existed)."""

    agent: AgentInfo
    created: bool = True


class Stop(Message):
    """Stop one agent (or a supervisor and its subtree) for good and remove it from the tree.
    An agent gets ``grace`` seconds (default: its spec's ``shutdown``) to finish its turn."""

    name: str
    grace: float | None = None


class ListAgents(Message):
    """Ask the root for every agent and its live state. Replies `AgentList`."""


class AgentList(Message):
    agents: list[AgentInfo]


class Resolve(Message):
    """Ask the root where an agent's conversation router is. Replies `Resolved`."""

    name: str


class Resolved(Message):
    agent: AgentInfo
    router: Any
    agent_address: Any
    router_started_at: datetime | None = None
    """When the router's current incarnation started: a turn sent before that lost its router
    (a stream that hears nothing asks, and sends its message again to the new one)."""


class Send(Message):
    """A member says something in a conversation, sent to its router or to the root (which
    forwards it to the router, setting ``reply_to``).

    The router journals ``message`` first, then delivers it. ``reply_to`` (default: the
    Thespian sender) receives the turn's stream messages, ending in `TurnFinished` or
    `TurnFailed`.
    """

    message: Envelope
    reply_to: Any = None


class Deliver(Message):
    """Router to agent: a journaled message to answer, and who streams the reply (``reply_to``
    gets `TurnStarted` and the deltas; None: nobody follows the stream).

    ``observed`` says whether the router has subscribers besides ``reply_to``: only then does
    the agent copy its deltas to the router (a subscriber that joins mid-turn gets the rest of
    that turn with its `TurnFinished`).
    """

    message: Envelope
    turn_id: str
    reply_to: Any
    observed: bool = False
    router: Any = None
    """Where the turn's end goes (a room's router); None: the agent's own router."""
    context: tuple[tuple[str, str], ...] = ()
    """What the agent heard in this conversation since its last turn in it, oldest first, as
    (sender, content) pairs: all it needs, and far cheaper to send to 200 agents than whole
    messages."""
    fresh: bool = False
    """``context`` is the agent's whole view of the conversation (it restarted, or its view
    was edited): replace what it holds."""
    instructions: str = ""
    """Added to the agent's system prompt for this turn (how to pass in a self_select room)."""


class Cancel(Message):
    """Cancel the agent's current turn (or only ``turn_id`` if given). Sent to the agent, or to
    the root naming the ``agent``."""

    agent: str | None = None
    turn_id: str | None = None


class Ping(Message):
    """Health probe. Agents answer `Pong` even while a turn streams."""


class Pong(Message):
    name: str
    state: AgentState | SupervisorState
    pid: int
    process_pid: int | None = None
    """The OS process a subprocess agent drives (its actor runs in ``pid``)."""
    turns: int
    last_activity: datetime | None = None
    current_turn: str | None = None


class History(Message):
    """Ask for a page of a conversation's journaled messages. Replies `HistoryPage`."""

    conversation: str
    limit: int = 200
    after_seq: int = 0
    after_id: str | None = None
    """Start after this message instead of after ``after_seq`` (a client resuming from the
    last message it got); an id not in the conversation is refused (``unknown_message``)."""
    newest: bool = False
    """The last ``limit`` messages instead of the first (still oldest first)."""


class HistoryPage(Message):
    messages: list[Envelope]
    last_seq: int
    more: bool = False
    """The page was cut short to fit in a frame: more messages follow ``last_seq``, however
    few this page holds."""


class Subscribe(Message):
    """Receive a conversation's messages and stream messages (``None``: every event).
    ``subscriber`` (default: the Thespian sender) is who receives them, when a parent passes
    the subscription on to a room's router."""

    conversation: str | None = None
    subscriber: Any = None
    stream: bool = True
    """Also the turns' stream (`TurnStarted`, `TurnDelta`, then `TurnFinished` or
    `TurnFailed`); False: only the journaled messages and events, which costs a busy
    conversation far fewer messages."""


class Batch(Message):
    """Several messages of a feed, in order, sent as one: a busy room coalesces what its
    subscribers get (at most one send per `orchestration.actors.subscribers.COALESCE_SECONDS`)."""

    items: list[Any]


class Unsubscribe(Message):
    conversation: str | None = None
    subscriber: Any = None


class Status(Message):
    """Ask the root how the daemon is. Replies `DaemonStatus`."""


class DaemonStatus(Message):
    """The daemon: its admin PID, since when it runs, and how its root supervises agents."""

    pid: int
    started_at: datetime
    agents: int
    data_dir: str
    restart_intensity: int
    restart_period: int
    version: int = PROTOCOL_VERSION


class AgentReady(Message):
    """Agent to its supervisor: the agent's process is up (and the program it drives)."""

    name: str
    pid: int
    process_pid: int | None = None


class Ok(Message):
    """A command succeeded and has nothing else to say."""

    detail: str = ""


class Subscribed(Ok):
    """A `Subscribe` took effect: from now on ``conversation``'s feed (``None``: the event
    bus) reaches the subscriber."""

    detail: str = "subscribed"
    conversation: str | None = None


# --- stream messages for one turn ------------------------------------------------------------


class TurnStarted(Message):
    """The agent accepted a message and is producing its reply."""

    turn_id: str
    agent: str
    conversation: str
    in_reply_to: str
    pid: int | None = None


class TurnDelta(Message):
    """A chunk of the reply text, in order; several provider deltas may be coalesced."""

    turn_id: str
    agent: str
    conversation: str
    text: str


class TurnFinished(Message):
    """The reply is complete and journaled; ``message.content`` is its whole text."""

    turn_id: str
    agent: str
    message: Envelope
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str = "end_turn"


ErrorKind = Literal[
    "auth",
    "rate_limit",
    "overloaded",
    "timeout",
    "bad_request",
    "connection",
    "cancelled",
    "stopped",
    "internal",
]


class TurnFailed(Message):
    """The turn ended without a reply. ``retryable`` says whether sending again may help;
    ``agent_exiting`` that the agent is going down (a crash), so its router holds new turns."""

    turn_id: str
    agent: str
    conversation: str
    kind: ErrorKind
    error: str
    retryable: bool = False
    agent_exiting: bool = False


StreamMessage = TurnStarted | TurnDelta | TurnFinished | TurnFailed

# --- errors ------------------------------------------------------------------------------------

ErrorCode = Literal[
    "unknown_agent",
    "unknown_supervisor",
    "agent_failed",
    "tree_conflict",
    "duplicate_agent",
    "unknown_provider",
    "credentials",
    "invalid_spec",
    "invalid_message",
    "journal",
    "internal",
    "unknown_room",
    "duplicate_room",
    "invalid_room",
    "room_closed",
    "nothing_pending",
    "gateway_failed",
    "service_failed",
    "unknown_message",
    "already_answered",
]


class ErrorReply(Message):
    """A command failed. ``error`` names the problem and ``hint`` says what to do."""

    code: ErrorCode
    error: str
    hint: str = ""


# --- inside the tree: supervisors, routers and agents -----------------------------------------


class Boot(Message):
    """Runtime to root, once after the daemon starts: open the journal, rebuild saved agents.
    Replies `DaemonStatus`, unless ``revived`` (the admin started this root after the last one
    died, and wants no answer)."""

    home: str
    revived: bool = False


class InitAgent(Message):
    """Supervisor to a new agent actor: who it is, where its conversation's router is, the
    daemon's settings, and (recovery ``resume``) its conversation so far, read by the
    supervisor so the new process starts without opening the journal."""

    spec: AgentSpec
    router: Any
    settings: Settings
    history: list[Envelope] = Field(default_factory=list)


class Standby(Message):
    """Supervisor to a spare agent actor it created ahead of need: wait for `InitAgent`. A
    restart then skips the process start, and this first message has Thespian build the actor
    instance (it does so on the first message), so it skips that too."""


class InitRouter(Message):
    """Root to a new router: its conversation, its agent member and the message size limit.
    The router holds turns until `AgentMoved` says where the agent is."""

    conversation: str
    journal_path: str
    agent: str
    max_message_chars: int
    turn_timeout: float | None = None
    subscribers: list[Subscribe] = Field(default_factory=list)
    """The conversation's subscriptions, kept over a restart (each naming its ``subscriber``)."""


class ServiceReady(Message):
    """A runtime actor (router, rooms supervisor, gateway) to its supervisor, once initialised:
    the process it runs in, so the supervisor's heartbeat can check and kill it."""

    name: str
    pid: int


class RouterMoved(Message):
    """Root down the tree: agent ``name``'s router restarted at ``address``; supervisors keep
    it for the agent's next `AgentMoved` and pass it on to the child supervisor above it."""

    name: str
    address: Any


class AgentMoved(Message):
    """The agent's supervisor to its router: the agent is up at ``address``, or down (``None``:
    its open turn fails with ``kind`` and ``reason``, and new turns wait)."""

    name: str
    address: Any
    reason: str
    kind: ErrorKind = "internal"
    ended_normally: bool = False
    """The agent ended its session (`AgentEnded`): the `TurnFinished` it sent before it exited
    reached the router first, but may be handled after this, so the open turn waits for it."""


class AgentCrashed(Message):
    """Agent to its supervisor, just before it exits on an unexpected error (let it crash)."""

    name: str
    error: str


class AgentStuck(Message):
    """Router to the agent's supervisor: the agent's turn has run past its ``turn_timeout``."""

    name: str
    turn_id: str
    seconds: float


class StopAgent(Message):
    """Supervisor to agent: finish or cancel the current turn within ``grace`` seconds, then
    exit."""

    grace: float


class StopRouter(Message):
    """Root to router, after its agent has exited: wait up to ``grace`` seconds for the end of a
    turn still in flight (so a reply finished just before the exit reaches its caller), then
    fail what is left and exit."""

    grace: float = 2.0


class StopAll(Message):
    """Runtime to root before the daemon stops: stop every agent gracefully, keep their specs."""

    grace: float = 5.0


class InitSupervisor(Message):
    """Parent to a new supervisor: its node, where its agents' routers are and the daemon's
    settings. It sends its reports (`NodeReport`, `NodeRemoved`, `Publish`) to its parent,
    which passes them up."""

    node: SupervisorNode
    routers: dict[str, Any]
    settings: Settings


class SupervisorReady(Message):
    """Supervisor to parent: every child has started."""

    name: str
    pid: int


class SupervisorEscalated(Message):
    """Supervisor to parent, just before it exits: its restart intensity was exceeded."""

    name: str
    reason: str


class StopSupervisor(Message):
    """Parent to supervisor: stop the children in reverse start order, then exit."""


class AgentEnded(Message):
    """Agent to supervisor, before it exits normally (its provider ended the session): a
    ``transient`` agent is then not restarted."""

    name: str
    reason: str


class AddChild(Message):
    """Root to a supervisor: start ``node`` as its last child (``spawn --under``); the
    supervisor answers ``reply_to`` with `Spawned` once the child runs."""

    node: ChildNode
    routers: dict[str, Any]
    reply_to: Any = None


class StopChild(Message):
    """Root to a supervisor: stop child ``name`` (``grace`` overrides its shutdown), remove it
    and answer ``reply_to`` with `Ok`."""

    name: str
    grace: float | None = None
    reply_to: Any = None


class NodeReport(Message):
    """Supervisor to root (through the parents): the live state of a child changed."""

    node: AgentInfo | SupervisorInfo
    address: Any = None


class TreeChanged(Message):
    """Supervisor to parent: a child was added or removed at run time; ``node`` is the
    supervisor's spec now and ``routers`` its agents' routers, so a restart of it keeps the
    change. Passed up to the root, which saves the tree."""

    node: SupervisorNode
    routers: dict[str, Any]


class NodeRemoved(Message):
    """Supervisor to root (through the parents): child ``name`` left the tree for good."""

    name: str


class Publish(Message):
    """Supervisor to root (through the parents): journal ``event`` and send it to the
    subscribers."""

    event: Envelope


# --- rooms: conversations of several members ---------------------------------------------------

ROOM_PREFIX = "room:"
DEFAULT_HUMAN = "user"
RespondPolicy = Literal["always", "self_select", "round_robin"]
HumanMode = Literal["free", "moderated", "prompted"]
RoomState = Literal["starting", "active", "paused", "ended", "failed"]
MemberKind = Literal["agent", "human", "system"]
Role = Literal["member", "orchestrator", "worker"]


def room_conversation(room: str) -> str:
    """The id of room ``room``'s conversation."""
    return f"{ROOM_PREFIX}{room}"


class Member(Message):
    """One member of a conversation: who it is and where it stands in the team."""

    name: str
    """The name messages use for it (``sender`` and ``recipients`` of an `Envelope`)."""
    kind: MemberKind = "agent"
    """What it is: an LLM ``agent``, a ``human`` at a client, or the ``system`` itself."""
    role: Role = "member"
    """Its place in a hierarchy: an ``orchestrator`` sees everything, a ``worker`` (or a plain
    ``member``) its own scope. Only the ``hierarchical`` topology reads it."""
    groups: tuple[str, ...] = ()
    """Names of the groups it belongs to; a message addressed to a group reaches its members
    (``hierarchical`` topology)."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name("member", value)


# --- workflows ---------------------------------------------------------------------------------


class AgentStep(Message):
    """A workflow step: one turn of ``agent``."""

    type: Literal["agent"] = "agent"
    agent: str


class SequenceStep(Message):
    """Steps one after another, each given the previous one's output."""

    type: Literal["sequence"] = "sequence"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)


class ParallelStep(Message):
    """Steps at the same time, each given the same input; the next step gets every output."""

    type: Literal["parallel"] = "parallel"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)


class LoopStep(Message):
    """Steps again and again: at most ``max_iterations`` rounds, and no more once a reply
    contains ``until``."""

    type: Literal["loop"] = "loop"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)
    max_iterations: int = Field(ge=1)
    until: str | None = None


WorkflowStep = Annotated[
    AgentStep | SequenceStep | ParallelStep | LoopStep, Field(discriminator="type")
]


class WorkflowSpec(Message):
    """A workflow a tree file declares: its steps (run in order), from the agents of ``tree``;
    ``retry`` is how many times a failed step is taken again (0 or 1)."""

    name: str
    tree: str
    steps: tuple[WorkflowStep, ...]
    retry: int = 0

    def agents(self) -> list[str]:
        """Every agent a step of the workflow names, in order, each once."""
        found: list[str] = []
        pending = list(self.steps)
        while pending:
            step = pending.pop(0)
            if isinstance(step, AgentStep):
                if step.agent not in found:
                    found.append(step.agent)
            else:
                pending[:0] = list(step.steps)
        return found


class DeclareWorkflows(Message):
    """Record the workflows of tree ``tree`` (its tree file's ``workflows:``), replacing the
    ones it declared before. Replies `Ok`."""

    tree: str
    workflows: tuple[WorkflowSpec, ...]


WORKFLOW_PREFIX = "workflow:"


def workflow_conversation(workflow: str, run: str) -> str:
    """The id of the conversation of run ``run`` of workflow ``workflow``."""
    return f"{WORKFLOW_PREFIX}{workflow}:{run}"


class Record(Message):
    """Journal ``message`` in a workflow run's conversation and send it to that conversation's
    followers (a run has no router: its caller writes it). Replies `Ok`."""

    message: Envelope


class ListRuns(Message):
    """Ask the root for the workflow runs in the journal, oldest first. Replies `RunList`."""


class RunList(Message):
    runs: list[str]
    """Each run's conversation, ``workflow:NAME:RUN``."""


class ListWorkflows(Message):
    """Ask the root for the workflows the trees declare. Replies `WorkflowList`."""


class WorkflowList(Message):
    workflows: list[WorkflowSpec]


class RoomSpec(Message):
    """A conversation of several members ("room"): who is in it, who hears what (topology),
    who answers (respond policy), what the humans control (mode) and when it ends (limits).

    Limits are enforced by the room's router: ``max_turns`` agent turns in all, at least
    ``cooldown`` seconds between two turns of one agent, ``stop_phrase`` said by any member,
    and ``idle_timeout`` seconds without a message each end the conversation.
    """

    name: str
    members: tuple[Member, ...]
    topology: str = "broadcast"
    respond: RespondPolicy = "always"
    mode: HumanMode = "free"
    max_turns: int = Field(20, ge=1)
    cooldown: float = Field(0.0, ge=0)
    stop_phrase: str | None = None
    idle_timeout: float | None = Field(None, gt=0)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name("room", value)

    @field_validator("members")
    @classmethod
    def _valid_members(cls, value: tuple[Member, ...]) -> tuple[Member, ...]:
        names = [member.name for member in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"members {repeated} appear more than once")
        if not any(member.kind == "agent" for member in value):
            raise ValueError("a room needs at least one agent member")
        return value

    @property
    def conversation(self) -> str:
        return room_conversation(self.name)

    @property
    def agents(self) -> list[str]:
        """The agent members' names, in member order (the round-robin order)."""
        return [member.name for member in self.members if member.kind == "agent"]

    @property
    def humans(self) -> list[str]:
        return [member.name for member in self.members if member.kind == "human"]


class Pending(Message):
    """A journaled pause of a room: an agent's reply waiting for a human's approval
    (``approval``, moderated mode) or the agents waiting for human input (``input``,
    prompted mode). ``id`` is the journaled event that opened it."""

    id: str
    kind: Literal["approval", "input"]
    agent: str = ""
    content: str = ""
    """The reply awaiting approval, as the agent wrote it."""


class RoomInfo(Message):
    """A room's spec and live state: turns taken, why it ended, what it waits for."""

    spec: RoomSpec
    state: RoomState
    turns: int = 0
    ended_reason: str = ""
    pending: list[Pending] = Field(default_factory=list)
    busy: list[str] = Field(default_factory=list)
    """Agents whose turn is running now."""
    queued: int = 0
    """Turns granted but waiting (an agent busy or cooling down, the room paused)."""
    pid: int | None = None


class CreateRoom(Message):
    """Create room ``spec`` (its agents must exist). Replies `RoomInfo`; ``exist_ok`` returns
    the running room of the same name instead of an error."""

    spec: RoomSpec
    exist_ok: bool = False
    reply_to: Any = None


class ListRooms(Message):
    """Ask for every room. Replies `RoomList`."""

    reply_to: Any = None


class RoomList(Message):
    rooms: list[RoomInfo]


RoomAction = Literal["show", "pause", "resume", "stop", "delete", "purge"]


class RoomCommand(Message):
    """Act on room ``room``: ``show`` (replies `RoomInfo`), ``pause`` (no new turns),
    ``resume`` (go on; an ended room gets a fresh ``max_turns``), ``stop`` (end it now),
    ``delete`` (remove it; its history stays) or ``purge`` (remove it and its history)."""

    room: str
    action: RoomAction
    reply_to: Any = None


class SetTopology(Message):
    """Switch room ``room`` to ``topology`` (and optionally new ``members`` roles/groups) at
    run time, keeping its history and agents. Replies `RoomInfo`."""

    room: str
    topology: str
    reply_to: Any = None


class SetMode(Message):
    """Set the human mode of room ``room``. Replies `RoomInfo`."""

    room: str
    mode: HumanMode
    reply_to: Any = None


class JoinRoom(Message):
    """Add human ``human`` to room ``room`` (kept if already a member). Replies `RoomInfo`."""

    room: str
    human: str
    reply_to: Any = None


class Approve(Message):
    """A human answers room ``room``'s pending approval: ``approve`` the agent's reply as is,
    ``edit`` it (then ``content`` replaces it) or ``skip`` it (it is never delivered).
    ``pending`` names the pause (default: the oldest). Replies `RoomInfo`."""

    room: str
    action: Literal["approve", "edit", "skip"]
    content: str = ""
    pending: str | None = None
    by: str = DEFAULT_HUMAN
    reply_to: Any = None


class InitRoom(Message):
    """Conversations supervisor to a new room router: its spec, where its agents are, who
    subscribed, and whether to rebuild its state from the journal (a restart)."""

    spec: RoomSpec
    journal_path: str
    max_message_chars: int
    max_payload_bytes: int
    agents: dict[str, Any]
    turn_timeouts: dict[str, float | None] = Field(default_factory=dict)
    subscribers: list[Subscribe] = Field(default_factory=list)
    """The room's subscriptions so far (each naming its ``subscriber``), kept over a restart."""
    recover: bool = False


class RoomReport(Message):
    """Room router to its supervisor: its live state changed (so `ListRooms` is answered
    without asking every router), or its spec did (a new member, topology or mode)."""

    info: RoomInfo


class MemberMoved(Message):
    """Root to the conversations supervisor, and on to the rooms: agent ``name`` is up at
    ``address``, or down (``None``: its open turn in a room fails and the room moves on)."""

    name: str
    address: Any
    reason: str = ""
    turn_timeout: float | None = None
    """The agent's ``turn_timeout``: a room turn of it that runs longer is stuck."""


class InitConversations(Message):
    """Root to the conversations supervisor, at boot and at each restart: open the journal
    and start the saved rooms, with where their agents are now and who follows each room."""

    journal_path: str
    max_message_chars: int
    max_payload_bytes: int
    health_interval: float = 5.0
    agents: list[MemberMoved] = Field(default_factory=list)
    subscribers: list[Subscribe] = Field(default_factory=list)


# --- the gateway: remote callers' door ---------------------------------------------------------
#
# A process that serves remote clients (the REST/WebSocket server, the MCP server) opens one
# link to the gateway actor; each of its clients follows conversations through that link. The
# gateway subscribes to a conversation once, whoever follows it, and sends each link one copy.


class LocateGateway(Message):
    """Ask the root where the gateway is. Replies `GatewayAddress`."""


class GatewayAddress(Message):
    address: Any


class InitGateway(Message):
    """Root to a new gateway: how many messages may wait for a link, and how long it may stay
    silent, before it is dropped."""

    window: int
    link_timeout: float


class OpenLink(Message):
    """A serving process opens its link (the sender's address). Replies `LinkOpened`."""


class LinkOpened(Message):
    link: str
    window: int
    """Messages that may wait for the link at the gateway before it is dropped."""
    credits: int
    """Deliveries that may be in flight to the link, unacknowledged."""
    heartbeat: float
    """How often the link must acknowledge (and the gateway answers `LinkAlive`)."""


class Follow(Message):
    """One client of ``link`` follows ``conversation`` (``None``: the event bus), fed by
    ``source`` (a router, or the root). Replies `Subscribed` once the feed is live."""

    link: str
    conversation: str | None
    source: Any
    stream: bool = True
    """Also the turns' stream messages."""


class Unfollow(Message):
    """One client of ``link`` stopped following ``conversation``."""

    link: str
    conversation: str | None


class LinkItems(Message):
    """Gateway to a link: what the feeds it follows sent since the last delivery, in order, as
    (conversation, items) parts (``None``: the event bus)."""

    parts: list[tuple[str | None, list[Any]]]


class LinkAck(Message):
    """A link has handled ``received`` deliveries in all; sent once half its credits are used
    and at least every heartbeat. Replies `LinkAlive` (or `LinkDropped` when the gateway no longer
    knows the link)."""

    link: str
    received: int


class LinkAlive(Message):
    pass


class LinkDropped(Message):
    """The gateway dropped the link and its follows; ``reason`` says why."""

    link: str
    reason: str


class GatewayState(Message):
    """Ask the gateway what it feeds. Replies `GatewayReport`."""


class GatewayFeed(Message):
    conversation: str | None
    links: int
    follows: int
    stream: bool


class GatewayReport(Message):
    pid: int
    links: int
    feeds: list[GatewayFeed]
    dropped: int
    """Links dropped since the gateway started (too slow, or silent)."""
