"""A worker process of the process engine: loads the run's flow once, then runs the lines the driver sends.

Started by :mod:`._process_engine` as ``python -m promptflow_lite.runs._process_worker FD``, where ``FD``
is its end of a socket pair with the driver. Messages both ways are length-prefixed pickles
(:func:`send` / :func:`receive`): the driver sends ``("start", settings, source)``, then
``("lines", [(line number, inputs, span attributes), ...])`` as the worker has room, then ``("stop",)``;
the worker answers ``("ready", info)`` (or ``("failed", error)``) and then ``("results", lines, loose)``
batches as lines finish - exactly what a Ray worker's ``collect()`` returns, made by the same
:class:`~._ray_worker.LineWorker` (loading, cache, tracing relay, the local engine's line runner).
The worker ends when the driver says stop or goes away (end of file).
"""

from __future__ import annotations

import asyncio
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from promptflow_lite.runs._ray_worker import LineWorker, WorkerSettings

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
    """A :class:`LineWorker` in a process of this machine: the flow runs from its own folder."""

    def __init__(self, source: str):
        self._setup(source, None)


def uses_llm(flow: Any) -> bool:
    """Whether ``flow``'s lines call a model (an ``llm`` node, a prompty): lines that wait on the network
    with ~3 ms of CPU each, the work that outgrows one process."""
    if getattr(flow, "kind", None) == "prompty":
        return True
    spec = getattr(flow, "spec", None)
    return any(node.type == "llm" for node in getattr(spec, "nodes", None) or ())


async def serve(sock: socket.socket) -> None:
    """Load the flow the driver describes, then run its lines until it says stop or goes away."""
    reader, writer = await asyncio.open_connection(sock=sock)
    message = await receive(reader)
    if message is None:
        return
    _, settings, source = message
    worker = ProcessWorker(source)
    try:
        info = worker.load(settings, DRIVER_NODE)
        if uses_llm(worker.flow):  # before the first line, not on its way
            from promptflow_lite.tools._llm_client import load_sdk

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


if __name__ == "__main__":
    main(sys.argv[1:])
