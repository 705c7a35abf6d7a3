"""``@trace`` and ``start_trace``: spans for user code (promptflow's ``promptflow.tracing`` API).

``@trace`` wraps sync, async, generator and async-generator functions: the span (type
``Function``) records the bound inputs, the output (the yielded items, for generators, which
keep the span open until they are exhausted) and exceptions as status + ``exception`` event.
Spans nest under the running flow node or the enclosing ``@trace`` call, and OpenTelemetry
instrumentation running inside a traced function nests under it too. With tracing off the
wrapper just calls the function.

``start_trace()`` switches tracing on for a script or notebook run outside ``pfl``.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
from typing import Any, Callable, Mapping, TypeVar

from promptflow_lite.tracing import _setup as setup

F = TypeVar("F", bound=Callable[..., Any])
_CANCELLED = "Execution cancelled."


def trace(func: F | None = None, *, name: str | None = None, span_type: str = "Function") -> F:
    """Record each call of ``func`` as a span: ``@trace`` or ``@trace(name=..., span_type=...)``."""
    if func is None:
        return functools.partial(trace, name=name, span_type=span_type)  # type: ignore[return-value]
    spec = _Spec(func, name, span_type)
    if inspect.isasyncgenfunction(func):
        @functools.wraps(func)
        def async_gen_wrapper(*args: Any, **kwargs: Any):
            tracer = setup.tracer()
            if tracer is None:
                return func(*args, **kwargs)
            return _traced_async_iter(tracer, spec, spec.parent(), func(*args, **kwargs), args, kwargs)

        return async_gen_wrapper  # type: ignore[return-value]
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any):
            tracer = setup.tracer()
            if tracer is None:
                return func(*args, **kwargs)
            return _traced_iter(tracer, spec, spec.parent(), func(*args, **kwargs), args, kwargs)

        return gen_wrapper  # type: ignore[return-value]
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any):
            tracer = setup.tracer()
            if tracer is None:
                return await func(*args, **kwargs)
            span = spec.start(tracer, spec.parent(), args, kwargs)
            with _active(span):
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    _fail(span, exc)
                    raise
            return _finish(tracer, spec, span, result)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        tracer = setup.tracer()
        if tracer is None:
            return func(*args, **kwargs)
        span = spec.start(tracer, spec.parent(), args, kwargs)
        with _active(span):
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                _fail(span, exc)
                raise
        return _finish(tracer, spec, span, result)

    return wrapper  # type: ignore[return-value]


def start_trace(resource_attributes: Mapping[str, Any] | None = None, collection: str | None = None,
                **kwargs: Any) -> bool:
    """Trace this process (promptflow's ``start_trace``): flows, model calls and ``@trace`` code.

    ``collection`` groups the traces (default: the current folder's name). Spans go to the
    local store and, if configured, OTLP; our tracer provider becomes the global one unless
    the program already set one. Returns False when ``PFL_TRACING=off``.
    """
    import os

    collection = collection or os.path.basename(os.getcwd()) or "default"
    enabled = setup.enable_tracing(collection, resource_attributes=resource_attributes, set_global=True)
    if enabled and not kwargs.get("quiet"):
        where = setup.store_path()
        print(f"Tracing on: traces go to {where if where else setup.otlp_endpoint()} "
              f"(see them with `pfl trace list`).", file=sys.stderr)
    return enabled


class _Spec:
    """What every call of one traced function shares: its name, signature and attributes."""

    def __init__(self, func: Callable[..., Any], name: str | None, span_type: str):
        self.func, self.name, self.span_type = func, name or func.__qualname__, span_type
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None

    @staticmethod
    def parent() -> tuple[Any, bool]:
        """The parent for a span started now or later (generators start on first ``next``), and
        whether that parent is one of our spans (if not, the span is a root in the store)."""
        from opentelemetry import context

        from promptflow_lite.tracing._context import parent_context, parent_is_ours

        return parent_context() or context.get_current(), parent_is_ours()

    def inputs(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        if self.signature is None:
            return {"args": list(args), **kwargs}
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError:
            return {"args": list(args), **kwargs}
        bound.apply_defaults()
        values = dict(bound.arguments)
        first = next(iter(self.signature.parameters), None)
        if first in ("self", "cls"):
            values.pop(first, None)
        return values

    def start(self, tracer: Any, parent: tuple[Any, bool], args: tuple, kwargs: dict):
        from promptflow_lite.tracing._context import ROOT_ATTRIBUTE
        from promptflow_lite.tracing._serialize import to_json

        context, ours = parent
        attributes = {"framework": "promptflow", "span_type": self.span_type, "function": self.name,
                      "inputs": to_json(self.inputs(args, kwargs))}
        if not ours:
            attributes[ROOT_ATTRIBUTE] = True
        return tracer.start_span(self.name, context=context, attributes=attributes)


def _active(span: Any):
    from promptflow_lite.tracing._context import activated

    return activated(span)


def _finish(tracer: Any, spec: _Spec, span: Any, result: Any) -> Any:
    """Close the span with ``result``; a returned generator keeps it open until exhausted."""
    if inspect.isgenerator(result):
        return _traced_iter(tracer, spec, None, result, (), {}, span=span)
    if inspect.isasyncgen(result):
        return _traced_async_iter(tracer, spec, None, result, (), {}, span=span)
    _close(span, result)
    return result


def _close(span: Any, output: Any, iterated: bool = False) -> None:
    from opentelemetry.trace import Status, StatusCode

    from promptflow_lite.tracing._serialize import to_json

    attributes = {"output": to_json(output)}
    if iterated:
        attributes["output_type"] = "iterated"
    span.set_attributes(attributes)
    span.set_status(Status(StatusCode.OK))
    span.end()


def _fail(span: Any, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    from promptflow_lite.tracing._serialize import to_text

    cancelled = isinstance(exc, (KeyboardInterrupt, GeneratorExit)) or type(exc).__name__ == "CancelledError"
    span.add_event("exception", {"exception.type": type(exc).__name__, "exception.message": to_text(exc),
                                 "exception.stacktrace": to_text("".join(traceback.format_exception(exc))),
                                 "exception.escaped": "True"})
    span.set_status(Status(StatusCode.ERROR, _CANCELLED if cancelled else f"{type(exc).__name__}: {to_text(exc)}"))
    span.end()


def _traced_iter(tracer, spec: _Spec, parent, iterator, args, kwargs, span=None):
    """Yield from ``iterator`` inside a span that ends when it is exhausted, fails or is closed."""
    span = span or spec.start(tracer, parent, args, kwargs)
    items: list[Any] = []
    try:
        while True:
            with _active(span):
                try:
                    item = next(iterator)
                except StopIteration:
                    break
            items.append(item)
            yield item
    except GeneratorExit:  # the consumer stopped early: keep what it got
        iterator.close()
        _close(span, items, iterated=True)
        raise
    except BaseException as exc:
        _fail(span, exc)
        raise
    _close(span, items, iterated=True)


async def _traced_async_iter(tracer, spec: _Spec, parent, iterator, args, kwargs, span=None):
    """The async-generator twin of :func:`_traced_iter`."""
    span = span or spec.start(tracer, parent, args, kwargs)
    items: list[Any] = []
    try:
        while True:
            with _active(span):
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    break
            items.append(item)
            yield item
    except GeneratorExit:
        await iterator.aclose()
        _close(span, items, iterated=True)
        raise
    except BaseException as exc:
        _fail(span, exc)
        raise
    _close(span, items, iterated=True)
