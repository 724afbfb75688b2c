"""The docs' offline commands run as written.

Every fenced block whose info string is ``bash offline``, in ``docs/*.md`` and ``README.md``,
is one test (its id: page and line of the opening fence). The block runs as one
``bash -euo pipefail`` script in a fresh directory, with this test's ORCH_HOME and admin port, a
free API port, an empty HOME, no provider credentials, ``orchestration`` on PATH, and a
deadline. Afterwards, pass or fail, ``orchestration down`` runs and whatever the block left in
its process group is killed; `daemon_guard` then stops what is left of the daemon. The
convention is in docs/local-development.md, "Docs that are tested".
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Cli

ROOT = Path(__file__).parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
OPENING = re.compile(r"^```bash offline\s*$")
CLOSING = re.compile(r"^```\s*$")
BLOCK_TIMEOUT = 150.0  # one block, daemon starts included
LEFTOVER_GRACE = 5.0  # seconds a process the block left gets between SIGTERM and SIGKILL
# Pages with commands that run offline; docker.md's all need Docker.
PAGES_WITH_OFFLINE_BLOCKS = {
    "local-development.md",
    "mcp.md",
    "operations.md",
    "server-mode.md",
    "systemd.md",
}


@dataclass(frozen=True)
class Block:
    """One ``bash offline`` block: where it is, and its script."""

    page: Path
    line: int
    script: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def offline_blocks(page: Path) -> list[Block]:
    """The ``bash offline`` blocks of ``page``, in order; an unclosed one is an error."""
    blocks: list[Block] = []
    opened: int | None = None
    body: list[str] = []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if opened is None:
            if OPENING.match(line):
                opened, body = number, []
        elif CLOSING.match(line):
            blocks.append(Block(page, opened, "\n".join(body) + "\n"))
            opened = None
        else:
            body.append(line)
    if opened is not None:
        raise ValueError(f"{page}:{opened}: this bash offline block is never closed")
    return blocks


BLOCKS = [block for page in PAGES if page.is_file() for block in offline_blocks(page)]


def test_every_page_with_offline_commands_has_a_tested_block() -> None:
    """The convention is in use on every page that has commands a test can run."""
    tested = {block.page.name for block in BLOCKS}
    assert tested >= PAGES_WITH_OFFLINE_BLOCKS, PAGES_WITH_OFFLINE_BLOCKS - tested


@pytest.mark.timeout(BLOCK_TIMEOUT + 120)
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_offline_block_runs(block: Block, cli: Cli, tmp_path: Path) -> None:
    """Given a fresh directory and a daemon of this test's own, the block exits 0."""
    workdir = tmp_path / "work"
    home = tmp_path / "user-home"
    workdir.mkdir()
    home.mkdir()
    env = {
        **cli.env,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), cli.env.get("PATH", "")]),
        "HOME": str(home),
        "ORCH_API_PORT": str(free_port()),
    }
    output = tmp_path / "output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.script],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    code: int | None = None
    try:
        code = process.wait(BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        down = cli("down")
        _stop_leftovers(process.pid)
    text = output.read_text(errors="replace")
    assert code is not None, f"{block.id} did not finish in {BLOCK_TIMEOUT:g} s:\n{text}"
    assert code == 0, f"{block.id} exited {code}:\n{block.script}--- output\n{text}"
    assert down.code == 0, f"orchestration down after {block.id} failed:\n{down}"


def _stop_leftovers(group: int) -> None:
    """SIGTERM what the block left running in its process group (``cmd &``), then SIGKILL
    what is still there after `LEFTOVER_GRACE`."""
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + LEFTOVER_GRACE
    while time.monotonic() < deadline:
        if not _signal_group(group, 0):
            return
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to process group ``group``; whether it still had a process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)
        return True
    return False
