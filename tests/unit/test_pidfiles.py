"""PID files: a stray is killed with what it started; a reused PID is left alone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.processes.pidfiles import PidFile, sweep
from orchestration.processes.pids import ProcessId, pid_alive

SPAWNS_A_CHILD = (
    "import subprocess, sys, time;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    "print(child.pid, flush=True); time.sleep(60)"
)


@pytest.fixture
def stray() -> Iterator[subprocess.Popen[str]]:
    """A program in its own session that has started a child of its own."""
    process = subprocess.Popen(
        [sys.executable, "-c", SPAWNS_A_CHILD],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the program and its child
        process.wait()


def test_sweep_kills_the_recorded_process_and_its_children_and_removes_the_file(
    stray: subprocess.Popen[str], tmp_path: Path
) -> None:
    assert stray.stdout is not None
    child = int(stray.stdout.readline())
    recorded = ProcessId.of(stray.pid)
    assert recorded is not None
    PidFile(stray.pid, recorded.start_ticks, "tool", ["python", "-c", "..."]).write(tmp_path)

    killed = sweep(tmp_path)

    assert sorted(killed) == sorted([stray.pid, child])
    stray.wait(timeout=5)
    assert not pid_alive(child)
    assert list(tmp_path.iterdir()) == []


def test_a_pid_now_owned_by_another_process_is_left_alone(
    stray: subprocess.Popen[str], tmp_path: Path
) -> None:
    assert stray.stdout is not None
    child = int(stray.stdout.readline())
    running = ProcessId.of(stray.pid)
    assert running is not None
    # The file says its process started later than the one now holding that PID (and that
    # session): the PID was reused since, so nothing of this session is ours.
    PidFile(stray.pid, running.start_ticks + 1000, "tool", ["gone"]).write(tmp_path)

    assert sweep(tmp_path, "tool") == []
    assert pid_alive(stray.pid) and pid_alive(child)
    assert not PidFile.path(tmp_path, "tool").exists()


def test_a_missing_or_unreadable_file_sweeps_nothing(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")

    assert sweep(tmp_path) == [] and sweep(tmp_path, "nobody") == []
    assert list(tmp_path.iterdir()) == []
