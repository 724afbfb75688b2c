"""`Connection`: what every call of the `Runtime` stands on: its endpoint to the actor system,
asks of the root (found again when it was replaced), asks of the rooms supervisor (located
through the root, and again when it was restarted), the gateway link, and journal pages (read
straight from the journal).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self

from thespian.actors import ActorSystem

from orchestration.conversation_ids import EVENTS_CONVERSATION
from orchestration.daemon.actor_system import find_root
from orchestration.errors import DaemonError
from orchestration.gateway.link import GatewayLink
from orchestration.interrupts import private
from orchestration.journal import Journal
from orchestration.messages import (
    Approve,
    CreateRoom,
    Envelope,
    ErrorReply,
    GatewayAddress,
    History,
    HistoryPage,
    JoinRoom,
    ListRooms,
    LocateGateway,
    LocateRooms,
    RoomCommand,
    RoomsAddress,
    Send,
    SetMode,
    SetTopology,
    content_problem,
)
from orchestration.runtime.pages import history_page
from orchestration.settings import Settings
from orchestration.streams import EndpointPool, OrchestrationError

__all__ = ["ANSWERED_BY", "ROOT_RETRY", "Connection", "about_agents"]

ROOT_RETRY = 0.05
"""Seconds between two attempts to reach a root (or a rooms supervisor) that was just
replaced."""


class Connection:
    """A connection to the running actor system (`Runtime` adds the calls)."""

    def __init__(self, settings: Settings, asys: ActorSystem, root: Any, started: bool) -> None:
        self.settings = settings
        self.started = started
        self._asys = asys
        self._root = root
        self._rooms: Any = None
        """The rooms supervisor's address, once asked of the root."""
        self._journal: Journal | None = None
        self._journal_lock = threading.Lock()
        self._link: GatewayLink | None = None
        self._link_lock = threading.Lock()
        self._endpoints = EndpointPool(asys)

    def close(self) -> None:
        """Detach from the actor system; the daemon keeps running.

        (``ActorSystem.shutdown()`` would stop the whole system, so this closes only this
        process's endpoint.)
        """
        if self._link is not None:
            self._link.close()
            self._link = None
        self._endpoints.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._asys is not None:
            self._asys._systemBase.transport.close()
            self._asys = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def conversation_page(
        self,
        conversation: str,
        *,
        limit: int = 200,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """A page of any conversation's journal, by its id (``dm:NAME``, ``room:NAME``,
        ``workflow:NAME:RUN``): the first ``limit`` messages after ``after_seq`` (or after
        message ``after_id``), or with ``newest`` the last ``limit``; see `History`. Read
        from the journal, not asked of the tree."""
        request = History(
            conversation=conversation,
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )
        with self._journal_lock:
            if self._journal is None:
                self._journal = Journal(self.settings.journal_path, read_only=True)
            journal = self._journal
        return history_page(journal, request, self.settings.max_payload_bytes)

    def link(self) -> GatewayLink:
        """This process's link to the gateway actor (opened on first use, and again after
        the gateway dropped it)."""
        with self._link_lock:
            if self._link is None or not self._link.alive:
                gateway = self._ask(LocateGateway(), GatewayAddress).address
                self._link = GatewayLink(self._asys, gateway)
            return self._link

    def _check_text(self, text: str) -> None:
        problem = content_problem(text, self.settings.max_message_chars)
        if problem is not None:
            raise OrchestrationError("invalid_message", *problem)

    def _ask(
        self, message: Any, expected: type, *, timeout: float | None = None, to: Any = None
    ) -> Any:
        """Ask the root (or ``to``) and return its reply of type ``expected``; a refusal or
        no answer within ``timeout`` (default: the ``request_timeout`` setting) raises."""
        timeout = timeout or self.settings.request_timeout
        relocate = self._find_root if to is None else None
        reply = self._ask_relocating(to or self._root, message, timeout, relocate)
        who = "the gateway" if to is not None else ANSWERED_BY.get(type(message), "the root")
        return self._checked(reply, message, expected, timeout, who)

    def _ask_rooms(self, message: Any, expected: type) -> Any:
        """Ask the rooms supervisor (or the room's router, to which it passes ``message``) and
        return its reply of type ``expected``, as `_ask` does; after a restart of the rooms
        supervisor, ask the root where the new one is (see `_ask_relocating`)."""
        timeout = self.settings.request_timeout
        rooms = self._rooms if self._rooms is not None else self._locate_rooms()
        reply = self._ask_relocating(rooms, message, timeout, self._locate_rooms)
        return self._checked(reply, message, expected, timeout, ANSWERED_BY[type(message)])

    def _ask_relocating(
        self, to: Any, message: Any, timeout: float, relocate: Callable[[], Any] | None
    ) -> Any:
        """Ask ``to``; its reply, or None after ``timeout``. A send to a dead root or rooms
        supervisor fails at once (the admin or the root is starting a new one: see
        `orchestration.admin_hooks` and `RootServices`), so while time is left, ``relocate``
        finds the new one and it is asked."""
        if self._asys is None:
            raise DaemonError("this Runtime is closed", hint="call Runtime.connect() again")
        deadline = time.monotonic() + timeout
        with private(self._asys) as endpoint:
            reply = endpoint.ask(to, message, timeout)
            while (
                reply is None and relocate is not None and time.monotonic() < deadline - ROOT_RETRY
            ):
                time.sleep(ROOT_RETRY)  # a pause between attempts, for the new one to start
                reply = endpoint.ask(relocate(), message, deadline - time.monotonic())
        return reply

    def _find_root(self) -> Any:
        assert self._asys is not None
        self._root = find_root(self._asys)
        return self._root

    def _locate_rooms(self) -> Any:
        self._rooms = self._ask(LocateRooms(), RoomsAddress).address
        return self._rooms

    def _checked(self, reply: Any, message: Any, expected: type, timeout: float, who: str) -> Any:
        """``reply`` if it is of type ``expected``; raises for a refusal or no answer."""
        if isinstance(reply, ErrorReply):
            raise OrchestrationError.from_reply(reply)
        if reply is None:
            raise DaemonError(
                f"the daemon did not answer {type(message).__name__} within {timeout:g} s "
                f"(asked of {who})",
                hint=f"check `orchestration status` and {self.settings.log_dir / 'daemon.log'}",
            )
        if not isinstance(reply, expected):
            raise DaemonError(
                f"unexpected reply {type(reply).__name__} to {type(message).__name__}"
            )
        return reply


_ROOMS = "the rooms supervisor, or the room's router"
ANSWERED_BY: dict[type, str] = {
    CreateRoom: _ROOMS,
    ListRooms: "the rooms supervisor",
    RoomCommand: _ROOMS,
    SetTopology: _ROOMS,
    SetMode: _ROOMS,
    JoinRoom: _ROOMS,
    Approve: _ROOMS,
    Send: _ROOMS,  # (a direct turn streams, and never asks)
}
"""Who answers each room command (the root answers the rest, and passes `CreateRoom` on)."""


def about_agents(agents: set[str]) -> Callable[[Any], bool]:
    """Keeps a conversation's own messages, and of the supervision events those about
    ``agents``."""

    def keep(message: Any) -> bool:
        if isinstance(message, Envelope) and message.conversation == EVENTS_CONVERSATION:
            return message.data.get("agent") in agents
        return True

    return keep
