"""The protocol's models: frozen, strict, versioned, and picklable across processes."""

from __future__ import annotations

import pickle
from datetime import UTC

import pytest
from pydantic import ValidationError

from orchestration.messages import (
    PROTOCOL_VERSION,
    AgentSpec,
    Envelope,
    TurnFinished,
    Usage,
    direct_conversation,
    new_id,
)


def test_an_envelope_has_id_time_version_and_broadcast_defaults() -> None:
    message = Envelope(conversation="dm:a", sender="user", content="hi")

    assert message.v == PROTOCOL_VERSION
    assert len(message.id) == 32
    assert message.created_at.tzinfo is UTC
    assert message.recipients == () and message.kind == "chat"


def test_messages_are_frozen_and_reject_unknown_fields() -> None:
    message = Envelope(conversation="dm:a", sender="user", content="hi")
    with pytest.raises(ValidationError):
        message.content = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Envelope(conversation="dm:a", sender="user", content="hi", colour="red")  # type: ignore[call-arg]


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
    assert spec.conversation == direct_conversation("coder") == "dm:coder"
