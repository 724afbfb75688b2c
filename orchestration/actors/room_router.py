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
"""

from __future__ import annotations

import logging
import os
import time
from itertools import takewhile
from typing import Any

from thespian.actors import ActorExitRequest, WakeupMessage

from orchestration.actors.service import ServiceActor
from orchestration.actors.subscribers import FLUSH, Subscriber, Subscribers
from orchestration.actors.turn_core import TurnWatchdog, failure_record
from orchestration.journal import Journal, within_bytes
from orchestration.messages import (
    SYSTEM_SENDER,
    Approve,
    Cancel,
    Deliver,
    Envelope,
    ErrorReply,
    EventName,
    InitRoom,
    JoinRoom,
    Member,
    MemberMoved,
    Pending,
    Ping,
    RoomCommand,
    RoomInfo,
    RoomReport,
    RoomSpec,
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
    new_id,
)
from orchestration.topologies.floor import Floor, Grant
from orchestration.topologies.room_replay import replay
from orchestration.topologies.routing import Topology, TopologyError, load_topology, route
from orchestration.topologies.turn_policy import SELF_SELECT_INSTRUCTIONS, is_pass, mentions

log = logging.getLogger(__name__)

_COOLDOWN = "cooldown"
_IDLE = "idle"
_REPORT = "report"
REPORT_SECONDS = 0.2


class RoomRouter(ServiceActor):
    """Journals, routes and grants the turns of one room."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec: RoomSpec | None = None
        self.supervisor: Any = None
        self.topology: Topology | None = None
        self.journal: Journal | None = None
        self.max_chars = 0
        self.max_payload_bytes = 0
        self.state = "active"
        self.ended_reason = ""
        self.floor = Floor(agents=(), turn_limit=0)
        self.pending: list[Pending] = []
        self.addresses: dict[str, Any] = {}
        self.turn_timeouts: dict[str, float | None] = {}
        self.watchdog = TurnWatchdog()
        self.last_activity = time.monotonic()
        self.cooldown_armed = False
        self.report_due = False
        self.subscribers = Subscribers(coalesce=True)
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

    # --- what members say --------------------------------------------------------------------

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

    def _address(self, envelope: Envelope) -> Envelope:
        """``envelope`` addressed by its leading ``@name``s, if it names no recipients."""
        if envelope.recipients:
            return envelope
        spec = self._spec()
        names = [m.name for m in spec.members] + [g for m in spec.members for g in m.groups]
        return envelope.model_copy(update={"recipients": mentions(envelope.content, names)})

    def _post(self, envelope: Envelope, *extra: Envelope) -> Envelope:
        """Route ``envelope``, journal it (with ``extra`` records, in one transaction), then
        publish it and hand it to the agents that heard it."""
        spec = self._spec()
        assert self.topology is not None
        members = list(spec.members)
        delivered = route(self.topology, envelope, members, name=spec.topology)
        journaled = envelope.model_copy(
            update={"delivered_to": tuple(delivered), "topology": {"name": spec.topology}}
        )
        self._journal().append_many([journaled, *extra])
        for record in (journaled, *extra):
            self.subscribers.publish(self, record)
        self.floor.hear(journaled)
        self.last_activity = time.monotonic()
        return journaled

    def _after_post(self, message: Envelope) -> None:
        """What a journaled message sets off: the end of the room (stop phrase), the end of
        a wait for input, and the turns of the agents that answer it."""
        spec = self._spec()
        from_human = message.sender in spec.humans
        if from_human:
            self._close_input()
        phrase = spec.stop_phrase
        if phrase and phrase.lower() in message.content.lower():
            self._end("stop_phrase", f"{message.sender} said the stop phrase {phrase!r}")
            return
        if spec.mode != "prompted" or from_human:
            self.floor.grant(spec.respond, message)
        self._pump()

    # --- granting turns ----------------------------------------------------------------------

    def _pump(self) -> None:
        """Start every waiting turn that may start now: the room is active, the agent is up,
        free and cooled down, and the turn budget allows it."""
        if self.state == "active":
            ready, cooling = self.floor.startable(
                lambda agent: self.addresses.get(agent) is not None, time.monotonic()
            )
            for agent in ready:
                self._start(self.floor.start(agent))
            if cooling is not None and not self.cooldown_armed:
                self.cooldown_armed = True
                self.wakeupAfter(cooling, payload=_COOLDOWN)
        self._check_quiet()

    def _start(self, grant: Grant) -> None:
        """Send the agent its turn, with what it heard before the message (or, afresh, its
        whole view from the journal's delivery records)."""
        spec = self._spec()
        heard = grant.heard
        if heard is None:
            view = self._journal().room_view(spec.conversation, grant.agent)
            before = list(takewhile(lambda m: m.id != grant.trigger.id, view))
            heard = within_bytes(before, self.max_payload_bytes, newest=True)
        observed = self.subscribers.count(stream=True) > 0
        self.send(
            self.addresses[grant.agent],
            Deliver(
                message=grant.trigger,
                turn_id=grant.turn_id,
                reply_to=self.myAddress if observed else None,
                router=self.myAddress,
                context=tuple((m.sender, m.content) for m in heard),
                fresh=grant.heard is None,
                instructions=SELF_SELECT_INSTRUCTIONS if spec.respond == "self_select" else "",
            ),
        )
        self._report()

    # --- the agents' turns -------------------------------------------------------------------

    def _delta(self, message: TurnStarted | TurnDelta, sender: Any) -> None:
        if self.floor.is_running(message.agent, message.turn_id):
            if isinstance(message, TurnStarted):
                timeout = self.turn_timeouts.get(message.agent)
                self.watchdog.arm(self, message.agent, message.turn_id, timeout)
            self.subscribers.publish(self, message)

    def _stuck(self, agent: str, turn_id: str, seconds: float) -> None:
        """``agent``'s turn ran past its turn_timeout: it fails now with ``timeout``, and the
        agent's supervisor (which the rooms supervisor reaches) kills and restarts it."""
        if not self.floor.is_running(agent, turn_id):
            return
        self.watchdog.report(self, self.supervisor, agent, turn_id, seconds)
        failure = TurnFailed(
            turn_id=turn_id,
            agent=agent,
            conversation=self._spec().conversation,
            kind="timeout",
            error=f"agent {agent}'s turn ran past its turn_timeout of {seconds:g} s",
            retryable=True,
        )
        self._fail_turn(agent, failure)

    def _finished(self, message: TurnFinished, sender: Any) -> None:
        if not self.floor.is_running(message.agent, message.turn_id):
            return
        reply = message.message
        spec = self._spec()
        passed = spec.respond == "self_select" and is_pass(reply.content)
        running = self.floor.end_turn(message.agent, time.monotonic(), counts=not passed)
        self.subscribers.publish(self, message)
        if passed:
            self._event(
                "turn_passed",
                f"{message.agent} passed",
                agent=message.agent,
                turn_id=message.turn_id,
                in_reply_to=running.trigger.id,
            )
        elif spec.mode == "moderated":
            self._hold(message.agent, reply)
        else:
            self._speak(reply)
        self._after_turn()

    def _speak(self, reply: Envelope) -> None:
        """Journal and deliver an agent's reply, and grant the turns it sets off."""
        try:
            journaled = self._post(self._address(reply))
        except TopologyError as exc:
            journaled = reply.model_copy(update={"delivered_to": ()})
            self._journal().append(journaled)
            self._event("topology_error", f"{exc.message}; {exc.hint}", message=reply.id)
            return
        if self.state != "ended":
            self._after_post(journaled)

    def _failed(self, message: TurnFailed, sender: Any) -> None:
        if message.agent_exiting:
            self.addresses[message.agent] = None
        if self.floor.is_running(message.agent, message.turn_id):
            self._fail_turn(message.agent, message)

    def _fail_turn(self, agent: str, failure: TurnFailed) -> None:
        """Record ``agent``'s turn as failed (it counts as a turn) and move on."""
        running = self.floor.end_turn(agent, time.monotonic())
        self.subscribers.publish(self, failure)
        record = failure_record(self._spec().conversation, failure, running.trigger.id)
        self._journal().append(record)
        self.subscribers.publish(self, record)
        if self._spec().respond == "round_robin" and self.state == "active":
            self.floor.grant("round_robin", running.trigger)  # the floor goes to the next agent
        self._after_turn()

    def _after_turn(self) -> None:
        floor = self.floor
        if self.state != "ended" and floor.turns >= floor.turn_limit and not floor.running:
            self._end("max_turns", f"{floor.turns} turns taken (max_turns {floor.turn_limit})")
        self._pump()
        self._report()

    def _member_moved(self, message: MemberMoved, sender: Any) -> None:
        """An agent came up at a new address (its view there is only its direct one, so its
        next turn gets the room afresh), or went down (its turn here fails)."""
        if message.name not in self.addresses:
            return
        self.addresses[message.name] = message.address
        self.turn_timeouts[message.name] = message.turn_timeout
        if message.address is not None:
            self.floor.fresh.add(message.name)
        running = self.floor.running.get(message.name)
        if running is not None and message.address is None:
            failure = TurnFailed(
                turn_id=running.turn_id,
                agent=message.name,
                conversation=self._spec().conversation,
                kind="internal",
                error=f"agent {message.name} went down: {message.reason}",
                retryable=True,
            )
            self._fail_turn(message.name, failure)
        self._pump()

    # --- humans: approvals and input ---------------------------------------------------------

    def _hold(self, agent: str, reply: Envelope) -> None:
        """Moderated: keep ``reply`` as a draft until a human approves, edits or skips it."""
        opened = new_id()  # the pause is known by the id of the event that opens it
        pending = Pending(id=opened, kind="approval", agent=agent, content=reply.content)
        self.pending.append(pending)
        self._event(
            "approval_needed",
            f"{agent}'s reply waits for approval: {reply.content}",
            record_id=opened,
            pending=pending.model_dump(mode="json"),
            reply=reply.model_dump(mode="json"),
        )

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

    def _check_quiet(self) -> None:
        """Prompted: once a round is over, wait (journaled) for a human's message."""
        if (
            self._spec().mode == "prompted"
            and self.state == "active"
            and not self.floor.running
            and not self.floor.waiting
            and not self.pending
        ):
            opened = self._event("input_needed", "the agents wait for a human's message")
            self.pending.append(Pending(id=opened.id, kind="input"))
            self._report()

    def _close_input(self) -> None:
        self.pending = [p for p in self.pending if p.kind != "input"]

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

    def _cancel_running(self) -> None:
        for agent, running in self.floor.running.items():
            address = self.addresses.get(agent)
            if address is not None:
                self.send(address, Cancel(turn_id=running.turn_id))

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

    def _change(self, **fields: Any) -> None:
        """Change the spec, save it, and tell the supervisor (a restart keeps the change)."""
        self.spec = self._spec().model_copy(update=fields)
        self._journal().save_room(self.spec)
        self._send_report()

    def _end(self, reason: str, detail: str) -> None:
        self.state, self.ended_reason = "ended", reason
        self.floor.waiting.clear()
        self._close_input()
        self._event(
            "conversation_ended",
            f"conversation ended ({reason}): {detail}",
            reason=reason,
            turns=self.floor.turns,
        )
        self._report()

    # --- timers ------------------------------------------------------------------------------

    def _on_wakeup(self, message: WakeupMessage, sender: Any) -> None:
        if message.payload == _COOLDOWN:
            self.cooldown_armed = False
            self._pump()
        elif message.payload == _IDLE:
            self._idle_check()
        elif message.payload == _REPORT:
            self._send_report()
        elif message.payload == FLUSH:
            self.subscribers.flush(self)
        elif (expired := self.watchdog.expired(message.payload)) is not None:
            self._stuck(*expired)

    def _arm_idle(self) -> None:
        timeout = self._spec().idle_timeout
        if timeout is not None:
            self.wakeupAfter(timeout, payload=_IDLE)

    def _idle_check(self) -> None:
        timeout = self._spec().idle_timeout
        if timeout is None or self.state == "ended":
            return
        quiet = time.monotonic() - self.last_activity
        if quiet >= timeout and not self.floor.running:
            self._end("idle", f"nothing said for {timeout:g} s")
        else:
            self.wakeupAfter(max(timeout - quiet, 0.05), payload=_IDLE)

    # --- reports -----------------------------------------------------------------------------

    def _event(
        self, event: EventName, content: str, *, record_id: str | None = None, **data: Any
    ) -> Envelope:
        """Journal an event of the room, then publish it."""
        record = self._record(event, content, **data)
        if record_id is not None:
            record = record.model_copy(update={"id": record_id})
        self._journal().append(record)
        self.subscribers.publish(self, record)
        return record

    def _record(self, event: EventName, content: str, **data: Any) -> Envelope:
        in_reply_to = data.pop("in_reply_to", None)
        return Envelope(
            conversation=self._spec().conversation,
            sender=SYSTEM_SENDER,
            kind="event",
            event=event,
            content=content,
            in_reply_to=in_reply_to,
            data=data,
        )

    def _info(self) -> RoomInfo:
        return RoomInfo(
            spec=self._spec(),
            state=self.state,  # type: ignore[arg-type]
            turns=self.floor.turns,
            ended_reason=self.ended_reason,
            pending=list(self.pending),
            busy=list(self.floor.running),
            queued=self.floor.queued(),
            pid=os.getpid(),
        )

    def _report(self) -> None:
        """Tell the supervisor the room's state, at most every `REPORT_SECONDS` (a busy room
        changes state with every turn)."""
        if not self.report_due:
            self.report_due = True
            self.wakeupAfter(REPORT_SECONDS, payload=_REPORT)

    def _send_report(self) -> None:
        self.report_due = False
        self.send(self.supervisor, RoomReport(info=self._info()))

    def _closed(self) -> ErrorReply:
        return ErrorReply(
            code="room_closed",
            error=f"the conversation in room {self._name} ended ({self.ended_reason})",
            hint=f"orchestration room resume {self._name} (it gets {self._spec().max_turns}"
            " more turns)",
        )

    def _nothing_pending(self, wanted: str | None) -> ErrorReply:
        which = f"pending {wanted!r}" if wanted else "reply"
        waiting = [p.id for p in self.pending if p.kind == "approval"]
        return ErrorReply(
            code="nothing_pending",
            error=f"no {which} waits for approval in room {self._name}",
            hint=f"waiting: {', '.join(waiting)}" if waiting else "nothing waits; see room show",
        )

    def _feed(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        self.subscribers.handle(self, message, sender)

    def _spec(self) -> RoomSpec:
        assert self.spec is not None, "room used before InitRoom"
        return self.spec

    def _journal(self) -> Journal:
        assert self.journal is not None, "room used before InitRoom"
        return self.journal

    @property
    def _name(self) -> str:
        return self.spec.name if self.spec else "?"
