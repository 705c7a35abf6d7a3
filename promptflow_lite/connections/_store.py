"""The local connection store: ``PFL_HOME/connections.sqlite``, secrets encrypted at rest.

One row per connection: its YAML ``type``, ``configs`` as JSON and ``secrets`` as JSON whose
values are Fernet tokens (key file ``PFL_HOME/.encryption_key``). The database is opened as every
store is (:mod:`promptflow_lite._sqlite`) and every write is one short ``BEGIN IMMEDIATE``
transaction, so several processes can use it at once. Listing and showing never decrypt; only
``get(..., with_secrets=True)`` does.
"""

from __future__ import annotations

import json
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Iterator

from promptflow_lite.connections._errors import EncryptionKeyError, connection_not_found
from promptflow_lite._sqlite import Migration, connect, transaction
from promptflow_lite.connections._encryption import KeyMismatch, SecretCipher
from promptflow_lite.connections._types import (
    STRONG_TYPE_PREFIX, Connection, CustomStrongTypeConnection, build_connection)
from promptflow_lite.connections._values import SCRUBBED, fill_secrets, is_scrubbed, resolve_env_references
from promptflow_lite.errors import UserError

if TYPE_CHECKING:
    import sqlite3

DB_FILE = "connections.sqlite"
KEY_FILE = ".encryption_key"
MIGRATIONS = [
    Migration("create the connection table", """
    CREATE TABLE IF NOT EXISTS connection (
        name        TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        configs     TEXT NOT NULL,  -- JSON object
        secrets     TEXT NOT NULL,  -- JSON object: key -> Fernet token (or null)
        created_at  TEXT NOT NULL,
        modified_at TEXT NOT NULL
    )
    """),
]


class ConnectionStore:
    """Connections saved under ``home`` (default ``PFL_HOME``); also a connection provider."""

    def __init__(self, home: Path | None = None):
        if home is None:
            from promptflow_lite.home import pfl_home

            home = pfl_home()
        self.home = Path(home)
        self.path = self.home / DB_FILE
        self.cipher = SecretCipher(self.home / KEY_FILE)

    # public API ------------------------------------------------------------------------------
    def create_or_update(self, conn: Connection) -> Connection:
        """Save ``conn`` (secrets encrypted) and return it as stored, secrets masked.

        A scrubbed secret (empty, ``******``, ``<no-change>``) keeps the stored one; ``<user-input>``
        is an error here (only the CLI asks for it). ``${env:VAR}`` values are stored as written.
        """
        if not conn.name or not isinstance(conn.name, str):
            raise UserError("A connection needs a name to be stored.", hint="set `name:` in the connection.")
        configs = _configs_to_store(conn)
        with self._transaction() as db:
            row = db.execute("SELECT * FROM connection WHERE name = ?", (conn.name,)).fetchone()
            existing = None
            if row is not None and any(is_scrubbed(v) for v in conn.secrets.values()):
                existing = self._connection(row, with_secrets=True)
            filled = fill_secrets(conn, existing=existing)
            secrets = {k: (None if v is None else self.cipher.encrypt(str(v))) for k, v in filled.secrets.items()}
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            db.execute(
                "INSERT INTO connection (name, type, configs, secrets, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET type = excluded.type, "
                "configs = excluded.configs, secrets = excluded.secrets, modified_at = excluded.modified_at",
                (conn.name, conn.TYPE, json.dumps(configs), json.dumps(secrets), now, now))
            row = db.execute("SELECT * FROM connection WHERE name = ?", (conn.name,)).fetchone()
        return self._connection(row, with_secrets=False)

    def get(self, name: str, *, with_secrets: bool = True, resolve_env: bool = True) -> Connection:
        """The stored connection ``name``; raises ``ConnectionNotFound`` listing the known names.

        ``with_secrets=False`` masks secrets as ``******`` without decrypting them;
        ``resolve_env`` replaces ``${env:VAR}`` values by the environment's (as for execution).
        """
        row = None
        if self.path.exists():
            with self._connect() as db:
                row = db.execute("SELECT * FROM connection WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise connection_not_found(name, self.names(), f"the local store ({self.path})")
        conn = self._connection(row, with_secrets=with_secrets)
        return resolve_env_references(conn, secrets=with_secrets) if resolve_env else conn

    def list(self) -> list[Connection]:
        """All stored connections by name, secrets masked."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute("SELECT * FROM connection ORDER BY name").fetchall()
        return [self._connection(row, with_secrets=False) for row in rows]

    def names(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._connect() as db:
            return [r["name"] for r in db.execute("SELECT name FROM connection ORDER BY name")]

    def delete(self, name: str) -> None:
        """Remove ``name``; raises ``ConnectionNotFound`` if there is no such connection."""
        deleted = 0
        if self.path.exists():
            with self._transaction() as db:
                deleted = db.execute("DELETE FROM connection WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise connection_not_found(name, self.names(), f"the local store ({self.path})")

    # internals ---------------------------------------------------------------------------------
    def _connection(self, row: sqlite3.Row, *, with_secrets: bool) -> Connection:
        stored = json.loads(row["secrets"])
        if with_secrets:
            secrets = {k: self._decrypt(row["name"], k, v) for k, v in stored.items()}
        else:
            secrets = {k: (None if v is None else SCRUBBED) for k, v in stored.items()}
        try:
            return build_connection(row["type"], name=row["name"], configs=json.loads(row["configs"]), secrets=secrets)
        except ValueError as exc:
            raise UserError(f"Stored connection '{row['name']}': {exc}", file=str(self.path),
                            hint="upgrade promptflow_lite, or delete and re-create the connection.") from None

    def _decrypt(self, name: str, key: str, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self.cipher.decrypt(token)
        except KeyMismatch:
            raise EncryptionKeyError(
                f"Cannot decrypt secret '{key}' of connection '{name}': the encryption key "
                f"{self.cipher.key_file} is not the one it was stored with (the key file was changed or deleted).",
                hint=f"restore the original key file, or re-create the connection: "
                     f"`pfl connection delete -n {name} -y` then `pfl connection create -f <file>`.") from None

    def _connect(self) -> ContextManager[sqlite3.Connection]:
        """The database, opened (and migrated) for a ``with`` block that closes it."""
        return closing(connect(self.path, MIGRATIONS))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db, transaction(db):
            yield db


def _configs_to_store(conn: Connection) -> dict:
    """``conn.configs``; a strong-type instance also records its class so it converts back later."""
    configs = dict(conn.configs)
    if isinstance(conn, CustomStrongTypeConnection):
        configs.setdefault(STRONG_TYPE_PREFIX + "custom_type", type(conn).__name__)
        configs.setdefault(STRONG_TYPE_PREFIX + "module", type(conn).__module__)
    return configs
