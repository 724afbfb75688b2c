"""No secret is ever written: agents on every provider, with sentinel keys, through a normal
turn, a 401 and a crash; then no file under the data dir and no event holds a sentinel."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.messages import TurnFailed
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from tests.conftest import stop_everything
from tests.fakes import FakeLLMServer
from tests.integration.test_claude_code import spawn_coder
from tests.support import kill_and_await_restart

ANTHROPIC_KEY = "sk-ant-SENTINEL-9f3c1e7a"
OPENAI_KEY = "sk-openai-SENTINEL-4b2d8c6e"
SENTINELS = (ANTHROPIC_KEY, OPENAI_KEY)


def files_holding(home: Path, secrets: tuple[str, ...]) -> list[str]:
    """Every file under ``home`` (as bytes) that contains one of ``secrets``."""
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s[:12]}..." for s in secrets if s.encode() in data]
    return found


def test_sentinel_keys_reach_the_providers_and_nothing_under_the_data_dir(
    fake: FakeLLMServer,
    claude_home: Path,
    daemon_guard: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    (tmp_path / "work").mkdir()
    with Runtime.connect(Settings()) as runtime:
        runtime.spawn("writer", provider="anthropic")
        runtime.spawn("critic", provider="openai", model="gpt-test")
        spawn_coder(runtime, tmp_path)
        outcomes = []
        for name in ("writer", "critic", "coder"):
            outcomes.append(list(runtime.send(name, f"hello {name}"))[-1])
        for name in ("writer", "critic"):
            outcomes.append(list(runtime.send(name, "again [[fake:status=401]]"))[-1])
        kill_and_await_restart(runtime, "writer")
        outcomes.append(list(runtime.send("writer", "after the crash"))[-1])
        events = runtime.events(limit=10_000)
    keys_seen = {r.credential for r in fake.requests}
    stop_everything(daemon_guard)  # every log flushed and closed

    failures = [o for o in outcomes if isinstance(o, TurnFailed)]
    assert [f.kind for f in failures] == ["auth", "auth"], outcomes
    assert {ANTHROPIC_KEY, OPENAI_KEY} <= keys_seen, "the sentinels were really used"
    assert files_holding(daemon_guard.home, SENTINELS) == []
    assert sum(1 for _ in daemon_guard.home.rglob("*.log")) >= 2, "the logs were searched"
    assert [e.id for e in events if any(s in e.model_dump_json() for s in SENTINELS)] == []
