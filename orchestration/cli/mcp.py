"""``mcp [--http]``: serve the MCP tools on stdio (for Claude Code, Cursor) or streamable HTTP.

On stdio, stdout is the protocol: this command writes nothing else there, and logs to stderr.
The MCP SDK is imported only when the command runs, so the other commands stay fast.
"""

from __future__ import annotations

import os
import signal
from functools import partial
from types import FrameType
from typing import Annotated

import typer

from orchestration.cli.output import examples, fail, note
from orchestration.runtime import Runtime

__all__ = ["mcp", "register"]


def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="serve streamable HTTP at /mcp instead of stdio")
    ] = False,
    host: Annotated[str, typer.Option(help="with --http: the address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="with --http: the port")] = 8766,
) -> None:
    """Run the MCP server on stdin and stdout, for an MCP client.

    It attaches to the running daemon (started if none runs), stops on SIGINT, SIGTERM or
    the end of stdin, and leaves the daemon running."""
    import anyio

    from orchestration.interfaces.mcp import build_server
    from orchestration.interfaces.security import is_loopback

    if http and not is_loopback(host):
        fail(
            f"mcp --http serves without a token, so it binds only to loopback, not {host}",
            f"to serve MCP on {host}, run: orchestration serve --host {host} (MCP is at /mcp/,"
            " behind the API's bearer token)",
        )
    runtime = Runtime.connect()
    server = build_server(runtime)
    _stop_on_signals(runtime)
    try:
        if http:
            note(f"MCP over streamable HTTP at http://{host}:{port}/mcp")
            anyio.run(partial(server.run_streamable_http_async, host=host, port=port))
        else:
            anyio.run(server.run_stdio_async)
    finally:
        runtime.close()


def _stop_on_signals(runtime: Runtime) -> None:
    """Close ``runtime`` (never the daemon) and exit on SIGINT or SIGTERM.

    The exit is immediate because the stdio transport reads stdin in a thread that no
    cancellation reaches. Over HTTP, uvicorn handles the signal first (it stops serving
    gracefully) and then raises it again, which lands here."""

    def stop(signum: int, frame: FrameType | None) -> None:
        try:
            runtime.close()
        finally:
            os._exit(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def register(app: typer.Typer) -> None:
    app.command(
        epilog=examples(
            "claude mcp add orchestration -- orchestration mcp",
            "orchestration mcp --http --port 8766",
        )
    )(mcp)
