"""What clients ask the tree: the Runtime's commands to the root and to the routers.

Agents (`Spawn`, `Up`, `Stop`, `ListAgents`, `GetTree`, `Resolve`), conversations (`Send`,
`Cancel`, `History`, `Subscribe`, `Unsubscribe`), health (`Ping`, `Status`) and the daemon's
start and stop (`Boot`, `StopAll`), with the replies that only these commands give.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestration.messages.api import (
    AgentInfo,
    AgentSpec,
    Envelope,
)
from orchestration.messages.base import Message
from orchestration.messages.supervision import SupervisorNode
from orchestration.messages.vocabulary import ROOT_SUPERVISOR, AgentState, SupervisorState

__all__ = [
    "AgentList",
    "Batch",
    "Boot",
    "Cancel",
    "GetTree",
    "History",
    "ListAgents",
    "Ping",
    "Pong",
    "Resolve",
    "Resolved",
    "Send",
    "Spawn",
    "Status",
    "Stop",
    "StopAll",
    "Subscribe",
    "Unsubscribe",
    "Up",
]


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


class Boot(Message):
    """Runtime to root, once after the daemon starts: open the journal, rebuild saved agents.
    Replies `DaemonStatus`, unless ``revived`` (the admin started this root after the last one
    died, and wants no answer)."""

    home: str
    revived: bool = False


class StopAll(Message):
    """Runtime to root before the daemon stops: stop every agent gracefully, keep their specs."""

    grace: float = 5.0
