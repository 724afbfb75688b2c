"""Agents on the real Anthropic and OpenAI SDKs, in a real daemon, against the fake LLM server."""

from __future__ import annotations

import pytest

from orchestration.messages import TurnFailed, TurnStarted
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from tests.fakes import FakeLLMServer
from tests.support import kill_and_await_restart


def test_the_default_agent_talks_to_claude_with_its_instructions_and_history(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    spawned = claude.spawn("assistant", system_prompt="Be brief.")
    assert spawned.agent.spec.provider == "anthropic"

    first = claude.send("assistant", "hello").result()
    second = claude.send("assistant", "and again").result()

    assert first.message.content == "You said: hello"
    assert second.message.content == "You said: and again"
    request = fake.requests[-1]
    assert request.api == "anthropic" and request.auth == "bearer"
    assert request.model == spawned.agent.spec.model
    assert request.system == "Be brief."
    assert request.messages == [
        ("user", "hello"),
        ("assistant", "You said: hello"),
        ("user", "and again"),
    ]


def test_an_openai_agent_streams_through_the_chat_completions_api(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    claude.spawn("gpt", provider="openai", model="gpt-test")

    events = list(claude.send("gpt", "hi there"))

    assert "".join(getattr(e, "text", "") for e in events) == "You said: hi there"
    assert fake.requests[-1].api == "openai" and fake.requests[-1].model == "gpt-test"


def test_a_restarted_agent_sends_its_journaled_history_to_the_model(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    claude.spawn("memory", provider="anthropic")
    claude.send("memory", "my name is Ada").result()

    kill_and_await_restart(claude, "memory")
    claude.send("memory", "what is my name?").result()

    assert fake.requests[-1].messages == [
        ("user", "my name is Ada"),
        ("assistant", "You said: my name is Ada"),
        ("user", "what is my name?"),
    ]


def test_a_clean_restart_forgets_the_conversation(claude: Runtime, fake: FakeLLMServer) -> None:
    claude.spawn("goldfish", provider="anthropic", recovery="clean")
    claude.send("goldfish", "remember me").result()

    kill_and_await_restart(claude, "goldfish")
    claude.send("goldfish", "who am I?").result()

    assert fake.requests[-1].messages == [("user", "who am I?")]
    assert len(claude.history("goldfish")) == 4, "the journal still holds everything"


@pytest.mark.parametrize(
    ("directive", "kind", "retryable"),
    [
        ("[[fake:status=401]]", "auth", False),
        ("[[fake:status=429]] [[fake:retry_after=0]]", "rate_limit", True),
        ("[[fake:status=529]] [[fake:retry_after=0]]", "overloaded", True),
        ("[[fake:drop_after=2]]", "connection", True),
    ],
)
def test_provider_failures_fail_the_turn_with_their_kind_and_keep_the_agent(
    claude: Runtime, directive: str, kind: str, retryable: bool
) -> None:
    claude.spawn("fragile", provider="anthropic")

    final = list(claude.send("fragile", f"try {directive}"))[-1]

    assert isinstance(final, TurnFailed)
    assert (final.kind, final.retryable) == (kind, retryable)
    assert claude.send("fragile", "fine now").result().message.content == "You said: fine now"
    history = claude.history("fragile")
    assert [m.event or m.sender for m in history] == ["user", "turn_failed", "user", "fragile"]


def test_a_failure_the_sdk_retries_succeeds_without_the_caller_noticing(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    claude.spawn("patient", provider="anthropic")

    reply = claude.send("patient", "once more [[fake:fail_once=529]]").result()

    assert reply.message.content == "You said: once more"
    assert len([r for r in fake.requests if "once more" in r.last_user_text]) == 2


def test_cancel_stops_a_hung_provider_call(claude: Runtime, fake: FakeLLMServer) -> None:
    claude.spawn("stuck", provider="anthropic")
    stream = claude.send("stuck", "wait [[fake:hang=1]]")
    assert isinstance(next(stream), TurnStarted)
    fake.wait_for_requests(1)

    stream.cancel()

    final = list(stream)[-1]
    assert isinstance(final, TurnFailed) and final.kind == "cancelled"
    assert claude.send("stuck", "hello?").result().message.content == "You said: hello?"


def test_spawning_without_credentials_says_where_they_are_looked_for(runtime: Runtime) -> None:
    with pytest.raises(OrchestrationError, match="anthropic has no API key") as caught:
        runtime.spawn("claude", provider="anthropic")

    assert caught.value.code == "credentials"
    assert "ANTHROPIC_API_KEY" in caught.value.hint
    assert runtime.list() == []


def test_an_unreachable_provider_fails_the_turn_clearly(
    daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("ORCH_PROVIDER_MAX_RETRIES", "0")
    with Runtime.connect(Settings()) as runtime:
        runtime.spawn("lonely", provider="anthropic")

        final = list(runtime.send("lonely", "anyone?"))[-1]

    assert isinstance(final, TurnFailed) and final.kind == "connection"
    assert "ANTHROPIC_BASE_URL" in final.error or "127.0.0.1:9" in final.error


def test_an_agent_on_the_default_provider_moves_to_claude_once_a_key_is_configured(
    fake: FakeLLMServer, daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Runtime.connect(Settings()) as offline:
        assert offline.spawn("assistant").agent.spec.model_ref == "scripted:echo"
        offline.send("assistant", "hello offline").result()
        offline.stop_daemon(grace=1.0)

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    with Runtime.connect(Settings()) as online:
        [assistant] = online.list()
        reply = online.send("assistant", "hello Claude").result()

    assert assistant.spec.provider == "anthropic"
    assert reply.message.content == "You said: hello Claude"
    assert fake.requests[-1].messages == [
        ("user", "hello offline"),
        ("assistant", "You said: hello offline"),
        ("user", "hello Claude"),
    ]
