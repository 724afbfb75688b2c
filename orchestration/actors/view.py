"""Render an agent's view of a conversation into provider chat turns."""

from __future__ import annotations

from collections.abc import Iterable

from orchestration.messages import Envelope
from orchestration.providers.base import ChatTurn

__all__ = ["heard_turn", "render_view", "to_turn"]

USER = "user"


def render_view(agent: str, messages: Iterable[Envelope]) -> list[ChatTurn]:
    """The agent's own messages become assistant turns and everyone else's user turns.

    Speakers other than the plain user are named (``[critic] ...``) so the agent knows who
    said what.
    """
    return [to_turn(agent, message) for message in messages]


def to_turn(agent: str, message: Envelope) -> ChatTurn:
    """One journaled message as the agent sees it."""
    return heard_turn(agent, message.sender, message.content)


def heard_turn(agent: str, sender: str, content: str) -> ChatTurn:
    """What ``sender`` said, as ``agent`` sees it."""
    if sender == agent:
        return ChatTurn(role="assistant", content=content)
    if sender == USER:
        return ChatTurn(role="user", content=content)
    return ChatTurn(role="user", content=f"[{sender}] {content}")
