"""A worker process of the process engine: loads the run's flow once, then runs the lines the driver sends.

Started by :mod:`._process_engine` as ``python -m promptflow_lite.runs._process_worker FD``, where ``FD``
is its end of a socket pair with the driver. Messages both ways are length-prefixed pickles
(:func:`send` / :func:`receive`): the driver sends ``("start", settings, source, share)`` (how many
lines may run at once here), then ``("lines", [(line number, inputs, span attributes), ...])`` as the
worker has room - for its share and as many waiting - then ``("stop",)``;
the worker answers ``("ready", info)`` (or ``("failed", error)``) and then ``("results", lines, loose)``
batches as lines finish - exactly what a Ray worker's ``collect()`` returns, made by the same
:class:`~._ray_worker.LineWorker` (loading, cache, tracing relay, the local engine's line runner).
The worker ends when the driver says stop or goes away (end of file).
"""

from __future__ import annotations

import asyncio
import collections
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from promptflow_lite.runs._engine import uses_llm
from promptflow_lite.runs._ray_worker import LineWorker

DRIVER_NODE = "local"  # a worker process shares the driver's machine, so its LLM cache file
_HEADER = struct.Struct("!I")


def send(writer: asyncio.StreamWriter, message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(data)) + data)


async def receive(reader: asyncio.StreamReader) -> tuple | None:
    """The next message; None when the other side has gone."""
    try:
        size, = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        return pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class ProcessWorker(LineWorker):
    """A :class:`LineWorker` in a process of this machine: the flow runs from its own folder, at most
    ``share`` lines at a time; the lines handed out beyond those wait here and start as soon as a line
    ends, without a round trip to the driver."""

    def __init__(self, source: str, share: int):
        self._setup(source, None)
        self.share = share
        self.waiting: collections.deque[tuple] = collections.deque()

    async def submit(self, chunk: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> int:
        self.waiting.extend(chunk)
        self._start_waiting()
        return len(self.running)

    def _start_waiting(self) -> None:
        while self.waiting and len(self.running) < self.share:
            self._start(self.waiting.popleft())

    def _finish(self, line: asyncio.Future) -> None:
        super()._finish(line)
        self._start_waiting()


async def serve(sock: socket.socket) -> None:
    """Load the flow the driver describes, then run its lines until it says stop or goes away."""
    reader, writer = await asyncio.open_connection(sock=sock)
    message = await receive(reader)
    if message is None:
        return
    _, settings, source, share = message
    worker = ProcessWorker(source, share)
    try:
        info = worker.load(settings, DRIVER_NODE)
        if uses_llm(worker.flow):  # before the first line, not on its way
            from promptflow_lite.tools._sdk import load_sdk

            load_sdk()
    except Exception as exc:  # noqa: BLE001 - the driver reports it
        send(writer, ("failed", _portable(exc)))
        await writer.drain()
        return
    send(writer, ("ready", info))
    results = asyncio.ensure_future(_send_results(worker, writer))
    try:
        while True:
            message = await receive(reader)
            if message is None or message[0] == "stop":
                break
            await worker.submit(message[1])
    finally:
        results.cancel()
        await worker.stop()
        writer.close()


async def _send_results(worker: LineWorker, writer: asyncio.StreamWriter) -> None:
    while True:
        lines, loose = await worker.collect()
        send(writer, ("results", lines, loose))
        await writer.drain()


def _portable(exc: BaseException) -> Any:
    """``exc`` itself when it survives pickling, else its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception may fail to pickle
        return f"{type(exc).__name__}: {exc}"


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the driver, which stops the workers
    from promptflow_lite._gc import batch_collection

    with batch_collection():
        asyncio.run(serve(socket.socket(fileno=int(argv[0]))))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # everything is sent and the cache closed: tearing the SDK's modules down would only cost time


if __name__ == "__main__":
    main(sys.argv[1:])
