"""The journal's schema, as an append-only list of named SQL migrations, and how to split one
into statements.

`Journal` applies the migrations a database has not recorded yet, in order, in one transaction;
`journal_tools` lists their names to check a journal's health.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

__all__ = ["MIGRATIONS", "statements"]

#: Append-only: add a new ``(name, sql)`` at the end; never edit or reorder an applied one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_messages",
        """
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL,
            conversation TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipients TEXT NOT NULL,
            kind TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at TEXT NOT NULL,
            in_reply_to TEXT,
            event TEXT,
            data TEXT NOT NULL,
            topology TEXT NOT NULL,
            v INTEGER NOT NULL
        );
        CREATE INDEX messages_conversation_seq ON messages (conversation, seq);
        """,
    ),
    (
        "0002_agents",
        """
        CREATE TABLE agents (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        """,
    ),
    (
        "0003_trees",
        """
        CREATE TABLE trees (
            name TEXT PRIMARY KEY,
            node TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        """,
    ),
    (
        "0004_deliveries",
        "ALTER TABLE messages ADD COLUMN delivered_to TEXT NOT NULL DEFAULT '[]';",
    ),
    (
        "0005_rooms",
        """
        CREATE TABLE rooms (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        """,
    ),
    (
        "0006_workflows",
        """
        CREATE TABLE workflows (
            name TEXT PRIMARY KEY,
            tree TEXT NOT NULL,
            spec TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    # Messages no longer carry a protocol version: the frames between processes do.
    ("0007_messages_without_version", "ALTER TABLE messages DROP COLUMN v;"),
]


def statements(script: str) -> Iterator[str]:
    """The statements of ``script``, one by one (``executescript`` would commit midway)."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                yield statement
            statement = ""
    if statement.strip(" \t\n;"):
        yield statement  # incomplete: let SQLite say what is wrong with it
