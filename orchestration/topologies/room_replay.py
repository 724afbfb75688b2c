"""Rebuild a room router's state from its journaled conversation (after the router restarts).

The journal holds everything the router decided: the messages (with whom they reached), the
failed and passed turns, the drafts waiting for approval and their answers, the pauses and the
ends. Replaying it gives back the turn count, the turn budget, the state, the open pauses and
the last message nobody has answered yet (whose turns the router grants again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestration.messages import Envelope, Pending, RoomSpec, RoomState

__all__ = ["TURN_EVENTS", "Replayed", "replay"]

TURN_EVENTS = ("turn_failed", "approval_needed")
"""Events that stand for a turn taken (a failed turn, a draft reply waiting for approval)."""


@dataclass
class Replayed:
    """What the journal says about a room."""

    turns: int = 0
    turn_limit: int = 0
    state: RoomState = "active"
    ended_reason: str = ""
    pending: list[Pending] = field(default_factory=list)
    last_speaker: str | None = None
    unanswered: Envelope | None = None


def replay(spec: RoomSpec, messages: list[Envelope]) -> Replayed:
    """The state of room ``spec`` after ``messages`` (its journal, oldest first)."""
    found = Replayed(turn_limit=spec.max_turns)
    agents = set(spec.agents)
    for message in messages:
        if message.kind == "chat":
            _chat(found, message, agents)
        elif message.kind == "event":
            _event(found, message)
    return found


def _chat(found: Replayed, message: Envelope, agents: set[str]) -> None:
    if message.sender in agents:
        if "moderation" not in message.data:  # an approved draft was counted as its draft
            found.turns += 1
        found.last_speaker = message.sender
    else:
        found.pending = [p for p in found.pending if p.kind != "input"]
    found.unanswered = message


def _event(found: Replayed, message: Envelope) -> None:
    data = message.data
    if message.event in TURN_EVENTS:
        found.turns += 1
        found.unanswered = None
    if message.event == "turn_passed":
        found.unanswered = None
    if message.event == "approval_needed":
        found.pending.append(Pending.model_validate(data["pending"]))
    elif message.event == "approval_given":
        found.pending = [p for p in found.pending if p.id != data.get("pending")]
    elif message.event == "input_needed":
        found.pending.append(Pending(id=message.id, kind="input"))
    elif message.event == "conversation_ended":
        found.state, found.ended_reason = "ended", str(data.get("reason", ""))
    elif message.event == "room_paused":
        found.state = "paused"
    elif message.event == "room_resumed":
        found.state, found.ended_reason = "active", ""
        found.turn_limit = int(data.get("turn_limit", found.turn_limit))
