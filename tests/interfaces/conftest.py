"""One daemon per test module: the interfaces' tests share it (unique agent names per test)
rather than pay a daemon start per test; `serving` runs an app under a real uvicorn."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI

from orchestration.runtime import Runtime
from orchestration.settings import Settings
from tests.conftest import CREDENTIAL_VARIABLES, free_port, stop_everything


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The module's ORCH_* environment, set in ``os.environ`` (no credentials, no user settings
    file) until the module ends, then restored."""
    base = tmp_path_factory.mktemp("shared")
    env = {
        "ORCH_HOME": str(base / "home"),
        "ORCH_ADMIN_PORT": str(free_port()),
        "ORCH_CLAUDE_PATH": str(base / "no-claude-here"),
        "XDG_CONFIG_HOME": str(base / "xdg-config"),
    }
    dropped = [*CREDENTIAL_VARIABLES, *(n for n in os.environ if n.startswith("ORCH_"))]
    saved = {name: os.environ.get(name) for name in {*env, *dropped}}
    for name in dropped:
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def added_env(shared_env: dict[str, str], extra: dict[str, str]) -> Iterator[dict[str, str]]:
    """``shared_env`` plus ``extra``, set in ``os.environ`` until the end: for a module whose
    daemon needs settings of its own (override ``shared_env`` with a fixture that uses it)."""
    os.environ.update(extra)
    try:
        yield {**shared_env, **extra}
    finally:
        for name in extra:
            os.environ.pop(name, None)


@pytest.fixture(scope="module")
def shared_runtime(shared_env: dict[str, str]) -> Iterator[Runtime]:
    """A Runtime on a daemon of this module's own, always stopped at the end. The autouse
    ``clean_environment`` clears ORCH_* inside each test: use ``shared_runtime.settings``
    (or ``shared_env`` for a subprocess), not a fresh ``Settings()``."""
    settings = Settings()
    try:
        runtime = Runtime.connect(settings)
        try:
            yield runtime
        finally:
            runtime.close()
    finally:
        stop_everything(settings)


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx2.Client]:
    """``app`` under uvicorn on a free port (already listening: requests queue until it
    serves), and a client on it; the server stops at the end."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets, and without it a
    # response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    port = sock.getsockname()[1]
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
