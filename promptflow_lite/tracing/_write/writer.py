"""The trace writer: decodes frames (:mod:`.frames`), renders the spans (:mod:`.line_spans`) and
stores them (:mod:`promptflow_lite.tracing._store`), one transaction per batch; with OTLP configured, exports them too.

It normally runs in a process of its own (:func:`main`, started by :mod:`.sink`), so rendering
and SQLite never hold the traced program's GIL; when that process cannot start, the same
:class:`TraceWriter` runs in a thread of the traced process. The process reads frames from
stdin and answers on stdout: ``0`` (8 bytes, little endian) once ready, then each ``FLUSH``
frame's number once everything before it is stored. It ignores Ctrl+C (the traced program
decides when to stop) and exits when stdin closes, after writing what it was sent.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any, Iterable, Sequence

from promptflow_lite.masking import register_secret
from promptflow_lite.tracing._write.frames import (
    FLUSH, LINE, NODE, SECRET, NodeHeader, decode, decode_line, unpack,
)
from promptflow_lite.tracing._write.line_spans import lone_node_rows, readable_spans, render_line, store_rows

_log = logging.getLogger(__name__)
READY = 0


class TraceWriter:
    """Writes frames to ``store`` (a :class:`~promptflow_lite.tracing._store.TraceStore`, or None) and to ``sinks``
    (OpenTelemetry span processors, e.g. OTLP) with ``resource`` and ``scope``; with ``limits`` (a size
    or age cap, :mod:`promptflow_lite.tracing._prune`) it prunes the store as it goes."""

    def __init__(self, store: Any = None, sinks: Iterable[Any] = (), resource: Any = None, scope: Any = None,
                 limits: Any = None):
        self.store, self.sinks, self.resource, self.scope = store, list(sinks), resource, scope
        self.lost = 0  # spans that could not be stored or exported
        self.pruner = None
        if store is not None and limits:
            from promptflow_lite.tracing._prune import AutoPruner

            self.pruner = AutoPruner(store, limits)

    def write(self, frames: Sequence[tuple[int, bytes]]) -> list[int]:
        """Store what ``frames`` hold; returns the numbers of their ``FLUSH`` frames (now done).
        Never raises: a rendering or disk problem must not stop the traced program."""
        span_rows, line_rows, readable, flushed, failed = [], [], [], [], 0
        for kind, body in frames:
            try:
                if kind == LINE:
                    finished = render_line(*decode_line(body))
                    if self.store is not None:
                        _add(span_rows, line_rows, store_rows(finished))
                    if self.sinks:
                        readable += readable_spans(finished, self.resource, self.scope)
                elif kind == NODE:
                    header, run = decode(body)
                    if self.store is not None:
                        _add(span_rows, line_rows, lone_node_rows(NodeHeader(*header), run))
                elif kind == SECRET:
                    register_secret(body.decode("utf-8", "surrogatepass"))
                elif kind == FLUSH:
                    flushed.append(int.from_bytes(body, "little"))
            except Exception:  # noqa: BLE001 - one bad line must not lose the others
                failed += 1
                if failed == 1:
                    _log.warning("promptflow_lite could not render a traced line", exc_info=True)
        try:
            if span_rows or line_rows:
                self.store.write(span_rows, line_rows)
                if self.pruner is not None:
                    self.pruner.after_write()
            for span in readable:
                for sink in self.sinks:
                    sink.on_end(span)
            if flushed:
                for sink in self.sinks:
                    sink.force_flush()
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk
            if not self.lost:  # say it once, with the cause; a traceback only for what is not a storage problem
                _log.warning("promptflow_lite could not record traced lines (%s); later traces may be missing too",
                             exc, exc_info=not isinstance(exc, (OSError, sqlite3.Error)))
            self.lost += len(span_rows) or 1
        return flushed

    def close(self) -> None:
        for sink in self.sinks:
            sink.shutdown()
        if self.store is not None:
            self.store.close()


def _add(span_rows: list, line_rows: list, rows: tuple[tuple, tuple | None]) -> None:
    span_rows.append(rows[0])
    if rows[1] is not None:
        line_rows.append(rows[1])


# the writer process ------------------------------------------------------------------------
def main() -> None:
    """Serve one traced process: frames on stdin, acknowledgements on stdout (see module doc)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    acks = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr: stdout carries acknowledgements only
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    buffer = bytearray()
    writer = None
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        buffer += chunk
        frames, used = unpack(buffer)
        del buffer[:used]
        if writer is None and frames:
            try:
                writer = _configured(decode(frames.pop(0)[1]))
            except (OSError, sqlite3.Error):  # e.g. the disk just filled: the traced process writes in-process
                os._exit(1)                    # and says why, once (no traceback from here)
            _ack(acks, READY)
        for number in writer.write(frames) if frames else ():
            _ack(acks, number)
    if writer is not None:
        writer.close()
    os._exit(0)  # everything is stored: skip the interpreter's teardown


def _configured(config: dict[str, Any]) -> TraceWriter:
    """The writer described by the ``CONFIG`` frame: ``store`` (path or None), ``otlp`` (export
    too, to the endpoint in the environment), ``resource`` (attributes), ``user_named`` (the
    project-naming resource attributes the user set), ``batch`` (OTLP batching), ``max_chars``,
    ``limits`` (the store's size and age caps)."""
    from promptflow_lite.tracing._prune import Limits
    from promptflow_lite.tracing._serialize import set_max_chars
    from promptflow_lite.tracing._store import TraceStore

    set_max_chars(config["max_chars"])
    store = TraceStore(config["store"]) if config.get("store") else None
    sinks, resource, scope = [], None, None
    if config.get("otlp"):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from promptflow_lite._version import __version__
        from promptflow_lite.tracing._context import SCOPE_NAME
        from promptflow_lite.tracing._otlp import OtlpExporter
        from promptflow_lite.tracing._projects import ProjectResources

        resource = Resource.create(config["resource"])  # as the traced process's tracer provider makes it
        scope = InstrumentationScope(SCOPE_NAME, __version__)
        exporter = OtlpExporter(ProjectResources(resource, set(config["user_named"])), stored=store is not None)
        sinks.append(BatchSpanProcessor(exporter, **config["batch"]))
    return TraceWriter(store, sinks, resource, scope, Limits(**config.get("limits") or {}))


def _ack(fd: int, number: int) -> None:
    try:
        os.write(fd, number.to_bytes(8, "little"))
    except OSError:  # the traced process is gone: keep storing what it sent
        pass


if __name__ == "__main__":
    main()
