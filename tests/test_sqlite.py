"""The SQLite layer every store uses: WAL, busy timeout, retries on "locked", numbered migrations."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from promptflow_lite._sqlite import Migration, connect, retry_locked, transaction

V1 = [Migration("create notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);")]
V2 = V1 + [Migration("notes get a tag", "ALTER TABLE notes ADD COLUMN tag TEXT; CREATE INDEX notes_tag ON notes(tag)")]


def recorded(db) -> list[tuple]:
    return [(r["number"], r["name"], r["applied_at"] is not None) for r in db.execute("SELECT * FROM migrations")]


def test_a_new_file_gets_wal_and_every_migration_recorded(tmp_path):
    db = connect(tmp_path / "sub" / "store.sqlite", V1)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert recorded(db) == [(1, "create notes", True)]
    db.execute("INSERT INTO notes (text) VALUES ('kept')")
    db.close()


def test_a_later_release_applies_only_its_new_migrations(tmp_path):
    path = tmp_path / "store.sqlite"
    connect(path, V1).execute("INSERT INTO notes (text) VALUES ('from release 1')")
    db = connect(path, V2)
    assert recorded(db) == [(1, "create notes", True), (2, "notes get a tag", True)]
    assert [tuple(r) for r in db.execute("SELECT text, tag FROM notes")] == [("from release 1", None)]
    assert connect(path, V2).execute("PRAGMA user_version").fetchone()[0] == 2  # nothing re-applied


def test_a_file_versioned_only_by_user_version_is_adopted(tmp_path):
    """Files made before migrations were recorded carry just ``PRAGMA user_version``."""
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); PRAGMA user_version = 1;")
    old.close()
    db = connect(path, V2)
    assert recorded(db) == [(1, "create notes", False), (2, "notes get a tag", True)]


def test_processes_opening_a_file_at_once_apply_each_migration_once(tmp_path):
    path = tmp_path / "shared.sqlite"
    counted = V1 + [Migration("count", "INSERT INTO notes (text) VALUES ('migrated')")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: connect(path, counted).close(), range(8)))
    db = connect(path, counted)
    assert db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 1


def test_locked_is_retried_where_the_busy_timeout_does_not_wait():
    """SQLite answers "database is locked" at once in some cases (changing the journal mode, a lock
    upgrade that would deadlock): those are retried; any other error is raised at once."""
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert retry_locked(flaky) == "done" and len(attempts) == 3
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(lambda: attempts.append(1) or (_ for _ in ()).throw(sqlite3.OperationalError("no such table")))
    assert len(attempts) == 4


def test_a_failed_transaction_leaves_nothing(tmp_path):
    db = connect(tmp_path / "store.sqlite", V1)
    try:
        with transaction(db):
            db.execute("INSERT INTO notes (text) VALUES ('half')")
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0
