"""Finding a daemon's processes by the title each one takes (`orchestration.titles`)."""

from __future__ import annotations

from orchestration.daemon.record import daemon_processes
from orchestration.settings import Settings


def titled(settings: Settings) -> dict[str, list[int]]:
    """The daemon's processes by title (without the ``orchestration: `` prefix)."""
    found = daemon_processes(settings)
    assert found, "the daemon is running"
    return found


def one(settings: Settings, title: str) -> int | None:
    """The PID of the one process titled ``title``, if exactly one runs."""
    pids = titled(settings).get(title, [])
    return pids[0] if len(pids) == 1 else None
