"""Which span is the parent right now.

The executor's line and node spans are recorded cheaply (see :mod:`.executor`) and are not put
in OpenTelemetry's context: that costs more than a pure-python node. Instead the running line
or node sits in ``current_holder``; model-call spans and ``@trace`` spans ask
:func:`current_parent`, which prefers that holder and falls back to OpenTelemetry's
current span (a ``@trace`` function, a continued ``traceparent``, a user's own span).
A ``@trace`` span clears the holder while it runs, so spans inside it nest under it.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

SAMPLED = TraceFlags(TraceFlags.SAMPLED)
SCOPE_NAME = "promptflow_lite"  # our tracer's instrumentation scope
ROOT_ATTRIBUTE = "pfl.root"  # marks an SDK span whose parent is not ours: a root in the store


class SpanHolder(Protocol):
    def span_context(self) -> SpanContext:
        """The span that a span started now nests under (a line's running node, or the line)."""


current_holder: ContextVar[Any] = ContextVar("pfl_trace_holder", default=None)


def local_span_context(trace_id: int, span_id: int) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=SAMPLED)


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
    return trace.set_span_in_context(NonRecordingSpan(holder.span_context()))


def otel_in_use() -> bool:
    """Whether a global tracer provider is set (the user's, or ours after ``start_trace``): then
    OpenTelemetry instrumentation in user code may make spans, so lines and nodes must also be
    OpenTelemetry's current span for those to nest under them (~5 µs a node, paid only then)."""
    if _SET_ONCE:  # it can be set once only: read the global instead of get_tracer_provider()'s env lookup
        return trace._TRACER_PROVIDER is not None
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


_SET_ONCE = hasattr(trace, "_TRACER_PROVIDER")
if _SET_ONCE:
    trace.get_tracer_provider()  # a provider named by OTEL_PYTHON_TRACER_PROVIDER is set now


def attach(span_context: SpanContext) -> object:
    """Make ``span_context`` OpenTelemetry's current span; returns the token for :func:`detach`."""
    return otel_context.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))


def detach(token: object) -> None:
    otel_context.detach(token)


@contextmanager
def activated(span: trace.Span) -> Iterator[None]:
    """Make an SDK ``span`` the current parent (for our spans and for OpenTelemetry users)."""
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
