"""``orchestration journal backup PATH``: a consistent copy of the journal, taken while agents
talk, private to its owner; and the paths it refuses to write."""

from __future__ import annotations

import itertools
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from orchestration.journal import Journal
from orchestration.messages import Envelope
from orchestration.runtime import Runtime
from tests.e2e.conftest import Cli

AGENTS = ("alpha", "beta", "gamma")
TURN_WAIT = 30.0


class Chatter:
    """Turns with the agents, one after another round robin, in a background thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.turns = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._talk, daemon=True)

    def _talk(self) -> None:
        try:
            for n in itertools.count():
                if self._stop.is_set():
                    return
                list(self.runtime.send(AGENTS[n % len(AGENTS)], f"message {n}: " + "x" * 2000))
                with self._changed:
                    self.turns += 1
                    self._changed.notify_all()
        except BaseException as exc:
            with self._changed:
                self.error = exc
                self._changed.notify_all()

    def wait_turns(self, count: int) -> int:
        """Block until ``count`` turns have finished; the number finished."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: self.turns >= count or self.error is not None, TURN_WAIT
            )
            assert self.error is None, f"a turn failed: {self.error!r}"
            assert done, f"{count} turns did not finish within {TURN_WAIT:g} s"
            return self.turns

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TURN_WAIT)
        assert not self._thread.is_alive(), "the talking thread did not stop"
        assert self.error is None, f"a turn failed: {self.error!r}"


@contextmanager
def talking(runtime: Runtime) -> Iterator[Chatter]:
    chatter = Chatter(runtime)
    chatter.start()
    try:
        yield chatter
    finally:
        chatter.stop()


def query(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def journal_with(home: Path, count: int) -> Path:
    """A journal in ``home`` holding ``count`` messages, written as the daemon would."""
    with Journal(home / "journal.db") as journal:
        for n in range(count):
            journal.append(Envelope(conversation="dm:writer", sender="user", content=f"m{n}"))
        return journal.path


def test_a_backup_taken_while_agents_talk_holds_all_said_before_it(
    cli: Cli, runtime: Runtime, tmp_path: Path
) -> None:
    for name in AGENTS:
        runtime.spawn(name, provider="scripted")
    copy = tmp_path / "backups" / "journal.db"

    with talking(runtime) as chatter:
        chatter.wait_turns(2 * len(AGENTS))
        said = {message.id for name in AGENTS for message in runtime.history(name)}
        turns_before = chatter.turns
        done = cli("journal", "backup", str(copy), "--json")
        turns_after = chatter.turns

    assert done.code == 0, done
    assert turns_after > turns_before, "the agents went on talking while the backup ran"
    report = done.json()
    assert report["path"] == str(copy)
    assert report["bytes"] == copy.stat().st_size
    copied = {row[0] for row in query(copy, "SELECT id FROM messages")}
    assert said <= copied, f"{len(said - copied)} message(s) journaled before are missing"
    assert report["messages"] == len(copied)
    assert query(copy, "PRAGMA integrity_check") == [("ok",)]
    assert query(copy, "PRAGMA journal_mode") == [("delete",)], "one file, no -wal to carry"
    assert mode(copy) == 0o600
    assert mode(copy.parent) == 0o700


def test_backup_replaces_an_existing_file_only_with_force(cli: Cli, tmp_path: Path) -> None:
    journal_with(cli.home, 3)
    existing = tmp_path / "backups" / "copy.db"
    existing.parent.mkdir()
    existing.write_text("an older copy")
    existing.chmod(0o644)

    refused = cli("journal", "backup", str(existing))

    assert refused.code == 1, refused
    assert f"{existing} exists" in refused.stderr and "--force" in refused.stderr
    assert existing.read_text() == "an older copy"

    forced = cli("journal", "backup", str(existing), "--force")

    assert forced.code == 0, forced
    assert f"wrote {existing}" in forced.stdout and "3 message(s)" in forced.stdout
    assert query(existing, "SELECT count(*) FROM messages") == [(3,)]
    assert mode(existing) == 0o600
    assert [path.name for path in existing.parent.iterdir()] == ["copy.db"], "nothing else left"


def test_backup_refuses_the_journal_itself_and_a_directory(cli: Cli, tmp_path: Path) -> None:
    journal = journal_with(cli.home, 2)
    link = tmp_path / "link.db"
    link.symlink_to(journal)
    refusals = [
        (journal, "is the journal itself"),
        (journal.with_name("journal.db-wal"), "is the journal itself"),
        (link, "is the journal itself"),
        (tmp_path, "is a directory"),
    ]

    for target, says in refusals:
        result = cli("journal", "backup", str(target), "--force")

        assert result.code == 1, result
        assert says in result.stderr, result
        assert len(result.stderr_lines) == 2, "the problem, then its fix"

    assert query(journal, "SELECT count(*) FROM messages") == [(2,)]


def test_backup_without_a_journal_says_where_it_comes_from(cli: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"

    result = cli("journal", "backup", str(copy))

    assert result.code == 1, result
    assert "there is no journal at" in result.stderr and "orchestration up" in result.stderr
    assert not copy.exists()
