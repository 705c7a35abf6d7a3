"""How tools report model calls to whoever listens (the executor's token counts, tracing spans).

A tool wraps each LLM or embedding request in ``with model_call("chat", request) as call:`` and
fills ``call.response`` / ``call.usage`` (``record_response``, ``record_chunk``) / ``call.cached``
before leaving the block. A stream that ends without token counts gets estimated ones
(:mod:`._token_estimate`, ``call.usage_estimated``). Listeners are registered once (tracing registers one); records are
also appended to the list in ``calls_collector`` when the executor has set one for the running node.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Protocol


@dataclass
class ModelCall:
    """One request to a model endpoint, as seen by the tool that made it."""

    api: str  # "chat", "completion" or "embedding"
    request: dict[str, Any]  # parameters sent (never credentials); includes "model" and "messages"/"prompt"/"input"
    provider: str = ""  # "OpenAI" or "AzureOpenAI"
    endpoint: str = ""  # base URL (no secrets)
    response: Any = None  # the response as a plain dict (or the joined text of a stream)
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens, total_tokens
    usage_estimated: bool = False  # a stream without token counts: ``usage`` is an estimate
    chunks: int = 0  # streamed chunks with content
    cached: bool = False  # answered from the local response cache
    replayed_seconds: float | None = None  # a cached answer: how long its request took when it was made
    error: BaseException | None = None
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None
    attempts: int = 0  # HTTP attempts made (retries included)
    span: Any = None  # set by a tracing listener, for its own use
    secrets: tuple[str, ...] = ()  # credentials used by the call: listeners must never record them


class ModelCallListener(Protocol):
    def on_start(self, call: ModelCall) -> None: ...

    def on_end(self, call: ModelCall) -> None: ...


RECORDED = "_pfl_records_calls"  # set on SDK clients whose calls a tool records itself (SDK tracing skips them)
_listeners: list[ModelCallListener] = []
calls_collector: ContextVar[list[ModelCall] | None] = ContextVar("pfl_model_calls", default=None)


def add_listener(listener: ModelCallListener) -> None:
    """Register a listener for every model call in this process (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: ModelCallListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@contextmanager
def model_call(api: str, request: dict[str, Any], *, provider: str = "", endpoint: str = "",
               secrets: tuple[str, ...] = ()) -> Iterator[ModelCall]:
    """Record one model call around the block; exceptions are recorded and re-raised."""
    call = ModelCall(api=api, request=request, provider=provider, endpoint=endpoint, secrets=secrets)
    for listener in _listeners:
        listener.on_start(call)
    try:
        yield call
    except GeneratorExit:  # a stream dropped unread: the call ends with what was received, as one read in part
        raise
    except BaseException as exc:
        call.error = exc
        raise
    finally:
        call.end_time = time.time()
        if call.chunks and not call.usage:
            _estimate(call)
        collector = calls_collector.get()
        if collector is not None:
            collector.append(call)
        for listener in _listeners:
            listener.on_end(call)


def record_response(call: ModelCall, data: dict[str, Any]) -> None:
    """Note a response (the JSON as a dict) and its token counts."""
    call.response = data
    call.usage = _counts(data.get("usage"))


def record_chunk(call: ModelCall, chunk: Any) -> str | None:
    """The text of one streamed SDK chunk (None: it has no choice); notes its token counts, if any."""
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        call.usage = _counts(usage.model_dump())
    choices = getattr(chunk, "choices", None)
    if not choices:
        return None
    if call.api == "completion":
        text = getattr(choices[0], "text", None) or ""
    else:
        text = getattr(getattr(choices[0], "delta", None), "content", None) or ""
    if text:
        call.chunks += 1
    return text


def _estimate(call: ModelCall) -> None:
    from promptflow_lite.tools._token_estimate import estimate_usage

    text = call.response if isinstance(call.response, str) else ""
    call.usage = estimate_usage(call.api, call.request, text, call.chunks)
    call.usage_estimated = True


# A streamed call's record stays open until its stream ends: read to the end, dropped unread (the
# call ends as one read in part) or failed. The two recorders below are that one loop, written for
# sync and async iteration (a body cannot serve both) around one :class:`_StreamNotes`;
# tests/tools/test_async_parity.py keeps them alike.

class _StreamNotes:
    """What a recorder notes of a stream: each chunk's text in ``call``; what to pass on."""

    def __init__(self, call: ModelCall, texts: bool):
        self.call, self.texts, self.pieces = call, texts, []

    def take(self, chunk: Any) -> tuple:
        """What to pass on for ``chunk``: the chunk itself, or with ``texts`` its text if it has one."""
        text = record_chunk(self.call, chunk)
        if text is not None:
            self.pieces.append(text)
        if not self.texts:
            return (chunk,)
        return (text,) if text is not None else ()

    def end(self) -> None:
        self.call.response = "".join(self.pieces)


def recorded_stream(chunks: Iterable[Any], call: ModelCall, record: ExitStack, *, texts: bool = False,
                    close: Callable[[], Any] | None = None) -> Iterator[Any]:
    """Pass ``chunks`` on - or, with ``texts``, the text of each chunk that has one - noting them in
    ``call``; ``record`` (holding the call's :func:`model_call` block) and ``close`` end with the stream."""
    notes = _StreamNotes(call, texts)
    with record:
        try:
            for chunk in chunks:
                yield from notes.take(chunk)
        finally:
            notes.end()
            if close is not None:
                close()


async def recorded_async_stream(chunks: AsyncIterable[Any], call: ModelCall, record: ExitStack, *,
                                texts: bool = False, close: Callable[[], Awaitable[Any]] | None = None
                                ) -> AsyncIterator[Any]:
    """:func:`recorded_stream` for an async stream (``close`` is awaited)."""
    notes = _StreamNotes(call, texts)
    with record:
        try:
            async for chunk in chunks:
                for item in notes.take(chunk):
                    yield item
        finally:
            notes.end()
            if close is not None:
                await close()


def _counts(usage: dict[str, Any] | None) -> dict[str, int]:
    return {k: v for k, v in (usage or {}).items() if isinstance(v, int)}
