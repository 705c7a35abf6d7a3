"""Trace and span ids. Trace ids start with the epoch second (AWS X-Ray style), so the trace
store appends to its indexes instead of writing all over them; the last 12 bytes stay random,
as W3C Trace Context asks."""

from __future__ import annotations

import random
import time
from typing import Any


def new_trace_id() -> int:
    return (int(time.time()) << 96) | random.getrandbits(96)


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def trace_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def span_hex(span_id: int) -> str:
    return format(span_id, "016x")


def time_ordered_id_generator() -> Any:
    """The OpenTelemetry SDK's id source for spans made with our tracer provider."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class TimeOrderedIdGenerator(IdGenerator):
        def generate_span_id(self) -> int:
            return new_span_id()

        def generate_trace_id(self) -> int:
            return new_trace_id()

    return TimeOrderedIdGenerator()
