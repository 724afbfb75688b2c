"""``docker/entrypoint.sh`` without Docker: the container's main process, run as a process of
its own, with this test's data dir and ports and ``orchestration`` on PATH.

It starts ``up --foreground``, then ``serve`` once the daemon answers; SIGTERM stops both and
exits 0; when one of them ends, the other is stopped and the script exits with its code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tests.conftest import free_port
from tests.e2e.conftest import Cli
from tests.support import wait_until

ENTRYPOINT = Path(__file__).parents[2] / "docker" / "entrypoint.sh"
DEADLINE = 60.0


@dataclass
class Container:
    """The running entrypoint, the API's address, and where its output goes."""

    process: subprocess.Popen[bytes]
    api: str
    output: Path

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def exit_code(self) -> int:
        """Wait for the entrypoint to exit; its exit code."""
        try:
            return self.process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the entrypoint did not exit:\n{self.text}") from None

    def server_pid(self) -> int:
        """The PID of the entrypoint's ``orchestration serve``."""
        for entry in Path("/proc").iterdir():
            if (
                entry.name.isdigit()
                and _parent(entry) == self.process.pid
                and b"serve" in (entry / "cmdline").read_bytes().split(b"\0")
            ):
                return int(entry.name)
        raise AssertionError(f"no serve process under the entrypoint:\n{self.text}")


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@contextmanager
def container(cli: Cli, tmp_path: Path) -> Iterator[Container]:
    """The entrypoint with ``--require-token``, once ``/readyz`` answers 200; killed with its
    process group at the end if it still runs."""
    port = free_port()
    env = {
        **cli.env,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), cli.env.get("PATH", "")]),
        "ORCH_API_PORT": str(port),
    }
    output = tmp_path / "entrypoint.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(ENTRYPOINT), "--require-token"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Container(process, f"http://127.0.0.1:{port}", output)
    try:
        wait_until(lambda: _ready(running), "the API answering /readyz", DEADLINE)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _ready(running: Container) -> bool:
    assert running.process.poll() is None, f"the entrypoint exited:\n{running.text}"
    try:
        return httpx2.get(f"{running.api}/readyz", timeout=5).status_code == 200
    except httpx2.TransportError:
        return False


def test_sigterm_stops_the_server_then_the_daemon_and_exits_0(cli: Cli, tmp_path: Path) -> None:
    with container(cli, tmp_path) as running:
        token = (cli.home / "api-token").read_text().strip()
        agents = httpx2.get(
            f"{running.api}/v1/agents", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert agents.status_code == 200, agents.text
        running.process.send_signal(signal.SIGTERM)
        assert running.exit_code() == 0, running.text
    assert "stopping: the server, then the daemon" in running.text
    assert cli("status").code == 1, "the daemon still runs"


def test_down_ends_the_container_with_exit_0(cli: Cli, tmp_path: Path) -> None:
    with container(cli, tmp_path) as running:
        assert cli("down").code == 0
        assert running.exit_code() == 0, running.text
    assert "the daemon exited with code 0; stopping the server" in running.text


def test_a_dead_server_stops_the_daemon_and_the_container_fails(cli: Cli, tmp_path: Path) -> None:
    with container(cli, tmp_path) as running:
        os.kill(running.server_pid(), signal.SIGKILL)
        assert running.exit_code() == 128 + signal.SIGKILL, running.text
    assert "the server exited with code 137; stopping the daemon" in running.text
    assert cli("status").code == 1, "the daemon still runs"
