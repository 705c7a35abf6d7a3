"""The Ray engine: a batch run's lines spread over the workers of a Ray cluster (``--engine ray``).

The driver (the ``pfl`` process) keeps the run: the journal, resume, the LLM cache file, traces,
progress and aggregation, as with the local engine. It sends each worker (:mod:`.ray_worker`, one
Ray actor per CPU by default) the flow folder through Ray's object store and, in memory, the
connections it resolved; each worker loads the flow once and runs up to ``max_concurrency`` lines
at a time. Lines are handed out as workers have room (:class:`WorkQueue`: only lines in flight
ever leave the driver, so a million-line file never sits in the object store) and come back as
they finish, with their spans, into the driver's journal and trace store.

A worker that dies (its process killed, its node lost) loses only the lines it had in flight:
they go back to the queue and a new worker takes its place. A line in flight on
``MAX_LINE_ATTEMPTS`` dying workers fails instead, as does the run after ``MAX_REPLACEMENTS``
per worker. The driver dying takes its workers with it (Ray ends an owner's actors); the run is
then ``NotResponding`` and ``pfl run resume`` runs the lines the journal lacks.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from typing import Any, Callable, Iterable, Iterator

from promptflow_lite.engine._results import FAILED, LineResult
from promptflow_lite.errors import PflError, UserError
from promptflow_lite.runs._engine import FlowRecipe, LineTask, OnResult, deliver_results, resolve_concurrency
from promptflow_lite.runs._ray_worker import WorkerSettings

MAX_LINE_ATTEMPTS = 3  # dying workers a line may be in flight on before it fails
MAX_REPLACEMENTS = 3  # new workers per worker place before the run stops
START_TIMEOUT = float(os.environ.get("PFL_RAY_START_TIMEOUT", "300"))  # seconds for a worker to start


class RayWorkersLost(PflError):
    """The cluster lost more workers than the run can replace."""


class RayEngine:
    """Runs lines on ``actors`` Ray workers (default: one per CPU of the cluster) of the cluster at
    ``address`` (see :func:`.ray_cluster.resolve_address`), each with up to ``max_concurrency`` lines in flight."""

    def __init__(self, address: str | None = None, actors: int | None = None, max_concurrency: int | None = None):
        from promptflow_lite.runs._ray_cluster import check_installed, resolve_address

        check_installed()
        if actors is not None and actors < 1:
            raise UserError(f"--ray-actors must be at least 1, not {actors}.")
        self.address = resolve_address(address)
        self.actors = actors
        self.max_concurrency = resolve_concurrency(max_concurrency)

    @classmethod
    def from_spec(cls, spec: Any) -> "RayEngine":
        return cls(spec.ray_address, spec.ray_actors, spec.max_concurrency)

    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None, recipe: FlowRecipe | None = None,
                      log: Callable[[str], None] | None = None) -> None:
        from promptflow_lite.runs._flow_package import pack_flow
        from promptflow_lite.runs._ray_cluster import LOCAL, connect, connected

        if recipe is None:
            raise UserError("The Ray engine needs the flow's recipe (how to load it) to send it to the workers.")
        log = log or (lambda message: None)
        began = time.perf_counter()
        if not connected():
            log("Ray engine: starting a private Ray cluster on 127.0.0.1..." if self.address == LOCAL
                else f"Ray engine: joining the Ray cluster at {self.address}...")
        cluster = connect(self.address)  # in this thread: Ray sets signal handlers on the main thread
        count = self.actors or max(cluster.cpus, 1)
        if count > cluster.cpus:
            raise UserError(f"{count} Ray workers need {count} CPUs; the cluster has {cluster.cpus}.",
                            hint=f"pass --ray-actors {cluster.cpus} or fewer, or add nodes to the cluster.")
        package = pack_flow(flow, recipe.source)
        pool = WorkerPool(package, _settings(recipe, line_timeout, cluster.node), count)
        try:
            infos = await pool.start()
            log(f"Ray engine: {cluster.describe()}, {count} workers ({_where(infos)}), {package.files} flow files; "
                f"ready in {time.perf_counter() - began:.1f} s (cluster {cluster.seconds:.1f} s).")
            queue = WorkQueue(tasks)
            await asyncio.gather(*(self._drive(slot, queue, on_result, log) for slot in pool.slots))
        finally:
            await pool.stop()

    async def _drive(self, slot: "WorkerSlot", queue: "WorkQueue", on_result: OnResult, log) -> None:
        """Keep ``slot``'s worker busy with up to ``max_concurrency`` lines until the queue is done."""
        parent = slot.pool.settings.parent
        outstanding: dict[int, LineTask] = {}
        while True:
            room = self.max_concurrency - len(outstanding)
            chunk = queue.take(room) if room > 0 else []
            worker = slot.worker  # the slot's one driver: it alone replaces the worker
            try:
                if chunk:
                    outstanding.update((task.line_number, task) for task in chunk)
                    await worker.submit.remote([(t.line_number, t.inputs, t.attributes) for t in chunk])
                if not outstanding:
                    if queue.done:
                        return
                    await queue.changed()
                    continue
                lines, traces = await worker.collect.remote()
            except _actor_errors() as exc:
                lost, outstanding = list(outstanding.values()), {}
                for failed in queue.give_back(lost, reason=_death(exc)):
                    on_result(failed)
                log(f"Ray worker {slot.index} died ({_death(exc)}); {len(lost)} lines in flight go back to the queue.")
                await slot.replace()
                continue
            deliver_results(lines, traces, parent, on_result, lambda n: (outstanding.pop(n, None), queue.finished(1)))


class WorkQueue:
    """The lines not yet handed out: given back ones first, then the run's, pulled lazily.

    ``done`` once every line was handed out and came back; ``changed()`` waits for that or for
    lines given back.
    """

    def __init__(self, tasks: Iterable[LineTask]):
        self._source: Iterator[LineTask] | None = iter(tasks)
        self._again: collections.deque[LineTask] = collections.deque()
        self._attempts: collections.Counter[int] = collections.Counter()
        self._out = 0
        self._event = asyncio.Event()

    @property
    def done(self) -> bool:
        return self._source is None and not self._again and self._out == 0

    def take(self, count: int) -> list[LineTask]:
        chunk: list[LineTask] = []
        while self._again and len(chunk) < count:
            chunk.append(self._again.popleft())
        while self._source is not None and len(chunk) < count:
            task = next(self._source, None)
            if task is None:
                self._source = None
                self._signal()
            else:
                chunk.append(task)
        self._out += len(chunk)
        return chunk

    def finished(self, count: int) -> None:
        self._out -= count
        if self._out == 0:
            self._signal()

    def give_back(self, tasks: list[LineTask], reason: str) -> list[LineResult]:
        """Queue ``tasks`` again (their worker died); returns the failed results of those that ran out of attempts."""
        failed = []
        for task in tasks:
            self._attempts[task.line_number] += 1
            if self._attempts[task.line_number] >= MAX_LINE_ATTEMPTS:
                failed.append(_lost_line(task, self._attempts[task.line_number], reason))
            else:
                self._again.append(task)
        self.finished(len(tasks))
        self._signal()
        return failed

    async def changed(self) -> None:
        await self._event.wait()
        self._event.clear()

    def _signal(self) -> None:
        self._event.set()


class WorkerPool:
    """The run's workers: one :class:`WorkerSlot` each, started together, stopped together."""

    def __init__(self, package: Any, settings: WorkerSettings, count: int):
        import ray

        self.package = ray.put(package)  # one copy in the object store, shared by every worker
        self.settings = settings
        self.slots = [WorkerSlot(self, index) for index in range(count)]
        self.stopping: list[Any] = []

    async def start(self) -> list[Any]:
        return list(await asyncio.gather(*(slot.start() for slot in self.slots)))

    async def stop(self) -> None:
        """Let each worker tidy up (its flow folder), then end it."""
        import ray

        handles = [slot.worker for slot in self.slots if slot.worker is not None] + self.stopping
        if not handles:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*(h.stop.remote() for h in handles), return_exceptions=True), 10)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass
        for handle in handles:
            ray.kill(handle, no_restart=True)


class WorkerSlot:
    """One worker place of the pool: its current actor, replaced when it dies."""

    def __init__(self, pool: WorkerPool, index: int):
        self.pool, self.index = pool, index
        self.worker: Any = None
        self.replacements = 0

    async def start(self) -> Any:
        import ray

        self.worker = _actor_class().remote(self.pool.package)
        try:
            return await asyncio.wait_for(self.worker.start.remote(self.pool.settings), START_TIMEOUT)
        except asyncio.TimeoutError:
            raise UserError(f"A Ray worker did not start within {START_TIMEOUT:.0f} s.",
                            hint="the cluster may lack free CPUs (`ray status`); lower --ray-actors, or raise "
                                 "PFL_RAY_START_TIMEOUT.") from None
        except ray.exceptions.RayTaskError as exc:  # the flow did not load on the worker
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
            if isinstance(cause, PflError):
                raise cause from None
            raise UserError(f"A Ray worker could not load the flow: {_death(cause)}",
                            hint="every node needs promptflow_lite and the flow's Python packages installed.") from None
        except ray.exceptions.RayActorError as exc:  # the worker process did not come up
            raise UserError(f"A Ray worker could not start: {_death(exc)}",
                            hint="every node needs the same Python, Ray and promptflow_lite versions as this one; "
                                 "the worker logs are in /tmp/ray/session_latest/logs on its node.") from None

    async def replace(self) -> None:
        """Start a new worker in place of the current one, which died."""
        self.pool.stopping.append(self.worker)
        self.replacements += 1
        if self.replacements > MAX_REPLACEMENTS:
            raise RayWorkersLost(
                f"Ray workers kept dying: worker place {self.index} was replaced {MAX_REPLACEMENTS} times.",
                hint="the finished lines are kept; see the Ray logs (/tmp/ray/session_latest/logs on each node), "
                     "then `pfl run resume` the run.")
        await self.start()


def _settings(recipe: FlowRecipe, line_timeout: float | None, node: str | None) -> WorkerSettings:
    """What every worker gets: the load recipe, the cache and tracing of this process."""
    from promptflow_lite.testing._offline import scripted_rules
    from promptflow_lite.tools._llm_cache import active_cache, current_repeat
    from promptflow_lite.tracing._setup import relay_settings

    cache = active_cache()
    trace = relay_settings()
    return WorkerSettings(
        variant=recipe.variant, connections=dict(recipe.resolved),
        environment_variables=recipe.environment_variables, connection_overrides=recipe.connection_overrides,
        init=recipe.init, line_timeout=line_timeout, cache_path=str(cache.path) if cache is not None else None,
        repeat_index=current_repeat.get(), driver_node=node, offline_rules=scripted_rules(),
        trace=trace is not None,
        collection=trace["collection"] if trace else None, parent=trace["parent"] if trace else None)


_ACTOR_CLASS: Any = None


def _actor_class() -> Any:
    """``LineWorker`` as a Ray actor class (made once per process): a CPU each, spread over the nodes,
    never restarted by Ray (the pool replaces a dead worker itself, with the connections)."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        import ray

        from promptflow_lite.runs._ray_worker import LineWorker

        _ACTOR_CLASS = ray.remote(LineWorker).options(num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD")
    return _ACTOR_CLASS


def _actor_errors() -> tuple[type[BaseException], ...]:
    import ray

    return (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError)


def _death(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _lost_line(task: LineTask, attempts: int, reason: str) -> LineResult:
    from promptflow_lite.errors import error_dict

    error = PflError(f"Line {task.line_number} was running on {attempts} Ray workers that died ({reason}).",
                     hint="the line may crash its process (memory, a native library); try it with "
                          "`pfl flow test`.")
    return LineResult(status=FAILED, inputs=dict(task.inputs), error=error_dict(error), line_number=task.line_number)


def _where(infos: list[Any]) -> str:
    return ", ".join(f"pid {info.pid} on {info.host}" for info in infos)
