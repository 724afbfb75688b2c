"""The public protocol: what the Runtime, REST, WebSocket and MCP accept and return.

The conversation envelope (`Envelope`), what describes agents, supervisors and rooms (`AgentSpec`,
`AgentInfo`, `SupervisorInfo`, `RoomSpec`, `RoomInfo`), one turn's stream (`TurnStarted`,
`TurnDelta`, `TurnFinished`, `TurnFailed`), and replies and errors (`Ok`, `ErrorReply`).
Their words (states, kinds, error codes) are in `orchestration.messages.vocabulary`.
The defaults of agents and rooms live on `AgentSpec` (with `ClaudeCodeOptions`, its
``claude_code`` field) and `RoomSpec` alone: every interface reads them with `default_of`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticUndefined

from orchestration.conversation_ids import ConversationId
from orchestration.frames import PROTOCOL_VERSION
from orchestration.messages.base import Message, new_id, utc_now
from orchestration.messages.claude_code import ClaudeCodeOptions
from orchestration.messages.vocabulary import (
    DEFAULT_PROVIDER,
    ROOT_SUPERVISOR,
    AgentState,
    ErrorCode,
    ErrorKind,
    EventName,
    HumanMode,
    Kind,
    MemberKind,
    Recovery,
    RespondPolicy,
    Restart,
    Role,
    RoomState,
    Strategy,
    SupervisorState,
    check_name,
)

__all__ = [
    "AgentInfo",
    "AgentSpec",
    "DaemonStatus",
    "Envelope",
    "ErrorReply",
    "HistoryPage",
    "Member",
    "Ok",
    "Pending",
    "RoomInfo",
    "RoomSpec",
    "Spawned",
    "StreamMessage",
    "Subscribed",
    "SupervisorInfo",
    "TreeSnapshot",
    "TurnDelta",
    "TurnFailed",
    "TurnFinished",
    "TurnStarted",
    "Usage",
    "default_of",
]


def default_of(model: type[BaseModel], field: str) -> Any:
    """The default of ``model``'s ``field``, for the CLI options, REST bodies, MCP parameters,
    `Runtime` arguments and tree-file fields that mirror it, so that it is written once.

    Raises `ValueError` for a required field, which has no default to share."""
    default = model.model_fields[field].get_default(call_default_factory=True)
    if default is PydanticUndefined:
        raise ValueError(f"{model.__name__}.{field} is required: it has no default")
    return default


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


_CLAUDE_CODE_FIELDS = frozenset(ClaudeCodeOptions.model_fields)
"""The fields of `ClaudeCodeOptions`, which older specs held at their top level."""


class AgentSpec(Message):
    """What an agent is: its name, its model and its instructions."""

    name: str
    provider: str = DEFAULT_PROVIDER
    """The provider that runs it; ``default`` is the daemon's default provider."""
    model: str = ""
    """The provider's model (empty: the provider's default model)."""
    system: str = ""
    recovery: Recovery = "resume"
    turn_timeout: float | None = Field(None, gt=0)
    """Seconds a turn may run before the agent counts as stuck and is killed and restarted."""
    command: tuple[str, ...] = ()
    """A subprocess agent's program and its arguments (provider ``command``)."""
    cwd: str | None = None
    """The directory a subprocess agent's program runs in (default: the daemon's)."""
    claude_code: ClaudeCodeOptions = ClaudeCodeOptions()
    """Options only the ``claude-code`` provider reads (its permissions, tools, budget and
    kept credentials)."""
    settings: dict[str, float | int] = Field(default_factory=dict)
    """Settings this agent overrides (from its tree file's ``system:`` section):
    ``max_message_chars``, ``provider_timeout``, ``provider_max_retries``."""
    follows_default: bool = False
    """The provider was picked by default resolution, which runs again when the daemon starts
    (so an agent created offline moves to Claude once a key is configured)."""

    @model_validator(mode="before")
    @classmethod
    def _lift_claude_code_options(cls, data: Any) -> Any:
        """Specs saved before the Claude Code options had their own model (in the journal, as
        JSON) and callers that pass them flat name them at the top level: move them into
        ``claude_code``."""
        if not isinstance(data, dict) or not _CLAUDE_CODE_FIELDS.intersection(data):
            return data
        flat = {name: value for name, value in data.items() if name in _CLAUDE_CODE_FIELDS}
        rest = {name: value for name, value in data.items() if name not in _CLAUDE_CODE_FIELDS}
        nested: Any = rest.get("claude_code", {})
        if isinstance(nested, ClaudeCodeOptions):
            nested = nested.model_dump(exclude_unset=True)
        if not isinstance(nested, dict):
            return data  # not options: let validation say so
        return rest | {"claude_code": nested | flat}

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
        return str(ConversationId.dm(self.name))


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


class TreeSnapshot(Message):
    """Every supervisor (the root first) and every agent, each naming its parent."""

    supervisors: list[SupervisorInfo]
    agents: list[AgentInfo]


class Spawned(Message):
    """Reply to `Spawn`: the agent runs (``created`` is False when it already existed)."""

    agent: AgentInfo
    created: bool = True


class HistoryPage(Message):
    messages: list[Envelope]
    last_seq: int
    more: bool = False
    """The page was cut short to fit in a frame: more messages follow ``last_seq``, however
    few this page holds."""


class DaemonStatus(Message):
    """The daemon: its admin PID, since when it runs, and how its root supervises agents."""

    pid: int
    started_at: datetime
    agents: int
    data_dir: str
    restart_intensity: int
    restart_period: int
    version: int = PROTOCOL_VERSION


class Ok(Message):
    """A command succeeded and has nothing else to say."""

    detail: str = ""


class Subscribed(Ok):
    """A `Subscribe` took effect: from now on ``conversation``'s feed (``None``: the event
    bus) reaches the subscriber."""

    detail: str = "subscribed"
    conversation: str | None = None


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


class ErrorReply(Message):
    """A command failed. ``error`` names the problem and ``hint`` says what to do."""

    code: ErrorCode
    error: str
    hint: str = ""


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
        return str(ConversationId.room(self.name))

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
