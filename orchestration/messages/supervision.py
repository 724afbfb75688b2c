"""Inside the tree: how supervisors describe, start, change and report their children.

`SupervisorNode` and `AgentNode` are the tree as supervisors run it (and as the journal saves
it); the rest are the commands and reports that pass between the root, supervisors and the
runtime actors they keep.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from orchestration.messages.api import AgentInfo, AgentSpec, Envelope, SupervisorInfo
from orchestration.messages.base import Message
from orchestration.messages.vocabulary import Restart, Strategy
from orchestration.settings import Settings

__all__ = [
    "AddChild",
    "AgentNode",
    "ChildNode",
    "InitSupervisor",
    "NodeRemoved",
    "NodeReport",
    "Publish",
    "RouterMoved",
    "ServiceReady",
    "StopChild",
    "StopSupervisor",
    "SupervisorEscalated",
    "SupervisorNode",
    "SupervisorReady",
    "TreeChanged",
]


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
