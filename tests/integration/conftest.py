"""Fixtures for integration tests: the fake LLM server, and a daemon whose providers use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.aio import AsyncRuntime
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from tests.fakes import FakeLLMServer
from tests.support import CLAUDE, QUIET_CLI


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def claude(
    fake: FakeLLMServer, daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A daemon whose environment points Anthropic and OpenAI at the fake server."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    with Runtime.connect(Settings()) as runtime:
        yield runtime


@pytest.fixture
def claude_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's home and config dir, empty and private to the test; the CLI found."""
    home = tmp_path / "claude-home"
    (home / "config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("ORCH_CLAUDE_PATH", str(CLAUDE))
    for name, value in QUIET_CLI.items():
        monkeypatch.setenv(name, value)
    return home


@pytest.fixture
def bridged(claude: Runtime) -> Iterator[Runtime]:
    """`claude`'s daemon, which the ADK bridge's `ActorLlm` turns go through (the bridge is
    imported here only: it needs the ``adk`` extra)."""
    adk = pytest.importorskip("orchestration.interfaces.adk")
    adk.use_runtime(AsyncRuntime(claude))
    try:
        yield claude
    finally:
        adk.use_runtime(None)
