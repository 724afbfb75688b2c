"""Process titles: every process of the daemon names itself in ``ps``.

The forms are fixed, because tests and operators rely on them: ``orchestration: admin``,
``orchestration: root``, ``orchestration: rooms``, ``orchestration: gateway``,
``orchestration: supervisor NAME``, ``orchestration: agent NAME``,
``orchestration: router dm:NAME``, ``orchestration: room room:NAME``,
``orchestration: standby`` (a spare agent process) and ``orchestration: logger`` (Thespian's).
"""

from __future__ import annotations

from setproctitle import setproctitle

__all__ = ["PREFIX", "set_title", "thespian_title", "title"]

PREFIX = "orchestration: "
STARTING = {
    "RootSupervisor": "root",
    "RoomsSupervisor": "rooms",
    "GatewayActor": "gateway",
    "AgentActor": "standby",
    "SubprocessAgent": "agent",
    "Supervisor": "supervisor",
    "DirectRouter": "router",
    "RoomRouter": "room",
    "logger": "logger",
}
"""What a process is called from its start (Thespian names it by its actor class) until its
init message says whom it serves."""


def title(kind: str, name: str = "") -> str:
    """The title of a process of ``kind`` serving ``name``."""
    return f"{PREFIX}{kind} {name}".rstrip()


def set_title(kind: str, name: str = "") -> None:
    """Name this process in ``ps``."""
    setproctitle(title(kind, name))


def thespian_title(thespian_name: str) -> str:
    """Our title for a process Thespian names ``thespian_name`` (an actor class, an admin class
    or ``logger``): admins are ``admin``, unknown actor classes keep their class name."""
    if thespian_name.endswith("Admin"):
        return title("admin")
    return title(STARTING.get(thespian_name, thespian_name))
