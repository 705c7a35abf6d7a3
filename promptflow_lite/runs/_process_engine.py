"""The process engine: a batch run's lines spread over worker processes of this machine (``--engine processes``).

One process runs its lines on one core: an LLM-bound line costs ~3 ms of CPU (the openai SDK, the
line machinery, its journal record and spans), so at 64 lines in flight and 200 ms a call one
process cannot keep up with the network. This engine starts one worker per CPU
(:mod:`._process_worker`, a fresh interpreter each, started while nothing else runs), splits the
lines in flight among them and streams their results back. The driver keeps the run as with the
local engine: journal, resume, LLM cache file, traces (the workers relay theirs, as Ray workers
do), progress and aggregation. A worker that dies loses only its lines in flight: they go back to
the queue (:class:`~._ray_engine.WorkQueue`) and a new worker takes its place.

It is not the default: on 2 cores with the LLM at 200 ms it ends a 1,000- or 10,000-line run no sooner
than the local engine (its workers' start-up, ~0.6 s, eats what its lines gain), with twice the memory;
it wins where lines are CPU-bound (a fast endpoint, heavy Python nodes) and on more cores.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Iterable

from promptflow_lite.errors import PflError, UserError
from promptflow_lite.runs._engine import FlowRecipe, LineTask, OnResult, deliver_results, resolve_concurrency
from promptflow_lite.runs._process_worker import DRIVER_NODE, receive, send
from promptflow_lite.runs._ray_engine import MAX_REPLACEMENTS, WorkQueue, _settings

class WorkerProcessFailed(PflError):
    """Worker processes kept dying, or one could not load the flow."""


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ProcessEngine:
    """Lines run in ``workers`` processes (default: one per CPU), ``max_concurrency`` in flight in all."""

    def __init__(self, workers: int | None = None, max_concurrency: int | None = None):
        if os.name != "posix":
            raise UserError("The process engine runs on Linux and macOS only (it hands its workers a socket).",
                            hint="use --engine local (the default here).")
        self.max_concurrency = resolve_concurrency(max_concurrency)
        self.workers = max(1, min(workers or cpu_count(), self.max_concurrency))

    @classmethod
    def from_spec(cls, spec: Any) -> "ProcessEngine":
        return cls(None, spec.max_concurrency)

    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None, recipe: FlowRecipe | None = None,
                      log: Callable[[str], None] | None = None) -> None:
        if recipe is None:
            raise UserError("The process engine needs the flow's recipe (how to load it) to load it in its workers.")
        log = log or (lambda message: None)
        began = time.perf_counter()
        settings = _settings(recipe, line_timeout, DRIVER_NODE)
        shares = [len(share) for share in _split(range(self.max_concurrency), self.workers)]
        slots = [WorkerSlot(settings, recipe.source, index, share) for index, share in enumerate(shares)]
        try:
            await asyncio.gather(*(slot.start() for slot in slots))
            log(f"Process engine: {self.workers} workers (pids {', '.join(str(s.process.pid) for s in slots)}), "
                f"{'/'.join(map(str, shares))} lines in flight; ready in {time.perf_counter() - began:.1f} s.")
            queue = WorkQueue(tasks)
            await asyncio.gather(*(slot.drive(queue, on_result, log) for slot in slots))
        finally:
            await asyncio.gather(*(slot.stop() for slot in slots), return_exceptions=True)


class WorkerSlot:
    """One worker place: its current process, kept busy with up to ``share`` lines, replaced when it dies."""

    def __init__(self, settings: Any, source: str, index: int, share: int):
        self.settings, self.source, self.index, self.share = settings, source, index, share
        self.process: subprocess.Popen | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.replacements = 0

    async def start(self) -> None:
        """Start a worker process and wait until it has loaded the flow."""
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promptflow_lite.runs._process_worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        self.reader, self.writer = await asyncio.open_connection(sock=ours)
        send(self.writer, ("start", self.settings, self.source, self.share))
        reply = await receive(self.reader)
        if reply is None:
            code = await asyncio.get_running_loop().run_in_executor(None, self.process.wait)
            raise WorkerProcessFailed(f"A worker process of the run exited ({code}) before it loaded the flow.",
                                      hint="run again with --engine local to see the error in this process.")
        if reply[0] == "failed":
            if isinstance(reply[1], BaseException):
                raise reply[1]
            raise WorkerProcessFailed(f"A worker process could not load the flow: {reply[1]}",
                                      hint="run again with --engine local to see the error in this process.")

    async def drive(self, queue: WorkQueue, on_result: OnResult, log: Callable[[str], None]) -> None:
        """Hand the worker lines as it has room and pass its results on, until the queue is done."""
        parent = self.settings.parent
        outstanding: dict[int, LineTask] = {}
        while True:
            room = 2 * self.share - len(outstanding)  # the lines it runs, and as many waiting there for a place
            chunk = queue.take(room) if room > 0 else []
            if chunk:
                outstanding.update((task.line_number, task) for task in chunk)
                send(self.writer, ("lines", [(t.line_number, t.inputs, t.attributes) for t in chunk]))
            if not outstanding:
                if queue.done:
                    return
                await queue.changed()
                continue
            message = await receive(self.reader)
            if message is None:
                code = await asyncio.get_running_loop().run_in_executor(None, self.process.wait)
                lost, outstanding = list(outstanding.values()), {}
                for failed in queue.give_back(lost, reason=f"exit code {code}"):
                    on_result(failed)
                log(f"Worker process {self.index} died (exit code {code}); {len(lost)} lines in flight go back "
                    "to the queue.")
                await self._replace()
                continue
            _, lines, loose = message
            deliver_results(lines, loose, parent, on_result, lambda n: (outstanding.pop(n, None), queue.finished(1)))

    async def _replace(self) -> None:
        self.replacements += 1
        if self.replacements > MAX_REPLACEMENTS:
            raise WorkerProcessFailed(
                f"Worker processes kept dying: worker {self.index} was replaced {MAX_REPLACEMENTS} times.",
                hint="the finished lines are kept; `pfl run resume` the run, with --engine local to see why.")
        await self.stop()
        await self.start()

    async def stop(self) -> None:
        """Ask the worker to stop (it cancels what still runs), then make sure it has ended."""
        process, writer = self.process, self.writer
        if process is None:
            return
        self.process = self.writer = self.reader = None
        if writer is not None:
            try:
                send(writer, ("stop",))
                await asyncio.wait_for(writer.drain(), 5)
                writer.close()
            except (OSError, asyncio.TimeoutError):
                pass
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, process.wait), 10)
        except asyncio.TimeoutError:
            process.kill()
            await loop.run_in_executor(None, process.wait)


def _split(items: Any, parts: int) -> list[Any]:
    size, extra = divmod(len(items), parts)
    bounds = list(itertools.accumulate([0] + [size + (i < extra) for i in range(parts)]))
    return [items[bounds[i]:bounds[i + 1]] for i in range(parts)]
