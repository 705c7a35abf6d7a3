"""``GET /metrics``: a served flow's requests, latency, lines in flight, LLM tokens and node errors for Prometheus.

Counted per flow with ``prometheus-client``. With several worker processes (``--workers``) the
server sets ``PROMETHEUS_MULTIPROC_DIR`` and every worker answers for all of them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from promptflow_lite.tools import _observe as observe

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_serving: ContextVar[tuple["ServeMetrics", str] | None] = ContextVar("pfl_serving_metrics", default=None)


class ServeMetrics:
    """The metrics of one app, in a registry of its own (several apps may live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # `_created` series double every counter for no use here
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        common = {"registry": None if self.multiprocess else self.registry}
        self.requests = Counter("pfl_requests", "Scoring requests answered, by flow and HTTP status.",
                                ["flow", "status"], **common)
        self.latency = Histogram("pfl_request_duration_seconds", "Time to answer a scoring request (the whole "
                                 "stream for server-sent events).", ["flow"], buckets=_LATENCY_BUCKETS, **common)
        self.in_flight = Gauge("pfl_lines_in_flight", "Lines running now.", ["flow"],
                               **common, **({"multiprocess_mode": "livesum"} if self.multiprocess else {}))
        self.tokens = Counter("pfl_llm_tokens", "LLM tokens used by the served lines, by model and kind "
                              "(prompt, completion).", ["flow", "model", "kind"], **common)
        self.node_errors = Counter("pfl_node_errors", "Node failures in served lines.", ["flow", "node"], **common)
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        observe.add_listener(_TOKEN_COUNTER)

    def exposition(self) -> tuple[bytes, str]:
        """The text format (body, content type)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def answered(self, flow: str, status: int, seconds: float) -> None:
        self.requests.labels(flow, str(status)).inc()
        self.latency.labels(flow).observe(seconds)

    @contextmanager
    def line(self, flow: str) -> Iterator[None]:
        """Count a running line; model calls made in this task from now on count their tokens for ``flow``.

        The attribution is left set: each request (and each response stream) runs in a task of its
        own, whose context ends with it; resetting it from a generator closed elsewhere would fail.
        """
        gauge = self.in_flight.labels(flow)
        gauge.inc()
        _serving.set((self, flow))
        try:
            yield
        finally:
            gauge.dec()

    def line_ended(self, flow: str, result: Any) -> None:
        """Count the failed nodes of a line result."""
        for name, run in result.node_runs.items():
            if run.status == "Failed":
                self.node_errors.labels(flow, name).inc()


class _TokenCounter:
    """A model-call listener adding the tokens of calls made while a served line runs."""

    def on_start(self, call: Any) -> None:
        pass

    def on_end(self, call: Any) -> None:
        current = _serving.get()
        if current is None or call.cached or not call.usage:
            return
        metrics, flow = current
        model = str(call.request.get("model") or "unknown")
        for kind in ("prompt", "completion"):
            count = call.usage.get(f"{kind}_tokens")
            if count:
                metrics.tokens.labels(flow, model, kind).inc(count)


_TOKEN_COUNTER = _TokenCounter()
