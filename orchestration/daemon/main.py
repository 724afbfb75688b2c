"""The daemon process: what ``python -m orchestration.daemon`` runs to start the actor system.

`orchestration.daemon.launch` runs it in a new session with its output sent to
``logs/daemon.out``. It narrows its umask, so that all it and its actor processes create is
private to its user; imports the provider SDKs and the actor modules once, so every actor
process forked from the admin inherits them warm; joins the environment (loopback, frames
signed with the cookie); installs what the admin adds to Thespian (process titles, the root
brought back whenever it dies: `orchestration.admin_hooks`); starts the Thespian admin on the
configured port; creates the root supervisor; boots it (journal open, saved agents rebuilt);
writes ``daemon.json``; and exits, leaving the admin running. For `up --foreground`
(`orchestration.daemon.foreground`) its output and the actors' log go to the caller's stderr,
and the record names the caller as the owner.
"""

from __future__ import annotations

import importlib
import os
import sys

from thespian.actors import ActorSystem

from orchestration import admin_hooks
from orchestration.cookie import fingerprint
from orchestration.daemon.actor_system import (
    ROOT_CLASS,
    ROOT_NAME,
    SYSTEM_BASE,
    capabilities,
    join_environment,
    log_definitions,
)
from orchestration.daemon.record import DaemonRecord, record_failure
from orchestration.messages import Boot, DaemonStatus, ErrorReply
from orchestration.private_files import restrict_umask
from orchestration.processes.pids import ProcessId
from orchestration.settings import load_settings
from orchestration.supervision.root import RootSupervisor

__all__ = ["main", "warm_imports"]

BOOT_TIMEOUT = 60.0
WARM_MODULES = ("anthropic", "openai")


def warm_imports() -> None:
    """Import the provider SDKs that are installed, once, before any actor process forks."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def main(argv: list[str]) -> int:
    """Start the daemon. ``--foreground PID``: the `up --foreground` process that owns it,
    whose stderr the actors' log goes to as well."""
    owner = None
    if "--foreground" in argv:
        owner = ProcessId.of(int(argv[argv.index("--foreground") + 1]))
    restrict_umask()  # what this daemon and its actor processes create is private
    settings = load_settings()
    cookie = join_environment(settings)
    warm_imports()
    admin_hooks.name_processes()
    admin_hooks.keep_logger()
    admin_hooks.revive_root(
        ROOT_CLASS, ROOT_NAME, lambda: Boot(home=str(settings.home), revived=True)
    )
    asys = ActorSystem(
        SYSTEM_BASE,
        capabilities(settings),
        logDefs=log_definitions(settings, to_stderr=owner is not None),
        transientUnique=True,
    )
    root = asys.createActor(RootSupervisor, globalName=ROOT_NAME)
    reply = asys.ask(root, Boot(home=str(settings.home)), BOOT_TIMEOUT)
    if not isinstance(reply, DaemonStatus):
        error, hint = (
            (reply.error, reply.hint)
            if isinstance(reply, ErrorReply)
            else (f"the root supervisor did not boot (got {reply!r})", "see logs/daemon.log")
        )
        print(f"error: {error}\n{hint}", file=sys.stderr)
        record_failure(settings, error, hint)
        asys.shutdown()
        return 1
    admin = ProcessId.of(reply.pid)
    DaemonRecord(
        pid=reply.pid,
        port=settings.admin_port,
        started_at=reply.started_at.isoformat(),
        start_ticks=admin.start_ticks if admin else None,
        session=os.getsid(reply.pid),
        cookie=fingerprint(cookie),
        foreground=owner.pid if owner else None,
        foreground_ticks=owner.start_ticks if owner else None,
    ).write(settings)
    print(f"orchestration daemon up: admin pid {reply.pid}, port {settings.admin_port}")
    return 0
