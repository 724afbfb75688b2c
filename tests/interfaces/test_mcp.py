"""The MCP server through the real `mcp` client: in memory, over stdio and over streamable HTTP,
all on one daemon for the module (each test names its own agents)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult

from orchestration.interfaces.mcp import build_server
from orchestration.runtime import Runtime
from tests.conftest import free_port
from tests.support import wait_until

TOOLS = {
    "create_agent",
    "list_agents",
    "send_message",
    "get_conversation",
    "shutdown_agent",
    "create_conversation",
    "set_topology",
    "get_tree",
    "run_workflow",
}


INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        }
    ).encode()
    + b"\n"
)
"""An MCP client's first line on stdio."""


def run(story: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(story())


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text  # type: ignore[union-attr]


def test_every_tool_in_memory(shared_runtime: Runtime) -> None:
    server = build_server(shared_runtime)

    async def story() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with Client(server) as client:
            seen["tools"] = {tool.name for tool in (await client.list_tools()).tools}
            for name in ("mem-a", "mem-b"):
                created = await client.call_tool(
                    "create_agent", {"name": name, "provider": "scripted:echo"}
                )
                assert not created.is_error, created.content
                seen[name] = created.structured_content
            seen["list"] = await client.call_tool("list_agents")
            seen["reply"] = await client.call_tool(
                "send_message", {"agent": "mem-a", "content": "hello there"}
            )
            seen["history"] = await client.call_tool(
                "get_conversation", {"agent": "mem-a", "limit": 1}
            )
            after = seen["history"].structured_content["next_after_seq"]
            seen["rest"] = await client.call_tool(
                "get_conversation", {"agent": "mem-a", "after_seq": after}
            )
            seen["room"] = await client.call_tool(
                "create_conversation",
                {"name": "mem-room", "agents": ["mem-a", "mem-b"], "max_turns": 4},
            )
            seen["topology"] = await client.call_tool(
                "set_topology", {"room": "mem-room", "topology": "filtered"}
            )
            seen["tree"] = await client.call_tool("get_tree")
            seen["stopped"] = await client.call_tool("shutdown_agent", {"name": "mem-b"})
            seen["after_stop"] = await client.call_tool("list_agents")
        return seen

    seen = run(story)

    assert seen["tools"] == TOOLS
    assert seen["mem-a"]["spec"]["name"] == "mem-a"
    assert seen["mem-a"]["spec"]["provider"] == "scripted"
    assert seen["mem-a"]["state"] == "idle"
    listed = {agent["spec"]["name"] for agent in seen["list"].structured_content["agents"]}
    assert {"mem-a", "mem-b"} <= listed
    reply = seen["reply"].structured_content
    assert reply["text"] == "You said: hello there"
    assert reply["usage"]["output_tokens"] == 4
    assert [m["content"] for m in seen["history"].structured_content["messages"]] == ["hello there"]
    assert [m["content"] for m in seen["rest"].structured_content["messages"]] == [
        "You said: hello there"
    ]
    room = seen["room"].structured_content
    assert room["spec"]["name"] == "mem-room"
    assert room["spec"]["topology"] == "broadcast"
    assert room["spec"]["max_turns"] == 4
    assert seen["topology"].structured_content["spec"]["topology"] == "filtered"
    tree = seen["tree"].structured_content
    assert tree["supervisors"][0]["name"] == "root"
    assert {"mem-a", "mem-b"} <= {agent["spec"]["name"] for agent in tree["agents"]}
    assert seen["stopped"].structured_content == {"name": "mem-b", "history_kept": True}
    left = {agent["spec"]["name"] for agent in seen["after_stop"].structured_content["agents"]}
    assert "mem-b" not in left


def test_send_message_reports_the_reply_as_progress(shared_runtime: Runtime) -> None:
    server = build_server(shared_runtime)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def story() -> CallToolResult:
        async with Client(server) as client:
            await client.call_tool(
                "create_agent",
                {"name": "streamer", "provider": "scripted", "model": "echo?delay=0.02"},
            )
            return await client.call_tool(
                "send_message",
                {"agent": "streamer", "content": "one two three four five six"},
                progress_callback=on_progress,
            )

    result = run(story)

    text = result.structured_content["text"]
    assert text == "You said: one two three four five six"
    assert progress[0] == (0, None, "streamer is answering")
    deltas = progress[1:]
    assert len(deltas) >= 3, deltas
    assert "".join(message or "" for _, _, message in deltas) == text
    counts = [value for value, _, _ in deltas]
    assert counts == sorted(set(counts)) and counts[-1] == len(text)


def test_refusals_and_bad_arguments_are_tool_errors(shared_runtime: Runtime) -> None:
    server = build_server(shared_runtime)

    async def story() -> dict[str, CallToolResult]:
        calls = {
            "unknown agent": ("send_message", {"agent": "nobody-here", "content": "hi"}),
            "unknown history": ("get_conversation", {"agent": "nobody-here"}),
            "unknown stop": ("shutdown_agent", {"name": "nobody-here"}),
            "unknown room": ("set_topology", {"room": "no-room", "topology": "broadcast"}),
            "room of strangers": ("create_conversation", {"name": "lost", "agents": ["ghost"]}),
            "bad name": ("create_agent", {"name": "Not A Name"}),
            "unknown provider": ("create_agent", {"name": "err-p", "provider": "nosuch"}),
            "missing content": ("send_message", {"agent": "err-a"}),
            "empty content": ("send_message", {"agent": "err-a", "content": ""}),
            "bad limit": ("get_conversation", {"agent": "err-a", "limit": 0}),
            "bad policy": ("create_conversation", {"name": "r", "agents": ["a"], "respond": "x"}),
            "failed turn": (
                "send_message",
                {"agent": "err-a", "content": "[[scripted: fail=auth]]"},
            ),
        }
        async with Client(server) as client:
            await client.call_tool("create_agent", {"name": "err-a", "provider": "scripted"})
            return {case: await client.call_tool(*call) for case, call in calls.items()}

    results = run(story)

    unknown = error_text(results["unknown agent"])
    assert "nobody-here" in unknown and "; hint: " in unknown
    for case in ("unknown history", "unknown stop"):
        assert "nobody-here" in error_text(results[case])
    assert "no-room" in error_text(results["unknown room"])
    assert "ghost" in error_text(results["room of strangers"])
    assert "String should match pattern" in error_text(results["bad name"])
    assert "nosuch" in error_text(results["unknown provider"])
    assert "content" in error_text(results["missing content"])
    assert "at least 1 character" in error_text(results["empty content"])
    assert "greater than or equal to 1" in error_text(results["bad limit"])
    assert "'always', 'self_select' or 'round_robin'" in error_text(results["bad policy"])
    assert "turn failed (auth)" in error_text(results["failed turn"])


def test_over_stdio_as_a_subprocess(shared_runtime: Runtime, shared_env: dict[str, str]) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orchestration.cli", "mcp"], env=shared_env
    )

    async def story() -> tuple[set[str], CallToolResult]:
        async with Client(params, read_timeout_seconds=60) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            await client.call_tool("create_agent", {"name": "stdio-a", "provider": "scripted"})
            reply = await client.call_tool("send_message", {"agent": "stdio-a", "content": "hi"})
        return tools, reply

    tools, reply = run(story)

    assert tools == TOOLS
    assert reply.structured_content["text"] == "You said: hi"
    # the server exited at the end of its stdin and left the daemon running
    assert "stdio-a" in {agent.spec.name for agent in shared_runtime.list()}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stdio_writes_only_protocol_and_stops_on_a_signal(
    shared_runtime: Runtime, shared_env: dict[str, str], stop: signal.Signals
) -> None:
    daemon = shared_runtime.status().pid
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "mcp"],
        env={**os.environ, **shared_env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(INITIALIZE)
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        assert answer["result"]["serverInfo"]["name"] == "orchestration"
        process.send_signal(stop)  # stdin stays open: the signal alone stops it
        assert process.wait(15) == 0
        assert process.stdout.read() == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert shared_runtime.status().pid == daemon  # the same daemon still runs


@pytest.fixture
def http_server(shared_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``orchestration mcp --http`` on a free port, accepting connections; killed if a test
    leaves it running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "mcp", "--http", "--port", str(port)],
        env={**os.environ, **shared_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def listening() -> bool:
        assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_until(listening, "the MCP HTTP server listening", 30)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_over_streamable_http_and_stop_on_sigterm(
    shared_runtime: Runtime, http_server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = http_server
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def story() -> CallToolResult:
        async with Client(url, read_timeout_seconds=60) as client:
            await client.call_tool("create_agent", {"name": "http-a", "provider": "scripted"})
            return await client.call_tool(
                "send_message",
                {"agent": "http-a", "content": "over http"},
                progress_callback=on_progress,
            )

    reply = run(story)

    assert reply.structured_content["text"] == "You said: over http"
    assert progress[0] == "http-a is answering"
    assert "".join(m or "" for m in progress[1:]) == "You said: over http"
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert "http-a" in {agent.spec.name for agent in shared_runtime.list()}


def test_http_off_loopback_is_refused_with_the_way_to_serve_it(shared_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "mcp", "--http", "--host", "0.0.0.0"],
        env={**os.environ, **shared_env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "0.0.0.0" in done.stderr and "orchestration serve --host 0.0.0.0" in done.stderr
