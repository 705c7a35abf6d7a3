"""What happened: OpenTelemetry spans for flows, nodes and model calls, stored locally.

``enable_tracing()`` switches tracing on (``pfl`` commands, runs and servers call it; env
``PFL_TRACING=off`` keeps it off); ``flush_tracing()`` writes what is pending. ``@trace`` and
``start_trace()`` trace user code. ``list_traces`` / ``get_traces`` (a DataFrame of spans) /
``get_trace`` (a span tree) / ``delete_traces`` / ``prune_traces`` read the store ``PFL_HOME/traces.sqlite``.
Names are imported lazily: the write path imports this package on every traced run.
"""

from __future__ import annotations

from promptflow_lite._lazy import lazy_exports

_EXPORTS = {
    "enable_tracing": "._setup", "disable_tracing": "._setup", "flush_tracing": "._setup",
    "continue_trace": "._setup", "tracing_enabled": "._setup",
    "trace": "._api", "start_trace": "._api",
    "list_traces": "._query", "get_traces": "._query", "get_trace": "._query", "delete_traces": "._query",
    "TraceNotFound": "._query", "count_traces": "._query", "trace_filters": "._query", "prune_traces": "._query",
    "trace_view": "._view",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
