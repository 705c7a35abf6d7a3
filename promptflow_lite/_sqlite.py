"""The one way promptflow_lite opens SQLite: WAL, a busy timeout, retries on "database is locked", and
numbered migrations recorded in the database.

Each store (connections, run index, traces, LLM cache) declares its ``MIGRATIONS``, a list of
:class:`Migration` in order; migration *n* is the *n*-th of the list and never changes once
released (a schema change is a new migration at the end). :func:`connect` applies what a file
lacks in one ``BEGIN IMMEDIATE`` transaction, safe when several processes open it at once, and
records each in the ``migrations`` table (number, name, time) and in ``PRAGMA user_version``.
A file made before migrations were recorded keeps its ``user_version`` as the count applied.
``sqlite3`` itself loads when a database is first opened (a served flow never needs it).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

if TYPE_CHECKING:
    import sqlite3

T = TypeVar("T")
BUSY_TIMEOUT_SECONDS = 30
_MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "applied_at TEXT)")
_HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"


@dataclass(frozen=True)
class Migration:
    """One schema step: SQL statements (``;``-separated) or a function of the connection."""

    name: str
    apply: str | Callable[[sqlite3.Connection], None]

    def run(self, db: sqlite3.Connection) -> None:
        if callable(self.apply):
            self.apply(db)
            return
        for statement in statements(self.apply):
            db.execute(statement)


def connect(path: str | Path, migrations: Sequence[Migration], *, synchronous: str | None = None,
            check_same_thread: bool = True) -> sqlite3.Connection:
    """Open the database at ``path`` (created with its folder if missing), in WAL mode with a busy
    timeout, rows as ``sqlite3.Row``, autocommit (``isolation_level=None``: transactions are
    explicit, see :func:`transaction`), and ``migrations`` applied. ``synchronous`` sets that pragma
    (``"NORMAL"``: faster commits, still consistent in WAL)."""
    import sqlite3

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                         check_same_thread=check_same_thread)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            retry_locked(lambda: db.execute("PRAGMA journal_mode = WAL"))  # SQLite does not wait here
        if synchronous:
            db.execute(f"PRAGMA synchronous = {synchronous}")
        migrate(db, migrations)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Apply the migrations ``db`` lacks and record those applied before they were recorded; returns
    how many it has now. Two cheap reads when there is nothing to do."""
    current = version(db)
    if current >= len(migrations) and db.execute(_HAS_TABLE).fetchone() is not None:
        return current
    with transaction(db):
        applied = version(db)  # another process may have migrated meanwhile
        db.execute(_MIGRATIONS_TABLE)
        recorded = {row[0] for row in db.execute("SELECT number FROM migrations")}
        for number in range(1, applied + 1):  # applied before they were recorded (user_version only)
            if number not in recorded and number <= len(migrations):
                db.execute("INSERT INTO migrations VALUES (?, ?, NULL)", (number, migrations[number - 1].name))
        for number, migration in enumerate(migrations[applied:], start=applied + 1):
            migration.run(db)
            db.execute("INSERT OR REPLACE INTO migrations VALUES (?, ?, ?)",
                       (number, migration.name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            db.execute(f"PRAGMA user_version = {number}")
    return max(applied, len(migrations))


def version(db: sqlite3.Connection) -> int:
    """How many migrations the database has."""
    return db.execute("PRAGMA user_version").fetchone()[0]


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (retried while another writer holds the lock), ``COMMIT`` or ``ROLLBACK``."""
    retry_locked(lambda: db.execute("BEGIN IMMEDIATE"))
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def retry_locked(action: Callable[[], T], attempts: int = 50) -> T:
    """Run ``action``; retry while another process holds a lock that the busy timeout does not cover
    (switching to WAL, or a lock upgrade that SQLite refuses at once to avoid a deadlock)."""
    import sqlite3

    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.01 * attempt)
    raise AssertionError("unreachable")


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, in order (a ``;`` inside quotes or a trigger body stays inside)."""
    import sqlite3

    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                yield pending.strip()
            pending = ""
