"""OpenAI Chat Completions through the official SDK, for OpenAI and any compatible server.

Credentials come only from `Settings`: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``, or the same
fields in the settings file, passed to the SDK explicitly. A base URL without a key is allowed,
for local servers (Ollama, vLLM, LM Studio) that ignore keys: the SDK refuses to run without
one, so it gets the placeholder `NO_KEY`. With neither, `validate` fails.

Towards api.openai.com the token limit is sent as ``max_completion_tokens`` (which reasoning
models require), towards any other server as ``max_tokens`` (which they all know). Finish
reasons are reported with Anthropic's names (``stop`` -> ``end_turn``, ``length`` ->
``max_tokens``) so callers see one vocabulary.

The SDK is imported lazily (it takes seconds), and it does the retrying and the timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from orchestration.messages import Usage
from orchestration.providers._errors import connection_error, host, status_error, timeout_error
from orchestration.providers.base import (
    AuthError,
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

__all__ = ["OpenAIProvider"]

if TYPE_CHECKING:
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"
WHERE = (
    "set OPENAI_API_KEY, or OPENAI_BASE_URL alone for a local server, in the environment the"
    " daemon starts from, or openai_api_key and openai_base_url in the settings file"
)
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
}


class OpenAIProvider:
    """`LLMProvider` for Chat Completions; one instance per agent, one SDK client each."""

    name = "openai"
    default_model = "gpt-5.5"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base_url = settings.openai_base_url or DEFAULT_BASE_URL
        self._client: openai.OpenAI | None = None

    @classmethod
    def credential_status(cls, settings: Settings) -> CredentialStatus:
        """Which credential would be used, and where to; never the secret."""
        to = host(settings.openai_base_url or DEFAULT_BASE_URL)
        if _key(settings):
            source = setting_source("openai_api_key") or "openai_api_key"
            return CredentialStatus(provider=cls.name, source=source, present=True, detail=to)
        if settings.openai_base_url:
            detail = f"{to}, without a key (a local server)"
            return CredentialStatus(
                provider=cls.name, source="OPENAI_BASE_URL", present=True, detail=detail
            )
        return CredentialStatus(
            provider=cls.name, source="OPENAI_API_KEY", present=False, detail=WHERE
        )

    def validate(self) -> None:
        """Raise `AuthError` when there is neither a key nor a base URL (no request is made)."""
        if not _key(self._settings) and not self._settings.openai_base_url:
            raise AuthError("openai has no API key and no base URL", hint=WHERE)

    def stream(self, request: ProviderRequest) -> Iterator[StreamEvent]:
        """Stream the reply's text deltas, then one `StreamEnd`; SDK errors become ours."""
        import openai

        client = self._sdk()
        messages: list[Any] = (
            [{"role": "system", "content": request.system}] if request.system else []
        )
        messages += [{"role": turn.role, "content": turn.content} for turn in request.messages]
        compatible = bool(self._settings.openai_base_url)  # older servers know max_tokens only
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        try:
            with client.chat.completions.create(
                model=request.model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=request.max_tokens if compatible else openai.omit,
                max_completion_tokens=openai.omit if compatible else request.max_tokens,
            ) as chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = Usage(
                            input_tokens=chunk.usage.prompt_tokens,
                            output_tokens=chunk.usage.completion_tokens,
                        )
                    for choice in chunk.choices[:1]:
                        if choice.delta is not None and choice.delta.content:
                            parts.append(choice.delta.content)
                            yield TextDelta(text=choice.delta.content)
                        finish = choice.finish_reason or finish
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            raise self._error(exc) from exc
        if finish is None:
            raise ProviderConnectionError(
                f"openai stream from {host(self._base_url)} ended before a finish reason",
                hint="send again",
            )
        yield StreamEnd(
            text="".join(parts), usage=usage, stop_reason=STOP_REASONS.get(finish, finish)
        )

    def complete(self, request: ProviderRequest) -> StreamEnd:
        """Streams under the hood, like `stream`."""
        return complete_from_stream(self, request)

    def _sdk(self) -> openai.OpenAI:
        import openai

        if self._client is None:
            self.validate()
            self._client = openai.OpenAI(
                api_key=_key(self._settings) or NO_KEY,
                base_url=self._base_url,
                max_retries=self._settings.provider_max_retries,
                timeout=self._settings.provider_timeout,
            )
        return self._client

    def _error(self, exc: Exception) -> ProviderError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return timeout_error(self.name, self._settings.provider_timeout)
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            detail = body.get("message") if isinstance(body, dict) else None
            auth_hint = "check OPENAI_API_KEY in the daemon's environment or the settings file"
            return status_error(
                self.name, exc.status_code, detail or exc.message, auth_hint=auth_hint
            )
        if isinstance(exc, openai.APIConnectionError):
            detail = str(exc.__cause__ or exc)
            return connection_error(self.name, self._base_url, detail, env="OPENAI_BASE_URL")
        if isinstance(exc, json.JSONDecodeError):
            detail = f"malformed stream event ({exc})"
            return connection_error(self.name, self._base_url, detail, env="OPENAI_BASE_URL")
        return ProviderError(f"openai failed: {exc}")


def _key(settings: Settings) -> str:
    """The API key, or "" when none is set."""
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
