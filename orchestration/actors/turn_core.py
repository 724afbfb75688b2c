"""What the DM router and the room router share about a turn: the ``turn_timeout`` watchdog,
how a failed turn is recorded, and which messages a restarted router must answer again.

Both routers journal first, then publish; a turn that fails is journaled as a ``turn_failed``
event replying to the message the turn answered, so the journal alone tells which messages are
answered (`unanswered`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thespian.actors import Actor

from orchestration.messages import SYSTEM_SENDER, AgentStuck, Envelope, TurnFailed

__all__ = ["TurnWatchdog", "failure_record", "unanswered"]

_STUCK = "turn-stuck"


class TurnWatchdog:
    """Times turns from their `TurnStarted`: one still running ``turn_timeout`` seconds later
    is stuck, and the agent's supervisor hears `AgentStuck` (it kills the agent's process; the
    exit fails the turn with ``timeout`` and restarts the agent)."""

    def arm(self, actor: Actor, agent: str, turn_id: str, seconds: float | None) -> None:
        if seconds is not None:
            actor.wakeupAfter(seconds, payload=(_STUCK, agent, turn_id, seconds))

    @staticmethod
    def expired(payload: Any) -> tuple[str, str, float] | None:
        """The (agent, turn id, seconds) of a watchdog wakeup; None for any other payload."""
        if isinstance(payload, tuple) and len(payload) == 4 and payload[0] == _STUCK:
            return payload[1], payload[2], payload[3]
        return None

    @staticmethod
    def report(actor: Actor, supervisor: Any, agent: str, turn_id: str, seconds: float) -> None:
        actor.send(supervisor, AgentStuck(name=agent, turn_id=turn_id, seconds=seconds))


def failure_record(conversation: str, failure: TurnFailed, in_reply_to: str) -> Envelope:
    """The journal's ``turn_failed`` event for ``failure``, replying to the turn's message."""
    return Envelope(
        conversation=conversation,
        sender=SYSTEM_SENDER,
        kind="event",
        event="turn_failed",
        content=f"{failure.agent}'s turn failed ({failure.kind}): {failure.error}",
        in_reply_to=in_reply_to,
        data=failure.model_dump(mode="json"),
    )


def unanswered(messages: Iterable[Envelope], agent: str) -> list[Envelope]:
    """The chat messages to ``agent`` (oldest first) that nothing in ``messages`` replies to:
    neither its reply nor a ``turn_failed`` record."""
    listed = list(messages)
    answered = {m.in_reply_to for m in listed if m.in_reply_to}
    return [m for m in listed if m.kind == "chat" and m.sender != agent and m.id not in answered]
