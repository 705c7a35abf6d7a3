"""Garbage-collector settings for work that allocates fast and keeps little: big imports and batch runs.

CPython collects its youngest generation every 700 new container objects. A batch line with an LLM
call allocates thousands of short-lived objects (the SDK's request and response, spans, results),
so with 64 lines in flight the collector runs a few times per line and each pass scans the objects
of every line in flight: ~10 % of a batch's CPU at 0 ms latency. :func:`batch_collection` raises that
threshold while a batch runs; :func:`collection_paused` keeps the collector out of an import whose
objects all live on (``import openai``: ~10 % of its 0.5 s); :func:`no_collection_at_exit` spares a
command's exit the interpreter's last full collections.
"""

from __future__ import annotations

import atexit
import gc
import threading
from contextlib import contextmanager
from typing import Iterator

BATCH_YOUNG_THRESHOLD = 25_000  # new container objects between two young collections while a batch runs
_lock = threading.Lock()
_batches = 0  # batches running in this process (threads may run several)
_saved: tuple[int, ...] | None = None  # the thresholds to restore when the last one ends
_exit_registered = False


@contextmanager
def batch_collection() -> Iterator[None]:
    """Within the block, young collections every :data:`BATCH_YOUNG_THRESHOLD` allocations (never fewer
    than the process asked for); the earlier thresholds come back when the last running batch ends.
    Garbage in reference cycles waits a little longer (at most that many objects); nothing else changes."""
    global _batches, _saved
    with _lock:
        if _batches == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(_saved[0], BATCH_YOUNG_THRESHOLD), *_saved[1:])
        _batches += 1
    try:
        yield
    finally:
        with _lock:
            _batches -= 1
            if _batches == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic collection within the block (for imports, whose objects all live on); the
    collector's earlier state comes back after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def no_collection_at_exit() -> None:
    """When the process exits, move every object to the permanent generation first, so that the full
    collections the interpreter runs while it shuts down have nothing to scan: after a batch run with the
    openai SDK loaded they took ~0.2 s. Objects are still freed as their modules are cleared; garbage in
    reference cycles is left to the process's end, its finalizers unrun (pfl closes its files and databases
    itself). Idempotent."""
    global _exit_registered
    with _lock:
        if not _exit_registered:
            atexit.register(gc.freeze)  # registered early, so it runs after the atexit work of what follows
            _exit_registered = True
