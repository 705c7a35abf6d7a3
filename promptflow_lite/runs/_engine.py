"""How the lines of a batch run get executed: a small interface, the local engine and the registry.

An engine takes a loaded flow and an iterable of ``LineTask``s, runs them (in any order, with
any parallelism) and hands each ``LineResult`` to ``on_result`` as soon as it is done. The
run (folder, journal, aggregation, statuses) stays the caller's business, so another engine
(e.g. one spreading lines over a Ray cluster) only has to implement ``execute``. Engines are
found by name in ``ENGINES``: ``local``, then what installed packages register in the entry-point
group ``promptflow_lite.engines`` (a class or function taking ``max_concurrency``).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from promptflow_lite._registry import Registry
from promptflow_lite.engine._results import LineResult

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


class LineEngine(Protocol):
    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None) -> None:
        """Run every task; call ``on_result`` once per finished line (in completion order)."""


class LocalEngine:
    """Lines run concurrently on this process's event loop, at most ``max_concurrency`` at once.

    Tasks are pulled lazily from the iterable by a fixed set of workers, so a 100k-line run
    never holds more than ``max_concurrency`` lines in memory. Cancelling ``execute`` cancels
    the lines in flight; lines already handed to ``on_result`` are unaffected.
    """

    def __init__(self, max_concurrency: int | None = None):
        self.max_concurrency = resolve_concurrency(max_concurrency)

    async def execute(self, flow: Any, tasks: Iterable[LineTask], on_result: OnResult, *,
                      line_timeout: float | None = None) -> None:
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


async def run_task(flow: Any, task: LineTask, line_timeout: float | None) -> LineResult:
    """The line's result; should the flow raise instead of reporting a failed line, the line fails alone."""
    try:
        return await flow.arun(task.inputs, line_number=task.line_number, timeout=line_timeout,
                               attributes=task.attributes)
    except Exception as exc:  # noqa: BLE001 - one line never sinks the run
        from promptflow_lite.engine._results import FAILED
        from promptflow_lite.errors import error_dict

        return LineResult(status=FAILED, inputs=dict(task.inputs), error=error_dict(exc), line_number=task.line_number)


ENGINES: Registry[Callable[..., LineEngine]] = Registry("engine", "promptflow_lite.engines",
                                                      builtins=lambda: {"local": LocalEngine})


def make_engine(name: str | None = None, max_concurrency: int | None = None) -> LineEngine:
    """The engine ``name`` (default ``local``) for a run with at most ``max_concurrency`` lines in flight."""
    return ENGINES.get(name or "local")(max_concurrency=max_concurrency)


def register_engine(name: str, factory: Callable[..., LineEngine]) -> None:
    """Make ``factory(max_concurrency=...)`` the engine ``name`` in this process (``--engine name``)."""
    ENGINES.register(name, factory)


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
