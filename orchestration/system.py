"""How our processes join the Thespian actor system, and the daemon's record file.

Shared by the daemon (which starts the system) and the Runtime (which attaches to it). It
imports no actor module and no provider SDK.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestration import transport
from orchestration.cookie import CookieError, fingerprint, load_cookie
from orchestration.errors import DaemonError
from orchestration.private_files import (
    loose_permissions,
    private_dir,
    touch_private,
    write_private,
)
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

SYSTEM_BASE = "multiprocTCPBase"
ROOT_NAME = "orchestration.root"
ROOT_CLASS = "orchestration.supervision.root.RootSupervisor"
LOOPBACK = transport.LOOPBACK


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


def find_root(actor_system: Any) -> Any:
    """The root's address, from any ``ActorSystem`` handle or endpoint: the admin keeps it by
    global name (and creates one, which boots itself from the journal, if none runs)."""
    return actor_system.createActor(ROOT_CLASS, globalName=ROOT_NAME)


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


def join_environment(settings: Settings) -> bytes:
    """Prepare this process to join the actor system of ``settings``: frames signed with the
    installation's cookie (returned), endpoints on loopback, Thespian's log in the data dir.

    Without ``THESPIAN_BASE_IPADDR`` Thespian probes a public address to find its own; with it
    Thespian still binds every listening socket to all interfaces, and it unpickles what
    reaches them: `orchestration.transport` narrows the binding and authenticates every frame.
    Actor processes fork from the daemon and inherit all of it.
    """
    os.environ["THESPIAN_BASE_IPADDR"] = LOOPBACK
    transport.bind_to_loopback()
    private_dir(settings.home)  # before anything inside it, which would make it 0755
    private_dir(settings.log_dir)
    cookie = cookie_of(settings)
    transport.authenticate_frames(cookie, settings.max_frame_bytes, settings.log_dir / "daemon.log")
    os.environ.setdefault("THESPLOG_FILE", str(touch_private(settings.log_dir / "thespian.log")))
    return cookie


def cookie_of(settings: Settings) -> bytes:
    """The installation's cookie (made on first use); `DaemonError` if it cannot be used."""
    try:
        return load_cookie(settings.cookie_path)
    except CookieError as exc:
        raise DaemonError(str(exc), exc.hint) from None


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


def capabilities(settings: Settings) -> dict[str, Any]:
    return {"Admin Port": settings.admin_port}


def log_definitions(settings: Settings, *, to_stderr: bool = False) -> dict[str, Any]:
    """Thespian ``logDefs``: actor logging goes to ``logs/daemon.log`` in the data dir, and
    to stderr too with ``to_stderr`` (a daemon in the foreground)."""
    handlers: dict[str, Any] = {
        "file": {
            "class": "logging.FileHandler",
            "filename": str(settings.log_dir / "daemon.log"),
            "formatter": "plain",
            "level": "INFO",
        },
    }
    if to_stderr:
        handlers["stderr"] = {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "level": "INFO",
        }
    return {
        "version": 1,
        "formatters": {"plain": {"format": transport.LOG_FORMAT}},
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": "INFO"},
        "disable_existing_loggers": False,
    }


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


def unreachable(settings: Settings) -> DaemonError:
    """Why the actor system on the admin port would not let this process join it."""
    port = settings.admin_port
    if transport.probe_cookie(port, cookie_of(settings), settings.max_frame_bytes) is False:
        return DaemonError(
            f"the actor system on port {port} refuses this client's cookie "
            f"({settings.cookie_path})",
            hint="set ORCH_COOKIE_FILE to the cookie the daemon was started with, or "
            "ORCH_ADMIN_PORT to a free port",
        )
    return DaemonError(
        f"the actor system on port {port} did not answer",
        hint=f"check `orchestration status` and {settings.log_dir / 'daemon.log'}",
    )
