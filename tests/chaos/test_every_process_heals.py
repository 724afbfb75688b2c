"""kill -9 of any process of the daemon, each kind in turn: a process with the same title
replaces it with no client call, and the next call succeeds with the history intact. A
SIGSTOPped router makes a send fail within its deadline, and is replaced. A room turn past
its agent's turn_timeout fails with ``timeout`` and the agent is restarted."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from functools import partial

import pytest

from orchestration.daemon.record import daemon_processes
from orchestration.messages import TurnFailed
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from orchestration.streams import OrchestrationError
from tests.chaos.processes import one, titled
from tests.support import agent, supervisor, wait_until

DEADLINE = 15.0
KINDS = [
    "router dm:solo",
    "agent solo",
    "standby",
    "room room:standup",
    "rooms",
    "gateway",
    "supervisor team",
    "agent pair-a",
    "logger",
    "root",
]


@pytest.fixture
def system(daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A daemon with an agent on its own, a one_for_all tree of two and a room."""
    monkeypatch.setenv("ORCH_RESTART_INTENSITY", "20")
    monkeypatch.setenv("ORCH_HEALTH_INTERVAL", "0.5")
    with Runtime.connect(Settings()) as runtime:
        runtime.spawn("solo", provider="scripted", model="echo")
        team = supervisor("team", "one_for_all", agent("pair-a"), agent("pair-b"))
        runtime.up(team)
        runtime.create_room("standup", agents=["solo", "pair-a"], max_turns=1000)
        yield runtime


def replaced(settings: Settings, title: str, killed: int, count: int = 1) -> bool:
    """Whether ``count`` processes titled ``title`` run again, none of them ``killed``."""
    now = titled(settings).get(title, [])
    return len(now) == count and killed not in now


def test_kill_9_of_each_kind_of_process_is_healed_with_nothing_lost(system: Runtime) -> None:
    settings = system.settings
    spares = 2  # the root's and the team's
    wait_until(lambda: len(titled(settings).get("standby", [])) == spares, "spares", DEADLINE)
    for n, kind in enumerate(KINDS):
        running = titled(settings).get(kind, [])
        assert running, f"a process titled {kind!r}: {sorted(titled(settings))}"
        before = system.history("solo")
        os.kill(running[0], signal.SIGKILL)
        healed = partial(replaced, settings, kind, running[0], len(running))
        wait_until(healed, f"a new {kind!r}", DEADLINE)

        reply = system.send("solo", f"after {kind}").result()
        room = system.say("standup", f"round {n}")
        history = system.history("solo")

        assert reply.message.content == f"You said: after {kind}"
        assert [m.id for m in history[: len(before)]] == [m.id for m in before], kind
        assert room.content == f"round {n}"
        assert {a.spec.name for a in system.list()} == {"solo", "pair-a", "pair-b"}, kind
    restarted = [e.data["agent"] for e in system.events(limit=500) if e.event.endswith("restarted")]
    assert "dm:solo" in restarted and "rooms" in restarted and "gateway" in restarted


def test_an_observer_follows_on_through_the_death_of_the_root(system: Runtime) -> None:
    settings = system.settings
    with system.observe("solo", timeout=DEADLINE) as feed:
        root = one(settings, "root")
        assert root is not None and root > 1
        os.kill(root, signal.SIGKILL)
        wait_until(lambda: replaced(settings, "root", root), "a new root", DEADLINE)
        stop = threading.Event()

        def speak() -> None:  # until the observer, subscribed again by itself, hears one
            for n in range(50):
                system.send("solo", f"heard {n}").result()
                if stop.wait(0.2):
                    return

        threading.Thread(target=speak, daemon=True).start()
        heard = next(m for m in feed if str(getattr(m, "content", "")).startswith("heard "))
        stop.set()

    assert heard.sender == "user"


def test_kill_9_of_the_admin_is_healed_by_the_next_call(system: Runtime) -> None:
    settings = system.settings
    system.send("solo", "before the admin died").result()
    admin = one(settings, "admin")
    assert admin is not None and admin > 1
    os.kill(admin, signal.SIGKILL)
    wait_until(  # every process, Thespian's logger too
        lambda: not daemon_processes(settings), "the tree gone with its admin", DEADLINE
    )

    with Runtime.connect(Settings()) as again:
        names = {a.spec.name for a in again.list()}
        reply = again.send("solo", "after").result()
        history = [m.content for m in again.history("solo")]

    assert again.started and names == {"solo", "pair-a", "pair-b"}
    assert reply.message.content == "You said: after"
    assert history[:2] == ["before the admin died", "You said: before the admin died"]


def test_a_stopped_router_fails_a_send_within_its_deadline_and_is_replaced(
    system: Runtime,
) -> None:
    settings = system.settings
    router = one(settings, "router dm:solo")
    assert router is not None and router > 1
    os.kill(router, signal.SIGSTOP)
    try:
        with pytest.raises(OrchestrationError) as failed:
            system.send("solo", "anyone there?", timeout=1.0).result()
        wait_until(lambda: replaced(settings, "router dm:solo", router), "a new router", DEADLINE)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it was killed, as it should be
            os.kill(router, signal.SIGCONT)

    assert failed.value.code == "timeout" and "solo" in str(failed.value)
    assert system.send("solo", "back?").result().message.content == "You said: back?"


def test_a_room_turn_past_turn_timeout_fails_with_timeout_and_the_agent_restarts(
    daemon_guard: Settings,
) -> None:
    with Runtime.connect(daemon_guard) as runtime:
        runtime.spawn("slow", provider="scripted", model="echo", turn_timeout=1.0)
        old = runtime.resolve("slow").agent.pid
        runtime.create_room("stuck", agents=["slow"], max_turns=1)
        with runtime.observe_room("stuck", timeout=DEADLINE) as feed:
            runtime.say("stuck", "think [[scripted: hang]]")
            failed = next(item for item in feed if isinstance(item, TurnFailed))
        restarted = wait_until(
            lambda: (pid := runtime.resolve("slow").agent.pid) not in (old, None) and pid,
            "the agent restarted",
            DEADLINE,
        )

        assert failed.kind == "timeout" and "turn_timeout of 1 s" in failed.error
        assert restarted != old
        events = [e.event for e in runtime.room_history("stuck")]
        assert "turn_failed" in events


def test_a_stopped_root_is_killed_and_replaced_and_calls_work_again(system: Runtime) -> None:
    settings = system.settings
    root = one(settings, "root")
    assert root is not None and root > 1
    os.kill(root, signal.SIGSTOP)
    try:
        wait_until(lambda: replaced(settings, "root", root), "a new root", DEADLINE)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(root, signal.SIGCONT)

    assert {a.spec.name for a in system.list()} == {"solo", "pair-a", "pair-b"}
    assert system.send("solo", "still here").result().message.content == "You said: still here"
