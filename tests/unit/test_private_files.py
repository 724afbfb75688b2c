"""Private files: created 0600 and dirs 0700 whatever the umask, and the audit of wider ones."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.private_files import (
    append_private,
    loose_permissions,
    private_dir,
    touch_private,
    write_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """A umask that would make files 0666: the helpers must not depend on the caller's."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_every_helper_creates_private_files_in_a_private_dir(tmp_path: Path) -> None:
    home = private_dir(tmp_path / "home")
    write_private(home / "daemon.json", "{}")
    touch_private(home / "journal.db")
    with append_private(home / "logs" / "daemon.out") as out:
        out.write(b"line\n")

    assert mode(home) == 0o700 and mode(home / "logs") == 0o700
    assert {mode(home / name) for name in ("daemon.json", "journal.db")} == {0o600}
    assert mode(home / "logs" / "daemon.out") == 0o600
    assert loose_permissions(home) == []


def test_replacing_a_file_leaves_no_temporary_behind_and_keeps_it_private(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    write_private(path, "one")
    write_private(path, "two")

    assert path.read_text() == "two" and mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["daemon.json"]


def test_touch_leaves_an_existing_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_text("kept")

    touch_private(path)

    assert path.read_text() == "kept"


def test_the_audit_names_every_dir_and_file_others_may_reach(tmp_path: Path) -> None:
    home = private_dir(tmp_path / "home")
    (home / "logs").mkdir(mode=0o755)
    (home / "logs" / "daemon.log").write_text("x")
    (home / "logs" / "daemon.log").chmod(0o644)
    write_private(home / "daemon.json", "{}")

    found = dict(loose_permissions(home))

    assert found == {home / "logs": 0o755, home / "logs" / "daemon.log": 0o644}
    assert loose_permissions(home / "logs" / "daemon.log") == [
        (home / "logs" / "daemon.log", 0o644)
    ]
