"""Switching tracing on: ``enable_tracing()`` at the start of ``pfl`` commands, runs and servers.

Tracing is on by default; ``PFL_TRACING=off`` switches it off (then the engine pays nothing).
When on, spans go to the local store ``PFL_HOME/traces.sqlite`` and, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, over OTLP/HTTP
too. We use our own ``TracerProvider``; the global one stays the user's (``start_trace`` sets
ours as global only when none is set). ``flush_tracing()`` before exit writes what is pending
(an exit handler does it too). A worker process running a driver's lines (the Ray engine) traces
into a relay instead (``start_relay``); the driver hands what it relays to ``replay`` (:mod:`.relay`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

_OFF = {"off", "0", "false", "no", "none", "disable", "disabled"}
_OTLP_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_BATCH = {"max_queue_size": 200_000, "schedule_delay_millis": 500, "max_export_batch_size": 2048}


@dataclass
class _Tracing:
    key: tuple
    executor: Any
    listener: Any
    store_path: Path | None
    store: Any
    resource_attributes: dict[str, Any]
    user_named: set[str]  # resource attributes naming the project that the user set (see .projects)
    writer_process: bool = True  # lines are written (and exported) by a writer process
    sdk: _Sdk | None = None  # made on first use: pure-python flows never import the OpenTelemetry SDK
    relay: Any = None  # a .relay.Relay: a worker keeps its spans for the driver instead of storing them


@dataclass
class _Sdk:
    provider: Any
    tracer: Any
    processors: list  # the span processors, in order (spans replayed from workers go through them)
    otlp: Any = None  # the OTLP span processor, when configured
    otlp_exporter: Any = None  # its .otlp.OtlpExporter


_state: _Tracing | None = None
_lock = threading.RLock()


def tracing_switched_off() -> bool:
    """True when the environment says ``PFL_TRACING=off``."""
    return os.environ.get("PFL_TRACING", "").strip().lower() in _OFF


def otlp_endpoint() -> str | None:
    """The OTLP/HTTP traces endpoint configured in the environment, if any."""
    for name in _OTLP_ENV:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return None


def enable_tracing(collection: str | None = None, *, resource_attributes: Mapping[str, Any] | None = None,
                   store: bool = True, set_global: bool = False, writer_process: bool | None = None) -> bool:
    """Trace every flow line, node and model call of this process; returns whether tracing is on.

    ``collection`` groups traces in the store (default: the flow's name). ``store=False``
    exports over OTLP only. Calling it again with the same store keeps the running setup
    (updating ``collection``); with another ``PFL_HOME`` or OTLP endpoint it starts afresh.
    ``writer_process=False`` writes the spans in this process (cheaper for a few spans, e.g. one
    flow test, than starting the writer process); default: the process unless ``PFL_TRACE_WRITER=thread``.
    """
    global _state
    if tracing_switched_off():
        return False
    path = None
    if store:
        from promptflow_lite.tracing._store import default_path

        try:
            path = default_path()
        except OSError as exc:
            _unstorable(os.environ.get("PFL_HOME", "~/.promptflow_lite"), exc)
    if path is None and not otlp_endpoint():
        return False  # nowhere to send spans
    key = (str(path), otlp_endpoint(), tuple(sorted((resource_attributes or {}).items())))
    with _lock:
        if _state is None or _state.key != key:
            disable_tracing()
            _state = _build(key, path, collection, resource_attributes or {}, writer_process=writer_process)
            if _state is None:
                return False
        elif collection:
            _state.executor.collection = collection
        if set_global:
            _make_global(_sdk(_state).provider)
        return True


def _build(key: tuple, path: Path | None, collection: str | None, resource_attributes: Mapping[str, Any],
           relay: Any = None, writer_process: bool | None = None) -> _Tracing | None:
    import uuid

    from promptflow_lite._version import __version__
    from promptflow_lite.tools import _observe as observe
    from promptflow_lite.engine import _hooks as hooks
    from promptflow_lite.tracing._context import load_configured_provider
    from promptflow_lite.tracing._write.executor import ExecutorSpans
    from promptflow_lite.tracing._model_calls import ModelCallSpans
    from promptflow_lite.tracing._openai_sdk import instrument
    from promptflow_lite.masking import register_environment
    from promptflow_lite.tracing._names import DEFAULT_PROJECT, SERVICE_NAME, user_named
    from promptflow_lite.tracing._serialize import max_chars
    from promptflow_lite.tracing._write.sink import FrameSink
    from promptflow_lite.tracing._store import TraceStore

    named = user_named(resource_attributes)
    attributes: dict[str, Any] = {"framework": "promptflow", "pfl.version": __version__}
    if SERVICE_NAME not in named:
        attributes[SERVICE_NAME] = DEFAULT_PROJECT  # exported spans name their project instead (see .projects)
    if collection:
        attributes["collection"] = collection
    if "service.instance.id" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.instance.id"] = uuid.uuid4().hex  # the same in the writer process's spans
    attributes.update(resource_attributes)
    store = None
    if path is not None:
        import sqlite3

        try:
            store = TraceStore(path)  # opened now, so that a bad path turns tracing off here
        except (OSError, sqlite3.Error) as exc:
            _unstorable(path, exc)
            if not otlp_endpoint():
                return None
        else:
            store.close()  # the writer process writes; this process reopens it for its own spans if any
    config = {"store": str(path) if store is not None else None, "otlp": bool(otlp_endpoint()),
              "resource": attributes, "user_named": sorted(named), "batch": _BATCH, "max_chars": max_chars(),
              "limits": vars(_store_limits())}
    state = _Tracing(key, None, None, path, store, attributes, named, relay=relay)
    state.writer_process = (writer_process if writer_process is not None
                            else os.environ.get("PFL_TRACE_WRITER", "").strip().lower() != "thread")
    if relay is None:
        sink = FrameSink(config, lambda: _local_writer(state), use_process=state.writer_process)
        sink.start()  # the writer process starts while the flow loads
    else:
        sink = relay.sink
    state.executor = ExecutorSpans(sink, collection=collection)
    state.listener = ModelCallSpans(lambda: _sdk(state).tracer)
    if _exports_otlp(state):
        _sdk(state)  # the OTLP exporter belongs to the SDK's span processors
    load_configured_provider()
    register_environment()
    observe.add_listener(state.listener)
    hooks.set_backend(state.executor)
    instrument()  # OpenAI SDK calls in user code are model calls too
    return state


def _sdk(state: _Tracing) -> _Sdk:
    """The OpenTelemetry SDK part (tracer provider, store and OTLP span processors), made once."""
    with _lock:
        if state.sdk is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            from promptflow_lite._version import __version__
            from promptflow_lite.tracing._context import SCOPE_NAME
            from promptflow_lite.tracing._ids import time_ordered_id_generator
            from promptflow_lite.tracing._otlp import OtlpExporter
            from promptflow_lite.tracing._projects import CollectionStamp, ProjectResources
            from promptflow_lite.tracing._sqlite_exporter import SqliteSpanExporter
            from promptflow_lite.tracing._tokens import TokenRollup

            rollup = TokenRollup()
            provider = TracerProvider(resource=Resource.create(state.resource_attributes),
                                      id_generator=time_ordered_id_generator(), shutdown_on_exit=False)
            processors = [CollectionStamp(), rollup]
            if state.store is not None:
                processors.append(BatchSpanProcessor(SqliteSpanExporter(state.store), **_BATCH))
            if state.relay is not None:
                processors.append(state.relay.collector)
            otlp = exporter = None
            if _exports_otlp(state):
                # with a writer process, it exports the lines and reports an unreachable endpoint
                exporter = OtlpExporter(ProjectResources(provider.resource, state.user_named),
                                        stored=state.store is not None, warn=not state.writer_process)
                otlp = BatchSpanProcessor(exporter, **_BATCH)
                processors.append(otlp)
            for processor in processors:
                provider.add_span_processor(processor)
            state.sdk = _Sdk(provider, provider.get_tracer(SCOPE_NAME, __version__), processors, otlp, exporter)
            state.executor.rollup = rollup
        return state.sdk


def _exports_otlp(state: _Tracing) -> bool:
    """Whether this process exports over OTLP (a worker relays to its driver, which exports)."""
    return state.relay is None and bool(otlp_endpoint())


def start_relay(collection: str | None = None) -> Any:
    """Trace this (worker) process into a :class:`.relay.Relay`, whose batches the driver replays (``replay``);
    replaces any tracing set up before. ``collection`` groups the traces, as in ``enable_tracing``."""
    global _state
    from promptflow_lite.tracing._write.relay import Relay

    relay = Relay()
    with _lock:
        disable_tracing()
        _state = _build(("relay", id(relay)), None, collection, {}, relay=relay)
    return relay


def relay_settings() -> dict[str, Any] | None:
    """What a worker running this process's lines needs to trace them for it (:func:`start_relay`): the
    collection and the current span (trace id, span id, whether it is ours) they nest under; None when off."""
    state = _state
    if state is None:
        return None
    from promptflow_lite.tracing._context import current_parent

    context, ours = current_parent()
    parent = (context.trace_id, context.span_id, ours) if context is not None else None
    return {"collection": state.executor.collection, "parent": parent}


def roll_up(span_id: int, usage: Mapping[str, Any]) -> None:
    """Add a line's token ``usage`` to this process's open span ``span_id`` (a worker's line under it)."""
    state = _state
    rollup = state.executor.rollup if state is not None else None
    if rollup is not None:
        from promptflow_lite.tracing._names import cumulative_attributes

        counts = cumulative_attributes(usage)
        if counts:
            rollup.add(span_id, counts)


def replay(batch: Any) -> None:
    """Send what a worker relayed (a :class:`.relay.TraceBatch`, or the plain pair) through this process's
    tracing: frames to the writer, spans to the span processors (the store, OTLP, token roll-up). Dropped when
    tracing is off."""
    state = _state
    if state is None:
        return
    frames, spans = batch
    for frame in frames:
        state.executor.sink.send(frame)
    if spans:
        from promptflow_lite.tracing._write.relay import span_from_record

        sdk = _sdk(state)
        for record in spans:
            span = span_from_record(record, sdk.provider.resource)
            for processor in sdk.processors:
                processor.on_end(span)


def _store_limits() -> Any:
    """The trace store's size and age caps (settings); a bad setting warns and caps nothing."""
    from promptflow_lite.errors import UserError
    from promptflow_lite.tracing._prune import Limits, configured_limits

    try:
        return configured_limits()
    except UserError as exc:
        logging.getLogger(__name__).warning("Traces are not pruned: %s", exc)
        return Limits()


def _local_writer(state: _Tracing) -> Any:
    """The writer used in this process when no writer process runs: exports OTLP through the SDK."""
    from promptflow_lite.tracing._write.writer import TraceWriter

    if not otlp_endpoint():
        return TraceWriter(state.store, limits=_store_limits())
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from promptflow_lite._version import __version__
    from promptflow_lite.tracing._context import SCOPE_NAME

    sdk = _sdk(state)
    sdk.otlp_exporter.warn = True  # no writer process to report an unreachable endpoint
    return TraceWriter(state.store, [sdk.otlp], sdk.provider.resource, InstrumentationScope(SCOPE_NAME, __version__),
                       _store_limits())


def _unstorable(where: Any, exc: BaseException) -> None:
    """A read-only or broken PFL_HOME must not stop the flow: say so and go on."""
    logging.getLogger(__name__).warning("Traces will not be stored: cannot open %s (%s).", where, exc)


def _make_global(provider: Any) -> None:
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)


def disable_tracing() -> None:
    """Write pending spans and stop tracing in this process."""
    global _state
    with _lock:
        if _state is None:
            return
        from promptflow_lite.tools import _observe as observe
        from promptflow_lite.engine import _hooks as hooks
        from promptflow_lite.tracing._openai_sdk import uninstrument

        state, _state = _state, None
        if hooks.active() is state.executor:
            hooks.set_backend(None)
        observe.remove_listener(state.listener)
        uninstrument()
        state.executor.shutdown()
        if state.sdk is not None:
            state.sdk.provider.shutdown()
        if state.store is not None:
            state.store.close()


def flush_tracing(timeout: float = 30.0) -> bool:
    """Write every finished span now (the store, OTLP); returns False on timeout."""
    state = _state
    if state is None:
        return True
    done = state.executor.flush(timeout)
    sdk = state.sdk
    return done and (sdk is None or sdk.provider.force_flush(int(timeout * 1000)))


def tracing_enabled() -> bool:
    return _state is not None


def tracer():
    """Our OpenTelemetry tracer, or None when tracing is off."""
    state = _state
    if state is None:
        return None
    return (state.sdk or _sdk(state)).tracer


def store_path() -> Path | None:
    """Where this process writes its traces (None when tracing is off or OTLP-only)."""
    state = _state
    return state.store_path if state is not None else None


@contextmanager
def continue_trace(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block inside the caller's trace given by a W3C ``traceparent`` header.

    ``with continue_trace(request.headers): await flow.arun(...)`` makes the line's span a
    child of the caller's span; without a valid header the block starts its own trace.
    """
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from promptflow_lite.tracing._context import current_holder

    carrier = {str(k).lower(): v for k, v in (headers or {}).items()}
    token = context.attach(TraceContextTextMapPropagator().extract(carrier))
    holder = current_holder.set(None)
    try:
        yield
    finally:
        current_holder.reset(holder)
        context.detach(token)


def _at_exit() -> None:
    try:
        disable_tracing()
    except Exception:  # interpreter shutdown: nothing left to report to
        pass


atexit.register(_at_exit)
