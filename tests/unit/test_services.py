"""The table of the runtime's own actors: started with their init, restarted as a restart,
given up past their window, pinged, and killed when they stop answering."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from orchestration.messages import Ping, Pong
from orchestration.supervision.health import HealthMonitor
from orchestration.supervision.services import Services


class Owner:
    """Stands in for the supervising actor: records what it creates and sends."""

    def __init__(self) -> None:
        self.created = 0
        self.sent: list[tuple[Any, Any]] = []

    def createActor(self, actor_class: type) -> str:
        self.created += 1
        return f"address-{self.created}"

    def send(self, address: Any, message: Any) -> None:
        self.sent.append((address, message))


def test_an_exit_starts_a_new_incarnation_told_it_is_a_restart() -> None:
    owner = Owner()
    services = Services(owner, intensity=1, period=60)  # type: ignore[arg-type]
    first = services.start("dm:a", object, lambda restart: ("init", restart))

    again = services.exited("address-1", "killed")

    assert first is again and again.address == "address-2" and again.restarts == 1
    assert owner.sent == [("address-1", ("init", False)), ("address-2", ("init", True))]
    assert services.find("address-1") is None and services.find("address-2") is again


def test_past_its_window_a_service_is_given_up_and_a_revival_starts_afresh() -> None:
    owner = Owner()
    services = Services(owner, intensity=1, period=60)  # type: ignore[arg-type]
    services.start("rooms", object, lambda restart: restart)
    services.exited("address-1", "one")
    gone = services.exited("address-2", "two")

    assert gone is not None and gone.address is None
    assert gone.given_up == "rooms exited more than 1 time(s) within 60 s (last: two)"
    services.revive("rooms")
    assert gone.address == "address-3" and gone.given_up == ""


def test_a_removed_service_is_not_restarted() -> None:
    services = Services(Owner(), intensity=5, period=60)  # type: ignore[arg-type]
    services.start("dm:a", object, lambda restart: restart)
    services.remove("dm:a")

    assert services.exited("address-1", "stopped") is None


def test_the_heartbeat_pings_reports_the_vanished_and_kills_the_silent() -> None:
    owner = Owner()
    services = Services(owner, intensity=5, period=60)  # type: ignore[arg-type]
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        quiet = services.start("gateway", object, lambda restart: None)
        services.ready("gateway", quiet.address, silent.pid)
        gone = services.start("rooms", object, lambda restart: None)
        services.ready("rooms", gone.address, 2**22 + 12345)  # no such process
        health = HealthMonitor(interval=1.0, limit=2)

        first = services.check(health)
        services.check(health)
        services.check(health)  # a third tick with two pings unanswered: killed
        code = silent.wait(timeout=10)
    finally:
        silent.kill()

    assert [(s.name, why) for s, why in first] == [
        ("rooms", "its process is gone and no exit notice came")
    ]
    assert [m for a, m in owner.sent if a == quiet.address].count(Ping()) == 2
    assert code == -9


def test_a_pong_counts_for_the_service_it_names_at_its_current_address_only() -> None:
    services = Services(Owner(), intensity=5, period=60)  # type: ignore[arg-type]
    services.start("gateway", object, lambda restart: None)
    pong = Pong(name="gateway", state="running", pid=1, turns=0)
    health = HealthMonitor(interval=1.0)

    assert services.answered(health, pong, "address-1")
    assert not services.answered(health, pong, "address-9"), "an older incarnation's"
    assert not services.answered(health, pong.model_copy(update={"name": "a1"}), "address-1")
