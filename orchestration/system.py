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

from orchestration.processes import (
    ProcessId,
    command_line,
    listener_pids,
    pid_alive,
    port_in_use,
    session_members,
    wait_gone,
)
from orchestration.settings import Settings

SYSTEM_BASE = "multiprocTCPBase"
ROOT_NAME = "orchestration.root"
ROOT_CLASS = "orchestration.supervision.root.RootSupervisor"
LOOPBACK = "127.0.0.1"


class DaemonError(Exception):
    """The daemon cannot be reached or started. ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class DaemonRecord:
    """What ``daemon.json`` in the data dir says about the running daemon."""

    pid: int
    port: int
    started_at: str
    start_ticks: int | None = None  # the admin's start time, so a reused PID is not "ours"
    session: int | None = None  # the daemon's session: every process of it, forks included

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
        path = self.path(settings)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        temporary.replace(path)

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
            if "orchestration.daemon" in command_line(process.pid)
        ]


def failure_path(settings: Settings) -> Path:
    """Where a daemon that could not boot leaves its error and hint, as JSON, for its starter."""
    return settings.home / "daemon-failure.json"


def record_failure(settings: Settings, error: str, hint: str) -> None:
    failure_path(settings).write_text(json.dumps({"error": error, "hint": hint}))


def read_failure(settings: Settings) -> DaemonError | None:
    try:
        failure = json.loads(failure_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return DaemonError(failure["error"], failure["hint"])


def join_environment(settings: Settings) -> None:
    """Bind every endpoint of this process to loopback and send Thespian's log to the data dir.

    Without ``THESPIAN_BASE_IPADDR`` Thespian probes a public address to find its own; with it
    Thespian still binds every listening socket to all interfaces, and it accepts pickled
    messages, so `bind_to_loopback` narrows the binding. Actor processes fork from the daemon
    and inherit both.
    """
    os.environ["THESPIAN_BASE_IPADDR"] = LOOPBACK
    bind_to_loopback()
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("THESPLOG_FILE", str(settings.log_dir / "thespian.log"))


def bind_to_loopback() -> None:
    """Make Thespian's TCP endpoints listen on 127.0.0.1 instead of every interface."""
    from thespian.system.transport.IPBase import IPActorAddress

    if getattr(IPActorAddress, "_loopback_only", False):
        return
    original = IPActorAddress.__init__

    def loopback_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.bindname[0] == "" and self.sockname[0] == LOOPBACK:
            self.bindname = (LOOPBACK, self.bindname[1])

    IPActorAddress.__init__ = loopback_init  # type: ignore[method-assign]
    IPActorAddress._loopback_only = True  # type: ignore[attr-defined]


def capabilities(settings: Settings) -> dict[str, Any]:
    return {"Admin Port": settings.admin_port}


def log_definitions(settings: Settings) -> dict[str, Any]:
    """Thespian ``logDefs``: actor logging goes to ``logs/daemon.log`` in the data dir."""
    return {
        "version": 1,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(settings.log_dir / "daemon.log"),
                "formatter": "plain",
                "level": "INFO",
            },
        },
        "root": {"handlers": ["file"], "level": "INFO"},
        "disable_existing_loggers": False,
    }


def daemon_running(settings: Settings) -> DaemonRecord | None:
    """The record of our daemon if it runs on the configured port, else ``None``.

    Raises `DaemonError` when the port is held by a process that is not our daemon.
    """
    port = settings.admin_port
    record = DaemonRecord.read(settings)
    if record is not None and not record.alive():  # it crashed: sweep what it left behind
        strays = record.strays()  # Thespian's logger, say, which holds the admin port
        for stray in strays:
            stray.kill()
        wait_gone(strays, timeout=5.0)
        DaemonRecord.remove(settings)
        record = None
    if not port_in_use(port):
        if record is not None:
            DaemonRecord.remove(settings)
        return None
    if record is not None and record.port == port:
        return record
    listeners = listener_pids(port) or set()
    who = ", ".join(f"pid {pid} ({command_line(pid)[:80]})" for pid in sorted(listeners))
    raise DaemonError(
        f"admin port {port} is held by a process that is not this orchestration daemon"
        + (f": {who}" if who else ""),
        hint=f"set ORCH_ADMIN_PORT to a free port, or stop that process (data dir {settings.home})",
    )
