"""The journal: the durable SQLite history of every conversation, the runtime's only durable state.

One database file in WAL mode. `messages` holds every `Envelope` in one global order (``seq``),
appended before delivery and never changed. `agents` holds the specs of agents spawned at run
time, so a restarted daemon can rebuild them; `trees`, `rooms` and `workflows` likewise. The
schema grows only by appending a named migration to `journal_migrations.MIGRATIONS`; each
database records the names it has applied.

A commit survives kill -9 of any process (``synchronous=NORMAL``: a power cut may lose the last
commits, never corrupt the file). Every SQLite failure that a user can fix (a corrupt file, a
lock held by another process, a directory that cannot be written) raises `JournalError` with a
hint; the journal never deletes or overwrites an existing file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic_core import from_json, to_json

from .journal_migrations import MIGRATIONS, statements
from .messages import AgentSpec, Envelope, RoomSpec, SupervisorNode, WorkflowSpec
from .private_files import private_dir, touch_private

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "ENVELOPE_OVERHEAD",
    "Journal",
    "JournalError",
    "within_bytes",
]

DEFAULT_BUSY_TIMEOUT = 5.0

# One column per `Envelope` field: a new field fails loudly here until a migration adds it.
_FIELDS = tuple(Envelope.model_fields)
_JSON_FIELDS = ("recipients", "data", "topology", "delivered_to")
# Not ``ON CONFLICT(id) DO NOTHING``: with AUTOINCREMENT that burns a seq on every repeat.
_INSERT = (
    f"INSERT INTO messages ({', '.join(_FIELDS)}) SELECT {', '.join(':' + f for f in _FIELDS)}"
    " WHERE NOT EXISTS (SELECT 1 FROM messages WHERE id = :id)"
)
_SELECT = f"SELECT seq, {', '.join(_FIELDS)} FROM messages"


class JournalError(Exception):
    """The journal cannot be used. ``message`` names the problem, ``hint`` the fix."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}"


class Journal:
    """An open journal. Thread-safe: one lock serialises the calls that share the connection."""

    def __init__(
        self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, read_only: bool = False
    ) -> None:
        """Open the journal at ``path``, creating it and applying pending migrations; with
        ``read_only``, open the daemon's journal for reading only (no file is created and no
        migration applied: queries work, writes fail)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        if read_only:
            with self._guard():
                self._db = sqlite3.connect(
                    f"{self.path.absolute().as_uri()}?mode=ro",
                    uri=True,
                    timeout=busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            return
        try:
            private_dir(self.path.parent)
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal's directory {self.path.parent}: {exc}",
                "set ORCH_HOME to a writable directory, or fix the permissions",
            ) from exc
        try:
            touch_private(self.path)  # SQLite gives its -wal and -shm files the same mode
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal {self.path}: {exc}",
                "set ORCH_HOME to a writable directory, or fix the permissions",
            ) from exc
        with self._guard():
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._open()
            except BaseException:
                self._db.close()
                raise

    def _open(self) -> None:
        """Set the pragmas and apply the pending migrations, all in one transaction."""
        pending = self._pending()  # the first read: fails here on a corrupt file, before writing
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if not pending:
            return
        with self._transaction():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            for name, sql in self._pending():  # again: another process may have migrated
                for statement in statements(sql):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, _now()))

    def _pending(self) -> list[tuple[str, str]]:
        """The migrations not yet applied to this database, in order."""
        applied: set[str] = set()
        exists = "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
        if self._db.execute(exists).fetchone():
            applied = {row[0] for row in self._db.execute("SELECT name FROM schema_migrations")}
        return [(name, sql) for name, sql in MIGRATIONS if name not in applied]

    def close(self) -> None:
        """Close the connection (again is harmless); every commit is already on disk."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- messages ------------------------------------------------------------------------------

    def append(self, message: Envelope) -> int:
        """Store ``message`` durably and return its seq; a stored id returns its existing seq."""
        with self._guard():
            return self._insert(message)

    def append_many(self, messages: Iterable[Envelope]) -> list[int]:
        """Store ``messages`` in one transaction, like `append` for each; return their seqs."""
        with self._guard(), self._transaction():
            return [self._insert(message) for message in messages]

    def _insert(self, message: Envelope) -> int:
        cursor = self._db.execute(_INSERT, _row(message))
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            return cursor.lastrowid
        found = self._db.execute("SELECT seq FROM messages WHERE id = ?", (message.id,))
        return int(found.fetchone()[0])

    def history(
        self,
        conversation: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        newest: bool = False,
    ) -> list[tuple[int, Envelope]]:
        """The messages of ``conversation`` with seq > ``after_seq``, oldest first; with
        ``newest``, the last ``limit`` of them (still oldest first)."""
        order = "DESC" if newest else "ASC"
        sql = f"{_SELECT} WHERE conversation = ? AND seq > ? ORDER BY seq {order} LIMIT ?"
        with self._guard():
            rows = self._db.execute(sql, (conversation, after_seq, -1 if limit is None else limit))
            found = [(row[0], _envelope(row[1:])) for row in rows]
        return found[::-1] if newest else found

    def view(self, agent: str, conversation: str) -> list[Envelope]:
        """The chat messages of ``conversation`` that ``agent`` sent, or that went to all or it."""
        sql = (
            f"{_SELECT} WHERE conversation = :conversation AND kind = 'chat' AND ("
            " sender = :agent OR recipients = '[]'"
            " OR EXISTS (SELECT 1 FROM json_each(recipients) WHERE value = :agent)"
            ") ORDER BY seq"
        )
        with self._guard():
            rows = self._db.execute(sql, {"conversation": conversation, "agent": agent})
            return [_envelope(row[1:]) for row in rows]

    def room_view(self, conversation: str, member: str) -> list[Envelope]:
        """The chat messages of room ``conversation`` that ``member`` sent or was delivered."""
        sql = (
            f"{_SELECT} WHERE conversation = :conversation AND kind = 'chat' AND ("
            " sender = :member"
            " OR EXISTS (SELECT 1 FROM json_each(delivered_to) WHERE value = :member)"
            ") ORDER BY seq"
        )
        with self._guard():
            rows = self._db.execute(sql, {"conversation": conversation, "member": member})
            return [_envelope(row[1:]) for row in rows]

    def purge(self, conversation: str) -> int:
        """Delete every message of ``conversation`` for good; how many there were."""
        with self._guard():
            cursor = self._db.execute(
                "DELETE FROM messages WHERE conversation = ?", (conversation,)
            )
            return cursor.rowcount

    def last_seq(self, conversation: str) -> int:
        """The seq of the latest message of ``conversation``; 0 when it has none."""
        sql = "SELECT max(seq) FROM messages WHERE conversation = ?"
        with self._guard():
            return int(self._db.execute(sql, (conversation,)).fetchone()[0] or 0)

    def seq_of(self, message_id: str, conversation: str) -> int | None:
        """The seq of message ``message_id`` of ``conversation``; None when it has no such
        message."""
        sql = "SELECT seq FROM messages WHERE id = ? AND conversation = ?"
        with self._guard():
            row = self._db.execute(sql, (message_id, conversation)).fetchone()
        return None if row is None else int(row[0])

    def conversations(self, prefix: str = "") -> list[str]:
        """Every conversation with a message (whose id starts with ``prefix``), in the order of
        its first message."""
        sql = (
            "SELECT conversation FROM messages WHERE substr(conversation, 1, ?) = ?"
            " GROUP BY conversation ORDER BY min(seq)"
        )
        with self._guard():
            return [row[0] for row in self._db.execute(sql, (len(prefix), prefix))]

    # --- agents --------------------------------------------------------------------------------

    def save_agent(self, spec: AgentSpec) -> None:
        """Record ``spec`` (replacing one of the same name); a removed agent comes back."""
        sql = (
            "INSERT INTO agents (name, spec, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, removed_at = NULL,"
            " created_at = iif(removed_at IS NULL, created_at, excluded.created_at)"
        )
        with self._guard():
            self._db.execute(sql, (spec.name, spec.model_dump_json(), _now()))

    def remove_agent(self, name: str) -> None:
        """Mark agent ``name`` removed; its messages stay."""
        sql = "UPDATE agents SET removed_at = ? WHERE name = ? AND removed_at IS NULL"
        with self._guard():
            self._db.execute(sql, (_now(), name))

    def agents(self) -> list[AgentSpec]:
        """The specs of the agents not removed, oldest first."""
        sql = "SELECT spec FROM agents WHERE removed_at IS NULL ORDER BY created_at, rowid"
        with self._guard():
            return [AgentSpec.model_validate_json(row[0]) for row in self._db.execute(sql)]

    # --- trees -------------------------------------------------------------------------------

    def save_tree(self, node: SupervisorNode) -> None:
        """Record the tree ``node`` (replacing one of the same name)."""
        sql = (
            "INSERT INTO trees (name, node, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET node = excluded.node, removed_at = NULL"
        )
        with self._guard():
            self._db.execute(sql, (node.name, node.model_dump_json(), _now()))

    def remove_tree(self, name: str) -> None:
        """Mark tree ``name`` removed; its agents' messages stay."""
        sql = "UPDATE trees SET removed_at = ? WHERE name = ? AND removed_at IS NULL"
        with self._guard():
            self._db.execute(sql, (_now(), name))

    def trees(self) -> list[SupervisorNode]:
        """The trees not removed, oldest first."""
        sql = "SELECT node FROM trees WHERE removed_at IS NULL ORDER BY created_at, rowid"
        with self._guard():
            return [SupervisorNode.model_validate_json(row[0]) for row in self._db.execute(sql)]

    # --- rooms -------------------------------------------------------------------------------

    def save_room(self, spec: RoomSpec) -> None:
        """Record room ``spec`` (replacing one of the same name); a removed room comes back."""
        sql = (
            "INSERT INTO rooms (name, spec, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, removed_at = NULL"
        )
        with self._guard():
            self._db.execute(sql, (spec.name, spec.model_dump_json(), _now()))

    def remove_room(self, name: str) -> None:
        """Mark room ``name`` removed; its messages stay until purged."""
        sql = "UPDATE rooms SET removed_at = ? WHERE name = ? AND removed_at IS NULL"
        with self._guard():
            self._db.execute(sql, (_now(), name))

    def rooms(self) -> list[RoomSpec]:
        """The rooms not removed, oldest first."""
        sql = "SELECT spec FROM rooms WHERE removed_at IS NULL ORDER BY created_at, rowid"
        with self._guard():
            return [RoomSpec.model_validate_json(row[0]) for row in self._db.execute(sql)]

    # --- workflows ---------------------------------------------------------------------------

    def save_workflows(self, tree: str, workflows: Sequence[WorkflowSpec]) -> None:
        """Record the workflows tree ``tree`` declares, in place of those it declared before."""
        rows = [(w.name, tree, w.model_dump_json(), _now()) for w in workflows]
        with self._guard(), self._transaction():
            self._db.execute("DELETE FROM workflows WHERE tree = ?", (tree,))
            self._db.executemany(
                "INSERT INTO workflows (name, tree, spec, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET tree = excluded.tree, spec = excluded.spec",
                rows,
            )

    def workflows(self) -> list[WorkflowSpec]:
        """The declared workflows, oldest first."""
        sql = "SELECT spec FROM workflows ORDER BY created_at, rowid"
        with self._guard():
            return [WorkflowSpec.model_validate_json(row[0]) for row in self._db.execute(sql)]

    # --- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; turn the SQLite errors a user can fix into `JournalError`."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                error = self._explain(exc)
                if error is None:
                    raise
                raise error from exc

    def _explain(self, exc: sqlite3.Error) -> JournalError | None:
        code = getattr(exc, "sqlite_errorname", "")
        where = f"journal at {self.path}"
        if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            return JournalError(
                f"{where} is corrupt or not a SQLite database: {exc}",
                "move it aside, with its -wal and -shm files if any (nothing in it is deleted),"
                " and orchestration will start a new one; or restore a backup",
            )
        if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return JournalError(
                f"{where} is locked by another process: {exc}",
                "stop the other process that writes to it (is a second daemon running? try"
                " `orchestration down`), or set ORCH_HOME to use another data dir",
            )
        if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_FULL")):
            return JournalError(
                f"{where} cannot be opened or written: {exc}",
                f"check the permissions and free space of {self.path.parent}, or set ORCH_HOME"
                " to a writable directory",
            )
        return None


def _row(message: Envelope) -> dict[str, Any]:
    """The message as the named parameters of `_INSERT`; a naive ``created_at`` is taken as UTC."""
    row = message.model_dump(mode="json")
    for name in _JSON_FIELDS:
        row[name] = to_json(row[name]).decode()
    created = message.created_at
    utc = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
    row["created_at"] = utc.isoformat()
    return row


ENVELOPE_OVERHEAD = 1024
"""Bytes a pickled envelope takes besides its content (ids, names, times), rounded up."""


def within_bytes(envelopes: list[Envelope], max_bytes: int, *, newest: bool) -> list[Envelope]:
    """The oldest (or ``newest``) of ``envelopes``, in order, that fit in ``max_bytes`` once
    pickled, at least one: what one frame between actors can carry."""
    kept: list[Envelope] = []
    size = 0
    for envelope in reversed(envelopes) if newest else envelopes:
        size += len(envelope.content.encode()) + ENVELOPE_OVERHEAD
        if kept and size > max_bytes:
            break
        kept.append(envelope)
    return kept[::-1] if newest else kept


def _envelope(values: tuple[Any, ...]) -> Envelope:
    fields = dict(zip(_FIELDS, values, strict=True))
    for name in _JSON_FIELDS:
        fields[name] = from_json(fields[name])
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return Envelope.model_validate(fields)


def _now() -> str:
    return datetime.now(UTC).isoformat()
