"""Tracing of lines that run in a worker process but belong to another process's traces (Ray workers).

In the worker, :func:`.setup.start_relay` switches tracing on with a :class:`Relay` as destination:
the executor's frames (lines, and before them the secrets to blank) and the finished SDK spans
(model calls, ``@trace`` functions) are kept in memory instead of being written. ``drain()`` hands
them over as a :class:`TraceBatch` of plain values; the driver passes it to :func:`.setup.replay`,
which sends them through its own tracing - the trace store, OTLP, token roll-up - as if the lines
had run there. :class:`DriverSpan` stands for the driver's current span in the worker, so that
lines nest under it as they would locally.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from promptflow_lite.tracing.context import local_span_context
from promptflow_lite.tracing.sink import add_secret_frames


class TraceBatch(NamedTuple):
    """What a worker traced since the last batch: executor frames in order, and SDK span records."""

    frames: list[bytes]
    spans: list[dict[str, Any]]


class RelaySink:
    """A :class:`.sink.FrameSink` stand-in that keeps the frames until drained."""

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self._secrets = 0
        self._lock = threading.Lock()

    def send(self, frame: bytes) -> None:
        with self._lock:
            self._secrets = add_secret_frames(self._frames, self._secrets)
            self._frames.append(frame)

    def drain(self) -> list[bytes]:
        with self._lock:
            frames, self._frames = self._frames, []
        return frames

    def start(self) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> bool:
        return True

    def close(self, timeout: float = 30.0) -> None:
        pass

    after_fork = start


class SpanCollector(SpanProcessor):
    """Keeps each finished SDK span as a plain record (a span itself holds locks: it cannot travel)."""

    def __init__(self) -> None:
        self._spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        record = span_record(span)
        with self._lock:
            self._spans.append(record)

    def drain(self) -> list[dict[str, Any]]:
        with self._lock:
            spans, self._spans = self._spans, []
        return spans


class Relay:
    """The destination of a worker's tracing: its frames and spans, until ``drain()``."""

    def __init__(self) -> None:
        self.sink = RelaySink()
        self.collector = SpanCollector()

    def drain(self) -> TraceBatch | None:
        """Everything traced since the last call, or None when nothing was."""
        spans, frames = self.collector.drain(), self.sink.drain()  # spans first: a line's spans end before it
        return TraceBatch(frames, spans) if frames or spans else None


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
