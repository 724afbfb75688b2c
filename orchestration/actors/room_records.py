"""A room router's state, and what it journals and reports: the room's events, its `RoomInfo`
for the rooms supervisor (at most every `REPORT_SECONDS`), changes to its spec, and its end.

`RoomRecords` is the base of `orchestration.actors.room_router.RoomRouter` (see there); it holds
what the turns (`orchestration.actors.room_turns`) and the commands share.
"""

from __future__ import annotations

import os
import time
from typing import Any

from orchestration.actors.service import ServiceActor
from orchestration.actors.subscribers import Subscribers
from orchestration.actors.turn_core import TurnWatchdog
from orchestration.journal import Journal
from orchestration.messages import (
    SYSTEM_SENDER,
    Envelope,
    ErrorReply,
    EventName,
    Pending,
    RoomInfo,
    RoomReport,
    RoomSpec,
    RoomState,
    Subscribe,
    Unsubscribe,
)
from orchestration.topologies.floor import Floor
from orchestration.topologies.routing import Topology

__all__ = ["COOLDOWN", "IDLE", "REPORT", "REPORT_SECONDS", "RoomRecords"]

COOLDOWN = "cooldown"
IDLE = "idle"
REPORT = "report"
"""The payloads of the router's timers."""
REPORT_SECONDS = 0.2


class RoomRecords(ServiceActor):
    """The state of one room's router, and the records and reports it writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec: RoomSpec | None = None
        self.supervisor: Any = None
        self.topology: Topology | None = None
        self.journal: Journal | None = None
        self.max_chars = 0
        self.max_payload_bytes = 0
        self.state: RoomState = "active"
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

    # --- state and reports -------------------------------------------------------------------

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
            state=self.state,
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
            self.wakeupAfter(REPORT_SECONDS, payload=REPORT)

    def _send_report(self) -> None:
        self.report_due = False
        self.send(self.supervisor, RoomReport(info=self._info()))

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
