"""The Anthropic Messages API through the official SDK, with an API key or a gateway's token.

Credentials come only from `Settings`: ``ANTHROPIC_API_KEY``, else ``ANTHROPIC_AUTH_TOKEN`` (a
bearer token for gateways), or the same fields in the settings file. They are passed to the SDK
explicitly, which switches off its own discovery: without an explicit credential anthropic 2.x
reads ``ANTHROPIC_API_KEY``/``ANTHROPIC_AUTH_TOKEN``, then ``ANTHROPIC_PROFILE``, workload
identity federation variables and OAuth profiles under ``~/.config/anthropic``. Without a
credential the provider refuses before it makes a client. Claude subscription logins (Claude
Code's) are never read or forwarded; they belong to the claude-code provider.

The SDK is imported lazily (it takes seconds), and it does the retrying and the timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from orchestration.messages import Usage
from orchestration.providers._errors import connection_error, host, status_error, timeout_error
from orchestration.providers.base import (
    AuthError,
    ChatTurn,
    CredentialStatus,
    ProviderConnectionError,
    ProviderError,
    ProviderRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
    complete_from_stream,
)
from orchestration.settings import Settings, setting_source

__all__ = ["AnthropicProvider"]

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import MessageParam

DEFAULT_BASE_URL = "https://api.anthropic.com"
WHERE = (
    "set ANTHROPIC_API_KEY, or ANTHROPIC_AUTH_TOKEN for a gateway, in the environment the daemon"
    " starts from, or anthropic_api_key in the settings file"
)
# Error types of the API and the status they stand for: errors inside a stream come with 200.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicProvider:
    """`LLMProvider` for the Messages API; one instance per agent, one SDK client each."""

    name = "anthropic"
    default_model = "claude-sonnet-5-5"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base_url = settings.anthropic_base_url or DEFAULT_BASE_URL
        self._client: anthropic.Anthropic | None = None
        self._auth_headers: dict[str, str | anthropic.Omit] = {}

    @classmethod
    def credential_status(cls, settings: Settings) -> CredentialStatus:
        """Which credential would be used, and where to; never the secret."""
        credential = _credential(settings)
        if credential is None:
            return CredentialStatus(
                provider=cls.name, source="ANTHROPIC_API_KEY", present=False, detail=WHERE
            )
        to = host(settings.anthropic_base_url or DEFAULT_BASE_URL)
        field = credential[0].lower()
        source = setting_source(field) or field
        return CredentialStatus(provider=cls.name, source=source, present=True, detail=to)

    def validate(self) -> None:
        """Raise `AuthError` when no credential is configured (no request is made)."""
        _require(self._settings)

    def stream(self, request: ProviderRequest) -> Iterator[StreamEvent]:
        """Stream the reply's text deltas, then one `StreamEnd`; SDK errors become ours."""
        import anthropic
        import httpx2

        client = self._sdk()
        messages = [_message_param(turn) for turn in request.messages]
        parts: list[str] = []
        usage = Usage()
        stop_reason = "end_turn"
        finished = False
        try:
            with client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                messages=messages,
                system=request.system or anthropic.omit,
                stream=True,
                extra_headers=self._auth_headers,
            ) as events:
                for event in events:
                    if event.type == "message_start":
                        usage = _usage(event.message.usage, usage)
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        yield TextDelta(text=event.delta.text)
                    elif event.type == "message_delta":
                        usage = _usage(event.usage, usage)
                        stop_reason = event.delta.stop_reason or stop_reason
                    elif event.type == "message_stop":
                        finished = True
        except (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError) as exc:
            raise self._error(exc) from exc
        if not finished:
            raise ProviderConnectionError(
                f"anthropic stream from {host(self._base_url)} ended before message_stop",
                hint="send again",
            )
        yield StreamEnd(text="".join(parts), usage=usage, stop_reason=stop_reason)

    def complete(self, request: ProviderRequest) -> StreamEnd:
        """Streams under the hood: long replies never hit a non-streaming time limit."""
        return complete_from_stream(self, request)

    def _sdk(self) -> anthropic.Anthropic:
        import anthropic

        if self._client is None:
            kind, secret = _require(self._settings)
            client = anthropic.Anthropic(
                api_key=secret if kind == "ANTHROPIC_API_KEY" else None,
                auth_token=secret if kind == "ANTHROPIC_AUTH_TOKEN" else None,
                base_url=self._base_url,
                max_retries=self._settings.provider_max_retries,
                timeout=self._settings.provider_timeout,
            )
            # ANTHROPIC_CUSTOM_HEADERS may add an auth header that would win over ours: send
            # exactly the SDK's auth header for our credential, and no other.
            omitted = {"Authorization": anthropic.omit, "X-Api-Key": anthropic.omit}
            self._auth_headers = {**omitted, **client.auth_headers}
            self._client = client
        return self._client

    def _error(self, exc: Exception) -> ProviderError:
        import anthropic
        import httpx2

        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return timeout_error(self.name, self._settings.provider_timeout)
        if isinstance(exc, anthropic.APIStatusError):
            status = ERROR_TYPE_STATUS.get(exc.type or "", exc.status_code)
            detail = exc.api_message or exc.message
            source = _require(self._settings)[0]
            auth_hint = f"check {source} in the daemon's environment or the settings file"
            return status_error(self.name, status, detail, auth_hint=auth_hint)
        if isinstance(exc, anthropic.APIConnectionError | httpx2.HTTPError):
            detail = str(exc.__cause__ or exc) or type(exc).__name__
            return connection_error(self.name, self._base_url, detail, env="ANTHROPIC_BASE_URL")
        if isinstance(exc, json.JSONDecodeError):
            detail = f"malformed stream event ({exc})"
            return connection_error(self.name, self._base_url, detail, env="ANTHROPIC_BASE_URL")
        return ProviderError(f"anthropic failed: {exc}")


def _credential(settings: Settings) -> tuple[str, str] | None:
    """(setting name, secret) of the credential to use: the API key wins over the token."""
    for name, value in (
        ("ANTHROPIC_API_KEY", settings.anthropic_api_key),
        ("ANTHROPIC_AUTH_TOKEN", settings.anthropic_auth_token),
    ):
        if value is not None and value.get_secret_value():
            return name, value.get_secret_value()
    return None


def _require(settings: Settings) -> tuple[str, str]:
    credential = _credential(settings)
    if credential is None:
        raise AuthError("anthropic has no API key or auth token", hint=WHERE)
    return credential


def _usage(
    reported: anthropic.types.MessageDeltaUsage | anthropic.types.Usage, old: Usage
) -> Usage:
    """Merge reported counts into ``old``; input counts include cache reads and writes."""
    cached = (reported.cache_creation_input_tokens or 0) + (reported.cache_read_input_tokens or 0)
    input_tokens = old.input_tokens
    if reported.input_tokens is not None:
        input_tokens = reported.input_tokens + cached
    return Usage(input_tokens=input_tokens, output_tokens=reported.output_tokens)


def _message_param(turn: ChatTurn) -> MessageParam:
    if turn.role == "user":
        return {"role": "user", "content": turn.content}
    return {"role": "assistant", "content": turn.content}
