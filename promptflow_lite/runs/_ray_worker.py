"""A worker of the Ray engine: a process that loads the run's flow once, then runs chunks of its lines.

:mod:`.ray_engine` makes ``LineWorker`` a Ray actor (this module never imports Ray). The actor is
created with the flow package only (Ray keeps actor creation arguments in its control store);
``start`` - an ordinary call, whose arguments go straight to the worker's memory - brings the
connections the driver resolved, the environment variables and the other load settings, and loads
the flow exactly as the driver did. ``submit(chunk)`` starts lines on the actor's event loop with
the local engine's line runner (so outputs are the same as a local run's); ``collect()`` waits until
some have finished and returns their encoded results together with what they traced. Only plain
calls: they work through Ray Client too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptflow_lite.runs._engine import LineTask, run_task


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to load the flow and run lines like the driver would (sent with ``start``)."""

    variant: str | None = None
    connections: dict[str, Any] = field(default_factory=dict)  # resolved by the driver, by name
    environment_variables: dict[str, Any] | None = None
    connection_overrides: dict[str, str] | None = None
    init: dict[str, Any] | None = None
    line_timeout: float | None = None
    cache_path: str | None = None  # the driver's LLM cache; None: no cache
    repeat_index: int | None = None
    driver_node: str | None = None  # the Ray node of the driver: workers there share its cache file
    offline_rules: str | None = None  # the driver runs offline (pfl --scripted-llm RULES)
    trace: bool = False
    collection: str | None = None
    parent: tuple[int, int, bool] | None = None  # the driver's current span: trace id, span id, one of ours


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    host: str
    node: str
    seconds: float  # to load the flow
    cache: str | None  # the LLM cache file it uses


class LineWorker:
    """A Ray actor's state: the flow folder, then (after ``start``) the loaded flow."""

    def __init__(self, package: Any):
        from promptflow_lite.runs._flow_package import unpack_flow

        _remove_folders_of_dead_workers()
        folder = Path(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}_"))
        self._setup(unpack_flow(package, folder), folder)

    def _setup(self, source: str, folder: Path | None) -> None:
        """The worker's state before ``start``: the flow's source and the folder to remove at ``stop`` (if any)."""
        self.folder, self.source = folder, source
        self.flow: Any = None
        self.settings: WorkerSettings | None = None
        self.cache: Any = None
        self.relay: Any = None
        self.running: set[asyncio.Future] = set()
        self.finished: list[tuple] = []
        self.ready = asyncio.Event()
        self.batch = contextlib.ExitStack()

    async def start(self, settings: WorkerSettings) -> WorkerInfo:
        """Load the flow: connections from ``settings`` first, then this node's own."""
        import ray

        return self.load(settings, ray.get_runtime_context().get_node_id())

    def load(self, settings: WorkerSettings, node: str) -> WorkerInfo:
        """Load the flow as the driver did, on ``node`` (the driver's node shares its LLM cache file)."""
        from promptflow_lite._gc import batch_collection
        from promptflow_lite.connections._provider import ResolvedConnections
        from promptflow_lite.engine._connections import connection_provider
        from promptflow_lite.engine._load import load_flow
        from promptflow_lite.masking import register_connection, register_named

        started = time.perf_counter()
        self.settings = settings
        if settings.trace:
            from promptflow_lite.tracing._setup import start_relay

            self.relay = start_relay(settings.collection)
        self.cache = _cache(settings, node)
        if settings.offline_rules:  # pfl --scripted-llm: what the driver did not resolve stands in here too
            os.environ["PFL_SCRIPTED_LLM"] = settings.offline_rules
        for connection in settings.connections.values():
            register_connection(connection)  # masked in this worker's records and spans, as in the driver's
        register_named(settings.environment_variables or {})
        connections = ResolvedConnections(connection_provider(None), known=settings.connections)
        self.flow = load_flow(self.source, variant=settings.variant, connections=connections,
                              environment_variables=settings.environment_variables,
                              connection_overrides=settings.connection_overrides, init=settings.init)
        os.chdir(Path(getattr(self.flow, "run_dir", None) or self.flow.working_dir))  # as the driver runs lines
        self.batch.enter_context(batch_collection())  # the collector tuned for a batch's lines, as in the driver
        return WorkerInfo(os.getpid(), socket.gethostname(), node, time.perf_counter() - started,
                          str(self.cache.path) if self.cache is not None else None)

    async def submit(self, chunk: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> int:
        """Start the chunk's lines (``(line number, inputs, span attributes)``); returns how many run now."""
        for item in chunk:
            self._start(item)
        return len(self.running)

    def _start(self, item: tuple[int, dict[str, Any], dict[str, Any]]) -> None:
        line = asyncio.ensure_future(self._line(LineTask(*item)))
        self.running.add(line)
        line.add_done_callback(self._finish)

    async def collect(self) -> tuple[list[tuple], Any]:
        """Wait until lines have finished since the last call; returns them - each as its line record
        (``LineResult.to_json()``, whether that JSON is exact) and what it traced - and what was traced outside them (to replay first)."""
        await self.ready.wait()
        self.ready.clear()
        lines, self.finished = self.finished, []
        loose = self.relay.drain() if self.relay is not None else None
        return lines, tuple(loose) if loose is not None else None  # plain tuples: the driver needs no tracing module

    def _finish(self, line: asyncio.Future) -> None:
        self.running.discard(line)
        if not line.cancelled():
            self.finished.append(line.result())
            self.ready.set()

    async def _line(self, task: LineTask):
        from promptflow_lite.tools._llm_cache import current_repeat, set_cache

        settings = self.settings
        set_cache(self.cache)  # each line runs in its own task: these settings stay with it
        if settings.repeat_index is not None:
            current_repeat.set(settings.repeat_index)
        traced = self.relay.start_line() if self.relay is not None else None
        detach = _under_driver_span(settings)
        try:
            result = await run_task(self.flow, task, settings.line_timeout)
        except Exception as exc:  # noqa: BLE001 - a line the driver waits for must come back, failed if need be
            from promptflow_lite.engine._results import FAILED, LineResult
            from promptflow_lite.errors import error_dict

            result = LineResult(status=FAILED, inputs=dict(task.inputs), error=error_dict(exc),
                                line_number=task.line_number)
        finally:
            if detach is not None:
                detach()
        return result.to_json(), result.json_is_exact, tuple(traced) if traced is not None else None

    async def stop(self) -> None:
        """Cancel what still runs, close the cache and remove the flow folder (the engine then ends the actor)."""
        for line in list(self.running):
            line.cancel()
        self.batch.close()
        if self.cache is not None:
            self.cache.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


_FOLDER_PREFIX = "pfl_ray_"


def _remove_folders_of_dead_workers() -> None:
    """A killed worker cannot remove its flow folder: the next worker on the node does."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_FOLDER_PREFIX}*_*"):
        pid = folder.name[len(_FOLDER_PREFIX):].partition("_")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and os.path.isdir("/proc/self"):
            shutil.rmtree(folder, ignore_errors=True)


def _cache(settings: WorkerSettings, node: str) -> Any:
    """The driver's LLM cache file on the driver's node; elsewhere this node's own ``PFL_HOME`` cache."""
    if settings.cache_path is None:
        return None
    from promptflow_lite.tools._llm_cache import LLMCache

    return LLMCache(settings.cache_path if node == settings.driver_node else None)


def _under_driver_span(settings: WorkerSettings):
    """Make the driver's current span the parent of this line's span; returns the undo, if any."""
    if settings.parent is None or not settings.trace:
        return None
    trace_id, span_id, ours = settings.parent
    if ours:
        from promptflow_lite.tracing._context import current_holder
        from promptflow_lite.tracing._write.relay import DriverSpan

        token = current_holder.set(DriverSpan(trace_id, span_id, settings.collection))
        return lambda: current_holder.reset(token)
    from promptflow_lite.tracing._context import attach, detach, local_span_context

    token = attach(local_span_context(trace_id, span_id))  # another tracer's span: our line starts a root
    return lambda: detach(token)
