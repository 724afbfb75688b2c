"""Claude Code agents: the real CLI (bundled in the claude-agent-sdk wheel) as a supervised
subprocess agent, talking to the fake LLM server. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.messages import TurnDelta, TurnFailed
from orchestration.processes.pids import command_line, pid_alive
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from tests.fakes import FakeLLMServer
from tests.support import count, events_until


@pytest.fixture
def code(
    fake: FakeLLMServer,
    claude_home: Path,
    daemon_guard: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Runtime]:
    """A daemon whose Claude Code agents reach the fake server with a dummy key."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    (tmp_path / "work").mkdir()
    with Runtime.connect(Settings()) as runtime:
        yield runtime


def spawn_coder(runtime: Runtime, tmp_path: Path, name: str = "coder", **options: object) -> int:
    """A Claude Code agent that keeps the dummy key; its CLI's PID."""
    options = {"keep_env": ["ANTHROPIC_API_KEY"], **options}
    spawned = runtime.spawn(
        name,
        provider="claude-code",
        model="sonnet",
        system_prompt="Answer in one line.",
        cwd=str(tmp_path / "work"),
        **options,  # type: ignore[arg-type]
    )
    assert spawned.agent.process_pid is not None
    return spawned.agent.process_pid


def test_a_claude_code_agent_streams_a_chat_through_one_long_lived_cli(
    code: Runtime, fake: FakeLLMServer, tmp_path: Path
) -> None:
    pid = spawn_coder(code, tmp_path)

    with code.watch(timeout=60) as events:
        first = list(code.send("coder", "hello there [[fake:delay=0.05]]"))
        logged = events_until(events, lambda seen: count("agent_log", seen) >= 1, "the init log")
    second = code.send("coder", "and again").result()

    deltas = [e.text for e in first if isinstance(e, TurnDelta)]
    assert len(deltas) >= 2 and "".join(deltas) == "You said: hello there"
    assert second.message.content == "You said: and again"
    assert {a.spec.name: a.process_pid for a in code.list()}["coder"] == pid and pid_alive(pid)
    request = fake.requests[-1]
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert "Answer in one line." in request.system
    assert [text for role, text in request.messages if role == "user"] == [
        "hello there [[fake:delay=0.05]]",
        "and again",
    ]
    assert "API key source ANTHROPIC_API_KEY" in logged[-1].content
    reply = code.history("coder")[-1]
    assert reply.data["session_id"] and reply.data["total_cost_usd"] is not None
    argv = command_line(pid)
    assert "--permission-mode plan" in argv and "--include-partial-messages" in argv


def test_without_a_claude_code_login_the_api_key_is_not_used_unless_kept(
    code: Runtime, tmp_path: Path
) -> None:
    """The daemon has a key but Claude Code has no login of its own: an agent that does not
    keep the key is refused at spawn, with how to log in."""
    with pytest.raises(OrchestrationError, match="Claude Code is not logged in") as refused:
        spawn_coder(code, tmp_path, "subscriber", keep_env=[])

    assert refused.value.code == "credentials" and "claude" in refused.value.hint
    assert [a.spec.name for a in code.list()] == []


def test_an_error_result_fails_the_turn_and_the_next_turn_works(
    code: Runtime, tmp_path: Path
) -> None:
    spawn_coder(code, tmp_path)

    failed = list(code.send("coder", "boom [[fake:status=500]]"))[-1]
    fine = code.send("coder", "better now?").result()

    assert isinstance(failed, TurnFailed) and "API Error: 500" in failed.error
    assert failed.kind == "overloaded" and failed.retryable
    assert fine.message.content == "You said: better now?"
    kinds = [m.event or m.sender for m in code.history("coder")]
    assert kinds == ["user", "turn_failed", "user", "coder"]


def test_after_a_kill_the_new_incarnation_resumes_the_cli_session(
    code: Runtime, fake: FakeLLMServer, tmp_path: Path
) -> None:
    old_cli = spawn_coder(code, tmp_path)
    code.send("coder", "my name is Ada").result()
    session = code.history("coder")[-1].data["session_id"]
    actor = {a.spec.name: a.pid for a in code.list()}["coder"]
    assert actor is not None

    with code.watch(timeout=60) as events:
        os.kill(actor, signal.SIGKILL)
        events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")
    new_cli = {a.spec.name: a.process_pid for a in code.list()}["coder"]
    code.send("coder", "what is my name?").result()

    assert not pid_alive(old_cli), "the old CLI was swept through its PID file"
    assert new_cli is not None and f"--resume {session}" in command_line(new_cli)
    assert [text for role, text in fake.requests[-1].messages if role == "user"] == [
        "my name is Ada",
        "what is my name?",
    ]


def test_a_session_that_cannot_be_resumed_is_replaced_and_the_journal_replayed(
    code: Runtime, fake: FakeLLMServer, claude_home: Path, tmp_path: Path
) -> None:
    spawn_coder(code, tmp_path)
    code.send("coder", "my name is Ada").result()
    shutil.rmtree(claude_home / "config" / "projects")  # the CLI forgets every session
    actor = {a.spec.name: a.pid for a in code.list()}["coder"]
    assert actor is not None

    with code.watch(timeout=60) as events:
        os.kill(actor, signal.SIGKILL)
        events_until(events, lambda seen: count("agent_restarted", seen) == 1, "the restart")
        reply = code.send("coder", "what is my name?").result()
        [*_, replaced] = events_until(
            events, lambda seen: "could not resume" in seen[-1].content, "the replacement"
        )

    said = fake.requests[-1].last_user_text
    assert "my name is Ada" in said and said.endswith("what is my name?")
    assert reply.message.content.startswith("You said: (Our conversation so far")
    assert replaced.event == "agent_log" and "journal's history" in replaced.content
