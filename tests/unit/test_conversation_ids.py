"""Conversation ids: every kind parses and prints back to the same text, and a malformed id
says what the forms are."""

from __future__ import annotations

import pytest

from orchestration.conversation_ids import EVENTS_CONVERSATION, ConversationId, kind_of


@pytest.mark.parametrize(
    ("built", "text"),
    [
        (ConversationId.dm("assistant"), "dm:assistant"),
        (ConversationId.room("standup"), "room:standup"),
        (ConversationId.workflow("review", "1a2b3c4d"), "workflow:review:1a2b3c4d"),
        (ConversationId.workflow("wf.py:root", "r1"), "workflow:wf.py:root:r1"),
        (ConversationId.events(), "system"),
    ],
)
def test_every_kind_round_trips_through_its_text(built: ConversationId, text: str) -> None:
    assert str(built) == text
    assert ConversationId.parse(text) == built
    assert str(ConversationId.parse(text)) == text
    assert kind_of(text) == built.kind


def test_parsed_parts_name_the_agent_room_workflow_and_run() -> None:
    assert ConversationId.parse("dm:a.b-c") == ConversationId("dm", "a.b-c")
    assert ConversationId.parse("room:r") == ConversationId("room", "r")
    run = ConversationId.parse("workflow:pair:00ff")
    assert (run.kind, run.name, run.run) == ("workflow", "pair", "00ff")
    assert ConversationId.parse(EVENTS_CONVERSATION).kind == "events"


def test_the_ids_are_those_the_journal_already_holds() -> None:
    assert str(ConversationId.dm("x")) == "dm:x"
    assert str(ConversationId.room("x")) == "room:x"
    assert str(ConversationId.workflow("w", "r")) == "workflow:w:r"
    assert str(ConversationId.events()) == EVENTS_CONVERSATION == "system"
    assert ConversationId.prefix("workflow") == "workflow:"
    assert str(ConversationId.room("x")).startswith(ConversationId.prefix("room"))


@pytest.mark.parametrize(
    "text",
    ["", "dm", "dm:", "room:", "workflow:", "workflow:review", "workflow:review:", "chat:x", "x"],
)
def test_a_malformed_id_is_refused_with_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="is not a conversation id") as raised:
        ConversationId.parse(text)
    assert "dm:AGENT, room:NAME, workflow:NAME:RUN or system" in str(raised.value)
    assert ConversationId.try_parse(text) is None
    assert kind_of(text) is None


@pytest.mark.parametrize(
    ("kind", "name", "run"),
    [
        ("dm", "", ""),
        ("room", "", ""),
        ("workflow", "w", ""),
        ("events", "x", ""),
        ("chat", "x", ""),
    ],
)
def test_an_id_missing_a_part_cannot_be_built(kind: str, name: str, run: str) -> None:
    with pytest.raises(ValueError, match="conversation id takes"):
        ConversationId(kind, name, run)  # type: ignore[arg-type]
