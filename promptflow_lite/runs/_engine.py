"""How the lines of a batch run get executed: a small interface, the local engine and the registry of engines.

An engine takes a loaded flow and an iterable of ``LineTask``s, runs them (in any order, with
any parallelism) and hands each ``LineResult`` to ``on_result`` as soon as it is done. The
run (folder, journal, aggregation, statuses) stays the caller's business, so another engine
(e.g. :mod:`._ray_engine`, spreading lines over a Ray cluster) only has to implement ``execute``;
the ``FlowRecipe`` tells it how to load the same flow in other processes. Engines are found by
name (``--engine NAME``) in ``ENGINES``: ``local`` and ``ray``, then what installed packages
register in the entry-point group ``promptflow_lite.engines`` (``name = "package.module:EngineClass"``).
An engine class makes itself from the run's settings with ``from_spec(spec)``; a plain function
``spec -> engine`` does as well.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import Any, Callable, Iterable, Protocol

from promptflow_lite._registry import Registry
from promptflow_lite.engine._results import LineResult
from promptflow_lite.errors import InputError
from promptflow_lite.runs._data import UNREADABLE

# Lines in flight. LLM-bound lines spend ~99 % of their time waiting on the network (a 200 ms
# call costs ~1-3 ms of CPU here), so 64 keeps one core busy without flooding an endpoint;
# 429s are retried with the server's Retry-After. Lower it with --max-concurrency for strict quotas.
DEFAULT_CONCURRENCY = 64
DEFAULT_LINE_TIMEOUT = 600.0  # seconds, as promptflow's PF_LINE_TIMEOUT_SEC


@dataclass(frozen=True)
class LineTask:
    """One line to run: its number in the run, its mapped inputs, attributes for its trace span."""

    line_number: int
    inputs: dict[str, Any]
    attributes: dict[str, Any] = field(default_factory=dict)


OnResult = Callable[[LineResult], None]


@dataclass
class FlowRecipe:
    """How a run's flow is loaded: ``load()`` gives the flow, here or in another process.

    ``connections`` is a provider, a ``{name: Connection}`` dict or None (the local store);
    ``resolved`` holds the connections the last ``load()`` fetched (by name), the ones to hand to
    another process along with the recipe.
    """

    source: str
    variant: str | None = None
    connections: Any = None
    environment_variables: dict[str, Any] | None = None
    connection_overrides: dict[str, str] | None = None
    init: dict[str, Any] | None = None
    resolved: dict[str, Any] = field(default_factory=dict, repr=False)

    def load(self) -> Any:
        from promptflow_lite.connections._provider import ResolvedConnections
        from promptflow_lite.engine._connections import connection_provider
        from promptflow_lite.engine._load import load_flow

        connections = ResolvedConnections(connection_provider(self.connections))
        self.resolved = connections.resolved
        return load_flow(self.source, variant=self.variant, connections=connections,
                         environment_variables=self.environment_variables,
                         connection_overrides=self.connection_overrides, init=self.init)


class LineEngine(Protocol):
    """Runs a run's lines. It may also define ``prepare(flow)``, called as soon as the run's flow is loaded,
    before the run writes its files: a place to start, in the background, what the lines will need."""

    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None, recipe: FlowRecipe | None = None,
                      log: Callable[[str], None] | None = None) -> None:
        """Run every task; call ``on_result`` once per finished line (in completion order).

        ``recipe`` says how ``flow`` was loaded (for engines that run lines in other processes);
        ``log`` takes messages for the run's log (and the user's terminal)."""


class LocalEngine:
    """Lines run concurrently on this process's event loop, at most ``max_concurrency`` at once.

    Tasks are pulled lazily from the iterable by a fixed set of workers, so a 100k-line run
    never holds more than ``max_concurrency`` lines in memory. Cancelling ``execute`` cancels
    the lines in flight; lines already handed to ``on_result`` are unaffected.
    """

    def __init__(self, max_concurrency: int | None = None):
        self.max_concurrency = resolve_concurrency(max_concurrency)

    @classmethod
    def from_spec(cls, spec: Any) -> "LocalEngine":
        return cls(spec.max_concurrency)

    def prepare(self, flow: Any) -> None:
        """Lines that call a model need the openai SDK (~0.25 s to import) and a TLS context: both are made
        in a background thread while the run writes its files."""
        if uses_llm(flow):
            from promptflow_lite.tools._sdk import warm_up_sdk

            warm_up_sdk()

    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None, recipe: FlowRecipe | None = None,
                      log: Callable[[str], None] | None = None) -> None:
        if uses_llm(flow):  # a batch run's flow loads without the SDK: it loads before the lines, not in the first ones
            from promptflow_lite.tools._sdk import load_sdk

            load_sdk()  # waits for prepare()'s import, or imports it now
        pending = iter(tasks)

        async def worker() -> None:
            for task in pending:  # one shared iterator: each worker takes the next line when free
                on_result(await run_task(flow, task, line_timeout))
                await asyncio.sleep(0)  # a cancel asked for by on_result stops us before the next line starts

        workers = [asyncio.ensure_future(worker()) for _ in range(self.max_concurrency)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise


def uses_llm(flow: Any) -> bool:
    """Whether ``flow``'s lines call a model (an ``llm`` node, a prompty), so the process that runs them
    loads the openai SDK before they start."""
    if getattr(flow, "kind", None) == "prompty":
        return True
    spec = getattr(flow, "spec", None)
    return any(node.type == "llm" for node in getattr(spec, "nodes", None) or ())


async def run_task(flow: Any, task: LineTask, line_timeout: float | None) -> LineResult:
    """The line's result; should the flow raise instead of reporting a failed line, the line fails alone
    (as does a line whose data cannot be read)."""
    try:
        if UNREADABLE in task.inputs:
            raise InputError(f"The data of line {task.line_number} cannot be read: {task.inputs[UNREADABLE]}")
        return await flow.arun(task.inputs, line_number=task.line_number, timeout=line_timeout,
                               attributes=task.attributes)
    except Exception as exc:  # noqa: BLE001 - one line never sinks the run
        from promptflow_lite.engine._results import FAILED
        from promptflow_lite.errors import error_dict

        inputs = {} if UNREADABLE in task.inputs else dict(task.inputs)
        return LineResult(status=FAILED, inputs=inputs, error=error_dict(exc), line_number=task.line_number)


def deliver_results(lines: Iterable[tuple], loose: Any, parent: tuple | None, on_result: OnResult,
                    finished: Callable[[int], None]) -> None:
    """Pass on what a worker process sent back as if its lines had run here: ``loose`` traces (the secrets to
    blank, among others) first, then each line (its encoded result, whether that JSON is exact, its traces)
    to ``finished(line_number)`` and ``on_result``; a line nested under the driver's span ``parent`` (trace id,
    span id, one of ours) adds its tokens to it."""
    from promptflow_lite.tracing._setup import replay, roll_up

    if loose is not None:
        replay(loose)
    for text, exact, traced in lines:
        result = _worker_line(text, exact)
        finished(result.line_number)
        if traced is not None:
            replay(traced)
            if parent is not None and parent[2]:
                roll_up(parent[1], result.usage)
        on_result(result)


def _worker_line(text: str, exact: bool) -> LineResult:
    """A worker's line record as this process's line result. A record that is not plain JSON may hold
    images, which the worker sent as base64: they become images again, so that the run writes them as
    files and aggregation nodes get images, as with the local engine."""
    result = LineResult.from_json(text, exact=exact)
    if exact:
        return result
    from promptflow_lite.tools._multimedia import Multimedia

    return LineResult.from_json(Multimedia().load(result.to_dict()))


EngineFactory = Callable[[Any], LineEngine]  # RunSpec -> engine
_GROUP = "promptflow_lite.engines"  # loaded when asked for:
_RAY = EntryPoint("ray", "promptflow_lite.runs._ray_engine:RayEngine", _GROUP)
_PROCESSES = EntryPoint("processes", "promptflow_lite.runs._process_engine:ProcessEngine", _GROUP)
ENGINES: Registry[EngineFactory] = Registry(
    "engine", _GROUP, builtins=lambda: {"local": LocalEngine.from_spec, "processes": _PROCESSES, "ray": _RAY},
    convert=lambda engine: getattr(engine, "from_spec", engine))


def engine_for(spec: Any) -> LineEngine:
    """The engine that runs ``spec``'s lines: ``spec.engine`` (default ``local``) made from the spec's settings."""
    return ENGINES.get((spec.engine or "local").strip().lower())(spec)


def register_engine(name: str, engine: Any) -> None:
    """Make ``engine`` (a class with ``from_spec(spec)``, or a function ``spec -> engine``) the engine ``name``
    in this process (``--engine name``); it wins over an installed one."""
    ENGINES.register(name, getattr(engine, "from_spec", engine))


def resolve_concurrency(value: int | None) -> int:
    """``value``, else env ``PFL_MAX_CONCURRENCY``, else 64; must be a positive integer."""
    from promptflow_lite.errors import UserError

    if value is None:
        raw = os.environ.get("PFL_MAX_CONCURRENCY")
        if not raw:
            return DEFAULT_CONCURRENCY
        try:
            value = int(raw)
        except ValueError:
            raise UserError(f"PFL_MAX_CONCURRENCY must be a whole number, not '{raw}'.") from None
    if value < 1:
        raise UserError(f"The maximum concurrency must be at least 1, not {value}.",
                        hint="pass --max-concurrency 1 or more.")
    return int(value)

