"""Supervision as data: agent and supervisor specs, as OTP's supervisor.erl describes them.

A tree is a `SupervisorSpec` whose ``children`` are agents (`AgentChildSpec`, OTP's
``worker``) and nested supervisors, in start order. A tree file may add conversations
(`ConversationSpec`, rooms of the tree's agents). Every default is a field default below, and
every field has a validator whose message says what it expected and what it got. The models are
frozen and reject unknown fields. `orchestration.supervision.tree` reads them from files.

A ``system_file`` is read when the spec is validated, relative to the ``base_dir`` of the
validation context (the tree file's folder), else to the current directory.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestration.messages import (
    AGENT_NAME_PATTERN,
    DEFAULT_HUMAN,
    DEFAULT_PROVIDER,
    ROOT_SUPERVISOR,
    AgentNode,
    AgentSpec,
    HumanMode,
    Member,
    Recovery,
    RespondPolicy,
    Restart,
    Role,
    RoomSpec,
    Strategy,
    SupervisorNode,
)
from orchestration.providers.registry import (
    UnknownProviderError,
    parse_model_ref,
    provider_names,
    runs_a_program,
)
from orchestration.topologies.routing import (
    BUILT_IN,
    CUSTOM_FORM,
    CUSTOM_PREFIX,
    TopologyError,
    _split_custom,
    load_topology,
)

ChildType = Literal["agent", "supervisor"]


@dataclass(frozen=True)
class TreeDefaults:
    """What a tree file's ``system:`` section sets for its agents: the provider and model of
    agents that name none, a default ``turn_timeout``, and per-agent setting overrides."""

    provider: str = ""
    model: str = ""
    turn_timeout: float | None = None
    settings: dict[str, float | int] = field(default_factory=dict)
    base_dir: Path = Path()
    """The tree file's folder: where a program agent without ``cwd`` runs."""


def _runs_a_program(provider: str) -> bool:
    """Whether agents of ``provider`` run a program (which then runs in a directory)."""
    return provider != DEFAULT_PROVIDER and runs_a_program(provider)


def require_known_provider(ref: str) -> None:
    """Fail validation when ``ref`` ("provider" or "provider:model") names no installed provider."""
    try:
        parse_model_ref(ref)
    except UnknownProviderError as exc:
        raise PydanticCustomError("unknown_provider", "{error}", {"error": str(exc)}) from None


def _valid_name(value: str) -> str:
    """A name agents, supervisors, rooms and humans share the form of (`AGENT_NAME_PATTERN`)."""
    if not AGENT_NAME_PATTERN.match(value):
        raise PydanticCustomError(
            "name",
            "expected 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter"
            " or digit, got {got}",
            {"got": repr(value)},
        )
    return value


Name = Annotated[str, AfterValidator(_valid_name)]


def _shutdown(value: object, words: tuple[str, ...]) -> float | str:
    """A grace period in seconds (>= 0) or one of ``words`` (``brutal_kill``, ``infinity``)."""
    if isinstance(value, str) and value in words:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf:
        return float(value)
    raise PydanticCustomError(
        "shutdown",
        "expected seconds >= 0 or {words}, got {got}",
        {"words": "|".join(words), "got": repr(value)},
    )


class _Spec(BaseModel):
    """What agents and supervisors share: a tree-wide unique name and a restart type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    restart: Restart = "permanent"

    @field_validator("name")
    @classmethod
    def _not_root(cls, value: str) -> str:
        if value == ROOT_SUPERVISOR:
            raise PydanticCustomError(
                "name", "'root' is the root supervisor's name; pick another", {}
            )
        return _valid_name(value)


class AgentChildSpec(_Spec):
    """An agent in the tree (OTP ``type: worker``).

    ``model`` may carry its provider (``anthropic:claude-sonnet-5-5``, or just ``scripted``);
    with neither, the agent uses the daemon's default provider. ``model`` empty means the
    provider's default model. ``shutdown`` is the seconds it gets to finish its turn when asked
    to stop, before it is killed. ``turn_timeout`` None means a turn may run without limit.
    """

    type: Literal["agent"] = "agent"
    provider: str = DEFAULT_PROVIDER
    model: str = ""
    system_file: Path | None = None  # before system: system's validator reads this file
    system: str = Field("", validate_default=True)
    shutdown: float | Literal["brutal_kill"] = 5.0
    recovery: Recovery = "resume"
    turn_timeout: StrictFloat | None = Field(None, gt=0)
    command: tuple[str, ...] = ()
    """A program to run as the agent (provider ``command``): a list, or a string split like a
    shell command line (no shell runs it)."""
    cwd: Path | None = None
    """Where the program runs, relative to the tree file's folder (default: that folder)."""
    permission_mode: Literal["default", "acceptEdits", "plan", "bypassPermissions"] = "plan"
    """Claude Code: what it may do unasked (``plan`` never edits)."""
    allowed_tools: tuple[str, ...] = ()
    """Claude Code: tools it may use without asking."""
    max_budget_usd: StrictFloat | None = Field(None, gt=0)
    keep_env: tuple[str, ...] = ()
    """Claude Code: credential variables to pass on (see `AgentSpec.keep_env`)."""

    @model_validator(mode="before")
    @classmethod
    def _split_model_ref(cls, data: Any) -> Any:
        """``model: provider:model`` without ``provider:`` names both."""
        if isinstance(data, dict) and "provider" not in data and isinstance(data.get("model"), str):
            provider, _, model = data["model"].partition(":")
            if provider in provider_names():
                return {**data, "provider": provider, "model": model}
        return data

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value != DEFAULT_PROVIDER:
            require_known_provider(value)
        return value

    @field_validator("model")
    @classmethod
    def _model_names_provider(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("provider") == DEFAULT_PROVIDER:
            provider, colon, _ = value.partition(":")
            what = f"unknown provider {provider!r} in" if colon else "no provider in"
            raise PydanticCustomError(
                "unknown_provider",
                "{what} {got}: write provider:model, or set provider"
                " (installed providers: {names})",
                {"what": what, "got": repr(value), "names": ", ".join(provider_names())},
            )
        return value

    @field_validator("system_file")
    @classmethod
    def _system_file_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = (Path((info.context or {}).get("base_dir", ".")) / value.expanduser()).resolve()
        if not path.is_file():
            raise PydanticCustomError("system_file", "no such file: {path}", {"path": str(path)})
        return path

    @field_validator("system")
    @classmethod
    def _read_system_file(cls, value: str, info: ValidationInfo) -> str:
        path = info.data.get("system_file")
        if path is None:
            return value
        if value:
            raise PydanticCustomError("system", "give system or system_file, not both")
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PydanticCustomError(
                "system_file", "cannot read {path}: {error}", {"path": str(path), "error": str(exc)}
            ) from None

    @field_validator("shutdown", mode="plain")
    @classmethod
    def _grace(cls, value: object) -> float | str:
        return _shutdown(value, ("brutal_kill",))

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise PydanticCustomError(
                "command", "cannot split {got}: {error}", {"got": repr(value), "error": str(exc)}
            ) from None

    @field_validator("cwd")
    @classmethod
    def _cwd_in_base_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = (Path((info.context or {}).get("base_dir", ".")) / value.expanduser()).resolve()
        if not path.is_dir():
            raise PydanticCustomError("cwd", "no such directory: {path}", {"path": str(path)})
        return path

    @model_validator(mode="after")
    def _command_needs_command_provider(self) -> AgentChildSpec:
        if self.command and self.provider != "command":
            raise PydanticCustomError(
                "command", "command runs only with provider command (e.g. model: command:jsonl)"
            )
        if self.provider == "command" and not self.command:
            raise PydanticCustomError("command", "provider command needs a command to run")
        return self

    def to_node(self, defaults: TreeDefaults) -> AgentNode:
        """The agent as its supervisor runs it, with the tree's ``system:`` defaults applied."""
        provider, model = self.provider, self.model
        if provider == DEFAULT_PROVIDER and defaults.provider:
            provider, model = defaults.provider, model or defaults.model
        spec = AgentSpec(
            name=self.name,
            provider=provider,
            model=model,
            system=self.system,
            recovery=self.recovery,
            turn_timeout=self.turn_timeout or defaults.turn_timeout,
            settings=defaults.settings,
            command=self.command,
            cwd=str(self.cwd or defaults.base_dir) if _runs_a_program(provider) else None,
            permission_mode=self.permission_mode,
            allowed_tools=self.allowed_tools,
            max_budget_usd=self.max_budget_usd,
            keep_env=self.keep_env,
        )
        return AgentNode(spec=spec, restart=self.restart, shutdown=self.shutdown)


class SupervisorSpec(_Spec):
    """A supervisor: its flags and its children, in start order.

    At most ``intensity`` restarts within ``period`` seconds, else it stops its children in
    reverse start order and exits, which its parent sees as a crash. ``shutdown`` is the time it
    gets to stop its children (OTP's default for supervisors: ``infinity``).
    """

    type: Literal["supervisor"] = "supervisor"
    strategy: Strategy = "one_for_one"
    intensity: StrictInt = Field(1, ge=0)
    period: StrictInt = Field(5, ge=1)
    shutdown: float | Literal["brutal_kill", "infinity"] = "infinity"
    children: tuple[Child, ...] = ()

    @field_validator("shutdown", mode="plain")
    @classmethod
    def _grace(cls, value: object) -> float | str:
        return _shutdown(value, ("brutal_kill", "infinity"))

    def to_node(self, defaults: TreeDefaults) -> SupervisorNode:
        """The supervisor as its parent runs it, its children converted in start order."""
        return SupervisorNode(
            name=self.name,
            strategy=self.strategy,
            intensity=self.intensity,
            period=self.period,
            restart=self.restart,
            shutdown=self.shutdown,
            children=tuple(child.to_node(defaults) for child in self.children),
        )

    def walk(self, path: str = "") -> Iterator[tuple[str, AgentChildSpec | SupervisorSpec]]:
        """Every node with its path (``children[1].children[0]``): this one, then its children
        depth first, in start order. ``path`` is this supervisor's own path."""
        yield path, self
        for index, child in enumerate(self.children):
            child_path = f"{path}.children[{index}]" if path else f"children[{index}]"
            if isinstance(child, SupervisorSpec):
                yield from child.walk(child_path)
            else:
                yield child_path, child

    def agents(self) -> list[AgentChildSpec]:
        """Every agent of the tree, in start order."""
        return [node for _, node in self.walk() if isinstance(node, AgentChildSpec)]

    def supervisors(self) -> list[SupervisorSpec]:
        """This supervisor and every one below it, in start order."""
        return [node for _, node in self.walk() if isinstance(node, SupervisorSpec)]

    def name_clashes(self, path: str = "") -> list[tuple[str, str]]:
        """The tree-wide check: ``(path, message)`` for each name an earlier node already uses."""
        first: dict[str, str] = {}
        clashes: list[tuple[str, str]] = []
        for node_path, node in self.walk(path):
            name_path = f"{node_path}.name" if node_path else "name"
            if node.name in first:
                clashes.append(
                    (name_path, f"duplicate name {node.name!r}, also at {first[node.name]}")
                )
            else:
                first[node.name] = name_path
        return clashes


def _child_type(value: Any) -> ChildType | None:
    """Which model a child is: its ``type`` if given, else a supervisor when it has
    ``children``, else an agent. None (an unknown ``type``) fails as ``child_type``."""
    if isinstance(value, AgentChildSpec | SupervisorSpec):
        return value.type
    if not isinstance(value, dict):
        return "agent"  # the agent model reports that a mapping was expected
    kind = value.get("type")
    if kind is None:
        return "supervisor" if "children" in value else "agent"
    return kind if kind in ("agent", "supervisor") else None


Child = Annotated[
    Annotated[AgentChildSpec, Tag("agent")] | Annotated[SupervisorSpec, Tag("supervisor")],
    Discriminator(
        _child_type,
        custom_error_type="child_type",
        custom_error_message="expected type agent|supervisor",
    ),
]
SupervisorSpec.model_rebuild()


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
    role: Role = "member"
    groups: tuple[str, ...] = ()

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
    topology: str = "broadcast"
    respond: RespondPolicy = "always"
    mode: HumanMode = "free"
    max_turns: StrictInt = Field(20, ge=1)
    cooldown: StrictFloat = Field(0.0, ge=0)
    stop_phrase: str | None = None
    idle_timeout: StrictFloat | None = Field(None, gt=0)

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
