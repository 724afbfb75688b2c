"""The ``conversations:`` section of a tree file: rooms of the tree's agents, started once the
tree is up.

A `ConversationSpec` names its agents (`MemberSpec`: an agent of the tree, with its role and
groups) and humans, and the room's policies and limits, whose defaults are `RoomSpec`'s. It is
checked against its tree (`ConversationSpec.member_clashes`) and becomes a `RoomSpec`.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestration.messages import (
    DEFAULT_HUMAN,
    HumanMode,
    Member,
    RespondPolicy,
    Role,
    RoomSpec,
    default_of,
)
from orchestration.supervision.spec import SupervisorSpec
from orchestration.supervision.spec_fields import Name
from orchestration.topologies.routing import (
    BUILT_IN,
    CUSTOM_FORM,
    CUSTOM_PREFIX,
    TopologyError,
    _split_custom,
    load_topology,
)

__all__ = ["ConversationSpec", "MemberSpec"]


def _topology(value: str) -> str:
    """A built-in topology, or the form of a custom one (``custom:package.module:function``).
    A custom topology's module is the daemon's to import, when the room starts; never here."""
    try:
        if value.startswith(CUSTOM_PREFIX):
            _split_custom(value)
        else:
            load_topology(value)
    except TopologyError:
        raise PydanticCustomError(
            "topology",
            "expected {built_in} or {custom}, got {got}",
            {"built_in": "|".join(BUILT_IN), "custom": CUSTOM_FORM, "got": repr(value)},
        ) from None
    return value


class MemberSpec(BaseModel):
    """An agent of the tree in a conversation, and where it stands in a ``hierarchical``
    topology: its ``role`` and the ``groups`` it belongs to. A bare name is ``{name: NAME}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Role = default_of(Member, "role")
    groups: tuple[str, ...] = default_of(Member, "groups")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, dict | MemberSpec):
            return data
        raise PydanticCustomError(
            "member",
            "expected an agent's name or a mapping with name, role and groups, got {got}",
            {"got": repr(data)},
        )


class ConversationSpec(BaseModel):
    """A conversation (room) a tree file starts once its tree is up, as `RoomSpec` describes
    it: its agents (agents of the tree, in round-robin order) and humans, who hears what
    (``topology``), who answers (``respond``), what the humans control (``mode``) and when it
    ends (``max_turns``, ``cooldown``, ``stop_phrase``, ``idle_timeout``). ``orchestrator``
    names the agent whose role is ``orchestrator``; the others keep theirs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    agents: tuple[MemberSpec, ...]
    humans: tuple[Name, ...] = (DEFAULT_HUMAN,)
    orchestrator: str | None = None
    topology: str = default_of(RoomSpec, "topology")
    respond: RespondPolicy = default_of(RoomSpec, "respond")
    mode: HumanMode = default_of(RoomSpec, "mode")
    max_turns: StrictInt = Field(default_of(RoomSpec, "max_turns"), ge=1)
    cooldown: StrictFloat = Field(default_of(RoomSpec, "cooldown"), ge=0)
    stop_phrase: str | None = default_of(RoomSpec, "stop_phrase")
    idle_timeout: StrictFloat | None = Field(default_of(RoomSpec, "idle_timeout"), gt=0)

    @field_validator("agents")
    @classmethod
    def _some_agent(cls, value: tuple[MemberSpec, ...]) -> tuple[MemberSpec, ...]:
        if not value:
            raise PydanticCustomError("agents", "expected at least one agent, got []")
        return value

    @field_validator("topology")
    @classmethod
    def _known_topology(cls, value: str) -> str:
        return _topology(value)

    @field_validator("stop_phrase")
    @classmethod
    def _some_phrase(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise PydanticCustomError(
                "stop_phrase", "expected a phrase, got {got}", {"got": repr(value)}
            )
        return value

    def member_clashes(self, path: str, tree: SupervisorSpec) -> list[tuple[str, str]]:
        """The checks against ``tree``: ``(path, message)`` for each agent that is not an agent
        of the tree, each member named twice, and an ``orchestrator`` that is not one of the
        agents or that they give another role. ``path`` is this conversation's own path."""
        agents = [agent.name for agent in tree.agents()]
        supervisors = {supervisor.name for supervisor in tree.supervisors()}
        known = f"(the tree's agents: {', '.join(agents) or 'none'})"
        members = [(f"{path}.agents[{i}]", agent.name, True) for i, agent in enumerate(self.agents)]
        members += [(f"{path}.humans[{i}]", human, False) for i, human in enumerate(self.humans)]
        clashes: list[tuple[str, str]] = []
        first: dict[str, str] = {}
        for member_path, name, is_agent in members:
            if is_agent and name in supervisors:
                clashes.append((member_path, f"{name!r} is a supervisor, not an agent {known}"))
            elif is_agent and name not in agents:
                clashes.append((member_path, f"unknown agent {name!r} {known}"))
            elif name in first:
                clashes.append((member_path, f"duplicate member {name!r}, also at {first[name]}"))
            else:
                first[name] = member_path
        clash = self._orchestrator_clash()
        return clashes + ([(f"{path}.orchestrator", clash)] if clash else [])

    def _orchestrator_clash(self) -> str:
        """Why ``orchestrator`` cannot name its agent, or "" when it can (or is not set)."""
        if self.orchestrator is None:
            return ""
        for index, agent in enumerate(self.agents):
            if agent.name != self.orchestrator:
                continue
            if "role" in agent.model_fields_set and agent.role != "orchestrator":
                return (
                    f"{agent.name!r} has role {agent.role} at agents[{index}]: drop one of the two"
                )
            return ""
        names = ", ".join(agent.name for agent in self.agents)
        return f"expected one of this conversation's agents ({names}), got {self.orchestrator!r}"

    def to_room(self) -> RoomSpec:
        """The room as the root creates it: the agents in the order given, then the humans."""
        agents = [
            Member(
                name=agent.name,
                role="orchestrator" if agent.name == self.orchestrator else agent.role,
                groups=agent.groups,
            )
            for agent in self.agents
        ]
        humans = [Member(name=human, kind="human") for human in self.humans]
        return RoomSpec(
            name=self.name,
            members=(*agents, *humans),
            topology=self.topology,
            respond=self.respond,
            mode=self.mode,
            max_turns=self.max_turns,
            cooldown=self.cooldown,
            stop_phrase=self.stop_phrase,
            idle_timeout=self.idle_timeout,
        )
