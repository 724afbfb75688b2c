"""Rebuilding a room's state from its journal, as a restarted router does."""

from __future__ import annotations

from typing import Any

from orchestration.messages import Envelope, Member, Pending, RoomSpec
from orchestration.topologies.room_replay import replay

SPEC = RoomSpec(
    name="r",
    members=(Member(name="a"), Member(name="b"), Member(name="user", kind="human")),
    max_turns=10,
)


def said(sender: str, content: str = "hi", **data: Any) -> Envelope:
    return Envelope(conversation="room:r", sender=sender, content=content, data=data)


def event(name: str, **data: Any) -> Envelope:
    return Envelope(
        conversation="room:r", sender="system", kind="event", event=name, content=name, data=data
    )


def test_turns_count_replies_failures_and_drafts_but_not_passes_or_approvals() -> None:
    draft = Pending(id="p1", kind="approval", agent="b", content="draft")
    found = replay(
        SPEC,
        [
            said("user"),
            said("a"),
            event("turn_failed", agent="b"),
            event("turn_passed", agent="a"),
            event("approval_needed", pending=draft.model_dump(mode="json")),
            event("approval_given", pending="p1", action="approve"),
            said("b", "draft", moderation="approved"),
        ],
    )
    assert found.turns == 3  # a's reply, b's failure, b's draft (its approval is no turn)
    assert found.pending == []
    assert found.last_speaker == "b"


def test_open_pauses_come_back_and_a_human_message_closes_a_wait_for_input() -> None:
    draft = Pending(id="p1", kind="approval", agent="a", content="draft")
    waiting = replay(
        SPEC,
        [said("user"), event("approval_needed", pending=draft.model_dump(mode="json"))],
    )
    assert waiting.pending == [draft]

    asked = event("input_needed")
    assert replay(SPEC, [said("user"), said("a"), asked]).pending == [
        Pending(id=asked.id, kind="input")
    ]
    assert replay(SPEC, [said("a"), asked, said("user")]).pending == []


def test_state_and_turn_budget_follow_ends_pauses_and_resumes() -> None:
    ended = replay(SPEC, [said("user"), event("conversation_ended", reason="max_turns")])
    assert (ended.state, ended.ended_reason) == ("ended", "max_turns")
    resumed = replay(
        SPEC,
        [event("conversation_ended", reason="stopped"), event("room_resumed", turn_limit=25)],
    )
    assert (resumed.state, resumed.turn_limit) == ("active", 25)
    assert replay(SPEC, [event("room_paused")]).state == "paused"


def test_the_last_message_nobody_answered_is_found_again() -> None:
    question = said("user", "question")
    assert replay(SPEC, [question]).unanswered == question
    reply = said("a", "answer")
    assert replay(SPEC, [question, reply]).unanswered == reply
    failed = replay(SPEC, [question, event("turn_failed", agent="a")])
    assert failed.unanswered is None
