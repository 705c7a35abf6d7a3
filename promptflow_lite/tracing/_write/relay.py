"""Tracing of lines that run in a worker process but belong to another process's traces (Ray workers).

In the worker, :func:`.setup.start_relay` switches tracing on with a :class:`Relay` as destination:
the executor's frames (lines, and before them the secrets to blank) and the finished SDK spans
(model calls, ``@trace`` functions) are kept in memory, as :class:`TraceBatch` records of plain values,
instead of being written. The driver passes each batch to :func:`.setup.replay`, which sends it
through its own tracing - the trace store, OTLP, token roll-up - as if the lines had run there.
:class:`DriverSpan` stands for the driver's current span in the worker, so that lines nest under
it as they would locally.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from promptflow_lite.tracing._context import local_span_context
from promptflow_lite.tracing._write.sink import add_secret_frames


class TraceBatch(NamedTuple):
    """What a worker traced: executor frames in order, and SDK span records."""

    frames: list[bytes]
    spans: list[dict[str, Any]]


_line_batch: ContextVar[TraceBatch | None] = ContextVar("pfl_relay_line", default=None)


class Relay:
    """The destination of a worker's tracing.

    What a line traces goes to the batch ``start_line()`` gave its context, so that it travels with
    the line's result (a line lost with its worker leaves no trace behind); everything else - the
    secrets to blank, spans outside any line - waits in a loose batch for ``drain()``, which the
    driver replays before the lines that came with it.
    """

    def __init__(self) -> None:
        self._loose = TraceBatch([], [])
        self._secrets = 0
        self._lock = threading.Lock()
        self.sink = RelaySink(self)
        self.collector = SpanCollector(self)

    def start_line(self) -> TraceBatch:
        """The batch that collects what the current context (a line's task) traces from now on."""
        batch = TraceBatch([], [])
        _line_batch.set(batch)
        return batch

    def add_frame(self, frame: bytes) -> None:
        with self._lock:
            self._secrets = add_secret_frames(self._loose.frames, self._secrets)
            (_line_batch.get() or self._loose).frames.append(frame)

    def add_span(self, record: dict[str, Any]) -> None:
        with self._lock:
            (_line_batch.get() or self._loose).spans.append(record)

    def drain(self) -> TraceBatch | None:
        """The loose batch (None when empty), replaced by a new one."""
        with self._lock:
            batch, self._loose = self._loose, TraceBatch([], [])
        return batch if batch.frames or batch.spans else None


class RelaySink:
    """A :class:`.sink.FrameSink` stand-in: frames go to the relay."""

    def __init__(self, relay: Relay) -> None:
        self.send = relay.add_frame

    def start(self) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> bool:
        return True

    def close(self, timeout: float = 30.0) -> None:
        pass

    after_fork = start


class SpanCollector(SpanProcessor):
    """Hands each finished SDK span to the relay as a plain record (a span holds locks: it cannot travel)."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    def on_end(self, span: ReadableSpan) -> None:
        self._relay.add_span(span_record(span))


class DriverSpan:
    """The driver's current span, as the parent of the lines a worker runs (see :mod:`.context`)."""

    __slots__ = ("trace_id", "span_id", "collection")

    def __init__(self, trace_id: int, span_id: int, collection: str | None = None):
        self.trace_id, self.span_id, self.collection = trace_id, span_id, collection

    def span_context(self):
        return local_span_context(self.trace_id, self.span_id)


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished SDK span as plain values (see :func:`span_from_record`)."""
    context, parent, scope = span.context, span.parent, span.instrumentation_scope
    return {
        "name": span.name, "context": (context.trace_id, context.span_id, int(context.trace_flags)),
        "parent": (parent.trace_id, parent.span_id, parent.is_remote) if parent is not None else None,
        "kind": span.kind.value, "start": span.start_time, "end": span.end_time,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
        "links": [(link.context.trace_id, link.context.span_id, dict(link.attributes or {})) for link in span.links],
        "status": (span.status.status_code.value, span.status.description),
        "scope": (scope.name, scope.version) if scope is not None else None,
    }


def span_from_record(record: dict[str, Any], resource: Any) -> ReadableSpan:
    """The span of a :func:`span_record`, with this process's ``resource``."""
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    trace_id, span_id, flags = record["context"]
    parent = record["parent"]
    code, description = record["status"]
    scope = record["scope"]
    return ReadableSpan(
        name=record["name"], context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags)),
        parent=SpanContext(parent[0], parent[1], is_remote=parent[2]) if parent is not None else None,
        resource=resource, attributes=record["attributes"], kind=SpanKind(record["kind"]),
        events=[Event(name, attributes, timestamp) for name, attributes, timestamp in record["events"]],
        links=[Link(SpanContext(t, s, is_remote=True), attributes) for t, s, attributes in record["links"]],
        status=Status(StatusCode(code), description), start_time=record["start"], end_time=record["end"],
        instrumentation_scope=InstrumentationScope(*scope) if scope is not None else None)
