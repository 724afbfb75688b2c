"""Tree config files: one YAML or TOML file describes a whole supervision tree.

```yaml
system:                      # optional: settings for this tree, never credentials
  turn_timeout: 300
tree:                        # the root supervisor (spec.SupervisorSpec)
  name: team
  strategy: one_for_all
  children:
    - name: researcher       # an agent (spec.AgentChildSpec)
      model: scripted:echo
      system: You find sources.
    - name: reviewers        # a supervisor: it has children (or type: supervisor)
      children: []
conversations:               # optional: rooms of the tree's agents (spec.ConversationSpec)
  - name: review
    agents: [researcher]
workflows:                   # optional: ADK workflows of the tree's agents (workflows.py)
  - name: research
    steps: [researcher]
```

`load_tree` returns a `TreeConfig` or raises `TreeConfigError` with every problem, each with
its path in the file's terms: ``tree.children[2].restart: expected permanent|transient|temporary,
got 'always'``. Field problems are all reported together; the file-wide checks (unique names in
the tree; conversations of its agents, each named once) run once every field is valid.
"""

from __future__ import annotations

import re
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from orchestration.messages import RoomSpec, SupervisorNode, WorkflowSpec
from orchestration.settings import Settings
from orchestration.supervision.conversation_spec import ConversationSpec, MemberSpec
from orchestration.supervision.spec import AgentChildSpec, SupervisorSpec, TreeDefaults
from orchestration.supervision.spec_fields import require_known_provider
from orchestration.supervision.workflows import WorkflowConfig

__all__ = ["SystemSettings", "TreeConfig", "TreeConfigError", "TreeProblem", "load_tree"]

FORMATS = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}
CREDENTIAL_WORDS = ("api_key", "apikey", "auth_token", "access_token", "secret", "password")
EXPECTED = {
    "model_type": "a mapping of fields",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "path_type": "a file path",
}


class TreeProblem(NamedTuple):
    """One problem in a tree file: where (empty for the whole file) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TreeConfigError(Exception):
    """A tree file that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, file: Path, problems: list[TreeProblem]) -> None:
        super().__init__("\n".join(f"{file}: {problem}" for problem in problems))
        self.file = file
        self.problems = problems


class SystemSettings(BaseModel):
    """The settings a tree file may set for its tree: a subset of `Settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_provider: str | None = None
    default_model: str | None = None
    max_message_chars: StrictInt | None = Field(None, ge=1)
    turn_timeout: StrictFloat | None = Field(None, gt=0)
    provider_timeout: StrictFloat | None = Field(None, gt=0)
    provider_max_retries: StrictInt | None = Field(None, ge=0)

    @field_validator("default_provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is not None:
            require_known_provider(value)
        return value


class TreeConfig(BaseModel):
    """A whole tree file: its settings, its root supervisor and its conversations."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: SystemSettings = SystemSettings()
    tree: SupervisorSpec
    conversations: tuple[ConversationSpec, ...] = ()
    workflows: tuple[WorkflowConfig, ...] = ()

    def to_node(self, base_dir: Path) -> SupervisorNode:
        """The tree as the root starts it, with ``system:`` applied to every agent;
        ``base_dir`` is the tree file's folder."""
        system = self.system
        overrides = {
            key: value
            for key in ("max_message_chars", "provider_timeout", "provider_max_retries")
            if (value := getattr(system, key)) is not None
        }
        provider, _, model = (system.default_provider or "").partition(":")
        defaults = TreeDefaults(
            provider=provider,
            model=system.default_model or model,
            turn_timeout=system.turn_timeout,
            settings=overrides,
            base_dir=base_dir,
        )
        return self.tree.to_node(defaults)

    def to_workflows(self) -> tuple[WorkflowSpec, ...]:
        """The workflows, as the root records them for `workflow run NAME`."""
        return tuple(workflow.to_spec(self.tree.name) for workflow in self.workflows)

    def to_rooms(self) -> tuple[RoomSpec, ...]:
        """The conversations as the root creates them, once the tree is up, in file order."""
        return tuple(conversation.to_room() for conversation in self.conversations)

    def clashes(self) -> list[TreeProblem]:
        """The file-wide checks: names unique in the tree, and conversations of the tree's
        agents, each under a name of its own."""
        clashes = self.tree.name_clashes("tree")
        first: dict[str, str] = {}
        for index, conversation in enumerate(self.conversations):
            path = f"conversations[{index}]"
            name = conversation.name
            if name in first:
                clashes.append(
                    (f"{path}.name", f"duplicate conversation {name!r}, also at {first[name]}")
                )
            else:
                first[name] = f"{path}.name"
            clashes += conversation.member_clashes(path, self.tree)
        agents = {agent.name for agent in self.tree.agents()}
        named: dict[str, str] = {}
        for index, workflow in enumerate(self.workflows):
            path = f"workflows[{index}]"
            if workflow.name in named:
                clashes.append(
                    (
                        f"{path}.name",
                        f"duplicate workflow {workflow.name!r}, also at {named[workflow.name]}",
                    )
                )
            named.setdefault(workflow.name, f"{path}.name")
            clashes += workflow.unknown_agents(path, agents)
        return [TreeProblem(*clash) for clash in clashes]

    def summary(self) -> str:
        """``2 supervisors, 5 agents``, then ``, 1 conversation`` when the file has some."""
        counts = [_count(len(self.tree.supervisors()), "supervisor")]
        counts.append(_count(len(self.tree.agents()), "agent"))
        if self.conversations:
            counts.append(_count(len(self.conversations), "conversation"))
        if self.workflows:
            counts.append(_count(len(self.workflows), "workflow"))
        return ", ".join(counts)


def load_tree(path: str | Path) -> TreeConfig:
    """Read and validate a tree file (.yaml, .yml or .toml); ``system_file`` paths in it are
    relative to its folder. Raises `TreeConfigError` with every problem."""
    path = Path(path)
    data = _read(path)
    try:
        config = TreeConfig.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
        raise TreeConfigError(path, problems) from None
    clashes = config.clashes()
    if clashes:
        raise TreeConfigError(path, clashes)
    return config


def _read(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; any reason it has none is a `TreeConfigError`."""

    def fail(message: str) -> TreeConfigError:
        return TreeConfigError(path, [TreeProblem("", message)])

    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise fail(f"unsupported file type {path.suffix!r}: use .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail("no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text) if kind == "TOML" else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise fail(f"invalid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(exc))
        where = f" at line {found[2]}, column {found[3]}" if found else ""
        raise fail(f"invalid TOML{where}: {found[1] if found else exc}") from None
    if data is None or data == {}:
        raise fail("the file is empty: expected the keys system (optional) and tree")
    if not isinstance(data, dict):
        raise fail(f"expected a mapping with the keys system and tree, got {_shown(data)}")
    return data


def _problem(error: ErrorDetails) -> TreeProblem:
    """A pydantic error in the file's terms: its path, and an ``expected ..., got ...``."""
    loc, kind, got = error["loc"], error["type"], error["input"]
    if kind == "child_type":
        return TreeProblem(
            _path((*loc, "type")), f"expected agent|supervisor, got {_shown(got['type'])}"
        )
    if kind == "missing":
        message = "field required"
    elif kind == "extra_forbidden":
        message = _unknown_field(loc)
    elif kind == "literal_error":
        expected = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        message = f"expected {'|'.join(expected)}, got {_shown(got)}"
    elif kind in ("greater_than_equal", "greater_than"):
        limit = error["ctx"]["ge" if kind == "greater_than_equal" else "gt"]
        number = "a whole number" if isinstance(limit, int) else "a number"
        sign = ">=" if kind == "greater_than_equal" else ">"
        message = f"expected {number} {sign} {limit:g}, got {_shown(got)}"
    elif kind in EXPECTED:
        message = f"expected {EXPECTED[kind]}, got {_shown(got)}"
    else:
        message = error["msg"]
    return TreeProblem(_path(loc), message)


def _path(loc: tuple[int | str, ...]) -> str:
    """``('tree', 'children', 2, 'agent', 'restart')`` -> ``tree.children[2].restart``: list
    indexes in brackets, without the tag pydantic adds after a tree child's index."""
    parts: list[str] = []
    for before, part in pairwise((None, *loc)):
        if loc[0] == "tree" and isinstance(before, int) and part in ("agent", "supervisor"):
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".")


def _unknown_field(loc: tuple[int | str, ...]) -> str:
    """Say which fields the mapping at ``loc`` allows; credentials get their own answer."""
    key = str(loc[-1])
    if any(word in key.lower() for word in CREDENTIAL_WORDS):
        return _credential(key)
    owner = _owner(loc[:-1])
    allowed = f"allowed: {', '.join(owner.model_fields)}"
    if owner is SystemSettings and key in Settings.model_fields:
        where = f"orchestration.toml or ORCH_{key.upper()}"
        return f"{key!r} is a daemon setting: set it in {where} ({allowed})"
    return f"unknown field {key!r} ({allowed})"


def _credential(key: str) -> str:
    field = Settings.model_fields.get(key)
    alias = field.validation_alias if field else None
    variable = f" ({alias.choices[-1]})" if isinstance(alias, AliasChoices) else ""
    return (
        f"{key!r} is a credential: credentials belong in the environment{variable} or in "
        "orchestration.toml, never in a tree file"
    )


def _owner(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model of the mapping at ``loc``: the file, its ``system``, a conversation or one of
    its agents, or a tree node."""
    if not loc:
        return TreeConfig
    if loc[0] == "system":
        return SystemSettings
    if loc[0] == "conversations":
        return MemberSpec if "agents" in loc else ConversationSpec
    tags = [part for before, part in pairwise(loc) if isinstance(before, int)]
    return AgentChildSpec if tags and tags[-1] == "agent" else SupervisorSpec


def _shown(value: object) -> str:
    """A value as an error message quotes it: its repr, cut short."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _count(count: int, noun: str) -> str:
    """``1 agent``, ``5 agents``."""
    return f"{count} {noun}{'s' * (count != 1)}"
