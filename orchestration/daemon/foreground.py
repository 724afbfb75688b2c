"""``orchestration up --foreground``: a daemon owned by this process, for systemd, containers
and process managers.

This process starts the daemon (`launch.start` with ``foreground``), so the daemon's output and
its actors' log go to this process's stderr. Then it waits for SIGTERM or SIGINT, or for the
daemon's admin to exit:

- on a signal it stops every agent gracefully, then the daemon, and returns 0;
- if the admin dies under it, it sweeps what is left and returns 1, so that a process manager
  restarts it (systemd's ``Restart=on-failure``).

`orchestration down` asks this process to stop (SIGTERM), as systemd would. If this process is
killed with SIGKILL, its daemon runs on unowned; the next ``up --foreground`` stops that daemon
before it starts its own.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Iterator

from orchestration.daemon.launch import start
from orchestration.daemon.record import DaemonRecord, daemon_running, sweep_dead
from orchestration.errors import DaemonError
from orchestration.processes.pidfiles import sweep
from orchestration.processes.pids import ProcessId, descendants, wait_gone
from orchestration.runtime import Runtime
from orchestration.settings import Settings

__all__ = ["run"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
POLL_WITHOUT_PIDFD = 1.0
"""Seconds between checks of the admin where the OS cannot wait for a process to exit."""


def run(settings: Settings, grace: float) -> int:
    """Run the daemon until a stop signal (returns 0) or its admin's death (returns 1)."""
    _stop_unowned(settings, grace)
    with _stop_signals() as (received, wake):
        record = start(settings, foreground=True)
        owner = record.owner()
        if owner is None or owner.pid != os.getpid():  # another starter won the race
            raise DaemonError(
                f"a daemon already runs on port {settings.admin_port} (admin pid {record.pid})",
                hint="stop it first with `orchestration down`, then run `up --foreground`",
            )
        _say(
            f"orchestration daemon running in the foreground: admin pid {record.pid}, "
            f"port {settings.admin_port}, data in {settings.home}; SIGTERM or Ctrl-C stops it"
        )
        _wait(record, received, wake)
    if received:
        _say(f"{signal.Signals(received[0]).name}: stopping every agent, then the daemon")
        _stop(settings, grace)
        _say("orchestration daemon stopped")
        return 0
    sweep_dead(settings, record)
    sweep(settings.pid_dir)
    _say(f"the daemon's admin (pid {record.pid}) exited; see {settings.log_dir / 'daemon.log'}")
    return 1


def _stop_unowned(settings: Settings, grace: float) -> None:
    """Stop a daemon whose `up --foreground` owner was killed; refuse to take over any other."""
    record = daemon_running(settings)
    if record is None:
        return
    owner = record.owner()
    if owner is None or owner.alive():
        who = "a detached daemon" if owner is None else f"`up --foreground` (pid {owner.pid})"
        raise DaemonError(
            f"{who} already runs on port {settings.admin_port} (admin pid {record.pid})",
            hint="stop it first with `orchestration down`, or use it as it is",
        )
    _say(f"stopping the daemon its killed owner (pid {owner.pid}) left running")
    _stop(settings, grace)


def _stop(settings: Settings, grace: float) -> None:
    try:
        Runtime.connect(settings, start=False).stop_daemon(grace=grace)
    except DaemonError as exc:  # it does not answer: kill what is left of it
        _say(f"could not stop it gracefully ({exc}); killing its processes")
        record = DaemonRecord.read(settings)
        if record is not None:
            admin = ProcessId.of(record.pid)
            doomed = [*descendants(record.pid), *([admin] if admin else [])]
            for process in doomed:
                process.kill()
            wait_gone(doomed, timeout=5.0)
            sweep_dead(settings, record)
        sweep(settings.pid_dir)


@contextlib.contextmanager
def _stop_signals() -> Iterator[tuple[list[int], int]]:
    """Record SIGTERM and SIGINT (in the list it yields) rather than die of them, and wake
    the file descriptor it yields when one comes."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _: received.append(s)) for sig in STOP_SIGNALS}
    old_wakeup = signal.set_wakeup_fd(write_end)
    try:
        yield received, read_end
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(read_end)
        os.close(write_end)


def _wait(record: DaemonRecord, received: list[int], wake: int) -> None:
    """Block until a stop signal has come or the admin has exited."""
    pidfd = _pidfd(record.pid)
    try:
        while not received and record.alive():
            watched = [wake] if pidfd is None else [wake, pidfd]
            timeout = POLL_WITHOUT_PIDFD if pidfd is None else None
            ready, _, _ = select.select(watched, [], [], timeout)
            if wake in ready:
                os.read(wake, 512)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux), else None."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
