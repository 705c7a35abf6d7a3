"""A local cache of LLM responses, so re-running a batch does not pay for the same answers twice.

The key is a sha256 of canonical JSON of everything that shapes an answer: provider, endpoint
URL, API version, api, the full request (model, messages/prompt, all options) and the repeat
index (``--repeats`` asks for several independent answers to the same request). Values are
the response JSON, with how long the request took (so a replayed answer can say how long it would
have taken live). Only successful non-stream responses are stored. The cache is off unless a
caller enables it for the current context (``with use_cache(LLMCache()): ...``); batch runs do.
Storage: SQLite at ``PFL_HOME/cache/llm.sqlite``, opened as every store is (:mod:`promptflow_lite._sqlite`:
WAL, busy timeout, the numbered ``MIGRATIONS``), safe for several processes. New
responses are written ``FLUSH_EVERY`` at a time in one transaction (and at ``close``): a commit per
response cost ~0.3 ms of blocking I/O on the batch's event loop; a killed process loses at most
that many cached answers, never a result.
Identical requests in flight at once in one event loop are sent once: the others wait for the first
and take its answer from the cache (:meth:`LLMCache.claim`), so a batch with repeated inputs pays for
each distinct request once whatever its concurrency.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite._sqlite import Migration, connect

MIGRATIONS = [
    Migration("create the responses table", """
    CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY,
        api TEXT NOT NULL,
        model TEXT NOT NULL,
        response TEXT NOT NULL,
        created REAL NOT NULL
    )
    """),
]


_SECONDS = "_pfl_seconds"  # kept inside the stored JSON: old caches read on, no schema change


def default_cache_path() -> Path:
    from promptflow_lite.home import pfl_home

    return pfl_home() / "cache" / "llm.sqlite"


FLUSH_EVERY = 64  # new responses written per transaction


class LLMCache:
    """Response cache in one SQLite file; one connection shared by threads behind a lock."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[str, str, str, float]] = {}  # key -> (api, model, response, created)
        self._flights: dict[tuple[int, str], Any] = {}  # (event loop, key) → future of the request in flight
        self.unusable: str | None = None  # why the file cannot be read or written (a full disk...): calls go on uncached

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = connect(self.path, MIGRATIONS, synchronous="NORMAL", check_same_thread=False)
        return self._db

    def get(self, key: str) -> dict | None:
        """The stored response for ``key``, or None."""
        found = self.lookup(key)
        return None if found is None else found[0]

    def lookup(self, key: str) -> tuple[dict, float | None] | None:
        """The stored response for ``key`` and the seconds its request took (None: not recorded), or None."""
        with self._lock:
            pending = self._pending.get(key)
            row = (pending[2],) if pending else None
            if row is None and not self.unusable:
                try:
                    row = self._connect().execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
                except (OSError, sqlite3.Error) as exc:
                    self._give_up(exc)
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        response = json.loads(row[0])
        seconds = response.pop(_SECONDS, None) if isinstance(response, dict) else None
        return response, seconds

    def put(self, key: str, response: dict, *, api: str = "", model: str = "", seconds: float | None = None) -> None:
        """Store ``response`` (a JSON-able dict) under ``key``; an existing entry is replaced.

        ``seconds``: how long the request took, replayed with the answer.
        """
        stored = {**response, _SECONDS: round(seconds, 4)} if seconds is not None else response
        text = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._pending[key] = (api, model, text, time.time())
            if len(self._pending) >= FLUSH_EVERY:
                self._flush()

    def flush(self) -> None:
        """Write the responses not written yet."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:  # the lock is held
        if not self._pending or self.unusable:
            self._pending.clear()
            return
        try:
            db = self._connect()
            with db:  # one transaction
                db.execute("BEGIN")
                db.executemany("INSERT OR REPLACE INTO responses (key, api, model, response, created) "
                               "VALUES (?, ?, ?, ?, ?)", [(key, *row) for key, row in self._pending.items()])
        except (OSError, sqlite3.Error) as exc:
            self._give_up(exc)
        self._pending.clear()

    def _give_up(self, exc: BaseException) -> None:
        """The cache is only a saving: when its file fails, go on without it (``unusable`` says why)."""
        self.unusable = self.unusable or f"The LLM cache {self.path} cannot be used ({exc}); LLM calls went on without it."

    async def claim(self, key: str) -> bool:
        """True: no identical request is in flight in this event loop, the caller sends it and then calls
        :meth:`release`. False: one was, and it has ended (look ``key`` up again; claim again if it failed)."""
        import asyncio

        loop = asyncio.get_running_loop()
        flight = self._flights.get((id(loop), key))
        if flight is not None:
            await asyncio.shield(flight)  # a cancelled waiter leaves the sender alone
            return False
        self._flights[(id(loop), key)] = loop.create_future()
        return True

    def release(self, key: str) -> None:
        """The claimed request for ``key`` has ended (answer stored, or failed): its waiters go on."""
        import asyncio

        flight = self._flights.pop((id(asyncio.get_running_loop()), key), None)
        if flight is not None and not flight.done():
            flight.set_result(None)

    def stats(self) -> dict[str, Any]:
        """Entries, size and per-model counts of the file; hits/misses of this object."""
        with self._lock:
            self._flush()
            db = self._connect()
            entries, size = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(response)), 0) FROM responses").fetchone()
            by_model = db.execute("SELECT api, model, COUNT(*) FROM responses GROUP BY api, model "
                                  "ORDER BY COUNT(*) DESC").fetchall()
        return {"path": str(self.path), "entries": entries, "bytes": size,
                "by_model": [{"api": a, "model": m, "entries": n} for a, m, n in by_model],
                "hits": self.hits, "misses": self.misses}

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        with self._lock:
            self._pending.clear()
            db = self._connect()
            (count,) = db.execute("SELECT COUNT(*) FROM responses").fetchone()
            db.execute("DELETE FROM responses")
            db.execute("VACUUM")
        return count

    def close(self) -> None:
        with self._lock:
            self._flush()
            if self._db is not None:
                self._db.close()
                self._db = None


def cache_key(*, provider: str, endpoint: str, api_version: str | None, api: str, params: dict[str, Any],
              repeat: int = 0) -> str:
    """sha256 of the canonical JSON of everything that shapes the answer."""
    material = {"provider": provider, "endpoint": endpoint, "api_version": api_version, "api": api,
                "params": params, "repeat": repeat}
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_active: ContextVar[LLMCache | None] = ContextVar("pfl_llm_cache", default=None)
current_repeat: ContextVar[int] = ContextVar("pfl_llm_repeat", default=0)


def active_cache() -> LLMCache | None:
    """The cache enabled for the current context, if any."""
    return _active.get()


def set_cache(cache: LLMCache | None):
    """Enable (or with None disable) ``cache`` for the current context; returns a reset token."""
    return _active.set(cache)


@contextmanager
def use_cache(cache: LLMCache | None, repeat: int | None = None) -> Iterator[LLMCache | None]:
    """Within the block, LLM calls use ``cache`` (None: no cache), and ``repeat`` if given; the responses
    it cached are written when the block ends."""
    token = _active.set(cache)
    repeat_token = current_repeat.set(repeat) if repeat is not None else None
    try:
        yield cache
    finally:
        if cache is not None:
            cache.flush()
        if repeat_token is not None:
            current_repeat.reset(repeat_token)
        _active.reset(token)
