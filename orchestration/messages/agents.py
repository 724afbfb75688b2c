"""Inside the tree: an agent, its direct conversation's router and its supervisor.

How a supervisor starts and stops an agent (`Standby`, `InitAgent`, `StopAgent`), how the
agent reports (`AgentReady`, `AgentCrashed`, `AgentEnded`), and how the router hands it turns
(`InitRouter`, `Deliver`, `AgentMoved`, `AgentStuck`, `StopRouter`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orchestration.messages.api import AgentSpec, Envelope
from orchestration.messages.base import Message
from orchestration.messages.commands import Subscribe
from orchestration.messages.vocabulary import ErrorKind
from orchestration.settings import Settings

__all__ = [
    "AgentCrashed",
    "AgentEnded",
    "AgentMoved",
    "AgentReady",
    "AgentStuck",
    "Deliver",
    "InitAgent",
    "InitRouter",
    "Standby",
    "StopAgent",
    "StopRouter",
]


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


class AgentReady(Message):
    """Agent to its supervisor: the agent's process is up (and the program it drives)."""

    name: str
    pid: int
    process_pid: int | None = None


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


class AgentEnded(Message):
    """Agent to supervisor, before it exits normally (its provider ended the session): a
    ``transient`` agent is then not restarted."""

    name: str
    reason: str
