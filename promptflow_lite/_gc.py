"""Garbage-collector settings for work that allocates fast and keeps little: big imports and batch runs.

CPython collects its youngest generation every 700 new container objects. A batch line with an LLM
call allocates thousands of short-lived objects (the SDK's request and response, spans, results),
so with 64 lines in flight the collector runs a few times per line and each pass scans the objects
of every line in flight: ~10 % of a batch's CPU at 0 ms latency. :func:`batch_collection` raises that
threshold while a batch runs; :func:`collection_paused` keeps the collector out of an import whose
objects all live on (``import openai``: ~10 % of its 0.5 s). :func:`start_up` does both for a command's
start-up (imports, loading a flow), then moves what it made out of the collector's sight for good.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

BATCH_YOUNG_THRESHOLD = 25_000  # new container objects between two young collections while a batch runs
_lock = threading.Lock()
_batches = 0  # batches running in this process (threads may run several)
_saved: tuple[int, ...] | None = None  # the thresholds to restore when the last one ends


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


_own_process = False  # the process runs one command and ends (the ``pfl`` executable): see start_up


def own_process() -> None:
    """Declare this process one command's alone (the ``pfl`` executable): :func:`start_up` then freezes."""
    global _own_process
    _own_process = True


@contextmanager
def start_up() -> Iterator[None]:
    """A command's start-up: no collection within the block (its imports and the flow it loads live on).
    In a process of its own (:func:`own_process`) every object made so far is then frozen
    (:func:`gc.freeze`), so later collections - while the flow runs - never scan the modules again; the
    few garbage cycles the start-up left are never freed, which only a one-command process may accept."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _own_process:
            gc.freeze()
        if enabled:
            gc.enable()
