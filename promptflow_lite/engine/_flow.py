"""A loaded flow, ready to run many lines concurrently: ``load_flow(path)(**inputs)``.

``load_flow`` recognises the flow kind (DAG, flex, prompty) by content and returns a
``Flow``: ``await flow.arun(inputs)`` gives a ``LineResult`` (never raises for a failing
line), ``flow(**inputs)`` gives the outputs (raises on failure), ``await flow.aaggregate(lines)``
runs the aggregation step. One loaded flow is safe to share between concurrent lines and
requests: all per-line state lives in the line.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from promptflow_lite.engine._results import AggregationResult, LineResult
from promptflow_lite.errors import PflError, UserError


class FlowRunError(UserError):
    """Raised by ``flow(**inputs)`` when the line failed; ``result`` holds the details."""

    def __init__(self, result: LineResult):
        self.result = result
        error = result.error or {}
        super().__init__(error.get("message", "The flow failed."))
        self.code_name = (error.get("innerError") or {}).get("code", "FlowRunError")


class Flow:
    """What every flow kind offers; subclasses implement ``arun`` and ``aaggregate``."""

    kind = "dag"
    name: str = "flow"
    path: Path | None = None
    working_dir: Path = Path(".")

    @classmethod
    def load(cls, source: str | Path, **kwargs: Any) -> Any:
        """promptflow's ``Flow.load(path)``, also its ``load_flow``: see ``load_callable``."""
        return load_callable(source, **kwargs)

    @property
    def inputs(self) -> dict[str, Any]:
        """Flow input definitions (name → object with ``type``, ``default``)."""
        return {}

    @property
    def output_names(self) -> list[str]:
        return []

    async def arun(self, inputs: dict[str, Any], *, line_number: int | None = None, stream: bool = False,
                   timeout: float | None = None, echo=None, attributes: dict[str, Any] | None = None) -> LineResult:
        """Run one line. ``stream`` lets LLM outputs stay generators; ``timeout`` is in seconds;
        ``echo`` receives what tools print; ``attributes`` go on the line's trace span."""
        raise NotImplementedError

    async def aaggregate(self, lines: Iterable[LineResult], echo=None) -> AggregationResult:
        return AggregationResult()

    @property
    def has_aggregation(self) -> bool:
        return False

    def run(self, inputs: dict[str, Any] | None = None, **options: Any) -> LineResult:
        """Run one line synchronously and return its ``LineResult``."""
        return run_sync(self.arun(dict(inputs or {}), **options))

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        """The outputs for ``inputs``; raises ``FlowRunError`` when the line fails."""
        result = self.run(inputs)
        if not result.ok:
            raise FlowRunError(result)
        return result.outputs or {}


class AsyncFlow:
    """promptflow's ``AsyncFlow``: ``await AsyncFlow.load(path)(**inputs)``."""

    def __init__(self, flow: Flow):
        self._flow = flow

    @classmethod
    def load(cls, source: str | Path, **kwargs: Any) -> Any:
        """An ``AsyncFlow``, or an ``AsyncPrompty`` for a prompty (as ``load_callable``)."""
        return load_callable(source, is_async=True, **kwargs)

    async def __call__(self, **inputs: Any) -> dict[str, Any]:
        result = await self._flow.arun(inputs)
        if not result.ok:
            raise FlowRunError(result)
        return result.outputs or {}


def load_flow(source: str | Path, *, variant: str | None = None, connections: Any = None,
              environment_variables: dict[str, Any] | None = None,
              connection_overrides: dict[str, str] | None = None, init: dict[str, Any] | None = None) -> Flow:
    """Load a flow folder or file (``flow.dag.yaml``, ``flow.flex.yaml``, ``x.prompty``).

    ``variant`` picks a node variant (``'${node.variant_1}'``); ``connections`` is a provider, a
    ``{name: Connection}`` dict or None for the local store; ``environment_variables`` override
    the flow's; ``connection_overrides`` are ``{"node.connection": "name", "node.deployment_name": ...}``;
    ``init`` are the init kwargs of a flex flow class.
    """
    from promptflow_lite.flow._loader import flow_kind, resolve_flow_path

    file, _ = resolve_flow_path(source)
    kind = flow_kind(file)
    provider = connection_provider(connections)
    if kind == "dag":
        from promptflow_lite.engine._dag import DagFlow

        return DagFlow.from_file(file, variant=variant, connections=provider,
                                 environment_variables=environment_variables, connection_overrides=connection_overrides)
    if kind == "flex":
        from promptflow_lite.engine._flex import FlexFlow

        return FlexFlow.from_file(file, connections=provider, environment_variables=environment_variables, init=init)
    from promptflow_lite.engine._prompty_flow import PromptyFlow

    return PromptyFlow.from_file(file, connections=provider, init=init)


def load_callable(source: str | Path, *, is_async: bool = False, **kwargs: Any) -> Any:
    """promptflow's ``load_flow`` / ``Flow.load`` (``AsyncFlow.load`` with ``is_async``): a prompty
    loads as ``Prompty`` / ``AsyncPrompty`` (``model=...`` and other overrides apply; a call returns
    the answer itself), any other flow as ``load_flow`` does (wrapped in ``AsyncFlow``)."""
    from promptflow_lite.flow._loader import resolve_flow_path

    file, _ = resolve_flow_path(source)
    if file.suffix == ".prompty":
        from promptflow_lite.engine._prompty import AsyncPrompty, Prompty

        return (AsyncPrompty if is_async else Prompty).load(file, **kwargs)
    flow = load_flow(source, **kwargs)
    return AsyncFlow(flow) if is_async else flow


def connection_provider(connections: Any):
    """A provider with ``get(name)`` from None (local store + env), a dict, or a provider."""
    if connections is None:
        return _DefaultProvider()
    if isinstance(connections, dict):
        from promptflow_lite.connections._provider import DictConnectionProvider

        return DictConnectionProvider(connections)
    return connections


class _DefaultProvider:
    """The local store (+ ``PROMPTFLOW_CONNECTIONS``), opened only if a connection is needed."""

    def __init__(self) -> None:
        self._provider = None

    def _get_provider(self):
        if self._provider is None:
            from promptflow_lite.connections._provider import default_provider
            from promptflow_lite.testing._offline import ScriptedConnections, scripted_rules

            self._provider = default_provider()
            if scripted_rules():
                self._provider = ScriptedConnections(scripted_rules(), self._provider)
        return self._provider

    def get(self, name: str):
        return self._get_provider().get(name)

    def names(self) -> list[str]:
        return self._get_provider().names()


def run_sync(coro):
    """Run ``coro`` to completion from sync code, even when this thread already runs a loop."""
    coro = _closing_clients(coro)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _asyncio_run(coro)
    box: dict[str, Any] = {}
    context = contextvars.copy_context()  # keep the caller's trace span, metrics collector...

    def target() -> None:
        try:
            box["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="pfl-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _asyncio_run(coro):
    """``asyncio.run`` with Python 3.11's Ctrl+C handling on 3.10 too: in the main thread the first
    SIGINT cancels the main task (a run stops cleanly, as ``Canceled``, keeping its finished lines)
    instead of raising KeyboardInterrupt wherever the loop happens to be; a second one raises."""
    if (sys.version_info >= (3, 11) or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return asyncio.run(coro)
    interrupted = False

    async def main():
        task, loop = asyncio.current_task(), asyncio.get_running_loop()

        def on_sigint(signum, frame):
            nonlocal interrupted
            if interrupted or task.done():
                raise KeyboardInterrupt()
            interrupted = True
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop up

        signal.signal(signal.SIGINT, on_sigint)
        try:
            return await coro
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt() from None
        raise


async def _closing_clients(coro):
    """Await ``coro``, then close the LLM clients pooled on this loop (they die with it)."""
    try:
        return await coro
    finally:
        import sys

        if "promptflow_lite.tools._llm_client" in sys.modules:
            await sys.modules["promptflow_lite.tools._llm_client"].close_async_clients()


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run with ``path`` as the process cwd (promptflow runs flows from their folder)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


__all__ = ["Flow", "AsyncFlow", "FlowRunError", "load_flow", "run_sync", "working_directory", "PflError"]
