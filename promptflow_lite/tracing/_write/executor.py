"""The executor's spans: a root span per line, a child per node (FLOW_FORMAT §6.2).

Creating an OpenTelemetry SDK span costs ~25 µs, more than a pure-python node. So the hooks
only note what the line's ``LineResult`` cannot tell: ids, the parent, which nodes started
and their types. A DAG line gives ``start_line`` its result and its nodes' types: then the engine
makes no call per node at all, and the node spans are the result's node runs that started (the
running node is the run whose ``calls`` list is the current one). Otherwise (OpenTelemetry in use,
a flex entry, a node outside any line) ``start_node`` notes each node. A node gets no object or
context variable of its own: it is known by the model-call list the engine sets for it
(``tools.observe.calls_collector``), and its span id is made when something nests under it (a
model call, a ``@trace`` function: see :mod:`promptflow_lite.tracing._context`), else by the writer.
``end_line`` turns the line into one frame (:mod:`.frames`: the hooks' header and the line's
journal text, encoded once for the run journal and the trace) and hands it to a
:class:`.sink.FrameSink`, whose writer process renders and stores it (:mod:`.writer`). Model-call
and ``@trace`` spans are ordinary SDK spans whose parent is found through
:mod:`promptflow_lite.tracing._context`.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

from promptflow_lite.connections._types import Connection
from promptflow_lite.masking import register_connection
from promptflow_lite.tools._observe import calls_collector
from promptflow_lite.tracing._context import (
    attach, current_holder, current_parent, detach, local_span_context, otel_in_use, reset_holder,
)
from promptflow_lite.tracing._write.frames import line_frame, node_frame
from promptflow_lite.tracing._ids import new_span_id, new_trace_id, trace_hex
from promptflow_lite.tracing._names import cumulative_attributes

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext


class LineSpan:
    """A running line: the parent of its nodes' spans.

    With the hooks' node calls, ``nodes`` holds ``(name, node_type, inputs, calls)`` per started
    node (``calls``: the node's model-call list, which tells which node is running) and ``node_ids``
    the span ids made so far, by position in ``nodes``. Without them (``nodes`` is None: the engine
    gave the line's ``result`` and its nodes' ``types``), the node spans are the result's node runs,
    the running node is the run whose ``calls`` is the current list, and ``node_ids`` is by name.
    ``collection`` is the group its trace belongs to.
    """

    __slots__ = ("trace_id", "span_id", "parent", "root", "name", "inputs", "attributes", "nodes", "node_ids",
                 "collection", "token", "otel_token", "result", "types")

    def __init__(self, name: str, inputs: dict, attributes: dict, parent: SpanContext | None, root: bool,
                 collection: str | None = None, result: Any = None, types: dict[str, str] | None = None):
        self.trace_id = parent.trace_id if parent is not None else new_trace_id()
        self.span_id = new_span_id()
        self.parent, self.root, self.name, self.inputs, self.attributes = parent, root, name, inputs, attributes
        self.collection = collection or name
        self.result, self.types = result, types
        self.nodes: list[tuple] | None = [] if types is None else None
        self.node_ids: dict[Any, int] | None = None
        self.token = self.otel_token = None

    @property
    def node_hooks(self) -> bool:
        """Whether the engine calls ``start_node``/``end_node`` for this line's nodes."""
        return self.nodes is not None

    def own_context(self) -> SpanContext:
        return local_span_context(self.trace_id, self.span_id)

    def span_context(self) -> SpanContext:
        """The parent of a span started now: the running node's span, else the line's."""
        calls = calls_collector.get()
        if calls is not None:
            if self.nodes is None:
                for run in reversed(list(self.result.node_runs.values())):  # a copy: the loop may add one
                    if run.calls is calls:
                        return local_span_context(self.trace_id, self.node_id(run.node, run.inputs))
            else:
                for index in range(len(self.nodes) - 1, -1, -1):
                    if self.nodes[index][3] is calls:
                        return local_span_context(self.trace_id, self.node_id(index, self.nodes[index][2]))
        return self.own_context()

    def node_id(self, key: Any, inputs: dict | None) -> int:
        """The span id of the node ``key`` (its position in ``nodes``, or its name), made on first use."""
        ids = self.node_ids
        if ids is None:
            ids = self.node_ids = {}
        if key not in ids:
            ids[key] = new_span_id()
            for value in (inputs or {}).values():
                if isinstance(value, Connection):
                    register_connection(value)  # before a span nested under the node could echo a key
        return ids[key]


class NodeSpan:
    """A node traced outside any line (a single-node test): a span of its own."""

    __slots__ = ("name", "node_type", "trace_id", "span_id", "parent", "root", "token", "otel_token")

    def __init__(self, name: str, node_type: str, inputs: dict):
        self.name, self.node_type, self.span_id, self.otel_token = name, node_type, new_span_id(), None
        self.parent, ours = current_parent()
        self.root = not ours
        self.trace_id = self.parent.trace_id if self.parent is not None else new_trace_id()
        for value in inputs.values():
            if isinstance(value, Connection):
                register_connection(value)

    def span_context(self) -> SpanContext:
        return local_span_context(self.trace_id, self.span_id)


class _Attached:
    """The handle of a line's node made OpenTelemetry's current span (a global tracer provider is set)."""

    __slots__ = ("token",)

    def __init__(self, token: object):
        self.token = token


class ExecutorSpans:
    """The engine's tracing backend (:class:`~promptflow_lite.engine._hooks.TracingBackend`).

    ``sink`` (a :class:`.sink.FrameSink`) takes the finished lines; ``rollup`` adds a line's
    tokens to an enclosing ``@trace`` span; ``collection`` groups the traces in the store.
    """

    def __init__(self, sink: Any, rollup: Any = None, collection: str | None = None):
        self.sink, self.rollup, self.collection = sink, rollup, collection
        _instances.add(self)

    # hot path -----------------------------------------------------------------------------
    def start_line(self, flow_name: str, inputs: dict[str, Any], attributes: dict[str, Any], result: Any = None,
                   node_types: dict[str, str] | None = None) -> LineSpan:
        """Open the line's span. Given its ``result`` and ``node_types``, the line needs no node calls
        (``node_hooks`` is False) unless OpenTelemetry is in use (each node must then be its current span)."""
        parent, ours = current_parent()
        otel = otel_in_use()
        line = LineSpan(flow_name, inputs, attributes, parent, not ours, self.collection, result,
                        None if otel or result is None else node_types)
        line.token = current_holder.set(line)
        if otel:
            line.otel_token = attach(line.own_context())
        return line

    def end_line(self, line: LineSpan, result: Any) -> str:
        """Close the line's span: sets and returns ``result.trace_id``."""
        reset_holder(line.token)
        if line.otel_token is not None:
            detach(line.otel_token)
        if self.rollup is not None and line.parent is not None and not line.parent.is_remote:
            counts = cumulative_attributes(result.usage)
            if counts:
                self.rollup.add(line.parent.span_id, counts)
        result.trace_id = trace_id = trace_hex(line.trace_id)
        self.sink.send(line_frame(line, result, line.collection))
        return trace_id

    def start_node(self, node_name: str, node_type: str, inputs: dict[str, Any]) -> Any:
        """Note the node; returns None (nothing to end) unless the node needs ``end_node``."""
        line = current_holder.get()
        if type(line) is not LineSpan:
            node = NodeSpan(node_name, node_type, inputs)
            node.token = current_holder.set(node)
            if otel_in_use():
                node.otel_token = attach(node.span_context())
            return node
        if line.nodes is None:  # the line's result tells its nodes
            return None
        line.nodes.append((node_name, node_type, inputs, calls_collector.get()))
        if line.otel_token is None:
            return None
        index = len(line.nodes) - 1
        return _Attached(attach(local_span_context(line.trace_id, line.node_id(index, inputs))))

    def end_node(self, node: Any, run: Any) -> str | None:
        """Close a node's span; returns the trace id of a node traced outside any line."""
        if type(node) is _Attached:
            detach(node.token)
            return None
        try:
            current_holder.reset(node.token)
        except ValueError:  # not the context the node started in
            reset_holder(node.token)
        if node.otel_token is not None:
            detach(node.otel_token)
        self.sink.send(node_frame(node, run))
        return trace_hex(node.trace_id)

    # background ---------------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every finished line is stored (and with the OTLP exporter)."""
        return self.sink.flush(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        self.sink.close(timeout)


_instances: "weakref.WeakSet[ExecutorSpans]" = weakref.WeakSet()


def _reset_after_fork() -> None:
    for instance in list(_instances):
        instance.sink.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
