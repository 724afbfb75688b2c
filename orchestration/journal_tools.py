"""The journal file seen from outside the daemon: a consistent backup, and a health check.

Both open the journal read-only through SQLite, so they work whether the daemon runs or not and
never get in its way: in WAL mode a reader sees one snapshot while the daemon keeps appending.
A read-only reader of a WAL database needs the ``-wal`` and ``-shm`` files beside it; when no
daemon holds them, SQLite creates them (with the journal's own mode) and leaves them there for
the daemon's next start.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from orchestration.errors import OrchestrationError
from orchestration.journal_migrations import MIGRATIONS
from orchestration.private_files import create_exclusive, private_dir

__all__ = ["Backup", "JournalHealth", "backup", "expected_migrations", "inspect"]

BUSY_TIMEOUT = 5.0
COMPANIONS = ("", "-wal", "-shm", "-journal")
"""The suffixes of the files that make up a journal: a backup never writes over one."""
CORRUPT_HINT = (
    "stop the daemon (orchestration down), move {path} aside with its -wal and -shm files "
    "(nothing in them is deleted), then copy a backup made by `orchestration journal backup` "
    "to {path}, or let the next `orchestration up` start an empty journal"
)


@dataclass(frozen=True)
class Backup:
    """A copy that `backup` wrote: where, its size in bytes, and how many messages it holds."""

    path: Path
    size: int
    messages: int


@dataclass(frozen=True)
class JournalHealth:
    """What `inspect` found. ``problem`` (with its fix in ``hint``) is empty when SQLite's
    ``quick_check`` passed; ``applied`` are the schema migrations the file records."""

    path: Path
    exists: bool
    problem: str = ""
    hint: str = ""
    applied: tuple[str, ...] = ()

    @property
    def pending(self) -> list[str]:
        """Migrations this version knows and the file lacks (the daemon applies them)."""
        return [name for name in expected_migrations() if name not in self.applied]

    @property
    def unknown(self) -> list[str]:
        """Migrations the file records and this version does not know: a newer one wrote it."""
        known = set(expected_migrations())
        return [name for name in self.applied if name not in known]


def expected_migrations() -> list[str]:
    """The names of the schema migrations this version of orchestration applies, in order."""
    return [name for name, _ in MIGRATIONS]


def backup(journal: Path, target: Path, *, force: bool = False) -> Backup:
    """Copy ``journal`` to ``target`` with SQLite's online backup API, in one step: one
    consistent snapshot, however much the daemon appends meanwhile.

    The copy is a database on its own (rollback journal mode, no ``-wal`` beside it), private
    (0600) from its first byte, and only appears at ``target`` once complete. Raises
    `OrchestrationError` when there is no journal, when ``target`` is the journal or one of its
    files, is a directory, or exists and ``force`` is not set, or when SQLite cannot read the
    journal.
    """
    target = target.expanduser().absolute()
    if not journal.is_file():
        raise _refused(
            f"there is no journal at {journal} yet",
            "the daemon creates it when it first starts (orchestration up); check ORCH_HOME",
        )
    if _is_journal(target, journal):
        raise _refused(
            f"{target} is the journal itself, or one of its files",
            "write the copy outside the journal's files, e.g. ~/backups/journal.db",
        )
    if target.is_dir():
        raise _refused(
            f"{target} is a directory", f"name a file in it, e.g. {target / 'journal.db'}"
        )
    if force:
        private_dir(target.parent)
    elif not create_exclusive(target, b""):  # holds the name until the copy replaces it
        raise _refused(f"{target} exists", "choose another path, or pass --force to replace it")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        messages = _copy(journal, Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        if not force:
            target.unlink(missing_ok=True)
        raise
    return Backup(target, target.stat().st_size, messages)


def inspect(journal: Path) -> JournalHealth:
    """Run SQLite's ``quick_check`` on ``journal`` and read which migrations it records."""
    if not journal.exists():
        return JournalHealth(journal, exists=False)
    try:
        with closing(_read_only(journal)) as db:
            damage = _damage(db)
            applied = _applied(db)
    except sqlite3.Error as exc:
        return _unreadable(journal, exc)
    if damage:
        problem = f"{journal} is corrupt: {damage}"
        return JournalHealth(journal, True, problem, CORRUPT_HINT.format(path=journal), applied)
    return JournalHealth(journal, True, applied=applied)


def _copy(journal: Path, copy: Path) -> int:
    """Back ``journal`` up into the file ``copy`` and check the copy; the number of messages
    copied. A corrupt journal makes a corrupt copy: that raises."""
    try:
        with closing(_read_only(journal)) as source, closing(sqlite3.connect(copy)) as out:
            source.backup(out)  # pages=-1: all in one read transaction, so one snapshot
            out.execute("PRAGMA journal_mode=DELETE")  # a single file, with no -wal to carry
            damage = _damage(out)
            messages = 0 if damage else _count_messages(out)
    except sqlite3.Error as exc:
        health = _unreadable(journal, exc)
        raise OrchestrationError("backup_failed", health.problem, health.hint) from exc
    if damage:
        problem = f"{journal} is corrupt ({damage}), so no copy was written"
        raise OrchestrationError("backup_failed", problem, CORRUPT_HINT.format(path=journal))
    return messages


def _read_only(journal: Path) -> sqlite3.Connection:
    uri = f"{journal.absolute().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)


def _damage(db: sqlite3.Connection) -> str:
    """What SQLite's ``quick_check`` finds wrong with ``db`` (its first findings), or ``""``."""
    found = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
    return "" if found == ["ok"] else "; ".join(found[:3])


def _applied(db: sqlite3.Connection) -> tuple[str, ...]:
    if not _has_table(db, "schema_migrations"):
        return ()
    return tuple(row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY rowid"))


def _count_messages(db: sqlite3.Connection) -> int:
    if not _has_table(db, "messages"):
        return 0
    return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(sql, (name,)).fetchone() is not None


def _unreadable(journal: Path, exc: sqlite3.Error) -> JournalHealth:
    """Why SQLite could not read ``journal``, with the fix."""
    code = getattr(exc, "sqlite_errorname", "")
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        problem = f"{journal} is corrupt or not a SQLite database: {exc}"
        return JournalHealth(journal, True, problem, CORRUPT_HINT.format(path=journal))
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        hint = "try again; if it persists, stop the process that holds it (orchestration down)"
    else:
        hint = f"check that you own {journal} and its -wal and -shm files, and their permissions"
    return JournalHealth(journal, True, f"cannot read {journal}: {exc}", hint)


def _is_journal(target: Path, journal: Path) -> bool:
    """Whether ``target`` is ``journal`` or one of its companion files (by path or inode)."""
    resolved = target.resolve()
    journal = journal.resolve()
    if any(resolved == journal.with_name(journal.name + suffix) for suffix in COMPANIONS):
        return True
    return target.exists() and target.samefile(journal)


def _refused(message: str, hint: str) -> OrchestrationError:
    return OrchestrationError("backup_refused", message, hint)
