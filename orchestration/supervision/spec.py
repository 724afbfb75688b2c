"""Supervision as data: agent and supervisor specs, as OTP's supervisor.erl describes them.

A tree is a `SupervisorSpec` whose ``children`` are agents (`AgentChildSpec`, OTP's
``worker``) and nested supervisors, in start order; `to_node` turns them into the `AgentNode`
and `SupervisorNode` the supervisors run. Each default is the field default of what a model
becomes (`AgentSpec` and its `ClaudeCodeOptions`, `AgentNode`, `SupervisorNode`), read with
`default_of`; every field has a validator whose message says what it expected and what it got
(`spec_fields`). The models are frozen and reject unknown fields. A tree file's conversations
are in `conversation_spec`; `orchestration.supervision.tree` reads both from files.

A ``system_file`` is read when the spec is validated, relative to the ``base_dir`` of the
validation context (the tree file's folder), else to the current directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
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
    DEFAULT_PROVIDER,
    ROOT_SUPERVISOR,
    AgentNode,
    AgentSpec,
    ClaudeCodeOptions,
    Recovery,
    Restart,
    Strategy,
    SupervisorNode,
    default_of,
)
from orchestration.providers.registry import provider_names
from orchestration.supervision.spec_fields import (
    require_known_provider,
    runs_in_a_directory,
    shutdown_grace,
    valid_name,
)

__all__ = ["AgentChildSpec", "Child", "ChildType", "SupervisorSpec", "TreeDefaults"]

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


class _Spec(BaseModel):
    """What agents and supervisors share: a tree-wide unique name and a restart type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    restart: Restart

    @field_validator("name")
    @classmethod
    def _not_root(cls, value: str) -> str:
        if value == ROOT_SUPERVISOR:
            raise PydanticCustomError(
                "name", "'root' is the root supervisor's name; pick another", {}
            )
        return valid_name(value)


class AgentChildSpec(_Spec):
    """An agent in the tree (OTP ``type: worker``).

    ``model`` may carry its provider (``anthropic:claude-sonnet-5-5``, or just ``scripted``);
    with neither, the agent uses the daemon's default provider. ``model`` empty means the
    provider's default model. ``shutdown`` is the seconds it gets to finish its turn when asked
    to stop, before it is killed. ``turn_timeout`` None means a turn may run without limit.
    """

    type: Literal["agent"] = "agent"
    restart: Restart = default_of(AgentNode, "restart")
    provider: str = default_of(AgentSpec, "provider")
    model: str = default_of(AgentSpec, "model")
    system_file: Path | None = None  # before system: system's validator reads this file
    system: str = Field(default_of(AgentSpec, "system"), validate_default=True)
    shutdown: float | Literal["brutal_kill"] = default_of(AgentNode, "shutdown")
    recovery: Recovery = default_of(AgentSpec, "recovery")
    turn_timeout: StrictFloat | None = Field(default_of(AgentSpec, "turn_timeout"), gt=0)
    command: tuple[str, ...] = default_of(AgentSpec, "command")
    """A program to run as the agent (provider ``command``): a list, or a string split like a
    shell command line (no shell runs it)."""
    cwd: Path | None = default_of(AgentSpec, "cwd")
    """Where the program runs, relative to the tree file's folder (default: that folder)."""
    permission_mode: Literal["default", "acceptEdits", "plan", "bypassPermissions"] = default_of(
        ClaudeCodeOptions, "permission_mode"
    )
    """Claude Code: what it may do unasked (``plan`` never edits)."""
    allowed_tools: tuple[str, ...] = default_of(ClaudeCodeOptions, "allowed_tools")
    """Claude Code: tools it may use without asking."""
    max_budget_usd: StrictFloat | None = Field(
        default_of(ClaudeCodeOptions, "max_budget_usd"), gt=0
    )
    keep_env: tuple[str, ...] = default_of(ClaudeCodeOptions, "keep_env")
    """Claude Code: credential variables to pass on (see `ClaudeCodeOptions.keep_env`)."""

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
        return shutdown_grace(value, ("brutal_kill",))

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
            cwd=str(self.cwd or defaults.base_dir) if runs_in_a_directory(provider) else None,
            claude_code=ClaudeCodeOptions(
                permission_mode=self.permission_mode,
                allowed_tools=self.allowed_tools,
                max_budget_usd=self.max_budget_usd,
                keep_env=self.keep_env,
            ),
        )
        return AgentNode(spec=spec, restart=self.restart, shutdown=self.shutdown)


class SupervisorSpec(_Spec):
    """A supervisor: its flags and its children, in start order.

    At most ``intensity`` restarts within ``period`` seconds, else it stops its children in
    reverse start order and exits, which its parent sees as a crash. ``shutdown`` is the time it
    gets to stop its children (OTP's default for supervisors: ``infinity``).
    """

    type: Literal["supervisor"] = "supervisor"
    restart: Restart = default_of(SupervisorNode, "restart")
    strategy: Strategy = default_of(SupervisorNode, "strategy")
    intensity: StrictInt = Field(default_of(SupervisorNode, "intensity"), ge=0)
    period: StrictInt = Field(default_of(SupervisorNode, "period"), ge=1)
    shutdown: float | Literal["brutal_kill", "infinity"] = default_of(SupervisorNode, "shutdown")
    children: tuple[Child, ...] = ()

    @field_validator("shutdown", mode="plain")
    @classmethod
    def _grace(cls, value: object) -> float | str:
        return shutdown_grace(value, ("brutal_kill", "infinity"))

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
