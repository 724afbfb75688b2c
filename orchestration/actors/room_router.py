"""A room's router: one actor per multi-member conversation, its only writer.

Every message said in the room reaches the router. It picks who receives it (the room's
topology), journals it with that delivery set, and only then delivers it: humans and observers
get it from their subscription, and each agent gets what it heard with its next turn (`Deliver`
``context``), so its view is whole whenever it speaks. Then the respond policy decides which
agents take a turn on it (see `orchestration.topologies.turn_policy`).

Turns are the router's, never the agents' (the bookkeeping is the pure `Floor`): at most one
per agent at a time (more wait, in order, and an agent's waiting turns merge into one on its
latest message), ``cooldown`` seconds between two turns of an agent, and ``max_turns`` in
all. A stop phrase, an explicit
stop, the turn budget and the idle timeout each end the conversation with a
``conversation_ended`` event giving the reason, so two agents that always answer each other
stop by policy.

Humans: in ``moderated`` mode an agent's reply is a draft until a human approves, edits or
skips it; in ``prompted`` mode only a human's message gets the agents talking, and between
rounds the room waits for one. Both waits are journaled pauses (`Pending`): they survive a
restart of the router or the daemon, and answering one never runs a turn again.

A restarted router rebuilds its state from the journal (`orchestration.topologies.room_replay`)
and grants again the turns of the last message nobody answered.

The router is built in three layers: `orchestration.actors.room_records` (its state, events and
reports), `orchestration.actors.room_turns` (routing and the turns) and this module (its life,
the humans' messages and approvals, the commands and the timers).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.room_records import COOLDOWN, IDLE, REPORT
from orchestration.actors.room_turns import RoomTurns
from orchestration.actors.subscribers import FLUSH, Subscriber
from orchestration.journal import Journal
from orchestration.messages import (
    Approve,
    Envelope,
    ErrorReply,
    InitRoom,
    JoinRoom,
    Member,
    MemberMoved,
    Pending,
    Ping,
    RoomCommand,
    Send,
    SetMode,
    SetTopology,
    Subscribe,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    Unsubscribe,
    content_problem,
)
from orchestration.topologies.floor import Floor
from orchestration.topologies.room_replay import replay
from orchestration.topologies.routing import TopologyError, load_topology

__all__ = ["RoomRouter"]

log = logging.getLogger(__name__)


class RoomRouter(RoomTurns):
    """Journals, routes and grants the turns of one room."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handlers = {
            InitRoom: self._init,
            Send: self._say,
            TurnStarted: self._delta,
            TurnDelta: self._delta,
            TurnFinished: self._finished,
            TurnFailed: self._failed,
            MemberMoved: self._member_moved,
            RoomCommand: self._command,
            SetTopology: self._set_topology,
            SetMode: self._set_mode,
            JoinRoom: self._join,
            Approve: self._approve,
            Subscribe: self._feed,
            Unsubscribe: self._feed,
            WakeupMessage: self._on_wakeup,
            ActorExitRequest: self._on_exit,
            Ping: self.answer_ping,
        }

    def on_handler_error(self, error: Exception, message: Any, sender: Any) -> None:
        self.answer_error(error, message, sender, f"room {self._name}'s router")

    # --- lifecycle ---------------------------------------------------------------------------

    def _init(self, message: InitRoom, sender: Any) -> None:
        self.started(sender, "room", message.spec.conversation)
        self.supervisor = sender
        spec = self.spec = message.spec
        self.topology = load_topology(spec.topology)
        self.journal = Journal(message.journal_path)
        self.max_chars = message.max_message_chars
        self.max_payload_bytes = message.max_payload_bytes
        self.addresses = {name: message.agents.get(name) for name in spec.agents}
        self.turn_timeouts = {name: message.turn_timeouts.get(name) for name in spec.agents}
        self.floor = Floor(agents=spec.agents, turn_limit=spec.max_turns, cooldown=spec.cooldown)
        for subscription in message.subscribers:
            self.subscribers.add(Subscriber(subscription.subscriber, subscription.stream))
        if message.recover:
            self._recover()
        else:
            self._event("room_created", f"room {spec.name} created", spec=spec.model_dump())
        self._arm_idle()
        self._report()

    def _recover(self) -> None:
        """Take up the room where the journal says it was; every agent's next turn gets its
        whole view, and the last unanswered message gets its turns again."""
        spec = self._spec()
        found = replay(spec, [e for _, e in self._journal().history(spec.conversation)])
        self.floor.turns, self.floor.turn_limit = found.turns, found.turn_limit
        self.floor.last_speaker, self.floor.fresh = found.last_speaker, set(spec.agents)
        self.state, self.ended_reason, self.pending = found.state, found.ended_reason, found.pending
        self._event("room_restarted", f"room {spec.name} restarted; it goes on from the journal")
        if found.unanswered is not None and self.state != "ended":
            self.floor.grant(spec.respond, found.unanswered)
            self._pump()

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        self._cancel_running()
        self.subscribers.flush(self)  # what waited to be coalesced (the conversation's end)
        if self.journal is not None:
            self.journal.close()

    # --- what humans say ---------------------------------------------------------------------

    def _say(self, message: Send, sender: Any) -> None:
        caller = message.reply_to or sender
        problem = self._check(message.message)
        if problem is not None:
            self.send(caller, problem)
            return
        if self.state == "ended":
            self.send(caller, self._closed())
            return
        envelope = self._address(message.message)
        try:
            journaled = self._post(envelope)
        except TopologyError as exc:
            self.send(caller, ErrorReply(code="invalid_room", error=exc.message, hint=exc.hint))
            return
        self.send(caller, journaled)
        self._after_post(journaled)

    def _check(self, envelope: Envelope) -> ErrorReply | None:
        spec = self._spec()
        names = {member.name for member in spec.members}
        groups = {group for member in spec.members for group in member.groups}
        human = next((m for m in spec.members if m.name == envelope.sender), None)
        if human is None or human.kind != "human":
            return ErrorReply(
                code="invalid_message",
                error=f"{envelope.sender!r} is not a human member of room {spec.name}"
                f" (humans: {', '.join(spec.humans) or 'none'})",
                hint=f"join first: orchestration join {spec.name} --as {envelope.sender}",
            )
        unknown = sorted(set(envelope.recipients) - names - groups)
        if unknown:
            return ErrorReply(
                code="invalid_message",
                error=f"{unknown} are not members or groups of room {spec.name}",
                hint=f"address members: {', '.join(sorted(names))}",
            )
        problem = content_problem(envelope.content, self.max_chars)
        if problem is not None:
            return ErrorReply(code="invalid_message", error=problem[0], hint=problem[1])
        return None

    # --- humans: approvals -------------------------------------------------------------------

    def _approve(self, message: Approve, sender: Any) -> None:
        caller = message.reply_to or sender
        approvals = [p for p in self.pending if p.kind == "approval"]
        chosen = next((p for p in approvals if message.pending in (None, p.id)), None)
        if chosen is None:
            self.send(caller, self._nothing_pending(message.pending))
            return
        reply = self._draft(chosen)
        self.pending.remove(chosen)
        given = self._record(
            "approval_given",
            f"{message.by} chose {message.action} for {chosen.agent}'s reply",
            pending=chosen.id,
            action=message.action,
            by=message.by,
        )
        if message.action == "skip":
            self._journal().append(given)
            self.subscribers.publish(self, given)
            self.floor.fresh.add(chosen.agent)  # its view holds a reply nobody heard
        else:
            content = message.content if message.action == "edit" else chosen.content
            if message.action == "edit":
                self.floor.fresh.add(chosen.agent)
            moderation = "edited" if message.action == "edit" else "approved"
            approved = reply.model_copy(
                update={"content": content, "data": {**reply.data, "moderation": moderation}}
            )
            journaled = self._post(self._address(approved), given)
            if self.state != "ended":
                self._after_post(journaled)
        self.send(caller, self._info())
        self._pump()
        self._report()

    def _draft(self, pending: Pending) -> Envelope:
        """The agent's reply held by ``pending``, from its journaled ``approval_needed``."""
        for _, event in reversed(self._journal().history(self._spec().conversation)):
            if event.event == "approval_needed" and event.data["pending"]["id"] == pending.id:
                return Envelope.model_validate(event.data["reply"])
        raise LookupError(f"no journaled draft for pending {pending.id}")

    # --- commands ----------------------------------------------------------------------------

    def _command(self, message: RoomCommand, sender: Any) -> None:
        caller = message.reply_to or sender
        if message.action == "pause" and self.state == "active":
            self.state = "paused"
            self._event("room_paused", f"room {self._name} paused")
        elif message.action == "resume" and self.state in ("paused", "ended"):
            if self.state == "ended":
                self.floor.turn_limit = self.floor.turns + self._spec().max_turns
            self.state, self.ended_reason = "active", ""
            self._event(
                "room_resumed", f"room {self._name} resumed", turn_limit=self.floor.turn_limit
            )
            self._pump()
        elif message.action == "stop" and self.state != "ended":
            self._end("stopped", "stopped by a command")
            self._cancel_running()
        self.send(caller, self._info())
        self._report()

    def _set_topology(self, message: SetTopology, sender: Any) -> None:
        caller = message.reply_to or sender
        try:
            self.topology = load_topology(message.topology)
        except TopologyError as exc:
            self.send(caller, ErrorReply(code="invalid_room", error=exc.message, hint=exc.hint))
            return
        before = self._spec().topology
        self._change(topology=message.topology)
        self._event(
            "topology_changed",
            f"topology {before} -> {message.topology}",
            before=before,
            after=message.topology,
        )
        self.send(caller, self._info())

    def _set_mode(self, message: SetMode, sender: Any) -> None:
        before = self._spec().mode
        self._change(mode=message.mode)
        self._event("mode_changed", f"mode {before} -> {message.mode}", before=before)
        if before == "prompted":
            self._close_input()
        self._pump()
        self.send(message.reply_to or sender, self._info())

    def _join(self, message: JoinRoom, sender: Any) -> None:
        spec = self._spec()
        member = next((m for m in spec.members if m.name == message.human), None)
        if member is not None and member.kind != "human":
            error = ErrorReply(
                code="invalid_room",
                error=f"{message.human!r} is an agent of room {spec.name}, not a human",
                hint="join under another name: --as NAME",
            )
            self.send(message.reply_to or sender, error)
            return
        if member is None:
            self._change(members=(*spec.members, Member(name=message.human, kind="human")))
            self._event("member_joined", f"{message.human} joined", member=message.human)
        self.send(message.reply_to or sender, self._info())

    # --- timers ------------------------------------------------------------------------------

    def _on_wakeup(self, message: WakeupMessage, sender: Any) -> None:
        if message.payload == COOLDOWN:
            self.cooldown_armed = False
            self._pump()
        elif message.payload == IDLE:
            self._idle_check()
        elif message.payload == REPORT:
            self._send_report()
        elif message.payload == FLUSH:
            self.subscribers.flush(self)
        elif (expired := self.watchdog.expired(message.payload)) is not None:
            self._stuck(*expired)

    def _arm_idle(self) -> None:
        timeout = self._spec().idle_timeout
        if timeout is not None:
            self.wakeupAfter(timeout, payload=IDLE)

    def _idle_check(self) -> None:
        timeout = self._spec().idle_timeout
        if timeout is None or self.state == "ended":
            return
        quiet = time.monotonic() - self.last_activity
        if quiet >= timeout and not self.floor.running:
            self._end("idle", f"nothing said for {timeout:g} s")
        else:
            self.wakeupAfter(max(timeout - quiet, 0.05), payload=IDLE)
