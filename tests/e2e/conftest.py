"""End-to-end helpers: the CLI as a real subprocess (``python -m orchestration.cli``).

`cli` runs one-shot commands and starts interactive sessions with the test's ORCH_HOME and
ORCH_ADMIN_PORT, no credentials unless the test adds them, and ``NO_PROXY`` for loopback. Every
process it starts is killed at the end of the test, before `daemon_guard` stops the daemon.
Waits are on output or state, each with a deadline; nothing sleeps in place of a wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestration.settings import Settings
from tests.fakes.fake_llm import FakeLLMServer

COMMAND_TIMEOUT = 60.0  # one CLI command, a daemon start included
EXAMPLES = Path(__file__).parents[2] / "examples"
# Output-shaping variables from the developer's shell that would change what the CLI prints.
UNSET = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "ORCH_CONFIG")
# No credential of the developer's reaches a CLI or its daemon unless a test sets it.
SECRET_PREFIXES = ("ANTHROPIC_", "OPENAI_", "CLAUDE_")


@dataclass(frozen=True)
class Result:
    """One finished CLI command."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (
            f"orchestration {' '.join(self.args)} -> exit {self.code} in {self.elapsed:.1f}s\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


class _Reader:
    """Drains one pipe in a thread, so a test can wait for text with a deadline."""

    def __init__(self, pipe: Any) -> None:
        self._fd = pipe.fileno()
        self._data = bytearray()
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            with self._changed:
                if not chunk:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self._data.extend(chunk)
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return self._data.decode(errors="replace")

    def wait_for(self, found: Callable[[str], bool], timeout: float, what: str) -> str:
        """Block until ``found(text so far)``; fail the test at the deadline or at EOF."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                text = self._data.decode(errors="replace")
                if found(text):
                    return text
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    reason = "the stream closed" if self._closed else f"{timeout:g} s passed"
                    pytest.fail(f"waited for {what}, but {reason}; got so far:\n{text}")
                self._changed.wait(left)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class Session:
    """An interactive CLI process whose stdin is a pipe the test writes to line by line."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str]) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._stdout = _Reader(self.process.stdout)
        self._stderr = _Reader(self.process.stderr)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> str:
        return self._stdout.text

    @property
    def stderr(self) -> str:
        return self._stderr.text

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def wait_stdout(self, text: str, timeout: float = COMMAND_TIMEOUT, *, after: int = 0) -> str:
        """Wait until stdout holds ``text`` (past character ``after``); return all of stdout."""
        return self._stdout.wait_for(lambda s: text in s[after:], timeout, f"{text!r} on stdout")

    def wait_stderr(self, text: str, timeout: float = COMMAND_TIMEOUT) -> str:
        return self._stderr.wait_for(lambda s: text in s, timeout, f"{text!r} on stderr")

    def finish(self, timeout: float = 30.0) -> int:
        """Close stdin (Ctrl-D), wait for the exit and the last output; return the exit code."""
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        code = self.process.wait(timeout)
        self._stdout.join(5.0)
        self._stderr.join(5.0)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10.0)
        self._stdout.join(5.0)
        self._stderr.join(5.0)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


class Cli:
    """Runs ``python -m orchestration.cli`` with this test's environment (see `env`)."""

    def __init__(self, env: dict[str, str], settings: Settings) -> None:
        self.env = env
        self.settings = settings
        self._sessions: list[Session] = []

    @property
    def port(self) -> int:
        return self.settings.admin_port

    @property
    def home(self) -> Path:
        return self.settings.home

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
        **extra_env: str,
    ) -> Result:
        """Run one command to its end; ``extra_env`` adds variables for this command only."""
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **extra_env},
            timeout=timeout,
        )
        return Result(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def session(self, *args: str) -> Session:
        """Start an interactive command (``chat``); it is killed at the end of the test."""
        session = Session(args, dict(self.env))
        self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.kill()


def cli_environment() -> dict[str, str]:
    """os.environ as the fixtures left it (no credentials, the test's ORCH_*), no proxy for
    loopback."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in UNSET and not name.startswith(SECRET_PREFIXES)
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def cli(orch_env: dict[str, str], daemon_guard: Settings) -> Iterator[Cli]:
    """The CLI of this test; whatever daemon it starts is stopped by `daemon_guard`."""
    runner = Cli(cli_environment(), daemon_guard)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fake Anthropic + OpenAI server on 127.0.0.1 (see tests/fakes/fake_llm.py)."""
    with FakeLLMServer() as server:
        yield server
