"""Process facts the daemon relies on: listeners of a port, process trees, safe kills."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.cookie import fingerprint
from orchestration.daemon.actor_system import cookie_of
from orchestration.daemon.record import DaemonRecord, daemon_running
from orchestration.errors import DaemonError
from orchestration.processes.pids import (
    ProcessId,
    descendants,
    listener_pids,
    pid_alive,
    port_in_use,
    wait_gone,
)
from orchestration.settings import Settings

GRANDCHILD = (
    "import subprocess, sys, time;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    "print('ready', flush=True); time.sleep(60)"
)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.fixture
def process_tree() -> Iterator[subprocess.Popen[str]]:
    parent = subprocess.Popen([sys.executable, "-c", GRANDCHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        yield parent
    finally:
        for process in descendants(parent.pid):
            process.kill()
        parent.kill()
        parent.wait()


def test_the_listener_of_a_port_is_found(listener: int) -> None:
    assert port_in_use(listener)
    assert listener_pids(listener) == {os.getpid()}


def test_a_process_tree_is_listed_and_killed_without_strays(
    process_tree: subprocess.Popen[str],
) -> None:
    children = descendants(process_tree.pid)
    assert len(children) == 1 and children[0].alive()

    children[0].kill()

    assert wait_gone(children, timeout=5.0) == []


def test_a_reused_pid_is_not_mistaken_for_the_original() -> None:
    me = ProcessId.of(os.getpid())
    assert me is not None and me.alive()

    impostor = ProcessId(pid=me.pid, start_ticks=me.start_ticks + 1)

    assert not impostor.alive()
    impostor.kill()  # must not kill this test process
    assert pid_alive(os.getpid())


def test_no_daemon_is_reported_when_the_port_is_free(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, admin_port=_free_port())
    tmp_path.mkdir(exist_ok=True)
    DaemonRecord(pid=os.getpid(), port=settings.admin_port, started_at="then").write(settings)

    assert daemon_running(settings) is None
    assert DaemonRecord.read(settings) is None, "a stale record is cleaned up"


def test_a_port_held_by_a_foreign_process_is_named_with_the_fix(
    tmp_path: Path, listener: int
) -> None:
    settings = Settings(home=tmp_path, admin_port=listener)

    with pytest.raises(DaemonError, match=f"admin port {listener} is held by") as caught:
        daemon_running(settings)

    assert "ORCH_ADMIN_PORT" in caught.value.hint
    assert f"pid {os.getpid()}" in str(caught.value)


def test_our_daemon_is_recognised_by_its_record(tmp_path: Path, listener: int) -> None:
    settings = Settings(home=tmp_path, admin_port=listener)
    ours = DaemonRecord(
        pid=os.getpid(), port=listener, started_at="now", cookie=fingerprint(cookie_of(settings))
    )
    ours.write(settings)

    assert daemon_running(settings) == ours


def test_a_daemon_that_predates_signed_frames_is_named_with_the_way_out(
    tmp_path: Path, listener: int
) -> None:
    settings = Settings(home=tmp_path, admin_port=listener)
    DaemonRecord(pid=os.getpid(), port=listener, started_at="last year").write(settings)

    with pytest.raises(DaemonError, match="did not sign its frames") as caught:
        daemon_running(settings)

    assert caught.value.hint == f"stop it (kill {os.getpid()}) and start it again: orchestration up"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_record_whose_pid_was_reused_is_not_taken_for_our_daemon(
    tmp_path: Path, listener: int
) -> None:
    settings = Settings(home=tmp_path, admin_port=listener)
    me = ProcessId.of(os.getpid())
    assert me is not None
    DaemonRecord(
        pid=me.pid, port=listener, started_at="long ago", start_ticks=me.start_ticks - 1
    ).write(settings)

    with pytest.raises(DaemonError, match="not this orchestration daemon"):
        daemon_running(settings)
