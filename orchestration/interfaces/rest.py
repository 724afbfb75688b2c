"""The REST API (FastAPI): agents, rooms, the tree and its events under ``/v1``, health at
``/healthz`` and ``/readyz``, OpenAPI docs at ``/docs``, and the MCP tools over streamable
HTTP at ``/mcp/`` (their session manager runs in the app's lifespan).

It reaches the tree only through a `Runtime`, which the caller owns (closing the app never
stops the daemon). Errors are RFC 9457 problem+json (`orchestration.interfaces.problems`);
the token, CORS, body and rate limits are in `orchestration.interfaces.security`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel
from starlette.types import ASGIApp

from orchestration.interfaces import problems
from orchestration.interfaces.agents_api import agents_router
from orchestration.interfaces.mcp import build_server
from orchestration.interfaces.rooms_api import rooms_router
from orchestration.interfaces.security import BodyLimit, Guarded, RateLimiter, TokenGuard
from orchestration.interfaces.workflows_api import workflows_router
from orchestration.interfaces.ws import ws_router
from orchestration.messages import Envelope, GatewayReport, TreeSnapshot
from orchestration.runtime import Runtime
from orchestration.settings import Settings

__all__ = ["Events", "Health", "create_app"]


class Health(BaseModel):
    status: str


class Events(BaseModel):
    events: list[Envelope]


def create_app(runtime: Runtime, settings: Settings, *, token: str | None) -> FastAPI:
    """The API on ``runtime``, with the MCP tools (`build_server`) over streamable HTTP at
    ``/mcp/``; every ``/v1`` and ``/mcp`` call needs ``token`` as a bearer token unless it is
    None (decide it with `orchestration.interfaces.security.choose_token`)."""
    mcp = build_server(runtime)
    app = FastAPI(
        title="orchestration",
        version="1",
        summary="Supervised teams of LLM agents on an actor runtime.",
        responses=problems.RESPONSES,
        lifespan=_mcp_sessions(mcp),
    )
    problems.install(app)
    limiter = (
        RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None
    )
    app.include_router(_health_router(runtime))
    app.include_router(_v1_router(runtime, limiter, token))
    app.include_router(ws_router(runtime, limiter, token))
    app.mount("/mcp", _mcp_app(mcp, limiter, token))
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )
    return app


def _mcp_app(mcp: MCPServer, limiter: RateLimiter | None, token: str | None) -> ASGIApp:
    """``mcp``'s streamable HTTP endpoint, at the root of its mount, behind the rate limit and
    the token. Without a token the API is on loopback and the SDK's Host and Origin checks stop
    DNS rebinding; with one, the token does (and the API may be reached by any name)."""
    guards: list[Callable[[Request], Awaitable[None]]] = []
    if limiter is not None:
        guards.append(limiter)
    if token is None:
        endpoint = mcp.streamable_http_app(streamable_http_path="/")
    else:
        guards.append(TokenGuard(token))
        anywhere = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        endpoint = mcp.streamable_http_app(streamable_http_path="/", transport_security=anywhere)
    return Guarded(endpoint, guards) if guards else endpoint


def _mcp_sessions(mcp: MCPServer) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: ``mcp``'s session manager runs while the app serves."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    return lifespan


def _v1_router(runtime: Runtime, limiter: RateLimiter | None, token: str | None) -> APIRouter:
    guards = []
    if limiter is not None:
        guards.append(Depends(limiter))
    if token is not None:
        guards.append(Depends(TokenGuard(token)))
    v1 = APIRouter(prefix="/v1", dependencies=guards)
    v1.include_router(agents_router(runtime))
    v1.include_router(rooms_router(runtime))
    v1.include_router(workflows_router(runtime))

    @v1.get("/tree", tags=["tree"])
    def tree() -> TreeSnapshot:
        """The live supervision tree: every supervisor and agent, with states."""
        return runtime.tree()

    @v1.get("/events", tags=["tree"])
    def events(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Events:
        """The last ``limit`` supervision events, oldest first."""
        return Events(events=runtime.events(limit=limit))

    @v1.get("/gateway", tags=["tree"])
    def gateway() -> GatewayReport:
        """What the gateway actor feeds remote clients: the serving processes linked to it,
        and per conversation how many of them, and how many clients, follow it."""
        return runtime.gateway()

    return v1


def _health_router(runtime: Runtime) -> APIRouter:
    health = APIRouter(tags=["health"])

    @health.get("/healthz")
    def healthz() -> Health:
        """The web process is up."""
        return Health(status="ok")

    @health.get("/readyz")
    def readyz() -> Health:
        """The daemon answers (503 problem+json when it does not)."""
        runtime.status()
        return Health(status="ready")

    return health
