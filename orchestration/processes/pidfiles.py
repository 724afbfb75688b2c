"""PID files for agents' OS processes, and the sweep that kills the strays they point to.

A subprocess agent starts its program in a new session (so in its own process group) and
records it here: the PID, the process's start time, the agent and the command. If the agent's
actor dies without stopping its program (kill -9 of the actor or of the whole daemon), the file
stays behind, and the next start of that agent, of the daemon, or ``down`` sweeps it: every
process of that session started no earlier than the recorded one is killed. A PID that now
belongs to an unrelated process (a different start time) is left alone.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestration.private_files import write_private
from orchestration.processes.pids import ProcessId, session_members, wait_gone

__all__ = ["PidFile", "sweep"]


@dataclass(frozen=True)
class PidFile:
    """What ``<pid dir>/<agent>.json`` says about one agent's OS process."""

    pid: int
    start_ticks: int
    agent: str
    argv: list[str]

    @staticmethod
    def path(directory: Path, agent: str) -> Path:
        return directory / f"{agent}.json"

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, directory: Path) -> None:
        write_private(self.path(directory, self.agent), json.dumps(asdict(self)))

    def remove(self, directory: Path) -> None:
        self.path(directory, self.agent).unlink(missing_ok=True)

    def strays(self) -> list[ProcessId]:
        """The recorded process and what it started, if still running (by session, each no
        older than the recorded process, so a reused PID never matches)."""
        return [p for p in session_members(self.pid) if p.start_ticks >= self.start_ticks]


def sweep(directory: Path, agent: str | None = None) -> list[int]:
    """Kill the strays of every PID file in ``directory`` (or only ``agent``'s) and remove the
    files; the PIDs killed."""
    paths = [PidFile.path(directory, agent)] if agent else sorted(directory.glob("*.json"))
    killed: list[ProcessId] = []
    for path in paths:
        record = PidFile.read(path)
        if record is not None:
            for process in record.strays():
                process.kill()
                killed.append(process)
        with contextlib.suppress(OSError):
            path.unlink()
    wait_gone(killed, timeout=5.0)
    return [process.pid for process in killed]
