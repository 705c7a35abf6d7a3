"""Token counts that roll up: every span carries ``__computed__.cumulative_token_count.*``, the
sum over itself and its descendants (FLOW_FORMAT §6.2).

Model-call spans set their own counts; when an SDK span ends, :class:`TokenRollup` adds its
counts to its parent while the parent is still open. Executor node and line spans take their
counts from ``NodeRun.usage`` / ``LineResult.usage``, which the engine already sums.
"""

from __future__ import annotations

import threading
from typing import Mapping

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from promptflow_lite.tracing._names import CUMULATIVE


class TokenRollup(SpanProcessor):
    """Adds each ending span's cumulative counts to its open parent span (SDK spans only)."""

    def __init__(self) -> None:
        self._open: dict[int, Span] = {}
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context=None) -> None:
        self._open[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        self._open.pop(span.context.span_id, None)
        if span.parent is None or not span.attributes:
            return
        counts = {key: span.attributes[key] for key in CUMULATIVE if key in span.attributes}
        if counts:
            self.add(span.parent.span_id, counts)

    def add(self, span_id: int, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (cumulative attribute → value) to the open span ``span_id``, if any."""
        parent = self._open.get(span_id)
        if parent is None:
            return
        with self._lock:
            current = parent.attributes or {}
            parent.set_attributes({key: int(current.get(key, 0)) + int(value) for key, value in counts.items()})

    def shutdown(self) -> None:
        self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
