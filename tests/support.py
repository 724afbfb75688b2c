"""Small steps that several test stories share."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from orchestration.messages import (
    AgentNode,
    AgentSpec,
    Envelope,
    Restart,
    Strategy,
    SupervisorNode,
)
from orchestration.runtime import Runtime
from orchestration.streams import Subscription

_SDK = importlib.util.find_spec("claude_agent_sdk")
assert _SDK is not None and _SDK.origin is not None, "claude-agent-sdk is a dev dependency"
CLAUDE = Path(_SDK.origin).parent / "_bundled" / "claude"
"""The real Claude Code CLI, bundled in the claude-agent-sdk wheel."""
QUIET_CLI = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # else it probes Anthropic's hosts
    "CLAUDE_CODE_MAX_RETRIES": "0",  # else a 5xx is retried for minutes
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
"""What keeps the CLI on 127.0.0.1 and quick to fail in tests."""


T = TypeVar("T")


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


def agent(
    name: str,
    restart: Restart = "permanent",
    shutdown: float = 5.0,
    *,
    provider: str = "scripted",
    model: str = "echo",
    **spec: Any,
) -> AgentNode:
    """An agent (by default on the offline scripted provider), as a tree's child."""
    return AgentNode(
        spec=AgentSpec(name=name, provider=provider, model=model, **spec),
        restart=restart,
        shutdown=shutdown,
    )


def supervisor(
    name: str,
    strategy: Strategy,
    *children: AgentNode | SupervisorNode,
    intensity: int = 5,
    period: int = 30,
    restart: Restart = "permanent",
) -> SupervisorNode:
    return SupervisorNode(
        name=name,
        strategy=strategy,
        intensity=intensity,
        period=period,
        restart=restart,
        children=children,
    )


def pids(runtime: Runtime) -> dict[str, int | None]:
    """The PID of every agent and supervisor of the live tree, by name."""
    snapshot = runtime.tree()
    found: dict[str, int | None] = {s.name: s.pid for s in snapshot.supervisors}
    found.update({a.spec.name: a.pid for a in snapshot.agents})
    return found


def events_until(
    events: Subscription, done: Callable[[list[Envelope]], bool], what: str
) -> list[Envelope]:
    """Collect events from ``events`` until ``done`` holds for those seen (or fail)."""
    seen: list[Envelope] = []
    for event in events:
        seen.append(event)
        if done(seen):
            return seen
    raise AssertionError(f"never saw {what}; saw: {[(e.event, e.data['agent']) for e in seen]}")


def count(event: str, seen: list[Envelope]) -> int:
    return sum(1 for e in seen if e.event == event)


def wait_for_states(runtime: Runtime, expected: dict[str, str], timeout: float = 10.0) -> None:
    """Wait until ``list`` shows these agents in these states (other agents may be in any)."""
    seen: dict[str, str] = {}

    def reached() -> bool:
        seen.clear()
        seen.update({a.spec.name: a.state for a in runtime.list() if a.spec.name in expected})
        return seen == expected

    try:
        wait_until(reached, f"states {expected}", timeout)
    except AssertionError:
        raise AssertionError(f"states never became {expected}; last seen: {seen}") from None


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail at the
    deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"never saw {what} within {timeout:g} s")


def listening_addresses(pids: set[int]) -> set[tuple[str, int]]:
    """(host, port) of every IPv4 TCP socket the processes listen on, from /proc."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:
            host_hex, port_hex = fields[1].split(":")
            host = ".".join(str(int(host_hex[i : i + 2], 16)) for i in (6, 4, 2, 0))
            found.add((host, int(port_hex, 16)))
    return found


def listening_ports(pids: set[int]) -> set[int]:
    """The TCP ports the processes listen on."""
    return {port for _, port in listening_addresses(pids)}


def within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()``'s result, awaited with a deadline: fail if it has not come in ``seconds``."""
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(seconds):
        raise AssertionError(f"{what} did not come within {seconds:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
