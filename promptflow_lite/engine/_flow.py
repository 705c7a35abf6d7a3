"""What every loaded flow offers: ``await flow.arun(inputs)`` gives a ``LineResult`` (never raises for a
failing line), ``flow(**inputs)`` gives the outputs (raises on failure), ``await flow.aaggregate(lines)``
runs the aggregation step. One loaded flow is safe to share between concurrent lines and requests:
all per-line state lives in the line. The flow kinds (``._dag``, ``._flex``, ``._prompty_flow``)
derive from :class:`Flow`; ``._load`` loads them.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

from promptflow_lite.engine._results import AggregationResult, LineResult
from promptflow_lite.engine._sync import run_sync
from promptflow_lite.errors import UserError
from promptflow_lite.tools._multimedia import Multimedia


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
    media: Multimedia = Multimedia()  # how image values are read and written (a DAG's message_format)

    # promptflow's ``Flow.load(path)`` (the same as ``load_callable``): installed by ._load, the module
    # that knows every flow kind (they all derive from this class, so it cannot import them)
    load: ClassVar[Callable[..., Any]]

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


class _SharedCwd:
    """The process's one working directory, shared by the flows running on its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.restore: str | None = None

    def enter(self, folder: Path | None) -> None:
        with self.lock:
            if self.holders == 0 and folder is not None:
                try:
                    self.restore = os.getcwd()
                except OSError:  # the cwd was deleted: nothing to go back to
                    self.restore = None
                os.chdir(folder)
            self.holders += 1

    def leave(self) -> None:
        with self.lock:
            self.holders -= 1
            if self.holders == 0 and self.restore is not None:
                restore, self.restore = self.restore, None
                try:
                    os.chdir(restore)
                except OSError:
                    pass


_cwd = _SharedCwd()


def line_context(flow_id: str | None, kind: str, attributes: dict[str, Any] | None):
    """promptflow's ``OperationContext`` of one line, as flow code reads it: ``flow_id`` (the flow's
    ``id``, else ``default_flow_id``), ``root_run_id`` (the batch run, else a new id) and ``run_mode``."""
    import uuid

    from promptflow_lite._compat.operation_context import run_context

    batch = (attributes or {}).get("batch_run_id")
    return run_context(flow_id=flow_id or "default_flow_id", root_run_id=batch or str(uuid.uuid4()),
                       run_mode="Batch" if batch else "Test", execution_target=kind)


@contextmanager
def working_directory(folder: Path | None = None) -> Iterator[None]:
    """While this block runs no other flow moves the process's cwd; it is ``folder`` if no flow held it.

    promptflow runs a flow from its folder, so tools may open files by relative path. There is one
    cwd per process and nodes run on threads, so only the outermost flow moves it (back when the last
    flow leaves): a flow loaded or run inside or beside it (``load_flow("sub")(...)`` in a python
    node) leaves it alone and resolves its own files against its own folder. Without ``folder`` the
    block only holds the cwd where it is (every line does, so a sub-flow never moves it).
    """
    _cwd.enter(folder)
    try:
        yield
    finally:
        _cwd.leave()


__all__ = ["Flow", "FlowRunError", "working_directory"]
