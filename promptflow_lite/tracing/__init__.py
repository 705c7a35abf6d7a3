"""What happened: OpenTelemetry spans for flows, nodes and model calls, stored locally.

``enable_tracing()`` switches tracing on (``pfl`` commands, runs and servers call it; env
``PFL_TRACING=off`` keeps it off); ``flush_tracing()`` writes what is pending. ``@trace`` and
``start_trace()`` trace user code. ``list_traces`` / ``get_traces`` (a DataFrame of spans) /
``get_trace`` (a span tree) / ``delete_traces`` read the store ``PFL_HOME/traces.sqlite``.
Names are imported lazily: the engine imports this package on every run.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "enable_tracing": "setup", "disable_tracing": "setup", "flush_tracing": "setup", "continue_trace": "setup",
    "tracing_enabled": "setup",
    "trace": "api", "start_trace": "api",
    "list_traces": "query", "get_traces": "query", "get_trace": "query", "delete_traces": "query",
    "TraceNotFound": "query", "count_traces": "query", "trace_filters": "query",
    "trace_view": "view",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptflow_lite.tracing' has no attribute '{name}'")
    return getattr(importlib.import_module(f"promptflow_lite.tracing.{module}"), name)


__all__ = sorted(_EXPORTS)
