"""``serve``: the REST API (FastAPI under uvicorn), with the MCP tools at ``/mcp/``, on the
running actor system.

It attaches to the daemon (starting it if none runs) and only ever closes its own connection:
stopping or crashing the web server leaves the actor tree running. FastAPI and uvicorn are
imported when the command runs, so the other commands stay fast.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from orchestration.cli.output import console, errors, note
from orchestration.runtime import Runtime
from orchestration.settings import load_settings


def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind (default ORCH_API_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port to listen on (default ORCH_API_PORT, 8765)")
    ] = None,
) -> None:
    """Serve the REST API (docs at /docs) and MCP (at /mcp/) until Ctrl-C or SIGTERM; the
    daemon keeps running.

    Off loopback it requires a bearer token: ORCH_API_TOKEN, or one generated and printed once.
    """
    import uvicorn

    from orchestration.interfaces.rest import create_app
    from orchestration.interfaces.security import choose_token

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    settings = load_settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    choice = choose_token(host, settings.api_token)
    with Runtime.connect(settings) as runtime:
        app = create_app(runtime, settings, token=choice.token)
        if choice.generated:
            errors.print(f"API token (shown once): {choice.token}", markup=False)
            note("send it as: Authorization: Bearer <token>; set ORCH_API_TOKEN to choose it")
        where = f"http://{_url_host(host)}:{port}"
        console.print(f"REST API on {where}/v1, docs at {where}/docs", markup=False)
        console.print(f"MCP (streamable HTTP) at {where}/mcp/", markup=False)
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """Exit 0, closing this process's connection on the way out. uvicorn catches the signal
    first, shuts down gracefully, restores this handler and raises the signal again."""
    raise SystemExit(0)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def register(app: typer.Typer) -> None:
    app.command()(serve)
