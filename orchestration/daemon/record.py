"""The daemon's record file (``daemon.json``), and what it tells about a running daemon: is
it ours and alive, which processes are its own, why it failed to boot, what a dead one left.

It imports no actor module and no provider SDK, so the CLI may read it (``status``,
``doctor``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestration import transport
from orchestration.cookie import fingerprint
from orchestration.daemon.actor_system import cookie_of
from orchestration.errors import DaemonError
from orchestration.private_files import loose_permissions, write_private
from orchestration.processes.pids import (
    ProcessId,
    command_line,
    listener_pids,
    pid_alive,
    port_in_use,
    session_members,
    wait_gone,
)
from orchestration.settings import Settings
from orchestration.titles import PREFIX as TITLE_PREFIX

__all__ = [
    "DaemonRecord",
    "daemon_processes",
    "daemon_running",
    "failure_path",
    "is_daemon_process",
    "privacy_warnings",
    "read_failure",
    "record_failure",
    "sweep_dead",
]


@dataclass(frozen=True)
class DaemonRecord:
    """What ``daemon.json`` in the data dir says about the running daemon."""

    pid: int
    port: int
    started_at: str
    start_ticks: int | None = None  # the admin's start time, so a reused PID is not "ours"
    session: int | None = None  # the daemon's session: every process of it, forks included
    cookie: str | None = None  # the fingerprint of the cookie it was started with
    foreground: int | None = None  # the `up --foreground` process that owns it, if any
    foreground_ticks: int | None = None  # that process's start time

    def owner(self) -> ProcessId | None:
        """The `up --foreground` process that owns this daemon, if any (alive or not)."""
        if self.foreground is None or self.foreground_ticks is None:
            return None
        return ProcessId(self.foreground, self.foreground_ticks)

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.home / "daemon.json"

    @classmethod
    def read(cls, settings: Settings) -> DaemonRecord | None:
        try:
            return cls(**json.loads(cls.path(settings).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, settings: Settings) -> None:
        write_private(self.path(settings), json.dumps(asdict(self)))

    def alive(self) -> bool:
        """Whether the recorded admin process still runs (the same process, not a reused PID)."""
        if self.start_ticks is None:
            return pid_alive(self.pid)
        return ProcessId(self.pid, self.start_ticks).alive()

    @classmethod
    def remove(cls, settings: Settings) -> None:
        cls.path(settings).unlink(missing_ok=True)

    def strays(self) -> list[ProcessId]:
        """Processes this (dead) daemon left behind: members of its session that still run
        the daemon's command, such as Thespian's logger after a kill -9 of the admin."""
        if self.session is None or self.alive():
            return []
        return [
            process
            for process in session_members(self.session)
            if is_daemon_process(command_line(process.pid))
        ]


def is_daemon_process(command: str) -> bool:
    """Whether a process with this command line is one of a daemon's: the starter, or a
    process that took its title (`orchestration.titles`)."""
    return "orchestration.daemon" in command or command.startswith(TITLE_PREFIX)


def daemon_processes(settings: Settings) -> dict[str, list[int]]:
    """The running daemon's processes by title, without the ``orchestration: `` prefix (for
    example ``{"root": [1234], "router dm:writer": [1240]}``); empty when none runs."""
    record = DaemonRecord.read(settings)
    if record is None or record.session is None:
        return {}
    found: dict[str, list[int]] = {}
    for process in session_members(record.session):
        line = command_line(process.pid)
        if line.startswith(TITLE_PREFIX):
            found.setdefault(line.removeprefix(TITLE_PREFIX), []).append(process.pid)
    return found


def failure_path(settings: Settings) -> Path:
    """Where a daemon that could not boot leaves its error and hint, as JSON, for its starter."""
    return settings.home / "daemon-failure.json"


def record_failure(settings: Settings, error: str, hint: str) -> None:
    write_private(failure_path(settings), json.dumps({"error": error, "hint": hint}))


def read_failure(settings: Settings) -> DaemonError | None:
    try:
        failure = json.loads(failure_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return DaemonError(failure["error"], failure["hint"])


def privacy_warnings(settings: Settings) -> list[str]:
    """What in the data dir (and the cookie file) other users may read, each with its fix."""
    paths = loose_permissions(settings.home)
    if settings.cookie_file is not None and settings.home not in settings.cookie_file.parents:
        paths += loose_permissions(settings.cookie_file)
    return [
        f"{path} is readable by other users (mode {mode:04o}): chmod "
        f"{'700' if path.is_dir() else '600'} {path}"
        for path, mode in paths
    ]


def sweep_dead(settings: Settings, record: DaemonRecord) -> None:
    """Kill what the dead daemon of ``record`` left running (Thespian's logger, say, which
    holds the admin port) and forget the daemon."""
    strays = record.strays()
    for stray in strays:
        stray.kill()
    wait_gone(strays, timeout=5.0)
    DaemonRecord.remove(settings)


def daemon_running(settings: Settings) -> DaemonRecord | None:
    """The record of our daemon if it runs on the configured port, else ``None``.

    Raises `DaemonError` when the port is held by a process that is not our daemon.
    """
    port = settings.admin_port
    record = DaemonRecord.read(settings)
    if record is not None and not record.alive():  # it crashed: sweep what it left behind
        sweep_dead(settings, record)
        record = None
    if not port_in_use(port):
        if record is not None:
            DaemonRecord.remove(settings)
        return None
    if record is not None and record.port == port:
        _check_cookie(settings, record)
        return record
    raise _not_ours(settings)


def _check_cookie(settings: Settings, record: DaemonRecord) -> None:
    """Raise when our daemon was started with another cookie than this process holds: it
    would refuse every frame we send."""
    if record.cookie is None:
        raise DaemonError(
            f"the daemon on port {record.port} (pid {record.pid}) was started by a version of "
            "orchestration that did not sign its frames, so it cannot be trusted",
            hint=f"stop it (kill {record.pid}) and start it again: orchestration up",
        )
    if record.cookie == fingerprint(cookie_of(settings)):
        return
    raise DaemonError(
        f"the daemon on port {record.port} (pid {record.pid}) runs with another cookie than "
        f"{settings.cookie_path} holds, so it refuses this client",
        hint="set ORCH_COOKIE_FILE to the cookie it was started with, or stop it "
        f"(kill {record.pid}) and start it again: orchestration up",
    )


def _not_ours(settings: Settings) -> DaemonError:
    """What holds the admin port, when it is not the daemon of this data dir."""
    port = settings.admin_port
    listeners = sorted(listener_pids(port) or set())
    daemons = [pid for pid in listeners if is_daemon_process(command_line(pid))]
    if daemons:
        accepted = transport.probe_cookie(port, cookie_of(settings), settings.max_frame_bytes)
        refusal = ", which refuses this client's cookie" if accepted is False else ""
        return DaemonError(
            f"admin port {port} is held by the orchestration daemon of another data dir "
            f"(pid {daemons[0]}){refusal}",
            hint=f"use that daemon's data dir (ORCH_HOME) and cookie (ORCH_COOKIE_FILE), or set "
            f"ORCH_ADMIN_PORT to a free port for this one ({settings.home})",
        )
    who = ", ".join(f"pid {pid} ({command_line(pid)[:80]})" for pid in listeners)
    return DaemonError(
        f"admin port {port} is held by a process that is not this orchestration daemon"
        + (f": {who}" if who else ""),
        hint=f"set ORCH_ADMIN_PORT to a free port, or stop that process (data dir {settings.home})",
    )
