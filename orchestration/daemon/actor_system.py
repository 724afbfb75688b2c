"""How a process joins the daemon's actor system: its Thespian base and capabilities, frames
signed with the cookie on loopback, the daemon's log, and the root's global name.

Shared by the daemon (which starts the system) and the Runtime (which attaches to it). It
imports no actor module and no provider SDK.
"""

from __future__ import annotations

import os
from typing import Any

from orchestration import transport
from orchestration.cookie import CookieError, load_cookie
from orchestration.errors import DaemonError
from orchestration.private_files import private_dir, touch_private
from orchestration.settings import Settings

__all__ = [
    "LOOPBACK",
    "ROOT_CLASS",
    "ROOT_NAME",
    "SYSTEM_BASE",
    "capabilities",
    "cookie_of",
    "find_root",
    "join_environment",
    "log_definitions",
    "unreachable",
]

SYSTEM_BASE = "multiprocTCPBase"
ROOT_NAME = "orchestration.root"
ROOT_CLASS = "orchestration.supervision.root.RootSupervisor"
LOOPBACK = transport.LOOPBACK


def find_root(actor_system: Any) -> Any:
    """The root's address, from any ``ActorSystem`` handle or endpoint: the admin keeps it by
    global name (and creates one, which boots itself from the journal, if none runs)."""
    return actor_system.createActor(ROOT_CLASS, globalName=ROOT_NAME)


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
