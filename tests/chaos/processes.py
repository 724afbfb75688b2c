"""Finding a daemon's processes by the title each one takes (`orchestration.titles`)."""

from __future__ import annotations

from orchestration.processes import command_line, session_members
from orchestration.settings import Settings
from orchestration.system import DaemonRecord
from orchestration.titles import PREFIX


def titled(settings: Settings) -> dict[str, list[int]]:
    """The daemon's processes by title (without the ``orchestration: `` prefix)."""
    record = DaemonRecord.read(settings)
    assert record is not None and record.session is not None, "the daemon is running"
    found: dict[str, list[int]] = {}
    for process in session_members(record.session):
        line = command_line(process.pid)
        if line.startswith(PREFIX):
            found.setdefault(line.removeprefix(PREFIX), []).append(process.pid)
    return found


def one(settings: Settings, title: str) -> int | None:
    """The PID of the one process titled ``title``, if exactly one runs."""
    pids = titled(settings).get(title, [])
    return pids[0] if len(pids) == 1 else None
