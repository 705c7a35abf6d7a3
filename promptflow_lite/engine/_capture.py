"""Per-node capture of what tools print (promptflow keeps it in each node run's logs).

``sys.stdout``/``sys.stderr`` are replaced once by proxies that write to the sink of the node
running in the current context, and to the real stream otherwise. Entering a capture is cheap
(it runs for every node of every line): the sink only collects text when something is printed.
"""

from __future__ import annotations

import io
import sys
from contextvars import ContextVar
from typing import TextIO

_sink: ContextVar["_Sink | None"] = ContextVar("pfl_node_output", default=None)


class _Sink:
    """What a node printed, optionally echoed to another stream (e.g. stderr in flow test)."""

    __slots__ = ("_parts", "_echo")

    def __init__(self, echo: TextIO | None = None):
        self._parts: list[str] = []
        self._echo = echo

    def write(self, text: str) -> int:
        if self._echo is not None:
            self._echo.write(text)
        self._parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


class _Proxy(io.TextIOBase):
    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is not None:
            return sink.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        if _sink.get() is None:
            self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __del__(self) -> None:
        """Collecting a proxy leaves the stream alone: IOBase's finalizer would close() it, which
        flushes a stream its owner may have closed already (reported as unraisable from 3.13)."""


def _install() -> None:
    if not isinstance(sys.stdout, _Proxy):
        sys.stdout = _Proxy(sys.stdout)
    if not isinstance(sys.stderr, _Proxy):
        sys.stderr = _Proxy(sys.stderr)


class captured_output:  # noqa: N801 - used like a function: ``with captured_output() as logs:``
    """Collect prints made in this context (and in threads run with its context)."""

    __slots__ = ("_echo", "_token")

    def __init__(self, echo: TextIO | None = None):
        self._echo = echo

    def __enter__(self) -> _Sink:
        _install()
        sink = _Sink(self._echo)
        self._token = _sink.set(sink)
        return sink

    def __exit__(self, *exc_info) -> None:
        _sink.reset(self._token)
