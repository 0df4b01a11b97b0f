"""SQLite storage: connections, numbered migrations and transactions.

One process owns the database file. Writes go through a single connection behind a lock and run
in `BEGIN IMMEDIATE` transactions, so a check-then-insert (conflict detection, "create if
missing") is atomic even with many concurrent publishers. Reads use a small pool of connections
of their own; WAL mode lets them run while a write is in progress.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Each entry is one migration; the database's `PRAGMA user_version` is the number applied so far.
# Never edit an entry once released: append a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: the domain model of the Pact Broker.
    """
    CREATE TABLE pacticipants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        display_name TEXT,
        main_branch TEXT,
        repository_url TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- A version's id is its order: the real broker orders versions by creation too.
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        pacticipant_id INTEGER NOT NULL REFERENCES pacticipants (id),
        number TEXT NOT NULL,
        build_url TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (pacticipant_id, number)
    );
    -- head_version_id is kept on write so that "latest of a branch" is a join, not an aggregate.
    CREATE TABLE branches (
        id INTEGER PRIMARY KEY,
        pacticipant_id INTEGER NOT NULL REFERENCES pacticipants (id),
        name TEXT NOT NULL,
        head_version_id INTEGER REFERENCES versions (id),
        created_at TEXT NOT NULL,
        UNIQUE (pacticipant_id, name)
    );
    CREATE INDEX branches_by_head ON branches (head_version_id);
    CREATE TABLE branch_versions (
        branch_id INTEGER NOT NULL REFERENCES branches (id),
        version_id INTEGER NOT NULL REFERENCES versions (id),
        created_at TEXT NOT NULL,
        PRIMARY KEY (branch_id, version_id)
    ) WITHOUT ROWID;
    CREATE INDEX branch_versions_by_version ON branch_versions (version_id);
    CREATE TABLE tags (
        version_id INTEGER NOT NULL REFERENCES versions (id),
        name TEXT NOT NULL,
        pacticipant_id INTEGER NOT NULL REFERENCES pacticipants (id),
        created_at TEXT NOT NULL,
        PRIMARY KEY (version_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_pacticipant_and_name ON tags (pacticipant_id, name, version_id);
    -- One row per distinct pact content (sha) of an integration.
    CREATE TABLE pact_versions (
        id INTEGER PRIMARY KEY,
        consumer_id INTEGER NOT NULL REFERENCES pacticipants (id),
        provider_id INTEGER NOT NULL REFERENCES pacticipants (id),
        sha TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (consumer_id, provider_id, sha)
    );
    -- One pact per consumer version and provider: a different content is refused, never a revision.
    CREATE TABLE pact_publications (
        id INTEGER PRIMARY KEY,
        consumer_id INTEGER NOT NULL REFERENCES pacticipants (id),
        provider_id INTEGER NOT NULL REFERENCES pacticipants (id),
        consumer_version_id INTEGER NOT NULL REFERENCES versions (id),
        pact_version_id INTEGER NOT NULL REFERENCES pact_versions (id),
        created_at TEXT NOT NULL,
        UNIQUE (consumer_version_id, provider_id)
    );
    CREATE INDEX pact_publications_by_provider
        ON pact_publications (provider_id, consumer_id, consumer_version_id);
    CREATE INDEX pact_publications_by_pact_version ON pact_publications (pact_version_id);
    CREATE TABLE verifications (
        id INTEGER PRIMARY KEY,
        pact_version_id INTEGER NOT NULL REFERENCES pact_versions (id),
        consumer_id INTEGER NOT NULL REFERENCES pacticipants (id),
        provider_id INTEGER NOT NULL REFERENCES pacticipants (id),
        provider_version_id INTEGER NOT NULL REFERENCES versions (id),
        success INTEGER NOT NULL,
        wip INTEGER NOT NULL DEFAULT 0,
        build_url TEXT,
        verified_by TEXT,
        test_results TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX verifications_by_pact_version
        ON verifications (pact_version_id, success, provider_version_id);
    CREATE INDEX verifications_by_provider_version ON verifications (provider_version_id);
    CREATE TABLE environments (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL UNIQUE,
        display_name TEXT,
        production INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE deployed_versions (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        version_id INTEGER NOT NULL REFERENCES versions (id),
        pacticipant_id INTEGER NOT NULL REFERENCES pacticipants (id),
        environment_id INTEGER NOT NULL REFERENCES environments (id),
        application_instance TEXT,
        created_at TEXT NOT NULL,
        undeployed_at TEXT
    );
    CREATE INDEX deployed_versions_current
        ON deployed_versions (environment_id, pacticipant_id) WHERE undeployed_at IS NULL;
    CREATE INDEX deployed_versions_by_version ON deployed_versions (version_id);
    CREATE TABLE released_versions (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        version_id INTEGER NOT NULL REFERENCES versions (id),
        pacticipant_id INTEGER NOT NULL REFERENCES pacticipants (id),
        environment_id INTEGER NOT NULL REFERENCES environments (id),
        created_at TEXT NOT NULL,
        support_ended_at TEXT,
        UNIQUE (version_id, environment_id)
    );
    CREATE INDEX released_versions_by_environment ON released_versions (environment_id);
    """,
    # 2: the environments a new real broker has (the Rust CLI's help relies on them).
    """
    INSERT INTO environments (uuid, name, display_name, production, created_at, updated_at)
    VALUES ('00000000-0000-4000-8000-000000000001', 'test', 'Test', 0, :now, :now),
           ('00000000-0000-4000-8000-000000000002', 'production', 'Production', 1, :now, :now);
    """,
    # 3: webhooks, each triggering of one, and each attempt to deliver it (broker/webhooks.py).
    # Parties are kept by name: a webhook may name a pacticipant that is later deleted.
    """
    CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        description TEXT,
        consumer_name TEXT,
        provider_name TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        events TEXT NOT NULL,
        request TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE triggered_webhooks (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        webhook_uuid TEXT NOT NULL,
        event_name TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        status TEXT NOT NULL,
        parameters TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX triggered_webhooks_by_webhook ON triggered_webhooks (webhook_uuid, id);
    CREATE INDEX triggered_webhooks_by_status ON triggered_webhooks (status);
    CREATE TABLE webhook_executions (
        id INTEGER PRIMARY KEY,
        triggered_webhook_id INTEGER NOT NULL REFERENCES triggered_webhooks (id) ON DELETE CASCADE,
        success INTEGER NOT NULL,
        request TEXT NOT NULL,
        response TEXT,
        error TEXT,
        logs TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX webhook_executions_by_trigger ON webhook_executions (triggered_webhook_id, id);
    """,
)

READ_POOL_SIZE = 8
BUSY_TIMEOUT_MS = 10_000


def now() -> str:
    """Now, as stored and served: ISO 8601 in UTC with microseconds, so order is exact."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode (isolation_level=None): every transaction is an explicit BEGIN in this module.
    # check_same_thread=False because a connection is used by one thread at a time but not always
    # the same one (the pools hand them to the server's worker threads).
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys = ON")
    # NORMAL in WAL mode survives a killed process (what issue 6 tests); only an OS crash or a
    # power cut can lose the last commits, the trade-off the real broker's own SQLite setup makes.
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def migrate(connection: sqlite3.Connection) -> int:
    """Apply the migrations the database lacks, each in its own transaction; return the version."""
    connection.execute("PRAGMA journal_mode = WAL")
    applied: int = connection.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[applied:], start=applied + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                connection.execute(statement, {"now": now()} if ":now" in statement else {})
            connection.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3 runs one per execute call with parameters)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [statement for statement in statements if statement]


class Database:
    """The broker's SQLite file: one writer behind a lock, a pool of readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = _connect(path)
        migrate(self._writer)
        self._write_lock = threading.Lock()
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_lock:
            self._check_open()
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for every query in the block."""
        connection = self._take_reader()
        try:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")
        finally:
            self._readers.put(connection)

    def _take_reader(self) -> sqlite3.Connection:
        self._check_open()
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            pass
        with self._readers_lock:
            if len(self._all_readers) < READ_POOL_SIZE:
                connection = _connect(self.path)
                self._all_readers.append(connection)
                return connection
        return self._readers.get(timeout=BUSY_TIMEOUT_MS / 1000)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the database is closed")

    def close(self) -> None:
        """Close every connection; a checkpoint folds the WAL back into the main file."""
        with self._write_lock, self._readers_lock:
            if self._closed:
                return
            self._closed = True
            for connection in self._all_readers:
                connection.close()
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
