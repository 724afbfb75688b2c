"""The provider protocol: requests, stream events and the one error hierarchy.

A provider turns a `ProviderRequest` into a stream of `TextDelta` events that ends with one
`StreamEnd` (usage and stop reason). Providers know nothing of actors; they run inside agent
processes, in a worker thread, and must import their SDK lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from orchestration.messages import ErrorKind, Usage

__all__ = [
    "END_SESSION",
    "AuthError",
    "BadRequestError",
    "ChatTurn",
    "CredentialStatus",
    "LLMProvider",
    "OverloadedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRequest",
    "ProviderTimeoutError",
    "RateLimitError",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "complete_from_stream",
]


class ChatTurn(BaseModel):
    """One message of the history sent to a model."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str


class ProviderRequest(BaseModel):
    """Everything a provider needs for one completion."""

    model_config = ConfigDict(frozen=True)

    model: str
    messages: tuple[ChatTurn, ...]
    system: str = ""
    max_tokens: int = 4096
    new_turns: int = 1
    """How many turns at the end of ``messages`` are new for this turn (in a room: what the
    agent heard since its last turn, then the message to answer). A long-lived program that
    keeps its own transcript is sent only these."""


class TextDelta(BaseModel):
    """A piece of the reply text, in order."""

    model_config = ConfigDict(frozen=True)

    text: str


class StreamEnd(BaseModel):
    """The last event of a stream: the full text, usage and why the model stopped."""

    model_config = ConfigDict(frozen=True)

    text: str
    usage: Usage = Usage()
    stop_reason: str = "end_turn"
    metadata: dict[str, Any] = Field(default_factory=dict)
    """What else the provider reports about the turn (Claude Code: ``session_id``,
    ``total_cost_usd``); kept with the reply in the journal."""


END_SESSION = "end_session"
"""A `StreamEnd.stop_reason` saying the agent's work is done: once the turn is journaled the
agent exits normally, so a ``transient`` agent is not restarted (a CLI agent exiting 0 maps to
it; the scripted provider's ``end`` directive produces it)."""


StreamEvent = TextDelta | StreamEnd


class ProviderError(Exception):
    """A provider call failed. ``kind`` classifies it; ``retryable`` says if trying again helps."""

    kind: ErrorKind = "internal"
    retryable: bool = False

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class AuthError(ProviderError):
    kind = "auth"


class RateLimitError(ProviderError):
    kind = "rate_limit"
    retryable = True


class OverloadedError(ProviderError):
    kind = "overloaded"
    retryable = True


class ProviderTimeoutError(ProviderError):
    kind = "timeout"
    retryable = True


class BadRequestError(ProviderError):
    kind = "bad_request"


class ProviderConnectionError(ProviderError):
    kind = "connection"
    retryable = True


@runtime_checkable
class LLMProvider(Protocol):
    """What every provider implements. Instances are made per agent by the registry."""

    name: str

    def stream(self, request: ProviderRequest) -> Iterator[StreamEvent]:
        """Yield `TextDelta`s as they arrive, then exactly one `StreamEnd`."""
        ...

    def complete(self, request: ProviderRequest) -> StreamEnd:
        """Run the request to the end and return the final event."""
        ...

    def validate(self) -> None:
        """Raise `AuthError` (with a hint that says where credentials are looked for) if the
        provider cannot be used; return quietly when it can."""
        ...


def complete_from_stream(provider: LLMProvider, request: ProviderRequest) -> StreamEnd:
    """`complete` for providers whose only primitive is `stream`."""
    for event in provider.stream(request):
        if isinstance(event, StreamEnd):
            return event
    raise ProviderError(f"provider {provider.name} ended its stream without a final event")


class CredentialStatus(BaseModel):
    """Which credential a provider would use, and whether it is there. Never the secret."""

    model_config = ConfigDict(frozen=True)

    provider: str
    source: str
    present: bool
    detail: str = ""
