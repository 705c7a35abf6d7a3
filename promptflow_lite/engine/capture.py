"""Per-node capture of what tools print (promptflow keeps it in each node run's logs).

``sys.stdout``/``sys.stderr`` are replaced once by proxies that write to the buffer of the
node running in the current context, and to the real stream otherwise.
"""

from __future__ import annotations

import io
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, TextIO

_buffer: ContextVar["_Sink | None"] = ContextVar("pfl_node_output", default=None)


class _Sink(io.StringIO):
    """The node's buffer, optionally echoing to another stream (e.g. stderr in flow test)."""

    def __init__(self, echo: TextIO | None = None):
        super().__init__()
        self._echo = echo

    def write(self, text: str) -> int:
        if self._echo is not None:
            self._echo.write(text)
        return super().write(text)


class _Proxy(io.TextIOBase):
    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        buffer = _buffer.get()
        if buffer is not None:
            return buffer.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        if _buffer.get() is None:
            self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _install() -> None:
    if not isinstance(sys.stdout, _Proxy):
        sys.stdout = _Proxy(sys.stdout)
    if not isinstance(sys.stderr, _Proxy):
        sys.stderr = _Proxy(sys.stderr)


@contextmanager
def captured_output(echo: TextIO | None = None) -> Iterator[io.StringIO]:
    """Collect prints made in this context (and in threads run with its context)."""
    _install()
    buffer = _Sink(echo)
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)
