"""The data dir's files, private to their owner: created 0700 (dirs) and 0600 (files), never
chmod-ed afterwards, and an audit of anything wider.

Everything we write ourselves goes through these helpers. The daemon also narrows its umask
(`restrict_umask`), so that what third parties create in its processes (SQLite's ``-wal`` and
``-shm``, log files, Thespian's log after it rotates) is private too; the programs agents start
get the user's own umask back (`user_umask`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "append_private",
    "create_exclusive",
    "loose_permissions",
    "open_private",
    "private_dir",
    "restrict_umask",
    "touch_private",
    "user_umask",
    "write_private",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # group and other bits

_user_umask: int | None = None


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed; ``path`` itself is created 0700."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_DIR)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """A descriptor on ``path``, which is created 0600 if it does not exist."""
    private_dir(path.parent)
    return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)


def append_private(path: Path) -> BinaryIO:
    """``path`` opened for appending bytes, created 0600 if missing."""
    return os.fdopen(open_private(path), "ab")


def touch_private(path: Path) -> Path:
    """Create ``path`` empty and 0600 unless it exists (then leave it as it is)."""
    os.close(open_private(path, os.O_WRONLY))
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; the new file is 0600 from its first byte."""
    private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new 0600 file at ``path``; ``False`` if it already existed."""
    private_dir(path.parent)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return True


def restrict_umask() -> None:
    """Make this process (and what it forks) create files 0600 and dirs 0700 by default."""
    global _user_umask
    previous = os.umask(_OTHERS)
    if _user_umask is None:
        _user_umask = previous


def user_umask() -> int:
    """The umask this process had before `restrict_umask`: the one programs we start get."""
    if _user_umask is not None:
        return _user_umask
    current = os.umask(_OTHERS)
    os.umask(current)
    return current


def loose_permissions(home: Path) -> list[tuple[Path, int]]:
    """Every dir and file under ``home`` (``home`` included, which may be a file) that its
    group or others may read, write or enter, with its mode. Symlinks are not followed."""
    found: list[tuple[Path, int]] = []
    if home.is_file():
        mode = stat.S_IMODE(home.stat().st_mode)
        return [(home, mode)] if mode & _OTHERS else []
    for directory, dirs, files in os.walk(home):
        here = Path(directory)
        for path in [here, *(here / name for name in files)]:
            try:
                mode = stat.S_IMODE(path.lstat().st_mode)
            except OSError:
                continue
            if mode & _OTHERS and not path.is_symlink():
                found.append((path, mode))
        dirs[:] = [name for name in dirs if not (here / name).is_symlink()]
    return found
