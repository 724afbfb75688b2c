"""What HTTP providers share: turning failed calls into the error hierarchy of base.py.

The SDK has already retried (``provider_max_retries``) when these errors are raised, so the
messages say what failed and the hints say what a person can change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from orchestration.providers.base import (
    AuthError,
    BadRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)

__all__ = ["connection_error", "host", "status_error", "timeout_error"]


def status_error(provider: str, status: int, detail: str, *, auth_hint: str) -> ProviderError:
    """The error for an HTTP error status; ``detail`` is the API's own message."""
    if status in (401, 403):
        return AuthError(
            f"{provider} refused the credentials (HTTP {status}): {detail}", hint=auth_hint
        )
    if status == 429:
        return RateLimitError(
            f"{provider} rate limit reached (HTTP 429): {detail}",
            hint="wait and send again, or raise ORCH_PROVIDER_MAX_RETRIES",
        )
    if status in (408, 504):
        return ProviderTimeoutError(
            f"{provider} timed out on its side (HTTP {status}): {detail}", hint="send again"
        )
    if status >= 500:
        return OverloadedError(
            f"{provider} is overloaded or failing (HTTP {status}): {detail}",
            hint="try again in a moment",
        )
    return BadRequestError(
        f"{provider} rejected the request (HTTP {status}): {detail}",
        hint="check the model name and the size of the conversation",
    )


def timeout_error(provider: str, seconds: float) -> ProviderTimeoutError:
    return ProviderTimeoutError(
        f"{provider} did not answer within {seconds:g} s",
        hint="send again, or raise ORCH_PROVIDER_TIMEOUT",
    )


def connection_error(provider: str, base_url: str, detail: str, *, env: str) -> ProviderError:
    return ProviderConnectionError(
        f"{provider} connection to {host(base_url)} failed: {detail}",
        hint=f"check the network and {env}",
    )


def host(url: str) -> str:
    """The host[:port] of a URL, without any user info that could hold a secret."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
