"""The rooms supervisor: the parent of every room's router.

It is one of the root's services: the root starts it at boot and again whenever it dies, and
passes it new rooms and the agents' moves; the Runtime asks it the other room commands. It
keeps one `RoomRouter` per room as a service of its own (`orchestration.supervision.services`),
keeps each room's last reported state (so ``room list`` asks no router), remembers who
subscribed to each room, and restarts a router that dies or stops answering its health pings:
the new one rebuilds its state from the journal and keeps the subscribers, so an ``observe`` or
a ``join`` in progress goes on. A router that dies more than `ROOM_INTENSITY` times within
`ROOM_PERIOD` seconds is given up (``room_failed``), like an OTP supervisor's child, until
``room resume``.

Rooms are saved in the journal's ``rooms`` table, so a restarted daemon, or a new incarnation
of this supervisor, starts them again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, DeadEnvelope, WakeupMessage

from orchestration.actors.room_router import RoomRouter
from orchestration.actors.service import ServiceActor
from orchestration.conversation_ids import ConversationId
from orchestration.journal import Journal
from orchestration.messages import (
    SYSTEM_SENDER,
    AgentStuck,
    Approve,
    CreateRoom,
    Envelope,
    ErrorReply,
    InitRoom,
    InitRooms,
    JoinRoom,
    ListRooms,
    MemberMoved,
    Ping,
    Pong,
    RoomCommand,
    RoomInfo,
    RoomList,
    RoomReport,
    RoomSpec,
    Send,
    ServiceReady,
    SetMode,
    SetTopology,
    Subscribe,
    Subscribed,
    Unsubscribe,
)
from orchestration.processes.pids import kill_pid
from orchestration.supervision.health import Action, HealthMonitor
from orchestration.supervision.services import Service, Services
from orchestration.supervision.supervisor import UNEXPECTED_EXIT
from orchestration.topologies.routing import TopologyError, load_topology

__all__ = [
    "ROOM_INTENSITY",
    "ROOM_PERIOD",
    "ROOT_MISSED_PINGS",
    "Leaving",
    "Room",
    "RoomsSupervisor",
]

log = logging.getLogger(__name__)

ROOM_INTENSITY = 3
ROOM_PERIOD = 10
_HEALTH = "health"
ROOT = "the root"
ROOT_MISSED_PINGS = 6
"""Pings the root may leave unanswered before it is killed: more than a child may, since a
root that starts a large tree is busy for a while in one handler."""


@dataclass
class Room:
    """A room as its supervisor knows it."""

    info: RoomInfo
    subscribers: list[Subscribe] = field(default_factory=list)
    service: Service | None = None
    """Its router, a service of the rooms supervisor (the same across restarts)."""

    @property
    def spec(self) -> RoomSpec:
        return self.info.spec

    @property
    def address(self) -> Any:
        """Its router's current incarnation (None once given up)."""
        return self.service.address if self.service is not None else None


@dataclass
class Leaving:
    """A deleted room whose router is exiting, and who waits for that."""

    room: Room
    caller: Any
    purge: bool


class RoomsSupervisor(ServiceActor):
    """Creates, restarts and fronts the rooms' routers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent: Any = None
        self.services = Services(self, ROOM_INTENSITY, ROOM_PERIOD)
        self.health: HealthMonitor | None = None
        self.root_health: HealthMonitor | None = None
        self.journal: Journal | None = None
        self.journal_path = ""
        self.max_chars = 0
        self.max_payload_bytes = 0
        self.rooms: dict[str, Room] = {}
        self.members: dict[str, MemberMoved] = {}
        """Where each agent is and its turn_timeout, from the root's latest word."""
        self.leaving: list[Leaving] = []
        self.handlers = {
            InitRooms: self._init,
            CreateRoom: self._create,
            ListRooms: self._list,
            RoomCommand: self._command,
            SetTopology: self._forward,
            SetMode: self._forward,
            JoinRoom: self._forward,
            Approve: self._forward,
            Send: self._forward_send,
            Subscribe: self._subscribe,
            Unsubscribe: self._subscribe,
            RoomReport: self._report,
            MemberMoved: self._member_moved,
            ChildActorExited: self._child_exited,
            DeadEnvelope: self._dead_letter,
            Ping: self.answer_ping,
            Pong: self._pong,
            ServiceReady: lambda message, sender: self.services.ready(
                message.name, sender, message.pid
            ),
            WakeupMessage: self._heartbeat,
            AgentStuck: lambda message, sender: self.send(self.parent, message),
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self.answer_error(error, message, sender, "the rooms supervisor")

    def _init(self, message: InitRooms, sender: Any) -> None:
        self.started(sender, "rooms")
        self.parent = sender
        self.journal = Journal(message.journal_path)
        self.journal_path, self.max_chars = message.journal_path, message.max_message_chars
        self.max_payload_bytes = message.max_payload_bytes
        self.members = {moved.name: moved for moved in message.agents}
        for spec in self.journal.rooms():
            kept = [s for s in message.subscribers if s.conversation == spec.conversation]
            self._start(spec, recover=True, subscribers=kept)
        self.health = HealthMonitor(message.health_interval)
        self.root_health = HealthMonitor(message.health_interval, ROOT_MISSED_PINGS)
        self.wakeupAfter(message.health_interval, payload=_HEALTH)

    # --- rooms -------------------------------------------------------------------------------

    def _create(self, message: CreateRoom, sender: Any) -> None:
        caller = message.reply_to or sender
        spec = message.spec
        existing = self.rooms.get(spec.name)
        if existing is not None:
            if message.exist_ok:
                self.send(caller, existing.info)
            else:
                self.send(
                    caller,
                    ErrorReply(
                        code="duplicate_room",
                        error=f"room {spec.name} already exists",
                        hint=f"pick another name, or: orchestration room delete {spec.name}",
                    ),
                )
            return
        try:
            load_topology(spec.topology)
        except TopologyError as exc:
            self.send(caller, ErrorReply(code="invalid_room", error=exc.message, hint=exc.hint))
            return
        self._journal().save_room(spec)
        room = self._start(spec, recover=False)
        self.send(caller, room.info)

    def _start(
        self, spec: RoomSpec, *, recover: bool, subscribers: list[Subscribe] | None = None
    ) -> Room:
        """Create ``spec``'s room and its router, a service that rebuilds its state from the
        journal when ``recover`` or when restarted."""
        room = Room(RoomInfo(spec=spec, state="active"), subscribers=subscribers or [])
        self.rooms[spec.name] = room

        def init(restart: bool) -> InitRoom:
            members = {
                name: self.members.get(name) or MemberMoved(name=name, address=None)
                for name in spec.agents
            }
            return InitRoom(
                spec=spec,
                journal_path=self.journal_path,
                max_message_chars=self.max_chars,
                max_payload_bytes=self.max_payload_bytes,
                agents={name: m.address for name, m in members.items()},
                turn_timeouts={name: m.turn_timeout for name, m in members.items()},
                subscribers=list(room.subscribers),
                recover=recover or restart,
            )

        room.service = self.services.start(spec.conversation, RoomRouter, init)
        return room

    def _list(self, message: ListRooms, sender: Any) -> None:
        rooms = [room.info for room in self.rooms.values()]
        self.send(message.reply_to or sender, RoomList(rooms=rooms))

    def _command(self, message: RoomCommand, sender: Any) -> None:
        caller = message.reply_to or sender
        room = self._room(message.room, caller)
        if room is None:
            return
        failed = room.info.state == "failed"
        if failed and message.action == "show":
            self.send(caller, room.info)
        elif failed and message.action == "resume":
            room.info = room.info.model_copy(update={"state": "starting", "ended_reason": ""})
            self.services.revive(room.spec.conversation)
            self.send(room.address, message.model_copy(update={"reply_to": caller}))
        elif message.action not in ("delete", "purge"):
            self._to_router(room, message, caller)
        else:
            del self.rooms[message.room]
            self.services.remove(room.spec.conversation)
            self._journal().remove_room(message.room)
            leaving = Leaving(room, caller, purge=message.action == "purge")
            if failed:  # its router is gone already
                self._left(leaving)
            else:
                self.leaving.append(leaving)
                self.send(room.address, ActorExitRequest())

    def _left(self, leaving: Leaving) -> None:
        """A deleted room's router has exited: purge its history if asked, then answer."""
        room = leaving.room
        if leaving.purge:
            self._journal().purge(room.spec.conversation)
        gone = room.info.model_copy(update={"state": "ended", "busy": [], "pid": None})
        self.send(leaving.caller, gone)

    def _forward(self, message: SetTopology | SetMode | JoinRoom | Approve, sender: Any) -> None:
        caller = message.reply_to or sender
        room = self._room(message.room, caller)
        if room is not None:
            self._to_router(room, message, caller)

    def _forward_send(self, message: Send, sender: Any) -> None:
        caller = message.reply_to or sender
        name = _room_name(message.message.conversation)
        room = self._room(name, caller)
        if room is not None:
            self._to_router(room, message, caller)

    def _subscribe(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        subscriber = message.subscriber or sender
        if isinstance(message, Unsubscribe) and message.conversation is None:
            for name, room in self.rooms.items():  # a subscriber that is gone, from its rooms
                if any(s.subscriber == subscriber for s in room.subscribers):
                    conversation = str(ConversationId.room(name))
                    each = message.model_copy(update={"conversation": conversation})
                    self._subscribe(each, sender)
            return
        name = _room_name(message.conversation or "")
        room = self._room(name, subscriber)
        if room is None:
            return
        addressed = message.model_copy(update={"subscriber": subscriber})
        room.subscribers = [s for s in room.subscribers if s.subscriber != subscriber]
        if isinstance(addressed, Subscribe):
            room.subscribers.append(addressed)
        if room.info.state != "failed":
            self.send(room.address, addressed)
        elif isinstance(addressed, Subscribe):  # fed once the room is resumed
            self.send(subscriber, Subscribed(conversation=addressed.conversation))

    def _to_router(self, room: Room, message: Any, caller: Any) -> None:
        """Pass ``message`` on to the room's router, which answers ``caller``; a failed room
        has none, so ``caller`` hears how to bring it back."""
        if room.info.state == "failed":
            name = room.spec.name
            self.send(
                caller,
                ErrorReply(
                    code="room_closed",
                    error=f"room {name} failed: {room.info.ended_reason}",
                    hint=f"orchestration room resume {name} (it restarts from the journal)",
                ),
            )
            return
        self.send(room.address, message.model_copy(update={"reply_to": caller}))

    def _room(self, name: str, caller: Any) -> Room | None:
        """Room ``name``, or None after telling ``caller`` there is no such room."""
        room = self.rooms.get(name)
        if room is None:
            known = ", ".join(sorted(self.rooms)) or "none yet"
            self.send(
                caller,
                ErrorReply(
                    code="unknown_room",
                    error=f"no room named {name!r} (rooms: {known})",
                    hint="create it: orchestration room create NAME --agents a,b",
                ),
            )
        return room

    # --- what the routers and the root report ------------------------------------------------

    def _report(self, message: RoomReport, sender: Any) -> None:
        room = self.rooms.get(message.info.spec.name)
        if room is not None and room.address == sender:
            room.info = message.info

    def _member_moved(self, message: MemberMoved, sender: Any) -> None:
        self.members[message.name] = message
        for room in self.rooms.values():
            if message.name in room.spec.agents:
                self.send(room.address, message)

    def _heartbeat(self, message: WakeupMessage, sender: Any) -> None:
        """Check the rooms' routers, and the root above: nobody else pings the root, so a root
        that stops answering (``SIGSTOP``, a hang) is killed here, and the admin starts a new
        one (as Erlang's ``heart`` does for a node)."""
        if message.payload != _HEALTH or self.health is None or self.root_health is None:
            return
        for service, reason in self.services.check(self.health):
            self._router_gone(service.address, reason)
        action, reason = self.root_health.check(ROOT, os.getppid())
        if action is Action.PING:
            self.send(self.parent, Ping())
        elif action is Action.KILL:
            log.error("the root: %s; killing it so the admin starts a new one", reason)
            kill_pid(os.getppid())
        self.wakeupAfter(self.health.interval, payload=_HEALTH)

    def _pong(self, message: Pong, sender: Any) -> None:
        if sender == self.parent and self.root_health is not None:
            self.root_health.answered(ROOT)
        else:
            self.services.answered(self.health, message, sender)

    def _child_exited(self, message: ChildActorExited, sender: Any) -> None:
        leaving = next((x for x in self.leaving if x.room.address == message.childAddress), None)
        if leaving is not None:
            self.leaving.remove(leaving)
            self._left(leaving)
            return
        self._router_gone(message.childAddress, UNEXPECTED_EXIT)

    def _router_gone(self, address: Any, why: str) -> None:
        """A router died (or was killed, not answering): start a new one from the journal,
        unless it dies too often."""
        room = next((r for r in self.rooms.values() if r.address == address), None)
        if room is None:
            return
        service = self.services.exited(address, why)
        assert service is not None and service is room.service
        if not service.given_up:
            log.warning("room %s's router died; restarting it from the journal", room.spec.name)
            return
        reason = f"its router died more than {ROOM_INTENSITY} times within {ROOM_PERIOD} s"
        room.info = room.info.model_copy(update={"state": "failed", "ended_reason": reason})
        held, service.held = service.held, []
        for stranded in held:
            self._redeliver(room, stranded)
        failed = Envelope(
            conversation=room.spec.conversation,
            sender=SYSTEM_SENDER,
            kind="event",
            event="room_failed",
            content=f"room {room.spec.name} failed: {reason}",
            data={"reason": reason},
        )
        self._journal().append(failed)
        for subscription in room.subscribers:
            self.send(subscription.subscriber, failed)

    def _dead_letter(self, message: DeadEnvelope, sender: Any) -> None:
        """A message reached a room's router after it died (in the few ms before its exit
        notice; the root passes the dead letters of the rooms' routers on): give it to the
        router that replaces it, so no caller waits in vain."""
        service = self.services.owner_of(message.deadAddress)
        room = self.rooms.get(_room_name(service.name)) if service else None
        if service is None or room is None:
            return
        if not self.services.hold_or_pass(service, message.deadMessage, message.deadAddress):
            self._redeliver(room, message.deadMessage)

    def _redeliver(self, room: Room, message: Any) -> None:
        """Send a dead letter on to the room's live router; of a failed room, answer its
        caller (if it has one) with the fix."""
        if room.info.state != "failed":
            self.send(room.address, message)
        elif getattr(message, "reply_to", None) is not None:
            self._to_router(room, message, message.reply_to)

    def _journal(self) -> Journal:
        assert self.journal is not None, "the rooms supervisor used before InitRooms"
        return self.journal


def _room_name(conversation: str) -> str:
    """The room whose conversation is ``conversation`` (which is itself, if it is no room's)."""
    found = ConversationId.try_parse(conversation)
    return found.name if found is not None and found.kind == "room" else conversation
