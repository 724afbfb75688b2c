"""Shared fixtures: a private admin port and data dir per test, and a daemon that is always
stopped, with its whole process tree, even when the test fails."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.daemon.record import DaemonRecord
from orchestration.processes.pidfiles import sweep
from orchestration.processes.pids import ProcessId, descendants, wait_gone
from orchestration.runtime import Runtime
from orchestration.settings import Settings

CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real credentials and no user settings file reach a test."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("ORCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    # No Claude Code login of the machine's user decides a test's default provider.
    monkeypatch.setenv("ORCH_CLAUDE_PATH", str(tmp_path / "no-claude-here"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def orch_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """ORCH_HOME and ORCH_ADMIN_PORT of this test, set in the environment (for subprocesses)."""
    env = {"ORCH_HOME": str(tmp_path / "home"), "ORCH_ADMIN_PORT": str(free_port())}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def settings(orch_env: dict[str, str]) -> Settings:
    return Settings()


@pytest.fixture
def daemon_guard(settings: Settings) -> Iterator[Settings]:
    """Whatever daemon the test starts on its port is stopped at the end, process tree and all."""
    try:
        yield settings
    finally:
        stop_everything(settings)


def stop_everything(settings: Settings) -> None:
    """Stop the test's daemon; kill any process of its tree that outlives the stop."""
    record = DaemonRecord.read(settings)
    if record is None:
        return
    for stray in record.strays():  # the admin died (a crash test): sweep what it left
        stray.kill()  # (a Runtime.connect would do it too, and start a new daemon)
    tree = descendants(record.pid)
    admin = ProcessId.of(record.pid)
    with contextlib.suppress(Exception):  # whatever failed, the kill below still runs
        Runtime.connect(settings, start=False).stop_daemon(grace=1.0)
    for process in wait_gone([p for p in [admin, *tree] if p], timeout=5.0):
        process.kill()
    sweep(settings.pid_dir)  # subprocess agents' programs, whatever happened to their actors


@pytest.fixture
def runtime(daemon_guard: Settings) -> Iterator[Runtime]:
    """A Runtime on a fresh daemon of this test's own."""
    rt = Runtime.connect(daemon_guard)
    try:
        yield rt
    finally:
        rt.close()
