"""The executor's spans: a root span per line, a child per node (FLOW_FORMAT §6.2).

Creating an OpenTelemetry SDK span costs ~25 µs, more than a pure-python node; a line of five
such nodes would lose a third of its throughput. So the hot path only notes ids: the four
hooks together cost a few microseconds per line. A background thread takes finished lines in
batches, renders them (:mod:`.line_spans`) and writes them to the store in one transaction,
and, when OTLP export is on, hands them as SDK ``ReadableSpan``s to its span processor.
Model-call and ``@trace`` spans are ordinary SDK spans whose parent is found through
:mod:`.context`.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from typing import Any, Iterable

from opentelemetry.trace import SpanContext

from promptflow_lite.connections.types import Connection
from promptflow_lite.tracing.context import (
    attach, current_holder, current_parent, detach, local_span_context, otel_in_use, reset_holder,
)
from promptflow_lite.tracing.ids import new_span_id, new_trace_id, trace_hex
from promptflow_lite.tracing.line_spans import lone_node_rows, readable_spans, render_line, store_rows
from promptflow_lite.tracing.names import cumulative_attributes
from promptflow_lite.tracing.serialize import remember_connection

_log = logging.getLogger(__name__)
_BATCH_WAIT = 0.25  # seconds the writer waits for more lines to share a transaction (flush wakes it)
_MAX_BATCH = 2000


class LineSpan:
    """A running line: the parent of its nodes' spans."""

    __slots__ = ("trace_id", "span_id", "parent", "root", "name", "inputs", "attributes", "nodes", "token",
                 "otel_token")

    def __init__(self, name: str, inputs: dict, attributes: dict, parent: SpanContext | None, root: bool):
        self.trace_id = parent.trace_id if parent is not None else new_trace_id()
        self.span_id = new_span_id()
        self.parent, self.root, self.name, self.inputs, self.attributes = parent, root, name, inputs, attributes
        self.nodes: list[NodeSpan] = []
        self.token = self.otel_token = None

    def span_context(self) -> SpanContext:
        return local_span_context(self.trace_id, self.span_id)


class NodeSpan:
    """A running node; without an enclosing line (a single-node test) it is a root span."""

    __slots__ = ("line", "name", "node_type", "trace_id", "span_id", "parent", "root", "token", "otel_token", "run")

    def __init__(self, line: LineSpan | None, name: str, node_type: str):
        self.line, self.name, self.node_type, self.span_id, self.run = line, name, node_type, new_span_id(), None
        self.otel_token = None
        if line is not None:
            self.trace_id, self.parent, self.root = line.trace_id, None, False
        else:
            self.parent, ours = current_parent()
            self.root = not ours
            self.trace_id = self.parent.trace_id if self.parent is not None else new_trace_id()

    def span_context(self) -> SpanContext:
        return local_span_context(self.trace_id, self.span_id)


class ExecutorSpans:
    """The engine's tracing backend (:class:`~promptflow_lite.tracing.spans.TracingBackend`).

    ``store`` is a :class:`~.store.TraceStore` (or None); ``sinks`` are span processors (OTLP)
    that also receive the executor's spans; ``rollup`` adds a line's tokens to an enclosing
    ``@trace`` span.
    """

    def __init__(self, store: Any = None, sinks: Iterable[Any] = (), resource: Any = None, scope: Any = None,
                 rollup: Any = None, collection: str | None = None):
        self.store, self.sinks = store, list(sinks)
        self.resource, self.scope, self.rollup, self.collection = resource, scope, rollup, collection
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        _instances.add(self)

    # hot path -----------------------------------------------------------------------------
    def start_line(self, flow_name: str, inputs: dict[str, Any], attributes: dict[str, Any]) -> LineSpan:
        parent, ours = current_parent()
        line = LineSpan(flow_name, inputs, attributes, parent, not ours)
        line.token = current_holder.set(line)
        if otel_in_use():
            line.otel_token = attach(line.span_context())
        return line

    def end_line(self, line: LineSpan, result: Any) -> str:
        reset_holder(line.token)
        if line.otel_token is not None:
            detach(line.otel_token)
        if self.rollup is not None and line.parent is not None and not line.parent.is_remote:
            counts = cumulative_attributes(result.usage)
            if counts:
                self.rollup.add(line.parent.span_id, counts)
        self._submit((line, result))
        return trace_hex(line.trace_id)

    def start_node(self, node_name: str, node_type: str, inputs: dict[str, Any]) -> NodeSpan:
        holder = current_holder.get()
        line = holder if type(holder) is LineSpan else None
        node = NodeSpan(line, node_name, node_type)
        for value in inputs.values():
            if isinstance(value, Connection):
                remember_connection(value)  # before any error message could echo a key
        node.token = current_holder.set(node)
        if line is not None:
            line.nodes.append(node)
        if (line.otel_token is not None) if line is not None else otel_in_use():
            node.otel_token = attach(node.span_context())
        return node

    def end_node(self, node: NodeSpan, run: Any) -> None:
        try:
            current_holder.reset(node.token)
        except ValueError:  # not the context the node started in
            reset_holder(node.token)
        if node.otel_token is not None:
            detach(node.otel_token)
        node.run = run
        if node.line is None:
            self._submit((node, None))

    # background ---------------------------------------------------------------------------
    def _submit(self, item: Any) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="pfl-trace-lines", daemon=True)
                    self._thread.start()
        self._queue.put(item)

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            if self._queue.empty() and self._wake.wait(_BATCH_WAIT):
                self._wake.clear()
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get())
            records = [item for item in batch if isinstance(item, tuple)]
            if records:
                self._record(records)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if None in batch:
                return

    def _record(self, records: list[tuple]) -> None:
        try:
            span_rows, line_rows, readable = [], [], []
            for record, result in records:
                if result is None:
                    row, line_row = lone_node_rows(record)
                else:
                    finished = render_line(record, result, self.collection)
                    row, line_row = store_rows(finished) if self.store is not None else (None, None)
                    if self.sinks:
                        readable += readable_spans(finished, self.resource, self.scope)
                span_rows.append(row)
                if line_row is not None:
                    line_rows.append(line_row)
            if self.store is not None:
                self.store.write([r for r in span_rows if r is not None], line_rows)
            for span in readable:
                for sink in self.sinks:
                    sink.on_end(span)
        except Exception:  # never let a rendering or disk problem stop the flow
            _log.warning("promptflow_lite could not record %d traced lines", len(records), exc_info=True)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every finished line is in the store and with the span processors."""
        if self._thread is None or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        return done.wait(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._wake.set()
            self._thread.join(timeout)
        self._thread = None

    def _after_fork(self) -> None:
        self._queue, self._thread, self._lock, self._wake = queue.SimpleQueue(), None, threading.Lock(), threading.Event()


_instances: "weakref.WeakSet[ExecutorSpans]" = weakref.WeakSet()


def _reset_after_fork() -> None:
    for instance in list(_instances):
        instance._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
