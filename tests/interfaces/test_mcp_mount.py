"""The MCP tools at ``/mcp/`` of the REST app: the real `mcp` client over streamable HTTP
against the API under uvicorn, on one daemon for the module."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from orchestration.interfaces.problems import MEDIA_TYPE
from orchestration.interfaces.rest import create_app
from orchestration.runtime import Runtime
from tests.interfaces.conftest import serving


def test_the_api_serves_the_mcp_tools_with_progress(shared_runtime: Runtime) -> None:
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def story(url: str) -> tuple[set[str], CallToolResult]:
        async with Client(url, read_timeout_seconds=60) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            await client.call_tool("create_agent", {"name": "mount-a", "provider": "scripted"})
            reply = await client.call_tool(
                "send_message",
                {"agent": "mount-a", "content": "through the api"},
                progress_callback=on_progress,
            )
        return tools, reply

    with serving(create_app(shared_runtime, shared_runtime.settings, token=None)) as api:
        tools, reply = asyncio.run(story(str(api.base_url.join("/mcp/"))))
        listed = api.get("/v1/agents/mount-a")

    assert {"create_agent", "send_message", "get_tree"} <= tools
    assert reply.structured_content["text"] == "You said: through the api"
    assert progress[0] == "mount-a is answering"
    assert "".join(m or "" for m in progress[1:]) == "You said: through the api"
    assert listed.status_code == 200  # the same tree as the REST API


def test_with_a_token_mcp_refuses_a_client_without_it(shared_runtime: Runtime) -> None:
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    async def list_tools(url: str, headers: dict[str, str]) -> set[str]:
        async with (
            httpx2.AsyncClient(headers=headers, event_hooks={"response": [record]}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return {tool.name for tool in (await client.list_tools()).tools}

    with serving(create_app(shared_runtime, shared_runtime.settings, token="s3cret")) as api:
        url = str(api.base_url.join("/mcp/"))
        with pytest.raises(ExceptionGroup) as failed:  # the client's task groups wrap it
            asyncio.run(list_tools(url, {}))
        refused, statuses[:] = list(statuses), []
        raw = api.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        tools = asyncio.run(list_tools(url, {"Authorization": "Bearer s3cret"}))

    assert failed.group_contains(MCPError, match="error response")
    assert refused and set(refused) == {401}
    assert raw.status_code == 401 and raw.headers["content-type"] == MEDIA_TYPE
    assert raw.headers["www-authenticate"] == "Bearer" and "s3cret" not in raw.text
    assert "send_message" in tools and 401 not in statuses


def test_mcp_requests_count_against_the_client_rate_limit(shared_runtime: Runtime) -> None:
    settings = shared_runtime.settings.model_copy(update={"rate_limit_per_minute": 2})
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}

    with serving(create_app(shared_runtime, settings, token=None)) as api:
        replies = [api.post("/mcp/", json=ping, headers=headers) for _ in range(3)]
        rest = api.get("/v1/agents")

    assert replies[2].status_code == 429 and replies[2].headers["content-type"] == MEDIA_TYPE
    assert "retry-after" in replies[2].headers
    assert rest.status_code == 429  # one budget per client, REST and MCP together
