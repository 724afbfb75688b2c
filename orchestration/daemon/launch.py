"""Start the daemon, attach to it, and reap it: what the Runtime does to the daemon's process.

`start` runs ``python -m orchestration.daemon`` (`orchestration.daemon.main`) in its own
session, one at a time under a lock file, and waits until it has booted; `attach` joins its
actor system; `stop_through_owner` and `reap` stop it for `Runtime.stop_daemon`.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from typing import Any

from thespian.actors import ActorSystem, InvalidActorAddress

from orchestration.daemon.actor_system import (
    SYSTEM_BASE,
    capabilities,
    find_root,
    join_environment,
    unreachable,
)
from orchestration.daemon.record import DaemonRecord, daemon_running, failure_path, read_failure
from orchestration.errors import DaemonError
from orchestration.private_files import append_private, open_private, private_dir
from orchestration.processes.pidfiles import sweep
from orchestration.processes.pids import ProcessId, descendants, pid_alive, wait_gone
from orchestration.settings import Settings

__all__ = [
    "FOREGROUND_STOP_MARGIN",
    "START_TIMEOUT",
    "attach",
    "daemon_tree",
    "reap",
    "start",
    "stop_through_owner",
]

START_TIMEOUT = 60.0
"""How long `start` waits for the daemon to boot."""
FOREGROUND_STOP_MARGIN = 30.0
"""Seconds beyond the agents' grace that an `up --foreground` process gets to stop."""


def attach(settings: Settings) -> tuple[ActorSystem, Any]:
    """Join the running daemon's actor system: this process's handle and the root's address."""
    join_environment(settings)
    try:
        asys = ActorSystem(SYSTEM_BASE, capabilities(settings), transientUnique=True)
    except InvalidActorAddress:  # it did not answer, or refused our frames
        raise unreachable(settings) from None
    return asys, find_root(asys)


def start(settings: Settings, *, foreground: bool = False) -> DaemonRecord:
    """Start the daemon in its own session and wait until it has booted.

    A lock file in the data dir makes concurrent starters (two terminals, say) start one daemon.
    With ``foreground``, this process owns the daemon (`orchestration.daemon.foreground`): the
    daemon's output and its actors' log go to this process's stderr as well as the log files.
    """
    private_dir(settings.home)
    with os.fdopen(open_private(settings.home / "daemon.lock", os.O_WRONLY), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = daemon_running(settings)
        if running is not None:
            return running
        failure_path(settings).unlink(missing_ok=True)
        out = settings.log_dir / "daemon.out"
        owner = ["--foreground", str(os.getpid())] if foreground else []
        with append_private(out) as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.daemon", *owner],
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr if foreground else log,
                stderr=sys.stderr if foreground else log,
                start_new_session=True,
                env={
                    **os.environ,
                    "ORCH_HOME": str(settings.home),
                    "ORCH_ADMIN_PORT": str(settings.admin_port),
                },
            )
        try:
            code = process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            raise DaemonError(
                f"the daemon did not start within {START_TIMEOUT:g} s", hint=f"see {out}"
            ) from None
        record = DaemonRecord.read(settings)
        if code != 0 or record is None or not pid_alive(record.pid):
            failure = read_failure(settings)
            if failure is not None:
                raise failure
            tail = out.read_text(errors="replace").strip().splitlines()[-3:]
            raise DaemonError(
                "the daemon failed to start: " + (" / ".join(tail) or f"exit code {code}"),
                hint=f"see {out}",
            )
        return record


def stop_through_owner(record: DaemonRecord | None, grace: float) -> bool:
    """If an `up --foreground` process owns the daemon, ask it to stop the daemon (SIGTERM),
    as systemd would: True once it has. False when there is no such owner, or when it did not
    stop in time (it is killed then): the caller stops the daemon itself."""
    owner = record.owner() if record else None
    if owner is None or owner.pid == os.getpid() or not owner.alive():
        return False
    os.kill(owner.pid, signal.SIGTERM)
    if not wait_gone([owner], timeout=grace + FOREGROUND_STOP_MARGIN):
        return True
    owner.kill()  # it did not stop in time: the caller stops the daemon
    return False


def daemon_tree(record: DaemonRecord | None) -> list[ProcessId]:
    """The processes under the daemon's admin, to `reap` once its actor system shut down."""
    return descendants(record.pid) if record else []


def reap(settings: Settings, record: DaemonRecord | None, tree: list[ProcessId]) -> list[int]:
    """After the actor system's shutdown: kill the admin and the ``tree`` if they outlive it,
    forget the daemon, and sweep the agents' programs that outlived their actors. Returns the
    PIDs that had to be killed."""
    admin = ProcessId.of(record.pid) if record else None
    stragglers = wait_gone([admin, *tree] if admin else tree, timeout=10.0)
    for process in stragglers:
        process.kill()
    wait_gone(stragglers, timeout=5.0)
    DaemonRecord.remove(settings)
    programs = sweep(settings.pid_dir)
    return [p.pid for p in stragglers] + programs
