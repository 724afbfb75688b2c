"""A bare actor system with one echo actor, asked in loops on command: the raw Thespian hop,
with our frame authentication (``signed``) or as Thespian ships it (``unsigned``).

``bench hop`` runs one of each, alternately, so the two differ only in the signing:
``python -m bench._raw_echo PORT signed|unsigned``. Each line ``N`` on stdin runs N asks and
answers one JSON line with their durations in seconds; the end of stdin shuts the system down.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from thespian.actors import ActorSystem

from bench._common import ROOT, free_port
from orchestration.processes.pids import kill_pid, listener_pids

FRAME_LIMIT = 64 * 1024 * 1024
ANSWER_TIMEOUT = 120.0


def serve(port: int, signed: bool, log_dir: Path) -> None:
    from bench.hop import LISTEN_TIMEOUT, ask_loop
    from orchestration import transport

    os.environ["THESPIAN_BASE_IPADDR"] = transport.LOOPBACK
    transport.bind_to_loopback()
    if signed:
        transport.authenticate_frames(secrets.token_bytes(32), FRAME_LIMIT, log_dir / "log")
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": port}, transientUnique=True)
    try:
        echo = asys.createActor("bench.hop.EchoActor")
        with asys.private() as endpoint:
            if endpoint.ask(echo, "ready?", LISTEN_TIMEOUT) != "ready?":
                raise RuntimeError("the echo actor did not answer")
            print("ready", flush=True)
            for line in sys.stdin:
                print(json.dumps(ask_loop(endpoint, echo, int(line))), flush=True)
    finally:
        asys.shutdown()


class RawEcho:
    """One `serve` process, driven from the benchmark."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._raw_echo", str(self.port), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
        )

    def wait_ready(self) -> None:
        if self._read() != "ready":
            raise RuntimeError(f"the {self.mode} echo system did not start")

    def asks(self, count: int) -> list[float]:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(f"{count}\n")
        stdin.flush()
        return json.loads(self._read())

    def _read(self) -> str:
        """The helper's next line; fail if it says nothing within `ANSWER_TIMEOUT`."""
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], ANSWER_TIMEOUT)
        if not ready:
            raise RuntimeError(f"the {self.mode} echo system said nothing in {ANSWER_TIMEOUT} s")
        return stdout.readline().strip()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for pid in listener_pids(self.port) or ():  # an admin its dead starter left behind
            kill_pid(pid)


@contextlib.contextmanager
def raw_echo(mode: str) -> Iterator[RawEcho]:
    echo = RawEcho(mode)
    try:
        echo.wait_ready()
        yield echo
    finally:
        echo.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        serve(int(sys.argv[1]), sys.argv[2] == "signed", Path(tmp))
