"""The members of a conversation, as topologies see them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

MemberKind = Literal["agent", "human", "system"]
Role = Literal["member", "orchestrator", "worker"]


class Member(BaseModel):
    """One member of a conversation: who it is and where it stands in the team."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The name messages use for it (``sender`` and ``recipients`` of an `Envelope`)."""
    kind: MemberKind = "agent"
    """What it is: an LLM ``agent``, a ``human`` at a client, or the ``system`` itself."""
    role: Role = "member"
    """Its place in a hierarchy: an ``orchestrator`` sees everything, a ``worker`` (or a plain
    ``member``) its own scope. Only the ``hierarchical`` topology reads it."""
    groups: tuple[str, ...] = ()
    """Names of the groups it belongs to; a message addressed to a group reaches its members
    (``hierarchical`` topology)."""
