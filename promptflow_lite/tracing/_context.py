"""Which span is the parent right now.

The executor's line and node spans are recorded cheaply (see :mod:`promptflow_lite.tracing._write.executor`) and are not put
in OpenTelemetry's context: that costs more than a pure-python node. Instead the running line
sits in ``current_holder`` (and knows its running node); model-call spans and ``@trace`` spans
ask :func:`current_parent`, which prefers that holder and falls back to OpenTelemetry's
current span (a ``@trace`` function, a continued ``traceparent``, a user's own span).
A ``@trace`` span clears the holder while it runs, so spans inside it nest under it.

OpenTelemetry is imported only when something uses it: before it is loaded, no span of it can
be current and no global tracer provider can be set, so the hooks of a pure-python flow never
load it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterator, Protocol

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanContext

SCOPE_NAME = "promptflow_lite"  # our tracer's instrumentation scope
ROOT_ATTRIBUTE = "pfl.root"  # marks an SDK span whose parent is not ours: a root in the store
_TRACE = "opentelemetry.trace"


class SpanHolder(Protocol):
    def span_context(self) -> SpanContext:
        """The span that a span started now nests under (a line's running node, or the line)."""


current_holder: ContextVar[Any] = ContextVar("pfl_trace_holder", default=None)


def local_span_context(trace_id: int, span_id: int) -> SpanContext:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def parent_is_ours() -> bool:
    """Whether a span started now has a parent recorded by this process's tracing."""
    return current_parent()[1]


def current_parent() -> tuple[SpanContext | None, bool]:
    """The parent of a span started now, and whether it is one of our spans.

    When it is not (no parent, a caller's ``traceparent``, or a span of another tracer such as a
    web framework's instrumentation), the new span starts our part of the trace: a root in the store.
    """
    holder = current_holder.get()
    if holder is not None:
        return holder.span_context(), True
    trace = sys.modules.get(_TRACE)
    if trace is None:  # OpenTelemetry is not loaded: none of its spans can be current
        return None, False
    span = trace.get_current_span()
    context = span.get_span_context()
    if not context.is_valid:
        return None, False
    scope = getattr(span, "instrumentation_scope", None)
    return context, not context.is_remote and scope is not None and scope.name == SCOPE_NAME


def parent_context() -> Context | None:
    """The parent as an OpenTelemetry ``Context`` for ``tracer.start_span`` (None: OpenTelemetry's current)."""
    holder = current_holder.get()
    if holder is None:
        return None  # the SDK uses OpenTelemetry's current context
    from opentelemetry import trace

    return trace.set_span_in_context(trace.NonRecordingSpan(holder.span_context()))


def otel_in_use() -> bool:
    """Whether a global tracer provider is set (the user's, or ours after ``start_trace``): then
    OpenTelemetry instrumentation in user code may make spans, so lines and nodes must also be
    OpenTelemetry's current span for those to nest under them (~5 µs a node, paid only then)."""
    trace = sys.modules.get(_TRACE)
    if trace is None:
        return False
    if hasattr(trace, "_TRACER_PROVIDER"):  # set once at most: cheaper than get_tracer_provider()'s env lookup
        return trace._TRACER_PROVIDER is not None
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def load_configured_provider() -> None:
    """A tracer provider named by ``OTEL_PYTHON_TRACER_PROVIDER`` becomes the global one now,
    before the first line starts (OpenTelemetry would set it on first use)."""
    import os

    if "OTEL_PYTHON_TRACER_PROVIDER" in os.environ:
        from opentelemetry import trace

        trace.get_tracer_provider()


def attach(span_context: SpanContext) -> object:
    """Make ``span_context`` OpenTelemetry's current span; returns the token for :func:`detach`."""
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span_context)))


def detach(token: object) -> None:
    from opentelemetry import context

    context.detach(token)


@contextmanager
def activated(span: Span) -> Iterator[None]:
    """Make an SDK ``span`` the current parent (for our spans and for OpenTelemetry users)."""
    from opentelemetry import trace

    token = current_holder.set(None)
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield
    finally:
        current_holder.reset(token)


def reset_holder(token) -> None:
    """Undo ``current_holder.set``; tolerate a token from another context (a cancelled task)."""
    try:
        current_holder.reset(token)
    except ValueError:
        current_holder.set(token.old_value if token.old_value is not token.MISSING else None)
