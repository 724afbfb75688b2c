"""Rooms: several agents and humans in one conversation, in a real daemon."""

from __future__ import annotations

from typing import Any

from orchestration.messages import Envelope, TurnFinished
from orchestration.runtime import Runtime
from orchestration.streams import Subscription


def until_event(feed: Subscription, event: str) -> list[Any]:
    """What ``feed`` brings up to and including the first ``event`` (it has a deadline)."""
    seen: list[Any] = []
    for message in feed:
        seen.append(message)
        if isinstance(message, Envelope) and message.event == event:
            return seen
    raise AssertionError(f"no {event} before the deadline; saw {seen}")


def chat(messages: list[Envelope]) -> list[tuple[str, str]]:
    return [(m.sender, m.content) for m in messages if m.kind == "chat"]


def test_round_robin_takes_turns_in_member_order_until_max_turns(runtime: Runtime) -> None:
    runtime.spawn("planner", provider="scripted", model="echo")
    runtime.spawn("critic", provider="scripted", model="echo")
    runtime.create_room("standup", agents=["planner", "critic"], respond="round_robin", max_turns=4)

    with runtime.observe_room("standup", timeout=30) as feed:
        said = runtime.say("standup", "Plan a launch")
        seen = until_event(feed, "conversation_ended")

    assert said.delivered_to == ("planner", "critic")
    history = runtime.room_history("standup")
    speakers = [sender for sender, _ in chat(history)]
    assert speakers == ["user", "planner", "critic", "planner", "critic"]
    ended = [m for m in history if m.event == "conversation_ended"]
    assert [e.data["reason"] for e in ended] == ["max_turns"]
    assert len([m for m in seen if isinstance(m, TurnFinished)]) == 4
    assert runtime.room("standup").state == "ended"
