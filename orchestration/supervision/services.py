"""The runtime's own actors as supervised children: routers, the rooms supervisor, the gateway.

A supervisor keeps them in a `Services` table, next to its agents and nested supervisors. Each
is an OTP ``permanent`` child with its own restart window (``intensity`` restarts within
``period`` seconds), as the root keeps one per child: an exit (kill -9, out of memory) starts
a new incarnation at once, whose init message says it is a restart so it rebuilds its state
from the journal; one that exits more often than its window allows is given up (its owner says
what that means). The owner's heartbeat pings every service like an agent
(`supervision.health`): a process that is gone counts as exited, and one that stops answering
(``SIGSTOP``, a hang) is killed, and so restarted.

A message sent to a service in the few milliseconds between its death and its supervisor
hearing of it comes back as a dead letter. The table knows which service an address was
(`owner_of`, its former addresses included): the supervisor holds such a message for the next
incarnation (`hold`, handed over right after its init) or sends it on to the live one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from thespian.actors import Actor

from orchestration.messages import Ping, Pong, utc_now
from orchestration.processes.pids import kill_pid
from orchestration.supervision.health import Action, HealthMonitor
from orchestration.supervision.intensity import RestartIntensity

__all__ = ["Service", "Services"]

InitFor = Callable[[bool], Any]
"""The init message of a service's new incarnation, given whether it is a restart."""


@dataclass
class Service:
    """One runtime actor, as its supervisor knows it."""

    name: str
    actor_class: type
    init: InitFor
    window: RestartIntensity
    address: Any = None
    pid: int | None = None
    started_at: datetime = field(default_factory=utc_now)
    restarts: int = 0
    given_up: str = ""
    """Why it is no longer restarted (empty while it is kept alive)."""
    former: list[Any] = field(default_factory=list)
    """The addresses of its last incarnations (what was sent to them comes back dead)."""
    held: list[Any] = field(default_factory=list)
    """Messages that reached a dead incarnation, for the next one."""


class Services:
    """The services of one supervisor (the actor ``owner``), by name."""

    def __init__(self, owner: Actor, intensity: int, period: int) -> None:
        self._owner = owner
        self._intensity, self._period = intensity, period
        self._services: dict[str, Service] = {}

    def start(self, name: str, actor_class: type, init: InitFor) -> Service:
        """Create service ``name`` (replacing one of that name) and send it its init."""
        service = Service(name, actor_class, init, RestartIntensity(self._intensity, self._period))
        self._services[name] = service
        self._launch(service, restart=False)
        return service

    def _launch(self, service: Service, *, restart: bool) -> None:
        service.address = self._owner.createActor(service.actor_class)
        service.pid, service.started_at = None, utc_now()
        self._owner.send(service.address, service.init(restart))
        held, service.held = service.held, []
        for message in held:
            self._owner.send(service.address, message)

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    def find(self, address: Any) -> Service | None:
        """The live service at ``address``."""
        if address is None:
            return None
        return next((s for s in self._services.values() if s.address == address), None)

    def owner_of(self, address: Any) -> Service | None:
        """The service that runs, or ran, at ``address``."""
        return next(
            (s for s in self._services.values() if address == s.address or address in s.former),
            None,
        )

    def hold_or_pass(self, service: Service, message: Any, dead: Any) -> bool:
        """A dead letter of ``service`` (sent to ``dead``): held for its next incarnation if
        it is not restarted yet, else sent on to the live one. False if it was given up."""
        if service.given_up:
            return False
        if service.address == dead:  # its exit notice has not come: the restart is on the way
            service.held.append(message)
        else:
            self._owner.send(service.address, message)
        return True

    def __iter__(self) -> Any:
        return iter(list(self._services.values()))

    def _named(self, name: str, address: Any) -> Service | None:
        """Service ``name``, if ``address`` is its current incarnation (a lookup by name: a
        supervisor with a thousand routers hears their pongs on every heartbeat)."""
        service = self._services.get(name)
        return service if service is not None and service.address == address else None

    def ready(self, name: str, address: Any, pid: int) -> None:
        """Service ``name`` said which process it runs in (`ServiceReady`)."""
        service = self._named(name, address)
        if service is not None:
            service.pid = pid

    def exited(self, address: Any, why: str) -> Service | None:
        """The service at ``address`` is gone: start its next incarnation, or give it up when
        its window is exceeded. Returns it (None: not one of ours)."""
        service = self.find(address)
        if service is None:
            return None
        service.former = [*service.former[-4:], address]
        service.address, service.pid = None, None
        if not service.window.add_restart():
            window = service.window
            service.given_up = (
                f"{service.name} exited more than {window.intensity} time(s) within "
                f"{window.period} s (last: {why})"
            )
            return service
        service.restarts += 1
        self._launch(service, restart=True)
        return service

    def revive(self, name: str) -> None:
        """Start a given-up service again with a fresh window (``room resume``, say)."""
        service = self._services.get(name)
        if service is None or service.address is not None:
            return
        service.given_up = ""
        service.window = RestartIntensity(self._intensity, self._period)
        self._launch(service, restart=True)

    def remove(self, name: str) -> Service | None:
        """Forget service ``name`` (its owner stops it): its exit is no longer a failure."""
        return self._services.pop(name, None)

    def check(self, health: HealthMonitor) -> list[tuple[Service, str]]:
        """One heartbeat: ping every live service, kill one that stopped answering; returns
        those whose process is gone without an exit notice, with why."""
        gone: list[tuple[Service, str]] = []
        for service in self:
            if service.address is None or service.pid is None:
                continue
            action, reason = health.check(f"service {service.name}", service.pid)
            if action is Action.PING:
                self._owner.send(service.address, Ping())
            elif action is Action.EXITED:
                gone.append((service, reason))
            else:
                kill_pid(service.pid)
        return gone

    def answered(self, health: HealthMonitor | None, pong: Pong, address: Any) -> bool:
        """A `Pong` from ``address``: True if it is a service's."""
        service = self._named(pong.name, address)
        if service is None:
            return False
        if health is not None:
            health.answered(f"service {service.name}")
        return True
