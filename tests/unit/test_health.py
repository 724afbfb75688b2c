"""The heartbeat's verdicts: ping the healthy, kill the silent, notice the vanished."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestration.supervision.health import MISSED_PINGS_LIMIT, Action, HealthMonitor


def test_a_child_that_keeps_answering_is_only_ever_pinged() -> None:
    monitor = HealthMonitor(interval=5)
    for _ in range(MISSED_PINGS_LIMIT + 3):
        assert monitor.check("a", os.getpid()) == (Action.PING, "")
        monitor.answered("a")


def test_a_child_that_stops_answering_is_killed_after_the_limit() -> None:
    monitor = HealthMonitor(interval=5)
    verdicts = [monitor.check("a", os.getpid())[0] for _ in range(MISSED_PINGS_LIMIT + 1)]

    assert verdicts == [Action.PING] * MISSED_PINGS_LIMIT + [Action.KILL]
    assert monitor.check("a", os.getpid()) == (Action.PING, ""), "a new incarnation starts afresh"


def test_the_kill_reason_says_how_long_it_was_silent() -> None:
    monitor = HealthMonitor(interval=2)
    for _ in range(MISSED_PINGS_LIMIT):
        monitor.check("a", os.getpid())

    assert monitor.check("a", os.getpid())[1] == "no answer to 2 health pings in 4 s"


def test_a_vanished_process_counts_as_exited() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    action, reason = HealthMonitor(interval=1).check("a", gone.pid)

    assert action is Action.EXITED and "no exit notice" in reason
