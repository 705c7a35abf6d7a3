"""The run index: one SQLite row per run under ``PFL_HOME/runs.sqlite``, for list, search and control.

The run folder holds the results; the index holds what ``pfl run list/show`` needs without
opening folders (status, counts, tokens, times, properties) and the control flags another
process sets (``cancel_requested``). Several processes run and list at once (WAL, busy timeout:
:mod:`promptflow_lite._sqlite`); each call opens a short-lived connection. Schema changes are the
numbered ``MIGRATIONS``. Free text (errors, properties, descriptions) is masked before it is stored
(:func:`~promptflow_lite.masking.mask_secrets`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite._sqlite import Migration, connect, transaction
from promptflow_lite.masking import mask_secrets
from promptflow_lite.runs._errors import RunExistsError, RunStoreError

MIGRATIONS = [
    Migration("create the runs table", """
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
    """),
    Migration("run metrics, runs by base run, and the line index", """
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
    """),
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
        """The database, opened (and migrated) for a ``with`` block that closes it; an SQLite error
        (e.g. a full disk) is a :class:`RunIndexUnavailable`."""
        try:
            db = connect(self.path, MIGRATIONS)
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
        with self.connect() as db, transaction(db):
            for table, column in (("runs", "name"), ("run_lines", "run"), ("run_journals", "run")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))

    def claim(self, name: str) -> bool:
        """Mark ``name`` Running in this process unless a live process runs it already."""
        with self.connect() as db, transaction(db):
            row = db.execute("SELECT status, pid, host FROM runs WHERE name = ?", (name,)).fetchone()
            if row is None or (row["status"] in RUNNING_STATES and process_alive(row["pid"], row["host"])):
                return False
            db.execute("UPDATE runs SET status = 'Running', pid = ?, host = ?, cancel_requested = 0 "
                       "WHERE name = ?", (os.getpid(), socket.gethostname(), name))
            return True

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
