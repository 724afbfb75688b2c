"""Supervision trees, in the manner of OTP's supervisor_SUITE, on real multiprocTCPBase daemons.

Each story: given a tree, when a child crashes (a bug in its turn, or kill -9), then exactly
the right children are restarted, in the right order, and the events say so.
"""

from __future__ import annotations

import os
import signal

import pytest

from orchestration.messages import Strategy, TurnFailed, TurnFinished
from orchestration.processes.pids import ProcessId, pid_alive, wait_gone
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from tests.support import agent, count, events_until, pids, supervisor, wait_for_states

CHILDREN = ("first", "second", "third")
RESTARTED = {
    "one_for_one": lambda failed: CHILDREN[failed : failed + 1],
    "one_for_all": lambda failed: CHILDREN,
    "rest_for_one": lambda failed: CHILDREN[failed:],
}


def crash(runtime: Runtime, name: str) -> TurnFailed:
    """A bug in the agent's turn: the caller gets TurnFailed and the agent exits."""
    final = list(runtime.send(name, "x [[scripted: crash]]"))[-1]
    assert isinstance(final, TurnFailed) and "ScriptedCrash" in final.error
    return final


@pytest.mark.parametrize("failed", [0, 1, 2], ids=["1st", "2nd", "3rd"])
@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
def test_a_crash_restarts_exactly_the_strategys_children_in_start_order(
    runtime: Runtime, strategy: Strategy, failed: int
) -> None:
    runtime.up(supervisor("crew", strategy, *(agent(name) for name in CHILDREN)))
    before = pids(runtime)
    processes = {name: ProcessId.of(pid) for name, pid in before.items() if pid}
    expected = RESTARTED[strategy](failed)

    with runtime.watch(timeout=30) as events:
        crash(runtime, CHILDREN[failed])
        seen = events_until(
            events, lambda seen: count("agent_restarted", seen) == len(expected), "the restarts"
        )

    assert [(e.event, e.data["agent"]) for e in seen] == [
        ("agent_restarted", name) for name in expected
    ]
    assert "ScriptedCrash" in seen[expected.index(CHILDREN[failed])].data["reason"]
    after = pids(runtime)
    for name in CHILDREN:
        changed = after[name] != before[name]
        assert changed == (name in expected), f"{name} restarted: {changed}"
        if changed:  # its exit notice may come a moment before the process is gone
            old = processes[name]
            assert old is not None and wait_gone([old], timeout=10.0) == [], f"{name} lives on"
    assert after["crew"] == before["crew"], "the supervisor itself stays"
    for name in CHILDREN:
        reply = runtime.send(name, "still there?").result()
        assert reply.message.content == "You said: still there?"


def test_a_permanent_child_is_restarted_even_after_a_normal_end(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_one", agent("keeper")))
    before = pids(runtime)["keeper"]

    with runtime.watch(timeout=30) as events:
        reply = runtime.send("keeper", "done [[scripted: reply=bye; end]]").result()
        [restarted] = events_until(
            events, lambda seen: count("agent_restarted", seen) == 1, "the restart"
        )

    assert reply.message.content == "bye"
    assert "ended normally" in restarted.data["reason"]
    assert pids(runtime)["keeper"] not in (None, before)


def test_a_transient_child_stays_down_after_a_normal_end(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_all", agent("editor", "transient"), agent("writer")))
    writer_pid = pids(runtime)["writer"]

    with runtime.watch(timeout=30) as events:
        reply = runtime.send("editor", "approve [[scripted: reply=APPROVED; end]]").result()
        [stopped] = events_until(events, lambda seen: count("agent_stopped", seen) == 1, "stop")

    assert reply.message.content == "APPROVED", "the last turn is delivered and journaled"
    assert "transient: not restarted" in stopped.content
    states = {a.spec.name: a.state for a in runtime.list()}
    assert states == {"editor": "terminated", "writer": "idle"}
    assert pids(runtime)["writer"] == writer_pid, "a normal end is no failure: no group restart"
    with pytest.raises(OrchestrationError, match="terminated") as refused:
        runtime.send("editor", "one more?").result()
    assert refused.value.code == "agent_failed"
    assert [m.sender for m in runtime.history("editor")] == ["user", "editor"]


def test_a_transient_child_is_restarted_after_a_crash(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_one", agent("editor", "transient")))

    with runtime.watch(timeout=30) as events:
        crash(runtime, "editor")
        events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")

    assert runtime.send("editor", "back?").result().message.content == "You said: back?"


def test_a_temporary_child_is_never_restarted_and_leaves_the_tree(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_one", agent("scout", "temporary"), agent("base")))

    with runtime.watch(timeout=30) as events:
        crash(runtime, "scout")
        [stopped] = events_until(events, lambda seen: count("agent_stopped", seen) == 1, "stop")

    assert "temporary: not restarted" in stopped.content
    assert [a.spec.name for a in runtime.list()] == ["base"]
    assert len(runtime.history("scout")) == 2, "its message and its failure stay journaled"


def test_a_temporary_sibling_is_dropped_by_a_group_restart(runtime: Runtime) -> None:
    runtime.up(
        supervisor("crew", "one_for_all", agent("lead"), agent("scout", "temporary"), agent("aid"))
    )

    with runtime.watch(timeout=30) as events:
        crash(runtime, "lead")
        seen = events_until(events, lambda seen: count("agent_restarted", seen) == 2, "restarts")

    assert [(e.event, e.data["agent"]) for e in seen] == [
        ("agent_stopped", "scout"),
        ("agent_restarted", "lead"),
        ("agent_restarted", "aid"),
    ]
    assert sorted(a.spec.name for a in runtime.list()) == ["aid", "lead"]


def test_intensity_n_allows_n_restarts_and_the_next_escalates(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_one", agent("flaky"), intensity=2, period=60))
    crew_pid = pids(runtime)["crew"]

    with runtime.watch(timeout=30) as events:
        for _ in range(2):
            crash(runtime, "flaky")
            events_until(events, lambda seen: count("agent_restarted", seen) == 1, "restart")
        assert pids(runtime)["crew"] == crew_pid, "two restarts are within the intensity"

        crash(runtime, "flaky")
        seen = events_until(
            events,
            lambda seen: any(e.data.get("node") == "supervisor" for e in seen),
            "the supervisor's restart",
        )

    assert [(e.event, e.data["agent"]) for e in seen] == [
        ("supervisor_escalated", "crew"),
        ("agent_started", "flaky"),
        ("agent_restarted", "crew"),
    ]
    assert "more than 2 restart(s) in 60 s" in seen[0].content
    assert crew_pid is not None and crew_pid > 1
    assert pids(runtime)["crew"] != crew_pid and not pid_alive(crew_pid)
    assert runtime.send("flaky", "calm now?").result().message.content == "You said: calm now?"


def test_escalation_climbs_nested_supervisors_to_the_root_which_gives_up(
    daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_RESTART_INTENSITY", "1")
    monkeypatch.setenv("ORCH_RESTART_PERIOD", "60")
    inner = supervisor("inner", "one_for_one", agent("deep"), intensity=0)
    tree = supervisor("outer", "one_for_one", inner, agent("side"), intensity=0)
    with Runtime.connect(Settings()) as runtime:
        runtime.up(tree)
        runtime.send("deep", "remember this").result()

        with runtime.watch(timeout=30) as events:
            crash(runtime, "deep")
            seen = events_until(
                events, lambda seen: count("agent_restarted", seen) == 1, "the tree's restart"
            )
            assert [(e.event, e.data["agent"]) for e in seen if e.event != "agent_started"] == [
                ("supervisor_escalated", "inner"),
                ("agent_stopped", "side"),
                ("supervisor_escalated", "outer"),
                ("agent_restarted", "outer"),
            ]

            crash(runtime, "deep")
            seen = events_until(
                events, lambda seen: count("agent_failed", seen) == 2, "the root giving up"
            )

        assert [(e.event, e.data["agent"]) for e in seen[:4]] == [
            ("supervisor_escalated", "inner"),
            ("agent_stopped", "side"),
            ("supervisor_escalated", "outer"),
            ("restart_limit_exceeded", "outer"),
        ]
        assert sorted(e.data["agent"] for e in seen[4:]) == ["deep", "side"]
        assert {e.event for e in seen[4:]} == {"agent_failed"}
        states = {a.spec.name: a.state for a in runtime.list()}
        assert states == {"deep": "failed", "side": "failed"}
        assert {s.name: s.state for s in runtime.tree().supervisors[1:]} == {
            "outer": "failed",
            "inner": "failed",
        }
        history = runtime.history("deep")
        assert next(m.content for m in history if m.sender == "user") == "remember this"
        with pytest.raises(OrchestrationError, match="deep has failed"):
            runtime.send("deep", "hello?").result()

        assert "is up" in runtime.up(tree), "up again restarts a failed tree"
        assert runtime.send("deep", "back?").result().message.content == "You said: back?"


def test_a_killed_supervisor_takes_its_agents_down_and_its_parent_restarts_the_subtree(
    runtime: Runtime,
) -> None:
    team = supervisor("team", "one_for_all", agent("alpha"), agent("beta"))
    runtime.up(supervisor("org", "one_for_one", team, agent("solo")))
    runtime.send("alpha", "my name is Ada").result()
    before = pids(runtime)

    team = before["team"]
    assert team is not None and team > 1, "a real PID: signal 0's group would be pytest's"
    with runtime.watch(timeout=30) as events:
        os.kill(team, signal.SIGKILL)
        seen = events_until(
            events,
            lambda seen: any(e.data["agent"] == "team" for e in seen),
            "the subtree's restart",
        )

    assert [(e.event, e.data["agent"]) for e in seen] == [
        ("agent_started", "alpha"),
        ("agent_started", "beta"),
        ("agent_restarted", "team"),
    ]
    orphans = [before[n] for n in ("alpha", "beta") if pid_alive(before[n] or 0)]
    assert not orphans, "no agent outlives its supervisor"
    after = pids(runtime)
    assert after["solo"] == before["solo"] and after["org"] == before["org"]
    reply = runtime.send("alpha", "what is my name?").result()
    assert reply.message.content == "You said: what is my name?"
    assert [m.content for m in runtime.history("alpha")][:2] == [
        "my name is Ada",
        "You said: my name is Ada",
    ]


def test_a_turn_cut_off_by_a_sibling_restart_fails_for_its_caller(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_all", agent("slow", shutdown=2.0), agent("brittle")))

    with runtime.send("slow", "take your time [[scripted: first_delay=30]]") as turn:
        started = next(turn)
        crash(runtime, "brittle")
        wait_for_states(runtime, {"slow": "stopping", "brittle": "restarting"})
        final = list(turn)[-1]

    assert started.agent == "slow"
    assert isinstance(final, TurnFailed) and final.retryable, final
    kinds = [m.event or m.sender for m in runtime.history("slow")]
    assert kinds == ["user", "turn_failed"], "the cut-off turn is journaled as failed"


def test_spawn_under_adds_a_child_that_survives_its_supervisors_restart(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_all", agent("lead"), intensity=5))

    spawned = runtime.spawn("helper", provider="scripted", under="crew")
    runtime.send("helper", "note this").result()
    assert spawned.agent.supervisor == "crew"

    crew = pids(runtime)["crew"]
    assert crew is not None and crew > 1, "a real PID: signal 0's group would be pytest's"
    with runtime.watch(timeout=30) as events:
        os.kill(crew, signal.SIGKILL)
        events_until(events, lambda seen: any(e.data["agent"] == "crew" for e in seen), "restart")

    agents = {a.spec.name: a for a in runtime.list()}
    assert agents["helper"].supervisor == "crew" and agents["helper"].state == "idle"
    assert runtime.history("helper")[0].content == "note this"
    with pytest.raises(OrchestrationError, match="no supervisor named 'nobody'") as unknown:
        runtime.spawn("stray", provider="scripted", under="nobody")
    assert "crew" in str(unknown.value) and unknown.value.code == "unknown_supervisor"


def test_shutting_down_a_supervisor_stops_its_children_in_reverse_order(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_one", *(agent(name) for name in CHILDREN)))
    before = pids(runtime)

    with runtime.watch(timeout=30) as events:
        runtime.shutdown("crew")
        seen = events_until(events, lambda seen: count("agent_stopped", seen) == 4, "the stops")

    assert [e.data["agent"] for e in seen] == ["third", "second", "first", "crew"]
    assert runtime.list() == [] and [s.name for s in runtime.tree().supervisors] == ["root"]
    stopped = [ProcessId.of(before[name] or 0) for name in (*CHILDREN, "crew")]
    assert not wait_gone([p for p in stopped if p], timeout=5)


def test_shutting_down_one_agent_of_a_tree_removes_it_for_good(runtime: Runtime) -> None:
    runtime.up(supervisor("crew", "one_for_all", agent("keep"), agent("drop")))

    runtime.shutdown("drop")
    with runtime.watch(timeout=30) as events:
        crash(runtime, "keep")
        events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")

    assert [a.spec.name for a in runtime.list()] == ["keep"], "a group restart keeps it gone"
    assert isinstance(runtime.send("keep", "ok?").result(), TurnFinished)
