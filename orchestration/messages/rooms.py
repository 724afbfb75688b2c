"""Rooms: the commands clients send about rooms, and what passes between the rooms
supervisor and each room's router.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orchestration.messages.api import RoomInfo, RoomSpec
from orchestration.messages.base import Message
from orchestration.messages.commands import Subscribe
from orchestration.messages.vocabulary import DEFAULT_HUMAN, ApprovalAction, HumanMode, RoomAction

__all__ = [
    "Approve",
    "CreateRoom",
    "InitRoom",
    "InitRooms",
    "JoinRoom",
    "ListRooms",
    "LocateRooms",
    "MemberMoved",
    "RoomCommand",
    "RoomList",
    "RoomReport",
    "RoomsAddress",
    "SetMode",
    "SetTopology",
]


class LocateRooms(Message):
    """Ask the root where the rooms supervisor is, which answers the room commands itself.
    Replies `RoomsAddress`."""


class RoomsAddress(Message):
    address: Any


class CreateRoom(Message):
    """Create room ``spec`` (its agents must exist). Replies `RoomInfo`; ``exist_ok`` returns
    the running room of the same name instead of an error."""

    spec: RoomSpec
    exist_ok: bool = False
    reply_to: Any = None


class ListRooms(Message):
    """Ask for every room. Replies `RoomList`."""

    reply_to: Any = None


class RoomList(Message):
    rooms: list[RoomInfo]


class RoomCommand(Message):
    """Act on room ``room``: ``show`` (replies `RoomInfo`), ``pause`` (no new turns),
    ``resume`` (go on; an ended room gets a fresh ``max_turns``), ``stop`` (end it now),
    ``delete`` (remove it; its history stays) or ``purge`` (remove it and its history)."""

    room: str
    action: RoomAction
    reply_to: Any = None


class SetTopology(Message):
    """Switch room ``room`` to ``topology`` (and optionally new ``members`` roles/groups) at
    run time, keeping its history and agents. Replies `RoomInfo`."""

    room: str
    topology: str
    reply_to: Any = None


class SetMode(Message):
    """Set the human mode of room ``room``. Replies `RoomInfo`."""

    room: str
    mode: HumanMode
    reply_to: Any = None


class JoinRoom(Message):
    """Add human ``human`` to room ``room`` (kept if already a member). Replies `RoomInfo`."""

    room: str
    human: str
    reply_to: Any = None


class Approve(Message):
    """A human answers room ``room``'s pending approval: ``approve`` the agent's reply as is,
    ``edit`` it (then ``content`` replaces it) or ``skip`` it (it is never delivered).
    ``pending`` names the pause (default: the oldest). Replies `RoomInfo`."""

    room: str
    action: ApprovalAction
    content: str = ""
    pending: str | None = None
    by: str = DEFAULT_HUMAN
    reply_to: Any = None


class InitRoom(Message):
    """Conversations supervisor to a new room router: its spec, where its agents are, who
    subscribed, and whether to rebuild its state from the journal (a restart)."""

    spec: RoomSpec
    journal_path: str
    max_message_chars: int
    max_payload_bytes: int
    agents: dict[str, Any]
    turn_timeouts: dict[str, float | None] = Field(default_factory=dict)
    subscribers: list[Subscribe] = Field(default_factory=list)
    """The room's subscriptions so far (each naming its ``subscriber``), kept over a restart."""
    recover: bool = False


class RoomReport(Message):
    """Room router to its supervisor: its live state changed (so `ListRooms` is answered
    without asking every router), or its spec did (a new member, topology or mode)."""

    info: RoomInfo


class MemberMoved(Message):
    """Root to the rooms supervisor, and on to the rooms: agent ``name`` is up at
    ``address``, or down (``None``: its open turn in a room fails and the room moves on)."""

    name: str
    address: Any
    reason: str = ""
    turn_timeout: float | None = None
    """The agent's ``turn_timeout``: a room turn of it that runs longer is stuck."""


class InitRooms(Message):
    """Root to the rooms supervisor, at boot and at each restart: open the journal
    and start the saved rooms, with where their agents are now and who follows each room."""

    journal_path: str
    max_message_chars: int
    max_payload_bytes: int
    health_interval: float = 5.0
    agents: list[MemberMoved] = Field(default_factory=list)
    subscribers: list[Subscribe] = Field(default_factory=list)
