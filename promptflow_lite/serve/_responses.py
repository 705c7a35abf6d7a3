"""Writing a ``/score`` answer: which outputs, JSON bytes, error bodies, server-sent events (FLOW_FORMAT §7.2-7.3).

Every answer is encoded by :func:`encode`, which masks known secrets (an endpoint's error echoing a key;
error messages are masked in full when made, see :func:`promptflow_lite.errors.error_dict`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, AsyncIterable

from promptflow_lite.errors import error_dict
from promptflow_lite.masking import mask_secrets


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON, secrets masked; images become promptflow's base64 dicts."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    text = mask_secrets(text, tokens=False)
    return text.encode("utf-8", "backslashreplace")  # a lone surrogate as its \udXXX escape: the same JSON value


def _json_default(value: Any) -> Any:
    from promptflow_lite.tools._multimedia import Multimedia, PFBytes

    if isinstance(value, PFBytes):
        return Multimedia().base64_reference(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def error_body(error: dict[str, Any] | None) -> dict[str, Any]:
    """promptflow's simplified error response, plus the innermost error codes (no stack traces)."""
    error = error or {}
    body = {"code": error.get("code", "SystemError"), "message": error.get("message", "The flow failed.")}
    inner = _codes(error.get("innerError"))
    if inner is not None:
        body["innerError"] = inner
    return {"error": body}


def _codes(inner: Any) -> dict[str, Any] | None:
    if not isinstance(inner, dict) or not inner.get("code"):
        return None
    deeper = _codes(inner.get("innerError"))
    return {"code": inner["code"], **({"innerError": deeper} if deeper else {})}


def error_status(error: dict[str, Any] | None) -> int:
    """504 for a line that ran out of time, 400 for another user error, 500 otherwise."""
    error = error or {}
    if (error.get("innerError") or {}).get("code") == "LineTimeoutError":
        return 504
    return 400 if error.get("code") == "UserError" else 500


def exception_body(exc: BaseException) -> dict[str, Any]:
    return error_body(error_dict(exc))


def is_stream(value: Any) -> bool:
    """A generator / iterator (sync or async) output: what the client may receive in pieces."""
    return isinstance(value, (Iterator, AsyncIterator))


class OutputSelection:
    """Which flow outputs a response carries: all but ``evaluation_only`` ones, or only ``included``
    (``PROMPTFLOW_RESPONSE_INCLUDED_FIELDS``)."""

    def __init__(self, excluded: frozenset[str] = frozenset(), included: frozenset[str] | None = None):
        self.excluded, self.included = excluded, included

    def apply(self, outputs: dict[str, Any]) -> dict[str, Any]:
        if self.included is not None:
            return {k: v for k, v in outputs.items() if k in self.included}
        if self.excluded:
            return {k: v for k, v in outputs.items() if k not in self.excluded}
        return outputs


async def joined(outputs: dict[str, Any]) -> dict[str, Any]:
    """``outputs`` with every stream consumed into a string (sync ones in the tools' thread pool)."""
    from promptflow_lite.engine._threads import run_in_thread

    for key, value in outputs.items():
        if inspect.isasyncgen(value) or isinstance(value, AsyncIterator):
            outputs[key] = "".join([str(piece) async for piece in value])
        elif is_stream(value):
            outputs[key] = await run_in_thread(_join, stream=value)
    return outputs


def _join(stream: Iterator[Any]) -> str:
    return "".join(str(piece) for piece in stream)


def event(data: Any) -> bytes:
    """One server-sent event."""
    return b"data: " + encode(data) + b"\n\n"


async def sse_events(outputs: dict[str, Any], deadline: float | None = None) -> AsyncIterable[bytes]:
    """promptflow's event stream: ``{non-stream outputs}`` first (if any), then ``{"<output>": "<chunk>"}``
    per chunk; several stream outputs follow one another. A failure mid-stream (or passing ``deadline``,
    a ``time.monotonic()`` value) ends the stream with ``{"error": {...}}``; a client that goes away
    closes the model streams."""
    streams = [(k, v) for k, v in outputs.items() if is_stream(v)]
    fixed = {k: v for k, v in outputs.items() if not is_stream(v)}
    try:
        if fixed:
            yield event(fixed)
        for name, stream in streams:
            chunks = _chunks(stream)
            while True:
                try:
                    piece = await _next_chunk(chunks, deadline)
                except StopAsyncIteration:
                    break
                yield event({name: piece})
                await asyncio.sleep(0)  # buffered chunks: let other requests (and a disconnect) be seen
    except Exception as exc:  # the client has the head of the answer already: tell it why it stops
        yield event(exception_body(exc))
    finally:
        for _, stream in streams:
            await _close(stream)


async def _next_chunk(chunks: AsyncIterator[Any], deadline: float | None) -> Any:
    if deadline is None:
        return await chunks.__anext__()
    remaining = deadline - time.monotonic()
    try:
        if remaining <= 0:
            raise asyncio.TimeoutError()
        return await asyncio.wait_for(chunks.__anext__(), remaining)
    except asyncio.TimeoutError:
        from promptflow_lite.serve._errors import LineTimedOut

        raise LineTimedOut("The streamed answer ran past the server's --timeout and was cut.",
                           hint="ask for less, or raise --timeout.") from None


async def _chunks(stream: Any) -> AsyncIterator[Any]:
    if isinstance(stream, AsyncIterator):
        async for piece in stream:
            yield piece
        return
    from promptflow_lite.engine._threads import run_in_thread

    while True:  # a sync generator may block (a tool reading a socket): each step runs off the loop
        piece = await run_in_thread(_next, stream=stream)
        if piece is _DONE:
            return
        yield piece


_DONE = object()


def _next(stream: Iterator[Any]) -> Any:
    return next(stream, _DONE)


async def _close(stream: Any) -> None:
    try:
        if hasattr(stream, "aclose"):
            await stream.aclose()
        elif hasattr(stream, "close"):
            stream.close()
    except Exception:  # closing after a failure or a disconnect: nothing more to tell anyone
        pass
