"""The protocol's models: frozen, strict, and picklable across processes."""

from __future__ import annotations

import pickle
from datetime import UTC

import pytest
from pydantic import ValidationError

from orchestration.conversation_ids import ConversationId
from orchestration.messages import (
    AgentSpec,
    AgentStep,
    ClaudeCodeOptions,
    Envelope,
    Member,
    Pending,
    RoomSpec,
    SupervisorNode,
    TurnFinished,
    Usage,
    WorkflowSpec,
    new_id,
)


def test_an_envelope_has_id_time_and_broadcast_defaults() -> None:
    message = Envelope(conversation="dm:a", sender="user", content="hi")

    assert len(message.id) == 32
    assert message.created_at.tzinfo is UTC
    assert message.recipients == () and message.kind == "chat"


def test_messages_are_frozen_and_reject_unknown_fields() -> None:
    message = Envelope(conversation="dm:a", sender="user", content="hi")
    with pytest.raises(ValidationError):
        message.content = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Envelope(conversation="dm:a", sender="user", content="hi", colour="red")  # type: ignore[call-arg]


def test_no_message_carries_a_version_of_its_own() -> None:
    message = Envelope(conversation="dm:a", sender="user", content="hi")

    assert "v" not in message.model_dump() and "v" not in Envelope.model_fields


def test_specs_and_events_journaled_with_the_old_version_stamp_still_load() -> None:
    agent = {"v": 1, "name": "a", "provider": "scripted", "model": "echo"}
    tree = {
        "v": 1,
        "type": "supervisor",
        "name": "t",
        "children": [{"v": 1, "type": "agent", "spec": agent}],
    }
    room = {"v": 1, "name": "r", "members": [{"v": 1, "name": "a"}]}
    workflow = {
        "v": 1,
        "name": "w",
        "tree": "t",
        "steps": [{"v": 1, "type": "agent", "agent": "a"}],
    }

    assert SupervisorNode.model_validate(tree).agents()[0].spec.name == "a"
    assert RoomSpec.model_validate(room).members == (Member(name="a"),)
    assert WorkflowSpec.model_validate(workflow).steps == (AgentStep(agent="a"),)
    assert Pending.model_validate({"v": 1, "id": "x", "kind": "input"}).kind == "input"
    assert AgentSpec.model_validate_json('{"v": 1, "name": "a", "provider": "p", "model": "m"}')


def test_a_spec_journaled_with_flat_claude_code_options_loads_them_into_their_model() -> None:
    """Specs saved before `ClaudeCodeOptions` (the journal holds them as JSON) name the Claude
    Code options at the top level, and so may callers: they land in ``claude_code``."""
    saved = (
        '{"name": "coder", "provider": "claude-code", "model": "opus", "cwd": "/w",'
        ' "permission_mode": "acceptEdits", "allowed_tools": ["Read", "Grep"],'
        ' "max_budget_usd": 2.5, "keep_env": ["ANTHROPIC_API_KEY"]}'
    )
    options = ClaudeCodeOptions(
        permission_mode="acceptEdits",
        allowed_tools=("Read", "Grep"),
        max_budget_usd=2.5,
        keep_env=("ANTHROPIC_API_KEY",),
    )

    spec = AgentSpec.model_validate_json(saved)
    assert spec.claude_code == options and spec.cwd == "/w"
    assert AgentSpec(name="coder", permission_mode="acceptEdits").claude_code == (  # type: ignore[call-arg]
        ClaudeCodeOptions(permission_mode="acceptEdits")
    )
    assert "permission_mode" not in spec.model_dump()
    with pytest.raises(ValidationError, match="greater than 0"):
        AgentSpec.model_validate({"name": "coder", "max_budget_usd": 0})


def test_an_agent_spec_round_trips_with_its_claude_code_options() -> None:
    spec = AgentSpec(
        name="coder",
        provider="claude-code",
        claude_code=ClaudeCodeOptions(allowed_tools=("Read",), max_budget_usd=1.0),
    )

    assert spec.model_dump(mode="json")["claude_code"] == {
        "permission_mode": "plan",
        "allowed_tools": ["Read"],
        "max_budget_usd": 1.0,
        "keep_env": [],
    }
    assert AgentSpec.model_validate(spec.model_dump()) == spec
    assert AgentSpec.model_validate_json(spec.model_dump_json()) == spec
    assert AgentSpec(name="a").claude_code == ClaudeCodeOptions(permission_mode="plan")


def test_nested_messages_survive_pickling_between_processes() -> None:
    reply = Envelope(conversation="dm:a", sender="a", content="yes", data={"n": [1, 2]})
    finished = TurnFinished(turn_id="t", agent="a", message=reply, usage=Usage(input_tokens=3))

    assert pickle.loads(pickle.dumps(finished)) == finished


def test_ids_sort_by_creation_time() -> None:
    ids = [new_id() for _ in range(200)]

    assert len(set(ids)) == 200
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


@pytest.mark.parametrize("name", ["Bad", "-x", "", "a b", "x" * 64])
def test_agent_names_are_checked_with_a_precise_error(name: str) -> None:
    with pytest.raises(ValidationError, match="agent name"):
        AgentSpec(name=name, provider="scripted", model="echo")


def test_an_agent_spec_names_its_model_and_its_direct_conversation() -> None:
    spec = AgentSpec(name="coder", provider="anthropic", model="claude-x")

    assert spec.model_ref == "anthropic:claude-x"
    assert spec.conversation == str(ConversationId.dm("coder")) == "dm:coder"
