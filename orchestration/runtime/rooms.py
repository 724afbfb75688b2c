"""`RoomCalls`: the `Runtime`'s calls about rooms: create them, speak and approve in them,
steer them, read and follow them. The root creates rooms (it knows which agents exist); the
rooms supervisor answers the other commands itself, and the journal the history reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from orchestration.conversation_ids import ConversationId
from orchestration.gateway.link import Deliver, End, Follower
from orchestration.messages import (
    DEFAULT_HUMAN,
    ApprovalAction,
    Approve,
    CreateRoom,
    Envelope,
    HistoryPage,
    HumanMode,
    JoinRoom,
    ListRooms,
    Member,
    RespondPolicy,
    Role,
    RoomAction,
    RoomCommand,
    RoomInfo,
    RoomList,
    RoomSpec,
    Send,
    SetMode,
    SetTopology,
    default_of,
)
from orchestration.runtime.connection import Connection, about_agents
from orchestration.streams import Feed, OrchestrationError, Subscription

__all__ = ["RoomCalls"]


class RoomCalls(Connection):
    """The `Runtime`'s calls about rooms."""

    def create_room(
        self,
        name: str,
        *,
        agents: Sequence[str],
        humans: Sequence[str] = (DEFAULT_HUMAN,),
        topology: str = default_of(RoomSpec, "topology"),
        respond: RespondPolicy = default_of(RoomSpec, "respond"),
        mode: HumanMode = default_of(RoomSpec, "mode"),
        max_turns: int = default_of(RoomSpec, "max_turns"),
        cooldown: float = default_of(RoomSpec, "cooldown"),
        stop_phrase: str | None = default_of(RoomSpec, "stop_phrase"),
        idle_timeout: float | None = default_of(RoomSpec, "idle_timeout"),
        roles: dict[str, Role] | None = None,
        groups: dict[str, Sequence[str]] | None = None,
        exist_ok: bool = False,
    ) -> RoomInfo:
        """Create a room where ``agents`` (which must exist) and ``humans`` talk; see
        `RoomSpec` for the policy and the limits. ``roles`` and ``groups`` place members in a
        ``hierarchical`` topology."""
        roles, groups = roles or {}, groups or {}
        try:
            members = [
                Member(
                    name=n, kind=kind, role=roles.get(n, "member"), groups=tuple(groups.get(n, ()))
                )
                for names, kind in ((agents, "agent"), (humans, "human"))
                for n in names
            ]
            spec = RoomSpec(
                name=name,
                members=tuple(members),
                topology=topology,
                respond=respond,
                mode=mode,
                max_turns=max_turns,
                cooldown=cooldown,
                stop_phrase=stop_phrase,
                idle_timeout=idle_timeout,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise OrchestrationError(
                "invalid_room",
                f"{where}: {str(problem['msg']).removeprefix('Value error, ')}",
                "e.g. orchestration room create standup --agents planner,critic",
            ) from None
        return self.create_room_from(spec, exist_ok=exist_ok)

    def create_room_from(self, spec: RoomSpec, *, exist_ok: bool = False) -> RoomInfo:
        """Create the room ``spec`` describes (``exist_ok``: keep a running one of that name)."""
        return self._ask(CreateRoom(spec=spec, exist_ok=exist_ok), RoomInfo)

    def rooms(self) -> list[RoomInfo]:
        """Every room with its live state."""
        return self._ask_rooms(ListRooms(), RoomList).rooms

    def room(self, name: str, action: RoomAction = "show") -> RoomInfo:
        """Show room ``name``, or act on it: ``pause``, ``resume``, ``stop``, ``delete`` (its
        history stays) or ``purge`` (its history goes too). Returns its state after."""
        return self._ask_rooms(RoomCommand(room=name, action=action), RoomInfo)

    def say(
        self, room: str, text: str, *, sender: str = DEFAULT_HUMAN, to: Sequence[str] = ()
    ) -> Envelope:
        """Say ``text`` in ``room`` as member ``sender`` (addressed ``to`` some members, or to
        all); returns the journaled message, whose ``delivered_to`` says who got it. The agents
        answer by the room's policy: follow them with `observe_room`."""
        self._check_text(text)
        message = Envelope(
            conversation=str(ConversationId.room(room)),
            sender=sender,
            content=text,
            recipients=tuple(to),
        )
        return self._ask_rooms(Send(message=message), Envelope)

    def set_topology(self, room: str, topology: str) -> RoomInfo:
        """Switch ``room`` to ``topology`` now, keeping its history and agents."""
        return self._ask_rooms(SetTopology(room=room, topology=topology), RoomInfo)

    def set_mode(self, room: str, mode: HumanMode) -> RoomInfo:
        """Set how the humans of ``room`` take part: ``free``, ``moderated`` or ``prompted``."""
        return self._ask_rooms(SetMode(room=room, mode=mode), RoomInfo)

    def join_room(self, room: str, human: str = DEFAULT_HUMAN) -> RoomInfo:
        """Make ``human`` a member of ``room`` (already one: nothing changes)."""
        return self._ask_rooms(JoinRoom(room=room, human=human), RoomInfo)

    def approve(
        self,
        room: str,
        action: ApprovalAction = "approve",
        *,
        content: str = "",
        pending: str | None = None,
        by: str = DEFAULT_HUMAN,
    ) -> RoomInfo:
        """Answer ``room``'s oldest pending approval (or ``pending``): ``approve`` the agent's
        reply, ``edit`` it to ``content``, or ``skip`` it."""
        if action == "edit":
            self._check_text(content)
        request = Approve(room=room, action=action, content=content, pending=pending, by=by)
        return self._ask_rooms(request, RoomInfo)

    def room_history(self, room: str, *, limit: int = 1000, after_seq: int = 0) -> list[Envelope]:
        """The journaled messages and events of ``room``, oldest first (also after it was
        deleted, until it is purged)."""
        return self.room_history_page(room, limit=limit, after_seq=after_seq).messages

    def room_history_page(
        self,
        room: str,
        *,
        limit: int = 1000,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """A page of `room_history` (after message ``after_id``, if given); its ``last_seq``
        is the ``after_seq`` of the next page. With ``newest``: the last ``limit`` messages."""
        return self.conversation_page(
            str(ConversationId.room(room)),
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )

    def observe_room(
        self, room: str, *, timeout: float | None = None, stream: bool = True
    ) -> Subscription:
        """Everything that happens in ``room`` from now on: its messages and events
        (`Envelope`), the agents' streamed replies (`TurnDelta`, then `TurnFinished` or
        `TurnFailed`; an agent's reply is then journaled and arrives as an `Envelope` too, with
        ``data["turn_id"]``), and the supervision events about its agents. Without
        ``stream``, only the messages and events: much cheaper for a busy room."""
        feeds, keep = self._room_feeds(room)
        return Subscription(self._asys, feeds, timeout, keep=keep, stream=stream)

    def follow_room(
        self, room: str, deliver: Deliver, end: End, *, stream: bool = True
    ) -> Follower:
        """`observe_room` through this process's gateway link (see `follow`)."""
        feeds, keep = self._room_feeds(room)
        return self.link().follow(feeds, deliver, end, keep=keep, stream=stream)

    def _room_feeds(self, room: str) -> tuple[list[Feed], Callable[[Any], bool]]:
        """The feeds of ``room`` and a filter for the events about its agents."""
        agents = set(self.room(room).spec.agents)
        return [(self._root, str(ConversationId.room(room))), (self._root, None)], about_agents(
            agents
        )
