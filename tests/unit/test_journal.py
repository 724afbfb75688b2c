"""The journal on a real SQLite file: round trips, idempotency, views, migrations, failures."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestration import journal as journal_module
from orchestration.journal import Journal, JournalError
from orchestration.journal_migrations import MIGRATIONS
from orchestration.messages import AgentSpec, Envelope


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.db"


@pytest.fixture
def journal(path: Path):
    with Journal(path) as opened:
        yield opened


def chat(content: str, *, sender: str = "alice", to: tuple[str, ...] = (), **fields) -> Envelope:
    return Envelope(conversation="room", sender=sender, recipients=to, content=content, **fields)


def query(path: Path, sql: str) -> list[tuple]:
    """Read the journal file directly, as another process would."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def applied(path: Path) -> list[tuple]:
    return query(path, "SELECT name, applied_at FROM schema_migrations ORDER BY rowid")


def test_envelopes_round_trip_exactly(journal: Journal) -> None:
    message = chat(
        "hello",
        to=("bob", "carol"),
        kind="event",
        event="agent_restarted",
        data={"restarts": 2, "nested": {"pids": [1, 2]}, "note": None},
        topology={"kind": "filtered"},
        in_reply_to="abc",
    )

    seq = journal.append(message)

    [(stored_seq, stored)] = journal.history("room")
    assert (stored_seq, stored) == (seq, message)
    assert stored.recipients == ("bob", "carol")
    assert stored.created_at.tzinfo is UTC


def test_created_at_is_stored_in_utc(journal: Journal) -> None:
    paris = datetime(2025, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    journal.append(chat("hi", created_at=paris))

    [(_, stored)] = journal.history("room")
    assert stored.created_at == paris
    assert stored.created_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert stored.created_at.tzinfo is UTC


def test_append_is_idempotent_by_id(journal: Journal) -> None:
    first, second = chat("one"), chat("two")

    seq = journal.append(first)
    assert journal.append(first) == seq
    assert journal.append(first.model_copy(update={"content": "changed"})) == seq
    seqs = journal.append_many([second, first, second])

    assert seqs == [seqs[0], seq, seqs[0]]
    assert [m.content for _, m in journal.history("room")] == ["one", "two"]
    assert journal.append(chat("three")) == seqs[0] + 1  # repeats leave no gap in seq


def test_history_pages_by_seq(journal: Journal) -> None:
    seqs = journal.append_many([chat(f"m{i}") for i in range(5)])
    journal.append(Envelope(conversation="other", sender="bob", content="elsewhere"))

    assert [s for s, _ in journal.history("room")] == seqs
    assert [m.content for _, m in journal.history("room", limit=2)] == ["m0", "m1"]
    page = journal.history("room", after_seq=seqs[1], limit=2)
    assert [m.content for _, m in page] == ["m2", "m3"]
    assert journal.history("room", after_seq=seqs[-1]) == []
    assert journal.last_seq("room") == seqs[-1]
    assert journal.last_seq("nowhere") == 0
    assert journal.conversations() == ["room", "other"]


def test_view_holds_the_chat_an_agent_can_see(journal: Journal) -> None:
    journal.append_many(
        [
            chat("to everyone"),
            chat("to bob", to=("bob",)),
            chat("to carol", to=("carol",)),
            chat("to bob and carol", to=("bob", "carol")),
            chat("bob speaks", sender="bob", to=("alice",)),
            chat("bob restarted", sender="system", kind="event", event="agent_restarted"),
            Envelope(conversation="other", sender="alice", content="other room"),
        ]
    )

    seen = [m.content for m in journal.view("bob", "room")]

    assert seen == ["to everyone", "to bob", "to bob and carol", "bob speaks"]
    assert [m.content for m in journal.view("dave", "room")] == ["to everyone"]


def test_agents_are_saved_removed_and_listed_in_creation_order(journal: Journal) -> None:
    writer = AgentSpec(name="writer", provider="scripted", model="echo")
    critic = AgentSpec(name="critic", provider="scripted", model="echo")
    journal.save_agent(writer)
    journal.save_agent(critic)
    journal.append(chat("draft", sender="writer"))

    journal.save_agent(writer.model_copy(update={"system": "be brief"}))
    assert journal.agents() == [writer.model_copy(update={"system": "be brief"}), critic]

    journal.remove_agent("writer")
    assert journal.agents() == [critic]
    assert [m.content for m in journal.view("writer", "room")] == ["draft"]

    journal.save_agent(writer)
    assert journal.agents() == [critic, writer]


def test_reopening_applies_no_migration_twice(path: Path) -> None:
    Journal(path).close()
    first = applied(path)
    Journal(path).close()

    assert applied(path) == first
    assert [name for name, _ in first] == [name for name, _ in MIGRATIONS]


def test_a_new_migration_is_applied_on_reopen(path: Path, monkeypatch) -> None:
    with Journal(path) as journal:
        journal.append(chat("before"))
    before = applied(path)
    added = ("9999_test_notes", "CREATE TABLE notes (x TEXT); CREATE INDEX notes_x ON notes (x);")
    monkeypatch.setattr(journal_module, "MIGRATIONS", [*MIGRATIONS, added])

    with Journal(path) as journal:
        assert [m.content for _, m in journal.history("room")] == ["before"]

    assert applied(path)[:-1] == before
    assert applied(path)[-1][0] == "9999_test_notes"
    assert query(path, "SELECT count(*) FROM notes") == [(0,)]


def test_a_journal_written_when_messages_carried_a_version_opens_and_reads(
    path: Path, monkeypatch
) -> None:
    with monkeypatch.context() as old:
        old.setattr(journal_module, "MIGRATIONS", MIGRATIONS[:6])
        Journal(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO messages (id, conversation, sender, recipients, kind, content,"
            " created_at, data, topology, delivered_to, v) VALUES ('m1', 'dm:a', 'user', '[]',"
            " 'chat', 'old', '2026-01-01T00:00:00+00:00', '{}', '{}', '[]', 1)"
        )
        db.execute(
            "INSERT INTO agents VALUES ('a', ?, '2026-01-01T00:00:00+00:00', NULL)",
            ('{"v": 1, "name": "a", "provider": "scripted", "model": "echo"}',),
        )

    with Journal(path) as journal:
        assert [m.content for _, m in journal.history("dm:a")] == ["old"]
        assert [spec.name for spec in journal.agents()] == ["a"]
        journal.append(chat("new"))


def test_a_failing_migration_changes_nothing(path: Path, monkeypatch) -> None:
    Journal(path).close()
    before = applied(path)
    broken = ("9999_broken", "CREATE TABLE notes (x TEXT); INSERT INTO missing VALUES (1);")
    monkeypatch.setattr(journal_module, "MIGRATIONS", [*MIGRATIONS, broken])

    with pytest.raises(sqlite3.OperationalError, match="missing"):
        Journal(path)

    assert applied(path) == before
    assert query(path, "SELECT name FROM sqlite_master WHERE name = 'notes'") == []


def test_wal_mode_is_on(journal: Journal, path: Path) -> None:
    assert query(path, "PRAGMA journal_mode") == [("wal",)]


def test_a_garbage_file_is_reported_and_left_untouched(path: Path) -> None:
    path.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)

    with pytest.raises(JournalError) as caught:
        Journal(path)

    assert "corrupt or not a SQLite database" in caught.value.message
    assert str(path) in caught.value.message
    assert "move it aside" in caught.value.hint
    assert caught.value.hint in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.iterdir()) == ["journal.db"]


def test_a_locked_journal_is_reported(journal: Journal, path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with Journal(path, busy_timeout=0.1) as second, pytest.raises(JournalError) as caught:
            second.append(chat("blocked"))
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert "is locked by another process" in caught.value.message
    assert journal.history("room") == []


def test_a_directory_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")

    with pytest.raises(JournalError) as caught:
        Journal(tmp_path / "file" / "journal.db")

    assert "cannot create the journal's directory" in caught.value.message
    assert "ORCH_HOME" in caught.value.hint


def test_two_connections_share_one_order(path: Path) -> None:
    with Journal(path) as first, Journal(path) as second:
        a = first.append(chat("from first"))
        b = second.append(chat("from second"))
        assert [s for s, _ in first.history("room")] == [a, b]


def test_threads_may_share_a_journal(journal: Journal) -> None:
    def write(name: str) -> None:
        for i in range(50):
            journal.append(chat(f"{name}{i}", sender=name))

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({m.id for _, m in journal.history("room")}) == 200


CHILD = """
import sys
from pathlib import Path
from orchestration.journal import Journal
from orchestration.messages import Envelope

journal, n, i = Journal(Path(sys.argv[1])), int(sys.argv[2]), 0
while True:
    journal.append(Envelope(id=f"m{i}", conversation="room", sender="a", content=str(i)))
    i += 1
    if i == n:
        print("appended", n, flush=True)
"""


def test_every_append_survives_kill_9(path: Path) -> None:
    count = 300
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(count)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == f"appended {count}\n"
    finally:
        child.kill()  # SIGKILL, while it keeps appending
        child.wait()

    with Journal(path) as journal:
        stored = journal.history("room")
        ids = [m.id for _, m in stored]
        assert len(ids) >= count
        assert ids == [f"m{i}" for i in range(len(ids))]
        assert [m.content for _, m in stored[:count]] == [str(i) for i in range(count)]
        assert journal.append(stored[0][1]) == stored[0][0]
    assert query(path, "PRAGMA integrity_check") == [("ok",)]


def test_the_newest_messages_come_back_oldest_first(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        for index in range(5):
            journal.append(Envelope(conversation="c", sender="user", content=str(index)))

        newest = journal.history("c", limit=2, newest=True)

    assert [envelope.content for _, envelope in newest] == ["3", "4"]


def test_a_batch_is_cut_to_what_one_frame_can_carry_keeping_the_end_asked_for() -> None:
    messages = [chat(f"{index}" * 100) for index in range(10)]
    each = 100 + journal_module.ENVELOPE_OVERHEAD

    oldest = journal_module.within_bytes(messages, 3 * each, newest=False)
    newest = journal_module.within_bytes(messages, 3 * each, newest=True)

    assert oldest == messages[:3] and newest == messages[-3:]
    assert journal_module.within_bytes(messages, 10 * each, newest=False) == messages
    assert journal_module.within_bytes(messages[:1], 1, newest=True) == messages[:1], "one always"


def test_the_journal_file_is_created_private_to_its_owner(path: Path) -> None:
    with Journal(path) as opened:
        opened.append(chat("hello"))

    modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    assert modes["journal.db"] == 0o600
    assert modes.get("journal.db-wal", 0o600) == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
