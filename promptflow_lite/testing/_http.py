"""A small HTTP/1.1 server on asyncio streams: keep-alive, chunked streaming, deliberate drops.

Just enough HTTP for OpenAI-style clients (httpx): one request at a time per connection,
``Content-Length`` or chunked request bodies, and three kinds of reply:

- :class:`Response` — a whole body with ``Content-Length``;
- :class:`Stream` — an async iterator of byte chunks sent with ``Transfer-Encoding: chunked``;
- :data:`DROP` — close the TCP connection without answering (a simulated network failure).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, AsyncIterator, Awaitable, Callable, Union
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""
    peer: str = ""  # client "host:port": one per connection

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> "Response":
        return cls(status, json.dumps(data, separators=(",", ":")).encode(), dict(headers or {}))


@dataclass
class Stream:
    chunks: AsyncIterator[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream; charset=utf-8"


DROP = object()
"""Returned by a handler: close the connection without a response."""

Reply = Union[Response, Stream, object]
Handler = Callable[[Request], Awaitable[Reply]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.1 request we understand."""


class HttpServer:
    """Serves ``handler`` on ``host:port`` (port 0 picks a free one) until :meth:`close`."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve_connection, host, port, limit=MAX_HEAD_BYTES)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut every open connection (including requests still waiting)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        host, port = writer.get_extra_info("peername")[:2]
        try:
            while True:
                try:
                    request, keep_alive = await _read_request(reader)
                except BadRequest as exc:
                    await _write_response(writer, Response(400, str(exc).encode(), content_type="text/plain"), False)
                    break
                if request is None:
                    break
                request.peer = f"{host}:{port}"
                try:
                    reply = await self.handler(request)
                except Exception as exc:  # a bug in the handler must not hang the client
                    reply = Response(500, f"handler error: {exc!r}".encode(), content_type="text/plain")
                if reply is DROP:
                    writer.transport.abort()
                    break
                await _write_reply(writer, reply, keep_alive)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[Request | None, bool]:
    """The next request on the connection, or ``None`` when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("incomplete request head") from None
        return None, False
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise BadRequest(f"bad request line: {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await _read_body(reader, headers)
    url = urlsplit(target)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    return Request(method.upper(), url.path, dict(parse_qsl(url.query)), headers, body), keep_alive


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()  # blank line after the last chunk (no trailers expected)
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest("bad Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise BadRequest("request body too large")
    return await reader.readexactly(length) if length else b""


def _head(status: int, content_type: str, headers: dict[str, str], keep_alive: bool, framing: str) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", framing,
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool) -> None:
    if isinstance(reply, Stream):
        await _write_stream(writer, reply, keep_alive)
    else:
        await _write_response(writer, reply, keep_alive)


async def _write_response(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
    framing = f"Content-Length: {len(response.body)}"
    writer.write(_head(response.status, response.content_type, response.headers, keep_alive, framing) + response.body)
    await writer.drain()


async def _write_stream(writer: asyncio.StreamWriter, stream: Stream, keep_alive: bool) -> None:
    writer.write(_head(stream.status, stream.content_type, stream.headers, keep_alive, "Transfer-Encoding: chunked"))
    async for chunk in stream.chunks:
        if chunk:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
