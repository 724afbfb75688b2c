"""``up``, ``down`` and ``status``: the daemon that hosts the actor system."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.output import console, errors, examples, fail, note, print_json
from orchestration.daemon.record import daemon_running, privacy_warnings
from orchestration.errors import DaemonError
from orchestration.runtime import Runtime
from orchestration.settings import load_settings
from orchestration.tree_files import load_tree_file

__all__ = ["down", "register", "status", "up"]

Json = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def up(
    file: Annotated[
        Path | None,
        typer.Argument(help="a tree file (.yaml, .yml, .toml) to start under the root"),
    ] = None,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground",
            help="run the daemon attached, logging to stderr, until SIGTERM or Ctrl-C "
            "(for systemd, containers and process managers)",
        ),
    ] = False,
    grace: Annotated[
        float, typer.Option(help="with --foreground: seconds each agent gets to finish")
    ] = 5.0,
) -> None:
    """Start the daemon, and the tree FILE describes if given.

    The daemon holds the actor system and brings back its saved agents and trees; if it runs
    already, only the tree is started. With --foreground the daemon stays attached to this
    process until SIGTERM or Ctrl-C, then stops every agent gracefully and exits 0; it exits 1
    if the daemon dies under it.
    """
    if foreground:
        if file is not None:
            fail(
                "--foreground starts the daemon alone",
                f"start the tree from another shell: orchestration up {file}",
            )
        from orchestration.daemon.foreground import run

        raise typer.Exit(run(load_settings(), grace))
    tree = None
    if file is not None:
        tree, problems = load_tree_file(file)
        for path, message in problems:
            where = f"{file}: {path}: " if path else f"{file}: "
            errors.print(where + message, markup=False, soft_wrap=True)
        if tree is None:
            note(f"check it offline with: orchestration tree validate {file}")
            raise typer.Exit(1)
    with Runtime.connect() as runtime:
        status = runtime.status()
        verb = "started" if runtime.started else "already running"
        console.print(
            f"orchestration daemon {verb}: pid {status.pid}, port {runtime.settings.admin_port}, "
            f"{status.agents} agent(s), data in {status.data_dir}"
        )
        if tree is not None:
            console.print(runtime.up(tree), markup=False)
            note("see it live: orchestration tree")


def down(
    grace: Annotated[float, typer.Option(help="seconds each agent gets to finish")] = 5.0,
) -> None:
    """Stop every agent gracefully, then the daemon; leave no process or port behind."""
    settings = load_settings()
    if daemon_running(settings) is None:
        console.print(f"no daemon runs on port {settings.admin_port}")
        return
    runtime = Runtime.connect(settings, start=False)
    killed = runtime.stop_daemon(grace=grace)
    if killed:
        note(f"killed {len(killed)} process(es) that outlived the shutdown: {killed}")
    console.print("orchestration daemon stopped")


def status(json: Json = False) -> None:
    """Report the daemon's PID, port, uptime and number of agents.

    It also warns about files in the data dir that other users may read."""
    settings = load_settings()
    warnings = privacy_warnings(settings)
    if not json:
        for warning in warnings:
            errors.print(f"warning: {warning}", markup=False, soft_wrap=True)
    try:
        runtime = Runtime.connect(settings, start=False)
    except DaemonError as exc:
        if json:
            print_json(
                {
                    "running": False,
                    "port": settings.admin_port,
                    "error": str(exc),
                    "warnings": warnings,
                }
            )
        else:
            console.print(f"not running: {exc}", soft_wrap=True)
            note(exc.hint)
        raise typer.Exit(1) from None
    with runtime:
        daemon = runtime.status()
        agents = runtime.list()
    uptime = (datetime.now(UTC) - daemon.started_at).total_seconds()
    if json:
        print_json(
            {
                "running": True,
                "pid": daemon.pid,
                "port": settings.admin_port,
                "uptime_seconds": round(uptime, 1),
                "started_at": daemon.started_at.isoformat(),
                "data_dir": daemon.data_dir,
                "agents": [{"name": a.spec.name, "state": a.state, "pid": a.pid} for a in agents],
                "warnings": warnings,
            }
        )
        return
    console.print(
        f"running: admin pid {daemon.pid} on port {settings.admin_port}, up {int(uptime)}s, "
        f"{len(agents)} agent(s), data in {daemon.data_dir}"
    )


def register(app: typer.Typer) -> None:
    app.command(
        epilog=examples(
            "orchestration up",
            "orchestration up examples/research-team.yaml",
            "orchestration up --foreground  # for systemd, a container or supervisord",
        )
    )(up)
    app.command(epilog=examples("orchestration down", "orchestration down --grace 30"))(down)
    app.command(epilog=examples("orchestration status", "orchestration status --json"))(status)
