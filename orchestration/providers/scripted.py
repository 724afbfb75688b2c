"""The offline, deterministic provider: the embedded default and the test double.

By default it answers ``You said: <last user message>`` streamed word by word. Tests (and demos)
script it in two places:

- the model string: ``scripted:echo?delay=0.05`` sets defaults for every turn of the agent;
- a directive anywhere in the last user message, which is removed from the echoed text:
  ``[[scripted: reply=Hello there; delay=0.1]]``.

Directive keys: ``reply`` (the reply text), ``delay`` (seconds before each delta),
``first_delay`` (seconds before the first delta), ``fail`` (an error kind: auth, rate_limit,
overloaded, timeout, bad_request, connection) with optional ``after`` (deltas sent before the
failure), ``hang`` (stall until the provider timeout), ``crash`` (raise a non-provider
error, as a bug would), ``end`` (reply, then end the agent's session: it exits normally).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl

from orchestration.messages import Usage
from orchestration.providers import base
from orchestration.providers.base import (
    CredentialStatus,
    ProviderRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from orchestration.settings import Settings

__all__ = ["ScriptedCrash", "ScriptedProvider", "parse_directives"]

DIRECTIVE = re.compile(r"\[\[scripted:(?P<body>.*?)\]\]", re.DOTALL)
FAILURES: dict[str, type[base.ProviderError]] = {
    "auth": base.AuthError,
    "rate_limit": base.RateLimitError,
    "overloaded": base.OverloadedError,
    "timeout": base.ProviderTimeoutError,
    "bad_request": base.BadRequestError,
    "connection": base.ProviderConnectionError,
}


class ScriptedCrash(RuntimeError):
    """Raised by the ``crash`` directive: stands for a bug, not a provider failure."""


def parse_directives(text: str) -> tuple[str, dict[str, str]]:
    """Split a message into its text without directives and the directives' keys."""
    options: dict[str, str] = {}
    for match in DIRECTIVE.finditer(text):
        for part in match.group("body").split(";"):
            key, _, value = part.partition("=")
            if key.strip():
                options[key.strip()] = value.strip()
    return DIRECTIVE.sub("", text).strip(), options


class ScriptedProvider:
    """Replies made from the input, with scriptable delays and failures. Needs no credentials."""

    name = "scripted"
    default_model = "echo"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @classmethod
    def credential_status(cls, settings: Settings) -> CredentialStatus:
        return CredentialStatus(
            provider=cls.name, source="none needed (offline)", present=True, detail="always on"
        )

    def validate(self) -> None:
        """Always usable."""

    def complete(self, request: ProviderRequest) -> StreamEnd:
        return base.complete_from_stream(self, request)

    def stream(self, request: ProviderRequest) -> Iterator[StreamEvent]:
        _, _, query = request.model.partition("?")
        options = dict(parse_qsl(query))
        last_user = next((t.content for t in reversed(request.messages) if t.role == "user"), "")
        said, inline = parse_directives(last_user)
        options.update(inline)
        return self._play(request, said, options)

    def _play(
        self, request: ProviderRequest, said: str, options: dict[str, str]
    ) -> Iterator[StreamEvent]:
        if "crash" in options:
            raise ScriptedCrash("scripted crash directive")
        reply = options.get("reply") or f"You said: {said}"
        delay = float(options.get("delay", 0))
        words = re.findall(r"\S+\s*", reply)
        fail_at = int(options.get("after", 0)) if "fail" in options else None
        time.sleep(float(options.get("first_delay", 0)))
        for index, word in enumerate(words):
            if fail_at is not None and index >= fail_at:
                break
            if delay:
                time.sleep(delay)
            yield TextDelta(text=word)
        if fail_at is not None:
            raise _failure(options["fail"])
        if "hang" in options:  # like a stalled connection: only the SDK timeout ends it
            time.sleep(self._settings.provider_timeout)
            raise base.ProviderTimeoutError(
                f"scripted hang timed out after {self._settings.provider_timeout:g} s"
            )
        prompt_words = sum(len(t.content.split()) for t in request.messages)
        yield StreamEnd(
            text=reply,
            usage=Usage(input_tokens=prompt_words, output_tokens=len(words)),
            stop_reason=base.END_SESSION if "end" in options else "end_turn",
        )


def _failure(kind: str) -> base.ProviderError:
    error = FAILURES.get(kind)
    if error is None:
        return base.BadRequestError(
            f"unknown scripted failure {kind!r}; use one of {list(FAILURES)}"
        )
    return error(f"scripted {kind} failure")
