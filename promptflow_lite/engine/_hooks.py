"""The executor's tracing hooks: a line span, a span per node (FLOW_FORMAT §6).

The engine calls ``start_line``/``end_line`` around each line and ``start_node``/``end_node``
around each node, in the context the node runs in (so model-call spans nest under it). When
tracing is off, ``active()`` is None and the engine skips the calls entirely: zero cost.
A DAG line gives ``start_line`` its ``LineResult`` (filled as the line runs) and its nodes' types: when
the handle's ``node_hooks`` is False, the backend learns the nodes from the result's node runs
(each run's ``calls`` tells which node is running) and the engine makes no node calls in that line.
A tracing backend installs itself with ``set_backend``: :func:`promptflow_lite.tracing._setup.enable_tracing` installs
:class:`promptflow_lite.tracing._write.executor.ExecutorSpans`, whose hooks cost a few microseconds per line.

``attributes`` of ``start_line`` become attributes of the line's root span; the store reads
``batch_run_id`` and ``line_number`` (the run and line a trace belongs to) and, for evaluation
lines, ``referenced.batch_run_id`` with ``referenced.line_number`` or promptflow's
``referenced.line_run_id`` (``"<base run>_<line number>"``) to link them to the base line.
"""

from __future__ import annotations

from typing import Any, Protocol


class TracingBackend(Protocol):
    def start_line(self, flow_name: str, inputs: dict[str, Any], attributes: dict[str, Any], result: Any = None,
                   node_types: dict[str, str] | None = None) -> Any:
        """Open the line span; the handle's ``node_hooks`` says whether its nodes need ``start_node``."""

    def end_line(self, handle: Any, result: Any) -> str | None:
        """Close the line span; returns its trace id (hex)."""

    def start_node(self, node_name: str, node_type: str, inputs: dict[str, Any]) -> Any: ...

    def end_node(self, handle: Any, run: Any) -> str | None:
        """Close the node span; returns its trace id when the node ran outside any line."""


_backend: TracingBackend | None = None


def set_backend(backend: TracingBackend | None) -> None:
    global _backend
    _backend = backend


def active() -> TracingBackend | None:
    """The installed backend, or None when tracing is off."""
    return _backend
