"""A killed child whose exit notice never comes (kquick/Thespian#85) still finishes its stop:
the supervisor checks for its process after the kill instead of waiting forever."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from thespian.actors import WakeupMessage

from orchestration.messages import AgentNode, AgentSpec, Ok, StopChild, SupervisorNode
from orchestration.supervision.child import Child
from orchestration.supervision.supervisor import KILL_MARGIN, Supervisor


class Detached(Supervisor):
    """A supervisor outside an actor system: what it sends and the timers it sets are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []
        self.timers: list[tuple[float, Any]] = []

    def send(self, targetAddr: Any, msg: Any) -> None:
        self.sent.append((targetAddr, msg))

    def wakeupAfter(self, timePeriod: Any, payload: Any = None) -> None:
        self.timers.append((timePeriod, payload))


@pytest.fixture
def program() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for the child's actor process."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_brutally_killed_child_with_no_exit_notice_is_still_stopped(
    program: subprocess.Popen[bytes],
) -> None:
    node = AgentNode(
        spec=AgentSpec(name="review", provider="scripted", model="echo"), shutdown="brutal_kill"
    )
    supervisor = Detached()
    supervisor.node = SupervisorNode(name="pipeline", children=(node,))
    supervisor.name, supervisor.parent = "pipeline", "the-root"
    supervisor.children.append(
        Child(node, {}, address="review-address", pid=program.pid, state="idle", incarnation=1)
    )

    supervisor.receiveMessage(StopChild(name="review", reply_to="the-cli"), "the-root")
    program.wait(timeout=10)  # killed; Thespian's ChildActorExited is never delivered here

    assert supervisor.timers, "the kill set a timer to check that the child is gone"
    delay, payload = supervisor.timers[-1]
    assert delay == KILL_MARGIN
    supervisor.receiveMessage(WakeupMessage(delay, payload), "the-supervisor")
    assert supervisor.children == [], "the child is gone, so its stop is finished"
    replies = [message for target, message in supervisor.sent if target == "the-cli"]
    assert [type(reply) for reply in replies] == [Ok]
