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

from orchestration.cli.output import console, errors, examples, fail, note
from orchestration.runtime import Runtime
from orchestration.settings import load_settings

__all__ = ["register", "serve"]


def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind (default ORCH_API_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port to listen on (default ORCH_API_PORT, 8765)")
    ] = None,
    require_token: Annotated[
        bool | None,
        typer.Option(
            "--require-token/--no-require-token",
            help="require a bearer token on loopback too (default ORCH_API_REQUIRE_TOKEN)",
        ),
    ] = None,
) -> None:
    """Serve the REST API (docs at /docs) and MCP (at /mcp/).

    It runs until Ctrl-C or SIGTERM; the daemon keeps running.

    Every local user can reach it on loopback. Off loopback, or with --require-token, it
    requires a bearer token: ORCH_API_TOKEN, else with --require-token the one kept in
    DATA_DIR/api-token (made on first use, private to you), else one printed once.
    """
    import uvicorn

    from orchestration.interfaces.rest import create_app
    from orchestration.interfaces.security import TokenFileError, choose_token

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    settings = load_settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    require = settings.api_require_token if require_token is None else require_token
    try:
        choice = choose_token(
            host, settings.api_token, require=require, keep_in=settings.api_token_path
        )
    except TokenFileError as exc:
        fail(str(exc), exc.hint)
    with Runtime.connect(settings) as runtime:
        app = create_app(runtime, settings, token=choice.token)
        if choice.generated:
            errors.print(f"API token (shown once): {choice.token}", markup=False)
            note("send it as: Authorization: Bearer <token>; set ORCH_API_TOKEN to choose it")
        elif choice.kept_in is not None:
            note(f"API token required; it is in {choice.kept_in} (send it as a bearer token)")
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
    app.command(
        epilog=examples(
            "orchestration serve",
            "ORCH_API_TOKEN=$(openssl rand -hex 32) orchestration serve --host 0.0.0.0",
        )
    )(serve)
