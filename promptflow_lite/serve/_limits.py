"""Bounding the work a server takes: line slots with a short queue, body size, JSON nesting, media types."""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Mapping

from promptflow_lite.serve._errors import PayloadTooLarge, ServerBusy, UnsupportedMediaType

# media types whose body is read as JSON or raw text; form-encoded only for `curl --data '{...}'` (see check_media_type)
_READABLE = frozenset({"application/json", "text/plain", "application/x-www-form-urlencoded"})
FORM = "application/x-www-form-urlencoded"


class LineGate:
    """At most ``limit`` lines at once and ``room`` requests waiting (each at most ``wait_seconds``);
    anyone else is told to come back later (:class:`ServerBusy`). ``limit=None``: no limit."""

    def __init__(self, limit: int | None, room: int = 0, wait_seconds: float = 30.0):
        self.limit, self.room, self.wait_seconds = limit, room, wait_seconds
        self.running = self.waiting = 0
        self._free: asyncio.Semaphore | None = None
        self._recent = 1.0  # seconds a line took lately (a moving average): the Retry-After hint

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one line slot for the block."""
        await self.acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            self.release(started)

    async def acquire(self) -> None:
        """Take a line slot, waiting in the queue if there is room; else raise :class:`ServerBusy`."""
        if self.limit is None:
            return
        if self._free is None:
            self._free = asyncio.Semaphore(self.limit)
        if self._free.locked():
            if self.waiting >= self.room:
                raise self._busy("every line slot is taken and the queue is full")
            self.waiting += 1
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_seconds)
            except asyncio.TimeoutError:
                raise self._busy(f"no line slot freed within {self.wait_seconds:g} s") from None
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()
        self.running += 1

    def release(self, started: float) -> None:
        """Give back a slot taken at ``started`` (``time.monotonic()``)."""
        if self.limit is None:
            return
        self.running -= 1
        self._free.release()
        self._recent = 0.8 * self._recent + 0.2 * (time.monotonic() - started)

    def _busy(self, why: str) -> ServerBusy:
        retry_after = max(1, math.ceil(self._recent * (1 + self.waiting / max(self.limit or 1, 1))))
        return ServerBusy(f"The server is busy: {why} ({self.limit} lines at once).", retry_after=retry_after,
                          hint=f"retry after {retry_after} s.")


async def read_body(receive: Any, headers: Mapping[str, str], limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body ({size:,} bytes or more) is larger than the {limit:,} bytes allowed.",
                           hint="send less, or start the server with a larger --max-body-mb.")


def check_media_type(content_type: str | None, body: bytes) -> None:
    """Refuse (415) a body that is neither JSON nor text. Form-encoded bodies pass only when they are
    JSON (what ``curl --data '{...}'`` sends, as in promptflow's docs)."""
    if not body.strip() or not content_type:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media.endswith("+json") or (media in _READABLE and (media != FORM or body.lstrip()[:1] in (b"{", b"["))):
        return
    raise UnsupportedMediaType(f"Content-Type '{media}' is not supported.",
                               hint="send the inputs as a JSON object with 'Content-Type: application/json'.")
