"""Keeping the trace store within a size or age cap: the oldest traces go first.

The caps are settings (``trace.max_size_mb``, ``trace.max_age_days``: :mod:`promptflow_lite.settings`),
off by default. The trace writer applies them (:class:`AutoPruner`: when it starts and then every
minute, one chunk of traces per batch it stores, so a run is never held up); ``pfl trace prune``
applies them, or caps given on its command line, at once. Never pruned: a trace of a run in progress
(one that traced a line in the last ``ACTIVE_SECONDS``), a trace started after the pruning began.
Deleted space goes back to the disk (incremental vacuum).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)
ACTIVE_SECONDS = 600.0
CHUNK = 2000  # traces per delete transaction: the store stays writable for others in between
VACUUM_PAGES = 2000  # pages given back to the disk per step of the writer's pruning
HEADROOM = 0.9  # over its size cap, a store is pruned down to this share of the cap
CHECK_SECONDS = 60.0
_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """A size cap in bytes and/or an age cap in seconds (None: no cap)."""

    max_bytes: int | None = None
    max_age_seconds: float | None = None

    def __bool__(self) -> bool:
        return self.max_bytes is not None or self.max_age_seconds is not None


def limits(max_size_mb: float | None = None, max_age_days: float | None = None) -> Limits:
    return Limits(int(max_size_mb * _MB) if max_size_mb else None, max_age_days * 86400.0 if max_age_days else None)


def configured_limits() -> Limits:
    """The caps the settings give (environment variables, then ``PFL_HOME/config.json``)."""
    from promptflow_lite.settings import get_setting

    return limits(get_setting("trace.max_size_mb"), get_setting("trace.max_age_days"))


@dataclass
class Plan:
    """What a pruning pass would delete: ``count`` traces, the newest of them started at ``until``."""

    count: int
    until: float | None
    used_bytes: int


class Pruner:
    """Deletes the traces over a store's caps, oldest first, a chunk at a time."""

    def __init__(self, store: Any, limits: Limits, *, started: float | None = None):
        self.store, self.limits = store, limits
        self.started = time.time() if started is None else started
        self.deleted = 0
        self._active: set[str] | None = None  # runs in progress, found once per pass
        self._size_pass = False

    def step(self) -> bool:
        """Delete one chunk of traces over the caps; False (and the pass is over) when there is none."""
        chunk = self._next_chunk(time.time())
        if not chunk:
            self._active, self._size_pass = None, False
            return False
        self.store.delete_trace_ids([row["trace_id"] for row in chunk])
        self.deleted += len(chunk)
        return True

    def run(self, *, full_vacuum: bool = False) -> int:
        """Prune until within the caps and give the space back (see ``TraceStore.reclaim``); returns how
        many traces were deleted."""
        before = self.deleted
        while self.step():
            pass
        if self.deleted > before:
            self.store.reclaim(full=full_vacuum)
        return self.deleted - before

    def plan(self) -> Plan:
        """What :meth:`run` would delete (a size cap's count estimated from the average trace size)."""
        now, used = time.time(), self.store.used_bytes()
        active = self._active_runs(now)
        count, cutoff = 0, self._age_cutoff(now)
        if cutoff is not None:
            count = self.store.count_older(cutoff, active)
        if self.limits.max_bytes is not None and used > self.limits.max_bytes:
            total = self.store.count_line_runs()
            excess = used - int(self.limits.max_bytes * HEADROOM)
            count = max(count, min(-(-excess * total // max(used, 1)), self.store.count_older(self.started, active)))
        newest = self.store.oldest_traces(self.started, active, 1, offset=count - 1) if count else []
        return Plan(count, newest[0]["start_time"] if newest else None, used)

    # -----------------------------------------------------------------------------------------
    def _next_chunk(self, now: float) -> list[dict[str, Any]]:
        cutoff = self._age_cutoff(now)
        if cutoff is not None and self.store.oldest_traces(cutoff, (), 1):
            chunk = self.store.oldest_traces(cutoff, self._active_runs(now), CHUNK)
            if chunk:
                return chunk
        excess = self._excess_bytes()
        if excess > 0:
            used, total = self.store.used_bytes(), self.store.count_line_runs()
            wanted = min(CHUNK, max(1, -(-excess * total // max(used, 1))))  # by the average size of a trace
            return self.store.oldest_traces(self.started, self._active_runs(now), wanted)
        return []

    def _excess_bytes(self) -> int:
        """How far the store is over its size cap; once over, down to ``HEADROOM`` of the cap."""
        if self.limits.max_bytes is None:
            return 0
        used = self.store.used_bytes()
        self._size_pass = used > self.limits.max_bytes * (HEADROOM if self._size_pass else 1.0)
        return used - int(self.limits.max_bytes * HEADROOM) if self._size_pass else 0

    def _age_cutoff(self, now: float) -> float | None:
        if self.limits.max_age_seconds is None:
            return None
        return min(now - self.limits.max_age_seconds, self.started)

    def _active_runs(self, now: float) -> set[str]:
        if self._active is None:
            self._active = self.store.runs_traced_since(now - ACTIVE_SECONDS)
        return self._active


class AutoPruner:
    """The writer's pruning: a pass when it starts and then every ``CHECK_SECONDS``; per stored batch
    (:meth:`after_write`) at most one chunk of deletions, then one step of giving the space back."""

    def __init__(self, store: Any, limits: Limits):
        self.pruner = Pruner(store, limits)
        self._next_check = 0.0
        self._state = "idle"  # or "deleting", "reclaiming"

    def after_write(self) -> None:
        now = time.monotonic()
        if self._state == "idle" and now < self._next_check:
            return
        try:
            if self._state != "reclaiming" and self.pruner.step():
                self._state = "deleting"
                return
            if self._state != "idle" and self.pruner.store.reclaim(pages=VACUUM_PAGES):
                self._state = "reclaiming"
                return
            if self._state != "idle":
                _log.info("Pruned %d traces from the trace store.", self.pruner.deleted)
        except Exception as exc:  # noqa: BLE001 - pruning must never stop tracing
            _log.warning("Could not prune the trace store (%s); trying again in a minute.", exc)
        self._state = "idle"
        self._next_check = now + CHECK_SECONDS
