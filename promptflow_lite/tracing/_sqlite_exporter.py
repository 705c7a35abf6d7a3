"""An OpenTelemetry span exporter into the local trace store (:mod:`._store`).

It runs in the ``BatchSpanProcessor``'s worker thread: spans arrive in batches and are written
in one transaction, never on the hot path. A root span (no parent, or a remote parent from a
``traceparent`` header, or another tracer's span: attribute ``pfl.root``) also becomes a
``line_runs`` row.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from promptflow_lite.tracing._context import ROOT_ATTRIBUTE
from promptflow_lite.tracing._ids import span_hex, trace_hex
from promptflow_lite.tracing._store import TraceStore, line_run_row

_log = logging.getLogger(__name__)


class SqliteSpanExporter(SpanExporter):
    """Writes spans to a :class:`TraceStore` (or a store file path)."""

    def __init__(self, store: TraceStore | str | Path | None = None):
        self.store = store if isinstance(store, TraceStore) else TraceStore(store)
        self.lost = 0  # spans that could not be stored

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            span_rows, line_rows = [], []
            for span in spans:
                row = span_row(span)
                span_rows.append(row)
                if span.parent is None or span.parent.is_remote or (span.attributes or {}).get(ROOT_ATTRIBUTE):
                    line_rows.append(line_run_row(row, span.attributes or {}, span.resource.attributes.get("collection")))
            self.store.write(span_rows, line_rows)
            return SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - a full disk must not break the flow being traced
            if not self.lost:  # say it once, with the cause; a traceback only for what is not a storage problem
                _log.warning("promptflow_lite could not write spans to the trace store (%s); later spans may be "
                             "missing too", exc, exc_info=not isinstance(exc, (OSError, sqlite3.Error)))
            self.lost += len(spans)
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass  # the store belongs to whoever opened it

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_row(span: ReadableSpan) -> tuple:
    """A ``spans`` row (``store.SPAN_COLUMNS`` order)."""
    attributes = span.attributes or {}
    events = None
    if span.events:
        events = _dumps([{"name": e.name, "timestamp": e.timestamp / 1e9, "attributes": dict(e.attributes or {})}
                         for e in span.events])
    return (trace_hex(span.context.trace_id), span_hex(span.context.span_id),
            span_hex(span.parent.span_id) if span.parent is not None else None,
            span.name, attributes.get("span_type"), span.kind.name,
            span.start_time / 1e9 if span.start_time else None, span.end_time / 1e9 if span.end_time else None,
            span.status.status_code.name, span.status.description, _dumps(dict(attributes)), events, None)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
