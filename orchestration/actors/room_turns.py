"""A room's turns: what is said is routed, journaled and delivered, then the floor grants the
turns it sets off, and each agent's turn streams, ends (a reply, a pass, a draft in moderated
mode) or fails.

`RoomTurns` is the middle of `orchestration.actors.room_router.RoomRouter` (see there); the
bookkeeping is the pure `orchestration.topologies.floor.Floor`.
"""

from __future__ import annotations

import time
from itertools import takewhile
from typing import Any

from orchestration.actors.room_records import COOLDOWN, RoomRecords
from orchestration.actors.turn_core import failure_record
from orchestration.journal import within_bytes
from orchestration.messages import (
    Cancel,
    Deliver,
    Envelope,
    MemberMoved,
    Pending,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    new_id,
)
from orchestration.topologies.floor import Grant
from orchestration.topologies.routing import TopologyError, route
from orchestration.topologies.turn_policy import SELF_SELECT_INSTRUCTIONS, is_pass, mentions

__all__ = ["RoomTurns"]


class RoomTurns(RoomRecords):
    """Routes and journals what is said in one room, and grants and follows its turns."""

    # --- what members say --------------------------------------------------------------------

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
                self.wakeupAfter(cooling, payload=COOLDOWN)
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

    def _cancel_running(self) -> None:
        for agent, running in self.floor.running.items():
            address = self.addresses.get(agent)
            if address is not None:
                self.send(address, Cancel(turn_id=running.turn_id))

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
