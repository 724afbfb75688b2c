"""The program behind a subprocess agent: its OS process, read without blocking the actor.

The program starts from an argument list (never a shell string) in a new session, so it and
whatever it starts form one process group that can be signalled at once. Two reader threads
turn its stdout and stderr into `StdoutLine` and `StderrLine` events on the actor's
`EventChannel`, which the actor watches with ``ThespianWatch`` as it does for API streams; when
stdout closes, the stdout thread reaps the process and sends `ProcessExited`. Writes to stdin
run in their own thread, so a full pipe never blocks the actor.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

from orchestration.actors.pump import EventChannel
from orchestration.private_files import user_umask
from orchestration.providers.program import MAX_LINE_BYTES, ProcessCommand

__all__ = [
    "MAX_STDERR_CHARS",
    "SESSION",
    "STDERR_GRACE",
    "ProcessExited",
    "ProcessSession",
    "StderrLine",
    "StdoutLine",
]

SESSION = "process"
"""The channel tag of process events (turns use their turn ids)."""
MAX_STDERR_CHARS = 2000
STDERR_GRACE = 1.0
"""Seconds the exit report waits for stderr to close (a child of the program may hold it)."""


@dataclass(frozen=True)
class StdoutLine:
    """One line of stdout without its newline; ``overlong`` if it passed `MAX_LINE_BYTES`
    (``data`` then holds only its start)."""

    data: bytes
    overlong: bool = False


@dataclass(frozen=True)
class StderrLine:
    """One line of stderr, decoded and cut to `MAX_STDERR_CHARS`."""

    text: str


@dataclass(frozen=True)
class ProcessExited:
    """The process ended: its exit code, or minus the signal that killed it."""

    code: int


class ProcessSession:
    """A started process and the threads that read it."""

    def __init__(self, command: ProcessCommand, channel: EventChannel) -> None:
        env = {**os.environ, **command.env}
        for name in command.unset:
            env.pop(name, None)
        self._channel = channel
        self.process = subprocess.Popen(
            list(command.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=command.cwd,
            env=env,
            start_new_session=True,
            umask=user_umask(),  # the daemon's own is private; the program gets the user's
        )
        self.pid = self.process.pid
        self._stdin_lock = threading.Lock()
        self._stderr = threading.Thread(
            target=self._read_stderr, args=(self.process.stderr,), daemon=True
        )
        self._stderr.start()
        threading.Thread(target=self._read_stdout, args=(self.process.stdout,), daemon=True).start()

    def write(self, data: bytes) -> None:
        """Write ``data`` to stdin in the background; a closed pipe shows up as the exit."""
        threading.Thread(target=self._write, args=(data,), daemon=True).start()

    def _write(self, data: bytes) -> None:
        stdin = self.process.stdin
        with self._stdin_lock, contextlib.suppress(OSError, ValueError):
            assert stdin is not None
            stdin.write(data)
            stdin.flush()

    def terminate(self) -> None:
        """Close stdin, then SIGTERM the process group."""
        with self._stdin_lock, contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the process group."""
        self._signal(signal.SIGKILL)

    def _signal(self, number: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, number)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        while line := stream.readline(MAX_LINE_BYTES + 1):
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                self._channel.write(SESSION, StdoutLine(line[:200], overlong=True))
                while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the overlong line
                continue
            self._channel.write(SESSION, StdoutLine(line.rstrip(b"\r\n")))
        code = self.process.wait()
        self._stderr.join(timeout=STDERR_GRACE)  # its last words come before its exit
        self._channel.write(SESSION, ProcessExited(code))

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            self._channel.write(SESSION, StderrLine(text[:MAX_STDERR_CHARS]))
