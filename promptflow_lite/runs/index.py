"""The run index: one SQLite row per run under ``PFL_HOME/runs.sqlite``, for list, search and control.

The run folder holds the results; the index holds what ``pfl run list/show`` needs without
opening folders (status, counts, tokens, times, properties) and the control flags another
process sets (``cancel_requested``). WAL mode and a busy timeout let several processes run
and list at once; each call opens a short-lived connection. Schema changes are numbered
migrations tracked by ``PRAGMA user_version``. Free text (errors, properties, descriptions) is
masked before it is stored (:func:`~promptflow_lite.masking.mask_secrets`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite.masking import mask_secrets
from promptflow_lite.runs.errors import RunExistsError, RunStoreError

MIGRATIONS = [
    """
    CREATE TABLE runs (
        name TEXT PRIMARY KEY,
        display_name TEXT,
        description TEXT,
        status TEXT NOT NULL,
        flow TEXT,
        flow_name TEXT,
        data TEXT,
        variant TEXT,
        run TEXT,
        created_on TEXT NOT NULL,
        started_on TEXT,
        ended_on TEXT,
        total_lines INTEGER NOT NULL DEFAULT 0,
        completed_lines INTEGER NOT NULL DEFAULT 0,
        failed_lines INTEGER NOT NULL DEFAULT 0,
        cached_lines INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        duration REAL,
        archived INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '{}',
        properties TEXT NOT NULL DEFAULT '{}',
        output_path TEXT,
        error TEXT,
        pid INTEGER,
        host TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_created_on ON runs (created_on);
    CREATE INDEX runs_flow ON runs (flow_name);
    """,
    # 2: metrics for the run list (NULL: not read yet, e.g. a run made before), evaluation runs by base
    # run, and the line index of :mod:`.lines` (byte offsets of journal entries, derived by readers)
    """
    ALTER TABLE runs ADD COLUMN metrics TEXT;
    CREATE INDEX runs_base ON runs (run);
    CREATE TABLE run_lines (
        run TEXT NOT NULL,
        line_number INTEGER NOT NULL,
        status TEXT NOT NULL,
        byte_offset INTEGER NOT NULL,
        byte_length INTEGER NOT NULL,
        PRIMARY KEY (run, line_number)
    ) WITHOUT ROWID;
    CREATE INDEX run_lines_status ON run_lines (run, status, line_number);
    CREATE TABLE run_journals (
        run TEXT PRIMARY KEY,
        inode INTEGER NOT NULL,
        indexed_bytes INTEGER NOT NULL,
        tail BLOB
    );
    """,
]

_JSON_COLUMNS = ("tags", "properties")
_NULLABLE_JSON = ("metrics", "error")
_MASKED_COLUMNS = ("display_name", "description", "tags", "properties", "error")  # free text (not names, paths)
RUNNING_STATES = ("Preparing", "Running")


class RunIndexUnavailable(RunStoreError, sqlite3.OperationalError):
    """The run index cannot be opened: a clear error for the user, a database error for code that tolerates one."""


class RunIndex:
    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 30000")
            try:
                db.execute("PRAGMA journal_mode = WAL")
                self._migrate(db)
            except sqlite3.OperationalError as exc:  # e.g. a full disk: no room for the write-ahead log
                raise self._unavailable("open", exc) from exc
            try:
                yield db
            except RunIndexUnavailable:
                raise
            except sqlite3.OperationalError as exc:  # e.g. a full disk mid-write: the same clear error
                raise self._unavailable("write", exc) from exc
        finally:
            db.close()

    def _unavailable(self, doing: str, exc: sqlite3.OperationalError) -> "RunIndexUnavailable":
        return RunIndexUnavailable(f"Cannot {doing} the run index ({exc}).", file=str(self.path),
                                   hint="free disk space (and check that PFL_HOME is writable).")

    def _migrate(self, db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version >= len(MIGRATIONS):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()  # another process may have migrated
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # writes ------------------------------------------------------------------------------
    def insert(self, row: dict[str, Any]) -> None:
        """Add a run; ``RunExistsError`` when the name is taken."""
        row = _encode(row)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.connect() as db:
            try:
                db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(row.values()))
            except sqlite3.IntegrityError:
                raise RunExistsError(f"A run named '{row['name']}' already exists.",
                                     hint="choose another --name, or delete the old run with "
                                          f"`pfl run delete {row['name']} -y`.") from None

    def update(self, name: str, **fields: Any) -> None:
        if not fields:
            return
        fields = _encode(fields)
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self.connect() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE name = ?", [*fields.values(), name])

    def delete(self, name: str) -> None:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for table, column in (("runs", "name"), ("run_lines", "run"), ("run_journals", "run")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            db.execute("COMMIT")

    def claim(self, name: str) -> bool:
        """Mark ``name`` Running in this process unless a live process runs it already."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT status, pid, host FROM runs WHERE name = ?", (name,)).fetchone()
                if row is None or (row["status"] in RUNNING_STATES and process_alive(row["pid"], row["host"])):
                    db.execute("ROLLBACK")
                    return False
                db.execute("UPDATE runs SET status = 'Running', pid = ?, host = ?, cancel_requested = 0 "
                           "WHERE name = ?", (os.getpid(), socket.gethostname(), name))
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def request_cancel(self, name: str) -> None:
        self.update(name, cancel_requested=1)

    def cancel_requested(self, name: str) -> bool:
        with self.connect() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0])

    # reads -------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return decode_row(row) if row is not None else None

    def list(self, *, flow: str | None = None, status: str | None = None, archived: bool | None = False,
             max_results: int | None = 50) -> list[dict[str, Any]]:
        """Newest first. ``archived``: False hides archived runs, True shows only them, None shows all."""
        where, params = [], []
        if flow:
            where.append("(flow_name = ? OR flow = ? OR flow LIKE ?)")
            params += [flow, flow, f"%{flow}%"]
        if archived is not None:
            where.append("archived = ?")
            params.append(int(archived))
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_on DESC"
        with self.connect() as db:
            rows = [decode_row(r) for r in db.execute(sql, params)]
        if status:  # on the effective status (a dead "Running" run is NotResponding)
            rows = [r for r in rows if r["status"].lower() == status.lower()]
        return rows[:max_results] if max_results else rows


def process_alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that claimed a run still runs (assumed yes for another host)."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped by its parent is a zombie: as good as dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(fields)
    for key in _JSON_COLUMNS:
        if key in encoded and not isinstance(encoded[key], str):
            encoded[key] = json.dumps(encoded[key] or {}, ensure_ascii=False, default=str)
    for key in _NULLABLE_JSON:
        if isinstance(encoded.get(key), dict):
            encoded[key] = json.dumps(encoded[key], ensure_ascii=False, default=str)
    for key in _MASKED_COLUMNS:
        if isinstance(encoded.get(key), str):
            encoded[key] = mask_secrets(encoded[key])
    return encoded


def decode_row(row: sqlite3.Row) -> dict[str, Any]:
    """An index row as a dict: JSON columns decoded, a dead ``Running`` run ``NotResponding``."""
    data = dict(row)
    for key in _JSON_COLUMNS:
        data[key] = json.loads(data[key] or "{}")
    for key in _NULLABLE_JSON:
        if data.get(key):
            try:
                data[key] = json.loads(data[key])
            except ValueError:
                pass
    if data["status"] in RUNNING_STATES and not process_alive(data.get("pid"), data.get("host")):
        data["status"] = "NotResponding"
    return data
