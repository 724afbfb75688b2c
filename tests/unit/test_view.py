"""How an agent sees its conversation when it asks its provider."""

from __future__ import annotations

from orchestration.actors.view import render_view
from orchestration.messages import Envelope
from orchestration.providers.base import ChatTurn


def said(sender: str, content: str) -> Envelope:
    return Envelope(conversation="c", sender=sender, content=content)


def test_own_messages_are_assistant_turns_and_others_are_named_user_turns() -> None:
    view = render_view(
        "critic", [said("user", "plan it"), said("planner", "step 1"), said("critic", "too vague")]
    )

    assert view == [
        ChatTurn(role="user", content="plan it"),
        ChatTurn(role="user", content="[planner] step 1"),
        ChatTurn(role="assistant", content="too vague"),
    ]
