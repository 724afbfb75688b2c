"""The scripted provider: deterministic replies, scripted delays and failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.providers import base
from orchestration.providers.base import ChatTurn, ProviderRequest, StreamEnd, TextDelta
from orchestration.providers.scripted import ScriptedCrash, ScriptedProvider, parse_directives
from orchestration.settings import Settings


def request(text: str, model: str = "echo") -> ProviderRequest:
    return ProviderRequest(model=model, messages=(ChatTurn(role="user", content=text),))


@pytest.fixture
def provider(tmp_path: Path) -> ScriptedProvider:
    return ScriptedProvider(Settings(home=tmp_path, provider_timeout=0.2))


def test_it_echoes_the_input_word_by_word_then_ends(provider: ScriptedProvider) -> None:
    events = list(provider.stream(request("hello brave world")))

    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["You ", "said: ", "hello ", "brave ", "world"]
    assert events[-1] == StreamEnd(
        text="You said: hello brave world",
        usage=base.Usage(input_tokens=3, output_tokens=5),
        stop_reason="end_turn",
    )


def test_directives_are_parsed_and_removed_from_the_text() -> None:
    text, options = parse_directives("hi [[scripted: reply=Yes sir; delay=0.5]] there")

    assert text == "hi  there"
    assert options == {"reply": "Yes sir", "delay": "0.5"}


def test_a_scripted_reply_replaces_the_echo(provider: ScriptedProvider) -> None:
    assert provider.complete(request("x [[scripted: reply=Exactly this]]")).text == "Exactly this"


@pytest.mark.parametrize(
    ("kind", "error", "retryable"),
    [
        ("auth", base.AuthError, False),
        ("rate_limit", base.RateLimitError, True),
        ("overloaded", base.OverloadedError, True),
        ("timeout", base.ProviderTimeoutError, True),
        ("bad_request", base.BadRequestError, False),
        ("connection", base.ProviderConnectionError, True),
    ],
)
def test_scripted_failures_use_the_error_hierarchy(
    provider: ScriptedProvider, kind: str, error: type[base.ProviderError], retryable: bool
) -> None:
    with pytest.raises(error) as caught:
        list(provider.stream(request(f"x [[scripted: fail={kind}]]")))

    assert caught.value.kind == kind and caught.value.retryable is retryable


def test_a_failure_after_some_deltas_happens_mid_stream(provider: ScriptedProvider) -> None:
    seen: list[str] = []
    with pytest.raises(base.OverloadedError):
        for event in provider.stream(request("a b c [[scripted: fail=overloaded; after=2]]")):
            seen.append(event.text if isinstance(event, TextDelta) else "end")

    assert seen == ["You ", "said: "]


def test_hang_stalls_until_the_provider_timeout(provider: ScriptedProvider) -> None:
    with pytest.raises(base.ProviderTimeoutError, match=r"timed out after 0\.2 s"):
        list(provider.stream(request("x [[scripted: hang]]")))


def test_crash_raises_a_non_provider_error_like_a_bug(provider: ScriptedProvider) -> None:
    with pytest.raises(ScriptedCrash):
        list(provider.stream(request("x [[scripted: crash]]")))


def test_model_options_set_defaults_for_every_turn(provider: ScriptedProvider) -> None:
    end = provider.complete(request("anything", model="echo?reply=fixed"))

    assert end.text == "fixed"


def test_it_needs_no_credentials(tmp_path: Path) -> None:
    status = ScriptedProvider.credential_status(Settings(home=tmp_path))

    assert status.present
    ScriptedProvider(Settings(home=tmp_path)).validate()
