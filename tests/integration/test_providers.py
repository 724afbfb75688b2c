"""The Anthropic and OpenAI providers, with the real SDKs, against the fake LLM server.

No actors and no network beyond 127.0.0.1; no API key needed. The environment is scrubbed of
provider, ORCH_* and proxy variables so the tests see only what they set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestration.providers.anthropic import AnthropicProvider
from orchestration.providers.base import (
    AuthError,
    BadRequestError,
    ChatTurn,
    LLMProvider,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderRequest,
    ProviderTimeoutError,
    RateLimitError,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from orchestration.providers.openai import OpenAIProvider
from orchestration.settings import Settings
from tests.fakes import Directive, FakeLLMServer
from tests.support import within

PROVIDERS = ["anthropic", "openai"]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "OPENAI_", "ORCH_")) or name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("ORCH_CONFIG", str(tmp_path / "no-settings-file.toml"))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "anthropic-config"))


def make_settings(tmp_path: Path, **fields: object) -> Settings:
    defaults: dict[str, object] = {"provider_max_retries": 0, "provider_timeout": 5.0}
    return Settings(home=tmp_path, **(defaults | fields))


def make_provider(
    name: str, fake: FakeLLMServer, tmp_path: Path, **fields: object
) -> AnthropicProvider | OpenAIProvider:
    """A provider of ``name`` pointed at the fake, with key "sk-test" and no retries."""
    if name == "anthropic":
        credentials = {"anthropic_api_key": SecretStr("sk-test"), "anthropic_base_url": fake.url}
        return AnthropicProvider(make_settings(tmp_path, **(credentials | fields)))
    credentials = {"openai_api_key": SecretStr("sk-test"), "openai_base_url": fake.openai_url}
    return OpenAIProvider(make_settings(tmp_path, **(credentials | fields)))


def ask(prompt: str, system: str = "") -> ProviderRequest:
    return ProviderRequest(
        model="test-model", messages=(ChatTurn(role="user", content=prompt),), system=system
    )


def stream_until_error(
    provider: LLMProvider, request: ProviderRequest
) -> tuple[list[StreamEvent], ProviderError]:
    """The events streamed before the stream failed, and the error it failed with."""
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        for event in provider.stream(request):
            events.append(event)
    return events, caught.value


# --- streaming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_stream_yields_deltas_in_order_then_one_stream_end(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    events = list(make_provider(name, fake, tmp_path).stream(ask("hello there")))

    *deltas, end = events
    assert [delta.text for delta in deltas] == ["You ", "said: ", "hello ", "there"]
    assert all(isinstance(delta, TextDelta) for delta in deltas)
    assert isinstance(end, StreamEnd)
    assert end.text == "You said: hello there"
    assert end.usage.input_tokens == 2
    assert end.usage.output_tokens == 4
    assert end.stop_reason == "end_turn"
    assert fake.requests[0].stream


@pytest.mark.parametrize("name", PROVIDERS)
def test_complete_returns_the_final_event(name: str, fake: FakeLLMServer, tmp_path: Path) -> None:
    fake.script(Directive(reply="Forty-two."))

    end = make_provider(name, fake, tmp_path).complete(ask("the answer?"))

    assert end.text == "Forty-two."
    assert end.usage.output_tokens == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_system_prompt_model_and_history_reach_the_server(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    history = (
        ChatTurn(role="user", content="Hi"),
        ChatTurn(role="assistant", content="Hello!"),
        ChatTurn(role="user", content="How are you?"),
    )
    request = ProviderRequest(model="big-model", messages=history, system="Be brief.")

    make_provider(name, fake, tmp_path).complete(request)

    [sent] = fake.requests
    assert sent.model == "big-model"
    assert sent.system == "Be brief."
    assert sent.messages == [("user", "Hi"), ("assistant", "Hello!"), ("user", "How are you?")]


def test_openai_asks_compatible_servers_for_usage_with_max_tokens(
    fake: FakeLLMServer, tmp_path: Path
) -> None:
    make_provider("openai", fake, tmp_path).complete(ask("hi"))

    body = fake.requests[0].body
    assert fake.requests[0].path == "/v1/chat/completions"
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 4096
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("name", PROVIDERS)
def test_deltas_arrive_live_not_at_the_end(name: str, fake: FakeLLMServer, tmp_path: Path) -> None:
    provider = make_provider(name, fake, tmp_path)
    prompt = "[[fake:delay=0.1]] [[fake:reply=one two three four]]"

    arrivals = [(time.monotonic(), event) for event in provider.stream(ask(prompt))]

    (first, _), *_, (last_delta, _), (_, end) = arrivals
    assert len(arrivals) == 5  # four deltas and the end
    assert last_delta - first >= 0.25  # three delays lie between the first and the last delta
    assert end == StreamEnd(text="one two three four", usage=end.usage)


# --- credentials -------------------------------------------------------------------------------


def test_anthropic_sends_the_api_key_as_the_sdk_does(fake: FakeLLMServer, tmp_path: Path) -> None:
    make_provider("anthropic", fake, tmp_path).complete(ask("hi"))

    [sent] = fake.requests
    # anthropic 2.x sends API keys as "Authorization: Bearer", not x-api-key.
    assert (sent.auth, sent.credential) == ("bearer", "sk-test")
    assert "x-api-key" not in sent.headers
    assert sent.beta is None  # no OAuth beta: this is not a subscription login


def test_anthropic_sends_an_auth_token_as_bearer(fake: FakeLLMServer, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, anthropic_auth_token=SecretStr("gw-token"), anthropic_base_url=fake.url
    )

    AnthropicProvider(settings).complete(ask("hi"))

    assert (fake.requests[0].auth, fake.requests[0].credential) == ("bearer", "gw-token")


def test_anthropic_prefers_the_api_key_over_the_auth_token(
    fake: FakeLLMServer, tmp_path: Path
) -> None:
    make_provider("anthropic", fake, tmp_path, anthropic_auth_token=SecretStr("gw")).complete(
        ask("hi")
    )

    assert fake.requests[0].credential == "sk-test"


def test_anthropic_custom_headers_cannot_replace_the_credential(
    fake: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ANTHROPIC_CUSTOM_HEADERS", "Authorization: Bearer leaked\nX-Api-Key: leaked\nX-Trace: 7"
    )

    make_provider("anthropic", fake, tmp_path).complete(ask("hi"))

    [sent] = fake.requests
    assert (sent.auth, sent.credential) == ("bearer", "sk-test")
    assert "x-api-key" not in sent.headers
    assert sent.headers["x-trace"] == "7"  # other custom headers still go through


def write_oauth_profile(config_dir: Path) -> None:
    """An Anthropic SDK profile holding an OAuth access token, as a login would leave it."""
    (config_dir / "configs").mkdir(parents=True)
    (config_dir / "credentials").mkdir()
    profile = {"authentication": {"type": "user_oauth"}}
    (config_dir / "configs" / "default.json").write_text(json.dumps(profile))
    token = config_dir / "credentials" / "default.json"
    token.write_text(json.dumps({"access_token": "sk-ant-oat-leaked"}))
    token.chmod(0o600)


def test_the_sdk_alone_would_pick_up_an_oauth_profile(fake: FakeLLMServer, tmp_path: Path) -> None:
    """The control for the next test: this discovery is real in anthropic 2.x."""
    import anthropic

    write_oauth_profile(Path(os.environ["ANTHROPIC_CONFIG_DIR"]))
    client = anthropic.Anthropic(base_url=fake.url, max_retries=0)

    client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])

    assert fake.requests[0].credential == "sk-ant-oat-leaked"


def test_the_provider_never_uses_an_oauth_profile(fake: FakeLLMServer, tmp_path: Path) -> None:
    write_oauth_profile(Path(os.environ["ANTHROPIC_CONFIG_DIR"]))
    without_key = AnthropicProvider(make_settings(tmp_path, anthropic_base_url=fake.url))
    with_token = AnthropicProvider(
        make_settings(tmp_path, anthropic_auth_token=SecretStr("gw"), anthropic_base_url=fake.url)
    )

    with pytest.raises(AuthError):
        list(without_key.stream(ask("hi")))
    with_token.complete(ask("hi"))

    [sent] = fake.requests
    assert sent.credential == "gw"
    assert sent.beta is None


def test_anthropic_validate_without_credentials_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(AuthError) as caught:
        AnthropicProvider(make_settings(tmp_path)).validate()

    message = str(caught.value)
    assert "ANTHROPIC_API_KEY" in message
    assert "ANTHROPIC_AUTH_TOKEN" in message
    assert "settings file" in message
    assert not caught.value.retryable


def test_openai_validate_without_credentials_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(AuthError) as caught:
        OpenAIProvider(make_settings(tmp_path)).validate()

    assert "OPENAI_API_KEY" in str(caught.value)
    assert "OPENAI_BASE_URL" in str(caught.value)
    assert "settings file" in str(caught.value)


def test_openai_local_server_needs_no_key(fake: FakeLLMServer, tmp_path: Path) -> None:
    provider = OpenAIProvider(make_settings(tmp_path, openai_base_url=fake.openai_url))

    provider.validate()
    end = provider.complete(ask("hi"))

    assert end.text == "You said: hi"
    assert fake.requests[0].credential == "no-key"
    assert OpenAIProvider.credential_status(provider._settings).source == "OPENAI_BASE_URL"


@pytest.mark.parametrize("name", PROVIDERS)
def test_credential_status_never_holds_the_secret(name: str, tmp_path: Path) -> None:
    base_url = "http://user:sk-in-url@127.0.0.1:9"
    settings = make_settings(
        tmp_path,
        anthropic_api_key=SecretStr("sk-secret"),
        anthropic_base_url=base_url,
        openai_api_key=SecretStr("sk-secret"),
        openai_base_url=base_url,
    )
    provider = AnthropicProvider if name == "anthropic" else OpenAIProvider

    status = provider.credential_status(settings)
    missing = provider.credential_status(make_settings(tmp_path))

    assert status.present
    assert status.detail == "127.0.0.1:9"
    assert "sk-" not in status.model_dump_json()
    assert not missing.present
    assert "settings file" in missing.detail


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    (Directive(status=429, retry_after=0), RateLimitError, "429"),
    (Directive(status=500), OverloadedError, "500"),
    (Directive(status=529), OverloadedError, "529"),
    (Directive(status=401), AuthError, "401"),
    (Directive(status=400), BadRequestError, "400"),
    (Directive(malformed=True), ProviderConnectionError, "malformed"),
]


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(("directive", "error", "detail"), ERRORS)
def test_errors_map_to_the_hierarchy(
    name: str,
    directive: Directive,
    error: type[ProviderError],
    detail: str,
    fake: FakeLLMServer,
    tmp_path: Path,
) -> None:
    fake.script(directive)

    _, caught = stream_until_error(make_provider(name, fake, tmp_path), ask("hi"))

    assert type(caught) is error
    assert caught.retryable == error.retryable
    assert name in str(caught)
    assert detail in str(caught)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_error_tags_in_the_prompt_work_like_scripted_directives(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    _, caught = stream_until_error(
        make_provider(name, fake, tmp_path), ask("[[fake:status=529]] [[fake:retry_after=0]] hi")
    )

    assert isinstance(caught, OverloadedError)
    assert caught.retryable


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_hanging_server_times_out(name: str, fake: FakeLLMServer, tmp_path: Path) -> None:
    fake.script(Directive(hang=True))
    provider = make_provider(name, fake, tmp_path, provider_timeout=0.3)

    _, caught = within(3, lambda: stream_until_error(provider, ask("hi")), "the timeout")

    assert isinstance(caught, ProviderTimeoutError)
    assert caught.retryable
    assert "0.3 s" in str(caught)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_dropped_stream_is_a_connection_error_after_the_deltas_sent(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    fake.script(Directive(drop_after=2))

    events, caught = stream_until_error(make_provider(name, fake, tmp_path), ask("one two three"))

    assert events == [TextDelta(text="You "), TextDelta(text="said: ")]
    assert isinstance(caught, ProviderConnectionError)
    assert caught.retryable


@pytest.mark.parametrize("name", PROVIDERS)
def test_fail_once_succeeds_through_the_sdk_retry(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    provider = make_provider(name, fake, tmp_path, provider_max_retries=1)

    end = provider.complete(ask("[[fake:fail_once=529]] hi"))

    assert end.text == "You said: hi"
    first, retry = fake.requests
    assert first.body == retry.body


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_sdk_retries_rate_limits_then_gives_up(
    name: str, fake: FakeLLMServer, tmp_path: Path
) -> None:
    fake.script(*[Directive(status=429, retry_after=0.01)] * 3)
    provider = make_provider(name, fake, tmp_path, provider_max_retries=2)

    # retry-after (10 ms) is honoured, not the SDK's backoff of seconds
    _, caught = within(2, lambda: stream_until_error(provider, ask("hi")), "the give-up")

    assert isinstance(caught, RateLimitError)
    assert len(fake.requests) == 3


def test_unknown_tags_are_rejected_as_bad_requests(fake: FakeLLMServer, tmp_path: Path) -> None:
    _, caught = stream_until_error(
        make_provider("anthropic", fake, tmp_path), ask("[[fake:explode=1]]")
    )

    assert isinstance(caught, BadRequestError)
    assert "explode" in str(caught)


# --- the fake itself ---------------------------------------------------------------------------


def test_the_fake_answers_non_streaming_requests_of_both_sdks(fake: FakeLLMServer) -> None:
    import anthropic
    import openai

    anthropic_client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
    openai_client = openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0)

    message = anthropic_client.messages.create(
        model="m", max_tokens=8, messages=[{"role": "user", "content": "ping"}]
    )
    completion = openai_client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "pong"}]
    )

    assert [block.text for block in message.content if block.type == "text"] == ["You said: ping"]
    assert message.stop_reason == "end_turn"
    assert completion.choices[0].message.content == "You said: pong"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    assert [request.stream for request in fake.requests] == [False, False]


def test_closing_the_fake_ends_a_hanging_request_promptly(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    outcome: list[BaseException] = []
    with FakeLLMServer(Directive(hang=True)) as fake:
        provider = make_provider("anthropic", fake, tmp_path, provider_timeout=60.0)

        def call() -> None:
            try:
                provider.complete(ask("hi"))
            except ProviderError as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        fake.wait_for_requests(1)
        started = time.monotonic()
    closed_after = time.monotonic() - started
    caller.join(timeout=5)

    assert closed_after < 1
    assert [type(exc) for exc in outcome] == [ProviderConnectionError]
    left_running = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert left_running == [], "the fake left a thread behind"


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_entry_point_names_the_provider(name: str, tmp_path: Path) -> None:
    [entry] = [ep for ep in entry_points(group="orchestration.providers") if ep.name == name]
    cls = entry.load()

    assert (cls.name, bool(cls.default_model)) == (name, True)
    assert isinstance(cls(make_settings(tmp_path)), LLMProvider)


def test_provider_modules_import_without_their_sdks() -> None:
    code = (
        "import sys, orchestration.providers.anthropic, orchestration.providers.openai;"
        "print(sorted({'anthropic', 'openai', 'httpx2'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
