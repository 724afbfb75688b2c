"""Small steps that several test stories share."""

from __future__ import annotations

import os
import signal

from orchestration.messages import Envelope
from orchestration.runtime import Runtime


def kill_and_await_restart(runtime: Runtime, name: str, timeout: float = 20.0) -> Envelope:
    """kill -9 the agent's process; return the root's ``agent_restarted`` event for it."""
    pid = runtime.resolve(name).agent.pid
    assert pid is not None, f"{name} has no pid yet"
    with runtime.watch(timeout=timeout) as events:
        os.kill(pid, signal.SIGKILL)
        for event in events:
            if event.event == "agent_restarted" and event.data["agent"] == name:
                assert event.data["pid"] != pid
                return event
    raise AssertionError(f"{name} was not restarted within {timeout} s")
