"""The registry: the root's picture of the whole live tree, kept from supervisors' reports.

Every supervisor reports its children's states (`NodeReport`) and removals (`NodeRemoved`) to
the root, which answers ``list``, ``tree``, lookups and sends from here without asking down the
tree. Each row names its parent, so a subtree can be found, failed or forgotten as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from orchestration.messages import ROOT_SUPERVISOR, AgentInfo, SupervisorInfo, TreeSnapshot

__all__ = ["Entry", "Registry"]

Info = TypeVar("Info", AgentInfo, SupervisorInfo)


@dataclass
class Entry(Generic[Info]):
    """One node of the live tree and the address of its actor (None while it is down)."""

    info: Info
    address: Any = None

    @property
    def parent(self) -> str:
        info = self.info
        return info.supervisor if isinstance(info, AgentInfo) else info.parent or ""


def _fail(entry: Entry[Info], reason: str) -> None:
    entry.info = entry.info.model_copy(
        update={"state": "failed", "pid": None, "last_error": reason}
    )
    entry.address = None


class Registry:
    """Agents and supervisors by name (names are unique across the tree)."""

    def __init__(self) -> None:
        self.agents: dict[str, Entry[AgentInfo]] = {}
        self.supervisors: dict[str, Entry[SupervisorInfo]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.agents or name in self.supervisors or name == ROOT_SUPERVISOR

    def get(self, name: str) -> Entry[AgentInfo] | Entry[SupervisorInfo] | None:
        return self.agents.get(name) or self.supervisors.get(name)

    def update(self, info: AgentInfo | SupervisorInfo, address: Any) -> None:
        """Record a node's new state (adding it if new)."""
        if isinstance(info, AgentInfo):
            self.agents[info.spec.name] = Entry(info, address)
        else:
            self.supervisors[info.name] = Entry(info, address)

    def below(self, name: str) -> list[str]:
        """The names of every node under ``name``, parents before their children."""
        found: list[str] = []
        frontier = [name]
        while frontier:
            parent = frontier.pop(0)
            children = [
                n for n, e in (self.supervisors | self.agents).items() if e.parent == parent
            ]
            found.extend(children)
            frontier.extend(n for n in children if n in self.supervisors)
        return found

    def remove(self, name: str) -> list[str]:
        """Drop ``name`` and everything under it; the agents dropped, by name."""
        names = [name, *self.below(name)]
        gone_agents = [n for n in names if n in self.agents]
        for node in names:
            self.agents.pop(node, None)
            self.supervisors.pop(node, None)
        return gone_agents

    def top(self, name: str) -> str:
        """The root's child that ``name`` is in (``name`` itself for a child of the root)."""
        entry = self.get(name)
        while entry is not None and entry.parent != ROOT_SUPERVISOR:
            name = entry.parent
            entry = self.get(name)
        return name

    def fail(self, name: str, reason: str) -> list[str]:
        """Mark ``name`` and everything under it failed; the agents marked, by name."""
        names = [name, *self.below(name)]
        for node in names:
            if node in self.agents:
                _fail(self.agents[node], reason)
            elif node in self.supervisors:
                _fail(self.supervisors[node], reason)
        return [n for n in names if n in self.agents]

    def snapshot(self, root: SupervisorInfo) -> TreeSnapshot:
        return TreeSnapshot(
            supervisors=[root, *(e.info for e in self.supervisors.values())],
            agents=[e.info for e in self.agents.values()],
        )
