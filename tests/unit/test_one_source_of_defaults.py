"""Agent and room defaults are written once, on `AgentSpec` (and its `ClaudeCodeOptions`),
`RoomSpec` and the tree's nodes:
the `Runtime` and `AsyncRuntime` arguments, the CLI options, the REST bodies, the MCP tool
parameters and the tree file's fields all read them from there.

The first test compares every place with the spec; the second changes every spec default in a
fresh interpreter before anything else is imported and checks that each place follows, so a
place that writes the same value itself fails too.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import BaseModel

from orchestration.messages import (
    AgentNode,
    AgentSpec,
    ClaudeCodeOptions,
    Member,
    RoomSpec,
    SupervisorNode,
    default_of,
)

ROOM = ("topology", "respond", "mode", "max_turns", "cooldown", "stop_phrase", "idle_timeout")
AGENT = (
    "provider",
    "model",
    "system",
    "recovery",
    "turn_timeout",
    "command",
    "cwd",
    "permission_mode",
    "allowed_tools",
    "max_budget_usd",
    "keep_env",
)
"""The agent fields the places mirror: `AgentSpec`'s, and its `ClaudeCodeOptions`'s."""
RUNTIME_SPAWN = {field: field for field in AGENT} | {"system": "system_prompt"}
"""`Runtime.spawn`'s parameter for each agent field."""
CLI_SPAWN = {
    field: field
    for field in ("provider", "model", "system", "recovery", "turn_timeout", "permission_mode")
} | {"max_budget_usd": "max_budget_usd"}
"""``orchestration spawn``'s option for each agent field it offers (``--allowed-tools``,
``--keep-env``, ``--command`` and ``--cwd`` are strings or paths of the CLI's own)."""
REST_AGENT = {
    "provider": "provider",
    "model": "model",
    "system": "system_prompt",
    "recovery": "recovery",
    "turn_timeout": "turn_timeout",
}
MCP_AGENT = {"provider": "provider", "model": "model", "system": "system_prompt"}
MCP_ROOM = ("respond", "topology", "max_turns")

Place = tuple[str, type[BaseModel], str, Callable[[], Any]]
"""Where a default is mirrored: its label, the spec model and field it mirrors, and a reader."""


def _agent_model(field: str) -> type[BaseModel]:
    """The model that holds an agent field: `ClaudeCodeOptions` for Claude Code's, else
    `AgentSpec`."""
    return ClaudeCodeOptions if field in ClaudeCodeOptions.model_fields else AgentSpec


def _parameter(call: Callable[..., Any], name: str) -> Callable[[], Any]:
    return lambda: inspect.signature(call).parameters[name].default


def _field(model: type[BaseModel], name: str) -> Callable[[], Any]:
    return lambda: model.model_fields[name].get_default(call_default_factory=True)


def _mcp_defaults() -> dict[str, dict[str, Any]]:
    """Each MCP tool's parameter defaults, as its input schema shows them to clients."""
    from orchestration.interfaces.mcp import build_server
    from orchestration.runtime import Runtime

    server = build_server(cast(Runtime, object()))
    tools = asyncio.run(server.list_tools())
    return {
        tool.name: {
            name: schema["default"]
            for name, schema in tool.input_schema["properties"].items()
            if "default" in schema
        }
        for tool in tools
    }


def places() -> list[Place]:
    """Every place that mirrors an agent or room default (imported here, not at the top, so
    that a fresh interpreter can change the spec defaults first)."""
    from orchestration.aio import AsyncRuntime
    from orchestration.cli import agents as cli_agents
    from orchestration.cli import rooms as cli_rooms
    from orchestration.interfaces.agents_api import CreateAgent
    from orchestration.interfaces.rooms_api import CreateRoom
    from orchestration.runtime import Runtime
    from orchestration.supervision.conversation_spec import ConversationSpec, MemberSpec
    from orchestration.supervision.spec import AgentChildSpec, SupervisorSpec

    mcp = _mcp_defaults()
    found: list[Place] = []
    for field in ROOM:
        found += [
            (
                f"Runtime.create_room({field})",
                RoomSpec,
                field,
                _parameter(Runtime.create_room, field),
            ),
            (
                f"AsyncRuntime.create_room({field})",
                RoomSpec,
                field,
                _parameter(AsyncRuntime.create_room, field),
            ),
            (f"room create --{field}", RoomSpec, field, _parameter(cli_rooms.create, field)),
            (f"POST /v1/rooms {field}", RoomSpec, field, _field(CreateRoom, field)),
            (f"tree file conversation {field}", RoomSpec, field, _field(ConversationSpec, field)),
        ]
    for field in MCP_ROOM:
        found.append(
            (
                f"MCP create_conversation({field})",
                RoomSpec,
                field,
                lambda field=field: mcp["create_conversation"][field],
            )
        )
    for field, name in RUNTIME_SPAWN.items():
        model = _agent_model(field)
        found += [
            (f"Runtime.spawn({name})", model, field, _parameter(Runtime.spawn, name)),
            (f"AsyncRuntime.spawn({name})", model, field, _parameter(AsyncRuntime.spawn, name)),
            (f"tree file agent {field}", model, field, _field(AgentChildSpec, field)),
        ]
    for field, name in CLI_SPAWN.items():
        model = _agent_model(field)
        found.append((f"spawn --{name}", model, field, _parameter(cli_agents.spawn, name)))
    for field, name in REST_AGENT.items():
        found.append((f"POST /v1/agents {name}", AgentSpec, field, _field(CreateAgent, name)))
    for field, name in MCP_AGENT.items():
        found.append(
            (
                f"MCP create_agent({name})",
                AgentSpec,
                field,
                lambda name=name: mcp["create_agent"][name],
            )
        )
    for field in ("restart", "shutdown"):
        found.append((f"tree file agent {field}", AgentNode, field, _field(AgentChildSpec, field)))
    for field in ("restart", "strategy", "intensity", "period", "shutdown"):
        found.append(
            (f"tree file supervisor {field}", SupervisorNode, field, _field(SupervisorSpec, field))
        )
    for field in ("role", "groups"):
        found.append((f"tree file member {field}", Member, field, _field(MemberSpec, field)))
    return found


def _comparable(value: Any) -> Any:
    """A tuple default and the list an MCP schema shows for it compare equal."""
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("place", places(), ids=lambda place: place[0])
def test_each_place_has_the_spec_default(place: Place) -> None:
    _, model, field, read = place
    assert _comparable(read()) == _comparable(default_of(model, field))


def test_changing_a_spec_default_changes_every_place() -> None:
    """In a fresh interpreter, give every spec field a default no place could write by chance,
    then import the places: each must show the new default."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from orchestration.messages import (
            AgentNode, AgentSpec, ClaudeCodeOptions, Member, RoomSpec, SupervisorNode,
        )

        for model in (AgentSpec, ClaudeCodeOptions, RoomSpec, AgentNode, SupervisorNode, Member):
            for name, field in model.model_fields.items():
                field.default = f"<{model.__name__}.{name}>"
                field.default_factory = None

        import test_one_source_of_defaults as test

        stale = [
            (label, repr(read()))
            for label, model, field, read in test.places()
            if read() != f"<{model.__name__}.{field}>"
        ]
        print(json.dumps(stale))
        """
    )
    here = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", script, str(here)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stale = json.loads(done.stdout.strip().splitlines()[-1])
    assert stale == [], f"these places do not take their default from the spec: {stale}"
