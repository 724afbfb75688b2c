"""The base of the runtime's own actors (routers, the rooms supervisor, the gateway), which
their supervisor keeps in its `orchestration.supervision.services.Services` table."""

from __future__ import annotations

import os
from typing import Any

from orchestration.actors.dispatch import DispatchActor
from orchestration.messages import Ping, Pong, ServiceReady
from orchestration.titles import set_title

__all__ = ["ServiceActor"]


class ServiceActor(DispatchActor):
    """Takes its title and tells its supervisor its process once initialised (`started`), and
    answers health pings. Subclasses register ``Ping: self.answer_ping`` in their handlers."""

    service_name = ""

    def started(self, supervisor: Any, kind: str, name: str = "") -> None:
        """Call first in the init handler: its title, then `ServiceReady`."""
        set_title(kind, name)
        self.service_name = name or kind
        self.send(supervisor, ServiceReady(name=self.service_name, pid=os.getpid()))

    def answer_ping(self, message: Ping, sender: Any) -> None:
        pong = Pong(name=self.service_name, state=self.service_state(), pid=os.getpid(), turns=0)
        self.send(sender, pong)

    def service_state(self) -> str:
        """What its `Pong` says it is doing."""
        return "running"
