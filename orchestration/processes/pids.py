"""OS process facts the daemon and the supervisors need: a PID's identity and liveness, a
process tree or session, who listens on a port, safe kills, dying with the parent.

Linux answers through /proc. Elsewhere the functions answer ``None`` or empty, and callers
fall back to what Thespian itself does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessId",
    "command_line",
    "descendants",
    "die_with_parent",
    "kill_pid",
    "listener_pids",
    "pid_alive",
    "port_in_use",
    "session_members",
    "wait_gone",
]

PROC = Path("/proc")
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessId:
    """A PID plus its start time, so a reused PID is never mistaken for the original."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        stat = _stat(pid)
        return None if stat is None else cls(pid, int(stat[19]))

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.start_ticks

    def kill(self) -> None:
        """SIGKILL it, if it is still the same process."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def kill_pid(pid: int) -> None:
    """SIGKILL ``pid`` if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    Every actor process calls it as it starts, before its first message
    (`orchestration.admin_hooks.name_processes`): when a supervisor's process is killed, its
    children die with it, as linked processes do in Erlang, instead of running on as orphans
    that nobody supervises. If the parent died before the call, the process ends now.
    Elsewhere: no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent or parent == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (and is not a zombie)."""
    stat = _stat(pid)
    if stat is not None:
        return stat[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not PROC.is_dir()


def descendants(pid: int) -> list[ProcessId]:
    """Every process below ``pid`` in the process tree (empty where /proc is missing)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.glob("[0-9]*"):
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found: list[ProcessId] = []
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        process = ProcessId.of(child)
        if process is not None:
            found.append(process)
        stack.extend(children.get(child, []))
    return found


def session_members(session: int) -> list[ProcessId]:
    """Every live process of the session ``session`` (empty where /proc is missing)."""
    found: list[ProcessId] = []
    for entry in PROC.glob("[0-9]*"):
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] != "Z" and int(stat[3]) == session:
            found.append(ProcessId(int(entry.name), int(stat[19])))
    return found


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _listening_sockets(port: int) -> set[str] | None:
    """The ``socket:[inode]`` names of TCP sockets listening on the port."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            return None
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def _holds(pid: int, sockets: set[str]) -> bool:
    try:
        return any(os.readlink(fd) in sockets for fd in (PROC / str(pid) / "fd").iterdir())
    except OSError:
        return False


def listener_pids(port: int) -> set[int] | None:
    """PIDs of processes listening on the TCP port; ``None`` where that cannot be known."""
    sockets = _listening_sockets(port)
    if sockets is None:
        return None
    return {int(d.name) for d in PROC.glob("[0-9]*") if _holds(int(d.name), sockets)}


def command_line(pid: int) -> str:
    """The process's command line, or ``?``."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def wait_gone(processes: list[ProcessId], timeout: float) -> list[ProcessId]:
    """Wait until the processes have exited; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    remaining = [p for p in processes if p.alive()]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.02)
        remaining = [p for p in remaining if p.alive()]
    return remaining
