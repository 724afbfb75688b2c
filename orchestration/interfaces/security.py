"""The REST API's guards: the bearer token, the request body limit and the rate limit.

Binding to anything but loopback requires a token (configured, or generated and printed once).
On loopback every local user can connect, so ``serve --require-token`` asks for one there too,
kept in the data dir (0600) for local tools. Tokens are compared in constant time and never
logged or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestration.interfaces.problems import Problem, problem_response
from orchestration.private_files import create_exclusive

__all__ = [
    "BodyLimit",
    "Guarded",
    "RateLimiter",
    "TokenChoice",
    "TokenFileError",
    "TokenGuard",
    "choose_token",
    "is_loopback",
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_TOKEN_CHARS = 16


class TokenFileError(Exception):
    """The token file of ``--require-token`` cannot be used; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class TokenChoice:
    """The token a server on some address requires (None: none), whether it was made up now
    (then the caller prints it, once), or the file it is kept in for local tools."""

    token: str | None
    generated: bool = False
    kept_in: Path | None = None


def choose_token(
    host: str, configured: SecretStr | None, *, require: bool = False, keep_in: Path
) -> TokenChoice:
    """A configured token always applies. Otherwise, with ``require`` the token is the one
    kept in ``keep_in`` (made there, 0600, on first use), so that local tools can read it; off
    loopback a token is generated and shown once; on loopback none is needed."""
    if configured is not None and configured.get_secret_value():
        return TokenChoice(configured.get_secret_value())
    if require:
        create_exclusive(keep_in, secrets.token_urlsafe(32).encode())
        kept = keep_in.read_text().strip()
        if len(kept) < MIN_TOKEN_CHARS:
            raise TokenFileError(
                f"{keep_in} holds no usable token (fewer than {MIN_TOKEN_CHARS} characters)",
                "delete it to have a new one made, or set ORCH_API_TOKEN",
            )
        return TokenChoice(kept, kept_in=keep_in)
    if is_loopback(host):
        return TokenChoice(None)
    return TokenChoice(secrets.token_urlsafe(32), generated=True)


bearer = HTTPBearer(auto_error=False, description="ORCH_API_TOKEN, or the token `serve` printed")


class TokenGuard:
    """A FastAPI dependency: the request carries ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def accepts(self, given: str) -> bool:
        """Whether ``given`` is the token (compared in constant time)."""
        return hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, request: Request) -> None:
        credentials: HTTPAuthorizationCredentials | None = await bearer(request)
        given = credentials.credentials if credentials else ""
        if not self.accepts(given):
            raise Problem(
                401,
                "unauthorized",
                "a valid bearer token is required" if given else "no bearer token was given",
                "send Authorization: Bearer <ORCH_API_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )


class Guarded:
    """ASGI middleware for a mounted app that FastAPI dependencies do not reach (the MCP
    endpoint): each HTTP request passes every guard (`RateLimiter`, `TokenGuard`), or gets the
    guard's problem+json (429, 401)."""

    def __init__(self, app: ASGIApp, guards: list[Callable[[Request], Awaitable[None]]]) -> None:
        self.app = app
        self._guards = guards

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                for guard in self._guards:
                    await guard(Request(scope))
            except Problem as problem:
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RateLimiter:
    """A token bucket per client address, ``per_minute`` requests deep, refilled evenly over a
    minute; as a FastAPI dependency, a REST request over the limit gets 429 with
    ``Retry-After``. WebSocket handshakes and ``say`` frames draw on the same buckets."""

    MAX_CLIENTS = 4096

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, request: Request) -> None:
        self.take(request.client.host if request.client else "unknown")

    def take(self, client: str) -> None:
        """Count one request of ``client``; raise the 429 `Problem` when it is over."""
        now = time.monotonic()
        tokens, then = self._buckets.pop(client, (self._capacity, now))  # re-added last: LRU
        tokens = min(self._capacity, tokens + (now - then) * self._rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            wait = math.ceil((1 - tokens) / self._rate)
            raise Problem(
                429,
                "rate_limited",
                f"more than {self._capacity:g} requests a minute",
                f"retry after {wait} s, or raise ORCH_RATE_LIMIT_PER_MINUTE",
                headers={"Retry-After": str(wait)},
            )
        if len(self._buckets) >= self.MAX_CLIENTS:
            self._make_room(now)
        self._buckets[client] = (tokens - 1, now)

    def _make_room(self, now: float) -> None:
        """Drop the clients whose buckets have refilled (they are as good as new); if none
        has, the one seen longest ago."""
        for client, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * self._rate >= self._capacity:
                del self._buckets[client]
        if len(self._buckets) >= self.MAX_CLIENTS:
            del self._buckets[next(iter(self._buckets))]


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, whether it declares its
    length or streams it. The body is read (up to the limit) before the app runs."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            413,
            "body_too_large",
            f"the request body is over {self.limit:,} bytes",
            "send less, or raise ORCH_MAX_BODY_BYTES",
        )
        await problem_response(problem)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` first, then what the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
