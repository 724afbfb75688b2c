"""Subprocess agents: any program speaking jsonl or lines, supervised like any agent, and never
left running once its agent is gone."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from orchestration.daemon.record import DaemonRecord
from orchestration.messages import TurnDelta, TurnFailed, TurnFinished
from orchestration.processes.pidfiles import PidFile
from orchestration.processes.pids import ProcessId, pid_alive, wait_gone
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from tests.support import agent, count, events_until, supervisor

PROGRAMS = Path(__file__).parents[1] / "fakes" / "programs"
JSONL = (sys.executable, str(PROGRAMS / "jsonl_agent.py"))
LINES = (sys.executable, str(PROGRAMS / "lines_agent.py"))


def spawn_jsonl(runtime: Runtime, name: str = "tool", *flags: str) -> int:
    """Spawn a jsonl agent; its program's PID."""
    spawned = runtime.spawn(name, provider="command", model="jsonl", command=(*JSONL, *flags))
    assert spawned.agent.process_pid is not None
    return spawned.agent.process_pid


def program_pid(runtime: Runtime, name: str) -> int | None:
    return {a.spec.name: a for a in runtime.list()}[name].process_pid


def test_a_jsonl_program_streams_its_replies_turn_after_turn_in_one_process(
    runtime: Runtime,
) -> None:
    pid = spawn_jsonl(runtime)

    first = list(runtime.send("tool", "hello there"))
    second = runtime.send("tool", "again").result()

    deltas = [e.text for e in first if isinstance(e, TurnDelta)]
    assert len(deltas) >= 1 and "".join(deltas) == "echo 1: hello there"
    assert isinstance(first[-1], TurnFinished)
    assert second.message.content == "echo 2: again", "the same process answered both"
    assert program_pid(runtime, "tool") == pid and pid_alive(pid)
    assert [m.content for m in runtime.history("tool")] == [
        "hello there",
        "echo 1: hello there",
        "again",
        "echo 2: again",
    ]


def test_a_lines_program_ends_turns_at_its_sentinel_or_when_it_falls_silent(
    runtime: Runtime,
) -> None:
    runtime.spawn("plain", provider="command", model="lines", command=LINES)
    runtime.spawn(
        "quiet",
        provider="command",
        model="lines?idle=0.3",
        command=(*LINES, "--no-sentinel"),
    )

    plain = runtime.send("plain", "one\ntwo").result()
    quiet = runtime.send("quiet", "psst").result()

    assert plain.message.content == "heard: one two\nand nothing else"
    assert quiet.message.content == "heard: psst\nand nothing else"
    assert quiet.stop_reason == "idle"


def test_bad_output_fails_the_turn_clearly_and_the_next_turn_works(runtime: Runtime) -> None:
    spawn_jsonl(runtime)

    garbled = list(runtime.send("tool", "garbage"))[-1]
    refused = list(runtime.send("tool", "fail"))[-1]
    fine = runtime.send("tool", "still here?").result()

    assert isinstance(garbled, TurnFailed) and garbled.kind == "bad_request"
    assert "this is not json" in garbled.error and "jsonl protocol" in garbled.error
    assert isinstance(refused, TurnFailed) and "the model is tired" in refused.error
    assert fine.message.content == "echo 3: still here?"


def test_stderr_lines_arrive_as_agent_log_events_rate_limited(runtime: Runtime) -> None:
    spawn_jsonl(runtime)

    with runtime.watch(timeout=30) as events:
        runtime.send("tool", "log=3 hi").result()
        seen = events_until(events, lambda seen: count("agent_log", seen) == 3, "three logs")
        runtime.send("tool", "log=60 flood").result()
        flood = events_until(
            events, lambda seen: "are dropped" in seen[-1].content, "the note that lines drop"
        )

    assert [e.content for e in seen if e.event == "agent_log"] == [
        "log line 0",
        "log line 1",
        "log line 2",
    ]
    assert all(e.data == {"agent": "tool", "stream": "stderr"} for e in flood)
    assert len(flood) <= 20 + 1, "at most 20 lines a second, then the note"
    assert flood[-1].content == "(more stderr lines this second are dropped: over 20/s)"


def test_a_program_that_crashes_is_restarted_with_its_exit_code_and_stderr(
    runtime: Runtime,
) -> None:
    old = spawn_jsonl(runtime)

    with runtime.watch(timeout=30) as events:
        failed = list(runtime.send("tool", "crash"))[-1]
        seen = events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")

    restarted = seen[-1]
    assert [e.content for e in seen if e.event == "agent_log"] == ["something broke"]
    assert isinstance(failed, TurnFailed) and "exited with code 3" in failed.error
    assert "exited with code 3; last stderr: something broke" in restarted.data["reason"]
    new = program_pid(runtime, "tool")
    assert new not in (None, old) and not pid_alive(old)
    assert runtime.send("tool", "back").result().message.content == "echo 1: back"


def test_a_clean_exit_ends_a_transient_agent_and_restarts_a_permanent_one(
    runtime: Runtime,
) -> None:
    tool = agent("tool", "transient", provider="command", model="jsonl", command=JSONL)
    keeper = agent("keeper", provider="command", model="jsonl", command=JSONL)
    runtime.up(supervisor("tools", "one_for_one", tool, keeper))

    with runtime.watch(timeout=30) as events:
        assert runtime.send("tool", "bye").result().message.content == "echo 1: bye"
        assert runtime.send("keeper", "bye").result().message.content == "echo 1: bye"
        seen = events_until(
            events,
            lambda seen: count("agent_stopped", seen) + count("agent_restarted", seen) == 2,
            "both outcomes",
        )

    outcome = {e.data["agent"]: e.event for e in seen if e.event != "agent_log"}
    assert outcome == {"tool": "agent_stopped", "keeper": "agent_restarted"}
    states = {a.spec.name: a.state for a in runtime.list()}
    assert states == {"tool": "terminated", "keeper": "idle"}


def test_shutdown_terms_the_program_and_kills_one_that_ignores_it(runtime: Runtime) -> None:
    polite = spawn_jsonl(runtime, "polite", "--linger")
    stubborn = spawn_jsonl(runtime, "stubborn", "--linger", "--ignore-term")
    for name in ("polite", "stubborn"):  # an answer: each program has set up its SIGTERM handling
        assert runtime.send(name, "ready?").result().message.content == "echo 1: ready?"

    with runtime.watch(timeout=30) as events:
        runtime.shutdown("polite", grace=5.0)
        runtime.shutdown("stubborn", grace=0.5)
        seen = events_until(
            events,
            lambda seen: (
                count("agent_stopped", seen) == 2 and any(e.content == "got SIGTERM" for e in seen)
            ),
            "both agents stopped and polite's last words",
        )

    assert not pid_alive(polite) and not pid_alive(stubborn)
    assert runtime.list() == []
    logs = [(e.data["agent"], e.content) for e in seen if e.event == "agent_log"]
    assert ("polite", "got SIGTERM") in logs, "stdin closed, then SIGTERM: it left on its own"
    assert ("stubborn", "got SIGTERM") not in logs, "it ignored SIGTERM and was killed"


def test_a_killed_actor_leaves_a_stray_that_the_restart_sweeps(
    runtime: Runtime, settings: Settings
) -> None:
    old = spawn_jsonl(runtime)
    actor = {a.spec.name: a for a in runtime.list()}["tool"].pid
    assert actor is not None and PidFile.read(PidFile.path(settings.pid_dir, "tool"))

    with runtime.watch(timeout=30) as events:
        os.kill(actor, signal.SIGKILL)
        events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")

    assert not pid_alive(old), "the old program was swept before the new one started"
    new = program_pid(runtime, "tool")
    record = PidFile.read(PidFile.path(settings.pid_dir, "tool"))
    assert record is not None and record.pid == new
    assert runtime.send("tool", "fresh?").result().message.content == "echo 1: fresh?"


def test_after_a_daemon_crash_the_next_start_sweeps_every_program(
    daemon_guard: Settings,
) -> None:
    with Runtime.connect(daemon_guard) as runtime:
        programs = [spawn_jsonl(runtime, f"tool{index}") for index in range(2)]
    record = DaemonRecord.read(daemon_guard)
    assert record is not None
    admin = ProcessId.of(record.pid)
    assert admin is not None
    os.kill(record.pid, signal.SIGKILL)
    assert not wait_gone([admin], timeout=10)
    survivors = [p for p in map(ProcessId.of, programs) if p]
    assert survivors, "the programs run in their own sessions: the crash leaves them"

    with Runtime.connect(daemon_guard) as runtime:
        assert not wait_gone(survivors, timeout=10)
        back = {a.spec.name: a.process_pid for a in runtime.list()}
        assert set(back) == {"tool0", "tool1"} and not set(back.values()) & set(programs)


def test_a_command_that_cannot_run_is_refused_at_spawn(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(OrchestrationError, match="not found on the daemon's PATH") as missing:
        runtime.spawn("ghost", provider="command", command=("no-such-program-here",))
    with pytest.raises(OrchestrationError, match="unknown command protocol 'xml'"):
        runtime.spawn("odd", provider="command", model="xml", command=JSONL)
    with pytest.raises(OrchestrationError, match="is not a directory"):
        runtime.spawn("lost", provider="command", command=JSONL, cwd=str(tmp_path / "nope"))

    assert missing.value.code == "invalid_spec"
    assert runtime.list() == []


def test_a_program_that_hangs_past_its_turn_timeout_is_killed_and_replaced(
    runtime: Runtime,
) -> None:
    spawned = runtime.spawn(
        "sleepy", provider="command", model="jsonl", command=JSONL, turn_timeout=1.0
    )
    old = spawned.agent.process_pid
    assert old is not None

    with runtime.watch(timeout=30) as events:
        final = list(runtime.send("sleepy", "hang"))[-1]
        seen = events_until(events, lambda seen: count("agent_restarted", seen) == 1, "restart")

    assert isinstance(final, TurnFailed) and final.kind == "timeout"
    assert "stuck" in seen[-1].data["reason"]
    assert not pid_alive(old), "the hung program was swept when its agent came back"
    assert runtime.send("sleepy", "awake?").result().message.content == "echo 1: awake?"
